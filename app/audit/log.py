"""`record` is the one way a staff action enters the audit log; `verify_chain` checks the chain.

Each entry's hash covers the previous entry's hash and every field of its own, so editing, removing or reordering
an entry breaks the chain at that entry, and ids run 1, 2, 3, ... without a gap (`record` numbers them itself), so a
removed entry shows even where the chain was recomputed around it. What a chain alone cannot show is a wholesale
rewrite by someone who can write the database: they recompute every hash. Heads signed with the instance's key and
kept outside the database (app/audit/heads.py) are the checkpoints a rewrite cannot match.
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
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # made once: a walk hashes a million entries
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
    canonical = _CANONICAL.encode(
        [
            prev_hash,
            created_at.isoformat(timespec="microseconds"),
            actor,
            action,
            initiative_id,
            target,
            reason,
            details,
        ]
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _last_entry() -> tuple[int, str]:
    row = db.session.execute(
        sa.select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return (row.id, row.entry_hash) if row is not None else (0, GENESIS)


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

    The entry takes the id after the last one, never a sequence's next value: a rolled-back transaction would leave
    a gap in a sequence, and a gap must mean that an entry was removed. Two writers that read the same last entry
    cannot both append after it (the id and `prev_hash` are unique), so the loser's insert does nothing and it
    reads the new last entry and tries again (on PostgreSQL an advisory lock makes writers wait their turn instead).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    details_text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    initiative_id = initiative.id if initiative is not None else None
    for _attempt in range(10):
        last_id, prev = _last_entry()
        created_at = utcnow()
        digest = entry_digest(prev, created_at, actor, action, initiative_id, target, reason, details_text)
        values = {
            "id": last_id + 1,
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
    """The newest entry's id and hash in this transaction's view (uncommitted entries of its own included)."""
    row = db.session.execute(
        sa.select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return (row.id, row.entry_hash) if row is not None else None


def committed_head() -> tuple[int, str] | None:
    """The newest committed entry, read on a connection of its own: what a signed head may vouch for. An entry this
    transaction added may still be rolled back, and its id then taken by another entry."""
    with db.engine.connect() as connection:
        row = connection.execute(
            sa.select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
        ).first()
    return (row.id, row.entry_hash) if row is not None else None


@dataclass(frozen=True)
class Checkpoint:
    """An entry the log must still hold with this hash, and who says so (a signed head, an earlier verification)."""

    entry_id: int
    entry_hash: str
    source: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: how many entries were read, its head, and the first entry that does not fit.

    `checked_from` is the entry a walk started after (0: the whole log, from its first entry).
    """

    entries: int
    head_id: int | None = None
    head_hash: str = GENESIS
    broken_id: int | None = None
    broken_created_at: datetime | None = None
    broken_action: str = ""
    problem: str = ""
    missing_anchors: tuple[str, ...] = ()
    checked_from: int = 0
    checkpoints: int = 0

    @property
    def intact(self) -> bool:
        return self.broken_id is None and not self.missing_anchors

    def describe_break(self) -> str:
        """One line naming the first broken entry, for the CLI and the staff page."""
        if self.broken_id is not None:
            if self.broken_created_at is None:
                return f"entry {self.broken_id} {self.problem}"
            when = self.broken_created_at.isoformat(sep=" ", timespec="seconds")
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


def _rewritten(checkpoint: Checkpoint) -> str:
    return (
        f"does not match {checkpoint.source} (hash {checkpoint.entry_hash[:16]}…): the log was rewritten at or "
        "before this entry"
    )


def _gone(checkpoint: Checkpoint, last_id: int) -> str:
    ends = f"the log ends at entry {last_id}" if last_id else "the log is empty"
    return (
        f"is gone: {checkpoint.source} names it, but {ends}; entries were removed from the end of the log, or the "
        "log was rewritten"
    )


