"""Staff accounts, managed by admins (and by `flask users create`): every change goes into the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..audit.log import record
from ..database import insert_unless_conflict
from ..extensions import db
from ..models import Initiative, InstanceSetting, StaffRole, StaffUser, utcnow
from .access import TOTP_REQUIRED_SETTINGS, actor, current_staff, end_sessions, instance_setting, staff_required
from .confirmation import Confirmation, Confirmed, Field, ask
from .confirmation import page as confirmation_page
from .passwords import hash_password, password_problem
from .routes import blueprint
from .second_factor import remove


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why, in the staff member's words."""


# --- services: plain values in, domain errors out, never commit -------------------------------------------------


def normalize_email(raw: str) -> str:
    """One spelling per address (lower case), so the unique constraint catches a duplicate in any case."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise AccountError(_("%(email)s is not a valid email address.", email=repr(raw))) from error


def check_role(role: str) -> str:
    if role not in tuple(StaffRole):
        raise AccountError(
            _("The role must be one of %(roles)s, not %(role)s.", roles=", ".join(tuple(StaffRole)), role=repr(role))
        )
    return role


def initiatives_by_slug(slugs: Iterable[str]) -> list[Initiative]:
    """The initiatives named, in slug order; an unknown slug is an error, not silently dropped."""
    wanted = sorted(set(slugs))
    if not wanted:
        return []
    found = list(db.session.scalars(sa.select(Initiative).where(Initiative.slug.in_(wanted)).order_by(Initiative.slug)))
    missing = sorted(set(wanted) - {initiative.slug for initiative in found})
    if missing:
        raise AccountError(_("There is no initiative %(slugs)s.", slugs=", ".join(repr(s) for s in missing)))
    return found


def email_taken(email: str) -> bool:
    return db.session.scalar(sa.select(StaffUser.id).where(sa.func.lower(StaffUser.email) == email)) is not None


def create_account(*, email: str, role: str, password: str, initiatives: list[Initiative], actor: str) -> StaffUser:
    """Add a staff account; the database's unique email, not a read-then-write, refuses a duplicate."""
    email = normalize_email(email)
    check_role(role)
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    if role == StaffRole.ADMIN:
        initiatives = []  # admins see every initiative
    values = {
        "email": email,
        "password_hash": hash_password(password),
        "role": role,
        "active": True,
        "created_at": utcnow(),
    }
    if not insert_unless_conflict(StaffUser.__table__, values):
        raise AccountError(_("An account with the address %(email)s exists already.", email=email))
    user = db.session.scalars(sa.select(StaffUser).where(StaffUser.email == email)).one()
    user.initiatives = list(initiatives)
    record(
        actor,
        "account.create",
        target=email,
        details={"role": role, "initiatives": [initiative.slug for initiative in initiatives]},
    )
    for initiative in initiatives:
        record(actor, "account.access_given", initiative=initiative, target=email)
    return user


def change_account(
    user: StaffUser, *, role: str, initiatives: list[Initiative], actor: str, acting_id: int | None
) -> dict[str, Any]:
    """Change role and initiatives; returns what changed (empty: nothing to record)."""
    check_role(role)
    if user.id == acting_id and role != user.role:
        raise AccountError(_("You cannot change your own role; another admin can."))
    if role == StaffRole.ADMIN:
        initiatives = []
    before = {initiative.slug: initiative for initiative in user.initiatives}
    after = {initiative.slug: initiative for initiative in initiatives}
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changes: dict[str, Any] = {}
    if role != user.role:
        changes["role"] = {"from": user.role, "to": role}
    if added or removed:
        changes["initiatives"] = {"added": added, "removed": removed}
    if not changes:
        return changes
    if role != user.role:
        end_sessions(user)  # a session signed in under the old role does not carry on under the new one
    user.role = role
    user.initiatives = [after[slug] for slug in sorted(after)]
    record(actor, "account.change", target=user.email, details=changes)
    # One entry per initiative too, so each initiative's own audit trail shows who was given it.
    for slug in added:
        record(actor, "account.access_given", initiative=after[slug], target=user.email)
    for slug in removed:
        record(actor, "account.access_removed", initiative=before[slug], target=user.email)
    return changes


def set_active(user: StaffUser, active: bool, *, actor: str, acting_id: int | None, reason: str = "") -> bool:
    """Deactivate or reactivate; an admin cannot lock themselves out. Returns whether anything changed."""
    if not active and user.id == acting_id:
        raise AccountError(_("You cannot deactivate your own account; another admin can."))
    if user.active == active:
        return False
    user.active = active
    if not active:
        end_sessions(user)  # else reactivating would bring its old sessions back
    record(actor, "account.reactivate" if active else "account.deactivate", target=user.email, reason=reason)
    return True


