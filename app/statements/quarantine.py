"""Quarantine: setting statements aside by criteria, with a written reason, and releasing them again.

Matching statements are moved with set-based UPDATEs. The counters move in the same transaction: what is set aside
leaves the confirmed and pending counts for the quarantined one and comes back on release; a pending statement
confirmed while quarantined is counted only once released (`lifecycle.confirm`). Every apply and release is in the
audit log with its reason and counts. Services never commit.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from sqlalchemy.sql.elements import ColumnElement

from ..audit.log import record
from ..eci.member_states import member_states
from ..extensions import db
from ..models import FingerprintKind, Initiative, Quarantine, Statement, StatementStatus, utcnow
from . import counters, tallies

WINDOW_FIELDS = ("created_at", "confirmed_at")
FINGERPRINT_MODES = ("", "shared", "exact")
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
SHARED_OVER_MAX = 1_000_000_000
"""More statements than any initiative has; a larger number overflows the database's integers."""


class QuarantineError(ValueError):
    """The quarantine cannot be applied or released as asked; the message is for the staff member."""


class CriteriaError(QuarantineError):
    """The criteria form has mistakes: one message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Criteria:
    """Which statements to set aside; every given criterion must hold (AND). Times are naive UTC, `until` exclusive."""

    country: str | None = None
    window_field: str = "created_at"
    since: datetime | None = None
    until: datetime | None = None
    email_fingerprint: str | None = None
    email_shared_over: int | None = None
    network_fingerprint: str | None = None
    network_shared_over: int | None = None

    def is_empty(self) -> bool:
        return not any(
            (
                self.country,
                self.since,
                self.until,
                self.email_fingerprint,
                self.email_shared_over,
                self.network_fingerprint,
                self.network_shared_over,
            )
        )

    def as_dict(self) -> dict[str, Any]:
        """What is stored with the quarantine and in the audit log: only the criteria given."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or (key == "window_field" and not (self.since or self.until)):
                continue
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Criteria:
        values = dict(data)
        for key in ("since", "until"):
            if values.get(key):
                values[key] = datetime.fromisoformat(values[key])
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def describe(self) -> str:
        """The criteria in words, for the staff pages."""
        parts = []
        if self.country:
            state = member_states().get(self.country)
            parts.append(_("member state: %(name)s", name=state.name if state else self.country))
        if self.since or self.until:
            what = _("created") if self.window_field == "created_at" else _("confirmed")
            since = self.since.isoformat(sep=" ", timespec="minutes") if self.since else "…"
            until = self.until.isoformat(sep=" ", timespec="minutes") if self.until else "…"
            parts.append(_("%(what)s from %(since)s until before %(until)s (UTC)", what=what, since=since, until=until))
        if self.email_shared_over:
            parts.append(
                ngettext(
                    "email address used by more than %(num)s statement",
                    "email address used by more than %(num)s statements",
                    self.email_shared_over,
                )
            )
        if self.email_fingerprint:
            parts.append(_("email fingerprint %(fp)s", fp=self.email_fingerprint[:16] + "…"))
        if self.network_shared_over:
            parts.append(
                ngettext(
                    "network used by more than %(num)s statement",
                    "network used by more than %(num)s statements",
                    self.network_shared_over,
                )
            )
        if self.network_fingerprint:
            parts.append(_("network fingerprint %(fp)s", fp=self.network_fingerprint[:16] + "…"))
        return "; ".join(parts)


