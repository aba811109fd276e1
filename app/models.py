"""The data model: initiatives and their member-state rules, statements of support, the mail outbox, staff,
the audit chain and quarantines. Personal data is never a column: it is one sealed blob per statement."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> datetime:
    """Naive UTC, the same on SQLite and PostgreSQL (columns are `timestamp without time zone`, in UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utctoday() -> date:
    return datetime.now(UTC).date()


class InitiativeStatus(StrEnum):
    """The stored lifecycle; `scheduled` and `closed` for the public are derived from the dates (PublicStatus)."""

    DRAFT = "draft"
    COLLECTING = "collecting"
    CLOSED = "closed"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"


class PublicStatus(StrEnum):
    """What the public sees (CONTRACT.md, the JSON `status`)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    COLLECTING = "collecting"
    CLOSED = "closed"
    SUBMITTED = "submitted"


class StatementStatus(StrEnum):
    """pending -> confirmed (counts) or lapsed (another address of the same person confirmed first, or this one
    came after: it never counts and holds no personal data); confirmed -> invalidated (a national authority found
    it invalid). Only `app.statements` moves a statement from one to another."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    LAPSED = "lapsed"
    INVALIDATED = "invalidated"


class StaffRole(StrEnum):
    ADMIN = "admin"
    ORGANIZER = "organizer"
    AUDITOR = "auditor"


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # given up: attempts used up, the message broken, or our own server said no
    BOUNCED = "bounced"  # the receiving server refused it for good (an SMTP 5xx reply to RCPT or DATA)
    HELD = "held"  # an update's message while its sending is paused: address and body scrubbed until it resumes


class TallyName(StrEnum):
    """An initiative's tallies beside its counters (InitiativeTally): the outbox's messages by delivery state (a
    queued message that failed once is `retrying`), and the subscribers by where they stand."""

    MAIL_QUEUED = "mail_queued"
    MAIL_RETRYING = "mail_retrying"
    MAIL_HELD = "mail_held"
    MAIL_SENT = "mail_sent"
    MAIL_FAILED = "mail_failed"
    MAIL_BOUNCED = "mail_bounced"
    SUBSCRIBERS_ACTIVE = "subscribers_active"
    SUBSCRIBERS_PENDING = "subscribers_pending"
    SUBSCRIBERS_UNSUBSCRIBED = "subscribers_unsubscribed"
    SUBSCRIBERS_BOUNCED = "subscribers_bounced"


class FingerprintKind(StrEnum):
    EMAIL = "email"
    NETWORK = "network"


class UpdateStatus(StrEnum):
    """An update to supporters: written (draft), then sent at the configured pace, perhaps paused on the way."""

    DRAFT = "draft"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"


def one_of(column: str, values: type[StrEnum]) -> str:
    """The SQL of a CHECK constraint that keeps `column` within an enum: the enum is the one list of values."""
    return f"{column} IN ({','.join(repr(str(v)) for v in values)})"


class Initiative(db.Model):
    __tablename__ = "initiative"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    rule_set: Mapped[str] = mapped_column(sa.String(16), default="eci-2024")
    goal: Mapped[int] = mapped_column(default=1_000_000)
    min_countries: Mapped[int] = mapped_column(default=7)
    collection_start: Mapped[date]
    collection_end: Mapped[date]
    # The stored lifecycle; `scheduled` and `closed` for the public are derived from the dates (public_status).
    status: Mapped[str] = mapped_column(sa.String(16), default=InitiativeStatus.COLLECTING)
    auditor_public_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    submitted_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # why the organizers withdrew it, as they confirmed it: shown on the public page and in the audit log
    withdrawn_reason: Mapped[str] = mapped_column(sa.String(1000), default="", server_default="")
    # first opened to the public; a draft withdrawn before that was never public and stays hidden
    published_at: Mapped[datetime | None]
    # when retention destroyed the statements: the counters stay as the historical count, no recount can check them
    statements_purged_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The language `title`, `summary` and `objectives` are written in; the other languages' are InitiativeText rows.
    default_locale: Mapped[str] = mapped_column(sa.String(8), default="en")
    objectives: Mapped[str] = mapped_column(sa.Text, default="")
    # Who collects the data, as the statement-of-support form names them (Regulation (EU) 2019/788, Annex III):
    # shown on the initiative page, the form, the confirmation email and the privacy statement.
    organizers: Mapped[str] = mapped_column(sa.Text, default="")  # names, one a line
    contact_name: Mapped[str] = mapped_column(sa.String(200), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(254), default="")
    website: Mapped[str] = mapped_column(sa.String(500), default="")
    registration_number: Mapped[str] = mapped_column(sa.String(40), default="")  # e.g. ECI(2024)000005
    register_url: Mapped[str] = mapped_column(sa.String(500), default="")  # its entry in the Commission's register

    countries: Mapped[list[InitiativeCountry]] = relationship(
        back_populates="initiative", order_by="InitiativeCountry.position", cascade="all, delete-orphan"
    )
    texts: Mapped[list[InitiativeText]] = relationship(
        back_populates="initiative", order_by="InitiativeText.locale", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint(one_of("status", InitiativeStatus), name="status"),
        sa.CheckConstraint("rule_set IN ('eci-2024','eci-2020')", name="rule_set"),
        sa.CheckConstraint("collection_end >= collection_start", name="dates"),
    )

    def public_status(self, today: date | None = None) -> PublicStatus:
        """draft, scheduled, collecting, closed or submitted, as CONTRACT.md names them."""
        today = today or utctoday()
        if self.status == InitiativeStatus.DRAFT:
            return PublicStatus.DRAFT
        if self.status == InitiativeStatus.SUBMITTED:
            return PublicStatus.SUBMITTED
        if self.status in (InitiativeStatus.WITHDRAWN, InitiativeStatus.CLOSED) or today > self.collection_end:
            return PublicStatus.CLOSED
        if today < self.collection_start:
            return PublicStatus.SCHEDULED
        return PublicStatus.COLLECTING

    @property
    def is_final(self) -> bool:
        """Submitted or withdrawn: nothing about the initiative changes any more."""
        return self.status in (InitiativeStatus.SUBMITTED, InitiativeStatus.WITHDRAWN)

    def country(self, code: str) -> InitiativeCountry | None:
        return next((c for c in self.countries if c.country_code == code), None)


class InitiativeText(db.Model):
    """The initiative's own words in one more language: what the organizers wrote for signers who read it."""

    __tablename__ = "initiative_text"

    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    objectives: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    initiative: Mapped[Initiative] = relationship(back_populates="texts")


class InitiativeCountry(db.Model):
    """One member state taking part in an initiative: its frozen rules and its statement counters."""

    __tablename__ = "initiative_country"

    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    country_code: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    position: Mapped[int]
    threshold: Mapped[int]
    min_age: Mapped[int]
    data_part: Mapped[str] = mapped_column(sa.String(1))
    id_types: Mapped[str] = mapped_column(sa.String(80), default="")
    # Kept by `app.statements` in the same transaction as the change they count; `counters check` recomputes them.
    confirmed_count: Mapped[int] = mapped_column(default=0)  # counted: confirmed and not quarantined
    pending_count: Mapped[int] = mapped_column(default=0)  # waiting for confirmation, not quarantined
    quarantined_count: Mapped[int] = mapped_column(default=0)  # pending or confirmed, set aside
    invalidated_count: Mapped[int] = mapped_column(default=0)

    initiative: Mapped[Initiative] = relationship(back_populates="countries")

    __table_args__ = (sa.CheckConstraint("data_part IN ('A','B')", name="data_part"),)

    @property
    def id_type_list(self) -> list[str]:
        return [t for t in self.id_types.split("|") if t]


class Statement(db.Model):
    """A statement of support. Who signed lives only in `sealed_data`, sealed to the auditor's public key."""

    __tablename__ = "statement"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"))
    country_code: Mapped[str] = mapped_column(sa.String(2))
    status: Mapped[str] = mapped_column(sa.String(12), default=StatementStatus.PENDING)
    identity_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    email_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    # 1 or 2: a household. A lapsed statement keeps its place, as a confirmed one would (it must look the same)
    email_slot: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    network_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    sealed_data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    emails_sent: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    # the language the statement was given in: its emails are written in it (a choice of the page, not personal data)
    locale: Mapped[str] = mapped_column(sa.String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # when the newest confirmation link was issued: an unconfirmed statement lives until that link expires
    link_sent_at: Mapped[datetime | None]
    # when the confirmation button was pressed; for a lapsed statement too, which then looks confirmed to its sender
    confirmed_at: Mapped[datetime | None]
    quarantine_id: Mapped[int | None] = mapped_column(sa.ForeignKey("quarantine.id", ondelete="SET NULL"))
    # the partner organisation whose link or embed brought the statement (a campaign's channel, not personal data)
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partner.id"))

    __table_args__ = (
        # One person, one confirmed statement per initiative: the database, not a read-then-write, makes a duplicate
        # impossible. Partial, because one person may have several pending statements, one per address (a typo, or
        # a stranger who typed their details): whichever confirms first wins (docs/decisions/001).
        sa.Index(
            "uq_statement_identity_confirmed",
            "initiative_id",
            "identity_fingerprint",
            unique=True,
            sqlite_where=sa.text("status = 'confirmed'"),
            postgresql_where=sa.text("status = 'confirmed'"),
        ),
        # One statement per person and address: signing again from the same address is a duplicate, not a new row.
        sa.UniqueConstraint(
            "initiative_id", "identity_fingerprint", "email_fingerprint", name="uq_statement_identity_email"
        ),
        # At most two people per email address per initiative (a household): slots 1 and 2.
        sa.UniqueConstraint("initiative_id", "email_fingerprint", "email_slot", name="uq_statement_email_slot"),
        sa.CheckConstraint(one_of("status", StatementStatus), name="status"),
        # a member state's statements by status; and a quarantine's criteria "this member state" (and "created in this
        # window") over what it may set aside (pending or confirmed, not set aside yet), from the index alone
        sa.Index(
            "ix_statement_initiative_country_status_created",
            "initiative_id",
            "country_code",
            "status",
            "quarantine_id",
            "created_at",
        ),
        sa.Index("ix_statement_initiative_created", "initiative_id", "created_at"),
        # a quarantine's window over confirmation times, and its network criteria (one fingerprint, or those the tally
        # says are shared), each one range of an index
        sa.Index("ix_statement_initiative_confirmed", "initiative_id", "confirmed_at"),
        sa.Index("ix_statement_initiative_network", "initiative_id", "network_fingerprint"),
    )


class Subscriber(db.Model):
    """An address whose owner ticked `updates_consent`; it counts only once the statement is confirmed."""

    __tablename__ = "subscriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"))
    statement_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("statement.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(sa.String(320))
    email_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    unsubscribed_at: Mapped[datetime | None]
    # the receiving server said the address does not exist (a hard bounce): ended like an unsubscription
    bounced_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("initiative_id", "email_fingerprint", name="uq_subscriber_email"),
        # an update's recipients in id order, and the dashboard's counts, as range scans of this index alone (the
        # columns after the unique id change no order; they let every state be counted without reading rows)
        sa.Index("ix_subscriber_initiative_active", "initiative_id", "active", "id", "unsubscribed_at", "bounced_at"),
    )


