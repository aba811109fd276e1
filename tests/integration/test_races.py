"""Races decided by the database's constraints: concurrent requests, each in its own thread and app context."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from app.mail.delivery import deliver_due
from app.models import InitiativeCountry, OutboxMessage, Statement

from ..support.factories import confirm_link, make_initiative, part_a, part_b, path_of

ROUNDS = 3


def _together(calls: list[Callable[[], TestResponse]]) -> list[int]:
    """Run the calls at the same moment, one thread each; return their statuses (a crash is a 599)."""
    barrier = threading.Barrier(len(calls))
    statuses = [599] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        statuses[index] = calls[index]().status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return statuses


def _post(app: Flask, url: str, data: dict[str, str] | None = None) -> Callable[[], TestResponse]:
    """A POST made by its own client; in a fresh thread it gets its own app context, session and connection."""

    def call() -> TestResponse:
        return app.test_client().post(url, data=data or {})

    return call


def _count(db, model, **where: object) -> int:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    query = sa.select(sa.func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return int(db.session.scalar(query))


def _confirmed(db, initiative_id: int) -> int:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    query = sa.select(sa.func.sum(InitiativeCountry.confirmed_count))
    return int(db.session.scalar(query.where(InitiativeCountry.initiative_id == initiative_id)))


@pytest.mark.parametrize("servers", ["one app", "two apps"])
def test_same_identity_at_once_gives_one_statement(app, app_factory, db, servers):  # type: ignore[no-untyped-def]
    other = app_factory() if servers == "two apps" else app
    for round_ in range(ROUNDS):
        initiative, _ = make_initiative(f"race-{round_}")
        url = f"/i/{initiative.slug}/sign"
        statuses = _together(
            [
                _post(app, url, part_b()),
                _post(other, url, part_b()),
                _post(app, url, part_b(id_number="440 514 013 59")),
                _post(other, url, part_b()),
            ]
        )
        assert statuses == [303] * 4
        assert _count(db, Statement, initiative_id=initiative.id) == 1
        [statement] = db.session.scalars(sa.select(Statement).where(Statement.initiative_id == initiative.id))
        # every request got its answer by email, and the counter of emails agrees with the outbox
        assert statement.emails_sent == 4
        assert _count(db, OutboxMessage, initiative_id=initiative.id, kind="confirm") == 4


def test_one_person_from_three_addresses_at_once_counts_once(mail_app, smtp, db):  # type: ignore[no-untyped-def]
    """Three addresses of one person (spelled three ways) sign at once, then all three links are pressed at once:
    three statements wait, one counts, the other two lapse (CONTRACT.md: the first confirmation wins)."""
    for round_ in range(ROUNDS):
        initiative, _ = make_initiative(f"three-{round_}")
        url = f"/i/{initiative.slug}/sign"
        variants = [
            part_a(),
            part_a(first_names="ZOE ANNA", email="z2@example.org"),
            part_a(family_names="Muller Ludenscheidt", email="z3@example.org"),
        ]
        assert _together([_post(mail_app, url, v) for v in variants]) == [303] * 3
        assert _count(db, Statement, initiative_id=initiative.id) == 3
        deliver_due(echo=lambda _line: None)
        links = [path_of(confirm_link(smtp.to(v["email"])[-1])) for v in variants]
        assert _together([_post(mail_app, link) for link in links]) == [200] * 3
        assert _confirmed(db, initiative.id) == 1
        statuses = db.session.scalars(sa.select(Statement.status).where(Statement.initiative_id == initiative.id))
        assert sorted(statuses) == ["confirmed", "lapsed", "lapsed"]


def test_confirming_twice_at_once_counts_once(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for round_, data in enumerate([part_b(), part_a(), part_b(country="SE", id_number="880320-0016")]):
        assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
        deliver_due(echo=lambda _line: None)
        link = path_of(confirm_link(smtp.to(data["email"])[-1]))
        statuses = _together([_post(mail_app, link) for _ in range(4)])
        assert statuses == [200] * 4
        assert _confirmed(db, initiative.id) == round_ + 1
    assert _count(db, Statement, status="confirmed") == 3


def test_third_household_member_race(app, db):  # type: ignore[no-untyped-def]
    for round_ in range(ROUNDS):
        initiative, _ = make_initiative(f"home-{round_}")
        url = f"/i/{initiative.slug}/sign"
        shared = "home@example.org"
        people = [part_a(first_names=name, email=shared) for name in ("Anna", "Berta", "Clara", "Dora")]
        assert _together([_post(app, url, p) for p in people]) == [303] * 4
        assert _count(db, Statement, initiative_id=initiative.id) == 2
        assert _count(db, OutboxMessage, initiative_id=initiative.id, kind="confirm") == 2
        assert _count(db, OutboxMessage, initiative_id=initiative.id, kind="household_full") == 2
        slots = set(db.session.scalars(sa.select(Statement.email_slot).where(Statement.initiative_id == initiative.id)))
        assert slots == {1, 2}


def test_one_in_the_house_two_more_at_once(app, client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    url = f"/i/{initiative.slug}/sign"
    assert client.post(url, data=part_a(first_names="Anna", email="home@example.org")).status_code == 303
    racers = [part_a(first_names=name, email="HOME@example.org") for name in ("Berta", "Clara")]
    assert _together([_post(app, url, p) for p in racers]) == [303, 303]
    assert _count(db, Statement) == 2
    assert _count(db, OutboxMessage, kind="household_full") == 1
