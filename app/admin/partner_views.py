"""Partner organisations on the staff side (organizers and admins of the initiative): adding and editing partners,
the sites that may frame the form and counter, each partner's links and page, and sealed hand-overs of the addresses
that asked for a partner's updates. Every change is in the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..audit.log import record
from ..errors import render_error
from ..exports.keys import SigningKeyMissing, instance_name, instance_signing_key
from ..exports.manifest import ExportKeyError
from ..links import links
from ..models import Initiative, Partner, StaffRole, utcnow
from ..partners import framing, handovers, organisations
from ..partners.logos import MAX_BYTES, Logo, LogoRefused, checked_logo
from ..partners.reports import partner_report, partner_rows
from ..partners.routes import kit
from .access import actor, initiative_for_staff, staff_required
from .routes import blueprint

MANAGERS = (StaffRole.ADMIN, StaffRole.ORGANIZER)


def _partner_or_404(initiative: Initiative, partner_id: int) -> Partner:
    partner = organisations.partner_by_id(initiative, partner_id)
    if partner is None:
        abort(404)
    return partner


def _uploaded_logo(errors: dict[str, str]) -> Logo | None:
    """The logo sent with the form, checked and re-encoded; None when no file was chosen."""
    upload = request.files.get("logo")
    if upload is None or not upload.filename:
        return None
    data = upload.stream.read(MAX_BYTES + 1)
    try:
        return checked_logo(data)
    except LogoRefused as refused:
        errors["logo"] = _(refused.message, **refused.params)  # type: ignore[arg-type]
        return None


def _list_page(
    initiative: Initiative,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    origins_text: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    origins = framing.origins_of(initiative.id)
    return render_template(
        "admin/partners.html",
        initiative=initiative,
        rows=partner_rows(initiative),
        form=form or {},
        errors=errors or {},
        origins_text="\n".join(origins) if origins_text is None else origins_text,
        origins=origins,
        kit=kit(initiative, None),
        max_logo_kb=MAX_BYTES // 1024,
    ), status


@blueprint.get("/initiatives/<slug>/partners")
@staff_required(*MANAGERS)
def partners(slug: str) -> tuple[str, int]:
    """The initiative's partners with what each brought, a form for a new one, and the sites that may frame."""
    return _list_page(initiative_for_staff(slug))


@blueprint.post("/initiatives/<slug>/partners")
@staff_required(*MANAGERS)
def partner_new(slug: str) -> BaseResponse | tuple[str, int]:
    initiative = initiative_for_staff(slug)
    errors: dict[str, str] = {}
    logo = _uploaded_logo(errors)
    try:
        code, fields = organisations.check_fields(request.form, new=True)
        if errors:
            raise organisations.PartnerError(errors)
        partner = organisations.create_partner(initiative, code, fields, logo, actor=actor(), now=utcnow())
    except organisations.PartnerError as error:
        return _list_page(initiative, request.form, {**error.errors, **errors}, status=422)
    flash(_("Partner %(name)s added: its links and code are below.", name=partner.name), "ok")
    return redirect(url_for("admin.partner", slug=slug, partner_id=partner.id))


@blueprint.post("/initiatives/<slug>/frame-origins")
@staff_required(*MANAGERS)
def frame_origins(slug: str) -> BaseResponse | tuple[str, int]:
    """The sites whose pages may frame the form and counter (one origin a line)."""
    initiative = initiative_for_staff(slug)
    text = request.form.get("origins", "")
    try:
        changes = framing.set_origins(initiative, framing.parse_origins(text), actor=actor())
    except framing.OriginsError as error:
        return _list_page(initiative, errors={"origins": str(error)}, origins_text=text, status=422)
    if changes.added or changes.removed:
        saved = len(framing.origins_of(initiative.id))
        flash(
            ngettext(
                "Saved: %(n)s site may frame the form and counter.",
                "Saved: %(n)s sites may frame the form and counter.",
                saved,
                n=format_decimal(saved),
            ),
            "ok",
        )
    else:
        flash(_("Nothing changed."), "ok")
    return redirect(url_for("admin.partners", slug=slug) + "#framing")


def _partner_page(
    initiative: Initiative,
    partner: Partner,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "admin/partner.html",
        initiative=initiative,
        partner=partner,
        row=partner_report(initiative, partner),
        form=form or {"name": partner.name, "website": partner.website},
        errors=errors or {},
        kit=kit(initiative, partner),
        report_url=links().external(
            "partners.report", token=organisations.report_token(str(current_app.config["SECRET_KEY"]), partner)
        ),
        handovers=handovers.handovers_of(partner),
        public_key=organisations.key_text(partner.public_key),
        max_logo_kb=MAX_BYTES // 1024,
        can_delete=not organisations.brought_anything(partner),
    ), status


@blueprint.get("/initiatives/<slug>/partners/<int:partner_id>")
@staff_required(*MANAGERS)
def partner(slug: str, partner_id: int) -> tuple[str, int]:
    initiative = initiative_for_staff(slug)
    return _partner_page(initiative, _partner_or_404(initiative, partner_id))


@blueprint.post("/initiatives/<slug>/partners/<int:partner_id>")
@staff_required(*MANAGERS)
def partner_save(slug: str, partner_id: int) -> BaseResponse | tuple[str, int]:
    """Name, website, a new logo or a new public key (the code stays: links already out must keep counting)."""
    initiative = initiative_for_staff(slug)
    partner = _partner_or_404(initiative, partner_id)
    errors: dict[str, str] = {}
    logo = _uploaded_logo(errors)
    try:
        _code, fields = organisations.check_fields(request.form, new=False)
        if errors:
            raise organisations.PartnerError(errors)
        changes = organisations.update_partner(initiative, partner, fields, logo, actor=actor())
    except organisations.PartnerError as error:
        return _partner_page(initiative, partner, request.form, {**error.errors, **errors}, status=422)
    flash(_("Saved.") if changes else _("Nothing changed."), "ok")
    return redirect(url_for("admin.partner", slug=slug, partner_id=partner.id))