class SupporterUpdate(db.Model):
    """An update organizers write to the supporters who asked for updates, one text per language
    (docs/decisions/011-updates-to-supporters.md).

    Sending walks the active subscribers in id order, up to the newest one when sending started; the mail worker
    enqueues their messages a few at a time, at UPDATES_PER_MINUTE, and folds delivered ones into the tallies here.
    """

    __tablename__ = "supporter_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"))
    # the text a supporter gets when there is none in the language they signed in
    default_locale: Mapped[str] = mapped_column(sa.String(8), default="en")
    status: Mapped[str] = mapped_column(sa.String(12), default=UpdateStatus.DRAFT)
    created_by: Mapped[str] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_by: Mapped[str | None] = mapped_column(sa.String(320))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # the newest subscriber when sending started: addresses that asked later get the next update
    last_subscriber_id: Mapped[int | None]
    # every subscriber up to this id has had their message enqueued (or had left when their turn came)
    enqueued_through: Mapped[int] = mapped_column(default=0)
    # the pace: the earliest delivery time free after this update's last message (the worker reads the latest of all)
    paced_until: Mapped[datetime | None]
    # delivered messages folded in by the mail worker (their outbox rows are then deleted)
    sent: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    bounced: Mapped[int] = mapped_column(default=0)

    texts: Mapped[list[SupporterUpdateText]] = relationship(
        order_by="SupporterUpdateText.locale", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint(one_of("status", UpdateStatus), name="status"),
        sa.Index("ix_supporter_update_initiative", "initiative_id", "created_at"),
    )

    def text(self, locale: str) -> SupporterUpdateText | None:
        return next((t for t in self.texts if t.locale == locale), None)