def _parse_moment(value: str, *, end_of_day: bool) -> datetime:
    """A date (a whole day) or a date and time from the form, as naive UTC."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if end_of_day and len(value) == 10:  # "until 2026-05-03" includes that day
        moment += timedelta(days=1)
    return moment


def _parse_fingerprint(form: Mapping[str, str], kind: str, errors: dict[str, str]) -> tuple[str | None, int | None]:
    mode = (form.get(f"{kind}_mode") or "").strip()
    if mode not in FINGERPRINT_MODES:
        errors[f"{kind}_mode"] = _("Choose how to match.")
        return None, None
    if mode == "exact":
        value = (form.get(f"{kind}_fingerprint") or "").strip().lower()
        if not FINGERPRINT.match(value):
            errors[f"{kind}_fingerprint"] = _("A fingerprint is 64 hexadecimal characters.")
            return None, None
        return value, None
    if mode == "shared":
        raw = (form.get(f"{kind}_over") or "").strip()
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:  # "²" is a digit to isdigit(), not to int()
            errors[f"{kind}_over"] = _("Give a whole number of at least 1.")
            return None, None
        if int(raw) > SHARED_OVER_MAX:
            errors[f"{kind}_over"] = _("Give a whole number from 1 to %(max)s.", max=format_decimal(SHARED_OVER_MAX))
            return None, None
        return None, int(raw)
    return None, None


def parse_criteria(initiative: Initiative, form: Mapping[str, str]) -> Criteria:
    """Criteria from the staff form; raises CriteriaError naming each field that is wrong."""
    errors: dict[str, str] = {}
    country = (form.get("country") or "").strip().upper() or None
    if country and initiative.country(country) is None:
        errors["country"] = _("This member state does not take part in this initiative.")
    window_field = (form.get("window_field") or "created_at").strip()
    if window_field not in WINDOW_FIELDS:
        errors["window_field"] = _("Choose when the statement was created or confirmed.")
    moments: dict[str, datetime | None] = {}
    for key in ("since", "until"):
        raw = (form.get(key) or "").strip()
        moments[key] = None
        if raw:
            try:
                moments[key] = _parse_moment(raw, end_of_day=key == "until")
            except (ValueError, OverflowError):  # OverflowError: a day past 9999-12-31 or before year 1
                errors[key] = _("Give a date as YYYY-MM-DD, or a date and time.")
    since, until = moments["since"], moments["until"]
    if since and until and until <= since:
        errors["until"] = _("The end of the window must come after its start.")
    email_fp, email_over = _parse_fingerprint(form, "email", errors)
    network_fp, network_over = _parse_fingerprint(form, "network", errors)
    criteria = Criteria(country, window_field, since, until, email_fp, email_over, network_fp, network_over)
    if not errors and criteria.is_empty():
        errors["criteria"] = _("Give at least one criterion: quarantine never sets aside a whole initiative.")
    if errors:
        raise CriteriaError(errors)
    return criteria


def _matching(initiative: Initiative, criteria: Criteria) -> list[ColumnElement[bool]]:
    """Pending and confirmed statements of the initiative, not set aside yet, meeting every criterion."""
    where: list[ColumnElement[bool]] = [
        Statement.initiative_id == initiative.id,
        Statement.status.in_((StatementStatus.PENDING, StatementStatus.CONFIRMED)),
        Statement.quarantine_id.is_(None),
    ]
    if criteria.country:
        where.append(Statement.country_code == criteria.country)
    moment = Statement.created_at if criteria.window_field == "created_at" else Statement.confirmed_at
    if criteria.since:
        where.append(moment >= criteria.since)
    if criteria.until:
        where.append(moment < criteria.until)
    if criteria.email_fingerprint:
        where.append(Statement.email_fingerprint == criteria.email_fingerprint)
    # those used by more than N statements of the initiative (any status), from the tally kept on submit and purge
    if criteria.email_shared_over:
        tallies.settle()
        where.append(
            Statement.email_fingerprint.in_(
                tallies.used_more_than(initiative.id, FingerprintKind.EMAIL, criteria.email_shared_over)
            )
        )
    if criteria.network_fingerprint:
        where.append(Statement.network_fingerprint == criteria.network_fingerprint)
    if criteria.network_shared_over:
        tallies.settle()
        where.append(
            Statement.network_fingerprint.in_(
                tallies.used_more_than(initiative.id, FingerprintKind.NETWORK, criteria.network_shared_over)
            )
        )
    return where


@dataclass(frozen=True)
class CountryTally:
    code: str
    confirmed: int
    unconfirmed: int

    @property
    def total(self) -> int:
        return self.confirmed + self.unconfirmed


@dataclass(frozen=True)
class Tally:
    """Statements per member state, confirmed and not (yet) confirmed, in the initiative's country order."""

    countries: list[CountryTally] = field(default_factory=list)

    @property
    def confirmed(self) -> int:
        return sum(c.confirmed for c in self.countries)

    @property
    def unconfirmed(self) -> int:
        return sum(c.unconfirmed for c in self.countries)

    @property
    def total(self) -> int:
        return self.confirmed + self.unconfirmed

    def as_details(self) -> dict[str, Any]:
        return {
            "statements": self.total,
            "confirmed": {c.code: c.confirmed for c in self.countries if c.confirmed},
            "unconfirmed": {c.code: c.unconfirmed for c in self.countries if c.unconfirmed},
        }


