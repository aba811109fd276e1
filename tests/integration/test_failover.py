"""An app server dies under load, and nothing is lost or counted twice (issue 10, "past one machine").

What deploy/ describes, started on loopback: two gunicorn app servers in production mode from
deploy/systemd/quorum-web.service, the mail worker from quorum-mail.service, HAProxy with deploy/haproxy.cfg in
front, one PostgreSQL database. Visitors (threads with plain HTTP clients) sign and confirm through HAProxy as
browsers do; a third of the way in, one app server is killed (SIGKILL to its master and workers at once). A visitor
who gets a connection error, a 502 or a 503 presses again, once, as a person would. Afterwards: every signing that
got its 303 is a statement, every confirmation that got its page counted once, the counters equal a recount, and
the only errors anyone saw were followed by a retry that worked.
"""

from __future__ import annotations

import collections
import http.client
import http.cookiejar
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.eci.fingerprint import email_fingerprint
from app.extensions import db
from app.models import InitiativeCountry, OutboxMessage, Statement, StatementStatus
from bench.signing import valid_pesels

from ..support.deploy import Balancer, haproxy_available, kill_unit, start_unit, stop_unit, unit_command, wait_for_http
from ..support.factories import LINK, make_initiative, path_of
from ..support.postgres import free_port

pytestmark = pytest.mark.postgres

VISITORS = 8
SIGNERS_EACH = 30
WORKERS = 2  # gunicorn workers per app server, and HAProxy's maxconn per server
KILL_AFTER = VISITORS * SIGNERS_EACH // 3  # accepted signings before the kill
DEADLINE_SECONDS = 180
RETRYABLE = {502, 503}
CSRF_FIELD = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')


def _csrf(page: str) -> str:
    field = CSRF_FIELD.search(page)
    value = re.search(r'value="([^"]+)"', field.group(0)) if field else None
    assert value is not None, "no CSRF token in the page"
    return value.group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Inbox:
    """Confirmation links by address, read once from the SMTP server's messages (not re-parsed on every look)."""

    def __init__(self, smtp) -> None:  # type: ignore[no-untyped-def]
        self.smtp = smtp
        self.lock = threading.Lock()
        self.read = 0
        self.links: dict[str, str] = {}

    def link(self, address: str) -> str | None:
        with self.lock:
            with self.smtp.lock:
                new = self.smtp.messages[self.read :]
            self.read += len(new)
            for message in new:
                body = message.get_body(preferencelist=("plain",)).get_content()
                self.links.setdefault(str(message["To"]), path_of(LINK.findall(body)[0]))
            return self.links.get(address)


