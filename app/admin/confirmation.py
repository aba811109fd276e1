"""The confirmation step before a staff action that cannot be undone (issue 9, point 6).

The button on the staff page only opens a page (GET on the action's own URL) that says what will happen and that it
cannot be undone, and asks the reason the audit log keeps. That page carries a signed token naming the staff member,
the action, its target and what was asked (e.g. the new status); the POST acts only with that token and a reason.
Without them it changes nothing and answers 400 (no token: not confirmed) or 422 (no reason) with the page again.
The token is a promise about intent, not a secret: CSRF protection stays what stops other sites
(docs/decisions/013-staff-pages-that-protect-their-users.md).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, render_template, request
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeTimedSerializer

from .access import current_staff

CONFIRM_FIELD = "confirmation"
REASON_FIELD = "reason"
SALT = "quorum.admin.confirm"
MAX_AGE_SECONDS = 3600
"""A confirmation page left open longer is shown again, with what is true by then."""
REASON_LIMIT = 1000
"""Characters; a reason is a sentence or two (the withdrawal's is shown on the public page)."""


@dataclass(frozen=True)
class Field:
    """One more thing the confirmation page asks for (a new password), besides the reason."""

    name: str
    label: str
    type: str = "text"
    hint: str = ""
    autocomplete: str = "off"


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page of one action says: what happens, what follows, what it asks."""

    heading: str
    consequences: tuple[str, ...]
    button: str
    back: str
    """Where "Cancel" goes: the page the action was started from."""
    reason_label: str = ""
    """Empty: the default label, saying the reason goes into the audit log."""
    reason_hint: str = ""
    bound: Mapping[str, str] = field(default_factory=dict)
    """Form values the token is for (sent again as hidden fields): a token to close cannot withdraw."""
    fields: tuple[Field, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()
    """(label, value) pairs shown as a list: what exactly is concerned (counts, the account, the status now)."""
    final: bool = True
    """The page says "This cannot be undone." (False: a step another action reverses, such as publishing, that is
    still confirmed because of what it shows the public)."""


@dataclass(frozen=True)
class Confirmed:
    """The staff member confirmed on the page and gave a reason: the view may act."""

    reason: str
    values: Mapping[str, str]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt=SALT)


def _purpose(confirmation: Confirmation) -> dict[str, Any]:
    """What a token is for: who, which action on which target, and the bound values."""
    user = current_staff()
    return {
        "staff": user.id if user is not None else None,
        "endpoint": request.endpoint,
        "target": {key: str(value) for key, value in sorted((request.view_args or {}).items())},
        "bound": dict(sorted(confirmation.bound.items())),
    }


def token_for(confirmation: Confirmation) -> str:
    return str(_serializer().dumps(_purpose(confirmation)))


def _token_matches(confirmation: Confirmation, token: str) -> bool:
    try:
        said = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except (BadData, UnicodeError):
        return False
    return bool(said == _purpose(confirmation))


def page(confirmation: Confirmation, status: int = 200, errors: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The confirmation page, with a fresh token; what was typed (but never a password) is kept."""
    typed = {REASON_FIELD: request.form.get(REASON_FIELD, "")} if request.method == "POST" else {}
    html = render_template(
        "admin/confirm.html",
        confirmation=confirmation,
        token=token_for(confirmation),
        token_field=CONFIRM_FIELD,
        reason_field=REASON_FIELD,
        reason_limit=REASON_LIMIT,
        typed=typed,
        errors=dict(errors or {}),
    )
    return html, status


def ask(confirmation: Confirmation) -> Confirmed | tuple[str, int]:
    """GET: the confirmation page. POST: `Confirmed` with the reason when the page's token and a reason came with
    it; else the page again, and nothing changes."""
    if request.method != "POST":
        return page(confirmation)
    if not _token_matches(confirmation, request.form.get(CONFIRM_FIELD) or ""):
        message = _("Nothing was changed. Read what will happen below and confirm on this page.")
        return page(confirmation, 400, {"": message})
    reason = (request.form.get(REASON_FIELD) or "").strip()
    if not reason:
        return page(confirmation, 422, {REASON_FIELD: _("say why: the reason goes into the audit log")})
    if len(reason) > REASON_LIMIT:
        return page(confirmation, 422, {REASON_FIELD: _("at most %(n)d characters", n=REASON_LIMIT)})
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in reason):
        return page(confirmation, 422, {REASON_FIELD: _("remove the control characters")})
    values = {f.name: request.form.get(f.name) or "" for f in confirmation.fields}
    return Confirmed(reason=reason, values=values)
