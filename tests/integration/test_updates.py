"""Updates to supporters (issue 9, point 3): written per language, previewed, tested on oneself, sent over real SMTP
to confirmed subscribers only, at the configured pace (a fake clock: the worker's rounds are called with `now`),
paused and resumed, each message with a one-click unsubscribe that works as a mail client uses it, bounces counted,
every staff action audited."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.links import links
from app.mail.delivery import deliver_due
from app.models import (
    AuditEntry,
    Initiative,
    OutboxMessage,
    Statement,
    Subscriber,
    SupporterUpdate,
    UpdateStatus,
    utcnow,
)
from app.updates.sending import send_due

from ..support.factories import (
    confirm,
    html_of,
    make_initiative,
    make_staff,
    part_a,
    path_of,
    reconfigure,
    sign_in_as,
    submit,
    sync_counters,
    text_of,
)

T = datetime(2026, 1, 5, 9, 0, 0)  # the fake clock's start: long past, so every slot it hands out is due at once


def _supporter(initiative, n: int, *, consent: bool = True, confirmed: bool = True, locale: str = "en") -> str:  # type: ignore[no-untyped-def]
    """A signer (Part A, Germany) with their own address; returns the address."""
    email = f"supporter{n}@example.org"
    data = part_a(first_names=f"Person{n}", email=email)
    if consent:
        data["updates_consent"] = "y"
    outcome = submit(initiative, data, locale=locale)
    if confirmed:
        confirm(initiative, db.session.get(Statement, outcome.statement_id))
    return email


def _round(app, db, now: datetime, per_minute: int | None = None):  # type: ignore[no-untyped-def]
    """One round of the mail worker's update step at `now`, committed as the worker commits it."""
    report = send_due(
        now=now,
        per_minute=per_minute or app.config["UPDATES_PER_MINUTE"],
        links=links(),
        secret_key=app.config["SECRET_KEY"],
    )
    db.session.commit()
    return report


def _deliver(db) -> None:  # type: ignore[no-untyped-def]
    deliver_due(echo=lambda _line: None)
    db.session.expire_all()


def _run_to_the_end(app, db, start: datetime = T, step: timedelta = timedelta(minutes=1)) -> datetime:  # type: ignore[no-untyped-def]
    now = start
    for _ in range(100):
        _round(app, db, now)
        _deliver(db)
        if (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(SupporterUpdate)
                .where(SupporterUpdate.status.in_((UpdateStatus.SENDING, UpdateStatus.PAUSED)))
            )
            == 0
        ):
            return now
        now += step
    raise AssertionError("the update never finished")


def _organizer(db, client, initiative):  # type: ignore[no-untyped-def]
    user = make_staff(db, "organizer@example.org", "organizer", [initiative])
    sign_in_as(client, user)
    return user


def _new_update(
    client,
    initiative,
    subject: str = "We reached Germany's threshold",
    body: str = "Thank you **all**!",
    locale: str = "en",
) -> int:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/admin/initiatives/{initiative.slug}/updates", data={"locale": locale, "subject": subject, "body": body}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def _send(client, initiative, update_id: int):  # type: ignore[no-untyped-def]
    return client.post(f"/admin/initiatives/{initiative.slug}/updates/{update_id}/send", data={"confirm": "y"})


def _actions(db) -> list[str]:  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def _updates_to(smtp, address: str) -> list[EmailMessage]:
    return [m for m in smtp.to(address) if "List-Unsubscribe" in m]


def _update_recipients(smtp) -> list[str]:  # type: ignore[no-untyped-def]
    """Who received an update (or a test of one), one entry per message, sorted; confirmation emails left aside."""
    return sorted(str(m["To"]) for m in smtp.messages if "List-Unsubscribe" in m)


