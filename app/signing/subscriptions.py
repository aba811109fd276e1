"""Addresses kept for campaign updates, and the way out: an unsubscribe link in every email that goes to them.

ECI.md: such an address is kept until the signer unsubscribes (and at most 12 months after collection ends). On
unsubscribing the address is scrubbed at once, and any update still waiting for it is dropped; retention deletes the
emptied row later. An address the receiving server calls dead (a hard bounce) is ended the same way.

The link works as a page (GET shows a button) and as RFC 8058's one-click unsubscribe (a mail client POSTs
`List-Unsubscribe=One-Click` to it, without a page or a CSRF token): the signed token in the URL is what authorises.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

from ..database import forget_scrubbed, insert_unless_conflict
from ..eci.fingerprint import email_fingerprint
from ..extensions import db
from ..links import Links
from ..models import Initiative, OutboxMessage, OutboxStatus, Subscriber, TallyName
from ..statements import tallies

UNSUBSCRIBE_SALT = "quorum.subscriber.unsubscribe"


class UnsubscribeLinkInvalid(Exception):
    """A forged or altered link, or one of another initiative."""


def _serializer(secret_key: str) -> URLSafeSerializer:
    # no max age: a way out of a mailing list must keep working as long as the address is kept
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)


def subscribe(initiative: Initiative, statement_id: uuid.UUID, email: str, key: bytes, now: datetime) -> None:
    """Keep the address for updates; it becomes active when its owner presses the confirmation button."""
    # a household's second signer may subscribe the same address: the first row stands
    inserted = insert_unless_conflict(
        Subscriber.__table__,
        {
            "initiative_id": initiative.id,
            "statement_id": statement_id,
            "email": email,
            "email_fingerprint": email_fingerprint(key, email),
            "active": False,
            "created_at": now,
        },
    )
    if inserted:
        tallies.move(initiative.id, TallyName.SUBSCRIBERS_PENDING, 1)


def activate(initiative_id: int, statement_id: uuid.UUID) -> None:
    """The address asked for updates and its owner has pressed the confirmation button (double opt-in)."""
    activated = db.session.execute(
        sa.update(Subscriber)
        .where(
            Subscriber.statement_id == statement_id,
            Subscriber.unsubscribed_at.is_(None),
            Subscriber.active == sa.false(),
        )
        .values(active=True)
        .returning(Subscriber.id)
        .execution_options(synchronize_session=False)
    ).all()
    activated_count(initiative_id, len(activated))


def activated_count(initiative_id: int, count: int) -> None:
    """`count` subscribers of the initiative went from pending to active (for `activate`, and for lifecycle.confirm
    on PostgreSQL, which activates inside its own statement)."""
    tallies.move(initiative_id, TallyName.SUBSCRIBERS_PENDING, -count)
    tallies.move(initiative_id, TallyName.SUBSCRIBERS_ACTIVE, count)


def subscription_for(initiative: Initiative, email: str, key: bytes) -> Subscriber | None:
    """The address's subscription to this initiative's updates, unless it was ended."""
    return db.session.scalar(
        sa.select(Subscriber).where(
            Subscriber.initiative_id == initiative.id,
            Subscriber.email_fingerprint == email_fingerprint(key, email),
            Subscriber.unsubscribed_at.is_(None),
        )
    )


def unsubscribe_url(links: Links, secret_key: str, initiative: Initiative, subscriber: Subscriber | int) -> str:
    """The subscriber's way out: a page with a button, and the one-click URL of `List-Unsubscribe`."""
    subscriber_id = subscriber if isinstance(subscriber, int) else subscriber.id
    token = _serializer(secret_key).dumps({"u": subscriber_id, "i": initiative.id})
    return links.external("signing.unsubscribe", slug=initiative.slug, token=token)


def read_unsubscribe_token(secret_key: str, initiative: Initiative, token: str) -> int:
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature as error:
        raise UnsubscribeLinkInvalid("bad signature") from error
    if not isinstance(payload, dict) or payload.get("i") != initiative.id or not isinstance(payload.get("u"), int):
        raise UnsubscribeLinkInvalid("wrong initiative")
    return int(payload["u"])