def _tally(initiative: Initiative, where: list[ColumnElement[bool]]) -> Tally:
    """One GROUP BY over the statements the condition selects."""
    rows = db.session.execute(
        sa.select(Statement.country_code, Statement.status, sa.func.count())
        .where(*where)
        .group_by(Statement.country_code, Statement.status)
    )
    counts: dict[str, list[int]] = {}
    for code, status, count in rows:
        counts.setdefault(code, [0, 0])[0 if status == StatementStatus.CONFIRMED else 1] += count
    return _ordered(initiative, counts)


def _ordered(initiative: Initiative, counts: Mapping[str, list[int]]) -> Tally:
    order = [c.country_code for c in initiative.countries]
    codes = sorted(counts, key=lambda code: order.index(code) if code in order else len(order))
    return Tally([CountryTally(code, counts[code][0], counts[code][1]) for code in codes if sum(counts[code])])


def preview(initiative: Initiative, criteria: Criteria) -> Tally:
    """How many statements, per member state, applying these criteria would set aside now; changes nothing."""
    return _tally(initiative, _matching(initiative, criteria))


def _move(initiative: Initiative, rows: list[Any], sign: int) -> Tally:
    """Move the counters for statements set aside (sign 1) or released (sign -1): rows with their country_code,
    status, confirmed_at and partner_id."""
    counts: dict[str, list[int]] = {}
    counted_days: list[tuple[str, datetime | None]] = []
    counted_partners: list[tuple[str, int | None]] = []
    for row in rows:
        country, status, confirmed_at, partner_id = row.country_code, row.status, row.confirmed_at, row.partner_id
        tally = counts.setdefault(country, [0, 0])
        if status == StatementStatus.CONFIRMED:
            tally[0] += 1
            counted_days.append((country, confirmed_at))
            counted_partners.append((country, partner_id))
        elif status == StatementStatus.PENDING:
            tally[1] += 1
        # a lapsed or invalidated statement left the quarantined count when it lapsed or was invalidated
    for country, (confirmed, pending) in counts.items():
        counters.move(
            initiative.id,
            country,
            confirmed=-sign * confirmed,
            pending=-sign * pending,
            quarantined=sign * (confirmed + pending),
        )
    counters.move_days(initiative.id, counted_days, -sign)
    counters.move_partners(counted_partners, -sign)
    return _ordered(initiative, counts)


REASON_LIMIT = 2000
"""Characters of a quarantine's reason: a paragraph."""


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise QuarantineError(_("Write down why: a reason is required."))
    if len(reason) > REASON_LIMIT:
        raise QuarantineError(_("at most %(n)d characters", n=REASON_LIMIT))
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in reason):
        raise QuarantineError(_("remove the control characters"))  # a NUL byte, which PostgreSQL refuses among them
    return reason


