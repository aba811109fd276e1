"""`flask --app wsgi ...` commands (CONTRACT.md): one module per group, each thin: parse arguments, call a service,
print what was done. Every command is one unit of work, committed when it succeeds (`app.transactions`)."""

from __future__ import annotations

import functools
from datetime import date

import click
import sqlalchemy as sa
from flask import Flask

from ..transactions import transactional


def fail(message: str) -> None:
    """One line, non-zero exit: the contract's rule for every command."""
    raise click.ClickException(message)


def parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a date as YYYY-MM-DD, not {value!r}")
        raise  # unreachable


def _as_unit_of_work(command: click.Command) -> None:
    """Each command is one transaction (committed if it succeeds); before `db upgrade` (or with a wrong
    DATABASE_URL) it says so in one line, not in a traceback."""
    if command.callback is None:
        return
    callback = transactional(command.callback)

    @functools.wraps(callback)
    def guarded(*args: object, **kwargs: object) -> object:
        try:
            return callback(*args, **kwargs)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
            text = str(error.orig).lower()
            if "no such table" in text or "does not exist" in text:
                raise click.ClickException(
                    "the database has no Quorum tables yet: run `flask --app wsgi db upgrade` first"
                ) from error
            raise click.ClickException(f"the database cannot be reached ({type(error.orig).__name__})") from error

    command.callback = guarded


def register(app: Flask) -> None:
    from .audit import audit_cli, retention_cli
    from .exports import export_cli
    from .initiatives import demo_cli, initiatives_cli, keys_cli
    from .mail import mail_cli
    from .partners import partners_cli
    from .statements import counters_cli, statements_cli
    from .users import users_cli

    groups = (
        users_cli,
        export_cli,
        audit_cli,
        retention_cli,
        initiatives_cli,
        keys_cli,
        mail_cli,
        demo_cli,
        counters_cli,
        statements_cli,
        partners_cli,
    )
    for group in groups:
        for command in group.commands.values():
            if not getattr(command, "_quorum_guarded", False):
                _as_unit_of_work(command)
                command._quorum_guarded = True  # type: ignore[attr-defined]
        app.cli.add_command(group)
