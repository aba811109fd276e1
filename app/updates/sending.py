"""Sending an update: a test to oneself; then to every confirmed subscriber, at UPDATES_PER_MINUTE, with pausing and
resuming; and `send_due`, the mail worker's part, run before each of its delivery rounds.

The pace (docs/decisions/011-updates-to-supporters.md): the worker writes messages only for the delivery times free
in the coming minute, each with its own `next_attempt_at`, 60/UPDATES_PER_MINUTE seconds after the one before, all
updates of the instance together. The ordinary delivery round then sends each when it is due, so the outbox never
holds more than a minute's worth of rendered bodies; delivered ones are counted into the update and deleted.

Plain values in (the initiative, the update, links, keys, a clock, the actor), domain errors out; never commits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from ..audit.log import record
from ..database import forget_scrubbed
from ..extensions import db
from ..links import Links
from ..mail.bounces import address_is_dead
from ..mail.outbox import enqueue
from ..models import (
    Initiative,
    OutboxMessage,
    OutboxStatus,
    Statement,
    Subscriber,
    SupporterUpdate,
    SupporterUpdateText,
    TallyName,
    UpdateStatus,
)
from ..signing.subscriptions import end_bounced, receiving_updates, unsubscribe_url
from ..statements import tallies
from ..template_helpers import render_markdown
from .writing import UpdateError, compose, digest, must_be_draft, target, text_for

KIND = "update"
TEST_KIND = "update_test"
WORKER = "mail worker"
DELIVERED = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.BOUNCED)
HORIZON = timedelta(minutes=1)
_PG_LOCK = 0x5155_5044  # "QUPD": one worker at a time writes updates' messages, so the pace holds for all together
NO_SUBSCRIBER = 0  # a test message's unsubscribe link: it works, and ends nothing


def page_url(links: Links, initiative: Initiative) -> str:
    return links.external("signing.initiative_page", slug=initiative.slug)


def audience(initiative_id: int) -> int:
    """How many addresses an update would go to now: confirmed subscribers who have not left."""
    return int(
        db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber).where(receiving_updates(initiative_id)))
        or 0
    )


# --- staff actions ------------------------------------------------------------------------------------------------


def send_test(
    initiative: Initiative,
    update: SupporterUpdate,
    locale: str | None,
    *,
    to: str,
    links: Links,
    secret_key: str,
    actor: str,
) -> str:
    """The message in one language (or the default) to the staff member's own address; returns the language used."""
    text = text_for(update, locale)
    unsubscribe = unsubscribe_url(links, secret_key, initiative, NO_SUBSCRIBER)
    message = compose(initiative, text, page_url=page_url(links, initiative), unsubscribe_url=unsubscribe, test=True)
    enqueue(
        TEST_KIND,
        to,
        lambda: _("[Test] %(subject)s", subject=text.subject),
        "update",
        locale=text.locale,
        initiative_id=initiative.id,
        list_unsubscribe=unsubscribe,
        message=message,
    )
    record(
        actor,
        "update.test_send",
        initiative=initiative,
        target=target(update),
        details={"update": update.id, "locale": text.locale, "sha256": digest(update)},
    )
    return text.locale


def _move(update: SupporterUpdate, before: UpdateStatus, after: UpdateStatus, **values: Any) -> bool:
    """Change the status only if it still is `before`: two clicks, or a click and the worker, cannot both act."""
    moved = db.session.execute(
        sa.update(SupporterUpdate)
        .where(SupporterUpdate.id == update.id, SupporterUpdate.status == before)
        .values(status=after, **values)
    ).rowcount
    return bool(moved == 1)


def start(initiative: Initiative, update: SupporterUpdate, *, actor: str, now: datetime, per_minute: int) -> int:
    """Send the draft to everyone subscribed now; returns how many. The mail worker does the sending."""
    must_be_draft(update)
    recipients = audience(initiative.id)
    if recipients == 0:
        raise UpdateError(_l("Nobody receives updates yet: no supporter who asked for them has confirmed."))
    newest = db.session.scalar(sa.select(sa.func.max(Subscriber.id)).where(Subscriber.initiative_id == initiative.id))
    if not _move(
        update,
        UpdateStatus.DRAFT,
        UpdateStatus.SENDING,
        started_at=now,
        started_by=actor,
        last_subscriber_id=newest,
        enqueued_through=0,
        updated_at=now,
    ):
        raise UpdateError(_l("This update is already being sent."))
    record(
        actor,
        "update.send",
        initiative=initiative,
        target=target(update),
        details={
            "update": update.id,
            "recipients": recipients,
            "per_minute": per_minute,
            "default_locale": update.default_locale,
            "locales": sorted(t.locale for t in update.texts),
            "sha256": digest(update),
        },
    )
    return recipients


