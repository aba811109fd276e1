"""Staff views: exports for auditors (create, list, download as .zip) and the export verify key at a stable URL."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..audit.log import record
from ..errors import render_error
from ..exports.archive import stream_zip
from ..exports.create import ExportError, store_export
from ..exports.keys import instance_name, instance_verify_key
from ..exports.manifest import verify_key_text
from ..exports.store import StoredExport
from ..exports.verify import verify_export
from ..extensions import db
from ..models import ExportRecord, StaffRole
from .access import actor, initiative_for_staff, staff_required
from .routes import blueprint


@blueprint.get("/export-key")
def export_public_key() -> Response:
    """Public: anyone holding a manifest checks who signed it against this key (`export verify --key-file`)."""
    key = instance_verify_key()
    if key is None:
        abort(404)
    response = Response(verify_key_text(key, instance_name()), mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@blueprint.get("/initiatives/<slug>/exports")
@staff_required(StaffRole.AUDITOR, StaffRole.ADMIN)
def exports(slug: str) -> str:
    """Past exports of one initiative, a form to make a new one, and the key that signs them."""
    initiative = initiative_for_staff(slug)
    records = list(
        db.session.scalars(
            sa.select(ExportRecord).where(ExportRecord.initiative_id == initiative.id).order_by(ExportRecord.id.desc())
        )
    )
    key = instance_verify_key()
    return render_template(
        "admin/exports.html",
        initiative=initiative,
        records=records,
        verify_key=key,
        key_text=verify_key_text(key, instance_name()) if key else "",
    )


@blueprint.post("/initiatives/<slug>/exports")
@staff_required(StaffRole.AUDITOR, StaffRole.ADMIN)
def export_create(slug: str) -> BaseResponse:
    initiative = initiative_for_staff(slug)
    countries = [code for code in request.form.getlist("country") if code.strip()]
    try:
        result = store_export(initiative, actor(), countries or None)
    except ExportError as error:
        flash(_("The export could not be made: %(reason)s", reason=str(error)), "error")
        return redirect(url_for("admin.exports", slug=slug))
    flash(
        _(
            "Export %(id)s is ready: %(count)s statements in %(countries)s member states.",
            id=result.record.id,
            count=result.manifest["totals"]["statements"],
            countries=result.manifest["totals"]["countries"],
        ),
        "ok",
    )
    return redirect(url_for("admin.exports", slug=slug))


@blueprint.get("/initiatives/<slug>/exports/<int:export_id>.zip")
@staff_required(StaffRole.AUDITOR, StaffRole.ADMIN)
def export_download(slug: str, export_id: int):  # type: ignore[no-untyped-def]
    """The manifest and the country files as one .zip from the database (any app server can serve it), checked
    again before it leaves the server."""
    initiative = initiative_for_staff(slug)
    export = db.session.get(ExportRecord, export_id)
    if export is None or export.initiative_id != initiative.id:
        abort(404)
    if not export.stored:
        # written by `export create --out` into a folder of whoever ran it: not the web's to serve
        return render_error(410, _("This export was written to a folder by the command line, not kept here."))
    key = instance_verify_key()
    if key is None:
        return render_error(503, _("No export signing key is configured, so no export can be checked."))
    source = StoredExport(export)
    report = verify_export(source, key, "this instance's EXPORT_SIGNING_KEY")
    if not report.ok:
        current_app.logger.error("export %s failed verification: %s", export.id, "; ".join(report.problems))
        return render_error(
            409,
            _(
                "This export no longer verifies (its files were changed in the database), so it "
                "is not offered for download. Make a new one."
            ),
        )
    record(
        actor(),
        "export.download",
        initiative=initiative,
        target=f"export {export.id}",
        details={"manifest_sha256": export.manifest_sha256},
    )
    name = f"{initiative.slug}-export-{export.id}"
    # the stream reads the chunks through this request's database session, after the view has answered
    response = Response(stream_with_context(stream_zip(source, name)), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response
