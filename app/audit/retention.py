"""Deleting what the retention rules say is due (ECI.md "Verification, retention"; Regulation (EU) 2019/788,
Art. 19 and the Commission's data-protection guidance, question 16).

- Statements of an initiative: all of them, 1 month after it was submitted or withdrawn, and at the latest
  21 months after collection started.
- Unconfirmed statements: once their confirmation link has expired (the newest link, `link_sent_at` or else
  `created_at`, older than CONFIRM_MAX_AGE), or
  once collection is over (a link can no longer confirm anything then).
- Subscriber addresses: when the owner unsubscribed; never-confirmed ones with their statement; all of them
  12 months after collection ended or the initiative was submitted or withdrawn, whichever came first.
- Outbox rows delivered or given up more than 30 days ago (their address and body are already scrubbed).
- Spent proof-of-work challenges once they have expired (a replay is refused by their expiry alone then).
- Addresses that asked for a partner's updates and were not handed over yet: with their statement (the foreign key
  cascades). Sealed partner hand-overs: the file 30 days after it was made (the partner has it by then; the server
  never could open it), the record of it stays (app/partners/handovers.py).
- Exports of an initiative, with its statements (records, stored files, the folders `export create` wrote):
  `app.exports.purge`.

Every deletion is one set-based DELETE per category and initiative. The per-country counters are left alone when an
initiative's statements are destroyed: the campaign is over and the counters stay as its historical count, which
the audit entry of the purge records; only a recount from the statements would now say zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..database import forget_scrubbed
from ..exports.purge import ExportsDestroyed, exports_due
from ..extensions import db
from ..initiatives import add_months
from ..models import (
    Initiative,
    MailAllowance,
    OutboxMessage,
    OutboxStatus,
    Partner,
    PartnerHandover,
    PartnerOptIn,
    PublicStatus,
    SpentChallenge,
    Statement,
    Subscriber,
    utcnow,
)
from ..statements import purge as destroy
from ..statements import tallies
from ..statements.purge import waiting
from .log import record

STATEMENT_MONTHS_AFTER_START = 21
STATEMENT_MONTHS_AFTER_SUBMISSION = 1
SUBSCRIBER_MONTHS_AFTER_END = 12
OUTBOX_KEEP_DAYS = 30
PARTNER_HANDOVER_KEEP_DAYS = 30
ACTOR = "retention"

# Report order and wording; the keys are also the audit entry's detail names.
CATEGORIES: dict[str, str] = {
    "statements_due": "statements past the retention deadline",
    "statements_unconfirmed": "unconfirmed statements (link expired or collection over)",
    "exports": "exports holding those statements",
    "export_folders": "export folders on this machine",
    "subscribers_unsubscribed": "unsubscribed addresses",
    "subscribers_due": "subscriber addresses past the 12-month limit",
    "subscribers_unconfirmed": "subscriber addresses of unconfirmed statements",
    "outbox_messages": "delivered or failed outbox messages",
    "mail_allowances": "daily email counts of past days",
    "spent_challenges": "expired proof-of-work challenges",
    "partner_addresses": "addresses kept for a partner, with their statements",
    "partner_handovers": "sealed partner hand-overs older than 30 days",
}
NO_INITIATIVE = ""


def months_after(moment: datetime, months: int) -> datetime:
    return datetime.combine(add_months(moment.date(), months), moment.time())


def statements_deadline(initiative: Initiative) -> datetime:
    """The earliest of: 21 months after collection started, 1 month after submission or withdrawal."""
    candidates = [months_after(datetime.combine(initiative.collection_start, time.min), STATEMENT_MONTHS_AFTER_START)]
    for moment in (initiative.submitted_at, initiative.withdrawn_at):
        if moment is not None:
            candidates.append(months_after(moment, STATEMENT_MONTHS_AFTER_SUBMISSION))
    return min(candidates)


def collection_ended(initiative: Initiative) -> datetime:
    """Midnight after the last day of collection, or the submission or withdrawal if that came first."""
    candidates = [datetime.combine(initiative.collection_end + timedelta(days=1), time.min)]
    candidates += [m for m in (initiative.submitted_at, initiative.withdrawn_at) if m is not None]
    return min(candidates)


def subscribers_deadline(initiative: Initiative) -> datetime:
    """12 months after collection ended (or the initiative was submitted or withdrawn, if earlier)."""
    return months_after(collection_ended(initiative), SUBSCRIBER_MONTHS_AFTER_END)


@dataclass
class PurgeReport:
    """Counts per initiative slug ("" for rows of no initiative) and category; the same numbers in a dry run."""

    now: datetime
    dry_run: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # export folders recorded but not found unchanged where they were written: a person must delete them
    folders_not_found: dict[str, list[str]] = field(default_factory=dict)

    def add(self, slug: str, category: str, count: int) -> None:
        if count:
            self.counts.setdefault(slug, {})
            self.counts[slug][category] = self.counts[slug].get(category, 0) + count

    def count(self, slug: str, category: str) -> int:
        return self.counts.get(slug, {}).get(category, 0)

    def totals(self) -> dict[str, int]:
        return {
            c: sum(per.get(c, 0) for per in self.counts.values())
            for c in CATEGORIES
            if any(c in per for per in self.counts.values())
        }

    @property
    def total(self) -> int:
        return sum(self.totals().values())

    def lines(self) -> list[str]:
        """One line per initiative with what was (or would be) deleted."""
        out = []
        for slug in sorted(self.counts):
            parts = [f"{CATEGORIES[c]} {self.counts[slug][c]}" for c in CATEGORIES if c in self.counts[slug]]
            out.append(f"{slug or '(no initiative)'}: {', '.join(parts)}")
        for slug, folders in sorted(self.folders_not_found.items()):
            out.append(
                f"{slug}: export folders not found unchanged where they were written, delete them by hand: "
                + ", ".join(folders)
            )
        return out

    def add_exports(self, slug: str, exports: ExportsDestroyed) -> None:
        self.add(slug, "exports", exports.exports)
        self.add(slug, "export_folders", len(exports.folders))
        if exports.not_found:
            self.folders_not_found[slug] = exports.not_found


def _delete(
    model: type[Subscriber] | type[OutboxMessage] | type[MailAllowance] | type[SpentChallenge],
    where: Sequence[ColumnElement[bool]],
    dry_run: bool,
) -> int:
    """One set-based DELETE, or in a dry run a COUNT over the same condition. Subscribers and outbox messages leave
    their initiative's tallies as they go."""
    if dry_run:
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0)
    statement = sa.delete(model).where(*where).execution_options(synchronize_session=False)
    if model is Subscriber:
        rows = db.session.execute(statement.returning(*tallies.SUBSCRIBER_COLUMNS)).all()
        tallies.subscribers_gone(rows)
        return len(rows)
    if model is OutboxMessage:
        rows = db.session.execute(statement.returning(*tallies.MAIL_COLUMNS)).all()
        tallies.mail_gone(rows)
        return len(rows)
    result = db.session.execute(statement)
    return int(result.rowcount)


