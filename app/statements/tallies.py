"""Tallies beside the counters, for the staff pages: an initiative's outbox messages by delivery state and its
subscribers by where they stand (InitiativeTally), its statements per email and network fingerprint (FingerprintUse),
and what each quarantine holds (QuarantineHeld). A page reads a few rows of them instead of counting millions of
rows (docs/decisions/015-tallies-for-staff-pages.md).

They move where the rows they count change: mail on enqueue, delivery, a pause and retention; subscribers on
subscribe, confirm, unsubscribe, a bounce and retention; fingerprints on submit and purge; quarantines on apply,
release, confirm, invalidate and purge. A move is noted on the session and every move of a transaction is written
just before it commits (one upsert per row, all transactions in one order), so a tally row is locked for the commit
alone and two transactions never wait for each other's tally rows in opposite orders, whatever else they lock. A
reader that must see its own transaction's moves calls `settle()` first.

`counters.check` compares them with a recount (`differences`), and `counters.repair` sets them right (`repair`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from ..extensions import db
from ..models import (
    FingerprintKind,
    FingerprintUse,
    InitiativeTally,
    OutboxMessage,
    OutboxStatus,
    QuarantineHeld,
    Statement,
    StatementStatus,
    Subscriber,
    TallyName,
)

_PENDING = "quorum.tallies"
_CHUNK = 500  # rows per upsert: within SQLite's limit of bound values
_FEW = 8  # rows a request moves at most, written by one statement built once


class _Table(StrEnum):
    """Which table a noted move goes to; also the order in which a commit writes them."""

    INITIATIVE = "1-initiative"
    QUARANTINE = "2-quarantine"
    FINGERPRINT = "3-fingerprint"


# --- noting moves -------------------------------------------------------------------------------------------------


def _note(key: tuple[Any, ...], delta: int) -> None:
    if delta:
        pending: dict[tuple[Any, ...], int] = db.session.info.setdefault(_PENDING, {})
        pending[key] = pending.get(key, 0) + delta


def move(initiative_id: int | None, name: TallyName, delta: int) -> None:
    """Add to one of an initiative's tallies (mail of no initiative is not tallied)."""
    if initiative_id is not None:
        _note((_Table.INITIATIVE, initiative_id, str(name)), delta)


MAIL_STATES = {
    OutboxStatus.SENT: TallyName.MAIL_SENT,
    OutboxStatus.FAILED: TallyName.MAIL_FAILED,
    OutboxStatus.BOUNCED: TallyName.MAIL_BOUNCED,
    OutboxStatus.HELD: TallyName.MAIL_HELD,
}


def mail_state(status: str, attempts: int) -> TallyName:
    """The dashboard's delivery state of a message: a queued one that failed at least once is retrying."""
    if status == OutboxStatus.QUEUED:
        return TallyName.MAIL_RETRYING if attempts > 0 else TallyName.MAIL_QUEUED
    return MAIL_STATES[OutboxStatus(status)]


MAIL_COLUMNS = (OutboxMessage.initiative_id, OutboxMessage.status, OutboxMessage.attempts)
"""What a bulk UPDATE or DELETE of outbox rows returns for `mail_moved` and `mail_gone`."""


def move_mail(initiative_id: int | None, before: TallyName | None, after: TallyName | None) -> None:
    """One message from one state to another (None: it did not exist, or is gone)."""
    if before == after:
        return
    if before is not None:
        move(initiative_id, before, -1)
    if after is not None:
        move(initiative_id, after, 1)


def mail_moved(rows: Iterable[Any], after: TallyName) -> None:
    """Messages (MAIL_COLUMNS as they were) that an UPDATE put in one state."""
    for row in rows:
        move_mail(row.initiative_id, mail_state(row.status, row.attempts), after)


def mail_gone(rows: Iterable[Any]) -> None:
    """Messages (MAIL_COLUMNS) that a DELETE took away."""
    for row in rows:
        move_mail(row.initiative_id, mail_state(row.status, row.attempts), None)


