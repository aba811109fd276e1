"""The staff pages' tallies (app/statements/tallies.py): mail by delivery state, subscribers by where they stand,
statements per fingerprint, what each quarantine holds. Each scenario drives the real code paths and compares what
the pages show with numbers written here; after every test the suite's counters check compares every tally with a
recount too. The pages must not count rows to show them: the tests listen to the SQL."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.audit.retention import purge
from app.dashboard import dashboard_data
from app.extensions import db as _db
from app.mail.delivery import deliver_due
from app.models import (
    AuditEntry,
    FingerprintUse,
    InitiativeTally,
    OutboxMessage,
    Quarantine,
    Statement,
    Subscriber,
    TallyName,
    utcnow,
    utctoday,
)
from app.signing.subscriptions import end_bounced, unsubscribe
from app.statements import counters, lifecycle, tallies
from app.statements import quarantine as quarantines
from app.updates import sending

from ..support.factories import (
    confirm,
    make_initiative,
    make_staff,
    part_a,
    part_b,
    reconfigure,
    sign_in_as,
    submit,
    sync_counters,
)


@contextmanager
def queries() -> Iterator[list[str]]:
    """The SQL the block sends."""
    sent: list[str] = []

    def listen(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        sent.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", listen)


def reading(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if re.search(rf"\b(FROM|JOIN) {table}\b", s)]


def mail(initiative) -> tuple[int, int, int, int, int]:  # type: ignore[no-untyped-def]
    """(queued, retrying, sent, failed, bounced) as the dashboard shows them."""
    _db.session.expire_all()
    counts = dashboard_data(initiative, utctoday()).mail
    return counts.queued, counts.retrying, counts.sent, counts.failed, counts.bounced


def subscribers(initiative) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """(active, pending, unsubscribed, bounced) as the dashboard shows them."""
    _db.session.expire_all()
    counts = dashboard_data(initiative, utctoday()).subscribers
    return counts.active, counts.pending, counts.unsubscribed, counts.bounced


def recounted(initiative) -> None:  # type: ignore[no-untyped-def]
    """`counters check`, now, not only after the test."""
    _db.session.expire_all()
    report = counters.check(initiative)
    assert report.ok, report.lines()


def deliver() -> None:
    deliver_due(echo=lambda _line: None)


def make_due(db) -> None:  # type: ignore[no-untyped-def]
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


# --- mail -------------------------------------------------------------------------------------------------------------


def test_mail_tallies_follow_every_delivery_state(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """Enqueued, then: accepted (sent), refused for good (bounced), deferred (retrying), deferred until the attempts
    ran out (failed); each step as the dashboard shows it, and an instance message (no initiative) in none."""
    reconfigure(mail_app, MAIL_MAX_ATTEMPTS=2)
    initiative, _ = make_initiative()
    other, _ = make_initiative("other-initiative")
    smtp.refuse = {"agnieszka@example.org": "550 5.1.1 No such user", "zoe@example.org": "450 4.2.0 Greylisted"}
    client.post(f"/i/{initiative.slug}/sign", data=part_b())
    client.post(f"/i/{initiative.slug}/sign", data=part_a())
    client.post(f"/i/{initiative.slug}/sign", data=part_a(first_names="Ulla", email="ulla@example.org"))
    client.post(f"/i/{other.slug}/sign", data=part_a(first_names="Ulla", email="ulla@example.org"))
    assert mail(initiative) == (3, 0, 0, 0, 0)
    assert mail(other) == (1, 0, 0, 0, 0)

    deliver()
    assert mail(initiative) == (0, 1, 1, 0, 1)
    assert mail(other) == (0, 0, 1, 0, 0)
    recounted(initiative)

    make_due(db)
    deliver()  # the second attempt of the deferred one, and the last
    assert mail(initiative) == (0, 0, 1, 1, 1)
    recounted(initiative)


def test_a_retrying_message_that_goes_through_is_sent(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client.post(f"/i/{initiative.slug}/sign", data=part_b())
    smtp.reply = "451 4.3.0 Try again later"
    deliver()
    assert mail(initiative) == (0, 1, 0, 0, 0)
    smtp.reply = "250 OK"
    make_due(db)
    deliver()
    assert mail(initiative) == (0, 0, 1, 0, 0)


def test_retention_takes_old_mail_off_the_tallies(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client.post(f"/i/{initiative.slug}/sign", data=part_b())
    client.post(f"/i/{initiative.slug}/sign", data=part_a())
    deliver()
    assert mail(initiative) == (0, 0, 2, 0, 0)
    purge(now=utcnow() + timedelta(days=31), confirm_max_age=mail_app.config["CONFIRM_MAX_AGE"])
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert mail(initiative) == (0, 0, 0, 0, 0)


def test_the_dashboard_reads_no_mail_subscriber_or_statement_rows(app, client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    submit(initiative, part_b(updates_consent="y"))
    db.session.commit()
    sign_in_as(client, make_staff(db, "olga@example.org", "organizer", [initiative]))
    with queries() as sent:
        html = client.get(f"/admin/initiatives/{initiative.slug}/dashboard").get_data(as_text=True)
    assert 'id="mail-queued" data-value="1"' in html and 'id="subscribers-pending" data-value="1"' in html
    for table in ("outbox_message", "subscriber", "statement"):
        assert not reading(sent, table), (table, reading(sent, table))


# --- subscribers ------------------------------------------------------------------------------------------------------


def test_subscriber_tallies_follow_every_subscription(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """Subscribe (pending), confirm (active), unsubscribe, a dead address (bounced), retention (gone); a household's
    second signer adds no subscription, and one who did not tick the box none either."""
    initiative, _ = make_initiative()
    first = submit(initiative, part_b(updates_consent="y"))
    second = submit(initiative, part_a(updates_consent="y"))
    submit(initiative, part_a(first_names="Ulla", email="zoe@example.org", updates_consent="y"))  # same address
    submit(initiative, part_b(first_names="Jan", id_number="02070803628", email="jan@example.org"))  # no box
    db.session.commit()
    assert subscribers(initiative) == (0, 2, 0, 0)

    confirm(initiative, db.session.get(Statement, first.statement_id))
    confirm(initiative, db.session.get(Statement, second.statement_id))
    db.session.commit()
    assert subscribers(initiative) == (2, 0, 0, 0)
    confirm(initiative, db.session.get(Statement, first.statement_id))  # pressed twice: nothing moves
    db.session.commit()
    assert subscribers(initiative) == (2, 0, 0, 0)

    [one, two] = db.session.scalars(sa.select(Subscriber.id).order_by(Subscriber.id))
    assert unsubscribe(initiative, one, utcnow())
    assert not unsubscribe(initiative, one, utcnow())  # twice is harmless, and moves nothing
    db.session.commit()
    assert subscribers(initiative) == (1, 0, 1, 0)
    assert end_bounced([one, two], utcnow()) == 1  # the unsubscribed one has ended already
    db.session.commit()
    assert subscribers(initiative) == (0, 0, 1, 1)
    recounted(initiative)

    purge(now=utcnow(), confirm_max_age=mail_app.config["CONFIRM_MAX_AGE"])
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
    assert subscribers(initiative) == (0, 0, 0, 0)


def test_an_updates_pause_holds_its_mail_and_a_dead_address_ends(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """An update's messages: written (queued), held by a pause, written afresh on resuming, a bounce ending the
    subscription, and the delivered ones counted into the update and deleted."""
    reconfigure(mail_app, UPDATES_PER_MINUTE=600)
    initiative, _ = make_initiative()
    for data in (part_b(updates_consent="y"), part_a(updates_consent="y")):
        outcome = submit(initiative, data)
        confirm(initiative, db.session.get(Statement, outcome.statement_id))
    db.session.commit()
    deliver()  # the confirmation emails
    assert mail(initiative) == (0, 0, 2, 0, 0)
    update = sending.SupporterUpdate(initiative_id=initiative.id, created_by="olga@example.org")
    update.texts.append(sending.SupporterUpdateText(locale="en", subject="News", body="We are halfway."))
    db.session.add(update)
    db.session.commit()
    sending.start(initiative, update, actor="olga@example.org", now=utcnow(), per_minute=600)
    db.session.commit()

    def round_of_the_worker() -> None:
        from app.links import links

        sending.send_due(now=utcnow(), per_minute=600, links=links(), secret_key=mail_app.config["SECRET_KEY"])
        db.session.commit()

    round_of_the_worker()
    assert mail(initiative) == (2, 0, 2, 0, 0)
    sending.pause(initiative, update, actor="olga@example.org", now=utcnow())
    db.session.commit()
    assert mail(initiative) == (0, 0, 2, 0, 0)
    assert db.session.scalar(sa.select(InitiativeTally.value).where(InitiativeTally.name == TallyName.MAIL_HELD)) == 2
    sending.resume(initiative, update, actor="olga@example.org", now=utcnow())
    db.session.commit()
    round_of_the_worker()
    assert mail(initiative) == (2, 0, 2, 0, 0)

    smtp.refuse = {"zoe@example.org": "550 5.1.1 No such user"}
    make_due(db)
    deliver()
    assert mail(initiative) == (0, 0, 3, 0, 1)
    round_of_the_worker()  # counted into the update, deleted; the dead address ends
    assert mail(initiative) == (0, 0, 2, 0, 0)
    assert subscribers(initiative) == (1, 0, 0, 1)


def test_a_rolled_back_transaction_moves_no_tally(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    submit(initiative, part_b(updates_consent="y"))
    assert mail(initiative)[0] == 1  # this transaction sees its own moves
    db.session.rollback()
    assert mail(initiative) == (0, 0, 0, 0, 0)
    assert subscribers(initiative) == (0, 0, 0, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InitiativeTally)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FingerprintUse)) == 0


def test_a_failed_request_moves_no_tally(app, client, db, monkeypatch):  # type: ignore[no-untyped-def]
    """The request's transaction rolls back after moves were noted: they go with it, and a later commit in the same
    context writes none of them."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    initiative, _ = make_initiative()

    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(lifecycle, "subscribe", broken)
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b(updates_consent="y")).status_code == 500
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FingerprintUse)) == 0
    monkeypatch.undo()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_a()).status_code == 303
    assert mail(initiative) == (1, 0, 0, 0, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FingerprintUse)) == 2  # its email and network


