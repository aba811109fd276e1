"""Delivering the outbox over SMTP (SMTP_URL) or into instance/mail/, with retries and back-off."""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from flask import current_app

from ..database import forget_scrubbed
from ..extensions import db
from ..models import OutboxMessage, OutboxStatus, utcnow
from ..statements import tallies
from ..transactions import unit_of_work
from .bounces import bounce_of, is_permanent

LINK = re.compile(r"https?://\S+/confirm/\S+")


class MailConfigError(ValueError):
    """SMTP_URL cannot be understood."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool


def parse_smtp_url(url: str) -> SmtpSettings:
    """`smtp://user:pass@host:port` (`?starttls=1`) or `smtps://...` (CONTRACT.md)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailConfigError("SMTP_URL must look like smtp://user:pass@host:port or smtps://...")
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    implicit = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
        starttls=query.get("starttls", "0").lower() in ("1", "true", "yes"),
    )


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address or ""
    email["Subject"] = message.subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or "localhost")
    # 8bit keeps the link on one line in the raw message, so even a plain grep of an .eml finds it whole
    if message.list_unsubscribe:
        # RFC 2369 and RFC 8058: the mail client's own "unsubscribe" button, one POST to this URL, no page
        email["List-Unsubscribe"] = f"<{message.list_unsubscribe}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.body_text or "", cte="8bit")
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html", cte="8bit")
    return email


