"""`/api/v1/initiatives[/<slug>]`: read from the per-country counters, cacheable, readable cross-origin."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..initiatives import Progress, find_initiative, progress
from ..models import Initiative, InitiativeStatus, utctoday
from ..statements.rules import is_public, public_initiative

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

CACHE_SECONDS = 30


def public_initiatives() -> list[Initiative]:
    query = (
        sa.select(Initiative)
        .where(public_initiative())
        .options(selectinload(Initiative.countries))
        .order_by(Initiative.collection_start.desc(), Initiative.slug)
    )
    return list(db.session.scalars(query))


def _withdrawn(initiative: Initiative) -> dict[str, Any]:
    """CONTRACT.md's `status` has no "withdrawn" (it says `closed`): a withdrawn initiative also carries this one
    extra key, when and why, which no other initiative has (docs/decisions/013)."""
    if initiative.status != InitiativeStatus.WITHDRAWN:
        return {}
    day = initiative.withdrawn_at.date().isoformat() if initiative.withdrawn_at else None
    return {"withdrawn": {"on": day, "reason": initiative.withdrawn_reason}}


def _summary(initiative: Initiative, counts: Progress) -> dict[str, Any]:
    return {
        "slug": initiative.slug,
        "title": initiative.title,
        "status": initiative.public_status(utctoday()),
        **_withdrawn(initiative),
        "collection_start": initiative.collection_start.isoformat(),
        "collection_end": initiative.collection_end.isoformat(),
        "goal": initiative.goal,
        "min_countries": initiative.min_countries,
        "confirmed": counts.confirmed,
        "countries_reached": counts.countries_reached,
        "as_of": counts.as_of.replace(microsecond=0).isoformat() + "Z",
    }


@blueprint.after_request
def _cross_origin(response: Response) -> Response:
    """Campaign sites on other origins read the counts, preflight included."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _public(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response


@blueprint.get("/initiatives")
def list_initiatives() -> Response:
    items = [_summary(i, progress(i)) for i in public_initiatives()]
    return _public(jsonify({"initiatives": items}))


@blueprint.get("/initiatives/<slug>")
def show_initiative(slug: str) -> Response | tuple[Response, int]:
    initiative = find_initiative(slug)
    if not is_public(initiative):
        response = jsonify({"error": "no initiative with this slug", "status": 404})
        return _public(response), 404
    assert initiative is not None
    counts = progress(initiative)
    body = _summary(initiative, counts)
    keys = list(body)
    body["countries"] = [
        {"code": c.code, "name": c.name, "confirmed": c.confirmed, "threshold": c.threshold, "reached": c.reached}
        for c in counts.countries
    ]
    ordered = {k: body[k] for k in keys[:-1]} | {"countries": body["countries"], "as_of": body["as_of"]}
    return _public(jsonify(ordered))