def pause(initiative: Initiative, update: SupporterUpdate, *, actor: str, now: datetime) -> int:
    """Nothing more goes out: messages waiting for their time are held, address and body scrubbed until resumed.
    Returns how many were held (a message the worker is sending at this moment still goes)."""
    if not _move(update, UpdateStatus.SENDING, UpdateStatus.PAUSED, updated_at=now):
        raise UpdateError(_l("Only an update that is being sent can be paused."))
    forget_scrubbed()
    # RETURNING gives the new status: the attempts tell a queued message from a retrying one, as before the pause
    held = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.update_id == update.id, OutboxMessage.status == OutboxStatus.QUEUED)
        .values(status=OutboxStatus.HELD, to_address=None, body_text=None, body_html=None, list_unsubscribe=None)
        .returning(OutboxMessage.initiative_id, OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    for row in held:
        tallies.move_mail(row.initiative_id, tallies.mail_state(OutboxStatus.QUEUED, row.attempts), TallyName.MAIL_HELD)
    record(
        actor,
        "update.pause",
        initiative=initiative,
        target=target(update),
        details={"update": update.id, "held": len(held)},
    )
    return len(held)


def resume(initiative: Initiative, update: SupporterUpdate, *, actor: str, now: datetime) -> None:
    """Carry on where it stopped: the held messages first, written afresh, then the rest, at the pace."""
    if not _move(update, UpdateStatus.PAUSED, UpdateStatus.SENDING, updated_at=now):
        raise UpdateError(_l("Only a paused update can be resumed."))
    record(actor, "update.resume", initiative=initiative, target=target(update), details={"update": update.id})


# --- progress -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where an update's sending stands. `remaining`: subscribers whose message is not written yet."""

    queued: int
    retrying: int
    held: int
    sent: int
    failed: int
    bounced: int
    remaining: int

    @property
    def delivered(self) -> int:
        return self.sent + self.failed + self.bounced

    @property
    def total(self) -> int:
        return self.delivered + self.queued + self.retrying + self.held + self.remaining


def progress(update: SupporterUpdate) -> Progress:
    """The tallies kept on the update plus its messages still in the outbox (at most a few minutes' worth), and a
    count over the subscriber index for those still to come."""
    retried = OutboxMessage.attempts > 0
    state = sa.case(
        (sa.and_(OutboxMessage.status == OutboxStatus.QUEUED, retried), "retrying"), else_=OutboxMessage.status
    )
    rows = db.session.execute(
        sa.select(state, sa.func.count()).where(OutboxMessage.update_id == update.id).group_by(state)
    )
    outbox = {str(name): int(count) for name, count in rows}
    if update.status == UpdateStatus.DRAFT:
        remaining = audience(update.initiative_id)
    elif update.status == UpdateStatus.SENT:
        remaining = 0
    else:
        remaining = int(
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Subscriber)
                .where(
                    receiving_updates(update.initiative_id),
                    Subscriber.id > update.enqueued_through,
                    Subscriber.id <= (update.last_subscriber_id or 0),
                )
            )
            or 0
        )
    return Progress(
        queued=outbox.get(OutboxStatus.QUEUED, 0),
        retrying=outbox.get("retrying", 0),
        held=outbox.get(OutboxStatus.HELD, 0),
        sent=update.sent + outbox.get(OutboxStatus.SENT, 0),
        failed=update.failed + outbox.get(OutboxStatus.FAILED, 0),
        bounced=update.bounced + outbox.get(OutboxStatus.BOUNCED, 0),
        remaining=remaining,
    )


# --- the mail worker's part ---------------------------------------------------------------------------------------


