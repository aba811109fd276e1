"""`flask users create`: accounts from the command line, one-line refusals, and an audit entry by "cli"."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.admin.accounts import AccountError, create_account
from app.admin.passwords import verify_password
from app.models import AuditEntry, StaffUser

from ..support.factories import make_initiative

PASSWORD = "correct horse battery staple"


def _users(db):  # type: ignore[no-untyped-def]
    db.session.rollback()  # the command committed in its own session: read afresh
    return list(db.session.scalars(sa.select(StaffUser).order_by(StaffUser.email)))


def _audit(db):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


def test_create_organizer_with_initiatives_from_stdin(app, db):  # type: ignore[no-untyped-def]
    make_initiative("stop-scanning")
    make_initiative("clean-air")
    make_initiative("not-given")
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "Olga@Example.org",
            "--role",
            "organizer",
            "--initiative",
            "stop-scanning",
            "--initiative",
            "clean-air",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "created organizer olga@example.org (initiatives: clean-air, stop-scanning)"

    [user] = _users(db)
    assert user.email == "olga@example.org"
    assert user.role == "organizer" and user.active and user.totp_secret is None
    assert [i.slug for i in user.initiatives] == ["clean-air", "stop-scanning"]
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, PASSWORD)
    assert not verify_password(user.password_hash, PASSWORD + "\n")

    entries = [e for e in _audit(db) if e.action.startswith("account.")]
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("cli", "account.create", "olga@example.org"),
        ("cli", "account.access_given", "olga@example.org"),
        ("cli", "account.access_given", "olga@example.org"),
    ]
    assert json.loads(entries[0].details) == {"role": "organizer", "initiatives": ["clean-air", "stop-scanning"]}
    assert PASSWORD not in "".join(e.details for e in entries)


def test_hidden_prompt_asks_twice_until_both_match(app, db):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(
        args=["users", "create", "ada@example.org", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}x\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert PASSWORD not in result.output  # hidden
    assert result.output.strip().splitlines()[-1] == "created admin ada@example.org (initiatives: all (admin))"
    [user] = _users(db)
    assert verify_password(user.password_hash, PASSWORD)


def test_prompt_that_never_matches_creates_nothing(app, db):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(
        args=["users", "create", "ada@example.org", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}x\n"
    )
    assert result.exit_code != 0
    assert _users(db) == []


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["bob@example.org", "--role", "boss"],
            PASSWORD,
            "The role must be one of admin, organizer, auditor, not 'boss'.",
        ),
        (["bob@example.org"], PASSWORD, "--role is required: one of admin, organizer, auditor"),
        (["bob@example.org", "--role", "auditor", "--initiative", "nope"], PASSWORD, "There is no initiative 'nope'."),
        (["bob@", "--role", "auditor"], PASSWORD, "'bob@' is not a valid email address."),
        (["not an address", "--role", "auditor"], PASSWORD, "'not an address' is not a valid email address."),
        (["bob@example.org", "--role", "auditor"], "eleven char", "The password must be at least 12 characters long."),
        (["bob@example.org", "--role", "auditor"], "", "The password must be at least 12 characters long."),
        (
            ["bob@example.org", "--role", "admin", "--initiative", "stop-scanning"],
            PASSWORD,
            "admins see every initiative; --initiative is for organizers and auditors",
        ),
        (
            ["Taken@Example.org", "--role", "auditor"],
            PASSWORD,
            "an account with the address taken@example.org exists already",
        ),
    ],
)
def test_refusals_are_one_line_and_change_nothing(app, db, args, stdin, message):  # type: ignore[no-untyped-def]
    make_initiative("stop-scanning")
    create_account(email="taken@example.org", role="organizer", password=PASSWORD, initiatives=[], actor="setup")
    db.session.commit()
    before = len(_audit(db))

    result = app.test_cli_runner().invoke(args=["users", "create", *args, "--password-stdin"], input=stdin + "\n")

    assert result.exit_code == 1
    assert result.output.splitlines() == [f"Error: {message}"]
    assert [u.email for u in _users(db)] == ["taken@example.org"]
    assert len(_audit(db)) == before


def test_duplicate_refused_by_the_database_not_only_the_precheck(app, db):  # type: ignore[no-untyped-def]
    """Two creations racing past the pre-check: the unique constraint refuses the second, with a clear message."""
    create_account(email="twice@example.org", role="auditor", password=PASSWORD, initiatives=[], actor="cli")
    with pytest.raises(AccountError, match="exists already"):
        create_account(email="TWICE@example.org", role="auditor", password=PASSWORD, initiatives=[], actor="cli")
    db.session.commit()
    assert [u.email for u in _users(db)] == ["twice@example.org"]
