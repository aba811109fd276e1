"""`flask export create|verify|open`: parse arguments, call the export service, print what was done."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from ..exports.create import ExportError, create_export
from ..exports.keys import instance_verify_key
from ..exports.manifest import ExportKeyError, parse_verify_key
from ..exports.opening import open_export
from ..exports.verify import ExportInvalid, VerifyReport, verify_export
from ..initiatives import find_initiative
from ..sealing import read_private_key
from . import fail

export_cli = AppGroup("export", help="Sealed per-country exports with a signed manifest.")


def _known_key(key_file: Path | None) -> tuple[bytes | None, str]:
    """The key a manifest must be signed with: the given file, else this instance's configured key."""
    try:
        if key_file is not None:
            return parse_verify_key(key_file.read_text(encoding="utf-8")), f"from {key_file}"
        # None where this machine has no export key (an auditor's own machine): verify then checks the manifest
        # against the key it names and says to compare that key with the published one
        return instance_verify_key(), "this instance's EXPORT_SIGNING_KEY"
    except (ExportKeyError, OSError, UnicodeDecodeError) as error:
        fail(f"cannot read the export verify key: {error}")
        raise  # unreachable


def _print_report(report: VerifyReport, consequence: str = "") -> None:
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if not report.ok:
        fail(f"{report.directory} failed verification: {len(report.problems)} problem(s), listed above{consequence}")


key_file_option = click.option(
    "--key-file",
    "--export-key-file",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the instance's published export verify key (as served at /admin/export-key); "
    "default: this instance's own key",
)


@export_cli.command("create")
@click.option("--initiative", "slug", required=True)
@click.option("--country", "countries", multiple=True, help="only this member state (repeat for more); default all")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="a folder that does not exist yet, or an empty one",
)
@click.option("--by", "actor", default="cli", show_default=True, help="who the manifest and audit log name")
def create(slug: str, countries: tuple[str, ...], out: Path, actor: str) -> None:
    """Write one sealed file per member state and a signed manifest.json."""
    initiative = find_initiative(slug)
    if initiative is None:
        fail(f"no initiative with slug {slug!r}")
        return
    try:
        result = create_export(initiative, out, actor, list(countries) or None)
    except ExportError as error:
        fail(str(error))
        return
    manifest = result.manifest
    for entry in manifest["countries"].values():
        click.echo(f"{entry['file']}: {entry['count']} statements (threshold {entry['threshold']})")
    quarantined = manifest["quarantined"]["count"]
    click.echo(
        f"exported {manifest['totals']['statements']} confirmed statements of {slug} in "
        f"{manifest['totals']['countries']} member states to {result.directory} "
        f"({quarantined} quarantined left out); export {result.record.id}, manifest SHA-256 "
        f"{result.record.manifest_sha256}, signed with {manifest['verify_key']}"
    )


@export_cli.command("verify")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@key_file_option
def verify(directory: Path, key_file: Path | None) -> None:
    """Check the manifest's signature and signer, every file's SHA-256 and every count."""
    known, source = _known_key(key_file)
    report = verify_export(directory, known, source)
    _print_report(report)
    assert report.manifest is not None
    totals = report.manifest["totals"]
    click.echo(
        f"verified {directory}: {report.manifest['initiative']['slug']}, {totals['statements']} statements "
        f"in {totals['countries']} member states, signed with {report.manifest['verify_key']}"
    )


@export_cli.command("open")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--key",
    "private_key_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the auditor's private key file (from `keys generate`)",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="a folder that does not exist yet, or an empty one",
)
@key_file_option
def open_(directory: Path, private_key_file: Path, out: Path, key_file: Path | None) -> None:
    """Verify the export, then decrypt it into one CSV per member state; on any problem write nothing."""
    known, source = _known_key(key_file)
    try:
        private_key = read_private_key(private_key_file)
    except (OSError, ValueError) as error:
        fail(f"cannot read the private key {private_key_file}: {error}")
        return
    try:
        result = open_export(directory, private_key, out, known, source)
    except ExportInvalid as invalid:
        _print_report(invalid.report, "; nothing was written")
        return
    except ExportError as error:
        fail(f"{error}; nothing was written")
        return
    for code, count in result.counts.items():
        click.echo(f"{code}.csv: {count} statements")
    click.echo(
        f"opened {directory} into {result.directory}: {sum(result.counts.values())} statements in "
        f"{len(result.counts)} CSV files"
    )
