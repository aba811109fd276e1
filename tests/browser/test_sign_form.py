"""The sign form in Chromium: errors beside their fields, and a phone-sized page that stays on loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from app.mail.delivery import DeliveryReport

from ..support.factories import make_initiative
from .server import LiveServer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_wrong_pesel_is_shown_beside_its_field_and_values_are_kept(
    live_server: LiveServer, page: Page, deliver_mail: Callable[[], DeliveryReport]
) -> None:
    initiative, _ = make_initiative("browser-errors")
    page.goto(f"{live_server.url}/i/{initiative.slug}/sign")
    page.select_option("#country", "PL")
    page.fill("#first_names", "Agnieszka")
    page.fill("#family_names", "Wiśniewska")
    page.fill("#id_number", "44051401358")  # the documented PESEL with its check digit off by one
    page.fill("#email", "agnieszka@example.org")
    page.check("#privacy_consent")
    page.check("#declaration")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert posted.value.status == 422

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()  # a screen reader starts at the list of what to fix
    expect(summary.get_by_role("link")).to_have_count(1)
    expect(summary.get_by_role("link")).to_have_attribute("href", "#id_number")

    error = page.locator("#part-b #id_number-error")
    expect(error).to_be_visible()
    expect(page.locator("#id_number")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_number")).to_have_attribute("aria-describedby", "id_number-hint id_number-error")
    message = error.inner_text().removeprefix("Error:").strip()  # the prefix is for screen readers only
    assert message == "Check the number of your PESEL: it is not a valid one"
    expect(summary.get_by_role("link")).to_have_text(message)

    expect(page.locator("#country")).to_have_value("PL")
    expect(page.locator("#part-b")).to_be_visible()
    expect(page.locator("#part-a")).to_be_hidden()
    expect(page.locator("#first_names")).to_have_value("Agnieszka")
    expect(page.locator("#family_names")).to_have_value("Wiśniewska")
    expect(page.locator("#id_number")).to_have_value("44051401358")
    expect(page.locator("#email")).to_have_value("agnieszka@example.org")
    expect(page.locator("#privacy_consent")).to_be_checked()
    expect(page.locator("#declaration")).to_be_checked()
    expect(page.locator(".has-error")).to_have_count(1)  # nothing else is blamed
    assert live_server.smtp.messages == []
    assert deliver_mail().sent == 0


def test_form_carries_a_real_csrf_token_and_refuses_a_wrong_one(
    live_server: LiveServer, page: Page, deliver_mail: Callable[[], DeliveryReport]
) -> None:
    initiative, _ = make_initiative("browser-csrf")
    page.goto(f"{live_server.url}/i/{initiative.slug}/sign?country=PL")
    token = page.locator("#sign-form input[name=csrf_token]")
    assert len(token.input_value()) > 20
    token.evaluate("input => { input.value = 'forged' }")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert posted.value.status == 400
    assert deliver_mail().sent == 0


def test_phone_sized_sign_form_fits_and_stays_on_loopback(
    live_server: LiveServer, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    initiative, _ = make_initiative("browser-phone", title="Ban biometric mass surveillance in public spaces")
    context = new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def scroll_width() -> int:
        return int(page.evaluate("document.scrollingElement.scrollWidth"))

    page.goto(f"{live_server.url}/i/{initiative.slug}")
    assert scroll_width() <= PHONE["width"], "the initiative page scrolls sideways on a phone"

    page.get_by_role("link", name="Sign this initiative").click()
    page.select_option("#country", "PL")
    expect(page.locator("#part-b")).to_be_visible()
    screenshot = tmp_path / "sign-form-phone.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0
    assert scroll_width() <= PHONE["width"], "the sign form scrolls sideways on a phone"

    origin = f"{live_server.url}/"
    assert f"{origin}static/quorum.css" in requested and f"{origin}static/sign.js" in requested, requested
    assert [url for url in requested if not url.startswith(origin)] == []
