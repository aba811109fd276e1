"""A partner's logo: an uploaded image checked by its first bytes (never its name or the browser's word for it),
within a size cap, then decoded and re-encoded as a small PNG.

Re-encoding keeps nothing of the upload but its pixels: no metadata (a photo's GPS position), no trailing bytes that
would make the file a polyglot, and at most MAX_SIDE pixels a side, so that every logo served from this origin is an
image a browser draws and nothing else. Pillow is told the format the magic bytes named and no other.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image

from ..eci.signer import N_

MAX_BYTES = 256 * 1024  # an upload; a logo for the web is a few tens of kilobytes
MAX_SIDE = 400  # pixels, the longest side of the stored logo
MAX_PIXELS = 40_000_000  # what an upload may decode to before it is shrunk (a decompression bomb is refused)

# The file signatures: PNG (ISO/IEC 15948, 5.2), JPEG (ITU T.81, the SOI marker and the next marker's 0xFF),
# WebP (a RIFF container whose form type is WEBP, Google's "WebP Container Specification").
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class LogoRefused(ValueError):
    """The upload is not a logo we take; `message` is a message id (N_) to translate where it is shown."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Logo:
    png: bytes
    sha256: str
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The format the first bytes name: "PNG", "JPEG", "WEBP", or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def checked_logo(data: bytes) -> Logo:
    """The upload as a PNG of at most MAX_SIDE pixels a side; LogoRefused says why not."""
    if not data:
        raise LogoRefused(N_("Choose an image file."))
    if len(data) > MAX_BYTES:
        raise LogoRefused(N_("The logo is too large: at most %(kb)s KB."), kb=MAX_BYTES // 1024)
    kind = sniff(data)
    if kind is None:
        raise LogoRefused(N_("The logo must be a PNG, JPEG or WebP image."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise LogoRefused(N_("The logo has too many pixels: make it smaller."))
                image.load()
                picture = image.convert("RGBA")
    except LogoRefused:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise LogoRefused(N_("The logo could not be read as an image.")) from error
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    png = out.getvalue()
    return Logo(png, hashlib.sha256(png).hexdigest(), picture.width, picture.height)
