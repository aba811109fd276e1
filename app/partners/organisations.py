"""Partner organisations on the staff side: adding and editing them (audited), their keys, their report links.

A partner's code is what its links carry (`/i/<slug>/sign?partner=eu-digital-rights`): fixed once made, because
links already published must keep counting. Its name, website, logo and public key may change at any time.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from ..audit.log import record
from ..extensions import db
from ..models import Initiative, Partner, PartnerCountry, PartnerHandover, PartnerOptIn, Statement
from .logos import Logo

CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
"""Lower-case letters, digits and inner hyphens, at most 40: a code reads well in a link and needs no escaping."""

REPORT_SALT = "quorum.partner.report"


class PartnerError(ValueError):
    """The partner cannot be saved as asked: one message per form field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def find_partner(initiative: Initiative, code: str | None) -> Partner | None:
    """The initiative's partner with this code; None for no code, or a code it does not have."""
    code = (code or "").strip().lower()
    if not code or not CODE.match(code):
        return None
    return db.session.scalar(sa.select(Partner).where(Partner.initiative_id == initiative.id, Partner.code == code))


def partner_by_id(initiative: Initiative, partner_id: int) -> Partner | None:
    return db.session.scalar(sa.select(Partner).where(Partner.id == partner_id, Partner.initiative_id == initiative.id))


def partners_of(initiative: Initiative) -> list[Partner]:
    """The initiative's partners by name."""
    return list(
        db.session.scalars(
            sa.select(Partner).where(Partner.initiative_id == initiative.id).order_by(sa.func.lower(Partner.name))
        )
    )


