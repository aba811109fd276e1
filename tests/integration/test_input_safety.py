"""Hostile input: markup and SQL are stored as typed (sealed) and shown escaped; control characters, overlong
fields and oversized bodies are refused with 4xx, never a 500."""

from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa

from app.eci.signer import MAX_LENGTHS
from app.models import OutboxMessage, Statement
from app.sealing import open_sealed

from ..support.factories import LINK, make_initiative, part_a, part_b, path_of

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "Robert'); DROP TABLE statement;--",
    "{{ 7*7 }} {% raw %}",
    "' OR '1'='1",
]


def confirm_link_in(text: str) -> str:
    [link] = set(LINK.findall(text))
    return str(link)


def _statements(db) -> list[Statement]:  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(Statement)))


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_names_are_stored_exactly_and_sealed(client, db, text):  # type: ignore[no-untyped-def]
    initiative, private = make_initiative()
    data = part_a(first_names=text, family_names=f"{text} Smith", street=text, city=f"Köln {text}")
    response = client.post(f"/i/{initiative.slug}/sign", data=data)
    assert response.status_code == 303
    [statement] = _statements(db)
    assert text.encode() not in statement.sealed_data
    sealed = open_sealed(private, statement.sealed_data)
    assert sealed["first_names"] == text
    assert sealed["family_names"] == f"{text} Smith"
    assert sealed["street"] == text
    assert sealed["city"] == f"Köln {text}"
    # the table is still there, and so is the initiative
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 1
    # the confirmation mail does not carry the names
    [message] = db.session.scalars(sa.select(OutboxMessage))
    assert text not in (message.body_text or "")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_names_are_escaped_on_the_re_rendered_form(client, db, text):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_a(first_names=text, family_names=text, street=text, city=f"Köln {text}", email="not an address")
    response = client.post(f"/i/{initiative.slug}/sign", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "49" not in html.split('id="first_names"')[1][:200]  # no template evaluation of {{ 7*7 }}
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    escaped = escaped.replace("'", "&#39;")
    assert f'value="{escaped}"' in html
    assert _statements(db) == []


def test_country_rules_json_cannot_close_its_script_element(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    html = client.get(f"/i/{initiative.slug}/sign").get_data(as_text=True)
    script = html.split('<script type="application/json" id="country-rules">', 1)[1]
    body = script.split("</script>", 1)[0]
    assert "<" not in body


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\u202e", "\u200b", "\x7f", "\r\n"])
@pytest.mark.parametrize("field", ["first_names", "family_names", "street", "postal_code", "city"])
def test_control_characters_are_refused_in_part_a(client, db, field, character):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_a()
    data[field] = f"{data[field][:3]}{character}{data[field][3:]}"
    response = client.post(f"/i/{initiative.slug}/sign", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert _statements(db) == []


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\u202e"])
def test_control_characters_are_refused_in_part_b_and_email(client, db, character):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for field, value in (
        ("id_number", f"4405{character}1401359"),
        ("first_names", f"Ag{character}nieszka"),
        ("email", f"agnieszka{character}@example.org"),
    ):
        response = client.post(f"/i/{initiative.slug}/sign", data=part_b(**{field: value}))
        assert response.status_code == 422, field
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _statements(db) == []


def test_header_injection_in_the_address_is_refused(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for address in ("agnieszka@example.org\r\nBcc: victim@example.org", "agnieszka@example.org\nBcc: x@example.org"):
        response = client.post(f"/i/{initiative.slug}/sign", data=part_b(email=address))
        assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize("field", sorted(MAX_LENGTHS))
def test_overlong_fields_are_refused(client, db, field):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_b() if field == "id_number" else part_a()
    data[field] = "a" * (MAX_LENGTHS[field] + 1)
    if field == "email":
        data[field] = "a" * (MAX_LENGTHS[field] - len("@example.org") + 1) + "@example.org"
    response = client.post(f"/i/{initiative.slug}/sign", data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _statements(db) == []


def test_longest_allowed_names_are_accepted(client, db):  # type: ignore[no-untyped-def]
    initiative, private = make_initiative()
    name = "Ä" * MAX_LENGTHS["first_names"]
    response = client.post(f"/i/{initiative.slug}/sign", data=part_a(first_names=name))
    assert response.status_code == 303
    [statement] = _statements(db)
    assert open_sealed(private, statement.sealed_data)["first_names"] == name


def test_names_are_sealed_in_nfc(client, db):  # type: ignore[no-untyped-def]
    initiative, private = make_initiative()
    decomposed = unicodedata.normalize("NFD", "Zoë Anna")
    assert client.post(f"/i/{initiative.slug}/sign", data=part_a(first_names=decomposed)).status_code == 303
    [statement] = _statements(db)
    assert open_sealed(private, statement.sealed_data)["first_names"] == "Zoë Anna"


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 3 * 1024 * 1024])
def test_oversized_body_is_refused(client, db, size):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_a(first_names="a" * size)
    response = client.post(f"/i/{initiative.slug}/sign", data=data)
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    assert _statements(db) == []


def test_oversized_multipart_body_is_refused(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    fields = dict(part_a(first_names="a" * (2 * 1024 * 1024)))
    parts = [f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    body = ("".join(parts) + "--b--\r\n").encode()
    response = client.post(f"/i/{initiative.slug}/sign", data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    assert _statements(db) == []


def test_oversized_body_on_the_renew_form_is_refused(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    [message] = db.session.scalars(sa.select(OutboxMessage))
    link = path_of(confirm_link_in(message.body_text or ""))
    response = client.post(f"{link}/renew", data={"email": "a" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


NASTY: list[dict[str, str]] = [
    part_a(country="ZZ"),
    part_a(country="<script>"),
    part_a(country="de"),
    part_a(country=""),
    part_a(residence_country="XXX"),
    part_a(residence_country="\u00c4\u00d6"),
    part_a(date_of_birth="1980-13-45"),
    part_a(date_of_birth="99999-01-01"),
    part_a(date_of_birth="\x00"),
    part_a(date_of_birth="1980-02-29T00:00"),
    part_a(date_of_birth="0001-01-01"),
    part_b(id_type="../../etc/passwd"),
    part_b(id_type="passport"),
    part_b(id_number=""),
    part_b(id_number="%s%s%s%n"),
    part_b(id_number="4" * 40),
    part_b(email="@"),
    part_b(email="a@b"),
    part_b(email="x" * 70 + "@example.org"),
    part_b(email="agnieszka@" + "a" * 64 + ".org"),
    part_b(privacy_consent="no"),
    part_b(age_confirm="maybe"),
    part_b(country="CZ", id_type="id_card", id_number="X1234567", age_confirm="false"),
]


@pytest.mark.parametrize("data", NASTY, ids=[str(i) for i in range(len(NASTY))])
def test_nothing_hostile_gives_a_server_error(client, data):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    response = client.post(f"/i/{initiative.slug}/sign", data=data)
    assert response.status_code in (303, 422), response.status_code


def test_raw_bodies_never_give_a_server_error(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    url = f"/i/{initiative.slug}/sign"
    bodies = [
        (b"first_names=%FF%FE&country=DE", "application/x-www-form-urlencoded"),
        (b"country=DE&country=PL&first_names=a&first_names=b", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b'{"country": "DE"}', "application/json"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"", "text/plain"),
    ]
    for body, content_type in bodies:
        response = client.post(url, data=body, content_type=content_type)
        assert response.status_code in (400, 413, 415, 422), (body, response.status_code)
    for query in ("?country=%00", "?country=" + "A" * 5000, "?country=<script>", "?country=pl"):
        assert client.get(url + query).status_code == 200
    assert client.get(f"/i/{'a' * 500}/sign").status_code == 404
    assert client.get("/i/%00/sign").status_code == 404


def test_echoed_address_on_the_thanks_page_is_escaped(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    [message] = db.session.scalars(sa.select(OutboxMessage))
    link = path_of(confirm_link_in(message.body_text or ""))
    response = client.post(f"{link}/renew", data={"email": "<script>alert(1)</script>@example.org"})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;s…@example.org" in html  # the address typed, masked, and escaped
