"""Creating initiatives and reading their progress: shared by the CLI, the staff side and the public pages."""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from urllib.parse import urlsplit

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from .eci.member_states import ECI_GOAL, ECI_MIN_COUNTRIES, RULE_SETS, member_states
from .extensions import db
from .languages import LANGUAGES
from .models import Initiative, InitiativeCountry, InitiativeStatus, InitiativeText, Statement, utcnow

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


class InitiativeError(ValueError):
    """An initiative cannot be created or changed as asked; the message says why, `errors` says where."""

    def __init__(self, message: str | dict[str, str], field: str = "") -> None:
        self.errors: dict[str, str] = dict(message) if isinstance(message, dict) else {field: message}
        super().__init__("; ".join(self.errors.values()))


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day (31 Jan + 1 = 28/29 Feb)."""
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_dates(start: date, end: date) -> None:
    """At most 12 months of collection from the start date the organizer picks (Art. 8(1))."""
    if end < start:
        raise InitiativeError(_("the end date is before the start date"), "collection_end")
    if end >= add_months(start, 12):
        raise InitiativeError(
            _(
                "collection may last at most 12 months: the end date must be before %(day)s",
                day=add_months(start, 12).isoformat(),
            ),
            "collection_end",
        )


def _check_rules(rule_set: str, goal: int, min_countries: int, codes: list[str]) -> dict[str, str]:
    """Rule set, goal, minimum countries and member states: the part of an initiative frozen once collection starts."""
    errors: dict[str, str] = {}
    states = member_states()
    if rule_set not in RULE_SETS:
        errors["rule_set"] = _("rules must be one of %(names)s", names=", ".join(RULE_SETS))
    if goal < 1:
        errors["goal"] = _("the goal must be at least 1")
    unknown = [c for c in codes if c not in states]
    if unknown:
        errors["countries"] = _("not member states: %(codes)s", codes=", ".join(unknown))
    elif not codes:
        errors["countries"] = _("choose at least one member state")
    if min_countries < 1:
        errors["min_countries"] = _("the minimum number of member states must be at least 1")
    elif codes and not unknown and min_countries > len(set(codes)):
        errors["min_countries"] = _(
            "the minimum number of member states (%(minimum)s) is more than the %(count)s taking part",
            minimum=min_countries,
            count=len(set(codes)),
        )
    return errors


TEXT_LIMITS: dict[str, int] = {"title": 200, "summary": 5_000, "objectives": 5_000}
"""The longest title, summary and objectives, in characters, in every language. The title is its column's length;
5,000 characters is about 800 words of summary (the Commission's register takes 1,200 characters of objectives,
Regulation (EU) 2019/788, Annex II) and bounds the first rendering of any Markdown in them to about a tenth of a
second, whatever is typed (bench/markdown.py; docs/decisions/013-staff-pages-that-protect-their-users.md)."""
MULTILINE = "\n\r\t"
"""The control characters a text may hold (a textarea sends line breaks as CR LF; a title's are flattened where
it is shown in one line, as in a mail's subject)."""


def text_problem(name: str, value: str) -> str | None:
    """Why a title, summary or objectives cannot be saved as typed: too long, or a control character (a NUL byte,
    which PostgreSQL refuses in text, among them); None when it can."""
    limit = TEXT_LIMITS[name]
    if len(value.replace("\r\n", "\n")) > limit:  # as the browser counts a textarea's maxlength
        if name == "title":
            return _("the title is too long (at most %(n)d characters)", n=limit)
        return _("at most %(n)d characters", n=limit)
    if any(unicodedata.category(ch) == "Cc" and ch not in MULTILINE for ch in value):
        return _("remove the control characters")
    return None


DETAILS = (
    "objectives",
    "organizers",
    "contact_name",
    "contact_email",
    "website",
    "registration_number",
    "register_url",
)
"""The initiative's objectives and who collects the data (Annex III): free to change at any time."""


def _column_limit(name: str) -> int | None:
    return getattr(Initiative.__table__.c[name].type, "length", None)


def _web_address(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(ch.isspace() for ch in text)


def check_details(details: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The details sent, cleaned, and the errors by field; a field not in `details` is left alone."""
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in DETAILS:
        if name not in details:
            continue
        value = (details[name] or "").strip()
        if name == "organizers":  # one name a line: blank lines and stray spaces go
            value = "\n".join(line.strip() for line in value.splitlines() if line.strip())
        limit = TEXT_LIMITS.get(name) or _column_limit(name)
        if name in TEXT_LIMITS and (problem := text_problem(name, value)):
            errors[name] = problem
        elif limit is not None and len(value) > limit:
            errors[name] = _("at most %(n)d characters", n=limit)
        elif any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in value):
            errors[name] = _("remove the control characters")
        elif value and name in ("website", "register_url") and not _web_address(value):
            errors[name] = _("enter a whole web address, starting with https://")
        elif value and name == "contact_email":
            try:
                value = validate_email(value, check_deliverability=False).normalized
            except EmailNotValidError:
                errors[name] = _("enter an email address, like contact@example.org")
        cleaned[name] = value
    return cleaned, errors


def _check_language(code: str) -> dict[str, str]:
    if code not in LANGUAGES:
        return {"default_locale": _("choose one of the official languages of the EU")}
    return {}


def _set_countries(initiative: Initiative, codes: list[str]) -> None:
    """Rebuild the member-state rows in the table's order, each with its rules from the ECI table."""
    wanted = set(codes)
    existing = {c.country_code: c for c in initiative.countries}
    rows: list[InitiativeCountry] = []
    for code, state in member_states().items():
        if code not in wanted:
            continue
        row = existing.get(code) or InitiativeCountry(country_code=code)
        row.position = len(rows)
        row.threshold = state.threshold(initiative.rule_set)
        row.min_age = state.min_age
        row.data_part = state.data_part
        row.id_types = "|".join(state.id_types)
        rows.append(row)
    initiative.countries = rows


def create_initiative(
    *,
    slug: str,
    title: str,
    start: date,
    end: date,
    rule_set: str = "eci-2024",
    draft: bool = False,
    summary: str = "",
    countries: list[str] | None = None,
    goal: int = ECI_GOAL,
    min_countries: int = ECI_MIN_COUNTRIES,
    default_locale: str = "en",
    details: Mapping[str, str] | None = None,
) -> Initiative:
    """Add an initiative and its member-state rules from the ECI table (not committed)."""
    cleaned, errors = check_details(details or {})
    errors.update(_check_language(default_locale))
    if not SLUG.match(slug):
        errors["slug"] = _("the slug must be lower-case letters, digits and hyphens (at most 80)")
    elif db.session.scalar(sa.select(Initiative.id).where(Initiative.slug == slug)) is not None:
        errors["slug"] = _("an initiative with slug %(slug)r exists already", slug=slug)
    if not title.strip():
        errors["title"] = _("the title is empty")
    elif problem := text_problem("title", title.strip()):
        errors["title"] = problem
    if problem := text_problem("summary", summary):
        errors["summary"] = problem
    try:
        check_dates(start, end)
    except InitiativeError as error:
        errors.update(error.errors)
    codes = [c.upper() for c in countries] if countries is not None else list(member_states())
    errors.update(_check_rules(rule_set, goal, min_countries, codes))
    if errors:
        raise InitiativeError(errors)
    initiative = Initiative(
        slug=slug,
        title=title.strip(),
        summary=summary,
        rule_set=rule_set,
        goal=goal,
        min_countries=min_countries,
        collection_start=start,
        collection_end=end,
        status=InitiativeStatus.DRAFT if draft else InitiativeStatus.COLLECTING,
        published_at=None if draft else utcnow(),
        default_locale=default_locale,
        **cleaned,
    )
    _set_countries(initiative, codes)
    db.session.add(initiative)
    db.session.flush()
    return initiative


def has_statements(initiative: Initiative) -> bool:
    """Any statement at all, pending or not: once one exists its country and rules are part of it."""
    found = db.session.scalar(sa.select(Statement.id).where(Statement.initiative_id == initiative.id).limit(1))
    return found is not None


def collection_started(initiative: Initiative, today: date) -> bool:
    """Published (not a draft) and the start date reached: the campaign is, or was, collecting."""
    return initiative.status != InitiativeStatus.DRAFT and today >= initiative.collection_start


def rules_frozen(initiative: Initiative, today: date) -> bool:
    """Rules, thresholds and member states may not change under statements already given (Annex I, Art. 8)."""
    return collection_started(initiative, today) or has_statements(initiative)


@dataclass
class InitiativeChanges:
    """What the staff form asks to set; a field left None is not changed."""

    title: str | None = None
    summary: str | None = None
    start: date | None = None
    end: date | None = None
    rule_set: str | None = None
    goal: int | None = None
    min_countries: int | None = None
    countries: list[str] | None = None
    default_locale: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    """Objectives and who collects the data (DETAILS): only the fields sent."""


FROZEN_FIELDS = ("rule_set", "goal", "min_countries", "countries")


def _snapshot(initiative: Initiative) -> dict[str, object]:
    return {
        "title": initiative.title,
        "summary": initiative.summary,
        "start": initiative.collection_start.isoformat(),
        "end": initiative.collection_end.isoformat(),
        "rule_set": initiative.rule_set,
        "goal": initiative.goal,
        "min_countries": initiative.min_countries,
        "countries": [c.country_code for c in initiative.countries],
        "default_locale": initiative.default_locale,
        **{name: getattr(initiative, name) for name in DETAILS},
    }


def update_initiative(initiative: Initiative, changes: InitiativeChanges, today: date) -> dict[str, list[object]]:
    """Apply an edit within the campaign's guards; returns {field: [before, after]} for the audit log."""
    if initiative.is_final:
        raise InitiativeError(_("a submitted or withdrawn initiative cannot be changed"))
    before = _snapshot(initiative)
    frozen = rules_frozen(initiative, today)
    started = collection_started(initiative, today)
    errors: dict[str, str] = {}

    title = initiative.title if changes.title is None else changes.title.strip()
    if not title:
        errors["title"] = _("the title is empty")
    elif problem := text_problem("title", title):
        errors["title"] = problem
    if changes.summary is not None and (problem := text_problem("summary", changes.summary)):
        errors["summary"] = problem

    start = changes.start or initiative.collection_start
    end = changes.end or initiative.collection_end
    if started and start != initiative.collection_start:
        errors["collection_start"] = _("collection has started: the start date cannot move")
    try:
        check_dates(start, end)
    except InitiativeError as error:
        errors.update(error.errors)
    if started and end != initiative.collection_end and end < today:
        errors.setdefault(
            "collection_end",
            _("collection has started: the end date cannot be before today; close the initiative instead"),
        )

    rule_set = changes.rule_set or initiative.rule_set
    goal = initiative.goal if changes.goal is None else changes.goal
    min_countries = initiative.min_countries if changes.min_countries is None else changes.min_countries
    current_codes = [c.country_code for c in initiative.countries]
    codes = current_codes if changes.countries is None else [c.upper() for c in changes.countries]
    if frozen:
        asked = {"rule_set": rule_set, "goal": goal, "min_countries": min_countries, "countries": sorted(set(codes))}
        held = {**before, "countries": sorted(current_codes)}
        reason = _("collection has started or statements exist: rules, thresholds and member states are frozen")
        errors.update({name: reason for name in FROZEN_FIELDS if asked[name] != held[name]})
    errors.update({k: v for k, v in _check_rules(rule_set, goal, min_countries, codes).items() if k not in errors})
    details, detail_errors = check_details(changes.details)
    errors.update(detail_errors)
    if changes.default_locale is not None:
        errors.update(_check_language(changes.default_locale))
    if errors:
        raise InitiativeError(errors)

    initiative.title = title
    if changes.summary is not None:
        initiative.summary = changes.summary
    for name, value in details.items():
        setattr(initiative, name, value)
    if changes.default_locale is not None:
        from .initiative_texts import change_default_locale

        change_default_locale(initiative, changes.default_locale)
    initiative.collection_start, initiative.collection_end = start, end
    if not frozen:
        initiative.rule_set, initiative.goal, initiative.min_countries = rule_set, goal, min_countries
        _set_countries(initiative, codes)
    db.session.flush()
    after = _snapshot(initiative)
    return {name: [before[name], after[name]] for name in before if before[name] != after[name]}


@dataclass(frozen=True)
class Transition:
    """One status change offered on the staff side."""

    to: str
    allowed: bool
    why_not: str = ""


_S = InitiativeStatus
STATUS_FLOW: dict[InitiativeStatus, tuple[InitiativeStatus, ...]] = {
    _S.DRAFT: (_S.COLLECTING, _S.WITHDRAWN),
    _S.COLLECTING: (_S.DRAFT, _S.CLOSED, _S.SUBMITTED, _S.WITHDRAWN),
    _S.CLOSED: (_S.COLLECTING, _S.SUBMITTED, _S.WITHDRAWN),
    _S.SUBMITTED: (),
    _S.WITHDRAWN: (),
}
"""draft -> collecting -> closed -> submitted, and withdrawn; submitted and withdrawn are final."""


def _refusal(initiative: Initiative, to: str, today: date) -> str:
    """Why `initiative` may not move to `to` today, or "" when it may."""
    current = initiative.status
    if current == InitiativeStatus.SUBMITTED:
        return _("the initiative was submitted: its status cannot change any more")
    if current == InitiativeStatus.WITHDRAWN:
        return _("the initiative was withdrawn: its status cannot change any more")
    if to not in STATUS_FLOW.get(current, ()):
        return _("an initiative cannot go from %(current)s to %(to)s", current=current, to=to)
    if to == InitiativeStatus.COLLECTING:
        if initiative.auditor_public_key is None:
            return _(
                "there is no auditor public key yet, so statements could not be sealed. Make the key pair "
                "first: flask --app wsgi keys generate --initiative %(slug)s --out FILE (the auditor keeps "
                "FILE, the server keeps only the public key)",
                slug=initiative.slug,
            )
        if today > initiative.collection_end:
            return _("the end date has passed: move it first (at most 12 months after the start)")
    if to == InitiativeStatus.DRAFT and (collection_started(initiative, today) or has_statements(initiative)):
        return _("collection has started or statements exist: it cannot go back to draft; close or withdraw it")
    if (
        to == InitiativeStatus.SUBMITTED
        and current == InitiativeStatus.COLLECTING
        and today <= initiative.collection_end
    ):
        return _("collection is still open: close it before submitting")
    return ""


def transitions(initiative: Initiative, today: date) -> list[Transition]:
    """Every next status in the flow, with whether it is allowed now and why not."""
    result = []
    for to in STATUS_FLOW.get(initiative.status, ()):
        why = _refusal(initiative, to, today)
        result.append(Transition(to=to, allowed=not why, why_not=why))
    return result


def status_refusal(initiative: Initiative, to: str, today: date) -> str:
    """Why `initiative` may not move to `to` today (an unknown status included), or "" when it may."""
    if to not in STATUS_FLOW:
        return _("unknown status %(status)r", status=to)
    return _refusal(initiative, to, today)


WITHDRAWN_REASON_LIMIT = Initiative.__table__.c.withdrawn_reason.type.length


def change_status(initiative: Initiative, to: str, reason: str, today: date) -> dict[str, str]:
    """Move along the status flow with a written reason; returns the details for the audit log. A withdrawal's
    reason is also the initiative's, shown on its public page."""
    errors: dict[str, str] = {}
    why = status_refusal(initiative, to, today)
    if why:
        errors["status"] = why
    if len(reason.strip()) > WITHDRAWN_REASON_LIMIT:
        errors["reason"] = _("at most %(n)d characters", n=WITHDRAWN_REASON_LIMIT)
    if not reason.strip():
        errors["reason"] = _("say why: the reason goes into the audit log")
    if errors:
        raise InitiativeError(errors)
    before = initiative.status
    initiative.status = to
    if to == InitiativeStatus.COLLECTING and initiative.published_at is None:
        initiative.published_at = utcnow()
    elif to == InitiativeStatus.SUBMITTED:
        initiative.submitted_at = utcnow()
    elif to == InitiativeStatus.WITHDRAWN:
        initiative.withdrawn_at = utcnow()
        initiative.withdrawn_reason = reason.strip()
    db.session.flush()
    return {"from": before, "to": to}


def record_creation(initiative: Initiative, actor: str) -> None:
    """The audit entry of a new initiative, the same whether it came from the browser, the CLI or the demo seed."""
    from .audit.log import record

    record(
        actor,
        "initiative.create",
        initiative=initiative,
        target=initiative.slug,
        details={
            "title": initiative.title,
            "rule_set": initiative.rule_set,
            "status": initiative.status,
            "goal": initiative.goal,
            "min_countries": initiative.min_countries,
            "start": initiative.collection_start.isoformat(),
            "end": initiative.collection_end.isoformat(),
            "countries": [c.country_code for c in initiative.countries],
        },
    )


def find_initiative(slug: str) -> Initiative | None:
    """The initiative's own row (one query); its member states and texts load when first read."""
    if not SLUG.match(slug):  # e.g. a NUL byte from the URL, which PostgreSQL refuses with an error
        return None
    return db.session.scalar(_BY_SLUG, {"slug": slug})


_BY_SLUG = sa.select(Initiative).where(Initiative.slug == sa.bindparam("slug"))
"""Built once: every signer's request starts here, and building a statement costs more than the database's work."""


def loaded_initiative(slug: str) -> Initiative | None:
    """The initiative with this slug if this session has loaded it and not expired it since (the same transaction's
    view of it), without a query; else None."""
    for instance in db.session.identity_map.values():
        if isinstance(instance, Initiative):
            state = sa.inspect(instance)
            if not state.expired and not {"slug", "default_locale"} & state.unloaded and instance.slug == slug:
                return instance
    return None


def revision(initiative: Initiative) -> tuple[int, datetime]:
    """What the caches of an initiative's pages are keyed by: it changes whenever the initiative, its texts or its
    member states are edited (`updated_at`, moved by `_touch_edited_initiatives` too)."""
    return (initiative.id, initiative.updated_at)


@sa.event.listens_for(Session, "before_flush")
def _touch_edited_initiatives(session: Session, _context: object, _instances: object) -> None:
    """An edit of an initiative's texts or member states moves its `updated_at` as an edit of its own row does, so
    that every app server's cached pages of it are made again (app.signing.page_cache). Counters move by UPDATE
    statements, never through the session: they change no revision."""
    edited: set[Initiative] = set()
    with session.no_autoflush:
        for instance in (*session.new, *session.dirty, *session.deleted):
            if isinstance(instance, Initiative):
                if instance in session.dirty and session.is_modified(instance):  # a text or member state removed
                    edited.add(instance)
            elif isinstance(instance, InitiativeText | InitiativeCountry):
                if instance in session.dirty and not session.is_modified(instance):
                    continue
                parent = instance.initiative
                if parent is None and instance.initiative_id is not None:
                    parent = session.get(Initiative, instance.initiative_id)
                if parent is not None:
                    edited.add(parent)
    now = utcnow()
    for initiative in edited:
        initiative.updated_at = now


@dataclass(frozen=True)
class CountryProgress:
    code: str
    name: str
    confirmed: int
    threshold: int

    @property
    def reached(self) -> bool:
        return self.confirmed >= self.threshold

    @property
    def percent(self) -> float:
        """Share of the threshold reached, in percent (may exceed 100)."""
        return 100.0 * self.confirmed / self.threshold if self.threshold > 0 else 0.0


@dataclass(frozen=True)
class Progress:
    confirmed: int
    countries: list[CountryProgress]
    countries_reached: int
    as_of: datetime


def progress(initiative: Initiative) -> Progress:
    """Totals read from the per-country counters: the cost does not grow with the number of statements."""
    names = member_states()
    rows = [
        CountryProgress(c.country_code, names[c.country_code].name, c.confirmed_count, c.threshold)
        for c in initiative.countries
    ]
    return Progress(
        confirmed=sum(r.confirmed for r in rows),
        countries=rows,
        countries_reached=sum(1 for r in rows if r.reached),
        as_of=utcnow(),
    )


def signer_country(asked: str | None, languages: Iterable[str], codes: Collection[str]) -> str | None:
    """The signer's own member state when the request says it: `?country=XX`, else the region of the most preferred
    language that names one of the initiative's states (`de-AT` is Austria, `de` alone says nothing). Never the
    network address: Quorum does not geolocate anyone."""
    if asked and asked.upper() in codes:
        return asked.upper()
    for tag in languages:
        language, *subtags = tag.replace("_", "-").split("-")  # language-Script-REGION-... (BCP 47, RFC 5646)
        if len(language) < 2:  # "x-..." and "i-...": private use and grandfathered tags name no region
            continue
        for subtag in subtags:
            if len(subtag) == 1:  # an extension or private use starts: the region, if any, came before
                break
            if len(subtag) == 2 and subtag.isalpha():
                if subtag.upper() in codes:
                    return subtag.upper()
                break
    return None


def by_progress(countries: list[CountryProgress], first: str | None = None) -> list[CountryProgress]:
    """The public list: the signer's own member state first, then the others from the nearest to (or furthest past)
    its threshold down; ties keep the protocol order."""
    ordered = sorted(countries, key=lambda c: Fraction(c.confirmed, c.threshold or 1), reverse=True)
    return sorted(ordered, key=lambda c: c.code != first)
