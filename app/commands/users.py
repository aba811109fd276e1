"""`flask users create`: staff accounts from the command line (CONTRACT.md), audit-logged as actor "cli"."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..admin.accounts import AccountError, check_role, create_account, email_taken, initiatives_by_slug, normalize_email
from ..admin.passwords import password_problem
from ..models import StaffRole

users_cli = AppGroup("users", help="Staff accounts.")


def _read_password(from_stdin: bool) -> str:
    """One line of stdin, or a hidden prompt typed twice."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    try:
        value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    except click.Abort as error:
        raise click.ClickException(
            "no password given: type it at the prompt in a terminal, or pipe one line to --password-stdin"
        ) from error
    return value


@users_cli.command("create")
@click.argument("email")
@click.option("--role", default=None, help=f"one of {', '.join(tuple(StaffRole))}")
@click.option(
    "--initiative",
    "slugs",
    multiple=True,
    metavar="S",
    help="an initiative (slug) this organizer or auditor is given; repeat for several",
)
@click.option("--password-stdin", is_flag=True, help="read the password from one line of standard input")
def users_create(email: str, role: str | None, slugs: tuple[str, ...], password_stdin: bool) -> None:
    """Create a staff account; the password comes from a hidden prompt or --password-stdin."""
    try:
        if role is None:
            raise AccountError(f"--role is required: one of {', '.join(tuple(StaffRole))}")
        check_role(role)
        email = normalize_email(email)
        if role == StaffRole.ADMIN and slugs:
            raise AccountError("admins see every initiative; --initiative is for organizers and auditors")
        initiatives = initiatives_by_slug(slugs)
        if email_taken(email):  # asked before the password prompt; the unique constraint still decides
            raise AccountError(f"an account with the address {email} exists already")
        password = _read_password(password_stdin)
        problem = password_problem(password)
        if problem:
            raise AccountError(problem)
        user = create_account(email=email, role=role, password=password, initiatives=initiatives, actor="cli")
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    given = ", ".join(i.slug for i in user.initiatives) or ("all (admin)" if role == StaffRole.ADMIN else "none yet")
    click.echo(f"created {role} {user.email} (initiatives: {given})")
