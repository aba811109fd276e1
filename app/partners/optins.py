"""Addresses that asked for a partner organisation's updates (a second box on the form, beside the campaign's own).

Kept only until they are handed over, sealed to the partner's key (app/partners/handovers.py): the hand-over scrubs
them in the same transaction. One is handed over only once its owner confirmed the statement (double opt-in, as for
the campaign's updates); one never handed over goes with its statement, whose retention rules it follows (ECI.md:
unconfirmed statements when their link expires, the others at the latest 21 months after collection started).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..database import insert_unless_conflict
from ..eci.fingerprint import email_fingerprint
from ..extensions import db
from ..models import PartnerOptIn


def opt_in(partner_id: int, statement_id: uuid.UUID, email: str, key: bytes, locale: str, now: datetime) -> bool:
    """Keep the address for the partner's hand-over; it becomes due once its owner confirms. An address already
    kept for this partner (a household, or signing again) stays as it is."""
    return insert_unless_conflict(
        PartnerOptIn.__table__,
        {
            "partner_id": partner_id,
            "statement_id": statement_id,
            "email": email,
            "email_fingerprint": email_fingerprint(key, email),
            "locale": locale,
            "confirmed": False,
            "created_at": now,
        },
    )


def confirm(statement_id: uuid.UUID) -> None:
    """The owner pressed the confirmation button: the address has shown it is theirs (in `lifecycle.confirm`)."""
    db.session.execute(confirming(statement_id))


def confirming(statement_id: uuid.UUID | sa.BindParameter[uuid.UUID]) -> sa.Update:
    """`confirm` as a statement, for a caller that sends it inside a larger one (lifecycle.confirm on PostgreSQL)."""
    return (
        sa.update(PartnerOptIn)
        .where(PartnerOptIn.statement_id == statement_id, PartnerOptIn.handed_over_at.is_(None))
        .values(confirmed=True)
        .execution_options(synchronize_session=False)
    )


def due(partner_id: int) -> sa.ColumnElement[bool]:
    """The addresses a hand-over to this partner takes: confirmed and not handed over yet."""
    return sa.and_(
        PartnerOptIn.partner_id == partner_id,
        PartnerOptIn.confirmed == sa.true(),
        PartnerOptIn.handed_over_at.is_(None),
    )


@dataclass(frozen=True)
class OptInCounts:
    """A partner's opted-in addresses, by where they stand."""

    due: int  # confirmed, waiting for the next hand-over
    unconfirmed: int  # the statement is not confirmed yet
    handed_over: int  # sealed to the partner and deleted here


def counts(partner_ids: list[int]) -> dict[int, OptInCounts]:
    """One GROUP BY over the partners' opt-in rows (never over statements)."""
    if not partner_ids:
        return {}
    state = sa.case(
        (PartnerOptIn.handed_over_at.is_not(None), "handed_over"),
        (PartnerOptIn.confirmed == sa.true(), "due"),
        else_="unconfirmed",
    )
    rows = db.session.execute(
        sa.select(PartnerOptIn.partner_id, state, sa.func.count())
        .where(PartnerOptIn.partner_id.in_(partner_ids))
        .group_by(PartnerOptIn.partner_id, state)
    )
    found: dict[int, dict[str, int]] = {}
    for partner_id, name, count in rows:
        found.setdefault(int(partner_id), {})[str(name)] = int(count)
    return {
        partner_id: OptInCounts(
            due=found.get(partner_id, {}).get("due", 0),
            unconfirmed=found.get(partner_id, {}).get("unconfirmed", 0),
            handed_over=found.get(partner_id, {}).get("handed_over", 0),
        )
        for partner_id in partner_ids
    }
