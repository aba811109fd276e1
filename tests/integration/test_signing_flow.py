"""The whole flow, Part A and Part B, through a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from app.mail.delivery import deliver_due
from app.models import Statement
from app.sealing import open_sealed

from ..support.factories import confirm_link, make_initiative, part_a, part_b, path_of


def _count(client, slug):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/initiatives/{slug}").get_json()


def test_part_b_flow_counts_after_confirmation(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, private = make_initiative()
    response = client.post(f"/i/{initiative.slug}/sign", data=part_b())
    assert response.status_code == 303
    assert response.headers["Location"].split("?")[0].endswith(f"/i/{initiative.slug}/thanks")
    assert _count(client, initiative.slug)["confirmed"] == 0

    report = deliver_due(echo=lambda _line: None)
    assert report.sent == 1
    [message] = smtp.to("agnieszka@example.org")
    link = confirm_link(message)
    assert f"/i/{initiative.slug}/confirm/" in link

    assert client.get(path_of(link)).status_code == 200
    assert _count(client, initiative.slug)["confirmed"] == 0  # GET changes nothing
    assert client.post(path_of(link)).status_code == 200
    body = _count(client, initiative.slug)
    assert body["confirmed"] == 1
    assert [c for c in body["countries"] if c["confirmed"]] == [
        {"code": "PL", "name": "Poland", "confirmed": 1, "threshold": 38160, "reached": False}
    ]

    statement = db.session.scalar(sa.select(Statement))
    assert statement.status == "confirmed"
    sealed = open_sealed(private, statement.sealed_data)
    assert sealed["family_names"] == "Wiśniewska"
    assert sealed["id_number"] == "44051401359"


def test_part_a_flow(mail_app, client, smtp):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_a()).status_code == 303
    deliver_due(echo=lambda _line: None)
    [message] = smtp.to("zoe@example.org")
    assert client.post(path_of(confirm_link(message))).status_code == 200
    body = _count(client, initiative.slug)
    assert body["confirmed"] == 1
    assert body["confirmed"] == sum(c["confirmed"] for c in body["countries"])
    assert [c["code"] for c in body["countries"] if c["confirmed"]] == ["DE"]


def test_every_link_sent_moves_link_sent_at(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client.post(f"/i/{initiative.slug}/sign", data=part_b())
    statement = db.session.scalar(sa.select(Statement))
    first = statement.link_sent_at
    assert first is not None and first >= statement.created_at
    db.session.execute(sa.update(Statement).values(link_sent_at=first.replace(year=first.year - 1)))
    db.session.commit()
    client.post(f"/i/{initiative.slug}/sign", data=part_b())  # a pending duplicate: a fresh link goes out
    db.session.expire_all()
    assert db.session.scalar(sa.select(Statement.link_sent_at)) >= first
