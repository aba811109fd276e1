"""`flask export create|verify|open|trust`: parse arguments, call the export service, print what was done.

`verify` and `open` fail closed: they check a manifest only against a key trusted for its instance (`--key-file`,
this instance's own key, or a key pinned on this machine after the auditor compared its fingerprint), never
against the key the manifest names (app/exports/trust.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..exports.create import ExportError, create_export
from ..exports.keys import instance_verify_key
from ..exports.manifest import ExportKeyError, fingerprint, parse_verify_key
from ..exports.opening import open_export
from ..exports.trust import PinsError, add_pin, find_pin, pinnable, pins_path
from ..exports.verify import ExportInvalid, Signer, VerifyReport, signer_of, verify_export
from ..initiatives import find_initiative
from ..models import utcnow
from ..sealing import read_private_key
from . import fail

export_cli = AppGroup("export", help="Sealed per-country exports with a signed manifest.")


@dataclass(frozen=True)
class TrustedKey:
    verify_key: bytes
    source: str  # how messages name where the trust comes from


def _print_report(report: VerifyReport, consequence: str = "") -> None:
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if not report.ok:
        fail(f"{report.label} failed verification: {len(report.problems)} problem(s), listed above{consequence}")


def _published_at(instance: str) -> str:
    """Where the instance serves its key (the path from the URL map, under the instance the manifest names)."""
    path = current_app.url_map.bind("localhost").build("admin.export_public_key")
    return f"{instance.rstrip('/')}{path}" if instance else path


def _read_signer(directory: Path, consequence: str) -> Signer:
    signer, report = signer_of(directory)
    if signer is None:
        _print_report(report, consequence)
        raise AssertionError("unreachable: the report has problems")
    return signer


def _worth_trusting(directory: Path, signer: Signer, consequence: str) -> None:
    """A key is offered for pinning only if the manifest's signature matches it: otherwise there is nothing to
    compare, the manifest was altered."""
    if not pinnable(signer.instance):
        fail(f"the manifest names its instance as {signer.instance!r}, which cannot be pinned: use --key-file")
    if not signer.signature_matches:
        fail(f"{directory}: the manifest's signature does not match even the key it names: it was altered{consequence}")


def _in_a_terminal() -> bool:
    """A person is there to compare a fingerprint (a script, cron or CI is not, and gets a refusal instead)."""
    return sys.stdin is not None and sys.stdin.isatty()


def _ask(signer: Signer) -> bool:
    """Show the key's fingerprint and ask the auditor to compare it; only an explicit yes trusts it."""
    shown = signer.instance or "(the manifest names no instance)"
    click.echo(
        f"This export says it comes from {shown}, signed with the export key\n"
        f"    {fingerprint(signer.verify_key)}\n"
        f"Compare this fingerprint with the one the instance publishes at {_published_at(signer.instance)}\n"
        "(fetched yourself, or read to you by its operators; not one that came with the export).",
        err=True,
    )
    try:
        answer = click.prompt("Type yes if they are the same", default="", show_default=False, err=True)
    except click.Abort:
        return False
    return str(answer).strip().lower() == "yes"


def _pin(signer: Signer) -> TrustedKey:
    try:
        pin = add_pin(signer.instance, signer.verify_key, utcnow())
    except PinsError as error:
        fail(str(error))
        raise
    click.echo(f"pinned the export key of {pin.instance} ({fingerprint(pin.verify_key)}) in {pins_path()}", err=True)
    return TrustedKey(pin.verify_key, f"pinned for {pin.instance} in {pins_path()} on {pin.pinned_at}")


def _trusted_key(directory: Path, key_file: Path | None, pin: bool, consequence: str = "") -> TrustedKey:
    """The key the manifest must be signed with; a one-line refusal when there is none to trust."""
    try:
        if key_file is not None:
            return TrustedKey(parse_verify_key(key_file.read_text(encoding="utf-8")), f"from {key_file}")
        own = instance_verify_key()
    except (ExportKeyError, OSError, UnicodeDecodeError) as error:
        fail(f"cannot read the export verify key: {error}")
        raise
    if own is not None:
        return TrustedKey(own, "this instance's EXPORT_SIGNING_KEY")

    signer = _read_signer(directory, consequence)
    try:
        pinned = find_pin(signer.instance) if pinnable(signer.instance) else None
    except PinsError as error:
        fail(str(error))
        raise
    if pinned is not None:
        return TrustedKey(pinned.verify_key, f"pinned for {pinned.instance} in {pins_path()} on {pinned.pinned_at}")
    _worth_trusting(directory, signer, consequence)
    if pin or _in_a_terminal():
        if _ask(signer):
            return _pin(signer)
        fail(f"not verified: the export key of {signer.instance} was not confirmed, so nothing was pinned{consequence}")
    fail(
        f"no trusted export key for {signer.instance}: pass --key-file with the key published at "
        f"{_published_at(signer.instance)}, or compare and pin its fingerprint once with --pin (or `export trust`)"
        f"{consequence}"
    )
    raise AssertionError("unreachable")


