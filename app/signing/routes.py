"""Signer pages: thin views that parse input, call the service, render."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from ..eci.countries import residence_countries
from ..eci.id_numbers import needs_age_confirmation
from ..eci.member_states import member_states
from ..errors import render_error
from ..extensions import db, limiter
from ..initiatives import find_initiative, progress
from ..models import Initiative, utctoday
from . import service, subscriptions
from .forms import ID_TYPE_LABELS, SignForm, validate_submission

blueprint = Blueprint("signing", __name__)


def _sign_limit() -> str:
    return str(current_app.config["SIGN_RATE_LIMIT"])


@blueprint.get("/")
def home() -> str:
    from ..api.routes import public_initiatives

    return render_template("signing/home.html", initiatives=public_initiatives())


@blueprint.get("/i/<slug>")
def initiative_page(slug: str) -> str:
    initiative = find_initiative(slug)
    if initiative is None or initiative.status == "draft":
        abort(404)
    today = utctoday()
    return render_template(
        "signing/initiative.html",
        initiative=initiative,
        progress=progress(initiative),
        status=initiative.public_status(today),
        days_left=max(0, (initiative.collection_end - today).days + 1),
    )


@blueprint.get("/i/<slug>/privacy")
def privacy(slug: str) -> str:
    """The privacy statement a signer agrees to: what is kept, who can read it, and for how long."""
    initiative = find_initiative(slug)
    if initiative is None or initiative.status == "draft":
        abort(404)
    return render_template(
        "signing/privacy.html",
        initiative=initiative,
        confirm_days=max(1, current_app.config["CONFIRM_MAX_AGE"] // 86400),
    )


def _country_rules(initiative: Initiative) -> dict[str, dict[str, object]]:
    """What the page's script needs to change fields in place; the server checks all of it again."""
    rules: dict[str, dict[str, object]] = {}
    for country in initiative.countries:
        id_types = country.id_type_list
        rules[country.country_code] = {
            "part": country.data_part,
            "min_age": country.min_age,
            "id_types": [[t, str(ID_TYPE_LABELS[t])] for t in id_types],
            "age_confirm": [t for t in id_types if needs_age_confirmation(country.country_code, t)],
            "age_label": _("I confirm that I am at least %(age)d years old.", age=country.min_age),
        }
    return rules


def _prepare(form: SignForm, initiative: Initiative) -> None:
    states = member_states()
    form.country.choices = [("", _("Choose…"))] + [
        (c.country_code, states[c.country_code].name) for c in initiative.countries
    ]
    form.residence_country.choices = [("", _("Choose…")), *residence_countries()]
    country = initiative.country((form.country.data or "").upper())
    types = country.id_type_list if country else []
    form.id_type.choices = [(t, str(ID_TYPE_LABELS[t])) for t in types]


