"""Exports at scale (issue 10): N confirmed statements in the 27 member states, sealed like real ones, then
`export create --out` (a folder, CONTRACT.md) and the staff side's export into the database, each timed (median of
--runs) with its peak memory; then `export verify` and `export open` of that export. At N/10 and at N, to show that
memory does not grow with N. On SQLite, and on PostgreSQL 15 with fsync on (a throwaway cluster) when its binaries
are installed.

    python -m bench.export [--statements 1000000] [--runs 3] [--databases sqlite,postgresql]
                           [--database-url postgresql+psycopg://...]

Targets: an export of 1,000,000 statements at >= 100,000 statements/s in < 250 MB peak RSS.

Statements are bulk-inserted (not signed through the form: that is bench.signing's job; the counters are then set
with `counters.repair`), each with a blob sealed to the initiative's auditor key from realistic Part A or Part B data
(a pool of distinct blobs, reused: an export treats them as opaque bytes and `open` decrypts each one), confirmed up
to ten hours after it was given. The rows lie as a campaign leaves them: on SQLite in the order they were given (a
row is updated where it is), on PostgreSQL in the order of confirmation (an UPDATE writes a new version of the row),
which is the less favourable one for an export that reads in the order statements were given. Every step runs in a
fresh Python process, so its maximum RSS (getrusage) is its own and not the insert's. The machine may be shared: the
load average is printed, and CPU seconds (the process's, and on PostgreSQL the database backend's) beside each
wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"

FIRST_NAMES = ["Anna", "Jan", "Zoë", "Łukasz", "Maria", "Jean-Luc", "Søren", "Ioana", "Ádám", "Eleni", "Jānis"]
FAMILY_NAMES = ["Müller", "Nowak", "Dubois", "Rossi", "García", "Kovács", "Papadopoulos", "Jensen", "Popescu"]
CITIES = ["Berlin", "Paris", "København", "Dublin", "Den Haag", "Helsinki", "Bratislava", "Luxembourg", "Αθήνα"]
BLOBS_PER_COUNTRY = 400
INSERT_BATCH = 10_000
TARGET_RATE = 100_000
TARGET_RSS_MIB = 250


def _personal(country: str, part: str, id_types: list[str], rng: random.Random) -> dict[str, str]:
    """The fields a signer of this country gives (Annex III), shaped and sized like the real thing."""
    data = {
        "first_names": f"{rng.choice(FIRST_NAMES)} {rng.choice(FIRST_NAMES)}",
        "family_names": f"{rng.choice(FAMILY_NAMES)}-{rng.choice(FAMILY_NAMES)}",
        "date_of_birth": "",
        "street": "",
        "postal_code": "",
        "city": "",
        "residence_country": "",
        "id_type": "",
        "id_number": "",
    }
    if part == "A":
        data.update(
            date_of_birth=f"19{rng.randint(40, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            street=f"Hauptstraße {rng.randint(1, 300)}",
            postal_code=f"{rng.randint(1000, 99999)}",
            city=rng.choice(CITIES),
            residence_country=country,
        )
    else:
        data.update(id_type=id_types[0], id_number=f"{rng.randint(10**10, 10**11 - 1)}")
    return data


def _app(url: str):  # type: ignore[no-untyped-def]
    from app import create_app
    from config import TestingConfig

    return create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url)


def seed(url: str, statements: int, key_file: Path, seed_value: int = 788) -> str:
    """A new initiative with `statements` confirmed statements spread over the 27 states by threshold; the auditor's
    private key goes to `key_file` (for `export open`)."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app.extensions import db
    from app.initiatives import create_initiative
    from app.models import Statement, StatementStatus, utctoday
    from app.sealing import generate_key_pair, seal, write_private_key
    from app.statements import counters

    rng = random.Random(seed_value + statements)
    app = _app(url)
    with app.app_context():
        upgrade()
        slug = f"bench-export-{statements}-{uuid.uuid4().hex[:6]}"
        initiative = create_initiative(
            slug=slug,
            title=f"Export benchmark, {statements} statements",
            start=utctoday() - timedelta(days=200),
            end=utctoday() + timedelta(days=100),
        )
        private, public = generate_key_pair()
        write_private_key(key_file, private)
        initiative.auditor_public_key = public
        db.session.commit()
        countries = [(c.country_code, c.data_part, c.id_type_list, c.threshold) for c in initiative.countries]
        weights = [threshold for *_rest, threshold in countries]
        blobs = {
            code: [seal(public, _personal(code, part, id_types, rng)) for _ in range(BLOBS_PER_COUNTRY)]
            for code, part, id_types, _threshold in countries
        }
        codes = [code for code, *_rest in countries]
        table = Statement.__table__
        if db.engine.dialect.name == "sqlite":  # the seed, not the export: a big page cache for random index inserts
            db.session.execute(sa.text("PRAGMA cache_size = -1000000"))
        started = datetime(2026, 1, 1, 8, 0, 0)
        # rows lie as they would after a campaign: SQLite updates a row where it is, so they stay in the order they
        # were given; a PostgreSQL UPDATE writes a new version elsewhere, so confirming puts them in that order
        in_place = db.engine.dialect.name == "sqlite"
        batch: list[dict[str, Any]] = []
        for number, code in enumerate(rng.choices(codes, weights, k=statements)):
            moment = started + timedelta(seconds=number * 7 + rng.randint(0, 6))
            delay = timedelta(minutes=rng.randint(1, 600))  # the confirmation link clicked minutes to hours later
            created_at, confirmed_at = (moment, moment + delay) if in_place else (moment - delay, moment)
            batch.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "initiative_id": initiative.id,
                    "country_code": code,
                    "status": StatementStatus.CONFIRMED,
                    "identity_fingerprint": f"{rng.getrandbits(256):064x}",
                    "email_fingerprint": f"{rng.getrandbits(256):064x}",
                    "email_slot": 1,
                    "network_fingerprint": f"{rng.getrandbits(256):064x}",
                    "sealed_data": blobs[code][number % BLOBS_PER_COUNTRY],
                    "emails_sent": 1,
                    "created_at": created_at,
                    "confirmed_at": confirmed_at,
                }
            )
            if len(batch) == INSERT_BATCH:
                db.session.execute(sa.insert(table), batch)
                batch = []
        if batch:
            db.session.execute(sa.insert(table), batch)
        counters.repair(counters.check(initiative))  # the bulk insert went around the lifecycle
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE statement")
        db.engine.dispose()
    return slug


