"""Submitting, confirming, new links and invalidation: every move of a statement from one status to another.

One person may hold several pending statements, one per email address (a mistyped address, or a stranger who typed
their details with an address of their own); the first to be confirmed counts and the others lapse in the same
transaction. A lapsed statement holds no personal data and never counts, but to its sender it behaves exactly like
a statement of a new signer: the same emails, the same pages. So someone who knows a person's details but not
their mailbox learns nothing by signing in their name, and cannot use up or reach that person's mail
(docs/decisions/001-statement-lifecycle.md).

Plain values in (the initiative, the checked signer, a policy, a clock), domain errors out; never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from ..database import insert_unless_conflict, upsert_add
from ..eci.fingerprint import email_fingerprint, identity_fingerprint
from ..eci.signer import Signer
from ..extensions import db
from ..initiative_texts import shown_text
from ..initiatives import revision
from ..links import Links
from ..mail.outbox import add as add_mail
from ..mail.outbox import compose, enqueue, queued, queued_parameters, queuing
from ..models import (
    Initiative,
    MailAllowance,
    OutboxMessage,
    PublicStatus,
    Statement,
    StatementStatus,
    Subscriber,
)
from ..partners import optins as partner_optins
from ..sealing import seal
from ..signing.subscriptions import activate, activated_count, subscribe, subscription_for, unsubscribe_url
from . import counters, tallies
from .policy import Policy
from .rules import is_public


class Refusal(StrEnum):
    UNKNOWN = "unknown"  # no such initiative, or a draft
    NOT_STARTED = "not_started"
    OVER = "over"
    NOT_READY = "not_ready"  # no auditor key yet: nothing could be sealed


class SigningClosed(Exception):
    """Signing is not open: `status` is the contract's HTTP status (404, 403 or 410), `reason` says which case."""

    def __init__(self, status: int, reason: Refusal) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_open(initiative: Initiative | None, today: date) -> Initiative:
    """The contract's refusals: unknown or draft 404, not started 403, over 410 (and 403 without an auditor key)."""
    if initiative is None or not is_public(initiative):
        raise SigningClosed(404, Refusal.UNKNOWN)
    status = initiative.public_status(today)
    if status == PublicStatus.SCHEDULED:
        raise SigningClosed(403, Refusal.NOT_STARTED)
    if status != PublicStatus.COLLECTING:
        raise SigningClosed(410, Refusal.OVER)
    if initiative.auditor_public_key is None:
        raise SigningClosed(403, Refusal.NOT_READY)
    return initiative


class Outcome(StrEnum):
    """What a submission did; the signer sees the same page whatever it says (CONTRACT.md)."""

    NEW = "new"  # a statement was recorded and its link sent
    LINK_AGAIN = "link_again"  # this person and address had a statement waiting: its link went again
    RECORDED = "recorded"  # this person's support from this address is on record: they are told so
    HOUSEHOLD_FULL = "household_full"  # two people signed with this address already


@dataclass(frozen=True)
class SubmitOutcome:
    kind: Outcome
    email_sent: bool
    statement_id: uuid.UUID | None = None


def _waiting(statement: Statement) -> bool:
    """Pending, or lapsed before its sender pressed the button: to that sender, a link not used yet."""
    return statement.status == StatementStatus.PENDING or (
        statement.status == StatementStatus.LAPSED and statement.confirmed_at is None
    )


# --- mail, within its two limits ------------------------------------------------------------------------------------


def _title(initiative: Initiative, locale: str) -> str:
    """The initiative's title in the email's language (its default language's where it has none)."""
    return shown_text(initiative, locale).title


def _allow_mail(initiative_id: int, email_fp: str, today: date, policy: Policy) -> bool:
    """Take one of today's emails from this initiative to this address (keyed by its fingerprint)."""
    taken = upsert_add(
        MailAllowance.__table__,
        {"initiative_id": initiative_id, "email_fingerprint": email_fp, "day": today},
        "sent",
        1,
        below=policy.max_emails_per_address_per_day,
    )
    return taken is not None


def _refund_mail(initiative_id: int, email_fp: str, today: date) -> None:
    upsert_add(
        MailAllowance.__table__,
        {"initiative_id": initiative_id, "email_fingerprint": email_fp, "day": today},
        "sent",
        -1,
    )


