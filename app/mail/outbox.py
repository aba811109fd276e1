"""Enqueue a message inside the caller's transaction; it is delivered only if that transaction commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import render_template
from flask_babel import force_locale

from ..extensions import db
from ..models import OutboxMessage, TallyName
from ..statements import tallies


def enqueue(
    kind: str,
    to: str,
    subject: Callable[[], str],
    template: str,
    *,
    locale: str = "en",
    initiative_id: int | None = None,
    list_unsubscribe: str | None = None,
    **context: Any,
) -> OutboxMessage:
    """Render `templates/email/<template>.txt` and `.html` in `locale` into an outbox row (not committed).

    `subject` is called here, so that it is written in the recipient's language too, the initiative's title included.
    `list_unsubscribe` is the one-click unsubscribe URL a message to a mailing list carries in its headers (RFC 8058).
    """
    with force_locale(locale):
        subject_text = subject()
        body_text = render_template(f"email/{template}.txt", **context)
        body_html = render_template(f"email/{template}.html", **context)
    message = OutboxMessage(
        kind=kind,
        initiative_id=initiative_id,
        to_address=to,
        # one line (a title may hold a line break, which no mail header can carry), within the column's length
        subject=" ".join(subject_text.split())[: OutboxMessage.__table__.c.subject.type.length],
        body_text=body_text,
        body_html=body_html,
        list_unsubscribe=list_unsubscribe,
    )
    db.session.add(message)
    tallies.move_mail(initiative_id, None, TallyName.MAIL_QUEUED)
    return message
