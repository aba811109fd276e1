"""The README's screenshots of a coalition campaign, made again from a seeded demo (README, "Running a coalition
campaign").

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Everything happens in a throwaway instance folder: the demo initiative (`demo seed`), three partner organisations
with logos drawn here, the sites that may frame the form, some statements brought by each partner and confirmed, an
organizer account and one sealed hand-over. The app is served on 127.0.0.1 and a partner's page on localhost (another
site, as on the web); headless Chromium (Debian's, or QUORUM_CHROMIUM) takes the pictures, and each PNG is reduced to
a 256-colour palette so that it stays small.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INSTANCE = Path(tempfile.mkdtemp(prefix="quorum-screenshots-"))
os.environ["QUORUM_INSTANCE"] = str(INSTANCE)
os.environ["QUORUM_ENV"] = "development"
for _name in ("DATABASE_URL", "SMTP_URL", "SECRET_KEY", "FINGERPRINT_KEY", "EXPORT_SIGNING_KEY", "BASE_URL"):
    os.environ.pop(_name, None)

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

SLUG = "reclaim-your-face"
ORGANIZER = "organizer@example.org"
PASSWORD = "correct horse battery staple"  # noqa: S105 (the throwaway demo's organizer)
FONTS = ROOT / "app" / "sharing" / "fonts"
MAX_BYTES = 150 * 1024

PARTNERS = (
    # code, name, colour, statements brought per member state
    ("digital-rights-europe", "Digital Rights Europe", (11, 61, 115), {"DE": 9, "FR": 6, "NL": 4, "DK": 2}),
    ("faces-not-data", "Faces Not Data", (29, 122, 58), {"FR": 5, "IE": 3, "LU": 1}),
    ("open-streets", "Open Streets Alliance", (179, 38, 30), {"DE": 3, "FI": 2, "GR": 2, "SK": 1}),
)
WITHOUT_PARTNER = {"DE": 7, "NL": 3, "FR": 2, "FI": 1}
FIRST = ("Anna", "Jonas", "Léa", "Sven", "Maria", "Pieter", "Aoife", "Eleni", "Mikko", "Zoë", "Lukas", "Clara")
FAMILY = ("Schmidt", "Dubois", "de Vries", "Nielsen", "Murphy", "Papadopoulou", "Virtanen", "Novák", "Weber")


def logo(name: str, colour: tuple[int, int, int]) -> bytes:
    """A partner's logo: its initials in a disc and its name, drawn with the DejaVu font the project carries."""
    image = Image.new("RGBA", (440, 96), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, 92, 92), fill=colour)
    initials = "".join(word[0] for word in name.split()[:3])
    bold = ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), 34)
    draw.text((48, 48), initials, font=bold, fill="white", anchor="mm")
    draw.text(
        (108, 48), name, font=ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), 22), fill=colour, anchor="lm"
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def part_a(country: str, number: int) -> dict[str, str]:
    """A Part A signer (the member states that ask for an address and a date of birth), made up."""
    return {
        "country": country,
        "first_names": FIRST[number % len(FIRST)],
        "family_names": FAMILY[(number * 7) % len(FAMILY)] + f" {number}",
        "date_of_birth": (date(1960, 1, 1) + timedelta(days=611 * number % 14000)).isoformat(),
        "street": f"Example Street {number}",
        "postal_code": f"{10000 + number}",
        "city": "Example Town",
        "residence_country": country,
        "email": f"signer{number}@example.org",
        "privacy_consent": "y",
        "declaration": "y",
    }


def seed(app, partner_site: str) -> None:  # type: ignore[no-untyped-def]
    """The demo initiative, its partners and what they brought, an organizer, a hand-over."""
    from flask_migrate import upgrade

    from app.admin.accounts import create_account
    from app.eci.signer import SigningRules, validate
    from app.extensions import db
    from app.initiatives import find_initiative
    from app.links import links
    from app.models import utcnow, utctoday
    from app.partners.framing import set_origins
    from app.partners.handovers import create_handover
    from app.partners.logos import checked_logo
    from app.partners.organisations import PartnerFields, create_partner
    from app.sealing import generate_key_pair
    from app.signing.forms import signing_rules
    from app.statements import lifecycle

    upgrade()
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    initiative = find_initiative(SLUG)
    assert initiative is not None
    policy = app.extensions["quorum.policy"]
    rules: dict[str, SigningRules] = signing_rules(initiative)
    keys = {}
    partners = {}
    for code, name, colour, _brought in PARTNERS:
        _private, public = generate_key_pair()
        keys[code] = public
        partners[code] = create_partner(
            initiative,
            code,
            PartnerFields(name=name, website=f"https://{code}.example.org", public_key=public),
            checked_logo(logo(name, colour)),
            actor=ORGANIZER,
            now=utcnow(),
        )
    set_origins(initiative, [partner_site], actor=ORGANIZER)
    number = 0
    plan = [(code, brought) for code, _name, _colour, brought in PARTNERS] + [(None, WITHOUT_PARTNER)]
    for code, brought in plan:
        for country, count in brought.items():
            for _ in range(count):
                number += 1
                checked = validate(part_a(country, number), rules, utctoday())
                assert checked.signer is not None, checked.errors
                outcome = lifecycle.submit(
                    initiative,
                    checked.signer,
                    policy=policy,
                    links=links(),
                    now=utcnow(),
                    partner_id=partners[code].id if code else None,
                    partner_updates=code is not None and number % 3 == 0,
                )
                statement = lifecycle.find_statement(initiative, outcome.statement_id)
                if number % 9 != 0:  # a few wait for their confirmation
                    lifecycle.confirm(initiative, statement, now=utcnow())
    from app.exports.keys import instance_name, instance_signing_key

    create_handover(
        initiative,
        partners["faces-not-data"],
        actor=ORGANIZER,
        now=utcnow(),
        signing_key=instance_signing_key(),
        instance=instance_name(),
    )
    create_account(email=ORGANIZER, role="organizer", password=PASSWORD, initiatives=[initiative], actor="screenshots")
    db.session.commit()


