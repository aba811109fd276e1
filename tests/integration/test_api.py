"""The public counts as JSON, exactly as CONTRACT.md ("Public counts, as JSON") names them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.eci.member_states import member_states
from app.mail.delivery import deliver_due
from app.models import InitiativeCountry, utctoday

from ..support.factories import confirm_link, make_initiative, part_a, part_b, path_of

SUMMARY_KEYS = [
    "slug",
    "title",
    "status",
    "collection_start",
    "collection_end",
    "goal",
    "min_countries",
    "confirmed",
    "countries_reached",
    "as_of",
]
DETAIL_KEYS = SUMMARY_KEYS[:-1] + ["countries", "as_of"]
COUNTRY_KEYS = ["code", "name", "confirmed", "threshold", "reached"]
AS_OF = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _public_headers(response) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.mimetype == "application/json"
    cache = response.headers["Cache-Control"]
    max_age = re.search(r"max-age=(\d+)", cache)
    assert max_age, cache
    assert 0 < int(max_age.group(1)) <= 60
    assert "no-store" not in cache


def test_detail_shape_and_order(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(title="Stop scanning our messages")
    response = client.get(f"/api/v1/initiatives/{initiative.slug}")
    assert response.status_code == 200
    _public_headers(response)
    body = response.get_json()
    assert list(body) == DETAIL_KEYS
    assert list(re.findall(r'"(\w+)":', response.get_data(as_text=True))[:9]) == DETAIL_KEYS[:9]  # order on the wire
    assert body["slug"] == initiative.slug
    assert body["title"] == "Stop scanning our messages"
    assert body["status"] == "collecting"
    assert body["collection_start"] == initiative.collection_start.isoformat()
    assert body["collection_end"] == initiative.collection_end.isoformat()
    assert (body["goal"], body["min_countries"]) == (1_000_000, 7)
    assert (body["confirmed"], body["countries_reached"]) == (0, 0)
    assert AS_OF.match(body["as_of"])

    states = member_states()
    assert [c["code"] for c in body["countries"]] == list(states)
    assert len(body["countries"]) == 27
    for country in body["countries"]:
        assert list(country) == COUNTRY_KEYS
        state = states[country["code"]]
        assert country["name"] == state.name
        assert country["threshold"] == state.threshold_720
        assert (country["confirmed"], country["reached"]) == (0, False)
    assert body["countries"][0] == {
        "code": "BE",
        "name": "Belgium",
        "confirmed": 0,
        "threshold": 15840,
        "reached": False,
    }


def test_list_shape(client):  # type: ignore[no-untyped-def]
    make_initiative("first")
    make_initiative("second", start=utctoday() - timedelta(days=5))
    make_initiative("hidden", draft=True)
    response = client.get("/api/v1/initiatives")
    assert response.status_code == 200
    _public_headers(response)
    body = response.get_json()
    assert list(body) == ["initiatives"]
    assert sorted(i["slug"] for i in body["initiatives"]) == ["first", "second"]
    for item in body["initiatives"]:
        assert list(item) == SUMMARY_KEYS
        assert AS_OF.match(item["as_of"])
    again = client.get("/api/v1/initiatives").get_json()
    assert [i["slug"] for i in again["initiatives"]] == [i["slug"] for i in body["initiatives"]]


def test_counts_follow_confirmations_and_order_is_stable(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    signers = [
        part_a(),
        part_b(),
        part_a(country="FR", residence_country="FR", email="fr@example.org"),
        part_a(first_names="Jonas", email="jonas@example.org"),
    ]
    for data in signers:
        assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    deliver_due(echo=lambda _line: None)
    before = client.get(f"/api/v1/initiatives/{initiative.slug}").get_json()
    assert before["confirmed"] == 0  # pending statements do not count
    for data in signers[:3]:
        assert client.post(path_of(confirm_link(smtp.to(data["email"])[0]))).status_code == 200

    body = client.get(f"/api/v1/initiatives/{initiative.slug}").get_json()
    assert body["confirmed"] == 3 == sum(c["confirmed"] for c in body["countries"])
    assert {c["code"]: c["confirmed"] for c in body["countries"] if c["confirmed"]} == {"DE": 1, "PL": 1, "FR": 1}
    assert [c["code"] for c in body["countries"]] == [c["code"] for c in before["countries"]]
    [listed] = client.get("/api/v1/initiatives").get_json()["initiatives"]
    assert listed["confirmed"] == 3


@pytest.mark.counters_edited  # the API reads counters set here by hand
def test_reached_and_countries_reached(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(rule_set="eci-2020")
    for code, extra in (("MT", 0), ("LU", 5), ("CY", -1)):
        country = db.session.get(InitiativeCountry, (initiative.id, code))
        country.confirmed_count = country.threshold + extra
    db.session.commit()
    body = client.get(f"/api/v1/initiatives/{initiative.slug}").get_json()
    by_code = {c["code"]: c for c in body["countries"]}
    assert by_code["MT"] == {"code": "MT", "name": "Malta", "confirmed": 4230, "threshold": 4230, "reached": True}
    assert by_code["LU"]["reached"] is True
    assert by_code["CY"]["reached"] is False
    assert body["countries_reached"] == 2
    assert body["confirmed"] == 4230 + 4235 + 4229
    assert by_code["DE"]["threshold"] == 67680  # the 705-seat table


def test_only_the_initiatives_member_states(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(countries=["pl", "DE", "AT"], min_countries=2)
    body = client.get(f"/api/v1/initiatives/{initiative.slug}").get_json()
    assert [c["code"] for c in body["countries"]] == ["DE", "AT", "PL"]  # the table's order, not the caller's


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ("scheduled", "scheduled"),
        ("collecting", "collecting"),
        ("ended", "closed"),
        ("closed", "closed"),
        ("submitted", "submitted"),
    ],
)
def test_status_values(client, db, how, status):  # type: ignore[no-untyped-def]
    today = utctoday()
    if how == "scheduled":
        initiative, _ = make_initiative(start=today + timedelta(days=1))
    elif how == "ended":
        initiative, _ = make_initiative(start=today - timedelta(days=100), end=today - timedelta(days=1))
    else:
        initiative, _ = make_initiative()
        if how != "collecting":
            initiative.status = how
            db.session.commit()
    assert client.get(f"/api/v1/initiatives/{initiative.slug}").get_json()["status"] == status
    [listed] = client.get("/api/v1/initiatives").get_json()["initiatives"]
    assert listed["status"] == status


def test_draft_is_hidden(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(draft=True)
    assert client.get("/api/v1/initiatives").get_json() == {"initiatives": []}
    response = client.get(f"/api/v1/initiatives/{initiative.slug}")
    assert response.status_code == 404
    assert response.get_json()["error"]
    initiative.status = "collecting"
    db.session.commit()
    assert client.get(f"/api/v1/initiatives/{initiative.slug}").status_code == 200


@pytest.mark.parametrize("slug", ["no-such-thing", "UPPER", "%00", "a" * 300, "..%2F..%2Fetc"])
def test_unknown_slug_is_a_json_404(client, slug):  # type: ignore[no-untyped-def]
    make_initiative()
    response = client.get(f"/api/v1/initiatives/{slug}")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert body["status"] == 404
    assert isinstance(body["error"], str) and body["error"]


def test_other_errors_are_json_too(client):  # type: ignore[no-untyped-def]
    for response, status in ((client.post("/api/v1/initiatives"), 405), (client.get("/api/v1/nothing-here"), 404)):
        assert response.status_code == status
        assert response.get_json()["status"] == status
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_cross_origin_read(client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    response = client.get(f"/api/v1/initiatives/{initiative.slug}", headers={"Origin": "https://campaign.example"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in response.headers  # nothing personal, nothing to share with the embedding site


@pytest.mark.counters_edited  # the API reads counters set here by hand
def test_api_counts_match_the_database(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    db.session.execute(
        sa.update(InitiativeCountry)
        .where(InitiativeCountry.initiative_id == initiative.id)
        .values(confirmed_count=InitiativeCountry.position)
    )
    db.session.commit()
    body = client.get(f"/api/v1/initiatives/{initiative.slug}").get_json()
    assert [c["confirmed"] for c in body["countries"]] == list(range(27))
    assert body["confirmed"] == sum(range(27))


def test_cors_preflight_is_answered(client):  # type: ignore[no-untyped-def]
    response = client.options(
        "/api/v1/initiatives", headers={"Origin": "https://campaign.example", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
