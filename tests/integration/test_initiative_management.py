"""Initiative management from the browser: create, edit, status flow, and the guards a real campaign needs."""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from app.admin.passwords import hash_password
from app.eci.member_states import member_states
from app.initiatives import add_months
from app.models import AuditEntry, Initiative, StaffUser, Statement, utcnow, utctoday

from ..support.confirmation import confirm
from ..support.factories import make_initiative, sync_counters

PASSWORD = "correct horse battery staple"


def staff(client, db, role, *initiatives):  # type: ignore[no-untyped-def]
    """A staff member of `role`, given `initiatives`, signed in through the real sign-in form."""
    user = StaffUser(
        email=f"{role}-{secrets.token_hex(3)}@example.org", password_hash=hash_password(PASSWORD), role=role
    )
    user.initiatives = list(initiatives)
    db.session.add(user)
    db.session.commit()
    response = client.post("/admin/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return user


def statement(db, initiative, country="DE", status="confirmed"):  # type: ignore[no-untyped-def]
    row = Statement(
        initiative_id=initiative.id,
        country_code=country,
        status=status,
        identity_fingerprint=secrets.token_hex(32),
        email_fingerprint=secrets.token_hex(32),
        email_slot=1,
        sealed_data=b"x",
        confirmed_at=utcnow() if status == "confirmed" else None,
    )
    db.session.add(row)
    db.session.commit()
    sync_counters(initiative)
    return row


def form_of(initiative: Initiative, **changes: object) -> dict[str, object]:
    """The edit form as the page would send it, with `changes` applied."""
    data: dict[str, object] = {
        "title": initiative.title,
        "summary": initiative.summary,
        "collection_start": initiative.collection_start.isoformat(),
        "collection_end": initiative.collection_end.isoformat(),
        "rule_set": initiative.rule_set,
        "goal": str(initiative.goal),
        "min_countries": str(initiative.min_countries),
        "countries": [c.country_code for c in initiative.countries],
        "countries_shown": "1",
    }
    data.update(changes)
    return data


def error_beside(html: str, field: str) -> str:
    """The error message shown beside a field (its id is `<field>-error`)."""
    match = re.search(rf'<p class="error" id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert match, f"no error beside {field}"
    return unescape(match.group(1))


def audit(db, action):  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def reload(db, slug):  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))


# --- create --------------------------------------------------------------------------------------------------------


def test_admin_creates_a_draft_with_all_member_states_by_default(client, db):  # type: ignore[no-untyped-def]
    admin = staff(client, db, "admin")
    page = client.get("/admin/initiatives/new")
    assert page.status_code == 200
    assert page.text.count('name="countries"') == 27
    assert page.text.count(" checked") == 27  # default: all 27 take part

    start = utctoday() + timedelta(days=5)
    response = client.post(
        "/admin/initiatives/new",
        data={
            "slug": "clean-air",
            "title": "Clean air",
            "summary": "**Breathe**",
            "collection_start": start.isoformat(),
            "collection_end": (start + timedelta(days=200)).isoformat(),
            "rule_set": "eci-2020",
            "goal": "1000000",
            "min_countries": "7",
            "countries_shown": "1",
            "countries": list(member_states()),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/initiatives/clean-air/edit")
    initiative = reload(db, "clean-air")
    assert initiative.status == "draft"
    assert len(initiative.countries) == 27
    assert initiative.country("DE").threshold == member_states()["DE"].threshold_705
    [entry] = audit(db, "initiative.create")
    assert entry.actor == admin.email and entry.initiative_id == initiative.id
    assert json.loads(entry.details)["rule_set"] == "eci-2020"


def test_create_with_chosen_member_states(client, db):  # type: ignore[no-untyped-def]
    staff(client, db, "admin")
    start = utctoday()
    response = client.post(
        "/admin/initiatives/new",
        data={
            "slug": "three",
            "title": "Three",
            "collection_start": start.isoformat(),
            "collection_end": (start + timedelta(days=30)).isoformat(),
            "rule_set": "eci-2024",
            "goal": "5000",
            "min_countries": "2",
            "countries_shown": "1",
            "countries": ["PL", "DE", "FR"],
        },
    )
    assert response.status_code == 302
    initiative = reload(db, "three")
    assert [c.country_code for c in initiative.countries] == ["DE", "FR", "PL"]  # the table's order
    assert (initiative.goal, initiative.min_countries) == (5000, 2)


def test_create_shows_each_error_beside_its_field_and_keeps_values(client, db):  # type: ignore[no-untyped-def]
    staff(client, db, "admin")
    make_initiative("taken")
    start = utctoday()
    response = client.post(
        "/admin/initiatives/new",
        data={
            "slug": "taken",
            "title": "Kept <title>",
            "collection_start": start.isoformat(),
            "collection_end": add_months(start, 12).isoformat(),
            "rule_set": "eci-2024",
            "goal": "many",
            "min_countries": "0",
            "countries_shown": "1",
            "countries": ["DE", "AT"],
        },
    )
    assert response.status_code == 422
    html = response.text
    assert "exists already" in error_beside(html, "slug")
    assert "at most 12 months" in error_beside(html, "collection_end")
    assert error_beside(html, "goal") == "Enter a whole number."
    assert 'value="Kept &lt;title&gt;"' in html  # kept, and escaped
    assert 'value="many"' in html
    assert 'id="country-DE" name="countries" value="DE" checked' in html
    assert 'id="country-PL" name="countries" value="PL">' in html  # unticked stays unticked
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Initiative)) == 1
    assert audit(db, "initiative.create") == []