def _unsubscribe_link(message: EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    match = re.fullmatch(r"<(https?://[^>]+)>", header)
    assert match, header
    return match.group(1)


# --- who gets it ------------------------------------------------------------------------------------------------


def test_an_update_reaches_confirmed_subscribers_only_in_their_language(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    other, _ = make_initiative("other-initiative")
    german = _supporter(initiative, 1, locale="de")
    polish = _supporter(initiative, 2, locale="pl")  # no Polish text: the default one
    english = _supporter(initiative, 3)
    pending = _supporter(initiative, 4, confirmed=False)
    no_consent = _supporter(initiative, 5, consent=False)
    leaving = _supporter(initiative, 6)
    elsewhere = _supporter(other, 7)
    db.session.commit()
    _deliver(db)  # the confirmation emails
    [confirmation] = smtp.to(leaving)
    [way_out] = [word for word in text_of(confirmation).split() if "/unsubscribe/" in word]
    assert client.post(path_of(way_out)).status_code == 200
    smtp.clear()

    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    german_text = {"locale": "de", "subject": "Wir haben es geschafft", "body": "Danke an *alle*!"}
    assert client.post(f"/admin/initiatives/{initiative.slug}/updates/{update_id}", data=german_text).status_code == 302
    assert _send(client, initiative, update_id).status_code == 302
    _run_to_the_end(mail_app, db)

    assert _update_recipients(smtp) == sorted([german, polish, english])
    for address in (pending, no_consent, leaving, elsewhere):
        assert smtp.to(address) == []
    [to_german] = smtp.to(german)
    assert str(to_german["Subject"]) == "Wir haben es geschafft"
    assert "Danke an *alle*!" in text_of(to_german)
    assert "Danke an <em>alle</em>!" in html_of(to_german)
    for address in (polish, english):
        [message] = smtp.to(address)
        assert str(message["Subject"]) == "We reached Germany's threshold"
        assert "Thank you <strong>all</strong>!" in html_of(message)

    page = f"{mail_app.config['BASE_URL']}/i/{initiative.slug}"
    for address in (german, polish, english):
        [message] = smtp.to(address)
        link = _unsubscribe_link(message)
        assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        assert link.startswith(f"{mail_app.config['BASE_URL']}/i/{initiative.slug}/unsubscribe/")
        for body in (text_of(message), html_of(message)):
            assert page in body  # the initiative's page
            assert link in body  # the way out, also in the body
    links_sent = {_unsubscribe_link(m) for m in smtp.messages}
    assert len(links_sent) == 3  # one of their own each

    update = db.session.get(SupporterUpdate, update_id)
    assert (update.status, update.sent, update.failed, update.bounced) == ("sent", 3, 0, 0)
    assert update.finished_at is not None
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.update_id == update_id)
        )
        == 0
    )  # delivered messages are counted into the update and gone from the outbox
    page_html = client.get(f"/admin/initiatives/{initiative.slug}/updates/{update_id}").get_data(as_text=True)
    assert 'id="progress-sent" data-value="3"' in page_html
    assert 'id="progress-remaining" data-value="0"' in page_html
    listing = client.get(f"/admin/initiatives/{initiative.slug}/updates").get_data(as_text=True)
    assert re.search(rf'<tr data-update="{update_id}">.*?<td>sent</td>.*?<td class="num">3</td>', listing, re.S)


