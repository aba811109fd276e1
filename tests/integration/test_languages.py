"""Which language a page speaks and how it says so: the explicit choice (remembered in a cookie that holds only the
code), then Accept-Language, then the initiative's default; `<html lang>`, `hreflang`, the switch; dates and numbers
as each language writes them; emails in the language the person signed in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.languages import LANGUAGES
from app.models import Initiative, OutboxMessage, Statement, utctoday

from ..support.factories import make_initiative, part_a, part_b

GERMAN_MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]
POLISH_MONTHS = (  # the genitive, as a Polish date names its month
    [
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "września",
        "października",
        "listopada",
        "grudnia",
    ]
)


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', page)
    assert match
    return match.group(1)


def _language_cookies(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [cookie for cookie in response.headers.getlist("Set-Cookie") if cookie.startswith("lang=")]


# --- the choice -----------------------------------------------------------------------------------------------------


def test_a_chosen_language_is_used_and_remembered_in_a_cookie_of_the_code_alone(client):  # type: ignore[no-untyped-def]
    make_initiative()
    chosen = client.get("/i/stop-scanning?lang=de")
    assert html_lang(chosen.text) == "de" and chosen.headers["Content-Language"] == "de"
    cookie = chosen.headers["Set-Cookie"]
    assert cookie.startswith("lang=de;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=" in cookie
    # from now on, without the parameter, and whatever the browser prefers
    later = client.get("/i/stop-scanning/sign", headers={"Accept-Language": "pl"})
    assert html_lang(later.text) == "de" and not _language_cookies(later)
    # another choice replaces it
    assert html_lang(client.get("/i/stop-scanning?lang=pl").text) == "pl"
    assert html_lang(client.get("/").text) == "pl"


def test_without_a_choice_the_browsers_language_counts(client):  # type: ignore[no-untyped-def]
    make_initiative()
    response = client.get("/i/stop-scanning", headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.8"})
    assert html_lang(response.text) == "pl"
    assert not _language_cookies(response)  # nothing is remembered that the signer did not choose
    assert html_lang(client.get("/", headers={"Accept-Language": "fr-BE, de;q=0.5"}).text) == "fr"
    assert set(response.headers["Vary"].replace(" ", "").split(",")) >= {"Accept-Language", "Cookie"}


def test_then_the_initiatives_default_language_then_english(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(default_locale="de")
    slug = initiative.slug
    for languages in ("ja", "*", ""):  # none of ours; a bare * is no preference (it would otherwise pick bg)
        headers = {"Accept-Language": languages} if languages else {}
        assert html_lang(client.get(f"/i/{slug}", headers=headers).text) == "de", languages
        assert html_lang(client.get(f"/i/{slug}/sign", headers=headers).text) == "de", languages
        assert html_lang(client.get("/", headers=headers).text) == "en", languages  # no initiative: English


@pytest.mark.parametrize("value", ["xx", "DE", "de-DE", "en_001", "de; Path=/", ""])
def test_a_code_that_is_not_one_of_ours_is_ignored(client, value):  # type: ignore[no-untyped-def]
    make_initiative()
    response = client.get("/i/stop-scanning", query_string={"lang": value}, headers={"Accept-Language": "pl"})
    assert html_lang(response.text) == "pl"
    assert not _language_cookies(response)
    client.set_cookie("lang", value)
    assert html_lang(client.get("/i/stop-scanning", headers={"Accept-Language": "pl"}).text) == "pl"


def test_each_request_chooses_afresh(client):  # type: ignore[no-untyped-def]
    """Two requests in a row in one app context (as the tests hold one) do not share a language."""
    make_initiative()
    assert html_lang(client.get("/", headers={"Accept-Language": "de"}).text) == "de"
    assert html_lang(client.get("/", headers={"Accept-Language": "pl"}).text) == "pl"


# --- the switch and the alternates ----------------------------------------------------------------------------------


def test_every_page_has_a_switch_to_each_language_named_in_itself(client):  # type: ignore[no-untyped-def]
    make_initiative()
    paths = ("/", "/i/stop-scanning", "/i/stop-scanning/sign?country=PL", "/i/stop-scanning/privacy", "/admin/login")
    for path in paths:
        page = client.get(path).text
        switch = re.search(r'<details class="languages">.*?</details>', page, re.S)
        assert switch, path
        links = re.findall(r'<a href="([^"]+)" hreflang="([^"]+)" lang="([^"]+)"[^>]*>([^<]+)</a>', switch.group(0))
        assert [tag for _href, tag, _lang, _name in links] == list(LANGUAGES), path
        names = {tag: name for _href, tag, _lang, name in links}
        assert (names["de"], names["pl"], names["el"], names["ga"]) == ("Deutsch", "polski", "Ελληνικά", "Gaeilge")
        for href, tag, _lang, _name in links:
            assert href.startswith(path.split("?")[0]) and href.endswith(f"lang={tag}"), href
    sign = client.get("/i/stop-scanning/sign?country=PL&lang=de").text
    assert 'href="/i/stop-scanning/sign?country=PL&amp;lang=pl"' in sign  # the page's own parameters stay
    assert re.search(r'hreflang="de" lang="de" aria-current="true"', sign)


def test_public_pages_list_their_other_languages_for_search_engines(app, client):  # type: ignore[no-untyped-def]
    make_initiative()
    base = app.config["BASE_URL"]
    for path in ("/", "/i/stop-scanning", "/i/stop-scanning/sign", "/i/stop-scanning/privacy"):
        page = client.get(path).text
        alternates = re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', page)
        assert [tag for tag, _href in alternates] == [*LANGUAGES, "x-default"], path
        hrefs = dict(alternates)
        assert hrefs["pl"] == f"{base}{path}?lang=pl" and hrefs["x-default"] == f"{base}{path}"
    for path in ("/i/stop-scanning/thanks", "/admin/login", "/i/stop-scanning/confirm/forged"):
        assert 'rel="alternate"' not in client.get(path).text, path


# --- dates and numbers ----------------------------------------------------------------------------------------------


def test_dates_and_numbers_as_each_language_writes_them(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    start, end = initiative.collection_start, initiative.collection_end
    german = client.get("/?lang=de").text
    assert f"{start.day}. {GERMAN_MONTHS[start.month - 1]} {start.year}" in german
    assert f"{end.day}. {GERMAN_MONTHS[end.month - 1]} {end.year}" in german
    polish = client.get("/?lang=pl").text
    assert f"{start.day} {POLISH_MONTHS[start.month - 1]} {start.year}" in polish
    english = client.get("/?lang=en").text
    assert f"{start:%B} {start.day}, {start.year}" in english

    assert "1.000.000" in client.get("/i/stop-scanning?lang=de").text  # the goal
    assert "1\xa0000\xa0000" in client.get("/i/stop-scanning?lang=pl").text  # a no-break space between groups
    assert "1,000,000" in client.get("/i/stop-scanning?lang=en").text
    assert "69.120" in client.get("/i/stop-scanning?lang=de").text  # Germany's threshold (eci-2024)


def test_country_names_in_the_pages_language(client):  # type: ignore[no-untyped-def]
    make_initiative()
    page = client.get("/i/stop-scanning?lang=pl").text
    assert re.search(r'<tr data-country="DE"[^>]*>\s*<th scope="row">Niemcy</th>', page)
    assert '<option value="DE">Niemcy</option>' in client.get("/i/stop-scanning/sign").text


def test_a_closed_initiative_says_when_it_starts_in_words(client):  # type: ignore[no-untyped-def]
    start = utctoday() + timedelta(days=3)
    make_initiative(start=start)
    page = client.get("/i/stop-scanning/sign?lang=de")
    assert page.status_code == 403
    assert f"{start.day}. {GERMAN_MONTHS[start.month - 1]} {start.year}" in page.text


# --- emails in the signer's language --------------------------------------------------------------------------------


def _messages(db) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_the_statement_and_its_emails_keep_the_language_it_was_given_in(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client.get("/i/stop-scanning?lang=pl")
    assert client.post("/i/stop-scanning/sign", data=part_b()).status_code == 303
    statement = db.session.scalars(sa.select(Statement)).one()
    assert statement.locale == "pl"
    [confirm] = _messages(db)
    assert confirm.subject == f"Potwierdź swoje poparcie dla „{initiative.title}”"
    assert "Dzień dobry," in (confirm.body_text or "") and '<html lang="pl">' in (confirm.body_html or "")
    # signing again from a German page: the word that the support is recorded goes out in Polish, as signed
    confirm_path = re.search(r"/i/stop-scanning/confirm/\S+", confirm.body_text or "")
    assert confirm_path
    client.post(confirm_path.group(0))
    client.get("/i/stop-scanning?lang=de")
    client.post("/i/stop-scanning/sign", data=part_b())
    again = _messages(db)[-1]
    assert again.kind == "already_confirmed" and "Dzień dobry," in (again.body_text or "")


def test_a_household_full_email_goes_out_in_the_language_of_the_page(client, db):  # type: ignore[no-untyped-def]
    make_initiative()
    for person in ("Jan", "Ewa"):
        client.post("/i/stop-scanning/sign", data=part_a(first_names=person, email="home@example.org"))
    client.get("/i/stop-scanning?lang=de")
    client.post("/i/stop-scanning/sign", data=part_a(first_names="Olaf", email="home@example.org"))
    full = _messages(db)[-1]
    assert full.kind == "household_full" and "Guten Tag," in (full.body_text or "")
    assert [m.subject.startswith("Please confirm") for m in _messages(db)[:2]] == [True, True]  # English, as signed


def test_the_initiatives_own_title_goes_into_the_email_in_that_language(client, db):  # type: ignore[no-untyped-def]
    from app.initiative_texts import save_text

    initiative, _ = make_initiative(title="Stop scanning")
    save_text(initiative, "de", {"title": "Scannen stoppen"}, LANGUAGES)
    db.session.commit()
    client.get("/?lang=de")
    client.post("/i/stop-scanning/sign", data=part_a())
    [confirm] = _messages(db)
    assert "„Scannen stoppen“" in confirm.subject and "„Scannen stoppen“" in (confirm.body_text or "")


def test_initiative_default_language_must_be_an_official_one(db):  # type: ignore[no-untyped-def]
    from app.initiatives import InitiativeError

    with pytest.raises(InitiativeError) as refused:
        make_initiative(default_locale="ja")
    assert "default_locale" in refused.value.errors
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Initiative)) == 0