def _render_form(initiative: Initiative, form: SignForm, status: int = 200) -> tuple[str, int]:
    country = initiative.country((form.country.data or "").upper())
    show_age_confirm = bool(country) and any(
        needs_age_confirmation(country.country_code, t) for t in country.id_type_list
    )
    html = render_template(
        "signing/sign.html",
        initiative=initiative,
        form=form,
        country=country,
        show_age_confirm=show_age_confirm,
        # < and > escaped so that nothing in the JSON can close the <script> element it sits in
        country_rules=json.dumps(_country_rules(initiative), ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e"),
        state_names={code: s.name for code, s in member_states().items()},
    )
    return html, status


def _open_or_error(slug: str) -> Initiative | tuple[str, int]:
    try:
        return service.check_signing_open(find_initiative(slug), utctoday())
    except service.SigningClosed as closed:
        return render_error(closed.status, closed.message)


@blueprint.get("/i/<slug>/sign")
def sign_form(slug: str):  # type: ignore[no-untyped-def]
    opened = _open_or_error(slug)
    if not isinstance(opened, Initiative):
        return opened
    form = SignForm(formdata=None)
    requested = (request.args.get("country") or "").upper()
    if opened.country(requested):
        form.country.data = requested
    _prepare(form, opened)
    return _render_form(opened, form)


@blueprint.post("/i/<slug>/sign")
@limiter.limit(_sign_limit, methods=["POST"])
def sign_submit(slug: str):  # type: ignore[no-untyped-def]
    opened = _open_or_error(slug)
    if not isinstance(opened, Initiative):
        return opened
    form = SignForm()
    _prepare(form, opened)
    if "choose_country" in request.form:  # no JavaScript: show the fields the chosen country needs
        return _render_form(opened, form)
    if not form.validate():  # CSRF (raises CSRFError -> 400 when the token is missing or wrong)
        return _render_form(opened, form, 422)
    countries = {c.country_code: c for c in opened.countries}
    signer = validate_submission(form, countries, utctoday(), current_app.config["EMAIL_CHECK_DELIVERABILITY"])
    if signer is None:
        return _render_form(opened, form, 422)
    service.submit(opened, signer, request.remote_addr)
    db.session.commit()
    session["sent_to"] = signer.email  # shown once on the next page, never stored server-side
    return redirect(url_for("signing.check_inbox", slug=slug), code=303)


@blueprint.get("/i/<slug>/thanks")
def check_inbox(slug: str) -> str:
    initiative = find_initiative(slug)
    if initiative is None or initiative.status == "draft":
        abort(404)
    return render_template("signing/check_inbox.html", initiative=initiative, sent_to=session.pop("sent_to", None))


def _token_or_error(initiative: Initiative | None, token: str):  # type: ignore[no-untyped-def]
    if initiative is None or initiative.status == "draft":
        return None, render_error(404)
    try:
        statement_id = service.read_token(initiative, token)
    except service.LinkExpired as expired:
        statement = service.find_statement(initiative, expired.statement_id)
        if statement is not None and statement.status == "confirmed":
            return None, (
                render_template("signing/confirmed.html", initiative=initiative, statement=statement, newly=False),
                200,
            )
        return None, (
            render_template("signing/expired.html", initiative=initiative, token=token, gone=statement is None),
            410,
        )
    except service.LinkInvalid:
        return None, render_error(
            400,
            _(
                "This confirmation link is not valid. Copy the whole link from the "
                "email, or sign again to get a new one."
            ),
        )
    statement = service.find_statement(initiative, statement_id)
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
def confirm_page(slug: str, token: str):  # type: ignore[no-untyped-def]
    """Shows the statement's country and a button; changes nothing (mail scanners prefetch links)."""
    initiative = find_initiative(slug)
    statement, error = _token_or_error(initiative, token)
    if error is not None:
        return error
    if statement.status == "confirmed":
        return render_template("signing/confirmed.html", initiative=initiative, statement=statement, newly=False)
    response = Response(render_template("signing/confirm.html", initiative=initiative, statement=statement))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.post("/i/<slug>/confirm/<token>")
def confirm_submit(slug: str, token: str):  # type: ignore[no-untyped-def]
    initiative = find_initiative(slug)
    statement, error = _token_or_error(initiative, token)
    if error is not None:
        return error
    try:
        outcome = service.confirm(initiative, statement, utctoday())
    except service.SigningClosed as closed:
        db.session.rollback()
        return render_error(closed.status, closed.message)
    db.session.commit()
    return render_template(
        "signing/confirmed.html", initiative=initiative, statement=outcome.statement, newly=outcome.newly_confirmed
    )


@blueprint.post("/i/<slug>/confirm/<token>/renew")
@limiter.limit(_sign_limit, methods=["POST"])
def renew_link(slug: str, token: str):  # type: ignore[no-untyped-def]
    """Expired link: the signer types the address again; a fresh link goes there if it matches."""
    initiative = find_initiative(slug)
    if initiative is None or initiative.status == "draft":
        return render_error(404)
    try:
        statement_id = service.read_token(initiative, token)
    except service.LinkExpired as expired:
        statement_id = expired.statement_id
    except service.LinkInvalid:
        return render_error(400, _("This confirmation link is not valid."))
    email = (request.form.get("email") or "").strip()
    if email and len(email) <= 254:
        service.request_new_link(initiative, statement_id, email)
        db.session.commit()
    session["sent_to"] = email[:254] or None
    return redirect(url_for("signing.check_inbox", slug=slug), code=303)


@blueprint.route("/i/<slug>/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(slug: str, token: str):  # type: ignore[no-untyped-def]
    """GET shows a button and changes nothing (mail scanners prefetch links); POST ends the subscription."""
    initiative = find_initiative(slug)
    if initiative is None:
        return render_error(404)
    try:
        subscriber_id = subscriptions.read_unsubscribe_token(initiative, token)
    except subscriptions.UnsubscribeLinkInvalid:
        return render_error(400, _("This unsubscribe link is not valid. Copy the whole link from the email."))
    done = False
    if request.method == "POST":
        subscriptions.unsubscribe(initiative, subscriber_id)
        db.session.commit()
        done = True
    return render_template("signing/unsubscribe.html", initiative=initiative, done=done)
