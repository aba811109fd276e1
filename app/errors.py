"""Error pages: every refusal says what happened, in words, with the right status."""

from __future__ import annotations

import math
import time
from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .access_log import route
from .extensions import db, limiter

MESSAGES = {
    400: lambda: _("The request could not be understood. Please go back, reload the page and try again."),
    403: lambda: _("You are not allowed to do this."),
    404: lambda: _("There is nothing at this address."),
    405: lambda: _("This address does not accept that kind of request."),
    410: lambda: _("This is no longer available."),
    413: lambda: _("What you sent is too large."),
    429: lambda: _("Too many attempts. Please wait a little and try again."),
    503: lambda: _("The service is unavailable for a moment. Please try again in a minute."),
    500: lambda: _("Something went wrong on our side. Nothing you entered was stored; please try again."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(  # type: ignore[no-untyped-def]
    status: int, message: str | None = None, title: str | None = None, extra: dict[str, Any] | None = None
):
    text = message or MESSAGES.get(status, MESSAGES[500])()
    if _wants_json():
        response = jsonify({"error": text, "status": status, **(extra or {})})
        response.headers["Access-Control-Allow-Origin"] = "*"  # a cross-origin reader sees the error itself
        return response, status
    return render_template("errors/error.html", status=status, message=text, title=title), status


def _seconds_until_allowed() -> int:
    """When the limit that refused this request lets the next one through (its window's end)."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, int(breached.reset_at - time.time()))  # as Flask-Limiter writes Retry-After


def too_many_requests() -> Response:
    """429 that says how long to wait, in words and in `Retry-After` (RFC 6585, 4), as a page or, for /api, JSON."""
    seconds = _seconds_until_allowed()
    minutes = math.ceil(seconds / 60)
    message = (
        _("Too many attempts. Please wait a minute and try again.")
        if minutes <= 1
        else ngettext(
            "Too many attempts. Please try again in %(num)d minute.",
            "Too many attempts. Please try again in %(num)d minutes.",
            minutes,
        )
    )
    body, status = render_error(429, message, title=_("Too many attempts"), extra={"retry_after": seconds})
    response = make_response(body, status)
    response.headers["Retry-After"] = str(seconds)
    return response


def register(app: Flask) -> None:
    @app.errorhandler(RateLimitExceeded)
    def rate_limited(_error: RateLimitExceeded) -> Response:
        return too_many_requests()

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_error(
            400, _("Your form has expired or was sent from another page. Please reload the page and try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        status = error.code or 500
        message = error.description if getattr(error, "quorum_message", False) else None
        return render_error(status, message)

    @app.errorhandler(sa.exc.OperationalError)
    def database_unavailable(error: sa.exc.OperationalError):  # type: ignore[no-untyped-def]
        """The database is restarting or out of reach: say so, and that trying again shortly will work."""
        app.logger.warning("database unavailable on %s %s: %s", request.method, route(), type(error.orig).__name__)
        _discard_session()
        response, status = render_error(
            503,
            _(
                "We cannot record anything at this moment. Nothing you entered was stored: "
                "please try again in a minute."
            ),
        )
        response = make_response(response, status)
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unhandled error on %s %s", request.method, route())  # the route: paths hold tokens
        _discard_session()  # "nothing you entered was stored": not even by a later commit in this context
        return render_error(500)


def _discard_session() -> None:
    """Roll back; if the connection itself is gone, the rollback fails too, and the session is simply dropped."""
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        db.session.remove()
