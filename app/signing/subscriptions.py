"""Addresses kept for campaign updates, and the way out: an unsubscribe link in every email that goes to them.

ECI.md: such an address is kept until the signer unsubscribes (and at most 12 months after collection ends). On
unsubscribing the address is scrubbed at once; retention deletes the emptied row later.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

from ..database import forget_scrubbed, insert_unless_conflict
from ..eci.fingerprint import email_fingerprint
from ..extensions import db
from ..links import Links
from ..models import Initiative, Subscriber

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


def unsubscribe_url(links: Links, secret_key: str, initiative: Initiative, subscriber: Subscriber) -> str:
    token = _serializer(secret_key).dumps({"u": subscriber.id, "i": initiative.id})
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
    return bool(ended == 1)
