"""The auditor's side: verify an export, then decrypt it into one CSV per member state (CONTRACT.md columns).

Nothing is written unless the export verifies and every record opens: the CSVs go into a temporary sibling
folder that is renamed to `--out` only at the end. Each file is hashed again while it is decrypted, so a file
swapped between the check and the reading is caught too. Cells that a spreadsheet would run as a formula are made
inert (`cells.py`) unless the auditor asks for the values exactly as typed (`raw`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey

from ..eci.fields import STATEMENT_FIELDS
from ..sealing import opener
from .cells import for_spreadsheet
from .create import ExportError, check_output_directory
from .manifest import parse_line
from .verify import ExportInvalid, VerifyReport, verify_export

# CONTRACT.md, `export open`: the record's id, country and time, then every personal field in Annex III order
COLUMNS = ("statement_id", "country", "confirmed_at", *STATEMENT_FIELDS)
PERSONAL = COLUMNS[3:]


class OpenError(ExportError):
    """The export verified but cannot be opened (wrong private key, a record that does not decrypt)."""


@dataclass(frozen=True)
class OpenResult:
    directory: Path
    counts: dict[str, int]
    report: VerifyReport  # its notes are the auditor's to read, as after `export verify`


def _row(record: dict[str, str], personal: dict[str, object], raw: bool) -> list[str]:
    values = [record["id"], record["country"], record["confirmed_at"]]
    values += [str(personal.get(name) or "") for name in PERSONAL]
    typed = [unicodedata.normalize("NFC", value) for value in values]
    return typed if raw else [for_spreadsheet(value) for value in typed]


def _decrypt_file(
    source: Path,
    target: Path,
    code: str,
    expected_sha: str,
    expected_count: int,
    open_blob: Callable[[bytes], dict[str, Any]],
    raw: bool,
) -> int:
    digest = hashlib.sha256()
    count = 0
    with open(source, "rb") as handle, open(target, "x", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for line in handle:
            digest.update(line)
            count += 1
            try:
                record = parse_line(line)
            except ValueError as error:
                raise OpenError(f"{source.name}: line {count} {error}") from error
            if record["country"] != code:
                raise OpenError(f"{source.name}: line {count} holds a statement of {record['country']}")
            try:
                personal = open_blob(base64.b64decode(record["sealed"]))
            except (CryptoError, ValueError) as error:
                raise OpenError(f"{source.name}: line {count} cannot be opened with this private key") from error
            writer.writerow(_row(record, personal, raw))
    if digest.hexdigest() != expected_sha or count != expected_count:
        raise OpenError(f"{source.name} changed while it was being opened; verify the export again")
    return count


def open_export(
    directory: Path, private_key: bytes, out: Path, known_key: bytes, known_key_source: str, raw: bool = False
) -> OpenResult:
    """Verify against the key trusted for the instance, then decrypt every record; raises ExportInvalid or
    OpenError having written nothing. `raw` writes every value exactly as typed, formula signs and all."""
    out = out.absolute()
    check_output_directory(out)
    report = verify_export(directory, known_key, known_key_source)
    if not report.ok:
        raise ExportInvalid(report)
    manifest = report.manifest
    assert manifest is not None
    public = bytes(PrivateKey(private_key).public_key).hex()
    if public != manifest["auditor_public_key"]:
        raise OpenError(
            f"this private key (public half {public}) is not the auditor key the statements were "
            f"sealed to ({manifest['auditor_public_key']})"
        )

    open_blob = opener(private_key)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        counts: dict[str, int] = {}
        for code, entry in sorted(manifest["countries"].items()):
            counts[code] = _decrypt_file(
                directory / entry["file"],
                work / f"{code}.csv",
                code,
                entry["sha256"],
                entry["count"],
                open_blob,
                raw,
            )
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return OpenResult(out, counts, report)
