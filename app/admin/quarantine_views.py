"""Quarantine on the staff side: organizers and auditors of an initiative (and admins) set statements aside by
criteria with a written reason, preview how many first, apply, and release again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..models import FingerprintKind, Initiative, StaffRole
from ..statements import quarantine as service
from .access import actor, initiative_for_staff, staff_required
from .confirmation import Confirmation, Confirmed, ask
from .routes import blueprint

ROLES = tuple(StaffRole)


def _page(initiative: Initiative, form: Mapping[str, str], status: int = 200, **extra: Any) -> tuple[str, int]:
    html = render_template(
        "admin/quarantine.html",
        initiative=initiative,
        form=form,
        quarantines=service.quarantines(initiative),
        shared_networks=service.shared_fingerprints(initiative, FingerprintKind.NETWORK),
        shared_emails=service.shared_fingerprints(initiative, FingerprintKind.EMAIL),
        errors=extra.pop("errors", {}),
        **extra,
    )
    return html, status


@blueprint.get("/initiatives/<slug>/quarantine")
@staff_required(*ROLES)
def quarantine(slug: str) -> tuple[str, int]:
    """The criteria form (pre-filled from the query string, e.g. a fingerprint picked below) and past quarantines."""
    return _page(initiative_for_staff(slug), request.args)


@blueprint.post("/initiatives/<slug>/quarantine/preview")
@staff_required(*ROLES)
def quarantine_preview(slug: str) -> tuple[str, int]:
    """How many statements per member state the criteria would set aside; changes nothing."""
    initiative = initiative_for_staff(slug)
    try:
        criteria = service.parse_criteria(initiative, request.form)
    except service.CriteriaError as error:
        return _page(initiative, request.form, 422, errors=error.errors)
    return _page(initiative, request.form, tally=service.preview(initiative, criteria), criteria=criteria)


@blueprint.post("/initiatives/<slug>/quarantine")
@staff_required(*ROLES)
def quarantine_apply(slug: str) -> BaseResponse | tuple[str, int]:
    initiative = initiative_for_staff(slug)
    try:
        criteria = service.parse_criteria(initiative, request.form)
        record, tally = service.apply(initiative, criteria, request.form.get("reason", ""), actor())
    except service.CriteriaError as error:
        return _page(initiative, request.form, 422, errors=error.errors)
    except service.QuarantineError as error:
        return _page(initiative, request.form, 422, errors={"reason": str(error)})
    flash(
        _(
            "Quarantine %(id)s set aside %(total)s statements (%(confirmed)s confirmed, no longer counted).",
            id=record.id,
            total=tally.total,
            confirmed=tally.confirmed,
        ),
        "ok",
    )
    return redirect(url_for("admin.quarantine", slug=slug))


@blueprint.route("/initiatives/<slug>/quarantine/<int:quarantine_id>/release", methods=["GET", "POST"])
@staff_required(*ROLES)
def quarantine_release(slug: str, quarantine_id: int) -> BaseResponse | tuple[str, int]:
    """Put a quarantine's statements back on the counts, once confirmed with a reason."""
    initiative = initiative_for_staff(slug)
    held = next((item for item in service.quarantines(initiative) if item.quarantine.id == quarantine_id), None)
    if held is None:
        abort(404)
    record = held.quarantine
    if record.released_at is not None:
        flash(_("This quarantine was released already."), "error")
        return redirect(url_for("admin.quarantine", slug=slug))
    confirmed, pending = held.held_confirmed, held.held_unconfirmed
    answer = ask(
        Confirmation(
            heading=_("Release quarantine %(id)s", id=record.id),
            consequences=(
                ngettext(
                    "%(confirmed)s confirmed statement counts again at once, in every public count.",
                    "%(confirmed)s confirmed statements count again at once, in every public count.",
                    confirmed,
                    confirmed=format_decimal(confirmed),
                ),
                ngettext(
                    "%(pending)s pending statement counts once its signer confirms it.",
                    "%(pending)s pending statements count once their signers confirm them.",
                    pending,
                    pending=format_decimal(pending),
                ),
                _("The quarantine cannot be applied again: to set these statements aside again, apply a new one."),
            ),
            button=_("Release the statements"),
            back=url_for("admin.quarantine", slug=slug),
            facts=(
                (_("Criteria"), held.criteria.describe()),
                (_("Reason:"), record.reason),
                (_("Set aside"), f"{record.created_at:%Y-%m-%d %H:%M} UTC, {record.created_by}"),
            ),
        )
    )
    if not isinstance(answer, Confirmed):
        return answer
    try:
        tally = service.release(initiative, record, answer.reason, actor())
    except service.QuarantineError as error:
        flash(_("Quarantine %(id)s was not released: %(reason)s", id=quarantine_id, reason=str(error)), "error")
        return redirect(url_for("admin.quarantine", slug=slug))
    flash(
        _(
            "Quarantine %(id)s released %(total)s statements (%(confirmed)s confirmed, counted again).",
            id=quarantine_id,
            total=tally.total,
            confirmed=tally.confirmed,
        ),
        "ok",
    )
    return redirect(url_for("admin.quarantine", slug=slug))
