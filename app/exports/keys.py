"""The instance's export signing key (EXPORT_SIGNING_KEY) and its public half."""

from __future__ import annotations

from flask import current_app
from nacl.signing import SigningKey

from config import EXPORT_KEY_FILE, existing_instance_secret, generate_instance_secret

from .manifest import signing_key


class SigningKeyMissing(RuntimeError):
    """EXPORT_SIGNING_KEY is not configured (production must set it; CONTRACT.md)."""


def instance_signing_key() -> SigningKey:
    """The key that signs manifests; refuses rather than sign with a key nobody can check later."""
    seed = current_app.config.get("EXPORT_SIGNING_KEY") or ""
    if not seed and current_app.config["ENV_NAME"] != "production":
        # outside production the key is made on first use and kept in instance/, like the other secrets
        seed = generate_instance_secret("EXPORT_SIGNING_KEY", EXPORT_KEY_FILE)
        current_app.config["EXPORT_SIGNING_KEY"] = seed
    if not seed:
        raise SigningKeyMissing("EXPORT_SIGNING_KEY is not set: this instance cannot sign exports without it")
    return signing_key(seed)


def instance_verify_key() -> bytes | None:
    """The public half staff and auditors compare manifests against, or None when no key is configured.

    Outside production another process (`export create` on the command line) may have made the key since this one
    started: it is read from instance/ then, never made here.
    """
    seed = current_app.config.get("EXPORT_SIGNING_KEY") or ""
    if not seed and current_app.config["ENV_NAME"] != "production":
        seed = existing_instance_secret(EXPORT_KEY_FILE)
        current_app.config["EXPORT_SIGNING_KEY"] = seed
    if not seed:
        return None
    return bytes(signing_key(seed).verify_key)


def instance_name() -> str:
    """How a manifest names the instance that wrote it."""
    return str(current_app.config.get("BASE_URL", ""))
