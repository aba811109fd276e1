"""Initiative management on the staff side: the list, create, edit, status changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..audit.log import record
from ..eci.member_states import ECI_GOAL, ECI_MIN_COUNTRIES, RULE_SETS, member_states
from ..initiative_texts import TEXT_FIELDS, save_text, text_in
from ..initiatives import (
    DETAILS,
    InitiativeChanges,
    InitiativeError,
    change_status,
    collection_started,
    create_initiative,
    record_creation,
    rules_frozen,
    status_refusal,
    transitions,
    update_initiative,
)
from ..languages import LANGUAGES, current_language, language_name, offered
from ..models import Initiative, InitiativeStatus, StaffRole, utctoday
from ..statements.rules import is_public
from .access import actor, current_staff, initiative_for_staff, staff_required, visible_initiatives
from .confirmation import Confirmation, Confirmed, ask
from .routes import blueprint
from .status_names import status_name

MANAGERS = (StaffRole.ADMIN, StaffRole.ORGANIZER)


@blueprint.get("/")
@staff_required()
def index() -> str:
    """The initiatives this staff member was given (admins: all)."""
    user = current_staff()
    assert user is not None
    return render_template("admin/index.html", initiatives=visible_initiatives(user))


@dataclass
class InitiativeForm:
    """What the staff member typed (kept as typed, to show again) and the errors beside each field."""

    values: MultiDict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str, default: object = "") -> str:
        return self.values.get(name, str(default))

    def countries(self) -> list[str]:
        return self.values.getlist("countries")


def _form_for(initiative: Initiative) -> InitiativeForm:
    values: MultiDict[str, str] = MultiDict(
        {
            "title": initiative.title,
            "summary": initiative.summary,
            "collection_start": initiative.collection_start.isoformat(),
            "collection_end": initiative.collection_end.isoformat(),
            "rule_set": initiative.rule_set,
            "goal": str(initiative.goal),
            "min_countries": str(initiative.min_countries),
            "default_locale": initiative.default_locale,
            **{name: getattr(initiative, name) for name in DETAILS},
        }
    )
    values.setlist("countries", [c.country_code for c in initiative.countries])
    return InitiativeForm(values)


def _parse_date(form: InitiativeForm, name: str) -> date | None:
    text = form.values.get(name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        form.errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None


def _parse_count(form: InitiativeForm, name: str) -> int | None:
    text = form.values.get(name)
    if text is None:
        return None
    try:
        return int(text.strip().replace(",", "").replace("_", ""))
    except ValueError:
        form.errors[name] = _("Enter a whole number.")
        return None


def _parse(values: MultiDict[str, str]) -> tuple[InitiativeForm, InitiativeChanges]:
    """Read the form; a field that was not sent (disabled because frozen) is not changed."""
    form = InitiativeForm(values)
    changes = InitiativeChanges(
        title=values.get("title"),
        summary=values.get("summary"),
        start=_parse_date(form, "collection_start"),
        end=_parse_date(form, "collection_end"),
        rule_set=values.get("rule_set"),
        goal=_parse_count(form, "goal"),
        min_countries=_parse_count(form, "min_countries"),
        # the hidden marker says the checkboxes were on the page: none ticked then means none chosen
        countries=values.getlist("countries") if values.get("countries_shown") else None,
        default_locale=values.get("default_locale"),
        details={name: values[name] for name in DETAILS if name in values},
    )
    return form, changes


def _new_page(form: InitiativeForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "admin/initiative_new.html", form=form, rule_sets=RULE_SETS, states=member_states(), languages=LANGUAGES
    ), status


@blueprint.route("/initiatives/new", methods=["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def initiative_new() -> tuple[str, int] | Response:
    """Admins create initiatives, always as drafts: publishing is a status change with its own checks."""
    if request.method == "GET":
        today = utctoday()
        values: MultiDict[str, str] = MultiDict(
            {
                "collection_start": today.isoformat(),
                "rule_set": "eci-2024",
                "goal": str(ECI_GOAL),
                "min_countries": str(ECI_MIN_COUNTRIES),
                "default_locale": "en",
            }
        )
        values.setlist("countries", list(member_states()))
        return _new_page(InitiativeForm(values))
    form, changes = _parse(request.form)
    slug = (request.form.get("slug") or "").strip()
    for name in ("collection_start", "collection_end", "goal", "min_countries"):
        if not (request.form.get(name) or "").strip():
            form.errors.setdefault(name, _("This field is required."))
    # the service checks the rest even when a field could not be read, so every error shows at once
    try:
        initiative = create_initiative(
            slug=slug,
            title=changes.title or "",
            start=changes.start or date.min,
            end=changes.end or date.min,
            rule_set=changes.rule_set or "",
            draft=True,
            summary=changes.summary or "",
            countries=changes.countries or [],
            goal=ECI_GOAL if changes.goal is None else changes.goal,
            min_countries=ECI_MIN_COUNTRIES if changes.min_countries is None else changes.min_countries,
            default_locale=changes.default_locale or "en",
            details=changes.details,
        )
    except InitiativeError as error:
        form.errors = {**error.errors, **form.errors}
    else:
        if not form.errors:  # with errors the page answers 422 and the boundary rolls the draft back
            record_creation(initiative, actor())
            flash(_("Created %(slug)s as a draft.", slug=initiative.slug), "success")
            return redirect(url_for("admin.initiative_edit", slug=initiative.slug))
    return _new_page(form, 422)


def _edit_page(
    initiative: Initiative,
    form: InitiativeForm,
    status_errors: dict[str, str] | None = None,
    status_values: dict[str, str] | None = None,
    code: int = 200,
) -> tuple[str, int]:
    today = utctoday()
    return render_template(
        "admin/initiative_edit.html",
        initiative=initiative,
        form=form,
        rule_sets=RULE_SETS,
        states=member_states(),
        frozen=rules_frozen(initiative, today),
        started=collection_started(initiative, today),
        transitions=transitions(initiative, today),
        status_errors=status_errors or {},
        status_values=status_values or {},
        closed_for_edits=initiative.is_final,
        languages=LANGUAGES,
        written={text.locale for text in initiative.texts},
    ), code


@blueprint.route("/initiatives/<slug>/edit", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def initiative_edit(slug: str) -> tuple[str, int] | Response:
    """Organizers edit the initiatives they were given, within the guards of app.initiatives."""
    initiative = initiative_for_staff(slug)
    if request.method == "GET":
        return _edit_page(initiative, _form_for(initiative))
    form, changes = _parse(request.form)
    try:
        changed = update_initiative(initiative, changes, utctoday())
    except InitiativeError as error:
        form.errors = {**error.errors, **form.errors}
    else:
        if not form.errors:  # a field that could not be read: 422, and the boundary saves nothing
            if changed:
                record(actor(), "initiative.update", initiative=initiative, target=initiative.slug, details=changed)
                flash(_("Saved: %(fields)s.", fields=", ".join(sorted(changed))), "success")
            else:
                flash(_("Nothing changed."), "info")
            return redirect(url_for("admin.initiative_edit", slug=initiative.slug))
    return _edit_page(initiative, form, code=422)


def _status_confirmation(initiative: Initiative, to: str) -> Confirmation:
    """What moving to `to` does, in words: every status change is confirmed on a page of its own."""
    public = is_public(initiative)
    consequences = {
        InitiativeStatus.COLLECTING: (
            _("The initiative becomes public: its page, the home page and the public counts (API) show it.")
            if initiative.published_at is None
            else _("Collection opens again: people can sign until the last day of collection."),
            _("Once published, it stays listed, even if it is withdrawn later."),
        ),
        InitiativeStatus.DRAFT: (
            _("The initiative is hidden again: its page and its counts answer 404 until it is published."),
        ),
        InitiativeStatus.CLOSED: (
            _("Collection stops at once: the sign form says collection is over."),
            _(
                "Statements still waiting for their confirmation can no longer be confirmed; the next retention run "
                "deletes them."
            ),
        ),
        InitiativeStatus.SUBMITTED: (
            _(
                "The initiative is marked as submitted to the Commission. This status is final: nothing about the "
                "initiative can change any more."
            ),
            _("Its statements of support are destroyed one month from now (retention rules)."),
        ),
        InitiativeStatus.WITHDRAWN: (
            _("Collection ends for good. This status is final: nothing about the initiative can change any more."),
            _("Its public page says it was withdrawn, with the reason you give below.")
            if public
            else _("It was never published, so it stays hidden."),
            _("Its statements of support are destroyed one month from now (retention rules)."),
        ),
    }
    public_reason = to == InitiativeStatus.WITHDRAWN and public
    return Confirmation(
        heading=_("Change the status of %(title)s to %(status)s", title=initiative.title, status=status_name(to)),
        consequences=consequences[InitiativeStatus(to)],
        button=_("Change the status to %(status)s", status=status_name(to)),
        back=url_for("admin.initiative_edit", slug=initiative.slug),
        reason_label=_("Reason (shown on the public page and kept in the audit log)") if public_reason else "",
        bound={"status": to},
        facts=(
            (_("Status now"), status_name(initiative.status)),
            (_("The public sees now"), status_name(initiative.public_status())),
        ),
        # reopening a closed collection is undone by closing it again, and a draft stays a draft until published;
        # publishing (it stays listed), closing (unconfirmed statements are lost) and the final statuses are not
        final=not (
            to == InitiativeStatus.DRAFT or (to == InitiativeStatus.COLLECTING and initiative.published_at is not None)
        ),
    )


@blueprint.route("/initiatives/<slug>/status", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def initiative_status(slug: str) -> tuple[str, int] | Response:
    """One status change: a page that says what it does and asks the reason, then the change, in the audit log."""
    initiative = initiative_for_staff(slug)
    today = utctoday()
    asked = request.form if request.method == "POST" else request.args
    to = (asked.get("status") or "").strip()
    why_not = status_refusal(initiative, to, today)
    if why_not:
        return _edit_page(initiative, _form_for(initiative), {"status": why_not}, {"status": to}, 422)
    answer = ask(_status_confirmation(initiative, to))
    if not isinstance(answer, Confirmed):
        return answer
    try:
        details = change_status(initiative, to, answer.reason, today)
    except InitiativeError as error:
        return _edit_page(initiative, _form_for(initiative), error.errors, {"status": to}, 422)
    record(
        actor(),
        "initiative.status",
        initiative=initiative,
        target=initiative.slug,
        reason=answer.reason,
        details=details,
    )
    flash(_("%(slug)s is now %(status)s.", slug=initiative.slug, status=status_name(initiative.status)), "success")
    return redirect(url_for("admin.initiative_edit", slug=initiative.slug))


@dataclass
class TextForm:
    """The initiative's words in one language as typed, and the errors beside each field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str, default: object = "") -> str:
        return self.values.get(name, str(default))


