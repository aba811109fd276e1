"""Sealing personal data to an auditor's public key (PyNaCl SealedBox): the server can seal, never open."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacl.encoding import Base64Encoder
from nacl.public import PrivateKey, PublicKey, SealedBox


def generate_key_pair() -> tuple[bytes, bytes]:
    """(private, public) raw 32-byte Curve25519 keys."""
    private = PrivateKey.generate()
    return bytes(private), bytes(private.public_key)


def seal(public_key: bytes, data: dict[str, Any]) -> bytes:
    """Seal a statement's personal fields; only the holder of the private key can open the blob."""
    plaintext = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return SealedBox(PublicKey(public_key)).encrypt(plaintext)


def opener(private_key: bytes) -> Callable[[bytes], dict[str, Any]]:
    """Opens blob after blob with one key: making the box derives the public key, as costly as a decryption."""
    box = SealedBox(PrivateKey(private_key))

    def open_blob(blob: bytes) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(box.decrypt(blob).decode("utf-8"))
        return data

    return open_blob


def open_sealed(private_key: bytes, blob: bytes) -> dict[str, Any]:
    return opener(private_key)(blob)


def write_private_key(path: Path, private_key: bytes) -> None:
    """Base64 in a file of mode 0600, created fresh (an existing key is never overwritten)."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(Base64Encoder.encode(private_key) + b"\n")


def read_private_key(path: Path) -> bytes:
    key = Base64Encoder.decode(path.read_bytes().strip())
    if len(key) != 32:
        raise ValueError("not a 32-byte private key")
    return bytes(key)
