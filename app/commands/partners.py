"""`flask partners keygen|verify|open`: the partner's side of a hand-over, run on the partner's own computer.

None of them needs the database: `keygen` makes the key pair whose public half the organizers enter on the partner's
page; `verify` and `open` check a downloaded hand-over against the instance's published export key and open it.
"""

from __future__ import annotations

import base64
from pathlib import Path

import click
from flask.cli import AppGroup

from ..exports.keys import instance_verify_key
from ..exports.manifest import ExportKeyError, parse_verify_key
from ..partners.handovers import HandoverError, HandoverReport, open_handover, verify_handover
from ..sealing import generate_key_pair, read_private_key, write_private_key
from . import fail
from .exports import key_file_option

partners_cli = AppGroup("partners", help="A partner organisation's key pair, and opening its sealed hand-overs.")


@partners_cli.command("keygen")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def keygen(out: Path) -> None:
    """Make the partner's key pair: the private key goes to --out (mode 0600); give the printed public key to the
    organizers."""
    if out.exists():
        fail(f"{out} exists already; refusing to overwrite a private key")
    if not out.parent.is_dir():
        fail(f"the folder {out.parent} does not exist")
    private, public = generate_key_pair()
    write_private_key(out, private)
    click.echo(f"wrote the private key to {out} (mode 0600); keep it, nobody can make it again")
    click.echo(f"public key: {base64.b64encode(public).decode('ascii')}")


def _report(report: HandoverReport) -> None:
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if not report.ok:
        fail(f"{report.source} failed verification: {len(report.problems)} problem(s), listed above")


def _trusted_key(key_file: Path | None) -> tuple[bytes, str]:
    """The key a hand-over must be signed with: the published one (--key-file), or this instance's own; never the
    key the hand-over names itself (a forger would name theirs)."""
    try:
        if key_file is not None:
            return parse_verify_key(key_file.read_text(encoding="utf-8")), f"from {key_file}"
        own = instance_verify_key()
    except (ExportKeyError, OSError, UnicodeDecodeError) as error:
        fail(f"cannot read the export verify key: {error}")
        raise
    if own is None:
        fail(
            "no trusted key: pass --key-file with the instance's export key (its staff page /admin/export-key shows "
            "it; compare its fingerprint with the organizers by another channel)"
        )
        raise AssertionError("unreachable")
    return own, "this instance's EXPORT_SIGNING_KEY"


@partners_cli.command("verify")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@key_file_option
def verify(source: Path, key_file: Path | None) -> None:
    """Check a hand-over (.zip, or the folder it was unpacked into): signature, signer, hash and count."""
    known, where = _trusted_key(key_file)
    report = verify_handover(source, known, where)
    _report(report)
    assert report.manifest is not None
    click.echo(
        f"verified {source}: {report.manifest['addresses']} addresses for {report.manifest['partner']['code']} "
        f"of {report.manifest['initiative']['slug']}, signed with {report.manifest['verify_key']}"
    )


@partners_cli.command("open")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--key",
    "private_key_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the partner's private key file (from `partners keygen`)",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="a CSV file that does not exist yet"
)
@key_file_option
def open_(source: Path, private_key_file: Path, out: Path, key_file: Path | None) -> None:
    """Verify the hand-over, then decrypt it into one CSV (email, language, opted_in_at); on any problem write
    nothing."""
    known, where = _trusted_key(key_file)
    try:
        private_key = read_private_key(private_key_file)
    except (OSError, ValueError) as error:
        fail(f"cannot read the private key {private_key_file}: {error}")
        return
    report = verify_handover(source, known, where)
    if not report.ok:
        _report(report)
        return
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    try:
        opened = open_handover(source, private_key, out, known, where)
    except HandoverError as error:
        fail(f"{error}; nothing was written")
        return
    click.echo(f"opened {source} into {opened.out}: {opened.addresses} addresses for {opened.partner}")
