"""Fixtures: `app`, `client`, `db` on SQLite and on a throwaway PostgreSQL 15 cluster; a real SMTP server.

Integration tests that take the `backend` fixture (directly or through `app`) run once per database. The
PostgreSQL cluster starts once per session; migrations run once per database; each test starts from empty tables.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Secrets and mail files of the test run live in a temporary instance folder, never in the repository's.
_INSTANCE = Path(tempfile.mkdtemp(prefix="quorum-test-instance-"))
os.environ["QUORUM_INSTANCE"] = str(_INSTANCE)
os.environ["QUORUM_ENV"] = "testing"
for _name in ("DATABASE_URL", "SMTP_URL", "SECRET_KEY", "FINGERPRINT_KEY", "EXPORT_SIGNING_KEY", "BASE_URL"):
    os.environ.pop(_name, None)

import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db as _db  # noqa: E402
from app.extensions import limiter  # noqa: E402
from config import TestingConfig  # noqa: E402

from .support import postgres  # noqa: E402
from .support import redis as redis_support  # noqa: E402
from .support.smtp import MailServer  # noqa: E402

REQUIRE_ALL = os.environ.get("QUORUM_TEST_REQUIRE_ALL") == "1"


def pytest_sessionstart(session: pytest.Session) -> None:
    """The catalogs compiled as `make translations` compiles them, for a run started with pytest alone."""
    from .support.catalogs import compile_catalogs

    compile_catalogs()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything that runs on PostgreSQL or in Chromium is slow: `-m "not slow"` is the quick loop."""
    for item in items:
        if "postgres" in item.keywords or "browser" in item.keywords:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    if not postgres.available():
        if REQUIRE_ALL:
            pytest.fail("PostgreSQL 15 server binaries are missing (run `make system-deps`)")
        pytest.skip("PostgreSQL 15 server binaries are missing")
    cluster = postgres.Cluster()
    cluster.init()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def redis_process() -> Iterator[redis_support.RedisServer]:
    if not redis_support.available():
        if REQUIRE_ALL:
            pytest.fail("redis-server is missing (run `make system-deps`)")
        pytest.skip("redis-server is missing")
    server = redis_support.RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(redis_process: redis_support.RedisServer) -> redis_support.RedisServer:
    """The session's Redis, emptied for this test: where rate limits shared by app servers are counted."""
    redis_process.flush()
    return redis_process


_migrated: dict[str, str] = {}


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        _db.engine.dispose()


_owner_urls: dict[str, str] = {}
"""On PostgreSQL the app connects as `quorum_app`; the owner, who ran the migrations, empties the tables."""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database URL of this run, migrated once per session. On PostgreSQL as in production (README): migrated by
    the owner, then used by the app's own role, which may only append to and read the audit log."""
    name = request.param
    if name not in _migrated:
        if name == "sqlite":
            url = f"sqlite:///{_INSTANCE / 'test.db'}"
            _migrate(url)
        else:
            cluster = request.getfixturevalue("pg_cluster")
            owner_url, url = cluster.create_app_database("quorum_test")
            _migrate(owner_url)
            cluster.grant_app_role("quorum_test")
            _owner_urls[url] = owner_url
        _migrated[name] = url
    elif name == "postgresql":
        request.getfixturevalue("pg_cluster")
    return _migrated[name]


def owner_engine(app_url: str) -> sa.Engine:
    """The database as its owner (PostgreSQL): no pool, so no idle connection of its own holds a lock."""
    return sa.create_engine(_owner_urls[app_url], poolclass=sa.pool.NullPool)


@pytest.fixture
def database_owner(app: Flask, backend: str) -> Iterator[sa.Engine]:
    """Who can do anything to the database: on PostgreSQL its owner (not the app's role), on SQLite the app."""
    if backend.startswith("sqlite"):
        yield _db.engine
        return
    engine = owner_engine(backend)
    yield engine
    engine.dispose()


def _empty_tables() -> None:
    tables = [t for t in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        # the app's role may not TRUNCATE, and nobody may TRUNCATE the audit log while its trigger is on
        names = ", ".join(f'"{t.name}"' for t in tables)
        engine = owner_engine(_db.engine.url.render_as_string(hide_password=False))
        with engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_truncate")
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            connection.exec_driver_sql("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_truncate")
        engine.dispose()
    else:
        for table in tables:
            _db.session.execute(table.delete())
    _db.session.commit()


_made_before: dict[tuple[str, str], Flask] = {}
"""Apps kept from earlier tests, by database and overrides: building one compiles every URL rule (about 20 ms), so
a test reuses an app made with the same overrides, its settings put back as they were when it was made."""


@pytest.fixture
def app_factory(backend: str, tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Make more apps on the same database (two app servers, a worker beside the web). A test that changes an app
    beyond its settings (adds a route) asks for a new one with `pytest.mark.fresh_app`."""
    from app import register_services

    made: list[tuple[Flask, dict[str, object], bool]] = []
    fresh = request.node.get_closest_marker("fresh_app") is not None

    def make(**overrides: object) -> Flask:
        settings = {
            "SQLALCHEMY_DATABASE_URI": backend,
            "WTF_CSRF_ENABLED": False,
            "MAIL_DIR": str(tmp_path / "mail"),
            "AUDIT_HEADS_DIR": str(tmp_path / "audit-heads"),
            "SERVER_NAME": None,
        }
        settings.update(overrides)
        key = (backend, repr(sorted(overrides.items())))
        application = None if fresh else _made_before.get(key)
        # Flask-Limiter keeps its on/off switch and storage on its one object, set by the app made last: an app
        # with limits on is never kept, and one kept is reused only while that switch is still off
        if application is None or limiter.enabled or any(application is other for other, _settings, _kept in made):
            application = create_app(TestingConfig(), **settings)
            kept = not fresh and not application.config["RATELIMIT_ENABLED"] and key not in _made_before
            if kept:
                _made_before[key] = application
        else:
            kept = True
            application.config.update(settings)
            register_services(application)
        made.append((application, dict(application.config), kept))
        return application

    yield make
    for application, settings, kept in made:
        with application.app_context():
            _db.session.remove()
            if kept:  # as it was made, for the next test: its settings and the services made from them
                application.config.clear()
                application.config.update(settings)
                register_services(application)
            else:
                _db.engine.dispose()


def _counters_equal_a_recount() -> None:
    """What `flask counters check` does, after every test: whatever the scenario did, every counter still equals
    its recount from the statements, and every tally of the staff pages (mail, subscribers, fingerprints,
    quarantines) its recount from the rows (tests that edit a counter on purpose are marked `counters_edited`)."""
    from app.models import Initiative
    from app.statements import counters

    _db.session.rollback()
    wrong = [line for i in _db.session.scalars(sa.select(Initiative)) for line in _report_lines(counters.check(i))]
    assert not wrong, "counters differ from a recount after this test:\n" + "\n".join(wrong)


def _report_lines(report):  # type: ignore[no-untyped-def]
    return [] if report.ok else report.lines()


@pytest.fixture
def app(app_factory, request: pytest.FixtureRequest) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    application = app_factory()
    with application.app_context():
        _empty_tables()
        yield application
        _db.session.remove()
        if request.node.get_closest_marker("counters_edited") is None:
            _counters_equal_a_recount()
            _db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask):  # type: ignore[no-untyped-def]
    return _db


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(app: Flask, smtp: MailServer) -> Flask:
    """The app delivering over SMTP to the test server."""
    app.config["SMTP_URL"] = smtp.url
    return app
