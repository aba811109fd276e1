"""Data gone means gone (issue 7, point 6): when retention destroys an initiative's statements, every export holding
them goes too: the records, the files kept in the database, the folders `export create` wrote. Nothing of their
content is left in the database (read as a dump would on PostgreSQL, and byte by byte from SQLite's files) or under
the instance folder; the purge's report and audit entry say what went."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.audit.retention import purge, statements_deadline
from app.exports.create import create_export, store_export
from app.models import AuditEntry, ExportChunk, ExportRecord, Initiative, Statement
from app.sealing import seal

from ..support.factories import make_initiative, sync_counters


def _add_sealed(db, initiative: Initiative, people: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    start = datetime.combine(initiative.collection_start, datetime.min.time()) + timedelta(hours=1)
    for number, (country, name) in enumerate(people):
        db.session.add(
            Statement(
                initiative_id=initiative.id,
                country_code=country,
                status="confirmed",
                identity_fingerprint=f"{initiative.slug}-identity-{number}",
                email_fingerprint=f"{initiative.slug}-email-{number}",
                sealed_data=seal(initiative.auditor_public_key, {"first_names": name, "family_names": "Tester"}),
                created_at=start,
                confirmed_at=start + timedelta(minutes=number),
            )
        )
    db.session.commit()
    sync_counters(initiative)


def _read_elsewhere(*paths: Path) -> bytes:
    """Files' bytes read by another process (opening the SQLite file here would drop SQLite's locks)."""
    script = (
        "import sys\n"
        "for p in sys.argv[1:]:\n"
        "    try: sys.stdout.buffer.write(open(p, 'rb').read())\n"
        "    except FileNotFoundError: pass"
    )
    return subprocess.run([sys.executable, "-c", script, *map(str, paths)], capture_output=True, check=True).stdout


def _database_as_stored(db) -> bytes:  # type: ignore[no-untyped-def]
    """SQLite: the database file and its write-ahead log as they lie on disk. PostgreSQL: every table as SELECT *
    shows it (its files are the server's)."""
    if db.engine.dialect.name == "sqlite":
        path = Path(make_url(db.engine.url).database or "")
        return _read_elsewhere(path, path.with_name(path.name + "-wal"))
    with db.engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        return "\n".join(
            repr(tuple(row))  # a Row's own repr shortens long values
            for name in tables
            for row in connection.execute(sa.select(sa.text("*")).select_from(sa.table(name)))
        ).encode()


def _sealed_lines(folder: Path) -> list[bytes]:
    """What an export holds of each statement: its sealed blob, as the country files carry it (base64)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return [
        json.loads(line)["sealed"].encode()
        for entry in manifest["countries"].values()
        for line in (folder / entry["file"]).read_bytes().splitlines()
    ]


@pytest.fixture
def finished(app, db, tmp_path):  # type: ignore[no-untyped-def]
    """An initiative submitted long ago (its statements are due) with four exports, and a live one with one."""
    initiative, _ = make_initiative("done", start=date(2025, 1, 1), end=date(2025, 6, 30))
    initiative.status = "submitted"
    initiative.submitted_at = datetime(2025, 8, 15, 10, 0)
    _add_sealed(db, initiative, [("DE", "Anna"), ("DE", "Bernd"), ("FR", "Chloé")])
    live, _ = make_initiative("live")
    _add_sealed(db, live, [("PL", "Dorota")])

    stored = store_export(initiative, "auditor@example.org").record
    db.session.commit()
    # where browser exports once lay, one folder each (the test's own name: instance/ is shared by the whole run)
    legacy = Path(app.instance_path) / "exports" / "done" / f"20250901T000000Z-{uuid.uuid4().hex[:8]}"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    create_export(initiative, legacy, "auditor@example.org")
    elsewhere = tmp_path / "cli-export"
    create_export(initiative, elsewhere, "cli")
    moved = tmp_path / "moved-export"
    create_export(initiative, moved, "cli")
    (tmp_path / "tidy").mkdir()
    moved.rename(tmp_path / "tidy" / "moved-export")  # recorded where it was made, no longer there
    kept = store_export(live, "auditor@example.org").record
    db.session.commit()
    yield {
        "initiative": initiative,
        "stored": stored.id,
        "kept": kept.id,
        "legacy": legacy,
        "elsewhere": elsewhere,
        "moved": moved,
        "blobs": _sealed_lines(elsewhere),
        "deadline": statements_deadline(initiative),
    }
    shutil.rmtree(legacy, ignore_errors=True)  # only there still if the test failed before the purge


def test_retention_takes_the_exports_with_the_statements(app, db, finished):  # type: ignore[no-untyped-def]
    deadline = finished["deadline"]
    blobs = finished["blobs"]
    assert len(blobs) == 3
    assert all(blob in _database_as_stored(db) for blob in blobs)  # the stored export holds them, in base64

    before = purge(now=deadline - timedelta(seconds=1), confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    db.session.commit()
    assert before.count("done", "exports") == 0 and finished["legacy"].is_dir()

    dry = purge(now=deadline, dry_run=True, confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    db.session.rollback()
    assert dry.count("done", "exports") == 4 and dry.count("done", "export_folders") == 2
    assert dry.folders_not_found == {"done": [str(finished["moved"])]}
    assert finished["legacy"].is_dir() and db.session.scalar(sa.select(sa.func.count()).select_from(ExportRecord)) == 5

    report = purge(now=deadline, confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    db.session.commit()
    assert report.counts["done"] == dry.counts["done"]
    assert report.count("done", "statements_due") == 3
    assert (
        "done: statements past the retention deadline 3, exports holding those statements 4, export folders on "
        "this machine 2" in report.lines()[0]
    )
    assert report.lines()[-1] == (
        f"done: export folders not found unchanged where they were written, delete them by hand: {finished['moved']}"
    )

    remaining = db.session.execute(sa.select(ExportRecord.id, ExportRecord.initiative_id)).all()
    assert [export_id for export_id, _initiative in remaining] == [finished["kept"]]  # the live initiative's stays
    assert set(db.session.scalars(sa.select(ExportChunk.export_id).distinct())) == {finished["kept"]}
    assert not finished["legacy"].exists() and not finished["elsewhere"].exists()
    assert not [p for p in Path(app.instance_path).rglob("*") if p.is_file() and p.suffix == ".sealed"]
    assert not list((Path(app.instance_path) / "exports").rglob("manifest.json"))
    stored = _database_as_stored(db)
    for blob in blobs:
        assert blob not in stored and base64.b64decode(blob) not in stored

    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "retention.purge")).all()
    details = json.loads(entry.details)
    assert details["exports"] == 4 and details["export_folders"] == 2
    assert details["export_folders_not_found"] == [str(finished["moved"])]


def test_retention_purge_command_says_what_went(app, db, finished):  # type: ignore[no-untyped-def]
    """The command runs at `now`: the initiative's deadline is long past."""
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    assert "exports holding those statements 4, export folders on this machine 2" in result.output
    assert f"delete them by hand: {finished['moved']}" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportRecord)) == 1