@blueprint.post("/initiatives/<slug>/partners/<int:partner_id>/report-link")
@staff_required(*MANAGERS)
def partner_report_link(slug: str, partner_id: int) -> BaseResponse:
    """A new link to the partner's page; the old one stops working."""
    initiative = initiative_for_staff(slug)
    partner = _partner_or_404(initiative, partner_id)
    organisations.renew_report_link(initiative, partner, actor=actor())
    flash(_("The partner's page has a new link; the old one no longer works."), "ok")
    return redirect(url_for("admin.partner", slug=slug, partner_id=partner.id) + "#report")


def _handover_page(
    initiative: Initiative, partner: Partner, errors: Mapping[str, Any] | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "admin/partner_handover.html",
        initiative=initiative,
        partner=partner,
        row=partner_report(initiative, partner),
        public_key=organisations.key_text(partner.public_key),
        errors=errors or {},
    ), status


@blueprint.get("/initiatives/<slug>/partners/<int:partner_id>/handover")
@staff_required(*MANAGERS)
def partner_handover_confirm(slug: str, partner_id: int) -> tuple[str, int]:
    """The confirmation step: how many addresses, to which key, and that they are then deleted here."""
    initiative = initiative_for_staff(slug)
    return _handover_page(initiative, _partner_or_404(initiative, partner_id))


@blueprint.post("/initiatives/<slug>/partners/<int:partner_id>/handover")
@staff_required(*MANAGERS)
def partner_handover(slug: str, partner_id: int) -> BaseResponse | tuple[str, int]:
    initiative = initiative_for_staff(slug)
    partner = _partner_or_404(initiative, partner_id)
    if request.form.get("confirm") != "y":
        errors = {"confirm": _("Tick the box to confirm: the addresses are deleted here once sealed.")}
        return _handover_page(initiative, partner, errors, status=422)
    try:
        key = instance_signing_key()
    except (SigningKeyMissing, ExportKeyError) as error:
        return _handover_page(initiative, partner, {"handover": str(error)}, status=409)
    try:
        made = handovers.create_handover(
            initiative, partner, actor=actor(), now=utcnow(), signing_key=key, instance=instance_name()
        )
    except handovers.HandoverError as error:
        return _handover_page(initiative, partner, {"handover": str(error)}, status=409)
    flash(
        ngettext(
            "%(num)d address is sealed to %(partner)s and deleted here. Download the file and give it to them.",
            "%(num)d addresses are sealed to %(partner)s and deleted here. Download the file and give it to them.",
            made.addresses,
            partner=partner.name,
        ),
        "ok",
    )
    return redirect(url_for("admin.partner", slug=slug, partner_id=partner.id) + "#handovers")


@blueprint.get("/initiatives/<slug>/partners/<int:partner_id>/handovers/<int:handover_id>.zip")
@staff_required(*MANAGERS)
def partner_handover_download(slug: str, partner_id: int, handover_id: int) -> Response | tuple[str, int]:
    """The sealed file and its signed manifest as one .zip (audited); only the partner's private key opens it."""
    initiative = initiative_for_staff(slug)
    partner = _partner_or_404(initiative, partner_id)
    handover = handovers.find_handover(partner, handover_id)
    if handover is None:
        abort(404)
    if handover.sealed is None:
        return render_error(  # type: ignore[no-any-return]
            410, _("This hand-over's file was deleted under the retention rules. The partner should have it.")
        )
    record(
        actor(),
        "partner.handover_download",
        initiative=initiative,
        target=f"partner {partner.code}",
        details={"handover": handover.id, "manifest_sha256": handover.manifest_sha256},
    )
    name = f"{initiative.slug}-{partner.code}-handover-{handover.id}"
    response = Response(handovers.handover_zip(handover, name), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/initiatives/<slug>/partners/<int:partner_id>/delete")
@staff_required(*MANAGERS)
def partner_delete_confirm(slug: str, partner_id: int) -> tuple[str, int]:
    initiative = initiative_for_staff(slug)
    partner = _partner_or_404(initiative, partner_id)
    return render_template(
        "admin/partner_delete.html",
        initiative=initiative,
        partner=partner,
        errors={},
        can_delete=not organisations.brought_anything(partner),
    ), 200


@blueprint.post("/initiatives/<slug>/partners/<int:partner_id>/delete")
@staff_required(*MANAGERS)
def partner_delete(slug: str, partner_id: int) -> BaseResponse | tuple[str, int]:
    """Remove a partner added by mistake, with a reason; one that brought anything stays."""
    initiative = initiative_for_staff(slug)
    partner = _partner_or_404(initiative, partner_id)
    try:
        organisations.delete_partner(initiative, partner, request.form.get("reason", ""), actor=actor())
    except organisations.PartnerError as error:
        return render_template(
            "admin/partner_delete.html",
            initiative=initiative,
            partner=partner,
            errors=error.errors,
            can_delete=not organisations.brought_anything(partner),
            reason=request.form.get("reason", ""),
        ), 422
    flash(_("The partner is removed."), "ok")
    return redirect(url_for("admin.partners", slug=slug))
