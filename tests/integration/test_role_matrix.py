"""Every staff route against every role and anonymous, read from the route map: a new route cannot be forgotten.

Each view's allowed roles come from `staff_required` (the `allowed_roles` it records on the view). A route without
them that is not in PUBLIC_STAFF_ENDPOINTS fails this test, and so does a URL parameter this test has no value for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, url_for
from flask.testing import FlaskClient

from app.admin.access import ALL_ROLES, PUBLIC_STAFF_ENDPOINTS, session_values
from app.admin.accounts import create_account
from app.audit.log import record
from app.models import (
    AuditEntry,
    ExportRecord,
    Initiative,
    Partner,
    PartnerHandover,
    Quarantine,
    StaffUser,
    SupporterUpdate,
    SupporterUpdateText,
)

from ..support.factories import make_initiative

PASSWORD = "correct horse battery staple"


@dataclass
class Rows:
    """What the URL parameters point at: rows of the test initiative, and an account to act on."""

    initiative: Initiative
    export: ExportRecord
    quarantine: Quarantine
    entry: AuditEntry
    account: StaffUser
    update: SupporterUpdate
    partner: Partner
    handover: PartnerHandover


@dataclass(frozen=True)
class Param:
    value: Callable[[Rows], Any]
    scoped: bool
    """True when the value names something of the test initiative: staff not given it must get 403."""


PARAMS: dict[str, Param] = {
    "slug": Param(lambda rows: rows.initiative.slug, scoped=True),
    "export_id": Param(lambda rows: rows.export.id, scoped=True),
    "quarantine_id": Param(lambda rows: rows.quarantine.id, scoped=True),
    "entry_id": Param(lambda rows: rows.entry.id, scoped=True),
    "user_id": Param(lambda rows: rows.account.id, scoped=False),
    "update_id": Param(lambda rows: rows.update.id, scoped=True),
    "partner_id": Param(lambda rows: rows.partner.id, scoped=True),
    "handover_id": Param(lambda rows: rows.handover.id, scoped=True),
    "country": Param(lambda rows: "DE", scoped=False),
    "code": Param(lambda rows: "DE", scoped=False),
    "locale": Param(lambda rows: "de", scoped=False),
}
"""URL parameter name -> a value. A new parameter name needs a line here (and a row in `_rows` if it is an id)."""

MANAGERS = frozenset({"organizer", "admin"})

POLICY: dict[str, frozenset[str]] = {
    # updates to supporters (issue 9): the organizers and admins of the initiative write and send; auditors do not
    "admin.updates": MANAGERS,
    "admin.update_new": MANAGERS,
    "admin.update": MANAGERS,
    "admin.update_preview": MANAGERS,
    "admin.update_save": MANAGERS,
    "admin.update_test": MANAGERS,
    "admin.update_send": MANAGERS,
    "admin.update_pause": MANAGERS,
    "admin.update_resume": MANAGERS,
    # partner organisations and embeds (issue 9): the campaign's organizers and admins; auditors see the dashboard's
    # counts per partner only, and no address (hand-overs are for the campaign to give, not to audit)
    "admin.partners": MANAGERS,
    "admin.partner_new": MANAGERS,
    "admin.frame_origins": MANAGERS,
    "admin.partner": MANAGERS,
    "admin.partner_save": MANAGERS,
    "admin.partner_report_link": MANAGERS,
    "admin.partner_handover_confirm": MANAGERS,
    "admin.partner_handover": MANAGERS,
    "admin.partner_handover_download": MANAGERS,
    "admin.partner_delete_confirm": MANAGERS,
    "admin.partner_delete": MANAGERS,
}
"""Who may use a route, written here and not read from the view: a listed endpoint is requested with these roles
as the expectation, and its `staff_required` roles must say the same. Endpoints not listed are checked against the
roles their decorator records."""

ROLES = ("anonymous", "outsider", "organizer", "auditor", "admin")
"""`outsider` is an organizer who was not given the test initiative."""


def _rows(db, tmp_path: Path) -> Rows:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("matrix-initiative")
    export = ExportRecord(
        initiative_id=initiative.id,
        created_by="setup",
        directory=str(tmp_path / "no-export"),
        countries="DE",
        statement_count=0,
        manifest_sha256="0" * 64,
    )
    quarantine = Quarantine(
        initiative_id=initiative.id,
        criteria=json.dumps({"country": "DE"}),
        reason="role matrix",
        statement_count=0,
        created_by="setup",
    )
    db.session.add_all([export, quarantine])
    db.session.flush()
    record("setup", "test.row", initiative=initiative, target="role matrix")
    entry = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    account = create_account(
        email="someone@example.org", role="organizer", password=PASSWORD, initiatives=[], actor="setup"
    )
    update = SupporterUpdate(initiative_id=initiative.id, default_locale="en", created_by="setup")
    update.texts.append(SupporterUpdateText(locale="en", subject="News", body="The campaign goes on."))
    db.session.add(update)
    partner = Partner(initiative_id=initiative.id, code="matrix-partner", name="Matrix partner", website="")
    db.session.add(partner)
    db.session.flush()
    handover = PartnerHandover(
        partner_id=partner.id, created_by="setup", addresses=0, manifest=b"{}", manifest_sha256="0" * 64, sealed=b""
    )
    db.session.add(handover)
    db.session.commit()
    return Rows(initiative, export, quarantine, entry, account, update, partner, handover)


def _staff(db, initiative: Initiative) -> dict[str, StaffUser]:  # type: ignore[no-untyped-def]
    users = {
        "admin": create_account(
            email="admin@example.org", role="admin", password=PASSWORD, initiatives=[], actor="setup"
        ),
        "organizer": create_account(
            email="organizer@example.org", role="organizer", password=PASSWORD, initiatives=[initiative], actor="setup"
        ),
        "auditor": create_account(
            email="auditor@example.org", role="auditor", password=PASSWORD, initiatives=[initiative], actor="setup"
        ),
        "outsider": create_account(
            email="outsider@example.org", role="organizer", password=PASSWORD, initiatives=[], actor="setup"
        ),
    }
    db.session.commit()
    return users


def _request(client: FlaskClient, user: StaffUser | None, method: str, url: str):  # type: ignore[no-untyped-def]
    """Each request starts from a fresh session for that role (a POST to sign-out must not leak into the next)."""
    with client.session_transaction() as session:
        session.clear()
        if user is not None:
            session.update(session_values(user))
    return client.open(url, method=method)


def _refused_anonymous(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def _refusal(response) -> bool:  # type: ignore[no-untyped-def]
    return _refused_anonymous(response) or response.status_code in (401, 403)


def _expected(role: str, allowed: frozenset[str], scoped: bool) -> str:
    if role == "anonymous":
        return "login"
    if role == "outsider":
        return "allowed" if "organizer" in allowed and not scoped else "403"
    return "allowed" if role in allowed else "403"


def _check(response, expected: str) -> str | None:  # type: ignore[no-untyped-def]
    """What is wrong with the answer, or None."""
    status = response.status_code
    if status >= 500:
        return f"answered {status}"
    if expected == "login" and not _refused_anonymous(response):
        return f"expected a redirect to sign-in, got {status} {response.headers.get('Location', '')}".strip()
    if expected == "403" and status != 403:
        return f"expected 403, got {status} {response.headers.get('Location', '')}".strip()
    if expected == "allowed" and _refusal(response):
        return f"expected to be let through, got {status} {response.headers.get('Location', '')}".strip()
    return None


def matrix_problems(app: Flask, rows: Rows, users: dict[str, StaffUser | None]) -> tuple[list[str], set[str]]:
    """Request every admin.* route as every role; what went wrong, and which endpoints were checked."""
    client = app.test_client()
    problems: list[str] = []
    checked: set[str] = set()
    # GET routes first, then POST-only ones, which may change the rows the others read.
    rules = sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")),
        key=lambda r: ("GET" not in (r.methods or ()), r.endpoint),
    )
    for rule in rules:
        endpoint = rule.endpoint
        view = app.view_functions[endpoint]
        allowed: frozenset[str] | None = getattr(view, "allowed_roles", None)
        public = endpoint in PUBLIC_STAFF_ENDPOINTS
        if allowed is None and not public:
            problems.append(f"{endpoint} ({rule.rule}): no staff_required(...) and not in PUBLIC_STAFF_ENDPOINTS")
            continue
        if allowed is not None and not allowed <= ALL_ROLES:
            problems.append(f"{endpoint}: unknown roles {sorted(allowed - ALL_ROLES)}")
            continue
        if endpoint in POLICY and allowed != POLICY[endpoint]:
            problems.append(
                f"{endpoint}: staff_required says {sorted(allowed or ())}, the policy {sorted(POLICY[endpoint])}"
            )
        allowed = POLICY.get(endpoint, allowed)
        unknown = sorted(name for name in rule.arguments if name not in PARAMS)
        if unknown:
            problems.append(
                f"{endpoint} ({rule.rule}): no value for URL parameter(s) {unknown}; add them to PARAMS "
                "in tests/integration/test_role_matrix.py"
            )
            continue
        methods = set(rule.methods or ()) - {"HEAD", "OPTIONS"}
        method = "GET" if "GET" in methods else sorted(methods)[0]
        with app.test_request_context():
            url = url_for(endpoint, **{name: PARAMS[name].value(rows) for name in rule.arguments})
        scoped = any(PARAMS[name].scoped for name in rule.arguments)

        for role in ROLES:
            response = _request(client, users[role], method, url)
            if public:
                if response.status_code >= 500 or response.status_code in (401, 403):
                    problems.append(f"{endpoint} as {role}: public, but answered {response.status_code}")
                continue
            assert allowed is not None
            problem = _check(response, _expected(role, allowed, scoped))
            if problem:
                problems.append(f"{endpoint} {method} {url} as {role}: {problem}")
        checked.add(endpoint)
    return problems, checked


@pytest.fixture
def rows(app: Flask, db, tmp_path: Path) -> Rows:  # type: ignore[no-untyped-def]
    return _rows(db, tmp_path)


@pytest.fixture
def users(db, rows: Rows) -> dict[str, StaffUser | None]:  # type: ignore[no-untyped-def]
    return {"anonymous": None, **_staff(db, rows.initiative)}


def test_every_staff_route_against_every_role(app: Flask, rows: Rows, users) -> None:  # type: ignore[no-untyped-def]
    problems, checked = matrix_problems(app, rows, users)
    assert not problems, "role matrix:\n" + "\n".join(problems)
    # Not vacuous: the routes of the accounts and sign-in features are in it.
    assert {
        "admin.index",
        "admin.accounts",
        "admin.account_edit",
        "admin.account_deactivate",
        "admin.totp",
        "admin.totp_disable",
        "admin.account_settings",
    } <= checked


def test_the_policy_names_only_real_routes(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(POLICY) <= endpoints, sorted(set(POLICY) - endpoints)


@pytest.mark.fresh_app
def test_the_matrix_catches_forgotten_routes(app: Flask, rows: Rows, users, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A route without staff_required, a parameter nobody filled, a missing initiative check, a crash, and a
    decorator that lets in more than the policy says."""
    from app.admin.access import staff_required

    @app.route("/admin/forgotten", endpoint="admin.zz_forgotten")
    def forgotten() -> str:
        return "open to anyone"

    @app.route("/admin/odd/<int:mystery_id>", endpoint="admin.zz_odd")
    @staff_required("admin")
    def odd(mystery_id: int) -> str:
        return "?"

    @app.route("/admin/exports-anywhere/<int:export_id>", endpoint="admin.zz_unchecked")
    @staff_required("organizer", "admin")
    def unchecked(export_id: int) -> str:
        return "no check that the export belongs to an initiative this organizer was given"

    @app.route("/admin/crash", endpoint="admin.zz_crash")
    @staff_required("auditor")
    def crash() -> str:
        raise RuntimeError("boom")

    @app.route("/admin/too-open", endpoint="admin.zz_too_open")
    @staff_required("organizer", "admin", "auditor")
    def too_open() -> str:
        return "auditors too, though the policy says not"

    monkeypatch.setitem(POLICY, "admin.zz_too_open", MANAGERS)
    problems, _checked = matrix_problems(app, rows, users)
    ours = [p for p in problems if p.startswith("admin.zz_")]
    assert ours == [
        "admin.zz_crash GET /admin/crash as auditor: answered 500",
        "admin.zz_forgotten (/admin/forgotten): no staff_required(...) and not in PUBLIC_STAFF_ENDPOINTS",
        "admin.zz_odd (/admin/odd/<int:mystery_id>): no value for URL parameter(s) ['mystery_id']; add them to "
        "PARAMS in tests/integration/test_role_matrix.py",
        "admin.zz_too_open: staff_required says ['admin', 'auditor', 'organizer'], the policy ['admin', 'organizer']",
        "admin.zz_too_open GET /admin/too-open as auditor: expected 403, got 200",
        f"admin.zz_unchecked GET /admin/exports-anywhere/{rows.export.id} as outsider: expected 403, got 200",
    ]


@pytest.mark.parametrize(
    ("role", "allowed", "scoped", "expected"),
    [
        ("anonymous", frozenset({"admin"}), False, "login"),
        ("admin", frozenset({"admin"}), True, "allowed"),
        ("organizer", frozenset({"admin"}), True, "403"),
        ("outsider", frozenset({"organizer", "admin"}), True, "403"),
        ("outsider", frozenset({"organizer", "admin"}), False, "allowed"),
        ("outsider", frozenset({"auditor"}), False, "403"),
    ],
)
def test_expectations(role: str, allowed: frozenset[str], scoped: bool, expected: str) -> None:
    assert _expected(role, allowed, scoped) == expected
