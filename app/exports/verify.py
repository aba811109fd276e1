"""Checking an export without any private key: the signature, the signer's key, every file's hash and count.

Needs no database and no Flask: an auditor can run it on any machine that has the export and the instance's
published verify key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .manifest import COUNTRY_CODE, FORMAT, MANIFEST_NAME, file_name, parse_line, signature_valid

MAX_LINE_PROBLEMS = 5
"""Per file; a mangled file would otherwise print one line per record."""

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class VerifyReport:
    directory: Path
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


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _key_bytes(value: object) -> bytes | None:
    if isinstance(value, str) and HEX64.match(value):
        return bytes.fromhex(value)
    return None


def read_manifest(report: VerifyReport) -> dict[str, Any] | None:
    path = report.directory / MANIFEST_NAME
    if not report.directory.is_dir():
        report.problems.append(f"{report.directory} is not a folder")
        return None
    if not path.is_file():
        report.problems.append(f"{MANIFEST_NAME} is missing")
        return None
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
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


def check_signature(
    report: VerifyReport, manifest: dict[str, Any], known_key: bytes | None, known_key_source: str
) -> None:
    """The signature must match the manifest's own key AND the key we know for the instance: a forger who edits
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
    if known_key is None:
        report.notes.append(
            f"the signature was checked against the key inside the manifest only "
            f"({verify_key.hex()}); pass --key-file with the instance's published export key to "
            "check who signed it"
        )
    elif verify_key != known_key:
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


def check_file(report: VerifyReport, code: str, entry: dict[str, Any], expected: dict[str, str]) -> None:
    """Hash and count the file as it is read, and check each line's record and its country."""
    name = entry["file"]
    digest = hashlib.sha256()
    count = 0
    line_problems = 0
    last = b"\n"
    with open(report.directory / name, "rb") as handle:
        for line in handle:
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


def verify_export(
    directory: Path, known_key: bytes | None = None, known_key_source: str = "the published key"
) -> VerifyReport:
    """Every problem found, one sentence each; an empty list means the export is complete and unaltered."""
    report = VerifyReport(directory)
    manifest = read_manifest(report)
    if manifest is None:
        return report
    check_signature(report, manifest, known_key, known_key_source)
    entries = expected_files(report, manifest)
    listed = {entry["file"] for entry in entries.values()}
    present = {path.name for path in directory.iterdir()}
    for name in sorted(present - listed - {MANIFEST_NAME}):
        report.problems.append(f"{name}: not listed in the manifest (an extra file)")
    for code, entry in entries.items():
        if entry["file"] not in present or not (directory / entry["file"]).is_file():
            report.problems.append(f"{entry['file']}: listed in the manifest but missing")
            continue
        check_file(report, code, entry, {e["sha256"]: e["file"] for e in entries.values()})
    report.manifest = manifest
    return report
