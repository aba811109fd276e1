"""Exports go when the statements they hold go (ECI.md, "Verification, retention"): their records, the files kept
in the database, and the folders `export create --out` wrote that are still where it wrote them.

`app.statements.purge.destroy_all` calls this, so no path destroys an initiative's statements and keeps copies of
them. A folder is removed only while its manifest.json is still the one recorded (same SHA-256), and only the files
that manifest lists: a folder that was moved, changed or lies on another machine is reported instead, by path, so
that a person can delete it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from ..extensions import db
from ..models import ExportChunk, ExportRecord, Initiative
from .manifest import COUNTRY_CODE, MANIFEST_NAME, file_name, sha256_hex


@dataclass
class ExportsDestroyed:
    """What went (or, in a dry run, would go)."""

    exports: int = 0
    folders: list[str] = field(default_factory=list)  # removed from this machine's disk
    not_found: list[str] = field(default_factory=list)  # recorded, but not (or no longer unchanged) where written


def _records(initiative: Initiative) -> list[tuple[int, str | None, str]]:
    rows = db.session.execute(
        sa.select(ExportRecord.id, ExportRecord.directory, ExportRecord.manifest_sha256)
        .where(ExportRecord.initiative_id == initiative.id)
        .order_by(ExportRecord.id)
    ).all()
    return [(int(i), d, h) for i, d, h in rows]


def _listed_files(folder: Path, manifest_sha256: str) -> list[Path] | None:
    """The export's files in `folder` if its manifest is still the recorded one, else None."""
    try:
        data = (folder / MANIFEST_NAME).read_bytes()
    except OSError:
        return None
    if sha256_hex(data) != manifest_sha256:
        return None
    countries = json.loads(data.decode("utf-8")).get("countries") or {}
    return [folder / file_name(code) for code in countries if COUNTRY_CODE.match(code)] + [folder / MANIFEST_NAME]


def _remove_folder(folder: Path, files: list[Path]) -> None:
    for path in files:
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # anything else someone put there stays, and so does the folder
        folder.rmdir()


def exports_due(initiative: Initiative) -> ExportsDestroyed:
    """A dry run: what `destroy_exports` would delete now."""
    found = ExportsDestroyed()
    for _id, directory, manifest_sha256 in _records(initiative):
        found.exports += 1
        if directory is not None:
            listed = _listed_files(Path(directory), manifest_sha256) is not None
            (found.folders if listed else found.not_found).append(directory)
    return found


def destroy_exports(initiative: Initiative) -> ExportsDestroyed:
    """Delete every export of the initiative: records and stored files in the caller's transaction, folders now.

    The folders go before the transaction commits: were it rolled back, the records would point at folders already
    gone, and the next retention run deletes them (data due for deletion errs towards deletion).
    """
    done = ExportsDestroyed()
    records = _records(initiative)
    for _id, directory, manifest_sha256 in records:
        if directory is None:
            continue
        files = _listed_files(Path(directory), manifest_sha256)
        if files is None:
            done.not_found.append(directory)
            continue
        _remove_folder(Path(directory), files)
        done.folders.append(directory)
    mine = ExportRecord.initiative_id == initiative.id
    # the chunks first, not by ON DELETE CASCADE alone: SQLite only cascades with its foreign keys switched on
    db.session.execute(
        sa.delete(ExportChunk)
        .where(ExportChunk.export_id.in_(sa.select(ExportRecord.id).where(mine)))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(sa.delete(ExportRecord).where(mine).execution_options(synchronize_session=False))
    done.exports = len(records)
    return done
