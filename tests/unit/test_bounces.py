"""Which SMTP refusals are bounces, and which bounces end a subscription (RFC 5321 4.2.1, RFC 3463)."""

from __future__ import annotations

import smtplib

import pytest

from app.mail.bounces import address_is_dead, bounce_of, is_permanent


def refused(code: int, text: bytes) -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused({"someone@example.org": (code, text)})


@pytest.mark.parametrize(
    ("error", "bounce", "permanent"),
    [
        # refused at RCPT TO: the recipient
        (refused(550, b"5.1.1 <someone@example.org>: Recipient address rejected: User unknown"), "550 5.1.1", True),
        (refused(550, b"No such user here"), "550", True),  # RFC 5321's own example, without an enhanced code
        (refused(552, b"5.2.2 Mailbox full"), "552 5.2.2", True),
        (refused(450, b"4.2.0 Greylisted, try again later"), None, False),  # a deferral: retried
        (refused(451, b"4.3.0 Temporary lookup failure"), None, False),
        # refused after DATA: this message
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), "554 5.7.1", True),
        (smtplib.SMTPDataError(550, b"5.1.1 User unknown"), "550 5.1.1", True),
        (smtplib.SMTPDataError(451, b"4.7.1 Try again later"), None, False),
        # our own server said no to the sender or the login: a failure, never the recipient's bounce
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender address rejected", "noreply@localhost"), None, True),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication failed"), None, True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), None, False),
        (ConnectionRefusedError(111, "Connection refused"), None, False),
    ],
)
def test_bounce_or_not(error: Exception, bounce: str | None, permanent: bool) -> None:
    found = bounce_of(error)
    assert (str(found) if found else None) == bounce
    assert is_permanent(error) is permanent


@pytest.mark.parametrize(
    ("code", "dead"),
    [
        ("550 5.1.1", True),  # bad destination mailbox
        ("550 5.1.2", True),  # bad destination system
        ("553 5.1.3", True),  # bad destination address syntax
        ("551 5.1.6", True),  # mailbox has moved
        ("556 5.1.10", True),  # the domain accepts no mail (null MX, RFC 7505)
        ("550 5.2.1", True),  # mailbox disabled
        ("552 5.2.2", False),  # mailbox full: the address exists
        ("554 5.7.1", False),  # a policy refusal of one message, or a relay that refuses everything
        ("550 5.7.26", False),  # DMARC: about the sender
        ("553 5.1.7", False),  # bad sender's mailbox address syntax: ours
        ("550", False),  # no enhanced code says why: counted, the address kept
        ("", False),
        (None, False),
    ],
)
def test_which_bounces_end_a_subscription(code: str | None, dead: bool) -> None:
    assert address_is_dead(code) is dead
