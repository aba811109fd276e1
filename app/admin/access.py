"""Who may see a staff page: the signed-in staff member, their role, and the initiatives they were given.

Every staff view is wrapped in `staff_required(...)`, which records the allowed roles on the view so the role
matrix test can read them from the route map: a new route cannot be forgotten.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, flash, has_request_context, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ..extensions import db
from ..initiatives import find_initiative
from ..models import Initiative, InstanceSetting, StaffRole, StaffUser

ALL_ROLES = frozenset(StaffRole)
PUBLIC_STAFF_ENDPOINTS = {"admin.login", "admin.login_code", "admin.logout", "admin.export_public_key"}
"""Staff-side endpoints that anyone may open (sign-in and its second step, sign-out, the export key at its stable
URL)."""

TOTP_REQUIRED_FOR_AUDITORS = "totp_required_for_auditors"
"""InstanceSetting key: "1" makes a second factor mandatory for auditors."""
TOTP_REQUIRED_FOR_ADMINS = "totp_required_for_admins"
"""InstanceSetting key: "1" makes a second factor mandatory for admins."""
TOTP_REQUIRED_SETTINGS = {StaffRole.AUDITOR: TOTP_REQUIRED_FOR_AUDITORS, StaffRole.ADMIN: TOTP_REQUIRED_FOR_ADMINS}
"""The roles an admin can make a second factor mandatory for, and the setting that does it."""

_SESSION_KEYS = (
    "staff_id",
    "staff_seen",
    "staff_since",
    "staff_key",
    "staff_pending",
    "staff_pending_at",
    "staff_pending_next",
    "totp_setup",
)

F = TypeVar("F", bound=Callable[..., Any])


def _credential_key(user: StaffUser) -> str:
    """Bound to the password hash and the session version: a new password, or `end_sessions`, ends every session
    signed in before it, on whichever device or stolen cookie it lives."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    bound = f"{user.password_hash}\x00{user.session_version}".encode()
    return hmac.new(secret, bound, hashlib.sha256).hexdigest()[:32]


def session_values(user: StaffUser, since: int | None = None) -> dict[str, Any]:
    """What a signed-in session holds (the tests set it directly to skip the sign-in form)."""
    now = int(time.time())
    return {"staff_id": user.id, "staff_seen": now, "staff_since": since or now, "staff_key": _credential_key(user)}


def end_sessions(user: StaffUser) -> None:
    """Every session of this account stops working at its next request: the cookie a thief copied included."""
    user.session_version = StaffUser.session_version + 1  # type: ignore[assignment]  # atomic, in SQL
    db.session.flush()  # the attribute reloads with the new number when next read


# Cached per request in the WSGI environ rather than on `g`: an app context (and its `g`) can outlive one request,
# as it does when tests push one around several requests.
_CACHE = "quorum.current_staff"
_EXPIRED = "quorum.staff_expired"


def sign_in(user: StaffUser) -> None:
    session.clear()  # a fresh session at the change of privilege: no fixation
    session.update(session_values(user))
    session.permanent = False
    request.environ.pop(_CACHE, None)


def renew_session(user: StaffUser) -> None:
    """After `end_sessions` on this account, keep this one session (the one that asked), still ending when it would."""
    since = int(session.get("staff_since", 0)) or None
    session.clear()
    session.update(session_values(user, since=since))
    request.environ.pop(_CACHE, None)


def sign_out() -> None:
    for key in _SESSION_KEYS:
        session.pop(key, None)
    request.environ.pop(_CACHE, None)


def current_staff() -> StaffUser | None:
    """The signed-in, active staff member, or None. A session ends after STAFF_SESSION_IDLE_SECONDS without a
    request and STAFF_SESSION_MAX_SECONDS after its sign-in, however busy."""
    if not has_request_context():
        return None
    if _CACHE in request.environ:
        return request.environ[_CACHE]  # type: ignore[no-any-return]
    user: StaffUser | None = None
    staff_id = session.get("staff_id")
    if staff_id is not None:
        now = time.time()
        if now - int(session.get("staff_since", 0)) > current_app.config["STAFF_SESSION_MAX_SECONDS"]:
            sign_out()
            request.environ[_EXPIRED] = "lifetime"
        elif now - int(session.get("staff_seen", 0)) > current_app.config["STAFF_SESSION_IDLE_SECONDS"]:
            sign_out()
            request.environ[_EXPIRED] = "idle"
        else:
            user = db.session.get(StaffUser, staff_id)
            if (
                user is None
                or not user.active
                or not hmac.compare_digest(str(session.get("staff_key", "")), _credential_key(user))
            ):
                sign_out()
                user = None
            else:
                session["staff_seen"] = int(time.time())
    request.environ[_CACHE] = user
    return user


def instance_setting(key: str) -> str | None:
    return db.session.scalar(sa.select(InstanceSetting.value).where(InstanceSetting.key == key))


def totp_required(user: StaffUser) -> bool:
    """An admin may make a second factor mandatory for auditors (who hold the export and audit powers) and for
    admins (who hold every account)."""
    key = TOTP_REQUIRED_SETTINGS.get(StaffRole(user.role))
    return key is not None and instance_setting(key) == "1"


def must_enrol(user: StaffUser) -> bool:
    return user.totp_secret is None and totp_required(user)


def staff_required(*roles: str, enrolment: bool = False) -> Callable[[F], F]:
    """Anonymous: redirect to sign-in. Signed in with another role, or not given the initiative in the URL: 403.

    An auditor who must have a second factor and has none is sent to enrol first, except on the `enrolment`
    view itself.
    """
    allowed = frozenset(roles) if roles else ALL_ROLES
    unknown = allowed - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_staff()
            if user is None:
                expired = request.environ.get(_EXPIRED)
                if expired == "idle":
                    flash(_("You were signed out after a period of inactivity. Please sign in again."), "error")
                elif expired == "lifetime":
                    hours = max(1, round(current_app.config["STAFF_SESSION_MAX_SECONDS"] / 3600))
                    flash(
                        ngettext(
                            "Sessions end %(num)d hour after signing in. Please sign in again.",
                            "Sessions end %(num)d hours after signing in. Please sign in again.",
                            hours,
                        ),
                        "error",
                    )
                return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))
            if not enrolment and must_enrol(user):
                return redirect(url_for("admin.totp"))
            if user.role not in allowed:
                abort(403)
            slug = kwargs.get("slug")
            if isinstance(slug, str):
                initiative_for_staff(slug)  # every route naming an initiative checks it was given
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def initiative_for_staff(slug: str) -> Initiative:
    """The initiative named in the URL, if the signed-in staff member was given it (admins see all)."""
    user = current_staff()
    initiative = find_initiative(slug)  # a slug that could not be one (a NUL byte) is a 404, not a database error
    if initiative is None:
        abort(404)
    if user is None or not user.can_access(initiative):
        abort(403)
    return initiative


def visible_initiatives(user: StaffUser) -> list[Initiative]:
    """The initiatives a staff member works on: all of them for an admin, the ones they were given otherwise."""
    if user.role == StaffRole.ADMIN:
        return list(db.session.scalars(sa.select(Initiative).order_by(Initiative.slug)))
    return list(user.initiatives)


def actor() -> str:
    """How the audit log names the signed-in staff member."""
    user = current_staff()
    return user.email if user is not None else "anonymous"
