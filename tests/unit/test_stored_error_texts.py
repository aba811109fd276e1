"""Error texts kept after a message is scrubbed (outbox_message.last_error, `mail send` output) hold no address."""

from __future__ import annotations

import pytest

from app.mail.delivery import scrub


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "SMTPRecipientsRefused: {'ana@example.org': (550, b'5.1.1 <ana@example.org>: Recipient address rejected')}",
            "SMTPRecipientsRefused: {'[address]': (550, b'5.1.1 <[address]>: Recipient address rejected')}",
        ),
        ("SMTPDataError: (552, b'Mailbox full: jan.kowalski+eci@poczta.example.pl')", None),
        ("SMTPSenderRefused: (553, b'\"Zoë Müller\" <zoe@bücher.example>', ...)", None),
        ("SMTPDataError: (550, b'see https://sign.example.eu/i/stop/confirm/abc.DEF-123 for details')", None),
        (
            "ConnectionRefusedError: [Errno 111] Connection refused",
            "ConnectionRefusedError: [Errno 111] Connection refused",
        ),
        (
            "SMTPServerDisconnected: Connection unexpectedly closed",
            "SMTPServerDisconnected: Connection unexpectedly closed",
        ),
    ],
)
def test_scrub(text: str, kept: str | None) -> None:
    scrubbed = scrub(text)
    if kept is not None:
        assert scrubbed == kept
    assert "@" not in scrubbed and "/confirm/" not in scrubbed
    for word in ("ana", "jan.kowalski", "zoe", "bücher"):
        assert f"{word}@" not in scrubbed
