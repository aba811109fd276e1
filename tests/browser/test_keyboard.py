"""Signing with the keyboard alone: Tab and Shift+Tab to move, Space to tick, Enter to follow and to send, letters to
type and to pick a country; never the mouse. Every stop shows a focus ring, the order follows the page, and after
a refusal the focus is on the error summary, whose links lead into the fields."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from ..support.factories import PESEL, make_initiative
from .server import LiveServer

pytestmark = pytest.mark.browser

# The sign form's stops for Poland (a Part B country) in the order a reader meets them on the page: written here
# from the form as designed (templates/signing/sign.html), not read from the page.
FORM_ORDER = [
    "country",
    "first_names",
    "family_names",
    "id_type",
    "id_number",
    "email",
    "privacy-link",
    "privacy_consent",
    "declaration",
    "updates_consent",
    "sign",
]

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  if (e.id) return e.id;
  if (e.matches('#contact a')) return 'privacy-link';
  if (e.matches('#sign-form button.primary')) return 'sign';
  return e.tagName.toLowerCase() + ':' + (e.textContent || '').trim();
}"""

# WCAG 2.4.7: a keyboard stop is visible; 1.4.11: its ring has 3:1 against the white page. [r, g, b] or null.
RING = """() => {
  const style = getComputedStyle(document.activeElement);
  if (style.outlineStyle === 'none' || parseFloat(style.outlineWidth) < 2) return null;
  return style.outlineColor.match(/[0-9.]+/g).slice(0, 3).map(Number);
}"""


def _contrast_with_white(rgb: list[float]) -> float:
    """WCAG 2.1's contrast ratio (relative luminance, section "Definitions") of a colour against white."""

    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


def _focused(page: Page) -> str | None:
    return page.evaluate(FOCUSED)  # type: ignore[no-any-return]


def _tab_to(page: Page, target: str, limit: int = 40, back: bool = False) -> list[str]:
    """Press Tab (or Shift+Tab) until `target` has the focus; the stops on the way, each with its focus ring."""
    stops: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        here = _focused(page)
        assert here is not None, f"the focus fell off the page after {stops}"
        ring = page.evaluate(RING)
        assert ring is not None, f"no focus ring on {here}"
        assert _contrast_with_white(ring) >= 3, f"the focus ring on {here} is {ring}, under 3:1 against white"
        stops.append(here)
        if here == target:
            return stops
    raise AssertionError(f"{target} not reached with the keyboard: {stops}")


def _type(page: Page, text: str) -> None:
    page.keyboard.type(text, delay=5)


def test_a_signer_signs_with_the_keyboard_alone(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    initiative, _ = make_initiative("keyboard")
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/i/{initiative.slug}/sign?lang=en")

    # The first stop is the skip link, shown when focused; following it starts the next Tab inside <main>.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    assert page.locator("a.skip").bounding_box()["x"] >= 0  # type: ignore[index]
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")

    # Choose the country: Space opens the list, letters pick, Enter takes it; the script shows Poland's fields.
    _tab_to(page, "country")
    page.keyboard.press("Space")
    _type(page, "Pol")
    page.keyboard.press("Enter")
    expect(page.locator("#country")).to_have_value("PL")
    expect(page.locator("#part-b")).to_be_visible()
    expect(page.locator("#country")).to_be_focused()

    stops = ["country"]
    stops += _tab_to(page, "first_names")
    _type(page, "Agnieszka")
    stops += _tab_to(page, "family_names")
    _type(page, "Wiśniewska")
    stops += _tab_to(page, "id_number")
    _type(page, PESEL)
    stops += _tab_to(page, "email")
    _type(page, "agnieszka@example.org")
    stops += _tab_to(page, "privacy_consent")
    page.keyboard.press("Space")
    stops += _tab_to(page, "sign")  # the declaration left unticked on purpose
    assert stops == FORM_ORDER, stops
    assert _tab_to(page, "updates_consent", back=True) == ["updates_consent"]  # Shift+Tab walks back
    assert _tab_to(page, "sign") == ["sign"]

    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.keyboard.press("Enter")
    assert refused.value.status == 422
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(1)

    # The summary's link leads into the field; Space ticks it, and the form goes with Enter.
    assert _tab_to(page, "a:" + summary.get_by_role("link").inner_text(), limit=1)
    page.keyboard.press("Enter")
    expect(page.locator("#declaration")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#declaration")).to_be_checked()
    for box in ("first_names", "family_names", "id_number", "email"):  # what was typed is still there
        assert page.locator(f"#{box}").input_value()
    _tab_to(page, "sign")
    with page.expect_response(lambda r: r.request.method == "POST") as accepted:
        page.keyboard.press("Enter")
    assert accepted.value.status == 303
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()


def test_without_javascript_the_keyboard_reaches_the_fields_through_the_button(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    initiative, _ = make_initiative("keyboard-plain")
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{live_server.url}/i/{initiative.slug}/sign?lang=en")
    _tab_to(page, "country")
    page.keyboard.press("Space")
    _type(page, "Germ")
    page.keyboard.press("Enter")
    expect(page.locator("#country")).to_have_value("DE")
    with page.expect_response(lambda r: r.request.method == "POST") as chosen:
        _tab_to(page, "button:Show the fields for this country", limit=1)
        page.keyboard.press("Enter")
    assert chosen.value.status == 200
    expect(page.locator("#part-a")).to_be_visible()

    _tab_to(page, "first_names")
    _type(page, "Zoë")
    _tab_to(page, "sign")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.keyboard.press("Enter")
    assert refused.value.status == 422
    expect(page.locator("#error-summary")).to_be_focused()  # `autofocus`: no script needed
    first = page.locator("#error-summary a").first
    _tab_to(page, "a:" + first.inner_text(), limit=1)
    page.keyboard.press("Enter")
    expect(page.locator("#family_names")).to_be_focused()
