"""Staff sign-in, its limits and second factor, sign-out, and the accounts page, each change in the audit log."""

from __future__ import annotations

import base64
import json
import re
import time
from urllib.parse import quote

import pyotp
import pytest
import sqlalchemy as sa

from app.admin.accounts import create_account
from app.admin.passwords import hash_password, verify_password
from app.admin.second_factor import enrolled_context, grouped
from app.extensions import db as database
from app.extensions import limiter
from app.models import AuditEntry, InstanceSetting, StaffUser

from ..support.confirmation import confirm
from ..support.factories import make_initiative

PASSWORD = "correct horse battery staple"
REFUSAL = "That email address and password do not match an active account."
WRONG = "wrong password, long"


def _seal():  # type: ignore[no-untyped-def]
    from flask import current_app

    return current_app.extensions["quorum.second_factor_seal"]


def _staff(db, email, role, *, initiatives=(), password=PASSWORD, totp=None):  # type: ignore[no-untyped-def]
    user = create_account(email=email, role=role, password=password, initiatives=list(initiatives), actor="setup")
    db.session.flush()
    user.totp_secret = _seal().seal(totp, enrolled_context(user.id)) if totp else None
    db.session.commit()
    return user


def _totp_of(db, email):  # type: ignore[no-untyped-def]
    """The second-factor secret the server holds for this account, opened with the server's key (None: none)."""
    user = _user(db, email)
    return _seal().open(user.totp_secret, enrolled_context(user.id))


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


def test_signing_out_ends_the_session_a_copied_cookie_holds(client, app_factory, db):  # type: ignore[no-untyped-def]
    """Issue 7: a cookie copied before sign-out (a shared computer, a proxy log, malware) no longer opens the exports
    page afterwards."""
    initiative, _ = make_initiative()
    _staff(db, "audrey@example.org", "auditor", initiatives=[initiative])
    assert _login(client, "audrey@example.org").status_code == 302
    exports = f"/admin/initiatives/{initiative.slug}/exports"
    assert client.get(exports).status_code == 200
    copied = client.get_cookie("session").value
    assert client.post("/admin/logout").status_code == 302

    thief = app_factory().test_client()
    thief.set_cookie("session", copied)
    refused = thief.get(exports)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/admin/login")
    assert _login(client, "audrey@example.org").status_code == 302  # a new sign-in does not bring the old one back
    thief.set_cookie("session", copied)
    assert thief.get(exports).status_code == 302
    assert client.get(exports).status_code == 200


@pytest.mark.parametrize("change", ["password", "role", "second factor", "deactivation and reactivation"])
def test_an_admins_change_ends_every_session_of_the_account(admin_client, app_factory, db, change):  # type: ignore[no-untyped-def]
    secret = pyotp.random_base32()
    olga = _staff(db, "olga@example.org", "organizer", totp=secret)
    other = app_factory().test_client()
    _login(other, "olga@example.org")
    assert other.post("/admin/login/code", data={"totp": _code(secret)}).status_code == 302
    assert _signed_in_as(other) == "olga@example.org"
    if change == "password":
        confirm(admin_client, f"/admin/accounts/{olga.id}/password", password="a brand new password")
    elif change == "role":
        admin_client.post(f"/admin/accounts/{olga.id}", data={"role": "auditor"})
    elif change == "second factor":
        confirm(admin_client, f"/admin/accounts/{olga.id}/second-factor/reset", "lost her phone")
    else:
        confirm(admin_client, f"/admin/accounts/{olga.id}/deactivate", "left the campaign")
        admin_client.post(f"/admin/accounts/{olga.id}/reactivate")
        assert _user(db, "olga@example.org").active
    assert _signed_in_as(other) is None
    assert _signed_in_as(admin_client) == "ada@example.org"  # nobody else's session ends


def test_a_change_of_initiatives_alone_keeps_the_session(admin_client, app_factory, db):  # type: ignore[no-untyped-def]
    """Initiatives are checked on every request anyway; only a new role ends the sessions of the old one."""
    make_initiative("clean-air")
    olga = _staff(db, "olga@example.org", "organizer")
    other = app_factory().test_client()
    _login(other, "olga@example.org")
    admin_client.post(f"/admin/accounts/{olga.id}", data={"role": "organizer", "initiatives": ["clean-air"]})
    assert _signed_in_as(other) == "olga@example.org"


