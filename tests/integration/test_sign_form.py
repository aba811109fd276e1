"""The sign form: refusals when signing is not open, CSRF, the no-JavaScript path, every member state, validation."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from stdnum.pl import pesel

from app.eci.id_numbers import birth_date_from_number
from app.eci.member_states import member_states
from app.models import OutboxMessage, Statement, utctoday
from app.sealing import open_sealed

from ..support.factories import LINK, PESEL, make_initiative, part_a, part_b, path_of


def _statements(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Statement)))


def _fieldset(html: str, name: str) -> str:
    match = re.search(rf'<fieldset id="{name}"[^>]*>', html)
    assert match, name
    return match.group(0)


def _visible(html: str, name: str) -> bool:
    return " hidden" not in _fieldset(html, name)


def _value(html: str, field: str) -> str | None:
    match = re.search(rf'<input id="{field}" name="{field}" type="[a-z]+" value="([^"]*)"', html)
    return match.group(1) if match else None


def _error(html: str, field: str) -> str | None:
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


def _years_ago(years: int, today: date | None = None) -> date:
    today = today or utctoday()
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _pesel_born(day: date) -> str:
    """A valid PESEL for someone born on `day` (the century is folded into the month)."""
    month = day.month + {1800: 80, 1900: 0, 2000: 20, 2100: 40}[day.year // 100 * 100]
    stem = f"{day.year % 100:02d}{month:02d}{day.day:02d}0123"
    return stem + pesel.calc_check_digit(stem)


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
    _refused(client, initiative.slug, 403, f"starts on {start.isoformat()}")
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
    assert '<option value="PL" selected>' in html
    assert '<option value="personal_number"' in html
    assert _value(html, "first_names") == "Agnieszka"
    assert _value(html, "email") == "agnieszka@example.org"
    assert "error" not in html.split('id="sign-form"')[1].split("</form>")[0].replace("error-summary", "")
    assert _statements(db) == 0

    response = client.post(f"/i/{initiative.slug}/sign", data={"country": "DE", "choose_country": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _visible(html, "part-a")
    assert not _visible(html, "part-b")


@pytest.mark.parametrize(
    ("country", "part"), [("DE", "part-a"), ("PL", "part-b"), ("de", "part-a"), ("FI", "part-a"), ("CZ", "part-b")]
)
def test_country_in_the_query_shows_its_fields(client, country, part):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    response = client.get(f"/i/{initiative.slug}/sign?country={country}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    other = "part-b" if part == "part-a" else "part-a"
    assert _visible(html, part)
    assert not _visible(html, other)
    assert _visible(html, "personal")
    assert f'<option value="{country.upper()}" selected>' in html


def test_without_country_only_the_choice_shows(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for query in ("", "?country=US", "?country="):
        html = client.get(f"/i/{initiative.slug}/sign{query}").get_data(as_text=True)
        for name in ("personal", "part-a", "part-b", "contact"):
            assert not _visible(html, name)
        assert 'name="choose_country"' in html


# -- every member state ----------------------------------------------------------------------------------------------

PART_B_NUMBERS: dict[tuple[str, str], str] = {
    ("BE", "personal_number"): "85.07.30-033 28",
    ("BG", "personal_number"): "8032056031",
    ("CZ", "id_card"): "203456789",
    ("CZ", "passport"): "40123456",
    ("EE", "personal_number"): "36805280109",
    ("ES", "id_card"): "54362315-K",
    ("ES", "passport"): "PAA123456",
    ("HR", "personal_number"): "HR 33392005961",
    ("IT", "passport"): "YA1234567",
    ("IT", "id_card"): "CA00000AA",
    ("CY", "id_card"): "1234567",
    ("CY", "passport"): "K00123456",
    ("LV", "personal_number"): "161175-19997",
    ("LT", "personal_number"): "33309240064",
    ("HU", "id_card"): "123456AB",
    ("HU", "passport"): "BE1234567",
    ("HU", "personal_number"): "1-800101-1234",
    ("MT", "id_card"): "0123456M",
    ("AT", "passport"): "P1234567",
    ("AT", "id_card"): "1234567",
    ("PL", "personal_number"): PESEL,
    ("PT", "id_card"): "12345678",
    ("PT", "passport"): "P123456",
    ("PT", "citizen_card"): "00000000 0 ZZ4",
    ("RO", "id_card"): "RX123456",
    ("RO", "passport"): "051234567",
    ("RO", "personal_number"): "1630615123457",
    ("SI", "personal_number"): "0101006500006",
    ("SE", "personal_number"): "880320-0016",
}


def test_the_table_covers_every_document_of_every_part_b_state() -> None:
    expected = {(s.code, t) for s in member_states().values() if s.data_part == "B" for t in s.id_types}
    assert set(PART_B_NUMBERS) == expected
    assert len(member_states()) == 27


def _confirm_from_outbox(client, db) -> None:  # type: ignore[no-untyped-def]
    [message] = db.session.scalars(sa.select(OutboxMessage))
    [link] = set(LINK.findall(message.body_text or ""))
    assert client.post(path_of(link)).status_code == 200


@pytest.mark.parametrize("country", [c for c, s in member_states().items() if s.data_part == "A"])
def test_every_part_a_state_can_sign(client, db, country):  # type: ignore[no-untyped-def]
    initiative, private = make_initiative()
    data = part_a(country=country, residence_country="BE")
    assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    _confirm_from_outbox(client, db)
    body = client.get(f"/api/v1/initiatives/{initiative.slug}").get_json()
    assert [(c["code"], c["confirmed"]) for c in body["countries"] if c["confirmed"]] == [(country, 1)]
    statement = db.session.scalar(sa.select(Statement))
    sealed = open_sealed(private, statement.sealed_data)
    assert (sealed["date_of_birth"], sealed["residence_country"], sealed["id_number"]) == ("1980-02-29", "BE", "")


@pytest.mark.parametrize(("country", "id_type"), sorted(PART_B_NUMBERS))
def test_every_part_b_state_and_document_can_sign(client, db, country, id_type):  # type: ignore[no-untyped-def]
    initiative, private = make_initiative()
    number = PART_B_NUMBERS[(country, id_type)]
    data = part_b(country=country, id_type=id_type, id_number=number)
    if birth_date_from_number(country, id_type, number) is None:  # the box stands in for the number
        refused = client.post(f"/i/{initiative.slug}/sign", data=data)
        assert refused.status_code == 422
        assert _error(refused.get_data(as_text=True), "age_confirm")
        data["age_confirm"] = "y"
    assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    _confirm_from_outbox(client, db)
    body = client.get(f"/api/v1/initiatives/{initiative.slug}").get_json()
    assert [(c["code"], c["confirmed"]) for c in body["countries"] if c["confirmed"]] == [(country, 1)]
    statement = db.session.scalar(sa.select(Statement))
    sealed = open_sealed(private, statement.sealed_data)
    assert (sealed["id_type"], sealed["id_number"], sealed["street"]) == (id_type, number, "")


# -- validation ------------------------------------------------------------------------------------------------------


def _invalid(client, slug: str, data: dict[str, str], field: str) -> str:  # type: ignore[no-untyped-def]
    response = client.post(f"/i/{slug}/sign", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _error(html, field), field
    assert f'href="#{field}"' in html  # the summary links to the field
    return html


@pytest.mark.parametrize(
    "field",
    [
        "first_names",
        "family_names",
        "date_of_birth",
        "street",
        "postal_code",
        "city",
        "residence_country",
        "email",
        "privacy_consent",
    ],
)
def test_part_a_missing_field(client, db, field):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_a()
    del data[field]
    html = _invalid(client, initiative.slug, data, field)
    for kept in data:
        if kept not in ("country", "residence_country", "privacy_consent"):
            assert _value(html, kept) == data[kept].replace("&", "&amp;"), kept
    # only the missing one is in error
    assert [f for f in part_a() if f != "country" and _error(html, f)] == [field]
    assert _statements(db) == 0


@pytest.mark.parametrize("field", ["first_names", "family_names", "id_type", "id_number", "email", "privacy_consent"])
def test_part_b_missing_field(client, db, field):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_b()
    del data[field]
    html = _invalid(client, initiative.slug, data, field)
    if field != "id_number":
        assert _value(html, "id_number") == PESEL
    assert _statements(db) == 0


def test_blank_and_whitespace_only_fields(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _invalid(client, initiative.slug, part_a(first_names="   "), "first_names")
    _invalid(client, initiative.slug, part_a(family_names="1234"), "family_names")
    _invalid(client, initiative.slug, part_a(country=""), "country")
    _invalid(client, initiative.slug, part_a(country="US"), "country")
    _invalid(client, initiative.slug, part_a(residence_country="Germany"), "residence_country")
    assert _statements(db) == 0


def test_too_young_by_date_of_birth(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    today = utctoday()
    sixteen_tomorrow = _years_ago(16) + timedelta(days=1)
    html = _invalid(client, initiative.slug, part_a(date_of_birth=sixteen_tomorrow.isoformat()), "date_of_birth")
    assert "from the age of 16" in html
    assert _value(html, "date_of_birth") == sixteen_tomorrow.isoformat()
    _invalid(client, initiative.slug, part_a(date_of_birth=(today + timedelta(days=1)).isoformat()), "date_of_birth")
    # 16 today is old enough in Germany; France asks for 18
    assert (
        client.post(f"/i/{initiative.slug}/sign", data=part_a(date_of_birth=_years_ago(16).isoformat())).status_code
        == 303
    )
    html = _invalid(
        client,
        initiative.slug,
        part_a(country="FR", residence_country="FR", date_of_birth=_years_ago(17).isoformat()),
        "date_of_birth",
    )
    assert "from the age of 18" in html
    assert _statements(db) == 1


def test_too_young_by_pesel(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    ten = _pesel_born(_years_ago(10))
    assert pesel.is_valid(ten)
    html = _invalid(client, initiative.slug, part_b(id_number=ten), "id_number")
    assert "from the age of 18" in html
    assert _value(html, "id_number") == ten
    # ticking the box does not overrule the number
    _invalid(client, initiative.slug, part_b(id_number=ten, age_confirm="y"), "id_number")
    almost = _pesel_born(_years_ago(18) + timedelta(days=1))
    _invalid(client, initiative.slug, part_b(id_number=almost), "id_number")
    eighteen_today = _pesel_born(_years_ago(18))
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b(id_number=eighteen_today)).status_code == 303
    assert _statements(db) == 1


def test_age_confirm_needed_where_the_number_tells_no_age(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_b(country="CZ", id_type="passport", id_number="40123456")
    html = _invalid(client, initiative.slug, data, "age_confirm")
    assert "at least 18" in html
    assert _value(html, "id_number") == "40123456"
    # where the number tells the age, no box is needed
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    assert _statements(db) == 1


@pytest.mark.parametrize("number", ["44051401358", "4405140135", "ABCDEFGHIJK", "02381307589"])
def test_invalid_document_numbers(client, db, number):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = _invalid(client, initiative.slug, part_b(id_number=number), "id_number")
    assert _value(html, "id_number") == number
    assert _statements(db) == 0


def test_id_type_not_of_the_country(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _invalid(client, initiative.slug, part_b(id_type="passport", id_number="P1234567", age_confirm="y"), "id_type")
    _invalid(client, initiative.slug, part_b(country="CZ", id_type="personal_number", age_confirm="y"), "id_type")
    assert _statements(db) == 0


@pytest.mark.parametrize(
    "address", ["zoe", "zoe@", "@example.org", "zoe@example", "zoe example.org", "zoe@@example.org", "zoe@example..org"]
)
def test_bad_email(client, db, address):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = _invalid(client, initiative.slug, part_a(email=address), "email")
    assert _value(html, "email") == address
    assert _value(html, "first_names") == "Zoë Anna"
    assert _statements(db) == 0


def test_missing_privacy_consent_keeps_the_rest(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_a(updates_consent="y")
    del data["privacy_consent"]
    html = _invalid(client, initiative.slug, data, "privacy_consent")
    assert re.search(r'id="updates_consent" name="updates_consent" type="checkbox" value="y" checked', html)
    assert not re.search(r'id="privacy_consent"[^>]*checked', html)
    assert _statements(db) == 0


@pytest.mark.parametrize(
    "birth",
    [
        "29.02.1980",
        "1980-2-29",
        "1980/02/29",
        "80-02-29",
        "1980-02-30",
        "19800229",
        "1899-12-31",
        "yesterday",
        "1980-W01-1",
        "1980-02-29T10",
        " 1980-02-2",
    ],
)
def test_bad_date_format(client, db, birth):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = _invalid(client, initiative.slug, part_a(date_of_birth=birth), "date_of_birth")
    assert _value(html, "date_of_birth") == birth
    assert _statements(db) == 0


def test_several_errors_at_once(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_a(date_of_birth="soon", email="nope", postal_code="")
    response = client.post(f"/i/{initiative.slug}/sign", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert {f for f in part_a() if _error(html, f)} == {"date_of_birth", "email", "postal_code"}
    assert _value(html, "street") == "Hauptstraße 12"
    assert _value(html, "city") == "Berlin"
