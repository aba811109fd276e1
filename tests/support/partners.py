"""Partner organisations for tests: a partner (with a key pair when asked), a small logo, statements it brought."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from app.extensions import db
from app.models import Initiative, Partner, utcnow
from app.partners.organisations import PartnerFields, create_partner
from app.sealing import generate_key_pair


def make_partner(
    initiative: Initiative, code: str = "eu-digital-rights", name: str = "EU Digital Rights", *, with_key: bool = True
) -> tuple[Partner, bytes]:
    """A partner of the initiative and its private key (b"" without one), committed."""
    private, public = generate_key_pair() if with_key else (b"", None)
    partner = create_partner(
        initiative,
        code,
        PartnerFields(name=name, website="https://edri.example.org", public_key=public),
        None,
        actor="test",
        now=utcnow(),
    )
    db.session.commit()
    return partner, private


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (40, 20), **options: Any) -> bytes:
    """A small image encoded as `kind` (PNG, JPEG, WEBP, GIF, BMP)."""
    out = io.BytesIO()
    Image.new("RGB", size, (11, 92, 173)).save(out, format=kind, **options)
    return out.getvalue()