def test_setting_up_a_second_factor_ends_the_other_sessions(client, app_factory, db):  # type: ignore[no-untyped-def]
    """They were signed in without it; the session that set it up carries on."""
    _staff(db, "olga@example.org", "organizer")
    _login(client, "olga@example.org")
    other = app_factory().test_client()
    _login(other, "olga@example.org")
    _enrol(client)
    assert _signed_in_as(client) == "olga@example.org"
    assert _signed_in_as(other) is None


def test_a_session_ends_after_its_lifetime_however_busy(app_factory, app, db):  # type: ignore[no-untyped-def]
    assert app.config["STAFF_SESSION_MAX_SECONDS"] == 12 * 3600  # the default, ASVS 4.0 3.3.2
    _staff(db, "olga@example.org", "organizer")
    client = app_factory(STAFF_SESSION_MAX_SECONDS=3600).test_client()
    assert _login(client, "olga@example.org").status_code == 302
    with client.session_transaction() as session:
        session["staff_since"] = int(time.time()) - 3600 + 60
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        session["staff_since"] = int(time.time()) - 3601  # active a moment ago, but signed in over an hour ago
        assert session["staff_seen"] >= int(time.time()) - 5
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login?next=")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sessions end 1 hour after signing in." in page
    assert _signed_in_as(client) is None


def test_failed_sign_ins_are_limited_per_account_from_any_network(app_factory, app, db):  # type: ignore[no-untyped-def]
    """Many networks cannot share out the guesses at one password: each account has its own budget of failures."""
    secret = pyotp.random_base32()
    _staff(db, "olga@example.org", "organizer")
    _staff(db, "tom@example.org", "organizer", totp=secret)
    limited = app_factory(
        RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="100 per minute", LOGIN_ACCOUNT_RATE_LIMIT="3 per minute"
    )
    limiter.reset()

    def attempt(address: str, email: str, password: str = WRONG) -> int:
        client = limited.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return int(_login(client, email, password).status_code)

    try:
        assert [attempt(f"192.0.2.{n}", "olga@example.org") for n in range(1, 4)] == [401, 401, 401]
        # the right password, from a network never seen, spelled otherwise: still refused, the account's budget is spent
        assert attempt("198.51.100.9", " OLGA@example.org", PASSWORD) == 429
        assert attempt("192.0.2.1", "tom@example.org", PASSWORD) == 302  # another account from the same network
        # an address without an account is limited alike: the answers do not tell which accounts exist
        assert [attempt(f"203.0.113.{n}", "nobody@example.org") for n in range(1, 5)] == [401, 401, 401, 429]
        # wrong codes at the second step spend the same budget as wrong passwords
        coder = limited.test_client()
        assert _login(coder, "tom@example.org").headers["Location"] == "/admin/login/code"
        statuses = []
        for number in range(4):
            coder.environ_base["REMOTE_ADDR"] = f"198.51.100.{number + 20}"
            statuses.append(coder.post("/admin/login/code", data={"totp": _not(_code(secret))}).status_code)
        assert statuses == [401, 401, 401, 429]
    finally:
        limiter.reset()


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


def _code(secret: str, steps: int = 0) -> str:
    """The code of the 30-second step `steps` away from now (the server accepts one step of drift either side)."""
    return pyotp.TOTP(secret).at(int(time.time()) + 30 * steps)


def _not(code: str) -> str:
    return "123456" if code != "123456" else "654321"


def _cookie_session(client) -> str:  # type: ignore[no-untyped-def]
    """Everything the session cookie carries, decoded (it is signed, not encrypted: anyone holding it can read it)."""
    from flask import current_app

    cookie = client.get_cookie("session")
    serializer = current_app.session_interface.get_signing_serializer(current_app)
    return json.dumps(serializer.loads(cookie.value)) if cookie is not None else ""


def _enrol(client, password=PASSWORD) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/admin/account/second-factor")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    assert "otpauth://totp/Quorum:" in html and f"secret={secret}" in html
    assert "<img" not in html and "<script" not in html  # no third-party QR service
    assert secret not in _cookie_session(client)  # the secret waits on the server, not in the cookie
    assert f">{grouped(secret)}<" in client.get("/admin/account/second-factor").get_data(as_text=True)  # stable
    wrong = client.post("/admin/account/second-factor", data={"password": password, "totp": _not(_code(secret, -1))})
    assert wrong.status_code == 422
    good = client.post("/admin/account/second-factor", data={"password": password, "totp": _code(secret, -1)})
    assert good.status_code == 302
    return secret


