"""The sign form's bot defence over HTTP, on SQLite and PostgreSQL (docs/decisions/010-proof-of-work.md).

CONTRACT.md, CAPTCHA_ENABLED: "while on, a client that solves none gets at most 3 statements an hour accepted from
one network address". A client that solves (tests/support/solver.py, written from ALTCHA's format) signs under the
normal SIGN_RATE_LIMIT; a missing, malformed, forged, expired or replayed answer is no answer: it signs under the
tighter limit, and the 4th such statement in an hour gets the form back with a 429.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.audit.retention import purge
from app.extensions import limiter
from app.models import SpentChallenge, Statement, utcnow
from app.signing.proof_of_work import ProofOfWork

from ..support.factories import make_initiative, part_a
from ..support.solver import challenge_in, payload, solve, solved_field

EASY = 5000  # the tests' difficulty; one test signs at the default


@pytest.fixture
def guarded(app_factory, app: Flask) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """An app with rate limits and the proof of work on, as in production."""
    made = app_factory(RATELIMIT_ENABLED=True, CAPTCHA_ENABLED=True, CAPTCHA_MAX_NUMBER=EASY)
    limiter.reset()
    yield made
    limiter.reset()


def _form(client: FlaskClient, slug: str) -> str:
    response = client.get(f"/i/{slug}/sign?country=DE")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _signer(n: int) -> dict[str, str]:
    return part_a(first_names=f"Zoë {chr(65 + n)}", email=f"signer{n}@example.org")


def _sign(client: FlaskClient, slug: str, n: int, answer: str | None = None):  # type: ignore[no-untyped-def]
    data = _signer(n)
    if answer is not None:
        data["altcha"] = answer
    return client.post(f"/i/{slug}/sign", data=data)


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    db.session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)))


def test_the_form_carries_a_challenge_only_when_on(app_factory, app) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    on = app_factory(CAPTCHA_ENABLED=True, CAPTCHA_MAX_NUMBER=1234).test_client()
    page = _form(on, initiative.slug)
    assert challenge_in(page)["maxnumber"] == 1234
    assert '<input type="hidden" name="altcha"' in page
    assert 'src="/static/proof-of-work.js"' in page
    assert challenge_in(_form(on, initiative.slug)) != challenge_in(page)  # one challenge per form
    off = _form(app.test_client(), initiative.slug)  # tests run with CAPTCHA_ENABLED=0
    assert "data-challenge" not in off and "proof-of-work.js" not in off


def test_a_client_that_solves_signs_under_the_normal_limit(app_factory, app, db) -> None:  # type: ignore[no-untyped-def]
    default = app_factory(RATELIMIT_ENABLED=True, CAPTCHA_ENABLED=True)  # CAPTCHA_MAX_NUMBER as configured
    limiter.reset()
    try:
        initiative, _ = make_initiative()
        client = default.test_client()
        for n in range(6):  # twice the tighter limit
            assert challenge_in(_form(client, initiative.slug))["maxnumber"] == 100_000
            assert _sign(client, initiative.slug, n, solved_field(_form(client, initiative.slug))).status_code == 303
    finally:
        limiter.reset()
    assert _count(db, Statement) == 6
    assert _count(db, SpentChallenge) == 6


def _refused_page(response) -> str:  # type: ignore[no-untyped-def]
    """A 429 with the form as typed, the reason, and how long to wait."""
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 3600
    page = response.get_data(as_text=True)
    assert "Turn on JavaScript and press Sign again" in page
    minutes = re.search(r"try again in (\d+) minutes?\.", page)
    assert minutes and int(minutes.group(1)) == -(-wait // 60)
    assert 'href="#proof_of_work"' in page  # the error summary leads to the message beside the button
    return page


def test_without_an_answer_three_an_hour_then_the_form_comes_back(guarded, db) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client = guarded.test_client()
    assert [_sign(client, initiative.slug, n).status_code for n in range(3)] == [303, 303, 303]

    fourth = _sign(client, initiative.slug, 3)
    page = _refused_page(fourth)
    assert 'value="signer3@example.org"' in page and 'value="Zoë D"' in page  # nothing typed is lost
    assert _count(db, Statement) == 3

    # with JavaScript on (an old tab whose challenge expired), the fresh challenge of that page signs
    again = _sign(client, initiative.slug, 3, solved_field(page))
    assert again.status_code == 303
    assert _count(db, Statement) == 4

    elsewhere = guarded.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"  # another network has its own three
    assert _sign(elsewhere, initiative.slug, 4).status_code == 303


def test_ipv6_addresses_of_one_64_share_the_limit(guarded) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()

    def client_at(address: str) -> FlaskClient:
        client = guarded.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    statuses = [_sign(client_at(f"2001:db8:5:6::{n + 1}"), initiative.slug, n).status_code for n in range(4)]
    assert statuses == [303, 303, 303, 429]
    assert _sign(client_at("2001:db8:5:7::1"), initiative.slug, 5).status_code == 303  # the next /64


def _wrong_answers(client: FlaskClient, slug: str) -> dict[str, str]:
    """One answer of each kind the server must not take as solved."""
    challenge = challenge_in(_form(client, slug))
    number = solve(challenge)
    stranger = ProofOfWork(enabled=True, key="not our key", max_number=EASY).challenge(utcnow())
    ours = ProofOfWork.from_config(client.application.config)
    old = ours.challenge(utcnow() - timedelta(hours=1, seconds=5))
    return {
        "malformed": "bm90IGEgcGF5bG9hZA==",
        "wrong number": payload(challenge, number + 1),
        "another key": payload(stranger, solve(stranger)),
        "expired": payload(old, solve(old)),
    }


@pytest.mark.parametrize("kind", ["malformed", "wrong number", "another key", "expired"])
def test_a_wrong_answer_counts_as_none(guarded, db, kind: str) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client = guarded.test_client()
    answer = _wrong_answers(client, initiative.slug)[kind]
    statuses = [_sign(client, initiative.slug, n, answer).status_code for n in range(4)]
    assert statuses == [303, 303, 303, 429]
    assert _count(db, SpentChallenge) == 0


def test_a_replayed_answer_counts_as_none(guarded, db) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client = guarded.test_client()
    answer = solved_field(_form(client, initiative.slug))
    # the first use is a proof of work; the next three are statements without one; the fourth replay is refused
    statuses = [_sign(client, initiative.slug, n, answer).status_code for n in range(5)]
    assert statuses == [303, 303, 303, 303, 429]
    assert _count(db, SpentChallenge) == 1
    assert _count(db, Statement) == 4


def test_a_refused_form_does_not_spend_its_answer(guarded, db) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client = guarded.test_client()
    answer = solved_field(_form(client, initiative.slug))
    typo = client.post(f"/i/{initiative.slug}/sign", data={**_signer(0), "email": "", "altcha": answer})
    assert typo.status_code == 422
    assert _count(db, SpentChallenge) == 0
    assert [_sign(client, initiative.slug, n).status_code for n in range(1, 4)] == [303, 303, 303]  # 3 unsolved
    assert _sign(client, initiative.slug, 0, answer).status_code == 303  # still a proof of work, not a 4th
    assert _count(db, SpentChallenge) == 1


def test_only_accepted_statements_count_against_the_tighter_limit(guarded) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client = guarded.test_client()
    url = f"/i/{initiative.slug}/sign"
    for _typo in range(4):  # a person without JavaScript correcting the form
        assert client.post(url, data={**_signer(0), "email": "not an address"}).status_code == 422
    assert client.post(url, data={"country": "DE", "choose_country": "1"}).status_code == 200
    assert [_sign(client, initiative.slug, n).status_code for n in range(4)] == [303, 303, 303, 429]


def test_the_same_answer_at_once_is_a_proof_of_work_once(guarded, db) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    answer = solved_field(_form(guarded.test_client(), initiative.slug))
    barrier = threading.Barrier(4)
    statuses: list[int] = [0] * 4

    def sign(n: int) -> None:
        client = guarded.test_client()  # its own thread: its own app context, session and connection
        barrier.wait(timeout=30)
        statuses[n] = _sign(client, initiative.slug, n, answer).status_code

    threads = [threading.Thread(target=sign, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [303] * 4  # one proof of work and three statements without one
    assert _count(db, SpentChallenge) == 1
    assert _sign(guarded.test_client(), initiative.slug, 5).status_code == 429  # the three were counted


def test_off_nothing_is_asked(app_factory, app, db) -> None:  # type: ignore[no-untyped-def]
    limited = app_factory(RATELIMIT_ENABLED=True, CAPTCHA_ENABLED=False)
    limiter.reset()
    try:
        initiative, _ = make_initiative()
        client = limited.test_client()
        assert [_sign(client, initiative.slug, n).status_code for n in range(5)] == [303] * 5
    finally:
        limiter.reset()
    assert _count(db, SpentChallenge) == 0


def test_with_rate_limits_off_there_is_no_tighter_limit(app_factory, app, db) -> None:  # type: ignore[no-untyped-def]
    """RATELIMIT_ENABLED=0 leaves limits to a proxy: the proof of work is still checked and spent, nothing counted."""
    unlimited = app_factory(RATELIMIT_ENABLED=False, CAPTCHA_ENABLED=True, CAPTCHA_MAX_NUMBER=EASY)
    initiative, _ = make_initiative()
    client = unlimited.test_client()
    assert [_sign(client, initiative.slug, n).status_code for n in range(5)] == [303] * 5
    assert _sign(client, initiative.slug, 5, solved_field(_form(client, initiative.slug))).status_code == 303
    assert _count(db, SpentChallenge) == 1


def test_retention_purge_deletes_expired_challenges(app, db) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    db.session.add_all(
        [
            SpentChallenge(challenge="a" * 64, expires_at=now - timedelta(minutes=1)),
            SpentChallenge(challenge="b" * 64, expires_at=now + timedelta(minutes=59)),
        ]
    )
    db.session.commit()
    report = purge(now=now, dry_run=True, confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    assert report.totals() == {"spent_challenges": 1}
    report = purge(now=now, confirm_max_age=app.config["CONFIRM_MAX_AGE"])
    db.session.commit()
    assert "(no initiative): expired proof-of-work challenges 1" in report.lines()
    assert list(db.session.scalars(sa.select(SpentChallenge.challenge))) == ["b" * 64]
