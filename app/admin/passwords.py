"""Staff passwords, hashed with argon2id (argon2-cffi); parameters from ARGON2_PARAMS (cheap in tests)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

MIN_PASSWORD_LENGTH = 12
"""NIST SP 800-63B asks for at least 8; staff accounts open sealed-export downloads and the audit log, so 12."""
MAX_PASSWORD_LENGTH = 1024


def _hasher() -> PasswordHasher:
    return PasswordHasher(**current_app.config.get("ARGON2_PARAMS", {}))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other argon2 parameters than the ones configured now."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None; length only, as NIST SP 800-63B advises against composition rules."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("The password must be at least %(count)d characters long.", count=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("The password must be at most %(count)d characters long.", count=MAX_PASSWORD_LENGTH)
    if not password.strip():
        return _("The password must not be only spaces.")
    return None


_DUMMY: dict[str, str] = {}


def burn_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown address takes as long as a wrong password."""
    key = repr(current_app.config.get("ARGON2_PARAMS", {}))
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("not a real password")
    verify_password(_DUMMY[key], password)
