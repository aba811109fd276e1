"""Signer pages: thin views that read the request, call `app.statements`, and render. The boundary commits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from flask import Blueprint, Response, abort, current_app, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from ..audit.retention import statements_deadline, subscribers_deadline
from ..eci.fingerprint import network_fingerprint
from ..eci.signer import Problem, validate
from ..errors import render_error
from ..extensions import csrf, limiter
from ..initiatives import by_progress, find_initiative, progress, signer_country
from ..languages import current_language, format_day
from ..links import links
from ..models import Initiative, Partner, Statement, utcnow, utctoday
from ..partners.organisations import find_partner, partners_of
from ..progress_map import progress_map
from ..sharing.routes import share_for
from ..statements import lifecycle
from ..statements.policy import LinkExpired, LinkInvalid, Policy
from ..statements.rules import is_public
from . import page_cache, proof_of_work, subscriptions

blueprint = Blueprint("signing", __name__)

SENT_TO_SALT = "quorum.signing.sent-to"


def policy() -> Policy:
    return current_app.extensions["quorum.policy"]  # type: ignore[no-any-return]


def _proof_of_work() -> proof_of_work.ProofOfWork:
    return current_app.extensions["quorum.proof_of_work"]  # type: ignore[no-any-return]


def _sign_limit() -> str:
    return str(current_app.config["SIGN_RATE_LIMIT"])


def _public_or_404(slug: str) -> Initiative:
    initiative = find_initiative(slug)
    if not is_public(initiative):
        abort(404)
    assert initiative is not None
    return initiative


@blueprint.get("/")
def home() -> str:
    from ..api.routes import public_initiatives

    return render_template("signing/home.html", initiatives=public_initiatives())


@blueprint.get("/i/<slug>")
def initiative_page(slug: str) -> Response:
    initiative = _public_or_404(slug)
    today = utctoday()
    counts = progress(initiative)
    languages = [tag for tag, _quality in request.accept_languages]
    own = signer_country(request.args.get("country"), languages, [c.code for c in counts.countries])
    response = Response(
        render_template(
            "signing/initiative.html",
            initiative=initiative,
            partner=find_partner(initiative, request.args.get("partner")),
            partners=partners_of(initiative),
            progress=counts,
            status=initiative.public_status(today),
            days_left=max(0, (initiative.collection_end - today).days + 1),
            countries=by_progress(counts.countries, own),
            own_country=own,
            progress_map=progress_map(counts.countries),
            share=share_for(initiative, counts),
        )
    )
    response.vary.add("Accept-Language")  # the signer's own member state comes first
    return response


@blueprint.get("/i/<slug>/privacy")
def privacy(slug: str) -> str:
    """The privacy statement a signer agrees to: who is responsible, what is kept, who reads it, for how long."""
    initiative = _public_or_404(slug)
    return render_template(
        "signing/privacy.html",
        initiative=initiative,
        confirm_days=policy().confirm_days,
        statements_deadline=statements_deadline(initiative).date(),
        subscribers_deadline=subscribers_deadline(initiative).date(),
    )


CLOSED_MESSAGES = {
    lifecycle.Refusal.UNKNOWN: lambda initiative: _("There is no initiative at this address."),
    lifecycle.Refusal.NOT_STARTED: lambda initiative: _(
        "Collection for this initiative starts on %(day)s.", day=format_day(initiative.collection_start)
    ),
    lifecycle.Refusal.OVER: lambda initiative: _(
        "Collection for this initiative is over. Thank you for your interest."
    ),
    lifecycle.Refusal.NOT_READY: lambda initiative: _("This initiative is not ready to collect statements yet."),
}


def _closed(closed: lifecycle.SigningClosed, initiative: Initiative | None) -> ResponseReturnValue:
    return render_error(closed.status, CLOSED_MESSAGES[closed.reason](initiative))


Render = Callable[[Mapping[str, str], Mapping[str, Problem] | None, int], ResponseReturnValue]
"""Shows the sign form again (values as typed, errors, status): the page's own, or the embedded one's."""


def _challenge() -> dict[str, object] | None:
    work = _proof_of_work()
    return work.challenge(utcnow()) if work.enabled else None


def form_context(initiative: Initiative, values: Mapping[str, str], problems: Mapping[str, Problem] | None) -> dict:  # type: ignore[type-arg]
    """What sign.html needs: the page (its choices made once per revision and language), a fresh proof-of-work
    challenge, and the partner the form attributes to."""
    page = page_cache.sign_page(initiative, values or {}, problems or {})
    partner = find_partner(initiative, page.value("partner"))
    return {"initiative": initiative, "page": page, "proof_of_work": _challenge(), "partner": partner}


def _render_form(initiative: Initiative, values: object, problems: object = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("signing/sign.html", **form_context(initiative, values or {}, problems)), status  # type: ignore[arg-type]


def _unsolved_refusal(initiative: Initiative, render: Render) -> ResponseReturnValue | None:
    """Without a valid proof of work a network gets 3 statements an hour (CONTRACT.md, CAPTCHA_ENABLED); the 4th
    gets its form back as typed, with a fresh challenge, a 429 and Retry-After."""
    work = _proof_of_work()
    if not work.enabled:
        return None
    answer = work.check(request.form.get(proof_of_work.FIELD), utcnow())
    if proof_of_work.spend(answer) is proof_of_work.Verdict.SOLVED:
        return None
    wait = proof_of_work.take_unsolved(proof_of_work.network_key(request.remote_addr))
    if wait is None:
        return None
    problem = proof_of_work.refusal(wait)
    response = make_response(render(request.form, {"proof_of_work": problem}, 429))
    response.headers["Retry-After"] = str(wait)
    return response


@blueprint.get("/i/<slug>/sign")
def sign_form(slug: str) -> ResponseReturnValue:
    initiative = find_initiative(slug)
    try:
        lifecycle.check_open(initiative, utctoday())
    except lifecycle.SigningClosed as closed:
        return _closed(closed, initiative)
    assert initiative is not None
    requested = (request.args.get("country") or "").upper()
    country = requested if requested in page_cache.signing_rules(initiative) else ""
    partner = find_partner(initiative, request.args.get("partner"))
    return page_cache.blank_sign_form(initiative, country, partner, _challenge())


def _masked(address: str) -> str:
    """Enough of the address to spot a typo, not enough to be worth keeping: "zo…@example.org"."""
    local, _at, domain = address.lower().rpartition("@")
    return f"{local[:2]}…@{domain}"


def _sent_to_serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@lru_cache(maxsize=4)
def _serializer_for(secret_key: str) -> URLSafeSerializer:
    """Made once per key: its key derivation is not redone for every signer."""
    return URLSafeSerializer(secret_key, salt=SENT_TO_SALT)


@dataclass(frozen=True)
class Accepted:
    """A statement was taken (or a repeat answered by email): `sent_to` is the masked address, signed for the URL."""

    sent_to: str


def _ticked(form: Mapping[str, str], name: str) -> bool:
    return (form.get(name) or "").strip().lower() in {"y", "yes", "on", "1", "true"}


def _partner_id(partner: Partner | None) -> int | None:
    return partner.id if partner is not None else None


def take_statement(initiative: Initiative, render: Render) -> Accepted | ResponseReturnValue:
    """The sign form's POST, for the page and the embedded form alike: validate, the proof of work, then
    `lifecycle.submit` with the partner the form names (an unknown code attributes to nobody)."""
    form = request.form
    if "choose_country" in form:  # no JavaScript: show the fields the chosen country needs
        return render(form, None, 200)
    checked = validate(
        form,
        page_cache.signing_rules(initiative),
        utctoday(),
        check_deliverability=current_app.config["EMAIL_CHECK_DELIVERABILITY"],
    )
    if checked.signer is None:
        return render(form, checked.errors, 422)
    refused = _unsolved_refusal(initiative, render)
    if refused is not None:
        return refused
    rules = policy()
    partner = find_partner(initiative, form.get("partner"))
    lifecycle.submit(
        initiative,
        checked.signer,
        policy=rules,
        links=links(),
        now=utcnow(),
        locale=current_language(),
        network_fp=network_fingerprint(rules.fingerprint_key, request.remote_addr),
        partner_id=_partner_id(partner),
        partner_updates=partner is not None and _ticked(form, "partner_updates_consent"),
    )
    # the page may say where the mail went, but the address itself stays out of cookies and logs: a masked form
    return Accepted(_sent_to_serializer().dumps(_masked(checked.signer.email)))


@blueprint.post("/i/<slug>/sign")
@limiter.limit(_sign_limit, methods=["POST"])
def sign_submit(slug: str) -> ResponseReturnValue:
    initiative = find_initiative(slug)
    try:
        lifecycle.check_open(initiative, utctoday())
    except lifecycle.SigningClosed as closed:
        return _closed(closed, initiative)
    assert initiative is not None
    taken = take_statement(
        initiative, lambda values, problems, status: _render_form(initiative, values, problems, status)
    )
    if not isinstance(taken, Accepted):
        return taken
    return redirect(url_for("signing.check_inbox", slug=slug, to=taken.sent_to), code=303)


@blueprint.get("/i/<slug>/thanks")
def check_inbox(slug: str) -> str:
    initiative = _public_or_404(slug)
    try:
        sent_to = _sent_to_serializer().loads(request.args.get("to", "")) if request.args.get("to") else None
    except BadSignature:
        sent_to = None
    return render_template("signing/check_inbox.html", initiative=initiative, sent_to=sent_to)


@blueprint.post("/i/<slug>/new-link")
@limiter.limit(_sign_limit, methods=["POST"])
def new_link(slug: str) -> ResponseReturnValue:
    """ "No email?": whatever statements were given with this address get their link (or word) again."""
    initiative = _public_or_404(slug)
    email = (request.form.get("email") or "").strip()
    if not email or len(email) > 254 or "@" not in email:
        return render_template(
            "signing/check_inbox.html",
            initiative=initiative,
            sent_to=None,
            new_link_error=_("Enter the email address you signed with, like name@example.org"),
            typed=email[:254],
        ), 422
    lifecycle.send_new_links(initiative, email, policy=policy(), links=links(), now=utcnow())
    sent_to = _sent_to_serializer().dumps(_masked(email))
    return redirect(url_for("signing.check_inbox", slug=slug, to=sent_to, again=1), code=303)


def _statement_or_error(
    initiative: Initiative | None, token: str
) -> tuple[Statement | None, ResponseReturnValue | None]:
    if initiative is None or not is_public(initiative):
        return None, render_error(404)
    try:
        statement_id = policy().read_token(token, initiative.id)
    except LinkExpired as expired:
        statement = lifecycle.find_statement(initiative, expired.statement_id)
        if statement is not None and lifecycle.shown_as_confirmed(statement):
            return None, render_template("signing/confirmed.html", initiative=initiative, statement=statement)
        return None, (
            render_template("signing/expired.html", initiative=initiative, token=token, gone=statement is None),
            410,
        )
    except LinkInvalid:
        return None, render_error(
            400,
            _(
                "This confirmation link is not valid. Copy the whole link from the email, "
                "or sign again to get a new one."
            ),
        )
    statement = lifecycle.find_statement(initiative, statement_id)
    if statement is None:
        return None, render_error(
            404,
            _(
                "This statement no longer exists. Unconfirmed statements are deleted "
                "when their link expires: please sign again."
            ),
        )
    return statement, None


@blueprint.get("/i/<slug>/confirm/<token>")
def confirm_page(slug: str, token: str) -> ResponseReturnValue:
    """Shows the statement's country and a button; changes nothing (mail scanners prefetch links)."""
    initiative = find_initiative(slug)
    statement, error = _statement_or_error(initiative, token)
    if error is not None:
        return error
    assert statement is not None
    if lifecycle.shown_as_confirmed(statement):
        return render_template("signing/confirmed.html", initiative=initiative, statement=statement)
    response = Response(render_template("signing/confirm.html", initiative=initiative, statement=statement))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.post("/i/<slug>/confirm/<token>")