def test_totp_enrol_sign_in_wrong_code_and_disable(client, db):  # type: ignore[no-untyped-def]
    _staff(db, "olga@example.org", "organizer")
    assert _login(client, "olga@example.org").status_code == 302
    secret = _enrol(client)
    assert _totp_of(db, "olga@example.org") == secret
    assert _signed_in_as(client) == "olga@example.org"  # enrolling keeps the session that did it
    client.post("/admin/logout")

    step = _login(client, "olga@example.org", next_url="/admin/accounts")
    assert step.status_code == 302 and step.headers["Location"] == "/admin/login/code"
    assert _signed_in_as(client) is None  # the password alone does not sign in
    assert "Code from your authenticator app" in client.get("/admin/login/code").get_data(as_text=True)
    wrong = client.post("/admin/login/code", data={"totp": _not(_code(secret))})
    assert wrong.status_code == 401
    assert _signed_in_as(client) is None
    good = client.post("/admin/login/code", data={"totp": _code(secret)})
    assert good.status_code == 302 and good.headers["Location"] == "/admin/accounts"
    assert _signed_in_as(client) == "olga@example.org"

    disable = "/admin/account/second-factor/disable"
    assert client.post(disable, data={"password": PASSWORD, "totp": "abc"}).status_code == 422
    no_password = client.post(disable, data={"totp": _code(secret, 1)})
    assert no_password.status_code == 422 and "That password is not right." in no_password.get_data(as_text=True)
    assert client.post(disable, data={"password": "wrong password, long", "totp": _code(secret, 1)}).status_code == 422
    assert _totp_of(db, "olga@example.org") == secret
    off = client.post(disable, data={"password": PASSWORD, "totp": _code(secret, 1)})
    assert off.status_code == 302
    assert _user(db, "olga@example.org").totp_secret is None
    assert _signed_in_as(client) == "olga@example.org"

    assert [(action, details) for _a, action, _t, details in _entries(db, "staff.")] == [
        ("staff.sign_in", {"second_factor": False}),
        ("staff.totp_enrol", {}),
        ("staff.sign_out", {}),
        ("staff.sign_in_failed", {"reason": "wrong or used code"}),
        ("staff.sign_in", {"second_factor": True}),
        ("staff.totp_disable", {}),
    ]


def test_enrolling_needs_the_password(client, db):  # type: ignore[no-untyped-def]
    """Someone holding a left-open session (or a copied cookie) cannot tie the account to their own device."""
    _staff(db, "olga@example.org", "organizer")
    assert _login(client, "olga@example.org").status_code == 302
    html = client.get("/admin/account/second-factor").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    for data in ({"totp": _code(secret)}, {"password": "wrong password, long", "totp": _code(secret)}):
        refused = client.post("/admin/account/second-factor", data=data)
        assert refused.status_code == 422
        assert "That password is not right." in refused.get_data(as_text=True)
    assert _user(db, "olga@example.org").totp_secret is None
    assert _entries(db, "staff.totp") == []


def test_the_code_that_enrolled_does_not_sign_in(client, db):  # type: ignore[no-untyped-def]
    _staff(db, "olga@example.org", "organizer")
    _login(client, "olga@example.org")
    html = client.get("/admin/account/second-factor").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    code = _code(secret)
    assert client.post("/admin/account/second-factor", data={"password": PASSWORD, "totp": code}).status_code == 302
    client.post("/admin/logout")
    _login(client, "olga@example.org")
    assert client.post("/admin/login/code", data={"totp": code}).status_code == 401


def test_second_factor_secrets_are_sealed_at_rest(client, db):  # type: ignore[no-untyped-def]
    """A copy of the database holds no usable secret: neither the one set up nor the one waiting to be."""
    _staff(db, "olga@example.org", "organizer")
    _login(client, "olga@example.org")
    html = client.get("/admin/account/second-factor").get_data(as_text=True)
    pending = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    stored = _user(db, "olga@example.org")
    assert stored.totp_pending and pending not in stored.totp_pending
    assert stored.totp_pending.startswith("v1:")

    secret = _enrol(client)
    row = db.session.execute(sa.text("SELECT totp_secret, totp_pending FROM staff_user")).one()
    assert row.totp_pending is None
    assert row.totp_secret.startswith("v1:") and secret not in row.totp_secret
    assert base64.b32decode(secret) not in base64.urlsafe_b64decode(row.totp_secret[3:])