def reset_password(user: StaffUser, password: str, *, actor: str, reason: str = "") -> None:
    """A new password set by an admin; the old one's sessions end with it."""
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(password)
    end_sessions(user)
    record(actor, "account.password_reset", target=user.email, reason=reason)


def reset_second_factor(user: StaffUser, *, actor: str, reason: str = "") -> bool:
    """For a staff member who lost their device: their sessions end, and they enrol again at the next sign-in."""
    return remove(user, actor=actor, action="account.totp_reset", reason=reason)


def set_totp_required(role: StaffRole, required: bool, *, actor: str) -> bool:
    """Make a second factor mandatory for a role (auditors, admins), or optional again; whether it changed."""
    key = TOTP_REQUIRED_SETTINGS[role]
    value = "1" if required else "0"
    setting = db.session.get(InstanceSetting, key)
    before = setting.value if setting is not None else "0"
    if before == value:
        return False
    if setting is None:
        db.session.add(InstanceSetting(key=key, value=value))
    else:
        setting.value = value
    record(actor, "settings.change", target=key, details={"from": before, "to": value})
    return True


# --- views: admins only -------------------------------------------------------------------------------------------


def _account(user_id: int) -> StaffUser:
    user = db.session.get(StaffUser, user_id)
    if user is None:
        abort(404)
    return user


def _all_initiatives() -> list[Initiative]:
    return list(db.session.scalars(sa.select(Initiative).order_by(Initiative.slug)))


def _acting_id() -> int | None:
    user = current_staff()
    return user.id if user is not None else None


@blueprint.get("/accounts")
@staff_required(StaffRole.ADMIN)
def accounts() -> str:
    users = list(db.session.scalars(sa.select(StaffUser).order_by(StaffUser.email)))
    required = {role: instance_setting(key) == "1" for role, key in TOTP_REQUIRED_SETTINGS.items()}
    without = {
        role: [u for u in users if u.role == role and u.active and not u.totp_secret] for role in TOTP_REQUIRED_SETTINGS
    }
    return render_template(
        "admin/accounts.html", users=users, totp_required=required, without=without, settings=TOTP_REQUIRED_SETTINGS
    )


