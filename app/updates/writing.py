"""Writing an update: a subject and a Markdown body per language, one of them the default, rendered as the email a
supporter gets. Texts change only while the update is a draft: what was sent is what the audit log says was sent.

Plain values in (the initiative, the typed text, the actor), domain errors out; never commits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from ..audit.log import record
from ..extensions import db
from ..languages import LANGUAGES
from ..models import Initiative, SupporterUpdate, SupporterUpdateText, UpdateStatus
from ..template_helpers import render_markdown

SUBJECT_MAX = SupporterUpdateText.__table__.c.subject.type.length
BODY_MAX = 50_000


class UpdateError(ValueError):
    """The update cannot be changed or sent as asked; the message is for the staff member (a lazy string)."""


class TextError(UpdateError):
    """The typed text has mistakes: one message per field."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("; ".join(str(message) for message in errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Text:
    """A subject and a Markdown body in one language, as typed (checked by `checked_text`)."""

    locale: str
    subject: str
    body: str

    @property
    def is_empty(self) -> bool:
        return not self.subject and not self.body


def checked_text(locale: str, subject: str, body: str) -> Text:
    """The text with spaces tidied, or TextError: a known language, a one-line subject, a body, within limits."""
    errors: dict[str, Any] = {}
    locale = (locale or "").strip().lower()
    subject = " ".join((subject or "").split())  # one line: no header can carry a line break
    body = (body or "").replace("\r\n", "\n").strip()
    if locale not in LANGUAGES:
        errors["locale"] = _l("Choose one of the languages in the list.")
    if not subject:
        errors["subject"] = _l("Write a subject.")
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = _l("The subject can be at most %(n)s characters long.", n=SUBJECT_MAX)
    if not body:
        errors["body"] = _l("Write the message.")
    elif len(body) > BODY_MAX:
        errors["body"] = _l("The message can be at most %(n)s characters long.", n=f"{BODY_MAX:,}")
    if errors:
        raise TextError(errors)
    return Text(locale, subject, body)


def _details(update: SupporterUpdate, **more: Any) -> dict[str, Any]:
    return {"update": update.id, **more}


def target(update: SupporterUpdate) -> str:
    """How the audit log names an update."""
    return f"update {update.id}"


def create(initiative: Initiative, text: Text, *, actor: str, now: datetime) -> SupporterUpdate:
    """A new draft whose first text is the default: supporters who signed in another language get it."""
    update = SupporterUpdate(
        initiative_id=initiative.id,
        default_locale=text.locale,
        status=UpdateStatus.DRAFT,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    update.texts.append(SupporterUpdateText(locale=text.locale, subject=text.subject, body=text.body))
    db.session.add(update)
    db.session.flush()
    record(
        actor,
        "update.create",
        initiative=initiative,
        target=target(update),
        details=_details(update, locale=text.locale, subject=text.subject),
    )
    return update


def must_be_draft(update: SupporterUpdate) -> None:
    if update.status != UpdateStatus.DRAFT:
        raise UpdateError(_l("This update is being sent or was sent: its text can no longer change."))


def save_text(initiative: Initiative, update: SupporterUpdate, text: Text, *, actor: str, now: datetime) -> None:
    """Write (or replace) the text in one language of a draft."""
    must_be_draft(update)
    current = update.text(text.locale)
    if current is None:
        update.texts.append(SupporterUpdateText(locale=text.locale, subject=text.subject, body=text.body))
    else:
        current.subject, current.body = text.subject, text.body
    update.updated_at = now
    db.session.flush()
    record(
        actor,
        "update.edit",
        initiative=initiative,
        target=target(update),
        details=_details(update, locale=text.locale, subject=text.subject),
    )


def remove_text(initiative: Initiative, update: SupporterUpdate, locale: str, *, actor: str, now: datetime) -> None:
    """Drop a translation of a draft; its readers get the default text. The default itself stays."""
    must_be_draft(update)
    if locale == update.default_locale:
        raise UpdateError(_l("The default text cannot be removed: supporters of every other language get it."))
    current = update.text(locale)
    if current is None:
        return
    update.texts.remove(current)
    update.updated_at = now
    db.session.flush()
    record(actor, "update.edit", initiative=initiative, target=target(update), details=_details(update, removed=locale))


def updates_of(initiative: Initiative) -> list[SupporterUpdate]:
    """The initiative's updates, newest first."""
    return list(
        db.session.scalars(
            sa.select(SupporterUpdate)
            .where(SupporterUpdate.initiative_id == initiative.id)
            .order_by(SupporterUpdate.created_at.desc(), SupporterUpdate.id.desc())
        )
    )


def find_update(initiative: Initiative, update_id: int) -> SupporterUpdate | None:
    """An update of this initiative (another initiative's id finds nothing)."""
    return db.session.scalar(
        sa.select(SupporterUpdate).where(
            SupporterUpdate.id == update_id, SupporterUpdate.initiative_id == initiative.id
        )
    )


def text_for(update: SupporterUpdate, locale: str | None) -> SupporterUpdateText:
    """The text in the supporter's language, or the default one."""
    chosen = update.text(locale) if locale else None
    if chosen is not None:
        return chosen
    default = update.text(update.default_locale)
    assert default is not None, "an update always has its default text"
    return default


def digest(update: SupporterUpdate) -> str:
    """SHA-256 over every text: the audit entry of a send names exactly what went out."""
    texts = [[t.locale, t.subject, t.body] for t in sorted(update.texts, key=lambda t: t.locale)]
    canonical = json.dumps([update.default_locale, texts], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Message:
    """What the email templates `email/update.txt` and `.html` need; the staff page's preview shows the same."""

    initiative: Initiative
    locale: str
    subject: str
    body: str  # Markdown: the plain-text part, as written
    body_html: Markup  # the HTML part, rendered as the initiative's summary is (raw HTML as text, no script links)
    page_url: str
    unsubscribe_url: str
    test: bool = False


def compose(
    initiative: Initiative,
    text: Text | SupporterUpdateText,
    *,
    page_url: str,
    unsubscribe_url: str,
    body_html: Markup | None = None,
    test: bool = False,
) -> Message:
    """One supporter's message; `body_html` when the caller rendered this text's Markdown once for many."""
    return Message(
        initiative=initiative,
        locale=text.locale,
        subject=text.subject,
        body=text.body,
        body_html=body_html if body_html is not None else render_markdown(text.body),
        page_url=page_url,
        unsubscribe_url=unsubscribe_url,
        test=test,
    )
