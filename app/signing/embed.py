"""The embeddable form and counter: pages partner sites may put in a frame (issue 9, point 2).

- `GET /i/<slug>/embed` (and its POST): the sign form without the site's header and footer. Inside a partner's page
  the browser withholds or partitions our cookies, so the form carries its own CSRF token (app/signing/form_tokens.py)
  instead of the session's; the confirmation still goes by email, and "check your inbox" shows inside the frame.
- `GET /i/<slug>/counter`: the count against the goal, with a link to sign; `/i/<slug>/counter.svg`: the same as a
  badge for an `<img>`.

These pages, and only these, may be framed by the sites listed for the initiative (app/partners/framing.py): their
`frame-ancestors` names them; every other page keeps `frame-ancestors 'none'` and `X-Frame-Options: DENY`. A
`?partner=CODE` on any of them attributes the statements they bring to that partner. Nothing on them comes from
another origin, and nothing records who framed them.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from flask import Response, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from itsdangerous import BadSignature

from ..eci.signer import Problem
from ..extensions import csrf, limiter
from ..initiative_texts import shown_text
from ..initiatives import find_initiative, progress
from ..languages import CHOICE, current_language, offered
from ..models import Initiative, utcnow, utctoday
from ..partners.framing import frame_ancestors
from ..partners.organisations import find_partner
from ..statements import lifecycle
from ..statements.rules import is_public
from . import form_tokens, page_cache
from .counter_badge import badge_svg
from .routes import (
    CLOSED_MESSAGES,
    Accepted,
    _public_or_404,
    _sent_to_serializer,
    _sign_limit,
    blueprint,
    form_context,
    take_statement,
)

EMBEDDABLE = frozenset(
    {"signing.embed_form", "signing.embed_submit", "signing.embed_thanks", "signing.counter", "signing.counter_svg"}
)
"""The endpoints a listed site may frame; every other page refuses every frame."""


@blueprint.after_request
def _frameable_by_listed_sites(response: Response) -> Response:
    """`frame-ancestors` of an embeddable page: this site and the origins listed for its initiative. Runs before the
    app's own security headers (a blueprint's hooks come first), which then leave it as it is and add no
    X-Frame-Options (it cannot name a list of sites, and browsers ignore it beside frame-ancestors)."""
    if request.endpoint not in EMBEDDABLE:
        return response
    from .. import content_security_policy

    slug = (request.view_args or {}).get("slug")
    try:
        initiative = find_initiative(slug) if isinstance(slug, str) else None
        sources = frame_ancestors(initiative.id if initiative is not None and is_public(initiative) else None)
    except sa.exc.SQLAlchemyError:  # the database is away: the error page stays unframeable
        return response
    response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors=sources)
    return response


def _tokens() -> form_tokens.FormTokens:
    return form_tokens.FormTokens.from_secret_key(str(current_app.config["SECRET_KEY"]))


def _chosen_language() -> str | None:
    """A `?lang=` given to the frame: carried through the form and its answer, since no cookie remembers it here."""
    chosen = request.args.get(CHOICE)
    return chosen if chosen in offered() else None


def _partner_code(initiative: Initiative, code: str | None) -> str:
    partner = find_partner(initiative, code)
    return partner.code if partner is not None else ""


def _render_embed(
    initiative: Initiative,
    values: Mapping[str, str],
    problems: Mapping[str, Problem] | None = None,
    status: int = 200,
    token_problem: str | None = None,
) -> ResponseReturnValue:
    """The form as the page shows it, with a fresh token bound to this initiative and partner."""
    context = form_context(initiative, values, problems)
    partner = context["partner"]
    token = _tokens().issue(initiative.id, partner.code if partner is not None else "", utcnow())
    return render_template(
        "signing/embed.html",
        **context,
        form_token=token,
        form_action=url_for("signing.embed_submit", slug=initiative.slug, lang=_chosen_language()),
        token_problem=token_problem,
    ), status


def _closed_in_frame(closed: lifecycle.SigningClosed, initiative: Initiative | None) -> ResponseReturnValue:
    return render_template(
        "signing/embed_message.html", initiative=initiative, message=CLOSED_MESSAGES[closed.reason](initiative)
    ), closed.status


@blueprint.get("/i/<slug>/embed")
def embed_form(slug: str) -> ResponseReturnValue:
    initiative = find_initiative(slug)
    try:
        lifecycle.check_open(initiative, utctoday())
    except lifecycle.SigningClosed as closed:
        return _closed_in_frame(closed, initiative)
    assert initiative is not None
    requested = (request.args.get("country") or "").upper()
    values = {"country": requested} if requested in page_cache.signing_rules(initiative) else {}
    return _render_embed(initiative, {**values, "partner": request.args.get("partner", "")})


@blueprint.route("/i/<slug>/embed", methods=["POST"])
@csrf.exempt  # a third-party frame has no session cookie: the form's own signed token is checked instead
@limiter.limit(_sign_limit, methods=["POST"])
def embed_submit(slug: str) -> ResponseReturnValue:
    initiative = find_initiative(slug)
    try:
        lifecycle.check_open(initiative, utctoday())
    except lifecycle.SigningClosed as closed:
        return _closed_in_frame(closed, initiative)
    assert initiative is not None
    code = _partner_code(initiative, request.form.get("partner"))
    checked = _tokens().check(request.form.get(form_tokens.FIELD), initiative.id, code, utcnow())
    # spent in this request's transaction: an answer of 400 or more rolls the spending back with everything else
    if form_tokens.spend(checked) is not form_tokens.Verdict.VALID:
        problem = _("This form has expired or was already sent. Check what you entered and send it again.")
        return _render_embed(initiative, request.form, None, 400, token_problem=problem)

    taken = take_statement(
        initiative, lambda values, problems, status: _render_embed(initiative, values, problems, status)
    )
    if not isinstance(taken, Accepted):
        return taken
    return redirect(
        url_for("signing.embed_thanks", slug=slug, to=taken.sent_to, partner=code or None, lang=_chosen_language()),
        code=303,
    )


@blueprint.get("/i/<slug>/embed/thanks")
def embed_thanks(slug: str) -> str:
    """ "Check your inbox", inside the frame; asking for the link again happens on our own page, in a new tab."""
    initiative = _public_or_404(slug)
    token = request.args.get("to") or ""
    try:
        sent_to = _sent_to_serializer().loads(token) if token else None
    except BadSignature:
        sent_to, token = None, ""
    code = _partner_code(initiative, request.args.get("partner"))
    return render_template(
        "signing/embed_thanks.html",
        initiative=initiative,
        sent_to=sent_to,
        sign_again=url_for("signing.embed_form", slug=slug, partner=code or None, lang=_chosen_language()),
        inbox_page=url_for("signing.check_inbox", slug=slug, to=token or None, lang=current_language()),
    )


def _uncached(response: Response) -> Response:
    """Counts change: a browser asks each time, and gets 304 while the count stands still."""
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


@blueprint.get("/i/<slug>/counter")
def counter(slug: str) -> Response:
    initiative = _public_or_404(slug)
    today = utctoday()
    code = _partner_code(initiative, request.args.get("partner"))
    response = Response(
        render_template(
            "signing/counter.html",
            initiative=initiative,
            progress=progress(initiative),
            status=initiative.public_status(today),
            days_left=max(0, (initiative.collection_end - today).days + 1),
            sign_url=url_for("signing.sign_form", slug=slug, partner=code or None, lang=_chosen_language()),
        )
    )
    return _uncached(response)


@blueprint.get("/i/<slug>/counter.svg")
def counter_svg(slug: str) -> Response:
    initiative = _public_or_404(slug)
    counts = progress(initiative)
    number = format_decimal(counts.confirmed)
    label = _("of %(goal)s confirmed statements of support", goal=format_decimal(initiative.goal))
    title = shown_text(initiative, current_language()).title
    share = counts.confirmed / initiative.goal if initiative.goal > 0 else 0.0
    response = Response(badge_svg(number, label, share, title), mimetype="image/svg+xml")
    response.vary.add("Accept-Language")
    return _uncached(response)
