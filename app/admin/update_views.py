"""Updates to supporters on the staff side: organizers and admins of an initiative write one per language, preview
it, send a test to themselves, send it to every confirmed subscriber, and follow, pause and resume the sending."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel import Locale
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from ..languages import LANGUAGES
from ..links import links
from ..models import Initiative, StaffRole, SupporterUpdate, SupporterUpdateText, UpdateStatus, utcnow
from ..signing.subscriptions import unsubscribe_url
from ..updates import sending, writing
from .access import actor, current_staff, initiative_for_staff, staff_required
from .routes import blueprint

MANAGERS = (StaffRole.ADMIN, StaffRole.ORGANIZER)


@dataclass(frozen=True)
class Preview:
    """The email as a supporter reading `locale` gets it: subject, HTML part (shown in the page) and text part."""

    locale: str
    subject: str
    html: Markup
    text: str


def _preview(initiative: Initiative, text: writing.Text | SupporterUpdateText) -> Preview:
    message = writing.compose(
        initiative,
        text,
        page_url=sending.page_url(links(), initiative),
        unsubscribe_url=unsubscribe_url(links(), current_app.config["SECRET_KEY"], initiative, sending.NO_SUBSCRIBER),
    )
    with force_locale(message.locale):  # the message's own words in the reader's language, as the worker writes it
        html = Markup(render_template("email/_update_body.html", message=message))  # noqa: S704 (autoescaped)
        plain = render_template("email/update.txt", message=message)
    return Preview(message.locale, message.subject, html, plain)


def _languages() -> list[tuple[str, str]]:
    """(code, name in the staff member's language) for every language an update may be written in."""
    shown = str(get_locale() or "en")
    names = [(code, Locale.parse(code).get_display_name(shown) or code) for code in LANGUAGES]
    return sorted(names, key=lambda pair: pair[1].casefold())


def _update_or_404(initiative: Initiative, update_id: int) -> SupporterUpdate:
    update = writing.find_update(initiative, update_id)
    if update is None:
        abort(404)
    return update


def _list_page(initiative: Initiative, form: Mapping[str, str], errors: Mapping[str, Any], status: int = 200):  # type: ignore[no-untyped-def]
    updates = writing.updates_of(initiative)
    return render_template(
        "admin/updates.html",
        initiative=initiative,
        updates=updates,
        audience=sending.audience(initiative.id),
        form=form,
        errors=errors,
        languages=_languages(),
    ), status


@blueprint.get("/initiatives/<slug>/updates")
@staff_required(*MANAGERS)
def updates(slug: str) -> tuple[str, int]:
    """The initiative's updates and a form for a new one."""
    return _list_page(initiative_for_staff(slug), {"locale": "en"}, {})


@blueprint.post("/initiatives/<slug>/updates")
@staff_required(*MANAGERS)
def update_new(slug: str) -> BaseResponse | tuple[str, int]:
    """A new draft; the language of its first text is the default one."""
    initiative = initiative_for_staff(slug)
    form = request.form
    try:
        text = writing.checked_text(form.get("locale", ""), form.get("subject", ""), form.get("body", ""))
    except writing.TextError as error:
        return _list_page(initiative, form, error.errors, 422)
    update = writing.create(initiative, text, actor=actor(), now=utcnow())
    flash(_("The draft is saved. Preview it below, add other languages, and send a test to yourself."), "ok")
    return redirect(url_for("admin.update", slug=slug, update_id=update.id))


def _update_page(
    initiative: Initiative,
    update: SupporterUpdate,
    *,
    locale: str | None = None,
    typed: Mapping[str, str] | None = None,
    preview: Preview | None = None,
    errors: Mapping[str, Any] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The update: its progress, the text in one language (as saved, or as just typed), the preview, and actions."""
    locale = locale if locale in LANGUAGES else update.default_locale
    saved = update.text(locale)
    form = dict(typed) if typed is not None else {}
    if typed is None:
        form = {"locale": locale, "subject": saved.subject if saved else "", "body": saved.body if saved else ""}
    if preview is None:
        preview = _preview(initiative, writing.text_for(update, locale))
    per_minute = current_app.config["UPDATES_PER_MINUTE"]
    progress = sending.progress(update)
    user = current_staff()
    return render_template(
        "admin/update.html",
        initiative=initiative,
        update=update,
        locale=locale,
        has_text=saved is not None,
        form=form,
        errors=errors or {},
        preview=preview,
        progress=progress,
        per_minute=per_minute,
        minutes_left=-(-(progress.remaining + progress.held + progress.queued) // per_minute),
        languages=_languages(),
        language_names=dict(_languages()),
        staff_email=user.email if user else "",
        UpdateStatus=UpdateStatus,
    ), status


@blueprint.get("/initiatives/<slug>/updates/<int:update_id>")
@staff_required(*MANAGERS)
def update(slug: str, update_id: int) -> tuple[str, int]:
    initiative = initiative_for_staff(slug)
    return _update_page(initiative, _update_or_404(initiative, update_id), locale=request.args.get("locale"))


@blueprint.post("/initiatives/<slug>/updates/<int:update_id>/preview")
@staff_required(*MANAGERS)
def update_preview(slug: str, update_id: int) -> tuple[str, int]:
    """The typed text as a supporter would get it; nothing is saved."""
    initiative = initiative_for_staff(slug)
    update = _update_or_404(initiative, update_id)
    form = request.form
    locale = form.get("locale", "")
    try:
        text = writing.checked_text(locale, form.get("subject", ""), form.get("body", ""))
    except writing.TextError as error:
        return _update_page(initiative, update, locale=locale, typed=form, errors=error.errors, status=422)
    return _update_page(initiative, update, locale=text.locale, typed=form, preview=_preview(initiative, text))


@blueprint.post("/initiatives/<slug>/updates/<int:update_id>")
@staff_required(*MANAGERS)
def update_save(slug: str, update_id: int) -> BaseResponse | tuple[str, int]:
    """Save the text in one language of a draft, or remove a translation."""
    initiative = initiative_for_staff(slug)
    update = _update_or_404(initiative, update_id)
    form = request.form
    locale = form.get("locale", "")
    try:
        if "remove" in form:
            writing.remove_text(initiative, update, locale, actor=actor(), now=utcnow())
            flash(_("The text in this language is removed; its readers get the default text."), "ok")
            return redirect(url_for("admin.update", slug=slug, update_id=update.id))
        text = writing.checked_text(locale, form.get("subject", ""), form.get("body", ""))
        writing.save_text(initiative, update, text, actor=actor(), now=utcnow())
    except writing.TextError as error:
        return _update_page(initiative, update, locale=locale, typed=form, errors=error.errors, status=422)
    except writing.UpdateError as error:
        return _update_page(initiative, update, locale=locale, typed=form, errors={"update": error}, status=409)
    flash(_("Saved."), "ok")
    return redirect(url_for("admin.update", slug=slug, update_id=update.id, locale=text.locale))


@blueprint.post("/initiatives/<slug>/updates/<int:update_id>/test")
@staff_required(*MANAGERS)
def update_test(slug: str, update_id: int) -> BaseResponse:
    """The message to the signed-in staff member's own address, and to no one else."""
    initiative = initiative_for_staff(slug)
    update = _update_or_404(initiative, update_id)
    user = current_staff()
    assert user is not None
    used = sending.send_test(
        initiative,
        update,
        request.form.get("locale"),
        to=user.email,
        links=links(),
        secret_key=current_app.config["SECRET_KEY"],
        actor=user.email,
    )
    flash(
        _("A test in %(language)s is on its way to %(email)s.", language=dict(_languages())[used], email=user.email),
        "ok",
    )
    return redirect(url_for("admin.update", slug=slug, update_id=update.id, locale=used))


@blueprint.post("/initiatives/<slug>/updates/<int:update_id>/send")
@staff_required(*MANAGERS)
def update_send(slug: str, update_id: int) -> BaseResponse | tuple[str, int]:
    """Send to every confirmed subscriber, once the staff member has ticked that they mean it."""
    initiative = initiative_for_staff(slug)
    update = _update_or_404(initiative, update_id)
    if request.form.get("confirm") != "y":
        errors = {"confirm": _("Tick the box to confirm: a sent update cannot be taken back.")}
        return _update_page(initiative, update, errors=errors, status=422)
    try:
        recipients = sending.start(
            initiative, update, actor=actor(), now=utcnow(), per_minute=current_app.config["UPDATES_PER_MINUTE"]
        )
    except writing.UpdateError as error:
        return _update_page(initiative, update, errors={"send": error}, status=409)
    flash(
        ngettext("Sending to %(num)s supporter has started.", "Sending to %(num)s supporters has started.", recipients),
        "ok",
    )
    return redirect(url_for("admin.update", slug=slug, update_id=update.id))


@blueprint.post("/initiatives/<slug>/updates/<int:update_id>/pause")
@staff_required(*MANAGERS)
def update_pause(slug: str, update_id: int) -> BaseResponse | tuple[str, int]:
    initiative = initiative_for_staff(slug)
    update = _update_or_404(initiative, update_id)
    try:
        held = sending.pause(initiative, update, actor=actor(), now=utcnow())
    except writing.UpdateError as error:
        return _update_page(initiative, update, errors={"send": error}, status=409)
    flash(
        ngettext(
            "Paused: nothing more goes out until you resume (%(num)d message held).",
            "Paused: nothing more goes out until you resume (%(num)d messages held).",
            held,
        ),
        "ok",
    )
    return redirect(url_for("admin.update", slug=slug, update_id=update.id))


@blueprint.post("/initiatives/<slug>/updates/<int:update_id>/resume")
@staff_required(*MANAGERS)
def update_resume(slug: str, update_id: int) -> BaseResponse | tuple[str, int]:
    initiative = initiative_for_staff(slug)
    update = _update_or_404(initiative, update_id)
    try:
        sending.resume(initiative, update, actor=actor(), now=utcnow())
    except writing.UpdateError as error:
        return _update_page(initiative, update, errors={"send": error}, status=409)
    flash(_("Sending resumed."), "ok")
    return redirect(url_for("admin.update", slug=slug, update_id=update.id))
