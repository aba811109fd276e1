"""The staff blueprint. Each feature's views live in their own module and register on this blueprint."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

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
