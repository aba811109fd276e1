"""`flask audit verify` and `flask retention purge`: parse arguments, call the service, print what was done."""

from __future__ import annotations

import re

import click
from flask import current_app
from flask.cli import AppGroup

from ..audit.log import verify_chain
from ..audit.retention import purge

audit_cli = AppGroup("audit", help="The tamper-evident audit log.")
retention_cli = AppGroup("retention", help="Deleting what the retention rules say is due.")

HASH = re.compile(r"^[0-9a-fA-F]{64}$")


@audit_cli.command("verify")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="HASH",
    help="an entry hash printed by an earlier run and kept elsewhere; it must still be in the log. Repeatable.",
)
def audit_verify(anchors: tuple[str, ...]) -> None:
    """Recompute the audit log's hash chain; exit non-zero naming the first broken entry.

    Editing, removing or reordering any entry breaks the chain from that entry on. The chain alone cannot show
    that the newest entries were cut off (what remains still links up), nor a rewrite of the whole log by
    someone with write access to the database: keep the head hash this command prints somewhere else (a
    ticket, an email, a letter to the authorities) and pass it back with --anchor; verification then fails if
    that entry is gone. Entries written after the anchor are only as safe as the next anchor you keep.
    """
    bad = [a for a in anchors if not HASH.match(a.strip())]
    if bad:
        raise click.ClickException(f"--anchor must be a 64-character hex SHA-256, not {bad[0]!r}")
    report = verify_chain(anchors)
    if not report.intact:
        raise click.ClickException(f"audit log BROKEN: {report.describe_break()} ({report.entries} entries read)")
    click.echo(f"audit log intact: {report.entries} entries")
    if report.head_id is not None:
        click.echo(f"head: entry {report.head_id} {report.head_hash}")
    if anchors:
        click.echo(f"anchors found in the chain: {len(set(a.strip().lower() for a in anchors))}")


@retention_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="count what is due, change nothing")
def retention_purge(dry_run: bool) -> None:
    """Delete what the retention rules say is due, and report it (counts per initiative and category).

    Statements: 1 month after submission or withdrawal, at the latest 21 months after collection started.
    Unconfirmed statements: once their link has expired or collection is over. Subscriber addresses: on
    unsubscribing, and 12 months after collection ended or submission. Outbox rows: 30 days after delivery.
    The per-country counters keep their historical count when statements are destroyed; each purge is recorded
    in the audit log under the actor "retention".
    """
    report = purge(dry_run=dry_run, confirm_max_age=current_app.config["CONFIRM_MAX_AGE"])
    verb = "would delete" if dry_run else "deleted"
    header = "retention purge (dry run, nothing changed)" if dry_run else "retention purge"
    if report.total == 0:
        click.echo(f"{header}: nothing is due")
        return
    click.echo(f"{header}: {verb} {report.total} rows")
    for line in report.lines():
        click.echo(f"  {line}")
