"""Staff passwords, hashed with argon2id (argon2-cffi); parameters from ARGON2_PARAMS (cheap in tests)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app


def _hasher() -> PasswordHasher:
    return PasswordHasher(**current_app.config.get("ARGON2_PARAMS", {}))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY: dict[str, str] = {}


def burn_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown address takes as long as a wrong password."""
    key = repr(current_app.config.get("ARGON2_PARAMS", {}))
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("not a real password")
    verify_password(_DUMMY[key], password)