def _statements_due(initiative: Initiative, now: datetime, link_age: timedelta) -> tuple[str, list[Any]]:
    """Which statements of this initiative go now, and under which category."""
    if now >= statements_deadline(initiative):
        return "statements_due", [Statement.initiative_id == initiative.id]
    unconfirmed = [Statement.initiative_id == initiative.id, waiting()]
    if initiative.public_status(now.date()) in (PublicStatus.CLOSED, PublicStatus.SUBMITTED):
        return "statements_unconfirmed", unconfirmed  # no link confirms anything once collection is over
    newest_link = sa.func.coalesce(Statement.link_sent_at, Statement.created_at)
    return "statements_unconfirmed", [*unconfirmed, newest_link < now - link_age]


def _purge_initiative(initiative: Initiative, now: datetime, link_age: timedelta, report: PurgeReport) -> None:
    dry_run = report.dry_run
    slug = initiative.slug
    statement_category, statement_where = _statements_due(initiative, now, link_age)
    doomed_ids = sa.select(Statement.id).where(*statement_where)
    mine = Subscriber.initiative_id == initiative.id

    report.add(
        slug, "subscribers_unsubscribed", _delete(Subscriber, [mine, Subscriber.unsubscribed_at.is_not(None)], dry_run)
    )
    if now >= subscribers_deadline(initiative):
        report.add(slug, "subscribers_due", _delete(Subscriber, [mine, Subscriber.unsubscribed_at.is_(None)], dry_run))
    else:
        # an address whose statement was never confirmed was never kept for updates (it never became active)
        never_confirmed = [
            mine,
            Subscriber.unsubscribed_at.is_(None),
            sa.not_(Subscriber.active),
            sa.or_(Subscriber.statement_id.is_(None), Subscriber.statement_id.in_(doomed_ids)),
        ]
        report.add(slug, "subscribers_unconfirmed", _delete(Subscriber, never_confirmed, dry_run))

    if not dry_run:
        # the addresses kept for updates outlive the statement they came with: only the link goes
        db.session.execute(
            sa.update(Subscriber)
            .where(Subscriber.statement_id.in_(doomed_ids))
            .values(statement_id=None)
            .execution_options(synchronize_session=False)
        )
    report.add(
        slug, "partner_addresses", _partner_addresses(doomed_ids)
    )  # the cascade deletes them with the statements
    if dry_run:
        deleted = destroy.count(statement_where)
        if statement_category == "statements_due":
            report.add_exports(slug, exports_due(initiative))
    elif statement_category == "statements_due":
        destroyed = destroy.destroy_all(initiative, now)
        deleted = destroyed.statements
        report.add_exports(slug, destroyed.exports)
    else:
        deleted = destroy.delete_waiting(initiative, statement_where)
    report.add(slug, statement_category, deleted)
    report.add(
        slug,
        "mail_allowances",
        _delete(MailAllowance, [MailAllowance.initiative_id == initiative.id, MailAllowance.day < now.date()], dry_run),
    )
    report.add(slug, "partner_handovers", _forget_handovers(initiative, now, dry_run))