def test_a_subscriber_who_confirms_after_the_start_gets_it_if_their_turn_has_not_come(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """The recipients are the subscribers up to the newest one when sending started, if confirmed at their turn;
    an address that asks for updates later gets the next one."""
    initiative, _ = make_initiative()
    first = _supporter(initiative, 1)
    late_confirmer = _supporter(initiative, 2, confirmed=False)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    assert _send(client, initiative, update_id).status_code == 302
    statement = db.session.scalar(sa.select(Statement).where(Statement.status == "pending"))
    confirm(initiative, statement)
    newcomer = _supporter(initiative, 3)
    db.session.commit()
    smtp.clear()
    _run_to_the_end(mail_app, db)
    assert _update_recipients(smtp) == sorted([first, late_confirmer])
    assert _updates_to(smtp, newcomer) == []


def test_nothing_to_send_without_confirmed_subscribers(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _supporter(initiative, 1, confirmed=False)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    response = _send(client, initiative, update_id)
    assert response.status_code == 409
    assert "Nobody receives updates yet" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(SupporterUpdate, update_id).status == "draft"
    assert "update.send" not in _actions(db)


# --- one-click unsubscribe ----------------------------------------------------------------------------------------


def test_one_click_unsubscribe_as_a_mail_client_does_it(app_factory, app, smtp, db):  # type: ignore[no-untyped-def]
    """RFC 8058: a POST of `List-Unsubscribe=One-Click` to the header's URL, with CSRF protection on and no token,
    no cookie and no page; GET only shows the button. Then no further update reaches that address, not even a
    message of this update already waiting in the outbox."""
    web = app_factory(SMTP_URL=smtp.url, WTF_CSRF_ENABLED=True)
    initiative, _ = make_initiative()
    leaving = _supporter(initiative, 1)
    staying = _supporter(initiative, 2)
    db.session.commit()
    staff = web.test_client()
    _organizer(db, staff, initiative)
    reconfigure(app, SMTP_URL=smtp.url)
    token_page = staff.get("/admin/initiatives/stop-scanning/updates").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', token_page).group(1)  # type: ignore[union-attr]

    def post(path: str, **data: str):  # type: ignore[no-untyped-def]
        return staff.post(path, data={"csrf_token": csrf, **data})

    response = post(f"/admin/initiatives/{initiative.slug}/updates", locale="en", subject="First news", body="Hello")
    update_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    assert post(f"/admin/initiatives/{initiative.slug}/updates/{update_id}/send", confirm="y").status_code == 302
    smtp.clear()
    _run_to_the_end(app, db)
    [message] = _updates_to(smtp, leaving)
    url = _unsubscribe_link(message)

    mail_client = web.test_client()  # no session, no cookie
    assert mail_client.post(f"/i/{initiative.slug}/sign", data=part_a()).status_code == 400  # CSRF is on here
    page = mail_client.get(path_of(url))
    assert page.status_code == 200 and "csrf_token" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(Subscriber.active).where(Subscriber.email == leaving)) is True

    # the second update: the first message waits in the outbox for its time when the address leaves
    response = post(f"/admin/initiatives/{initiative.slug}/updates", locale="en", subject="More news", body="Hi")
    second_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    assert post(f"/admin/initiatives/{initiative.slug}/updates/{second_id}/send", confirm="y").status_code == 302
    _round(app, db, T + timedelta(hours=1))
    waiting = db.session.scalars(sa.select(OutboxMessage.to_address).where(OutboxMessage.update_id == second_id))
    assert sorted(waiting) == sorted([leaving, staying])

    one_click = mail_client.post(
        path_of(url),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert one_click.status_code == 200
    db.session.expire_all()
    [gone] = db.session.scalars(sa.select(Subscriber).where(Subscriber.unsubscribed_at.is_not(None))).all()
    assert (gone.email, gone.active) == ("", False)  # scrubbed at once
    assert mail_client.post(path_of(url), data={"List-Unsubscribe": "One-Click"}).status_code == 200  # twice: harmless
    smtp.clear()
    _run_to_the_end(app, db, start=T + timedelta(hours=1))
    assert _updates_to(smtp, leaving) == []
    assert len(_updates_to(smtp, staying)) == 1
    assert db.session.get(SupporterUpdate, second_id).sent == 1

    response = post(f"/admin/initiatives/{initiative.slug}/updates", locale="en", subject="Third", body="Hey")
    third_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    assert post(f"/admin/initiatives/{initiative.slug}/updates/{third_id}/send", confirm="y").status_code == 302
    smtp.clear()
    _run_to_the_end(app, db, start=T + timedelta(hours=2))
    assert _update_recipients(smtp) == [staying]


def test_a_forged_one_click_changes_nothing(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _supporter(initiative, 1)
    db.session.commit()
    [subscriber] = db.session.scalars(sa.select(Subscriber)).all()
    from app.signing.subscriptions import unsubscribe_url

    real = path_of(unsubscribe_url(links(), "another key", initiative, subscriber))
    response = client.post(real, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Subscriber, subscriber.id).active


# --- the pace -----------------------------------------------------------------------------------------------------


def test_the_worker_writes_messages_at_the_configured_pace(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """UPDATES_PER_MINUTE = 2: the messages get delivery times 30 s apart, each written less than a minute before
    its time, never more than two waiting in the outbox; delivery sends each only once its time has come."""
    reconfigure(mail_app, UPDATES_PER_MINUTE=2)
    initiative, _ = make_initiative()
    addresses = [_supporter(initiative, n) for n in range(7)]
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    assert _send(client, initiative, update_id).status_code == 302
    smtp.clear()

    written: dict[str, tuple[datetime, datetime]] = {}  # address -> (clock when written, delivery time)
    now = T
    while len(written) < len(addresses):
        _round(mail_app, db, now)
        rows = db.session.execute(
            sa.select(OutboxMessage.to_address, OutboxMessage.next_attempt_at).where(
                OutboxMessage.update_id == update_id, OutboxMessage.status == "queued"
            )
        ).all()
        assert len(rows) <= 2  # a minute's worth, at most
        for address, due in rows:
            written.setdefault(address, (now, due))
        if now.second == 0 and now.minute % 2 == 0:
            _deliver(db)  # the delivery worker every other minute: in between, the outbox fills to its bound
        now += timedelta(seconds=5)
    times = sorted(due for _clock, due in written.values())
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert times[0] == T
    assert min(gaps) == timedelta(seconds=30)  # never faster; slower only while the outbox was full
    assert gaps[:3] == [timedelta(seconds=30)] * 3  # while delivery keeps up, exactly the pace
    for clock, due in written.values():
        assert clock <= due < clock + timedelta(minutes=1)
    _run_to_the_end(mail_app, db, start=now)
    assert _update_recipients(smtp) == sorted(addresses)  # each once


def test_delivery_waits_for_each_message_s_time(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """With the real clock: of two messages written in one round at 2 a minute, one goes now, one in 30 s."""
    reconfigure(mail_app, UPDATES_PER_MINUTE=2)
    initiative, _ = make_initiative()
    for n in range(3):
        _supporter(initiative, n)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    assert _send(client, initiative, update_id).status_code == 302
    smtp.clear()
    now = utcnow()
    assert _round(mail_app, db, now).written == 2
    _deliver(db)
    assert len(_update_recipients(smtp)) == 1
    [waiting] = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.update_id == update_id, OutboxMessage.status == "queued")
    ).all()
    assert (waiting.status, waiting.next_attempt_at) == ("queued", now + timedelta(seconds=30))


def test_the_mail_command_runs_the_update_step(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    address = _supporter(initiative, 1)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    assert _send(client, initiative, update_id).status_code == 302
    _deliver(db)  # the confirmation email
    smtp.clear()
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    assert len(_updates_to(smtp, address)) == 1


def test_a_broken_update_never_holds_up_confirmation_emails(mail_app, client, smtp, db, monkeypatch):  # type: ignore[no-untyped-def]
    from app.updates import sending

    def broken(**_values: object) -> None:
        raise RuntimeError("a template that no longer renders")

    monkeypatch.setattr(sending, "send_due", broken)
    initiative, _ = make_initiative()
    address = _supporter(initiative, 1, confirmed=False)
    db.session.commit()
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "writing updates failed (RuntimeError); delivering the rest" in result.output
    assert "sent 1" in result.output
    assert len(smtp.to(address)) == 1


# --- pause and resume ---------------------------------------------------------------------------------------------


def test_pause_holds_everything_and_resume_carries_on(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    reconfigure(mail_app, UPDATES_PER_MINUTE=2)
    initiative, _ = make_initiative()
    addresses = [_supporter(initiative, n) for n in range(5)]
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    base = f"/admin/initiatives/{initiative.slug}/updates/{update_id}"
    assert _send(client, initiative, update_id).status_code == 302
    smtp.clear()
    _round(mail_app, db, T)  # two written, waiting for their time
    assert client.post(f"{base}/pause").status_code == 302
    held = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.update_id == update_id)).all()
    assert [(m.status, m.to_address, m.body_text, m.body_html, m.list_unsubscribe) for m in held] == [
        ("held", None, None, None, None)
    ] * 2  # nothing of the message kept while paused
    _deliver(db)
    for minute in range(1, 4):
        _round(mail_app, db, T + timedelta(minutes=minute))
        _deliver(db)
    assert _update_recipients(smtp) == []
    page = client.get(base).get_data(as_text=True)
    assert 'id="update-status" data-value="paused"' in page
    assert 'id="progress-held" data-value="2"' in page
    assert 'id="progress-remaining" data-value="3"' in page
    assert client.post(f"{base}/pause").status_code == 409  # paused already

    assert client.post(f"{base}/resume").status_code == 302
    _run_to_the_end(mail_app, db, start=T + timedelta(minutes=5))
    assert _update_recipients(smtp) == sorted(addresses)  # everyone, once
    assert client.post(f"{base}/resume").status_code == 409  # sent: nothing to resume
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("update.%"))).all()
    by_action = {entry.action: entry for entry in entries}
    assert json.loads(by_action["update.pause"].details)["held"] == 2
    assert by_action["update.pause"].actor == "organizer@example.org"
    assert by_action["update.resume"].actor == "organizer@example.org"
    assert json.loads(by_action["update.sent"].details) == {"update": update_id, "sent": 5, "failed": 0, "bounced": 0}


def test_a_pause_during_a_worker_round_undoes_that_round(app_factory, mail_app, client, smtp, db, monkeypatch):  # type: ignore[no-untyped-def]
    """The worker read "sending", then a staff member paused before the round committed: the messages that round
    wrote must not go out."""
    from app.models import Initiative
    from app.updates import sending

    initiative, _ = make_initiative()
    _supporter(initiative, 1)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    assert _send(client, initiative, update_id).status_code == 302
    web = app_factory(SMTP_URL=smtp.url)  # another app server: its own connection to the database

    def pause_meanwhile() -> bool:
        with web.app_context():
            other = db.session.get(SupporterUpdate, update_id)
            sending.pause(db.session.get(Initiative, other.initiative_id), other, actor="someone", now=utcnow())
            db.session.commit()
        return True

    monkeypatch.setattr(sending, "_take_turn", pause_meanwhile)
    with pytest.raises(RuntimeError, match="paused"):
        _round(mail_app, db, T)
    db.session.rollback()
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.update_id == update_id)
        )
        == 0
    )
    assert db.session.get(SupporterUpdate, update_id).status == "paused"


