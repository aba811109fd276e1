"""The embeddable form and counter (issue 9, point 2): framable by the sites listed for the initiative and by no one
else, every other page still unframeable; the embedded form's own CSRF token, which needs no cookie; the counter and
its badge. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.models import FrameOrigin, SpentChallenge, StaffRole, Statement, utcnow
from app.partners.framing import set_origins
from app.signing.form_tokens import FormTokens

from ..support.factories import confirm, make_initiative, make_staff, part_a, part_b, sign_in_as, submit
from ..support.partners import make_partner

PARTNER_SITE = "https://www.edri.example.org"
EMBEDDABLE = ("/embed", "/counter", "/counter.svg")
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def _frame_ancestors(response) -> str:  # type: ignore[no-untyped-def]
    policy = response.headers["Content-Security-Policy"]
    [directive] = [d.strip() for d in policy.split(";") if d.strip().startswith("frame-ancestors")]
    return directive


def _listed(db, initiative, *origins):  # type: ignore[no-untyped-def]
    set_origins(initiative, list(origins), actor="test")
    db.session.commit()


def _token(client, path: str) -> str:  # type: ignore[no-untyped-def]
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def _statements(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Statement)))


# --- who may frame what ---------------------------------------------------------------------------------------------


def test_only_the_embeddable_pages_name_the_listed_sites(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    other, _ = make_initiative("another-one")
    _listed(db, initiative, PARTNER_SITE, "http://localhost:8080")
    slug = initiative.slug
    for suffix in EMBEDDABLE:
        response = client.get(f"/i/{slug}{suffix}")
        assert response.status_code == 200, suffix
        assert _frame_ancestors(response) == f"frame-ancestors 'self' http://localhost:8080 {PARTNER_SITE}"
        assert "X-Frame-Options" not in response.headers
        # another initiative lists nobody: its embeddable pages stay within this site
        elsewhere = client.get(f"/i/{other.slug}{suffix}")
        assert _frame_ancestors(elsewhere) == "frame-ancestors 'self'"
    for path in (
        f"/i/{slug}",
        f"/i/{slug}/sign",
        f"/i/{slug}/privacy",
        "/",
        f"/api/v1/initiatives/{slug}",
        "/admin/login",
    ):
        response = client.get(path)
        assert _frame_ancestors(response) == "frame-ancestors 'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_the_refusals_of_an_embeddable_page_still_show_in_the_frame(client, db):  # type: ignore[no-untyped-def]
    over, _ = make_initiative(
        "over", start=utcnow().date() - timedelta(days=400), end=utcnow().date() - timedelta(days=40)
    )
    _listed(db, over, PARTNER_SITE)
    response = client.get(f"/i/{over.slug}/embed")
    assert response.status_code == 410 and "Collection for this initiative is over" in response.get_data(as_text=True)
    assert PARTNER_SITE in _frame_ancestors(response)
    assert 'class="site"' not in response.get_data(as_text=True)  # no header or footer inside a partner's page
    unknown = client.get("/i/no-such-initiative/embed")
    assert unknown.status_code == 404 and _frame_ancestors(unknown) == "frame-ancestors 'self'"


def test_staff_list_the_sites_and_the_change_is_audited(client, db):  # type: ignore[no-untyped-def]
    from app.models import AuditEntry

    initiative, _ = make_initiative()
    sign_in_as(client, make_staff(db, "org@example.org", StaffRole.ORGANIZER, [initiative]))
    url = f"/admin/initiatives/{initiative.slug}/frame-origins"
    wrong = client.post(url, data={"origins": "https://ok.example.org\nhttps://x.example.org/page; script-src *"})
    assert wrong.status_code == 422 and "Not an origin" in wrong.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FrameOrigin)) == 0
    assert client.post(url, data={"origins": "https://A.example.org/\nhttps://b.example.org"}).status_code == 302
    assert client.post(url, data={"origins": "https://b.example.org, https://c.example.org"}).status_code == 302
    assert db.session.scalars(sa.select(FrameOrigin.origin).order_by(FrameOrigin.origin)).all() == [
        "https://b.example.org",
        "https://c.example.org",
    ]
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "embed.origins")).all()
    assert len(entries) == 2 and '"removed":["https://a.example.org"]' in entries[1].details
    assert "https://c.example.org" in _frame_ancestors(client.get(f"/i/{initiative.slug}/embed"))


# --- the embedded form's token --------------------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app_factory) -> Flask:  # type: ignore[no-untyped-def]
    """CSRF on, as in production: the page's form needs the session's token, the embedded one its own."""
    return app_factory(WTF_CSRF_ENABLED=True)


def test_the_embedded_form_signs_without_any_cookie(csrf_on, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative)
    client = csrf_on.test_client(use_cookies=False)  # a third-party frame: the browser sends no cookie of ours
    page = client.get(f"/i/{initiative.slug}/embed?partner=eu-digital-rights")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Set-Cookie" not in page.headers  # no session is started for the frame
    assert 'name="csrf_token"' not in html and 'class="site"' not in html
    token = TOKEN.search(html).group(1)
    response = client.post(
        f"/i/{initiative.slug}/embed",
        data=part_b(form_token=token, partner="eu-digital-rights", partner_updates_consent="y"),
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(f"/i/{initiative.slug}/embed/thanks?") and "partner=eu-digital-rights" in location
    thanks = client.get(location)
    assert thanks.status_code == 200 and "ag…@example.org" in thanks.get_data(as_text=True)
    assert PARTNER_SITE not in _frame_ancestors(thanks)  # listed sites only: none yet
    statement = db.session.scalar(sa.select(Statement))
    assert statement.partner_id == partner.id
    # the page's own form still wants the session's token
    assert client.post(f"/i/{initiative.slug}/sign", data=part_a()).status_code == 400


def test_a_token_signs_once_and_only_its_own_page(csrf_on, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    other, _ = make_initiative("other-initiative")
    make_partner(initiative)
    client = csrf_on.test_client(use_cookies=False)
    slug = initiative.slug
    token = _token(client, f"/i/{slug}/embed")

    for data in (part_b(), part_b(form_token="forged"), part_b(form_token=_token(client, f"/i/{other.slug}/embed"))):
        refused = client.post(f"/i/{slug}/embed", data=data)
        assert refused.status_code == 400
        body = refused.get_data(as_text=True)
        assert "This form has expired or was already sent" in body
        assert 'value="Wiśniewska"' in body and TOKEN.search(body).group(1) != token  # kept as typed, a new token
    # a token for the form without a partner does not carry a partner in
    partnered = client.post(f"/i/{slug}/embed", data=part_b(form_token=token, partner="eu-digital-rights"))
    assert partnered.status_code == 400
    assert _statements(db) == 0

    assert client.post(f"/i/{slug}/embed", data=part_b(form_token=token)).status_code == 303
    replay = client.post(f"/i/{slug}/embed", data=part_a(form_token=token))
    assert replay.status_code == 400 and _statements(db) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SpentChallenge)) == 1


def test_an_invalid_form_keeps_its_token_unspent_and_offers_a_fresh_one(csrf_on, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client = csrf_on.test_client(use_cookies=False)
    token = _token(client, f"/i/{initiative.slug}/embed")
    invalid = client.post(f"/i/{initiative.slug}/embed", data=part_b(form_token=token, id_number="123"))
    assert invalid.status_code == 422
    fresh = TOKEN.search(invalid.get_data(as_text=True)).group(1)
    assert fresh != token
    # the rolled-back request did not spend it; either token signs once
    assert client.post(f"/i/{initiative.slug}/embed", data=part_b(form_token=fresh)).status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SpentChallenge)) == 1


def test_an_expired_token_is_refused(csrf_on, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    old = FormTokens.from_secret_key(str(csrf_on.config["SECRET_KEY"])).issue(
        initiative.id, "", utcnow() - timedelta(hours=3)
    )
    client = csrf_on.test_client(use_cookies=False)
    assert client.post(f"/i/{initiative.slug}/embed", data=part_b(form_token=old)).status_code == 400
    assert _statements(db) == 0


def test_the_language_chosen_for_the_frame_follows_the_form(csrf_on, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client = csrf_on.test_client(use_cookies=False)
    page = client.get(f"/i/{initiative.slug}/embed?lang=de").get_data(as_text=True)
    assert f'action="/i/{initiative.slug}/embed?lang=de"' in page and 'lang="de"' in page
    response = client.post(f"/i/{initiative.slug}/embed?lang=de", data=part_b(form_token=TOKEN.search(page).group(1)))
    assert "lang=de" in response.headers["Location"]
    assert "Prüfen Sie Ihr Postfach" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(Statement.locale)) == "de"


# --- the counter -----------------------------------------------------------------------------------------------------


def test_the_counter_and_its_badge_follow_the_count(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    make_partner(initiative)
    page = client.get(f"/i/{initiative.slug}/counter?partner=eu-digital-rights")
    html = page.get_data(as_text=True)
    assert 'data-confirmed="0"' in html and f"/i/{initiative.slug}/sign?partner=eu-digital-rights" in html
    assert page.headers["Cache-Control"] == "no-cache" and page.headers.get("ETag")
    again = client.get(
        f"/i/{initiative.slug}/counter?partner=eu-digital-rights", headers={"If-None-Match": page.headers["ETag"]}
    )
    assert again.status_code == 304
    badge = client.get(f"/i/{initiative.slug}/counter.svg")
    assert badge.mimetype == "image/svg+xml" and ">0</text>" in badge.get_data(as_text=True)

    confirm(initiative, db.session.get(Statement, submit(initiative, part_b()).statement_id))
    db.session.commit()
    assert 'data-confirmed="1"' in client.get(f"/i/{initiative.slug}/counter").get_data(as_text=True)
    assert (
        client.get(f"/i/{initiative.slug}/counter", headers={"If-None-Match": page.headers["ETag"]}).status_code == 200
    )
    assert ">1</text>" in client.get(f"/i/{initiative.slug}/counter.svg").get_data(as_text=True)


def test_embeddable_pages_load_nothing_from_another_origin(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    make_partner(initiative)
    for suffix in ("/embed?partner=eu-digital-rights", "/counter?partner=eu-digital-rights"):
        html = client.get(f"/i/{initiative.slug}{suffix}").get_data(as_text=True)
        for attribute, value in re.findall(r'\b(src|href)="([^"]+)"', html):
            if attribute == "src" or value.endswith((".css", ".js")):
                assert value.startswith("/"), value  # scripts, styles and images from this origin only
    badge = client.get(f"/i/{initiative.slug}/counter.svg").get_data(as_text=True)
    assert "href" not in badge and "<script" not in badge


def test_without_javascript_the_country_button_works_in_the_frame(csrf_on, db):  # type: ignore[no-untyped-def]
    """The no-script button posts the form back for the country's fields: it gets a fresh token to sign with."""
    initiative, _ = make_initiative()
    client = csrf_on.test_client(use_cookies=False)
    first = _token(client, f"/i/{initiative.slug}/embed")
    chosen = client.post(
        f"/i/{initiative.slug}/embed", data={"form_token": first, "country": "PL", "choose_country": "1"}
    )
    assert chosen.status_code == 200
    html = chosen.get_data(as_text=True)
    assert '<fieldset id="part-b" data-part="B">' in html  # Poland's fields, shown (not hidden)
    fresh = TOKEN.search(html).group(1)
    assert fresh != first
    assert client.post(f"/i/{initiative.slug}/embed", data=part_b(form_token=fresh)).status_code == 303
    assert _statements(db) == 1
