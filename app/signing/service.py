"""Submitting and confirming statements of support. Plain values in, domain errors out; never commits."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..database import insert_unless_conflict
from ..eci.fingerprint import email_fingerprint, identity_fingerprint
from ..extensions import db
from ..mail.outbox import enqueue
from ..models import Initiative, InitiativeCountry, Statement, Subscriber, utcnow
from ..sealing import seal
from .forms import SignerInput
from .subscriptions import subscription_for, unsubscribe_url

CONFIRM_SALT = "quorum.statement.confirm"


class SigningClosed(Exception):
    """Signing is not open: `status` is the HTTP status the contract gives (404, 403 or 410)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LinkInvalid(Exception):
    """A confirmation link that was forged, altered, or belongs to another initiative."""


class LinkExpired(Exception):
    """A genuine confirmation link past CONFIRM_MAX_AGE; carries the statement id so a new one can be sent."""

    def __init__(self, statement_id: uuid.UUID) -> None:
        super().__init__("expired")
        self.statement_id = statement_id


def fingerprint_key() -> bytes:
    return current_app.config["FINGERPRINT_KEY"].encode("utf-8")


def check_signing_open(initiative: Initiative | None, today: date) -> Initiative:
    """The contract's refusals: unknown or draft 404, not started 403, over 410."""
    if initiative is None or initiative.status == "draft":
        raise SigningClosed(404, _("There is no initiative at this address."))
    status = initiative.public_status(today)
    if status == "scheduled":
        raise SigningClosed(
            403, _("Collection for this initiative starts on %(day)s.", day=initiative.collection_start.isoformat())
        )
    if status != "collecting":
        raise SigningClosed(410, _("Collection for this initiative is over. Thank you for your interest."))
    if initiative.auditor_public_key is None:
        raise SigningClosed(403, _("This initiative is not ready to collect statements yet."))
    return initiative


def network_fingerprint(remote_addr: str | None) -> str | None:
    """A keyed hash of the sender's network (/24 for IPv4, /48 for IPv6), for quarantine by network."""
    if not remote_addr:
        return None
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return hmac.new(fingerprint_key(), f"network\x1f{network}".encode(), hashlib.sha256).hexdigest()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def _token(statement_id: uuid.UUID, initiative_id: int) -> str:
    return _serializer().dumps({"s": statement_id.hex, "i": initiative_id})


def confirmation_token(statement: Statement) -> str:
    return _token(statement.id, statement.initiative_id)


def confirmation_url(initiative: Initiative, statement: Statement) -> str:
    return _confirmation_url(initiative, statement.id)


def _confirmation_url(initiative: Initiative, statement_id: uuid.UUID) -> str:
    base = current_app.config["BASE_URL"]
    return f"{base}/i/{initiative.slug}/confirm/{_token(statement_id, initiative.id)}"


def _payload_statement_id(payload: object, initiative: Initiative) -> uuid.UUID:
    if not isinstance(payload, dict) or payload.get("i") != initiative.id:
        raise LinkInvalid("wrong initiative")
    try:
        return uuid.UUID(hex=str(payload.get("s")))
    except ValueError as error:
        raise LinkInvalid("bad id") from error


def read_token(initiative: Initiative, token: str) -> uuid.UUID:
    """The statement id in a genuine, unexpired token for this initiative."""
    serializer = _serializer()
    try:
        payload = serializer.loads(token, max_age=current_app.config["CONFIRM_MAX_AGE"])
    except SignatureExpired as error:
        payload = serializer.load_payload(error.payload) if error.payload is not None else None
        raise LinkExpired(_payload_statement_id(payload, initiative)) from error
    except BadSignature as error:
        raise LinkInvalid("bad signature") from error
    return _payload_statement_id(payload, initiative)


@dataclass(frozen=True)
class SubmitOutcome:
    """What happened; the signer sees the same page whatever it says (CONTRACT.md)."""

    kind: str  # "new", "pending", "confirmed", "household_full"
    email_sent: bool