# --- test send, preview, editing ------------------------------------------------------------------------------------


def test_a_test_goes_to_the_staff_member_only(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    supporter = _supporter(initiative, 1)
    db.session.commit()
    organizer = _organizer(db, client, initiative)
    update_id = _new_update(client, initiative, subject="Big news", body="We are *many*.")
    base = f"/admin/initiatives/{initiative.slug}/updates/{update_id}"
    assert (
        client.post(
            base, data={"locale": "fr", "subject": "Grande nouvelle", "body": "Nous sommes *nombreux*."}
        ).status_code
        == 302
    )
    smtp.clear()
    assert client.post(f"{base}/test", data={"locale": "fr"}).status_code == 302
    assert client.post(f"{base}/test", data={"locale": "it"}).status_code == 302  # no Italian text: the default
    _deliver(db)
    assert _update_recipients(smtp) == [organizer.email, organizer.email]
    french, default = [m for m in smtp.messages if "List-Unsubscribe" in m]
    assert str(french["Subject"]) == "[Test] Grande nouvelle"
    assert "<em>nombreux</em>" in html_of(french)
    assert str(default["Subject"]) == "[Test] Big news"
    assert "TEST" in text_of(default)
    assert default["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert _updates_to(smtp, supporter) == []
    db.session.expire_all()
    assert db.session.get(SupporterUpdate, update_id).status == "draft"
    tests = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "update.test_send")).all()
    assert [(e.actor, json.loads(e.details)["locale"]) for e in tests] == [
        (organizer.email, "fr"),
        (organizer.email, "en"),
    ]
    # the test message's own way out ends nobody's subscription
    assert client.post(path_of(_unsubscribe_link(default)), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(sa.select(Subscriber.active)) is True


def test_preview_shows_the_message_safely_and_saves_nothing(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative, subject="Saved subject", body="Saved **body**")
    base = f"/admin/initiatives/{initiative.slug}/updates/{update_id}"
    page = client.get(base).get_data(as_text=True)
    assert '<span id="preview-subject">Saved subject</span>' in page
    assert "Saved <strong>body</strong>" in page
    assert f"/i/{initiative.slug}" in page  # the page link, as in the email

    typed = {
        "locale": "en",
        "subject": "Typed subject",
        "body": "Typed <script>alert(1)</script> and [a link](javascript:alert(1)) and [ok](https://example.org)",
    }
    response = client.post(f"{base}/preview", data=typed)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<span id="preview-subject">Typed subject</span>' in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert '<a href="https://example.org">ok</a>' in html
    assert 'value="Typed subject"' in html  # the form keeps what was typed
    db.session.expire_all()
    update = db.session.get(SupporterUpdate, update_id)
    assert update.text("en").subject == "Saved subject"
    assert "update.edit" not in _actions(db)

    bad = client.post(f"{base}/preview", data={"locale": "en", "subject": "", "body": ""})
    assert bad.status_code == 422
    assert "Write a subject." in bad.get_data(as_text=True)


def test_texts_per_language_and_frozen_once_sending(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _supporter(initiative, 1)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative, locale="de", subject="Neuigkeiten", body="Hallo")
    base = f"/admin/initiatives/{initiative.slug}/updates/{update_id}"
    assert client.post(base, data={"locale": "pl", "subject": "Wiadomości", "body": "Cześć"}).status_code == 302
    assert client.post(base, data={"locale": "xx", "subject": "?", "body": "?"}).status_code == 422
    assert client.post(base, data={"locale": "de", "remove": "1"}).status_code == 409  # the default stays
    assert client.post(base, data={"locale": "pl", "subject": "W", "body": "C", "remove": "1"}).status_code == 302
    db.session.expire_all()
    update = db.session.get(SupporterUpdate, update_id)
    assert [t.locale for t in update.texts] == ["de"]
    assert update.default_locale == "de"
    assert client.get(f"{base}?locale=pl").status_code == 200  # a language without a text: the default previewed

    assert _send(client, initiative, update_id).status_code == 302
    assert client.post(base, data={"locale": "de", "subject": "Changed", "body": "Changed"}).status_code == 409
    assert _send(client, initiative, update_id).status_code == 409  # sending already
    db.session.expire_all()
    assert db.session.get(SupporterUpdate, update_id).text("de").subject == "Neuigkeiten"
    send_entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "update.send")).all()
    assert len(send_entries) == 1
    details = json.loads(send_entries[0].details)
    assert details["recipients"] == 1 and details["locales"] == ["de"] and len(details["sha256"]) == 64


