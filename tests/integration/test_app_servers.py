"""Two gunicorn app servers in production mode on one PostgreSQL database, driven over real HTTP: a form fetched
from one server is accepted by the other, racing submissions of one person on both make one statement, the
mail worker delivers, and both servers count the same."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Statement

from ..support.factories import PESEL, confirm_link, make_initiative, part_b
from ..support.postgres import free_port

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _browser() -> urllib.request.OpenerDirector:
    """A client with its own cookie jar that shows redirects instead of following them."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)


def _call(opener, url: str, data: dict[str, str] | None = None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(urllib.request.Request(url, data=body), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'type="hidden" name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def servers(app, backend, smtp, tmp_path) -> Iterator[tuple[list[str], dict[str, str]]]:  # type: ignore[no-untyped-def]
    """Two gunicorn servers (two workers each) sharing the test database and secrets."""
    ports = [free_port(), free_port()]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")},
        "QUORUM_ENV": "production",
        "QUORUM_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": backend,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "FINGERPRINT_KEY": app.config["FINGERPRINT_KEY"],
        "EXPORT_SIGNING_KEY": app.config["EXPORT_SIGNING_KEY"],
        "BASE_URL": f"http://127.0.0.1:{ports[0]}",
        "SMTP_URL": smtp.url,
        "RATELIMIT_ENABLED": "0",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    processes = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/v1/initiatives", timeout=2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.2)
        yield urls, env
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        log.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # several servers share state through PostgreSQL
def test_two_servers_share_one_database(servers, app, smtp):  # type: ignore[no-untyped-def]
    (first, second), env = servers
    initiative, _ = make_initiative("two-servers")
    slug = initiative.slug

    # a form fetched from one server is accepted by the other: the session and CSRF secret are shared
    signer = _browser()
    status, html = _call(signer, f"{first}/i/{slug}/sign?country=PL")
    assert status == 200
    status, _ = _call(signer, f"{second}/i/{slug}/sign", {**part_b(), "csrf_token": _token(html)})
    assert status == 303

    # the same person and address on both servers at once: one statement, every request answered alike
    results: list[int] = []

    def race(url: str, email: str) -> None:
        client = _browser()
        _, page = _call(client, f"{url}/i/{slug}/sign?country=PL")
        data = part_b(first_names="Jan", family_names="Kowalski", id_number="02070803628", email=email)
        results.append(_call(client, f"{url}/i/{slug}/sign", {**data, "csrf_token": _token(page)})[0])

    threads = [threading.Thread(target=race, args=(url, "jan@example.org")) for url in [first, second] * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [303] * 6
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 2

    # the worker delivers what either server queued
    worker = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "mail", "send"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    [message] = smtp.to("agnieszka@example.org")
    link = confirm_link(message)
    assert link.startswith(f"{first}/i/{slug}/confirm/")

    # confirm: the page from one server, the button on the other
    confirmer = _browser()
    status, page = _call(confirmer, link)
    assert status == 200
    assert _call(confirmer, link.replace(first, second), {"csrf_token": _token(page)})[0] == 200

    counts = [json.loads(_call(_browser(), f"{url}/api/v1/initiatives/{slug}")[1]) for url in (first, second)]
    assert counts[0]["confirmed"] == counts[1]["confirmed"] == 1
    assert [c["code"] for c in counts[0]["countries"] if c["confirmed"]] == ["PL"]
    assert PESEL not in json.dumps(counts)
