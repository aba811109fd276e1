"""The audit page: who reads what, filters, paging by id, readable action names, the chain checked from the last
verified head; the CSV and JSON downloads (per initiative, safe for spreadsheets, themselves in the log)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.audit import browse
from app.audit.checkpoint import VERIFIED_HEAD, page_status, stored_checkpoint
from app.audit.heads import heads_file
from app.audit.log import GENESIS, entry_digest, record
from app.exports.keys import instance_verify_key
from app.extensions import db as _db
from app.models import AuditEntry, InstanceSetting, utcnow

from ..support.factories import make_initiative, make_staff, sign_in_as


def _admin(client, db) -> None:  # type: ignore[no-untyped-def]
    sign_in_as(client, make_staff(db, "root@example.org", "admin"))


def _status(app):  # type: ignore[no-untyped-def]
    key = instance_verify_key()
    return page_status(heads_file(Path(app.config["AUDIT_HEADS_DIR"])), {key} if key else set())


def _rewrite_from(owner: sa.Engine, first: int, actor: str) -> None:
    """Change one entry's actor and recompute the chain from it on (what the database's owner can do)."""
    _db.session.rollback()
    table = AuditEntry.__table__
    with owner.begin() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
        rows = [dict(r) for r in connection.execute(sa.select(table).order_by(table.c.id)).mappings()]
        prev = GENESIS
        for row in rows:
            if row["id"] == first:
                row["actor"] = actor
            if row["id"] >= first:
                fields = (row["created_at"], row["actor"], row["action"], row["initiative_id"], row["target"])
                digest = entry_digest(prev, *fields, row["reason"], row["details"])
                connection.execute(
                    table.update()
                    .where(table.c.id == row["id"])
                    .values(actor=row["actor"], prev_hash=f"tmp{row['id']}", entry_hash=f"tmp-{row['id']}")
                )
                row["prev_hash"], row["entry_hash"] = prev, digest
            prev = row["entry_hash"]
        for row in rows:
            if row["id"] >= first:
                connection.execute(
                    table.update()
                    .where(table.c.id == row["id"])
                    .values(prev_hash=row["prev_hash"], entry_hash=row["entry_hash"])
                )
        if postgres:
            connection.exec_driver_sql("ALTER TABLE audit_entry ENABLE TRIGGER USER")


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
    for path in ("/admin/audit", "/admin/audit.csv", "/admin/audit.json"):
        assert client.get(f"{path}?initiative=other").status_code == 403
        assert client.get(f"{path}?initiative=_instance").status_code == 403
        assert client.get(f"{path}?initiative=mine").status_code == 200


def test_admin_filters_and_pages_by_id(app, db, client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for i in range(120):
        record("ada@example.org" if i % 2 else "bob@example.org", "test.many", initiative=initiative, target=f"row {i}")
    record("cli", "keys.generate", initiative=initiative, target="special")
    db.session.commit()
    _admin(client, db)

    def main(html: str) -> str:
        """The page's content (the language switch in the header repeats the query it was asked with)."""
        return html.split('<main id="main">', 1)[1]

    def pager(html: str) -> str:
        """The page's own links to older and newer pages (the language switch repeats the query too)."""
        found = re.search(r'<nav aria-label="Pages" class="pager">.*?</nav>', html, re.S)
        return found.group(0) if found else ""

    first = client.get("/admin/audit").get_data(as_text=True)
    assert "121 entries match" in first
    assert first.index("special") < first.index("row 119<") < first.index("row 71<")  # newest first, 50 a page
    assert "row 70<" not in first
    assert "?before=72" in pager(first) and "after=" not in pager(first)  # the oldest id on the page, no newer one
    second = client.get("/admin/audit?before=72").get_data(as_text=True)
    assert "row 70<" in second and "row 21<" in second and "row 20<" not in second
    assert "?after=71" in second and "before=22" in second
    third = client.get("/admin/audit?before=22").get_data(as_text=True)
    assert "row 20<" in third and "row 0<" in third and "before=" not in pager(third)
    assert main(client.get("/admin/audit?after=71").get_data(as_text=True)) == main(first)  # above the second page
    back = client.get("/admin/audit?after=40").get_data(as_text=True)  # the 50 entries just above entry 40
    assert "row 40<" in back and "row 89<" in back and "row 90<" not in back and "row 39<" not in back
    assert "before=41" in back and "after=90" in back
    assert main(client.get("/admin/audit?after=110").get_data(as_text=True)) == main(first)  # near the top: newest

    filtered = client.get("/admin/audit?actor=BOB@").get_data(as_text=True)
    assert "60 entries match" in filtered
    assert "?before=21&amp;actor=BOB@" in filtered  # the pager keeps the filter
    only_keys = client.get("/admin/audit?action=keys.generate").get_data(as_text=True)
    assert "1 entry matches" in only_keys and "special" in only_keys
    today = utcnow().date()
    assert "0 entries match" in client.get(f"/admin/audit?since={today + timedelta(days=1)}").get_data(as_text=True)
    assert "121 entries match" in client.get(f"/admin/audit?since={today}&until={today}").get_data(as_text=True)
    assert "YYYY-MM-DD" in client.get("/admin/audit?since=yesterday").get_data(as_text=True)
    for odd in ("before=²", "after=-1", "before=99999999999999999999999", "before=", "after=x"):
        assert client.get(f"/admin/audit?{odd}").status_code == 200, odd


