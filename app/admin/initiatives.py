"""Initiative management on the staff side: the list, create, edit, status changes."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template

from ..extensions import db
from ..models import Initiative
from .access import current_staff, staff_required
from .routes import blueprint


@blueprint.get("/")
@staff_required()
def index() -> str:
    """The initiatives this staff member was given (admins: all)."""
    user = current_staff()
    assert user is not None
    if user.role == "admin":
        initiatives = list(db.session.scalars(sa.select(Initiative).order_by(Initiative.slug)))
    else:
        initiatives = list(user.initiatives)
    return render_template("admin/index.html", initiatives=initiatives)
