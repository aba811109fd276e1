"""Writing an export: stream confirmed, non-quarantined statements into per-country files, then sign a manifest.

Rows come from one ordered query read in batches (`yield_per`: a server-side cursor on PostgreSQL), and each
file is hashed as it is written, so memory does not grow with the number of statements. Everything is written
into a temporary sibling folder that is renamed into place at the end: a crash leaves no half-written export.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from ..audit.heads import head_for_manifest
from ..audit.log import record as audit
from ..extensions import db
from ..models import ExportRecord, Initiative, Quarantine, Statement, StatementStatus, utcnow
from ..statements.rules import counted
from .keys import SigningKeyMissing, instance_name, instance_signing_key
from .manifest import (
    FORMAT,
    MANIFEST_NAME,
    ExportKeyError,
    file_name,
    format_line,
    manifest_bytes,
    sha256_hex,
    sign,
    timestamp,
)

BATCH = 2000


class ExportError(ValueError):
    """An export cannot be written as asked; the message says why."""


@dataclass(frozen=True)
class ExportResult:
    record: ExportRecord
    directory: Path
    manifest: dict[str, Any]


def check_output_directory(out: Path) -> None:
    """The contract's rule for --out: a folder that does not exist yet, or an empty one."""
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out} exists and is not a folder")
        if any(out.iterdir()):
            raise ExportError(f"{out} is not empty; choose a new or empty folder")
    if not out.parent.is_dir():
        raise ExportError(f"the folder {out.parent} does not exist")


def selected_countries(initiative: Initiative, countries: list[str] | None) -> list[str] | None:
    """Upper-cased codes, each one a member state of the initiative; None means all of them."""
    if not countries:
        return None
    codes: list[str] = []
    for raw in countries:
        for part in raw.split(","):
            code = part.strip().upper()
            if not code:
                continue
            if initiative.country(code) is None:
                raise ExportError(f"{code} is not a member state of {initiative.slug}")
            if code not in codes:
                codes.append(code)
    return sorted(codes) or None


def _scope(initiative: Initiative, codes: list[str] | None) -> list[sa.ColumnElement[bool]]:
    conditions = [Statement.initiative_id == initiative.id]
    if codes:
        conditions.append(Statement.country_code.in_(codes))
    return conditions


class _CountryFile:
    """One open country file, hashed and counted as batches of lines go in."""

    def __init__(self, folder: Path, country: str) -> None:
        self.country = country
        self.name = file_name(country)
        self.handle: IO[bytes] = open(folder / self.name, "xb")  # noqa: SIM115 (closed in finish)
        self.hash = hashlib.sha256()
        self.count = 0

    def write(self, lines: list[bytes]) -> None:
        data = b"".join(lines)
        self.hash.update(data)
        self.handle.write(data)
        self.count += len(lines)

    def finish(self) -> dict[str, Any]:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        return {"file": self.name, "count": self.count, "sha256": self.hash.hexdigest()}


def write_country_files(
    folder: Path, initiative: Initiative, codes: list[str] | None, batch: int = BATCH
) -> dict[str, dict[str, Any]]:
    """Stream the statements, in a stable order (country, confirmed_at, id), into one file per country."""
    query = (
        sa.select(Statement.id, Statement.country_code, Statement.confirmed_at, Statement.sealed_data)
        .where(*_scope(initiative, codes), counted())
        .order_by(Statement.country_code, Statement.confirmed_at, Statement.id)
        .execution_options(yield_per=batch)
    )
    entries: dict[str, dict[str, Any]] = {}
    current: _CountryFile | None = None
    try:
        for rows in db.session.execute(query).partitions():
            lines: list[bytes] = []
            for statement_id, country, confirmed_at, sealed in rows:
                if current is None or country != current.country:
                    if current is not None:
                        current.write(lines)
                        lines = []
                        entries[current.country] = current.finish()
                    current = _CountryFile(folder, country)
                confirmed = timestamp(confirmed_at) if confirmed_at is not None else ""
                lines.append(format_line(str(statement_id), country, confirmed, sealed))
            if current is not None and lines:
                current.write(lines)
        if current is not None:
            entries[current.country] = current.finish()
            current = None
    finally:
        if current is not None:
            current.handle.close()
    return entries


