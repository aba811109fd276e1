"""`flask audit verify|sign-head`, `flask retention purge`: parse arguments, call the service, print the result."""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..audit.checkpoint import store_checkpoint
from ..audit.heads import (
    HeadsRead,
    heads_file,
    read_heads_file,
    read_manifest_heads,
    sign_current_head,
    trusted_checkpoints,
)
from ..audit.log import ChainReport, verify_chain
from ..audit.retention import purge
from ..exports.keys import SigningKeyMissing, instance_verify_key
from ..exports.manifest import ExportKeyError, parse_verify_key
from . import fail

audit_cli = AppGroup("audit", help="The tamper-evident audit log.")
retention_cli = AppGroup("retention", help="Deleting what the retention rules say is due.")

HASH = re.compile(r"^[0-9a-fA-F]{64}$")


def _trusted_keys(key_files: tuple[Path, ...]) -> set[bytes]:
    """The keys a head must be signed with: the given files (the published key, and older ones after a rotation),
    else this instance's own."""
    try:
        if key_files:
            return {parse_verify_key(path.read_text(encoding="utf-8")) for path in key_files}
        key = instance_verify_key()
    except (ExportKeyError, OSError, UnicodeDecodeError) as error:
        fail(f"cannot read the export verify key: {error}")
        raise  # unreachable
    return {key} if key is not None else set()


def _read_heads(heads: tuple[Path, ...], manifests: tuple[Path, ...]) -> tuple[HeadsRead, str]:
    """The signed heads to hold the log against: those given, else the instance's heads file."""
    read = HeadsRead()
    if not heads and not manifests:
        default = heads_file(Path(current_app.config["AUDIT_HEADS_DIR"]))
        if not default.exists():
            read.notes.append(
                f"no signed head was given and {default} does not exist: only the chain itself was checked, which "
                "cannot show a rewrite of the whole log (run `audit sign-head` daily)"
            )
            return read, "none"
        heads = (default,)
    for path in heads:
        read.extend(read_heads_file(path))
    for path in manifests:
        read.extend(read_manifest_heads(path))
    sources = [str(p) for p in heads] + [f"manifests under {p}" for p in manifests]
    return read, ", ".join(sources)


def _verify(
    anchors: tuple[str, ...], heads: tuple[Path, ...], manifests: tuple[Path, ...], key_files: tuple[Path, ...]
) -> ChainReport:
    """The whole log against the anchors and signed heads; fails naming the first broken entry."""
    bad = [a for a in anchors if not HASH.match(a.strip())]
    if bad:
        fail(f"--anchor must be a 64-character hex SHA-256, not {bad[0]!r}")
    read, sources = _read_heads(heads, manifests)
    keys = _trusted_keys(key_files) if read.heads else set()
    if read.heads and not keys:
        fail("signed heads cannot be checked without the instance's verify key: give it with --key-file")
    checkpoints, forged = trusted_checkpoints(read, keys)
    for note in read.notes:
        click.echo(f"note: {note}", err=True)
    problems = read.problems + forged
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    report = verify_chain(anchors, checkpoints)
    if not report.intact:
        fail(f"audit log BROKEN: {report.describe_break()} ({report.entries} entries read)")
    if problems:
        fail(f"signed heads unusable: {problems[0]}")
    store_checkpoint(report)
    click.echo(f"audit log intact: {report.entries} entries, ids 1 to {report.head_id or 0} without a gap")
    if report.head_id is not None:
        click.echo(f"head: entry {report.head_id} {report.head_hash}")
    if checkpoints:
        click.echo(f"signed heads matched: {len(checkpoints)} (from {sources})")
    if anchors:
        click.echo(f"anchors found in the chain: {len(set(a.strip().lower() for a in anchors))}")
    return report


heads_option = click.option(
    "--heads",
    "heads",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a heads file (default: heads.jsonl under AUDIT_HEADS_DIR). Repeatable.",
)
manifest_option = click.option(
    "--manifest",
    "manifests",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="an export folder, its manifest.json, or a folder of exports: the signed heads they carry. Repeatable.",
)
key_file_option = click.option(
    "--key-file",
    "key_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the instance's published verify key (as served at /admin/export-key), and older ones after a rotation; "
    "default: this instance's own key. Repeatable.",
)


@audit_cli.command("verify")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="HASH",
    help="an entry hash printed by an earlier run and kept elsewhere; it must still be in the log. Repeatable.",
)
@heads_option
@manifest_option
@key_file_option
def audit_verify(
    anchors: tuple[str, ...], heads: tuple[Path, ...], manifests: tuple[Path, ...], key_files: tuple[Path, ...]
) -> None:
    """Check the audit log: ids without a gap, the hash chain, and the signed heads; exit non-zero naming the first
    broken entry.

    Editing, removing or reordering any entry breaks the chain from that entry on, and a removed entry leaves a gap
    in the ids. Someone who can write the database can still rewrite the whole log with recomputed hashes: the
    heads signed with the instance's key at every export and by `audit sign-head` (kept in the heads file, the
    export manifests and the application log) show that, because a rewritten log no longer holds the entry a head
    names with the hash it names. Entries written after the newest signed head are only as safe as the next one.
    """
    _verify(anchors, heads, manifests, key_files)


@audit_cli.command("sign-head")
def audit_sign_head() -> None:
    """Verify the log against the heads file, then sign its head and append it there and to the log (run daily).

    A broken log is not signed: the command exits non-zero naming the broken entry, so a timer reports it.
    """
    _verify((), (), (), ())
    try:
        head = sign_current_head("daily")
    except (SigningKeyMissing, ExportKeyError) as error:
        fail(str(error))
        return
    except OSError as error:
        fail(f"cannot write the heads file under {current_app.config['AUDIT_HEADS_DIR']}: {error}")
        return
    if head is None:
        click.echo("the audit log is empty: no head to sign")
        return
    path = heads_file(Path(current_app.config["AUDIT_HEADS_DIR"]))
    click.echo(f"signed head: entry {head.entry_id} {head.entry_hash} at {head.signed_at}, appended to {path}")


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
