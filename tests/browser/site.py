"""Every page of the site for the accessibility checks: a seeded campaign, and the pages named from the URL map.

The GET routes come from the app's URL map, with their arguments filled from the seeded data, so a page added
later is checked without anyone listing it; a route that answers with something other than a page is named in
`NOT_PAGES` with the reason. Pages reached only through a form (the sign form with its errors, a quarantine
preview, ...) are `STATES`, each a few steps in the browser.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyotp
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from playwright.sync_api import Page, expect

from app.admin.passwords import hash_password
from app.admin.second_factor import enrol, matched_step, new_secret
from app.exports.create import create_export
from app.extensions import db
from app.initiative_texts import save_text
from app.languages import LANGUAGES
from app.links import links
from app.models import StaffRole, StaffUser, Statement, utcnow
from app.partners import organisations
from app.signing.subscriptions import unsubscribe_url
from app.statements import quarantine
from app.statements.policy import CONFIRM_SALT
from app.updates import writing
from app.updates.sending import NO_SUBSCRIBER

from ..support.factories import EGN, confirm, confirmation_url, make_initiative, part_a, part_b, path_of, submit

PASSWORD = "correct horse battery staple"
ADMIN = "ada@example.org"
ENROLLED = "eno@example.org"  # an admin with a second factor: her sign-in has a second step
SLUG = "clean-air"

NOT_PAGES = {
    "static": "stylesheets, scripts and images, not pages",
    "admin.audit_csv": "the audit log as CSV, a download",
    "admin.audit_json": "the audit log as JSON",
    "admin.export_download": "an export as a .zip, a download",
    "admin.export_public_key": "the export verify key as plain text",
    "api.list_initiatives": "JSON",
    "api.show_initiative": "JSON",
    "health.healthz": "JSON for the load balancer",
    "sharing.card": "the link-preview picture, a PNG",
    "admin.login_code": "only after a password was accepted: checked as the state 'sign-in code'",
    "admin.partner_handover_download": "a partner's sealed hand-over as a .zip, a download",
    "partners.logo": "a partner's logo, a PNG",
    "signing.counter_svg": "the counter as an SVG badge for other sites, a picture",
}
"""GET routes that are not pages a person reads, or that a plain GET cannot reach (then they are STATES)."""

QUERIES = {"admin.initiative_status": {"status": "withdrawn"}}
"""Pages that answer a question their query asks (which status the confirmation page is about)."""

SIGNED_OUT = {"admin.login"}
"""Staff-side pages seen before signing in (signed in, they redirect)."""


@dataclass(frozen=True)
class Site:
    """The seeded campaign: what each URL argument stands for (`endpoint.argument` where an endpoint's differs)."""

    slug: str
    values: dict[str, object]
    expired_token: str  # the link of the statement not confirmed yet (`signing.confirm_page.token`), expired
    totp_secret: str

    def value(self, endpoint: str, argument: str) -> object | None:
        return self.values.get(f"{endpoint}.{argument}", self.values.get(argument))


def seed(app: Flask, tmp_path: Path) -> Site:
    """One campaign with something on every page: statements confirmed, pending and quarantined, an export, a
    draft update, a text in German, two staff accounts (one with a second factor), an audit log."""
    initiative, _private = make_initiative(
        SLUG,
        title="Clean air for every school",
        summary="Limits on **traffic** around schools.\n\n- monitoring\n- enforcement",
        details={
            "objectives": "Measure the air at every school and act where it is bad.",
            "organizers": "Ana Ionescu\nJonas Berg",
            "contact_name": "Ana Ionescu",
            "contact_email": "contact@example.org",
            "website": "https://example.org/clean-air",
            "registration_number": "ECI(2025)000001",
            "register_url": "https://example.org/register/2025-000001",
        },
    )
    submit(initiative, part_b(email="agnieszka@example.org", updates_consent="y"))
    submit(initiative, part_a(email="zoe@example.org"))
    submit(initiative, part_b("BG", id_number=EGN, email="ivan@example.org"))
    pending = submit(initiative, part_a("FI", postal_code="00100", city="Helsinki", email="aino@example.org"))
    db.session.commit()
    for statement in db.session.scalars(db.select(Statement).where(Statement.country_code.in_(("PL", "DE", "BG")))):
        confirm(initiative, statement)
    held, _tally = quarantine.apply(initiative, quarantine.Criteria(country="BG"), "a burst from one network", ADMIN)
    save_text(initiative, "de", {"title": "Saubere Luft an jeder Schule", "summary": "Grenzwerte."}, LANGUAGES)
    update = writing.create(
        initiative,
        writing.checked_text("en", "Half-way there", "Thank you: we are half-way to the threshold."),
        actor=ADMIN,
        now=utcnow(),
    )
    admin = StaffUser(email=ADMIN, password_hash=hash_password(PASSWORD), role=StaffRole.ADMIN)
    organizer = StaffUser(email="olga@example.org", password_hash=hash_password(PASSWORD), role=StaffRole.ORGANIZER)
    organizer.initiatives.append(initiative)
    enrolled = StaffUser(email=ENROLLED, password_hash=hash_password(PASSWORD), role=StaffRole.ADMIN)
    db.session.add_all([admin, organizer, enrolled])
    db.session.flush()
    secret = new_secret()
    step = matched_step(secret, pyotp.TOTP(secret).now(), time.time())
    assert step is not None
    enrol(enrolled, secret, step - 1, app.extensions["quorum.second_factor_seal"])
    export = create_export(initiative, tmp_path / "export", ADMIN).record
    partner = organisations.create_partner(
        initiative,
        "edri",
        organisations.PartnerFields(name="European Digital Rights", website="https://example.org/edri"),
        None,
        actor=ADMIN,
        now=utcnow(),
    )
    db.session.commit()
    confirm_token = path_of(confirmation_url(initiative, pending.statement_id)).rsplit("/", 1)[1]
    unsubscribe = unsubscribe_url(links(), app.config["SECRET_KEY"], initiative, NO_SUBSCRIBER)
    values: dict[str, object] = {
        "slug": initiative.slug,
        "signing.confirm_page.token": confirm_token,
        "signing.unsubscribe.token": path_of(unsubscribe).rsplit("/", 1)[1],
        "user_id": organizer.id,
        "update_id": update.id,
        "export_id": export.id,
        "partner_id": partner.id,
        "quarantine_id": held.id,
        "partners.report.token": organisations.report_token(app.config["SECRET_KEY"], partner),
        "locale": "de",
    }
    assert pending.statement_id is not None
    expired = _expired_token(app, pending.statement_id, initiative.id)
    return Site(initiative.slug, values, expired_token=expired, totp_secret=secret)


@dataclass(frozen=True)
class Route:
    endpoint: str
    path: str

    @property
    def staff(self) -> bool:
        return self.path.startswith("/admin/") and self.endpoint not in SIGNED_OUT


def routes(app: Flask, site: Site) -> list[Route]:
    """Every GET page of the URL map with its arguments from the seeded site; unknown arguments fail loudly."""
    stale = set(NOT_PAGES) - {rule.endpoint for rule in app.url_map.iter_rules()}
    assert not stale, f"NOT_PAGES names endpoints that are gone: {stale}"
    found = []
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
            continue
        values = {name: site.value(rule.endpoint, name) for name in rule.arguments}
        missing = [name for name, value in values.items() if value is None]
        assert not missing, f"{rule.endpoint} needs {missing}: seed them in tests/browser/site.py, or say in NOT_PAGES"
        path = adapter.build(rule.endpoint, {**values, **QUERIES.get(rule.endpoint, {})})
        found.append(Route(rule.endpoint, path))
    return found


def _expired_token(app: Flask, statement_id: uuid.UUID, initiative_id: int) -> str:
    """A statement's confirmation token, signed a minute longer ago than CONFIRM_MAX_AGE."""

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - int(app.config["CONFIRM_MAX_AGE"]) - 60

    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=CONFIRM_SALT, signer=Signer)
    return serializer.dumps({"s": statement_id.hex, "i": initiative_id})


