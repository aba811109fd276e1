"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives, and can be stopped and started."""

from __future__ import annotations

import email
import threading
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from .postgres import free_port


class _Handler:
    def __init__(self, inbox: MailServer) -> None:
        self.inbox = inbox

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        refusal = self.inbox.refuse.get(address)
        if refusal:
            return refusal  # a server that refuses this recipient (5xx) or defers it (4xx)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.inbox.reply != "250 OK":
            return self.inbox.reply  # a server that refuses (5xx) or defers (4xx) the message
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.inbox.lock:
            self.inbox.messages.append(message)
            self.inbox.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class MailServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.lock = threading.Lock()
        self.reply = "250 OK"
        self.refuse: dict[str, str] = {}  # address -> the reply to its RCPT TO, e.g. "550 5.1.1 No such user"
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.recipients.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]