def _take_statement_mail(statement_id: uuid.UUID, policy: Policy, link_sent_at: datetime | None) -> bool:
    """Count one more email for a statement, unless it had all of its own (one UPDATE, no read-then-write).

    With `link_sent_at`, the same UPDATE records when the newest link was issued: an unconfirmed statement lives
    until that link expires (retention reads it).
    """
    values: dict[str, object] = {"emails_sent": Statement.emails_sent + 1}
    if link_sent_at is not None:
        values["link_sent_at"] = link_sent_at
    result = db.session.execute(
        sa.update(Statement)
        .where(Statement.id == statement_id, Statement.emails_sent < policy.max_emails_per_statement)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _send_link(
    initiative: Initiative,
    statement_id: uuid.UUID,
    country: str,
    locale: str,
    email: str,
    policy: Policy,
    links: Links,
    may_be_subscribed: bool = True,
) -> None:
    """The confirmation email: one link, and a way out of updates where this address is kept for them."""
    subscription = subscription_for(initiative, email, policy.fingerprint_key) if may_be_subscribed else None
    add_mail(_link_mail(initiative, statement_id, country, locale, email, policy, links, subscription))


def _link_mail(
    initiative: Initiative,
    statement_id: uuid.UUID,
    country: str,
    locale: str,
    email: str,
    policy: Policy,
    links: Links,
    subscription: Subscriber | None = None,
) -> OutboxMessage:
    token = policy.confirmation_token(statement_id, initiative.id)
    url = links.external("signing.confirm_page", slug=initiative.slug, token=token)
    unsubscribe = unsubscribe_url(links, policy.secret_key, initiative, subscription) if subscription else None
    return compose(
        "confirm",
        email,
        lambda: _("Please confirm your support for “%(title)s”", title=_title(initiative, locale)),
        "confirm",
        locale=locale,
        initiative_id=initiative.id,
        # the same words for every signer of this initiative, language and member state: only the links differ
        same_for=(revision(initiative), country, policy.confirm_days, unsubscribe is not None),
        slots={"url": url, **({"unsubscribe_url": unsubscribe} if unsubscribe else {})},
        initiative=initiative,
        country=country,
        max_age_days=policy.confirm_days,
        **({} if unsubscribe else {"unsubscribe_url": None}),
    )


def _again(
    initiative: Initiative, statement: Statement, email: str, policy: Policy, links: Links, now: datetime
) -> SubmitOutcome:
    """This person and address signed before: a new link if it waits, else word that the support is on record."""
    email_fp = statement.email_fingerprint
    today = now.date()
    if not _allow_mail(initiative.id, email_fp, today, policy):
        return SubmitOutcome(Outcome.LINK_AGAIN if _waiting(statement) else Outcome.RECORDED, False, statement.id)
    if _waiting(statement):
        sent = _take_statement_mail(statement.id, policy, link_sent_at=now)
        if sent:
            _send_link(initiative, statement.id, statement.country_code, statement.locale, email, policy, links)
        kind = Outcome.LINK_AGAIN
    else:
        sent = _take_statement_mail(statement.id, policy, link_sent_at=None)
        if sent:
            enqueue(
                "already_confirmed",
                email,
                lambda: _(
                    "Your support for “%(title)s” is already recorded", title=_title(initiative, statement.locale)
                ),
                "already_confirmed",
                locale=statement.locale,
                initiative_id=initiative.id,
                initiative=initiative,
                url=links.external("signing.initiative_page", slug=initiative.slug),
            )
        kind = Outcome.RECORDED
    if not sent:
        _refund_mail(initiative.id, email_fp, today)
    return SubmitOutcome(kind, sent, statement.id)


# --- submitting -----------------------------------------------------------------------------------------------------


def _given_with(initiative_id: int, email_fp: str) -> list[Statement]:
    """The statements given with this address (at most a household's): one query answers both whether this person
    signed with it before and which of its slots is free."""
    return list(db.session.scalars(_GIVEN_WITH, {"initiative_id": initiative_id, "email_fingerprint": email_fp}))


_GIVEN_WITH = sa.select(Statement).where(
    Statement.initiative_id == sa.bindparam("initiative_id"),
    Statement.email_fingerprint == sa.bindparam("email_fingerprint"),
)
"""Built once: a statement built per request costs more in SQLAlchemy than it does in the database."""


def _free_email_slot(given: list[Statement], policy: Policy) -> int | None:
    used = {statement.email_slot for statement in given}
    free = [slot for slot in range(1, policy.max_signers_per_email + 1) if slot not in used]
    return free[0] if free else None


RECORDED_COLUMNS = (
    "id",
    "initiative_id",
    "country_code",
    "status",
    "identity_fingerprint",
    "email_fingerprint",
    "network_fingerprint",
    "sealed_data",
    "locale",
    "created_at",
    "partner_id",
)
"""What `submit` gives a new statement; its `email_slot` is the address's free one, `emails_sent` and `link_sent_at`
follow from the day's emails."""


@cache
def _recording(with_mail: bool) -> sa.Select[tuple[bool, bool]]:
    """`_record` on PostgreSQL as one statement, built once, its values bound by name: the statement in the address's
    free slot (nothing when it has none), and only if it went in, the address's email of the day (while it has one),
    the pending counter and (`with_mail`) the email. No bound name is a column's: SQLAlchemy would add such a value to
    an UPDATE's SET."""
    table = Statement.__table__
    # the address's lowest free slot (1 or 2, a household), or no row at all when both are taken
    slots = sa.func.generate_series(1, sa.bindparam("signers_per_email", type_=sa.Integer)).column_valued("slot")
    taken = sa.select(table.c.email_slot).where(
        table.c.initiative_id == sa.bindparam("new_initiative_id"),
        table.c.email_fingerprint == sa.bindparam("new_email_fingerprint"),
    )
    free = sa.select(sa.func.min(slots).label("slot")).where(slots.not_in(taken)).subquery("free")
    given = {name: sa.bindparam(f"new_{name}", type_=table.c[name].type) for name in RECORDED_COLUMNS}
    values = {
        **given,
        "email_slot": free.c.slot,
        "emails_sent": sa.literal(1, table.c.emails_sent.type),
        "link_sent_at": sa.bindparam("new_created_at", type_=table.c.link_sent_at.type),
    }
    inserted_row = (
        postgresql.insert(table)
        .from_select(list(values), sa.select(*values.values()).where(free.c.slot.is_not(None)))
        .on_conflict_do_nothing()
        .returning(table.c.id)
        .cte("inserted_row")
    )
    allowance = MailAllowance.__table__
    key = [
        sa.bindparam(f"new_{name}", type_=allowance.c[name].type)
        for name in ("initiative_id", "email_fingerprint", "day")
    ]
    mail_taken = (
        postgresql.insert(allowance)
        .from_select(
            ["initiative_id", "email_fingerprint", "day", "sent"],
            sa.select(*key, sa.literal(1, allowance.c.sent.type)).select_from(inserted_row),
        )
        .on_conflict_do_update(
            index_elements=list(allowance.primary_key.columns),
            set_={"sent": allowance.c.sent + 1},
            where=allowance.c.sent < sa.bindparam("emails_a_day", type_=allowance.c.sent.type),
        )
        .returning(allowance.c.sent)
        .cte("mail_taken")
    )
    counted = counters.moving(
        sa.bindparam("new_initiative_id", type_=table.c.initiative_id.type),
        sa.bindparam("new_country_code", type_=table.c.country_code.type),
        pending=1,
    ).where(sa.exists(sa.select(inserted_row.c.id)))
    query = sa.select(sa.exists(sa.select(inserted_row.c.id)), sa.exists(sa.select(mail_taken.c.sent)))
    query = query.add_cte(counted.cte("counted"))
    if with_mail:
        query = query.add_cte(queuing(mail_taken).cte("mail_queued"))
    return query


def _record(row: dict[str, object], policy: Policy, now: datetime, mail: OutboxMessage | None) -> tuple[bool, bool]:
    """Insert the pending statement; if it went in, take one of today's emails for its address and count it pending.
    Returns (inserted, mail allowed). Of two identical submissions at once, the unique constraints let one in.

    On PostgreSQL that is one statement (data-modifying WITH) that picks the address's free slot itself (`row` has
    none), with `mail`, the composed confirmation email, written only if the allowance was taken. Elsewhere, statement
    by statement in the slot `row` names, and the caller enqueues the email."""
    initiative_id, email_fp, country = row["initiative_id"], row["email_fingerprint"], row["country_code"]
    assert isinstance(initiative_id, int) and isinstance(email_fp, str) and isinstance(country, str)
    today = now.date()
    if db.session.get_bind().dialect.name != "postgresql":
        allowed = _allow_mail(initiative_id, email_fp, today, policy)
        values = {**row, "emails_sent": 1 if allowed else 0, "link_sent_at": now if allowed else None}
        if not insert_unless_conflict(Statement.__table__, values):
            if allowed:
                _refund_mail(initiative_id, email_fp, today)
            return False, False
        counters.move(initiative_id, country, pending=1)
        return True, allowed
    parameters = {f"new_{name}": value for name, value in row.items() if name != "email_slot"}
    parameters.update(
        new_day=today,
        emails_a_day=policy.max_emails_per_address_per_day,
        signers_per_email=policy.max_signers_per_email,
    )
    if mail is not None:
        parameters.update(queued_parameters(mail))
    inserted, allowed = db.session.execute(_recording(mail is not None), parameters).one()
    if inserted and not allowed:  # the address had all of today's emails: the statement stands, its link unsent
        db.session.execute(
            sa.update(Statement)
            .where(Statement.id == row["id"])
            .values(emails_sent=0, link_sent_at=None)
            .execution_options(synchronize_session=False)
        )
    return bool(inserted), bool(allowed)


def _answer_repeat(
    initiative: Initiative,
    given: list[Statement],
    identity_fp: str,
    email: str,
    policy: Policy,
    links: Links,
    now: datetime,
    locale: str,
) -> SubmitOutcome | None:
    """This person gave a statement with this address before, or the address's household is full: the answer by
    email (the page is the same). None when neither is so, and a statement can be recorded."""
    existing = next((s for s in given if s.identity_fingerprint == identity_fp), None)
    if existing is not None:
        return _again(initiative, existing, email, policy, links, now)
    if _free_email_slot(given, policy) is not None:
        return None
    email_fp = given[0].email_fingerprint
    sent = _allow_mail(initiative.id, email_fp, now.date(), policy)
    if sent:
        enqueue(
            "household_full",
            email,
            lambda: _("We could not record your support for “%(title)s”", title=_title(initiative, locale)),
            "household_full",
            locale=locale,
            initiative_id=initiative.id,
            initiative=initiative,
            url=links.external("signing.sign_form", slug=initiative.slug),
        )
    return SubmitOutcome(Outcome.HOUSEHOLD_FULL, sent)


def submit(
    initiative: Initiative,
    signer: Signer,
    *,
    policy: Policy,
    links: Links,
    now: datetime,
    locale: str = "en",
    network_fp: str | None = None,
    partner_id: int | None = None,
    partner_updates: bool = False,
) -> SubmitOutcome:
    """Record a pending statement for this person and address and send its link; or answer a repeat by email only.

    The unique constraints decide races: of two identical submissions only one insert succeeds, and the other is
    handled as the repeat it is. `partner_id` is the partner organisation whose link or embed brought the statement;
    with `partner_updates` the address is kept for that partner's hand-over (app/partners/optins.py).
    """
    key = policy.fingerprint_key
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

    # On PostgreSQL the insert picks the address's free slot itself, and this person's earlier statement or a full
    # household are looked up only when it could not insert; elsewhere they are looked up first.
    database_picks_slot = db.session.get_bind().dialect.name == "postgresql"
    for _attempt in range(3):
        slot = None
        if not database_picks_slot:
            given = _given_with(initiative.id, email_fp)
            answer = _answer_repeat(initiative, given, identity_fp, signer.email, policy, links, now, locale)
            if answer is not None:
                return answer
            slot = _free_email_slot(given, policy)
        statement_id = uuid.uuid4()
        # without updates there is no way out to put in the email, which can then be written with the statement
        mail = None
        if not signer.updates_consent and database_picks_slot:
            mail = _link_mail(initiative, statement_id, signer.country, locale, signer.email, policy, links)
        row = {
            "id": statement_id,
            "initiative_id": initiative.id,
            "country_code": signer.country,
            "status": StatementStatus.PENDING,
            "identity_fingerprint": identity_fp,
            "email_fingerprint": email_fp,
            "email_slot": slot,
            "network_fingerprint": network_fp,
            "sealed_data": sealed,
            "locale": locale,
            "created_at": now,
            "partner_id": partner_id,
        }
        inserted, allowed = _record(row, policy, now, mail)
        if inserted:
            tallies.move_fingerprints(initiative.id, email_fp, network_fp, 1)
            if mail is not None and allowed:
                queued(initiative.id)  # written by _record's statement
            if signer.updates_consent:
                subscribe(initiative, statement_id, signer.email, key, now)
            if partner_id is not None and partner_updates:
                partner_optins.opt_in(partner_id, statement_id, signer.email, key, locale, now)
            if allowed and mail is None:
                _send_link(
                    initiative,
                    statement_id,
                    signer.country,
                    locale,
                    signer.email,
                    policy,
                    links,
                    may_be_subscribed=signer.updates_consent,
                )
            return SubmitOutcome(Outcome.NEW, allowed, statement_id)
        if database_picks_slot:
            given = _given_with(initiative.id, email_fp)
            answer = _answer_repeat(initiative, given, identity_fp, signer.email, policy, links, now, locale)
            if answer is not None:
                return answer
        # the same person and address, or this address's last slot, was taken a moment ago: look again
    raise RuntimeError("could not record the statement after three attempts")


def send_new_links(initiative: Initiative, email: str, *, policy: Policy, links: Links, now: datetime) -> int:
    """ "No email?": every statement given with this address gets what signing again would send it; returns how many
    emails went. Nothing is sent for an address without statements, and the page says the same either way."""
    email_fp = email_fingerprint(policy.fingerprint_key, email)
    statements = db.session.scalars(
        sa.select(Statement)
        .where(Statement.initiative_id == initiative.id, Statement.email_fingerprint == email_fp)
        .order_by(Statement.created_at)
    ).all()
    return sum(_again(initiative, s, email, policy, links, now).email_sent for s in statements)


def renew_link(
    initiative: Initiative, statement_id: uuid.UUID, email: str, *, policy: Policy, links: Links, now: datetime
) -> bool:
    """After an expired link: send what signing again would, if the address typed is the statement's own."""
    statement = find_statement(initiative, statement_id)
    if statement is None or statement.email_fingerprint != email_fingerprint(policy.fingerprint_key, email):
        return False
    return _again(initiative, statement, email, policy, links, now).email_sent


def find_statement(initiative: Initiative, statement_id: uuid.UUID) -> Statement | None:
    return db.session.scalar(_BY_ID, {"statement_id": statement_id, "initiative_id": initiative.id})


_BY_ID = sa.select(Statement).where(
    Statement.id == sa.bindparam("statement_id"), Statement.initiative_id == sa.bindparam("initiative_id")
)


# --- confirming -----------------------------------------------------------------------------------------------------


def _lapse(where: list[sa.ColumnElement[bool]], initiative_id: int, pressed_at: datetime | None) -> int:
    """Pending statements that will never count: their personal data goes, their counters move; with `pressed_at`
    the sender pressed the button, and from now on the statement looks confirmed to them."""
    rows = db.session.execute(
        sa.update(Statement)
        .where(*where, Statement.status == StatementStatus.PENDING)
        .values(status=StatementStatus.LAPSED, sealed_data=b"", confirmed_at=pressed_at)
        .returning(Statement.country_code, Statement.quarantine_id)
        .execution_options(synchronize_session=False)
    ).all()
    _move_lapsed(initiative_id, rows)
    return len(rows)


def _move_lapsed(initiative_id: int, rows: Sequence[Any]) -> None:
    """The counters of lapsed statements, from their (country_code, quarantine_id)."""
    for country, quarantine_id in rows:
        if quarantine_id is None:
            counters.move(initiative_id, country, pending=-1)
        else:
            counters.move(initiative_id, country, quarantined=-1)


@dataclass(frozen=True)
class ConfirmOutcome:
    statement: Statement
    counted: bool  # this confirmation made the statement count (not: a repeat, a lapse, or set aside)


def _flipping() -> sa.Update:
    """The statement confirmed, if it is still pending and its signer has no confirmed statement yet."""
    other = aliased(Statement)
    return (
        sa.update(Statement)
        .where(
            Statement.id == sa.bindparam("this_id"),
            Statement.status == StatementStatus.PENDING,
            ~sa.exists().where(
                other.initiative_id == sa.bindparam("this_initiative_id"),
                other.identity_fingerprint == sa.bindparam("this_identity"),
                other.status == StatementStatus.CONFIRMED,
            ),
        )
        .values(status=StatementStatus.CONFIRMED, confirmed_at=sa.bindparam("pressed_at"))
        .returning(Statement.country_code, Statement.quarantine_id, Statement.partner_id)
        .execution_options(synchronize_session=False)
    )


def _subscriber_activating() -> sa.Update:
    """The address asked for updates and has now shown it is theirs (double opt-in), whichever case the press was."""
    return (
        sa.update(Subscriber)
        .where(
            Subscriber.statement_id == sa.bindparam("this_id"),
            Subscriber.unsubscribed_at.is_(None),
            Subscriber.active == sa.false(),
        )
        .values(active=True)
        .returning(Subscriber.id)
        .execution_options(synchronize_session=False)
    )


_SAME_PERSON = (
    Statement.initiative_id == sa.bindparam("this_initiative_id"),
    Statement.identity_fingerprint == sa.bindparam("this_identity"),
)
_LOCK_PERSON = sa.select(Statement.id).where(*_SAME_PERSON).with_for_update()


SUBSCRIBED = "subscribed"
"""`_confirming`'s row for a subscription it activated."""


@cache
def _confirming() -> sa.CompoundSelect:
    """`confirm` on PostgreSQL after the lock, as one statement built once: the flip; if it counts, the counter and
    the day's series; the signer's other pending statements lapsed; the subscription activated. Yields a row for
    each statement that changed: ("confirmed" or "lapsed", country_code, quarantine_id). No bound name is a column's
    (SQLAlchemy adds such a value to an UPDATE's SET)."""
    flipped = _flipping().cte("flipped")
    counts = sa.select(flipped.c.country_code).where(flipped.c.quarantine_id.is_(None))
    counted = counters.moving(
        sa.bindparam("this_initiative_id"), sa.bindparam("this_country"), pending=-1, confirmed=1
    ).where(sa.exists(counts))
    day = counters.day_moving(
        sa.select(
            sa.bindparam("this_initiative_id", type_=sa.Integer),
            flipped.c.country_code,
            sa.bindparam("today", type_=sa.Date),
        ).where(flipped.c.quarantine_id.is_(None)),
        1,
    )
    lapsed = (
        sa.update(Statement)
        .where(
            *_SAME_PERSON,
            Statement.id != sa.bindparam("this_id"),
            Statement.status == StatementStatus.PENDING,
            sa.exists(sa.select(flipped.c.country_code)),
        )
        .values(status=StatementStatus.LAPSED, sealed_data=b"", confirmed_at=None)
        .returning(Statement.country_code, Statement.quarantine_id, Statement.partner_id)
        .execution_options(synchronize_session=False)
        .cte("lapsed")
    )
    activated = _subscriber_activating().cte("subscriber_activated")
    nothing = sa.null()
    changed = sa.union_all(
        sa.select(
            sa.literal(StatementStatus.CONFIRMED.value).label("change"),
            flipped.c.country_code,
            flipped.c.quarantine_id,
            flipped.c.partner_id,
        ),
        sa.select(
            sa.literal(StatementStatus.LAPSED.value).label("change"),
            lapsed.c.country_code,
            lapsed.c.quarantine_id,
            lapsed.c.partner_id,
        ),
        sa.select(
            sa.literal(SUBSCRIBED).label("change"),
            sa.cast(nothing, Statement.country_code.type),
            sa.cast(nothing, sa.Integer),
            sa.cast(nothing, sa.Integer),
        ).select_from(activated),
    )
    opted_in = partner_optins.confirming(sa.bindparam("this_id", type_=Statement.id.type))
    return changed.add_cte(counted.cte("counted"), day.cte("day_counted"), opted_in.cte("partner_opted_in"))


def confirm(initiative: Initiative, statement: Statement, *, now: datetime) -> ConfirmOutcome:
    """The button: confirm once, count once, in one transaction. A double click, a second tab or a second
    address of the same person counts nothing twice; to the one who pressed, every case looks the same."""
    if not _waiting(statement):
        return ConfirmOutcome(statement, False)
    if initiative.public_status(now.date()) != PublicStatus.COLLECTING:
        raise SigningClosed(410, Refusal.OVER)
    parameters = {
        "this_id": statement.id,
        "this_initiative_id": initiative.id,
        "this_identity": statement.identity_fingerprint,
        "this_country": statement.country_code,
        "pressed_at": now,
        "today": now.date(),
    }
    if db.session.get_bind().dialect.name == "postgresql":
        # two addresses of one person confirming at once take turns here (the statement after it sees the other's
        # confirmation); SQLite runs one writer at a time anyway
        db.session.execute(_LOCK_PERSON, parameters)
        changed = db.session.execute(_confirming(), parameters).all()
        row = next((r for r in changed if r.change == StatementStatus.CONFIRMED), None)
        lapsed = [(r.country_code, r.quarantine_id) for r in changed if r.change == StatementStatus.LAPSED]
        _move_lapsed(initiative.id, lapsed)
        activated_count(initiative.id, sum(r.change == SUBSCRIBED for r in changed))
    else:
        row = db.session.execute(_flipping(), parameters).first()
        if row is not None and row.quarantine_id is None:
            counters.move(initiative.id, row.country_code, pending=-1, confirmed=1)
            counters.move_day(initiative.id, row.country_code, now.date(), 1)
        if row is not None:
            same_person = [
                Statement.initiative_id == initiative.id,
                Statement.identity_fingerprint == statement.identity_fingerprint,
            ]
            _lapse([*same_person, Statement.id != statement.id], initiative.id, pressed_at=None)
        activate(initiative.id, statement.id)
        partner_optins.confirm(statement.id)
    if row is not None:
        if row.quarantine_id is None:
            counters.move_partner(row.partner_id, row.country_code, 1)
        tallies.move_held(initiative.id, row.quarantine_id, confirmed=1, unconfirmed=-1)
    if row is None:
        if not _lapse([Statement.id == statement.id], initiative.id, pressed_at=now):
            # lapsed already, when the same person confirmed from another address: the press is remembered
            db.session.execute(
                sa.update(Statement)
                .where(Statement.id == statement.id, Statement.confirmed_at.is_(None))
                .values(confirmed_at=now)
                .execution_options(synchronize_session=False)
            )
        db.session.refresh(statement)
        return ConfirmOutcome(statement, False)
    # what the flip wrote, without reading the row back
    set_committed_value(statement, "status", StatementStatus.CONFIRMED)
    set_committed_value(statement, "confirmed_at", now)
    # set aside, it counts once released (quarantine.release)
    return ConfirmOutcome(statement, row.quarantine_id is None)


def shown_as_confirmed(statement: Statement) -> bool:
    """What the pages show: confirmed, or lapsed after its sender pressed the button (it must look the same)."""
    return not _waiting(statement)


# --- invalidating ---------------------------------------------------------------------------------------------------


def invalidate(initiative: Initiative, statement_ids: list[uuid.UUID]) -> dict[str, int]:
    """Confirmed statements a national authority found invalid: they stop counting. Returns {country: count}."""
    if not statement_ids:
        return {}
    rows = db.session.execute(
        sa.update(Statement)
        .where(
            Statement.initiative_id == initiative.id,
            Statement.id.in_(statement_ids),
            Statement.status == StatementStatus.CONFIRMED,
        )
        .values(status=StatementStatus.INVALIDATED)
        .returning(Statement.country_code, Statement.quarantine_id, Statement.confirmed_at, Statement.partner_id)
        .execution_options(synchronize_session=False)
    ).all()
    per_country: dict[str, int] = {}
    for country, quarantine_id, confirmed_at, partner_id in rows:
        if quarantine_id is None:
            counters.move(initiative.id, country, confirmed=-1, invalidated=1)
            if confirmed_at is not None:
                counters.move_day(initiative.id, country, confirmed_at.date(), -1)
            counters.move_partner(partner_id, country, -1)
        else:
            counters.move(initiative.id, country, quarantined=-1, invalidated=1)
        tallies.move_held(initiative.id, quarantine_id, confirmed=-1, unconfirmed=1)
        per_country[country] = per_country.get(country, 0) + 1
    return per_country
