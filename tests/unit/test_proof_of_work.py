"""The proof-of-work challenge and the check of an answer, without the app: solved by a client written from ALTCHA's
format (tests/support/solver.py) and by the `altcha` package's own solver; every wrong answer said so, none raises."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import altcha
import pytest

from app.signing.proof_of_work import ProofOfWork, Verdict, network_key, refusal

from ..support.solver import payload, solve

NOW = datetime(2027, 3, 1, 12, 0, 0)
WORK = ProofOfWork(enabled=True, key="k" * 64, max_number=2000)


def _encoded(fields: object) -> str:
    return base64.b64encode(json.dumps(fields).encode()).decode()


def test_the_challenge_is_altchas_and_carries_its_expiry() -> None:
    challenge = WORK.challenge(NOW)
    assert sorted(challenge) == ["algorithm", "challenge", "maxnumber", "salt", "signature"]
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["maxnumber"] == 2000
    in_an_hour = int(NOW.replace(tzinfo=UTC).timestamp()) + 3600
    assert str(challenge["salt"]).endswith(f"?expires={in_an_hour}&")
    assert WORK.challenge(NOW)["salt"] != challenge["salt"]  # a new salt for every form


def test_a_scripted_client_solves_it() -> None:
    challenge = WORK.challenge(NOW)
    number = solve(challenge)
    assert 0 <= number <= 2000
    answer = WORK.check(payload(challenge, number), NOW + timedelta(minutes=59))
    assert answer.verdict is Verdict.SOLVED
    assert answer.challenge == challenge["challenge"]
    assert answer.expires_at == NOW + timedelta(hours=1)


def test_altchas_own_solver_solves_it() -> None:
    challenge = WORK.challenge(NOW)
    found = altcha.solve_challenge_v1(
        str(challenge["challenge"]), str(challenge["salt"]), "SHA-256", int(challenge["maxnumber"])
    )
    assert found is not None
    assert WORK.check(payload(challenge, found.number), NOW).verdict is Verdict.SOLVED


def test_expired_at_its_expiry() -> None:
    challenge = WORK.challenge(NOW)
    answer = payload(challenge, solve(challenge))
    assert WORK.check(answer, NOW + timedelta(hours=1)).verdict is Verdict.EXPIRED
    assert WORK.check(answer, NOW + timedelta(days=3)).verdict is Verdict.EXPIRED


def test_forged_answers() -> None:
    challenge = WORK.challenge(NOW)
    number = solve(challenge)
    assert WORK.check(payload(challenge, number + 1), NOW).verdict is Verdict.FORGED  # a guess, not the number

    other = ProofOfWork(enabled=True, key="another key", max_number=2000).challenge(NOW)
    assert WORK.check(payload(other, solve(other)), NOW).verdict is Verdict.FORGED  # signed with another key

    # a later expiry written into the salt: the challenge no longer hashes to what was signed
    later = int(NOW.replace(tzinfo=UTC).timestamp()) + 30 * 86400
    stretched = {**challenge, "salt": str(challenge["salt"]).split("?")[0] + f"?expires={later}&"}
    assert WORK.check(payload(stretched, number), NOW).verdict is Verdict.FORGED

    # a challenge of one's own making, with its number and a made-up signature
    made = altcha.create_challenge_v1(altcha.ChallengeOptionsV1(max_number=10, hmac_key="guess", number=3))
    own = {"algorithm": "SHA-256", "challenge": made.challenge, "salt": made.salt, "signature": made.signature}
    assert WORK.check(_encoded({**own, "number": 3}), NOW).verdict is Verdict.FORGED


def test_a_challenge_signed_without_expiry_is_not_ours() -> None:
    made = altcha.create_challenge_v1(altcha.ChallengeOptionsV1(max_number=10, hmac_key=WORK.key, number=4))
    fields = {"algorithm": "SHA-256", "challenge": made.challenge, "salt": made.salt, "signature": made.signature}
    assert WORK.check(_encoded({**fields, "number": 4}), NOW).verdict is Verdict.FORGED


@pytest.mark.parametrize("sent", [None, ""])
def test_missing(sent: str | None) -> None:
    assert WORK.check(sent, NOW).verdict is Verdict.MISSING


def _solved_fields() -> dict[str, object]:
    challenge = WORK.challenge(NOW)
    fields = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
    return {**fields, "number": solve(challenge)}


MALFORMED = {
    "not base64": "this is not base64!",
    "base64 of text": base64.b64encode(b"hello").decode(),
    "not an object": _encoded(5),
    "a list": _encoded([1, 2, 3]),
    "number as text": _encoded({**_solved_fields(), "number": "12"}),
    "number true": _encoded({**_solved_fields(), "number": True}),
    "number negative": _encoded({**_solved_fields(), "number": -1}),
    "number a fraction": _encoded({**_solved_fields(), "number": 1.5}),
    "salt missing": _encoded({k: v for k, v in _solved_fields().items() if k != "salt"}),
    "signature null": _encoded({**_solved_fields(), "signature": None}),
    "another algorithm": _encoded({**_solved_fields(), "algorithm": "SHA-1"}),
    "too long": _encoded({**_solved_fields(), "padding": "x" * 5000}),
    "deeply nested": base64.b64encode(b"[" * 1500 + b"]" * 1500).decode()[:2000],
    "not ascii": "éé",
    "invalid utf-8": base64.b64encode(b"\xff\xfe{").decode(),
}


@pytest.mark.parametrize("sent", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_answers_are_said_so(sent: str) -> None:
    assert WORK.check(sent, NOW).verdict is Verdict.MALFORMED


def test_the_key_comes_from_secret_key_for_this_purpose() -> None:
    settings = {"CAPTCHA_ENABLED": True, "CAPTCHA_MAX_NUMBER": 50}
    one = ProofOfWork.from_config({**settings, "SECRET_KEY": "one"})
    assert one.key == ProofOfWork.from_config({**settings, "SECRET_KEY": "one"}).key
    assert one.key != ProofOfWork.from_config({**settings, "SECRET_KEY": "two"}).key
    assert "one" not in one.key
    challenge = one.challenge(NOW)
    answer = payload(challenge, solve(challenge))
    assert one.check(answer, NOW).verdict is Verdict.SOLVED
    assert ProofOfWork.from_config({**settings, "SECRET_KEY": "two"}).check(answer, NOW).verdict is Verdict.FORGED


# Who shares the tighter limit: an IPv4 address alone, an IPv6 address with its /64 (RFC 6177: a /64 is one line).
NETWORKS = [
    ("192.0.2.7", "192.0.2.7"),
    ("192.0.2.8", "192.0.2.8"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    (None, "unknown"),
    ("not an address", "unknown"),  # as every per-address limit keys it
]


@pytest.mark.parametrize(("address", "network"), NETWORKS)
def test_network_key(address: str | None, network: str) -> None:
    assert network_key(address) == network


def test_the_difficulty_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from config import MissingSecret, load_config

    monkeypatch.setenv("QUORUM_INSTANCE", str(tmp_path))
    monkeypatch.delenv("CAPTCHA_MAX_NUMBER", raising=False)
    assert load_config("development").CAPTCHA_MAX_NUMBER == 100_000
    monkeypatch.setenv("CAPTCHA_MAX_NUMBER", "250000")
    assert load_config("development").CAPTCHA_MAX_NUMBER == 250_000
    monkeypatch.setenv("CAPTCHA_MAX_NUMBER", "0")
    with pytest.raises(MissingSecret, match="CAPTCHA_MAX_NUMBER"):
        load_config("development")


@pytest.mark.parametrize(
    ("wait", "ending"), [(1, "in 1 minute."), (60, "in 1 minute."), (61, "in 2 minutes."), (3600, "in 60 minutes.")]
)
def test_the_refusal_says_how_long_to_wait_in_whole_minutes(wait: int, ending: str) -> None:
    def gettext(message: str, **params: object) -> str:
        return message % params

    def ngettext(singular: str, plural: str, num: int, **params: object) -> str:
        return (singular if num == 1 else plural) % {"num": num, **params}

    text = refusal(wait).text(gettext, ngettext)
    assert text.startswith("Your browser did not finish the automatic check against robots")
    assert text.endswith(ending)
