"""Staff sign-in, its limits and second factor, sign-out, and the accounts page, each change in the audit log."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import pyotp
import pytest
import sqlalchemy as sa

from app.admin.accounts import create_account
from app.admin.passwords import hash_password, verify_password
from app.extensions import db as database
from app.extensions import limiter
from app.models import AuditEntry, InstanceSetting, StaffUser

from ..support.factories import make_initiative

PASSWORD = "correct horse battery staple"
REFUSAL = "That email address and password do not match an active account."


def _staff(db, email, role, *, initiatives=(), password=PASSWORD, totp=None):  # type: ignore[no-untyped-def]
    user = create_account(email=email, role=role, password=password, initiatives=list(initiatives), actor="setup")
    user.totp_secret = totp
    db.session.commit()
    return user


def _login(client, email, password=PASSWORD, next_url=None):  # type: ignore[no-untyped-def]
    url = "/admin/login" + (f"?next={quote(next_url, safe='')}" if next_url is not None else "")
    return client.post(url, data={"email": email, "password": password})


def _entries(db, prefix=""):  # type: ignore[no-untyped-def]
    db.session.rollback()  # read what the requests committed
    query = sa.select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)
    return [(e.actor, e.action, e.target, json.loads(e.details)) for e in db.session.scalars(query)]


def _user(db, email):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return db.session.scalars(sa.select(StaffUser).where(StaffUser.email == email)).one()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _signed_in_as(client) -> str | None:  # type: ignore[no-untyped-def]
    """Whose staff page this client gets, or None when it is sent to sign in."""
    response = client.get("/admin/")
    if response.status_code != 200:
        return None
    with client.session_transaction() as session:
        staff_id = session["staff_id"]
    database.session.rollback()
    return database.session.get(StaffUser, staff_id).email


# --- sign-in -------------------------------------------------------------------------------------------------------


def test_good_sign_in_is_recorded(client, db):  # type: ignore[no-untyped-def]
    _staff(db, "olga@example.org", "organizer")
    response = _login(client, "  Olga@Example.org ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    assert _signed_in_as(client) == "olga@example.org"
    assert _user(db, "olga@example.org").last_login_at is not None
    assert client.get("/admin/login/code").headers["Location"] == "/admin/"  # no pending code step: nothing lost
    assert client.get("/admin/login").headers["Location"] == "/admin/"
    assert _signed_in_as(client) == "olga@example.org"
    assert _entries(db, "staff.") == [
        ("olga@example.org", "staff.sign_in", "olga@example.org", {"second_factor": False})
    ]


def test_wrong_password_unknown_email_and_inactive_get_the_same_answer(client, db):  # type: ignore[no-untyped-def]
    _staff(db, "olga@example.org", "organizer")
    inactive = _staff(db, "gone@example.org", "organizer")
    inactive.active = False
    db.session.commit()

    answers = [
        _login(client, "olga@example.org", "wrong password, long"),
        _login(client, "nobody@example.org"),
        _login(client, "gone@example.org"),
        _login(client, "", ""),
    ]
    for response in answers:
        assert response.status_code == 401
        body = response.get_data(as_text=True)
        assert REFUSAL in body
        assert "Staff sign-in" in body
    assert "nobody@example.org" in answers[1].get_data(as_text=True)  # the form keeps what was typed
    assert _signed_in_as(client) is None
    assert _entries(db, "staff.") == [
        ("olga@example.org", "staff.sign_in_failed", "olga@example.org", {"reason": "wrong password"}),
        ("anonymous", "staff.sign_in_failed", "", {"reason": "unknown account"}),
        ("gone@example.org", "staff.sign_in_failed", "gone@example.org", {"reason": "inactive account"}),
        ("anonymous", "staff.sign_in_failed", "", {"reason": "unknown account"}),
    ]


def test_real_form_with_real_csrf_token(app_factory, app, db):  # type: ignore[no-untyped-def]
    """The one test that posts a real token: the sign-in form and sign-out both need it."""
    _staff(db, "olga@example.org", "organizer")
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    page = client.get("/admin/login")
    assert page.status_code == 200
    token = _csrf(page.get_data(as_text=True))

    without = client.post("/admin/login", data={"email": "olga@example.org", "password": PASSWORD})
    assert without.status_code == 400
    forged = client.post(
        "/admin/login", data={"email": "olga@example.org", "password": PASSWORD, "csrf_token": token[:-2] + "xx"}
    )
    assert forged.status_code == 400
    assert _signed_in_as(client) is None

    good = client.post("/admin/login", data={"email": "olga@example.org", "password": PASSWORD, "csrf_token": token})
    assert good.status_code == 302
    home = client.get("/admin/")
    assert home.status_code == 200

    assert client.post("/admin/logout").status_code == 400  # sign-out without a token does nothing
    assert _signed_in_as(client) == "olga@example.org"
    assert client.get("/admin/logout").status_code == 405
    out = client.post("/admin/logout", data={"csrf_token": _csrf(home.get_data(as_text=True))})
    assert out.status_code == 302 and out.headers["Location"] == "/admin/login"
    assert _signed_in_as(client) is None
    assert [action for _actor, action, _t, _d in _entries(db, "staff.")] == ["staff.sign_in", "staff.sign_out"]


def test_failed_attempts_are_rate_limited_per_address(app_factory, app, db):  # type: ignore[no-untyped-def]
    _staff(db, "olga@example.org", "organizer")
    limited = app_factory(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    limiter.reset()
    try:
        client = limited.test_client()
        for _round in range(5):  # successful sign-ins are not counted
            assert _login(client, "olga@example.org").status_code == 302
        for _attempt in range(3):
            assert _login(client, "olga@example.org", "wrong password, long").status_code == 401
        refused = _login(client, "olga@example.org")  # even the right password, once the budget is spent
        assert refused.status_code == 429
        assert "Too many attempts" in refused.get_data(as_text=True)
        assert client.get("/admin/login").status_code == 200  # the page itself stays readable

        elsewhere = limited.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        assert _login(elsewhere, "olga@example.org").status_code == 302  # keyed per client address

        secret = pyotp.random_base32()  # wrong authenticator codes spend the same budget
        _staff(db, "tom@example.org", "organizer", totp=secret)
        coder = limited.test_client()
        coder.environ_base["REMOTE_ADDR"] = "192.0.2.8"
        assert _login(coder, "tom@example.org").headers["Location"] == "/admin/login/code"
        wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
        assert [coder.post("/admin/login/code", data={"totp": wrong}).status_code for _ in range(4)] == [
            401,
            401,
            401,
            429,
        ]
    finally:
        limiter.reset()
    failed = [details["reason"] for _a, _action, _t, details in _entries(db, "staff.sign_in_failed")]
    assert failed == ["wrong password"] * 3 + ["wrong or used code"] * 3  # refused requests never reached the check


def test_idle_session_expires(client, app, db):  # type: ignore[no-untyped-def]
    _staff(db, "olga@example.org", "organizer")
    assert _login(client, "olga@example.org").status_code == 302
    idle = app.config["STAFF_SESSION_IDLE_SECONDS"]

    with client.session_transaction() as session:
        session["staff_seen"] = int(time.time()) - idle + 60  # still inside the window
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        assert session["staff_seen"] >= int(time.time()) - 5  # activity moved the window on

    with client.session_transaction() as session:
        session["staff_seen"] = int(time.time()) - idle - 1
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")
    page = client.get(response.headers["Location"])
    assert "signed out after a period of inactivity" in page.get_data(as_text=True)
    assert _signed_in_as(client) is None


def test_password_reset_and_deactivation_end_existing_sessions(client, db):  # type: ignore[no-untyped-def]
    _staff(db, "olga@example.org", "organizer")
    assert _login(client, "olga@example.org").status_code == 302
    user = _user(db, "olga@example.org")
    user.password_hash = hash_password("another password, long")
    db.session.commit()
    assert _signed_in_as(client) is None

    assert _login(client, "olga@example.org", "another password, long").status_code == 302
    assert _signed_in_as(client) == "olga@example.org"
    user = _user(db, "olga@example.org")
    user.active = False
    db.session.commit()
    assert _signed_in_as(client) is None


@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("/admin/accounts", "/admin/accounts"),
        ("/admin/?x=1", "/admin/?x=1"),
        ("//evil.example/admin/", "/admin/"),
        ("https://evil.example/admin/", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("/\t/evil.example", "/admin/"),
        ("/admin/\r\nSet-Cookie: x=1", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
        ("/i/some-initiative", "/admin/"),
        ("", "/admin/"),
    ],
)
def test_no_open_redirect_after_sign_in(client, db, next_url, location):  # type: ignore[no-untyped-def]
    _staff(db, "ada@example.org", "admin")
    response = _login(client, "ada@example.org", next_url=next_url)
    assert response.status_code == 302
    assert response.headers["Location"] == location


def test_next_survives_the_sign_in_form(client, db):  # type: ignore[no-untyped-def]
    _staff(db, "ada@example.org", "admin")
    redirect = client.get("/admin/accounts")
    assert redirect.status_code == 302
    page = client.get(redirect.headers["Location"])
    action = re.search(r'<form method="post" action="([^"]+)"', page.get_data(as_text=True))
    assert action and "next=" in action.group(1)
    response = client.post(
        action.group(1).replace("&amp;", "&"), data={"email": "ada@example.org", "password": PASSWORD}
    )
    assert response.headers["Location"].startswith("/admin/accounts")


# --- second factor -------------------------------------------------------------------------------------------------


def _enrol(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/admin/account/second-factor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    assert "otpauth://totp/Quorum:" in html and f"secret={secret}" in html
    assert "<img" not in html and "<script" not in html  # no third-party QR service
    assert client.get("/admin/account/second-factor").get_data(as_text=True).count(secret[:4]) >= 1  # stable
    wrong = client.post("/admin/account/second-factor", data={"totp": "000000"})
    assert wrong.status_code == 422
    good = client.post("/admin/account/second-factor", data={"totp": pyotp.TOTP(secret).now()})
    assert good.status_code == 302
    return secret


def test_totp_enrol_sign_in_wrong_code_and_disable(client, db):  # type: ignore[no-untyped-def]
    _staff(db, "olga@example.org", "organizer")
    assert _login(client, "olga@example.org").status_code == 302
    secret = _enrol(client)
    assert _user(db, "olga@example.org").totp_secret == secret
    client.post("/admin/logout")

    step = _login(client, "olga@example.org", next_url="/admin/accounts")
    assert step.status_code == 302 and step.headers["Location"] == "/admin/login/code"
    assert _signed_in_as(client) is None  # the password alone does not sign in
    assert "Code from your authenticator app" in client.get("/admin/login/code").get_data(as_text=True)
    wrong = client.post(
        "/admin/login/code", data={"totp": "123456" if pyotp.TOTP(secret).now() != "123456" else "654321"}
    )
    assert wrong.status_code == 401
    assert _signed_in_as(client) is None
    good = client.post("/admin/login/code", data={"totp": pyotp.TOTP(secret).now()})
    assert good.status_code == 302 and good.headers["Location"] == "/admin/accounts"
    assert _signed_in_as(client) == "olga@example.org"

    assert client.post("/admin/account/second-factor/disable", data={"totp": "abc"}).status_code == 422
    assert _user(db, "olga@example.org").totp_secret == secret
    off = client.post("/admin/account/second-factor/disable", data={"totp": pyotp.TOTP(secret).now()})
    assert off.status_code == 302
    assert _user(db, "olga@example.org").totp_secret is None

    assert [(action, details) for _a, action, _t, details in _entries(db, "staff.")] == [
        ("staff.sign_in", {"second_factor": False}),
        ("staff.totp_enrol", {}),
        ("staff.sign_out", {}),
        ("staff.sign_in_failed", {"reason": "wrong or used code"}),
        ("staff.sign_in", {"second_factor": True}),
        ("staff.totp_disable", {}),
    ]


def test_a_code_works_only_once(client, db):  # type: ignore[no-untyped-def]
    """RFC 6238, 5.2: a code seen over someone's shoulder (or in a proxy log) must not sign in a second time."""
    secret = pyotp.random_base32()
    _staff(db, "olga@example.org", "organizer", totp=secret)
    code = pyotp.TOTP(secret).now()
    _login(client, "olga@example.org")
    assert client.post("/admin/login/code", data={"totp": code}).status_code == 302
    assert _signed_in_as(client) == "olga@example.org"
    client.post("/admin/logout")

    _login(client, "olga@example.org")
    replay = client.post("/admin/login/code", data={"totp": code})
    assert replay.status_code == 401
    assert _signed_in_as(client) is None
    # an older code (the step before) is refused as well, even inside the drift window
    earlier = pyotp.TOTP(secret).at(int(time.time()) - 30)
    assert client.post("/admin/login/code", data={"totp": earlier}).status_code == 401
    assert _signed_in_as(client) is None