@dataclass
class Tally:
    """What the visitors saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: list[str] = field(default_factory=list)  # addresses whose signing got its 303
    confirmed: list[str] = field(default_factory=list)  # addresses whose confirmation got its page
    retried: collections.Counter[str] = field(default_factory=collections.Counter)  # "POST sign: 502" -> n
    failed: list[str] = field(default_factory=list)  # an error on the second try, or an unexpected answer

    def add(self, name: str, item: str) -> None:
        with self.lock:
            getattr(self, name).append(item)


class Visitor(threading.Thread):
    """Signs its share of signers; confirms each as soon as its email is in; a failed request is pressed again."""

    def __init__(
        self, base: str, slug: str, signers: list[tuple[str, str]], inbox: Inbox, tally: Tally, deadline: float
    ):  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.base, self.slug, self.signers, self.inbox = base, slug, signers, inbox
        self.tally, self.deadline = tally, deadline

    def _browser(self) -> urllib.request.OpenerDirector:
        jar = http.cookiejar.CookieJar()
        return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)

    def _once(self, browser, url: str, data: dict[str, str] | None) -> tuple[int | str, str]:  # type: ignore[no-untyped-def]
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with browser.open(urllib.request.Request(url, data=body), timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (OSError, http.client.HTTPException) as error:  # reset, refused, closed without an answer
            return type(error).__name__, ""

    def _request(self, browser, what: str, path: str, data: dict[str, str] | None, expected: int) -> str | None:  # type: ignore[no-untyped-def]
        """The page's body if the answer was `expected`, after at most one retry; None (and a failure) otherwise."""
        for attempt in (1, 2):
            status, body = self._once(browser, self.base + path, data)
            if status == expected:
                return body
            retryable = isinstance(status, str) or status in RETRYABLE
            if attempt == 1 and retryable:
                with self.tally.lock:
                    self.tally.retried[f"{what}: {status}"] += 1
                continue
            self.tally.add("failed", f"{what}: {status} on try {attempt}")
            return None
        return None

    def _sign(self, number: str, email: str) -> bool:
        browser = self._browser()
        page = self._request(browser, "GET sign form", f"/i/{self.slug}/sign?country=PL", None, 200)
        if page is None:
            return False
        data = {
            "csrf_token": _csrf(page),
            "country": "PL",
            "first_names": "Anna",
            "family_names": f"Nowak {number}",
            "id_type": "personal_number",
            "id_number": number,
            "email": email,
            "privacy_consent": "y",
            "declaration": "y",
        }
        if self._request(browser, "POST sign", f"/i/{self.slug}/sign", data, 303) is None:
            return False
        self.tally.add("accepted", email)
        return True

    def _confirm(self, email: str) -> bool:
        """False while the email has not arrived yet."""
        path = self.inbox.link(email)
        if path is None:
            return False
        browser = self._browser()
        page = self._request(browser, "GET confirm page", path, None, 200)
        confirmed = page is not None and self._request(browser, "POST confirm", path, {"csrf_token": _csrf(page)}, 200)
        if confirmed is not None and confirmed is not False:
            self.tally.add("confirmed", email)
        return True

    def run(self) -> None:
        try:
            self._visit()
        except Exception as error:  # noqa: BLE001 - a visitor that crashed is a failure of the run, reported below
            self.tally.add("failed", f"visitor crashed: {error!r}")

    def _visit(self) -> None:
        waiting: collections.deque[str] = collections.deque()
        for number, email in self.signers:
            if time.monotonic() > self.deadline:
                return
            if self._sign(number, email):
                waiting.append(email)
            for _ in range(len(waiting)):
                address = waiting.popleft()
                if not self._confirm(address):
                    waiting.append(address)
        while waiting and time.monotonic() < self.deadline:
            address = waiting.popleft()
            if not self._confirm(address):
                waiting.append(address)
                time.sleep(0.05)


@pytest.fixture
def deployment(app, backend, smtp, tmp_path):  # type: ignore[no-untyped-def]
    """HAProxy in front of two app servers and a mail worker, all as deploy/ describes them."""
    if not haproxy_available():
        if os.environ.get("QUORUM_TEST_REQUIRE_ALL") == "1":
            pytest.fail("HAProxy is missing (run `make system-deps`)")
        pytest.skip("HAProxy is missing (run `make system-deps`)")
    ports = [free_port(), free_port()]
    balancer = Balancer(ports, server_maxconn=WORKERS)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")},
        "QUORUM_ENV": "production",
        "QUORUM_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": backend,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "FINGERPRINT_KEY": app.config["FINGERPRINT_KEY"],
        "EXPORT_SIGNING_KEY": app.config["EXPORT_SIGNING_KEY"],
        "BASE_URL": balancer.url,  # links in emails lead through HAProxy
        "SMTP_URL": smtp.url,
        "RATELIMIT_ENABLED": "0",  # every visitor comes from 127.0.0.1
        "CAPTCHA_ENABLED": "0",  # as in every test: a visitor here solves no proof-of-work
        "TRUSTED_PROXIES": "1",
        "QUORUM_WEB_WORKERS": str(WORKERS),
    }
    log = (tmp_path / "units.log").open("wb")
    servers = [start_unit("quorum-web.service", {**env, "QUORUM_WEB_BIND": f"127.0.0.1:{port}"}, log) for port in ports]
    worker = start_unit("quorum-mail.service", env, log)
    try:
        for port in ports:
            wait_for_http(f"http://127.0.0.1:{port}/healthz")
        balancer.start()
        balancer.wait_for("app1", "UP")
        balancer.wait_for("app2", "UP")
        yield balancer, servers, env
    finally:
        for process in [*servers, worker]:
            stop_unit(process)
        balancer.destroy()
        log.close()


