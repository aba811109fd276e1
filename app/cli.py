"""`flask --app wsgi ...` commands: parse arguments, call a service, print what was done (CONTRACT.md)."""

from __future__ import annotations

import functools
import os
from datetime import date, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from .extensions import db
from .initiatives import InitiativeError, create_initiative, find_initiative, record_creation
from .models import Initiative, utctoday
from .sealing import generate_key_pair, write_private_key
from .transactions import transactional


def _fail(message: str) -> None:
    """One line, non-zero exit: the contract's rule for every command."""
    raise click.ClickException(message)


def _parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{name} must be a date as YYYY-MM-DD, not {value!r}")
        raise  # unreachable


initiatives_cli = AppGroup("initiatives", help="Create and list initiatives.")
keys_cli = AppGroup("keys", help="Auditor key pairs.")
mail_cli = AppGroup("mail", help="Deliver the outbox.")
demo_cli = AppGroup("demo", help="The demo initiative that `make run` seeds.")
counters_cli = AppGroup("counters", help="The counters every public number is read from.")
statements_cli = AppGroup("statements", help="Statements after verification by the national authorities.")


@initiatives_cli.command("create")
@click.option("--slug", required=True)
@click.option("--title", required=True)
@click.option("--start", required=True, help="first day of collection, YYYY-MM-DD")
@click.option("--end", required=True, help="last day of collection, YYYY-MM-DD")
@click.option("--rules", default="eci-2024", show_default=True, help="eci-2024 or eci-2020")
@click.option("--draft", is_flag=True, help="keep it hidden until published")
@click.option("--summary", default="", help="a short summary (Markdown)")
def initiatives_create(slug: str, title: str, start: str, end: str, rules: str, draft: bool, summary: str) -> None:
    """Create a public initiative (collecting between its dates) or, with --draft, a hidden one."""
    try:
        initiative = create_initiative(
            slug=slug,
            title=title,
            start=_parse_date(start, "--start"),
            end=_parse_date(end, "--end"),
            rule_set=rules,
            draft=draft,
            summary=summary,
        )
    except InitiativeError as error:
        _fail(str(error))
        return
    record_creation(initiative, "cli")
    click.echo(
        f"created initiative {initiative.slug} ({initiative.rule_set}, {len(initiative.countries)} member "
        f"states, {initiative.collection_start} to {initiative.collection_end}, "
        f"{initiative.public_status(utctoday())})"
    )
    if current_app.config["ENV_NAME"] != "production":
        # Outside production an initiative is signable at once, as the demo is: its key pair is made here and the
        # private half kept in instance/. `keys generate` replaces it before the first statement.
        key_path = _instance_key_path(slug)
        generate_keys(slug, key_path, actor="cli")
        click.echo(
            f"wrote a development auditor key to {key_path}; a real campaign runs `keys generate` on the "
            "auditor's machine instead"
        )
    else:
        click.echo(
            f"signing opens once it has an auditor key: flask --app wsgi keys generate --initiative {slug} "
            f"--out auditor-{slug}.key (on the auditor's machine)"
        )


@initiatives_cli.command("list")
def initiatives_list() -> None:
    """One line per initiative."""

    for initiative in db.session.scalars(sa.select(Initiative).order_by(Initiative.slug)):
        key = "key set" if initiative.auditor_public_key else "no auditor key"
        click.echo(
            f"{initiative.slug}\t{initiative.public_status(utctoday())}\t{initiative.collection_start}"
            f"..{initiative.collection_end}\t{key}"
        )


def _instance_key_path(slug: str) -> Path:
    """Where a development key lives; a leftover from a deleted database goes (its statements went with it)."""
    key_path = Path(current_app.instance_path) / f"auditor-{slug}.key"
    if key_path.exists():
        os.remove(key_path)
    return key_path


def generate_keys(slug: str, out: Path, actor: str = "cli") -> None:
    initiative = find_initiative(slug)
    if initiative is None:
        _fail(f"no initiative with slug {slug!r}")
        return
    if initiative.auditor_public_key is not None:
        from .models import Statement

        has_statements = db.session.scalar(
            sa.select(sa.func.count()).select_from(Statement).where(Statement.initiative_id == initiative.id)
        )
        if has_statements:
            _fail(f"{slug} already has statements sealed to its current key; a new key would make them unreadable")
    if out.exists():
        _fail(f"{out} exists already; refusing to overwrite a private key")
    if not out.parent.is_dir():
        _fail(f"the folder {out.parent} does not exist")
    private, public = generate_key_pair()
    write_private_key(out, private)
    initiative.auditor_public_key = public
    from .audit.log import record

    record(actor, "keys.generate", initiative=initiative, target=slug, details={"public_key": public.hex()})