def confirm_submit(slug: str, token: str) -> ResponseReturnValue:
    initiative = find_initiative(slug)
    statement, error = _statement_or_error(initiative, token)
    if error is not None:
        return error
    assert statement is not None and initiative is not None
    try:
        outcome = lifecycle.confirm(initiative, statement, now=utcnow())
    except lifecycle.SigningClosed as closed:
        return render_error(
            closed.status, _("Collection for this initiative is over; statements can no longer be confirmed.")
        )
    return render_template("signing/confirmed.html", initiative=initiative, statement=outcome.statement)


@blueprint.post("/i/<slug>/confirm/<token>/renew")
@limiter.limit(_sign_limit, methods=["POST"])
def renew_link(slug: str, token: str) -> ResponseReturnValue:
    """Expired link: the signer types the address again; a fresh link goes there if it is the statement's own."""
    initiative = find_initiative(slug)
    if initiative is None or not is_public(initiative):
        return render_error(404)
    try:
        statement_id = policy().read_token(token, initiative.id)
    except LinkExpired as expired:
        statement_id = expired.statement_id
    except LinkInvalid:
        return render_error(400, _("This confirmation link is not valid."))
    email = (request.form.get("email") or "").strip()[:254]
    if email:
        lifecycle.renew_link(initiative, statement_id, email, policy=policy(), links=links(), now=utcnow())
    sent_to = _sent_to_serializer().dumps(_masked(email)) if email else None
    return redirect(url_for("signing.check_inbox", slug=slug, to=sent_to), code=303)


@blueprint.route("/i/<slug>/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: a mail client's one-click POST carries no token; the signed one in the URL authorises
def unsubscribe(slug: str, token: str) -> ResponseReturnValue:
    """GET shows a button and changes nothing (mail scanners prefetch links); POST ends the subscription, from the
    page's button or as a mail client's one-click `List-Unsubscribe=One-Click`."""
    initiative = find_initiative(slug)
    if initiative is None:
        return render_error(404)
    try:
        subscriber_id = subscriptions.read_unsubscribe_token(current_app.config["SECRET_KEY"], initiative, token)
    except subscriptions.UnsubscribeLinkInvalid:
        return render_error(400, _("This unsubscribe link is not valid. Copy the whole link from the email."))
    done = False
    if request.method == "POST":
        subscriptions.unsubscribe(initiative, subscriber_id, utcnow())
        done = True
    return render_template("signing/unsubscribe.html", initiative=initiative, done=done)


from . import embed  # noqa: E402, F401  (the embeddable form and counter register on this blueprint)
