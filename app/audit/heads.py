"""Signed heads: the audit chain's newest entry (id and hash) signed with the instance's Ed25519 key and kept where
the database cannot change it: in every export's manifest, in an append-only file under AUDIT_HEADS_DIR, and in the
application log (docs/decisions/004-audit-signed-heads.md).

Whoever can write the database can rewrite the log and recompute every hash; they cannot sign a head for the rewritten
log without the instance's key, nor reach the copies already written elsewhere. `audit verify` holds the chain
against every head it is given: a head whose entry is gone, or whose hash no longer matches, names that entry.

A head is one JSON object: `{"entry":..,"format":"quorum-audit-head/1","hash":..,"instance":..,"signature":..,
"signed_at":..,"verify_key":..}`. The signature covers `CONTEXT` followed by the canonical JSON (keys sorted, no
spaces, UTF-8) of every key but `signature`: the prefix keeps a head's signature from ever passing for a manifest's,
which the same key signs.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ..models import utcnow
from .log import Checkpoint, committed_head

FORMAT = "quorum-audit-head/1"
CONTEXT = b"quorum-audit-head/1\x00"
HEADS_FILE = "heads.jsonl"
MANIFEST_KEY = "audit_head"
_HEX64 = frozenset("0123456789abcdef")

logger = logging.getLogger("quorum.audit")
logger.setLevel(logging.INFO)  # a signed head is always logged: it is one of the copies kept outside the database


class HeadError(ValueError):
    """A signed head that cannot be read; the message says why."""


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_hex(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and set(value) <= _HEX64


@dataclass(frozen=True)
class SignedHead:
    """The newest entry of the log at `signed_at`, as the instance's key vouches for it."""

    entry_id: int
    entry_hash: str
    signed_at: str
    instance: str
    verify_key: str
    signature: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "instance": self.instance,
            "entry": self.entry_id,
            "hash": self.entry_hash,
            "signed_at": self.signed_at,
            "verify_key": self.verify_key,
        }

    def message(self) -> bytes:
        """What the signature covers."""
        return CONTEXT + json.dumps(self.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def as_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature}

    def line(self) -> str:
        """One line of the heads file (and of the log)."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def signed_by(self, keys: Collection[bytes]) -> bool:
        """True when one of these keys (the ones trusted, not the one the head names) made the signature."""
        if not _is_hex(self.verify_key, 64) or bytes.fromhex(self.verify_key) not in keys:
            return False
        try:
            VerifyKey(bytes.fromhex(self.verify_key)).verify(
                self.message(), base64.b64decode(self.signature, validate=True)
            )
        except (binascii.Error, BadSignatureError, ValueError):
            return False
        return True

    @classmethod
    def from_dict(cls, data: object) -> SignedHead:
        if not isinstance(data, dict):
            raise HeadError("is not a JSON object")
        if data.get("format") != FORMAT:
            raise HeadError(f"is not a {FORMAT} head")
        entry = data.get("entry")
        if not isinstance(entry, int) or isinstance(entry, bool) or entry < 1:
            raise HeadError("has no entry id")
        if not _is_hex(data.get("hash"), 64):
            raise HeadError("has no entry hash")
        if not all(isinstance(data.get(k), str) for k in ("signed_at", "instance", "verify_key", "signature")):
            raise HeadError("lacks signed_at, instance, verify_key or signature")
        return cls(entry, data["hash"], data["signed_at"], data["instance"], data["verify_key"], data["signature"])


def sign_head(entry_id: int, entry_hash: str, key: SigningKey, instance: str, now: datetime) -> SignedHead:
    unsigned = SignedHead(entry_id, entry_hash, _timestamp(now), instance, bytes(key.verify_key).hex())
    signature = base64.b64encode(key.sign(unsigned.message()).signature).decode("ascii")
    return SignedHead(entry_id, entry_hash, unsigned.signed_at, instance, unsigned.verify_key, signature)


def heads_file(folder: Path) -> Path:
    return folder / HEADS_FILE


def append_head(folder: Path, head: SignedHead) -> Path:
    """Add one line at the end of the heads file (opened for appending only), flushed to disk before returning."""
    folder.mkdir(parents=True, exist_ok=True)
    path = heads_file(folder)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (head.line() + "\n").encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path


def publish_head(
    head: tuple[int, str] | None, key: SigningKey, instance: str, folder: Path, now: datetime, occasion: str
) -> SignedHead | None:
    """Sign the head and write it to the heads file and the log; None for an empty log (nothing to vouch for)."""
    if head is None:
        return None
    signed = sign_head(head[0], head[1], key, instance, now)
    append_head(folder, signed)
    if not logger.hasHandlers():  # no logging set up (a plain gunicorn): the line still reaches stderr
        logger.addHandler(logging.StreamHandler())
    logger.info("audit head signed (%s): %s", occasion, signed.line())
    return signed


@dataclass
class HeadsRead:
    """Heads read from files, each with where it came from, and what could not be read."""

    heads: list[tuple[SignedHead, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def extend(self, other: HeadsRead) -> None:
        self.heads.extend(other.heads)
        self.problems.extend(other.problems)
        self.notes.extend(other.notes)


def read_heads_file(path: Path) -> HeadsRead:
    """Every line of a heads file; a line that is not a signed head is a problem (the file was tampered with)."""
    read = HeadsRead()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        read.problems.append(f"cannot read the heads file {path}: {error}")
        return read
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            head = SignedHead.from_dict(json.loads(line))
        except (ValueError, HeadError) as error:
            read.problems.append(f"{path} line {number} {error if isinstance(error, HeadError) else 'is not JSON'}")
            continue
        read.heads.append((head, f"the head signed {head.signed_at} ({path.name} line {number})"))
    return read


def _manifests(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if (path / "manifest.json").is_file():
        return [path / "manifest.json"]
    return sorted(path.rglob("manifest.json"))


def read_manifest_heads(path: Path) -> HeadsRead:
    """The head in an export's manifest: `path` is a manifest.json, an export folder, or a folder of exports."""
    read = HeadsRead()
    found = _manifests(path) if path.exists() else []
    if not found:
        read.problems.append(f"no export manifest at {path}")
    for manifest in found:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            read.problems.append(f"cannot read {manifest}: {error}")
            continue
        raw = data.get(MANIFEST_KEY) if isinstance(data, dict) else None
        if raw is None:
            read.notes.append(f"{manifest} holds no audit head (made before heads were signed, or the log was empty)")
            continue
        try:
            head = SignedHead.from_dict(raw)
        except HeadError as error:
            read.problems.append(f"the audit head in {manifest} {error}")
            continue
        read.heads.append((head, f"the head signed {head.signed_at} (export manifest {manifest})"))
    return read


