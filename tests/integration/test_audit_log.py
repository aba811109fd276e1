"""The audit chain: intact, broken by editing, deleting or reordering rows in the database, cut off at the tail
(caught only by an anchor), concurrent appends, `audit verify` exit codes, and the staff page."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.audit.log import GENESIS, chain_head, record, verify_chain
from app.extensions import db as _db
from app.models import AuditEntry, utcnow

from ..support.factories import make_initiative, make_staff, sign_in_as


def _write(count: int, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    hashes = [
        record("ada@example.org", f"test.step{i}", reason=f"step {i}", details={"n": i}, **kwargs)
        for i in range(1, count + 1)
    ]
    _db.session.commit()
    return hashes


def _ids(db) -> list[int]:  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(AuditEntry.id).order_by(AuditEntry.id)))


def _tamper(db, sql: str, **params: object) -> None:  # type: ignore[no-untyped-def]
    """What someone with direct database access does; on PostgreSQL they must switch the trigger off first."""
    postgres = db.engine.dialect.name == "postgresql"
    if postgres:
        db.session.execute(sa.text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
    db.session.execute(sa.text(sql), params)
    if postgres:
        db.session.execute(sa.text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only"))
    db.session.commit()


def _verify(app, *args: str):  # type: ignore[no-untyped-def]
    _db.session.rollback()
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def test_intact_chain_links_every_entry(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    hashes = _write(4, initiative=initiative)
    entries = list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    assert [e.prev_hash for e in entries] == [GENESIS, *hashes[:-1]]
    assert [e.entry_hash for e in entries] == hashes
    report = verify_chain()
    assert report.intact and report.entries == 4
    assert (report.head_id, report.head_hash) == (entries[-1].id, hashes[-1])
    assert chain_head() == (entries[-1].id, hashes[-1])

    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "audit log intact: 4 entries" in result.output
    assert hashes[-1] in result.output  # the head, to keep elsewhere


def test_empty_log_verifies(app):  # type: ignore[no-untyped-def]
    result = _verify(app)
    assert result.exit_code == 0
    assert "audit log intact: 0 entries" in result.output


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_postgres_trigger_refuses_update_and_delete(app, db):  # type: ignore[no-untyped-def]
    """The trigger lives on PostgreSQL only (the production database); SQLite has the app's word for it."""
    _write(2)
    for statement in ("UPDATE audit_entry SET reason = 'nothing happened'", "DELETE FROM audit_entry"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert verify_chain().intact and verify_chain().entries == 2


def test_edited_row_is_named(app, db):  # type: ignore[no-untyped-def]
    _write(5)
    ids = _ids(db)
    _tamper(db, "UPDATE audit_entry SET reason = 'nothing to see' WHERE id = :id", id=ids[2])
    report = verify_chain()
    assert not report.intact
    assert report.broken_id == ids[2] and report.broken_action == "test.step3"
    assert "edited" in report.problem

    result = _verify(app)
    assert result.exit_code != 0
    assert f"entry {ids[2]} (" in result.output and "test.step3" in result.output and "edited" in result.output
    assert report.broken_created_at is not None
    assert report.broken_created_at.isoformat(sep=" ", timespec="seconds") in result.output


def test_edit_with_recomputed_hash_breaks_the_next_link(app, db):  # type: ignore[no-untyped-def]
    from app.audit.log import entry_digest

    _write(3)
    ids = _ids(db)
    entry = db.session.get(AuditEntry, ids[1])
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
    db.session.rollback()
    _tamper(db, "UPDATE audit_entry SET reason = 'rewritten', entry_hash = :h WHERE id = :id", h=forged, id=ids[1])
    report = verify_chain()
    assert report.broken_id == ids[2]
    assert "does not follow" in report.problem


def test_deleted_middle_row_is_caught(app, db):  # type: ignore[no-untyped-def]
    _write(5)
    ids = _ids(db)
    _tamper(db, "DELETE FROM audit_entry WHERE id = :id", id=ids[2])
    report = verify_chain()
    assert report.broken_id == ids[3] and report.broken_action == "test.step4"
    assert "removed" in report.problem
    result = _verify(app)
    assert result.exit_code != 0 and f"entry {ids[3]} (" in result.output


def test_deleted_first_row_is_caught(app, db):  # type: ignore[no-untyped-def]
    _write(3)
    ids = _ids(db)
    _tamper(db, "DELETE FROM audit_entry WHERE id = :id", id=ids[0])
    report = verify_chain()
    assert report.broken_id == ids[1]
    assert "earlier entries were removed" in report.problem


def test_reordered_rows_are_caught(app, db):  # type: ignore[no-untyped-def]
    _write(4)
    a, b = _ids(db)[1:3]
    _tamper(db, "UPDATE audit_entry SET id = :tmp WHERE id = :a", tmp=-1, a=a)
    _tamper(db, "UPDATE audit_entry SET id = :a WHERE id = :b", a=a, b=b)
    _tamper(db, "UPDATE audit_entry SET id = :b WHERE id = :tmp", b=b, tmp=-1)
    report = verify_chain()
    assert report.broken_id == a and report.broken_action == "test.step3"
    assert "reordered" in report.problem
    assert _verify(app).exit_code != 0


def test_cut_off_tail_needs_an_anchor(app, db):  # type: ignore[no-untyped-def]
    """The honest limit: the remaining chain still links up; only a head kept elsewhere shows the loss."""
    hashes = _write(5)
    anchor = hashes[-1]
    assert _verify(app, "--anchor", anchor).exit_code == 0
    _tamper(db, "DELETE FROM audit_entry WHERE id > :id", id=_ids(db)[2])

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
    assert report.entries == 2 * per_thread
    actors = db.session.scalars(sa.select(AuditEntry.actor)).all()
    assert sorted(set(actors)) == ["writer1", "writer2"]


# --- the staff page -----------------------------------------------------------------------------------------


def test_auditor_reads_only_their_initiatives(app, db, client):  # type: ignore[no-untyped-def]
    mine, _ = make_initiative("mine")
    other, _ = make_initiative("other")
    record("olga@example.org", "quarantine.apply", initiative=mine, reason="burst from one network")
    record("olga@example.org", "quarantine.apply", initiative=other, reason="secret of the other campaign")
    record("olga@example.org", "staff.sign_in")
    db.session.commit()
    sign_in_as(client, make_staff(db, "aud@example.org", "auditor", [mine]))

    page = client.get("/admin/audit").get_data(as_text=True)
    assert "burst from one network" in page
    assert "secret of the other campaign" not in page
    assert 'data-intact="yes"' in page
    assert client.get("/admin/audit?initiative=other").status_code == 403
    assert client.get("/admin/audit?initiative=_instance").status_code == 403
    assert client.get("/admin/audit?initiative=mine").status_code == 200


def test_admin_filters_and_pages(app, db, client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for i in range(55):
        record("ada@example.org" if i % 2 else "bob@example.org", "test.many", initiative=initiative, target=f"row {i}")
    record("cli", "keys.generate", initiative=initiative, target="special")
    db.session.commit()
    sign_in_as(client, make_staff(db, "root@example.org", "admin"))

    first = client.get("/admin/audit").get_data(as_text=True)
    assert "56 entries match" in first and "Page 1 of 2" in first
    assert first.index("special") < first.index("row 54") < first.index("row 10")  # newest first
    assert "row 5<" not in first  # on page 2
    second = client.get("/admin/audit?page=2").get_data(as_text=True)
    assert "row 5<" in second and "row 0<" in second

    only_keys = client.get("/admin/audit?action=keys.generate").get_data(as_text=True)
    assert "1 entry matches" in only_keys and "special" in only_keys
    by_actor = client.get("/admin/audit?actor=BOB@").get_data(as_text=True)
    assert "28 entries match" in by_actor
    today = utcnow().date()
    assert "0 entries match" in client.get(f"/admin/audit?since={today + timedelta(days=1)}").get_data(as_text=True)
    assert "56 entries match" in client.get(f"/admin/audit?since={today}&until={today}").get_data(as_text=True)
    bad = client.get("/admin/audit?since=yesterday").get_data(as_text=True)
    assert "YYYY-MM-DD" in bad


def test_page_shows_a_broken_chain(app, db, client):  # type: ignore[no-untyped-def]
    _write(3)
    ids = _ids(db)
    _tamper(db, "UPDATE audit_entry SET actor = 'someone else' WHERE id = :id", id=ids[1])
    sign_in_as(client, make_staff(db, "root@example.org", "admin"))
    page = client.get("/admin/audit").get_data(as_text=True)
    assert 'data-intact="no"' in page and f"entry {ids[1]} (" in page


@pytest.mark.parametrize("role, status", [("organizer", 403), (None, 302)])
def test_others_cannot_read_the_log(app, db, client, role, status):  # type: ignore[no-untyped-def]
    if role:
        initiative, _ = make_initiative()
        sign_in_as(client, make_staff(db, "org@example.org", role, [initiative]))
    assert client.get("/admin/audit").status_code == status