class SupporterUpdateText(db.Model):
    """An update's subject and Markdown body in one language."""

    __tablename__ = "supporter_update_text"

    update_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter_update.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)


class OutboxMessage(db.Model):
    """A message written in the caller's transaction and delivered after commit by `mail send`."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    initiative_id: Mapped[int | None] = mapped_column(sa.ForeignKey("initiative.id", ondelete="SET NULL"))
    # Address and bodies are scrubbed once delivered (or given up): the body holds a confirmation link.
    to_address: Mapped[str | None] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str | None] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(12), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # an update's message: its supporter (their queued messages go when they unsubscribe) and its header
    # `List-Unsubscribe` (RFC 8058 one-click), a link that is scrubbed with the body
    update_id: Mapped[int | None] = mapped_column(sa.ForeignKey("supporter_update.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subscriber.id", ondelete="CASCADE"))
    list_unsubscribe: Mapped[str | None] = mapped_column(sa.String(1000))
    # a bounce's reply code and enhanced status code (RFC 3463), e.g. "550 5.1.1": whether the address is dead
    bounce_code: Mapped[str | None] = mapped_column(sa.String(16))

    __table_args__ = (
        sa.CheckConstraint(one_of("status", OutboxStatus), name="status"),
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_update", "update_id", "status"),
        sa.Index("ix_outbox_subscriber", "subscriber_id"),
    )


staff_initiative = sa.Table(
    "staff_initiative",
    db.metadata,
    sa.Column("staff_user_id", sa.ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("initiative_id", sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True),
)


class StaffUser(db.Model):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # the RFC 6238 secret, sealed with a key the server holds (app/admin/second_factor.py), never stored in the clear
    totp_secret: Mapped[str | None] = mapped_column(sa.String(200))
    # a secret being set up, sealed to the session that asked for it; it becomes totp_secret once a code matches
    totp_pending: Mapped[str | None] = mapped_column(sa.String(200))
    # the 30-second step of the last code accepted: a code works once, however long its window (RFC 6238, 5.2)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # raised to end every session at once: sign-out, a new password, another role, a second factor set or removed
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    initiatives: Mapped[list[Initiative]] = relationship(secondary=staff_initiative, order_by="Initiative.slug")

    __table_args__ = (sa.CheckConstraint(one_of("role", StaffRole), name="role"),)

    def can_access(self, initiative: Initiative) -> bool:
        return self.role == StaffRole.ADMIN or any(i.id == initiative.id for i in self.initiatives)


class InstanceSetting(db.Model):
    """Instance-wide switches an admin sets (e.g. TOTP mandatory for auditors)."""

    __tablename__ = "instance_setting"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(500))


class AuditEntry(db.Model):
    """One staff action; each entry carries the hash of the previous one, and the id after the previous one's.
    Never updated, never deleted (on PostgreSQL the app's role may only insert and read, and triggers refuse the
    rest)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(320))
    action: Mapped[str] = mapped_column(sa.String(64))
    # no ON DELETE action: an audited initiative cannot be deleted, and nothing rewrites an entry
    initiative_id: Mapped[int | None] = mapped_column(sa.ForeignKey("initiative.id"))
    target: Mapped[str] = mapped_column(sa.String(200), default="")
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    details: Mapped[str] = mapped_column(sa.Text, default="{}")
    # unique: two writers that read the same last entry cannot both append after it (the chain cannot fork)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (
        sa.Index("ix_audit_initiative_created", "initiative_id", "created_at"),
        sa.Index("ix_audit_initiative_id", "initiative_id", "id"),  # an initiative's entries, paged by id
    )


