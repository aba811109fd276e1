"""The embedded form and counter in Chromium, framed by a page of ANOTHER site (issue 9, point 2).

The app is served at http://127.0.0.1:<port>; the partner's page at http://localhost:<other port>, a different site,
so the frame is third-party: the browser sends it no SameSite=Lax cookie of ours, and the form must work without
one. The proof of work is on, as in production. A page on a site that is not listed cannot frame the form, and no
site can frame the sign page itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import BrowserContext, Frame, Page, Response, expect

from app.models import PartnerCountry, Statement
from app.partners.framing import set_origins

from ..support.factories import PESEL, confirm_link, make_initiative
from ..support.partners import make_partner
from ..support.smtp import MailServer
from .server import LiveServer, serve

pytestmark = pytest.mark.browser


@contextmanager
def partner_site(html: Callable[[str], str]) -> Iterator[str]:
    """A page of another site, served at http://localhost:<port>/ by a plain HTTP server; yields its origin."""

    class Page_(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = html(f"http://localhost:{self.server.server_address[1]}").encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page_)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def embed_server(app: Flask, app_factory, smtp: MailServer) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The app with the proof of work on (at a low difficulty, to keep the test quick), served on 127.0.0.1."""
    made = app_factory(CAPTCHA_ENABLED=True, CAPTCHA_MAX_NUMBER=2000)
    with serve(made, smtp) as server:
        yield server


def _frame(page: Page, name: str) -> Frame:
    frame = page.frame(name=name)
    assert frame is not None, name
    return frame


def _settled_frame(page: Page, name: str) -> Frame:
    """The named frame once its navigation has ended somewhere (a refused frame commits its error page a moment
    after the page's load event)."""
    for _attempt in range(200):
        frame = page.frame(name=name)
        if frame is not None and frame.url not in ("", "about:blank"):
            return frame
        page.wait_for_timeout(50)
    raise AssertionError(f"the frame {name} never finished loading: {[(f.name, f.url) for f in page.frames]}")


def _count(frame: Frame) -> int:
    return int(frame.locator("#confirmed-total").get_attribute("data-confirmed") or "-1")


def test_a_partner_site_frames_the_form_and_counter(
    embed_server: LiveServer, new_context: Callable[..., BrowserContext], db
) -> None:  # type: ignore[no-untyped-def]
    live = embed_server.url
    initiative, _ = make_initiative("embedded")
    partner, _ = make_partner(initiative)
    slug = initiative.slug

    def partner_page(_origin: str) -> str:
        return (
            "<!doctype html><html><head><title>EU Digital Rights</title></head><body><h1>Our campaign</h1>"
            f'<iframe name="counter" src="{live}/i/{slug}/counter?partner=eu-digital-rights" width="340" '
            'height="240"></iframe>'
            f'<iframe name="form" src="{live}/i/{slug}/embed?partner=eu-digital-rights" width="600" '
            'height="1400"></iframe>'
            f'<iframe name="sign-page" src="{live}/i/{slug}/sign" width="300" height="200"></iframe>'
            "</body></html>"
        )

    with partner_site(partner_page) as origin:
        set_origins(initiative, [origin], actor="test")
        db.session.commit()
        context = new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        headers: dict[str, dict[str, str]] = {}

        def remember(response: Response) -> None:
            headers[urlsplit(response.url).path] = response.headers

        page.on("response", remember)
        page.goto(origin)

        counter = _settled_frame(page, "counter")
        expect(counter.locator("#confirmed-total")).to_be_visible()
        before = _count(counter)

        form = _settled_frame(page, "form")
        expect(form.get_by_role("heading", name="Support")).to_be_visible()
        form.select_option("#country", "PL")
        form.fill("#first_names", "Agnieszka")
        form.fill("#family_names", "Wiśniewska")
        form.fill("#id_number", PESEL)
        form.fill("#email", "agnieszka@example.org")
        form.check("#privacy_consent")
        form.check("#declaration")
        expect(form.get_by_label("Send me updates from EU Digital Rights", exact=False)).to_be_visible()
        form.check("#partner_updates_consent")
        with page.expect_response(lambda r: r.request.method == "POST" and "/embed" in r.url) as posted:
            form.get_by_role("button", name="Sign", exact=True).click()
        assert posted.value.status == 303
        expect(form.get_by_role("heading", name="Check your inbox")).to_be_visible()  # still inside the frame
        expect(form.locator("main")).to_contain_text("ag…@example.org")
        assert page.url.rstrip("/") == origin  # the partner's page stayed where it was

        # no cookie of ours was needed, and none was set
        assert [c for c in context.cookies() if c["domain"] == "127.0.0.1"] == []
        # nothing came from anywhere but the two sites
        assert {urlsplit(url).netloc for url in requested} <= {urlsplit(origin).netloc, urlsplit(live).netloc}

        # the frame-ancestors of the embeddable pages name the partner's site; the sign page refuses every frame
        assert f"frame-ancestors 'self' {origin}" in headers[f"/i/{slug}/embed"]["content-security-policy"]
        assert "x-frame-options" not in headers[f"/i/{slug}/embed"]
        assert "frame-ancestors 'none'" in headers[f"/i/{slug}/sign"]["content-security-policy"]
        assert headers[f"/i/{slug}/sign"]["x-frame-options"] == "DENY"
        refused = _settled_frame(page, "sign-page")
        assert refused.url.startswith("chrome-error:") and refused.locator("#sign-form").count() == 0

        # confirm from the email, outside the frame, as a signer does
        report = embed_server.deliver_mail()
        assert (report.sent, report.failed) == (1, 0), report.errors
        [message] = embed_server.smtp.to("agnieszka@example.org")
        confirmation = context.new_page()
        confirmation.goto(confirm_link(message))
        confirmation.get_by_role("button", name="Confirm my support").click()
        expect(confirmation.get_by_role("heading", name="Thank you: your support is confirmed")).to_be_visible()

        page.reload()
        expect(_settled_frame(page, "counter").locator("#confirmed-total")).to_have_attribute(
            "data-confirmed", str(before + 1)
        )
        db.session.expire_all()
        statement = db.session.scalar(sa.select(Statement))
        assert statement.partner_id == partner.id and statement.status == "confirmed"
        assert (
            db.session.scalar(sa.select(PartnerCountry.confirmed).where(PartnerCountry.partner_id == partner.id)) == 1
        )


def test_a_site_not_listed_cannot_frame_the_form(
    embed_server: LiveServer, new_context: Callable[..., BrowserContext], db
) -> None:  # type: ignore[no-untyped-def]
    live = embed_server.url
    initiative, _ = make_initiative("not-for-them")
    slug = initiative.slug
    set_origins(initiative, ["https://www.edri.example.org"], actor="test")
    db.session.commit()

    def stranger_page(_origin: str) -> str:
        return (
            "<!doctype html><html><body><h1>Someone else</h1>"
            f'<iframe name="form" src="{live}/i/{slug}/embed" width="600" height="800"></iframe>'
            f'<iframe name="counter" src="{live}/i/{slug}/counter" width="300" height="200"></iframe>'
            "</body></html>"
        )

    with partner_site(stranger_page) as origin:
        page = new_context().new_page()
        answers: dict[str, Response] = {}
        page.on("response", lambda response: answers.setdefault(urlsplit(response.url).path, response))
        page.goto(origin)
        page.wait_for_load_state("load")
        for name, path in (("form", f"/i/{slug}/embed"), ("counter", f"/i/{slug}/counter")):
            policy = answers[path].headers["content-security-policy"]
            assert "frame-ancestors 'self' https://www.edri.example.org;" in policy
            assert origin not in policy
            # Chromium refuses to render it: the frame ends on its own error page, not ours
            frame = _settled_frame(page, name)
            assert frame.url.startswith("chrome-error:"), frame.url
            assert frame.locator("#sign-form, #confirmed-total").count() == 0
