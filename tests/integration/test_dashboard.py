"""The dashboard equals a recount: statements written straight into the database, counted again here in Python
from the list that wrote them, and compared with every number the page shows."""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import unescape

from app.admin.passwords import hash_password
from app.dashboard import SVG_NS, dashboard_data
from app.initiatives import progress
from app.models import Initiative, OutboxMessage, Quarantine, StaffUser, Statement, utctoday

from ..support.factories import make_initiative, sync_counters

PASSWORD = "correct horse battery staple"
TODAY = utctoday()
START = TODAY - timedelta(days=10)  # the factory's default start
END = START + timedelta(days=300)  # and end


def staff(client, db, role, *initiatives):  # type: ignore[no-untyped-def]
    user = StaffUser(
        email=f"{role}-{secrets.token_hex(3)}@example.org", password_hash=hash_password(PASSWORD), role=role
    )
    user.initiatives = list(initiatives)
    db.session.add(user)
    db.session.commit()
    assert client.post("/admin/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return user


@dataclass(frozen=True)
class Spec:
    country: str
    status: str
    confirmed_at: datetime | None = None
    quarantined: bool = False


def at(days_ago: int, clock: time = time(12, 0)) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), clock)


SPECS = [
    # Germany: 4 confirmed over three days (two at the very edges of a UTC day), 2 pending, 1 quarantined, 1 invalid
    Spec("DE", "confirmed", at(9, time(0, 0, 0))),
    Spec("DE", "confirmed", at(9, time(23, 59, 59, 999999))),
    Spec("DE", "confirmed", at(5)),
    Spec("DE", "confirmed", at(0, time(0, 0, 1))),
    Spec("DE", "pending"),
    Spec("DE", "pending"),
    Spec("DE", "confirmed", at(5), quarantined=True),
    Spec("DE", "invalidated"),
    # France: 2 confirmed, 3 pending, a quarantined pending one
    Spec("FR", "confirmed", at(10)),
    Spec("FR", "confirmed", at(3)),
    Spec("FR", "pending"),
    Spec("FR", "pending"),
    Spec("FR", "pending"),
    Spec("FR", "pending", quarantined=True),
    # Poland: 6 confirmed, two of them quarantined; Malta: only pending; Estonia: only invalidated
    *[Spec("PL", "confirmed", at(n)) for n in (1, 1, 2, 8)],
    Spec("PL", "confirmed", at(1), quarantined=True),
    Spec("PL", "confirmed", at(2), quarantined=True),
    Spec("MT", "pending"),
    Spec("EE", "invalidated"),
]
# Lowered thresholds (a campaign may set its own) so that some states reach theirs and some do not
THRESHOLDS = {"DE": 4, "FR": 50, "PL": 3, "MT": 2}


def insert(db, initiative: Initiative, specs: list[Spec]) -> None:  # type: ignore[no-untyped-def]
    quarantine = Quarantine(initiative_id=initiative.id, criteria="{}", reason="test", created_by="test")
    db.session.add(quarantine)
    db.session.flush()
    for spec in specs:
        db.session.add(
            Statement(
                initiative_id=initiative.id,
                country_code=spec.country,
                status=spec.status,
                identity_fingerprint=secrets.token_hex(32),
                email_fingerprint=secrets.token_hex(32),
                email_slot=1,
                sealed_data=b"x",
                confirmed_at=spec.confirmed_at,
                quarantine_id=quarantine.id if spec.quarantined else None,
            )
        )
    db.session.commit()


def outbox(db, initiative: Initiative | None, status: str, attempts: int) -> None:  # type: ignore[no-untyped-def]
    db.session.add(
        OutboxMessage(
            kind="confirm",
            initiative_id=initiative.id if initiative else None,
            to_address="a@example.org",
            subject="s",
            body_text="b",
            status=status,
            attempts=attempts,
        )
    )


