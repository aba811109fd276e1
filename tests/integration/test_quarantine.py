"""Quarantine: preview changes nothing; apply sets statements aside and the public counts drop; release brings them
back; a reason is required; every step is audit-logged; a statement confirmed while quarantined counts only after
its release."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.audit.log import verify_chain
from app.models import AuditEntry, Initiative, Quarantine, Statement, utcnow
from app.statements import counters
from app.statements import quarantine as service

from ..support.confirmation import confirm
from ..support.factories import confirmation_url, make_initiative, make_staff, path_of, sign_in_as, sync_counters

T0 = datetime(2026, 3, 1, 12, 0)


def fp(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


class Statements:
    """Inserts statements directly (the signing flow has its own tests) and remembers them by label."""

    def __init__(self, db, initiative: Initiative) -> None:  # type: ignore[no-untyped-def]
        self.db = db
        self.initiative = initiative
        self.ids: dict[str, uuid.UUID] = {}
        self.slots: dict[str, int] = {}

    def add(
        self,
        label: str,
        country: str = "DE",
        status: str = "confirmed",
        *,
        email: str | None = None,
        network: str | None = "net-a",
        created: datetime = T0,
        confirmed: datetime | None = None,
    ) -> None:
        email = email or f"{label}@example.org"
        slot = self.slots[email] = self.slots.get(email, 0) + 1
        statement = Statement(
            initiative_id=self.initiative.id,
            country_code=country,
            status=status,
            identity_fingerprint=fp(label),
            email_fingerprint=fp(email),
            email_slot=slot,
            network_fingerprint=fp(network) if network else None,
            sealed_data=b"sealed",
            created_at=created,
            confirmed_at=(confirmed or created + timedelta(minutes=5)) if status == "confirmed" else None,
        )
        self.db.session.add(statement)
        self.db.session.flush()
        self.ids[label] = statement.id

    def commit(self) -> None:
        sync_counters(self.initiative)
        self.db.session.commit()

    def quarantined(self) -> set[str]:
        self.db.session.expire_all()
        held = set(self.db.session.scalars(sa.select(Statement.id).where(Statement.quarantine_id.is_not(None))))
        return {label for label, id_ in self.ids.items() if id_ in held}


def _public(client, slug: str) -> tuple[int, dict[str, int]]:
    body = client.get(f"/api/v1/initiatives/{slug}").get_json()
    return body["confirmed"], {c["code"]: c["confirmed"] for c in body["countries"] if c["confirmed"]}


def _audit(db, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _counters_match_recount(db, initiative: Initiative) -> None:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    assert counters.check(initiative).ok


@pytest.fixture
def campaign(app, db):  # type: ignore[no-untyped-def]
    """Network "net-a" sent 3 DE and 2 FR confirmed, 1 DE pending and 1 invalidated; "net-b" 2 DE confirmed."""
    initiative, _ = make_initiative("stop-scanning")
    other, _ = make_initiative("other-campaign")
    rows = Statements(db, initiative)
    for i in range(3):
        rows.add(f"de{i}", "DE")
    rows.add("de-pending", "DE", "pending")
    rows.add("de-invalid", "DE", "invalidated")
    rows.add("fr0", "FR")
    rows.add("fr1", "FR")
    rows.add("b0", "DE", network="net-b")
    rows.add("b1", "DE", network="net-b")
    rows.commit()
    elsewhere = Statements(db, other)
    elsewhere.add("x0", "DE")
    elsewhere.commit()
    return initiative, rows, elsewhere


FORM = {"network_mode": "exact", "network_fingerprint": fp("net-a"), "reason": "420 statements in 3 minutes"}


def test_preview_apply_release_move_the_public_counts(app, db, client, campaign):  # type: ignore[no-untyped-def]
    initiative, rows, elsewhere = campaign
    organizer = make_staff(db, "olga@example.org", "organizer", [initiative])
    sign_in_as(client, organizer)
    slug = initiative.slug
    assert _public(client, slug) == (7, {"DE": 5, "FR": 2})

    preview = client.post(f"/admin/initiatives/{slug}/quarantine/preview", data=FORM)
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert 'id="preview-confirmed">5<' in page and 'id="preview-pending">1<' in page
    assert '<tr data-country="DE"><td>Germany (DE)</td><td class="num">3</td><td class="num">1</td></tr>' in page
    assert '<tr data-country="FR"><td>France (FR)</td><td class="num">2</td><td class="num">0</td></tr>' in page
    assert rows.quarantined() == set() and elsewhere.quarantined() == set()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Quarantine)) == 0
    assert _audit(db, "quarantine.apply") == []
    assert _public(client, slug) == (7, {"DE": 5, "FR": 2})

    applied = client.post(f"/admin/initiatives/{slug}/quarantine", data=FORM)
    assert applied.status_code == 302
    assert rows.quarantined() == {"de0", "de1", "de2", "de-pending", "fr0", "fr1"}
    assert elsewhere.quarantined() == set()
    assert _public(client, slug) == (2, {"DE": 2})
    assert _public(client, "other-campaign") == (1, {"DE": 1})
    _counters_match_recount(db, initiative)
    [record] = db.session.scalars(sa.select(Quarantine)).all()
    assert record.statement_count == 6 and record.reason == FORM["reason"] and record.created_by == "olga@example.org"
    [entry] = _audit(db, "quarantine.apply")
    assert (entry.actor, entry.reason, entry.initiative_id) == ("olga@example.org", FORM["reason"], initiative.id)
    details = json.loads(entry.details)
    assert details["statements"] == 6
    assert details["confirmed"] == {"DE": 3, "FR": 2} and details["unconfirmed"] == {"DE": 1}
    assert details["criteria"] == {"network_fingerprint": fp("net-a")}
    listing = client.get(f"/admin/initiatives/{slug}/quarantine").get_data(as_text=True)
    assert f'id="quarantine-{record.id}"' in listing and "5 confirmed, 1 pending" in listing

    released = confirm(
        client,
        f"/admin/initiatives/{slug}/quarantine/{record.id}/release",
        "the burst was a school assembly; checked with the teachers",
    )
    assert released.status_code == 302
    assert rows.quarantined() == set()
    assert _public(client, slug) == (7, {"DE": 5, "FR": 2})
    _counters_match_recount(db, initiative)
    db.session.refresh(record)
    assert record.released_at is not None and record.released_by == "olga@example.org"
    [entry] = _audit(db, "quarantine.release")
    assert entry.reason.startswith("the burst was a school assembly")
    details = json.loads(entry.details)
    assert details["confirmed"] == {"DE": 3, "FR": 2} and details["unconfirmed"] == {"DE": 1}
    assert details["quarantine_reason"] == FORM["reason"]

    again = client.get(f"/admin/initiatives/{slug}/quarantine/{record.id}/release", follow_redirects=True)
    assert "released already" in again.get_data(as_text=True)
    assert _public(client, slug) == (7, {"DE": 5, "FR": 2})
    assert len(_audit(db, "quarantine.release")) == 1
    assert verify_chain().intact


def test_reason_is_required(app, db, client, campaign):  # type: ignore[no-untyped-def]
    initiative, rows, _ = campaign
    sign_in_as(client, make_staff(db, "aud@example.org", "auditor", [initiative]))
    slug = initiative.slug
    response = client.post(f"/admin/initiatives/{slug}/quarantine", data={**FORM, "reason": "   "})
    assert response.status_code == 422
    assert "a reason is required" in response.get_data(as_text=True)
    assert rows.quarantined() == set()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Quarantine)) == 0
    assert _public(client, slug) == (7, {"DE": 5, "FR": 2})
    assert _audit(db, "quarantine.apply") == []

    record, _tally = service.apply(initiative, service.parse_criteria(initiative, FORM), "reason", "aud@example.org")
    db.session.commit()
    response = confirm(client, f"/admin/initiatives/{slug}/quarantine/{record.id}/release", "")
    assert response.status_code == 422 and "say why" in response.get_data(as_text=True)
    assert len(rows.quarantined()) == 6
    assert _public(client, slug) == (2, {"DE": 2})
    assert _audit(db, "quarantine.release") == []


@pytest.mark.parametrize(
    "form, message",
    [
        ({"reason": "no criteria"}, "at least one criterion"),
        ({"country": "US", "reason": "r"}, "does not take part"),
        ({"since": "yesterday", "reason": "r"}, "YYYY-MM-DD"),
        ({"since": "2026-03-02", "until": "2026-03-01", "reason": "r"}, "must come after"),
        ({"network_mode": "exact", "network_fingerprint": "abc", "reason": "r"}, "64 hexadecimal"),
        ({"email_mode": "shared", "email_over": "0", "reason": "r"}, "at least 1"),
        ({"network_mode": "everything", "reason": "r"}, "Choose how to match"),
    ],
)
def test_bad_criteria_change_nothing(app, db, client, campaign, form, message):  # type: ignore[no-untyped-def]
    initiative, rows, _ = campaign
    sign_in_as(client, make_staff(db, "root@example.org", "admin"))
    for path in ("quarantine/preview", "quarantine"):
        response = client.post(f"/admin/initiatives/{initiative.slug}/{path}", data=form)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert rows.quarantined() == set()


def test_apply_that_matches_nothing_is_refused(app, db, client, campaign):  # type: ignore[no-untyped-def]
    initiative, _, _ = campaign
    sign_in_as(client, make_staff(db, "root@example.org", "admin"))
    response = client.post(
        f"/admin/initiatives/{initiative.slug}/quarantine", data={**FORM, "network_fingerprint": fp("net-nobody")}
    )
    assert response.status_code == 422
    assert "nothing was set aside" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Quarantine)) == 0


@pytest.fixture
def mixed(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("mixed")
    rows = Statements(db, initiative)
    rows.add("early", "DE", created=T0 - timedelta(days=2), network="net-1")
    rows.add("morning", "DE", created=T0, confirmed=T0 + timedelta(days=3), network="net-2")
    rows.add("noon", "FR", created=T0 + timedelta(hours=1), network="net-2")
    rows.add("late", "FR", "pending", created=T0 + timedelta(days=1), network="net-2")
    rows.add("household1", "PL", email="home@example.org", network=None)
    rows.add("household2", "PL", email="home@example.org", network="net-3")
    rows.commit()
    return initiative, rows


@pytest.mark.parametrize(
    "form, expected",
    [
        ({"country": "fr"}, {"noon", "late"}),
        ({"since": "2026-03-01", "until": "2026-03-01"}, {"morning", "noon", "household1", "household2"}),
        ({"since": "2026-03-01T12:30"}, {"noon", "late"}),
        ({"until": "2026-03-01T12:00"}, {"early"}),
        ({"window_field": "confirmed_at", "since": "2026-03-03"}, {"morning"}),
        ({"email_mode": "shared", "email_over": "1"}, {"household1", "household2"}),
        ({"email_mode": "exact", "email_fingerprint": fp("early@example.org")}, {"early"}),
        ({"network_mode": "shared", "network_over": "2"}, {"morning", "noon", "late"}),
        ({"network_mode": "shared", "network_over": "3"}, set()),
        ({"network_mode": "shared", "network_over": "1", "country": "DE"}, {"morning"}),
    ],
)
def test_each_criterion_selects(app, db, mixed, form, expected):  # type: ignore[no-untyped-def]
    initiative, rows = mixed
    criteria = service.parse_criteria(initiative, form)
    assert service.preview(initiative, criteria).total == len(expected)
    if expected:
        service.apply(initiative, criteria, "checking the criteria", "test")
    db.session.commit()
    assert rows.quarantined() == expected
    _counters_match_recount(db, initiative)


def test_overlapping_quarantines_keep_their_own_statements(app, db, mixed):  # type: ignore[no-untyped-def]
    initiative, rows = mixed
    first, _ = service.apply(initiative, service.parse_criteria(initiative, {"country": "FR"}), "one", "test")
    second, tally = service.apply(
        initiative,
        service.parse_criteria(initiative, {"network_mode": "exact", "network_fingerprint": fp("net-2")}),
        "two",
        "test",
    )
    db.session.commit()
    assert (tally.confirmed, tally.unconfirmed) == (1, 0)  # only "morning": "noon" and "late" were set aside already
    assert second.statement_count == 1
    _counters_match_recount(db, initiative)
    service.release(initiative, first, "not a problem after all", "test")
    db.session.commit()
    assert rows.quarantined() == {"morning"}
    _counters_match_recount(db, initiative)
    assert [q.held_confirmed for q in service.quarantines(initiative)] == [1, 0]


def test_confirmed_while_quarantined_counts_after_release(app, db, client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    rows = Statements(db, initiative)
    rows.add("waiting", "DE", "pending", created=utcnow())
    rows.commit()
    record, tally = service.apply(initiative, service.parse_criteria(initiative, {"country": "DE"}), "check", "t")
    db.session.commit()
    assert (tally.confirmed, tally.unconfirmed) == (0, 1)

    statement = db.session.get(Statement, rows.ids["waiting"])
    link = path_of(confirmation_url(initiative, statement.id))
    assert client.post(link).status_code == 200
    db.session.refresh(statement)
    assert statement.status == "confirmed" and statement.quarantine_id == record.id
    assert _public(client, initiative.slug) == (0, {})  # set aside: confirming does not count it
    _counters_match_recount(db, initiative)

    tally = service.release(initiative, record, "checked", "t")
    db.session.commit()
    assert (tally.confirmed, tally.unconfirmed) == (1, 0)
    assert _public(client, initiative.slug) == (1, {"DE": 1})
    _counters_match_recount(db, initiative)


def test_shared_fingerprints_are_offered(app, db, client, campaign):  # type: ignore[no-untyped-def]
    initiative, _, _ = campaign
    sign_in_as(client, make_staff(db, "olga@example.org", "organizer", [initiative]))
    page = client.get(f"/admin/initiatives/{initiative.slug}/quarantine").get_data(as_text=True)
    assert fp("net-a")[:16] in page and fp("net-b")[:16] in page
    prefilled = client.get(
        f"/admin/initiatives/{initiative.slug}/quarantine?network_mode=exact&network_fingerprint={fp('net-b')}"
    ).get_data(as_text=True)
    assert f'value="{fp("net-b")}"' in prefilled


@pytest.mark.parametrize(
    "role, given, status",
    [
        ("organizer", True, 200),
        ("auditor", True, 200),
        ("admin", False, 200),
        ("organizer", False, 403),
        ("auditor", False, 403),
        (None, False, 302),
    ],
)
def test_who_may_quarantine(app, db, client, campaign, role, given, status):  # type: ignore[no-untyped-def]
    initiative, rows, _ = campaign
    if role:
        sign_in_as(client, make_staff(db, f"{role}@example.org", role, [initiative] if given else []))
    slug = initiative.slug
    assert client.get(f"/admin/initiatives/{slug}/quarantine").status_code == status
    applied = client.post(f"/admin/initiatives/{slug}/quarantine", data=FORM)
    assert applied.status_code == (302 if status == 200 else status)
    assert bool(rows.quarantined()) == (status == 200)
