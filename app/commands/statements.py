"""`counters check [--repair]` and `statements invalidate`: the counts, against a recount and after verification."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from ..extensions import db
from ..initiatives import find_initiative
from ..models import Initiative
from . import fail

counters_cli = AppGroup("counters", help="The counters every public number is read from.")
statements_cli = AppGroup("statements", help="Statements after verification by the national authorities.")


@counters_cli.command("check")
@click.option(
    "--repair", is_flag=True, help="set every counter that differs to its recount, in one audited transaction"
)
@click.option("--initiative", "slug", default=None, help="only this initiative (default: all)")
def counters_check(repair: bool, slug: str | None) -> None:
    """Compare every counter with a recount from the statements and print each difference; exit non-zero on one.

    With --repair the counters that differ are set to the recount, and the repair is in the audit log.
    """
    from ..audit.log import record
    from ..statements import counters

    if slug is not None:
        found = find_initiative(slug)
        if found is None:
            fail(f"no initiative with slug {slug!r}")
        initiatives = [found]
    else:
        initiatives = list(db.session.scalars(sa.select(Initiative).order_by(Initiative.slug)))
    wrong = 0
    for initiative in initiatives:
        assert initiative is not None
        report = counters.check(initiative)
        for line in report.lines():
            click.echo(line)
        if report.ok:
            continue
        wrong += 1
        if repair:
            counters.repair(report)
            record("cli", "counters.repair", initiative=initiative, target=initiative.slug, details=report.as_details())
            click.echo(f"{initiative.slug}: repaired, the counters now equal the recount")
    if wrong and not repair:
        fail(f"{wrong} initiative(s) have counters that differ from a recount; run with --repair to set them right")
    click.echo(
        f"counters check: {len(initiatives)} initiative(s), {wrong} repaired" if repair else "counters check: ok"
    )


@statements_cli.command("invalidate")
@click.option("--initiative", "slug", required=True)
@click.option("--reason", required=True, help="why, e.g. the authority's verification reference; goes to the audit log")
@click.option("--by", "actor", default="cli", show_default=True, help="who the audit log names")
@click.argument("statement_ids", nargs=-1, required=True)
def statements_invalidate(slug: str, reason: str, actor: str, statement_ids: tuple[str, ...]) -> None:
    """Mark confirmed statements a national authority found invalid (their ids, as in the export): they stop
    counting; the counters and the audit log say so."""
    import uuid

    from ..audit.log import record
    from ..statements.lifecycle import invalidate

    initiative = find_initiative(slug)
    if initiative is None:
        fail(f"no initiative with slug {slug!r}")
        return
    if not reason.strip():
        fail("--reason must say why")
    try:
        ids = [uuid.UUID(value) for value in statement_ids]
    except ValueError:
        fail("statement ids are UUIDs, as in the export's statement_id column")
        return
    per_country = invalidate(initiative, ids)
    done = sum(per_country.values())
    record(
        actor,
        "statements.invalidate",
        initiative=initiative,
        target=slug,
        reason=reason.strip(),
        details={"requested": len(ids), "invalidated": per_country},
    )
    click.echo(f"invalidated {done} of {len(ids)} statements of {slug}; {len(ids) - done} were not confirmed ones")