def trusted_checkpoints(read: HeadsRead, keys: Collection[bytes]) -> tuple[list[Checkpoint], list[str]]:
    """The heads as checkpoints for `verify_chain`; a head not signed by a trusted key is a problem, never used."""
    checkpoints: list[Checkpoint] = []
    problems: list[str] = []
    for head, source in read.heads:
        if head.signed_by(keys):
            checkpoints.append(Checkpoint(head.entry_id, head.entry_hash, source))
        else:
            problems.append(f"{source} (entry {head.entry_id}) is not signed by a trusted key: forged or damaged")
    return checkpoints, problems


def newest_head(path: Path, tail: int = 8192) -> SignedHead | None:
    """The last readable head of a heads file, read from its end (the staff page checks it on every view)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - tail))
            lines = handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return SignedHead.from_dict(json.loads(line))
        except (ValueError, HeadError):
            continue
    return None


def source_of(head: SignedHead, path: Path) -> str:
    return f"the head signed {head.signed_at} ({path.name})"


def sign_current_head(occasion: str) -> SignedHead | None:
    """At every export and from `audit sign-head`: the committed head signed with the instance's export key, written
    to the heads file and the log. The app's settings give the key, the instance's name and the folder."""
    from flask import current_app

    from ..exports.keys import instance_name, instance_signing_key

    folder = Path(current_app.config["AUDIT_HEADS_DIR"])
    return publish_head(committed_head(), instance_signing_key(), instance_name(), folder, utcnow(), occasion)


def head_for_manifest() -> dict[str, Any] | None:
    """What an export's manifest carries under `audit_head` (signed again by the manifest's own signature)."""
    head = sign_current_head("export")
    return head.as_dict() if head is not None else None
