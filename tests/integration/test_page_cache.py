"""The sign form's caches (app/signing/page_cache.py): the blank form cut once and filled per request is the page a
whole render makes, each visitor gets their own token and challenge, and an edit of the initiative, its texts or its
member states shows at once, on every app server."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.initiative_texts import change_default_locale, save_text
from app.initiatives import InitiativeChanges, find_initiative, revision, update_initiative
from app.languages import LANGUAGES
from app.models import InitiativeCountry, Statement, utctoday
from app.signing import page_cache

from ..support.factories import make_initiative, part_b
from ..support.partners import make_partner

CHALLENGE = {
    "algorithm": "SHA-256",
    "challenge": "c<h>a'll\"enge&",
    "maxnumber": 7,
    "salt": "s?a=1&b",
    "signature": "x",
}
"""A challenge with every character HTML and JSON treat specially, so that the filled slot's escaping is checked."""


def _title(html: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", html, re.S)
    assert match
    return re.sub(r"<[^>]+>", "", match.group(1))  # a title in the default language is marked with its lang


@pytest.mark.parametrize("lang", ["en", "de", "fr", "pl"])
@pytest.mark.parametrize("country", ["", "PL", "DE"])
@pytest.mark.parametrize("challenge", [CHALLENGE, None])
def test_the_blank_form_filled_from_the_cache_is_the_whole_render(app, db, lang, country, challenge):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("cached", details={"organizers": "Anna <Nowak>\nZoë & Co"})
    save_text(initiative, "de", {"title": "Scannen <stoppen> & mehr"}, LANGUAGES)  # French falls back to English
    db.session.commit()
    query = f"country={country}&utm=a<b&lang={lang}"  # the switch's links keep the query, escaped
    with app.test_request_context(f"/i/cached/sign?{query}"):
        loaded = find_initiative("cached")
        assert loaded is not None
        values = {"country": country} if country else {}
        whole = page_cache.render_sign_form(loaded, values, {}, challenge)
        first = page_cache.blank_sign_form(loaded, country, None, challenge)  # rendered with slots, cut, filled
        again = page_cache.blank_sign_form(loaded, country, None, challenge)  # from the cache
    assert first == whole
    assert again == whole
    assert "slot-" not in whole
    assert len(app.extensions["quorum.page_cache"].pages) == 1


@pytest.mark.parametrize("country", ["", "PL"])
def test_a_partners_blank_form_is_the_whole_render_and_kept_apart(app, db, country):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("cached")
    partner, _key = make_partner(initiative, name="Digital <Rights> & Co")
    with app.test_request_context(f"/i/cached/sign?country={country}&partner={partner.code}"):
        loaded = find_initiative("cached")
        assert loaded is not None
        values = {"country": country, "partner": partner.code} if country else {"partner": partner.code}
        whole = page_cache.render_sign_form(loaded, values, {}, None, partner=partner)
        first = page_cache.blank_sign_form(loaded, country, partner, None)
        again = page_cache.blank_sign_form(loaded, country, partner, None)
        without = page_cache.blank_sign_form(loaded, country, None, None)
    assert first == whole == again
    assert 'name="partner" value="eu-digital-rights"' in whole and "Digital &lt;Rights&gt; &amp; Co" in whole
    assert 'name="partner"' not in without
    assert len(app.extensions["quorum.page_cache"].pages) == 2


def test_a_partner_renamed_shows_at_once(client, app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, _key = make_partner(initiative, name="Old Name")
    url = f"/i/stop-scanning/sign?partner={partner.code}"
    assert "Old Name" in client.get(url).get_data(as_text=True)
    partner.name = "New Name"
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "New Name" in page and "Old Name" not in page


def test_each_visitor_gets_their_own_token_and_challenge(app_factory, db):  # type: ignore[no-untyped-def]
    app = app_factory(WTF_CSRF_ENABLED=True, CAPTCHA_ENABLED=True)
    with app.app_context():
        make_initiative()
    tokens, challenges = set(), set()
    for _visitor in range(3):
        client = app.test_client()
        html = client.get("/i/stop-scanning/sign?country=PL").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        challenge = re.search(r"data-challenge='([^']+)'", html)
        assert token and challenge
        tokens.add(token.group(1))
        challenges.add(challenge.group(1))
        # the token in the cached page is this visitor's: it signs (the proof of work left unsolved is let through)
        response = client.post(
            "/i/stop-scanning/sign", data={**part_b(email=f"v{_visitor}@example.org"), "csrf_token": token.group(1)}
        )
        assert response.status_code == 303
    assert len(tokens) == 3
    assert len(challenges) == 3
    assert len(app.extensions["quorum.page_cache"].pages) == 1


def test_a_return_visit_does_not_write_the_session_again(app_factory, db):  # type: ignore[no-untyped-def]
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        make_initiative()
    client = app.test_client()
    first = client.get("/i/stop-scanning/sign")
    assert "Set-Cookie" in first.headers  # the session that holds the CSRF token
    again = client.get("/i/stop-scanning/sign")
    assert "Set-Cookie" not in again.headers


def _edits(initiative, db):  # type: ignore[no-untyped-def]
    """Each way an initiative's page changes, with what the form then shows in German."""
    yield lambda: update_initiative(initiative, InitiativeChanges(title="A new title"), utctoday()), "A new title"
    yield lambda: save_text(initiative, "de", {"title": "Ein deutscher Titel"}, LANGUAGES), "Ein deutscher Titel"
    yield lambda: save_text(initiative, "de", {"title": ""}, LANGUAGES), "A new title"  # the text deleted
    yield lambda: save_text(initiative, "de", {"title": "Wieder deutsch"}, LANGUAGES), "Wieder deutsch"
    yield lambda: change_default_locale(initiative, "de"), "Wieder deutsch"  # now the initiative's own fields


def test_every_edit_moves_the_revision_and_shows_at_once(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert "Initiative stop-scanning" in _title(client.get("/i/stop-scanning/sign?lang=de").get_data(as_text=True))
    for edit, title in _edits(initiative, db):
        before = revision(initiative)
        edit()
        db.session.commit()
        assert revision(initiative) != before
        html = client.get("/i/stop-scanning/sign?lang=de").get_data(as_text=True)
        assert title in _title(html)


def test_member_states_edited_before_collection_move_the_revision(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(draft=True)
    before = revision(initiative)
    update_initiative(initiative, InitiativeChanges(countries=["PL", "DE", "FR", "IT", "ES", "NL", "BE"]), utctoday())
    db.session.commit()
    assert revision(initiative) != before
    before = revision(initiative)
    initiative.countries[0].min_age += 1  # a member state's row alone
    db.session.commit()
    assert revision(initiative) != before


def test_counters_do_not_move_the_revision(app, db):  # type: ignore[no-untyped-def]
    from ..support.factories import confirm, submit

    initiative, _ = make_initiative()
    before = revision(initiative)
    outcome = submit(initiative, part_b())
    db.session.commit()
    confirm(initiative, db.session.get(Statement, outcome.statement_id))
    db.session.commit()
    assert (
        db.session.scalar(sa.select(InitiativeCountry.confirmed_count).where(InitiativeCountry.country_code == "PL"))
        == 1
    )
    assert revision(initiative) == before


def test_an_edit_on_one_app_server_shows_on_the_other(app, app_factory, db):  # type: ignore[no-untyped-def]
    other = app_factory(BASE_URL="http://second.example")  # its own process, its own caches
    initiative, _ = make_initiative()
    for server in (app, other):
        assert "Initiative stop-scanning" in _title(
            server.test_client().get("/i/stop-scanning/sign").get_data(as_text=True)
        )
    update_initiative(initiative, InitiativeChanges(title="Edited on the first"), utctoday())
    db.session.commit()
    assert "Edited on the first" in _title(other.test_client().get("/i/stop-scanning/sign").get_data(as_text=True))


def test_templates_are_compiled_once_per_process(app):  # type: ignore[no-untyped-def]
    """Outside development a template is read and compiled once, and every template of the app fits the cache."""
    assert app.jinja_env.auto_reload is False
    assert app.jinja_env.cache is not None
    assert app.jinja_env.cache.capacity > len(app.jinja_env.list_templates())