def _web_address(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(ch.isspace() for ch in text)


def _clean_text(value: str, limit: int, errors: dict[str, str], name: str) -> str:
    value = " ".join((value or "").split())
    if len(value) > limit:
        errors[name] = _("at most %(n)d characters", n=limit)
    elif any(unicodedata.category(ch) == "Cc" for ch in value):
        errors[name] = _("remove the control characters")
    return value


def parse_public_key(text: str) -> bytes:
    """A partner's public key as `partners keygen` prints it: base64 (or hex) of 32 bytes; ValueError if not."""
    token = "".join((text or "").split())
    if re.fullmatch(r"[0-9a-fA-F]{64}", token):
        return bytes.fromhex(token)
    try:
        key = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64") from error
    if len(key) != 32 or key == bytes(32):
        raise ValueError("not a 32-byte public key")
    return key


@dataclass(frozen=True)
class PartnerFields:
    """What the staff form sent, cleaned: None where a field was not sent (it is then left as it is)."""

    name: str | None = None
    website: str | None = None
    public_key: bytes | None = None


def check_fields(form: Mapping[str, str], *, new: bool) -> tuple[str, PartnerFields]:
    """(code, fields) from the staff form; PartnerError names each wrong field. The code is read for a new partner
    only."""
    errors: dict[str, str] = {}
    code = ""
    if new:
        code = (form.get("code") or "").strip().lower()
        if not CODE.match(code):
            errors["code"] = _(
                "Use 1 to 40 lower-case letters, digits and hyphens, starting and ending with a letter or digit, "
                "like eu-digital-rights."
            )
    name = _clean_text(form.get("name", ""), 200, errors, "name")
    if not name and "name" not in errors:
        errors["name"] = _("Give the organisation's name.")
    website = (form.get("website") or "").strip()
    if len(website) > 500:
        errors["website"] = _("at most %(n)d characters", n=500)
    elif website and not _web_address(website):
        errors["website"] = _("enter a whole web address, starting with https://")
    public_key = None
    if (form.get("public_key") or "").strip():
        try:
            public_key = parse_public_key(form.get("public_key", ""))
        except ValueError:
            errors["public_key"] = _(
                "This is not a public key: paste the line `partners keygen` printed after “public key:”."
            )
    if errors:
        raise PartnerError(errors)
    return code, PartnerFields(name=name, website=website, public_key=public_key)


def key_text(key: bytes | None) -> str | None:
    return base64.b64encode(key).decode("ascii") if key is not None else None


def create_partner(
    initiative: Initiative, code: str, fields: PartnerFields, logo: Logo | None, *, actor: str, now: datetime
) -> Partner:
    """A new partner of the initiative (audited); PartnerError if the code is taken."""
    if find_partner(initiative, code) is not None:
        raise PartnerError({"code": _("This initiative has a partner with this code already.")})
    partner = Partner(
        initiative_id=initiative.id,
        code=code,
        name=fields.name or code,
        website=fields.website or "",
        public_key=fields.public_key,
        logo=logo.png if logo else None,
        logo_sha256=logo.sha256 if logo else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(partner)
    db.session.flush()
    record(
        actor,
        "partner.create",
        initiative=initiative,
        target=f"partner {code}",
        details={
            "code": code,
            "name": partner.name,
            "website": partner.website,
            "logo_sha256": partner.logo_sha256,
            "public_key": key_text(partner.public_key),
        },
    )
    return partner


def update_partner(
    initiative: Initiative, partner: Partner, fields: PartnerFields, logo: Logo | None, *, actor: str
) -> dict[str, list[object]]:
    """Change what the form changed (audited with before and after); returns the changes."""
    changes: dict[str, list[object]] = {}
    for name in ("name", "website"):
        value = getattr(fields, name)
        if value is not None and value != getattr(partner, name):
            changes[name] = [getattr(partner, name), value]
            setattr(partner, name, value)
    if fields.public_key is not None and fields.public_key != partner.public_key:
        changes["public_key"] = [key_text(partner.public_key), key_text(fields.public_key)]
        partner.public_key = fields.public_key
    if logo is not None and logo.sha256 != partner.logo_sha256:
        changes["logo_sha256"] = [partner.logo_sha256, logo.sha256]
        partner.logo, partner.logo_sha256 = logo.png, logo.sha256
    if changes:
        record(
            actor,
            "partner.update",
            initiative=initiative,
            target=f"partner {partner.code}",
            details={"code": partner.code, "changes": changes},
        )
    return changes


def brought_anything(partner: Partner) -> bool:
    """Whether any statement, counter, address or hand-over names the partner: then it stays (its counts too)."""
    for model, column in (
        (Statement, Statement.partner_id),
        (PartnerCountry, PartnerCountry.partner_id),
        (PartnerOptIn, PartnerOptIn.partner_id),
        (PartnerHandover, PartnerHandover.partner_id),
    ):
        if db.session.scalar(sa.select(sa.literal(1)).select_from(model).where(column == partner.id).limit(1)):
            return True
    return False


def delete_partner(initiative: Initiative, partner: Partner, reason: str, *, actor: str) -> None:
    """Remove a partner added by mistake (audited); PartnerError once it has brought anything."""
    reason = (reason or "").strip()
    if not reason:
        raise PartnerError({"reason": _("Write down why: a reason is required.")})
    if brought_anything(partner):
        raise PartnerError(
            {"reason": _("This partner has brought statements or addresses: it stays, so that its counts do.")}
        )
    record(
        actor,
        "partner.delete",
        initiative=initiative,
        target=f"partner {partner.code}",
        reason=reason,
        details={"code": partner.code, "name": partner.name},
    )
    db.session.delete(partner)
    db.session.flush()


# --- the partner's own page: a link that needs no account ----------------------------------------------------------


def _report_serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=REPORT_SALT)


def report_token(secret_key: str, partner: Partner) -> str:
    """The token of the partner's page; a new `report_version` ends every earlier one."""
    return str(_report_serializer(secret_key).dumps({"p": partner.id, "v": partner.report_version}))


def partner_for_report(secret_key: str, token: str) -> Partner | None:
    """The partner a report token names, if the token is genuine and still current."""
    try:
        payload = _report_serializer(secret_key).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("p"), int) or not isinstance(payload.get("v"), int):
        return None
    partner = db.session.get(Partner, payload["p"])
    if partner is None or partner.report_version != payload["v"]:
        return None
    return partner


def renew_report_link(initiative: Initiative, partner: Partner, *, actor: str) -> None:
    """End the partner's page link (e.g. it was forwarded too widely) and make a new one (audited)."""
    partner.report_version = Partner.report_version + 1  # type: ignore[assignment]  # atomic, in SQL
    db.session.flush()
    db.session.refresh(partner)
    record(actor, "partner.report_link", initiative=initiative, target=f"partner {partner.code}")
