"""Reflow (WCAG 1.4.10): at 320 CSS pixels, and at 200 % zoom (a 1280 px window shows 640 CSS pixels, drawn at
twice the density), no page scrolls sideways; wide tables scroll inside their own box instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from .server import LiveServer
from .site import PUBLIC_STATES, STAFF_STATES, routes, seed, sign_in

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 640}
ZOOMED = {"width": 640, "height": 450}

# What sticks out: the outermost elements past the window's right edge, leaving out those inside a box that
# scrolls or clips them (a table in its .table-scroll).
WIDEST = """() => {
  const width = document.documentElement.clientWidth;
  const contained = e => {
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return true;
    }
    return false;
  };
  const over = [...document.querySelectorAll('body *')].filter(
    e => e.getBoundingClientRect().right > width + 1 && !contained(e));
  const outermost = over.filter(e => !over.includes(e.parentElement));
  return outermost.slice(0, 3).map(e => e.outerHTML.slice(0, 160));
}"""


def _overflow(page: Page) -> str | None:
    """None if the page fits its window; else how wide it is and what sticks out."""
    width, scroll = page.evaluate("[document.documentElement.clientWidth, document.scrollingElement.scrollWidth]")
    if scroll <= width:
        return None
    return f"{scroll} px wide in {width}: {page.evaluate(WIDEST)}"


@pytest.mark.parametrize(("viewport", "scale"), [(NARROW, 1), (ZOOMED, 2)], ids=["320px", "200%"])
def test_no_page_scrolls_sideways(
    live_server: LiveServer,
    new_context: Callable[..., BrowserContext],
    tmp_path: Path,
    viewport: dict[str, int],
    scale: int,
) -> None:
    site = seed(live_server.app, tmp_path)
    base = live_server.url
    public = new_context(viewport=viewport, device_scale_factor=scale).new_page()
    staff = new_context(viewport=viewport, device_scale_factor=scale).new_page()
    sign_in(staff, base)
    report: list[str] = []
    checked = 0

    def check(page: Page, name: str) -> None:
        nonlocal checked
        checked += 1
        overflow = _overflow(page)
        if overflow:
            report.append(f"{name}: {overflow}")

    for route in routes(live_server.app, site):
        page = staff if route.staff else public
        page.goto(f"{base}{route.path}?lang=de")  # German: the longest words
        check(page, route.endpoint)
    for name, (state, _status) in {**PUBLIC_STATES, **STAFF_STATES}.items():
        page = staff if name in STAFF_STATES else public
        state(page, base, site)
        check(page, name)
    assert not report, f"{len(report)} of {checked} pages:\n" + "\n".join(report)
