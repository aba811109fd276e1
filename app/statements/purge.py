"""Destroying statements when the retention rules say so (`app.audit.retention` decides when), counters included.

Unconfirmed statements leave the pending (or quarantined) count as they go. When an initiative's statements are
destroyed at the end of its life, the confirmed and invalidated counters stay as its historical count, and the
initiative remembers when, so that `counters check` knows there is nothing left to recount. Its exports, which
hold copies of the statements, go with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..exports.purge import ExportsDestroyed, destroy_exports
from ..extensions import db
from ..models import Initiative, InitiativeCountry, Statement, StatementStatus
from . import counters, tallies


@dataclass(frozen=True)
class Destroyed:
    statements: int
    exports: ExportsDestroyed


def waiting() -> sa.ColumnElement[bool]:
    """Statements whose link was never used: pending, or lapsed before their sender pressed the button."""
    return sa.or_(
        Statement.status == StatementStatus.PENDING,
        sa.and_(Statement.status == StatementStatus.LAPSED, Statement.confirmed_at.is_(None)),
    )


def count(where: list[sa.ColumnElement[bool]]) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Statement).where(*where)) or 0)


def delete_waiting(initiative: Initiative, where: list[sa.ColumnElement[bool]]) -> int:
    """Delete unconfirmed statements of one initiative that meet `where`, moving their counters."""
    rows = db.session.execute(
        sa.delete(Statement)
        .where(Statement.initiative_id == initiative.id, waiting(), *where)
        .returning(
            Statement.country_code,
            Statement.status,
            Statement.quarantine_id,
            Statement.email_fingerprint,
            Statement.network_fingerprint,
        )
        .execution_options(synchronize_session=False)
    ).all()
    for country, status, quarantine_id, email_fp, network_fp in rows:
        if status == StatementStatus.PENDING:
            counters.move(initiative.id, country, **({"pending": -1} if quarantine_id is None else {"quarantined": -1}))
        tallies.move_fingerprints(initiative.id, email_fp, network_fp, -1)
    tallies.held_moved(initiative.id, rows, -1)
    return len(rows)


def destroy_all(initiative: Initiative, now: datetime) -> Destroyed:
    """Every statement of the initiative goes, and every export holding them; the confirmed and invalidated counts
    stay as its history."""
    exports = destroy_exports(initiative)
    deleted = db.session.execute(
        sa.delete(Statement)
        .where(Statement.initiative_id == initiative.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        sa.update(InitiativeCountry)
        .where(InitiativeCountry.initiative_id == initiative.id)
        .values(pending_count=0, quarantined_count=0)
        .execution_options(synchronize_session=False)
    )
    tallies.forget_statements(initiative.id)
    initiative.statements_purged_at = now
    return Destroyed(int(deleted), exports)
