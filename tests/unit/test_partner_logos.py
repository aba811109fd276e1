"""A logo is taken by its first bytes, within the cap, and stored as a fresh PNG with nothing of the upload but its
pixels (no metadata, no trailing bytes)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.partners.logos import MAX_BYTES, MAX_SIDE, LogoRefused, checked_logo, sniff

from ..support.partners import image_bytes

# The signatures as their specifications give them (PNG: ISO/IEC 15948 5.2; JPEG: ITU T.81 SOI; WebP: RIFF....WEBP)
PNG_SIGNATURE = bytes([137, 80, 78, 71, 13, 10, 26, 10])


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PNG_SIGNATURE + b"rest", "PNG"),
        (b"\xff\xd8\xff\xe0rest", "JPEG"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"GIF89a", None),
        (b"BM", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),  # a RIFF that is not WebP
        (b"\x89PNG", None),  # cut short
        (b"", None),
    ],
)
def test_the_format_comes_from_the_first_bytes(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_png_jpeg_and_webp_become_a_png(kind: str) -> None:
    logo = checked_logo(image_bytes(kind))
    assert logo.png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(logo.png)) as image:
        assert image.format == "PNG" and image.size == (40, 20)


@pytest.mark.parametrize("kind", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_refused(kind: str) -> None:
    with pytest.raises(LogoRefused) as refused:
        checked_logo(image_bytes(kind))
    assert refused.value.message == "The logo must be a PNG, JPEG or WebP image."


def test_a_script_named_like_an_image_is_refused() -> None:
    with pytest.raises(LogoRefused):
        checked_logo(b"<script>alert(1)</script>")


def test_a_file_that_starts_like_a_png_but_is_not_one_is_refused() -> None:
    with pytest.raises(LogoRefused) as refused:
        checked_logo(PNG_SIGNATURE + b"<html><script>alert(1)</script></html>")
    assert refused.value.message == "The logo could not be read as an image."


def test_a_jpeg_that_claims_to_be_png_is_read_as_what_its_bytes_say() -> None:
    """The name and the browser's content type never count: a JPEG is decoded as a JPEG whatever it was called."""
    logo = checked_logo(image_bytes("JPEG"))
    assert logo.png.startswith(PNG_SIGNATURE)


def test_the_size_cap() -> None:
    with pytest.raises(LogoRefused) as refused:
        checked_logo(PNG_SIGNATURE + bytes(MAX_BYTES))
    assert refused.value.params == {"kb": MAX_BYTES // 1024}
    with pytest.raises(LogoRefused):
        checked_logo(b"")


def test_a_large_picture_is_shrunk_and_a_decompression_bomb_refused() -> None:
    logo = checked_logo(image_bytes("PNG", size=(2000, 500)))
    assert (logo.width, logo.height) == (MAX_SIDE, 100)
    bomb = image_bytes("PNG", size=(9000, 9000))  # 81 megapixels of one colour: a few kilobytes compressed
    assert len(bomb) < MAX_BYTES
    with pytest.raises(LogoRefused):
        checked_logo(bomb)


def test_metadata_and_trailing_bytes_do_not_survive() -> None:
    exif = Image.Exif()
    exif[0x010E] = "GPS 52.52N 13.40E secret place"  # ImageDescription
    upload = image_bytes("JPEG", exif=exif.tobytes()) + b"<script>alert(1)</script>"
    assert b"secret place" in upload
    logo = checked_logo(upload)
    assert b"secret place" not in logo.png and b"<script>" not in logo.png
