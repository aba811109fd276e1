"""What the signing path sends to the database (a proof by the SQL, not by a timing: speed is bench/'s), and the
outcomes of `lifecycle.submit`'s one-statement record on PostgreSQL that the other tests do not reach: a household
past the day's emails, a repeat, a full household, two of a household at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.models import InitiativeCountry, MailAllowance, OutboxMessage, Statement

from ..support.factories import make_initiative, part_a, part_b, reconfigure


@contextmanager
def _recorded() -> Iterator[list[str]]:
    statements: list[str] = []

    def listen(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    sa.event.listen(_db.engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", listen)


def test_the_form_reads_only_the_initiative(client, db):  # type: ignore[no-untyped-def]
    make_initiative()
    pages = ("/i/stop-scanning/sign?country=PL", "/i/stop-scanning/sign?country=PL&lang=de", "/i/stop-scanning/sign")
    for page in pages:  # each made once
        assert client.get(page).status_code == 200
    db.session.remove()
    with _recorded() as statements:
        for page in pages:
            assert client.get(page).status_code == 200
    assert len(statements) == 3, statements
    assert all(s.startswith("SELECT initiative.") and "FROM initiative WHERE" in s for s in statements), statements


def test_a_new_signer_is_two_statements_and_the_tallies_on_postgresql(client, db, backend):  # type: ignore[no-untyped-def]
    make_initiative()
    client.get("/i/stop-scanning/sign")
    db.session.remove()
    with _recorded() as statements:
        assert client.post("/i/stop-scanning/sign", data=part_b()).status_code == 303
    if backend.startswith("postgresql"):
        # the initiative; the statement in the address's free slot, the day's email, the counter and the outbox row
        # together; at commit, the staff pages' tallies (the initiative's queued mail, then the address's and the
        # network's fingerprints: docs/decisions/015-tallies-for-staff-pages.md)
        assert len(statements) == 4, statements
        assert statements[1].startswith("WITH inserted_row AS")
        assert "initiative_tally" in statements[2] and "fingerprint_use" in statements[3]
    else:
        # the address's statements (this person's? a free slot?) first, then the same one statement each, then the
        # same tallies
        assert len(statements) == 8, statements
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def _pending(db, country: str) -> int:  # type: ignore[no-untyped-def]
    return int(
        db.session.scalar(sa.select(InitiativeCountry.pending_count).where(InitiativeCountry.country_code == country))
    )


def test_a_household_member_past_the_days_emails_is_recorded_without_a_link(app, client, db):  # type: ignore[no-untyped-def]
    reconfigure(app, MAX_EMAILS_PER_ADDRESS_PER_DAY=1)
    make_initiative()
    assert client.post("/i/stop-scanning/sign", data=part_b(email="home@example.org")).status_code == 303
    assert client.post("/i/stop-scanning/sign", data=part_a(email="home@example.org")).status_code == 303
    db.session.remove()
    rows = {s.country_code: s for s in db.session.scalars(sa.select(Statement))}
    assert rows["PL"].emails_sent == 1 and rows["PL"].link_sent_at is not None
    assert rows["DE"].emails_sent == 0 and rows["DE"].link_sent_at is None  # recorded; its link waits for tomorrow
    assert {rows["PL"].email_slot, rows["DE"].email_slot} == {1, 2}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
    assert db.session.scalar(sa.select(MailAllowance.sent)) == 1
    assert _pending(db, "PL") == 1 and _pending(db, "DE") == 1


@pytest.mark.parametrize("updates", [False, True])
def test_signing_again_changes_nothing_but_sends_the_link_again(client, db, updates):  # type: ignore[no-untyped-def]
    make_initiative()
    data = part_b(**({"updates_consent": "y"} if updates else {}))
    for _ in range(2):
        assert client.post("/i/stop-scanning/sign", data=data).status_code == 303
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 1
    assert db.session.scalar(sa.select(Statement.emails_sent)) == 2
    assert db.session.scalar(sa.select(MailAllowance.sent)) == 2
    assert _pending(db, "PL") == 1
    bodies = list(db.session.scalars(sa.select(OutboxMessage.body_text)))
    assert len(bodies) == 2
    assert all(("unsubscribe" in (body or "")) == updates for body in bodies)


def test_confirming_is_a_lock_and_one_statement_on_postgresql(client, db, backend):  # type: ignore[no-untyped-def]
    from ..support.factories import confirmation_url, path_of

    initiative, _ = make_initiative()
    assert client.post("/i/stop-scanning/sign", data=part_b()).status_code == 303
    link = path_of(confirmation_url(initiative, db.session.scalar(sa.select(Statement.id))))
    db.session.remove()
    with _recorded() as shown:
        assert client.get(link).status_code == 200
    with _recorded() as pressed:
        assert client.post(link).status_code == 200
    assert len(shown) == 2, shown  # the initiative, the statement
    if backend.startswith("postgresql"):
        # the initiative, the statement, this person's statements locked; the flip, the counter, the day's series,
        # the person's other statements lapsed, the subscription and a partner's opt-in together
        assert len(pressed) == 4, pressed
        assert pressed[3].startswith("WITH flipped AS")
    else:
        # the same, one statement each (the partner's opt-in too), and no lock
        assert len(pressed) == 8, pressed
    assert db.session.scalar(sa.select(Statement.status)) == "confirmed"
    assert (
        db.session.scalar(sa.select(InitiativeCountry.confirmed_count).where(InitiativeCountry.country_code == "PL"))
        == 1
    )


def test_a_third_person_on_one_address_is_told_the_household_is_full(client, db):  # type: ignore[no-untyped-def]
    make_initiative()
    for data in (part_b(), part_a(email="agnieszka@example.org"), part_a("FR", email="agnieszka@example.org")):
        assert client.post("/i/stop-scanning/sign", data=data).status_code == 303
    db.session.remove()
    assert sorted(db.session.scalars(sa.select(Statement.email_slot))) == [1, 2]
    assert [m.kind for m in db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))] == [
        "confirm",
        "confirm",
        "household_full",
    ]
    assert db.session.scalar(sa.select(MailAllowance.sent)) == 3
    assert _pending(db, "FR") == 0
