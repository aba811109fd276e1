"""The last verified head: the newest entry a verification reached, stored so that the audit page walks only the
entries added since (issue 10: the page stays as fast at a million entries as at a thousand).

It lives in the database, so whoever can write the database can move it; it only saves work. On every view the page
also looks up the stored entry and the newest signed head (kept outside the database) by id, and `audit verify`
walks the whole log against every signed head.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import InstanceSetting
from .heads import newest_head, source_of
from .log import ChainReport, Checkpoint, verify_chain

VERIFIED_HEAD = "audit_verified_head"
"""InstanceSetting key: `<entry id>:<entry hash>` of the newest entry a verification found intact."""


def stored_checkpoint() -> Checkpoint | None:
    value = db.session.scalar(sa.select(InstanceSetting.value).where(InstanceSetting.key == VERIFIED_HEAD))
    entry_id, _, entry_hash = (value or "").partition(":")
    if not entry_id.isdigit() or len(entry_hash) != 64:
        return None
    return Checkpoint(int(entry_id), entry_hash, "the head verified before")


def store_checkpoint(report: ChainReport) -> None:
    """Remember how far an intact chain was verified (one upsert; two views at once both store a verified head)."""
    if not report.intact or report.head_id is None:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    value = f"{report.head_id}:{report.head_hash}"
    statement = insert(InstanceSetting).values(key=VERIFIED_HEAD, value=value)
    db.session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def page_status(heads_path: Path | None, trusted: Collection[bytes]) -> ChainReport:
    """The chain as the staff page shows it: walked from the last verified head, which must still be there, and held
    against the newest signed head of the heads file when there is one signed by a trusted key."""
    checkpoints: list[Checkpoint] = []
    head = newest_head(heads_path) if heads_path is not None else None
    if head is not None and heads_path is not None and head.signed_by(trusted):
        checkpoints.append(Checkpoint(head.entry_id, head.entry_hash, source_of(head, heads_path)))
    start = stored_checkpoint()
    report = verify_chain(checkpoints=checkpoints, start=start)
    if start is None or report.head_id != start.entry_id:
        store_checkpoint(report)
    return report