def test_a_setup_key_is_shown_only_to_the_session_that_made_it(app_factory, client, db):  # type: ignore[no-untyped-def]
    """Someone else signed in as the same person (a copied cookie) cannot read the key being set up, nor plant one."""
    _staff(db, "olga@example.org", "organizer")
    _login(client, "olga@example.org")
    mine = client.get("/admin/account/second-factor").get_data(as_text=True)
    other = app_factory().test_client()
    _login(other, "olga@example.org")
    theirs = other.get("/admin/account/second-factor").get_data(as_text=True)
    key = r'<code id="totp-secret">([A-Z2-7 ]+)</code>'
    my_secret = re.search(key, mine).group(1).replace(" ", "")
    their_secret = re.search(key, theirs).group(1).replace(" ", "")
    assert my_secret != their_secret
    # the other session replaced the waiting key: mine no longer enrols, and I am shown a new one, not theirs
    late = client.post("/admin/account/second-factor", data={"password": PASSWORD, "totp": _code(my_secret)})
    assert late.status_code == 422
    assert their_secret not in late.get_data(as_text=True)
    assert _user(db, "olga@example.org").totp_secret is None


def test_setup_qr_code_is_drawn_here(client, db):  # type: ignore[no-untyped-def]
    """Issue 9: a QR code beside the text key, drawn server-side as SVG: no request to anyone, no image service."""
    import qrcode
    import qrcode.image.svg

    _staff(db, "olga@example.org", "organizer")
    _login(client, "olga@example.org")
    html = client.get("/admin/account/second-factor").get_data(as_text=True)
    uri = re.search(r'<code id="totp-uri">([^<]+)</code>', html).group(1).replace("&amp;", "&")
    [svg] = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert 'aria-labelledby="totp-qr-label"' in svg and 'id="totp-qr-label"' in html
    assert "href" not in svg and "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # the modules drawn are those of the setup link printed beside it (read back with qrcode's own encoder)
    drawn = re.search(r' d="([^"]+)"', svg).group(1)
    expected = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10, border=4)
    assert drawn == re.search(r' d="([^"]+)"', expected.to_string(encoding="unicode")).group(1)
    assert uri.startswith("otpauth://totp/Quorum:olga%40example.org?secret=")


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


def test_a_secret_sealed_under_another_key_does_not_open(client, db):  # type: ignore[no-untyped-def]
    """SECRET_KEY changed: the second factor cannot be checked, the sign-in says to ask an admin, nothing opens."""
    from app.admin.second_factor import SecretSeal

    secret = pyotp.random_base32()
    user = _staff(db, "olga@example.org", "organizer")
    user.totp_secret = SecretSeal.from_secret_key("another key").seal(secret, enrolled_context(user.id))
    db.session.commit()
    _login(client, "olga@example.org")
    refused = client.post("/admin/login/code", data={"totp": _code(secret)})
    assert refused.status_code == 401
    assert "Ask an admin to remove it" in refused.get_data(as_text=True)
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
    assert admin.get("/admin/").status_code == 200  # admins are not required by this switch

    signed = _login(client, "audrey@example.org")
    assert signed.status_code == 302 and signed.headers["Location"] == "/admin/account/second-factor"
    for path in ("/admin/", "/admin/accounts"):
        blocked = client.get(path)
        assert blocked.status_code == 302, path
        assert blocked.headers["Location"] == "/admin/account/second-factor"
    secret = _enrol(client)
    assert client.get("/admin/").status_code == 200
    refused = client.post("/admin/account/second-factor/disable", data={"password": PASSWORD, "totp": _code(secret, 1)})
    assert refused.status_code == 422
    assert _totp_of(db, "audrey@example.org") == secret

    organizer = app_factory().test_client()
    assert _login(organizer, "olga@example.org").headers["Location"] == "/admin/"
    assert organizer.get("/admin/").status_code == 200  # only auditors are required

    audrey = _user(db, "audrey@example.org")
    assert confirm(admin, f"/admin/accounts/{audrey.id}/second-factor/reset", "lost her phone").status_code == 302
    assert _user(db, "audrey@example.org").totp_secret is None
    assert client.get("/admin/").headers["Location"].startswith("/admin/login")  # the reset ended her session
    assert _login(client, "audrey@example.org").headers["Location"] == "/admin/account/second-factor"  # enrol again

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