def test_sending_needs_the_confirmation_box(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _supporter(initiative, 1)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    response = client.post(f"/admin/initiatives/{initiative.slug}/updates/{update_id}/send", data={})
    assert response.status_code == 422
    assert 'id="confirm-error"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(SupporterUpdate, update_id).status == "draft"


# --- who may ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "given", "expected"),
    [
        ("organizer", True, 302),
        ("admin", False, 302),
        ("organizer", False, 403),  # another initiative's organizer
        ("auditor", True, 403),
    ],
)
def test_only_the_initiative_s_organizers_and_admins_send(client, db, role, given, expected):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _supporter(initiative, 1)
    db.session.commit()
    writer = make_staff(db, "writer@example.org", "organizer", [initiative])
    sign_in_as(client, writer)
    update_id = _new_update(client, initiative)
    user = make_staff(db, f"{role}@example.org", role, [initiative] if given else [])
    sign_in_as(client, user)
    base = f"/admin/initiatives/{initiative.slug}/updates/{update_id}"
    assert client.post(f"{base}/send", data={"confirm": "y"}).status_code == expected
    assert client.post(f"{base}/test").status_code == expected
    assert client.get(base).status_code == (200 if expected == 302 else 403)
    db.session.expire_all()
    assert db.session.get(SupporterUpdate, update_id).status == ("sending" if expected == 302 else "draft")


