"""Handing a partner the addresses that asked for its updates: sealed to the partner's public key, with a manifest
signed by the instance's export key, as exports are (app/exports/manifest.py); scrubbed here in the same transaction.

The download is one `.zip` holding `manifest.json` and `addresses.sealed`: one line per address, the base64 of a
libsodium SealedBox of `{"email": ..., "language": ..., "opted_in_at": ...}`. The server can seal, never open. The
partner checks and opens it offline (`flask --app wsgi partners open FILE --key KEY --out CSV`): the manifest's
signature and signer, the file's SHA-256 and line count, and that its private key is the one the file was sealed to.
Nothing is written unless every check passes and every line opens.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey
from sqlalchemy.orm import defer

from ..audit.log import record
from ..database import forget_scrubbed
from ..exports.manifest import manifest_bytes, sha256_hex, sign, timestamp
from ..exports.verify import VerifyReport, check_signature
from ..extensions import db
from ..models import Initiative, Partner, PartnerHandover, PartnerOptIn
from .optins import due

FORMAT = "quorum-partner-handover/1"
MANIFEST_NAME = "manifest.json"
SEALED_NAME = "addresses.sealed"
CSV_COLUMNS = ("email", "language", "opted_in_at")
MAX_MEMBER_BYTES = 512 * 1024 * 1024  # what `open` reads out of a zip: a forged archive cannot fill the disk


class HandoverError(ValueError):
    """A hand-over cannot be made or opened as asked; the message says why."""


# --- the server's side ---------------------------------------------------------------------------------------------


def _sealed_line(box: SealedBox, email: str, locale: str, opted_in_at: datetime) -> bytes:
    record_ = {"email": email, "language": locale, "opted_in_at": timestamp(opted_in_at)}
    plaintext = json.dumps(record_, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.b64encode(box.encrypt(plaintext)) + b"\n"


def create_handover(
    initiative: Initiative,
    partner: Partner,
    *,
    actor: str,
    now: datetime,
    signing_key: SigningKey,
    instance: str,
) -> PartnerHandover:
    """Seal every confirmed address waiting for this partner, sign the manifest, scrub the addresses, audit it.

    One guarded UPDATE claims the addresses (a hand-over made at the same moment cannot take them too), the next
    empties them: from the commit on, only the holder of the partner's private key can read them.
    """
    if partner.public_key is None:
        raise HandoverError(_("Add the partner's public key first: addresses are only handed over sealed to it."))
    handover = PartnerHandover(
        partner_id=partner.id, created_at=now, created_by=actor, manifest=b"", manifest_sha256="", addresses=0
    )
    db.session.add(handover)
    db.session.flush()
    claimed = db.session.execute(
        sa.update(PartnerOptIn)
        .where(due(partner.id))
        .values(handed_over_at=now, handover_id=handover.id)
        .returning(PartnerOptIn.id, PartnerOptIn.email, PartnerOptIn.locale, PartnerOptIn.created_at)
        .execution_options(synchronize_session=False)
    ).all()
    if not claimed:
        raise HandoverError(_("No address is waiting to be handed over to this partner."))
    box = SealedBox(PublicKey(partner.public_key))
    sealed = b"".join(
        _sealed_line(box, email, locale, created_at)
        for _id, email, locale, created_at in sorted(claimed, key=lambda row: row[0])
    )
    forget_scrubbed()
    db.session.execute(
        sa.update(PartnerOptIn)
        .where(PartnerOptIn.handover_id == handover.id)
        .values(email="")
        .execution_options(synchronize_session=False)
    )
    manifest = sign(
        {
            "format": FORMAT,
            "instance": instance,
            "initiative": {"slug": initiative.slug, "title": initiative.title},
            "partner": {"code": partner.code, "name": partner.name},
            "partner_public_key": partner.public_key.hex(),
            "handover": handover.id,
            "created_at": timestamp(now),
            "created_by": actor,
            "file": SEALED_NAME,
            "addresses": len(claimed),
            "sha256": sha256_hex(sealed),
        },
        signing_key,
    )
    data = manifest_bytes(manifest)
    handover.manifest, handover.manifest_sha256 = data, sha256_hex(data)
    handover.sealed, handover.addresses = sealed, len(claimed)
    db.session.flush()
    record(
        actor,
        "partner.handover",
        initiative=initiative,
        target=f"partner {partner.code}",
        details={
            "handover": handover.id,
            "addresses": len(claimed),
            "manifest_sha256": handover.manifest_sha256,
            "partner_public_key": partner.public_key.hex(),
        },
    )
    return handover


def handovers_of(partner: Partner) -> list[PartnerHandover]:
    """The partner's hand-overs, newest first, without their sealed bytes (the list shows no file)."""
    return list(
        db.session.scalars(
            sa.select(PartnerHandover)
            .where(PartnerHandover.partner_id == partner.id)
            .order_by(PartnerHandover.id.desc())
            .options(defer(PartnerHandover.sealed), defer(PartnerHandover.manifest))
        )
    )


