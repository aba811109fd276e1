"""The sign form's proof of work in Chromium, with CAPTCHA_ENABLED=1 and rate limits on, as in production: with
JavaScript the form is solved in a Web Worker while the signer types (under the CSP, no request elsewhere); Sign
pressed before it is done waits and says so; without JavaScript the form still signs, under the tighter limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from app.extensions import limiter
from app.models import SpentChallenge, Statement
from app.signing.proof_of_work import take_unsolved

from ..support.factories import confirm_link, make_initiative
from ..support.smtp import MailServer
from .server import LiveServer, serve

pytestmark = pytest.mark.browser

# Holds the worker's answer until the test lets it through, so that Sign is pressed while solving is not done.
HOLD_THE_ANSWER = """
(() => {
  const Real = window.Worker;
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  window.releaseProofOfWork = () => release();
  window.Worker = class {
    constructor(url) {
      this.real = new Real(url);
      this.real.onmessage = (event) => gate.then(() => this.onmessage && this.onmessage(event));
      this.real.onerror = (event) => this.onerror && this.onerror(event);
    }
    postMessage(message) { this.real.postMessage(message); }
    terminate() { gate.then(() => this.real.terminate()); }
  };
})();
"""


@pytest.fixture
def guarded_server(app: Flask, app_factory, smtp: MailServer) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The app with rate limits and the proof of work on, at the default difficulty, served to the browser."""
    made = app_factory(RATELIMIT_ENABLED=True, CAPTCHA_ENABLED=True)
    limiter.reset()
    with serve(made, smtp) as server:
        yield server
    limiter.reset()


def _fill_part_a(page: Page, email: str) -> None:
    page.fill("#first_names", "Zoë Anna")
    page.fill("#family_names", "Müller-Lüdenscheidt")
    birth = page.get_by_role("group", name="Date of birth")
    birth.get_by_label("Day", exact=True).fill("29")
    birth.get_by_label("Month", exact=True).fill("2")
    birth.get_by_label("Year", exact=True).fill("1980")
    page.fill("#street", "Hauptstraße 12")
    page.fill("#postal_code", "10115")
    page.fill("#city", "Berlin")
    page.fill("#email", email)
    page.check("#privacy_consent")
    page.check("#declaration")


def _arrives(server: LiveServer, address: str) -> None:
    """The statement is stored and its confirmation email goes out with a link."""
    report = server.deliver_mail()
    assert (report.sent, report.failed) == (1, 0), report.errors
    [message] = server.smtp.to(address)
    assert confirm_link(message).startswith(f"{server.url}/i/")


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)))


def _watch(page: Page) -> tuple[list[str], list[str], list[str]]:
    """Console lines, every request's URL, and the workers started, as they happen."""
    console: list[str] = []
    requests: list[str] = []
    workers: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        console.append(message.text)

    page.on("console", on_console)
    page.on("request", lambda request: requests.append(request.url))
    page.on("worker", lambda worker: workers.append(worker.url))
    return console, requests, workers


def test_with_javascript_it_is_solved_while_the_signer_types(guarded_server: LiveServer, page: Page, db) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("pow-js")
    console, requests, workers = _watch(page)
    page.goto(f"{guarded_server.url}/i/{initiative.slug}/sign")
    page.select_option("#country", "DE")
    _fill_part_a(page, "zoe@example.org")
    expect(page.locator("form[data-proof-of-work=solved]")).to_have_count(1)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert posted.value.status == 303
    assert "altcha=" in (posted.value.request.post_data or "")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    _arrives(guarded_server, "zoe@example.org")
    assert _count(db, SpentChallenge) == 1  # the answer was valid, and is now spent
    assert [url.rsplit("/", 2)[-2:] for url in workers] == [["static", "proof-of-work.js"]]
    assert all(url.startswith(guarded_server.url) for url in requests), requests  # nothing from elsewhere
    assert not [line for line in console if "Content Security Policy" in line or "Refused" in line], console


def test_sign_pressed_before_the_answer_waits_and_keeps_everything(
    guarded_server: LiveServer, new_context: Callable[..., BrowserContext], db
) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("pow-wait")
    page = new_context(viewport={"width": 390, "height": 844}).new_page()
    page.add_init_script(HOLD_THE_ANSWER)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.goto(f"{guarded_server.url}/i/{initiative.slug}/sign?country=DE")
    _fill_part_a(page, "zoe@example.org")

    page.get_by_role("button", name="Sign", exact=True).click()
    status = page.locator("#proof-of-work-status")
    expect(status).to_be_visible()
    expect(status).to_have_text("Checking… your statement is sent in a moment.")
    expect(status).to_have_attribute("role", "status")
    page.wait_for_timeout(300)
    assert posts == []  # nothing sent yet, nothing lost
    expect(page.locator("#email")).to_have_value("zoe@example.org")
    expect(page.locator("#declaration")).to_be_checked()

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.evaluate("window.releaseProofOfWork()")
    assert posted.value.status == 303
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    _arrives(guarded_server, "zoe@example.org")
    assert _count(db, SpentChallenge) == 1


def test_without_javascript_it_signs_under_the_tighter_limit(
    guarded_server: LiveServer, new_context: Callable[..., BrowserContext], db
) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("pow-nojs")
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{guarded_server.url}/i/{initiative.slug}/sign")
    page.select_option("#country", "DE")
    page.get_by_role("button", name="Show the fields for this country").click()
    _fill_part_a(page, "zoe@example.org")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert posted.value.status == 303
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    _arrives(guarded_server, "zoe@example.org")
    assert _count(db, SpentChallenge) == 0

    with guarded_server.app.app_context():  # two more statements without an answer from this address this hour
        assert take_unsolved("127.0.0.1") is None and take_unsolved("127.0.0.1") is None
    page.goto(f"{guarded_server.url}/i/{initiative.slug}/sign?country=DE")
    _fill_part_a(page, "another@example.org")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert refused.value.status == 429
    assert 0 < int(refused.value.headers["retry-after"]) <= 3600
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.locator("#proof_of_work")).to_contain_text("Turn on JavaScript and press Sign again")
    expect(page.locator("#email")).to_have_value("another@example.org")  # what was typed is still there
    expect(page.locator("#first_names")).to_have_value("Zoë Anna")
    assert _count(db, Statement) == 1


def test_without_web_workers_it_solves_on_the_page(
    guarded_server: LiveServer, new_context: Callable[..., BrowserContext], db
) -> None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("pow-page")
    page = new_context().new_page()
    page.add_init_script("delete window.Worker;")
    _console, _requests, workers = _watch(page)
    page.goto(f"{guarded_server.url}/i/{initiative.slug}/sign?country=DE")
    _fill_part_a(page, "zoe@example.org")
    expect(page.locator("form[data-proof-of-work=solved]")).to_have_count(1)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert posted.value.status == 303
    assert workers == []
    assert _count(db, SpentChallenge) == 1