@keys_cli.command("generate")
@click.option("--initiative", "slug", required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def keys_generate(slug: str, out: Path) -> None:
    """Make the auditor key pair: the private key goes to --out (mode 0600), the server keeps the public key."""
    generate_keys(slug, out)
    click.echo(
        f"wrote the private key to {out} (mode 0600); {slug} now seals statements to its public key. "
        "Keep the private key off this server."
    )


@mail_cli.command("send")
@click.option("--loop", is_flag=True, help="keep delivering until stopped")
@click.option("--interval", default=2.0, show_default=True, help="seconds between rounds with --loop")
def mail_send(loop: bool, interval: float) -> None:
    """Deliver the outbox, retrying failed messages with back-off."""
    from .mail.delivery import MailConfigError, deliver_due, run_forever

    try:
        if loop:
            import signal

            stopping = {"now": False}

            def stop(_signum: int, _frame: object) -> None:
                stopping["now"] = True

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            click.echo("mail: delivering the outbox; stop with Ctrl-C")
            run_forever(interval, echo=click.echo, should_stop=lambda: stopping["now"])
            return
        report = deliver_due(echo=click.echo)
    except MailConfigError as error:
        _fail(str(error))
        return
    click.echo(f"mail: sent {report.sent}, retrying later {report.retrying}, failed {report.failed}")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Seed `reclaim-your-face` with an auditor key under instance/ (idempotent)."""

    slug = "reclaim-your-face"
    if find_initiative(slug) is not None:
        click.echo(f"demo: {slug} exists already; nothing to seed")
        return
    today = utctoday()
    start = today - timedelta(days=30)
    initiative = create_initiative(
        slug=slug,
        title="Reclaim Your Face: ban biometric mass surveillance",
        start=start,
        end=start + timedelta(days=364),
        summary=(
            "We call on the European Commission to propose a law that bans biometric mass surveillance in "
            "public spaces across the European Union: no face recognition of passers-by, no tracking of how "
            "we walk, no scoring of our emotions.\n\n"
            "*This is a demo initiative seeded by `make run`.*"
        ),
    )
    record_creation(initiative, "demo seed")
    key_path = _instance_key_path(slug)
    generate_keys(slug, key_path, actor="demo seed")
    from .exports.keys import instance_signing_key

    instance_signing_key()  # the export key exists from the start, so the staff side can show it
    click.echo(
        f"demo: seeded {initiative.slug}; its auditor private key is {key_path} "
        "(demo only: a real campaign keeps this key off the server)"
    )


@counters_cli.command("check")
@click.option(
    "--repair", is_flag=True, help="set every counter that differs to its recount, in one audited transaction"
)
@click.option("--initiative", "slug", default=None, help="only this initiative (default: all)")
def counters_check(repair: bool, slug: str | None) -> None:
    """Compare every counter with a recount from the statements and print each difference; exit non-zero on one.

    With --repair the counters that differ are set to the recount, and the repair is in the audit log.
    """
    from .audit.log import record
    from .statements import counters

    if slug is not None:
        found = find_initiative(slug)
        if found is None:
            _fail(f"no initiative with slug {slug!r}")
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
        _fail(f"{wrong} initiative(s) have counters that differ from a recount; run with --repair to set them right")
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

    from .audit.log import record
    from .statements.lifecycle import invalidate

    initiative = find_initiative(slug)
    if initiative is None:
        _fail(f"no initiative with slug {slug!r}")
        return
    if not reason.strip():
        _fail("--reason must say why")
    try:
        ids = [uuid.UUID(value) for value in statement_ids]
    except ValueError:
        _fail("statement ids are UUIDs, as in the export's statement_id column")
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
    from .admin.cli import users_cli
    from .audit.cli import audit_cli, retention_cli
    from .exports.cli import export_cli

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
    )
    for group in groups:
        for command in group.commands.values():
            if not getattr(command, "_quorum_guarded", False):
                _as_unit_of_work(command)
                command._quorum_guarded = True  # type: ignore[attr-defined]

    for group in (users_cli, export_cli, audit_cli, retention_cli):
        app.cli.add_command(group)
    app.cli.add_command(initiatives_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(counters_cli)
    app.cli.add_command(statements_cli)
