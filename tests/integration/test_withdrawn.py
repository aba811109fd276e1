"""A withdrawn initiative is shown as withdrawn, with its reason, on its page, the home page and in the JSON API
(whose `status` says `closed`, as CONTRACT.md lists no other value, beside an extra `withdrawn` key); a draft withdrawn
before it was ever published stays hidden everywhere (issue 9, point 6)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from app.initiatives import change_status
from app.models import utctoday

from ..support.factories import make_initiative

REASON = "The Commission adopted a proposal that does what we asked."


def _withdraw(db: Any, slug: str, draft: bool = False, reason: str = REASON) -> None:
    initiative, _ = make_initiative(slug, draft=draft)
    change_status(initiative, "withdrawn", reason, utctoday())
    db.session.commit()


def test_the_public_page_says_withdrawn_and_why(client: FlaskClient, db: Any) -> None:
    _withdraw(db, "gone")
    page = client.get("/i/gone")
    assert page.status_code == 200
    assert 'id="withdrawn-gone"' in page.text
    assert "Withdrawn by its organizers on" in page.text and REASON in page.text
    assert "Collection is over." not in page.text
    assert "/i/gone/sign" not in page.text  # no way to sign


def test_the_home_page_says_withdrawn_and_why(client: FlaskClient, db: Any) -> None:
    _withdraw(db, "gone")
    make_initiative("running")
    home = client.get("/").text
    card = home.split('id="withdrawn-gone"', 1)[1].split("</article>", 1)[0]
    assert REASON in card and "Withdrawn by its organizers on" in home
    assert home.count("Collecting from") == 1  # the running one only


def test_the_api_keeps_the_contracts_status_and_adds_withdrawn(client: FlaskClient, db: Any) -> None:
    _withdraw(db, "gone")
    make_initiative("running")
    body = client.get("/api/v1/initiatives/gone").get_json()
    assert body["status"] == "closed"  # CONTRACT.md: draft, scheduled, collecting, closed, submitted
    assert body["withdrawn"] == {"on": utctoday().isoformat(), "reason": REASON}
    listed = {item["slug"]: item for item in client.get("/api/v1/initiatives").get_json()["initiatives"]}
    assert listed["gone"]["withdrawn"] == body["withdrawn"]
    assert "withdrawn" not in listed["running"]  # the contract's keys exactly, for every other initiative
    assert list(body).index("withdrawn") == list(body).index("status") + 1


def test_a_withdrawal_without_a_reason_says_withdrawn_all_the_same(client: FlaskClient, db: Any) -> None:
    """Initiatives withdrawn before their reason was kept on them (migration 0013) have none to show."""
    _withdraw(db, "old", reason="kept in the audit log only")
    from app.models import Initiative

    initiative = db.session.query(Initiative).filter_by(slug="old").one()
    initiative.withdrawn_reason = ""
    db.session.commit()
    page = client.get("/i/old").text
    assert "Withdrawn by its organizers on" in page and "Their reason" not in page
    assert client.get("/api/v1/initiatives/old").get_json()["withdrawn"]["reason"] == ""


def test_a_draft_withdrawn_before_it_was_published_stays_hidden(client: FlaskClient, db: Any) -> None:
    _withdraw(db, "never-public", draft=True)
    for path in (
        "/i/never-public",
        "/i/never-public/sign",
        "/i/never-public/privacy",
        "/api/v1/initiatives/never-public",
    ):
        assert client.get(path).status_code == 404, path
    assert "never-public" not in client.get("/").text
    assert client.get("/api/v1/initiatives").get_json() == {"initiatives": []}
