"""Writing an export: stream confirmed, non-quarantined statements into per-country files, then sign a manifest.

Rows come from one ordered query read in batches (a server-side cursor on PostgreSQL), and each file is hashed as it
is written, so memory does not grow with the number of statements. Two places to write to:

- a folder (`export create --out`, CONTRACT.md): written into a temporary sibling folder that is renamed into place
  at the end, so a crash leaves no half-written export;
- the database (the staff side, `store.py`): any app server can then serve the download; a failure rolls the
  chunks back with the rest of the transaction.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import sqlalchemy as sa
from nacl.signing import SigningKey
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

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
from .store import ChunkWriter

BATCH = 5000


class ExportError(ValueError):
    """An export cannot be written as asked; the message says why."""


@dataclass(frozen=True)
class ExportResult:
    record: ExportRecord
    directory: Path | None  # None: kept in the database
    manifest: dict[str, Any]


class _Writer(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class _FolderFile:
    """A file of an export folder, on disk before the folder is renamed into place."""

    def __init__(self, path: Path) -> None:
        self.handle: IO[bytes] = open(path, "xb")  # noqa: SIM115 (closed in close)

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def close(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()


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


class _UuidHex(sa.sql.expression.FunctionElement[str]):
    """A UUID column as 32 hex digits, straight from the database: making a million uuid.UUID objects (and datetime
    objects, below) only to turn them back into text was a third of an export's time."""

    type = sa.String()
    inherit_cache = True


@compiles(_UuidHex, "sqlite")
def _uuid_hex_sqlite(element: _UuidHex, compiler: SQLCompiler, **kw: Any) -> str:
    # stored that way already: SQLAlchemy's Uuid is CHAR(32) on a database without a uuid type
    return compiler.process(list(element.clauses)[0], **kw)


@compiles(_UuidHex, "postgresql")
def _uuid_hex_postgresql(element: _UuidHex, compiler: SQLCompiler, **kw: Any) -> str:
    return f"replace(CAST({compiler.process(list(element.clauses)[0], **kw)} AS TEXT), '-', '')"


class _TimestampText(sa.sql.expression.FunctionElement[str]):
    """A naive-UTC timestamp column as text that starts `YYYY-MM-DD HH:MM:SS`."""

    type = sa.String()
    inherit_cache = True


@compiles(_TimestampText, "sqlite")
def _timestamp_text_sqlite(element: _TimestampText, compiler: SQLCompiler, **kw: Any) -> str:
    # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's DateTime on SQLite)
    return compiler.process(list(element.clauses)[0], **kw)


@compiles(_TimestampText, "postgresql")
def _timestamp_text_postgresql(element: _TimestampText, compiler: SQLCompiler, **kw: Any) -> str:
    # to_char, not a cast: its output does not depend on the server's DateStyle
    return f"to_char({compiler.process(list(element.clauses)[0], **kw)}, 'YYYY-MM-DD HH24:MI:SS')"


class _CountryFile:
    """One country file being written, hashed and counted as batches of lines go in."""

    def __init__(self, writer: _Writer, country: str) -> None:
        self.country = country
        self.name = file_name(country)
        self.writer = writer
        self.hash = hashlib.sha256()
        self.count = 0

    def write(self, lines: list[bytes]) -> None:
        data = b"".join(lines)
        self.hash.update(data)
        self.writer.write(data)
        self.count += len(lines)

    def finish(self) -> dict[str, Any]:
        self.writer.close()
        return {"file": self.name, "count": self.count, "sha256": self.hash.hexdigest()}


def write_country_files(
    open_file: Callable[[str], _Writer], initiative: Initiative, codes: list[str] | None, batch: int = BATCH
) -> dict[str, dict[str, Any]]:
    """Stream the statements into one file per country, each in a stable order: as they were given (created_at, id).

    One pass in the order of `ix_statement_initiative_created`, all country files open at once: the rows come as
    the index lists them, with no sort of the whole table first (by country, a million rows took the database
    seconds to sort before the first one came, and on SQLite reads hopped across the table once per country).
    `open_file(name)` gives the writer of one file (a file in a folder, or chunks in the database).
    """
    query = (
        sa.select(
            _UuidHex(Statement.id),
            Statement.country_code,
            _TimestampText(Statement.confirmed_at),
            sa.type_coerce(Statement.sealed_data, sa.types.NullType()),  # the driver's bytes, no conversion
        )
        .where(*_scope(initiative, codes), counted())
        .order_by(Statement.created_at, Statement.id)
        .execution_options(yield_per=batch)
    )
    files: dict[str, _CountryFile] = {}
    # Core, not the ORM: rows are tuples of plain values, and nothing is kept in the session
    result = db.session.connection().execute(query)
    try:
        for rows in result.partitions():
            lines: dict[str, list[bytes]] = {}
            for hex_id, country, confirmed, sealed in rows:
                # the canonical UUID and manifest.timestamp's form, cut from text (a counted statement has a time)
                statement_id = f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
                line = format_line(statement_id, country, f"{confirmed[:10]}T{confirmed[11:19]}Z", sealed)
                lines.setdefault(country, []).append(line)
            for country, group in lines.items():
                if country not in files:
                    files[country] = _CountryFile(open_file(file_name(country)), country)
                files[country].write(group)
        entries = {}
        for country in sorted(files):
            entries[country] = files.pop(country).finish()
    finally:
        result.close()
        for unfinished in files.values():
            unfinished.writer.close()
    return entries