def subscriber_state(active: bool, unsubscribed_at: datetime | None, bounced_at: datetime | None) -> TallyName:
    """Where a subscriber stands, as the dashboard names it."""
    if active:
        return TallyName.SUBSCRIBERS_ACTIVE
    if bounced_at is not None:
        return TallyName.SUBSCRIBERS_BOUNCED
    if unsubscribed_at is not None:
        return TallyName.SUBSCRIBERS_UNSUBSCRIBED
    return TallyName.SUBSCRIBERS_PENDING


SUBSCRIBER_COLUMNS = (Subscriber.initiative_id, Subscriber.active, Subscriber.unsubscribed_at, Subscriber.bounced_at)
"""What a DELETE of subscriber rows returns for `subscribers_gone`."""


def subscribers_gone(rows: Iterable[Any]) -> None:
    for row in rows:
        move(row.initiative_id, subscriber_state(row.active, row.unsubscribed_at, row.bounced_at), -1)


def move_fingerprints(initiative_id: int, email: str | None, network: str | None, delta: int) -> None:
    """A statement with these fingerprints came (delta 1) or went (-1): it counts under each, whatever its status."""
    for kind, fingerprint in ((FingerprintKind.EMAIL, email), (FingerprintKind.NETWORK, network)):
        if fingerprint is not None:
            _note((_Table.FINGERPRINT, initiative_id, str(kind), fingerprint), delta)


def move_held(initiative_id: int, quarantine_id: int | None, *, confirmed: int = 0, unconfirmed: int = 0) -> None:
    """What a quarantine holds: `confirmed` statements, and the others (pending, lapsed or invalidated)."""
    if quarantine_id is not None:
        _note((_Table.QUARANTINE, initiative_id, quarantine_id, "confirmed"), confirmed)
        _note((_Table.QUARANTINE, initiative_id, quarantine_id, "unconfirmed"), unconfirmed)


def held_moved(initiative_id: int, rows: Iterable[Any], sign: int) -> None:
    """Statements (quarantine_id, status) that joined (sign 1) or left (sign -1) their quarantine."""
    per: Counter[tuple[int, bool]] = Counter(
        (row.quarantine_id, row.status == StatementStatus.CONFIRMED) for row in rows if row.quarantine_id is not None
    )
    for (quarantine_id, confirmed), count in sorted(per.items()):
        move_held(
            initiative_id,
            quarantine_id,
            confirmed=sign * count if confirmed else 0,
            unconfirmed=0 if confirmed else sign * count,
        )


def forget_statements(initiative_id: int) -> None:
    """Every statement of the initiative was destroyed (retention): its fingerprints go with them, and its
    quarantines hold nothing any more."""
    pending: dict[tuple[Any, ...], int] = db.session.info.get(_PENDING, {})
    for key in [k for k in pending if k[0] in (_Table.FINGERPRINT, _Table.QUARANTINE) and k[1] == initiative_id]:
        del pending[key]
    for model in (FingerprintUse, QuarantineHeld):
        db.session.execute(
            sa.delete(model).where(model.initiative_id == initiative_id).execution_options(synchronize_session=False)
        )


# --- writing them, at commit -----------------------------------------------------------------------------------------


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


