"""Public pages of partner organisations: their logos, served from our own origin, and each partner's own page
(what it brought in, the links and code to put on its site), behind a link the organizers hand to the partner."""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, abort, current_app, render_template, request

from ..extensions import db
from ..initiatives import find_initiative
from ..links import links
from ..models import Initiative, Partner
from ..statements.rules import is_public
from .organisations import find_partner, partner_for_report
from .reports import partner_report

blueprint = Blueprint("partners", __name__)


@blueprint.get("/i/<slug>/partners/<code>/logo.png")
def logo(slug: str, code: str) -> Response:
    """The re-encoded PNG (app/partners/logos.py); cached for a day, revalidated by its hash."""
    initiative = find_initiative(slug)
    partner = find_partner(initiative, code) if initiative is not None and is_public(initiative) else None
    if partner is None or partner.logo is None:
        abort(404)
    response = Response(partner.logo, mimetype="image/png")
    response.set_etag(partner.logo_sha256 or "")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Content-Disposition"] = "inline"
    return response.make_conditional(request)


@blueprint.get("/partners/<token>")
def report(token: str) -> str:
    """The partner's page: statements it brought, per member state, addresses waiting for it, and its kit."""
    partner = partner_for_report(str(current_app.config["SECRET_KEY"]), token)
    if partner is None:
        abort(404)
    initiative = db.session.get(Initiative, partner.initiative_id)
    assert initiative is not None
    response = render_template(
        "partners/report.html",
        initiative=initiative,
        partner=partner,
        report=partner_report(initiative, partner),
        kit=kit(initiative, partner),
    )
    return response


def kit(initiative: Initiative, partner: Partner | None) -> dict[str, str]:
    """The addresses and snippets a partner puts on its site (absolute, under BASE_URL)."""
    code = partner.code if partner is not None else None
    build = links().external
    embed = build("signing.embed_form", slug=initiative.slug, partner=code)
    counter = build("signing.counter", slug=initiative.slug, partner=code)
    badge = build("signing.counter_svg", slug=initiative.slug)
    sign = build("signing.sign_form", slug=initiative.slug, partner=code)
    title = escape(initiative.title)
    return {
        "sign": sign,
        "page": build("signing.initiative_page", slug=initiative.slug, partner=code),
        "embed": embed,
        "counter": counter,
        "badge": badge,
        "embed_html": (
            f'<iframe src="{escape(embed)}" title="{title}" width="100%" height="900" style="border:0" '
            'loading="lazy"></iframe>'
        ),
        "counter_html": (
            f'<iframe src="{escape(counter)}" title="{title}" width="340" height="260" style="border:0" '
            'loading="lazy"></iframe>'
        ),
        "badge_html": f'<a href="{escape(sign)}"><img src="{escape(badge)}" alt="{title}"></a>',
    }
