"""A signer's whole journey in Chromium: initiative page, sign form, inbox, confirmation link, count one higher."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from ..support.factories import PESEL, confirm_link, make_initiative
from .server import LiveServer

pytestmark = pytest.mark.browser


def _counts(page: Page, country: str) -> tuple[int, int]:
    """The total and one member state's confirmed count, as the initiative page shows them."""
    total = page.locator("#confirmed-total").inner_text()
    row = page.locator(f"tr[data-country='{country}'] td.num").first.inner_text()
    return int(total.replace(",", "")), int(row.replace(",", ""))


def _confirm_from_inbox(page: Page, live_server: LiveServer, address: str, country_name: str) -> None:
    """Deliver the outbox, open the one link of the email, press the button: the statement counts."""
    report = live_server.deliver_mail()
    assert (report.sent, report.failed) == (1, 0), report.errors
    [message] = live_server.smtp.to(address)
    link = confirm_link(message)
    assert link.startswith(f"{live_server.url}/i/"), link  # BASE_URL is the served address

    page.goto(link)
    expect(page.get_by_role("heading", name="Confirm your support")).to_be_visible()
    expect(page.locator("main")).to_contain_text(country_name)
    page.get_by_role("button", name="Confirm my support").click()
    expect(page.get_by_role("heading", name="Thank you: your support is confirmed")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"counted for this member state: {country_name}")


def test_part_b_with_javascript_fields_change_in_place(live_server: LiveServer, page: Page) -> None:
    initiative, _ = make_initiative("browser-pl")
    page.goto(f"{live_server.url}/i/{initiative.slug}")
    total, poland = _counts(page, "PL")

    page.get_by_role("link", name="Sign this initiative").click()
    expect(page).to_have_url(f"{live_server.url}/i/{initiative.slug}/sign")
    # With JavaScript the no-script button is gone and nothing but the country is asked before a choice.
    expect(page.get_by_role("button", name="Show the fields for this country")).to_be_hidden()
    expect(page.locator("#part-a")).to_be_hidden()
    expect(page.locator("#part-b")).to_be_hidden()

    page.evaluate("window.quorumSamePage = true")
    page.select_option("#country", "PL")
    expect(page.locator("#part-b")).to_be_visible()
    assert page.evaluate("window.quorumSamePage === true")  # changed in place: no reload lost the mark
    expect(page.locator("#part-a")).to_be_hidden()
    for box in ("day", "month", "year"):  # hidden parts are not submitted either
        expect(page.locator(f"#date_of_birth_{box}")).to_be_disabled()
    expect(page.locator("#id_type")).to_have_value("personal_number")

    page.fill("#first_names", "Agnieszka")
    page.fill("#family_names", "Wiśniewska")
    page.fill("#id_number", PESEL)
    page.fill("#email", "agnieszka@example.org")
    page.check("#privacy_consent")
    page.check("#declaration")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert posted.value.status == 303
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.locator("main")).to_contain_text("ag…@example.org")  # masked: enough to spot a typo

    _confirm_from_inbox(page, live_server, "agnieszka@example.org", "Poland")

    page.get_by_role("link", name="See the progress").click()
    expect(page).to_have_url(f"{live_server.url}/i/{initiative.slug}")
    assert _counts(page, "PL") == (total + 1, poland + 1)
    assert _counts(page, "DE")[1] == 0


def test_part_a_without_javascript_button_shows_fields(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    initiative, _ = make_initiative("browser-de")
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{live_server.url}/i/{initiative.slug}")
    total, germany = _counts(page, "DE")

    page.get_by_role("link", name="Sign this initiative").click()
    expect(page.locator("#part-a")).to_be_hidden()
    page.select_option("#country", "DE")
    expect(page.locator("#part-a")).to_be_hidden()  # no script: choosing alone changes nothing
    with page.expect_response(lambda r: r.request.method == "POST") as chosen:
        page.get_by_role("button", name="Show the fields for this country").click()
    assert chosen.value.status == 200
    expect(page.locator("#country")).to_have_value("DE")
    expect(page.locator("#part-a")).to_be_visible()
    expect(page.locator("#part-b")).to_be_hidden()

    page.fill("#first_names", "Zoë Anna")
    page.fill("#family_names", "Müller-Lüdenscheidt")
    birth = page.get_by_role("group", name="Date of birth")
    birth.get_by_label("Day", exact=True).fill("29")
    birth.get_by_label("Month", exact=True).fill("2")
    birth.get_by_label("Year", exact=True).fill("1980")
    page.fill("#street", "Hauptstraße 12")
    page.fill("#postal_code", "10115")
    page.fill("#city", "Berlin")
    page.select_option("#residence_country", "DE")
    page.fill("#email", "zoe@example.org")
    page.check("#privacy_consent")
    page.check("#declaration")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert posted.value.status == 303
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    _confirm_from_inbox(page, live_server, "zoe@example.org", "Germany")

    page.goto(f"{live_server.url}/i/{initiative.slug}")
    assert _counts(page, "DE") == (total + 1, germany + 1)
    assert _counts(page, "PL")[1] == 0
