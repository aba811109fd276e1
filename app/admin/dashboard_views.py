"""The dashboard of one initiative: organizers and admins, and auditors read-only."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _

from ..dashboard import SORT_KEYS, daily_chart_svg, dashboard_data, sort_rows
from ..models import StaffRole, utctoday
from ..progress_map import progress_map
from .access import current_staff, initiative_for_staff, staff_required
from .routes import blueprint

# the first click on a number shows the largest first; on a name, A to Z
_FIRST_DIRECTION = {key: ("asc" if key == "country" else "desc") for key in SORT_KEYS}


def sort_direction_for(column: str, current: str, direction: str) -> str:
    """The direction a column's header link asks for: the other way round when it is the current sort."""
    if column == current:
        return "asc" if direction == "desc" else "desc"
    return _FIRST_DIRECTION[column]


@blueprint.get("/initiatives/<slug>/dashboard")
@staff_required()
def dashboard(slug: str) -> str:
    """Where the campaign stands, counted afresh from the statements (no client-side script)."""
    initiative = initiative_for_staff(slug)
    today = utctoday()
    data = dashboard_data(initiative, today)
    rows, sort, direction = sort_rows(data.rows, request.args.get("sort"), request.args.get("dir"))
    chart = daily_chart_svg(
        data.daily,
        title=_("Confirmed statements per day"),
        description=_(
            "One bar per day (UTC) from %(first)s to %(last)s; %(total)s confirmed statements in all.",
            first=data.daily[0][0].isoformat() if data.daily else "-",
            last=data.daily[-1][0].isoformat() if data.daily else "-",
            total=format_decimal(sum(count for _day, count in data.daily)),
        ),
        empty_text=_("Collection has not started yet."),
    )
    user = current_staff()
    return render_template(
        "admin/dashboard.html",
        initiative=initiative,
        data=data,
        rows=rows,
        sort=sort,
        direction=direction,
        chart=chart,
        progress_map=progress_map(data.rows),
        today=today,
        can_manage=user is not None and user.role in (StaffRole.ADMIN, StaffRole.ORGANIZER),
        sort_direction_for=sort_direction_for,
    )