def _database_cpu() -> float | None:
    """CPU seconds so far of the PostgreSQL backend serving this session, read from /proc (the bench's own cluster
    runs on this machine): on a shared machine, CPU beside wall time says what the export itself costs."""
    import sqlalchemy as sa

    from app.extensions import db

    if db.session.get_bind().dialect.name != "postgresql":
        return None  # SQLite works inside this process: its time is in the process's own CPU
    pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spent(before: float | None) -> float | None:
    after = _database_cpu()
    return None if before is None or after is None else after - before


def _memory() -> dict[str, float]:
    """This process's peak RSS (getrusage; KiB on Linux) in MiB."""
    return {"max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_export(url: str, slug: str, out: Path | None) -> dict[str, Any]:
    """One export in this (fresh) process: into the folder `out`, or into the database when `out` is None (then
    deleted again, so that the runs do not pile up gigabytes)."""
    import sqlalchemy as sa

    from app.exports.create import create_export, store_export
    from app.extensions import db
    from app.initiatives import find_initiative
    from app.models import ExportChunk, ExportRecord

    app = _app(url)
    with app.app_context():
        initiative = find_initiative(slug)
        assert initiative is not None
        baseline = _memory()["max_rss_mib"]
        database = _database_cpu()
        started, cpu = time.perf_counter(), time.process_time()
        result = create_export(initiative, out, "bench") if out is not None else store_export(initiative, "bench")
        db.session.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        database_cpu = _spent(database)
        memory = _memory()
        size = 0
        if out is None:
            chunks = ExportChunk.__table__
            size = int(db.session.scalar(sa.select(sa.func.sum(sa.func.length(chunks.c.data)))) or 0)
            db.session.execute(sa.delete(chunks))
            db.session.execute(sa.delete(ExportRecord).where(ExportRecord.id == result.record.id))
            db.session.commit()
        else:
            size = sum(path.stat().st_size for path in out.iterdir())
        db.engine.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "database_cpu_seconds": database_cpu,
        "statements": result.manifest["totals"]["statements"],
        "files": result.manifest["totals"]["countries"],
        "megabytes": round(size / 1e6, 1),
        "rss_before_mib": baseline,
        **memory,
    }


def run_verify(url: str, folder: Path) -> dict[str, Any]:
    from app.exports.keys import instance_verify_key
    from app.exports.verify import verify_export

    with _app(url).app_context():
        key = instance_verify_key()
        assert key is not None
        started, cpu = time.perf_counter(), time.process_time()
        report = verify_export(folder, key, "bench")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.ok, report.problems
    return {"seconds": seconds, "cpu_seconds": cpu, **_memory()}


def run_open(url: str, folder: Path, key_file: Path, out: Path) -> dict[str, Any]:
    from app.exports.keys import instance_verify_key
    from app.exports.opening import open_export
    from app.sealing import read_private_key

    with _app(url).app_context():
        key = instance_verify_key()
        assert key is not None
        started, cpu = time.perf_counter(), time.process_time()
        result = open_export(folder, read_private_key(key_file), out, key, "bench")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "statements": sum(result.counts.values()), **_memory()}


