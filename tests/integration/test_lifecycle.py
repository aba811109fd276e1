"""The lifecycle's every transition and every counter move, through `app.statements` alone; and `counters check`.

The expected counters are written out here from the rules (confirmed = confirmed and not set aside, and so on),
not read back from the code that keeps them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.models import AuditEntry, ConfirmationDay, InitiativeCountry, Statement, utcnow
from app.statements import counters, lifecycle, purge, quarantine

from ..support.factories import confirm, make_initiative, part_a, part_b, submit


def _counts(db, initiative, country: str) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """(confirmed, pending, quarantined, invalidated) of one member state, as kept."""
    db.session.expire_all()
    row = db.session.get(InitiativeCountry, (initiative.id, country))
    return row.confirmed_count, row.pending_count, row.quarantined_count, row.invalidated_count


def _days(db, initiative) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = db.session.scalars(sa.select(ConfirmationDay).where(ConfirmationDay.initiative_id == initiative.id))
    return {f"{r.country_code} {r.day.isoformat()}": r.confirmed for r in rows if r.confirmed}


def _statement(db, statement_id) -> Statement:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.get(Statement, statement_id)


def test_every_transition_moves_the_counters(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    today = utcnow().date().isoformat()

    first = submit(initiative, part_b()).statement_id  # pending
    assert _counts(db, initiative, "PL") == (0, 1, 0, 0)
    second = submit(initiative, part_b(email="other@example.org")).statement_id  # same person, another address
    assert _counts(db, initiative, "PL") == (0, 2, 0, 0)

    outcome = confirm(initiative, _statement(db, first))  # counts; the other address lapses
    assert outcome.counted
    assert _counts(db, initiative, "PL") == (1, 0, 0, 0)
    assert _days(db, initiative) == {f"PL {today}": 1}
    assert _statement(db, second).status == "lapsed" and _statement(db, second).sealed_data == b""

    late = confirm(initiative, _statement(db, second))  # the lapsed one's button: nothing more counts
    assert not late.counted and lifecycle.shown_as_confirmed(late.statement)
    assert _counts(db, initiative, "PL") == (1, 0, 0, 0)

    zoe = submit(initiative, part_a()).statement_id
    jonas = submit(initiative, part_a(first_names="Jonas", email="jonas@example.org")).statement_id
    confirm(initiative, _statement(db, zoe))
    assert _counts(db, initiative, "DE") == (1, 1, 0, 0)

    # quarantine: both German statements set aside, the confirmed and the pending one
    held, tally = quarantine.apply(initiative, quarantine.Criteria(country="DE"), "checking", "test")
    assert (tally.confirmed, tally.unconfirmed) == (1, 1)
    assert _counts(db, initiative, "DE") == (0, 0, 2, 0)
    assert _days(db, initiative) == {f"PL {today}": 1}
    confirm(initiative, _statement(db, jonas))  # confirmed while set aside: not counted yet
    assert _counts(db, initiative, "DE") == (0, 0, 2, 0)
    quarantine.release(initiative, held, "genuine", "test")
    assert _counts(db, initiative, "DE") == (2, 0, 0, 0)
    assert _days(db, initiative) == {f"PL {today}": 1, f"DE {today}": 2}

    # invalidated by a national authority: off the count and off its day
    assert lifecycle.invalidate(initiative, [zoe, first, jonas]) == {"DE": 2, "PL": 1}
    assert _counts(db, initiative, "DE") == (0, 0, 0, 2)
    assert _counts(db, initiative, "PL") == (0, 0, 0, 1)
    assert _days(db, initiative) == {}
    assert lifecycle.invalidate(initiative, [zoe]) == {}  # twice is harmless

    # an unconfirmed statement whose link expired is deleted, and leaves the pending count
    waiting = submit(initiative, part_b(country="RO", id_number="1630615123457", email="r@example.org")).statement_id
    assert _counts(db, initiative, "RO") == (0, 1, 0, 0)
    assert purge.delete_waiting(initiative, [Statement.id == waiting]) == 1
    assert _counts(db, initiative, "RO") == (0, 0, 0, 0)

    db.session.commit()
    assert counters.check(initiative).ok

    # at the end of the initiative's life every statement goes; the counters stay as its history
    purge.destroy_all(initiative, utcnow())
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 0
    assert _counts(db, initiative, "DE") == (0, 0, 0, 2)
    report = counters.check(initiative)
    assert report.ok and "historical count" in report.skipped


def test_confirming_after_collection_is_refused_and_counts_nothing(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement_id = submit(initiative, part_b()).statement_id
    initiative.collection_end = utcnow().date() - timedelta(days=1)
    initiative.collection_start = initiative.collection_end - timedelta(days=30)
    db.session.commit()
    with pytest.raises(lifecycle.SigningClosed):
        confirm(initiative, _statement(db, statement_id))
    db.session.rollback()
    assert _counts(db, initiative, "PL") == (0, 1, 0, 0)


def test_a_quarantined_pending_statement_that_lapses_leaves_the_quarantined_count(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    typo = submit(initiative, part_b(email="typo@exmaple.org")).statement_id
    quarantine.apply(initiative, quarantine.Criteria(country="PL"), "checking", "test")
    right = submit(initiative, part_b()).statement_id
    assert _counts(db, initiative, "PL") == (0, 1, 1, 0)
    confirm(initiative, _statement(db, right))
    assert _statement(db, typo).status == "lapsed"
    assert _counts(db, initiative, "PL") == (1, 0, 0, 0)
    db.session.commit()
    assert counters.check(initiative).ok


@pytest.mark.counters_edited
def test_counters_check_finds_an_edited_counter_and_repairs_it(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement_id = submit(initiative, part_b()).statement_id
    confirm(initiative, _statement(db, statement_id))
    submit(initiative, part_a())
    db.session.commit()
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["counters", "check"])
    assert clean.exit_code == 0, clean.output
    assert "every counter equals its recount" in clean.output

    # someone with access to the database edits two counters and a day
    db.session.execute(
        sa.update(InitiativeCountry)
        .where(InitiativeCountry.initiative_id == initiative.id, InitiativeCountry.country_code == "PL")
        .values(confirmed_count=500)
    )
    db.session.execute(
        sa.update(InitiativeCountry)
        .where(InitiativeCountry.initiative_id == initiative.id, InitiativeCountry.country_code == "DE")
        .values(pending_count=0)
    )
    db.session.execute(sa.delete(ConfirmationDay))
    db.session.commit()

    found = runner.invoke(args=["counters", "check"])
    assert found.exit_code != 0
    assert "stop-scanning PL confirmed: counter 500, recount 1 (-499)" in found.output
    assert "stop-scanning DE pending: counter 0, recount 1 (+1)" in found.output
    assert f"stop-scanning PL confirmed on {utcnow().date().isoformat()}: counter 0, recount 1 (+1)" in found.output
    assert "--repair" in found.output.splitlines()[-1]

    repaired = runner.invoke(args=["counters", "check", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired" in repaired.output
    db.session.expire_all()
    assert counters.check(initiative).ok
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "counters.repair"))
    assert '"PL confirmed":[500,1]' in entry.details and entry.actor == "cli"
    assert runner.invoke(args=["counters", "check"]).exit_code == 0


def test_invalidate_from_the_command_line(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement_id = submit(initiative, part_b()).statement_id
    confirm(initiative, _statement(db, statement_id))
    pending_id = submit(initiative, part_a()).statement_id
    db.session.commit()
    runner = app.test_cli_runner()
    args = ["statements", "invalidate", "--initiative", initiative.slug, "--reason", "PL authority, ref 42"]
    result = runner.invoke(args=[*args, str(statement_id), str(pending_id)])
    assert result.exit_code == 0, result.output
    assert "invalidated 1 of 2 statements" in result.output
    assert _counts(db, initiative, "PL") == (0, 0, 0, 1)
    assert runner.invoke(args=[*args, "not-a-uuid"]).exit_code != 0
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "statements.invalidate"))
    assert entry.reason == "PL authority, ref 42"
