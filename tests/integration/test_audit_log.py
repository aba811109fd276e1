"""The audit chain: intact, broken by editing, deleting or reordering rows in the database, gaps in the ids, cut off
at the tail, rewritten wholesale with recomputed hashes (caught by the signed heads), concurrent appends, `audit
verify` and `audit sign-head`, and what the app's database role may do on PostgreSQL."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from nacl.signing import SigningKey

from app.audit.heads import SignedHead, heads_file, sign_head
from app.audit.log import GENESIS, chain_head, committed_head, entry_digest, record, verify_chain
from app.exports.keys import instance_verify_key
from app.extensions import db as _db
from app.models import AuditEntry, utcnow

from ..support.factories import make_initiative


def _write(count: int, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    hashes = [
        record("ada@example.org", f"test.step{i}", reason=f"step {i}", details={"n": i}, **kwargs)
        for i in range(1, count + 1)
    ]
    _db.session.commit()
    return hashes


def _ids(db) -> list[int]:  # type: ignore[no-untyped-def]
    ids = list(db.session.scalars(sa.select(AuditEntry.id).order_by(AuditEntry.id)))
    db.session.rollback()  # no transaction left open: the owner's ALTER TABLE would wait for it
    return ids


def _tamper(owner: sa.Engine, sql: str, **params: object) -> None:
    """What the database's owner can do; on PostgreSQL they must switch the triggers off first."""
    _db.session.rollback()
    with owner.begin() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
        connection.execute(sa.text(sql), params)
        if postgres:
            connection.exec_driver_sql("ALTER TABLE audit_entry ENABLE TRIGGER USER")


def _rewrite(owner: sa.Engine, drop: set[int], actors: dict[int, str], renumber: bool) -> None:
    """The attack of issue 7: remove entries, change actors, recompute the whole chain, write it back."""
    _db.session.rollback()
    table = AuditEntry.__table__
    with owner.begin() as connection:
        rows = [dict(r) for r in connection.execute(sa.select(table).order_by(table.c.id)).mappings()]
        kept = [r for r in rows if r["id"] not in drop]
        prev = GENESIS
        for number, row in enumerate(kept, start=1):
            row["actor"] = actors.get(row["id"], row["actor"])
            if renumber:
                row["id"] = number
            fields = (row["created_at"], row["actor"], row["action"], row["initiative_id"])
            row["prev_hash"] = prev
            row["entry_hash"] = prev = entry_digest(prev, *fields, row["target"], row["reason"], row["details"])
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
        connection.execute(table.delete())
        connection.execute(table.insert(), kept)
        if postgres:
            connection.exec_driver_sql("ALTER TABLE audit_entry ENABLE TRIGGER USER")


def _cli(app, *args: str):  # type: ignore[no-untyped-def]
    _db.session.rollback()
    return app.test_cli_runner().invoke(args=["audit", *args])


def _verify(app, *args: str):  # type: ignore[no-untyped-def]
    return _cli(app, "verify", *args)


def _heads_path(app) -> Path:  # type: ignore[no-untyped-def]
    return heads_file(Path(app.config["AUDIT_HEADS_DIR"]))


