"""What outlives a request keeps no token and no address: the access log names routes, the app's error log names
routes, and a mail error stored in the outbox (and printed by `mail send`) has its addresses scrubbed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.mail.delivery import deliver_due
from app.models import OutboxMessage

from ..support.factories import make_initiative, part_b
from ..support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "InRoaXMgaXMgYSB0b2tlbiI.aGVyZS1pdC1pcw.c2VjcmV0LXNpZ25hdHVyZQ"


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_access_log_names_routes_not_paths(app, backend, db, tmp_path):  # type: ignore[no-untyped-def]
    """Issue 7: the access log recorded confirmation tokens. `gunicorn wsgi:app` in the repository reads
    gunicorn.conf.py, whose format writes the matched route; no query, referrer, client address or user agent."""
    make_initiative()
    port = free_port()
    access_log = tmp_path / "access.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("QUORUM_", "RATELIMIT_"))},
        "QUORUM_ENV": "production",
        "QUORUM_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": backend,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "FINGERPRINT_KEY": app.config["FINGERPRINT_KEY"],
        "RATELIMIT_ENABLED": "0",
    }
    command = [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}", "--access-logfile"]
    process = subprocess.Popen(
        [*command, str(access_log), "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while _status_or_none(f"{url}/api/v1/initiatives") is None:
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        confirm = f"{url}/i/stop-scanning/confirm/{TOKEN}"
        assert _get(confirm, {"Referer": confirm, "User-Agent": "Agent-Smith/1.0"}) in (400, 404)
        assert _get(f"{url}/i/stop-scanning/unsubscribe/{TOKEN}") in (400, 404)
        assert _get(f"{url}/admin/login?next=/admin/accounts%3Fsecret%3D{TOKEN}") == 200
        assert _get(f"{url}/no/such/{TOKEN}") == 404
    finally:
        process.terminate()
        process.wait(timeout=30)
    log = access_log.read_text()
    assert TOKEN not in log and TOKEN[:12] not in log
    for absent in ("?next", "secret", "Agent-Smith", "127.0.0.1", "HTTP/1.1"):
        assert absent not in log, absent
    lines = [line for line in log.splitlines() if "/api/" not in line]
    assert [line.split('"')[1] for line in lines] == [
        "GET /i/<slug>/confirm/<token>",
        "GET /i/<slug>/unsubscribe/<token>",
        "GET /admin/login",
        "GET -",
    ]
    assert [line.split('"')[2].split()[0] for line in lines][-1] == "404"


def _status_or_none(url: str) -> int | None:
    try:
        return _get(url)
    except OSError:
        return None


@pytest.mark.fresh_app
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_unexpected_error_is_logged_with_its_route(app, client, caplog):  # type: ignore[no-untyped-def]
    @app.get("/i/<slug>/boom/<token>")
    def boom(slug: str, token: str) -> str:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        assert client.get(f"/i/stop-scanning/boom/{TOKEN}").status_code == 500
    messages = [record.getMessage() for record in caplog.records]
    assert "unhandled error on GET /i/<slug>/boom/<token>" in messages
    assert not [message for message in messages if TOKEN in message]


def test_a_stored_mail_error_keeps_no_address(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """Issue 7: an SMTP error text kept the recipient's address in outbox_message.last_error, after the address
    itself had been scrubbed from the message."""
    initiative, _ = make_initiative()
    data = part_b(email="zoe.mueller@example.org")
    assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    smtp.reply = "550 5.1.1 <zoe.mueller@example.org>: Recipient address rejected: user unknown"
    report = deliver_due(echo=lambda _line: None)
    assert report.bounced == 1  # a 5xx for the recipient is a bounce
    db.session.rollback()
    [message] = db.session.scalars(sa.select(OutboxMessage)).all()
    assert message.to_address is None
    assert message.last_error is not None and "550" in message.last_error and "user unknown" in message.last_error
    for text in (message.last_error, *report.errors):
        assert "zoe.mueller" not in text and "example.org" not in text, text
