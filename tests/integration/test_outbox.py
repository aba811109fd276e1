"""The outbox: written in the signer's transaction, delivered after commit over real SMTP, retried, scrubbed."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.mail.delivery import deliver_due
from app.models import OutboxMessage, Statement, utcnow
from app.statements import lifecycle

from ..support.factories import (
    confirm_link,
    html_of,
    make_initiative,
    part_a,
    part_b,
    path_of,
    reconfigure,
    submit,
    text_of,
)


def _deliver() -> tuple[int, int, int]:
    report = deliver_due(echo=lambda _line: None)
    return report.sent, report.retrying, report.failed


def _messages(db) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def _make_due(db) -> None:  # type: ignore[no-untyped-def]
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_rolled_back_submission_leaves_no_message(mail_app, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    outcome = submit(initiative, part_b(updates_consent="y"))
    assert outcome.kind == "new"
    assert len(_messages(db)) == 1  # visible inside the transaction that wrote it
    db.session.rollback()
    assert _messages(db) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 0
    assert _deliver() == (0, 0, 0)
    assert smtp.messages == []


def test_failed_request_leaves_neither_statement_nor_message(app_factory, app, smtp, db, monkeypatch):  # type: ignore[no-untyped-def]
    """A crash after the outbox row was written: the request's transaction, row and all, is gone."""
    initiative, _ = make_initiative()
    web = app_factory(SMTP_URL=smtp.url, PROPAGATE_EXCEPTIONS=False)  # its own app context per request

    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(lifecycle, "subscribe", broken)
    response = web.test_client().post(f"/i/{initiative.slug}/sign", data=part_b(updates_consent="y"))
    assert response.status_code == 500
    assert _messages(db) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 0


