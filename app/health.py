"""`GET /healthz`: the question a load balancer asks an app server before sending it signers (deploy/haproxy.cfg).

Cheap and plain: one `SELECT 1`, no session, no template, no personal data. 200 while the database answers; 503
while it does not, so that a server cut off from PostgreSQL is taken out of the rotation instead of answering
every signer with an error page.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response

from .extensions import db

blueprint = Blueprint("health", __name__)


def _plain(text: str, status: int) -> Response:
    response = Response(text + "\n", status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"  # a cached "ok" would hide an outage
    return response


@blueprint.get("/healthz")
def healthz() -> Response:
    """200 "ok" when the database answers, 503 when it is down, restarting or out of reach."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError:
        try:
            db.session.rollback()
        except sa.exc.SQLAlchemyError:
            db.session.remove()  # the connection itself is gone: drop the session, the pool makes a new one
        return _plain("database unavailable", 503)
    return _plain("ok", 200)