@contextmanager
def served(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def partner_page(app_url: str) -> Iterator[str]:
    """A partner's own page on another site (localhost), framing the counter and the form."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    origin = f"http://localhost:{server.server_address[1]}"
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Digital Rights Europe</title>
<style>body{{font:16px/1.5 Georgia,serif;margin:0;background:#f4f1ea;color:#222}}
header{{background:#0b3d73;color:#fff;padding:14px 28px;font:bold 22px sans-serif}}
main{{display:flex;gap:28px;padding:24px 28px;align-items:flex-start}} aside{{width:340px}}
iframe{{border:0;background:#fff;border-radius:6px;box-shadow:0 1px 4px #0003}}</style></head><body>
<header>Digital Rights Europe · our campaigns</header><main><aside><h2>Ban biometric mass surveillance</h2>
<p>We are one of the partners of the European citizens' initiative Reclaim Your Face. Sign it here: the form
below is the initiative's own, and your statement goes straight to it.</p>
<iframe src="{app_url}/i/{SLUG}/counter?partner=digital-rights-europe" title="Reclaim Your Face" width="340"
height="260"></iframe></aside>
<iframe src="{app_url}/i/{SLUG}/embed?partner=digital-rights-europe&amp;country=DE" title="Reclaim Your Face"
width="640" height="1500"></iframe></main></body></html>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        thread.join(timeout=10)


def save_small(png: bytes, path: Path) -> int:
    """A 256-colour palette PNG (UI screenshots lose nothing visible), shrunk further if it is still too large."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    while True:
        out = io.BytesIO()
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
        if out.tell() <= MAX_BYTES or image.width < 600:
            break
        image = image.resize((int(image.width * 0.85), int(image.height * 0.85)), Image.Resampling.LANCZOS)
    path.write_bytes(out.getvalue())
    return out.tell()


def take(app_url: str, site: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("QUORUM_CHROMIUM", "/usr/bin/chromium")
    shots: list[tuple[str, bytes]] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
        page = context.new_page()

        page.goto(site)
        page.frame_locator("iframe[width='640']").locator("#first_names").wait_for()
        shots.append(("embed-on-a-partner-site.png", page.screenshot()))
        shots.append(
            ("embed-partner-box.png", page.frame_locator("iframe[width='640']").locator("#contact").screenshot())
        )

        page.goto(f"{app_url}/i/{SLUG}")
        logos = page.locator("section.partners")
        logos.scroll_into_view_if_needed()  # the logos load lazily
        page.wait_for_function(
            "() => [...document.querySelectorAll('section.partners img')].every(i => i.complete && i.naturalWidth)"
        )
        shots.append(("initiative-partners.png", logos.screenshot()))

        page.goto(f"{app_url}/admin/login")
        page.fill("#email", ORGANIZER)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{app_url}/admin/initiatives/{SLUG}/partners")
        shots.append(("staff-partners.png", page.screenshot()))

        page.goto(f"{app_url}/admin/initiatives/{SLUG}/dashboard")
        shots.append(
            ("dashboard-by-partner.png", page.locator("section[aria-labelledby='partners-heading']").screenshot())
        )

        page.goto(f"{app_url}/admin/initiatives/{SLUG}/partners")
        page.get_by_role("link", name="Digital Rights Europe").click()
        report_url = page.locator("#report-url").inner_text()
        shots.append(("staff-partner.png", page.screenshot()))

        page.get_by_role("link", name="Hand over").click()
        shots.append(("handover-confirm.png", page.locator("main").screenshot()))

        partner_view = browser.new_context(viewport={"width": 1000, "height": 900}, locale="en-GB").new_page()
        partner_view.goto(report_url)
        shots.append(("partner-own-page.png", partner_view.locator("main").screenshot()))
        browser.close()
    out.mkdir(parents=True, exist_ok=True)
    for name, png in shots:
        size = save_small(png, out / name)
        print(f"{out / name}: {size // 1024} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    options = parser.parse_args()

    from app import create_app

    app = create_app("development", RATELIMIT_ENABLED=False, CAPTCHA_ENABLED=False, MAIL_DIR=str(INSTANCE / "mail"))
    with served(app) as app_url, partner_page(app_url) as site:
        app.config["BASE_URL"] = app_url
        from app import register_services

        register_services(app)
        with app.app_context():
            seed(app, site)
        take(app_url, site, options.out)


if __name__ == "__main__":
    main()
