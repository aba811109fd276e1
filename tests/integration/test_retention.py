"""`retention purge`: each deadline of ECI.md just before and just after, dry runs that count the same and change
nothing, counters kept as the historical count, and an audit entry by "retention" for each purge."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.audit.log import verify_chain
from app.audit.retention import purge, statements_deadline, subscribers_deadline
from app.models import AuditEntry, Initiative, OutboxMessage, Statement, Subscriber, utcnow

from ..support.confirmation import confirm
from ..support.factories import make_initiative, sync_counters

SECOND = timedelta(seconds=1)


def fp(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def add_statement(
    db,
    initiative: Initiative,
    label: str,
    status: str = "confirmed",
    *,  # type: ignore[no-untyped-def]
    country: str = "DE",
    created: datetime | None = None,
) -> uuid.UUID:
    created = created or datetime.combine(initiative.collection_start, datetime.min.time()) + timedelta(hours=1)
    statement = Statement(
        initiative_id=initiative.id,
        country_code=country,
        status=status,
        identity_fingerprint=fp(label),
        email_fingerprint=fp(label + "@"),
        email_slot=1,
        sealed_data=b"sealed",
        created_at=created,
        confirmed_at=created + timedelta(minutes=3) if status == "confirmed" else None,
    )
    db.session.add(statement)
    db.session.flush()
    sync_counters(initiative, commit=False)  # as if it had come through app.statements
    return statement.id


def add_subscriber(
    db,
    initiative: Initiative,
    label: str,
    statement_id: uuid.UUID | None = None,
    *,  # type: ignore[no-untyped-def]
    active: bool = True,
    unsubscribed: datetime | None = None,
) -> int:
    subscriber = Subscriber(
        initiative_id=initiative.id,
        statement_id=statement_id,
        email=f"{label}@example.org",
        email_fingerprint=fp(label + "@"),
        active=active,
        unsubscribed_at=unsubscribed,
    )
    db.session.add(subscriber)
    db.session.flush()
    sync_counters(initiative, commit=False)  # its tally too, as if it had come through the sign form
    return subscriber.id


def remaining(db, model, **filters: object) -> int:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    query = sa.select(sa.func.count()).select_from(model)
    for name, value in filters.items():
        query = query.where(getattr(model, name) == value)
    return int(db.session.scalar(query))


def run(app, db, now: datetime, dry_run: bool = False):  # type: ignore[no-untyped-def]
    report = purge(now=now, dry_run=dry_run, confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return report


def audit(db) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


@pytest.mark.parametrize(
    "start, end, submitted, withdrawn, deadline",
    [
        # 21 months after collection started
        (date(2024, 1, 10), date(2024, 10, 10), None, None, datetime(2025, 10, 10)),
        # 1 month after submission, which comes first
        (date(2025, 1, 1), date(2025, 6, 30), datetime(2025, 8, 15, 10, 0), None, datetime(2025, 9, 15, 10, 0)),
        # 1 month after a withdrawal
        (date(2025, 1, 1), date(2025, 6, 30), None, datetime(2025, 3, 31, 8, 0), datetime(2025, 4, 30, 8, 0)),
        # a late submission: 21 months after the start still comes first
        (date(2024, 1, 1), date(2024, 12, 31), datetime(2025, 9, 20, 9, 0), None, datetime(2025, 10, 1)),
    ],
)
def test_statements_are_destroyed_at_their_deadline(
    app,
    db,
    start,
    end,
    submitted,
    withdrawn,  # type: ignore[no-untyped-def]
    deadline,
):
    initiative, _ = make_initiative("done", start=start, end=end)
    initiative.submitted_at = submitted
    initiative.withdrawn_at = withdrawn
    initiative.status = "submitted" if submitted else "withdrawn" if withdrawn else "collecting"
    confirmed = [add_statement(db, initiative, f"c{i}", country=c) for i, c in enumerate(["DE", "DE", "FR"])]
    add_statement(db, initiative, "invalid", "invalidated")
    keeper = add_subscriber(db, initiative, "c0", confirmed[0])
    sync_counters(initiative)
    db.session.commit()
    assert statements_deadline(initiative) == deadline

    before = run(app, db, deadline - SECOND)
    assert before.count("done", "statements_due") == 0
    assert remaining(db, Statement, status="confirmed") == 3

    dry = run(app, db, deadline, dry_run=True)
    assert dry.count("done", "statements_due") == 4
    assert remaining(db, Statement) == 4

    after = run(app, db, deadline)
    assert after.counts["done"] == dry.counts["done"]
    assert remaining(db, Statement) == 0
    # the campaign is over: its counters stay as the historical count
    db.session.refresh(initiative)
    assert {c.country_code: c.confirmed_count for c in initiative.countries if c.confirmed_count} == {"DE": 2, "FR": 1}
    # the address kept for updates outlives the statement; only the link goes
    subscriber = db.session.get(Subscriber, keeper)
    assert subscriber is not None and subscriber.statement_id is None
    [entry] = [e for e in audit(db) if e.action == "retention.purge"]
    assert (entry.actor, entry.initiative_id) == ("retention", initiative.id)
    details = json.loads(entry.details)
    assert details["statements_due"] == 4
    assert details["counters_kept"] == {"DE": 2, "FR": 1}
    assert verify_chain().intact


def test_unconfirmed_statements_go_when_their_link_expires(app, db):  # type: ignore[no-untyped-def]
    now = datetime(2026, 5, 20, 12, 0)
    initiative, _ = make_initiative("live", start=date(2026, 5, 1), end=date(2027, 3, 1))
    max_age = timedelta(seconds=app.config["CONFIRM_MAX_AGE"])
    expired = add_statement(db, initiative, "expired", "pending", created=now - max_age - SECOND)
    fresh = add_statement(db, initiative, "fresh", "pending", created=now - max_age + SECOND)
    old_confirmed = add_statement(db, initiative, "old", "confirmed", created=now - 3 * max_age)
    add_subscriber(db, initiative, "expired", expired, active=False)
    waiting = add_subscriber(db, initiative, "fresh", fresh, active=False)
    active = add_subscriber(db, initiative, "old", old_confirmed, active=True)
    orphan = add_subscriber(db, initiative, "orphan", None, active=False)
    db.session.commit()

    dry = run(app, db, now, dry_run=True)
    assert dry.counts == {"live": {"statements_unconfirmed": 1, "subscribers_unconfirmed": 2}}
    assert remaining(db, Statement) == 3 and remaining(db, Subscriber) == 4
    assert [e.action for e in audit(db)] == []  # a dry run writes nothing, not even to the log

    report = run(app, db, now)
    assert report.counts == dry.counts
    assert db.session.get(Statement, expired) is None
    assert db.session.get(Statement, fresh) is not None and db.session.get(Statement, old_confirmed) is not None
    assert db.session.get(Subscriber, orphan) is None
    assert db.session.get(Subscriber, waiting) is not None and db.session.get(Subscriber, active) is not None
    entries = audit(db)
    assert [(e.actor, e.action) for e in entries] == [("retention", "retention.purge"), ("retention", "retention.run")]
    assert json.loads(entries[0].details) == {"statements_unconfirmed": 1, "subscribers_unconfirmed": 2}
    assert json.loads(entries[1].details)["totals"] == {"statements_unconfirmed": 1, "subscribers_unconfirmed": 2}


def test_pending_statements_go_once_collection_is_over(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("over", start=date(2026, 1, 1), end=date(2026, 6, 30))
    add_statement(db, initiative, "late", "pending", created=datetime(2026, 6, 30, 23, 0))
    db.session.commit()
    assert run(app, db, datetime(2026, 6, 30, 23, 30)).total == 0  # link still valid, collection still open
    assert run(app, db, datetime(2026, 7, 1, 0, 1)).count("over", "statements_unconfirmed") == 1


def test_subscriber_addresses(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("mailing", start=date(2025, 1, 1), end=date(2025, 6, 30))
    statement = add_statement(db, initiative, "a")
    add_subscriber(db, initiative, "a", statement)
    add_subscriber(db, initiative, "b", None)
    add_subscriber(db, initiative, "gone", None, active=False, unsubscribed=datetime(2025, 3, 1))
    db.session.commit()
    deadline = subscribers_deadline(initiative)
    assert deadline == datetime(2026, 7, 1)  # 12 months after the last day of collection

    early = run(app, db, datetime(2025, 3, 2))
    assert early.counts == {"mailing": {"subscribers_unsubscribed": 1}}
    assert run(app, db, deadline - SECOND).count("mailing", "subscribers_due") == 0
    assert remaining(db, Subscriber) == 2
    assert run(app, db, deadline, dry_run=True).count("mailing", "subscribers_due") == 2
    assert remaining(db, Subscriber) == 2
    assert run(app, db, deadline).count("mailing", "subscribers_due") == 2
    assert remaining(db, Subscriber) == 0


def test_withdrawal_brings_the_subscriber_deadline_forward(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("withdrawn", start=date(2025, 1, 1), end=date(2025, 12, 31))
    initiative.status = "withdrawn"
    initiative.withdrawn_at = datetime(2025, 4, 2, 9, 30)
    db.session.commit()
    assert subscribers_deadline(initiative) == datetime(2026, 4, 2, 9, 30)


def test_old_delivered_and_failed_mail_goes(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("mail", start=date(2026, 1, 1), end=date(2026, 12, 1))
    now = datetime(2026, 6, 1, 12, 0)
    for status, age, initiative_id in [
        ("sent", 31, initiative.id),
        ("failed", 31, initiative.id),
        ("sent", 29, initiative.id),
        ("queued", 40, initiative.id),
        ("sent", 30, None),
        ("sent", 60, None),
    ]:
        created = now - timedelta(days=age) - (SECOND if age == 30 else timedelta(0))
        db.session.add(
            OutboxMessage(
                kind="confirm",
                initiative_id=initiative_id,
                to_address=None,
                subject="s",
                status=status,
                created_at=created,
                next_attempt_at=created,
            )
        )
    db.session.commit()
    sync_counters(initiative)  # the mail tallies, as if the messages had been enqueued and delivered
    dry = run(app, db, now, dry_run=True)
    assert dry.counts == {"mail": {"outbox_messages": 2}, "": {"outbox_messages": 2}}
    assert remaining(db, OutboxMessage) == 6
    report = run(app, db, now)
    assert report.counts == dry.counts
    assert remaining(db, OutboxMessage) == 2
    assert remaining(db, OutboxMessage, status="queued") == 1


def test_cli_dry_run_then_purge(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("cli-run")
    max_age = timedelta(seconds=app.config["CONFIRM_MAX_AGE"])
    add_statement(db, initiative, "expired", "pending", created=utcnow() - max_age - timedelta(minutes=5))
    add_statement(db, initiative, "kept", "confirmed", created=utcnow() - max_age - timedelta(minutes=5))
    db.session.add(
        OutboxMessage(
            kind="confirm",
            initiative_id=initiative.id,
            subject="s",
            status="sent",
            created_at=utcnow() - timedelta(days=45),
        )
    )
    db.session.commit()
    sync_counters(initiative)
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["retention", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing changed" in dry.output and "would delete 2 rows" in dry.output
    assert (
        "cli-run: unconfirmed statements (link expired or collection over) 1, delivered or failed outbox messages 1"
        in dry.output
    )
    assert remaining(db, Statement) == 2 and remaining(db, OutboxMessage) == 1

    real = runner.invoke(args=["retention", "purge"])
    assert real.exit_code == 0, real.output
    assert "deleted 2 rows" in real.output
    assert remaining(db, Statement) == 1 and remaining(db, OutboxMessage) == 0
    again = runner.invoke(args=["retention", "purge"])
    assert "nothing is due" in again.output
    assert [e.action for e in audit(db)] == ["retention.purge", "retention.run", "retention.run"]


def test_a_resent_link_keeps_its_statement_until_that_link_expires(app, db):  # type: ignore[no-untyped-def]
    """A pending duplicate or a renewal sends a new link: the statement must outlive the new link, not the first."""
    now = datetime(2026, 5, 20, 12, 0)
    initiative, _ = make_initiative("resent", start=date(2026, 5, 1), end=date(2027, 3, 1))
    max_age = timedelta(seconds=app.config["CONFIRM_MAX_AGE"])
    renewed = add_statement(db, initiative, "renewed", "pending", created=now - 2 * max_age)
    stale = add_statement(db, initiative, "stale", "pending", created=now - 2 * max_age)
    db.session.execute(sa.update(Statement).where(Statement.id == renewed).values(link_sent_at=now - max_age / 2))
    db.session.execute(sa.update(Statement).where(Statement.id == stale).values(link_sent_at=now - max_age - SECOND))
    db.session.commit()

    report = run(app, db, now)
    assert report.counts == {"resent": {"statements_unconfirmed": 1}}
    assert db.session.get(Statement, renewed) is not None
    assert db.session.get(Statement, stale) is None


def test_an_auditor_purges_one_initiative_from_the_staff_side(app, client, db):  # type: ignore[no-untyped-def]
    """The page shows the dry run; the button deletes only this initiative's due rows, under the auditor's name."""
    from app.admin.access import session_values
    from app.admin.passwords import hash_password
    from app.models import StaffUser

    mine, _ = make_initiative("mine")
    other, _ = make_initiative("other")
    max_age = timedelta(seconds=app.config["CONFIRM_MAX_AGE"])
    old = utcnow() - max_age - timedelta(hours=1)
    expired = add_statement(db, mine, "mine-expired", "pending", created=old)
    kept = add_statement(db, mine, "mine-confirmed", "confirmed")
    elsewhere = add_statement(db, other, "other-expired", "pending", created=old)
    auditor = StaffUser(email="audrey@example.org", password_hash=hash_password("x" * 12), role="auditor")
    auditor.initiatives = [mine]
    db.session.add(auditor)
    db.session.commit()
    with client.session_transaction() as session:
        session.update(session_values(auditor))

    page = client.get("/admin/initiatives/mine/retention")
    assert page.status_code == 200
    assert b'data-category="statements_unconfirmed">1<' in page.data
    assert db.session.get(Statement, expired) is not None  # looking changes nothing
    assert client.get("/admin/initiatives/other/retention").status_code == 403

    assert 'href="/admin/initiatives/mine/retention/purge"' in page.text  # the button opens the confirmation page
    assert confirm(client, "/admin/initiatives/mine/retention/purge", "the monthly clean-up").status_code == 302
    db.session.expire_all()
    assert db.session.get(Statement, expired) is None
    assert db.session.get(Statement, kept) is not None
    assert db.session.get(Statement, elsewhere) is not None  # another initiative's rows are not this auditor's
    entries = audit(db)
    assert [(e.actor, e.action) for e in entries] == [
        ("audrey@example.org", "retention.purge"),
        ("audrey@example.org", "retention.run"),
    ]
    assert b"nothing-due" in client.get("/admin/initiatives/mine/retention").data
    assert verify_chain().intact