def setup_campaign(db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("counted")
    for country in initiative.countries:
        country.threshold = THRESHOLDS.get(country.country_code, country.threshold)
    initiative.min_countries = 3
    insert(db, initiative, SPECS)
    # noise that must not be counted: another initiative's statements and mail
    other, _ = make_initiative("other")
    insert(db, other, [Spec("DE", "confirmed", at(1)), Spec("FR", "pending")])
    for status, attempts in [
        ("queued", 0),
        ("queued", 0),
        ("queued", 0),
        ("queued", 1),
        ("queued", 4),
        ("sent", 1),
        ("sent", 2),
        ("sent", 1),
        ("sent", 1),
        ("failed", 10),
    ]:
        outbox(db, initiative, status, attempts)
    outbox(db, other, "failed", 3)
    outbox(db, None, "queued", 0)
    db.session.commit()
    # written straight into the table, as no signer could: the counters are set from a recount, as `counters check
    # --repair` would; what is tested here is that the dashboard shows them right
    sync_counters(initiative)
    sync_counters(other)
    return initiative


# --- the independent recount, from SPECS alone ---------------------------------------------------------------------


def counts_by_country() -> dict[str, Counter[str]]:
    result: dict[str, Counter[str]] = {}
    for spec in SPECS:
        bucket = result.setdefault(spec.country, Counter())
        if spec.status == "invalidated":
            bucket["invalidated"] += 1
        elif spec.quarantined:
            bucket["quarantined"] += 1
        else:
            bucket[spec.status] += 1
    return result


def expected_totals() -> dict[str, int]:
    totals: Counter[str] = Counter()
    for bucket in counts_by_country().values():
        totals.update(bucket)
    return {k: totals[k] for k in ("confirmed", "pending", "quarantined", "invalidated")}


def expected_daily() -> list[tuple[date, int]]:
    per_day = Counter(
        s.confirmed_at.date()
        for s in SPECS
        if s.status == "confirmed" and not s.quarantined and s.confirmed_at is not None
    )
    return [(START + timedelta(days=n), per_day.get(START + timedelta(days=n), 0)) for n in range(11)]


def expected_pace(confirmed: int, threshold: int) -> tuple[float, float]:
    elapsed = (TODAY - START).days + 1  # 11: today counts
    left = (END - TODAY).days + 1  # 291: today counts
    return confirmed / elapsed, max(0, threshold - confirmed) / left


# --- reading the page ----------------------------------------------------------------------------------------------


def value_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}" data-value="([^"]*)">(.*?)</dd>', html, re.S)
    assert match, element_id
    return match.group(1)


def table_rows(html: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """[(country, {column: (data-value, shown text)})] in the page's order."""
    table = html.split('id="countries-table"', 1)[1].split("</table>", 1)[0]
    rows = []
    for code, body in re.findall(r'<tr data-country="([A-Z]{2})"[^>]*>(.*?)</tr>', table, re.S):
        cells = {
            col: (value, unescape(text).strip())
            for col, value, text in re.findall(r'data-col="(\w+)" data-value="([^"]*)">([^<]*)<', body)
        }
        rows.append((code, cells))
    return rows


def svg_of(html: str) -> ET.Element:
    markup = re.search(r'<svg [^>]*class="daily-chart".*?</svg>', html, re.S)  # the page has the map's too
    assert markup
    return ET.fromstring(markup.group(0))  # noqa: S314 (our own page)


# --- tests ---------------------------------------------------------------------------------------------------------


def test_dashboard_data_equals_a_recount(app, db):  # type: ignore[no-untyped-def]
    initiative = setup_campaign(db)
    data = dashboard_data(initiative, TODAY)
    totals = expected_totals()
    assert totals == {"confirmed": 10, "pending": 6, "quarantined": 4, "invalidated": 2}  # the fixture is what we think
    assert (data.confirmed, data.pending, data.quarantined, data.invalidated) == tuple(totals.values())
    assert data.confirmation_rate == round(100 * 10 / (10 + 6 + 4), 1)
    by_country = counts_by_country()
    assert data.countries_reached == sum(
        1 for c in initiative.countries if by_country.get(c.country_code, Counter())["confirmed"] >= c.threshold
    )
    assert data.countries_reached == 2  # DE (4 of 4) and PL (4 of 3); FR and MT not
    assert len(data.rows) == 27
    for row in data.rows:
        bucket = by_country.get(row.code, Counter())
        assert (row.confirmed, row.pending, row.quarantined) == (
            bucket["confirmed"],
            bucket["pending"],
            bucket["quarantined"],
        ), row.code
        so_far, needed = expected_pace(row.confirmed, row.threshold)
        assert row.pace.so_far == so_far and row.pace.needed == needed
    assert data.daily == expected_daily()
    assert (data.mail.queued, data.mail.sent, data.mail.retrying, data.mail.failed) == (3, 4, 2, 1)

    # the counters the public pages read are the same ones
    assert progress(initiative).confirmed == data.confirmed
    assert {c.code: c.confirmed for c in progress(initiative).countries} == {r.code: r.confirmed for r in data.rows}


def test_the_page_shows_the_recount(client, db):  # type: ignore[no-untyped-def]
    initiative = setup_campaign(db)
    staff(client, db, "organizer", initiative)
    response = client.get("/admin/initiatives/counted/dashboard")
    assert response.status_code == 200
    html = response.text
    totals = expected_totals()
    for name in ("confirmed", "pending", "quarantined", "invalidated"):
        assert int(value_of(html, f"total-{name}")) == totals[name]
    assert value_of(html, "confirmation-rate") == "50.0"
    assert "50.0&nbsp;%" in html
    assert value_of(html, "countries-reached") == "2"
    assert "2 of the 3 needed" in html
    for name, expected in {"queued": 3, "sent": 4, "retrying": 2, "failed": 1}.items():
        assert int(value_of(html, f"mail-{name}")) == expected

    rows = dict(table_rows(html))
    assert len(rows) == 27
    by_country = counts_by_country()
    for country in initiative.countries:
        cells = rows[country.country_code]
        bucket = by_country.get(country.country_code, Counter())
        for column in ("confirmed", "pending", "quarantined"):
            assert cells[column] == (str(bucket[column]), f"{bucket[column]:,}"), (country.country_code, column)
        assert cells["threshold"] == (str(country.threshold), f"{country.threshold:,}")
        percent = round(100 * bucket["confirmed"] / country.threshold, 1)
        assert float(cells["percent"][0]) == percent and cells["percent"][1] == f"{percent:.1f}\xa0%"
        so_far, needed = expected_pace(bucket["confirmed"], country.threshold)
        assert cells["pace"] == (f"{so_far:.1f}", f"{so_far:.1f}")
        assert cells["needed"] == (f"{needed:.1f}", f"{needed:.1f}")
        state = (
            "reached" if bucket["confirmed"] >= country.threshold else ("on_track" if so_far >= needed else "behind")
        )
        assert cells["state"][0] == state, country.country_code
    # 2 in 11 days (0.18 a day) against 48 more in 291 days (0.16 a day): France is on track; Malta has none yet
    assert [rows[c]["state"][0] for c in ("DE", "PL", "FR", "MT")] == ["reached", "reached", "on_track", "behind"]


def test_the_chart_has_one_bar_a_day_and_a_table_fallback(client, db):  # type: ignore[no-untyped-def]
    initiative = setup_campaign(db)
    staff(client, db, "auditor", initiative)
    html = client.get("/admin/initiatives/counted/dashboard").text
    svg = svg_of(html)
    assert svg.tag == f"{{{SVG_NS}}}svg" and svg.get("role") == "img"
    assert svg.find(f"{{{SVG_NS}}}title").text == "Confirmed statements per day"
    assert "10 confirmed statements in all" in svg.find(f"{{{SVG_NS}}}desc").text
    bars = svg.findall(f".//{{{SVG_NS}}}rect[@class='day']")
    expected = expected_daily()
    assert len(bars) == 11  # from the start date to today, both included
    assert [(b.get("data-date"), int(b.get("data-count"))) for b in bars] == [(d.isoformat(), c) for d, c in expected]
    assert not svg.findall(f".//{{{SVG_NS}}}script") and "<script" not in html
    fallback = html.split('id="daily-table"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<tr data-date="([0-9-]+)"><td>[0-9-]+</td><td class="num">(\d+)</td></tr>', fallback) == [
        (d.isoformat(), str(c)) for d, c in expected
    ]


def test_sort_links_sort_on_the_server(client, db):  # type: ignore[no-untyped-def]
    initiative = setup_campaign(db)
    staff(client, db, "organizer", initiative)
    base = "/admin/initiatives/counted/dashboard"

    def order(query: str) -> list[str]:
        return [code for code, _cells in table_rows(client.get(base + query).text)]

    protocol = [c.country_code for c in initiative.countries]
    assert order("") == protocol
    assert order("?sort=bogus&dir=desc") == protocol
    assert (
        order("?sort=confirmed&dir=desc")[:4]
        == ["DE", "PL", "FR"] + [c for c in protocol if c not in ("DE", "PL", "FR")][:1]
    )
    assert order("?sort=pending&dir=desc")[:3] == ["FR", "DE", "MT"]
    assert order("?sort=percent&dir=desc")[:3] == ["PL", "DE", "FR"]  # 133 %, 100 %, 4 %
    names = {c.country_code: c for c in initiative.countries}
    assert order("?sort=threshold&dir=asc")[:3] == ["MT", "PL", "DE"]  # 2, 3, 4
    by_name = order("?sort=country&dir=asc")
    from app.eci.member_states import member_states

    assert by_name == sorted(names, key=lambda code: member_states()[code].name)
    assert order("?sort=country&dir=desc") == list(reversed(by_name))

    html = client.get(base + "?sort=confirmed&dir=desc").text
    headers = dict(re.findall(r'<a href="([^"]+)" data-sort="(\w+)">', html)[i][::-1] for i in range(8))
    assert unescape(headers["confirmed"]).endswith("sort=confirmed&dir=asc")  # the current column flips
    assert unescape(headers["pending"]).endswith("sort=pending&dir=desc")  # a number: largest first
    assert unescape(headers["country"]).endswith("sort=country&dir=asc")  # a name: A to Z
    assert 'aria-sort="descending"' in html and html.count("aria-sort=") == 1
    # the links lead where they say: following one gives the order it names
    assert order(unescape(headers["confirmed"]).split(base, 1)[1]) == order("?sort=confirmed&dir=asc")


def test_auditors_read_the_dashboard_without_managing(client, db):  # type: ignore[no-untyped-def]
    initiative = setup_campaign(db)
    staff(client, db, "auditor", initiative)
    html = client.get("/admin/initiatives/counted/dashboard").text
    assert "/admin/initiatives/counted/edit" not in html
    assert "<form" not in html.split("<main", 1)[1]  # nothing to change here
    assert client.get("/admin/initiatives/other/dashboard").status_code == 403  # not given to them


def test_an_empty_initiative_before_its_start(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("later", start=TODAY + timedelta(days=7))
    staff(client, db, "admin")
    html = client.get("/admin/initiatives/later/dashboard").text
    assert value_of(html, "total-confirmed") == "0" and value_of(html, "confirmation-rate") == "–"
    svg = svg_of(html)
    assert not svg.findall(f".//{{{SVG_NS}}}rect") and "Collection has not started yet." in html
    rows = dict(table_rows(html))
    assert rows["DE"]["state"][0] == "not_started" and rows["DE"]["pace"][0] == "–"
    assert float(rows["DE"]["needed"][0]) == round(initiative.country("DE").threshold / 301, 1)
    assert client.get("/admin/initiatives/nothing/dashboard").status_code == 404
