"""The staff blueprint. Each feature's views live in their own module and register on this blueprint."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..errors import render_error

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.before_request
def _refuse_nul() -> ResponseReturnValue | None:
    """No staff field holds a NUL character (no keyboard types one), and PostgreSQL refuses it in any text: one sent
    in a query or a form is a 400 here, before a view passes it to a query that would fail with a 500."""
    for values in (request.args, request.form):
        if any("\x00" in key or "\x00" in value for key, value in values.items(multi=True)):
            return render_error(400, _("The request held a NUL character, which no field may hold. Nothing changed."))
    return None


# Imported for their routes; each module owns one feature of the staff side.
from . import (  # noqa: E402, F401
    accounts,
    audit_views,
    auth,
    dashboard_views,
    export_views,
    initiative_views,
    partner_views,
    quarantine_views,
    retention_views,
    update_views,
)