def test_counting_stops_at_a_cap(app, db, client, monkeypatch):  # type: ignore[no-untyped-def]
    """Counting every match would read every match: past the cap the page says "more than"."""
    monkeypatch.setattr(browse, "COUNT_CAP", 5)
    initiative, _ = make_initiative()
    for _ in range(7):
        record("ada@example.org", "test.many", initiative=initiative)
    db.session.commit()
    _admin(client, db)
    assert "More than 5 entries match" in client.get("/admin/audit?action=test.many").get_data(as_text=True)
    assert "7 entries match" in client.get("/admin/audit").get_data(as_text=True)  # unfiltered: the newest id


def test_actions_have_readable_names(app, db, client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    record("root@example.org", "account.access_given", initiative=initiative, target="olga@example.org")
    record("root@example.org", "test.unknown_code")
    db.session.commit()
    _admin(client, db)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "access given to an initiative" in page and "account.access_given</code>" in page
    assert "test.unknown_code" in page  # no name: the code itself
    assert '<option value="account.access_given" >access given to an initiative</option>' in page


def test_page_shows_a_broken_chain(app, db, client, database_owner):  # type: ignore[no-untyped-def]
    for i in range(3):
        record("ada@example.org", f"test.step{i}")
    db.session.commit()
    _db.session.rollback()
    with database_owner.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
        connection.exec_driver_sql("UPDATE audit_entry SET actor = 'someone else' WHERE id = 2")
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE audit_entry ENABLE TRIGGER USER")
    _admin(client, db)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert 'data-intact="no"' in page and "entry 2 (" in page
    assert stored_checkpoint() is None  # nothing verified is stored past a break


def test_each_view_walks_only_what_was_added(app, db):  # type: ignore[no-untyped-def]
    for i in range(30):
        record("ada@example.org", f"test.step{i}")
    db.session.commit()
    first = _status(app)
    assert first.intact and (first.checked_from, first.entries, first.head_id) == (0, 30, 30)
    db.session.commit()
    assert stored_checkpoint() is not None and stored_checkpoint().entry_id == 30  # type: ignore[union-attr]
    for i in range(4):
        record("ada@example.org", f"test.more{i}")
    db.session.commit()
    second = _status(app)
    assert second.intact and (second.checked_from, second.entries, second.head_id) == (30, 4, 34)
    db.session.commit()
    third = _status(app)
    assert third.intact and (third.checked_from, third.entries, third.head_id) == (34, 0, 34)


def test_the_verified_head_itself_is_checked(app, db, database_owner):  # type: ignore[no-untyped-def]
    for i in range(5):
        record("ada@example.org", f"test.step{i}")
    db.session.commit()
    assert _status(app).intact
    db.session.commit()
    _rewrite_from(database_owner, 2, "nobody")  # the stored entry 5 gets a new hash
    report = _status(app)
    assert not report.intact and report.broken_id == 5 and "the head verified before" in report.problem


def test_a_rewrite_before_the_verified_head_is_caught_by_the_signed_head(app, db, database_owner):  # type: ignore[no-untyped-def]
    """The page walks only new entries, so it also holds the log against the newest signed head on every view."""
    for i in range(6):
        record("ada@example.org", f"test.step{i}")
    db.session.commit()
    assert app.test_cli_runner().invoke(args=["audit", "sign-head"]).exit_code == 0  # also stores entry 6 as verified
    _db.session.rollback()
    record("ada@example.org", "test.later")
    db.session.commit()
    assert _status(app).intact
    db.session.commit()
    _rewrite_from(database_owner, 3, "nobody")
    new_head = _db.session.scalar(sa.select(AuditEntry.entry_hash).where(AuditEntry.id == 7))
    _db.session.execute(  # the attacker moves the stored verified head too: the chain from it links up
        sa.update(InstanceSetting).where(InstanceSetting.key == VERIFIED_HEAD).values(value=f"7:{new_head}")
    )
    _db.session.commit()
    report = _status(app)
    assert not report.intact and report.broken_id == 6 and "heads.jsonl" in report.problem


# --- downloads ------------------------------------------------------------------------------------------------


def _csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_csv_download(app, db, client):  # type: ignore[no-untyped-def]
    mine, _ = make_initiative("mine")
    other, _ = make_initiative("other")
    record("=cmd|' /C calc'!A0", "account.access_given", initiative=mine, target="+1 555", reason="-2+3")
    record("@sum(1)", "quarantine.apply", initiative=other, reason="'quoted")
    record("ada@example.org", "staff.sign_in", details={"second_factor": True})
    db.session.commit()
    _admin(client, db)

    response = client.get("/admin/audit.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="audit-log-all-' in response.headers["Content-Disposition"]
    rows = _csv_rows(response)
    assert list(rows[0]) == [
        "id",
        "created_at",
        "actor",
        "action",
        "action_code",
        "initiative",
        "target",
        "reason",
        "details",
        "prev_hash",
        "entry_hash",
    ]
    assert [r["id"] for r in rows[:3]] == ["1", "2", "3"]  # oldest first
    first = rows[0]
    assert first["actor"] == "'=cmd|' /C calc'!A0"  # a formula no more
    assert (first["target"], first["reason"]) == ("'+1 555", "'-2+3")
    assert (first["action"], first["action_code"], first["initiative"]) == (
        "access given to an initiative",
        "account.access_given",
        "mine",
    )
    assert rows[1]["actor"] == "'@sum(1)" and rows[1]["reason"] == "''quoted"  # an apostrophe kept recoverable
    assert json.loads(rows[2]["details"]) == {"second_factor": True}
    entry = db.session.get(AuditEntry, 1)
    assert first["entry_hash"] == entry.entry_hash and first["created_at"].endswith("Z")

    per_initiative = _csv_rows(client.get("/admin/audit.csv?initiative=mine"))
    assert [(r["initiative"], r["action_code"]) for r in per_initiative] == [
        ("mine", "account.access_given"),
        ("mine", "audit.download"),  # this download itself, committed before the file is written
    ]
    assert 'filename="audit-log-mine-' in client.get("/admin/audit.csv?initiative=mine").headers["Content-Disposition"]


def test_json_download_keeps_raw_values(app, db, client):  # type: ignore[no-untyped-def]
    mine, _ = make_initiative("mine")
    record("=cmd", "account.access_given", initiative=mine, reason="-2+3", details={"n": 1})
    record("ada@example.org", "staff.sign_in")
    db.session.commit()
    _admin(client, db)
    response = client.get("/admin/audit.json?initiative=mine")
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = json.loads(response.get_data(as_text=True))
    assert data["format"] == "quorum-audit-log/1" and data["exported_by"] == "root@example.org"
    assert data["filter"]["initiative"] == "mine"
    entry, download = data["entries"]
    assert download["action_code"] == "audit.download" and download["actor"] == "root@example.org"
    assert entry["actor"] == "=cmd" and entry["reason"] == "-2+3" and entry["details"] == {"n": 1}
    assert entry["action"] == "access given to an initiative" and entry["action_code"] == "account.access_given"

    everything = json.loads(client.get("/admin/audit.json").get_data(as_text=True))
    assert [e["id"] for e in everything["entries"]][:2] == [1, 2]
    empty = json.loads(client.get("/admin/audit.json?action=nothing.like.this").get_data(as_text=True))
    assert empty["entries"] == []


def test_downloads_come_in_batches(app, db, client, monkeypatch):  # type: ignore[no-untyped-def]
    from app.admin import audit_views

    monkeypatch.setattr(audit_views, "DOWNLOAD_BATCH", 2)
    for i in range(5):
        record("ada@example.org", "test.step", target=f"row {i}")
    db.session.commit()
    _admin(client, db)
    rows = _csv_rows(client.get("/admin/audit.csv?action=test.step"))
    assert [r["target"] for r in rows] == [f"row {i}" for i in range(5)]
    for wanted in ("test.step", "nothing"):  # 5 entries in batches of 2 (2 + 2 + 1), and none
        data = json.loads(client.get(f"/admin/audit.json?action={wanted}").get_data(as_text=True))
        assert [e["target"] for e in data["entries"]] == ([f"row {i}" for i in range(5)] if wanted != "nothing" else [])
    monkeypatch.setattr(audit_views, "DOWNLOAD_BATCH", 5)  # a last batch that is exactly full
    assert len(_csv_rows(client.get("/admin/audit.csv?action=test.step"))) == 5


def test_downloads_are_in_the_log(app, db, client):  # type: ignore[no-untyped-def]
    mine, _ = make_initiative("mine")
    record("ada@example.org", "test.step")
    db.session.commit()
    sign_in_as(client, make_staff(db, "aud@example.org", "auditor", [mine]))
    assert client.get("/admin/audit.csv?initiative=mine&action=test.step").status_code == 200
    assert client.get("/admin/audit.json").status_code == 200
    db.session.rollback()
    downloads = list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "audit.download")))
    assert [(d.actor, d.target, d.initiative_id) for d in downloads] == [
        ("aud@example.org", "csv", mine.id),
        ("aud@example.org", "json", None),
    ]
    assert json.loads(downloads[0].details)["filter"]["action"] == "test.step"
    assert client.get("/admin/audit.csv?since=never").status_code == 400


@pytest.mark.parametrize("role, status", [("organizer", 403), (None, 302)])
def test_others_cannot_read_the_log(app, db, client, role, status):  # type: ignore[no-untyped-def]
    if role:
        initiative, _ = make_initiative()
        sign_in_as(client, make_staff(db, "org@example.org", role, [initiative]))
    for path in ("/admin/audit", "/admin/audit.csv", "/admin/audit.json"):
        assert client.get(path).status_code == status
