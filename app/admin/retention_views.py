"""Retention on the staff side: an auditor sees what the rules make due for one initiative, and purges it."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..audit import retention as service
from ..models import StaffRole
from .access import actor, initiative_for_staff, staff_required
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


@blueprint.post("/initiatives/<slug>/retention")
@staff_required(StaffRole.ADMIN, StaffRole.AUDITOR)
def retention_purge(slug: str) -> BaseResponse:
    """Delete what is due for this initiative, audit-logged under the auditor's name."""
    initiative = initiative_for_staff(slug)
    report = service.purge(confirm_max_age=current_app.config["CONFIRM_MAX_AGE"], only=initiative, actor=actor())
    if report.total:
        flash(_("Deleted: %(what)s.", what="; ".join(report.lines())), "success")
    else:
        flash(_("Nothing was due: nothing was deleted."), "success")
    return redirect(url_for("admin.retention", slug=slug))
