"""Behind a load balancer the client's address comes from X-Forwarded-For, and only when proxies are trusted."""

from __future__ import annotations

import sqlalchemy as sa

from app.eci.fingerprint import network_fingerprint as keyed_network
from app.models import Statement

from ..support.factories import make_initiative, part_b


def network_fingerprint(address: str) -> str | None:
    from flask import current_app

    return keyed_network(current_app.extensions["quorum.policy"].fingerprint_key, address)


def _network_of_new_statement(app, forwarded_for: str) -> str | None:  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    client = app.test_client()
    response = client.post(
        f"/i/{initiative.slug}/sign",
        data=part_b(),
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.5"},
    )
    assert response.status_code == 303
    from app.extensions import db

    return db.session.scalar(sa.select(Statement.network_fingerprint))


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(app_factory):  # type: ignore[no-untyped-def]
    from app.extensions import db

    app = app_factory()
    with app.app_context():
        from tests.conftest import _empty_tables

        _empty_tables()
        seen = _network_of_new_statement(app, "203.0.113.7")
        assert seen == network_fingerprint("10.0.0.5")  # a client cannot choose its own address
        db.session.remove()


def test_trusted_proxy_gives_the_client_address(app_factory):  # type: ignore[no-untyped-def]
    from app.extensions import db

    app = app_factory(TRUSTED_PROXIES=1)
    with app.app_context():
        from tests.conftest import _empty_tables

        _empty_tables()
        seen = _network_of_new_statement(app, "203.0.113.7")
        assert seen == network_fingerprint("203.0.113.7")
        assert seen != network_fingerprint("10.0.0.5")
        db.session.remove()
