"""The whole signing flow over HTTP under load: gunicorn in production mode on PostgreSQL 15 (fsync on), and
concurrent clients that each fetch the form (cookie and CSRF token) and post a new signer, as browsers do.

    python -m bench.load [--clients 16] [--signings 3000] [--workers 4]

Prints signings a minute, the median and 90th/99th percentile of the POST, and the ratio to the busiest day the
UK Parliament's petitions site had (about 2,000 signatures a minute). Traffic goes to 127.0.0.1 only; the run stops
after --signings or --max-seconds, whichever comes first. The clients share the machine with the server, so the
figure is a floor for this machine, not a ceiling for the app.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"

from bench.machine import describe  # noqa: E402
from bench.signing import valid_pesels  # noqa: E402
from tests.support.postgres import Cluster, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
UK_PEAK_PER_MINUTE = 2000
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _prepare(url: str) -> tuple[str, dict[str, str]]:
    """Migrate, create a collecting initiative with an auditor key; returns its slug and the shared secrets."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.initiatives import create_initiative
    from app.models import utctoday
    from app.sealing import generate_key_pair
    from config import TestingConfig

    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        initiative = create_initiative(
            slug="load", title="Load", start=utctoday() - timedelta(days=1), end=utctoday() + timedelta(days=200)
        )
        initiative.auditor_public_key = generate_key_pair()[1]
        db.session.commit()
        secrets = {k: app.config[k] for k in ("SECRET_KEY", "FINGERPRINT_KEY", "EXPORT_SIGNING_KEY")}
        db.engine.dispose()
    return "load", secrets


class Client(threading.Thread):
    def __init__(self, base: str, slug: str, numbers: list[str], deadline: float) -> None:
        super().__init__(daemon=True)
        self.base, self.slug, self.numbers, self.deadline = base, slug, numbers, deadline
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        for index, number in enumerate(self.numbers):
            if time.monotonic() > self.deadline:
                return
            jar = http.cookiejar.CookieJar()  # a new visitor each time: the form, then the post
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
            try:
                with opener.open(f"{self.base}/i/{self.slug}/sign?country=PL", timeout=30) as page:
                    token = TOKEN.search(page.read().decode())
                assert token is not None
                data = urllib.parse.urlencode(
                    {
                        "csrf_token": token.group(1),
                        "country": "PL",
                        "first_names": "Anna",
                        "family_names": f"Nowak {number}",
                        "id_type": "personal_number",
                        "id_number": number,
                        "email": f"s{number}-{index}@example.org",
                        "privacy_consent": "y",
                        "declaration": "y",
                    }
                ).encode()
                started = time.perf_counter()
                try:
                    opener.open(urllib.request.Request(f"{self.base}/i/{self.slug}/sign", data=data), timeout=30)
                    status = 200
                except urllib.error.HTTPError as error:
                    status = error.code
                self.latencies.append(time.perf_counter() - started)
                if status != 303:
                    self.errors.append(f"status {status}")
            except (OSError, AssertionError) as error:
                self.errors.append(type(error).__name__)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--signings", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args(argv)

    cluster = Cluster(durable=True)
    cluster.init()
    cluster.start()
    server: subprocess.Popen[bytes] | None = None
    try:
        url = cluster.create_database("load")
        slug, secrets = _prepare(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")},
            **secrets,
            "QUORUM_ENV": "production",
            "QUORUM_INSTANCE": tempfile.mkdtemp(prefix="quorum-load-"),
            "DATABASE_URL": url,
            "BASE_URL": base,
            "RATELIMIT_ENABLED": "0",
            "CAPTCHA_ENABLED": "0",
        }
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(args.workers), "--bind",
             f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/api/v1/initiatives/{slug}", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        numbers = valid_pesels(args.signings)
        share = [numbers[i :: args.clients] for i in range(args.clients)]
        started = time.monotonic()
        clients = [Client(base, slug, part, started + args.max_seconds) for part in share]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.monotonic() - started
        latencies = [x for c in clients for x in c.latencies]
        errors = [e for c in clients for e in c.errors]
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.connect() as connection:  # every accepted signing is a stored statement with its mail queued
            stored = connection.execute(sa.text("SELECT count(*) FROM statement")).scalar_one()
            queued = connection.execute(sa.text("SELECT count(*) FROM outbox_message")).scalar_one()
        engine.dispose()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        cluster.destroy()

    done = len(latencies) - len(errors)
    assert stored == done and queued == done, (stored, queued, done)
    per_minute = done / elapsed * 60
    result = {
        "benchmark": "load",
        "machine": describe(),
        "gunicorn_workers": args.workers,
        "clients": args.clients,
        "signings_accepted": done,
        "errors": len(errors),
        "seconds": round(elapsed, 1),
        "signings_per_minute": round(per_minute),
        "post_median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "post_p90_ms": round(_percentile(latencies, 0.9) * 1000, 1) if latencies else None,
        "post_p99_ms": round(_percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "ratio_to_uk_peak": round(per_minute / UK_PEAK_PER_MINUTE, 2),
    }
    print(f"machine: {result['machine']}")
    print(
        f"load: {done} signings in {result['seconds']} s over HTTP ({args.clients} clients, {args.workers} gunicorn "
        f"workers, PostgreSQL with fsync on): {result['signings_per_minute']} a minute, POST median "
        f"{result['post_median_ms']} ms (p90 {result['post_p90_ms']}, p99 {result['post_p99_ms']}), "
        f"{len(errors)} errors; {result['ratio_to_uk_peak']} x the UK petitions site's busiest minute rate"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
