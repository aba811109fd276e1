"""An initiative's status as the staff pages name it, in the reader's language. The stored values (`InitiativeStatus`,
`PublicStatus`) are codes for the database, the API and the audit log, not words for people: a German page said
„Status von … auf withdrawn ändern“ before."""

from __future__ import annotations

from flask_babel import pgettext

from ..models import InitiativeStatus, PublicStatus


def status_name(status: str) -> str:
    """The word for a stored or public status (the code itself for one this does not know)."""
    # TRANSLATORS: an initiative's status, shown alone or put into a sentence ("Change the status to %(status)s")
    names = {
        InitiativeStatus.DRAFT: pgettext("initiative status", "draft"),
        PublicStatus.SCHEDULED: pgettext("initiative status", "scheduled"),
        InitiativeStatus.COLLECTING: pgettext("initiative status", "collecting"),
        InitiativeStatus.CLOSED: pgettext("initiative status", "closed"),
        InitiativeStatus.SUBMITTED: pgettext("initiative status", "submitted"),
        InitiativeStatus.WITHDRAWN: pgettext("initiative status", "withdrawn"),
    }
    return names.get(status, str(status))
