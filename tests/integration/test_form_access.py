"""A form people get right the first time, and staff pages held to the same bar: browsers fill in what they know
(`autocomplete`), the error summary comes first and takes the focus as the page loads (with or without JavaScript:
`autofocus`), the title says "Error:"."""

from __future__ import annotations

import re

import pytest

from app.models import StaffRole

from ..support.confirmation import confirm
from ..support.factories import make_initiative, make_staff, sign_in_as

# What each field of the sign form tells the browser (HTML, "Autofill"); "off" where no token fits or the value
# must never be suggested from another site (a document number).
AUTOCOMPLETE = {
    "country": "off",
    "first_names": "given-name",
    "family_names": "family-name",
    "date_of_birth_day": "bday-day",
    "date_of_birth_month": "bday-month",
    "date_of_birth_year": "bday-year",
    "street": "address-line1",
    "postal_code": "postal-code",
    "city": "address-level2",
    "residence_country": "country",
    "id_type": "off",
    "id_number": "off",
    "email": "email",
}


def _fields(page: str) -> dict[str, str | None]:
    """name -> autocomplete of every input and select a signer types in or chooses from."""
    found: dict[str, str | None] = {}
    for tag in re.findall(r"<(?:input|select)\b[^>]*>", page):
        kind = re.search(r'type="([^"]+)"', tag)
        if kind and kind.group(1) in ("hidden", "checkbox", "submit"):
            continue
        name = re.search(r'name="([^"]+)"', tag)
        assert name, tag
        value = re.search(r'autocomplete="([^"]+)"', tag)
        found[name.group(1)] = value.group(1) if value else None
    return found


@pytest.mark.parametrize("country", ["DE", "PL"])
def test_every_field_of_the_sign_form_says_what_to_fill_in(client, country):  # type: ignore[no-untyped-def]
    make_initiative()
    fields = _fields(client.get(f"/i/stop-scanning/sign?country={country}").text)
    assert fields == AUTOCOMPLETE


def test_the_error_summary_comes_first_and_takes_the_focus(client):  # type: ignore[no-untyped-def]
    make_initiative()
    page = client.post("/i/stop-scanning/sign", data={"country": "DE"}).text
    main = page[page.index('<main id="main">') :]
    summary = r'<main id="main">\s*<div class="error-summary" role="alert"[^>]* tabindex="-1"[^>]* autofocus>'
    assert re.match(summary, main)
    assert "<title>Error: " in page
    assert page.count(" autofocus") == 1


def _staff_summary(page: str) -> str:
    match = re.search(r'<div class="wide">.*?(<div class="error-summary"[^>]*>)', page, re.S)
    assert match, "an error summary"
    return match.group(1)


def test_staff_pages_put_the_error_summary_first_and_focus_it(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    wrong = client.post("/admin/login", data={"email": "nobody@example.org", "password": "x" * 12})
    assert re.search(r'<section class="notice">\s*<div class="error-summary"[^>]*autofocus>', wrong.text)

    admin = make_staff(db, "admin@example.org", StaffRole.ADMIN, [initiative])
    sign_in_as(client, admin)
    edit = client.post("/admin/initiatives/stop-scanning/edit", data={"title": "", "collection_end": "soon"})
    assert edit.status_code == 422
    content = edit.text[edit.text.index('<div class="wide">') :]
    assert re.match(r'<div class="wide">\s*<div class="error-summary"[^>]*autofocus>', content)
    assert "<title>Error: " in edit.text
    assert 'href="#title"' in content and 'href="#collection_end"' in content

    status = client.get("/admin/initiatives/stop-scanning/status", query_string={"status": "draft"})
    assert status.status_code == 422 and "autofocus" in _staff_summary(status.text)
    assert 'href="#status-heading"' in status.text
    no_reason = confirm(client, "/admin/initiatives/stop-scanning/status", "", query={"status": "closed"})
    assert no_reason.status_code == 422 and "autofocus" in _staff_summary(no_reason.text)
    assert 'href="#reason"' in no_reason.text

    audit = client.get("/admin/audit?since=yesterday")
    assert "autofocus" in _staff_summary(audit.text) and 'href="#since"' in audit.text

    new_account = {"email": "bad", "role": StaffRole.ORGANIZER, "password": "short"}
    account = client.post("/admin/accounts/new", data=new_account)
    assert account.status_code in (400, 422) and "autofocus" in _staff_summary(account.text)