def _child(*args: str) -> dict[str, Any]:
    """Run one step in a fresh process. This orchestrating process never imports the app and stays small: Linux
    carries a parent's RSS high-water mark into ru_maxrss across fork and exec."""
    command = [sys.executable, "-m", "bench.export", *args]
    completed = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{completed.stderr[-2000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def measure(name: str, url: str, statements: int, runs: int, work: Path) -> dict[str, Any]:
    work = work / f"{name}-{statements}"
    work.mkdir()
    key_file = work / "auditor.key"
    started = time.perf_counter()
    slug = _child("--child", "seed", "--database-url", url, "--statements", str(statements), "--key", str(key_file))[
        "slug"
    ]
    insert_seconds = time.perf_counter() - started
    folder = work / "export"
    folder_runs = []
    for _ in range(runs):
        shutil.rmtree(folder, ignore_errors=True)
        folder_runs.append(_child("--child", "export", "--database-url", url, "--slug", slug, "--out", str(folder)))
    stored_runs = [_child("--child", "store", "--database-url", url, "--slug", slug) for _ in range(runs)]
    verified = _child("--child", "verify", "--database-url", url, "--out", str(folder))
    opened_dir = work / "opened"
    opened = _child(
        "--child", "open", "--database-url", url, "--out", str(folder), "--key", str(key_file), "--csv", str(opened_dir)
    )
    csv_megabytes = round(sum(p.stat().st_size for p in opened_dir.iterdir()) / 1e6, 1)
    shutil.rmtree(opened_dir, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    assert all(r["statements"] == statements for r in folder_runs + stored_runs) and opened["statements"] == statements

    def rate(rows: list[dict[str, Any]]) -> dict[str, Any]:
        seconds = statistics.median(r["seconds"] for r in rows)
        return {
            "seconds_runs": [round(r["seconds"], 2) for r in rows],
            "seconds_median": round(seconds, 2),
            "cpu_seconds_median": round(statistics.median(r["cpu_seconds"] for r in rows), 2),
            "database_cpu_seconds_median": (
                round(statistics.median(r["database_cpu_seconds"] for r in rows), 2)
                if all(r["database_cpu_seconds"] is not None for r in rows)
                else None
            ),
            "statements_per_second": round(statements / seconds),
            "max_rss_mib": max(r["max_rss_mib"] for r in rows),
            "rss_before_mib": max(r["rss_before_mib"] for r in rows),
            "megabytes": rows[0]["megabytes"],
        }

    return {
        "statements": statements,
        "files": folder_runs[0]["files"],
        "insert_seconds": round(insert_seconds, 1),
        "folder": rate(folder_runs),
        "database": rate(stored_runs),
        "verify": {
            "seconds": round(verified["seconds"], 2),
            "cpu_seconds": round(verified["cpu_seconds"], 2),
            "statements_per_second": round(statements / verified["seconds"]),
            "max_rss_mib": verified["max_rss_mib"],
        },
        "open": {
            "seconds": round(opened["seconds"], 2),
            "cpu_seconds": round(opened["cpu_seconds"], 2),
            "statements_per_second": round(statements / opened["seconds"]),
            "max_rss_mib": opened["max_rss_mib"],
            "csv_megabytes": csv_megabytes,
        },
    }


def _sizes(statements: int) -> list[int]:
    """N/10 beside N: the same figures at both sizes show that memory stays flat."""
    small = max(1, statements // 10)
    return [small, statements] if small != statements else [statements]


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _verdict(value: float, target: float, at_least: bool) -> str:
    if (value >= target) if at_least else (value < target):
        return "met"
    return f"missed by {abs(value - target) / target:.0%}"


def _print(name: str, row: dict[str, Any], runs: int) -> None:
    n = row["statements"]
    print(f"{name:>10}: {n:>9,} statements in {row['files']} member states (inserted in {row['insert_seconds']} s)")
    for label, key in (("export create --out", "folder"), ("staff export, stored", "database")):
        step = row[key]
        rate, rss = step["statements_per_second"], step["max_rss_mib"]
        cpu = f"CPU {step['cpu_seconds_median']} s"
        if step["database_cpu_seconds_median"] is not None:
            cpu += f" + the database's {step['database_cpu_seconds_median']} s"
        print(
            f"{'':>12}{label:<22} {step['seconds_median']:>7} s (median of {runs}: {step['seconds_runs']}; {cpu}), "
            f"{rate:>9,} statements/s [{_verdict(rate, TARGET_RATE, True)}], "
            f"max RSS {rss} MiB [{_verdict(rss, TARGET_RSS_MIB, False)}] (app loaded: {step['rss_before_mib']} MiB), "
            f"{step['megabytes']} MB"
        )
    for label, key in (("export verify", "verify"), ("export open", "open")):
        step = row[key]
        extra = f", {step['csv_megabytes']} MB of CSV" if key == "open" else ""
        print(
            f"{'':>12}{label:<22} {step['seconds']:>7} s (CPU {step['cpu_seconds']} s), "
            f"{step['statements_per_second']:>9,} statements/s, max RSS {step['max_rss_mib']} MiB{extra}"
        )


def _postgresql(args: argparse.Namespace) -> tuple[str, Any]:
    """The database URL to measure PostgreSQL on, and the cluster started for it (None: given, or not installed)."""
    if args.database_url:
        return args.database_url, None
    if "postgresql" not in args.databases.split(","):
        return "", None
    from tests.support.postgres import Cluster, available

    if not available():
        print("bench.export: PostgreSQL 15 is not installed (make system-deps): SQLite only")
        return "", None
    cluster = Cluster(durable=True)  # fsync on, as in production
    cluster.init()
    cluster.start()
    return cluster.create_database("bench_export"), cluster


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from bench.machine import describe

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="", help="measure PostgreSQL on this (empty) database")
    parser.add_argument("--databases", default="sqlite,postgresql", help="which of sqlite,postgresql to measure")
    parser.add_argument("--child", choices=["seed", "export", "store", "verify", "open"], help=argparse.SUPPRESS)
    parser.add_argument("--slug", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        steps = {
            "seed": lambda: {"slug": seed(args.database_url, args.statements, Path(args.key))},
            "export": lambda: run_export(args.database_url, args.slug, Path(args.out)),
            "store": lambda: run_export(args.database_url, args.slug, None),
            "verify": lambda: run_verify(args.database_url, Path(args.out)),
            "open": lambda: run_open(args.database_url, Path(args.out), Path(args.key), Path(args.csv)),
        }
        result: dict[str, Any] = steps[args.child]()
        print(json.dumps(result))
        return result

    results: dict[str, Any] = {"benchmark": "export", "machine": describe(), "runs": args.runs}
    # the machine may be shared: wall-clock rates are only as good as the load beside them
    print(f"machine: {results['machine']}; load average {_load()}")
    work = Path(tempfile.mkdtemp(prefix="quorum-bench-export-"))
    databases = {"sqlite": f"sqlite:///{work}/bench.db"} if "sqlite" in args.databases.split(",") else {}
    postgresql, cluster = _postgresql(args)
    if postgresql:
        databases["postgresql"] = postgresql
    try:
        for name, url in databases.items():
            results[name] = []
            for size in _sizes(args.statements):
                row = measure(name, url, size, args.runs, work)
                results[name].append(row)
                _print(name, row, args.runs)
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end {_load()}")
    print(json.dumps(results))
    return results


def figures(quick: bool = False) -> dict[str, Any]:
    """bench's rows for the exports: `export create --out` of 1,000,000 statements (its rate, median of 3, and its
    peak RSS), then `export verify` and `export open` of it, on PostgreSQL 15 with fsync on (the production database;
    SQLite where it is not installed). --quick: 100,000 statements, one run."""
    from bench.table import Measured

    statements = 100_000 if quick else 1_000_000
    runs = 1 if quick else 3
    result = main(["--statements", str(statements), "--runs", str(runs), "--databases", "postgresql"])
    database = "postgresql" if result.get("postgresql") else "sqlite"
    if database == "sqlite":
        result = main(["--statements", str(statements), "--runs", str(runs), "--databases", "sqlite"])
    small, big = result[database][0], result[database][-1]
    size = "" if statements == 1_000_000 else f"{statements:,} statements, not 1M; "
    folder, stored = big["folder"], big["database"]
    small_rss = max(small["folder"]["max_rss_mib"], small["database"]["max_rss_mib"])
    return {
        "export_rate_1m": Measured(
            folder["statements_per_second"],
            note=f"{size}{database}; CPU {folder['cpu_seconds_median']} s; the staff side's export into the "
            f"database: {stored['statements_per_second']:,} statements/s",
        ),
        "export_rss_1m": Measured(
            max(folder["max_rss_mib"], stored["max_rss_mib"]) * 1.048576,
            note=f"{size}the most of the folder's and the database's; at {small['statements']:,}: {small_rss} MiB",
        ),
        "export_verify_1m": Measured(big["verify"]["seconds"], note=f"{size}CPU {big['verify']['cpu_seconds']} s"),
        "export_open_1m": Measured(
            big["open"]["seconds"], note=f"{size}CPU {big['open']['cpu_seconds']} s, X25519 for each statement"
        ),
    }


if __name__ == "__main__":
    main()
