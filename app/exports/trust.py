"""Export keys trusted on the auditor's machine: pinned on first use, once the auditor has compared fingerprints.

`export verify` and `export open` check a manifest against a key they trust for its instance, never against the
key the manifest names (a forger re-signs with a key of their own and names that). Trusted are: `--key-file` (the
key published at /admin/export-key), the instance's own EXPORT_SIGNING_KEY on the server, or a key pinned here.

The pins are a text file of this user's, like OpenSSH's known_hosts: `$QUORUM_EXPORT_PINS` if set, else
`$XDG_CONFIG_HOME/quorum/export-keys`, else `~/.config/quorum/export-keys`. One line per instance:

    https://sign.example.org 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29 2026-11-30T09:00:00Z

(the instance as manifests name it, the Ed25519 key as 64 hex digits, when it was pinned); `#` starts a comment.
Nothing here pins a key by itself: the command line adds a pin only after the auditor said yes to its fingerprint.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .manifest import timestamp

PINS_VARIABLE = "QUORUM_EXPORT_PINS"
HEADER = "# Quorum export keys pinned on this machine (flask --app wsgi export trust): instance, key, when\n"
_KEY = re.compile(r"^[0-9a-f]{64}$")
MAX_INSTANCE = 500


class PinsError(ValueError):
    """The pins file cannot be read or written; the message says why."""


@dataclass(frozen=True)
class Pin:
    instance: str
    verify_key: bytes
    pinned_at: str


def pins_path() -> Path:
    """Where this user's pins live (read at every call: a test or a second profile sets the variable)."""
    explicit = os.environ.get(PINS_VARIABLE, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(config) / "quorum" / "export-keys"


def pinnable(instance: str) -> bool:
    """An instance name that fits on one line of the file: a manifest's name is the signer's to choose."""
    blank = any(c.isspace() for c in instance)
    return 0 < len(instance) <= MAX_INSTANCE and instance.isprintable() and not blank and "#" not in instance


def read_pins(path: Path) -> dict[str, Pin]:
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PinsError(f"cannot read the pinned export keys in {path}: {error}") from error
    pins: dict[str, Pin] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) not in (2, 3) or not _KEY.match(parts[1]):
            raise PinsError(f"{path}, line {number}: expected an instance, a 64-hex-digit key and a date")
        pins[parts[0]] = Pin(parts[0], bytes.fromhex(parts[1]), parts[2] if len(parts) == 3 else "")
    return pins


def find_pin(instance: str, path: Path | None = None) -> Pin | None:
    return read_pins(path or pins_path()).get(instance)


def add_pin(instance: str, verify_key: bytes, now: datetime, path: Path | None = None) -> Pin:
    """Pin (or re-pin) the key of one instance; the file is replaced whole, so a crash leaves the old one."""
    if not pinnable(instance):
        raise PinsError(f"the instance name {instance!r} cannot be pinned (empty, too long, or with blanks or #)")
    path = path or pins_path()
    pins = read_pins(path)
    pin = Pin(instance, verify_key, timestamp(now))
    pins[instance] = pin
    body = HEADER + "".join(f"{p.instance} {p.verify_key.hex()} {p.pinned_at}\n" for p in pins.values())
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(prefix=".export-keys.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise PinsError(f"cannot write the pinned export keys to {path}: {error}") from error
    return pin
