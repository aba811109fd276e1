"""The sign form over HTTP: refusals when signing is not open, CSRF, the no-JavaScript path, signing and confirming,
and how a 422 shows the errors. The rules themselves are tested against `validate()` in tests/unit/test_signer.py."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.models import OutboxMessage, Statement, utctoday
from app.sealing import open_sealed

from ..support.factories import LINK, make_initiative, part_a, part_b, path_of

DATE_BOXES = ("date_of_birth_day", "date_of_birth_month", "date_of_birth_year")


def _statements(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Statement)))


def _fieldset(html: str, name: str) -> str:
    match = re.search(rf'<fieldset id="{name}"[^>]*>', html)
    assert match, name
    return match.group(0)


def _visible(html: str, name: str) -> bool:
    return " hidden" not in _fieldset(html, name)


def _input(html: str, field: str) -> str:
    match = re.search(rf'<input id="{field}" name="{field}"[^>]*>', html)  # [^>] spans the date boxes' line breaks
    assert match, field
    return match.group(0)


def _value(html: str, field: str) -> str:
    match = re.search(r' value="([^"]*)"', _input(html, field))
    assert match, field
    return htmllib.unescape(match.group(1))


def _checked(html: str, field: str) -> bool:
    return " checked" in _input(html, field)


def _selected(html: str, field: str) -> list[str]:
    match = re.search(rf'<select id="{field}" name="{field}".*?</select>', html, re.S)
    assert match, field
    return re.findall(r'<option value="([^"]*)" selected>', match.group(0))


def _error(html: str, field: str) -> str | None:
    """The message beside a field, without its visually hidden "Error:" prefix."""
    match = re.search(
        rf'<p class="error" id="{field}-error"><span class="visually-hidden">Error:</span> ([^<]*)</p>', html
    )
    return htmllib.unescape(match.group(1)) if match else None


def _errors(html: str) -> dict[str, str]:
    found = re.findall(
        r'<p class="error" id="([a-z_]+)-error"><span class="visually-hidden">Error:</span> ([^<]*)</p>', html
    )
    return {field: htmllib.unescape(message) for field, message in found}


def _summary(html: str) -> list[tuple[str, str]]:
    """(href, message) of each link in the error summary, in order."""
    match = re.search(r'<div class="error-summary".*?</ul>', html, re.S)
    if not match:
        return []
    return [
        (href, htmllib.unescape(text)) for href, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', match.group(0))
    ]


def _title(html: str) -> str:
    match = re.search(r"<title>([^<]*)</title>", html)
    assert match
    return htmllib.unescape(match.group(1))


def _post(client, slug: str, data: dict[str, str], status: int = 422) -> str:  # type: ignore[no-untyped-def]
    response = client.post(f"/i/{slug}/sign", data=data)
    assert response.status_code == status
    return str(response.get_data(as_text=True))


def _in_boxes(data: dict[str, str], day: str, month: str, year: str) -> dict[str, str]:
    """The date of birth as the form sends it: three boxes instead of one `date_of_birth`."""
    data = {name: value for name, value in data.items() if name != "date_of_birth"}
    return data | dict(zip(DATE_BOXES, (day, month, year), strict=True))


# -- signing not open ------------------------------------------------------------------------------------------------


def _refused(client, slug: str, status: int, words: str) -> None:  # type: ignore[no-untyped-def]
    for response in (
        client.get(f"/i/{slug}/sign"),
        client.get(f"/i/{slug}/sign?country=PL"),
        client.post(f"/i/{slug}/sign", data=part_b()),
    ):
        assert response.status_code == status
        html = response.get_data(as_text=True)
        assert words in html
        assert 'id="sign-form"' not in html


def test_unknown_initiative(client, db):  # type: ignore[no-untyped-def]
    _refused(client, "no-such-thing", 404, "There is no initiative at this address.")
    assert client.get("/i/no-such-thing").status_code == 404
    assert _statements(db) == 0


def test_draft_initiative_is_not_found(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(draft=True)
    _refused(client, initiative.slug, 404, "There is no initiative at this address.")
    assert client.get(f"/i/{initiative.slug}").status_code == 404
    assert client.get(f"/i/{initiative.slug}/thanks").status_code == 404
    assert _statements(db) == 0


def test_not_started_yet(client, db):  # type: ignore[no-untyped-def]
    start = utctoday() + timedelta(days=3)
    initiative, _ = make_initiative(start=start)
    _refused(client, initiative.slug, 403, f"starts on {start:%B} {start.day}, {start.year}")  # in words, in English
    assert client.get(f"/i/{initiative.slug}").status_code == 200
    assert _statements(db) == 0


@pytest.mark.parametrize("how", ["ended", "closed", "submitted"])
def test_collection_over(client, db, how):  # type: ignore[no-untyped-def]
    today = utctoday()
    if how == "ended":
        initiative, _ = make_initiative(start=today - timedelta(days=200), end=today - timedelta(days=1))
    else:
        initiative, _ = make_initiative()
        initiative.status = how
        db.session.commit()
    _refused(client, initiative.slug, 410, "Collection for this initiative is over")
    assert _statements(db) == 0


def test_first_and_last_day_are_open(client, db):  # type: ignore[no-untyped-def]
    today = utctoday()
    starting, _ = make_initiative("starts-today", start=today, end=today + timedelta(days=30))
    ending, _ = make_initiative("ends-today", start=today - timedelta(days=30), end=today)
    for initiative in (starting, ending):
        assert client.get(f"/i/{initiative.slug}/sign").status_code == 200
        assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    assert _statements(db) == 2


def test_without_an_auditor_key_nothing_is_collected(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(with_key=False)
    assert client.get(f"/i/{initiative.slug}/sign").status_code == 403
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 403
    assert _statements(db) == 0


# -- CSRF ------------------------------------------------------------------------------------------------------------


def _csrf_app(app_factory):  # type: ignore[no-untyped-def]
    """CSRF on, in an app of its own: each request then gets its own app context, as in production."""
    return app_factory(WTF_CSRF_ENABLED=True)


def _hidden_token(html: str) -> str:
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_csrf_missing_or_wrong_is_refused(app_factory, db):  # type: ignore[no-untyped-def]
    web = _csrf_app(app_factory)
    client = web.test_client()
    initiative, _ = make_initiative()
    client.get(f"/i/{initiative.slug}/sign")  # a session exists, so only the token is wrong
    for extra in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        response = client.post(f"/i/{initiative.slug}/sign", data=part_b() | extra)
        assert response.status_code == 400
        assert "reload the page" in response.get_data(as_text=True)
    # a genuine token from another visitor's session is wrong for this one
    stranger = _hidden_token(web.test_client().get(f"/i/{initiative.slug}/sign").get_data(as_text=True))
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b(csrf_token=stranger)).status_code == 400
    # and a token without any session at all
    assert web.test_client().post(f"/i/{initiative.slug}/sign", data=part_b(csrf_token=stranger)).status_code == 400
    assert _statements(db) == 0


def test_csrf_real_token_signs_and_confirms(app_factory, db):  # type: ignore[no-untyped-def]
    """The one journey with CSRF on: form, token, 303; confirmation page, token, confirmed."""
    web = _csrf_app(app_factory)
    client = web.test_client()
    initiative, _ = make_initiative()
    token = _hidden_token(client.get(f"/i/{initiative.slug}/sign?country=PL").get_data(as_text=True))
    response = client.post(f"/i/{initiative.slug}/sign", data=part_b(csrf_token=token))
    assert response.status_code == 303
    assert _statements(db) == 1

    [message] = db.session.scalars(sa.select(OutboxMessage))
    [link] = set(LINK.findall(message.body_text or ""))
    assert client.post(path_of(link)).status_code == 400  # confirming also needs the token
    page = client.get(path_of(link)).get_data(as_text=True)
    assert client.post(path_of(link), data={"csrf_token": _hidden_token(page)}).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(sa.select(Statement.status)) == "confirmed"


# -- without JavaScript ----------------------------------------------------------------------------------------------


def test_choose_country_without_javascript_keeps_values(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    response = client.post(
        f"/i/{initiative.slug}/sign",
        data={"country": "PL", "choose_country": "1", "first_names": "Agnieszka", "email": "agnieszka@example.org"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _visible(html, "part-b")
    assert not _visible(html, "part-a")
    assert _visible(html, "contact")
    assert _selected(html, "country") == ["PL"]
    assert '<option value="personal_number"' in html
    assert _value(html, "first_names") == "Agnieszka"
    assert _value(html, "email") == "agnieszka@example.org"
    assert _errors(html) == {}
    assert _summary(html) == []
    assert not _title(html).startswith("Error:")
    assert _statements(db) == 0

    response = client.post(
        f"/i/{initiative.slug}/sign",
        data={"country": "DE", "choose_country": "1", "date_of_birth_day": "25", "updates_consent": "y"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _visible(html, "part-a")
    assert not _visible(html, "part-b")
    assert _value(html, "date_of_birth_day") == "25"
    assert _checked(html, "updates_consent")
    assert _errors(html) == {}


@pytest.mark.parametrize(("country", "part"), [("DE", "part-a"), ("pl", "part-b"), ("CZ", "part-b")])
def test_country_in_the_query_shows_its_fields(client, country, part):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    response = client.get(f"/i/{initiative.slug}/sign?country={country}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    other = "part-b" if part == "part-a" else "part-a"
    assert _visible(html, part)
    assert not _visible(html, other)
    assert _visible(html, "personal")
    assert _selected(html, "country") == [country.upper()]
    assert _errors(html) == {}


def test_without_country_only_the_choice_shows(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for query in ("", "?country=US", "?country="):
        html = client.get(f"/i/{initiative.slug}/sign{query}").get_data(as_text=True)
        for name in ("personal", "part-a", "part-b", "contact"):
            assert not _visible(html, name)
        assert 'name="choose_country"' in html
        assert _selected(html, "country") == [""]


# -- the residence country -------------------------------------------------------------------------------------------


def test_residence_is_prefilled_with_the_nationality_of_a_part_a_country(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = client.get(f"/i/{initiative.slug}/sign?country=FR").get_data(as_text=True)
    assert _selected(html, "residence_country") == ["FR"]
    html = _post(client, initiative.slug, {"country": "DE", "choose_country": "1"}, status=200)
    assert _selected(html, "residence_country") == ["DE"]
    # a choice of the signer's own stays; a Part B country has no residence to fill in
    html = _post(client, initiative.slug, {"country": "DE", "choose_country": "1", "residence_country": "AT"}, 200)
    assert _selected(html, "residence_country") == ["AT"]
    html = client.get(f"/i/{initiative.slug}/sign?country=PL").get_data(as_text=True)
    assert _selected(html, "residence_country") == [""]
    assert _selected(client.get(f"/i/{initiative.slug}/sign").get_data(as_text=True), "residence_country") == [""]


def test_residence_keeps_the_signers_choice_on_a_422(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = _post(client, initiative.slug, part_a(country="DE", residence_country="AT", email=""))
    assert _selected(html, "residence_country") == ["AT"]


def test_residence_error_is_not_shown_beside_a_chosen_country(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = _post(client, initiative.slug, part_a(country="DE", residence_country=""))
    assert _error(html, "residence_country") is None or _selected(html, "residence_country") == [""]


# -- signing and confirming ------------------------------------------------------------------------------------------


def _confirm_from_outbox(client, db) -> None:  # type: ignore[no-untyped-def]
    [message] = db.session.scalars(sa.select(OutboxMessage))
    [link] = set(LINK.findall(message.body_text or ""))
    assert "Confirm your support" in client.get(path_of(link)).get_data(as_text=True)
    assert client.post(path_of(link)).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(sa.select(Statement.status)) == "confirmed"


def _confirmed(client, slug: str) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    body = client.get(f"/api/v1/initiatives/{slug}").get_json()
    return [(c["code"], c["confirmed"]) for c in body["countries"] if c["confirmed"]]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_in_boxes(part_a(country="FR", residence_country="BE"), "29", "2", "1980"), id="three-boxes"),
        pytest.param(part_a(country="FR", residence_country="BE", date_of_birth="29.02.1980"), id="whole-date"),
    ],
)
def test_part_a_signs_and_confirms(client, db, data):  # type: ignore[no-untyped-def]
    initiative, private = make_initiative()
    response = client.post(f"/i/{initiative.slug}/sign", data=data)
    assert response.status_code == 303
    assert "/i/stop-scanning/thanks" in response.headers["Location"]
    _confirm_from_outbox(client, db)
    assert _confirmed(client, initiative.slug) == [("FR", 1)]
    sealed = open_sealed(private, db.session.scalar(sa.select(Statement.sealed_data)))
    assert (sealed["first_names"], sealed["date_of_birth"], sealed["street"], sealed["residence_country"]) == (
        "Zoë Anna",
        "1980-02-29",
        "Hauptstraße 12",
        "BE",
    )
    assert (sealed["id_type"], sealed["id_number"]) == ("", "")


def test_part_b_signs_and_confirms(client, db):  # type: ignore[no-untyped-def]
    initiative, private = make_initiative()
    data = part_b(country="CZ", id_type="passport", id_number="40123456", age_confirm="y")
    assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    _confirm_from_outbox(client, db)
    assert _confirmed(client, initiative.slug) == [("CZ", 1)]
    sealed = open_sealed(private, db.session.scalar(sa.select(Statement.sealed_data)))
    assert (sealed["id_type"], sealed["id_number"], sealed["date_of_birth"], sealed["street"]) == (
        "passport",
        "40123456",
        "",
        "",
    )


# -- a 422: every error beside its field, everything typed kept ------------------------------------------------------


def test_part_a_errors_beside_their_fields_and_values_kept(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = _in_boxes(part_a(postal_code="", updates_consent="y", residence_country="AT"), "31", "2", "1990")
    del data["privacy_consent"]
    html = _post(client, initiative.slug, data)
    assert _errors(html) == {
        "date_of_birth": "Date of birth must be a real date",
        "postal_code": "Enter your postal code",
        "privacy_consent": "Accept the privacy statement to sign",
    }
    assert html.count('class="field has-error"') + html.count('class="field check has-error"') == 3
    # what was typed comes back: text, the three date boxes, the selects and the ticked boxes
    assert [_value(html, box) for box in DATE_BOXES] == ["31", "2", "1990"]
    for field in ("first_names", "family_names", "street", "city", "email"):
        assert _value(html, field) == data[field], field
    assert _value(html, "postal_code") == ""
    assert _selected(html, "country") == ["DE"]
    assert _selected(html, "residence_country") == ["AT"]
    assert _checked(html, "updates_consent")
    assert _checked(html, "declaration")
    assert not _checked(html, "privacy_consent")
    # each field in error points to its message
    assert 'aria-describedby="postal_code-error" aria-invalid="true"' in _input(html, "postal_code")
    assert 'aria-describedby="privacy_consent-error" aria-invalid="true"' in _input(html, "privacy_consent")
    assert all('aria-invalid="true"' in _input(html, box) for box in DATE_BOXES)
    assert 'aria-describedby="date_of_birth-hint date_of_birth-error"' in html
    assert "aria-invalid" not in _input(html, "street")
    assert _statements(db) == 0


def test_part_b_errors_beside_their_fields_and_values_kept(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_b(country="ES", id_type="id_card", id_number="54362315-X", first_names="", email="ana@example")
    html = _post(client, initiative.slug, data)
    assert _errors(html) == {
        "first_names": "Enter your first names",
        "id_number": "Check the number of your DNI (Documento Nacional de Identidad): it is not a valid one",
        "age_confirm": "Confirm that you are at least 18 years old",
        "email": "Enter an email address in the correct format, like name@example.org",
    }
    assert '<div id="age-confirm">' in html  # shown, since it is asked for
    assert _visible(html, "part-b")
    assert _selected(html, "id_type") == ["id_card"]
    assert (_value(html, "id_number"), _value(html, "email"), _value(html, "family_names")) == (
        "54362315-X",
        "ana@example",
        "Wiśniewska",
    )
    assert _checked(html, "privacy_consent") and _checked(html, "declaration")
    assert _statements(db) == 0


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        pytest.param(part_b(id_number="4405140135"), "id_number", "PESEL numbers have 11 digits", id="pesel-digits"),
        pytest.param(
            part_a(country="FR", residence_country="FR", date_of_birth="2015-01-01"),
            "date_of_birth",
            "Citizens of this member state (France) can sign from the age of 18",  # the country by name, not code
            id="too-young",
        ),
        pytest.param(_in_boxes(part_a(), "25", "3", "90"), "date_of_birth", "Year must include 4 numbers", id="year"),
        pytest.param(
            _in_boxes(part_a(), "25", "", "1990"), "date_of_birth", "Date of birth must include a month", id="month"
        ),
    ],
)
def test_specific_messages_on_the_page(client, db, data, field, message):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = _post(client, initiative.slug, data)
    assert _errors(html) == {field: message}
    assert _summary(html)[0][1] == message


def test_a_whole_date_sent_by_a_script_comes_back_in_the_boxes(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = _post(client, initiative.slug, part_a(date_of_birth="25.03.1990", email=""))
    assert [_value(html, box) for box in DATE_BOXES] == ["25", "3", "1990"]


def test_the_declaration_is_required(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for data in (part_a(), part_b()):
        del data["declaration"]
        html = _post(client, initiative.slug, data)
        assert _errors(html) == {"declaration": "Confirm the declaration to sign"}
        assert _summary(html) == [("#declaration", "Confirm the declaration to sign")]
        assert not _checked(html, "declaration")
        assert _errors(_post(client, initiative.slug, data | {"declaration": ""})) == _errors(html)
    assert _statements(db) == 0
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    assert _statements(db) == 1


# -- the error summary and the title ---------------------------------------------------------------------------------


def test_the_summary_lists_each_message_and_links_to_its_field(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = _in_boxes(part_a(city="", email="nope"), "", "3", "1990")
    del data["privacy_consent"]
    html = _post(client, initiative.slug, data)
    summary = _summary(html)
    assert summary == (  # in the order of the form
        [
            ("#date_of_birth_day", "Date of birth must include a day"),  # the group's first box, which has an id
            ("#city", "Enter your city or town"),
            ("#email", "Enter an email address in the correct format, like name@example.org"),
            ("#privacy_consent", "Accept the privacy statement to sign"),
        ]
    )
    assert 'href="#date_of_birth"' not in html
    # the summary says what the fields say, and every link lands on an element of the page
    assert dict((href.removeprefix("#"), text) for href, text in summary) == {
        ("date_of_birth_day" if field == "date_of_birth" else field): message
        for field, message in _errors(html).items()
    }
    for href, _text in summary:
        assert f'id="{href.removeprefix("#")}"' in html
    assert 'role="alert"' in html and 'id="error-summary"' in html


def test_the_summary_follows_the_order_of_the_form(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = _post(client, initiative.slug, part_a(date_of_birth="", street="", email=""))
    on_the_page = [field for field in re.findall(r'<p class="error" id="([a-z_]+)-error">', html)]
    in_the_summary = [href.removeprefix("#").removesuffix("_day") for href, _text in _summary(html)]
    assert in_the_summary == on_the_page


def test_error_in_the_title_only_when_there_are_errors(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    title = _title(client.get(f"/i/{initiative.slug}/sign?country=DE").get_data(as_text=True))
    assert title == "Sign: Initiative stop-scanning · Quorum"
    html = _post(client, initiative.slug, part_a(email=""))
    assert _title(html) == "Error: Sign: Initiative stop-scanning · Quorum"
    assert _summary(html) == [("#email", "Enter your email address: you confirm your support from it")]
