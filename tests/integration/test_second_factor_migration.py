"""Migration 0007 seals the second-factor secrets it finds in the clear, so that the app opens them, and a
downgrade gives them back as they were."""

from __future__ import annotations

import pyotp
import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

import config
from app import create_app
from app.admin.second_factor import enrolled_context
from app.extensions import db

SECRET = pyotp.random_base32()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrating.db'}"
    return str(request.getfixturevalue("pg_cluster").create_database(f"migrating_{tmp_path.name[-12:].lower()}"))


def _staff_rows() -> list[tuple[str, str | None, int]]:
    query = sa.text("SELECT email, totp_secret, session_version FROM staff_user ORDER BY email")
    return [tuple(row) for row in db.session.execute(query)]  # type: ignore[misc]


def test_plaintext_secrets_are_sealed_and_come_back_on_downgrade(empty_database):  # type: ignore[no-untyped-def]
    app = create_app(config.TestingConfig(), SQLALCHEMY_DATABASE_URI=empty_database)
    with app.app_context():
        upgrade(revision="0004")
        insert = sa.text(
            "INSERT INTO staff_user (email, password_hash, role, active, totp_secret, created_at) "
            "VALUES (:email, 'x', 'auditor', :active, :secret, CURRENT_TIMESTAMP)"
        )
        db.session.execute(insert, {"email": "audrey@example.org", "active": True, "secret": SECRET})
        db.session.execute(insert, {"email": "olga@example.org", "active": True, "secret": None})
        db.session.commit()

        upgrade()
        [(_email, sealed, version), (_other, nothing, _version)] = _staff_rows()
        assert sealed.startswith("v1:") and SECRET not in sealed
        assert version == 0 and nothing is None
        user_id = db.session.execute(sa.text("SELECT id FROM staff_user WHERE totp_secret IS NOT NULL")).scalar_one()
        assert app.extensions["quorum.second_factor_seal"].open(sealed, enrolled_context(user_id)) == SECRET
        db.session.commit()

        downgrade(revision="0004")
        assert [(email, secret) for email, secret, *_ in _rows_before_0007()] == [
            ("audrey@example.org", SECRET),
            ("olga@example.org", None),
        ]
        db.session.remove()
        db.engine.dispose()


def _rows_before_0007() -> list[tuple[str, str | None]]:
    query = sa.text("SELECT email, totp_secret FROM staff_user ORDER BY email")
    return [tuple(row) for row in db.session.execute(query)]  # type: ignore[misc]