@cache
def _upserting(dialect: str, table: sa.Table, added: tuple[str, ...]) -> sa.Insert:
    """One row's INSERT, or the addition of its `added` columns to the row already there, built once per table: a
    signer's commit moves two or three tallies, and building and compiling the statement cost more than running it.
    Measured on PostgreSQL, two rows: 630 us of CPU built each time as one multi-row statement, 380 us as a multi-row
    statement built once with bound names, 180 us as this one run for each row (docs/decisions/014)."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: table.c[name] + statement.excluded[name] for name in added},
    )


def _upsert(session: Session, table: sa.Table, rows: list[dict[str, Any]], added: tuple[str, ...]) -> None:
    """INSERT the rows, or add their `added` columns to the rows already there; in the order given. A few rows (a
    request's) by the statement built once, run for each row; many (a purge's) in multi-row statements."""
    if len(rows) <= _FEW:
        statement = _upserting(session.get_bind().dialect.name, table, added)
        session.execute(statement, rows[0] if len(rows) == 1 else rows)
        return
    insert = _insert(session)
    for start in range(0, len(rows), _CHUNK):
        statement = insert(table).values(rows[start : start + _CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={name: table.c[name] + statement.excluded[name] for name in added},
        )
        session.execute(statement)


def settle(session: Session | None = None) -> None:
    """Write the moves noted in this transaction; `before_commit` calls it, and so may a reader."""
    session = session or db.session()
    pending: dict[tuple[Any, ...], int] = session.info.pop(_PENDING, {})
    if not any(pending.values()):
        return
    initiatives = [
        {"initiative_id": key[1], "name": key[2], "value": delta}
        for key, delta in sorted(pending.items())
        if key[0] == _Table.INITIATIVE and delta
    ]
    if initiatives:
        _upsert(session, InitiativeTally.__table__, initiatives, ("value",))
    held: dict[tuple[int, int], dict[str, Any]] = {}
    for key, delta in sorted(pending.items()):
        if key[0] == _Table.QUARANTINE:
            row = held.setdefault(
                (key[1], key[2]), {"quarantine_id": key[2], "initiative_id": key[1], "confirmed": 0, "unconfirmed": 0}
            )
            row[key[3]] += delta
    if held:
        _upsert(session, QuarantineHeld.__table__, list(held.values()), ("confirmed", "unconfirmed"))
    fingerprints = [
        {"initiative_id": key[1], "kind": key[2], "fingerprint": key[3], "statements": delta}
        for key, delta in sorted(pending.items())
        if key[0] == _Table.FINGERPRINT and delta
    ]
    if fingerprints:
        _upsert(session, FingerprintUse.__table__, fingerprints, ("statements",))
    emptied = sorted({row["initiative_id"] for row in fingerprints if row["statements"] < 0})
    if emptied:
        # a fingerprint whose last statement went is not kept: it is as much about a person as the statement was
        session.execute(
            sa.delete(FingerprintUse)
            .where(FingerprintUse.initiative_id.in_(emptied), FingerprintUse.statements <= 0)
            .execution_options(synchronize_session=False)
        )


def _before_commit(session: Session) -> None:
    settle(session)


def _forget_unsettled(session: Session, transaction: SessionTransaction) -> None:
    """A transaction rolled back (or closed) takes its noted moves with it."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def listen() -> None:
    """Write noted moves when any session commits (once per process)."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_transaction_end", _forget_unsettled)


# --- reading them ----------------------------------------------------------------------------------------------------


def values(initiative_id: int) -> dict[TallyName, int]:
    """An initiative's tallies; those never moved are 0."""
    settle()
    rows = db.session.execute(
        sa.select(InitiativeTally.name, InitiativeTally.value).where(InitiativeTally.initiative_id == initiative_id)
    )
    found = {TallyName(name): int(value) for name, value in rows}
    return {name: found.get(name, 0) for name in TallyName}


def most_used(initiative_id: int, kind: FingerprintKind, limit: int) -> list[tuple[str, int]]:
    """The fingerprints of `kind` carried by more than one statement, the most used first (one index range)."""
    settle()
    rows = db.session.execute(
        sa.select(FingerprintUse.fingerprint, FingerprintUse.statements)
        .where(
            FingerprintUse.initiative_id == initiative_id,
            FingerprintUse.kind == kind,
            FingerprintUse.statements > 1,
        )
        .order_by(FingerprintUse.statements.desc(), FingerprintUse.fingerprint.desc())
        .limit(limit)
    )
    return [(fingerprint, int(count)) for fingerprint, count in rows]