def test_the_units_run_what_deploy_describes() -> None:
    """The commands started below are the units' own: gunicorn in production from the checkout, the mail loop."""
    env = {"QUORUM_WEB_BIND": "127.0.0.1:8000", "QUORUM_WEB_WORKERS": "2"}
    web = unit_command("quorum-web.service", env)
    assert Path(web[0]).name == "gunicorn" and web[-1] == "wsgi:app"
    assert web[web.index("--bind") + 1] == "127.0.0.1:8000" and web[web.index("--workers") + 1] == "2"
    assert unit_command("quorum-mail.service", {})[-4:] == ["wsgi", "mail", "send", "--loop"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # app servers share state through PostgreSQL
def test_an_app_server_killed_under_load_loses_nothing(deployment, app, smtp, capsys):  # type: ignore[no-untyped-def]
    balancer, (_first, second), env = deployment
    initiative, _ = make_initiative("failover")
    slug, initiative_id = initiative.slug, initiative.id
    numbers = valid_pesels(VISITORS * SIGNERS_EACH)
    signers = [(number, f"signer{index}@example.org") for index, number in enumerate(numbers)]
    tally, inbox = Tally(), Inbox(smtp)
    deadline = time.monotonic() + DEADLINE_SECONDS
    visitors = [
        Visitor(balancer.url, slug, signers[index::VISITORS], inbox, tally, deadline) for index in range(VISITORS)
    ]
    for visitor in visitors:
        visitor.start()

    while len(tally.accepted) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.01)
    before_kill = balancer.servers()
    accepted_at_kill = len(tally.accepted)
    kill_unit(second)
    for visitor in visitors:
        visitor.join(timeout=max(1, deadline - time.monotonic()))
    after = balancer.servers()

    # the kill hit a server in use, in the middle of the run, and the run went on without it
    assert int(before_kill["app2"]["stot"]) > 0 and before_kill["app2"]["status"] == "UP"
    assert after["app2"]["status"].startswith("DOWN"), after["app2"]["status"]
    assert len(tally.accepted) > accepted_at_kill >= KILL_AFTER
    assert not any(visitor.is_alive() for visitor in visitors), "the run did not finish in time"

    # only retried requests saw an error, and each retry worked. The errors were the requests the dead server held
    # as it died (at most its workers, and as many again sent to it in the instant of dying): a 502 or a cut answer,
    # never a 503 (requests queued for it, or refused by it, went to the other server), and nothing failed on app1
    assert tally.failed == [], (tally.failed, tally.retried)
    assert {what.partition(": ")[2] for what in tally.retried} <= {"502", "IncompleteRead", "RemoteDisconnected"}
    assert sum(tally.retried.values()) <= 2 * WORKERS, tally.retried
    assert (after["app1"]["econ"], after["app1"]["eresp"]) == ("0", "0")
    assert sorted(tally.accepted) == sorted(email for _number, email in signers)
    assert sorted(tally.confirmed) == sorted(tally.accepted)

    # zero statements lost, zero double counts: one confirmed statement per signer, counted once
    key = app.extensions["quorum.policy"].fingerprint_key
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(Statement.email_fingerprint, Statement.status).where(Statement.initiative_id == initiative_id)
    ).all()
    assert sorted(fp for fp, _status in rows) == sorted(email_fingerprint(key, email) for email in tally.accepted)
    assert {status for _fp, status in rows} == {StatementStatus.CONFIRMED}
    counts = db.session.execute(
        sa.select(sa.func.sum(InitiativeCountry.confirmed_count), sa.func.sum(InitiativeCountry.pending_count)).where(
            InitiativeCountry.initiative_id == initiative_id
        )
    ).one()
    assert tuple(counts) == (len(signers), 0)
    # a confirmation email for every signing, and a second one only for a signing that was sent again
    messages = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    signings_sent_again = sum(n for what, n in tally.retried.items() if what.startswith("POST sign"))
    assert len(signers) <= messages <= len(signers) + signings_sent_again

    check = subprocess.run(
        [*unit_command("quorum-mail.service", env)[:3], "counters", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0 and "counters check: ok" in check.stdout, check.stdout + check.stderr

    with capsys.disabled():
        print(
            f"\nfailover: {len(signers)} signed and confirmed through HAProxy, app2 killed after {accepted_at_kill} "
            f"(it had taken {before_kill['app2']['stot']} requests); retried by visitors: {dict(tally.retried) or 0}; "
            f"HAProxy's own retries and redispatches: {after['app2']['wretr']}/{after['app2']['wredis']} on app2, "
            f"{after['app1']['wretr']}/{after['app1']['wredis']} on app1"
        )
