"""The keys and limits the lifecycle works with, read once from the configuration when the app starts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

CONFIRM_SALT = "quorum.statement.confirm"


class LinkInvalid(Exception):
    """A confirmation link that was forged, altered, or belongs to another initiative."""


class LinkExpired(Exception):
    """A genuine confirmation link past its max age; carries the statement id so that a new one can be sent."""

    def __init__(self, statement_id: uuid.UUID) -> None:
        super().__init__("expired")
        self.statement_id = statement_id


@dataclass(frozen=True)
class Policy:
    """What `app.statements` needs from the configuration, as plain values."""

    fingerprint_key: bytes
    secret_key: str
    confirm_max_age: int = 604800
    max_emails_per_statement: int = 5
    max_signers_per_email: int = 2  # a household, as the UK Parliament petitions service allows
    max_emails_per_address_per_day: int = 10
    _serializer: URLSafeTimedSerializer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # one serializer for the life of the app: its key derivation is not redone per link
        object.__setattr__(self, "_serializer", URLSafeTimedSerializer(self.secret_key, salt=CONFIRM_SALT))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        return cls(
            fingerprint_key=str(config["FINGERPRINT_KEY"]).encode("utf-8"),
            secret_key=str(config["SECRET_KEY"]),
            confirm_max_age=int(config["CONFIRM_MAX_AGE"]),
            max_emails_per_statement=int(config["MAX_EMAILS_PER_STATEMENT"]),
            max_signers_per_email=int(config["MAX_SIGNERS_PER_EMAIL"]),
            max_emails_per_address_per_day=int(config["MAX_EMAILS_PER_ADDRESS_PER_DAY"]),
        )

    @property
    def confirm_days(self) -> int:
        return max(1, self.confirm_max_age // 86400)

    def confirmation_token(self, statement_id: uuid.UUID, initiative_id: int) -> str:
        return self._serializer.dumps({"s": statement_id.hex, "i": initiative_id})

    def read_token(self, token: str, initiative_id: int) -> uuid.UUID:
        """The statement id in a genuine, unexpired token of this initiative."""
        try:
            payload = self._serializer.loads(token, max_age=self.confirm_max_age)
        except SignatureExpired as error:
            payload = self._serializer.load_payload(error.payload) if error.payload is not None else None
            raise LinkExpired(_statement_id(payload, initiative_id)) from error
        except BadSignature as error:
            raise LinkInvalid("bad signature") from error
        return _statement_id(payload, initiative_id)


def _statement_id(payload: object, initiative_id: int) -> uuid.UUID:
    if not isinstance(payload, dict) or payload.get("i") != initiative_id:
        raise LinkInvalid("wrong initiative")
    try:
        return uuid.UUID(hex=str(payload.get("s")))
    except ValueError as error:
        raise LinkInvalid("bad id") from error