def used_more_than(initiative_id: int, kind: FingerprintKind, over: int) -> sa.Select[Any]:
    """The fingerprints of `kind` carried by more than `over` statements, as a subquery."""
    return sa.select(FingerprintUse.fingerprint).where(
        FingerprintUse.initiative_id == initiative_id,
        FingerprintUse.kind == kind,
        FingerprintUse.statements > over,
    )


def held(initiative_id: int) -> dict[int, tuple[int, int]]:
    """{quarantine id: (confirmed, unconfirmed)} of what each quarantine of the initiative holds."""
    settle()
    rows = db.session.execute(
        sa.select(QuarantineHeld.quarantine_id, QuarantineHeld.confirmed, QuarantineHeld.unconfirmed).where(
            QuarantineHeld.initiative_id == initiative_id
        )
    )
    return {quarantine_id: (int(confirmed), int(unconfirmed)) for quarantine_id, confirmed, unconfirmed in rows}


# --- the recount -----------------------------------------------------------------------------------------------------


def _recount_small(initiative_id: int) -> dict[tuple[str, ...], int]:
    """The initiative's mail, subscriber and quarantine tallies counted afresh from the rows; nonzero ones only."""
    result: dict[tuple[str, ...], int] = {}
    retried = OutboxMessage.attempts > 0
    state = sa.case(
        (sa.and_(OutboxMessage.status == OutboxStatus.QUEUED, retried), TallyName.MAIL_RETRYING.value),
        (OutboxMessage.status == OutboxStatus.QUEUED, TallyName.MAIL_QUEUED.value),
        *((OutboxMessage.status == status, name.value) for status, name in MAIL_STATES.items()),
    )
    for name, count in db.session.execute(
        sa.select(state, sa.func.count()).where(OutboxMessage.initiative_id == initiative_id).group_by(state)
    ):
        result[("tally", str(name))] = int(count)
    where = sa.case(
        (Subscriber.active == sa.true(), TallyName.SUBSCRIBERS_ACTIVE.value),
        (Subscriber.bounced_at.is_not(None), TallyName.SUBSCRIBERS_BOUNCED.value),
        (Subscriber.unsubscribed_at.is_not(None), TallyName.SUBSCRIBERS_UNSUBSCRIBED.value),
        else_=TallyName.SUBSCRIBERS_PENDING.value,
    )
    for name, count in db.session.execute(
        sa.select(where, sa.func.count()).where(Subscriber.initiative_id == initiative_id).group_by(where)
    ):
        result[("tally", str(name))] = int(count)
    confirmed = Statement.status == StatementStatus.CONFIRMED
    for quarantine_id, is_confirmed, count in db.session.execute(
        sa.select(Statement.quarantine_id, confirmed, sa.func.count())
        .where(Statement.initiative_id == initiative_id, Statement.quarantine_id.is_not(None))
        .group_by(Statement.quarantine_id, confirmed)
    ):
        result[("held", str(quarantine_id), "confirmed" if is_confirmed else "unconfirmed")] = int(count)
    return result


def _kept_small(initiative_id: int) -> dict[tuple[str, ...], int]:
    """The same tallies as stored; nonzero ones only."""
    result: dict[tuple[str, ...], int] = {
        ("tally", name): value for name, value in values(initiative_id).items() if value
    }
    for quarantine_id, (confirmed, unconfirmed) in held(initiative_id).items():
        for column, count in (("confirmed", confirmed), ("unconfirmed", unconfirmed)):
            if count:
                result[("held", str(quarantine_id), column)] = count
    return result


