"""Staff sign-in (password, then an authenticator code if enrolled), sign-out, and the second factor itself."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from ..audit.log import record
from ..extensions import db, limiter
from ..models import StaffUser, utcnow
from ..rate_limits import current_account_key
from ..transactions import keep_on_refusal
from .access import (
    current_staff,
    end_sessions,
    must_enrol,
    renew_session,
    sign_in,
    sign_out,
    staff_required,
    totp_required,
)
from .passwords import burn_time, hash_password, needs_rehash, verify_password
from .routes import blueprint
from .second_factor import (
    SecretSeal,
    enrol,
    enrolled_context,
    grouped,
    matched_step,
    new_secret,
    qr_svg,
    remove,
    setup_context,
    setup_uri,
    use_code,
)

PENDING_SECONDS = 300
"""How long the second step of a sign-in waits for the authenticator code."""
_FAILED_GUESS = "quorum.failed_guess"


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _account_limit() -> str:
    return str(current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"])


def _failed(response: Response) -> bool:
    """Only refused attempts count against the limit: staff who sign in correctly are never locked out."""
    return response.status_code == 401


def _failed_guess(_response: Response) -> bool:
    """A wrong password or code on the second-factor pages (not a refusal of another kind)."""
    return bool(request.environ.get(_FAILED_GUESS))


def typed_email(form: Mapping[str, str]) -> str:
    return (form.get("email") or "").strip().lower()[:320]


def _account_signing_in() -> str:
    """The account a sign-in attempt is for: the typed address (known or not), then the one that owes a code."""
    if request.endpoint == "admin.login":
        return current_account_key(typed_email(request.form))
    user = _pending_user()
    return current_account_key(user.email if user is not None else None)


def _account_signed_in() -> str:
    user = current_staff()
    return current_account_key(user.email if user is not None else None)


# One budget per client network for both sign-in steps, so guessing codes costs as much as guessing passwords; and
# one per account, shared by both steps and the second-factor pages, so many networks cannot guess one password.
_sign_in_limit = limiter.shared_limit(_login_limit, scope="staff-sign-in", methods=["POST"], deduct_when=_failed)
_account_sign_in_limit = limiter.shared_limit(
    _account_limit, scope="staff-account", key_func=_account_signing_in, methods=["POST"], deduct_when=_failed
)
_account_second_factor_limit = limiter.shared_limit(
    _account_limit, scope="staff-account", key_func=_account_signed_in, methods=["POST"], deduct_when=_failed_guess
)


def safe_next(target: str | None) -> str:
    """Only a staff page on this site: never an open redirect (no scheme, host, backslash or control character)."""
    if target and target.startswith("/admin/") and target.isprintable() and " " not in target and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("admin.index")


def _after_sign_in(user: StaffUser, target: str | None) -> Response:
    if must_enrol(user):
        flash(_("Your role on this instance needs a second factor. Please set one up before you go on."), "error")
        return redirect(url_for("admin.totp"))
    return redirect(safe_next(target))


def _seal() -> SecretSeal:
    return current_app.extensions["quorum.second_factor_seal"]  # type: ignore[no-any-return]


def _refuse(template_values: dict[str, object]) -> ResponseReturnValue:
    return render_template("admin/login.html", **template_values), 401


@blueprint.route("/login", methods=["GET", "POST"])
@_sign_in_limit
@_account_sign_in_limit
def login() -> ResponseReturnValue:
    target = request.args.get("next")
    next_value = safe_next(target) if target else None
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(safe_next(target))
        return render_template("admin/login.html", step="password", next=next_value)
    email = typed_email(request.form)
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
@_account_sign_in_limit
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
    secret = _seal().open(user.totp_secret, enrolled_context(user.id))
    if secret is None:
        current_app.logger.warning("the second factor of staff account %d does not open: SECRET_KEY changed?", user.id)
        record(user.email, "staff.sign_in_failed", target=user.email, details={"reason": "second factor unreadable"})
        keep_on_refusal()
        return _refuse(
            {
                "step": "code",
                "error": _(
                    "Your second factor cannot be checked on this server. Ask an admin to remove it, "
                    "then set it up again."
                ),
            }
        )
    if not use_code(user, secret, request.form.get("totp") or "", time.time()):
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
    """Signing out ends every session of the account, so a copied cookie stops working too."""
    user = current_staff()
    if user is not None:
        record(user.email, "staff.sign_out", target=user.email)
        end_sessions(user)
    sign_out()
    flash(_("You are signed out."), "status")
    return redirect(url_for("admin.login"))


# --- the second factor: set up and removed with the password, guesses limited per account ---------------------------


def _setup_secret(user: StaffUser) -> str | None:
    """The secret this session is setting up, kept server-side and sealed to this session; None before one is made,
    or when another session (another window, or someone else with a copied cookie) started its own since."""
    setup_id = session.get("totp_setup")
    if not isinstance(setup_id, str):
        return None
    return _seal().open(user.totp_pending, setup_context(user.id, setup_id))


def _start_setup(user: StaffUser) -> str:
    setup_id = secrets.token_urlsafe(16)  # names the setup; the cookie never holds the secret itself
    secret = new_secret()
    user.totp_pending = _seal().seal(secret, setup_context(user.id, setup_id))
    session["totp_setup"] = setup_id
    return secret


def _wrong_guess(message: str) -> str:
    request.environ[_FAILED_GUESS] = True
    return message


def _render_totp(user: StaffUser, secret: str | None = None, error: str | None = None) -> ResponseReturnValue:
    values: dict[str, object] = {"user": user, "enrolled": bool(user.totp_secret), "error": error}
    if secret is not None:
        uri = setup_uri(secret, user.email)
        values.update(secret=grouped(secret), uri=uri, qr=Markup(qr_svg(uri)))  # noqa: S704 - drawn here, no input
    response = make_response(render_template("admin/account_totp.html", required=totp_required(user), **values))
    response.status_code = 422 if error else 200
    response.headers["Cache-Control"] = "no-store"  # the page shows a secret: no cache keeps it
    return response


@blueprint.route("/account/second-factor", methods=["GET", "POST"])
@staff_required(enrolment=True)
@_account_second_factor_limit
def totp() -> ResponseReturnValue:
    """Set up: a new secret (as text, setup link and QR code, all drawn here), confirmed with the password and a
    code. The secret waits sealed in the database, not in the cookie."""
    user = current_staff()
    assert user is not None
    if user.totp_secret:
        return _render_totp(user)
    secret = _setup_secret(user)
    error = None
    if request.method == "POST":
        if secret is None:
            error = _("The key below is new (the setup was started again elsewhere). Please add this one.")
            keep_on_refusal()  # keep the new key shown below
        elif not verify_password(user.password_hash, request.form.get("password") or ""):
            error = _wrong_guess(_("That password is not right."))
        else:
            step = matched_step(secret, request.form.get("totp") or "", time.time())
            if step is None:
                error = _wrong_guess(
                    _("That code is not right. Check the clock of your device and try the code shown now.")
                )
            else:
                enrol(user, secret, step, _seal())
                renew_session(user)
                flash(_("Your second factor is set up. From now on, signing in asks for a code."), "status")
                return redirect(url_for("admin.index"))
    if secret is None:
        secret = _start_setup(user)
    return _render_totp(user, secret, error)


@blueprint.post("/account/second-factor/disable")
@staff_required()
@_account_second_factor_limit
def totp_disable() -> ResponseReturnValue:
    """Turning the second factor off takes the password and a current code, so a left-open session or a copied
    cookie cannot do it."""
    user = current_staff()
    assert user is not None
    if not user.totp_secret:
        return redirect(url_for("admin.totp"))
    error = None
    secret = _seal().open(user.totp_secret, enrolled_context(user.id))
    if totp_required(user):
        error = _("Your role on this instance must keep a second factor. Ask an admin if you lost your device.")
    elif not verify_password(user.password_hash, request.form.get("password") or ""):
        error = _wrong_guess(_("That password is not right."))
    elif secret is None or not use_code(user, secret, request.form.get("totp") or "", time.time()):
        error = _wrong_guess(_("That code is not right. Please try the code shown now."))
    if error:
        return _render_totp(user, error=error)
    remove(user, actor=user.email, action="staff.totp_disable")
    renew_session(user)
    flash(_("Your second factor is turned off."), "status")
    return redirect(url_for("admin.totp"))
