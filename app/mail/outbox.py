"""Enqueue a message inside the caller's transaction; it is delivered only if that transaction commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale

from ..extensions import db
from ..models import OutboxMessage


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
    message = compose(
        kind,
        to,
        subject,
        template,
        locale=locale,
        initiative_id=initiative_id,
        list_unsubscribe=list_unsubscribe,
        **context,
    )
    db.session.add(message)
    return message


def compose(
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
    """The outbox row `enqueue` adds, rendered but not added: for a caller that writes it with `queued_with`."""
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
    return message


def queued_with(source: sa.CTE, message: OutboxMessage) -> sa.Insert:
    """An INSERT of the composed `message` that writes it once for each row `source` yields, and not at all when it
    yields none: the email goes in the same statement as what decides whether it is sent (PostgreSQL's data-modifying
    WITH). The columns the message leaves unset take their defaults, as they would through the session."""
    table = OutboxMessage.__table__
    values: dict[str, object] = {}
    for column in table.columns:
        value = getattr(message, column.key)
        if value is None and isinstance(column.default, sa.ColumnDefault):  # an INSERT inside WITH computes none
            value = column.default.arg(None) if column.default.is_callable else column.default.arg
        if value is not None:
            values[column.name] = sa.literal(value, column.type)
    return sa.insert(table).from_select(
        list(values), sa.select(*values.values()).select_from(source), include_defaults=False
    )
