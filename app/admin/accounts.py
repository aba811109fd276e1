"""Staff accounts, managed by admins."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template

from ..extensions import db
from ..models import StaffUser
from .access import staff_required
from .routes import blueprint


@blueprint.get("/accounts")
@staff_required("admin")
def accounts() -> str:
    users = list(db.session.scalars(sa.select(StaffUser).order_by(StaffUser.email)))
    return render_template("admin/accounts.html", users=users)
