"""The sign form's proof of work, measured (docs/decisions/010-proof-of-work.md):

1. how long headless Chromium takes to solve a form's challenge at CAPTCHA_MAX_NUMBER: in the Web Worker as a
   signer's browser does it; and, standing in for a mid-range phone that we do not have, on the page (no worker)
   with the CPU slowed 4x (Chrome DevTools' "mid-tier mobile" setting; it slows the page's thread, not a worker's
   reliably, and solving on the page is the slower path: a conservative figure);
2. what one network address can push through on loopback with a scripted client that solves every form in Python
   (GET the form, solve, POST), first under the default SIGN_RATE_LIMIT, then with that limit lifted, so that only
   solving and the app bound it.

    python -m bench.proof_of_work [--forms 20] [--seconds 60] [--max-number N]

The server is gunicorn (one worker) on a throwaway SQLite database with CAPTCHA_ENABLED=1 and rate limits on.
Traffic goes to 127.0.0.1 only, and each run stops after --seconds. Prints a JSON line at the end.
"""

from __future__ import annotations

import argparse
import base64
import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"
DATABASE = f"sqlite:///{tempfile.mkdtemp(prefix='quorum-bench-pow-')}/pow.db"

from bench.machine import describe  # noqa: E402
from tests.support.postgres import free_port  # noqa: E402
from tests.support.solver import challenge_in, payload, solve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CHROMIUM = Path(os.environ.get("QUORUM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PHONE_SLOWDOWN = 4


def _prepare() -> str:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.initiatives import create_initiative
    from app.models import utctoday
    from app.sealing import generate_key_pair
    from config import TestingConfig

    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=DATABASE)
    with app.app_context():
        upgrade()
        initiative = create_initiative(
            slug="pow", title="Proof of work", start=utctoday() - timedelta(days=1), end=utctoday() + timedelta(days=90)
        )
        initiative.auditor_public_key = generate_key_pair()[1]
        db.session.commit()
        db.engine.dispose()
    return "pow"


@contextmanager
def _server(max_number: int, sign_limit: str) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "BASE_URL": base,
        "DATABASE_URL": DATABASE,
        "CAPTCHA_ENABLED": "1",
        "CAPTCHA_MAX_NUMBER": str(max_number),
        "RATELIMIT_ENABLED": "1",
        "SIGN_RATE_LIMIT": sign_limit,
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- 1. Chromium --------------------------------------------------------------------------------------------------

SOLVED_AT = """() => {
  const field = document.getElementById("altcha");
  if (!field || !field.value) { return null; }
  const ready = performance.getEntriesByType("navigation")[0].domContentLoadedEventStart;
  return {ms: performance.now() - ready, number: JSON.parse(atob(field.value)).number};
}"""


def browser_solving(base: str, slug: str, forms: int, slowdown: int, worker: bool) -> dict[str, Any]:
    """Seconds from the page being ready to the answer in its field, over `forms` fresh forms."""
    from playwright.sync_api import sync_playwright

    seconds: list[float] = []
    numbers: list[int] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(forms):
                page = browser.new_page()
                if not worker:
                    page.add_init_script("delete window.Worker;")
                if slowdown > 1:
                    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
                page.goto(f"{base}/i/{slug}/sign?country=DE")
                found = page.wait_for_function(SOLVED_AT, polling=20, timeout=120_000).json_value()
                seconds.append(found["ms"] / 1000)
                numbers.append(int(found["number"]))
                page.close()
        finally:
            browser.close()
    rate = (sum(numbers) + len(numbers)) / sum(seconds)  # numbers tried from 0 up to the answer, per second
    return {
        "forms": forms,
        "web_worker": worker,
        "cpu_slowdown": slowdown,
        "median_s": round(statistics.median(seconds), 2),
        "max_s": round(max(seconds), 2),
        "hashes_per_s": round(rate),
    }


# --- 2. A scripted client -----------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def scripted_client(base: str, slug: str, seconds: float) -> dict[str, Any]:
    """One address, one thread: fetch a form, solve it, sign with a new identity; until `seconds` have passed."""
    statuses: dict[int, int] = {}
    solving: list[float] = []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        n += 1
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect
        )
        with opener.open(f"{base}/i/{slug}/sign?country=DE", timeout=30) as response:
            page = response.read().decode()
        token = TOKEN.search(page)
        assert token is not None, "no CSRF token in the form"
        challenge = challenge_in(page)
        began = time.perf_counter()
        answer = payload(challenge, solve(challenge))
        solving.append(time.perf_counter() - began)
        data = {
            "csrf_token": token.group(1),
            "country": "DE",
            "first_names": f"Bot {n}",
            "family_names": "Scripted",
            "date_of_birth": "1980-02-29",
            "street": f"Street {n}",
            "postal_code": "10115",
            "city": "Berlin",
            "residence_country": "DE",
            "email": f"bot{n}@example.org",
            "privacy_consent": "y",
            "declaration": "y",
            "altcha": answer,
        }
        request = urllib.request.Request(f"{base}/i/{slug}/sign", data=urllib.parse.urlencode(data).encode())
        try:
            opener.open(request, timeout=30).close()
            status = 200
        except urllib.error.HTTPError as error:
            status = error.code
        statuses[status] = statuses.get(status, 0) + 1
    elapsed = time.monotonic() - started
    accepted = statuses.get(303, 0)
    return {
        "seconds": round(elapsed, 1),
        "accepted": accepted,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "accepted_per_minute": round(accepted / elapsed * 60),
        "solve_median_ms": round(statistics.median(solving) * 1000, 1),
        "solve_mean_ms": round(statistics.mean(solving) * 1000, 1),
    }


