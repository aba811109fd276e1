"""The initiative's own words per language, and what the law puts on the form (Regulation (EU) 2019/788, Annex III):
entered on the manage page, shown on the initiative page, above the form, in the confirmation email and in a
privacy statement of the initiative's own."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
import sqlalchemy as sa

from app.audit.retention import statements_deadline, subscribers_deadline
from app.models import AuditEntry, Initiative, InitiativeText, OutboxMessage, StaffRole

from ..support.factories import make_initiative, make_staff, part_b, sign_in_as

DETAILS = {
    "organizers": "Alma Berg\n\n  Citizens Watch e.V.  ",
    "contact_name": "Dora Enk",
    "contact_email": "Contact@Example.org",
    "website": "https://example.org/scan",
    "registration_number": "ECI(2024)000005",
    "register_url": "https://citizens-initiative.europa.eu/initiatives/details/2024/000005",
}


def _organizer(client, db, initiative):  # type: ignore[no-untyped-def]
    user = make_staff(db, "org@example.org", StaffRole.ORGANIZER, [initiative])
    sign_in_as(client, user)
    return user


def _edit_form(initiative: Initiative, **changes: str) -> dict[str, object]:
    data: dict[str, object] = {
        "title": initiative.title,
        "summary": initiative.summary,
        "collection_start": initiative.collection_start.isoformat(),
        "collection_end": initiative.collection_end.isoformat(),
    }
    data.update(changes)
    return data


def _reload(db, slug: str = "stop-scanning") -> Initiative:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
    assert initiative is not None
    return initiative


def _audit(db, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _summary_links(page: str) -> list[tuple[str, str]]:
    match = re.search(r'<div class="error-summary"[^>]*autofocus>.*?</ul>', page, re.S)
    assert match, "an error summary, focused as the page loads"
    return [(href, unescape(text)) for href, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', match.group(0))]


# --- who collects the data ------------------------------------------------------------------------------------------


def test_the_organizers_details_are_entered_on_the_manage_page(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _organizer(client, db, initiative)
    response = client.post("/admin/initiatives/stop-scanning/edit", data=_edit_form(initiative, **DETAILS))
    assert response.status_code == 302, response.text
    saved = _reload(db)
    assert saved.organizers == "Alma Berg\nCitizens Watch e.V."  # one name a line, blank lines gone
    assert saved.contact_email == "Contact@example.org"  # the domain as email-validator normalizes it
    assert (saved.website, saved.registration_number) == (DETAILS["website"], DETAILS["registration_number"])
    [entry] = _audit(db, "initiative.update")
    assert json.loads(entry.details)["registration_number"] == ["", "ECI(2024)000005"]
    page = client.get("/admin/initiatives/stop-scanning/edit").text
    assert 'value="ECI(2024)000005"' in page and "Alma Berg\nCitizens Watch e.V.</textarea>" in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("website", "javascript:alert(1)"),
        ("website", "example.org"),  # not a whole address
        ("register_url", "https://exa mple.org"),
        ("contact_email", "not an address"),
        ("registration_number", "E" * 41),
        ("contact_name", "Dora\x07"),
        ("default_locale", "ja"),
    ],
)
def test_wrong_details_are_refused_beside_their_field(client, db, field, value):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _organizer(client, db, initiative)
    response = client.post("/admin/initiatives/stop-scanning/edit", data=_edit_form(initiative, **{field: value}))
    assert response.status_code == 422
    assert [href for href, _text in _summary_links(response.text)] == [f"#{field}"]
    assert f'id="{field}-error"' in response.text
    assert getattr(_reload(db), field) in ("", "en")


def test_the_initiative_page_and_the_form_say_who_collects_the_data(client, db):  # type: ignore[no-untyped-def]
    make_initiative(details=DETAILS)
    for path in ("/i/stop-scanning", "/i/stop-scanning/sign?country=PL"):
        page = client.get(path).text
        box = re.search(r'<section class="collected-by".*?</section>', page, re.S)
        assert box, path
        text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", box.group(0))))
        for expected in ("Alma Berg, Citizens Watch e.V.", "Dora Enk", "Contact@example.org", "ECI(2024)000005"):
            assert expected in text, (path, expected)
        assert f'href="{DETAILS["register_url"]}"' in box.group(0) and f'href="{DETAILS["website"]}"' in box.group(0)
        assert 'href="/i/stop-scanning/privacy"' in box.group(0)
    form = client.get("/i/stop-scanning/sign?country=PL").text
    assert form.index('class="collected-by"') < form.index('<form method="post"')  # above the fields


def test_without_details_the_box_says_the_names_are_missing(client):  # type: ignore[no-untyped-def]
    make_initiative()
    page = client.get("/i/stop-scanning").text
    assert "The organizers have not given their names yet." in page
    box = re.search(r'<[a-z]+ class="collected-by".*?</(?:section|aside|div)>', page, re.S)
    assert box is not None
    assert "Registration in the Commission" not in box.group(0) and "mailto:" not in box.group(0)


def test_the_confirmation_email_names_who_collects_the_data_and_the_declaration(app, client, db):  # type: ignore[no-untyped-def]
    make_initiative(details=DETAILS)
    client.post("/i/stop-scanning/sign", data=part_b())
    [message] = db.session.scalars(sa.select(OutboxMessage)).all()
    text, html = message.body_text or "", message.body_html or ""
    assert "Organizers: Alma Berg, Citizens Watch e.V." in text
    assert "Contact: Dora Enk, Contact@example.org" in text
    assert "Registration number in the Commission's register: ECI(2024)000005" in text
    assert DETAILS["register_url"] in text and f"{app.config['BASE_URL']}/i/stop-scanning/privacy" in text
    assert "you declare that the information you have given is correct and that you have not already supported" in text
    assert f'<a href="{DETAILS["register_url"]}">' in html and "Alma Berg, Citizens Watch e.V." in html


def test_the_privacy_statement_is_the_initiatives_own(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(details=DETAILS)
    page = unescape(client.get("/i/stop-scanning/privacy").text)
    assert "controllers of your personal data: Alma Berg, Citizens Watch e.V." in page
    assert "Contact@example.org" in page and "Dora Enk" in page
    assert "Article 12" in page  # the recipients: the member states' authorities
    assert "lodge a complaint with a data protection authority" in page and "Article 77" in page
    for deadline in (statements_deadline(initiative), subscribers_deadline(initiative)):
        day = deadline.date()
        assert f"{day:%B} {day.day}, {day.year}" in page


def test_create_takes_the_details_and_the_language_too(client, db):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from app.eci.member_states import member_states
    from app.models import utctoday

    admin = make_staff(db, "admin@example.org", StaffRole.ADMIN)
    sign_in_as(client, admin)
    start = utctoday() + timedelta(days=5)
    form = {
        "slug": "clean-air",
        "title": "Saubere Luft",
        "summary": "",
        "collection_start": start.isoformat(),
        "collection_end": (start + timedelta(days=200)).isoformat(),
        "rule_set": "eci-2024",
        "goal": "1000000",
        "min_countries": "7",
        "countries_shown": "1",
        "countries": list(member_states()),
        "default_locale": "de",
        **DETAILS,
    }
    bad = client.post("/admin/initiatives/new", data={**form, "website": "ftp://x", "title": ""})
    assert bad.status_code == 422
    assert {href for href, _text in _summary_links(bad.text)} == {"#title", "#website"}  # every error at once
    assert client.post("/admin/initiatives/new", data=form).status_code == 302
    created = _reload(db, "clean-air")
    assert created.default_locale == "de" and created.registration_number == "ECI(2024)000005"


# --- texts per language ---------------------------------------------------------------------------------------------


def test_a_text_per_language_is_written_shown_and_audited(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(title="Stop scanning", summary="Faces are **not** barcodes.")
    _organizer(client, db, initiative)
    manage = client.get("/admin/initiatives/stop-scanning/edit").text
    assert manage.count("/admin/initiatives/stop-scanning/texts/") == 23  # every language but the default
    form = client.get("/admin/initiatives/stop-scanning/texts/de")
    assert form.status_code == 200 and 'lang="de"' in form.text
    saved = client.post(
        "/admin/initiatives/stop-scanning/texts/de",
        data={"title": "Scannen stoppen", "summary": "Gesichter sind **keine** Strichcodes.", "objectives": ""},
    )
    assert saved.status_code == 302
    [entry] = _audit(db, "initiative.text")
    assert json.loads(entry.details) == {
        "locale": "de",
        "title": ["", "Scannen stoppen"],
        "summary": ["", "Gesichter sind **keine** Strichcodes."],
    }

    german = client.get("/i/stop-scanning?lang=de").text
    assert "<h1>Scannen stoppen</h1>" in german and "<strong>keine</strong>" in german
    assert 'id="fallback-note"' not in german
    # Polish has no text: the default language's shows, marked as English, with a note
    polish = client.get("/i/stop-scanning?lang=pl").text
    assert '<h1 lang="en">Stop scanning</h1>' in polish and '<div class="summary" lang="en">' in polish
    assert 'id="fallback-note"' in polish and "angielski" in polish
    # the JSON API keeps the default language's title (CONTRACT.md)
    assert client.get("/api/v1/initiatives/stop-scanning").get_json()["title"] == "Stop scanning"


def test_a_field_left_empty_shows_the_default_languages(client, db):  # type: ignore[no-untyped-def]
    from app.initiative_texts import save_text
    from app.languages import LANGUAGES

    initiative, _ = make_initiative(title="Stop scanning", summary="Faces are not barcodes.")
    save_text(initiative, "de", {"title": "Scannen stoppen"}, LANGUAGES)
    db.session.commit()
    page = client.get("/i/stop-scanning?lang=de").text
    assert "<h1>Scannen stoppen</h1>" in page and '<div class="summary" lang="en"><p>Faces are not barcodes.' in page
    assert 'id="fallback-note"' in page


def test_a_text_needs_a_title_and_emptied_it_is_deleted(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _organizer(client, db, initiative)
    no_title = client.post("/admin/initiatives/stop-scanning/texts/pl", data={"title": " ", "summary": "Coś"})
    assert no_title.status_code == 422 and _summary_links(no_title.text) == [
        ("#title", "the title is empty: a text in another language needs its own title")
    ]
    assert "Coś</textarea>" in no_title.text  # what was typed is kept
    client.post("/admin/initiatives/stop-scanning/texts/pl", data={"title": "Stop skanowaniu"})
    assert [t.locale for t in _reload(db).texts] == ["pl"]
    client.post("/admin/initiatives/stop-scanning/texts/pl", data={"title": "", "summary": "", "objectives": ""})
    assert _reload(db).texts == []
    assert [json.loads(e.details)["title"] for e in _audit(db, "initiative.text")] == [
        ["", "Stop skanowaniu"],
        ["Stop skanowaniu", ""],
    ]


def test_no_text_page_for_the_default_language_or_an_unknown_one(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _organizer(client, db, initiative)
    for locale in ("en", "ja", "en_001", "xx"):
        assert client.get(f"/admin/initiatives/stop-scanning/texts/{locale}").status_code == 404, locale
        assert client.post(f"/admin/initiatives/stop-scanning/texts/{locale}", data={"title": "x"}).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InitiativeText)) == 0


def test_changing_the_default_language_swaps_it_with_that_languages_text(client, db):  # type: ignore[no-untyped-def]
    from app.initiative_texts import save_text
    from app.languages import LANGUAGES

    initiative, _ = make_initiative(title="Stop scanning", summary="English summary")
    save_text(initiative, "de", {"title": "Scannen stoppen", "summary": "Deutsche Zusammenfassung"}, LANGUAGES)
    db.session.commit()
    _organizer(client, db, initiative)
    response = client.post("/admin/initiatives/stop-scanning/edit", data=_edit_form(initiative, default_locale="de"))
    assert response.status_code == 302
    swapped = _reload(db)
    assert (swapped.default_locale, swapped.title) == ("de", "Scannen stoppen")
    assert swapped.summary == "Deutsche Zusammenfassung"
    assert [(t.locale, t.title, t.summary) for t in swapped.texts] == [("en", "Stop scanning", "English summary")]
    # a language without a text of its own: the fields are simply said to be in it
    client.post("/admin/initiatives/stop-scanning/edit", data=_edit_form(swapped, default_locale="fr"))
    relabelled = _reload(db)
    assert (relabelled.default_locale, relabelled.title) == ("fr", "Scannen stoppen")
    assert sorted(t.locale for t in relabelled.texts) == ["en"]


def test_only_organizers_of_the_initiative_write_its_texts(client, db):  # type: ignore[no-untyped-def]
    make_initiative()
    other, _ = make_initiative("other")
    sign_in_as(client, make_staff(db, "org@example.org", StaffRole.ORGANIZER, [other]))
    assert client.post("/admin/initiatives/stop-scanning/texts/de", data={"title": "x"}).status_code == 403
    sign_in_as(client, make_staff(db, "aud@example.org", StaffRole.AUDITOR, [other]))
    assert client.get("/admin/initiatives/other/texts/de").status_code == 403