def test_server_error_rolls_back_at_once(app, client, db, monkeypatch):  # type: ignore[no-untyped-def]
    """The 500 handler itself rolls back, so nothing later in the same context can commit the half-done work."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    initiative, _ = make_initiative()

    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(lifecycle, "subscribe", broken)
    response = client.post(f"/i/{initiative.slug}/sign", data=part_b(updates_consent="y"))
    assert response.status_code == 500
    assert "Nothing you entered was stored" in response.get_data(as_text=True)
    db.session.commit()
    assert _messages(db) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 0


def test_smtp_down_then_back(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    smtp.stop()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    assert client.post(f"/i/{initiative.slug}/sign", data=part_a()).status_code == 303

    assert _deliver() == (0, 1, 0)
    first, second = _messages(db)
    assert first.status == "queued"
    assert first.attempts == 1
    assert first.next_attempt_at > utcnow() + timedelta(seconds=20)  # backed off, not hammering a dead server
    assert first.last_error
    assert first.to_address == "agnieszka@example.org"
    assert first.body_text and first.body_html
    assert second.status == "queued"
    assert second.attempts == 0  # the rest of the batch waits for the server, without a wasted attempt

    # not due yet: the back-off holds even when the server is back
    smtp.start()
    assert _deliver() == (1, 0, 0)  # only the second one, which was never tried
    _make_due(db)
    assert _deliver() == (1, 0, 0)
    first, second = _messages(db)
    assert first.status == second.status == "sent"
    assert first.attempts == 2
    assert first.sent_at is not None
    link = confirm_link(smtp.to("agnieszka@example.org")[0])
    assert client.post(path_of(link)).status_code == 200


def test_gives_up_after_max_attempts(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    mail_app.config["MAIL_MAX_ATTEMPTS"] = 3
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    smtp.stop()
    assert _deliver() == (0, 1, 0)
    _make_due(db)
    assert _deliver() == (0, 1, 0)
    [message] = _messages(db)
    assert message.attempts == 2
    _make_due(db)
    assert _deliver() == (0, 0, 1)
    [message] = _messages(db)
    assert message.status == "failed"
    assert message.attempts == 3
    assert message.last_error
    assert message.to_address is None
    assert message.body_text is None
    assert message.body_html is None
    smtp.start()
    _make_due(db)
    assert _deliver() == (0, 0, 0)  # a failed message is never retried
    assert smtp.messages == []


def test_sent_message_is_scrubbed(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    [queued] = _messages(db)
    assert queued.status == "queued"
    assert "/confirm/" in (queued.body_text or "")
    assert _deliver() == (1, 0, 0)
    [message] = _messages(db)
    assert message.status == "sent"
    assert (message.to_address, message.body_text, message.body_html) == (None, None, None)
    assert message.kind == "confirm"
    assert _deliver() == (0, 0, 0)  # never sent twice
    assert len(smtp.messages) == 1


def test_backoff_grows(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    smtp.stop()
    delays = []
    for _ in range(3):
        _make_due(db)
        before = utcnow()
        _deliver()
        [message] = _messages(db)
        delays.append((message.next_attempt_at - before).total_seconds())
    assert delays[0] < delays[1] < delays[2]
    assert delays[0] >= 29


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:5000", "https://sign.example.eu/campaigns"])
def test_confirmation_email_shape(mail_app, client, smtp, base_url):  # type: ignore[no-untyped-def]
    reconfigure(mail_app, BASE_URL=base_url)
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    _deliver()
    [message] = smtp.to("agnieszka@example.org")
    assert smtp.recipients == [["agnieszka@example.org"]]
    assert message.is_multipart()
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}
    assert initiative.title in str(message["Subject"])
    shape = re.compile(rf"^{re.escape(base_url)}/i/{initiative.slug}/confirm/[A-Za-z0-9_\-.]+$")
    for body in (text_of(message), html_of(message)):
        urls = set(re.findall(r"https?://[^\s\"<>]+", body))
        confirming = {url for url in urls if "/confirm/" in url}
        assert len(confirming) == 1, confirming
        assert shape.match(confirming.pop())
    assert confirm_link(message) in html_of(message)


def test_without_smtp_mail_goes_to_files_and_the_link_is_printed(app, client, db, tmp_path):  # type: ignore[no-untyped-def]
    assert not app.config["SMTP_URL"]
    folder = Path(app.config["MAIL_DIR"])
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    printed: list[str] = []
    report = deliver_due(echo=printed.append)
    assert report.sent == 1
    [path] = list(folder.glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    link = confirm_link(message)  # type: ignore[arg-type]
    [line] = printed
    assert str(path) in line
    assert link in line
    [row] = _messages(db)
    assert row.status == "sent"
    assert row.body_text is None
    assert client.post(path_of(link)).status_code == 200


def test_cli_mail_send_delivers_over_smtp(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    assert len(smtp.to("agnieszka@example.org")) == 1
    smtp.stop()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_a()).status_code == 303
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "retrying later 1" in result.output


def test_household_refusal_and_already_confirmed_mails_have_no_confirm_link(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for name in ("Anna", "Berta", "Clara"):
        assert (
            client.post(
                f"/i/{initiative.slug}/sign", data=part_a(first_names=name, email="home@example.org")
            ).status_code
            == 303
        )
    _deliver()
    kinds = [m.kind for m in _messages(db)]
    assert kinds == ["confirm", "confirm", "household_full"]
    refusal = smtp.messages[2]
    assert {p.get_content_type() for p in refusal.iter_parts()} == {"text/plain", "text/html"}
    assert "/confirm/" not in text_of(refusal)
    assert "/confirm/" not in html_of(refusal)
    assert f"/i/{initiative.slug}/sign" in text_of(refusal)


def test_title_with_a_line_break_still_mails(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(title="Stop\nscanning  our\r\nmessages")
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    assert _deliver() == (1, 0, 0)
    [message] = smtp.to("agnieszka@example.org")
    assert "“Stop scanning our messages”" in str(message["Subject"])


def test_a_broken_message_does_not_hold_up_the_queue(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """A row no mail header can carry fails at once, scrubbed; the messages behind it still go out."""
    initiative, _ = make_initiative()
    broken = OutboxMessage(
        kind="confirm",
        to_address="a@example.org\nBcc: b@example.org",
        subject="Hi",
        body_text="secret link",
        body_html=None,
        next_attempt_at=utcnow() - timedelta(minutes=5),
    )
    db.session.add(broken)
    db.session.commit()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    assert _deliver() == (1, 0, 1)
    first, second = _messages(db)
    assert (first.status, first.attempts, first.to_address, first.body_text) == ("failed", 1, None, None)
    assert first.last_error
    assert second.status == "sent"
    assert smtp.recipients == [["agnieszka@example.org"]]
    assert _deliver() == (0, 0, 0)


def test_a_5xx_refusal_bounces_the_message_at_once(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """A 5xx is the receiving server's final word (RFC 5321, 4.2.1): a bounce, not retried, counted apart."""
    initiative, _ = make_initiative()
    client.post(f"/i/{initiative.slug}/sign", data=part_b())
    smtp.reply = "554 5.7.1 Message refused"
    report = deliver_due(echo=lambda _line: None)
    assert (report.sent, report.retrying, report.failed, report.bounced) == (0, 0, 0, 1)
    [message] = _messages(db)
    assert (message.status, message.attempts, message.bounce_code) == ("bounced", 1, "554 5.7.1")
    assert (message.to_address, message.body_text, message.body_html) == (None, None, None)
    assert "554" in (message.last_error or "")
    smtp.reply = "250 OK"
    _make_due(db)
    assert _deliver() == (0, 0, 0)  # never retried


