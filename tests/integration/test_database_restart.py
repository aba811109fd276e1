"""PostgreSQL restarting under a running app and mail worker: requests meanwhile get a clear 503 and lose nothing
already accepted; afterwards the same app objects carry on (stale connections are replaced, not reused)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.mail import delivery
from app.models import Statement

from ..support.factories import confirm_link, make_initiative, part_b, path_of

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_signing_and_mail_survive_a_database_restart(mail_app, client, smtp, db, pg_cluster):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("restart")
    slug = initiative.slug
    assert client.post(f"/i/{slug}/sign", data=part_b()).status_code == 303
    db.session.remove()

    pg_cluster.stop()
    try:
        down = client.post(
            f"/i/{slug}/sign", data=part_b(first_names="Jan", id_number="02070803628", email="j@example.org")
        )
        assert down.status_code == 503
        assert "Nothing you entered was stored" in down.get_data(as_text=True)
        assert down.headers["Retry-After"] == "30"
        assert client.get(f"/api/v1/initiatives/{slug}").status_code == 503

        lines: list[str] = []
        rounds = iter(range(2))
        delivery.run_forever(0, echo=lines.append, should_stop=lambda: next(rounds, None) is None)
        assert lines == ["mail: database unavailable (OperationalError); retrying"] * 2  # the worker waits it out
    finally:
        pg_cluster.start()

    # the accepted statement and its queued mail are still there; the worker delivers, the signer confirms
    report = delivery.deliver_due(echo=lambda _line: None)
    assert report.sent == 1
    [message] = smtp.to("agnieszka@example.org")
    assert client.post(path_of(confirm_link(message))).status_code == 200
    assert (
        client.post(
            f"/i/{slug}/sign", data=part_b(first_names="Jan", id_number="02070803628", email="j@example.org")
        ).status_code
        == 303
    )
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 2
    assert client.get(f"/api/v1/initiatives/{slug}").get_json()["confirmed"] == 1