def test_totp_mandatory_for_admins(client, app_factory, db):  # type: ignore[no-untyped-def]
    """The switch beside the auditors' one: admins hold every account, so an instance may require it of them too."""
    initiative, _ = make_initiative()
    _staff(db, "ada@example.org", "admin")
    _staff(db, "bob@example.org", "admin")
    _staff(db, "audrey@example.org", "auditor", initiatives=[initiative])
    _staff(db, "olga@example.org", "organizer", initiatives=[initiative])
    assert _login(client, "ada@example.org").status_code == 302
    page = client.get("/admin/accounts").get_data(as_text=True)
    assert 'name="totp_required_for_admins"' in page
    assert client.post("/admin/accounts/settings", data={"totp_required_for_admins": "1"}).status_code == 302
    assert client.get("/admin/").headers["Location"] == "/admin/account/second-factor"  # ada herself, at once

    bob = app_factory().test_client()
    assert _login(bob, "bob@example.org").headers["Location"] == "/admin/account/second-factor"
    for email in ("audrey@example.org", "olga@example.org"):  # auditors and organizers: not by this switch
        other = app_factory().test_client()
        assert _login(other, email).headers["Location"] == "/admin/"
    _enrol(client)
    assert client.get("/admin/accounts").status_code == 200
    assert "1 active admin has not set one up yet." in client.get("/admin/accounts").get_data(as_text=True)
    assert (
        client.post("/admin/account/second-factor/disable", data={"password": PASSWORD, "totp": "000000"}).status_code
        == 422
    )
    assert [(target, details) for _a, action, target, details in _entries(db, "settings.")] == [
        ("totp_required_for_admins", {"from": "0", "to": "1"})
    ]


def test_second_factor_guesses_are_limited_per_account(app_factory, app, db):  # type: ignore[no-untyped-def]
    """A stolen session cannot try passwords on the second-factor pages without limit: they spend the account's
    budget of failed sign-ins, whatever the network."""
    _staff(db, "olga@example.org", "organizer")
    limited = app_factory(
        RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="100 per minute", LOGIN_ACCOUNT_RATE_LIMIT="3 per minute"
    )
    limiter.reset()
    try:
        client = limited.test_client()
        assert _login(client, "olga@example.org").status_code == 302
        html = client.get("/admin/account/second-factor").get_data(as_text=True)
        secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
        answers = []
        for number in range(3):
            client.environ_base["REMOTE_ADDR"] = f"192.0.2.{number + 1}"
            answers.append(
                client.post("/admin/account/second-factor", data={"password": f"guess number {number}"}).status_code
            )
        good = client.post("/admin/account/second-factor", data={"password": PASSWORD, "totp": _code(secret)})
        assert answers + [good.status_code] == [422, 422, 422, 429]
        assert good.headers["Retry-After"].isdigit()
        assert client.get("/admin/account/second-factor").status_code == 200  # the page stays readable
        # the same budget as the sign-in form's: a wrong password there is refused now too
        assert _login(limited.test_client(), "olga@example.org").status_code == 429
    finally:
        limiter.reset()


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

    assert confirm(admin_client, f"/admin/accounts/{olga.id}/deactivate", "left the campaign").status_code == 302
    assert _user(db, "olga@example.org").active is False
    assert _signed_in_as(other) is None
    assert _login(other, "olga@example.org").status_code == 401
    assert admin_client.post(f"/admin/accounts/{olga.id}/reactivate").status_code == 302
    assert _login(other, "olga@example.org").status_code == 302

    short = confirm(admin_client, f"/admin/accounts/{olga.id}/password", password="short")
    assert short.status_code == 422
    assert (
        confirm(admin_client, f"/admin/accounts/{olga.id}/password", password="a brand new password").status_code == 302
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
    for response in (
        admin_client.get(f"/admin/accounts/{ada.id}/deactivate"),
        confirm(admin_client, f"/admin/accounts/{ada.id}/deactivate", "testing"),
        admin_client.post(f"/admin/accounts/{ada.id}/deactivate", data={"reason": "testing"}),
    ):
        assert response.status_code == 422
        assert "cannot deactivate your own account" in response.get_data(as_text=True)
    demote = admin_client.post(f"/admin/accounts/{ada.id}", data={"role": "auditor"})
    assert demote.status_code == 422
    ada = _user(db, "ada@example.org")
    assert ada.active and ada.role == "admin"
    assert admin_client.get("/admin/accounts").status_code == 200
    assert _entries(db, "account.deactivate") == []
    assert admin_client.get("/admin/accounts/9999").status_code == 404