def sign_in(page: Page, base: str, email: str = ADMIN) -> None:
    page.goto(f"{base}/admin/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()


# --- pages reached through a form ----------------------------------------------------------------------------------

State = Callable[[Page, str, Site], int]
"""Leaves the page in the state to check and returns the HTTP status of the page shown."""


def _submitted(page: Page, button: str) -> int:
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator(button).click()
    page.wait_for_load_state()
    return posted.value.status


def sign_errors_part_b(page: Page, base: str, site: Site) -> int:
    """Poland chosen, a wrong PESEL, nothing else: every error at once."""
    page.goto(f"{base}/i/{site.slug}/sign?country=PL")
    page.locator("#id_number").fill("44051401358")
    return _submitted(page, "#sign-form button.primary")


def sign_errors_part_a(page: Page, base: str, site: Site) -> int:
    """Germany chosen, an impossible date of birth, nothing else."""
    page.goto(f"{base}/i/{site.slug}/sign?country=DE")
    page.locator("#date_of_birth_day").fill("31")
    page.locator("#date_of_birth_month").fill("2")
    return _submitted(page, "#sign-form button.primary")


def new_link_error(page: Page, base: str, site: Site) -> int:
    page.goto(f"{base}/i/{site.slug}/thanks")
    return _submitted(page, "form[action$='/new-link'] button")


def confirmed(page: Page, base: str, site: Site) -> int:
    page.goto(f"{base}/i/{site.slug}/confirm/{site.value('signing.confirm_page', 'token')}")
    return _submitted(page, "main form button")


def expired(page: Page, base: str, site: Site) -> int:
    response = page.goto(f"{base}/i/{site.slug}/confirm/{site.expired_token}")
    assert response is not None
    return response.status


def not_found(page: Page, base: str, site: Site) -> int:
    response = page.goto(f"{base}/i/no-such-initiative")
    assert response is not None
    return response.status


def unsubscribed(page: Page, base: str, site: Site) -> int:
    page.goto(f"{base}/i/{site.slug}/unsubscribe/{site.value('signing.unsubscribe', 'token')}")
    return _submitted(page, "main form button")


def mastodon_target(page: Page, base: str, site: Site) -> int:
    response = page.goto(f"{base}/i/{site.slug}/share/mastodon?instance=mastodon.social")
    assert response is not None
    expect(page.locator("#mastodon-share")).to_be_visible()
    return response.status


def mastodon_error(page: Page, base: str, site: Site) -> int:
    response = page.goto(f"{base}/i/{site.slug}/share/mastodon?instance=not%20a%20server")
    assert response is not None
    return response.status


def sign_in_refused(page: Page, base: str, site: Site) -> int:
    page.goto(f"{base}/admin/login")
    page.locator("#email").fill(ADMIN)
    page.locator("#password").fill("wrong horse")
    return _submitted(page, "main form button")


def sign_in_code(page: Page, base: str, site: Site) -> int:
    """The password of an account with a second factor: the page asking for the code (after a redirect)."""
    page.goto(f"{base}/admin/login")
    page.locator("#email").fill(ENROLLED)
    page.locator("#password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/admin/login/code")) as shown:
        page.locator("main form button").click()
    expect(page.locator("#totp")).to_be_visible()
    return shown.value.status


