"""The audit page at 1,000 and at 1,000,000 entries (issue 10: staff pages flat at a million; target 1M/1k <= 1.5).

    python -m bench.audit_page [--small 1000] [--large 1000000] [--views 30] [--database sqlite|postgresql|both]

Seeds the log with a valid chain (70% of the entries of one initiative, the rest instance-wide), then, as an admin
through the app in-process: one first view (no verified head stored yet: it walks the whole chain once, as the first
view after an upgrade does), then `--views` rounds of: 5 new entries recorded (so each view has something to
verify), the newest page, one initiative's page, and a page deep in the log (`before=` the middle). The rounds
alternate between the small and the large log, so a busy machine weighs on both alike. Prints medians, the 1M/1k
ratios and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"


from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import AuditEntry, utcnow  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.table import Measured  # noqa: E402
from config import TestingConfig  # noqa: E402

TARGET = 1.5
COLUMNS = (
    "id",
    "created_at",
    "actor",
    "action",
    "initiative_id",
    "target",
    "reason",
    "details",
    "prev_hash",
    "entry_hash",
)


def chain_rows(count: int, initiative_id: int) -> Iterator[tuple[Any, ...]]:
    """`count` entries as `record` writes them, hashes and all."""
    from app.audit.log import GENESIS, entry_digest

    prev = GENESIS
    start = utcnow() - timedelta(days=365)
    actions = ("staff.sign_in", "quarantine.apply", "export.create", "initiative.update", "account.access_given")
    for number in range(1, count + 1):
        created = start + timedelta(seconds=number * 30)
        scoped = number % 10 < 7
        action = actions[number % len(actions)]
        actor = f"staff{number % 17}@example.org"
        target = f"row {number}"
        reason = "routine" if number % 3 else ""
        details = f'{{"n":{number}}}'
        initiative = initiative_id if scoped else None
        digest = entry_digest(prev, created, actor, action, initiative, target, reason, details)
        yield (number, created, actor, action, initiative, target, reason, details, prev, digest)
        prev = digest


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seed(count: int, initiative_id: int) -> None:
    """Bulk-insert the chain (COPY on PostgreSQL, one executemany on SQLite)."""
    rows = chain_rows(count, initiative_id)
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(f"COPY audit_entry ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        table = AuditEntry.__table__
        for chunk in _chunks(rows, 20_000):
            connection.execute(table.insert(), [dict(zip(COLUMNS, row, strict=True)) for row in chunk])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # as autovacuum does after a million inserts: the page's capped count reads the index alone then
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
            autocommit.exec_driver_sql("VACUUM ANALYZE audit_entry")


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


@dataclass
class Log:
    """One seeded database and an admin's client on it, with the times of its views."""

    entries: int
    app: Flask
    client: FlaskClient
    slug: str
    seed_seconds: float
    times: dict[str, list[float]] = field(default_factory=lambda: {"newest": [], "initiative": [], "deep": []})
    first_view: float = 0.0

    def view(self, path: str) -> float:
        started = time.perf_counter()
        response = self.client.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        assert b'data-intact="yes"' in response.data
        return elapsed

    def round(self) -> None:
        """5 new entries (each view has something to verify), then the three pages."""
        from app.audit.log import record

        with self.app.app_context():
            for _step in range(5):
                record("bench@example.org", "staff.sign_in")
            db.session.commit()
        self.times["newest"].append(self.view("/admin/audit"))
        self.times["initiative"].append(self.view(f"/admin/audit?initiative={self.slug}"))
        self.times["deep"].append(self.view(f"/admin/audit?before={self.entries // 2}"))

    def summary(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "seed_seconds": round(self.seed_seconds, 1),
            "first_view_ms": round(self.first_view * 1000, 1),
            **{f"{name}_page_median_ms": _median_ms(values) for name, values in self.times.items()},
        }


