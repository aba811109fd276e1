"""Sharing's pure parts: share links, the Mastodon server a signer names, preview text, the card and its cache."""

from __future__ import annotations

import struct
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image, ImageDraw

from app.sharing.card import HEIGHT, WIDTH, CardCache, CardContent, _font, render_card, wrap
from app.sharing.share_links import mastodon_instance, mastodon_share_url, plain_text, share_links

URL = "https://quorum.example.eu/i/clean-air"
ENCODED_URL = "https%3A%2F%2Fquorum.example.eu%2Fi%2Fclean-air"  # every reserved character encoded
TEXT = "Support “Clean air & more” with your signature:"


def test_share_links_are_plain_urls_carrying_the_encoded_page_address() -> None:
    links = {link.key: link.href for link in share_links(URL, TEXT, "Clean air & more")}
    assert set(links) == {"bluesky", "whatsapp", "telegram", "email"}
    expected_base = {
        "bluesky": ("https", "bsky.app", "/intent/compose"),
        "whatsapp": ("https", "wa.me", "/"),
        "telegram": ("https", "t.me", "/share/url"),
        "email": ("mailto", "", ""),
    }
    for key, href in links.items():
        parts = urlsplit(href)
        assert (parts.scheme, parts.netloc, parts.path) == expected_base[key], key
        assert ENCODED_URL in href, key
        assert " " not in href and "&more" not in href, key  # the text's own "&" cannot split the query
    assert parse_qs(urlsplit(links["bluesky"]).query) == {"text": [f"{TEXT} {URL}"]}
    assert parse_qs(urlsplit(links["whatsapp"]).query) == {"text": [f"{TEXT} {URL}"]}
    assert parse_qs(urlsplit(links["telegram"]).query) == {"url": [URL], "text": [TEXT]}
    assert parse_qs(urlsplit(links["email"]).query) == {"subject": ["Clean air & more"], "body": [f"{TEXT} {URL}"]}
    assert "+" not in links["email"]  # RFC 6068: a space is %20 in mailto:, "+" would stay a plus sign


@pytest.mark.parametrize(
    ("typed", "instance"),
    [
        ("mastodon.social", "mastodon.social"),
        ("  Mastodon.Social  ", "mastodon.social"),
        ("https://mastodon.social/", "mastodon.social"),
        ("https://mastodon.social/@someone", "mastodon.social"),
        ("@someone@fosstodon.org", "fosstodon.org"),
        ("someone@social.example.eu", "social.example.eu"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("mastodon.social.", "mastodon.social"),
        ("", None),
        ("localhost", None),
        ("127.0.0.1", None),
        ("mastodon.social:8443", None),
        ("javascript:alert(1)", None),
        ("-bad.example", None),
        ("a..b.example", None),
        ('evil.example"><script>', None),
        ("x" * 64 + ".example", None),
    ],
)
def test_the_mastodon_server_is_a_host_name_or_nothing(typed: str, instance: str | None) -> None:
    assert mastodon_instance(typed) == instance


def test_the_mastodon_link_goes_to_that_servers_share_page() -> None:
    href = mastodon_share_url("fosstodon.org", URL, TEXT)
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "fosstodon.org", "/share")
    assert parse_qs(parts.query) == {"text": [f"{TEXT} {URL}"]} and ENCODED_URL in href


def test_a_preview_description_is_the_summarys_words_without_markdown_or_headings() -> None:
    summary = "# Clean air\n\nEvery child **deserves** [clean air](https://example.org).\n\n- one\n- two"
    assert plain_text(summary) == "Every child deserves clean air. one two"
    assert plain_text("") == ""
    assert plain_text("<b>x</b> plain") == "<b>x</b> plain"  # raw HTML stays text, as the page shows it
    long = plain_text("word " * 100, limit=50)
    assert long.endswith("…") and len(long) <= 50 and not long[:-1].endswith(" ")


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, read by hand (PNG spec, 5.2 and 11.2.2), with its CRC checked."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    assert struct.unpack(">I", png[29:33])[0] == zlib.crc32(png[12:29])
    return struct.unpack(">II", png[16:24])


def _content(count: int, title: str = "Clean air for every school") -> CardContent:
    return CardContent(
        site="quorum.example.eu/i/clean-air",
        title=title,
        count=f"{count:,}",
        count_label="confirmed statements of support",
        goal_line="Goal: 1,000,000 · 0 of 7 member states at their threshold",
        share=count / 1_000_000,
    )


def test_the_card_is_a_1200_by_630_png_that_changes_with_the_count() -> None:
    first, second = render_card(_content(41)), render_card(_content(42))
    assert _png_size(first) == (WIDTH, HEIGHT) == (1200, 630)
    assert first != second
    assert render_card(_content(41)) == first  # a function of what it shows: the cache may keep it


def _drawn(letter: str) -> bytes:
    image = Image.new("L", (60, 60))
    ImageDraw.Draw(image).text((5, 5), letter, font=_font(True, 40), fill=255)
    return image.tobytes()


def test_the_font_draws_greek_and_cyrillic_letters_not_placeholder_boxes() -> None:
    missing = _drawn("\ue000")  # a private-use character: the font's "no such glyph" box
    assert missing != _drawn(" ")
    for letter in "ΩλЖяŁđ":
        assert _drawn(letter) != missing, letter
    long_title = "Ευρωπαϊκή πρωτοβουλία πολιτών για καθαρό αέρα — Европейска гражданска инициатива " * 3
    assert _png_size(render_card(_content(5, long_title))) == (1200, 630)


def test_a_long_word_is_cut_to_fit_a_line() -> None:
    font = _font(False, 30)
    lines = wrap("a " + "x" * 200 + " b", font, 300)
    assert all(font.getlength(line) <= 300 for line in lines) and "".join(lines).count("x") == 200


def test_the_cache_keeps_cards_within_its_bytes_dropping_the_least_recently_used() -> None:
    one = len(render_card(_content(1)))
    cache = CardCache(max_bytes=int(one * 2.5))
    first, _ = cache.card(_content(1))
    cache.card(_content(2))
    assert len(cache) == 2
    assert cache.card(_content(1))[0] is first  # from the cache, and now the most recently used
    cache.card(_content(3))
    assert len(cache) == 2 and cache.size <= cache.max_bytes
    assert cache.card(_content(1))[0] is first  # kept; card 2 went
    assert cache.card(_content(2))[0] is not None and len(cache) == 2
    assert CardCache(max_bytes=10).card(_content(1))[0][:4] == b"\x89PNG"  # too big to keep, still served