def _end(where: list[sa.ColumnElement[bool]], values: dict[str, object], ended_as: TallyName) -> int:
    """End the subscriptions that meet `where` and have not ended; their tallies move from where each stood."""
    ended = 0
    for was_active, stood in ((True, TallyName.SUBSCRIBERS_ACTIVE), (False, TallyName.SUBSCRIBERS_PENDING)):
        rows = db.session.execute(
            sa.update(Subscriber)
            .where(*where, Subscriber.unsubscribed_at.is_(None), Subscriber.active == was_active)
            .values(**values, active=False, email="")
            .returning(Subscriber.initiative_id)
            .execution_options(synchronize_session=False)
        ).all()
        for (initiative_id,) in rows:
            tallies.move(initiative_id, stood, -1)
            tallies.move(initiative_id, ended_as, 1)
        ended += len(rows)
    return ended


def unsubscribe(initiative: Initiative, subscriber_id: int, now: datetime) -> bool:
    """End the subscription and scrub the address now; True if this call ended it (twice is harmless)."""
    forget_scrubbed()
    ended = _end(
        [Subscriber.id == subscriber_id, Subscriber.initiative_id == initiative.id],
        {"unsubscribed_at": now},
        TallyName.SUBSCRIBERS_UNSUBSCRIBED,
    )
    _drop_waiting_mail([subscriber_id])
    return ended == 1


def _drop_waiting_mail(subscriber_ids: Sequence[int]) -> None:
    """No further update reaches an address that left: its messages not yet sent go, address and body with them."""
    gone = db.session.execute(
        sa.delete(OutboxMessage)
        .where(
            OutboxMessage.subscriber_id.in_(subscriber_ids),
            OutboxMessage.status.in_((OutboxStatus.QUEUED, OutboxStatus.HELD)),
        )
        .returning(*tallies.MAIL_COLUMNS)
        .execution_options(synchronize_session=False)
    ).all()
    tallies.mail_gone(gone)


def end_bounced(subscriber_ids: Sequence[int], now: datetime) -> int:
    """Addresses the receiving server called dead: no more updates, and nothing left to keep (scrubbed now)."""
    if not subscriber_ids:
        return 0
    forget_scrubbed()
    ended = _end(
        [Subscriber.id.in_(subscriber_ids)], {"unsubscribed_at": now, "bounced_at": now}, TallyName.SUBSCRIBERS_BOUNCED
    )
    _drop_waiting_mail(subscriber_ids)
    return ended


def receiving_updates(initiative_id: int) -> sa.ColumnElement[bool]:
    """Who an update goes to: the address was confirmed (double opt-in) and has not left. Unsubscribing and a hard
    bounce both clear `active`, so the index over (initiative, active, id) answers this alone."""
    return sa.and_(Subscriber.initiative_id == initiative_id, Subscriber.active == sa.true())


@dataclass(frozen=True)
class SubscriberCounts:
    """Addresses kept for an initiative's updates, by where they stand."""

    active: int  # confirmed: updates go to them
    pending: int  # their statement is not confirmed yet (retention deletes them with it)
    unsubscribed: int  # left, address scrubbed; the row goes at the next retention run
    bounced: int  # ended after a hard bounce, address scrubbed

    @property
    def total(self) -> int:
        return self.active + self.pending + self.unsubscribed + self.bounced


def subscriber_counts(initiative_id: int) -> SubscriberCounts:
    """From the initiative's tallies (a few rows however many subscribers), kept wherever a subscription changes."""
    counts = tallies.values(initiative_id)
    return SubscriberCounts(
        active=counts[TallyName.SUBSCRIBERS_ACTIVE],
        pending=counts[TallyName.SUBSCRIBERS_PENDING],
        unsubscribed=counts[TallyName.SUBSCRIBERS_UNSUBSCRIBED],
        bounced=counts[TallyName.SUBSCRIBERS_BOUNCED],
    )
