"""Checking an export without any private key: the signature, the signer's key, every file's hash and count.

Needs no database and no Flask: an auditor can run it on any machine that has the export and a key it trusts for
the instance (the published key, or one pinned on first use: `trust.py`). A check never passes without such a key:
a forger who edits the manifest can re-sign it with a key of their own and write that key into it.

An export is read through an `ExportSource`: a folder (`FolderSource`) or the database (`store.StoredExport`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .manifest import COUNTRY_CODE, FORMAT, MANIFEST_NAME, file_name, parse_line, signature_valid

MAX_LINE_PROBLEMS = 5
"""Per file; a mangled file would otherwise print one line per record."""

READ_SIZE = 1 << 20

HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ExportUnreadable(Exception):
    """There is no manifest to read (no folder, no manifest.json, no such stored export); the message says why."""


class ExportSource(Protocol):
    """Where an export's files are read from, a piece at a time."""

    @property
    def label(self) -> str:
        """How messages name the export (a folder, or "export 12")."""
        ...

    def manifest_bytes(self) -> bytes: ...

    def members(self) -> set[str]:
        """The names of the files the export holds, listed in the manifest or not."""
        ...

    def chunks(self, name: str) -> Iterator[bytes]: ...

    def lines(self, name: str) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class FolderSource:
    """An export folder as `export create --out` writes it and the auditor unzips it."""

    directory: Path

    @property
    def label(self) -> str:
        return str(self.directory)

    def manifest_bytes(self) -> bytes:
        if not self.directory.is_dir():
            raise ExportUnreadable(f"{self.directory} is not a folder")
        path = self.directory / MANIFEST_NAME
        if not path.is_file():
            raise ExportUnreadable(f"{MANIFEST_NAME} is missing")
        return path.read_bytes()

    def members(self) -> set[str]:
        return {path.name for path in self.directory.iterdir() if path.is_file()}

    def chunks(self, name: str) -> Iterator[bytes]:
        with open(self.directory / name, "rb") as handle:
            while chunk := handle.read(READ_SIZE):
                yield chunk

    def lines(self, name: str) -> Iterator[bytes]:
        with open(self.directory / name, "rb") as handle:
            yield from handle


def split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines (each with its line end, the last one perhaps without) from chunks that may cut a line anywhere."""
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


@dataclass
class VerifyReport:
    label: str
    manifest: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest is not None


class ExportInvalid(Exception):
    """The export failed verification; `report.problems` says how."""

    def __init__(self, report: VerifyReport) -> None:
        super().__init__("; ".join(report.problems))
        self.report = report


@dataclass(frozen=True)
class Signer:
    """Who a manifest says signed it: what trusting a key on first use shows the auditor."""

    instance: str
    verify_key: bytes
    signature_matches: bool


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _key_bytes(value: object) -> bytes | None:
    if isinstance(value, str) and HEX64.match(value):
        return bytes.fromhex(value)
    return None


def _printable(text: object) -> str:
    """Text from a manifest, safe to print on the auditor's terminal (no control characters, one line)."""
    return " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())


def as_source(export: ExportSource | Path) -> ExportSource:
    return FolderSource(export) if isinstance(export, Path) else export


def read_manifest(report: VerifyReport, source: ExportSource) -> dict[str, Any] | None:
    try:
        data = source.manifest_bytes()
    except ExportUnreadable as error:
        report.problems.append(str(error))
        return None
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        report.problems.append(f"{MANIFEST_NAME} is not valid JSON")
        return None
    if not isinstance(manifest, dict):
        report.problems.append(f"{MANIFEST_NAME} is not a JSON object")
        return None
    if manifest.get("format") != FORMAT:
        report.problems.append(f"{MANIFEST_NAME} is not in the format {FORMAT} (it says {manifest.get('format')!r})")
        return None
    return manifest


def signer_of(export: ExportSource | Path) -> tuple[Signer | None, VerifyReport]:
    """The instance and key the manifest names, read before any check (None, with the report saying why)."""
    source = as_source(export)
    report = VerifyReport(source.label)
    manifest = read_manifest(report, source)
    if manifest is None:
        return None, report
    verify_key = _key_bytes(manifest.get("verify_key"))
    if verify_key is None:
        report.problems.append(f"{MANIFEST_NAME} has no valid verify_key")
        return None, report
    instance = manifest.get("instance")
    return Signer(
        instance if isinstance(instance, str) else "", verify_key, signature_valid(manifest, verify_key)
    ), report


def check_signature(report: VerifyReport, manifest: dict[str, Any], known_key: bytes, known_key_source: str) -> None:
    """The signature must match the manifest's own key AND the key we trust for the instance: a forger who edits
    the manifest can re-sign it with a key of their own and put that key in the manifest."""
    verify_key = _key_bytes(manifest.get("verify_key"))
    if verify_key is None:
        report.problems.append(f"{MANIFEST_NAME} has no valid verify_key")
        return
    if not signature_valid(manifest, verify_key):
        report.problems.append(
            f"{MANIFEST_NAME}: the signature does not match the manifest (the manifest was "
            "edited or its signature replaced)"
        )
    if verify_key != known_key:
        report.problems.append(
            f"{MANIFEST_NAME} is signed with the key {verify_key.hex()}, not with the expected "
            f"export key {known_key.hex()} ({known_key_source}): it was re-signed by someone "
            "else, or it comes from another instance"
        )