def _partner_addresses(doomed_ids: sa.Select[Any]) -> int:
    """Addresses kept for a partner that go with these statements (never handed over: the others are scrubbed)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(PartnerOptIn)
            .where(PartnerOptIn.statement_id.in_(doomed_ids), PartnerOptIn.handed_over_at.is_(None))
        )
        or 0
    )


def _forget_handovers(initiative: Initiative, now: datetime, dry_run: bool) -> int:
    """The sealed files of the initiative's partner hand-overs made more than PARTNER_HANDOVER_KEEP_DAYS ago."""
    where = [
        PartnerHandover.partner_id.in_(sa.select(Partner.id).where(Partner.initiative_id == initiative.id)),
        PartnerHandover.sealed.is_not(None),
        PartnerHandover.created_at < now - timedelta(days=PARTNER_HANDOVER_KEEP_DAYS),
    ]
    if dry_run:
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(PartnerHandover).where(*where)) or 0)
    result = db.session.execute(
        sa.update(PartnerHandover)
        .where(*where)
        .values(sealed=None, deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def purge(
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    confirm_max_age: int,
    only: Initiative | None = None,
    actor: str = ACTOR,
    reason: str = "",
) -> PurgeReport:
    """Delete (or, in a dry run, count) everything due at `now`, and audit-log what went; never commits.

    `only` limits the purge to one initiative's rows (an auditor's purge from the staff side, with the `reason` they
    gave, which the audit entries keep beside the rules').
    """
    now = now or utcnow()
    report = PurgeReport(now=now, dry_run=dry_run)
    if not dry_run:
        forget_scrubbed()
    link_age = timedelta(seconds=confirm_max_age)
    if only is not None:
        initiatives = [only]
    else:
        initiatives = list(db.session.scalars(sa.select(Initiative).order_by(Initiative.slug)))
    for initiative in initiatives:
        _purge_initiative(initiative, now, link_age, report)

    old_mail = [
        OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.BOUNCED)),
        OutboxMessage.created_at < now - timedelta(days=OUTBOX_KEEP_DAYS),
    ]
    for initiative in initiatives:
        report.add(
            initiative.slug,
            "outbox_messages",
            _delete(OutboxMessage, [*old_mail, OutboxMessage.initiative_id == initiative.id], dry_run),
        )
    if only is None:
        report.add(
            NO_INITIATIVE,
            "outbox_messages",
            _delete(OutboxMessage, [*old_mail, OutboxMessage.initiative_id.is_(None)], dry_run),
        )
        report.add(
            NO_INITIATIVE, "spent_challenges", _delete(SpentChallenge, [SpentChallenge.expires_at <= now], dry_run)
        )

    if not dry_run:
        _record(report, initiatives, actor, reason)
    return report


def _record(report: PurgeReport, initiatives: list[Initiative], actor: str, reason: str) -> None:
    """One entry per initiative that lost rows (with the counters kept as its historical count), one for the run."""
    for initiative in initiatives:
        counts = report.counts.get(initiative.slug)
        if not counts:
            continue
        details: dict[str, Any] = dict(counts)
        if initiative.slug in report.folders_not_found:
            details["export_folders_not_found"] = report.folders_not_found[initiative.slug]
        if "statements_due" in counts:
            details["statements_deadline"] = statements_deadline(initiative).isoformat()
            details["counters_kept"] = {
                c.country_code: c.confirmed_count for c in initiative.countries if c.confirmed_count
            }
        record(
            actor,
            "retention.purge",
            initiative=initiative,
            target=initiative.slug,
            reason=_with(
                reason,
                "retention rules: statements and their exports, unconfirmed statements, subscriber addresses, "
                "sent mail",
            ),
            details=details,
        )
    record(
        actor,
        "retention.run",
        reason=_with(reason, "retention rules"),
        details={
            "now": report.now.isoformat(),
            "totals": report.totals(),
            "outbox_messages_without_initiative": report.count(NO_INITIATIVE, "outbox_messages"),
        },
    )


def _with(reason: str, rules: str) -> str:
    """The staff member's reason first, then the rules that made the rows due."""
    return f"{reason} ({rules})" if reason else rules