def test_another_initiative_s_update_is_not_found_here(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    other, _ = make_initiative("other-initiative")
    admin = make_staff(db, "admin@example.org", "admin")
    sign_in_as(client, admin)
    update_id = _new_update(client, other)
    assert client.get(f"/admin/initiatives/{initiative.slug}/updates/{update_id}").status_code == 404
    assert (
        client.post(f"/admin/initiatives/{initiative.slug}/updates/{update_id}/send", data={"confirm": "y"}).status_code
        == 404
    )


# --- bounces and failures -----------------------------------------------------------------------------------------


def test_bounces_are_counted_and_a_dead_address_gets_nothing_more(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    dead = _supporter(initiative, 1)
    spam_refused = _supporter(initiative, 2)
    greylisted = _supporter(initiative, 3)
    fine = _supporter(initiative, 4)
    db.session.commit()
    smtp.refuse = {
        dead: "550 5.1.1 <supporter1@example.org>: Recipient address rejected: User unknown",
        spam_refused: "550 5.7.1 Message refused by policy",
        greylisted: "450 4.2.0 Greylisted, please try again later",
    }
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    base = f"/admin/initiatives/{initiative.slug}/updates/{update_id}"
    assert _send(client, initiative, update_id).status_code == 302
    smtp.clear()
    _round(mail_app, db, T)
    _deliver(db)
    _round(mail_app, db, T + timedelta(minutes=1))  # counts what was delivered
    update = db.session.get(SupporterUpdate, update_id)
    assert (update.sent, update.failed, update.bounced) == (1, 0, 2)
    page = client.get(base).get_data(as_text=True)
    assert 'id="progress-bounced" data-value="2"' in page
    assert 'id="progress-retrying" data-value="1"' in page  # a 4xx is tried again later

    subscribers = {s.id: s for s in db.session.scalars(sa.select(Subscriber))}
    ended = [s for s in subscribers.values() if s.bounced_at is not None]
    assert len(ended) == 1 and ended[0].email == "" and not ended[0].active and ended[0].unsubscribed_at
    assert {s.email for s in subscribers.values() if s.active} == {spam_refused, greylisted, fine}

    dashboard = client.get(f"/admin/initiatives/{initiative.slug}/dashboard").get_data(as_text=True)
    assert 'id="subscribers-active" data-value="3"' in dashboard
    assert 'id="subscribers-bounced" data-value="1"' in dashboard

    smtp.refuse = {}
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    _run_to_the_end(mail_app, db, start=T + timedelta(minutes=2))
    assert _update_recipients(smtp) == sorted([fine, greylisted])
    update = db.session.get(SupporterUpdate, update_id)
    assert (update.status, update.sent, update.failed, update.bounced) == ("sent", 2, 0, 2)

    second = _new_update(client, initiative, subject="Again")
    assert _send(client, initiative, second).status_code == 302
    smtp.clear()
    _run_to_the_end(mail_app, db, start=T + timedelta(hours=1))
    assert _update_recipients(smtp) == sorted([spam_refused, greylisted, fine])  # not the dead one


def test_a_failure_of_our_own_server_is_counted_as_failed(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    mail_app.config["MAIL_MAX_ATTEMPTS"] = 1
    initiative, _ = make_initiative()
    address = _supporter(initiative, 1)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    assert _send(client, initiative, update_id).status_code == 302
    _deliver(db)  # the confirmation mail
    smtp.stop()
    _round(mail_app, db, T)
    _deliver(db)
    smtp.start()
    _run_to_the_end(mail_app, db, start=T + timedelta(minutes=1))
    update = db.session.get(SupporterUpdate, update_id)
    assert (update.status, update.sent, update.failed, update.bounced) == ("sent", 0, 1, 0)
    assert db.session.scalar(sa.select(Subscriber.email)) == address  # a failure says nothing about the address


# --- audit --------------------------------------------------------------------------------------------------------


def test_every_step_is_in_the_audit_log(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _supporter(initiative, 1)
    db.session.commit()
    _organizer(db, client, initiative)
    update_id = _new_update(client, initiative)
    base = f"/admin/initiatives/{initiative.slug}/updates/{update_id}"
    client.post(base, data={"locale": "de", "subject": "Neu", "body": "Hallo"})
    client.post(f"{base}/test", data={"locale": "de"})
    _send(client, initiative, update_id)
    client.post(f"{base}/pause")
    client.post(f"{base}/resume")
    _run_to_the_end(mail_app, db)
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action.like("update.%")).order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.actor) for e in entries] == [
        ("update.create", "organizer@example.org"),
        ("update.edit", "organizer@example.org"),
        ("update.test_send", "organizer@example.org"),
        ("update.send", "organizer@example.org"),
        ("update.pause", "organizer@example.org"),
        ("update.resume", "organizer@example.org"),
        ("update.sent", "mail worker"),
    ]
    assert {e.initiative_id for e in entries} == {initiative.id}
    assert {e.target for e in entries} == {f"update {update_id}"}
    result = mail_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


# --- the dashboard's subscriber counts ----------------------------------------------------------------------------

SUBSCRIBER_STATES = {"active": 5, "pending": 3, "unsubscribed": 2, "bounced": 1}
"""How many subscriber rows of each state the test writes: the expectation, written here."""


def _write_subscribers(initiative_id: int, states: dict[str, int], offset: int = 0) -> None:
    now = utcnow()
    rows = []
    for state, count in states.items():
        for n in range(count):
            left = state in ("unsubscribed", "bounced")
            rows.append(
                {
                    "initiative_id": initiative_id,
                    "email": "" if left else f"{state}{n}-{offset}@example.org",
                    "email_fingerprint": f"{state}-{n}-{offset}".ljust(64, "0"),
                    "active": state == "active",
                    "created_at": now,
                    "unsubscribed_at": now if left else None,
                    "bounced_at": now if state == "bounced" else None,
                }
            )
    db.session.execute(sa.insert(Subscriber), rows)
    db.session.commit()
    # written straight into the table, as no signer could: the tallies are set from a recount, as `counters check
    # --repair` would
    sync_counters(db.session.get(Initiative, initiative_id))


def test_the_dashboard_counts_subscribers_without_reading_statements(client, db):  # type: ignore[no-untyped-def]
    from app.dashboard import dashboard_data
    from app.models import utctoday

    initiative, _ = make_initiative()
    other, _ = make_initiative("other-initiative")
    slug, initiative_id = initiative.slug, initiative.id
    _write_subscribers(initiative_id, SUBSCRIBER_STATES)
    _write_subscribers(other.id, {"active": 7, "pending": 1}, offset=1)
    db.session.remove()
    initiative = db.session.get(type(initiative), initiative_id)
    initiative.countries  # noqa: B018 (loaded before listening: the page's own queries are what is counted)

    statements: list[str] = []

    def listen(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        data = dashboard_data(initiative, utctoday())
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    counts = data.subscribers
    assert (counts.active, counts.pending, counts.unsubscribed, counts.bounced) == tuple(SUBSCRIBER_STATES.values())
    assert not [s for s in statements if re.search(r"\bFROM statement\b|\bJOIN statement\b", s)], statements
    # nor the subscribers: the tallies kept wherever a subscription changes (mail and subscribers, one query each)
    assert not [s for s in statements if re.search(r"\bFROM subscriber\b", s)], statements
    assert len([s for s in statements if "FROM initiative_tally" in s]) == 2

    _organizer(db, client, initiative)
    html = client.get(f"/admin/initiatives/{slug}/dashboard").get_data(as_text=True)
    for state, count in SUBSCRIBER_STATES.items():
        assert f'id="subscribers-{state}" data-value="{count}"' in html
    assert f"/admin/initiatives/{slug}/updates" in html  # an organizer is shown the way to write


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_counts_and_the_recipients_are_range_scans_of_one_index(app, db):  # type: ignore[no-untyped-def]
    """SQLite's plan: the active count and each batch of recipients read only the index (the million-subscriber
    timings are in bench/subscribers.py)."""
    from app.signing.subscriptions import receiving_updates

    def plan(query: sa.Select) -> str:  # type: ignore[type-arg]
        sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        return " ".join(row[3] for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")))

    count = sa.select(sa.func.count()).select_from(Subscriber).where(receiving_updates(1))
    batch = (
        sa.select(Subscriber.id)
        .where(receiving_updates(1), Subscriber.id > 10, Subscriber.id <= 1000)
        .order_by(Subscriber.id)
        .limit(300)
    )
    assert "COVERING INDEX ix_subscriber_initiative_active" in plan(count)
    assert "COVERING INDEX ix_subscriber_initiative_active" in plan(batch)
    assert "TEMP B-TREE" not in plan(batch)  # in id order straight from the index, no sort


def test_retention_deletes_bounced_mail_and_ended_subscriptions(app, db):  # type: ignore[no-untyped-def]
    """A bounced message is kept 30 days like a sent one (no address, no body); the rows of unsubscribed and
    bounced subscribers go at the next run."""
    from app.audit.retention import purge

    initiative, _ = make_initiative()
    _write_subscribers(initiative.id, SUBSCRIBER_STATES)
    old = utcnow() - timedelta(days=31)
    db.session.add_all(
        [
            OutboxMessage(kind="confirm", initiative_id=initiative.id, subject="s", status="bounced", created_at=old),
            OutboxMessage(kind="confirm", initiative_id=initiative.id, subject="s", status="bounced"),
        ]
    )
    db.session.commit()
    sync_counters(initiative)
    report = purge(confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    db.session.commit()
    assert report.count(initiative.slug, "outbox_messages") == 1
    assert report.count(initiative.slug, "subscribers_unsubscribed") == 3  # two unsubscribed, one bounced
    assert report.count(initiative.slug, "subscribers_unconfirmed") == 3  # pending, and no statement to confirm
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == SUBSCRIBER_STATES["active"]