@blueprint.route("/accounts/new", methods=["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def account_new() -> ResponseReturnValue:
    form = {"email": "", "role": StaffRole.ORGANIZER, "initiatives": []}
    error = None
    if request.method == "POST":
        form = {
            "email": request.form.get("email", ""),
            "role": request.form.get("role", ""),
            "initiatives": request.form.getlist("initiatives"),
        }
        try:
            user = create_account(
                email=str(form["email"]),
                role=str(form["role"]),
                password=request.form.get("password", ""),
                initiatives=initiatives_by_slug(form["initiatives"]),
                actor=actor(),
            )
        except AccountError as failure:
            error = str(failure)
        else:
            flash(_("Account %(email)s created.", email=user.email), "status")
            return redirect(url_for("admin.accounts"))
    return render_template(
        "admin/account_new.html", form=form, error=error, roles=tuple(StaffRole), initiatives=_all_initiatives()
    ), (422 if error else 200)


def _render_edit(user: StaffUser, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    current = current_staff()
    return render_template(
        "admin/account_edit.html",
        user=user,
        error=error,
        roles=tuple(StaffRole),
        initiatives=_all_initiatives(),
        given={i.slug for i in user.initiatives},
        is_self=current is not None and current.id == user.id,
    ), status


@blueprint.route("/accounts/<int:user_id>", methods=["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def account_edit(user_id: int) -> ResponseReturnValue:
    user = _account(user_id)
    if request.method == "GET":
        return _render_edit(user)
    try:
        changes = change_account(
            user,
            role=request.form.get("role", ""),
            initiatives=initiatives_by_slug(request.form.getlist("initiatives")),
            actor=actor(),
            acting_id=_acting_id(),
        )
    except AccountError as failure:
        return _render_edit(user, str(failure), 422)
    flash(_("Account %(email)s changed.", email=user.email) if changes else _("Nothing changed."), "status")
    return redirect(url_for("admin.account_edit", user_id=user.id))


@blueprint.route("/accounts/<int:user_id>/deactivate", methods=["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def account_deactivate(user_id: int) -> ResponseReturnValue:
    """Deactivate once confirmed with a reason: every session of the account ends at once."""
    user = _account(user_id)
    if user.id == _acting_id():
        return _render_edit(user, _("You cannot deactivate your own account; another admin can."), 422)
    if not user.active:
        return redirect(url_for("admin.account_edit", user_id=user.id))
    answer = ask(
        Confirmation(
            heading=_("Deactivate %(email)s", email=user.email),
            consequences=(
                _("The account can no longer sign in, and every session it has open ends at its next request."),
                _("Its role and initiatives are kept: another admin can reactivate it, but no session comes back."),
            ),
            button=_("Deactivate the account"),
            back=url_for("admin.account_edit", user_id=user.id),
            facts=_account_facts(user),
        )
    )
    if not isinstance(answer, Confirmed):
        return answer
    try:
        set_active(user, False, actor=actor(), acting_id=_acting_id(), reason=answer.reason)
    except AccountError as failure:
        return _render_edit(user, str(failure), 422)
    flash(_("Account %(email)s deactivated.", email=user.email), "status")
    return redirect(url_for("admin.account_edit", user_id=user.id))


@blueprint.post("/accounts/<int:user_id>/reactivate")
@staff_required(StaffRole.ADMIN)
def account_reactivate(user_id: int) -> ResponseReturnValue:
    """Reactivate: undoes a deactivation (the old sessions stay ended), so it needs no confirmation step."""
    user = _account(user_id)
    if set_active(user, True, actor=actor(), acting_id=_acting_id()):
        flash(_("Account %(email)s reactivated.", email=user.email), "status")
    return redirect(url_for("admin.account_edit", user_id=user.id))


def _account_facts(user: StaffUser) -> tuple[tuple[str, str], ...]:
    return ((_("Account"), user.email), (_("Role"), user.role))


@blueprint.route("/accounts/<int:user_id>/password", methods=["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def account_password(user_id: int) -> ResponseReturnValue:
    """A new password set by an admin, typed on the confirmation page with the reason."""
    user = _account(user_id)
    confirmation = Confirmation(
        heading=_("Reset the password of %(email)s", email=user.email),
        consequences=(
            _("The old password stops working at once, and every session of this account ends."),
            _("Tell them the new password by another channel; they cannot see it anywhere in Quorum."),
        ),
        button=_("Reset the password"),
        back=url_for("admin.account_edit", user_id=user.id),
        fields=(
            Field(
                "password",
                _("New password"),
                type="password",
                hint=_("At least 12 characters."),
                autocomplete="new-password",
            ),
        ),
        facts=_account_facts(user),
    )
    answer = ask(confirmation)
    if not isinstance(answer, Confirmed):
        return answer
    try:
        reset_password(user, answer.values["password"], actor=actor(), reason=answer.reason)
    except AccountError as failure:
        return confirmation_page(confirmation, 422, {"password": str(failure)})
    flash(
        _("The password of %(email)s is reset; tell them the new one by another channel.", email=user.email), "status"
    )
    return redirect(url_for("admin.account_edit", user_id=user.id))


@blueprint.route("/accounts/<int:user_id>/second-factor/reset", methods=["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def account_totp_reset(user_id: int) -> ResponseReturnValue:
    """Remove a staff member's second factor (a lost device), once confirmed with a reason."""
    user = _account(user_id)
    if not user.totp_secret:
        return redirect(url_for("admin.account_edit", user_id=user.id))
    answer = ask(
        Confirmation(
            heading=_("Remove the second factor of %(email)s", email=user.email),
            consequences=(
                _("Their authenticator app no longer works here, and every session of this account ends."),
                _(
                    "Until they set up a new one, their password alone signs them in (or, where their role must use "
                    "a second factor, sends them to set one up)."
                ),
            ),
            button=_("Remove the second factor"),
            back=url_for("admin.account_edit", user_id=user.id),
            facts=_account_facts(user),
        )
    )
    if not isinstance(answer, Confirmed):
        return answer
    if reset_second_factor(user, actor=actor(), reason=answer.reason):
        flash(_("The second factor of %(email)s is removed; they can set up a new one.", email=user.email), "status")
    return redirect(url_for("admin.account_edit", user_id=user.id))


@blueprint.post("/accounts/settings")
@staff_required(StaffRole.ADMIN)
def account_settings() -> ResponseReturnValue:
    messages = {
        (StaffRole.AUDITOR, True): _("Auditors must now use a second factor."),
        (StaffRole.AUDITOR, False): _("A second factor is now optional for auditors."),
        (StaffRole.ADMIN, True): _("Admins must now use a second factor."),
        (StaffRole.ADMIN, False): _("A second factor is now optional for admins."),
    }
    for role, key in TOTP_REQUIRED_SETTINGS.items():
        required = request.form.get(key) == "1"
        if set_totp_required(role, required, actor=actor()):
            flash(messages[role, required], "status")
    return redirect(url_for("admin.accounts"))
