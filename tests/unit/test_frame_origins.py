"""Sites that may frame the form: exactly an origin (scheme, host, port), nothing that could add to the header."""

from __future__ import annotations

import pytest

from app.partners.framing import OriginsError, parse_origin, parse_origins


@pytest.mark.parametrize(
    ("typed", "origin"),
    [
        ("https://www.example.org", "https://www.example.org"),
        ("https://WWW.Example.ORG/", "https://www.example.org"),
        ("https://example.org:443", "https://example.org"),  # the scheme's own port is not written
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.0.0.1:5001", "http://127.0.0.1:5001"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),  # IDNA, as browsers send it
        ("https://example.org/campaign", None),  # a path: frame-ancestors matches sites, not pages
        ("https://example.org/?a=1", None),
        ("https://example.org#top", None),
        ("https://user@example.org", None),
        ("https://*.example.org", None),
        ("ftp://example.org", None),
        ("javascript:alert(1)", None),
        ("example.org", None),
        ("https://example.org; script-src *", None),  # would add a directive to the header
        ("https://example.org'", None),
        ("https://exa_mple.org", None),
        ("https://example.org:99999", None),
        ("", None),
    ],
)
def test_parse_origin(typed: str, origin: str | None) -> None:
    assert parse_origin(typed) == origin


def test_a_list_one_a_line_without_repeats() -> None:
    text = "https://a.example.org\n\n  https://B.example.org/ , https://a.example.org\r\n"
    assert parse_origins(text) == ["https://a.example.org", "https://b.example.org"]


def test_a_list_with_a_wrong_line_names_it() -> None:
    with pytest.raises(OriginsError) as error:
        parse_origins("https://a.example.org\nhttps://b.example.org/page")
    assert "https://b.example.org/page" in str(error.value)