def second_factor_on(page: Page, base: str, site: Site) -> int:
    """After "sign-in code": the code typed, then her second-factor page, which offers to turn it off."""
    page.locator("#totp").fill(pyotp.TOTP(site.totp_secret).now())
    page.locator("main form button").click()
    page.wait_for_url(f"{base}/admin/")
    response = page.goto(f"{base}/admin/account/second-factor")
    assert response is not None
    expect(page.locator("form[action$='/second-factor/disable']")).to_be_visible()
    return response.status


def quarantine_preview(page: Page, base: str, site: Site) -> int:
    page.goto(f"{base}/admin/initiatives/{site.slug}/quarantine")
    page.locator("#country").select_option("PL")
    return _submitted(page, "button[formaction$='/quarantine/preview']")


def update_preview(page: Page, base: str, site: Site) -> int:
    page.goto(f"{base}/admin/initiatives/{site.slug}/updates/{site.values['update_id']}")
    return _submitted(page, "button[formaction$='/preview']")


def initiative_errors(page: Page, base: str, site: Site) -> int:
    page.goto(f"{base}/admin/initiatives/new")
    return _submitted(page, "main form button.primary")


PUBLIC_STATES: dict[str, tuple[State, int]] = {
    "sign form, Part B errors": (sign_errors_part_b, 422),
    "sign form, Part A errors": (sign_errors_part_a, 422),
    "new link, no address": (new_link_error, 422),
    "expired link": (expired, 410),
    "confirmed": (confirmed, 200),  # after "expired link": a confirmed statement's old link shows this page instead
    "not found": (not_found, 404),
    "unsubscribed": (unsubscribed, 200),
    "Mastodon, server chosen": (mastodon_target, 200),
    "Mastodon, no such server": (mastodon_error, 422),
    "sign-in refused": (sign_in_refused, 401),
    "sign-in code": (sign_in_code, 200),
    "second factor on": (second_factor_on, 200),  # after "sign-in code", and last: this tab is then signed in
}
"""Each with the status its page answers."""
STAFF_STATES: dict[str, tuple[State, int]] = {
    "quarantine preview": (quarantine_preview, 200),
    "update preview": (update_preview, 200),
    "new initiative, errors": (initiative_errors, 422),
}
