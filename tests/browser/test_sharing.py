"""Sharing in Chromium: the map and the share links load nothing from elsewhere, the copy button copies the link,
and without JavaScript the link stands in a field to copy by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, expect

from ..support.factories import make_initiative
from .server import LiveServer

pytestmark = pytest.mark.browser


def test_copy_button_copies_the_link_and_nothing_loads_from_elsewhere(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    initiative, _ = make_initiative("share-me", title="Share me")
    context = new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):  # none is served
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{live_server.url}/i/{initiative.slug}")
    expect(page.locator("svg.progress-map")).to_be_visible()
    button = page.get_by_role("button", name="Copy link")
    expect(button).to_be_visible()
    button.click()
    expect(page.locator(".copy-status")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/i/{initiative.slug}"
    assert problems == []  # a blocked script or style (CSP) would show here
    assert requested and all(url.startswith(live_server.url) for url in requested), requested

    # the Mastodon form leads to this origin's page, whose link (only) goes to the chosen server
    page.fill("#mastodon-instance", "mastodon.social")
    page.get_by_role("button", name="Share on Mastodon").click()
    link = page.get_by_role("link", name="Continue to mastodon.social")
    assert (link.get_attribute("href") or "").startswith("https://mastodon.social/share?text=")
    assert all(url.startswith(live_server.url) for url in requested), requested


def test_without_javascript_the_link_is_in_a_field_to_copy(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    initiative, _ = make_initiative("share-me", title="Share me")
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{live_server.url}/i/{initiative.slug}")
    expect(page.get_by_role("button", name="Copy link")).to_be_hidden()
    field = page.get_by_label("Link to this page")
    expect(field).to_have_value(f"{live_server.url}/i/{initiative.slug}")
    expect(field).to_have_attribute("readonly", "")
