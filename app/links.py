"""Absolute links for emails, built from the URL map (as `url_for` builds them) under BASE_URL.

Emails are written outside any request (a command, the worker) and must point at the public address, not at the
host a request happened to come in on; an adapter bound once to BASE_URL does both, and a renamed route cannot
silently break a link.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from werkzeug.routing import Map, MapAdapter

_KEY = "quorum.links"


class Links:
    def __init__(self, url_map: Map, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._adapter: MapAdapter = url_map.bind(
            parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "http"
        )

    def external(self, endpoint: str, **values: Any) -> str:
        """The absolute URL of an endpoint, e.g. external("signing.confirm_page", slug=..., token=...)."""
        return self._adapter.build(endpoint, values, force_external=True)


def init_links(app: Flask) -> None:
    """Bind once, after every blueprint is registered."""
    app.extensions[_KEY] = Links(app.url_map, app.config["BASE_URL"])


def links() -> Links:
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]
