"""axe-core on every page, public and staff, in three languages (Latin, a long-compound language, Greek script):
no violation of WCAG 2.1 A and AA nor of axe's best practices, no id twice on a page, `<html lang>` as chosen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from ..support.axe import describe, duplicate_ids, violations
from ..support.factories import reconfigure
from .server import LiveServer
from .site import PUBLIC_STATES, STAFF_STATES, routes, seed, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


def _problems(page: Page, lang: str) -> list[str]:
    shown = page.locator("html").get_attribute("lang")
    found = [] if shown == lang else [f"  <html lang={shown!r}>, not {lang!r}"]
    found += [f"  id {name!r} twice or more" for name in duplicate_ids(page)]
    axe = violations(page)
    return found + ([describe(axe)] if axe else [])


def _in_language(new_context: Callable[..., BrowserContext], base: str, lang: str) -> Page:
    """A tab whose language is chosen with `?lang=` (then remembered in the cookie, as the switch does)."""
    page = new_context(viewport=DESKTOP).new_page()
    page.goto(f"{base}/?lang={lang}")
    return page


@pytest.mark.parametrize("lang", ["en", "de", "el"])
def test_every_page_passes_axe(
    live_server: LiveServer, new_context: Callable[..., BrowserContext], tmp_path: Path, lang: str
) -> None:
    site = seed(live_server.app, tmp_path)
    base = live_server.url
    public = _in_language(new_context, base, lang)
    staff = _in_language(new_context, base, lang)
    sign_in(staff, base)
    report: list[str] = []
    checked: list[str] = []

    def check(page: Page, name: str, status: int, expected: int) -> None:
        checked.append(name)
        problems = ([f"  answered {status}, not {expected}"] if status != expected else []) + _problems(page, lang)
        if problems:
            report.append(f"{name} ({page.url}):\n" + "\n".join(problems))

    for route in routes(live_server.app, site):
        page = staff if route.staff else public
        response: Response | None = page.goto(f"{base}{route.path}")
        assert response is not None
        assert response.headers["content-type"].startswith("text/html"), f"{route.endpoint}: say why in NOT_PAGES"
        check(page, route.endpoint, response.status, 200)
    for name, (state, status) in PUBLIC_STATES.items():
        check(public, name, state(public, base, site), status)
    for name, (state, status) in STAFF_STATES.items():
        check(staff, name, state(staff, base, site), status)
    assert {"signing.sign_form", "signing.initiative_page", "admin.dashboard", "admin.audit_log"} <= set(checked)
    assert not report, f"{len(report)} of {len(checked)} pages in {lang!r}:\n" + "\n".join(report)


def test_sign_form_without_scripts_and_with_the_proof_of_work_passes_axe(
    live_server: LiveServer, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    """axe needs script to run, so "without JavaScript" is the page with its own scripts blocked: the country button
    shown, the fields after it; then the form as CAPTCHA_ENABLED makes it, with the proof of work's status line."""
    site = seed(live_server.app, tmp_path)
    base = live_server.url
    context = new_context(viewport=DESKTOP)
    context.route("**/static/*.js", lambda route: route.abort())
    page = context.new_page()
    report: list[str] = []

    def check(name: str) -> None:
        problems = _problems(page, "en")
        if problems:
            report.append(f"{name} ({page.url}):\n" + "\n".join(problems))

    page.goto(f"{base}/i/{site.slug}/sign?lang=en")
    expect(page.locator("button[name=choose_country]")).to_be_visible()
    check("no script, no country")
    page.select_option("#country", "GR")
    page.locator("button[name=choose_country]").click()
    expect(page.locator("#part-a")).to_be_visible()
    check("no script, Greece chosen")
    page.locator("#sign-form button.primary").click()
    expect(page.locator("#error-summary")).to_be_focused()
    check("no script, errors")

    reconfigure(live_server.app, CAPTCHA_ENABLED=True)
    page = new_context(viewport=DESKTOP).new_page()
    page.goto(f"{base}/i/{site.slug}/sign?country=PL&lang=en")
    expect(page.locator("#altcha")).to_have_count(1)
    check("proof of work")
    assert not report, "\n".join(report)
