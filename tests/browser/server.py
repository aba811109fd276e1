"""The app served on loopback by werkzeug in a background thread, as a browser sees it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import make_server

from app.mail.delivery import DeliveryReport, deliver_due

from ..support.factories import reconfigure
from ..support.smtp import MailServer


@dataclass(frozen=True)
class LiveServer:
    """`url` is the origin (also BASE_URL, so the links in emails point here)."""

    app: Flask
    url: str
    smtp: MailServer

    def deliver_mail(self) -> DeliveryReport:
        """What `flask mail send` does, inside the app's context: the outbox goes to the `smtp` server."""
        with self.app.app_context():
            return deliver_due(echo=lambda _line: None)


@contextmanager
def serve(app: Flask, smtp: MailServer) -> Iterator[LiveServer]:
    """Serve `app` on a free loopback port with CSRF on, as a browser uses it, until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    reconfigure(app, WTF_CSRF_ENABLED=True, BASE_URL=url, SMTP_URL=smtp.url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=url, smtp=smtp)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
