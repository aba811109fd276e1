"""`export create` at scale: N confirmed statements in the 27 member states, sealed like real ones, exported three
times; the rate (median) and the peak memory, at N/10 and at N to show that memory does not grow with N.

    python -m bench.export [--statements 100000] [--database-url postgresql+psycopg://...] [--runs 3]

Statements are bulk-inserted (not signed through the form: that is bench.signing's job), each with a blob sealed
to the initiative's auditor key from realistic Part A or Part B data. Every export runs in a fresh Python process,
so its maximum RSS (resource.getrusage) is the export's own and not the insert's; a separate run under tracemalloc
gives the peak of Python allocations (tracemalloc slows Python down, so it is not timed). Each export is verified.
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


def seed(url: str, statements: int, seed_value: int = 788) -> str:
    """A new initiative with `statements` confirmed statements spread over the 27 states by threshold."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.initiatives import create_initiative
    from app.models import Statement, utctoday
    from app.sealing import generate_key_pair, seal
    from config import TestingConfig

    rng = random.Random(seed_value + statements)
    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        slug = f"bench-export-{statements}-{uuid.uuid4().hex[:6]}"
        initiative = create_initiative(
            slug=slug,
            title=f"Export benchmark, {statements} statements",
            start=utctoday() - timedelta(days=200),
            end=utctoday() + timedelta(days=100),
        )
        public = generate_key_pair()[1]
        initiative.auditor_public_key = public
        db.session.commit()
        countries = [(c.country_code, c.data_part, c.id_type_list, c.threshold) for c in initiative.countries]
        weights = [threshold for *_rest, threshold in countries]
        table = Statement.__table__
        started = datetime(2026, 1, 1, 8, 0, 0)
        batch: list[dict[str, Any]] = []
        for number in range(statements):
            code, part, id_types, _threshold = rng.choices(countries, weights)[0]
            confirmed_at = started + timedelta(seconds=number * 7 + rng.randint(0, 6))
            batch.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "initiative_id": initiative.id,
                    "country_code": code,
                    "status": "confirmed",
                    "identity_fingerprint": f"{rng.getrandbits(256):064x}",
                    "email_fingerprint": f"{rng.getrandbits(256):064x}",
                    "email_slot": 1,
                    "network_fingerprint": f"{rng.getrandbits(256):064x}",
                    "sealed_data": seal(public, _personal(code, part, id_types, rng)),
                    "emails_sent": 1,
                    "created_at": confirmed_at - timedelta(minutes=rng.randint(1, 600)),
                    "confirmed_at": confirmed_at,
                }
            )
            if len(batch) == 5000:
                db.session.execute(sa.insert(table), batch)
                batch = []
        if batch:
            db.session.execute(sa.insert(table), batch)
        db.session.commit()
        db.engine.dispose()
    return slug


def _status_kib(field: str) -> int | None:
    """VmRSS / VmHWM of this process from /proc (Linux), in KiB; None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_one(url: str, slug: str, out: Path, trace: bool) -> dict[str, Any]:
    """One `export create` in this (fresh) process: seconds, and this process's memory."""
    import tracemalloc

    from app import create_app
    from app.exports.create import create_export
    from app.exports.verify import verify_export
    from app.extensions import db
    from app.initiatives import find_initiative
    from config import TestingConfig

    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        initiative = find_initiative(slug)
        assert initiative is not None
        rss_before = _status_kib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        result = create_export(initiative, out, "bench")
        db.session.commit()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        if trace:
            tracemalloc.stop()
        max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        high_water = _status_kib("VmHWM")
        db.engine.dispose()
    # verified after the measurement: the figures are the export's own
    report = verify_export(out)
    assert report.ok, report.problems
    return {
        "seconds": seconds,
        "statements": result.manifest["totals"]["statements"],
        "files": result.manifest["totals"]["countries"],
        "rss_before_kib": rss_before,
        "max_rss_kib": max_rss,
        "vm_hwm_kib": high_water,
        "tracemalloc_peak_bytes": peak,
        "bytes_written": sum(p.stat().st_size for p in out.iterdir()),
    }


