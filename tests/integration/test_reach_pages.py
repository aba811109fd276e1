"""The map, the public country list, link previews, share links and the thank-you page, over HTTP."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from babel.dates import format_date

from app.models import InitiativeCountry, StaffRole, utctoday

from ..support.factories import (
    confirmation_url,
    make_initiative,
    make_staff,
    part_b,
    path_of,
    reconfigure,
    sign_in_as,
    submit,
)

BASE = "https://campaign.example.eu"
NS = {"svg": "http://www.w3.org/2000/svg"}
# the scale as designed (docs/decisions/007), written out here: what the map must show for each share
COLOURS = {"none": "#dbe9f6", "under-25": "#a9cbec", "25-49": "#6fa6db", "50-74": "#3b82c4", "75-99": "#17599c"}
COLOURS |= {"reached": "#1d7a3a", "not-taking-part": "#bcc1c7"}


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, in order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def meta(self) -> dict[str, str]:
        return {a.get("property") or a.get("name", ""): a.get("content", "") for t, a in self.tags if t == "meta"}


def _set_counts(db, initiative, counts: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    for code, count in counts.items():
        db.session.get(InitiativeCountry, (initiative.id, code)).confirmed_count = count
    db.session.commit()


def _map_states(html: str) -> dict[str, ET.Element]:
    markup = re.search(r'<svg [^>]*class="progress-map".*?</svg>', html, re.S)
    assert markup, "no map on the page"
    svg = ET.fromstring(markup.group(0))  # noqa: S314 (our own page); also proves it is well-formed
    assert svg.find("svg:title", NS) is not None and svg.find("svg:desc", NS) is not None
    return {g.get("data-country", ""): g for g in svg.iterfind(".//svg:g[@data-country]", NS)}


# thresholds of eci-2024 (Annex I, 720 MEPs): DE 69,120, AT 14,400, MT 4,320, PL 38,160
COUNTS = {"DE": 17_280, "AT": 14_400, "MT": 1, "PL": 0}
STEPS = {"DE": "25-49", "AT": "reached", "MT": "under-25", "PL": "none"}


@pytest.mark.counters_edited  # counts near the thresholds, as no test could sign them one by one
def test_the_initiative_page_map_is_coloured_by_the_counts(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(countries=list(COUNTS), min_countries=2)
    _set_counts(db, initiative, COUNTS)
    states = _map_states(client.get(f"/i/{initiative.slug}").text)
    assert len(states) == 27
    for code, step in STEPS.items():
        assert (states[code].get("fill"), states[code].get("data-step")) == (COLOURS[step], step), code
    for code in set(states) - set(COUNTS):
        assert states[code].get("fill") == COLOURS["not-taking-part"], code
    title = states["DE"].find("svg:title", NS)
    assert title is not None and title.text == "Germany: 17,280 of 69,120 (25.0 %)"


@pytest.mark.counters_edited
def test_the_dashboard_shows_the_same_map(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(countries=list(COUNTS), min_countries=2)
    _set_counts(db, initiative, COUNTS)
    sign_in_as(client, make_staff(db, "organizer@example.org", StaffRole.ORGANIZER, [initiative]))
    html = client.get(f"/admin/initiatives/{initiative.slug}/dashboard").text
    states = _map_states(html)
    assert {code: states[code].get("data-step") for code in COUNTS} == STEPS
    assert 'data-step="not-taking-part"' in html.split("map-legend", 1)[1]  # the legend names the neutral grey


def _row_order(html: str) -> list[str]:
    table = html.split('id="countries-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-country="([A-Z]{2})"', table)


@pytest.mark.counters_edited
def test_the_country_list_runs_by_progress_with_the_signers_state_first(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(countries=["DE", "AT", "MT", "PL", "FI"], min_countries=2)
    # DE 50 %, AT 10 %, MT 100 %, PL 0 %, FI 50 % (ties keep the protocol order: DE before FI)
    _set_counts(db, initiative, {"DE": 34_560, "AT": 1_440, "MT": 4_320, "PL": 0, "FI": 5_400})
    page = f"/i/{initiative.slug}"
    by_progress = ["MT", "DE", "FI", "AT", "PL"]
    plain = client.get(page)
    assert _row_order(plain.text) == by_progress
    assert "Accept-Language" in plain.headers.get("Vary", "")
    assert _row_order(client.get(f"{page}?country=pl").text) == ["PL", "MT", "DE", "FI", "AT"]
    assert _row_order(client.get(page, headers={"Accept-Language": "de-AT,de;q=0.9"}).text)[0] == "AT"
    assert _row_order(client.get(page, headers={"Accept-Language": "de"}).text) == by_progress
    assert _row_order(client.get(f"{page}?country=ES").text) == by_progress  # not one of this initiative's
    assert _row_order(client.get(f"{page}?country=<b>").text) == by_progress
    # the network address says nothing about a country: Quorum does not geolocate
    assert _row_order(client.get(page, environ_base={"REMOTE_ADDR": "193.0.6.139"}).text) == by_progress

    html = client.get(f"{page}?country=PL").text
    assert "Member states by progress towards their threshold, Poland first." in html
    assert 'data-percent="50.0"' in html and "100.0 %" in html and "10.0 %" in html
    assert f"Collection ends on {format_date(initiative.collection_end, 'long', locale='en')}." in html


def test_a_closed_initiative_says_when_collection_ended(client, db):  # type: ignore[no-untyped-def]
    start = utctoday() - timedelta(days=100)
    initiative, _ = make_initiative(start=start, end=utctoday() - timedelta(days=1))
    ended = format_date(initiative.collection_end, "long", locale="en")
    assert f"Collection ended on {ended}." in client.get(f"/i/{initiative.slug}").text


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_previews_name_the_page_and_a_card_drawn_here_with_absolute_urls(app, client):  # type: ignore[no-untyped-def]
    reconfigure(app, BASE_URL=BASE)
    make_initiative("clean-air", title="Clean air", summary="# Why\n\nEvery child **deserves** it.")
    tags = Tags(client.get("/i/clean-air").text)
    meta = tags.meta()
    assert meta["og:type"] == "website" and meta["og:site_name"] == "Quorum"
    assert meta["og:title"] == meta["twitter:title"] == "Clean air"
    assert meta["og:description"] == meta["twitter:description"] == meta["description"] == "Every child deserves it."
    assert meta["og:url"] == f"{BASE}/i/clean-air"
    assert meta["og:image"] == meta["twitter:image"] == f"{BASE}/i/clean-air/card.png?v=0"
    assert (meta["og:image:width"], meta["og:image:height"], meta["og:image:type"]) == ("1200", "630", "image/png")
    assert meta["twitter:card"] == "summary_large_image"
    assert "Clean air" in meta["og:image:alt"] and meta["twitter:image:alt"] == meta["og:image:alt"]
    assert ("link", {"rel": "canonical", "href": f"{BASE}/i/clean-air"}) in tags.tags
    # nothing on the page loads from anywhere else: scripts, styles and images are this origin's
    for tag, attrs in tags.tags:
        # the canonical page and its language alternates (hreflang) are absolute by design
        absolute = attrs.get("rel") in ("canonical", "alternate")
        for name in ("src", "action") + (("href",) if tag == "link" and not absolute else ()):
            if name in attrs:
                assert attrs[name].startswith("/"), (tag, attrs)


def test_the_card_is_a_cacheable_png_that_follows_the_count(app, client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    card = f"/i/{initiative.slug}/card.png"
    first = client.get(card)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert _png_size(first.data) == (1200, 630)
    assert first.headers["Cache-Control"] == "public, max-age=300" and first.headers["ETag"]
    again = client.get(card, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""

    statement_id = submit(initiative, part_b()).statement_id
    db.session.commit()
    assert client.post(path_of(confirmation_url(initiative, statement_id))).status_code == 200
    after = client.get(card)
    assert after.status_code == 200 and after.data != first.data and after.headers["ETag"] != first.headers["ETag"]
    assert client.get(card, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200
    assert Tags(client.get(f"/i/{initiative.slug}").text).meta()["og:image"].endswith("/card.png?v=1")


def test_no_card_and_no_share_page_for_a_draft_or_unknown_initiative(client):  # type: ignore[no-untyped-def]
    draft, _ = make_initiative("hidden", draft=True)
    for path in ("/i/hidden/card.png", "/i/hidden/share/mastodon", "/i/nowhere/card.png", "/i/nowhere/share/mastodon"):
        assert client.get(path).status_code == 404, path


def _share_section(html: str) -> str:
    match = re.search(r'<section class="share".*?</section>', html, re.S)
    assert match, "no share section"
    return match.group(0)


def test_share_links_are_plain_links_with_the_page_url_encoded(app, client):  # type: ignore[no-untyped-def]
    reconfigure(app, BASE_URL=BASE)
    make_initiative("clean-air", title="Clean air & water")
    section = _share_section(client.get("/i/clean-air").text)
    tags = Tags(section).tags
    links = {a["class"].split()[1].removeprefix("share-"): a["href"] for t, a in tags if t == "a"}
    encoded = quote(f"{BASE}/i/clean-air", safe="")
    hosts = {key: urlsplit(href).netloc for key, href in links.items()}
    assert hosts == {"bluesky": "bsky.app", "whatsapp": "wa.me", "telegram": "t.me", "email": ""}
    for key, href in links.items():
        assert encoded in href, key
    assert links["email"].startswith("mailto:?subject=Clean%20air%20%26%20water&body=")
    text = parse_qs(urlsplit(links["bluesky"]).query)["text"][0]
    assert text == f"Support “Clean air & water” with your signature: {BASE}/i/clean-air"
    # no third-party script or frame; the copy button waits for the page's own script, the link is there without it
    assert not [a for t, a in tags if t in ("script", "iframe", "img") and not a.get("src", "/").startswith("/")]
    field = next(a for t, a in tags if t == "input" and a.get("id") == "share-url")
    assert field["value"] == f"{BASE}/i/clean-air" and "readonly" in field
    button = next(a for t, a in tags if t == "button" and a.get("data-copy") == "share-url")
    assert "hidden" in button
    form = next(a for t, a in tags if t == "form")
    assert (form["method"], form["action"]) == ("get", "/i/clean-air/share/mastodon")
    with client.get("/static/share.js") as script:
        assert script.status_code == 200 and b"clipboard" in script.data


def test_mastodon_asks_for_the_server_then_links_to_its_share_page(app, client):  # type: ignore[no-untyped-def]
    reconfigure(app, BASE_URL=BASE)
    make_initiative("clean-air", title="Clean air")
    page = "/i/clean-air/share/mastodon"
    assert client.get(page).status_code == 200
    assert 'id="mastodon-share"' not in client.get(page).text

    chosen = client.get(page, query_string={"instance": "@me@Fosstodon.org"})
    assert chosen.status_code == 200  # a page with a link, not a redirect (docs/decisions/007)
    href = next(a["href"] for t, a in Tags(chosen.text).tags if t == "a" and a.get("id") == "mastodon-share")
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "fosstodon.org", "/share")
    assert parse_qs(parts.query)["text"] == [f"Support “Clean air” with your signature: {BASE}/i/clean-air"]

    for typed in ("localhost", "10.0.0.1", "evil.example:8080", "<script>alert(1)</script>", "a" * 400):
        refused = client.get(page, query_string={"instance": typed})
        assert refused.status_code == 422, typed
        assert "Enter the name of your Mastodon server" in refused.text and 'id="mastodon-share"' not in refused.text
        assert "<script>" not in refused.text


def test_the_thank_you_page_invites_sharing_the_same_whether_or_not_it_counted(app, client, db):  # type: ignore[no-untyped-def]
    reconfigure(app, BASE_URL=BASE)
    initiative, _ = make_initiative("clean-air", title="Clean air")
    first = submit(initiative, part_b()).statement_id
    second = submit(initiative, part_b(email="other@example.org")).statement_id  # the same person, another address
    db.session.commit()
    counted = client.post(path_of(confirmation_url(initiative, first)))
    not_counted = client.post(path_of(confirmation_url(initiative, second)))  # the first confirmation won
    assert counted.status_code == not_counted.status_code == 200
    assert client.get("/api/v1/initiatives/clean-air").get_json()["confirmed"] == 1  # one of them counted
    # the same page, but for the link's own token in the language switch (each statement has its own)
    tokens = re.compile(r"/confirm/[A-Za-z0-9_.\-]+")
    assert tokens.sub("/confirm/TOKEN", counted.text) == tokens.sub("/confirm/TOKEN", not_counted.text)
    section = _share_section(counted.text)
    assert quote(f"{BASE}/i/clean-air", safe="") in section
    assert "needs 1,000,000 statements of support" in counted.text
    shown_again = client.get(path_of(confirmation_url(initiative, first)))  # the link opened once more
    assert _share_section(shown_again.text) == section
