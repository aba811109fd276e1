"""The second factor (RFC 6238 time-based codes): secrets sealed at rest, a code accepted once, the setup QR code.

Secrets are sealed with AES-256-GCM under a key derived from SECRET_KEY with HKDF (RFC 5869), so a copy of the
database alone (a backup, an injection) holds no usable secret. The associated data names the account, and for a
secret being set up also the session that asked for it, so a sealed value moved to another row or read from another
session does not open (docs/decisions/005-staff-sessions-second-factor-rate-limits.md).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import qrcode
import qrcode.image.svg
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..audit.log import record
from ..extensions import db
from ..models import StaffUser
from .access import end_sessions

ISSUER = "Quorum"
SEALED_PREFIX = "v1:"
"""Every sealed value starts so; migration 0007 seals the secrets it found in the clear with the same scheme."""
HKDF_INFO = b"quorum staff second-factor secrets v1"
NONCE_BYTES = 12  # AES-GCM's 96-bit nonce (NIST SP 800-38D), random per sealing


@dataclass(frozen=True)
class SecretSeal:
    """The key that seals second-factor secrets, made once at start-up from SECRET_KEY."""

    key: bytes

    @classmethod
    def from_secret_key(cls, secret_key: str) -> SecretSeal:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
        return cls(hkdf.derive(secret_key.encode()))

    def seal(self, secret: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, secret.encode(), context.encode())
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str | None, context: str) -> str | None:
        """The secret, or None when there is none or it does not open here (another key, account or session)."""
        if not sealed or not sealed.startswith(SEALED_PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed[len(SEALED_PREFIX) :])
            plain = AESGCM(self.key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError, binascii.Error):
            return None
        return plain.decode()


def enrolled_context(user_id: int) -> str:
    return f"staff_user:{user_id}:totp"


def setup_context(user_id: int, setup_id: str) -> str:
    return f"staff_user:{user_id}:totp-setup:{setup_id}"


def new_secret() -> str:
    """160 random bits, the length RFC 4226 (section 4) recommends, as 32 base32 characters."""
    return pyotp.random_base32()


def matched_step(secret: str, code: str, now: float) -> int | None:
    """The 30-second step whose RFC 6238 code this is, allowing one step of clock drift either side."""
    code = "".join(code.split())
    if not (code.isascii() and code.isdigit() and len(code) == 6):  # "２" is a digit too, and breaks compare_digest
        return None
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        moment = int(now) + drift * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
            return int(totp.timecode(datetime.fromtimestamp(moment, UTC)))
    return None


def take_step(user: StaffUser, step: int) -> bool:
    """Mark a step used: it must be newer than the last one this account used (RFC 6238, 5.2: no replay)."""
    taken = db.session.execute(
        sa.update(StaffUser)
        .where(
            StaffUser.id == user.id,
            sa.or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(taken == 1)


def use_code(user: StaffUser, secret: str, code: str, now: float) -> bool:
    """Accept a code once: a code seen over someone's shoulder (or in a proxy log) does not work a second time."""
    step = matched_step(secret, code, now)
    return step is not None and take_step(user, step)


def enrol(user: StaffUser, secret: str, step: int, seal: SecretSeal) -> None:
    """The secret becomes the account's; the code that confirmed it is used up, and every other session ends (they
    were signed in without it)."""
    user.totp_secret = seal.seal(secret, enrolled_context(user.id))
    user.totp_pending = None
    user.totp_last_step = step
    record(user.email, "staff.totp_enrol", target=user.email)
    end_sessions(user)


def remove(user: StaffUser, *, actor: str, action: str, reason: str = "") -> bool:
    """Turned off by its owner or reset by an admin (a lost device); every session ends. False: there was none."""
    if user.totp_secret is None:
        return False
    user.totp_secret = None
    user.totp_pending = None
    record(actor, action, target=user.email, reason=reason)
    end_sessions(user)
    return True


def setup_uri(secret: str, email: str) -> str:
    """The otpauth:// link authenticator apps read (Google Authenticator's Key Uri Format, which they all follow)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """In fours, as people copy it by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(text: str) -> str:
    """The QR code of `text` as an inline SVG drawn here: no image service, no request to anyone else."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10, border=4)
    svg: str = image.to_string(encoding="unicode")
    return svg.replace("<svg ", '<svg role="img" class="qr" aria-labelledby="totp-qr-label" ', 1)