def _child(*args: str) -> dict[str, Any]:
    """Run one step in a fresh process. This orchestrating process never imports the app and stays small: Linux
    carries a parent's RSS high-water mark into ru_maxrss across fork and exec."""
    command = [sys.executable, "-m", "bench.export", *args]
    completed = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ.copy())
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def _export_child(url: str, slug: str, trace: bool) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="quorum-bench-export-")) / "export"
    try:
        return _child(
            "--child",
            "export",
            "--database-url",
            url,
            "--slug",
            slug,
            "--out",
            str(out),
            *(["--trace"] if trace else []),
        )
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def measure(url: str, statements: int, runs: int) -> dict[str, Any]:
    insert_started = time.perf_counter()
    slug = _child("--child", "seed", "--database-url", url, "--statements", str(statements))["slug"]
    insert_seconds = time.perf_counter() - insert_started
    timed = [_export_child(url, slug, trace=False) for _ in range(runs)]
    traced = _export_child(url, slug, trace=True)
    seconds = statistics.median(r["seconds"] for r in timed)
    assert all(r["statements"] == statements for r in timed)
    return {
        "statements": statements,
        "files": timed[0]["files"],
        "insert_seconds": round(insert_seconds, 1),
        "export_seconds_runs": [round(r["seconds"], 3) for r in timed],
        "export_seconds_median": round(seconds, 3),
        "statements_per_second": round(statements / seconds),
        "megabytes_written": round(timed[0]["bytes_written"] / 1e6, 1),
        "tracemalloc_peak_mib": round(traced["tracemalloc_peak_bytes"] / 2**20, 2),
        "max_rss_mib": round(max(r["max_rss_kib"] for r in timed) / 1024, 1),
        "rss_before_export_mib": round(max(r["rss_before_kib"] for r in timed) / 1024, 1),
        "vm_hwm_mib": round(max(r["vm_hwm_kib"] or 0 for r in timed) / 1024, 1),
    }


def _sizes(statements: int) -> list[int]:
    """N/10 beside N: the same figures at both sizes show that memory stays flat."""
    small = max(1, statements // 10)
    return [small, statements] if small != statements else [statements]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from bench.machine import describe

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="", help="also measure on this (empty) PostgreSQL database")
    parser.add_argument("--child", choices=["seed", "export"], help=argparse.SUPPRESS)
    parser.add_argument("--slug", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "seed":
        result: dict[str, Any] = {"slug": seed(args.database_url, args.statements)}
        print(json.dumps(result))
        return result
    if args.child == "export":
        result = run_one(args.database_url, args.slug, Path(args.out), args.trace)
        print(json.dumps(result))
        return result

    results: dict[str, Any] = {"benchmark": "export", "machine": describe(), "runs": args.runs}
    databases = {"sqlite": f"sqlite:///{tempfile.mkdtemp(prefix='quorum-bench-sqlite-')}/bench.db"}
    if args.database_url:
        databases["postgresql"] = args.database_url
    print(f"machine: {results['machine']}")
    for name, url in databases.items():
        results[name] = []
        for size in _sizes(args.statements):
            row = measure(url, size, args.runs)
            results[name].append(row)
            print(
                f"{name:>10}: {row['statements']:>7} statements in {row['files']} files: export "
                f"{row['export_seconds_median']} s (median of {args.runs}; runs {row['export_seconds_runs']}), "
                f"{row['statements_per_second']} statements/s; peak Python allocations (tracemalloc) "
                f"{row['tracemalloc_peak_mib']} MiB; max RSS {row['max_rss_mib']} MiB "
                f"({row['rss_before_export_mib']} MiB before the export started); "
                f"{row['megabytes_written']} MB written"
            )
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
