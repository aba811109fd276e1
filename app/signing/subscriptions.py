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
from ..models import Initiative, OutboxMessage, OutboxStatus, Subscriber

UNSUBSCRIBE_SALT = "quorum.subscriber.unsubscribe"


class UnsubscribeLinkInvalid(Exception):
    """A forged or altered link, or one of another initiative."""


def _serializer(secret_key: str) -> URLSafeSerializer:
    # no max age: a way out of a mailing list must keep working as long as the address is kept
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)


def subscribe(initiative: Initiative, statement_id: uuid.UUID, email: str, key: bytes, now: datetime) -> None:
    """Keep the address for updates; it becomes active when its owner presses the confirmation button."""
    # a household's second signer may subscribe the same address: the first row stands
    insert_unless_conflict(
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


def unsubscribe(initiative: Initiative, subscriber_id: int, now: datetime) -> bool:
    """End the subscription and scrub the address now; True if this call ended it (twice is harmless)."""
    forget_scrubbed()
    ended = db.session.execute(
        sa.update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.initiative_id == initiative.id,
            Subscriber.unsubscribed_at.is_(None),
        )
        .values(unsubscribed_at=now, active=False, email="")
        .execution_options(synchronize_session=False)
    ).rowcount
    _drop_waiting_mail([subscriber_id])
    return bool(ended == 1)


def _drop_waiting_mail(subscriber_ids: Sequence[int]) -> None:
    """No further update reaches an address that left: its messages not yet sent go, address and body with them."""
    db.session.execute(
        sa.delete(OutboxMessage)
        .where(
            OutboxMessage.subscriber_id.in_(subscriber_ids),
            OutboxMessage.status.in_((OutboxStatus.QUEUED, OutboxStatus.HELD)),
        )
        .execution_options(synchronize_session=False)
    )


def end_bounced(subscriber_ids: Sequence[int], now: datetime) -> int:
    """Addresses the receiving server called dead: no more updates, and nothing left to keep (scrubbed now)."""
    if not subscriber_ids:
        return 0
    forget_scrubbed()
    ended = db.session.execute(
        sa.update(Subscriber)
        .where(Subscriber.id.in_(subscriber_ids), Subscriber.unsubscribed_at.is_(None))
        .values(unsubscribed_at=now, bounced_at=now, active=False, email="")
        .execution_options(synchronize_session=False)
    ).rowcount
    _drop_waiting_mail(subscriber_ids)
    return int(ended)


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
    """Two indexed queries over the initiative's subscriber rows, never over statements: the active ones as one
    range of the index, the others (which retention keeps few) grouped by state."""
    active = db.session.scalar(
        sa.select(sa.func.count()).select_from(Subscriber).where(receiving_updates(initiative_id))
    )
    state = sa.case(
        (Subscriber.bounced_at.is_not(None), "bounced"),
        (Subscriber.unsubscribed_at.is_not(None), "unsubscribed"),
        else_="pending",
    )
    rows = db.session.execute(
        sa.select(state, sa.func.count())
        .where(Subscriber.initiative_id == initiative_id, Subscriber.active == sa.false())
        .group_by(state)
    )
    other = {str(name): int(count) for name, count in rows}
    return SubscriberCounts(
        active=int(active or 0),
        pending=other.get("pending", 0),
        unsubscribed=other.get("unsubscribed", 0),
        bounced=other.get("bounced", 0),
    )