def expected_files(report: VerifyReport, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Country code to its manifest entry, for the entries that are well formed."""
    countries = manifest.get("countries")
    if not isinstance(countries, dict):
        report.problems.append(f"{MANIFEST_NAME} has no countries table")
        return {}
    valid: dict[str, dict[str, Any]] = {}
    for code, entry in countries.items():
        if not COUNTRY_CODE.match(code) or not isinstance(entry, dict):
            report.problems.append(f"{MANIFEST_NAME}: {code!r} is not a valid country entry")
            continue
        if entry.get("file") != file_name(code):
            report.problems.append(
                f"{MANIFEST_NAME}: the file of {code} must be {file_name(code)}, not {entry.get('file')!r}"
            )
            continue
        if not _is_count(entry.get("count")) or not (
            isinstance(entry.get("sha256"), str) and HEX64.match(entry["sha256"])
        ):
            report.problems.append(f"{MANIFEST_NAME}: the count or SHA-256 of {code} is not valid")
            continue
        valid[code] = entry
    totals = manifest.get("totals")
    counted = sum(e.get("count", 0) for e in countries.values() if isinstance(e, dict) and _is_count(e.get("count")))
    if not isinstance(totals, dict) or totals.get("statements") != counted or totals.get("countries") != len(countries):
        report.problems.append(f"{MANIFEST_NAME}: the totals do not add up to the per-country counts")
    if _key_bytes(manifest.get("auditor_public_key")) is None:
        report.problems.append(f"{MANIFEST_NAME} has no valid auditor_public_key")
    return valid


def check_file(
    report: VerifyReport, source: ExportSource, code: str, entry: dict[str, Any], expected: dict[str, str]
) -> None:
    """Hash and count the file as it is read, and check each line's record and its country."""
    name = entry["file"]
    digest = hashlib.sha256()
    count = 0
    line_problems = 0
    last = b"\n"
    for line in source.lines(name):
        digest.update(line)
        count += 1
        last = line
        problem = ""
        try:
            record = parse_line(line)
        except ValueError as error:
            problem = str(error)
        else:
            if record["country"] != code:
                problem = f"holds a statement of {record['country']}, not of {code}"
        if problem:
            line_problems += 1
            if line_problems <= MAX_LINE_PROBLEMS:
                report.problems.append(f"{name}: line {count} {problem}")
    if line_problems > MAX_LINE_PROBLEMS:
        report.problems.append(f"{name}: {line_problems - MAX_LINE_PROBLEMS} more lines with problems")
    if not last.endswith(b"\n"):
        report.problems.append(f"{name}: the last line is cut short (no line end)")
    if count != entry["count"]:
        change = "added" if count > entry["count"] else "removed"
        report.problems.append(
            f"{name}: holds {count} records, the manifest says {entry['count']} (records were {change})"
        )
    actual = digest.hexdigest()
    if actual != entry["sha256"]:
        owner = expected.get(actual)
        cause = f"it is the file the manifest lists as {owner}" if owner else "the file was changed or replaced"
        report.problems.append(f"{name}: SHA-256 is {actual}, the manifest says {entry['sha256']} ({cause})")


def manifest_notes(manifest: dict[str, Any]) -> list[str]:
    """What the auditor must know about a sound export before handing it on: what it leaves out."""
    notes: list[str] = []
    selection = manifest.get("selection")
    chosen = selection.get("countries") if isinstance(selection, dict) else None
    if isinstance(chosen, list) and chosen:
        chosen_text = _printable(", ".join(map(str, chosen)))
        notes.append(f"only the member states chosen when the export was made are in it: {chosen_text}")
    quarantined = manifest.get("quarantined")
    count = quarantined.get("count") if isinstance(quarantined, dict) else None
    if _is_count(count) and count:
        assert isinstance(quarantined, dict)
        reasons = quarantined.get("reasons") if isinstance(quarantined.get("reasons"), list) else []
        why = "; ".join(f"{_printable(r.get('reason'))!s} ({r.get('count')})" for r in reasons if isinstance(r, dict))
        notes.append(
            f"{count} confirmed statement(s) are NOT in this export: they were quarantined as suspect"
            + (f" ({why})" if why else "")
            + "; the instance's staff can release them or not before the final export"
        )
    return notes


def verify_export(export: ExportSource | Path, known_key: bytes, known_key_source: str) -> VerifyReport:
    """Every problem found, one sentence each; an empty list means the export is complete, unaltered and signed by
    `known_key`, the key trusted for the instance (there is no check without one)."""
    source = as_source(export)
    report = VerifyReport(source.label)
    manifest = read_manifest(report, source)
    if manifest is None:
        return report
    check_signature(report, manifest, known_key, known_key_source)
    entries = expected_files(report, manifest)
    listed = {entry["file"] for entry in entries.values()}
    present = source.members()
    for name in sorted(present - listed - {MANIFEST_NAME}):
        report.problems.append(f"{name}: not listed in the manifest (an extra file)")
    for code, entry in entries.items():
        if entry["file"] not in present:
            report.problems.append(f"{entry['file']}: listed in the manifest but missing")
            continue
        try:
            check_file(report, source, code, entry, {e["sha256"]: e["file"] for e in entries.values()})
        except ExportUnreadable as error:  # a stored export deleted while it was read
            report.problems.append(str(error))
    report.notes.extend(manifest_notes(manifest))
    report.manifest = manifest
    return report
