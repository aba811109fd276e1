"""The export format: one `<CC>.sealed` file per member state and a `manifest.json` signed with Ed25519.

A country file holds one JSON object per line, keys sorted, no spaces:
`{"confirmed_at":"2026-03-01T09:30:00Z","country":"PL","id":"<uuid>","sealed":"<base64>"}`.
`sealed` is the statement's blob exactly as stored (a SealedBox to the initiative's auditor key); the clear
`country` lets `verify` catch a line (or a whole file) moved to another country's file without any private key.

The signature covers the manifest's canonical JSON (keys sorted, no spaces, UTF-8) without its `signature` key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import datetime
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

FORMAT = "quorum-export/1"
MANIFEST_NAME = "manifest.json"
FILE_SUFFIX = ".sealed"
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
LINE_KEYS = frozenset({"confirmed_at", "country", "id", "sealed"})


class ExportKeyError(ValueError):
    """A key (seed, verify key or key file) that cannot be read; the message says why."""


def file_name(country: str) -> str:
    return f"{country}{FILE_SUFFIX}"


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z` (the columns are naive UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_line(statement_id: str, country: str, confirmed_at: str, sealed: bytes) -> bytes:
    """One record, byte-identical to `json.dumps(..., sort_keys=True, separators=(",", ":"))` of its fields."""
    blob = binascii.b2a_base64(sealed, newline=False).decode("ascii")
    return (
        f'{{"confirmed_at":"{confirmed_at}","country":"{country}","id":"{statement_id}","sealed":"{blob}"}}\n'.encode(
            "ascii"
        )
    )


def parse_line(line: bytes) -> dict[str, str]:
    """The record on one line; ValueError says what is wrong with it."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError("is not a JSON record") from error
    if not isinstance(record, dict) or set(record) != LINE_KEYS or not all(isinstance(v, str) for v in record.values()):
        raise ValueError(f"must hold exactly the string fields {', '.join(sorted(LINE_KEYS))}")
    try:
        base64.b64decode(record["sealed"], validate=True)
    except binascii.Error as error:
        raise ValueError("has a sealed blob that is not base64") from error
    return record


def canonical(manifest: dict[str, Any]) -> bytes:
    """What the signature covers: the manifest without `signature`, keys sorted, compact, UTF-8."""
    body = {key: value for key, value in manifest.items() if key != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(manifest: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The manifest with its `verify_key` and `signature` set."""
    signed = dict(manifest)
    signed.pop("signature", None)
    signed["verify_key"] = bytes(key.verify_key).hex()
    signature = key.sign(canonical(signed)).signature
    signed["signature"] = base64.b64encode(signature).decode("ascii")
    return signed


def signature_valid(manifest: dict[str, Any], verify_key: bytes) -> bool:
    signature = manifest.get("signature")
    if not isinstance(signature, str):
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        VerifyKey(verify_key).verify(canonical(manifest), raw)
    except (binascii.Error, BadSignatureError, ValueError):
        return False
    return True


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The file as written: readable indentation; the signature does not depend on the layout."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signing_key(seed_base64: str) -> SigningKey:
    """EXPORT_SIGNING_KEY is base64 of a 32-byte Ed25519 seed (CONTRACT.md)."""
    try:
        seed = base64.b64decode(seed_base64.strip(), validate=True)
    except binascii.Error as error:
        raise ExportKeyError("EXPORT_SIGNING_KEY is not base64") from error
    if len(seed) != 32:
        raise ExportKeyError(f"EXPORT_SIGNING_KEY must be base64 of a 32-byte seed, not of {len(seed)} bytes")
    return SigningKey(seed)


def fingerprint(verify_key: bytes) -> str:
    """What a person compares before trusting a key: SHA-256 of the raw key in unpadded base64, as OpenSSH shows
    host keys."""
    digest = hashlib.sha256(verify_key).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def verify_key_text(verify_key: bytes, instance: str) -> str:
    """What the stable URL serves and what `--key-file` reads back."""
    return (
        f"# Quorum export verify key (Ed25519) of {instance}\n"
        f"base64: {base64.b64encode(verify_key).decode('ascii')}\n"
        f"hex: {verify_key.hex()}\n"
        f"fingerprint: {fingerprint(verify_key)}\n"
    )


def parse_verify_key(text: str) -> bytes:
    """A verify key from a file: the text served at the stable URL, or one line of hex or base64."""
    found: set[bytes] = set()
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line or line.startswith("fingerprint:"):
            continue  # the fingerprint names a key; it is not one
        token = line.split()[-1]
        if re.fullmatch(r"[0-9a-fA-F]{64}", token):
            found.add(bytes.fromhex(token))
            continue
        try:
            decoded = base64.b64decode(token, validate=True)
        except binascii.Error:
            raise ExportKeyError(f"cannot read a key from {raw_line.strip()!r}") from None
        if len(decoded) != 32:
            raise ExportKeyError(f"{raw_line.strip()!r} is not a 32-byte key")
        found.add(decoded)
    if not found:
        raise ExportKeyError("the key file holds no key")
    if len(found) > 1:
        raise ExportKeyError("the key file holds two different keys")
    return found.pop()