def prepare(url: str, entries: int) -> Log:
    """Migrate, seed `entries`, sign an admin in, and take the first view (it walks the whole chain once)."""
    from flask_migrate import upgrade

    from app.admin.access import session_values
    from app.initiatives import create_initiative
    from app.models import StaffUser, utctoday

    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    app.config["AUDIT_HEADS_DIR"] = tempfile.mkdtemp(prefix="quorum-bench-heads-")
    with app.app_context():
        upgrade()
        today = utctoday()
        initiative = create_initiative(
            slug="bench-audit", title="Benchmark", start=today - timedelta(days=1), end=today + timedelta(days=300)
        )
        admin = StaffUser(email="admin@example.org", password_hash="-", role="admin")
        db.session.add(admin)
        db.session.commit()
        started = time.perf_counter()
        seed(entries, initiative.id)
        seeded = time.perf_counter() - started
        values = session_values(admin)
        slug = initiative.slug
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(values)
    log = Log(entries, app, client, slug, seeded)
    log.first_view = log.view("/admin/audit")
    return log


def measure(small: Log, large: Log, views: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Views of both logs in turn, so that whatever else the machine does weighs on both alike."""
    for _ in range(views):
        small.round()
        large.round()
    for log in (small, large):
        with log.app.app_context():
            db.engine.dispose()
    return small.summary(), large.summary()


def compare(name: str, small: dict[str, Any], large: dict[str, Any]) -> dict[str, float]:
    ratios: dict[str, float] = {}
    for key in ("newest_page_median_ms", "initiative_page_median_ms", "deep_page_median_ms"):
        ratio = large[key] / small[key]
        ratios[key.removesuffix("_median_ms")] = round(ratio, 2)
        verdict = "met" if ratio <= TARGET else f"MISSED by {ratio - TARGET:.2f}"
        print(
            f"{name:>10}: {key.removesuffix('_median_ms').replace('_', ' '):>16}: {small[key]:7.2f} ms at "
            f"{small['entries']:,}, {large[key]:7.2f} ms at {large['entries']:,}: x{ratio:.2f} (target <= {TARGET}: "
            f"{verdict})"
        )
    print(
        f"{name:>10}: first view (walks the whole chain once): {small['first_view_ms']} ms at {small['entries']:,}, "
        f"{large['first_view_ms']} ms at {large['entries']:,}; seeding took {large['seed_seconds']} s"
    )
    return ratios


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"benchmark": "audit_page", "machine": describe(), "target_ratio": TARGET}
    print(f"machine: {results['machine']}")
    if args.database in ("sqlite", "both"):
        folder = tempfile.mkdtemp(prefix="quorum-bench-sqlite-")
        small_log = prepare(f"sqlite:///{folder}/small.db", args.small)
        large_log = prepare(f"sqlite:///{folder}/large.db", args.large)
        small, large = measure(small_log, large_log, args.views)
        results["sqlite"] = {"small": small, "large": large, "ratios": compare("sqlite", small, large)}
    if args.database in ("postgresql", "both"):
        from tests.support.postgres import Cluster

        cluster = Cluster()
        cluster.init()
        cluster.start()
        try:
            small_log = prepare(cluster.create_database("audit_small"), args.small)
            large_log = prepare(cluster.create_database("audit_large"), args.large)
            small, large = measure(small_log, large_log, args.views)
        finally:
            cluster.destroy()
        results["postgresql"] = {"small": small, "large": large, "ratios": compare("postgresql", small, large)}
    print(json.dumps(results))
    return results


def figures(quick: bool = False) -> dict[str, Measured]:
    """bench's row for the audit page at a million entries: the initiative's page, the one the staff open most (the
    newest and the deep page are printed beside it); on PostgreSQL. --quick: 100,000 entries."""
    large = 100_000 if quick else 1_000_000
    result = main(["--large", str(large), "--views", "8" if quick else "30", "--database", "postgresql"])
    small, big = result["postgresql"]["small"], result["postgresql"]["large"]
    note = f"quick: {large:,} entries, not 1M" if quick else ""
    key = "initiative_page_median_ms"
    return {"audit_log_1m_entries": Measured(big[key], small[key], note=note)}


if __name__ == "__main__":
    main()
