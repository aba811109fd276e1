"""The two rules every count depends on, written once: which statements count, and which initiatives are public.

The public counters, the recount, the JSON API, the dashboard, quarantine and the export all import these; none
spells them out again (docs/decisions/001-statement-lifecycle.md).
"""

from __future__ import annotations

import sqlalchemy as sa

from ..models import Initiative, InitiativeStatus, Statement, StatementStatus


def counted() -> sa.ColumnElement[bool]:
    """A statement counts when it is confirmed and not set aside in a quarantine (released ones clear the mark)."""
    return sa.and_(Statement.status == StatementStatus.CONFIRMED, Statement.quarantine_id.is_(None))


def public_initiative() -> sa.ColumnElement[bool]:
    """Shown on the home page, its own page and the API: not a draft, and not a draft withdrawn before it was ever
    published (which was never public and stays hidden)."""
    return sa.and_(
        Initiative.status != InitiativeStatus.DRAFT,
        sa.or_(Initiative.status != InitiativeStatus.WITHDRAWN, Initiative.published_at.is_not(None)),
    )


def is_public(initiative: Initiative | None) -> bool:
    """The Python twin of `public_initiative()`, for an initiative already loaded."""
    if initiative is None or initiative.status == InitiativeStatus.DRAFT:
        return False
    return initiative.status != InitiativeStatus.WITHDRAWN or initiative.published_at is not None
