"""The one place that commits. Each request, each command and each round of the mail worker is one unit of work:
it commits when it succeeds and rolls back when it fails (indico's request handler, cosmicpython's unit of work).
Services only add, change and flush; views and commands never call `commit()` themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, g, has_request_context
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from .extensions import db

F = TypeVar("F", bound=Callable[..., Any])

_KEEP = "quorum_keep_on_refusal"


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit what the block did, or roll all of it back if it raised (a command, a worker round)."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def transactional(callback: F) -> F:
    """The unit of work around a command's callback: a command that fails (even with a one-line ClickException)
    leaves the database as it found it."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        with unit_of_work():
            return callback(*args, **kwargs)

    return run  # type: ignore[return-value]


def keep_on_refusal() -> None:
    """Commit this request's changes although it answers 4xx: a refused sign-in is still written to the audit log."""
    if has_request_context():
        setattr(g, _KEEP, True)


def finish_request(response: Response) -> None:
    """Commit a request that succeeded (status below 400), roll back every other one."""
    if response.status_code < 400 or (response.status_code < 500 and getattr(g, _KEEP, False)):
        db.session.commit()
    else:
        db.session.rollback()


class Quorum(Flask):
    """Flask with the request boundary: the view's answer decides commit or rollback before the response is
    finished, so a failed commit (the database restarting, a constraint) reaches the error pages like any error."""

    def dispatch_request(self) -> ResponseReturnValue:
        response = self.make_response(super().dispatch_request())
        finish_request(response)
        return response
