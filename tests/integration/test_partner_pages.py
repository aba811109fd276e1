"""The staff pages of partner organisations: adding one with a logo (checked by its bytes, re-encoded, served from
our origin), editing, the public key, removing one added by mistake; the partner's own page behind its link. Every
change is audited."""

from __future__ import annotations

import io
import json

import sqlalchemy as sa
from PIL import Image

from app.models import AuditEntry, Partner, StaffRole, Statement
from app.sealing import generate_key_pair

from ..support.factories import confirm, make_initiative, make_staff, part_b, sign_in_as, submit
from ..support.partners import image_bytes, make_partner

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _audit(db, action):  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _organizer(client, db, initiative):  # type: ignore[no-untyped-def]
    sign_in_as(client, make_staff(db, "org@example.org", StaffRole.ORGANIZER, [initiative]))


def _upload(data: bytes, name: str = "logo.png"):  # type: ignore[no-untyped-def]
    return (io.BytesIO(data), name)


def test_adding_a_partner_with_a_logo(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _organizer(client, db, initiative)
    _private, public = generate_key_pair()
    import base64

    response = client.post(
        f"/admin/initiatives/{initiative.slug}/partners",
        data={
            "name": "  EU   Digital Rights ",
            "code": "EU-Digital-Rights",
            "website": "https://edri.example.org",
            "public_key": base64.b64encode(public).decode(),
            # a JPEG sent under a PNG's name and type: its bytes decide, and it is stored as a PNG
            "logo": (io.BytesIO(image_bytes("JPEG", size=(800, 200))), "logo.png", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    partner = db.session.scalar(sa.select(Partner))
    assert (partner.code, partner.name, partner.public_key) == ("eu-digital-rights", "EU Digital Rights", public)
    assert partner.logo.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(partner.logo)).size == (400, 100)
    [entry] = _audit(db, "partner.create")
    assert json.loads(entry.details)["code"] == "eu-digital-rights" and entry.actor == "org@example.org"

    logo = client.get(f"/i/{initiative.slug}/partners/eu-digital-rights/logo.png")
    assert logo.status_code == 200 and logo.mimetype == "image/png" and logo.data == partner.logo
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        client.get(
            f"/i/{initiative.slug}/partners/eu-digital-rights/logo.png", headers={"If-None-Match": logo.headers["ETag"]}
        ).status_code
        == 304
    )
    assert client.get(f"/i/{initiative.slug}/partners/nobody/logo.png").status_code == 404

    page = client.get(f"/i/{initiative.slug}").get_data(as_text=True)
    assert f"/i/{initiative.slug}/partners/eu-digital-rights/logo.png" in page and 'alt="EU Digital Rights"' in page


def test_what_the_form_refuses(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    make_partner(initiative, "taken")
    _organizer(client, db, initiative)
    url = f"/admin/initiatives/{initiative.slug}/partners"
    cases = [
        ({"name": "A", "code": "Not a code!"}, "lower-case letters"),
        ({"name": "A", "code": "taken"}, "has a partner with this code already"),
        ({"name": "", "code": "fine"}, "Give the organisation"),
        ({"name": "A", "code": "fine", "website": "edri.example.org"}, "starting with https://"),
        ({"name": "A", "code": "fine", "public_key": "not a key"}, "This is not a public key"),
        ({"name": "A", "code": "fine", "logo": _upload(image_bytes("GIF"), "logo.png")}, "must be a PNG, JPEG or WebP"),
        ({"name": "A", "code": "fine", "logo": _upload(b"<svg onload=alert(1)>", "logo.svg")}, "must be a PNG"),
        ({"name": "A", "code": "fine", "logo": _upload(PNG_SIGNATURE + bytes(300 * 1024))}, "too large"),
    ]
    for data, message in cases:
        response = client.post(url, data=data, content_type="multipart/form-data")
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Partner)) == 1
    assert _audit(db, "partner.create") == _audit(db, "partner.create")[:1]


def test_editing_keeps_the_code_and_audits_what_changed(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative, with_key=False)
    _organizer(client, db, initiative)
    url = f"/admin/initiatives/{initiative.slug}/partners/{partner.id}"
    _private, public = generate_key_pair()
    response = client.post(
        url,
        data={"name": "EDRi", "website": "https://edri.example.org", "code": "changed", "public_key": public.hex()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (partner.code, partner.name, partner.public_key) == ("eu-digital-rights", "EDRi", public)
    [entry] = _audit(db, "partner.update")
    assert sorted(json.loads(entry.details)["changes"]) == ["name", "public_key"]
    client.post(url, data={"name": "EDRi", "website": "https://edri.example.org"}, content_type="multipart/form-data")
    assert len(_audit(db, "partner.update")) == 1  # nothing changed, nothing audited


def test_a_partner_that_brought_nothing_may_be_removed_with_a_reason(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    mistake, _ = make_partner(initiative, "typo-partner")
    busy, _ = make_partner(initiative, "busy-partner")
    submit(initiative, part_b(), partner_id=busy.id)
    db.session.commit()
    _organizer(client, db, initiative)
    base = f"/admin/initiatives/{initiative.slug}/partners"

    assert client.post(f"{base}/{mistake.id}/delete", data={"reason": " "}).status_code == 422
    assert client.post(f"{base}/{busy.id}/delete", data={"reason": "tidy"}).status_code == 422
    assert "it stays" in client.get(f"{base}/{busy.id}/delete").get_data(as_text=True)
    assert client.post(f"{base}/{mistake.id}/delete", data={"reason": "added twice"}).status_code == 302
    assert db.session.scalars(sa.select(Partner.code)).all() == ["busy-partner"]
    [entry] = _audit(db, "partner.delete")
    assert entry.reason == "added twice"


def test_the_partners_own_page_and_a_new_link(client, db):  # type: ignore[no-untyped-def]
    from flask import current_app

    from app.partners.organisations import report_token

    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative)
    make_partner(initiative, "other-ngo", "Other NGO")
    for data in (part_b(), part_b(id_number="02070803628", email="b@example.org")):
        confirm(initiative, db.session.get(Statement, submit(initiative, data, partner_id=partner.id).statement_id))
    db.session.commit()
    token = report_token(current_app.config["SECRET_KEY"], partner)

    page = client.get(f"/partners/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="partner-confirmed" data-value="2"' in html and 'data-country="PL"' in html
    assert f"/i/{initiative.slug}/embed?partner=eu-digital-rights" in html
    assert "Other NGO" not in html
    assert client.get(f"/partners/{token}x").status_code == 404

    _organizer(client, db, initiative)
    staff_page = client.get(f"/admin/initiatives/{initiative.slug}/partners/{partner.id}").get_data(as_text=True)
    assert f"/partners/{token}" in staff_page
    client.post(f"/admin/initiatives/{initiative.slug}/partners/{partner.id}/report-link")
    assert client.get(f"/partners/{token}").status_code == 404  # the old link no longer works
    db.session.expire_all()
    assert client.get(f"/partners/{report_token(current_app.config['SECRET_KEY'], partner)}").status_code == 200
    assert len(_audit(db, "partner.report_link")) == 1


def test_the_dashboard_shows_each_partner_and_country(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative)
    confirm(initiative, db.session.get(Statement, submit(initiative, part_b(), partner_id=partner.id).statement_id))
    confirm(
        initiative,
        db.session.get(
            Statement, submit(initiative, part_b(id_number="02070803628", email="x@example.org")).statement_id
        ),
    )
    db.session.commit()
    sign_in_as(client, make_staff(db, "auditor@example.org", StaffRole.AUDITOR, [initiative]))
    html = client.get(f"/admin/initiatives/{initiative.slug}/dashboard").get_data(as_text=True)
    row = html[html.index('<tr data-partner="eu-digital-rights">') :]
    row = row[: row.index("</tr>")]
    assert 'data-col="confirmed" data-value="1"' in row and '<span data-country="PL" data-value="1">' in row
    rest = html[html.index('<tr data-partner="">') :]
    assert 'data-value="1"' in rest[: rest.index("</tr>")]  # the campaign's own links
    assert f"/admin/initiatives/{initiative.slug}/partners/" not in html  # auditors do not manage partners