def test_code_step_expires_and_cannot_be_skipped(client, db):  # type: ignore[no-untyped-def]
    secret = pyotp.random_base32()
    _staff(db, "olga@example.org", "organizer", totp=secret)
    assert client.post("/admin/login/code", data={"totp": pyotp.TOTP(secret).now()}).status_code == 302
    assert _signed_in_as(client) is None  # no password given first

    assert _login(client, "olga@example.org").headers["Location"] == "/admin/login/code"
    with client.session_transaction() as session:
        session["staff_pending_at"] = int(time.time()) - 301
    late = client.post("/admin/login/code", data={"totp": pyotp.TOTP(secret).now()})
    assert late.status_code == 302 and late.headers["Location"] == "/admin/login"
    assert _signed_in_as(client) is None


def test_totp_mandatory_for_auditors(client, app_factory, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _staff(db, "ada@example.org", "admin")
    _staff(db, "audrey@example.org", "auditor", initiatives=[initiative])
    _staff(db, "olga@example.org", "organizer", initiatives=[initiative])
    admin = app_factory().test_client()
    assert _login(admin, "ada@example.org").status_code == 302
    assert admin.post("/admin/accounts/settings", data={"totp_required_for_auditors": "1"}).status_code == 302
    db.session.rollback()
    assert db.session.get(InstanceSetting, "totp_required_for_auditors").value == "1"

    signed = _login(client, "audrey@example.org")
    assert signed.status_code == 302 and signed.headers["Location"] == "/admin/account/second-factor"
    for path in ("/admin/", "/admin/accounts"):
        blocked = client.get(path)
        assert blocked.status_code == 302, path
        assert blocked.headers["Location"] == "/admin/account/second-factor"
    secret = _enrol(client)
    assert client.get("/admin/").status_code == 200
    refused = client.post("/admin/account/second-factor/disable", data={"totp": pyotp.TOTP(secret).now()})
    assert refused.status_code == 422
    assert _user(db, "audrey@example.org").totp_secret == secret

    organizer = app_factory().test_client()
    assert _login(organizer, "olga@example.org").headers["Location"] == "/admin/"
    assert organizer.get("/admin/").status_code == 200  # only auditors are required

    audrey = _user(db, "audrey@example.org")
    assert admin.post(f"/admin/accounts/{audrey.id}/second-factor/reset").status_code == 302
    assert _user(db, "audrey@example.org").totp_secret is None
    assert client.get("/admin/").headers["Location"] == "/admin/account/second-factor"  # enrol again

    assert admin.post("/admin/accounts/settings", data={}).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert [
        (a, action, target, details)
        for a, action, target, details in _entries(db)
        if action.startswith(("settings.", "account.totp", "staff.totp"))
    ] == [
        ("ada@example.org", "settings.change", "totp_required_for_auditors", {"from": "0", "to": "1"}),
        ("audrey@example.org", "staff.totp_enrol", "audrey@example.org", {}),
        ("ada@example.org", "account.totp_reset", "audrey@example.org", {}),
        ("ada@example.org", "settings.change", "totp_required_for_auditors", {"from": "1", "to": "0"}),
    ]


# --- the accounts page ---------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):  # type: ignore[no-untyped-def]
    _staff(db, "ada@example.org", "admin")
    assert _login(client, "ada@example.org").status_code == 302
    return client


def test_admin_creates_and_changes_an_account(admin_client, db):  # type: ignore[no-untyped-def]
    make_initiative("stop-scanning")
    make_initiative("clean-air")
    created = admin_client.post(
        "/admin/accounts/new",
        data={"email": "Olga@Example.org", "role": "organizer", "initiatives": ["stop-scanning"], "password": PASSWORD},
    )
    assert created.status_code == 302
    olga = _user(db, "olga@example.org")
    assert olga.role == "organizer" and [i.slug for i in olga.initiatives] == ["stop-scanning"]
    listing = admin_client.get("/admin/accounts").get_data(as_text=True)
    assert "olga@example.org" in listing and "stop-scanning" in listing

    changed = admin_client.post(f"/admin/accounts/{olga.id}", data={"role": "auditor", "initiatives": ["clean-air"]})
    assert changed.status_code == 302
    olga = _user(db, "olga@example.org")
    assert olga.role == "auditor" and [i.slug for i in olga.initiatives] == ["clean-air"]
    assert (
        admin_client.post(
            f"/admin/accounts/{olga.id}", data={"role": "auditor", "initiatives": ["clean-air"]}
        ).status_code
        == 302
    )  # nothing changed: nothing recorded

    assert [e for e in _entries(db, "account.") if e[0] == "ada@example.org"] == [
        (
            "ada@example.org",
            "account.create",
            "olga@example.org",
            {"role": "organizer", "initiatives": ["stop-scanning"]},
        ),
        ("ada@example.org", "account.access_given", "olga@example.org", {}),
        (
            "ada@example.org",
            "account.change",
            "olga@example.org",
            {
                "role": {"from": "organizer", "to": "auditor"},
                "initiatives": {"added": ["clean-air"], "removed": ["stop-scanning"]},
            },
        ),
        ("ada@example.org", "account.access_given", "olga@example.org", {}),
        ("ada@example.org", "account.access_removed", "olga@example.org", {}),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "olga@", "role": "organizer", "password": PASSWORD}, "is not a valid email address"),
        ({"email": "olga@example.org", "role": "boss", "password": PASSWORD}, "The role must be one of"),
        ({"email": "olga@example.org", "role": "organizer", "password": "too short"}, "at least 12 characters"),
        ({"email": "ADA@example.org", "role": "organizer", "password": PASSWORD}, "exists already"),
        (
            {"email": "olga@example.org", "role": "organizer", "password": PASSWORD, "initiatives": ["nope"]},
            "There is no initiative",
        ),
    ],
)
def test_account_form_refusals(admin_client, db, data, message):  # type: ignore[no-untyped-def]
    response = admin_client.post("/admin/accounts/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 1
    assert _entries(db, "account.") == [
        ("setup", "account.create", "ada@example.org", {"role": "admin", "initiatives": []})
    ]


def test_deactivate_reactivate_and_reset_password(admin_client, app_factory, db):  # type: ignore[no-untyped-def]
    olga = _staff(db, "olga@example.org", "organizer")
    other = app_factory().test_client()
    assert _login(other, "olga@example.org").status_code == 302

    assert admin_client.post(f"/admin/accounts/{olga.id}/deactivate").status_code == 302
    assert _user(db, "olga@example.org").active is False
    assert _signed_in_as(other) is None
    assert _login(other, "olga@example.org").status_code == 401
    assert admin_client.post(f"/admin/accounts/{olga.id}/reactivate").status_code == 302
    assert _login(other, "olga@example.org").status_code == 302

    short = admin_client.post(f"/admin/accounts/{olga.id}/password", data={"password": "short"})
    assert short.status_code == 422
    assert (
        admin_client.post(f"/admin/accounts/{olga.id}/password", data={"password": "a brand new password"}).status_code
        == 302
    )
    assert verify_password(_user(db, "olga@example.org").password_hash, "a brand new password")
    assert _signed_in_as(other) is None  # the old password's session ended
    assert _login(other, "olga@example.org").status_code == 401
    assert _login(other, "olga@example.org", "a brand new password").status_code == 302

    assert [(a, action, target) for a, action, target, _d in _entries(db, "account.") if a == "ada@example.org"] == [
        ("ada@example.org", "account.deactivate", "olga@example.org"),
        ("ada@example.org", "account.reactivate", "olga@example.org"),
        ("ada@example.org", "account.password_reset", "olga@example.org"),
    ]
    assert "a brand new password" not in json.dumps(_entries(db))


def test_admin_cannot_lock_themselves_out(admin_client, db):  # type: ignore[no-untyped-def]
    ada = _user(db, "ada@example.org")
    response = admin_client.post(f"/admin/accounts/{ada.id}/deactivate")
    assert response.status_code == 422
    assert "cannot deactivate your own account" in response.get_data(as_text=True)
    demote = admin_client.post(f"/admin/accounts/{ada.id}", data={"role": "auditor"})
    assert demote.status_code == 422
    ada = _user(db, "ada@example.org")
    assert ada.active and ada.role == "admin"
    assert admin_client.get("/admin/accounts").status_code == 200
    assert _entries(db, "account.deactivate") == []
    assert admin_client.get("/admin/accounts/9999").status_code == 404
