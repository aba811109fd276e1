"""Who may see a staff page: the signed-in staff member, their role, and the initiatives they were given.

Every staff view is wrapped in `staff_required(...)`, which records the allowed roles on the view so the role
matrix test can read them from the route map: a new route cannot be forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, g, redirect, request, session, url_for

from ..extensions import db
from ..models import Initiative, StaffUser

ALL_ROLES = frozenset({"admin", "organizer", "auditor"})
PUBLIC_STAFF_ENDPOINTS = {"admin.login", "admin.export_public_key"}
"""Staff-side endpoints that anyone may open (the sign-in page, the export key at its stable URL)."""

F = TypeVar("F", bound=Callable[..., Any])


def sign_in(user: StaffUser) -> None:
    session.clear()
    session["staff_id"] = user.id
    session["staff_seen"] = int(time.time())
    session.permanent = False


def sign_out() -> None:
    session.pop("staff_id", None)
    session.pop("staff_seen", None)


def current_staff() -> StaffUser | None:
    """The signed-in, active staff member, or None; an idle session expires (STAFF_SESSION_IDLE_SECONDS)."""
    if "staff" in g:
        return g.staff  # type: ignore[no-any-return]
    user: StaffUser | None = None
    staff_id = session.get("staff_id")
    if staff_id is not None:
        seen = int(session.get("staff_seen", 0))
        if time.time() - seen > current_app.config["STAFF_SESSION_IDLE_SECONDS"]:
            sign_out()
            g.staff_expired = True
        else:
            user = db.session.get(StaffUser, staff_id)
            if user is None or not user.active:
                sign_out()
                user = None
            else:
                session["staff_seen"] = int(time.time())
    g.staff = user
    return user


def staff_required(*roles: str) -> Callable[[F], F]:
    """Anonymous: redirect to sign-in. Signed in with another role: 403."""
    allowed = frozenset(roles) if roles else ALL_ROLES
    unknown = allowed - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_staff()
            if user is None:
                return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))
            if user.role not in allowed:
                abort(403)
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


def actor() -> str:
    """How the audit log names the signed-in staff member."""
    user = current_staff()
    return user.email if user is not None else "anonymous"