def free_slots(now: datetime, per_minute: int, paced_until: datetime | None, waiting: int) -> list[datetime]:
    """The delivery times still free in the coming minute: 60/per_minute seconds apart, none before `paced_until`
    (the time after the last one given out), and no more than a minute's worth waiting in the outbox."""
    interval = timedelta(minutes=1) / per_minute
    room = per_minute - waiting
    slot = now if paced_until is None else max(now, paced_until)
    slots: list[datetime] = []
    while slot < now + HORIZON and len(slots) < room:
        slots.append(slot)
        slot += interval
    return slots


@dataclass
class RoundReport:
    written: int = 0  # messages enqueued this round
    counted: int = 0  # delivered messages counted into their update and deleted
    dead_addresses: int = 0  # subscriptions ended by a hard bounce
    finished: int = 0  # updates that went to everyone


def _take_turn() -> bool:
    """On PostgreSQL one worker at a time (the others skip this round); SQLite has one writer anyway."""
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.session.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _PG_LOCK}))


def _count_delivered(update: SupporterUpdate, now: datetime, report: RoundReport) -> None:
    """Fold the update's delivered messages (already scrubbed) into its tallies and delete them; end the addresses
    a receiving server called dead."""
    rows = db.session.execute(
        sa.delete(OutboxMessage)
        .where(OutboxMessage.update_id == update.id, OutboxMessage.status.in_(DELIVERED))
        .returning(*tallies.MAIL_COLUMNS, OutboxMessage.subscriber_id, OutboxMessage.bounce_code)
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        return
    tallies.mail_gone(rows)
    tally = Counter(str(row.status) for row in rows)
    update.sent = SupporterUpdate.sent + tally[OutboxStatus.SENT]  # type: ignore[assignment]
    update.failed = SupporterUpdate.failed + tally[OutboxStatus.FAILED]  # type: ignore[assignment]
    update.bounced = SupporterUpdate.bounced + tally[OutboxStatus.BOUNCED]  # type: ignore[assignment]
    dead = [
        row.subscriber_id
        for row in rows
        if row.status == OutboxStatus.BOUNCED and row.subscriber_id is not None and address_is_dead(row.bounce_code)
    ]
    report.counted += len(rows)
    report.dead_addresses += end_bounced(dead, now)


class _Writer:
    """Writes one update's messages: each supporter's text in the language of their statement, else the default."""

    def __init__(self, update: SupporterUpdate, links: Links, secret_key: str) -> None:
        initiative = db.session.get(Initiative, update.initiative_id)
        assert initiative is not None
        self.update = update
        self.initiative = initiative
        self.links = links
        self.secret_key = secret_key
        self.page_url = page_url(links, initiative)
        self._html: dict[str, Markup] = {}

    def write(self, subscriber_id: int, email: str, locale: str | None, slot: datetime) -> None:
        text: SupporterUpdateText = text_for(self.update, locale)
        if text.locale not in self._html:
            self._html[text.locale] = render_markdown(text.body)
        unsubscribe = unsubscribe_url(self.links, self.secret_key, self.initiative, subscriber_id)
        message = compose(
            self.initiative,
            text,
            page_url=self.page_url,
            unsubscribe_url=unsubscribe,
            body_html=self._html[text.locale],
        )
        row = enqueue(
            KIND,
            email,
            lambda: text.subject,
            "update",
            locale=text.locale,
            initiative_id=self.initiative.id,
            list_unsubscribe=unsubscribe,
            message=message,
        )
        row.update_id = self.update.id
        row.subscriber_id = subscriber_id
        row.next_attempt_at = slot


def _recipients(update: SupporterUpdate) -> sa.Select[Any]:
    return (
        sa.select(Subscriber.id, Subscriber.email, Statement.locale)
        .outerjoin(Statement, Statement.id == Subscriber.statement_id)
        .where(receiving_updates(update.initiative_id))
    )


def _write_next(update: SupporterUpdate, slots: list[datetime], writer: _Writer) -> list[datetime]:
    """Messages for as many supporters as there are slots: those held by a pause first, then the next ones in id
    order. Returns the slots left over."""
    held = db.session.execute(
        _recipients(update)
        .add_columns(OutboxMessage.id.label("message_id"))
        .join(OutboxMessage, OutboxMessage.subscriber_id == Subscriber.id)
        .where(OutboxMessage.update_id == update.id, OutboxMessage.status == OutboxStatus.HELD)
        .order_by(Subscriber.id)
        .limit(len(slots))
    ).all()
    # the held rows are written afresh below; with fewer than asked, every held message of a supporter still
    # subscribed is in hand, and any other one has nobody left to go to
    done = (
        sa.and_(OutboxMessage.update_id == update.id, OutboxMessage.status == OutboxStatus.HELD)
        if len(held) < len(slots)
        else OutboxMessage.id.in_([row.message_id for row in held])
    )
    gone = db.session.execute(
        sa.delete(OutboxMessage)
        .where(done)
        .returning(*tallies.MAIL_COLUMNS)
        .execution_options(synchronize_session=False)
    ).all()
    tallies.mail_gone(gone)
    for row, slot in zip(held, slots, strict=False):
        writer.write(row.id, row.email, row.locale, slot)
    slots = slots[len(held) :]
    last = update.last_subscriber_id or 0
    rows: list[Any] = []
    if slots and update.enqueued_through < last:
        rows = list(
            db.session.execute(
                _recipients(update)
                .where(Subscriber.id > update.enqueued_through, Subscriber.id <= last)
                .order_by(Subscriber.id)
                .limit(len(slots))
            )
        )
        for row, slot in zip(rows, slots, strict=False):
            writer.write(row.id, row.email, row.locale, slot)
    # fewer than asked: nobody else in range receives updates now, so this update has reached its last subscriber
    through = rows[-1].id if rows and len(rows) == len(slots) else (last if slots else update.enqueued_through)
    # still sending, and nobody else moved on meanwhile: else a pause (or another worker) came first, and what this
    # round wrote is rolled back with it (on PostgreSQL the row lock makes a pause wait for this round, or this
    # round for the pause)
    moved = db.session.execute(
        sa.update(SupporterUpdate)
        .where(
            SupporterUpdate.id == update.id,
            SupporterUpdate.status == UpdateStatus.SENDING,
            SupporterUpdate.enqueued_through == update.enqueued_through,
        )
        .values(enqueued_through=through)
    ).rowcount
    if moved != 1:
        raise RuntimeError("the update was paused, or written by another worker, during this round; round undone")
    return slots[len(rows) :]


def _finish_if_done(update: SupporterUpdate, now: datetime, report: RoundReport) -> None:
    """Every subscriber's message written and none left in the outbox (all counted): the update was sent."""
    if update.enqueued_through < (update.last_subscriber_id or 0):
        return
    left = db.session.scalar(sa.select(sa.exists().where(OutboxMessage.update_id == update.id)))
    if left or not _move(update, UpdateStatus.SENDING, UpdateStatus.SENT, finished_at=now):
        return
    report.finished += 1
    initiative = db.session.get(Initiative, update.initiative_id)
    record(
        WORKER,
        "update.sent",
        initiative=initiative,
        target=target(update),
        details={"update": update.id, "sent": update.sent, "failed": update.failed, "bounced": update.bounced},
    )


def send_due(*, now: datetime, per_minute: int, links: Links, secret_key: str) -> RoundReport:
    """One round: count what was delivered, then write the messages whose delivery time falls in the coming minute
    (oldest update first), and close the updates that went to everyone."""
    report = RoundReport()
    updates = list(
        db.session.scalars(
            sa.select(SupporterUpdate)
            .where(SupporterUpdate.status.in_((UpdateStatus.SENDING, UpdateStatus.PAUSED)))
            .order_by(SupporterUpdate.started_at, SupporterUpdate.id)
        )
    )
    if not updates or not _take_turn():
        return report
    for update in updates:
        _count_delivered(update, now, report)
    paced_until = db.session.scalar(sa.select(sa.func.max(SupporterUpdate.paced_until)))
    waiting = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.update_id.is_not(None),
            OutboxMessage.status == OutboxStatus.QUEUED,
            OutboxMessage.attempts == 0,
        )
    )
    slots = free_slots(now, per_minute, paced_until, int(waiting or 0))
    interval = timedelta(minutes=1) / per_minute
    for update in updates:
        if update.status != UpdateStatus.SENDING:
            continue
        if slots:
            left = _write_next(update, slots, _Writer(update, links, secret_key))
            used = len(slots) - len(left)
            if used:
                update.paced_until = slots[used - 1] + interval
                report.written += used
            slots = left
        _finish_if_done(update, now, report)
    return report
