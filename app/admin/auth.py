"""Staff sign-in (password, then an authenticator code if enrolled), sign-out, and the second factor itself."""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pyotp
import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..audit.log import record
from ..extensions import db, limiter
from ..models import StaffUser, utcnow
from ..transactions import keep_on_refusal
from .access import current_staff, must_enrol, sign_in, sign_out, staff_required, totp_required
from .passwords import burn_time, hash_password, needs_rehash, verify_password
from .routes import blueprint

PENDING_SECONDS = 300
"""How long the second step of a sign-in waits for the authenticator code."""
TOTP_ISSUER = "Quorum"


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _failed(response: Response) -> bool:
    """Only refused attempts count against the limit: staff who sign in correctly are never locked out."""
    return response.status_code == 401


# One budget per client address for both steps, so guessing codes costs as much as guessing passwords.
_sign_in_limit = limiter.shared_limit(_login_limit, scope="staff-sign-in", methods=["POST"], deduct_when=_failed)


def safe_next(target: str | None) -> str:
    """Only a staff page on this site: never an open redirect (no scheme, host, backslash or control character)."""
    if target and target.startswith("/admin/") and target.isprintable() and " " not in target and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("admin.index")


def _after_sign_in(user: StaffUser, target: str | None) -> Response:
    if must_enrol(user):
        flash(_("Auditors on this instance need a second factor. Please set one up before you go on."), "error")
        return redirect(url_for("admin.totp"))
    return redirect(safe_next(target))


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def matched_step(secret: str, code: str) -> int | None:
    """The 30-second step whose RFC 6238 code this is, allowing one step of clock drift either side."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = _totp(secret)
    now = int(time.time())
    for drift in (0, -1, 1):
        moment = now + drift * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
            return int(totp.timecode(datetime.fromtimestamp(moment, UTC)))
    return None


def code_matches(secret: str, code: str) -> bool:
    return matched_step(secret, code) is not None


def use_code(user: StaffUser, code: str) -> bool:
    """Accept a code once: its step must be newer than the last one this account used (no replay)."""
    assert user.totp_secret is not None
    step = matched_step(user.totp_secret, code)
    if step is None:
        return False
    taken = db.session.execute(
        sa.update(StaffUser)
        .where(
            StaffUser.id == user.id,
            sa.or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(taken == 1)


def _refuse(template_values: dict[str, object]) -> ResponseReturnValue:
    return render_template("admin/login.html", **template_values), 401


@blueprint.route("/login", methods=["GET", "POST"])
@_sign_in_limit
def login() -> ResponseReturnValue:
    target = request.args.get("next")
    next_value = safe_next(target) if target else None
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(safe_next(target))
        return render_template("admin/login.html", step="password", next=next_value)
    email = (request.form.get("email") or "").strip().lower()[:320]
    password = request.form.get("password") or ""
    user = db.session.scalar(sa.select(StaffUser).where(sa.func.lower(StaffUser.email) == email)) if email else None
    if user is None or not user.active:
        burn_time(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok:
        if user is None:
            # The typed address is not logged: people type passwords into the wrong field, and the log is forever.
            record("anonymous", "staff.sign_in_failed", details={"reason": "unknown account"})
        else:
            record(
                user.email,
                "staff.sign_in_failed",
                target=user.email,
                details={"reason": "inactive account" if not user.active else "wrong password"},
            )
        keep_on_refusal()
        sign_out()
        return _refuse(
            {
                "step": "password",
                "email": email,
                "next": next_value,
                "error": _("That email address and password do not match an active account."),
            }
        )
    assert user is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.totp_secret:
        session.clear()
        session.update(
            {"staff_pending": user.id, "staff_pending_at": int(time.time()), "staff_pending_next": next_value}
        )
        return redirect(url_for("admin.login_code"))
    user.last_login_at = utcnow()
    record(user.email, "staff.sign_in", target=user.email, details={"second_factor": False})
    sign_in(user)
    return _after_sign_in(user, next_value)


def _pending_user() -> StaffUser | None:
    """The staff member who gave the right password and now owes a code, within PENDING_SECONDS."""
    user_id = session.get("staff_pending")
    if user_id is None or time.time() - int(session.get("staff_pending_at", 0)) > PENDING_SECONDS:
        return None
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.active or not user.totp_secret:
        return None
    return user


@blueprint.route("/login/code", methods=["GET", "POST"])
@_sign_in_limit
def login_code() -> ResponseReturnValue:
    user = _pending_user()
    if user is None:
        for key in ("staff_pending", "staff_pending_at", "staff_pending_next"):
            session.pop(key, None)
        if current_staff() is not None:
            return redirect(url_for("admin.index"))
        if request.method == "POST":
            flash(_("The sign-in took too long. Please start again."), "error")
        return redirect(url_for("admin.login"))
    if request.method == "GET":
        return render_template("admin/login.html", step="code")
    if not use_code(user, request.form.get("totp") or ""):
        record(user.email, "staff.sign_in_failed", target=user.email, details={"reason": "wrong or used code"})
        keep_on_refusal()
        return _refuse({"step": "code", "error": _("That code is not right. Please try the code shown now.")})
    target = session.get("staff_pending_next")
    user.last_login_at = utcnow()
    record(user.email, "staff.sign_in", target=user.email, details={"second_factor": True})
    sign_in(user)
    return _after_sign_in(user, target)


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    user = current_staff()
    if user is not None:
        record(user.email, "staff.sign_out", target=user.email)
    sign_out()
    flash(_("You are signed out."), "status")
    return redirect(url_for("admin.login"))


@blueprint.route("/account/second-factor", methods=["GET", "POST"])
@staff_required(enrolment=True)
def totp() -> ResponseReturnValue:
    """Enrol: show a new secret (and its otpauth URI as text, no third-party QR service), confirm with a code."""
    user = current_staff()
    assert user is not None
    if user.totp_secret:
        return render_template("admin/account_totp.html", user=user, enrolled=True, required=totp_required(user))
    secret = session.get("totp_setup")
    if not isinstance(secret, str) or len(secret) != 32:
        secret = pyotp.random_base32()
        session["totp_setup"] = secret
    error = None
    if request.method == "POST":
        if code_matches(secret, request.form.get("totp") or ""):
            user.totp_secret = secret
            record(user.email, "staff.totp_enrol", target=user.email)
            session.pop("totp_setup", None)
            flash(_("Your second factor is set up. From now on, signing in asks for a code."), "status")
            return redirect(url_for("admin.index"))
        error = _("That code is not right. Check the clock of your device and try the code shown now.")
    uri = _totp(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template(
        "admin/account_totp.html",
        user=user,
        enrolled=False,
        secret=grouped,
        uri=uri,
        error=error,
        required=totp_required(user),
    ), (422 if error else 200)


@blueprint.post("/account/second-factor/disable")
@staff_required()
def totp_disable() -> ResponseReturnValue:
    """Turning the second factor off takes a current code, so a left-open session cannot do it silently."""
    user = current_staff()
    assert user is not None
    if not user.totp_secret:
        return redirect(url_for("admin.totp"))
    error = None
    if totp_required(user):
        error = _("Auditors on this instance must keep a second factor. Ask an admin if you lost your device.")
    elif not code_matches(user.totp_secret, request.form.get("totp") or ""):
        error = _("That code is not right. Please try the code shown now.")
    if error:
        return render_template(
            "admin/account_totp.html", user=user, enrolled=True, error=error, required=totp_required(user)
        ), 422
    user.totp_secret = None
    record(user.email, "staff.totp_disable", target=user.email)
    flash(_("Your second factor is turned off."), "status")
    return redirect(url_for("admin.totp"))
