"""The signing flow, end to end inside the app: POST /sign (validate, fingerprint, seal, insert, outbox) and
POST /confirm (flip status, bump the counter), on SQLite and on a throwaway PostgreSQL 15 cluster.

    python -m bench.signing [--signers 300] [--database sqlite|postgresql|both]

Prints the median and 90th percentile per request and signings per second for one worker; the ratio between the
databases; and a JSON line. Rate limits and CSRF are off, as a benchmark client cannot solve them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"

from stdnum.pl import pesel  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import OutboxMessage, Statement  # noqa: E402
from bench.machine import describe  # noqa: E402
from config import TestingConfig  # noqa: E402


def valid_pesels(count: int) -> list[str]:
    """Distinct valid PESEL numbers of adults (1950s-1990s births), so every signer is a new person."""
    numbers: list[str] = []
    serial = 0
    while len(numbers) < count:
        year = 50 + serial // 30000 % 45
        month = 1 + serial // 1000 % 12
        day = 1 + serial // 12000 % 28
        body = f"{year:02d}{month:02d}{day:02d}{serial % 1000:03d}0"
        numbers.append(body + pesel.calc_check_digit(body))
        serial += 1
    return numbers


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(url: str, signers: int) -> dict[str, Any]:
    from flask_migrate import upgrade

    from app.initiatives import create_initiative
    from app.models import utctoday
    from app.sealing import generate_key_pair

    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    with app.app_context():
        upgrade()
        from datetime import timedelta

        initiative = create_initiative(
            slug=f"bench-{int(time.time())}",
            title="Benchmark",
            start=utctoday() - timedelta(days=1),
            end=utctoday() + timedelta(days=300),
        )
        initiative.auditor_public_key = generate_key_pair()[1]
        db.session.commit()
        slug = initiative.slug
        initiative_id = initiative.id

    client = app.test_client()
    numbers = valid_pesels(signers)

    def signer(index: int, email: str) -> dict[str, str]:
        return {
            "country": "PL",
            "first_names": "Anna Maria",
            "family_names": f"Nowak {index}",
            "id_type": "personal_number",
            "id_number": numbers[index],
            "email": email,
            "privacy_consent": "y",
            "declaration": "y",
        }

    def timed_sign(email_of: Any) -> list[float]:
        times: list[float] = []
        for index in range(signers):
            started = time.perf_counter()
            response = client.post(f"/i/{slug}/sign", data=signer(index, email_of(index)))
            times.append(time.perf_counter() - started)
            assert response.status_code == 303, response.status_code
        return times

    # the four paths a submission can take; the page is the same for all (CONTRACT.md, "Who signed stays unknown")
    sign_times = timed_sign(lambda i: f"signer{i}@example.org")  # a new signer
    pending_times = timed_sign(lambda i: f"signer{i}@example.org")  # the same again, link still unused

    with app.app_context():
        import sqlalchemy as sa

        policy = app.extensions["quorum.policy"]
        statements = list(db.session.scalars(sa.select(Statement).where(Statement.initiative_id == initiative_id)))
        tokens = [policy.confirmation_token(s.id, initiative_id) for s in statements]
        outbox = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    confirm_times: list[float] = []
    for token in tokens:
        started = time.perf_counter()
        response = client.post(f"/i/{slug}/confirm/{token}")
        confirm_times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    confirmed_times = timed_sign(lambda i: f"signer{i}@example.org")  # confirmed, from the same address
    stranger_times = timed_sign(lambda i: f"stranger{i}@example.net")  # confirmed, someone else's address
    api = client.get(f"/api/v1/initiatives/{slug}").get_json()
    assert api["confirmed"] == signers, api["confirmed"]
    assert outbox >= signers
    with app.app_context():
        db.engine.dispose()

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 2)

    return {
        "signers": signers,
        "sign_median_ms": ms(sign_times),
        "sign_p90_ms": round(_percentile(sign_times, 0.9) * 1000, 2),
        "confirm_median_ms": ms(confirm_times),
        "confirm_p90_ms": round(_percentile(confirm_times, 0.9) * 1000, 2),
        "signings_per_second_one_worker": round(1 / statistics.median(sign_times), 1),
        "paths_median_ms": {
            "new": ms(sign_times),
            "pending_same_address": ms(pending_times),
            "confirmed_same_address": ms(confirmed_times),
            "stranger_other_address": ms(stranger_times),
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signers", type=int, default=300)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"benchmark": "signing", "machine": describe()}
    if args.database in ("sqlite", "both"):
        folder = tempfile.mkdtemp(prefix="quorum-bench-sqlite-")
        results["sqlite"] = run(f"sqlite:///{folder}/bench.db", args.signers)
    if args.database in ("postgresql", "both"):
        from tests.support.postgres import Cluster

        cluster = Cluster()
        cluster.init()
        cluster.start()
        try:
            results["postgresql"] = run(cluster.create_database("bench"), args.signers)
        finally:
            cluster.destroy()
    print(f"machine: {results['machine']}")
    for name in ("sqlite", "postgresql"):
        if name in results:
            r = results[name]
            print(
                f"{name:>10}: sign median {r['sign_median_ms']} ms (p90 {r['sign_p90_ms']}), confirm median "
                f"{r['confirm_median_ms']} ms (p90 {r['confirm_p90_ms']}), "
                f"{r['signings_per_second_one_worker']} signings/s for one worker, {r['signers']} signers"
            )
            paths = ", ".join(f"{name} {value} ms" for name, value in r["paths_median_ms"].items())
            print(f"{name:>10}: submission paths, median: {paths}")
    if "sqlite" in results and "postgresql" in results:
        ratio = results["postgresql"]["sign_median_ms"] / results["sqlite"]["sign_median_ms"]
        results["postgresql_to_sqlite_sign_ratio"] = round(ratio, 2)
        print(f"PostgreSQL / SQLite median signing time: {ratio:.2f}")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
