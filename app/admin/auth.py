"""Staff sign-in and sign-out."""

from __future__ import annotations

import sqlalchemy as sa
from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..audit.log import record
from ..extensions import db
from ..models import StaffUser, utcnow
from .access import current_staff, sign_in, sign_out
from .passwords import burn_time, verify_password
from .routes import blueprint


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.index")


@blueprint.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(url_for("admin.index"))
        return render_template("admin/login.html")
    email = (request.form.get("email") or "").strip().lower()[:320]
    password = request.form.get("password") or ""
    user = db.session.scalar(sa.select(StaffUser).where(sa.func.lower(StaffUser.email) == email))
    if user is None or not user.active:
        burn_time(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok:
        record(email or "(empty)", "staff.sign_in_failed", target=email)
        db.session.commit()
        return render_template("admin/login.html", email=email,
                               error=_("That email address and password do not match an account.")), 401
    assert user is not None
    user.last_login_at = utcnow()
    record(user.email, "staff.sign_in")
    db.session.commit()
    sign_in(user)
    return redirect(_safe_next(request.args.get("next")))


@blueprint.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    user = current_staff()
    if user is not None:
        record(user.email, "staff.sign_out")
        db.session.commit()
    sign_out()
    return redirect(url_for("admin.login"))