def _fingerprint_differences(initiative_id: int, kind: FingerprintKind) -> dict[tuple[str, ...], tuple[int, int]]:
    """The fingerprints whose use differs from a recount, found by the database (there may be millions of them)."""
    column = Statement.email_fingerprint if kind == FingerprintKind.EMAIL else Statement.network_fingerprint
    actual = (
        sa.select(column.label("fingerprint"), sa.func.count().label("statements"))
        .where(Statement.initiative_id == initiative_id, column.is_not(None))
        .group_by(column)
        .subquery()
    )
    stored = sa.and_(FingerprintUse.initiative_id == initiative_id, FingerprintUse.kind == kind)
    off = db.session.execute(
        sa.select(actual.c.fingerprint, sa.func.coalesce(FingerprintUse.statements, 0), actual.c.statements)
        .outerjoin(FingerprintUse, sa.and_(stored, FingerprintUse.fingerprint == actual.c.fingerprint))
        .where(sa.func.coalesce(FingerprintUse.statements, 0) != actual.c.statements)
    ).all()
    unused = db.session.execute(
        sa.select(FingerprintUse.fingerprint, FingerprintUse.statements).where(
            stored,
            FingerprintUse.statements != 0,
            ~sa.exists().where(Statement.initiative_id == initiative_id, column == FingerprintUse.fingerprint),
        )
    ).all()
    result = {(str(kind), fingerprint): (int(kept), int(count)) for fingerprint, kept, count in off}
    result.update({(str(kind), fingerprint): (int(kept), 0) for fingerprint, kept in unused})
    return result


def differences(initiative_id: int) -> dict[tuple[str, ...], tuple[int, int]]:
    """{key: (kept, recounted)} for every tally of the initiative that is off; changes nothing. Retention's
    destroying the statements changes nothing here: their tallies are then zero, and so is their recount."""
    settle()
    stored = _kept_small(initiative_id)
    actual = _recount_small(initiative_id)
    result = {
        key: (stored.get(key, 0), actual.get(key, 0))
        for key in set(stored) | set(actual)
        if stored.get(key, 0) != actual.get(key, 0)
    }
    for kind in FingerprintKind:
        result.update(_fingerprint_differences(initiative_id, kind))
    return dict(sorted(result.items()))


def is_fingerprint(key: tuple[str, ...]) -> bool:
    return key[0] in set(FingerprintKind)


def describe(key: tuple[str, ...]) -> str:
    """A difference's key in words, for `counters check`: a fingerprint is shortened, as on the quarantine page."""
    if key[0] == "tally":
        return key[1].replace("_", " ")
    if key[0] == "held":
        return f"quarantine {key[1]} holds {key[2]}"
    return f"statements with {key[0]} fingerprint {key[1][:16]}…"


_REBUILD = 1000
"""More fingerprints of one kind off than this (statements written in bulk, a restored backup): `repair` counts
that kind afresh in one statement instead of fixing them one by one."""


def _rebuild(initiative_id: int, kind: FingerprintKind) -> None:
    column = Statement.email_fingerprint if kind == FingerprintKind.EMAIL else Statement.network_fingerprint
    mine = sa.and_(FingerprintUse.initiative_id == initiative_id, FingerprintUse.kind == kind)
    db.session.execute(sa.delete(FingerprintUse).where(mine).execution_options(synchronize_session=False))
    db.session.execute(
        sa.insert(FingerprintUse).from_select(
            ["initiative_id", "kind", "fingerprint", "statements"],
            sa.select(sa.literal(initiative_id), sa.literal(kind.value), column, sa.func.count())
            .where(Statement.initiative_id == initiative_id, column.is_not(None))
            .group_by(column),
        )
    )


def repair(initiative_id: int, wrong: Mapping[tuple[str, ...], tuple[int, int]]) -> None:
    """Set every tally `differences` named to its recount (the caller audits it; the boundary commits)."""
    rebuilt = {kind for kind in FingerprintKind if sum(1 for key in wrong if key[0] == kind) > _REBUILD}
    for key, (stored, actual) in wrong.items():
        delta = actual - stored
        if key[0] == "tally":
            move(initiative_id, TallyName(key[1]), delta)
        elif key[0] == "held":
            move_held(initiative_id, int(key[1]), **{key[2]: delta})
        elif key[0] not in rebuilt:
            _note((_Table.FINGERPRINT, initiative_id, key[0], key[1]), delta)
    settle()
    for kind in sorted(rebuilt):
        _rebuild(initiative_id, kind)
