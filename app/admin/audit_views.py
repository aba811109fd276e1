"""The audit log in the browser: auditors (their initiatives) and admins (everything) filter and page through it,
and see whether the hash chain verifies."""

from __future__ import annotations

from datetime import date

from flask import abort, render_template, request
from flask_babel import gettext as _

from ..audit.browse import AuditFilter, actions, search
from ..audit.log import verify_chain
from ..models import StaffRole
from .access import current_staff, initiative_for_staff, staff_required, visible_initiatives
from .routes import blueprint

INSTANCE = "_instance"  # the filter value for entries of no initiative (sign-ins, accounts): admins only


def _date_arg(name: str, errors: dict[str, str]) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Give a date as YYYY-MM-DD.")
        return None


@blueprint.get("/audit")
@staff_required(StaffRole.ADMIN, StaffRole.AUDITOR)
def audit_log() -> str:
    """Newest first; an auditor sees the entries of the initiatives they were given."""
    user = current_staff()
    assert user is not None
    initiatives = visible_initiatives(user)
    slug = (request.args.get("initiative") or "").strip()
    instance_only = slug == INSTANCE
    if instance_only and user.role != StaffRole.ADMIN:
        abort(403)
    if slug and not instance_only:
        scope: list[int] | None = [initiative_for_staff(slug).id]
    else:
        scope = None if user.role == StaffRole.ADMIN else [i.id for i in initiatives]
    errors: dict[str, str] = {}
    wanted = AuditFilter(
        initiative_ids=scope,
        instance_only=instance_only,
        action=(request.args.get("action") or "").strip(),
        actor=(request.args.get("actor") or "").strip()[:320],
        since=_date_arg("since", errors),
        until=_date_arg("until", errors),
    )
    page = request.args.get("page", "1")
    result = search(wanted, int(page) if page.isdigit() else 1)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/audit.html",
        page=result,
        chain=verify_chain(),
        initiatives=initiatives,
        actions=actions(),
        selected=slug,
        args=request.args,
        errors=errors,
        query=query,
        instance_value=INSTANCE,
        is_admin=user.role == StaffRole.ADMIN,
    )