def test_signers_and_the_mail_worker_at_once(mail_app, smtp, db):  # type: ignore[no-untyped-def]
    """Many transactions moving the same tally rows at once (every signer the initiative's queued mail, its pending
    subscribers and the network's fingerprint; the worker the mail rows): none waits for another in a cycle, and
    nothing is counted twice or lost."""
    import threading

    initiative, _ = make_initiative()
    url = f"/i/{initiative.slug}/sign"

    def signer(n: int):  # type: ignore[no-untyped-def]
        data = part_a(first_names=f"Anna {n}", email=f"anna{n}@example.org", updates_consent="y")
        return lambda: mail_app.test_client().post(url, data=data).status_code

    def worker() -> int:
        with mail_app.app_context():
            deliver()
        return 0

    def together(calls) -> list[object]:  # type: ignore[no-untyped-def]
        barrier = threading.Barrier(len(calls))
        results: list[object] = [None] * len(calls)

        def run(index: int) -> None:
            barrier.wait(timeout=30)
            try:
                results[index] = calls[index]()
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                results[index] = error

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        return results

    # several mail workers share the queue on PostgreSQL (each message locked by the one sending it); SQLite runs one
    workers = [worker, worker] if db.engine.dialect.name == "postgresql" else [worker]
    assert together([signer(n) for n in range(6)]) == [303] * 6
    assert together([*(signer(n) for n in range(6, 12)), *workers]) == [303] * 6 + [0] * len(workers)
    queued, retrying, sent, failed, bounced = mail(initiative)
    assert queued + sent == 12 and (retrying, failed, bounced) == (0, 0, 0)
    deliver()
    assert mail(initiative) == (0, 0, 12, 0, 0)
    assert subscribers(initiative) == (0, 12, 0, 0)
    assert db.session.scalar(sa.select(FingerprintUse.statements).where(FingerprintUse.kind == "network")) == 12
    recounted(initiative)


