"""Enqueue a message inside the caller's transaction; it is delivered only if that transaction commits."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, render_template
from flask_babel import force_locale
from markupsafe import escape

from ..extensions import db
from ..models import OutboxMessage, TallyName
from ..statements import tallies
from ..template_slots import Recent, SlottedText, marker


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
    add(message)
    return message


def add(message: OutboxMessage) -> None:
    """Put a composed message in the outbox (not committed), and in its initiative's tally of queued mail."""
    db.session.add(message)
    queued(message.initiative_id)


def queued(initiative_id: int | None) -> None:
    """One more message queued for this initiative: for `add`, and for a caller that wrote it with `queuing`."""
    tallies.move_mail(initiative_id, None, TallyName.MAIL_QUEUED)


def compose(
    kind: str,
    to: str,
    subject: Callable[[], str],
    template: str,
    *,
    locale: str = "en",
    initiative_id: int | None = None,
    list_unsubscribe: str | None = None,
    same_for: Hashable | None = None,
    slots: Mapping[str, str] | None = None,
    **context: Any,
) -> OutboxMessage:
    """The outbox row `enqueue` adds, rendered but not added: for a caller that writes it with `queuing`.

    A message that is the same for many recipients but for `slots` (its link) is rendered once per `same_for`, which
    must name everything else the message depends on (the initiative's revision, the member state...), and filled
    for each recipient (app/template_slots.py)."""
    if same_for is None:
        subject_text, body_text, body_html = _render(subject, template, locale, {**context, **(slots or {})})
    else:
        key = (template, locale, same_for, tuple(sorted(slots or {})))
        subject_text, text, html = _cache().get(
            key, lambda: _render_with_slots(subject, template, locale, slots, context)
        )
        body_text = text.fill(slots or {})
        body_html = html.fill({name: str(escape(value)) for name, value in (slots or {}).items()})
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


def _render(subject: Callable[[], str], template: str, locale: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    with force_locale(locale):
        return (
            subject(),
            render_template(f"email/{template}.txt", **context),
            render_template(f"email/{template}.html", **context),
        )


def _render_with_slots(
    subject: Callable[[], str],
    template: str,
    locale: str,
    slots: Mapping[str, str] | None,
    context: Mapping[str, Any],
) -> tuple[str, SlottedText, SlottedText]:
    subject_text, text, html = _render(subject, template, locale, {**context, **{n: marker(n) for n in slots or {}}})
    return subject_text, SlottedText.cut(text), SlottedText.cut(html)


_KEY = "quorum.outbox_cache"
KEPT = 256  # messages as rendered for many recipients: initiatives x languages x member states, a few kB each


def init_outbox(app: Flask) -> None:
    """The rendered messages kept for `compose(same_for=...)`, empty (`register_services`)."""
    app.extensions[_KEY] = Recent(KEPT)


def _cache() -> Recent[Hashable, tuple[str, SlottedText, SlottedText]]:
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]


def queuing(source: sa.CTE) -> sa.Insert:
    """An INSERT of one composed message for each row `source` yields, and none when it yields none: the email goes
    in the same statement as what decides whether it is sent (PostgreSQL's data-modifying WITH). Build it once; bind
    the message with `queued_parameters`."""
    columns = _queued_columns()
    row = sa.select(*(sa.bindparam(f"queued_{c.name}", type_=c.type) for c in columns)).select_from(source)
    return sa.insert(OutboxMessage.__table__).from_select([c.name for c in columns], row, include_defaults=False)


def queued_parameters(message: OutboxMessage) -> dict[str, object]:
    """The composed `message` as `queuing`'s parameters, with the defaults the session would give what it left unset
    (an INSERT inside WITH computes none)."""
    parameters: dict[str, object] = {}
    for column in _queued_columns():
        value = getattr(message, column.key)
        if value is None and isinstance(column.default, sa.ColumnDefault):
            value = column.default.arg(None) if column.default.is_callable else column.default.arg
        parameters[f"queued_{column.name}"] = value
    return parameters


def _queued_columns() -> list[sa.Column[Any]]:
    return [column for column in OutboxMessage.__table__.columns if not column.primary_key]
