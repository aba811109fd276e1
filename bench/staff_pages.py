"""The staff pages at 1,000 and at 1,000,000 statements (issue 10, point 2: 1M/1k latency <= 1.5 for the dashboard, the
audit log, the quarantine preview and the API).

    python -m bench.staff_pages [--small 1000] [--large 1000000] [--views 30] [--database postgresql|sqlite|both]

Two initiatives' worth of data, one database each, seeded in bulk with the same mix and shape at both sizes:

- statements spread evenly over the last 300 days, in the member states by population (Germany 17%, France 15%, ...
  Malta 1%); 78% confirmed, 15% pending, 5% lapsed, 2% invalidated; one address in 50 shared by a household; five
  statements to a network (/24), and a burst of 60 from one network in the last minutes; 1% set aside by a
  quarantine, and a second quarantine released;
- subscribers for 30% of them (confirmed ones active, a few unsubscribed or bounced; the others waiting);
- a confirmation email for every statement of the last 30 days (older ones are gone by retention): 93% sent, the
  rest queued, retrying, failed or bounced;
- one audit entry for every ten statements, as a valid chain;

then `counters.repair(counters.check(...))` sets every counter and tally from a recount (as `counters check --repair`
would), and PostgreSQL gets a VACUUM ANALYZE, as autovacuum would give tables that size. An admin, signed in, then views
in turn, on the small and on the large database alike (so that whatever else the machine does weighs on both): the
dashboard, the initiative's audit log page, the quarantine page, previews of two typical criteria (one member state,
created or confirmed in the last 24 hours), a preview of a shared-fingerprint criterion (networks used by more than 20
statements), a broad preview (one member state, no window: 17% of the statements match; it counts its answer, so it is
not expected to stay flat), the public JSON API's detail and the public initiative page. Prints medians, the 1M/1k
ratios and a JSON line; `figures()` gives bench's table its rows (PostgreSQL only, a durable cluster as the other
benchmarks use).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from bench.machine import describe  # noqa: E402
from bench.table import Measured  # noqa: E402

TARGET = 1.5
SLUG = "bench-staff"
DAYS = 300
MAIL_DAYS = 30  # retention keeps delivered mail 30 days
BURST = 60  # statements from one network in the last minutes
SHARED_OVER = 20  # the shared-fingerprint criterion: networks used by more than this many statements
PER_NETWORK = 5
AUDIT_EVERY = 10

# member states per 100 statements, roughly by population
WEIGHTS = {
    "DE": 17, "FR": 15, "IT": 13, "ES": 11, "PL": 8, "RO": 4, "NL": 4, "BE": 3, "CZ": 2, "SE": 2, "PT": 2, "GR": 2,
    "HU": 2, "AT": 2, "BG": 1, "DK": 1, "FI": 1, "SK": 1, "IE": 1, "HR": 1, "LT": 1, "SI": 1, "LV": 1, "EE": 1,
    "CY": 1, "LU": 1, "MT": 1,
}  # fmt: skip
COUNTRIES = "".join(code * weight for code, weight in WEIGHTS.items())
assert len(COUNTRIES) == 200

# The pages, in the order each round views them: (name, method, path, form). `{slug}` is the initiative's.
PAGES: list[tuple[str, str, str]] = [
    ("dashboard", "GET", "/admin/initiatives/{slug}/dashboard"),
    ("audit_log", "GET", "/admin/audit?initiative={slug}"),
    ("quarantine_page", "GET", "/admin/initiatives/{slug}/quarantine"),
    ("quarantine_preview", "POST", "/admin/initiatives/{slug}/quarantine/preview"),
    ("quarantine_preview_confirmed", "POST", "/admin/initiatives/{slug}/quarantine/preview"),
    ("quarantine_preview_shared", "POST", "/admin/initiatives/{slug}/quarantine/preview"),
    ("quarantine_preview_broad", "POST", "/admin/initiatives/{slug}/quarantine/preview"),
    ("api", "GET", "/api/v1/initiatives/{slug}"),
    ("public_page", "GET", "/i/{slug}"),
]


# --- seeding: set-based SQL, the same shape at every size -------------------------------------------------------------


def _expressions(dialect: str) -> dict[str, str]:
    """SQL for one statement number `n`: its fingerprints, times and blob, as each database writes them."""
    if dialect == "postgresql":
        return {
            "series": "generate_series(1, CAST(:count AS bigint)) AS seq(n)",
            "identity": "md5('i' || n) || md5('j' || n)",
            "email": "md5('e' || (n - CASE WHEN n % 50 = 0 THEN 1 ELSE 0 END)) "
            "|| md5('f' || (n - CASE WHEN n % 50 = 0 THEN 1 ELSE 0 END))",
            "network": "CASE WHEN n > :count - :burst THEN md5('burst') || md5('burst') "
            "ELSE md5('n' || (n % :networks)) || md5('o' || (n % :networks)) END",
            "created": "CAST(:start AS timestamp) + (n - 1) * CAST(:step AS double precision) * interval '1 second'",
            "confirmed": "CAST(:start AS timestamp) + ((n - 1) * CAST(:step AS double precision) + 3600) "
            "* interval '1 second'",
            "blob": "decode(repeat(md5(n::text), 12), 'hex')",
            "uuid": "gen_random_uuid()",
        }
    return {
        "series": "seq",
        "identity": "printf('i%063d', n)",
        "email": "printf('e%063d', n - CASE WHEN n % 50 = 0 THEN 1 ELSE 0 END)",
        "network": "CASE WHEN n > :count - :burst THEN printf('b%063d', 0) ELSE printf('n%063d', n % :networks) END",
        "created": "datetime(:start, '+' || CAST((n - 1) * :step AS INTEGER) || ' seconds')",
        "confirmed": "datetime(:start, '+' || CAST((n - 1) * :step + 3600 AS INTEGER) || ' seconds')",
        "blob": "randomblob(192)",
        "uuid": "lower(hex(randomblob(16)))",
    }


# n -> k = (n * 37) % 100 decides the status: 0-77 confirmed, 78-92 pending, 93-97 lapsed, 98-99 invalidated
STATUS = (
    "CASE WHEN (n * 37) % 100 < 78 THEN 'confirmed' WHEN (n * 37) % 100 < 93 THEN 'pending' "
    "WHEN (n * 37) % 100 < 98 THEN 'lapsed' ELSE 'invalidated' END"
)


def _with_series(dialect: str, sql: str) -> str:
    if dialect == "postgresql":
        return sql
    return "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :count) " + sql  # noqa: S608


def _statements_sql(dialect: str) -> str:
    e = _expressions(dialect)
    return _with_series(
        dialect,
        "INSERT INTO statement (id, initiative_id, country_code, status, identity_fingerprint, email_fingerprint, "  # noqa: S608
        "email_slot, network_fingerprint, sealed_data, emails_sent, locale, created_at, link_sent_at, confirmed_at, "
        "quarantine_id) "
        f"SELECT {e['uuid']}, :initiative, substr(:countries, CAST(1 + 2 * ((n * 7919) % 100) AS INTEGER), 2), "
        f"{STATUS}, "
        f"{e['identity']}, {e['email']}, CASE WHEN n % 50 = 0 THEN 2 ELSE 1 END, {e['network']}, {e['blob']}, 1, "
        f"'en', {e['created']}, {e['created']}, "
        f"CASE WHEN (n * 37) % 100 < 78 OR (n * 37) % 100 >= 98 THEN {e['confirmed']} END, "
        f"CASE WHEN n % 100 = 7 AND (n * 37) % 100 < 93 THEN :quarantine END "
        f"FROM {e['series']}",
    )


def _subscribers_sql(dialect: str) -> str:
    """30% ticked "send me updates" (not a household's second signer: one subscription an address); of the confirmed
    ones about 3% unsubscribed and 1% bounced since."""
    e = _expressions(dialect)
    state = "(n * 37) % 100 < 78"
    return _with_series(
        dialect,
        "INSERT INTO subscriber (initiative_id, statement_id, email, email_fingerprint, active, created_at, "  # noqa: S608
        "unsubscribed_at, bounced_at) "
        f"SELECT :initiative, s.id, CASE WHEN {state} AND n % 31 <> 0 AND n % 97 <> 0 THEN 'someone@example.org' "
        f"ELSE '' END, s.email_fingerprint, {state} AND n % 31 <> 0 AND n % 97 <> 0, s.created_at, "
        f"CASE WHEN {state} AND (n % 31 = 0 OR n % 97 = 0) THEN s.created_at END, "
        f"CASE WHEN {state} AND n % 97 = 0 THEN s.created_at END "
        f"FROM {e['series']} JOIN statement s ON s.initiative_id = :initiative AND s.identity_fingerprint = "
        f"{e['identity']} AND s.email_fingerprint = {e['email']} "
        "WHERE n % 10 < 3 AND n % 50 <> 0",
    )


def _outbox_sql(dialect: str) -> str:
    """A confirmation email for each statement of the last MAIL_DAYS days; delivered ones scrubbed."""
    e = _expressions(dialect)
    status = (
        "CASE WHEN n % 100 < 93 THEN 'sent' WHEN n % 100 < 96 THEN 'queued' WHEN n % 100 < 98 THEN 'failed' "
        "ELSE 'bounced' END"
    )
    waiting = "n % 100 BETWEEN 93 AND 95"
    return _with_series(
        dialect,
        "INSERT INTO outbox_message (kind, initiative_id, to_address, subject, body_text, body_html, status, "  # noqa: S608
        "attempts, "
        "next_attempt_at, created_at, sent_at, bounce_code) "
        f"SELECT 'confirm', :initiative, CASE WHEN {waiting} THEN 'someone@example.org' END, 'Please confirm', "
        f"CASE WHEN {waiting} THEN 'a link' END, CASE WHEN {waiting} THEN '<p>a link</p>' END, {status}, "
        "CASE WHEN n % 100 < 93 THEN 1 WHEN n % 100 = 95 THEN 2 WHEN n % 100 < 95 THEN 0 "
        "WHEN n % 100 < 98 THEN 10 ELSE 1 END, "
        f"{e['created']}, {e['created']}, CASE WHEN n % 100 < 93 THEN {e['created']} END, "
        "CASE WHEN n % 100 >= 98 THEN '550 5.1.1' END "
        f"FROM {e['series']} WHERE n > :mail_from",
    )


@dataclass
class Site:
    """One seeded database and an admin's client on it, with the times of its views."""

    statements: int
    app: Flask
    client: FlaskClient
    slug: str
    seed_seconds: float
    times: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name, _m, _p in PAGES})
    first_audit_view: float = 0.0

    def _form(self, name: str) -> dict[str, str]:
        from app.models import utcnow

        if name == "quarantine_preview":
            since = (utcnow() - timedelta(hours=24)).isoformat(timespec="minutes")
            return {"country": "DE", "window_field": "created_at", "since": since, "until": ""}
        if name == "quarantine_preview_confirmed":
            since = (utcnow() - timedelta(hours=24)).isoformat(timespec="minutes")
            return {"country": "DE", "window_field": "confirmed_at", "since": since, "until": ""}
        if name == "quarantine_preview_broad":
            return {"country": "DE"}
        return {"network_mode": "shared", "network_over": str(SHARED_OVER)}

    def view(self, name: str, method: str, path: str) -> float:
        url = path.format(slug=self.slug)
        started = time.perf_counter()
        response = self.client.get(url) if method == "GET" else self.client.post(url, data=self._form(name))
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (name, response.status_code, response.data[:500])
        return elapsed

    def round(self) -> None:
        for name, method, path in PAGES:
            self.times[name].append(self.view(name, method, path))

    def summary(self) -> dict[str, Any]:
        return {
            "statements": self.statements,
            "seed_seconds": round(self.seed_seconds, 1),
            "first_audit_view_ms": round(self.first_audit_view * 1000, 1),
            **{f"{name}_median_ms": _median_ms(values) for name, values in self.times.items()},
        }


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


