"""The audit log in the browser: auditors (their initiatives) and admins (everything) filter and page through it,
download it as CSV or JSON, and see whether the hash chain verifies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import Response, abort, current_app, render_template, request
from flask_babel import gettext as _

from ..audit.actions import action_choices, action_labels
from ..audit.browse import DOWNLOAD_BATCH, AuditFilter, batch_after, search
from ..audit.checkpoint import page_status
from ..audit.downloads import JSON_END, csv_rows, csv_start, json_rows, json_start
from ..audit.heads import heads_file
from ..audit.log import record
from ..exports.keys import instance_name, instance_verify_key
from ..models import Initiative, StaffRole, utcnow
from .access import actor, current_staff, initiative_for_staff, staff_required, visible_initiatives
from .routes import blueprint

INSTANCE = "_instance"  # the filter value for entries of no initiative (sign-ins, accounts): admins only
_ENTRY_ID = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class AuditQuery:
    """The filter a reader asked for, checked against what they may see."""

    wanted: AuditFilter
    selected: str
    initiative: Initiative | None
    initiatives: list[Initiative]
    errors: dict[str, str]
    is_admin: bool

    def described(self) -> dict[str, Any]:
        """The filter as a download and its audit entry name it."""
        return {
            "initiative": self.selected or None,
            "action": self.wanted.action or None,
            "actor": self.wanted.actor or None,
            "since": self.wanted.since.isoformat() if self.wanted.since else None,
            "until": self.wanted.until.isoformat() if self.wanted.until else None,
        }


def _date_arg(name: str, errors: dict[str, str]) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Give a date as YYYY-MM-DD.")
        return None


def _entry_id_arg(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    return int(raw) if _ENTRY_ID.fullmatch(raw) else None


def _read_request() -> AuditQuery:
    user = current_staff()
    assert user is not None
    is_admin = user.role == StaffRole.ADMIN
    initiatives = visible_initiatives(user)
    slug = (request.args.get("initiative") or "").strip()
    instance_only = slug == INSTANCE
    if instance_only and not is_admin:
        abort(403)
    initiative = initiative_for_staff(slug) if slug and not instance_only else None
    if initiative is not None:
        scope: list[int] | None = [initiative.id]
    else:
        scope = None if is_admin else [i.id for i in initiatives]
    errors: dict[str, str] = {}
    wanted = AuditFilter(
        initiative_ids=scope,
        instance_only=instance_only,
        action=(request.args.get("action") or "").strip()[:64],
        actor=(request.args.get("actor") or "").strip()[:320],
        since=_date_arg("since", errors),
        until=_date_arg("until", errors),
    )
    return AuditQuery(wanted, slug, initiative, initiatives, errors, is_admin)


def _query() -> dict[str, str]:
    """The filter's arguments, for the pager's and the downloads' links."""
    return {k: v for k, v in request.args.items() if k not in ("before", "after") and v}


@blueprint.get("/audit")
@staff_required(StaffRole.ADMIN, StaffRole.AUDITOR)
def audit_log() -> str:
    """Newest first; an auditor sees the entries of the initiatives they were given."""
    asked = _read_request()
    page = search(asked.wanted, before=_entry_id_arg("before"), after=_entry_id_arg("after"))
    key = instance_verify_key()
    chain = page_status(heads_file(Path(current_app.config["AUDIT_HEADS_DIR"])), {key} if key else set())
    return render_template(
        "admin/audit.html",
        page=page,
        chain=chain,
        initiatives=asked.initiatives,
        actions=action_choices(),
        selected=asked.selected,
        args=request.args,
        errors=asked.errors,
        query=_query(),
        instance_value=INSTANCE,
        is_admin=asked.is_admin,
    )


def _download(kind: str) -> Response:
    """Every matching entry, streamed; the download itself is written to the log first."""
    asked = _read_request()
    if asked.errors:
        abort(400)
    described = asked.described()
    record(actor(), "audit.download", initiative=asked.initiative, target=kind, details={"filter": described})
    now = utcnow()
    scope = asked.selected.strip("_") or "all"
    name = f"audit-log-{scope}-{now.strftime('%Y%m%dT%H%M%SZ')}.{kind}"
    labels = action_labels()
    wanted = asked.wanted
    if kind == "csv":
        start, end, mimetype = csv_start(), "", "text/csv"
    else:
        about = {"instance": instance_name(), "exported_at": now.isoformat(timespec="seconds") + "Z"}
        start = json_start({**about, "exported_by": actor(), "filter": described})
        end, mimetype = JSON_END, "application/json"
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def body() -> Iterator[str]:
        """Written after the request ended (and committed the download's entry): each batch is read and written in
        an app context of its own, never held open across a `yield`."""
        yield start
        after, first = 0, True
        while True:
            with app.app_context():
                rows = batch_after(wanted, after, DOWNLOAD_BATCH)
                text = csv_rows(rows, labels) if kind == "csv" else json_rows(rows, labels, first)
            if text:
                yield text
            if len(rows) < DOWNLOAD_BATCH:
                break
            after, first = rows[-1].entry.id, False
        yield end

    response = Response(body(), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/audit.csv")
@staff_required(StaffRole.ADMIN, StaffRole.AUDITOR)
def audit_csv() -> Response:
    """The entries the page's filter selects, as CSV with readable action names (cells safe for spreadsheets)."""
    return _download("csv")


@blueprint.get("/audit.json")
@staff_required(StaffRole.ADMIN, StaffRole.AUDITOR)
def audit_json() -> Response:
    """The same as JSON, every value as stored."""
    return _download("json")
