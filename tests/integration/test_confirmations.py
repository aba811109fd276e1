"""Every staff action that cannot be undone has a confirmation step (issue 9, point 6): a page that says what will
happen and asks a reason; without that page's token and a reason the POST changes nothing (400, 422) and shows the
page again; with them it acts and the audit entry keeps the reason.

The list of such actions is written here, not read from the code, and every staff POST route must be classified in
it: a new route (a partner's key removed, say) fails `test_every_staff_post_route_is_classified` until someone
decides whether it can be undone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.admin.second_factor import SecretSeal, enrolled_context
from app.models import AuditEntry, Initiative, Quarantine, StaffUser

from ..support.confirmation import confirm, confirmation_form
from ..support.factories import make_initiative, make_staff, sign_in_as

IRREVERSIBLE = {
    "admin.initiative_status": "withdrawing, submitting, closing, publishing or unpublishing an initiative",
    "admin.retention_purge": "deleting what the retention rules make due",
    "admin.quarantine_release": "putting set-aside statements back on the public counts",
    "admin.account_deactivate": "deactivating an account (its sessions end)",
    "admin.account_password": "resetting a password (the old one and its sessions end)",
    "admin.account_totp_reset": "removing a staff member's second factor",
}
"""Actions guarded by the confirmation page of app/admin/confirmation.py."""

CONFIRMED_OTHERWISE = {
    "admin.update_send": "a ticked box saying the preview and test were checked, beside the number of recipients",
    "admin.totp_disable": "one's own password and a current code from the authenticator",
    "admin.partner_delete": "its own page saying what goes, with a reason; a partner that brought anything stays",
    "admin.partner_handover": "its own page with the count and the key, and a ticked box: the addresses go once sealed",
}
"""Irreversible, with a confirmation of their own."""

REVERSIBLE = {
    "admin.login": "signing in",
    "admin.login_code": "signing in",
    "admin.logout": "signing out",
    "admin.totp": "setting up one's own second factor (turned off again with password and code)",
    "admin.initiative_new": "a new draft, hidden",
    "admin.initiative_edit": "an edit, changed back by another; the audit entry keeps the old values",
    "admin.initiative_text": "a text in one language, written again; the audit entry keeps the old one",
    "admin.quarantine_preview": "changes nothing",
    "admin.quarantine_apply": "previewed first, undone by a release",
    "admin.export_create": "a new sealed export; nothing is removed",
    "admin.account_new": "a new account, deactivated again",
    "admin.account_edit": "role and initiatives, changed back",
    "admin.account_reactivate": "undoes a deactivation",
    "admin.account_settings": "a switch, turned back",
    "admin.update_new": "a draft",
    "admin.update_save": "a draft's text",
    "admin.update_preview": "changes nothing",
    "admin.update_test": "one message to oneself",
    "admin.update_pause": "undone by resume",
    "admin.update_resume": "undone by pause",
    "admin.partner_new": "a new partner, removed again while it brought nothing",
    "admin.partner_save": "name, website, logo and key, changed back; the audit entry keeps the old values",
    "admin.frame_origins": "the sites that may frame the form, changed back",
    "admin.partner_report_link": "a new link to the partner's page; another can be made and sent",
}


def test_every_staff_post_route_is_classified(app: Flask) -> None:
    posts = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.") and "POST" in (rule.methods or ())
    }
    known = set(IRREVERSIBLE) | set(CONFIRMED_OTHERWISE) | set(REVERSIBLE)
    assert not posts - known, f"classify these staff actions in this file: {sorted(posts - known)}"
    assert not known - posts, f"no such staff POST route any more: {sorted(known - posts)}"


# --- each guarded action, the same five steps ----------------------------------------------------------------------


@dataclass
class Case:
    """One guarded action: its URL, who does it, and how to tell it happened."""

    url: str
    done: Callable[[], bool]
    audit_action: str
    query: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)
    words: tuple[str, ...] = ()
    """What the page must say of the consequence."""


def _entries(db: Any, action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _initiative(db: Any, slug: str) -> Initiative:
    db.session.expire_all()
    return db.session.scalars(sa.select(Initiative).where(Initiative.slug == slug)).one()


def _account(db: Any, email: str) -> StaffUser:
    db.session.expire_all()
    return db.session.scalars(sa.select(StaffUser).where(StaffUser.email == email)).one()


def _case(name: str, app: Flask, db: Any) -> Case:
    initiative, _ = make_initiative("guarded")
    olga = make_staff(db, "olga@example.org", "organizer", [initiative])
    if name == "withdraw":
        return Case(
            "/admin/initiatives/guarded/status",
            lambda: _initiative(db, "guarded").status == "withdrawn",
            "initiative.status",
            query={"status": "withdrawn"},
            words=("final", "withdrawn, with the reason"),
        )
    if name == "submit":
        initiative.status = "closed"
        db.session.commit()
        return Case(
            "/admin/initiatives/guarded/status",
            lambda: _initiative(db, "guarded").status == "submitted",
            "initiative.status",
            query={"status": "submitted"},
            words=("final", "destroyed one month from now"),
        )
    if name == "close":
        return Case(
            "/admin/initiatives/guarded/status",
            lambda: _initiative(db, "guarded").status == "closed",
            "initiative.status",
            query={"status": "closed"},
            words=("Collection stops at once", "can no longer be confirmed"),
        )
    if name == "purge":
        return Case(
            "/admin/initiatives/guarded/retention/purge",
            lambda: bool(_entries(db, "retention.run")),
            "retention.run",
            words=("deleted from the database for good",),
        )
    if name == "release":
        quarantine = Quarantine(
            initiative_id=initiative.id, criteria=json.dumps({"country": "DE"}), reason="burst", created_by="setup"
        )
        db.session.add(quarantine)
        db.session.commit()
        quarantine_id = quarantine.id
        return Case(
            f"/admin/initiatives/guarded/quarantine/{quarantine_id}/release",
            lambda: db.session.get(Quarantine, quarantine_id).released_at is not None,
            "quarantine.release",
            words=("count again at once", "cannot be applied again"),
        )
    if name == "deactivate":
        return Case(
            f"/admin/accounts/{olga.id}/deactivate",
            lambda: not _account(db, "olga@example.org").active,
            "account.deactivate",
            words=("can no longer sign in", "every session"),
        )
    if name == "password":
        old_hash = olga.password_hash
        return Case(
            f"/admin/accounts/{olga.id}/password",
            lambda: _account(db, "olga@example.org").password_hash != old_hash,
            "account.password_reset",
            typed={"password": "a brand new password"},
            words=("old password stops working",),
        )
    assert name == "second factor"
    seal: SecretSeal = app.extensions["quorum.second_factor_seal"]
    olga.totp_secret = seal.seal("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", enrolled_context(olga.id))
    db.session.commit()
    return Case(
        f"/admin/accounts/{olga.id}/second-factor/reset",
        lambda: _account(db, "olga@example.org").totp_secret is None,
        "account.totp_reset",
        words=("authenticator app no longer works",),
    )


CASES = ("withdraw", "submit", "close", "purge", "release", "deactivate", "password", "second factor")


@pytest.fixture
def admins(db: Any) -> tuple[StaffUser, StaffUser]:
    return make_staff(db, "ada@example.org", "admin"), make_staff(db, "alan@example.org", "admin")


@pytest.mark.parametrize("name", CASES)
def test_nothing_changes_without_the_confirmation_page(  # type: ignore[no-untyped-def]
    app: Flask, db, client: FlaskClient, admins, name: str
) -> None:
    case = _case(name, app, db)
    ada, alan = admins
    sign_in_as(client, ada)

    page = client.get(case.url, query_string=case.query)
    assert page.status_code == 200
    assert "This cannot be undone." in page.text and 'id="consequences"' in page.text
    for words in case.words:
        assert words in page.text
    form = confirmation_form(page.text)
    assert set(form) == {"confirmation", *case.query}
    assert not case.done() and not _entries(db, case.audit_action)  # looking changes nothing

    one_click = client.post(case.url, data={**case.query, "reason": "one click", **case.typed})
    assert one_click.status_code == 400 and "Nothing was changed" in one_click.text
    assert 'name="confirmation"' in one_click.text and "one click" in one_click.text  # the page again, as typed

    no_reason = client.post(case.url, data={**form, "reason": "  ", **case.typed})
    assert no_reason.status_code == 422 and "say why" in no_reason.text

    forged = client.post(case.url, data={**form, "confirmation": form["confirmation"][:-2] + "xx", "reason": "r"})
    assert forged.status_code == 400

    other_admin = FlaskClient(app, app.response_class, use_cookies=True)
    sign_in_as(other_admin, alan)
    borrowed = other_admin.post(case.url, data={**form, "reason": "not my page", **case.typed})
    assert borrowed.status_code == 400  # a token is for the staff member it was shown to

    assert not case.done() and not _entries(db, case.audit_action)

    done = client.post(case.url, data={**form, "reason": "agreed at the meeting of 3 May", **case.typed})
    assert done.status_code == 302
    assert case.done()
    [entry] = _entries(db, case.audit_action)
    assert entry.actor == "ada@example.org" and entry.reason.startswith("agreed at the meeting of 3 May")


def test_a_token_is_for_the_status_it_was_shown_for(app: Flask, db, client: FlaskClient, admins) -> None:  # type: ignore[no-untyped-def]
    make_initiative("guarded")
    sign_in_as(client, admins[0])
    form = confirmation_form(client.get("/admin/initiatives/guarded/status?status=closed").text)
    swapped = client.post("/admin/initiatives/guarded/status", data={**form, "status": "withdrawn", "reason": "r"})
    assert swapped.status_code == 400
    assert _initiative(db, "guarded").status == "collecting"


@pytest.mark.parametrize(("since", "final"), [("draft", True), ("closed", False)])
def test_reopening_is_confirmed_but_not_called_final(  # type: ignore[no-untyped-def]
    app: Flask, db, client: FlaskClient, admins, since: str, final: bool
) -> None:
    initiative, _ = make_initiative("guarded", draft=since == "draft")
    initiative.status = since
    db.session.commit()
    to = "collecting"
    sign_in_as(client, admins[0])
    page = client.get(f"/admin/initiatives/guarded/status?status={to}")
    assert page.status_code == 200 and 'id="consequences"' in page.text
    # publishing cannot be undone (a published initiative stays listed); closing again undoes reopening
    assert ("This cannot be undone." in page.text) == final
    confirm(client, "/admin/initiatives/guarded/status", reason="as planned", query={"status": to})
    assert _initiative(db, "guarded").status == to


def test_an_old_token_is_refused(app: Flask, db, client: FlaskClient, admins, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.admin import confirmation

    make_initiative("guarded")
    sign_in_as(client, admins[0])
    form = confirmation_form(client.get("/admin/initiatives/guarded/status?status=closed").text)
    monkeypatch.setattr(confirmation, "MAX_AGE_SECONDS", -1)
    late = client.post("/admin/initiatives/guarded/status", data={**form, "reason": "r"})
    assert late.status_code == 400
    assert _initiative(db, "guarded").status == "collecting"


def test_a_refused_status_never_reaches_the_confirmation_page(app: Flask, db, client: FlaskClient, admins) -> None:  # type: ignore[no-untyped-def]
    make_initiative("guarded")
    sign_in_as(client, admins[0])
    for query in ({"status": "draft"}, {"status": "archived"}, {}):
        page = client.get("/admin/initiatives/guarded/status", query_string=query)
        assert page.status_code == 422 and 'name="confirmation"' not in page.text


def test_the_reason_of_a_withdrawal_is_kept_for_the_public_page(app: Flask, db, client: FlaskClient, admins) -> None:  # type: ignore[no-untyped-def]
    make_initiative("guarded")
    sign_in_as(client, admins[0])
    page = client.get("/admin/initiatives/guarded/status?status=withdrawn")
    assert "shown on the public page" in page.text
    long = confirm(client, "/admin/initiatives/guarded/status", "x" * 1001, query={"status": "withdrawn"})
    assert long.status_code == 422 and _initiative(db, "guarded").status == "collecting"
    bell = confirm(client, "/admin/initiatives/guarded/status", "a\x07b", query={"status": "withdrawn"})
    assert bell.status_code == 422 and "control characters" in bell.text
    nul = confirm(client, "/admin/initiatives/guarded/status", "a\x00b", query={"status": "withdrawn"})
    assert nul.status_code == 400 and "NUL" in nul.text  # refused before any view (app/admin/routes.py)
    reason = "The Commission adopted the proposal we asked for."
    assert (
        confirm(client, "/admin/initiatives/guarded/status", reason, query={"status": "withdrawn"}).status_code == 302
    )
    initiative = _initiative(db, "guarded")
    assert (initiative.status, initiative.withdrawn_reason) == ("withdrawn", reason)
    assert reason in client.get("/admin/initiatives/guarded/edit").text


def test_the_staff_pages_open_the_confirmation_pages(app: Flask, db, client: FlaskClient, admins) -> None:  # type: ignore[no-untyped-def]
    """The buttons that used to act in one click are links to the confirmation pages now."""
    initiative, _ = make_initiative("guarded")
    olga = make_staff(db, "olga@example.org", "organizer", [initiative])
    quarantine = Quarantine(initiative_id=initiative.id, criteria="{}", reason="burst", created_by="setup")
    db.session.add(quarantine)
    db.session.commit()
    sign_in_as(client, admins[0])
    edit = client.get("/admin/initiatives/guarded/edit").text
    assert '<form method="get" action="/admin/initiatives/guarded/status"' in edit
    assert 'name="reason"' not in edit  # asked on the next page
    assert f"/quarantine/{quarantine.id}/release" in client.get("/admin/initiatives/guarded/quarantine").text
    account = client.get(f"/admin/accounts/{olga.id}").text
    assert f'href="/admin/accounts/{olga.id}/deactivate"' in account
    assert f'href="/admin/accounts/{olga.id}/password"' in account
    assert 'name="password"' not in account
