"""Which sites may frame an initiative's embeddable form and counter: a list of origins kept per initiative, written
into `Content-Security-Policy: frame-ancestors` of those pages only. Every other page stays unframeable
(`frame-ancestors 'none'` and `X-Frame-Options: DENY`, app/__init__.py).

An origin is written exactly as a browser sends it (`https://www.example.org`, a port where it is not the scheme's
own): scheme, host and port, nothing else. Only the characters of a host name, so nothing typed on the staff page can
add a directive to the header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from ..audit.log import record
from ..extensions import db
from ..models import FrameOrigin, Initiative

MAX_ORIGINS = 100
HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginsError(ValueError):
    """The staff form's list cannot be saved; the message says why, for the staff member."""


def parse_origin(text: str) -> str | None:
    """`https://Partner.example.org/` -> `https://partner.example.org`; None for anything that is not an origin
    (a path, a query, a user name, a wildcard, another scheme). Non-ASCII host names are written as IDNA."""
    text = text.strip()
    if not text or any(ch.isspace() or ch in ";,'\"*" for ch in text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if parts.username or parts.password or not parts.hostname:
        return None
    try:
        host = parts.hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if not HOST.match(host):
        return None
    shown_port = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{shown_port}"


def parse_origins(text: str) -> list[str]:
    """One origin a line (commas and spaces separate too); OriginsError names every line that is not one."""
    found: list[str] = []
    wrong: list[str] = []
    for raw in re.split(r"[\s,]+", text or ""):
        if not raw:
            continue
        origin = parse_origin(raw)
        if origin is None:
            wrong.append(raw[:80])
        elif origin not in found:
            found.append(origin)
    if wrong:
        raise OriginsError(
            _(
                "Not an origin: %(lines)s. Write each site as https://www.example.org, without a path.",
                lines=", ".join(wrong),
            )
        )
    if len(found) > MAX_ORIGINS:
        raise OriginsError(
            ngettext(
                "At most %(n)s site may frame the form.",
                "At most %(n)s sites may frame the form.",
                MAX_ORIGINS,
                n=format_decimal(MAX_ORIGINS),
            )
        )
    return found


def origins_of(initiative_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(FrameOrigin.origin).where(FrameOrigin.initiative_id == initiative_id).order_by(FrameOrigin.origin)
        )
    )


@dataclass(frozen=True)
class OriginChanges:
    added: list[str]
    removed: list[str]


def set_origins(initiative: Initiative, origins: list[str], *, actor: str) -> OriginChanges:
    """Make the list exactly `origins` (audited with what was added and removed)."""
    before = set(origins_of(initiative.id))
    wanted = set(origins)
    changes = OriginChanges(sorted(wanted - before), sorted(before - wanted))
    if changes.removed:
        db.session.execute(
            sa.delete(FrameOrigin)
            .where(FrameOrigin.initiative_id == initiative.id, FrameOrigin.origin.in_(changes.removed))
            .execution_options(synchronize_session=False)
        )
    db.session.add_all(FrameOrigin(initiative_id=initiative.id, origin=origin) for origin in changes.added)
    db.session.flush()
    if changes.added or changes.removed:
        record(
            actor,
            "embed.origins",
            initiative=initiative,
            target=initiative.slug,
            details={"added": changes.added, "removed": changes.removed, "origins": sorted(wanted)},
        )
    return changes


def frame_ancestors(initiative_id: int | None) -> str:
    """The `frame-ancestors` sources of an embeddable page: this site, and the initiative's listed origins."""
    origins = origins_of(initiative_id) if initiative_id is not None else []
    return " ".join(["'self'", *origins])