def apply(initiative: Initiative, criteria: Criteria, reason: str, actor: str) -> tuple[Quarantine, Tally]:
    """Set aside every matching pending or confirmed statement: they leave the confirmed and pending counts.

    One UPDATE marks the rows and returns them: they stay locked by this transaction, so a concurrent confirmation
    waits and then (being quarantined) does not count.
    """
    reason = _clean_reason(reason)
    if criteria.is_empty():
        raise QuarantineError(_("Give at least one criterion: quarantine never sets aside a whole initiative."))
    quarantine = Quarantine(
        initiative_id=initiative.id,
        criteria=json.dumps(criteria.as_dict(), sort_keys=True),
        reason=reason,
        created_by=actor,
        created_at=utcnow(),
    )
    db.session.add(quarantine)
    db.session.flush()
    rows = db.session.execute(
        sa.update(Statement)
        .where(*_matching(initiative, criteria))
        .values(quarantine_id=quarantine.id)
        .returning(
            Statement.country_code,
            Statement.status,
            Statement.confirmed_at,
            Statement.partner_id,
            Statement.quarantine_id,
        )
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        raise QuarantineError(_("No statement matches these criteria now; nothing was set aside."))
    tally = _move(initiative, rows, 1)
    tallies.held_moved(initiative.id, rows, 1)
    quarantine.statement_count = tally.total
    record(
        actor,
        "quarantine.apply",
        initiative=initiative,
        target=f"quarantine {quarantine.id}",
        reason=reason,
        details={"quarantine": quarantine.id, "criteria": criteria.as_dict(), **tally.as_details()},
    )
    return quarantine, tally


def find_quarantine(initiative: Initiative, quarantine_id: int) -> Quarantine | None:
    return db.session.scalar(
        sa.select(Quarantine).where(Quarantine.id == quarantine_id, Quarantine.initiative_id == initiative.id)
    )


def release(initiative: Initiative, quarantine: Quarantine, reason: str, actor: str) -> Tally:
    """Put the statements back on their counts; one confirmed meanwhile (not counted while set aside) counts now."""
    reason = _clean_reason(reason)
    claimed = db.session.execute(
        sa.update(Quarantine)
        .where(Quarantine.id == quarantine.id, Quarantine.released_at.is_(None))
        .values(released_at=utcnow(), released_by=actor)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise QuarantineError(_("This quarantine was released already."))
    rows = db.session.execute(
        sa.update(Statement)
        .where(Statement.initiative_id == initiative.id, Statement.quarantine_id == quarantine.id)
        .values(quarantine_id=None)
        .returning(Statement.country_code, Statement.status, Statement.confirmed_at, Statement.partner_id)
        .execution_options(synchronize_session=False)
    ).all()
    tally = _move(initiative, rows, -1)
    tallies.move_held(
        initiative.id,
        quarantine.id,
        confirmed=-sum(1 for row in rows if row.status == StatementStatus.CONFIRMED),
        unconfirmed=-sum(1 for row in rows if row.status != StatementStatus.CONFIRMED),
    )
    db.session.refresh(quarantine)
    record(
        actor,
        "quarantine.release",
        initiative=initiative,
        target=f"quarantine {quarantine.id}",
        reason=reason,
        details={"quarantine": quarantine.id, "quarantine_reason": quarantine.reason, **tally.as_details()},
    )
    return tally


@dataclass(frozen=True)
class QuarantineView:
    """A quarantine with what it still holds (pending statements may since have expired or been confirmed)."""

    quarantine: Quarantine
    criteria: Criteria
    held_confirmed: int
    held_unconfirmed: int


def quarantines(initiative: Initiative) -> list[QuarantineView]:
    """Every quarantine of the initiative, newest first, with what each holds now (kept by `tallies`)."""
    items = list(
        db.session.scalars(
            sa.select(Quarantine).where(Quarantine.initiative_id == initiative.id).order_by(Quarantine.id.desc())
        )
    )
    held = tallies.held(initiative.id)
    return [
        QuarantineView(q, Criteria.from_dict(json.loads(q.criteria or "{}")), *held.get(q.id, (0, 0))) for q in items
    ]


def shared_fingerprints(initiative: Initiative, kind: FingerprintKind, limit: int = 10) -> list[tuple[str, int]]:
    """The email or network fingerprints most used by statements of the initiative (more than one each; of those
    used equally often, the last in fingerprint order), from the tally kept on submit and purge."""
    return tallies.most_used(initiative.id, kind, limit)