def quarantine_summary(initiative: Initiative, codes: list[str] | None) -> dict[str, Any]:
    """How many confirmed statements in scope were left out, and why (the quarantines' written reasons)."""
    # only a quarantine not released holds statements (releasing clears their mark): without one, no statement need
    # be read, and a million of them took two seconds to read for nothing
    active = sa.select(Quarantine.id).where(Quarantine.initiative_id == initiative.id, Quarantine.released_at.is_(None))
    if db.session.scalar(active.limit(1)) is None:
        return {"count": 0, "reasons": []}
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


def _prepare(initiative: Initiative, countries: list[str] | None) -> tuple[SigningKey, list[str] | None]:
    """The signing key and the chosen member states, or ExportError before anything is written."""
    try:
        key = instance_signing_key()
    except (SigningKeyMissing, ExportKeyError) as error:
        raise ExportError(str(error)) from error
    if initiative.auditor_public_key is None:
        raise ExportError(f"{initiative.slug} has no auditor key, so it has no sealed statements to export")
    return key, selected_countries(initiative, countries)


def _write_export(
    open_file: Callable[[str], _Writer],
    initiative: Initiative,
    actor: str,
    codes: list[str] | None,
    key: SigningKey,
    batch: int,
) -> tuple[dict[str, Any], bytes]:
    """The country files, then the signed manifest (last: it lists the others' hashes)."""
    entries = write_country_files(open_file, initiative, codes, batch)
    manifest = sign(build_manifest(initiative, actor, codes, entries, quarantine_summary(initiative, codes)), key)
    data = manifest_bytes(manifest)
    writer = open_file(MANIFEST_NAME)
    writer.write(data)
    writer.close()
    return manifest, data


def _audit(export: ExportRecord, initiative: Initiative, codes: list[str] | None, manifest: dict[str, Any]) -> None:
    where = {"directory": export.directory} if export.directory is not None else {"stored": "database"}
    audit(
        export.created_by,
        "export.create",
        initiative=initiative,
        target=f"export {export.id}",
        details={
            "countries": list(manifest["countries"]),
            "selection": codes,
            "statements": manifest["totals"]["statements"],
            "quarantined": manifest["quarantined"]["count"],
            "manifest_sha256": export.manifest_sha256,
            **where,
        },
    )


def _describe(export: ExportRecord, manifest: dict[str, Any], data: bytes) -> None:
    export.countries = ",".join(manifest["countries"])
    export.statement_count = manifest["totals"]["statements"]
    export.manifest_sha256 = sha256_hex(data)


def create_export(
    initiative: Initiative, out: Path, actor: str, countries: list[str] | None = None, batch: int = BATCH
) -> ExportResult:
    """Write the export into the folder `out` and add its ExportRecord and audit entry (the caller commits)."""
    key, codes = _prepare(initiative, countries)
    out = out.absolute()
    check_output_directory(out)

    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        manifest, data = _write_export(lambda name: _FolderFile(work / name), initiative, actor, codes, key, batch)
        if out.exists():
            out.rmdir()  # empty, checked above; rename cannot replace a folder portably
        os.rename(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    export = ExportRecord(initiative_id=initiative.id, created_by=actor, directory=str(out))
    _describe(export, manifest, data)
    db.session.add(export)
    db.session.flush()
    _audit(export, initiative, codes, manifest)
    return ExportResult(export, out, manifest)


def store_export(
    initiative: Initiative, actor: str, countries: list[str] | None = None, batch: int = BATCH
) -> ExportResult:
    """Write the export into the database (the staff side's exports), with its record and audit entry; the caller
    commits, and a failure rolls every chunk back with the rest."""
    key, codes = _prepare(initiative, countries)
    export = ExportRecord(initiative_id=initiative.id, created_by=actor, directory=None, manifest_sha256="")
    db.session.add(export)
    db.session.flush()
    manifest, data = _write_export(lambda name: ChunkWriter(export.id, name), initiative, actor, codes, key, batch)
    _describe(export, manifest, data)
    db.session.flush()
    _audit(export, initiative, codes, manifest)
    return ExportResult(export, None, manifest)
