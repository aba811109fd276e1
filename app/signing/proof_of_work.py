"""Bot defence on the sign form (issue 7, docs/decisions/010-proof-of-work.md): a proof of work in ALTCHA's format,
and a tighter limit for statements sent without one.

Every sign form carries a challenge made with the `altcha` package: a random salt (with its expiry), the SHA-256 of
the salt and a secret number up to CAPTCHA_MAX_NUMBER, and an HMAC of that hash under a key derived from SECRET_KEY.
The page's script (app/static/proof-of-work.js) tries numbers until the hash matches and sends the answer in the
field `altcha`. Here the answer's signature and expiry are checked, and the challenge is spent: a row in
`spent_challenge` until it expires (the retention purge deletes it then), so it signs once.

A statement without a valid answer (no JavaScript, an old tab, a forged or replayed answer) is still accepted, but a
network address gets at most three of those an hour (CONTRACT.md, CAPTCHA_ENABLED): the form is never a dead end.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import altcha
from limits import parse

from ..database import insert_unless_conflict
from ..eci.signer import N_plural, Problem
from ..extensions import limiter
from ..models import SpentChallenge
from ..rate_limits import network_of

FIELD = "altcha"  # the field name ALTCHA's own widget uses
ALGORITHM = "SHA-256"  # what SubtleCrypto.digest computes in every browser
KEY_PURPOSE = b"quorum.proof-of-work"
LIFETIME = timedelta(hours=1)  # a tab left open longer signs under the tighter limit, or after a reload
# CONTRACT.md, CAPTCHA_ENABLED: "a client that solves none gets at most 3 statements an hour accepted from one
# network address"
UNSOLVED_LIMIT = parse("3 per hour")
UNSOLVED_SCOPE = "sign-unsolved"
MAX_PAYLOAD = 2048  # an honest answer is about 300 characters


class Verdict(StrEnum):
    """What the field `altcha` of one submission turned out to be."""

    SOLVED = "solved"
    MISSING = "missing"
    MALFORMED = "malformed"
    FORGED = "forged"  # not our signature, or not the number that makes the challenge
    EXPIRED = "expired"
    REPLAYED = "replayed"  # signed a statement before


@dataclass(frozen=True)
class Answer:
    """A checked answer; `challenge` and `expires_at` are set when its signature and number are right."""

    verdict: Verdict
    challenge: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ProofOfWork:
    """The proof-of-work settings, read once from the configuration when the app starts."""

    enabled: bool
    key: str
    max_number: int
    lifetime: timedelta = LIFETIME

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ProofOfWork:
        # one key per purpose, derived from SECRET_KEY: nothing new to keep secret, and rotating SECRET_KEY
        # retires the challenges of open forms with everything else it signs
        key = hmac.new(str(config["SECRET_KEY"]).encode("utf-8"), KEY_PURPOSE, hashlib.sha256).hexdigest()
        return cls(
            enabled=bool(config["CAPTCHA_ENABLED"]),
            key=key,
            max_number=int(config["CAPTCHA_MAX_NUMBER"]),
        )

    def challenge(self, now: datetime) -> dict[str, object]:
        """A fresh challenge as ALTCHA's widget reads it (algorithm, challenge, maxnumber, salt, signature)."""
        made = altcha.create_challenge_v1(
            altcha.ChallengeOptionsV1(
                algorithm=ALGORITHM,
                max_number=self.max_number,
                hmac_key=self.key,
                expires=now.replace(tzinfo=UTC) + self.lifetime,
            )
        )
        return {
            "algorithm": made.algorithm,
            "challenge": made.challenge,
            "maxnumber": made.max_number,
            "salt": made.salt,
            "signature": made.signature,
        }

    def check(self, payload: str | None, now: datetime) -> Answer:
        """The answer's signature, number and expiry at `now` (naive UTC); whether it was used is `spend`'s part."""
        if not payload:
            return Answer(Verdict.MISSING)
        fields = _decode(payload)
        if fields is None:
            return Answer(Verdict.MALFORMED)
        verified, _error = altcha.verify_solution_v1(fields, self.key, check_expires=False)  # type: ignore[arg-type]
        if not verified:
            return Answer(Verdict.FORGED)
        expires_at = _expiry(fields["salt"])
        if expires_at is None:  # we sign no challenge without one
            return Answer(Verdict.FORGED)
        if expires_at <= now:
            return Answer(Verdict.EXPIRED)
        return Answer(Verdict.SOLVED, fields["challenge"], expires_at)


def _decode(payload: str) -> dict[str, Any] | None:
    """ALTCHA's payload, base64 of a JSON object, with each field of the type the check expects; else None."""
    if len(payload) > MAX_PAYLOAD:
        return None
    try:
        fields = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None
    if not isinstance(fields, dict) or fields.get("algorithm") != ALGORITHM:
        return None
    texts = ("algorithm", "challenge", "salt", "signature")
    if not all(isinstance(fields.get(name), str) for name in texts):
        return None
    number = fields.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        return None
    return {name: fields[name] for name in (*texts, "number")}


def _expiry(salt: str) -> datetime | None:
    """The expiry the salt carries (`...?expires=<unix time>&`), as naive UTC."""
    _nonce, _mark, query = salt.partition("?")
    values = urllib.parse.parse_qs(query).get("expires", [])
    if len(values) != 1 or not values[0].isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(values[0]), UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def spend(answer: Answer) -> Verdict:
    """A valid answer signs once: recorded in this transaction, it is REPLAYED for every other one.

    INSERT ... ON CONFLICT DO NOTHING, so two requests sending the same answer at once cannot both have it (the
    second waits for the first to commit); a request that ends in an error rolls the spending back with it.
    """
    if answer.verdict is not Verdict.SOLVED:
        return answer.verdict
    spent = insert_unless_conflict(
        SpentChallenge.__table__, {"challenge": answer.challenge, "expires_at": answer.expires_at}
    )
    return Verdict.SOLVED if spent else Verdict.REPLAYED


def network_key(remote_addr: str | None) -> str:
    """Who shares the tighter limit: one IPv4 address, or one IPv6 /64, as every per-address limit counts."""
    return network_of(remote_addr)


def take_unsolved(network: str) -> int | None:
    """Take one of the network's statements without a proof of work this hour: None when taken, or else the
    seconds until one is free again. Counted in the rate-limit storage (shared by app servers on Redis); with rate
    limits off (RATELIMIT_ENABLED=0, a proxy limits instead) there is nothing to count."""
    if not limiter.enabled:
        return None
    if limiter.limiter.hit(UNSOLVED_LIMIT, UNSOLVED_SCOPE, network):
        return None
    reset = limiter.limiter.get_window_stats(UNSOLVED_LIMIT, UNSOLVED_SCOPE, network).reset_time
    return max(1, math.ceil(reset - time.time()))


REFUSED, REFUSED_PLURAL = N_plural(
    "Your browser did not finish the automatic check against robots (it needs JavaScript), and your network has "
    "sent as many statements without it as an hour allows. Turn on JavaScript and press Sign again (what you typed "
    "is kept), or try again in %(num)d minute.",
    "Your browser did not finish the automatic check against robots (it needs JavaScript), and your network has "
    "sent as many statements without it as an hour allows. Turn on JavaScript and press Sign again (what you typed "
    "is kept), or try again in %(num)d minutes.",
)


def refusal(wait_seconds: int) -> Problem:
    """What the 4th statement without a proof of work is told, beside the Sign button and in the error summary."""
    return Problem(REFUSED, {"num": math.ceil(wait_seconds / 60)}, REFUSED_PLURAL)