def _text_page(initiative: Initiative, locale: str, form: TextForm, code: int = 200) -> tuple[str, int]:
    return render_template("admin/initiative_text.html", initiative=initiative, locale=locale, form=form), code


@blueprint.route("/initiatives/<slug>/texts/<locale>", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def initiative_text(slug: str, locale: str) -> tuple[str, int] | Response:
    """The title, summary and objectives in one more language; all fields emptied deletes that language's text."""
    initiative = initiative_for_staff(slug)
    if locale not in offered() or locale == initiative.default_locale:
        abort(404)
    if request.method == "GET":
        text = text_in(initiative, locale)
        typed = {name: getattr(text, name) if text else "" for name in TEXT_FIELDS}
        return _text_page(initiative, locale, TextForm(typed))
    form = TextForm({name: request.form.get(name, "") for name in TEXT_FIELDS})
    try:
        changed = save_text(initiative, locale, form.values, offered())
    except InitiativeError as error:
        form.errors = error.errors
        return _text_page(initiative, locale, form, 422)
    if changed:
        record(
            actor(),
            "initiative.text",
            initiative=initiative,
            target=f"{initiative.slug} {locale}",
            details={"locale": locale, **changed},
        )
        flash(_("Saved the text in %(language)s.", language=language_name(locale, current_language())), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("admin.initiative_edit", slug=initiative.slug))