def _try_send(statement_id: uuid.UUID, new_link: bool = False) -> bool:
    """Count one more email for a statement, unless it already had its five (atomic, no read-then-write).

    With `new_link`, the same UPDATE records when the link was issued: the statement then lives until that link
    expires (retention reads link_sent_at).
    """
    limit = current_app.config["MAX_EMAILS_PER_STATEMENT"]
    values: dict[str, object] = {"emails_sent": Statement.emails_sent + 1}
    if new_link:
        values["link_sent_at"] = utcnow()
    result = db.session.execute(
        sa.update(Statement)
        .where(Statement.id == statement_id, Statement.emails_sent < limit)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _send_confirmation(
    initiative: Initiative, statement_id: uuid.UUID, country: str, email: str, may_be_subscribed: bool = True
) -> None:
    """Queue a confirmation link, with a way out of updates where this address is kept for them."""
    subscription = subscription_for(initiative, email, fingerprint_key()) if may_be_subscribed else None
    enqueue(
        "confirm",
        email,
        _("Please confirm your support for “%(title)s”", title=initiative.title),
        "confirm",
        initiative_id=initiative.id,
        initiative=initiative,
        country=country,
        url=_confirmation_url(initiative, statement_id),
        max_age_days=max(1, current_app.config["CONFIRM_MAX_AGE"] // 86400),
        unsubscribe_url=unsubscribe_url(initiative, subscription) if subscription else None,
    )


def _handle_existing(initiative: Initiative, statement: Statement, email: str) -> SubmitOutcome:
    if statement.status == "pending":
        sent = _try_send(statement.id, new_link=True)
        if sent:
            _send_confirmation(initiative, statement.id, statement.country_code, email)
        return SubmitOutcome("pending", sent)
    sent = _try_send(statement.id)
    if sent:
        enqueue(
            "already_confirmed",
            email,
            _("Your support for “%(title)s” is already recorded", title=initiative.title),
            "already_confirmed",
            initiative_id=initiative.id,
            initiative=initiative,
            url=f"{current_app.config['BASE_URL']}/i/{initiative.slug}",
        )
    return SubmitOutcome("confirmed", sent)


def _free_email_slot(initiative: Initiative, email_fp: str) -> int | None:
    used = set(
        db.session.scalars(
            sa.select(Statement.email_slot).where(
                Statement.initiative_id == initiative.id, Statement.email_fingerprint == email_fp
            )
        )
    )
    free = [slot for slot in range(1, current_app.config["MAX_SIGNERS_PER_EMAIL"] + 1) if slot not in used]
    return free[0] if free else None


def _existing(initiative: Initiative, identity_fp: str) -> Statement | None:
    return db.session.scalar(
        sa.select(Statement).where(
            Statement.initiative_id == initiative.id, Statement.identity_fingerprint == identity_fp
        )
    )


def submit(initiative: Initiative, signer: SignerInput, remote_addr: str | None) -> SubmitOutcome:
    """Record a pending statement and queue its confirmation email, or answer a duplicate by email only.

    The unique constraints decide races: of two identical submissions only one insert succeeds, and the
    other is handled as the duplicate it is.
    """
    key = fingerprint_key()
    identity_fp = identity_fingerprint(
        key,
        country=signer.country,
        first_names=signer.first_names,
        family_names=signer.family_names,
        date_of_birth=signer.date_of_birth,
        postal_code=signer.postal_code,
        id_type=signer.id_type,
        id_number=signer.id_number_key,
    )
    email_fp = email_fingerprint(key, signer.email)
    assert initiative.auditor_public_key is not None
    sealed = seal(initiative.auditor_public_key, signer.personal_data())
    network_fp = network_fingerprint(remote_addr)

    for _attempt in range(3):
        existing = _existing(initiative, identity_fp)
        if existing is not None:
            return _handle_existing(initiative, existing, signer.email)
        slot = _free_email_slot(initiative, email_fp)
        if slot is None:
            enqueue(
                "household_full",
                signer.email,
                _("We could not record your support for “%(title)s”", title=initiative.title),
                "household_full",
                initiative_id=initiative.id,
                initiative=initiative,
                url=f"{current_app.config['BASE_URL']}/i/{initiative.slug}/sign",
            )
            return SubmitOutcome("household_full", True)
        statement_id = uuid.uuid4()
        now = utcnow()
        inserted = insert_unless_conflict(
            Statement.__table__,
            {
                "id": statement_id,
                "initiative_id": initiative.id,
                "country_code": signer.country,
                "status": "pending",
                "identity_fingerprint": identity_fp,
                "email_fingerprint": email_fp,
                "email_slot": slot,
                "network_fingerprint": network_fp,
                "sealed_data": sealed,
                "emails_sent": 1,
                "created_at": now,
                "link_sent_at": now,
            },
        )
        if not inserted:
            continue  # someone took this identity or this email slot a moment ago: look again
        if signer.updates_consent:
            _subscribe(initiative, statement_id, signer.email)
        _send_confirmation(
            initiative, statement_id, signer.country, signer.email, may_be_subscribed=signer.updates_consent
        )
        return SubmitOutcome("new", True)
    raise RuntimeError("could not record the statement after three attempts")


def _subscribe(initiative: Initiative, statement_id: uuid.UUID, email: str) -> None:
    """Keep the address for updates; it becomes active when the statement is confirmed."""
    # a household's second signer may subscribe the same address: the first row stands
    insert_unless_conflict(
        Subscriber.__table__,
        {
            "initiative_id": initiative.id,
            "statement_id": statement_id,
            "email": email,
            "email_fingerprint": email_fingerprint(fingerprint_key(), email),
            "active": False,
            "created_at": utcnow(),
        },
    )


def find_statement(initiative: Initiative, statement_id: uuid.UUID) -> Statement | None:
    return db.session.scalar(
        sa.select(Statement).where(Statement.id == statement_id, Statement.initiative_id == initiative.id)
    )


@dataclass(frozen=True)
class ConfirmOutcome:
    statement: Statement
    newly_confirmed: bool


def confirm(initiative: Initiative, statement: Statement, today: date) -> ConfirmOutcome:
    """Confirm once: the status flip and the counter increment happen in one transaction, guarded by the
    status, so a double click or a second tab counts nothing twice."""
    if statement.status != "pending":
        return ConfirmOutcome(statement, False)
    if initiative.public_status(today) != "collecting":
        raise SigningClosed(410, _("Collection for this initiative is over; statements can no longer be confirmed."))
    flipped = db.session.execute(
        sa.update(Statement)
        .where(Statement.id == statement.id, Statement.status == "pending")
        .values(status="confirmed", confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if flipped == 1:
        db.session.execute(
            sa.update(InitiativeCountry)
            .where(
                InitiativeCountry.initiative_id == initiative.id,
                InitiativeCountry.country_code == statement.country_code,
                # a quarantined statement counts only once released (app/quarantine.py adds it back then)
                sa.exists().where(Statement.id == statement.id, Statement.quarantine_id.is_(None)),
            )
            .values(confirmed_count=InitiativeCountry.confirmed_count + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(Subscriber)
            .where(Subscriber.statement_id == statement.id)
            .values(active=True)
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(statement)
    return ConfirmOutcome(statement, flipped == 1)


def request_new_link(initiative: Initiative, statement_id: uuid.UUID, email: str) -> bool:
    """After an expired link: send a fresh one if the address is the statement's and it is still pending."""
    statement = find_statement(initiative, statement_id)
    if statement is None or statement.status != "pending":
        return False
    if not hmac.compare_digest(statement.email_fingerprint, email_fingerprint(fingerprint_key(), email)):
        return False
    if not _try_send(statement.id, new_link=True):
        return False
    _send_confirmation(initiative, statement.id, statement.country_code, email)
    return True
