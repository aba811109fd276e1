"""Logs name the matched route (`/i/<slug>/confirm/<token>`), never the path: paths and query strings carry
confirmation tokens, unsubscribe links and `next=` targets, and a log is kept far longer than any of them lives.

The app puts the route into the WSGI environ; gunicorn.conf.py writes it in the access log as `%({quorum.route}e)s`.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

ENVIRON_KEY = "quorum.route"


def route() -> str:
    """The URL rule this request matched, or "-" (an unknown path is not written down either)."""
    return request.url_rule.rule if request.url_rule is not None else "-"


def register(app: Flask) -> None:
    @app.after_request
    def name_the_route(response: Response) -> Response:
        request.environ[ENVIRON_KEY] = route()
        return response