def seed(statements: int) -> dict[str, Any]:
    """Everything but the audit log, in one transaction; returns the initiative's ids."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.initiatives import create_initiative
    from app.models import Quarantine, Statement, StatementStatus, utcnow

    now = utcnow()
    start = now - timedelta(days=DAYS)
    initiative = create_initiative(
        slug=SLUG, title="Benchmark", start=start.date(), end=start.date() + timedelta(days=364)
    )
    initiative.auditor_public_key = b"\x00" * 32
    db.session.flush()
    released = Quarantine(
        initiative_id=initiative.id,
        criteria=json.dumps({"country": "MT"}),
        reason="a burst that was checked and found genuine",
        created_by="organizer@example.org",
        created_at=now - timedelta(days=40),
        released_by="auditor@example.org",
        released_at=now - timedelta(days=39),
    )
    held = Quarantine(
        initiative_id=initiative.id,
        criteria=json.dumps({"network_shared_over": 4}),
        reason="networks with many statements, to be checked",
        created_by="organizer@example.org",
        created_at=now - timedelta(days=2),
    )
    db.session.add_all([released, held])
    db.session.flush()
    dialect = db.engine.dialect.name
    values = {
        "initiative": initiative.id,
        "count": statements,
        "countries": COUNTRIES,
        "start": start.isoformat(sep=" ", timespec="seconds"),
        "step": DAYS * 86400 / statements,
        "networks": max(1, statements // PER_NETWORK),
        "burst": BURST,
        "quarantine": held.id,
        "mail_from": statements - statements * MAIL_DAYS // DAYS,
    }
    # the burst came in the last minutes, not spread with the others
    db.session.execute(sa.text(_statements_sql(dialect)), values)
    db.session.execute(
        sa.update(Statement)
        .where(Statement.initiative_id == initiative.id, Statement.network_fingerprint == _burst_network(dialect))
        .values(created_at=now - timedelta(minutes=30), link_sent_at=now - timedelta(minutes=30))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(sa.text(_subscribers_sql(dialect)), values)
    db.session.execute(sa.text(_outbox_sql(dialect)), values)
    held.statement_count = db.session.scalar(
        sa.select(sa.func.count()).where(
            Statement.quarantine_id == held.id,
            Statement.status.in_((StatementStatus.PENDING, StatementStatus.CONFIRMED)),
        )
    )
    released.statement_count = 12
    db.session.commit()
    return {"initiative": initiative.id, "slug": initiative.slug}


def _burst_network(dialect: str) -> str:
    import hashlib

    if dialect == "postgresql":
        return hashlib.md5(b"burst").hexdigest() * 2  # noqa: S324 - the same shape as the seed's SQL, not security
    return "b" + "0" * 63


def prepare(url: str, statements: int) -> Site:
    """Migrate, seed, set every counter from a recount, sign an admin in, and take the audit page's first view (it
    walks the whole chain once, as the first view after an upgrade does)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.admin.access import session_values
    from app.extensions import db
    from app.models import Initiative, StaffUser
    from app.statements import counters
    from bench.audit_page import seed as seed_audit
    from config import TestingConfig

    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    app.config["AUDIT_HEADS_DIR"] = tempfile.mkdtemp(prefix="quorum-bench-heads-")
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        ids = seed(statements)
        seed_audit(max(1, statements // AUDIT_EVERY), ids["initiative"])
        initiative = db.session.get(Initiative, ids["initiative"])
        assert initiative is not None
        counters.repair(counters.check(initiative))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        assert counters.check(initiative).ok
        seeded = time.perf_counter() - started
        admin = StaffUser(email="admin@example.org", password_hash="-", role="admin")
        db.session.add(admin)
        db.session.commit()
        values = session_values(admin)
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(values)
    site = Site(statements, app, client, ids["slug"], seeded)
    site.first_audit_view = site.view("audit_log", "GET", "/admin/audit?initiative={slug}")
    first = site.first_audit_view
    print(f"  {statements:,} statements seeded in {seeded:.0f} s; the audit page's first view {first:.1f} s")
    return site


def measure(small: Site, large: Site, views: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One warm-up round each, then views of both in turn, so that whatever else the machine does weighs on both."""
    for site in (small, large):
        site.round()
        for values in site.times.values():
            values.clear()
    for _ in range(views):
        small.round()
        large.round()
    from app.extensions import db

    for site in (small, large):
        with site.app.app_context():
            db.engine.dispose()
    return small.summary(), large.summary()


def compare(name: str, small: dict[str, Any], large: dict[str, Any]) -> dict[str, float]:
    ratios: dict[str, float] = {}
    for page, _method, _path in PAGES:
        key = f"{page}_median_ms"
        ratio = large[key] / small[key]
        ratios[page] = round(ratio, 2)
        verdict = "met" if ratio <= TARGET else f"MISSED by {ratio - TARGET:.2f}"
        print(
            f"{name:>10}: {page.replace('_', ' '):>26}: {small[key]:8.2f} ms at {small['statements']:,}, "
            f"{large[key]:8.2f} ms at {large['statements']:,}: x{ratio:.2f} (target <= {TARGET}: {verdict})"
        )
    return ratios


def run(database: str, small_size: int, large_size: int, views: int) -> dict[str, Any]:
    """Seed both sizes on one database kind and view them in turn."""
    print(f"{database}: seeding {small_size:,} and {large_size:,} statements")
    if database == "sqlite":
        folder = tempfile.mkdtemp(prefix="quorum-bench-sqlite-")
        small_site = prepare(f"sqlite:///{folder}/small.db", small_size)
        large_site = prepare(f"sqlite:///{folder}/large.db", large_size)
        small, large = measure(small_site, large_site, views)
    else:
        from tests.support.postgres import Cluster

        cluster = Cluster(durable=True)
        cluster.init()
        cluster.start()
        try:
            small_site = prepare(cluster.create_database("staff_small"), small_size)
            large_site = prepare(cluster.create_database("staff_large"), large_size)
            small, large = measure(small_site, large_site, views)
        finally:
            cluster.destroy()
    return {"small": small, "large": large, "ratios": compare(database, small, large)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="postgresql")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"benchmark": "staff_pages", "machine": describe(), "target_ratio": TARGET}
    print(f"machine: {results['machine']}")
    for database in ("postgresql", "sqlite"):
        if args.database in (database, "both"):
            results[database] = run(database, args.small, args.large, args.views)
    print(json.dumps(results))
    return results


ROWS = {
    "dashboard": "dashboard_1m",
    "audit_log": "audit_log_1m",
    "quarantine_page": "quarantine_page_1m",
    "quarantine_preview": "quarantine_preview_1m",
    "quarantine_preview_confirmed": "quarantine_preview_confirmed_1m",
    "quarantine_preview_shared": "quarantine_preview_shared_1m",
    "quarantine_preview_broad": "quarantine_preview_broad_1m",
    "api": "api_1m",
    "public_page": "public_page_1m",
}


def figures(quick: bool = False) -> dict[str, Measured]:
    """The point-2 rows of bench's table, on PostgreSQL (--quick: 100,000 statements instead of a million)."""
    large = 100_000 if quick else 1_000_000
    result = main(["--large", str(large), "--views", "8" if quick else "30", "--database", "postgresql"])
    measured = result["postgresql"]
    note = "" if not quick else f"quick: {large:,} statements, not 1M"
    return {
        key: Measured(measured["large"][f"{page}_median_ms"], measured["small"][f"{page}_median_ms"], note=note)
        for page, key in ROWS.items()
    }


if __name__ == "__main__":
    main()
