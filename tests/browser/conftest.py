"""Browser fixtures: the app served on loopback by werkzeug, one headless Chromium per session, pages to drive it.

`live_server` is the `app` of the root conftest (empty tables, an app context for factories and checks) served in a
background thread with CSRF on, BASE_URL at the served address and mail going to the `smtp` test server. Browser
tests run on SQLite only: every test here that takes `backend` is parametrized with `sqlite` alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from app.mail.delivery import DeliveryReport

from ..support.smtp import MailServer
from .server import LiveServer, serve

CHROMIUM = Path(os.environ.get("QUORUM_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps calling home, which a closed network answers with a flood.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000  # a step that takes longer than this on loopback is a failure, not slowness
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One database is enough for journeys: the flows themselves run on both in tests/integration."""
    if "backend" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if "backend" in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return
    metafunc.definition.add_marker(SQLITE_ONLY)


@pytest.fixture
def live_server(app: Flask, backend: str, smtp: MailServer) -> Iterator[LiveServer]:
    """The root conftest's `app` (empty tables, an app context for factories) served to the browser."""
    if not backend.startswith("sqlite"):
        pytest.fail("browser tests serve the SQLite database only")
    with serve(app, smtp) as server:
        yield server


@pytest.fixture
def deliver_mail(live_server: LiveServer) -> Callable[[], DeliveryReport]:
    """Run the outbox delivery now (the mail worker's job), inside the app context."""
    return live_server.deliver_mail


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"Chromium is missing at {CHROMIUM} (run `make system-deps`)"
        if os.environ.get("QUORUM_TEST_REQUIRE_ALL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One Chromium for the whole session; each test gets its own contexts (cookies, settings)."""
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Make a fresh browser context (e.g. `java_script_enabled=False`, a phone viewport); closed after the test."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A tab in a fresh desktop context with JavaScript on."""
    return new_context(viewport={"width": 1280, "height": 900}).new_page()