def find_handover(partner: Partner, handover_id: int) -> PartnerHandover | None:
    return db.session.scalar(
        sa.select(PartnerHandover).where(PartnerHandover.id == handover_id, PartnerHandover.partner_id == partner.id)
    )


def handover_zip(handover: PartnerHandover, folder: str) -> bytes:
    """The download: the manifest and the sealed file under `folder/`."""
    assert handover.sealed is not None
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/{MANIFEST_NAME}", handover.manifest)
        archive.writestr(f"{folder}/{SEALED_NAME}", handover.sealed)
    return out.getvalue()


# --- the partner's side: no database, no server --------------------------------------------------------------------


@dataclass
class HandoverReport:
    """What checking a hand-over found: problems (it must not be opened) and notes."""

    source: Path
    manifest: dict[str, Any] | None = None
    sealed: bytes = b""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest is not None


def _read_members(source: Path) -> tuple[bytes | None, bytes | None]:
    """The manifest and the sealed file from the downloaded .zip, or from a folder it was unpacked into."""
    if source.is_dir():
        manifest, sealed = source / MANIFEST_NAME, source / SEALED_NAME
        return (
            manifest.read_bytes() if manifest.is_file() else None,
            sealed.read_bytes() if sealed.is_file() else None,
        )
    found: dict[str, bytes] = {}
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if name in (MANIFEST_NAME, SEALED_NAME) and not info.is_dir():
                if name in found:
                    raise HandoverError(f"{source}: holds {name} twice")
                if info.file_size > MAX_MEMBER_BYTES:
                    raise HandoverError(f"{source}: {name} is larger than any hand-over")
                found[name] = archive.read(info)
    return found.get(MANIFEST_NAME), found.get(SEALED_NAME)


def verify_handover(
    source: Path, known_key: bytes | None, known_key_source: str = "the published key"
) -> HandoverReport:
    """The manifest's signature and signer, the sealed file's SHA-256 and line count; without any private key."""
    report = HandoverReport(source)
    try:
        manifest_data, sealed = _read_members(source)
    except (OSError, zipfile.BadZipFile, HandoverError) as error:
        report.problems.append(f"{source} cannot be read: {error}")
        return report
    if manifest_data is None or sealed is None:
        missing = [n for n, d in ((MANIFEST_NAME, manifest_data), (SEALED_NAME, sealed)) if d is None]
        report.problems.append(f"{source} has no {' and no '.join(missing)}")
        return report
    try:
        manifest = json.loads(manifest_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        report.problems.append(f"{MANIFEST_NAME} is not JSON")
        return report
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.problems.append(f"{MANIFEST_NAME} is not a Quorum partner hand-over ({FORMAT})")
        return report
    signature = VerifyReport(source)
    check_signature(signature, manifest, known_key, known_key_source)
    report.problems += signature.problems
    report.notes += signature.notes
    if manifest.get("sha256") != sha256_hex(sealed):
        report.problems.append(f"{SEALED_NAME}: its SHA-256 is not the manifest's (the file was changed)")
    lines = sealed.count(b"\n")
    if manifest.get("addresses") != lines:
        report.problems.append(f"{SEALED_NAME}: {lines} addresses, the manifest says {manifest.get('addresses')}")
    report.manifest, report.sealed = manifest, sealed
    return report


@dataclass(frozen=True)
class Opened:
    out: Path
    addresses: int
    partner: str


def open_handover(
    source: Path, private_key: bytes, out: Path, known_key: bytes | None, known_key_source: str
) -> Opened:
    """Verify, decrypt every line, and only then write the CSV (a new file, mode 0600) at `out`."""
    if out.exists():
        raise HandoverError(f"{out} exists already; choose a new file name")
    if not out.parent.is_dir():
        raise HandoverError(f"the folder {out.parent} does not exist")
    report = verify_handover(source, known_key, known_key_source)
    if not report.ok:
        raise HandoverError("; ".join(report.problems))
    manifest = report.manifest
    assert manifest is not None
    public = bytes(PrivateKey(private_key).public_key).hex()
    if public != manifest.get("partner_public_key"):
        raise HandoverError(
            f"this private key (public half {public}) is not the key the addresses were sealed to "
            f"({manifest.get('partner_public_key')})"
        )
    box = SealedBox(PrivateKey(private_key))
    rows: list[list[str]] = []
    for number, line in enumerate(report.sealed.splitlines(), start=1):
        try:
            item = json.loads(box.decrypt(base64.b64decode(line, validate=True)).decode("utf-8"))
        except (CryptoError, binascii.Error, ValueError) as error:
            raise HandoverError(f"{SEALED_NAME}: line {number} cannot be opened with this private key") from error
        rows.append([str(item.get(column, "")) for column in CSV_COLUMNS])
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as target:
            target.write(text.getvalue())
        os.chmod(temporary, 0o600)
        os.link(temporary, out)  # fails rather than replace a file made meanwhile
    finally:
        os.unlink(temporary)
    return Opened(out, len(rows), str((manifest.get("partner") or {}).get("code", "")))