def _answers_are_base64_json(base: str, slug: str) -> None:
    """A guard that the client still speaks the form's format: one solved answer decodes as ALTCHA's payload."""
    with urllib.request.urlopen(f"{base}/i/{slug}/sign?country=DE", timeout=30) as response:
        challenge = challenge_in(response.read().decode())
    assert json.loads(base64.b64decode(payload(challenge, 0)))["salt"] == challenge["salt"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from config import TestingConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--forms", type=int, default=20, help="forms solved in Chromium, per CPU speed")
    parser.add_argument("--seconds", type=float, default=60, help="length of each scripted run")
    parser.add_argument("--max-number", type=int, default=None, help="difficulty (default: CAPTCHA_MAX_NUMBER's)")
    args = parser.parse_args(argv)
    max_number = args.max_number or TestingConfig().CAPTCHA_MAX_NUMBER
    default_limit = TestingConfig().SIGN_RATE_LIMIT

    slug = _prepare()
    result: dict[str, Any] = {"benchmark": "proof_of_work", "machine": describe(), "max_number": max_number}
    with _server(max_number, default_limit) as base:
        _answers_are_base64_json(base, slug)
        if CHROMIUM.exists():
            result["chromium"] = browser_solving(base, slug, args.forms, 1, worker=True)
            result["chromium_phone"] = browser_solving(base, slug, args.forms, PHONE_SLOWDOWN, worker=False)
        result["scripted_default_limits"] = {"sign_rate_limit": default_limit} | scripted_client(
            base, slug, args.seconds
        )
    with _server(max_number, "100000 per minute") as base:
        result["scripted_sign_limit_lifted"] = scripted_client(base, slug, args.seconds)

    print(f"machine: {result['machine']}")
    print(f"difficulty: CAPTCHA_MAX_NUMBER={max_number} (on average half as many SHA-256 hashes per form)")
    browsers = (("chromium", "Chromium, Web Worker"), ("chromium_phone", "Chromium, on the page, CPU 4x slower"))
    for key, label in browsers:
        if key in result:
            r = result[key]
            print(
                f"{label}: median {r['median_s']} s, slowest {r['max_s']} s over {r['forms']} forms "
                f"({r['hashes_per_s']} hashes/s: every form solved within {max_number / r['hashes_per_s']:.1f} s)"
            )
    for key, label in (
        ("scripted_default_limits", f"scripted client, SIGN_RATE_LIMIT {default_limit!r}"),
        ("scripted_sign_limit_lifted", "scripted client, SIGN_RATE_LIMIT lifted"),
    ):
        r = result[key]
        print(
            f"{label}: {r['accepted']} statements accepted in {r['seconds']} s = {r['accepted_per_minute']} a "
            f"minute from one address (answers {r['statuses']}; solving took {r['solve_median_ms']} ms median "
            "in Python)"
        )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
