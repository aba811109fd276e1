"""Share links as plain URLs: no third-party script, no request to any other site until the signer clicks.

Pure functions: the page's address and the words come in, links go out. See docs/decisions/007 for Mastodon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from markdown_it import MarkdownIt

from ..eci.signer import N_

DESCRIPTION_LIMIT = 200  # characters; previews cut longer ones anyway (OpenGraph suggests a sentence or two)
DESCRIBED_CHARACTERS = 5_000
"""The most of a summary read for its description: a summary's cap (app.initiatives.TEXT_LIMITS); a longer one stored
before the cap is described by its start, so no page view parses more."""


@dataclass(frozen=True)
class ShareLink:
    key: str  # the service, also the link's class
    label: str  # message id: translate where shown
    href: str


def _encoded(value: str) -> str:
    """Percent-encode a query value completely (spaces as %20, which mailto: needs: RFC 6068)."""
    return quote(value, safe="")


def share_links(page_url: str, text: str, subject: str) -> list[ShareLink]:
    """Bluesky, WhatsApp, Telegram and email, each a link that carries the words and the page's address."""
    message = f"{text} {page_url}"
    return [
        ShareLink("bluesky", N_("Bluesky"), f"https://bsky.app/intent/compose?text={_encoded(message)}"),
        ShareLink("whatsapp", N_("WhatsApp"), f"https://wa.me/?text={_encoded(message)}"),
        ShareLink("telegram", N_("Telegram"), f"https://t.me/share/url?url={_encoded(page_url)}&text={_encoded(text)}"),
        ShareLink("email", N_("Email"), f"mailto:?subject={_encoded(subject)}&body={_encoded(message)}"),
    ]


# A host name as DNS spells it (RFC 1123 labels), with a top-level label that is not all digits: no IP addresses,
# no "localhost", no port, no path.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")


def mastodon_instance(typed: str) -> str | None:
    """The server a signer names, as they would type it: `mastodon.social`, `https://mastodon.social/`, or their
    address `@name@mastodon.social`; None for anything that is not a host name."""
    value = typed.strip().lower()
    for scheme in ("https://", "http://"):
        value = value.removeprefix(scheme)
    value = value.split("/", 1)[0].rpartition("@")[2].rstrip(".")
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if len(value) > 253 or not _HOST.match(value):
        return None
    return value


def mastodon_share_url(instance: str, page_url: str, text: str) -> str:
    """Mastodon's own share page on the signer's server (`/share?text=`), which other fediverse servers copy."""
    return f"https://{instance}/share?text={_encoded(f'{text} {page_url}')}"


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


@lru_cache(maxsize=1024)
def plain_text(markdown: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """A summary's words without its Markdown or headings, cut at a word boundary with an ellipsis: a preview's
    description, parsed once for each revision of the summary."""
    words: list[str] = []
    previous = ""
    for token in _markdown.parse((markdown or "")[:DESCRIBED_CHARACTERS]):
        if token.type != "inline" or previous == "heading_open":
            previous = token.type
            continue
        previous = token.type
        for child in token.children or []:
            if child.type in ("text", "code_inline"):
                words.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                words.append(" ")
        words.append(" ")
    text = " ".join("".join(words).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:.–-") + "…"