def _heads_lines(app) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    path = _heads_path(app)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_intact_chain_links_every_entry(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    hashes = _write(4, initiative=initiative)
    entries = list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    assert [e.id for e in entries] == [1, 2, 3, 4]
    assert [e.prev_hash for e in entries] == [GENESIS, *hashes[:-1]]
    assert [e.entry_hash for e in entries] == hashes
    report = verify_chain()
    assert report.intact and report.entries == 4
    assert (report.head_id, report.head_hash) == (4, hashes[-1])
    assert chain_head() == (4, hashes[-1])

    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "audit log intact: 4 entries, ids 1 to 4 without a gap" in result.output
    assert hashes[-1] in result.output  # the head, to keep elsewhere
    assert "no signed head was given" in result.output  # said, not hidden: only the chain was checked


def test_empty_log_verifies(app):  # type: ignore[no-untyped-def]
    result = _verify(app)
    assert result.exit_code == 0
    assert "audit log intact: 0 entries" in result.output


def test_ids_stay_contiguous_after_a_rolled_back_append(app, db):  # type: ignore[no-untyped-def]
    """A sequence would skip the id of a rolled-back entry; a gap must only ever mean a removed entry."""
    _write(1)
    record("ada@example.org", "test.rolled_back")
    db.session.rollback()
    _write(1)
    assert _ids(db) == [1, 2]
    assert verify_chain().intact


def test_committed_head_leaves_out_this_transactions_entries(app, db):  # type: ignore[no-untyped-def]
    hashes = _write(2)
    record("ada@example.org", "test.uncommitted")
    assert chain_head()[0] == 3  # type: ignore[index]
    assert committed_head() == (2, hashes[-1])
    db.session.rollback()


def test_edited_row_is_named(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(5)
    _tamper(database_owner, "UPDATE audit_entry SET reason = 'nothing to see' WHERE id = 3")
    report = verify_chain()
    assert not report.intact
    assert report.broken_id == 3 and report.broken_action == "test.step3"
    assert "edited" in report.problem

    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 3 (" in result.output and "test.step3" in result.output and "edited" in result.output
    assert report.broken_created_at is not None
    assert report.broken_created_at.isoformat(sep=" ", timespec="seconds") in result.output


def test_edit_with_recomputed_hash_breaks_the_next_link(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(3)
    entry = db.session.get(AuditEntry, 2)
    forged = entry_digest(
        entry.prev_hash,
        entry.created_at,
        entry.actor,
        entry.action,
        entry.initiative_id,
        entry.target,
        "rewritten",
        entry.details,
    )
    _tamper(database_owner, "UPDATE audit_entry SET reason = 'rewritten', entry_hash = :h WHERE id = 2", h=forged)
    report = verify_chain()
    assert report.broken_id == 3
    assert "does not follow" in report.problem


def test_deleted_middle_row_leaves_a_gap(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(5)
    _tamper(database_owner, "DELETE FROM audit_entry WHERE id = 3")
    report = verify_chain()
    assert report.broken_id == 4 and report.broken_action == "test.step4"
    assert report.problem == "does not follow entry 2: entry 3 was removed"
    result = _verify(app)
    assert result.exit_code != 0 and "entry 4 (" in result.output and "entry 3 was removed" in result.output


def test_deleted_first_row_is_caught(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(3)
    _tamper(database_owner, "DELETE FROM audit_entry WHERE id = 1")
    report = verify_chain()
    assert report.broken_id == 2
    assert "earlier entries were removed" in report.problem


def test_reordered_rows_are_caught(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(4)
    _tamper(database_owner, "UPDATE audit_entry SET id = -1 WHERE id = 2")
    _tamper(database_owner, "UPDATE audit_entry SET id = 2 WHERE id = 3")
    _tamper(database_owner, "UPDATE audit_entry SET id = 3 WHERE id = -1")
    report = verify_chain()
    assert report.broken_id == 2 and report.broken_action == "test.step3"
    assert "reordered" in report.problem
    assert _verify(app).exit_code != 0


def test_removed_entries_with_the_chain_recomputed_leave_gaps(app, db, database_owner):  # type: ignore[no-untyped-def]
    """Issue 7 on today's code: 36 entries deleted, actors changed, the chain recomputed: "intact". Now the ids
    show it, even with no signed head at all."""
    _write(100)
    _rewrite(database_owner, drop=set(range(40, 76)), actors={10: "nobody", 90: "nobody"}, renumber=False)
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 76 (" in result.output and "entries 40 to 75 were removed" in result.output


def test_cut_off_tail_needs_an_anchor_or_a_signed_head(app, db, database_owner):  # type: ignore[no-untyped-def]
    """The remaining chain still links up without a gap; only a head kept elsewhere shows the loss."""
    hashes = _write(5)
    anchor = hashes[-1]
    assert _verify(app, "--anchor", anchor).exit_code == 0
    _tamper(database_owner, "DELETE FROM audit_entry WHERE id > 3")

    assert verify_chain().intact  # no chain can see this by itself
    report = verify_chain([anchor])
    assert not report.intact and report.missing_anchors == (anchor,)
    result = _verify(app, "--anchor", anchor)
    assert result.exit_code != 0
    assert anchor in result.output and "removed" in result.output
    assert _verify(app, "--anchor", hashes[1]).exit_code == 0  # an older anchor is still there


def test_anchor_must_look_like_a_hash(app):  # type: ignore[no-untyped-def]
    result = _verify(app, "--anchor", "not-a-hash")
    assert result.exit_code != 0
    assert "64-character" in result.output


def test_anchor_survives_later_entries(app, db):  # type: ignore[no-untyped-def]
    anchor = _write(2)[-1]
    _write(3)
    result = _verify(app, "--anchor", anchor)
    assert result.exit_code == 0, result.output
    assert "audit log intact: 5 entries" in result.output


def test_concurrent_appends_keep_one_linear_chain(app, db):  # type: ignore[no-untyped-def]
    per_thread = 15
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def append(name: str) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(per_thread):
                    record(name, "test.concurrent", details={"i": i})
                    _db.session.commit()
                _db.session.remove()
        except BaseException as error:  # noqa: BLE001 (reported to the main thread)
            failures.append(error)

    threads = [threading.Thread(target=append, args=(f"writer{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    report = verify_chain()
    assert report.intact, report.describe_break()
    assert report.entries == 2 * per_thread and _ids(db) == list(range(1, 2 * per_thread + 1))
    actors = db.session.scalars(sa.select(AuditEntry.actor)).all()
    assert sorted(set(actors)) == ["writer1", "writer2"]


# --- signed heads ---------------------------------------------------------------------------------------------


def test_sign_head_writes_the_file_and_the_log(app, db, caplog):  # type: ignore[no-untyped-def]
    hashes = _write(3)
    with caplog.at_level(logging.INFO, logger="quorum.audit"):
        result = _cli(app, "sign-head")
    assert result.exit_code == 0, result.output
    assert f"signed head: entry 3 {hashes[-1]}" in result.output
    [line] = _heads_lines(app)
    assert (line["entry"], line["hash"], line["format"]) == (3, hashes[-1], "quorum-audit-head/1")
    head = SignedHead.from_dict(line)
    key = instance_verify_key()
    assert key is not None and head.verify_key == key.hex() and head.signed_by({key})
    assert not head.signed_by({bytes(SigningKey.generate().verify_key)})
    logged = [r.getMessage() for r in caplog.records if r.name == "quorum.audit"]
    assert len(logged) == 1 and "audit head signed (daily)" in logged[0] and line["signature"] in logged[0]

    _write(2)
    assert _cli(app, "sign-head").exit_code == 0
    assert [h["entry"] for h in _heads_lines(app)] == [3, 5]  # appended, never rewritten
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "signed heads matched: 2" in result.output


def test_a_signature_covers_every_field(app):  # type: ignore[no-untyped-def]
    key = SigningKey.generate()
    trusted = {bytes(key.verify_key)}
    head = sign_head(7, "a" * 64, key, "https://sign.example.org", utcnow())
    assert head.signed_by(trusted)
    for change in ({"entry": 8}, {"hash": "b" * 64}, {"signed_at": "2000-01-01T00:00:00Z"}, {"instance": "x"}):
        assert not SignedHead.from_dict({**head.as_dict(), **change}).signed_by(trusted), change


def test_sign_head_on_an_empty_log_signs_nothing(app):  # type: ignore[no-untyped-def]
    result = _cli(app, "sign-head")
    assert result.exit_code == 0 and "no head to sign" in result.output
    assert not _heads_path(app).exists()


def test_sign_head_refuses_a_broken_log(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(3)
    _tamper(database_owner, "UPDATE audit_entry SET actor = 'someone else' WHERE id = 2")
    result = _cli(app, "sign-head")
    assert result.exit_code != 0 and "entry 2 (" in result.output
    assert not _heads_path(app).exists()  # a broken log is never vouched for


def test_rewritten_log_fails_against_the_signed_heads(app, db, database_owner):  # type: ignore[no-untyped-def]
    """Issue 7: 36 entries deleted and actors changed, ids renumbered and the chain recomputed: the chain and the
    ids are perfect, and `audit verify` fails at the first signed head, naming its entry."""
    _write(60)
    assert _cli(app, "sign-head").exit_code == 0  # the daily run: entry 60
    _write(40)
    assert _cli(app, "sign-head").exit_code == 0  # entry 100
    _rewrite(database_owner, drop=set(range(20, 56)), actors={5: "nobody", 70: "nobody"}, renumber=True)

    assert verify_chain().intact  # the attack of issue 7 still fools a chain alone
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 60 " in result.output and "does not match the head signed" in result.output
    assert "heads.jsonl line 1" in result.output and "rewritten" in result.output


def test_a_rewrite_of_only_the_newest_entries_is_caught_by_the_newest_head(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(10)
    assert _cli(app, "sign-head").exit_code == 0
    _rewrite(database_owner, drop=set(), actors={9: "nobody"}, renumber=False)
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 10 " in result.output and "does not match the head signed" in result.output


def test_a_head_whose_entry_is_gone_fails(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(8)
    assert _cli(app, "sign-head").exit_code == 0
    _tamper(database_owner, "DELETE FROM audit_entry WHERE id > 5")
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 8 is gone" in result.output and "the log ends at entry 5" in result.output


def test_a_forged_or_damaged_head_fails(app, db, tmp_path):  # type: ignore[no-untyped-def]
    hashes = _write(3)
    assert _cli(app, "sign-head").exit_code == 0
    genuine = _heads_lines(app)[0]
    stranger = sign_head(3, hashes[-1], SigningKey.generate(), "elsewhere", utcnow())
    forged = tmp_path / "forged.jsonl"
    forged.write_text(stranger.line() + "\n")
    result = _verify(app, "--heads", str(forged))
    assert result.exit_code != 0 and "not signed by a trusted key" in result.output

    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text(json.dumps(genuine) + "\n" + "{not json\n")
    result = _verify(app, "--heads", str(damaged))
    assert result.exit_code != 0 and "damaged.jsonl line 2 is not JSON" in result.output

    other_key = tmp_path / "other.key"
    other_key.write_text(bytes(SigningKey.generate().verify_key).hex() + "\n")
    result = _verify(app, "--key-file", str(other_key))
    assert result.exit_code != 0 and "not signed by a trusted key" in result.output

    published = tmp_path / "published.key"
    published.write_text(app.test_client().get("/admin/export-key").get_data(as_text=True))
    assert _verify(app, "--key-file", str(published)).exit_code == 0


def test_export_manifests_carry_a_signed_head(app, db, database_owner, tmp_path):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    hashes = _write(4, initiative=initiative)
    result = app.test_cli_runner().invoke(
        args=["export", "create", "--initiative", initiative.slug, "--out", str(tmp_path / "export")]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    head = SignedHead.from_dict(manifest["audit_head"])
    assert (head.entry_id, head.entry_hash) == (4, hashes[-1])  # the head before the export's own entry
    assert head.signed_by({instance_verify_key()})
    assert [h["entry"] for h in _heads_lines(app)] == [4]  # and in the heads file
    verified = app.test_cli_runner().invoke(args=["export", "verify", str(tmp_path / "export")])
    assert verified.exit_code == 0, verified.output  # the manifest's own signature covers it

    result = _verify(app, "--manifest", str(tmp_path))  # a folder of exports
    assert result.exit_code == 0, result.output
    assert "signed heads matched: 1" in result.output
    _heads_path(app).unlink()  # the heads file lost: the manifests still hold their heads
    _tamper(database_owner, "DELETE FROM audit_entry WHERE id > 3")
    result = _verify(app, "--manifest", str(tmp_path / "export"))
    assert result.exit_code != 0
    assert "entry 4 is gone" in result.output and "export manifest" in result.output


def test_a_manifest_without_a_head_is_noted(app, db, tmp_path):  # type: ignore[no-untyped-def]
    _write(1)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({"format": "quorum-export/1"}))
    result = _verify(app, "--manifest", str(tmp_path / "old"))
    assert result.exit_code == 0 and "holds no audit head" in result.output


# --- the database role ----------------------------------------------------------------------------------------

postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@postgres_only
def test_the_app_role_may_only_append_and_read(app, db):  # type: ignore[no-untyped-def]
    """README, "Deployment": the app connects as `quorum_app`, which may INSERT and SELECT on the audit log and
    owns nothing, so it can neither change entries nor switch the triggers off."""
    assert db.session.scalar(sa.text("SELECT current_user")) == "quorum_app"
    _write(2)
    refused = {
        "UPDATE audit_entry SET reason = 'nothing happened'": "permission denied",
        "DELETE FROM audit_entry": "permission denied",
        "TRUNCATE audit_entry": "permission denied",
        "ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only": "must be owner",
        "ALTER TABLE audit_entry DISABLE TRIGGER USER": "must be owner",
        "DROP TRIGGER audit_entry_no_truncate ON audit_entry": "must be owner",
        "DELETE FROM alembic_version": "permission denied",
    }
    for statement, reason in refused.items():
        with pytest.raises(sa.exc.DBAPIError, match=reason):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert verify_chain().intact and verify_chain().entries == 2


@postgres_only
def test_the_triggers_refuse_even_the_owner(app, db, database_owner):  # type: ignore[no-untyped-def]
    _write(2)
    _db.session.rollback()
    for statement in ("UPDATE audit_entry SET reason = 'x'", "DELETE FROM audit_entry", "TRUNCATE audit_entry"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), database_owner.begin() as connection:
            connection.exec_driver_sql(statement)
    assert verify_chain().entries == 2


@postgres_only
def test_the_upgrade_closes_the_gaps_a_sequence_left(app, pg_cluster):  # type: ignore[no-untyped-def]
    """Before revision 0006 a rolled-back transaction left a gap in PostgreSQL's sequence; the upgrade renumbers the
    entries in order, and the chain (which does not cover ids) still verifies."""
    from flask_migrate import downgrade, upgrade

    from app import create_app
    from config import TestingConfig

    url = pg_cluster.create_database("quorum_gaps")
    legacy = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url)
    with legacy.app_context():
        upgrade(revision="0004")
        prev, rows = GENESIS, []
        for entry_id in (1, 2, 5, 9):
            created = utcnow()
            digest = entry_digest(prev, created, "ada@example.org", "test.old", None, "", "", "{}")
            rows.append({"id": entry_id, "created_at": created, "actor": "ada@example.org", "action": "test.old"})
            rows[-1].update(initiative_id=None, target="", reason="", details="{}", prev_hash=prev, entry_hash=digest)
            prev = digest
        _db.session.execute(AuditEntry.__table__.insert(), rows)
        _db.session.commit()
        upgrade()
        assert list(_db.session.scalars(sa.select(AuditEntry.id).order_by(AuditEntry.id))) == [1, 2, 3, 4]
        report = verify_chain()
        assert report.intact and report.head_hash == prev
        _db.session.rollback()
        downgrade(revision="0004")  # and back down
        _db.session.remove()
        _db.engine.dispose()
