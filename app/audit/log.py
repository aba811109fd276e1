"""`record` is the one way a staff action enters the audit log; `verify_chain` recomputes the chain.

Each entry's hash covers the previous entry's hash and every field of its own, so editing, removing or reordering
an entry breaks the chain at that entry. What a chain alone cannot show is the loss of its newest entries (the rest
still links up) or a wholesale rewrite by someone with write access to the database; the head hash, printed by
`audit verify` and taken elsewhere (a ticket, an email, a letter), is the anchor that shows both later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..database import insert_unless_conflict
from ..extensions import db
from ..models import AuditEntry, Initiative, utcnow

GENESIS = "0" * 64
_PG_LOCK = 0x5155_4F52  # "QUOR": serializes appends on PostgreSQL until the transaction ends


def entry_digest(
    prev_hash: str,
    created_at: datetime,
    actor: str,
    action: str,
    initiative_id: int | None,
    target: str,
    reason: str,
    details: str,
) -> str:
    """SHA-256 over the previous hash and every field, in a fixed canonical JSON form."""
    canonical = json.dumps(
        [
            prev_hash,
            created_at.isoformat(timespec="microseconds"),
            actor,
            action,
            initiative_id,
            target,
            reason,
            details,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _last_hash() -> str:
    last = db.session.scalar(sa.select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    return last or GENESIS


def record(
    actor: str,
    action: str,
    *,
    initiative: Initiative | None = None,
    target: str = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> str:
    """Append one entry in the caller's transaction (it stands or falls with the action); returns its hash.

    Two writers that read the same last entry cannot both append after it: `prev_hash` is unique, so the
    loser's insert does nothing and it reads the new last entry and tries again (on PostgreSQL an advisory
    lock makes writers wait their turn instead).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    details_text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    initiative_id = initiative.id if initiative is not None else None
    for _attempt in range(10):
        prev = _last_hash()
        created_at = utcnow()
        digest = entry_digest(prev, created_at, actor, action, initiative_id, target, reason, details_text)
        values = {
            "created_at": created_at,
            "actor": actor,
            "action": action,
            "initiative_id": initiative_id,
            "target": target,
            "reason": reason,
            "details": details_text,
            "prev_hash": prev,
            "entry_hash": digest,
        }
        if insert_unless_conflict(AuditEntry.__table__, values):
            return digest
    raise RuntimeError("could not append to the audit log")


def chain_head() -> tuple[int, str] | None:
    """The newest entry's id and hash, to quote elsewhere (an export, a report) as an anchor for `audit verify`."""
    row = db.session.execute(
        sa.select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return (row.id, row.entry_hash) if row is not None else None


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: how many entries, its head, and the first entry that does not fit."""

    entries: int
    head_id: int | None = None
    head_hash: str = GENESIS
    broken_id: int | None = None
    broken_created_at: datetime | None = None
    broken_action: str = ""
    problem: str = ""
    missing_anchors: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        return self.broken_id is None and not self.missing_anchors

    def describe_break(self) -> str:
        """One line naming the first broken entry, for the CLI and the staff page."""
        if self.broken_id is not None:
            when = self.broken_created_at.isoformat(sep=" ", timespec="seconds") if self.broken_created_at else "?"
            return f"entry {self.broken_id} ({when}, {self.broken_action}) {self.problem}"
        if self.missing_anchors:
            return (
                f"anchor {self.missing_anchors[0]} is not in the log: entries were removed from its end, or the "
                "log was rewritten, after that hash was taken"
            )
        return ""


_COLUMNS = (
    AuditEntry.id,
    AuditEntry.created_at,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.initiative_id,
    AuditEntry.target,
    AuditEntry.reason,
    AuditEntry.details,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
)


def verify_chain(anchors: Iterable[str] = ()) -> ChainReport:
    """Walk the log in id order, streaming; name the first entry whose link or content does not match.

    Each anchor is an entry hash taken earlier (e.g. the head printed by a previous run): it must still be in
    the chain, which is what shows that no entries were cut off the end or the log rebuilt since.
    """
    wanted = {a.strip().lower() for a in anchors if a.strip()}
    prev = GENESIS
    count = 0
    head_id: int | None = None
    rows = db.session.execute(sa.select(*_COLUMNS).order_by(AuditEntry.id).execution_options(yield_per=1000))
    for row in rows:
        count += 1
        if row.prev_hash != prev:
            rows.close()
            problem = (
                "does not follow the entry before it: an entry was removed or rewritten just before it, or entries "
                "were reordered"
                if count > 1
                else "is not the first entry of the log: earlier entries were removed"
            )
            return ChainReport(count, head_id, prev, row.id, row.created_at, row.action, problem)
        expected = entry_digest(
            row.prev_hash, row.created_at, row.actor, row.action, row.initiative_id, row.target, row.reason, row.details
        )
        if expected != row.entry_hash:
            rows.close()
            return ChainReport(
                count,
                head_id,
                prev,
                row.id,
                row.created_at,
                row.action,
                "does not match its hash: it was edited after it was written",
            )
        wanted.discard(row.entry_hash)
        prev = row.entry_hash
        head_id = row.id
    return ChainReport(count, head_id, prev, missing_anchors=tuple(sorted(wanted)))
