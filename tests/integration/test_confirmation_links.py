"""Confirmation links: expiry and renewal, forgery, another initiative, replays, GET prefetches, late confirmation."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.mail.delivery import deliver_due
from app.models import InitiativeCountry, OutboxMessage, Statement, utctoday
from app.statements import purge
from app.statements.policy import CONFIRM_SALT

from ..support.factories import confirm_link, make_initiative, part_a, part_b, path_of, reconfigure, text_of

WEEK = 7 * 86400


def _deliver() -> int:
    return deliver_due(echo=lambda _line: None).sent


def _confirmed(db, initiative_id: int) -> int:  # type: ignore[no-untyped-def]
    query = sa.select(sa.func.sum(InitiativeCountry.confirmed_count))
    return int(db.session.scalar(query.where(InitiativeCountry.initiative_id == initiative_id)))


def _statement(db) -> Statement:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    statement = db.session.scalar(sa.select(Statement))
    assert statement is not None
    return statement


def _token(app, payload: dict[str, object], age: int = 0, secret: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """A token as the app makes them, signed `age` seconds ago (or with another secret)."""

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    serializer = URLSafeTimedSerializer(secret or app.config["SECRET_KEY"], salt=CONFIRM_SALT, signer=Signer)
    return serializer.dumps(payload)


def _signed_up(client, smtp, db, initiative, data=None) -> tuple[Statement, str]:  # type: ignore[no-untyped-def]
    data = data or part_b()
    assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    _deliver()
    link = confirm_link(smtp.to(data["email"])[-1])
    return _statement(db), link


def test_expired_link_offers_a_new_one_and_it_works(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement, _link = _signed_up(client, smtp, db, initiative)
    old = _token(mail_app, {"s": statement.id.hex, "i": initiative.id}, age=WEEK + 60)
    expired_path = f"/i/{initiative.slug}/confirm/{old}"

    page = client.get(expired_path)
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "Send me a new link" in html
    assert f'action="{expired_path}/renew"' in html
    assert client.post(expired_path).status_code == 410  # nor does the POST confirm with it
    assert _statement(db).status == "pending"

    smtp.clear()
    response = client.post(f"{expired_path}/renew", data={"email": "agnieszka@example.org"})
    assert response.status_code == 303
    assert response.headers["Location"].split("?")[0].endswith(f"/i/{initiative.slug}/thanks")
    assert _deliver() == 1
    [message] = smtp.to("agnieszka@example.org")
    fresh = confirm_link(message)
    assert client.get(path_of(fresh)).status_code == 200
    assert client.post(path_of(fresh)).status_code == 200
    assert _statement(db).status == "confirmed"
    assert _confirmed(db, initiative.id) == 1


def test_expired_link_with_a_small_max_age(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement, _link = _signed_up(client, smtp, db, initiative)
    reconfigure(mail_app, CONFIRM_MAX_AGE=5)
    stale = _token(mail_app, {"s": statement.id.hex, "i": initiative.id}, age=6)
    assert client.get(f"/i/{initiative.slug}/confirm/{stale}").status_code == 410
    fresh = _token(mail_app, {"s": statement.id.hex, "i": initiative.id}, age=0)
    assert client.post(f"/i/{initiative.slug}/confirm/{fresh}").status_code == 200
    assert _confirmed(db, initiative.id) == 1


def test_renew_with_a_wrong_address_sends_nothing_and_looks_the_same(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement, _link = _signed_up(client, smtp, db, initiative)
    old = _token(mail_app, {"s": statement.id.hex, "i": initiative.id}, age=WEEK + 60)
    renew = f"/i/{initiative.slug}/confirm/{old}/renew"
    queued = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))

    wrong = client.post(renew, data={"email": "someone.else@example.org"})
    right = client.post(renew, data={"email": "AGNIESZKA@example.org"})  # case does not matter
    assert wrong.status_code == right.status_code == 303

    # the page may echo the address typed (masked, and in the language switch's links the token that carries it):
    # beyond that, nothing tells the two apart
    def page(location: str, typed: str) -> str:
        text = client.get(location).text.replace(f"{typed}…@", "X…@")
        return re.sub(r"to=[\w.-]+", "to=X", text)

    assert page(wrong.headers["Location"], "so") == page(right.headers["Location"], "ag")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == queued + 1
    smtp.clear()
    assert _deliver() == 1
    assert smtp.to("someone.else@example.org") == []
    assert len(smtp.to("AGNIESZKA@example.org")) == 1

    empty = client.post(renew, data={})
    assert empty.status_code == 303
    assert _deliver() == 0


def test_renew_after_confirmation_sends_no_link(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement, link = _signed_up(client, smtp, db, initiative)
    assert client.post(path_of(link)).status_code == 200
    old = _token(mail_app, {"s": statement.id.hex, "i": initiative.id}, age=WEEK + 60)
    # a confirmed statement's old link just says so
    page = client.get(f"/i/{initiative.slug}/confirm/{old}")
    assert page.status_code == 200
    assert "your support is confirmed" in page.get_data(as_text=True)
    assert (
        client.post(f"/i/{initiative.slug}/confirm/{old}/renew", data={"email": "agnieszka@example.org"}).status_code
        == 303
    )
    smtp.clear()
    assert _deliver() == 1  # what signing again would send: word that the support is on record, and no link
    [message] = smtp.to("agnieszka@example.org")
    assert "already recorded" in text_of(message)
    assert "/confirm/" not in text_of(message)


def test_renew_respects_the_five_email_limit(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement, _link = _signed_up(client, smtp, db, initiative)
    old = _token(mail_app, {"s": statement.id.hex, "i": initiative.id}, age=WEEK + 60)
    renew = f"/i/{initiative.slug}/confirm/{old}/renew"
    for _ in range(6):
        assert client.post(renew, data={"email": "agnieszka@example.org"}).status_code == 303
    assert _deliver() == 4  # one went out at signing
    assert _statement(db).emails_sent == 5


def test_expired_link_of_a_deleted_statement_says_sign_again(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement, _link = _signed_up(client, smtp, db, initiative)
    old = _token(mail_app, {"s": statement.id.hex, "i": initiative.id}, age=WEEK + 60)
    purge.delete_waiting(initiative, [Statement.id == statement.id])  # as retention deletes it
    db.session.commit()
    page = client.get(f"/i/{initiative.slug}/confirm/{old}")
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "Sign again" in html
    assert "/renew" not in html


def test_forged_and_altered_links_are_refused(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement, link = _signed_up(client, smtp, db, initiative)
    token = path_of(link).rsplit("/", 1)[1]
    payload, rest = token.split(".", 1)
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    other_secret = _token(mail_app, {"s": statement.id.hex, "i": initiative.id}, secret="not-the-key")
    for bad in (f"{flipped}.{rest}", token[:-2], "nonsense", other_secret, token + "x"):
        for method in (client.get, client.post):
            response = method(f"/i/{initiative.slug}/confirm/{bad}")
            assert response.status_code == 400, (bad, response.status_code)
            assert "not valid" in response.get_data(as_text=True)
        assert (
            client.post(
                f"/i/{initiative.slug}/confirm/{bad}/renew", data={"email": "agnieszka@example.org"}
            ).status_code
            == 400
        )
    assert _statement(db).status == "pending"
    assert _deliver() == 0


def test_a_genuine_link_under_another_initiative_is_refused(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    other, _ = make_initiative("other-cause")
    statement, link = _signed_up(client, smtp, db, initiative)
    token = path_of(link).rsplit("/", 1)[1]
    for method in (client.get, client.post):
        assert method(f"/i/{other.slug}/confirm/{token}").status_code in (400, 404)
    # a token naming the other initiative but this statement is just as useless
    crossed = _token(mail_app, {"s": statement.id.hex, "i": other.id})
    assert client.post(f"/i/{other.slug}/confirm/{crossed}").status_code in (400, 404)
    assert client.post(f"/i/nowhere/confirm/{token}").status_code == 404
    assert _statement(db).status == "pending"
    assert _confirmed(db, other.id) == 0
    assert _confirmed(db, initiative.id) == 0


def test_get_does_not_confirm_and_replays_count_once(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _statement_row, link = _signed_up(client, smtp, db, initiative, part_a())
    for _ in range(3):
        page = client.get(path_of(link))
        assert page.status_code == 200
        assert "Germany" in page.get_data(as_text=True)
        assert page.headers["Referrer-Policy"] == "no-referrer"
    assert _statement(db).status == "pending"
    assert _confirmed(db, initiative.id) == 0

    first = client.post(path_of(link))
    again = client.post(path_of(link))
    assert first.status_code == again.status_code == 200
    assert _confirmed(db, initiative.id) == 1
    statement = _statement(db)
    assert statement.status == "confirmed"
    assert statement.confirmed_at is not None
    assert "your support is confirmed" in client.get(path_of(link)).get_data(as_text=True)


def test_confirming_after_the_collection_ended_is_gone(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _statement_row, link = _signed_up(client, smtp, db, initiative)
    initiative.collection_start = utctoday() - timedelta(days=100)
    initiative.collection_end = utctoday() - timedelta(days=1)
    db.session.commit()
    response = client.post(path_of(link))
    assert response.status_code == 410
    assert "over" in response.get_data(as_text=True)
    assert _statement(db).status == "pending"
    assert _confirmed(db, initiative.id) == 0


def test_link_of_a_deleted_statement_is_not_found(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    statement, link = _signed_up(client, smtp, db, initiative)
    purge.delete_waiting(initiative, [Statement.id == statement.id])  # as retention deletes it
    db.session.commit()
    for method in (client.get, client.post):
        response = method(path_of(link))
        assert response.status_code == 404
        assert "sign again" in response.get_data(as_text=True)
    assert _confirmed(db, initiative.id) == 0


def test_link_of_a_draft_initiative_is_not_found(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _statement_row, link = _signed_up(client, smtp, db, initiative)
    initiative.status = "draft"
    db.session.commit()
    assert client.get(path_of(link)).status_code == 404
    assert client.post(path_of(link)).status_code == 404
