"""`record` is the one way a staff action enters the audit log; `verify_chain` recomputes the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..database import insert_unless_conflict
from ..extensions import db
from ..models import AuditEntry, Initiative, utcnow

GENESIS = "0" * 64
_PG_LOCK = 0x5155_4F52  # "QUOR": serializes appends on PostgreSQL until the transaction ends


def entry_digest(prev_hash: str, created_at: datetime, actor: str, action: str, initiative_id: int | None,
                 target: str, reason: str, details: str) -> str:
    """SHA-256 over the previous hash and every field, in a fixed canonical JSON form."""
    canonical = json.dumps(
        [prev_hash, created_at.isoformat(timespec="microseconds"), actor, action, initiative_id, target, reason,
         details],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _last_hash() -> str:
    last = db.session.scalar(sa.select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    return last or GENESIS


def record(actor: str, action: str, *, initiative: Initiative | None = None, target: str = "", reason: str = "",
           details: dict[str, Any] | None = None) -> str:
    """Append one entry in the caller's transaction (it stands or falls with the action); returns its hash."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    details_text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    initiative_id = initiative.id if initiative is not None else None
    for _attempt in range(10):
        prev = _last_hash()
        created_at = utcnow()
        digest = entry_digest(prev, created_at, actor, action, initiative_id, target, reason, details_text)
        values = {
            "created_at": created_at, "actor": actor, "action": action, "initiative_id": initiative_id,
            "target": target, "reason": reason, "details": details_text, "prev_hash": prev, "entry_hash": digest,
        }
        if insert_unless_conflict(AuditEntry.__table__, values):
            return digest
    raise RuntimeError("could not append to the audit log")


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken_at: int | None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def _entries() -> Iterator[AuditEntry]:
    return iter(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=500)))


def verify_chain() -> ChainReport:
    """Walk the log in order; the first entry whose link or content does not match is named."""
    prev = GENESIS
    count = 0
    for entry in _entries():
        count += 1
        if entry.prev_hash != prev:
            return ChainReport(count, entry.id, "does not follow the entry before it (an entry was removed or "
                                                "reordered)")
        expected = entry_digest(entry.prev_hash, entry.created_at, entry.actor, entry.action, entry.initiative_id,
                                entry.target, entry.reason, entry.details)
        if expected != entry.entry_hash:
            return ChainReport(count, entry.id, "its content does not match its hash (it was edited)")
        prev = entry.entry_hash
    return ChainReport(count, None)
