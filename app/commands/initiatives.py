"""`initiatives create|list`, `keys generate` and `demo seed`: campaigns and their auditor keys."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from ..initiative_texts import save_text
from ..initiatives import InitiativeError, create_initiative, find_initiative, record_creation
from ..languages import LANGUAGES
from ..models import Initiative, utctoday
from ..sealing import generate_key_pair, write_private_key
from . import fail, parse_date

initiatives_cli = AppGroup("initiatives", help="Create and list initiatives.")
keys_cli = AppGroup("keys", help="Auditor key pairs.")
demo_cli = AppGroup("demo", help="The demo initiative that `make run` seeds.")


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
            start=parse_date(start, "--start"),
            end=parse_date(end, "--end"),
            rule_set=rules,
            draft=draft,
            summary=summary,
        )
    except InitiativeError as error:
        fail(str(error))
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
        fail(f"no initiative with slug {slug!r}")
        return
    if initiative.auditor_public_key is not None:
        from ..models import Statement

        has_statements = db.session.scalar(
            sa.select(sa.func.count()).select_from(Statement).where(Statement.initiative_id == initiative.id)
        )
        if has_statements:
            fail(f"{slug} already has statements sealed to its current key; a new key would make them unreadable")
    if out.exists():
        fail(f"{out} exists already; refusing to overwrite a private key")
    if not out.parent.is_dir():
        fail(f"the folder {out.parent} does not exist")
    private, public = generate_key_pair()
    write_private_key(out, private)
    initiative.auditor_public_key = public
    from ..audit.log import record

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


DEMO_TEXTS = (
    (
        "de",
        "Reclaim Your Face: biometrische Massenüberwachung verbieten",
        "Wir fordern die Europäische Kommission auf, ein Gesetz vorzuschlagen, das biometrische Massenüberwachung im "
        "öffentlichen Raum in der ganzen Europäischen Union verbietet.\n\n"
        "*Dies ist eine Demo-Initiative, angelegt von `make run`.*",
    ),
    (
        "pl",
        "Reclaim Your Face: zakaz biometrycznej inwigilacji masowej",
        "Wzywamy Komisję Europejską do zaproponowania prawa zakazującego biometrycznej inwigilacji masowej w "
        "przestrzeni publicznej w całej Unii Europejskiej.\n\n"
        "*To inicjatywa demonstracyjna utworzona przez `make run`.*",
    ),
)


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
        details={
            "organizers": "Demo Citizens' Committee\nExample Digital Rights",
            "contact_name": "Alex Example",
            "contact_email": "contact@example.org",
            "website": "https://example.org/reclaim-your-face",
        },
    )
    # the title and summary in two more languages; the other 21 show the English text, and say so
    for locale, title, summary in DEMO_TEXTS:
        save_text(initiative, locale, {"title": title, "summary": summary}, LANGUAGES)
    record_creation(initiative, "demo seed")
    key_path = _instance_key_path(slug)
    generate_keys(slug, key_path, actor="demo seed")
    from ..exports.keys import instance_signing_key

    instance_signing_key()  # the export key exists from the start, so the staff side can show it
    click.echo(
        f"demo: seeded {initiative.slug}; its auditor private key is {key_path} "
        "(demo only: a real campaign keeps this key off the server)"
    )
