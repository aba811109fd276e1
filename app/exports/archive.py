"""An export as one .zip, streamed in chunks: the whole archive is never held in memory."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator

from .manifest import COUNTRY_CODE, MANIFEST_NAME, file_name
from .verify import ExportSource


class _Sink:
    """A write-only stream zipfile can write to; what it wrote is taken out after each chunk."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def export_members(source: ExportSource) -> list[str]:
    """The manifest and the country files it lists (never anything else the export may hold)."""
    manifest = json.loads(source.manifest_bytes().decode("utf-8"))
    countries = manifest.get("countries") if isinstance(manifest, dict) else None
    names = [file_name(code) for code in sorted(countries or {}) if COUNTRY_CODE.match(code)]
    return [MANIFEST_NAME, *names]


def stream_zip(source: ExportSource, folder_name: str) -> Iterator[bytes]:
    """Yield the archive piece by piece; members sit under `folder_name/` so unzipping gives one export folder."""
    members = export_members(source)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for name in members:
            with archive.open(f"{folder_name}/{name}", "w") as target:
                for chunk in source.chunks(name):
                    target.write(chunk)
                    data = sink.take()
                    if data:
                        yield data
            data = sink.take()
            if data:
                yield data
    yield sink.take()
