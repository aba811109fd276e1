"""CSRF protection for the embedded form, which lives in a partner's page where the browser withholds or partitions
our cookies (a third-party frame): no session, so no session-bound token either.

Instead the form carries a token signed with a key derived from SECRET_KEY, bound to the page it was served with:
the initiative, the partner code it attributes to, when it was issued and a random nonce. The POST checks all of it;
the token expires after LIFETIME, and it signs one statement: its nonce is spent in the statement's transaction (a
row in `spent_challenge`, the table that keeps proof-of-work answers from being used twice, kept until the token
expires and then purged by retention). A form sent back with errors carries a fresh token.

What a forged cross-site POST would need is a token our page gave out, for this initiative, not yet used: and the
embedded form takes no action on a signer's behalf that a direct POST could not take anyway (it holds no session).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from ..database import insert_unless_conflict
from ..models import SpentChallenge

FIELD = "form_token"
SALT = "quorum.embed.form"
KEY_PURPOSE = b"quorum.embed.form-token"
LIFETIME = timedelta(hours=2)  # a signer may take their time; the proof of work's own challenge lasts one hour
SPENT_PREFIX = b"embed-form:"  # its spent nonces share the table with proof-of-work answers, never their values


class Verdict(StrEnum):
    VALID = "valid"
    MISSING = "missing"
    FORGED = "forged"  # not our signature, another initiative or partner, or not a token at all
    EXPIRED = "expired"
    REPLAYED = "replayed"  # signed a statement before


@dataclass(frozen=True)
class Checked:
    verdict: Verdict
    nonce: str = ""
    expires_at: datetime | None = None

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID


@dataclass(frozen=True)
class FormTokens:
    """Issues and checks the embedded form's tokens; made once from the configuration."""

    key: bytes
    lifetime: timedelta = LIFETIME

    @classmethod
    def from_secret_key(cls, secret_key: str) -> FormTokens:
        # one key per purpose, derived from SECRET_KEY (as the proof of work derives its own)
        return cls(hmac.new(secret_key.encode("utf-8"), KEY_PURPOSE, hashlib.sha256).digest())

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.key, salt=SALT)

    def issue(self, initiative_id: int, partner_code: str, now: datetime) -> str:
        """A token for one embedded form, issued at `now` (naive UTC)."""
        payload = {
            "i": initiative_id,
            "p": partner_code,
            "t": int(now.replace(tzinfo=UTC).timestamp()),
            "n": secrets.token_urlsafe(16),
        }
        return str(self._serializer().dumps(payload))

    def check(self, token: str | None, initiative_id: int, partner_code: str, now: datetime) -> Checked:
        """Signature, page and age; whether it was used is `spend`'s part."""
        if not token:
            return Checked(Verdict.MISSING)
        try:
            payload: Any = self._serializer().loads(token)
        except BadSignature:
            return Checked(Verdict.FORGED)
        if not isinstance(payload, dict) or set(payload) != {"i", "p", "t", "n"}:
            return Checked(Verdict.FORGED)
        if payload["i"] != initiative_id or payload["p"] != partner_code or not isinstance(payload["t"], int):
            return Checked(Verdict.FORGED)
        issued = datetime.fromtimestamp(payload["t"], UTC).replace(tzinfo=None)
        expires_at = issued + self.lifetime
        if not issued - timedelta(minutes=5) <= now < expires_at:  # a few minutes of clock skew between servers
            return Checked(Verdict.EXPIRED)
        return Checked(Verdict.VALID, str(payload["n"]), expires_at)


def spend(checked: Checked) -> Verdict:
    """A valid token signs once: recorded in the statement's transaction (rolled back with it if that fails)."""
    if not checked.valid:
        return checked.verdict
    assert checked.expires_at is not None
    spent = hashlib.sha256(SPENT_PREFIX + checked.nonce.encode("utf-8")).hexdigest()
    inserted = insert_unless_conflict(SpentChallenge.__table__, {"challenge": spent, "expires_at": checked.expires_at})
    return Verdict.VALID if inserted else Verdict.REPLAYED
