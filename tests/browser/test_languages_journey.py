"""The whole signing journey in German, Polish, Greek and Bulgarian, with JavaScript on and off: the browser's
language chooses the page's, every step and the email speak it, names in their own script go through and count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from ..support.factories import EGN, PESEL, confirm_link, html_of, make_initiative
from .server import LiveServer

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Signer:
    lang: str
    country: str
    country_name: str  # CLDR's name of the country in the signer's language
    fields: dict[str, str]  # by element id, as typed (a <select> by its option's value)
    words: dict[str, str]  # the journey's landmarks in the signer's language


# The words as the catalogs give them (translations/<lang>/LC_MESSAGES/messages.po), written out here: a page that
# fell back to English, or to another language, fails on them.
SIGNERS = [
    Signer(
        "de",
        "DE",
        "Deutschland",
        {
            "first_names": "Zoë Anna",
            "family_names": "Müller-Lüdenscheidt",
            "date_of_birth_day": "29",
            "date_of_birth_month": "2",
            "date_of_birth_year": "1980",
            "street": "Hauptstraße 12",
            "postal_code": "10115",
            "city": "Berlin",
            "residence_country": "DE",
        },
        {
            "sign this": "Diese Initiative unterschreiben",
            "show fields": "Felder für dieses Land anzeigen",
            "sign": "Unterschreiben",
            "inbox": "Prüfen Sie Ihr Postfach",
            "confirm": "Bestätigen Sie Ihre Unterstützung",
            "confirm button": "Meine Unterstützung bestätigen",
            "thanks": "Danke: Ihre Unterstützung ist bestätigt",
        },
    ),
    Signer(
        "pl",
        "PL",
        "Polska",
        {"first_names": "Agnieszka", "family_names": "Wiśniewska", "id_number": PESEL},
        {
            "sign this": "Podpisz tę inicjatywę",
            "show fields": "Pokaż pola dla tego kraju",
            "sign": "Podpisz",
            "inbox": "Sprawdź skrzynkę odbiorczą",
            "confirm": "Potwierdź swoje poparcie",
            "confirm button": "Potwierdzam swoje poparcie",
            "thanks": "Dziękujemy: twoje poparcie zostało potwierdzone",
        },
    ),
    Signer(
        "el",
        "GR",
        "Ελλάδα",
        {
            "first_names": "Γεώργιος",
            "family_names": "Παπαδόπουλος",
            "date_of_birth_day": "7",
            "date_of_birth_month": "11",
            "date_of_birth_year": "1975",
            "street": "Ερμού 25",
            "postal_code": "10563",
            "city": "Αθήνα",
            "residence_country": "GR",
        },
        {
            "sign this": "Υπογράψτε αυτή την πρωτοβουλία",
            "show fields": "Εμφάνιση των πεδίων για αυτή τη χώρα",
            "sign": "Υπογραφή",
            "inbox": "Ελέγξτε τα εισερχόμενά σας",
            "confirm": "Επιβεβαιώστε την υποστήριξή σας",
            "confirm button": "Επιβεβαιώνω την υποστήριξή μου",
            "thanks": "Σας ευχαριστούμε: η υποστήριξή σας επιβεβαιώθηκε",
        },
    ),
    Signer(
        "bg",
        "BG",
        "България",
        {"first_names": "Иван", "family_names": "Петров", "id_number": EGN},
        {
            "sign this": "Подпишете тази инициатива",
            "show fields": "Покажи полетата за тази държава",
            "sign": "Подпишете",
            "inbox": "Проверете входящата си поща",
            "confirm": "Потвърдете подкрепата си",
            "confirm button": "Потвърждавам подкрепата си",
            "thanks": "Благодарим ви: подкрепата ви е потвърдена",
        },
    ),
]


def _in_language(page: Page, lang: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.mark.parametrize("script", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("signer", SIGNERS, ids=[s.lang for s in SIGNERS])
def test_sign_and_confirm_in_the_signers_language(
    live_server: LiveServer, new_context: Callable[..., BrowserContext], signer: Signer, script: bool
) -> None:
    initiative, _ = make_initiative(f"journey-{signer.lang}")
    # No `?lang=`: the browser's Accept-Language chooses (README, "Languages").
    context = new_context(java_script_enabled=script, locale=f"{signer.lang}-{signer.country}")
    page = context.new_page()
    page.goto(f"{live_server.url}/i/{initiative.slug}")
    _in_language(page, signer.lang)
    total = int(page.locator("#confirmed-total").get_attribute("data-confirmed") or "")

    page.get_by_role("link", name=signer.words["sign this"]).click()
    _in_language(page, signer.lang)
    page.select_option("#country", signer.country)
    expect(page.locator("#country option:checked")).to_have_text(signer.country_name)
    if not script:
        page.get_by_role("button", name=signer.words["show fields"]).click()
        expect(page.locator("#country")).to_have_value(signer.country)
    for box, value in signer.fields.items():
        if page.locator(f"select#{box}").count():
            page.select_option(f"#{box}", value)
        else:
            page.fill(f"#{box}", value)
    page.fill("#email", f"{signer.lang}@example.org")
    page.check("#privacy_consent")
    page.check("#declaration")
    with page.expect_response(lambda r: r.request.method == "POST" and "/sign" in r.url) as posted:
        page.get_by_role("button", name=signer.words["sign"], exact=True).click()
    assert posted.value.status == 303, page.locator("#error-summary").all_inner_texts()
    expect(page.get_by_role("heading", name=signer.words["inbox"])).to_be_visible()
    _in_language(page, signer.lang)

    report = live_server.deliver_mail()
    assert (report.sent, report.failed) == (1, 0), report.errors
    [message] = live_server.smtp.to(f"{signer.lang}@example.org")
    assert f'<html lang="{signer.lang}">' in html_of(message)  # written in the language the statement was given in
    page.goto(confirm_link(message))
    expect(page.get_by_role("heading", name=signer.words["confirm"])).to_be_visible()
    expect(page.locator("main")).to_contain_text(signer.country_name)
    page.get_by_role("button", name=signer.words["confirm button"]).click()
    expect(page.get_by_role("heading", name=signer.words["thanks"])).to_be_visible()
    _in_language(page, signer.lang)

    page.goto(f"{live_server.url}/i/{initiative.slug}")
    assert int(page.locator("#confirmed-total").get_attribute("data-confirmed") or "") == total + 1
    expect(page.locator(f"tr[data-country='{signer.country}'] td.num").first).to_have_text("1")