def _check_before_start(
    checkpoints: list[Checkpoint], start: Checkpoint, head_id: int
) -> tuple[int, Checkpoint, str] | None:
    """Entries at or before the point a walk starts from are looked up one by one: (id, checkpoint, problem)."""
    earlier = sorted((c for c in [start, *checkpoints] if c.entry_id <= start.entry_id), key=lambda c: c.entry_id)
    for checkpoint in earlier:
        stored = db.session.scalar(sa.select(AuditEntry.entry_hash).where(AuditEntry.id == checkpoint.entry_id))
        if stored is None:
            return checkpoint.entry_id, checkpoint, _gone(checkpoint, head_id)
        if stored != checkpoint.entry_hash:
            return checkpoint.entry_id, checkpoint, _rewritten(checkpoint)
    return None


def verify_chain(
    anchors: Iterable[str] = (), checkpoints: Iterable[Checkpoint] = (), start: Checkpoint | None = None
) -> ChainReport:
    """Walk the log in id order, streaming; name the first entry whose id, link, content or checkpoint does not fit.

    Each anchor is an entry hash taken earlier (e.g. the head printed by a previous run): it must still be in the
    chain. Each checkpoint (a signed head) names an entry that must still be there with that hash: a log rewritten
    with recomputed hashes cannot match it. With `start` (an entry verified before) only the entries after it are
    walked; it and the checkpoints before it are looked up by id.
    """
    wanted = {a.strip().lower() for a in anchors if a.strip()}
    points = list(checkpoints)
    by_id: dict[int, list[Checkpoint]] = {}
    for point in points:
        by_id.setdefault(point.entry_id, []).append(point)
    prev_id, prev = (start.entry_id, start.entry_hash) if start is not None else (0, GENESIS)
    head_id: int | None = start.entry_id if start is not None else None
    counted = len(points)
    prev_from = prev_id

    def broken(row: Any, problem: str, read: int) -> ChainReport:
        return ChainReport(
            read,
            head_id,
            prev,
            row.id,
            row.created_at,
            row.action,
            problem,
            checked_from=prev_from,
            checkpoints=counted,
        )

    if start is not None:
        last = db.session.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
        found = _check_before_start(points, start, last)
        if found is not None:
            entry_id, _checkpoint, problem = found
            row = db.session.execute(sa.select(*_COLUMNS).where(AuditEntry.id == entry_id)).first()
            if row is None:
                return ChainReport(0, None, GENESIS, entry_id, problem=problem, checked_from=prev_from)
            return broken(row, problem, 0)
    count = 0
    query = sa.select(*_COLUMNS).where(AuditEntry.id > prev_id).order_by(AuditEntry.id)
    rows = db.session.execute(query.execution_options(yield_per=1000))
    for row in rows:
        count += 1
        entry_id, created_at, actor, action, initiative_id, target, reason, details, prev_hash, entry_hash = row
        problem = ""
        if entry_id != prev_id + 1:
            if prev_id == 0:
                problem = f"is not the first entry of the log: earlier entries were removed (ids 1 to {entry_id - 1})"
            elif entry_id == prev_id + 2:
                problem = f"does not follow entry {prev_id}: entry {prev_id + 1} was removed"
            else:
                problem = f"does not follow entry {prev_id}: entries {prev_id + 1} to {entry_id - 1} were removed"
        elif prev_hash != prev:
            problem = (
                "does not follow the entry before it: an entry was removed or rewritten just before it, or entries "
                "were reordered"
                if prev_id > 0
                else "is not the first entry of the log: earlier entries were removed"
            )
        elif entry_hash != entry_digest(prev_hash, created_at, actor, action, initiative_id, target, reason, details):
            problem = "does not match its hash: it was edited after it was written"
        elif entry_id in by_id:
            for point in by_id.pop(entry_id):
                if point.entry_hash != entry_hash:
                    problem = _rewritten(point)
                    break
        if problem:
            rows.close()
            return broken(row, problem, count)
        if wanted:
            wanted.discard(entry_hash)
        prev_id, prev = entry_id, entry_hash
        head_id = entry_id
    beyond = sorted((p for p in points if p.entry_id > prev_id), key=lambda p: p.entry_id)
    if beyond:
        point = beyond[0]
        return ChainReport(
            count,
            head_id,
            prev,
            point.entry_id,
            problem=_gone(point, prev_id),
            checked_from=prev_from,
            checkpoints=counted,
        )
    return ChainReport(
        count, head_id, prev, missing_anchors=tuple(sorted(wanted)), checked_from=prev_from, checkpoints=counted
    )