# --- fingerprints and quarantines -------------------------------------------------------------------------------------


def fp(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def test_fingerprint_tallies_follow_submit_and_purge(app, db):  # type: ignore[no-untyped-def]
    """Each statement counts under its email and its network fingerprint, whatever its status; a fingerprint whose
    last statement went is not kept (it is about a person as much as the statement was)."""
    initiative, _ = make_initiative("live", start=date(2026, 1, 1), end=date(2026, 12, 1))
    base = datetime(2026, 3, 1, 12, 0)
    people = [
        ("ana", "ana@example.org", "net-a", "confirmed"),
        ("ben", "ben@example.org", "net-a", "pending"),
        ("cy", "cy@example.org", "net-a", "lapsed"),
        ("dee", "ana@example.org", "net-b", "confirmed"),  # a household
        ("eve", "eve@example.org", "net-b", "pending"),
        ("fay", "fay@example.org", None, "pending"),
    ]
    slots: dict[str, int] = {}
    for label, email, network, status in people:
        slots[email] = slots.get(email, 0) + 1
        db.session.add(
            Statement(
                initiative_id=initiative.id,
                country_code="DE",
                status=status,
                identity_fingerprint=fp(label),
                email_fingerprint=fp(email),
                email_slot=slots[email],
                network_fingerprint=fp(network) if network else None,
                sealed_data=b"x",
                created_at=base,
                link_sent_at=base,
                confirmed_at=base if status == "confirmed" else None,
            )
        )
    db.session.commit()
    sync_counters(initiative)
    assert quarantines.shared_fingerprints(initiative, "network") == [(fp("net-a"), 3), (fp("net-b"), 2)]
    assert quarantines.shared_fingerprints(initiative, "email") == [(fp("ana@example.org"), 2)]

    # the links expired: ben's, cy's (lapsed before pressing), eve's and fay's statements go
    purge(now=base + timedelta(days=30), confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    db.session.commit()
    left = {(row.kind, row.fingerprint): row.statements for row in db.session.scalars(sa.select(FingerprintUse))}
    assert left == {
        ("email", fp("ana@example.org")): 2,
        ("network", fp("net-a")): 1,
        ("network", fp("net-b")): 1,
    }
    assert quarantines.shared_fingerprints(initiative, "network") == []


def test_of_fingerprints_used_equally_often_the_last_are_shown(app, db):  # type: ignore[no-untyped-def]
    """Ties: the page shows, of those used as often, the last in fingerprint order, so that the list is one range of
    the index however many fingerprints tie."""
    initiative, _ = make_initiative()
    networks = ["n1"] * 3 + ["n2"] * 2 + ["n3"] * 2 + ["n4"] * 2 + ["n5"]
    for number, network in enumerate(networks):
        db.session.add(
            Statement(
                initiative_id=initiative.id,
                country_code="DE",
                status="pending",
                identity_fingerprint=fp(f"p{number}"),
                email_fingerprint=fp(f"e{number}"),
                email_slot=1,
                network_fingerprint=fp(network),
                sealed_data=b"x",
            )
        )
    db.session.commit()
    sync_counters(initiative)
    tied = sorted((fp("n2"), fp("n3"), fp("n4")), reverse=True)
    assert quarantines.shared_fingerprints(initiative, "network", limit=3) == [
        (fp("n1"), 3),
        (tied[0], 2),
        (tied[1], 2),
    ]


def test_what_a_quarantine_holds_follows_confirm_invalidate_purge_release(app, client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    held = submit(initiative, part_b(updates_consent="y"), network_fp=fp("burst"))
    confirmed = submit(initiative, part_a(), network_fp=fp("burst"))
    confirm(initiative, db.session.get(Statement, confirmed.statement_id))
    submit(initiative, part_a(first_names="Ulla", email="ulla@example.org"), network_fp=fp("home"))
    db.session.commit()
    criteria = quarantines.Criteria(network_fingerprint=fp("burst"))
    record, _tally = quarantines.apply(initiative, criteria, "a burst", "olga@example.org")
    db.session.commit()

    def held_now() -> tuple[int, int]:
        [view] = quarantines.quarantines(initiative)
        return view.held_confirmed, view.held_unconfirmed

    assert held_now() == (1, 1)
    confirm(initiative, db.session.get(Statement, held.statement_id))
    db.session.commit()
    assert held_now() == (2, 0)
    lifecycle.invalidate(initiative, [confirmed.statement_id])
    db.session.commit()
    assert held_now() == (1, 1)  # an invalidated statement is held as "not confirmed", as before
    recounted(initiative)

    sign_in_as(client, make_staff(db, "olga@example.org", "organizer", [initiative]))
    with queries() as sent:
        page = client.get(f"/admin/initiatives/{initiative.slug}/quarantine").get_data(as_text=True)
    assert "1 confirmed, 1 pending" in page
    assert fp("burst")[:16] in page  # shared by two statements
    assert not reading(sent, "statement"), reading(sent, "statement")

    quarantines.release(initiative, db.session.get(Quarantine, record.id), "checked", "olga@example.org")
    db.session.commit()
    assert held_now() == (0, 0)


def test_retention_destroying_every_statement_leaves_no_fingerprint(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("done", start=date(2024, 1, 1), end=date(2024, 6, 30))
    initiative.status = "submitted"
    initiative.submitted_at = datetime(2024, 7, 1)
    outcome = submit(initiative, part_b(), network_fp=fp("net"))
    db.session.flush()
    quarantines.apply(initiative, quarantines.Criteria(network_fingerprint=fp("net")), "why", "olga@example.org")
    db.session.commit()
    assert db.session.get(Statement, outcome.statement_id) is not None
    purge(now=datetime(2026, 1, 1), confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FingerprintUse)) == 0
    assert [(v.held_confirmed, v.held_unconfirmed) for v in quarantines.quarantines(initiative)] == [(0, 0)]
    report = counters.check(initiative)
    assert report.skipped and report.ok  # the counters are history now; the tallies still equal a recount


# --- the check and the repair -----------------------------------------------------------------------------------------


def test_counters_check_finds_a_wrong_tally_and_repairs_it(app, db):  # type: ignore[no-untyped-def]
    """A tally edited by hand: named by the check (a fingerprint shortened), set right by --repair, and the audit
    entry of the repair says how many fingerprints were off, never which."""
    initiative, _ = make_initiative()
    submit(initiative, part_b(updates_consent="y"), network_fp=fp("net"))
    db.session.commit()
    db.session.execute(sa.update(InitiativeTally).where(InitiativeTally.name == TallyName.MAIL_QUEUED).values(value=5))
    db.session.execute(sa.update(FingerprintUse).where(FingerprintUse.kind == "network").values(statements=7))
    db.session.add(FingerprintUse(initiative_id=initiative.id, kind="email", fingerprint=fp("ghost"), statements=1))
    db.session.commit()

    runner = app.test_cli_runner()
    checked = runner.invoke(args=["counters", "check"])
    assert checked.exit_code != 0
    assert f"{initiative.slug} mail queued: tally 5, recount 1 (-4)" in checked.output
    assert f"{initiative.slug} statements with network fingerprint {fp('net')[:16]}…: tally 7, recount 1 (-6)" in (
        checked.output
    )
    assert f"email fingerprint {fp('ghost')[:16]}…: tally 1, recount 0 (-1)" in checked.output
    assert fp("net") not in checked.output

    repaired = runner.invoke(args=["counters", "check", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    recounted(initiative)
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "counters.repair"))
    details = json.loads(entry.details)
    assert details["tallies"] == {"mail queued": [5, 1]} and details["fingerprints"] == 2
    assert fp("net")[:16] not in entry.details and fp("ghost")[:16] not in entry.details


def test_many_wrong_fingerprints_are_counted_afresh_at_once(app, db, monkeypatch):  # type: ignore[no-untyped-def]
    """Statements written in bulk (as the benchmark does): the repair rebuilds the kind in one statement."""
    initiative, _ = make_initiative()
    for number in range(4):
        db.session.add(
            Statement(
                initiative_id=initiative.id,
                country_code="DE",
                status="pending",
                identity_fingerprint=fp(f"p{number}"),
                email_fingerprint=fp(f"e{number}"),
                email_slot=1,
                network_fingerprint=fp(f"n{number % 2}"),
                sealed_data=b"x",
            )
        )
    db.session.add(FingerprintUse(initiative_id=initiative.id, kind="email", fingerprint=fp("ghost"), statements=3))
    db.session.commit()
    monkeypatch.setattr(tallies, "_REBUILD", 2)
    report = counters.check(initiative)
    assert sum(1 for key in report.tallies if key[0] == "email") == 5  # four missing, one left over
    counters.repair(report)
    db.session.commit()
    recounted(initiative)
    assert tallies.most_used(initiative.id, "network", 10) == sorted([(fp("n0"), 2), (fp("n1"), 2)], reverse=True)


# --- the migration fills them -----------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrating.db'}"
    return str(request.getfixturevalue("pg_cluster").create_database(f"tallies_{tmp_path.name[-12:].lower()}"))


def test_the_migration_fills_the_tallies_from_a_recount(empty_database):  # type: ignore[no-untyped-def]
    """An instance upgraded with statements, subscribers, mail and a quarantine finds every tally equal to a recount
    at once (migration 0015)."""
    from flask_migrate import downgrade, upgrade

    import config
    from app import create_app
    from app.models import Initiative

    app = create_app(config.TestingConfig(), SQLALCHEMY_DATABASE_URI=empty_database)
    with app.app_context():
        upgrade(revision="0011")
        run = _db.session.execute
        run(
            sa.text(
                "INSERT INTO initiative (id, slug, title, summary, rule_set, goal, min_countries, collection_start, "
                "collection_end, status, created_at, updated_at, default_locale, objectives, organizers, contact_name, "
                "contact_email, website, registration_number, register_url) VALUES (1, 'old', 'Old', '', 'eci-2024', "
                "1000000, 7, '2026-01-01', '2026-12-31', 'collecting', '2026-01-01', '2026-01-01', 'en', '', '', '', "
                "'', '', '', '')"
            )
        )
        run(
            sa.text(
                "INSERT INTO quarantine (id, initiative_id, criteria, reason, statement_count, created_by, created_at) "
                "VALUES (1, 1, '{}', 'why', 2, 'olga', '2026-02-01')"
            )
        )
        statement = sa.text(
            "INSERT INTO statement (id, initiative_id, country_code, status, identity_fingerprint, email_fingerprint, "
            "email_slot, network_fingerprint, sealed_data, emails_sent, locale, created_at, quarantine_id) VALUES "
            "(:id, 1, 'DE', :status, :identity, :email, :slot, :network, :blob, 1, 'en', '2026-02-01', :quarantine)"
        )
        rows = [
            ("a", "confirmed", "a@", 1, "net", 1),
            ("b", "pending", "a@", 2, "net", 1),
            ("c", "lapsed", "c@", 1, None, None),
        ]
        for n, (label, status, email, slot, network, quarantine) in enumerate(rows):
            run(
                statement,
                {
                    "id": f"{n + 1:032x}",  # as both databases take a UUID
                    "status": status,
                    "identity": fp(label),
                    "email": fp(email),
                    "slot": slot,
                    "network": fp(network) if network else None,
                    "blob": b"x",
                    "quarantine": quarantine,
                },
            )
        run(
            sa.text(
                "INSERT INTO subscriber (initiative_id, email, email_fingerprint, active, created_at, unsubscribed_at, "
                "bounced_at) VALUES (1, 'x@example.org', :a, :true, '2026-02-01', NULL, NULL), "
                "(1, '', :b, :false, '2026-02-01', '2026-02-02', '2026-02-02'), "
                "(1, 'y@example.org', :c, :false, '2026-02-01', NULL, NULL)"
            ),
            {"a": fp("x"), "b": fp("y"), "c": fp("z"), "true": True, "false": False},
        )
        message = sa.text(
            "INSERT INTO outbox_message (kind, initiative_id, subject, status, attempts, next_attempt_at, created_at) "
            "VALUES ('confirm', :initiative, 's', :status, :attempts, '2026-02-01', '2026-02-01')"
        )
        for initiative_id, status, attempts in [(1, "queued", 0), (1, "queued", 2), (1, "sent", 1), (None, "sent", 1)]:
            run(message, {"initiative": initiative_id, "status": status, "attempts": attempts})
        _db.session.commit()

        upgrade()
        initiative = _db.session.get(Initiative, 1)
        assert counters.check(initiative).tallies == {}
        assert tallies.values(1)[TallyName.MAIL_RETRYING] == 1
        assert tallies.values(1)[TallyName.SUBSCRIBERS_BOUNCED] == 1
        assert tallies.held(1) == {1: (1, 1)}
        assert tallies.most_used(1, "network", 10) == [(fp("net"), 2)]
        _db.session.commit()

        downgrade(revision="0011")
        _db.session.remove()
        _db.engine.dispose()
