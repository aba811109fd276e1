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

from ..extensions import db
from ..models import Initiative, InstanceSetting, StaffRole, StaffUser

ALL_ROLES = frozenset(StaffRole)
PUBLIC_STAFF_ENDPOINTS = {"admin.login", "admin.login_code", "admin.logout", "admin.export_public_key"}
"""Staff-side endpoints that anyone may open (sign-in and its second step, sign-out, the export key at its stable
URL)."""

TOTP_REQUIRED_FOR_AUDITORS = "totp_required_for_auditors"
"""InstanceSetting key: "1" makes a second factor mandatory for auditors."""

_SESSION_KEYS = (
    "staff_id",
    "staff_seen",
    "staff_key",
    "staff_pending",
    "staff_pending_at",
    "staff_pending_next",
    "totp_setup",
)

F = TypeVar("F", bound=Callable[..., Any])


def _credential_key(user: StaffUser) -> str:
    """Bound to the password hash: resetting a password ends every session signed in with the old one."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def session_values(user: StaffUser) -> dict[str, Any]:
    """What a signed-in session holds (the tests set it directly to skip the sign-in form)."""
    return {"staff_id": user.id, "staff_seen": int(time.time()), "staff_key": _credential_key(user)}


# Cached per request in the WSGI environ rather than on `g`: an app context (and its `g`) can outlive one request,
# as it does when tests push one around several requests.
_CACHE = "quorum.current_staff"


def sign_in(user: StaffUser) -> None:
    session.clear()  # a fresh session at the change of privilege: no fixation
    session.update(session_values(user))
    session.permanent = False
    request.environ.pop(_CACHE, None)


def sign_out() -> None:
    for key in _SESSION_KEYS:
        session.pop(key, None)
    request.environ.pop(_CACHE, None)


def current_staff() -> StaffUser | None:
    """The signed-in, active staff member, or None; an idle session expires (STAFF_SESSION_IDLE_SECONDS)."""
    if not has_request_context():
        return None
    if _CACHE in request.environ:
        return request.environ[_CACHE]  # type: ignore[no-any-return]
    user: StaffUser | None = None
    staff_id = session.get("staff_id")
    if staff_id is not None:
        seen = int(session.get("staff_seen", 0))
        if time.time() - seen > current_app.config["STAFF_SESSION_IDLE_SECONDS"]:
            sign_out()
            request.environ["quorum.staff_expired"] = True
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
    """An admin may make a second factor mandatory for auditors, who hold the export and audit powers."""
    return user.role == StaffRole.AUDITOR and instance_setting(TOTP_REQUIRED_FOR_AUDITORS) == "1"


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
                if request.environ.get("quorum.staff_expired"):
                    flash(_("You were signed out after a period of inactivity. Please sign in again."), "error")
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
    initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
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