def quarantine_summary(initiative: Initiative, codes: list[str] | None) -> dict[str, Any]:
    """How many confirmed statements in scope were left out, and why (the quarantines' written reasons)."""
    rows = db.session.execute(
        sa.select(Quarantine.id, Quarantine.reason, sa.func.count(Statement.id))
        .join(Statement, Statement.quarantine_id == Quarantine.id)
        .where(*_scope(initiative, codes), Statement.status == StatementStatus.CONFIRMED)
        .group_by(Quarantine.id, Quarantine.reason)
        .order_by(Quarantine.id)
    ).all()
    reasons = [{"quarantine": qid, "reason": reason, "count": int(count)} for qid, reason, count in rows]
    return {"count": sum(r["count"] for r in reasons), "reasons": reasons}


def build_manifest(
    initiative: Initiative,
    actor: str,
    codes: list[str] | None,
    entries: dict[str, dict[str, Any]],
    quarantined: dict[str, Any],
) -> dict[str, Any]:
    assert initiative.auditor_public_key is not None
    countries: dict[str, dict[str, Any]] = {}
    for code in sorted(entries):
        rules = initiative.country(code)
        countries[code] = {**entries[code], "threshold": rules.threshold if rules is not None else None}
    return {
        "format": FORMAT,
        "instance": instance_name(),
        "initiative": {"slug": initiative.slug, "title": initiative.title},
        "rule_set": initiative.rule_set,
        "created_at": timestamp(utcnow()),
        "created_by": actor,
        "auditor_public_key": initiative.auditor_public_key.hex(),
        "selection": {"countries": codes, "status": StatementStatus.CONFIRMED.value, "quarantined": "left out"},
        "countries": countries,
        "totals": {"statements": sum(e["count"] for e in entries.values()), "countries": len(entries)},
        "quarantined": quarantined,
        "audit_head": head_for_manifest(),  # the audit log's head, signed and kept outside the database
    }


def create_export(
    initiative: Initiative, out: Path, actor: str, countries: list[str] | None = None, batch: int = BATCH
) -> ExportResult:
    """Write the export into `out` and add its ExportRecord and audit entry (the caller commits)."""
    try:
        key = instance_signing_key()
    except (SigningKeyMissing, ExportKeyError) as error:
        raise ExportError(str(error)) from error
    if initiative.auditor_public_key is None:
        raise ExportError(f"{initiative.slug} has no auditor key, so it has no sealed statements to export")
    codes = selected_countries(initiative, countries)
    out = out.absolute()
    check_output_directory(out)

    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries = write_country_files(work, initiative, codes, batch)
        manifest = sign(build_manifest(initiative, actor, codes, entries, quarantine_summary(initiative, codes)), key)
        data = manifest_bytes(manifest)
        with open(work / MANIFEST_NAME, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if out.exists():
            out.rmdir()  # empty, checked above; rename cannot replace a folder portably
        os.rename(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    export = ExportRecord(
        initiative_id=initiative.id,
        created_by=actor,
        directory=str(out),
        countries=",".join(manifest["countries"]),
        statement_count=manifest["totals"]["statements"],
        manifest_sha256=sha256_hex(data),
    )
    db.session.add(export)
    db.session.flush()
    audit(
        actor,
        "export.create",
        initiative=initiative,
        target=f"export {export.id}",
        details={
            "countries": list(manifest["countries"]),
            "selection": codes,
            "statements": manifest["totals"]["statements"],
            "quarantined": manifest["quarantined"]["count"],
            "manifest_sha256": export.manifest_sha256,
            "directory": str(out),
        },
    )
    return ExportResult(export, out, manifest)