class Quarantine(db.Model):
    """Statements set aside by criteria, with a written reason; released again by setting `released_at`."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"))
    criteria: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text)
    statement_count: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by: Mapped[str | None] = mapped_column(sa.String(320))
    released_at: Mapped[datetime | None]


class ExportRecord(db.Model):
    """One export written by `export create` or the staff side: where it lies and what its manifest says."""

    __tablename__ = "export_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(320))
    # the folder `export create --out` wrote; None for the staff side's exports, kept in export_chunk
    directory: Mapped[str | None] = mapped_column(sa.String(500))
    countries: Mapped[str] = mapped_column(sa.String(100), default="")
    statement_count: Mapped[int] = mapped_column(default=0)
    manifest_sha256: Mapped[str] = mapped_column(sa.String(64))

    @property
    def stored(self) -> bool:
        """Kept in the database, so any app server can serve it."""
        return self.directory is None


class ExportChunk(db.Model):
    """A piece of one file (`manifest.json`, `<CC>.sealed`) of an export kept in the database: every app server
    reads the same bytes, and a file is written and read a chunk at a time (app/exports/store.py)."""

    __tablename__ = "export_chunk"

    export_id: Mapped[int] = mapped_column(sa.ForeignKey("export_record.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)


class ConfirmationDay(db.Model):
    """Counted statements per member state and UTC day of confirmation: the dashboard's daily series without a
    GROUP BY over statements. Kept by `app.statements` beside the per-country counters."""

    __tablename__ = "confirmation_day"

    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    country_code: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    confirmed: Mapped[int] = mapped_column(default=0)


class MailAllowance(db.Model):
    """Emails sent today from one initiative to one address, keyed by the address's fingerprint, never the address:
    however many identities a stranger types with one address, it gets at most MAX_EMAILS_PER_ADDRESS_PER_DAY."""

    __tablename__ = "mail_allowance"

    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    email_fingerprint: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    sent: Mapped[int] = mapped_column(sa.SmallInteger, default=0)


class SpentChallenge(db.Model):
    """A sign form's proof-of-work challenge that has signed a statement: kept until it expires, so that one answer
    signs once (app/signing/proof_of_work.py). Only the challenge's hash and expiry: nothing about who sent it."""

    __tablename__ = "spent_challenge"

    challenge: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Partner(db.Model):
    """A partner organisation of a coalition campaign: its links and embeds carry `code`, and the statements they
    bring are counted for it (docs/decisions/012-partners-and-embeds.md)."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(40))  # e.g. eu-digital-rights, in ?partner=
    name: Mapped[str] = mapped_column(sa.String(200))
    website: Mapped[str] = mapped_column(sa.String(500), default="")
    # re-encoded as PNG on upload (app/partners/logos.py), served from this origin
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    logo_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # the Curve25519 public key its hand-overs are sealed to; the partner keeps the private half
    public_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    # raised to end the partner's report link and give a new one
    report_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.UniqueConstraint("initiative_id", "code", name="uq_partner_code"),)


class PartnerCountry(db.Model):
    """Counted statements a partner brought, per member state: kept by `app.statements` beside the per-country
    counters, in the same transactions, so that the dashboard never groups statements."""

    __tablename__ = "partner_country"

    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True)
    country_code: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    confirmed: Mapped[int] = mapped_column(default=0)


class PartnerHandover(db.Model):
    """Addresses that asked for a partner's updates, sealed to the partner's public key with a signed manifest; the
    server cannot open it, and retention deletes the sealed file after PARTNER_HANDOVER_KEEP_DAYS."""

    __tablename__ = "partner_handover"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partner.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(320))
    addresses: Mapped[int] = mapped_column(default=0)
    manifest: Mapped[bytes] = mapped_column(sa.LargeBinary)
    manifest_sha256: Mapped[str] = mapped_column(sa.String(64))
    sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # None once retention deleted it
    deleted_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_partner_handover_partner", "partner_id", "created_at"),)


class PartnerOptIn(db.Model):
    """An address whose owner ticked a partner's updates box. It is handed over only once the statement is confirmed
    (double opt-in), sealed to the partner's key, and scrubbed here in the same transaction; an address never handed
    over goes with its statement (the foreign key cascades)."""

    __tablename__ = "partner_optin"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partner.id", ondelete="CASCADE"))
    statement_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("statement.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(320))  # "" once handed over
    email_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    locale: Mapped[str] = mapped_column(sa.String(8), default="en")
    confirmed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handover_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partner_handover.id", ondelete="SET NULL"))
    handed_over_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("partner_id", "email_fingerprint", name="uq_partner_optin_email"),
        sa.Index("ix_partner_optin_waiting", "partner_id", "confirmed", "handed_over_at"),
        sa.Index("ix_partner_optin_statement", "statement_id"),
    )


class FrameOrigin(db.Model):
    """A site allowed to frame an initiative's embeddable form and counter (CSP `frame-ancestors`)."""

    __tablename__ = "frame_origin"

    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    origin: Mapped[str] = mapped_column(sa.String(200), primary_key=True)  # scheme://host[:port], lower case


