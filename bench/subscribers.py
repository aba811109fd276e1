"""The subscriber queries of the dashboard and of an update's sending, at scale: N statements of one initiative, each
with a subscriber (everyone ticked "send me updates": the worst case), 85% active, 10% pending, 4% unsubscribed,
1% bounced. Timed, median of several runs, on SQLite and (with --database-url) PostgreSQL:

- the dashboard's subscriber counts (`subscriptions.subscriber_counts`: since docs/decisions/015, the tallies);
- an update's progress half-way (`sending.progress`: its "still to write" count over the subscriber index);
- one round's batch of recipients half-way: the next 300 in id order, with their statement's language.

    python -m bench.subscribers [--subscribers 1000000] [--database-url postgresql+psycopg://...] [--runs 5]
                                [--explain]

Rows are written with set-based SQL (not signed through the form: that is bench.signing's job); PostgreSQL gets a
VACUUM ANALYZE afterwards, as autovacuum would give a table that size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"

BATCH = 300

# statement rows: generate_series on PostgreSQL, a recursive CTE on SQLite; each statement gets a subscriber whose
# state follows its number (n % 100: 0-84 active, 85-94 pending, 95-98 unsubscribed, 99 bounced)
_STATEMENTS = {
    "postgresql": (
        "INSERT INTO statement (id, initiative_id, country_code, status, identity_fingerprint, email_fingerprint, "
        "email_slot, sealed_data, emails_sent, locale, created_at, confirmed_at) "
        "SELECT gen_random_uuid(), :initiative, 'DE', CASE WHEN n % 100 BETWEEN 85 AND 94 THEN 'pending' "
        "ELSE 'confirmed' END, md5('i' || n) || md5('j' || n), md5('e' || n) || md5('f' || n), 1, "
        "'\\x00'::bytea, 1, (ARRAY['en','de','fr','pl'])[1 + n % 4], now(), "
        "CASE WHEN n % 100 BETWEEN 85 AND 94 THEN NULL ELSE now() END FROM generate_series(1, :count) AS n"
    ),
    "sqlite": (
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :count) "
        "INSERT INTO statement (id, initiative_id, country_code, status, identity_fingerprint, email_fingerprint, "
        "email_slot, sealed_data, emails_sent, locale, created_at, confirmed_at) "
        "SELECT lower(hex(randomblob(16))), :initiative, 'DE', CASE WHEN n % 100 BETWEEN 85 AND 94 THEN 'pending' "
        "ELSE 'confirmed' END, printf('%064d', n), printf('%063de', n), 1, x'00', 1, "
        "CASE n % 4 WHEN 0 THEN 'en' WHEN 1 THEN 'de' WHEN 2 THEN 'fr' ELSE 'pl' END, datetime('now'), "
        "CASE WHEN n % 100 BETWEEN 85 AND 94 THEN NULL ELSE datetime('now') END FROM seq"
    ),
}
_SUBSCRIBERS = (
    "INSERT INTO subscriber (initiative_id, statement_id, email, email_fingerprint, active, created_at, "
    "unsubscribed_at, bounced_at) "
    "SELECT s.initiative_id, s.id, CASE WHEN s.email_slot = 1 AND s.status = 'confirmed' THEN "
    "'someone@example.org' ELSE '' END, s.email_fingerprint, s.status = 'confirmed', s.created_at, NULL, NULL "
    "FROM statement s WHERE s.initiative_id = :initiative"
)
# of the confirmed ones, 4 in 90 unsubscribed and 1 in 90 bounced (about 4% and 1% of all)
_LEAVERS = (
    "UPDATE subscriber SET active = :false, email = '', unsubscribed_at = created_at, "
    "bounced_at = CASE WHEN id % 90 = 0 THEN created_at END "
    "WHERE initiative_id = :initiative AND active = :true AND id % 90 IN (0, 1, 2, 3, 4)"
)


def _timed(run: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def measure(url: str, subscribers: int, runs: int, explain: bool = False) -> None:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.initiatives import create_initiative
    from app.models import Subscriber, SupporterUpdate, UpdateStatus, utctoday
    from app.signing.subscriptions import subscriber_counts
    from app.statements import counters
    from app.updates import sending
    from config import TestingConfig

    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        dialect = db.engine.dialect.name
        today = utctoday()
        initiative = create_initiative(
            slug=f"bench-subscribers-{time.time_ns()}", title="Bench", start=today, end=today, draft=True
        )
        db.session.flush()
        started = time.perf_counter()
        values = {"initiative": initiative.id, "count": subscribers}
        db.session.execute(sa.text(_STATEMENTS[dialect]), values)
        db.session.execute(sa.text(_SUBSCRIBERS), {"initiative": initiative.id})
        db.session.execute(sa.text(_LEAVERS), {"initiative": initiative.id, "true": True, "false": False})
        newest = db.session.scalar(
            sa.select(sa.func.max(Subscriber.id)).where(Subscriber.initiative_id == initiative.id)
        )
        oldest = db.session.scalar(
            sa.select(sa.func.min(Subscriber.id)).where(Subscriber.initiative_id == initiative.id)
        )
        update = SupporterUpdate(
            initiative_id=initiative.id,
            created_by="bench",
            status=UpdateStatus.SENDING,
            last_subscriber_id=newest,
            enqueued_through=(oldest + newest) // 2,
        )
        db.session.add(update)
        db.session.commit()
        # written in bulk, not through the app: the tallies the dashboard reads are set from a recount
        counters.repair(counters.check(initiative))
        db.session.commit()
        if dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE statement, subscriber")
        print(f"{dialect}: {subscribers:,} statements and subscribers written in {time.perf_counter() - started:.0f} s")

        counts_ms, counts = _timed(lambda: subscriber_counts(initiative.id), runs)
        progress_ms, progress = _timed(lambda: sending.progress(update), runs)
        batch = (
            sending._recipients(update)
            .where(Subscriber.id > update.enqueued_through, Subscriber.id <= newest)
            .order_by(Subscriber.id)
            .limit(BATCH)
        )
        batch_ms, rows = _timed(lambda: db.session.execute(batch).all(), runs)
        print(
            f"  dashboard subscriber counts {counts_ms:7.1f} ms  (active {counts.active:,}, pending "
            f"{counts.pending:,}, unsubscribed {counts.unsubscribed:,}, bounced {counts.bounced:,})"
        )
        print(f"  update progress half-way    {progress_ms:7.1f} ms  (still to write {progress.remaining:,})")
        print(f"  next {BATCH} recipients        {batch_ms:7.1f} ms  ({len(rows)} rows)")
        if explain:
            _explain(db, dialect, initiative.id, update, batch)
        db.session.rollback()


def _explain(db: Any, dialect: str, initiative_id: int, update: Any, batch: Any) -> None:
    """The plans behind the figures: a range of the one index, and on PostgreSQL no heap fetches."""
    import sqlalchemy as sa

    from app.models import Subscriber
    from app.signing.subscriptions import receiving_updates

    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if dialect == "postgresql" else "EXPLAIN QUERY PLAN "
    active = sa.select(sa.func.count()).select_from(Subscriber).where(receiving_updates(initiative_id))
    for name, query in (("active count", active), ("recipients batch", batch)):
        sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        print(f"  plan of the {name}:")
        for row in db.session.execute(sa.text(prefix + sql)):
            print("    " + str(row[-1] if dialect == "sqlite" else row[0]))


def main(argv: list[str] | None = None) -> None:
    from bench.machine import describe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print the query plans too")
    args = parser.parse_args(argv)
    print(describe())
    url = args.database_url or f"sqlite:///{os.environ['QUORUM_INSTANCE']}/bench-subscribers.db"
    measure(url, args.subscribers, args.runs, args.explain)


if __name__ == "__main__":
    main()