class SmtpTransport:
    def __init__(self, settings: SmtpSettings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        client: smtplib.SMTP
        if s.implicit_tls:
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            if s.starttls:
                client.starttls(context=ssl.create_default_context())
        if s.username:
            client.login(s.username, s.password or "")
        return client

    def send(self, email: EmailMessage) -> None:
        if self._client is None:
            self._client = self._connect()
        self._client.send_message(email)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._client.quit()
            self._client = None


class DirectoryTransport:
    """No SMTP_URL: write .eml files and print the confirmation link, so a newcomer can click through."""

    def __init__(self, folder: Path, echo: Callable[[str], None]) -> None:
        self.folder = folder
        self.echo = echo

    def send(self, email: EmailMessage) -> None:
        # private: each file holds an address and a working link
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{utcnow():%Y%m%dT%H%M%S%f}-{abs(hash(email['Message-ID'])) % 10**8:08d}.eml"
        path = self.folder / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(bytes(email))
        text = email.get_body(preferencelist=("plain",))
        links = LINK.findall(text.get_content() if text else "")
        self.echo(f"mail: wrote {path}" + (f"; link: {links[0]}" if links else ""))

    def close(self) -> None:
        pass


def make_transport(echo: Callable[[str], None] = print) -> SmtpTransport | DirectoryTransport:
    url = current_app.config["SMTP_URL"]
    if not url and current_app.config["ENV_NAME"] == "production":
        # files with addresses in them on a production server would be mail that never arrives, and a leak
        raise MailConfigError("SMTP_URL is not set: in production mail is delivered over SMTP only")
    if url:
        return SmtpTransport(parse_smtp_url(url), current_app.config["SMTP_TIMEOUT"])
    return DirectoryTransport(Path(current_app.config["MAIL_DIR"]), echo)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour between tries."""
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(3600, base * 2 ** max(0, attempts - 1)))


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    bounced: int = 0
    errors: list[str] = field(default_factory=list)


def _scrub(message: OutboxMessage) -> None:
    """Once delivered or given up, the address and the link are gone from the database (and, on SQLite, from its
    free pages and write-ahead log once the batch commits: `database.forget_scrubbed`)."""
    forget_scrubbed()
    message.to_address = None
    message.body_text = None
    message.body_html = None
    message.list_unsubscribe = None


ADDRESS = re.compile(r"[^\s<>()\[\]{},;:'\"@]+@[^\s<>()\[\]{},;:'\"@]+")
"""Anything shaped like an email address, as SMTP servers quote them in replies (`<a@b.eu>`, `'a@b.eu'`)."""


def scrub(text: str) -> str:
    """An error text without addresses or confirmation links: it stays in outbox_message.last_error and is printed by
    `mail send`, long after the message itself was scrubbed."""
    return ADDRESS.sub("[address]", LINK.sub("[link]", text))


def _describe(error: Exception) -> str:
    return scrub(f"{type(error).__name__}: {error}")[:480]


def _attempt(
    message: OutboxMessage,
    transport: SmtpTransport | DirectoryTransport,
    sender: str,
    max_attempts: int,
    report: DeliveryReport,
) -> bool:
    """One delivery attempt; True when the server could not be reached at all (the rest of the batch waits)."""
    message.attempts += 1
    try:
        email = build_email(message, sender)
    except ValueError as error:
        # the message itself is broken (e.g. a line break in a header): retrying cannot help, and a message that
        # raised here on every round would hold up the whole queue behind it
        message.last_error = _describe(error)
        report.errors.append(message.last_error)
        message.status = OutboxStatus.FAILED
        _scrub(message)
        report.failed += 1
        return False
    try:
        transport.send(email)
    except (smtplib.SMTPException, OSError) as error:
        transport.close()
        message.last_error = _describe(error)
        report.errors.append(message.last_error)
        # 5xx is the server's final word on this message (RFC 5321, 4.2.1); 4xx and lost connections retry
        bounce = bounce_of(error)
        if bounce is not None:
            message.status = OutboxStatus.BOUNCED
            message.bounce_code = str(bounce)
            _scrub(message)
            report.bounced += 1
            return False
        if is_permanent(error) or message.attempts >= max_attempts:
            message.status = OutboxStatus.FAILED
            _scrub(message)
            report.failed += 1
            return False
        message.next_attempt_at = utcnow() + backoff(message.attempts)
        report.retrying += 1
        # a reply (a 4xx to this message or recipient) shows the server is there: only silence stops the batch
        return not isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
    message.status = OutboxStatus.SENT
    message.sent_at = utcnow()
    message.last_error = None
    _scrub(message)
    report.sent += 1
    return False


def deliver_due(batch_size: int = 50, echo: Callable[[str], None] = print) -> DeliveryReport:
    """Send every message that is due; each batch is its own unit of work, so a crash never sends one twice."""
    report = DeliveryReport()
    transport = make_transport(echo)
    sender = current_app.config["MAIL_FROM"]
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    try:
        while True:
            with unit_of_work():
                query = (
                    sa.select(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= utcnow())
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(batch_size)
                )
                if db.engine.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)  # several workers share the queue
                messages = db.session.scalars(query).all()
                transport_down = False
                for message in messages:
                    before = tallies.mail_state(message.status, message.attempts)
                    transport_down = _attempt(message, transport, sender, max_attempts, report)
                    after = tallies.mail_state(message.status, message.attempts)
                    tallies.move_mail(message.initiative_id, before, after)
                    if transport_down:
                        break
            if not messages or transport_down:
                # nothing due, or the server is unreachable: the rest of the batch keeps its attempt counts
                break
    finally:
        transport.close()
        db.session.rollback()
    return report


def enqueue_updates(echo: Callable[[str], None] = print) -> None:
    """The next messages of every update being sent, at UPDATES_PER_MINUTE, and the delivered ones counted: one
    unit of work before each delivery round (docs/decisions/011-updates-to-supporters.md)."""
    from ..links import links
    from ..updates.sending import send_due

    try:
        with unit_of_work():
            send_due(
                now=utcnow(),
                per_minute=current_app.config["UPDATES_PER_MINUTE"],
                links=links(),
                secret_key=current_app.config["SECRET_KEY"],
            )
    except sa.exc.OperationalError:
        raise  # the database is away: the whole round waits it out
    except Exception as error:  # noqa: BLE001 - an update must never hold up confirmation emails
        echo(f"mail: writing updates failed ({type(error).__name__}); delivering the rest")


def run_forever(
    interval: float, echo: Callable[[str], None] = print, should_stop: Callable[[], bool] = lambda: False
) -> None:
    """`mail send --loop`: deliver, sleep, repeat; a database restart is waited out, not fatal."""
    while not should_stop():
        try:
            enqueue_updates(echo)
            report = deliver_due(echo=echo)
            if report.sent or report.retrying or report.failed or report.bounced:
                echo(
                    f"mail: sent {report.sent}, retrying {report.retrying}, failed {report.failed}, "
                    f"bounced {report.bounced}"
                )
        except sa.exc.OperationalError as error:
            db.session.rollback()
            echo(f"mail: database unavailable ({type(error.orig).__name__}); retrying")
        except MailConfigError:
            raise  # a wrong SMTP_URL does not fix itself: stop with the reason
        except Exception as error:  # noqa: BLE001 - the worker outlives one bad round; the next round retries
            db.session.rollback()
            echo(f"mail: delivery round failed ({type(error).__name__}); retrying")
        time.sleep(interval)
