"""Quorum: citizens' initiative campaigns, ECI-style. `create_app` builds the Flask app in small steps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flask import Flask

from config import ROOT, Config, MissingSecret, load_config

from .extensions import csrf, db, limiter, migrate
from .languages import init_babel
from .transactions import Quorum


def create_app(config: Config | str | None = None, **overrides: Any) -> Flask:
    """Build the app; in production a missing secret ends the process with one line naming it."""
    try:
        settings = config if isinstance(config, Config) else load_config(config)
    except MissingSecret as error:
        print(f"quorum: {error}", file=sys.stderr)
        # 3 is gunicorn's "worker failed to boot": the master stops instead of restarting the worker forever
        raise SystemExit(3) from error

    app = Quorum(__name__, template_folder=str(ROOT / "templates"), instance_path=settings.INSTANCE_PATH)
    app.config.from_mapping(settings.as_dict())
    app.config.update(overrides)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # the contract's key order reads better
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["TRUSTED_PROXIES"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)  # type: ignore[method-assign]

    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_services(app)
    register_cli(app)
    register_error_pages(app)
    register_template_helpers(app)
    register_languages(app)
    register_security_headers(app)
    register_access_log(app)
    return app


def register_url_converters(app: Flask) -> None:
    from .database import RowIdConverter

    app.url_map.converters["int"] = RowIdConverter


def register_extensions(app: Flask) -> None:
    from .statements.tallies import listen

    db.init_app(app)
    listen()  # the staff pages' tallies are written when a transaction commits
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    init_babel(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _configure_sqlite(app)

    @app.teardown_request
    def _end_unit_of_work(_error: BaseException | None) -> None:
        """Whatever a request left uncommitted (it failed, or an error page loaded something) is rolled back."""
        db.session.rollback()


def _configure_sqlite(app: Flask) -> None:
    """Foreign keys on, WAL for readers beside the writer, and a busy timeout instead of 'database is locked'.

    The database file is made private (0600) before SQLite first creates it; its -wal and -shm files take the same
    mode. Scrubbed data is checkpointed out of the write-ahead log after the commit that scrubbed it.
    """
    import os

    from sqlalchemy import event
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from .database import checkpoint_after_scrubbing

    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    if path and path != ":memory:" and not os.path.exists(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if not event.contains(Session, "after_commit", checkpoint_after_scrubbing):
        event.listen(Session, "after_commit", checkpoint_after_scrubbing)

    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _pragma(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA journal_mode=WAL")
            # scrubbed addresses and links must not linger in free page space (not every build turns this on)
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()


def register_blueprints(app: Flask) -> None:
    from .admin.routes import blueprint as admin
    from .api.routes import blueprint as api
    from .health import blueprint as health
    from .partners.routes import blueprint as partners
    from .rate_limits import api_limit
    from .sharing.routes import blueprint as sharing
    from .signing.routes import blueprint as signing

    app.register_blueprint(signing)
    app.register_blueprint(sharing)
    app.register_blueprint(partners)
    app.register_blueprint(api)
    app.register_blueprint(admin)
    app.register_blueprint(health)
    csrf.exempt(api)
    limiter.shared_limit(api_limit, scope="api")(api)  # one budget for the whole API


def register_services(app: Flask) -> None:
    """What the services take as values, made once: the lifecycle's keys and limits, the key sealing second-factor
    secrets, the sign form's proof of work, links under BASE_URL, and the caches of the sign form and of emails
    (empty)."""
    from .admin.second_factor import SecretSeal
    from .links import init_links
    from .mail.outbox import init_outbox
    from .signing.page_cache import init_page_cache
    from .signing.proof_of_work import ProofOfWork
    from .statements.policy import Policy

    app.extensions["quorum.policy"] = Policy.from_config(app.config)
    app.extensions["quorum.second_factor_seal"] = SecretSeal.from_secret_key(str(app.config["SECRET_KEY"]))
    app.extensions["quorum.proof_of_work"] = ProofOfWork.from_config(app.config)
    init_links(app)
    init_page_cache(app)
    init_outbox(app)


def register_cli(app: Flask) -> None:
    from .commands import register

    register(app)


def register_error_pages(app: Flask) -> None:
    from .errors import register

    register(app)


def register_access_log(app: Flask) -> None:
    from .access_log import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from .template_helpers import register

    register(app)


def register_languages(app: Flask) -> None:
    from .languages import register

    register(app)


def content_security_policy(frame_ancestors: str = "'none'") -> str:
    """No third-party assets anywhere: scripts, styles, images and forms stay on this origin. Inline style attributes
    are allowed for the progress bars' widths; inline scripts are not. No page may be framed, except the embeddable
    form and counter by the sites listed for their initiative (app/signing/embed.py sets `frame_ancestors`)."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"form-action 'self'; frame-ancestors {frame_ancestors}; base-uri 'none'; object-src 'none'"
    )


CONTENT_SECURITY_POLICY = content_security_policy()


def register_security_headers(app: Flask) -> None:
    from flask import Response

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]:
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config["BASE_URL"].startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