def test_a_refused_recipient_bounces_and_a_deferred_one_is_retried(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """At RCPT TO: 5xx is a bounce; 4xx (greylisting) a deferral, and the rest of the batch still goes."""
    initiative, _ = make_initiative()
    smtp.refuse = {
        "agnieszka@example.org": "550 5.1.1 No such user",
        "zoe@example.org": "450 4.2.0 Greylisted",
    }
    client.post(f"/i/{initiative.slug}/sign", data=part_b())
    client.post(f"/i/{initiative.slug}/sign", data=part_a())
    client.post(f"/i/{initiative.slug}/sign", data=part_a(first_names="Ulla", email="ulla@example.org"))
    report = deliver_due(echo=lambda _line: None)
    assert (report.sent, report.retrying, report.failed, report.bounced) == (1, 1, 0, 1)
    refused, deferred, delivered = _messages(db)
    assert (refused.status, refused.bounce_code, refused.to_address) == ("bounced", "550 5.1.1", None)
    assert (deferred.status, deferred.attempts, deferred.to_address) == ("queued", 1, "zoe@example.org")
    assert delivered.status == "sent"
    smtp.refuse = {}
    _make_due(db)
    assert _deliver() == (1, 0, 0)
    assert smtp.recipients == [["ulla@example.org"], ["zoe@example.org"]]


def test_a_4xx_deferral_is_retried(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client.post(f"/i/{initiative.slug}/sign", data=part_b())
    smtp.reply = "451 4.3.0 Try again later"
    assert _deliver() == (0, 1, 0)
    [message] = _messages(db)
    assert (message.status, message.attempts) == ("queued", 1) and message.to_address is not None
    smtp.reply = "250 OK"
    _make_due(db)
    assert _deliver() == (1, 0, 0)
    assert len(smtp.to("agnieszka@example.org")) == 1


def test_the_worker_loop_outlives_an_unexpected_error(mail_app, monkeypatch):  # type: ignore[no-untyped-def]
    from app.mail import delivery

    rounds: list[str] = []

    def flaky(echo):  # type: ignore[no-untyped-def]
        rounds.append("round")
        if len(rounds) == 1:
            raise RuntimeError("something nobody expected")
        return delivery.DeliveryReport()

    monkeypatch.setattr(delivery, "deliver_due", flaky)
    lines: list[str] = []
    delivery.run_forever(0, echo=lines.append, should_stop=lambda: len(rounds) >= 3)
    assert len(rounds) == 3
    assert lines == ["mail: delivery round failed (RuntimeError); retrying"]


def test_production_refuses_to_write_mail_to_files(app, client, db, tmp_path):  # type: ignore[no-untyped-def]
    """Without SMTP_URL a production worker stops with the reason instead of writing addresses to disk."""
    initiative, _ = make_initiative()
    client.post(f"/i/{initiative.slug}/sign", data=part_b())
    app.config.update(ENV_NAME="production", SMTP_URL="", MAIL_DIR=str(tmp_path / "mail"))
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code != 0
    assert "SMTP_URL is not set" in result.output
    assert not (tmp_path / "mail").exists()
    assert [m.status for m in _messages(db)] == ["queued"]  # nothing lost: it goes out once SMTP is configured