@pytest.mark.parametrize(
    ("countries", "min_countries", "field", "message"),
    [
        ([], "1", "countries", "at least one member state"),
        (["DE", "FR"], "3", "min_countries", "more than the 2 taking part"),
        (["DE", "XX"], "1", "countries", "not member states: XX"),
    ],
)
def test_create_refuses_impossible_member_state_choices(client, db, countries, min_countries, field, message):  # type: ignore[no-untyped-def]
    staff(client, db, "admin")
    start = utctoday()
    response = client.post(
        "/admin/initiatives/new",
        data={
            "slug": "bad",
            "title": "Bad",
            "collection_start": start.isoformat(),
            "collection_end": (start + timedelta(days=10)).isoformat(),
            "rule_set": "eci-2024",
            "goal": "10",
            "min_countries": min_countries,
            "countries_shown": "1",
            "countries": countries,
        },
    )
    assert response.status_code == 422
    assert message in error_beside(response.text, field)


def test_organizers_edit_only_what_they_were_given_and_do_not_create(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("given")
    make_initiative("not-given")
    staff(client, db, "organizer", initiative)
    assert client.get("/admin/initiatives/new").status_code == 403
    assert client.post("/admin/initiatives/new", data={"slug": "x"}).status_code == 403
    assert client.get("/admin/initiatives/given/edit").status_code == 200
    assert client.get("/admin/initiatives/not-given/edit").status_code == 403
    assert (
        client.post("/admin/initiatives/not-given/status", data={"status": "closed", "reason": "x"}).status_code == 403
    )
    assert reload(db, "not-given").status == "collecting"
    assert client.get("/admin/initiatives/nothing-here/edit").status_code == 404
    index = client.get("/admin/").text
    assert "/admin/initiatives/given/edit" in index and "not-given" not in index
    assert "/admin/initiatives/new" not in index


def test_auditors_cannot_manage(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("given")
    staff(client, db, "auditor", initiative)
    assert client.get("/admin/initiatives/given/edit").status_code == 403
    assert client.post("/admin/initiatives/given/edit", data=form_of(initiative, title="x")).status_code == 403
    assert client.post("/admin/initiatives/given/status", data={"status": "closed", "reason": "x"}).status_code == 403
    assert reload(db, "given").status == "collecting" and reload(db, "given").title != "x"
    index = client.get("/admin/").text
    assert "/admin/initiatives/given/dashboard" in index and "/edit" not in index


def test_anonymous_is_sent_to_sign_in(client, db):  # type: ignore[no-untyped-def]
    make_initiative("given")
    response = client.get("/admin/initiatives/given/edit")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert client.post("/admin/initiatives/given/status", data={"status": "closed", "reason": "x"}).status_code == 302
    assert reload(db, "given").status == "collecting"


# --- edit and its guards -------------------------------------------------------------------------------------------


def test_everything_may_change_before_collection_starts(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("early", start=utctoday() + timedelta(days=20))  # scheduled, no statements
    user = staff(client, db, "organizer", initiative)
    new_start = utctoday() + timedelta(days=30)
    response = client.post(
        "/admin/initiatives/early/edit",
        data=form_of(
            initiative,
            title="Early bird",
            rule_set="eci-2020",
            goal="2000",
            min_countries="2",
            collection_start=new_start.isoformat(),
            collection_end=(new_start + timedelta(days=100)).isoformat(),
            countries=["AT", "BE", "PL"],
        ),
    )
    assert response.status_code == 302
    initiative = reload(db, "early")
    assert initiative.title == "Early bird" and initiative.rule_set == "eci-2020"
    assert (initiative.goal, initiative.min_countries, initiative.collection_start) == (2000, 2, new_start)
    order = [c for c in member_states() if c in {"AT", "BE", "PL"}]  # the table's order, whatever the form's
    assert [(c.country_code, c.position) for c in initiative.countries] == [(code, n) for n, code in enumerate(order)]
    assert all(c.threshold == member_states()[c.country_code].threshold_705 for c in initiative.countries)
    [entry] = audit(db, "initiative.update")
    details = json.loads(entry.details)
    assert entry.actor == user.email
    assert details["rule_set"] == ["eci-2024", "eci-2020"]
    assert details["countries"][1] == order
    assert "summary" not in details  # unchanged fields are not logged


FROZEN_CHANGES = [
    ("rule_set", "eci-2020"),
    ("goal", "999"),
    ("min_countries", "3"),
    ("countries", ["DE", "FR", "IT", "PL", "AT", "BE", "NL"]),
]


@pytest.mark.parametrize(("field", "value"), FROZEN_CHANGES)
def test_rules_are_frozen_once_collection_started(client, db, field, value):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("running")  # collecting since 10 days
    staff(client, db, "organizer", initiative)
    before = [(c.country_code, c.threshold) for c in initiative.countries]
    response = client.post("/admin/initiatives/running/edit", data=form_of(initiative, **{field: value}))
    assert response.status_code == 422
    assert "frozen" in error_beside(response.text, field)
    initiative = reload(db, "running")
    assert initiative.rule_set == "eci-2024" and initiative.goal == 1_000_000 and initiative.min_countries == 7
    assert [(c.country_code, c.threshold) for c in initiative.countries] == before
    assert audit(db, "initiative.update") == []


@pytest.mark.parametrize(("field", "value"), FROZEN_CHANGES)
def test_rules_are_frozen_once_a_statement_exists(client, db, field, value):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("signed-early", start=utctoday() + timedelta(days=3))  # not started yet
    statement(db, initiative, status="pending")
    staff(client, db, "admin")
    response = client.post("/admin/initiatives/signed-early/edit", data=form_of(initiative, **{field: value}))
    assert response.status_code == 422
    assert "frozen" in error_beside(response.text, field)


def test_frozen_page_disables_the_frozen_fields(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("running")
    staff(client, db, "organizer", initiative)
    html = client.get("/admin/initiatives/running/edit").text
    assert re.search(r'<select id="rule_set" name="rule_set"[^>]* disabled[ >]', html)
    assert re.search(r'<input id="goal" name="goal"[^>]* disabled[ >]', html)
    assert re.search(r'<input id="collection_start" name="collection_start"[^>]* disabled[ >]', html)
    assert '<fieldset id="countries" disabled' in html
    assert 'name="countries_shown"' not in html
    # what the page sends (disabled fields are left out) is accepted and changes only what may change
    response = client.post(
        "/admin/initiatives/running/edit",
        data={"title": "Renamed", "summary": "", "collection_end": initiative.collection_end.isoformat()},
    )
    assert response.status_code == 302
    assert reload(db, "running").title == "Renamed"


def test_start_date_cannot_move_once_collection_started(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("running")
    staff(client, db, "organizer", initiative)
    moved = initiative.collection_start + timedelta(days=1)
    response = client.post(
        "/admin/initiatives/running/edit", data=form_of(initiative, collection_start=moved.isoformat())
    )
    assert response.status_code == 422
    assert "cannot move" in error_beside(response.text, "collection_start")
    assert f'value="{moved.isoformat()}"' in response.text  # the typed value is kept
    assert reload(db, "running").collection_start == initiative.collection_start


def test_start_date_may_move_before_collection_even_with_a_published_initiative(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("soon", start=utctoday() + timedelta(days=3))
    staff(client, db, "organizer", initiative)
    moved = utctoday() + timedelta(days=4)
    response = client.post("/admin/initiatives/soon/edit", data=form_of(initiative, collection_start=moved.isoformat()))
    assert response.status_code == 302
    assert reload(db, "soon").collection_start == moved


def test_end_date_guards(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("running")
    start = initiative.collection_start
    staff(client, db, "organizer", initiative)
    limit = add_months(start, 12)
    too_late = client.post(
        "/admin/initiatives/running/edit", data=form_of(initiative, collection_end=limit.isoformat())
    )
    assert too_late.status_code == 422
    assert f"must be before {limit.isoformat()}" in error_beside(too_late.text, "collection_end")
    past = client.post(
        "/admin/initiatives/running/edit",
        data=form_of(initiative, collection_end=(utctoday() - timedelta(days=1)).isoformat()),
    )
    assert past.status_code == 422
    assert "close the initiative instead" in error_beside(past.text, "collection_end")
    garbage = client.post("/admin/initiatives/running/edit", data=form_of(initiative, collection_end="31/12/2026"))
    assert garbage.status_code == 422
    assert error_beside(garbage.text, "collection_end") == "Enter a date as YYYY-MM-DD."
    # the last day allowed: the day before the same date 12 months later
    ok = client.post(
        "/admin/initiatives/running/edit",
        data=form_of(initiative, collection_end=(limit - timedelta(days=1)).isoformat()),
    )
    assert ok.status_code == 302
    assert reload(db, "running").collection_end == limit - timedelta(days=1)
    [entry] = audit(db, "initiative.update")
    assert json.loads(entry.details)["end"][1] == (limit - timedelta(days=1)).isoformat()


def test_an_unchanged_form_logs_nothing(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("running")
    staff(client, db, "organizer", initiative)
    assert client.post("/admin/initiatives/running/edit", data=form_of(initiative)).status_code == 302
    assert audit(db, "initiative.update") == []


# --- the status flow -----------------------------------------------------------------------------------------------


def post_status(client, slug, status, reason="because"):  # type: ignore[no-untyped-def]
    """As a staff member changes it: the edit page's form opens the confirmation page, whose button changes it."""
    return confirm(client, f"/admin/initiatives/{slug}/status", reason, query={"status": status})


def test_publishing_needs_the_auditor_key(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("keyless", draft=True, with_key=False)
    staff(client, db, "organizer", initiative)
    page = client.get("/admin/initiatives/keyless/edit").text
    assert "keys generate --initiative keyless" in page
    assert re.search(r'id="status-collecting" name="status" value="collecting" disabled', page)
    response = post_status(client, "keyless", "collecting", "launch")
    assert response.status_code == 422  # refused before the confirmation page
    assert "keys generate --initiative keyless --out FILE" in error_beside(response.text, "status")
    assert 'id="status-collecting" name="status" value="collecting" checked' in response.text  # the choice is kept
    forced = client.post("/admin/initiatives/keyless/status", data={"status": "collecting", "reason": "launch"})
    assert forced.status_code == 422 and "keys generate" in error_beside(forced.text, "status")
    assert reload(db, "keyless").status == "draft"
    assert audit(db, "initiative.status") == []


def test_the_whole_status_flow_each_step_with_a_reason(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(
        "flow", draft=True, start=utctoday() - timedelta(days=40), end=utctoday() + timedelta(days=5)
    )
    user = staff(client, db, "organizer", initiative)

    missing_reason = post_status(client, "flow", "collecting", "  ")
    assert missing_reason.status_code == 422
    assert "say why" in error_beside(missing_reason.text, "reason")

    assert post_status(client, "flow", "collecting", "launch day").status_code == 302
    assert reload(db, "flow").status == "collecting"
    early = post_status(client, "flow", "submitted")
    assert early.status_code == 422 and "close it before submitting" in error_beside(early.text, "status")
    back = post_status(client, "flow", "draft")
    assert back.status_code == 422 and "cannot go back to draft" in error_beside(back.text, "status")

    assert post_status(client, "flow", "closed", "closing early").status_code == 302
    assert post_status(client, "flow", "collecting", "closed by mistake").status_code == 302
    assert post_status(client, "flow", "closed", "closing early, really").status_code == 302
    assert post_status(client, "flow", "submitted", "sent to the Commission").status_code == 302
    initiative = reload(db, "flow")
    assert initiative.status == "submitted" and initiative.submitted_at is not None

    for target in ("collecting", "closed", "draft", "withdrawn"):
        refused = post_status(client, "flow", target)
        assert refused.status_code == 422
        assert "was submitted" in error_beside(refused.text, "status")
    edit = client.post("/admin/initiatives/flow/edit", data=form_of(initiative, title="Other"))
    assert edit.status_code == 422 and "cannot be changed" in edit.text
    assert reload(db, "flow").status == "submitted"

    entries = audit(db, "initiative.status")
    assert [(json.loads(e.details)["from"], json.loads(e.details)["to"], e.reason) for e in entries] == [
        ("draft", "collecting", "launch day"),
        ("collecting", "closed", "closing early"),
        ("closed", "collecting", "closed by mistake"),
        ("collecting", "closed", "closing early, really"),
        ("closed", "submitted", "sent to the Commission"),
    ]
    assert {e.actor for e in entries} == {user.email}


def test_unpublish_only_before_collection_and_without_statements(client, db):  # type: ignore[no-untyped-def]
    scheduled, _ = make_initiative("scheduled", start=utctoday() + timedelta(days=3))
    signed, _ = make_initiative("signed", start=utctoday() + timedelta(days=3))
    statement(db, signed, status="pending")
    staff(client, db, "admin")
    assert post_status(client, "scheduled", "draft", "not ready").status_code == 302
    assert reload(db, "scheduled").status == "draft"
    refused = post_status(client, "signed", "draft", "not ready")
    assert refused.status_code == 422 and "cannot go back to draft" in error_beside(refused.text, "status")


def test_collection_over_by_date_may_be_submitted_and_reopening_needs_time_left(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("ended", start=utctoday() - timedelta(days=100), end=utctoday() - timedelta(days=1))
    staff(client, db, "organizer", initiative)
    assert post_status(client, "ended", "closed", "period over").status_code == 302
    reopen = post_status(client, "ended", "collecting", "more please")
    assert reopen.status_code == 422 and "end date has passed" in error_beside(reopen.text, "status")
    assert post_status(client, "ended", "submitted", "done").status_code == 302


def test_withdrawal_is_final(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("gone")
    staff(client, db, "organizer", initiative)
    assert post_status(client, "gone", "withdrawn", "the Commission acted already").status_code == 302
    initiative = reload(db, "gone")
    assert initiative.status == "withdrawn" and initiative.withdrawn_at is not None
    refused = post_status(client, "gone", "collecting")
    assert refused.status_code == 422 and "was withdrawn" in error_beside(refused.text, "status")
    unknown = post_status(client, "gone", "archived")
    assert unknown.status_code == 422


def test_unknown_status_is_refused(client, db):  # type: ignore[no-untyped-def]
    make_initiative("running")
    staff(client, db, "admin")
    response = post_status(client, "running", "archived")
    assert response.status_code == 422
    assert "unknown status" in error_beside(response.text, "status")
    assert reload(db, "running").status == "collecting"


# --- the summary is Markdown, rendered safely ----------------------------------------------------------------------

HOSTILE = (
    "**Clean** air for [everyone](https://example.org/air).\n\n"
    "<script>alert('x')</script>\n\n"
    "[click me](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    '<img src=x onerror="alert(2)">\n'
)


def test_summary_markdown_is_rendered_safely(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("md")
    staff(client, db, "organizer", initiative)
    assert client.post("/admin/initiatives/md/edit", data=form_of(initiative, summary=HOSTILE)).status_code == 302
    assert reload(db, "md").summary == HOSTILE  # stored as typed

    for page in (client.get("/admin/initiatives/md/edit").text, client.get("/i/md").text):
        rendered = page.split('class="summary"', 1)[1].split("</div>", 1)[0]
        assert "<strong>Clean</strong>" in rendered
        assert '<a href="https://example.org/air">everyone</a>' in rendered
        assert "<script" not in rendered and "&lt;script&gt;alert" in rendered  # shown as text
        assert "<img" not in rendered and "&lt;img" in rendered
        assert re.findall(r'href="([^"]*)"', rendered) == ["https://example.org/air"]  # no javascript:, no data:
        assert "[click me](javascript:alert(1))" in unescape(rendered)  # the refused link stays visible text
