"""What an SMTP refusal means: a bounce (the receiving side refused the message for good), and whether it says the
address itself is dead, so that no more updates go to it (docs/decisions/011-updates-to-supporters.md).

RFC 5321, 4.2.1: a 5yz reply is a permanent refusal, a 4yz one a deferral to retry. RFC 3463: the enhanced status
code after it says why; 5.1.x is about the recipient's address, 5.7.x about policy (spam, authentication).
"""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass

_ENHANCED = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")

# RFC 3463 3.2 and 3.3: bad destination mailbox (5.1.1), system (5.1.2) or address syntax (5.1.3), mailbox moved
# (5.1.6), a domain that accepts no mail (5.1.10, RFC 7505) and a disabled mailbox (5.2.1). Not 5.1.7 and 5.1.8,
# which are about the sender, nor 5.7.x: a policy refusal of one message says nothing about the address, and a
# relay misconfigured to refuse everything must not end every subscription.
DEAD_ADDRESS = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"})


@dataclass(frozen=True)
class Bounce:
    """A permanent refusal of the recipient (at RCPT) or of the message (at DATA)."""

    code: int
    enhanced: str  # "" when the server gave none

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced}".strip()


def _enhanced(text: bytes | str) -> str:
    raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
    match = _ENHANCED.match(raw or b"")
    return match.group(1).decode() if match else ""


def bounce_of(error: Exception) -> Bounce | None:
    """The bounce this delivery error is, or None (a deferral, a lost connection, or our own server's refusal of
    the sender or the login, which is no verdict on the recipient)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # one recipient a message: the refusal of that one
        replies = list(error.recipients.values())
        if replies:
            code, text = replies[0]
            if 500 <= code < 600:
                return Bounce(code, _enhanced(text))
        return None
    if isinstance(error, smtplib.SMTPDataError) and 500 <= error.smtp_code < 600:
        return Bounce(error.smtp_code, _enhanced(error.smtp_error))
    return None


def is_permanent(error: Exception) -> bool:
    """No retry can help: a 5xx reply to anything, or a recipient refused with one."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return bounce_of(error) is not None
    return isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600


def address_is_dead(bounce_code: str | None) -> bool:
    """A bounce (as stored: "550 5.1.1") that says the address does not exist or takes no mail."""
    if not bounce_code:
        return False
    parts = bounce_code.split()
    return len(parts) == 2 and parts[1] in DEAD_ADDRESS