class InitiativeTally(db.Model):
    """One number the staff pages show without counting rows: the initiative's outbox messages or subscribers in one
    state. Kept by `app.statements.tallies` in the transaction of every change (docs/decisions/015)."""

    __tablename__ = "initiative_tally"

    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)

    __table_args__ = (sa.CheckConstraint(one_of("name", TallyName), name="name"),)


class FingerprintUse(db.Model):
    """How many statements of an initiative (any status) carry one email or network fingerprint: the quarantine
    page's shared fingerprints and its "used by more than N" criteria without a GROUP BY over the statements. A row
    goes with its last statement (retention), as the fingerprint does."""

    __tablename__ = "fingerprint_use"

    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    statements: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        sa.CheckConstraint(one_of("kind", FingerprintKind), name="kind"),
        # the most used first (ties by fingerprint, both descending), and those used more than N: one range of this
        # index, read backwards, however many fingerprints are used equally often
        sa.Index("ix_fingerprint_use_statements", "initiative_id", "kind", "statements", "fingerprint"),
    )


class QuarantineHeld(db.Model):
    """What a quarantine holds now, confirmed and not: its page's "held now" without counting statements."""

    __tablename__ = "quarantine_held"

    quarantine_id: Mapped[int] = mapped_column(sa.ForeignKey("quarantine.id", ondelete="CASCADE"), primary_key=True)
    initiative_id: Mapped[int] = mapped_column(sa.ForeignKey("initiative.id", ondelete="CASCADE"), index=True)
    confirmed: Mapped[int] = mapped_column(default=0)
    unconfirmed: Mapped[int] = mapped_column(default=0)  # pending, lapsed or invalidated
