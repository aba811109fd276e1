"""Retention on the staff side: an auditor sees what the rules make due for one initiative, and purges it."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..audit import retention as service
from ..models import StaffRole
from .access import actor, initiative_for_staff, staff_required
from .confirmation import Confirmation, Confirmed, ask
from .routes import blueprint


@blueprint.get("/initiatives/<slug>/retention")
@staff_required(StaffRole.ADMIN, StaffRole.AUDITOR)
def retention(slug: str) -> str:
    """The deadlines and a dry run: what a purge would delete now; changes nothing."""
    initiative = initiative_for_staff(slug)
    report = service.purge(dry_run=True, confirm_max_age=current_app.config["CONFIRM_MAX_AGE"], only=initiative)
    return render_template(
        "admin/retention.html",
        initiative=initiative,
        counts=report.counts.get(initiative.slug, {}),
        categories=service.CATEGORIES,
        statements_deadline=service.statements_deadline(initiative),
        subscribers_deadline=service.subscribers_deadline(initiative),
    )


@blueprint.route("/initiatives/<slug>/retention/purge", methods=["GET", "POST"])
@staff_required(StaffRole.ADMIN, StaffRole.AUDITOR)
def retention_purge(slug: str) -> BaseResponse | tuple[str, int]:
    """Delete what is due for this initiative, once confirmed with a reason; audit-logged under the staff member's
    name and reason."""
    initiative = initiative_for_staff(slug)
    max_age = current_app.config["CONFIRM_MAX_AGE"]
    due = service.purge(dry_run=True, confirm_max_age=max_age, only=initiative)
    counts = due.counts.get(initiative.slug, {})
    confirmation = Confirmation(
        heading=_("Delete what is due now: %(title)s", title=initiative.title),
        consequences=(
            _("Everything listed below is deleted from the database for good: no backup in Quorum brings it back."),
            _("Deleted statements leave no trace but the counts, which stay as the historical count."),
        ),
        button=_("Delete for good"),
        back=url_for("admin.retention", slug=slug),
        facts=tuple(
            (service.CATEGORIES[key], format_decimal(counts[key])) for key in service.CATEGORIES if key in counts
        )
        or ((_("Due now"), _("Nothing is due now.")),),
    )
    answer = ask(confirmation)
    if not isinstance(answer, Confirmed):
        return answer
    report = service.purge(confirm_max_age=max_age, only=initiative, actor=actor(), reason=answer.reason)
    if report.total:
        flash(_("Deleted: %(what)s.", what="; ".join(report.lines())), "success")
    else:
        flash(_("Nothing was due: nothing was deleted."), "success")
    return redirect(url_for("admin.retention", slug=slug))
