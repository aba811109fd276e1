"""`GET /healthz`, what HAProxy asks each app server (deploy/haproxy.cfg): 200 while the database answers, 503 while
it does not, and nothing in it a load balancer's log should not hold."""

from __future__ import annotations

import pytest

import config
from app import create_app

from ..support.postgres import free_port


def test_healthy_when_the_database_answers(client):  # type: ignore[no-untyped-def]
    """Anonymous, outside /admin: a load balancer has no account."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers  # no session: a check every second must not make one


@pytest.mark.fresh_app
def test_unhealthy_when_the_database_is_out_of_reach():  # type: ignore[no-untyped-def]
    """Nothing listens on the port: connection refused, so 503, and the next check asks again (no cached answer)."""
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/quorum"
    app = create_app(config.TestingConfig(), SQLALCHEMY_DATABASE_URI=unreachable)
    client = app.test_client()
    for _ in range(2):
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.get_data(as_text=True) == "database unavailable\n"
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_unhealthy_while_postgresql_restarts_then_healthy_again(client, pg_cluster):  # type: ignore[no-untyped-def]
    assert client.get("/healthz").status_code == 200  # a pooled connection now exists, and goes stale below
    pg_cluster.stop()
    try:
        assert client.get("/healthz").status_code == 503
    finally:
        pg_cluster.start()
    assert client.get("/healthz").status_code == 200