key_file_option = click.option(
    "--key-file",
    "--export-key-file",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the instance's published export verify key (as served at /admin/export-key); "
    "default: this instance's own key, else the key pinned for the export's instance on this machine",
)
pin_option = click.option(
    "--pin",
    is_flag=True,
    help="no key for the export's instance yet: show its fingerprint, and pin it if you confirm it matches the "
    "published one (asked anyway when run in a terminal)",
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
@pin_option
def verify(directory: Path, key_file: Path | None, pin: bool) -> None:
    """Check the manifest's signature against a trusted key, every file's SHA-256 and every count."""
    trusted = _trusted_key(directory, key_file, pin)
    report = verify_export(directory, trusted.verify_key, trusted.source)
    _print_report(report)
    assert report.manifest is not None
    totals = report.manifest["totals"]
    click.echo(
        f"verified {directory}: {report.manifest['initiative']['slug']}, {totals['statements']} statements "
        f"in {totals['countries']} member states, signed with {report.manifest['verify_key']} ({trusted.source})"
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
@click.option(
    "--raw",
    is_flag=True,
    help="write every value exactly as typed, for loading into a database: no apostrophe before a cell that a "
    "spreadsheet would run as a formula (do not open these files in a spreadsheet)",
)
@key_file_option
@pin_option
def open_(directory: Path, private_key_file: Path, out: Path, raw: bool, key_file: Path | None, pin: bool) -> None:
    """Verify the export, then decrypt it into one CSV per member state; on any problem write nothing."""
    trusted = _trusted_key(directory, key_file, pin, "; nothing was written")
    try:
        private_key = read_private_key(private_key_file)
    except (OSError, ValueError) as error:
        fail(f"cannot read the private key {private_key_file}: {error}")
        return
    try:
        result = open_export(directory, private_key, out, trusted.verify_key, trusted.source, raw=raw)
    except ExportInvalid as invalid:
        _print_report(invalid.report, "; nothing was written")
        return
    except ExportError as error:
        fail(f"{error}; nothing was written")
        return
    _print_report(result.report)
    for code, count in result.counts.items():
        click.echo(f"{code}.csv: {count} statements")
    cells = "values exactly as typed (--raw)" if raw else "cells that would run as a formula start with an apostrophe"
    click.echo(
        f"opened {directory} into {result.directory}: {sum(result.counts.values())} statements in "
        f"{len(result.counts)} CSV files, {cells}; signed with {result.report.manifest['verify_key']} "  # type: ignore[index]
        f"({trusted.source})"
    )


@export_cli.command("trust")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--fingerprint",
    "expected",
    help="the fingerprint the instance publishes (SHA256:...): pin without asking if the export's key has it",
)
@click.option("--replace", is_flag=True, help="replace the key pinned for that instance (after a key change)")
def trust(directory: Path, expected: str | None, replace: bool) -> None:
    """Pin the export key of the instance that signed DIR, after comparing its fingerprint with the published one."""
    signer = _read_signer(directory, "")
    _worth_trusting(directory, signer, "")
    try:
        pinned = find_pin(signer.instance)
    except PinsError as error:
        fail(str(error))
        return
    shown = fingerprint(signer.verify_key)
    if pinned is not None and pinned.verify_key == signer.verify_key:
        click.echo(f"the export key of {signer.instance} ({shown}) is already pinned in {pins_path()}")
        return
    if pinned is not None and not replace:
        fail(
            f"{pins_path()} pins another key for {signer.instance} ({fingerprint(pinned.verify_key)}, since "
            f"{pinned.pinned_at}); this export is signed with {shown}. If the instance announced a new key, "
            "compare it and run again with --replace"
        )
    if expected is not None:
        if expected.strip().removeprefix("SHA256:") != shown.removeprefix("SHA256:"):
            fail(f"the export's key has the fingerprint {shown}, not {expected.strip()}: nothing was pinned")
    elif not _ask(signer):
        fail(f"the export key of {signer.instance} was not confirmed: nothing was pinned")
    _pin(signer)
    click.echo(f"trusted: exports of {signer.instance} signed with {shown} now verify on this machine")
