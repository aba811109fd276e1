"""Quorum's signing path against a bare Flask app doing the same database work (bench.bare), side by side in one run:
issue 10's figures for point 1 (and point 3's "signers a second per added core").

    python -m bench.flow [--quick] [--runs 3] [--seconds 10] [--flow-seconds 30] [--out DIR]

One PostgreSQL 15 cluster with fsync on, two databases (Quorum's, migrated; the bare app's). Each app runs under
gunicorn with 2 sync workers: Quorum with deploy/systemd/quorum-web.service's own command line, in production mode,
with CSRF, rate limits and the CAPTCHA off (a load generator cannot solve them). wrk drives each with 8 connections,
the two apps alternating, each figure the median of --runs:

- GET form, requests/s: Quorum's `GET /i/<slug>/sign?country=PL` against the bare `GET /form`.
- POST /sign, requests/s: a new valid signer each time (PESELs as bench.signing makes them), answered 303.
- the whole flow, confirmed statements/s: every connection signs (form, POST) and confirms (page, button) as soon
  as the mail worker (quorum-mail.service, or the bare one) has delivered the link to a local SMTP sink; counted
  in the database over the run less its first seconds (the pipeline filling), with p99 latency over all requests.
- app CPU per request: user + system time of the gunicorn workers (/proc/<pid>/stat) over a run, by requests.

Then py-spy samples Quorum's workers under the GET and POST load and prints where their CPU goes (the raw stacks
are kept in --out for a flame graph), and HAProxy (deploy/haproxy.cfg) in front of two one-worker app servers
measures what a second worker (a second core) adds to signings a second. Loopback only; every run is bounded.
The clients share the machine's cores with the servers: the ratios are fair (same load generator, same run),
the absolute numbers are floors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"

import sqlalchemy as sa  # noqa: E402

from bench import bare  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.signing import valid_pesels  # noqa: E402
from bench.table import Measured  # noqa: E402
from tests.support.deploy import (  # noqa: E402
    ROOT,
    Balancer,
    haproxy_available,
    start_unit,
    stop_unit,
    unit_command,
    wait_for_http,
)
from tests.support.postgres import Cluster, free_port  # noqa: E402

WRK_DIR = Path(__file__).parent / "wrk"
CONNECTIONS = 8
WRK_THREADS = 2
WORKERS = 2
SLUG = "flow"
QUORUM_APP = "app:create_app(WTF_CSRF_ENABLED=False)"
"""gunicorn's app: Quorum's factory, production settings from the environment, CSRF off (wrk cannot post a token)."""
MAX_POSTS_PER_SECOND = 1500
"""Signers prepared per second of a POST run: more than either app answers here, so no signer is used twice."""
MAX_FLOW_PER_SECOND = 500
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LINK = re.compile(rb"https?://[^/\s]+(/[^\s\"<>]*confirm/[^\s\"<>]+)")


# --- processes and their CPU ------------------------------------------------------------------------------------


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (fields 14 and 15 of /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


class AppServer:
    """gunicorn with the command line of deploy/systemd/quorum-web.service, serving `app_spec`."""

    def __init__(
        self, name: str, app_spec: str, env: dict[str, str], workers: int, log: IO[bytes], port: int | None = None
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**env, "QUORUM_WEB_BIND": f"127.0.0.1:{self.port}", "QUORUM_WEB_WORKERS": str(workers)}
        command = unit_command("quorum-web.service", environment)
        assert command[-1] == "wsgi:app", command
        self.process = subprocess.Popen(
            [*command[:-1], app_spec], cwd=ROOT, env=environment, stdout=log, stderr=log, start_new_session=True
        )

    def workers(self) -> list[int]:
        return _children(self.process.pid)

    def stop(self) -> None:
        stop_unit(self.process)  # type: ignore[arg-type]


# --- the SMTP sink: links to files, for wrk's flow script ---------------------------------------------------------


class LinkSink:
    """An SMTP server on loopback that writes each message's confirmation link (its path) to `folder/<recipient>`."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.folder: Path | None = None
        self.received = 0
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                sink.received += 1
                match = LINK.search(envelope.original_content or envelope.content)
                if match and sink.folder is not None:
                    for recipient in envelope.rcpt_tos:
                        temporary = sink.folder / f".{recipient}"
                        temporary.write_bytes(match.group(1) + b"\n")
                        temporary.rename(sink.folder / recipient)  # whole, or not there yet
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


# --- wrk --------------------------------------------------------------------------------------------------------


@dataclass
class WrkRun:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    counters: dict[str, int] = field(default_factory=dict)
    cpu_ms_per_request: float | None = None
    db_cpu_ms_per_request: float | None = None
    value: float = 0.0  # what the run measures: requests/s, or confirmed statements/s for the flow

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def wrk(url: str, script: str, arguments: list[str], seconds: float) -> WrkRun:
    command = [
        "wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:g}s", "--timeout", "10s",
        "-s", str(WRK_DIR / script), url, "--", *arguments,
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, env={**os.environ, "BENCH_WRK_DIR": str(WRK_DIR)}
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")
    report = json.loads(line.removeprefix("BENCH-JSON "))
    errors = sum(report[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    known = {"requests", "duration_us", "p50_us", "p90_us", "p99_us", "max_us"}
    return WrkRun(
        requests=report["requests"],
        seconds=report["duration_us"] / 1e6,
        errors=errors,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        counters={k: v for k, v in report.items() if k not in known and not k.endswith(("_errors", "timeouts"))},
    )


# --- the two apps -----------------------------------------------------------------------------------------------


@dataclass
class Target:
    """One app under test: where its pages are, and how to count its confirmed statements."""

    name: str
    server: AppServer
    database_url: str
    form_path: str
    sign_path: str
    confirmed_sql: str
    clear_outbox_sql: str
    start_worker: Callable[[IO[bytes]], subprocess.Popen[bytes]]
    worker_ready: str
    runs: dict[str, list[WrkRun]] = field(default_factory=dict)

    def confirmed_between(self, start: datetime, end: datetime) -> int:
        engine = sa.create_engine(self.database_url)
        with engine.connect() as connection:
            count = connection.execute(sa.text(self.confirmed_sql), {"start": start, "end": end}).scalar_one()
        engine.dispose()
        return int(count)

    def clear_outbox(self) -> None:
        """The POST runs left thousands of emails queued: set aside, so a flow run's worker sends only its own."""
        engine = sa.create_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(sa.text(self.clear_outbox_sql))
        engine.dispose()


def _prepare_quorum(url: str) -> dict[str, str]:
    """Migrate, create a collecting initiative with an auditor key; return the secrets the servers share."""
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
            slug=SLUG, title="Flow", start=utctoday() - timedelta(days=1), end=utctoday() + timedelta(days=200)
        )
        initiative.auditor_public_key = generate_key_pair()[1]
        db.session.commit()
        secrets = {k: app.config[k] for k in ("SECRET_KEY", "FINGERPRINT_KEY", "EXPORT_SIGNING_KEY")}
        db.engine.dispose()
    return secrets


class Signers:
    """Distinct valid PESELs, handed out in slices, one file per run: no signer is used twice in a database."""

    def __init__(self, count: int, folder: Path) -> None:
        self.numbers = valid_pesels(count)
        self.used = 0
        self.folder = folder

    def file(self, count: int, tag: str) -> Path:
        if self.used + count > len(self.numbers):
            raise RuntimeError("bench.flow prepared too few signers; raise the count in main()")
        path = self.folder / f"signers-{tag}.txt"
        path.write_text("\n".join(self.numbers[self.used : self.used + count]) + "\n")
        self.used += count
        return path


def _measure(target: Target, kind: str, run: Callable[[], WrkRun], db_pids: Callable[[], list[int]]) -> WrkRun:
    workers = target.server.workers()
    database = db_pids()
    cpu_before, db_before = cpu_seconds(workers), cpu_seconds(database)
    result = run()
    if sorted(target.server.workers()) != sorted(workers):
        print(f"flow: {target.name} {kind}: gunicorn replaced a worker during the run; its CPU figure is low")
    answered = max(1, result.requests)
    result.cpu_ms_per_request = (cpu_seconds(workers) - cpu_before) * 1000 / answered
    result.db_cpu_ms_per_request = (cpu_seconds(database) - db_before) * 1000 / answered
    target.runs.setdefault(kind, []).append(result)
    return result


def _wait_for_line(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {text!r} in {path} after {timeout:.0f} s")
        time.sleep(0.1)


def _flow_run(
    target: Target, sink: LinkSink, signers: Signers, seconds: float, warmup: float, tag: str, folder: Path
) -> WrkRun:
    """Clear the backlog, start the mail worker, run the flow, count what was confirmed after the warm-up."""
    target.clear_outbox()
    links = folder / f"links-{tag}"
    links.mkdir()
    sink.folder = links
    log_path = folder / f"worker-{tag}.log"
    with log_path.open("wb") as log:
        worker = target.start_worker(log)
        try:
            _wait_for_line(log_path, target.worker_ready)
            numbers = signers.file(int(MAX_FLOW_PER_SECOND * seconds), tag)
            started = datetime.now(UTC).replace(tzinfo=None)
            arguments = [target.form_path, target.sign_path, str(numbers), tag, str(WRK_THREADS), str(links)]
            result = wrk(target.server.url, "flow.lua", arguments, seconds)
            ended = started + timedelta(seconds=result.seconds)
        finally:
            stop_unit(worker)
    confirmed = target.confirmed_between(started + timedelta(seconds=warmup), ended)
    result.value = confirmed / (result.seconds - warmup)
    result.counters["confirmed_in_window"] = confirmed
    sink.folder = None
    shutil.rmtree(links, ignore_errors=True)
    return result


# --- profile ------------------------------------------------------------------------------------------------------


def _frame_label(frame: str) -> str:
    """`render (/.../site-packages/jinja2/environment.py)` -> `render (jinja2/environment.py)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    if "/lib/python3" in where:
        where = "stdlib:" + where.rsplit("/lib/python3", 1)[1].split("/", 1)[-1]
    return f"{name} ({where})" if where else name


def _package(label: str) -> str:
    where = label.rpartition(" (")[2].rstrip(")")
    if where.startswith("stdlib:"):
        return "Python standard library"
    if where.startswith("templates/"):
        return "Quorum templates (compiled Jinja)"
    if where.startswith(("app/", "config.py", "wsgi.py")):
        return "Quorum app/"
    return where.split("/", 1)[0] if "/" in where else where


PLUMBING = tuple(
    f"{name} ("
    for name in (
        "handle", "handle_request", "run_for_one", "wsgi_app", "Flask.wsgi_app", "Flask.__call__",
        "Flask.full_dispatch_request", "Flask.dispatch_request", "Quorum.dispatch_request", "ProxyFix.__call__",
        "RouteLimit.__call__.<locals>.__inner", "ensure_sync.<locals>.wrapper",
    )
)  # fmt: skip
"""Frames every request passes through: they hold all of the time and say nothing about where it goes."""


def summarize_profile(raw: Path, top: int = 20) -> dict[str, Any]:
    """Top functions by inclusive share of samples holding the GIL (Python's CPU time), and self time by package,
    from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_label(f) for f in stack.split(";") if not f.startswith(("process ", "<module>"))]
        if not frames:
            continue
        total += count
        for label in set(frames):
            inclusive[label] += count
        by_function[frames[-1]] += count
        by_package[_package(frames[-1])] += count
    interesting = [
        (label, count / total)
        for label, count in inclusive.most_common()
        if not label.startswith(PLUMBING) and _package(label) != "gunicorn"
    ]
    return {
        "samples": total,
        "top_inclusive": interesting[:top],
        "top_self": [(label, count / total) for label, count in by_function.most_common(10)],
        "self_by_package": [(name, count / total) for name, count in by_package.most_common(12)],
    }


def profile(target: Target, signers: Signers, seconds: float, folder: Path) -> dict[str, Any]:
    """py-spy on the workers while wrk loads the form GET, then POST /sign (py-spy, or nothing if it is missing)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    found: dict[str, Any] = {}
    for kind in ("GET form", "POST /sign"):
        tag = f"profile-{kind.split()[0].lower()}"
        raw = folder / f"{tag}.txt"
        if kind == "GET form":
            script, arguments = "get.lua", []
        else:
            numbers = signers.file(int(MAX_POSTS_PER_SECOND * (seconds + 3)), tag)
            script, arguments = "sign.lua", [target.sign_path, str(numbers), tag, str(WRK_THREADS)]
        url = target.server.url + (target.form_path if kind == "GET form" else "")
        load = subprocess.Popen(
            ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds + 3:g}s", "-s",
             str(WRK_DIR / script), url, "--", *arguments],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "BENCH_WRK_DIR": str(WRK_DIR)},
        )  # fmt: skip
        time.sleep(1.5)
        spied = subprocess.run(
            [spy, "record", "--pid", str(target.server.process.pid), "--subprocesses", "--duration", f"{seconds:g}",
             "--rate", "200", "--gil", "--nolineno", "--full-filenames", "--format", "raw", "--output", str(raw),
             "--nonblocking"],
            capture_output=True, text=True, timeout=seconds + 60,
        )  # fmt: skip
        load.wait(timeout=seconds + 60)
        if spied.returncode != 0 or not raw.exists():
            return {"skipped": f"py-spy failed: {spied.stderr.strip()[-300:]}"}
        found[kind] = {**summarize_profile(raw), "raw": str(raw)}
    return found


# --- one added core -------------------------------------------------------------------------------------------------


def scaling(
    env: dict[str, str], signers: Signers, runs: int, seconds: float, folder: Path, log: IO[bytes]
) -> dict[str, Any]:
    """Signings a second through HAProxy (deploy/haproxy.cfg) with one one-worker app server, then two."""
    if not haproxy_available():
        return {"skipped": "HAProxy is not installed (make system-deps)"}
    servers = [AppServer(f"app{n}", QUORUM_APP, env, 1, log) for n in (1, 2)]
    balancer = Balancer([s.port for s in servers], server_maxconn=1)
    results: dict[str, list[float]] = {"1 worker": [], "2 workers": []}
    try:
        for server in servers:
            wait_for_http(f"{server.url}/healthz")
        balancer.start()
        for name in ("app1", "app2"):
            balancer.wait_for(name, "UP")
        sign_path = f"/i/{SLUG}/sign"
        warm = signers.file(int(MAX_POSTS_PER_SECOND * 2), "scaling-warm")
        wrk(balancer.url, "sign.lua", [sign_path, str(warm), "scaling-warm", str(WRK_THREADS)], 2)
        for rep in range(runs):
            for label, state in (("1 worker", "maint"), ("2 workers", "ready")):
                balancer.set_state("app2", state)
                tag = f"scaling-{state}-{rep}"
                numbers = signers.file(int(MAX_POSTS_PER_SECOND * seconds), tag)
                run = wrk(balancer.url, "sign.lua", [sign_path, str(numbers), tag, str(WRK_THREADS)], seconds)
                if run.errors:
                    raise RuntimeError(f"scaling run {tag}: {run.errors} errors")
                results[label].append(run.per_second)
                print(f"flow: through HAProxy, {label}: {run.per_second:.1f} signings/s, p99 {run.p99_ms:.0f} ms")
    finally:
        balancer.destroy()
        for server in servers:
            server.stop()
    medians: dict[str, Any] = {label: round(statistics.median(values), 1) for label, values in results.items()}
    medians["paired_ratio"] = round(
        statistics.median(two / one for one, two in zip(results["1 worker"], results["2 workers"], strict=True)), 3
    )
    return medians


# --- the run ------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short run of each (about 2 minutes)")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure, the median is kept (default 3)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per GET and POST run (default 10)")
    parser.add_argument("--flow-seconds", type=float, default=None, help="seconds per flow run (default 30)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="keep the profiles and logs here")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    seconds = args.seconds or (5.0 if args.quick else 10.0)
    flow_seconds = args.flow_seconds or (10.0 if args.quick else 30.0)
    warmup = 4.0 if args.quick else 6.0  # the first emails take a round of the mail worker (2 s) to arrive
    if shutil.which("wrk") is None:
        raise SystemExit("bench.flow: wrk is not installed (make system-deps)")
    folder = args.out or Path(tempfile.mkdtemp(prefix="quorum-bench-flow-"))
    folder.mkdir(parents=True, exist_ok=True)
    signers_needed = int(
        runs * 2 * (MAX_POSTS_PER_SECOND * seconds + MAX_FLOW_PER_SECOND * flow_seconds)
        + runs * 2 * MAX_POSTS_PER_SECOND * seconds  # scaling
        + MAX_POSTS_PER_SECOND * (3 * 2 + 8 + 3)  # three warm-ups, the profile
    )
    signers = Signers(signers_needed, folder)
    load_before = os.getloadavg()

    cluster = Cluster(durable=True)
    cluster.init()
    cluster.start()
    sink = LinkSink()
    sink.start()
    log = (folder / "servers.log").open("wb")
    targets: list[Target] = []
    try:
        quorum_url = cluster.create_database("quorum")
        bare_url = cluster.create_database("bare")
        secrets = _prepare_quorum(quorum_url)
        bare.create_schema(bare_url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")},
            **secrets,
            "QUORUM_ENV": "production",
            "QUORUM_INSTANCE": str(folder / "instance"),
            "DATABASE_URL": quorum_url,
            "SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
            "RATELIMIT_ENABLED": "0",
            "CAPTCHA_ENABLED": "0",
        }
        quorum_port = free_port()
        env["BASE_URL"] = f"http://127.0.0.1:{quorum_port}"  # the links the mail worker sends
        quorum_server = AppServer("Quorum", QUORUM_APP, env, WORKERS, log, port=quorum_port)
        bare_server = AppServer("bare", f"bench.bare:create_app({bare_url!r}, 'http://127.0.0.1')", env, WORKERS, log)
        targets = [
            Target(
                name="Quorum",
                server=quorum_server,
                database_url=quorum_url,
                form_path=f"/i/{SLUG}/sign?country=PL",
                sign_path=f"/i/{SLUG}/sign",
                confirmed_sql="SELECT count(*) FROM statement WHERE status = 'confirmed' "
                "AND confirmed_at >= :start AND confirmed_at < :end",
                clear_outbox_sql="UPDATE outbox_message SET status = 'failed', to_address = NULL, body_text = NULL, "
                "body_html = NULL WHERE status = 'queued'",
                start_worker=lambda handle: start_unit("quorum-mail.service", env, handle),
                worker_ready="mail: delivering the outbox",
            ),
            Target(
                name="bare",
                server=bare_server,
                database_url=bare_url,
                form_path="/form?country=PL",
                sign_path="/sign",
                confirmed_sql="SELECT count(*) FROM bare_statement WHERE status = 'confirmed' "
                "AND confirmed_at >= :start AND confirmed_at < :end",
                clear_outbox_sql="UPDATE bare_outbox SET status = 'sent', to_address = NULL, body_text = NULL "
                "WHERE status = 'queued'",
                start_worker=lambda handle: subprocess.Popen(
                    [sys.executable, "-m", "bench.bare", "worker", bare_url, f"127.0.0.1:{sink.port}"],
                    cwd=ROOT,
                    env=env,
                    stdout=handle,
                    stderr=handle,
                    start_new_session=True,
                ),  # fmt: skip
                worker_ready="bare worker: delivering",
            ),
        ]
        for target in targets:
            wait_for_http(target.server.url + target.form_path)
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])

        def db_pids() -> list[int]:
            return [postmaster, *_children(postmaster)]

        for target in targets:  # warm-up: workers import lazily, templates compile on first use
            wrk(target.server.url + target.form_path, "get.lua", [], 2)
            warm = signers.file(MAX_POSTS_PER_SECOND * 2, f"warm-{target.name}")
            wrk(target.server.url, "sign.lua", [target.sign_path, str(warm), f"warm-{target.name}", "2"], 2)

        for rep in range(runs):
            for target in targets:
                run = _measure(
                    target, "get", lambda t=target: wrk(t.server.url + t.form_path, "get.lua", [], seconds), db_pids
                )
                run.value = run.per_second
                _print_run(target.name, "GET form", run)
            for target in targets:
                tag = f"post-{target.name}-{rep}"
                numbers = signers.file(int(MAX_POSTS_PER_SECOND * seconds), tag)
                arguments = [target.sign_path, str(numbers), tag, str(WRK_THREADS)]
                run = _measure(
                    target, "post", lambda t=target, a=arguments: wrk(t.server.url, "sign.lua", a, seconds), db_pids
                )
                run.value = run.per_second
                _print_run(target.name, "POST /sign", run)
            for target in targets:
                tag = f"flow-{target.name}-{rep}"
                run = _measure(
                    target,
                    "flow",
                    lambda t=target, g=tag: _flow_run(t, sink, signers, flow_seconds, warmup, g, folder),
                    db_pids,
                )
                _print_run(target.name, "flow", run, unit="confirmed/s")

        profiles = {} if args.no_profile else profile(targets[0], signers, 6.0 if args.quick else 8.0, folder)
        for target in targets:
            target.server.stop()
        scaled = {"skipped": "--no-scaling"} if args.no_scaling else scaling(env, signers, runs, seconds, folder, log)
    finally:
        for target in targets:
            target.server.stop()
        log.close()
        sink.stop()
        cluster.destroy()

    result = _summary(targets, profiles, scaled, runs, seconds, flow_seconds, load_before, folder)
    _print_summary(result)
    return result


def _print_run(name: str, kind: str, run: WrkRun, unit: str = "requests/s") -> None:
    extra = ", ".join(f"{k} {v}" for k, v in run.counters.items())
    print(
        f"flow: {name:>6} {kind:<10} {run.value:8.1f} {unit} ({run.requests} requests in {run.seconds:.1f} s, "
        f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, app CPU {run.cpu_ms_per_request:.2f} ms a request, "
        f"database CPU {run.db_cpu_ms_per_request:.2f} ms, {run.errors} errors{', ' + extra if extra else ''})",
        flush=True,
    )


def _median(runs: list[WrkRun], attribute: str) -> float:
    return round(statistics.median(getattr(run, attribute) for run in runs), 2)


def _summary(
    targets: list[Target],
    profiles: dict[str, Any],
    scaled: dict[str, Any],
    runs: int,
    seconds: float,
    flow_seconds: float,
    load_before: tuple[float, float, float],
    folder: Path,
) -> dict[str, Any]:
    apps: dict[str, Any] = {}
    for target in targets:
        apps[target.name] = {
            kind: {
                "value": _median(results, "value"),
                "p50_ms": _median(results, "p50_ms"),
                "p99_ms": _median(results, "p99_ms"),
                "cpu_ms_per_request": _median(results, "cpu_ms_per_request"),
                "db_cpu_ms_per_request": _median(results, "db_cpu_ms_per_request"),
                "errors": sum(r.errors for r in results),
                "values": [round(r.value, 1) for r in results],
            }
            for kind, results in target.runs.items()
        }
    paired: dict[str, dict[str, float]] = {}
    if len(targets) == 2:
        quorum, bare_app = (target.runs for target in targets)
        for kind in quorum:
            paired[kind] = {
                attribute: round(
                    statistics.median(
                        getattr(q, attribute) / getattr(b, attribute)
                        for q, b in zip(quorum[kind], bare_app[kind], strict=True)
                        if getattr(b, attribute)
                    ),
                    3,
                )
                for attribute in ("value", "p99_ms", "cpu_ms_per_request")
            }
    return {
        "benchmark": "flow",
        "machine": describe(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "seconds": seconds,
        "flow_seconds": flow_seconds,
        "connections": CONNECTIONS,
        "gunicorn_workers": WORKERS,
        "apps": apps,
        "paired_ratios": paired,
        "profile": profiles,
        "scaling": scaled,
        "folder": str(folder),
    }


def _print_summary(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}; load average before {result['load_average_before']}, after "
          f"{result['load_average_after']}")  # fmt: skip
    for kind, profile_of in result["profile"].items():
        if not isinstance(profile_of, dict):
            print(f"profile: {profile_of}")
            continue
        print(f"profile of Quorum's workers under {kind} load ({profile_of['samples']} samples of CPU; raw stacks "
              f"in {profile_of['raw']}):")  # fmt: skip
        print("  inclusive (a function and what it calls):")
        for label, share in profile_of["top_inclusive"]:
            print(f"    {share * 100:5.1f}%  {label}")
        print("  self (the function's own code):")
        for label, share in profile_of["top_self"]:
            print(f"    {share * 100:5.1f}%  {label}")
        print("  self time by package:")
        for name, share in profile_of["self_by_package"]:
            print(f"    {share * 100:5.1f}%  {name}")
    print(json.dumps({k: v for k, v in result.items() if k != "profile"}))


def figures(quick: bool = False) -> dict[str, Measured]:
    """Issue 10's point-1 figures and the added core of point 3, for bench's table."""
    result = main(["--quick"] if quick else [])
    quorum, bare_app, paired = result["apps"]["Quorum"], result["apps"]["bare"], result["paired_ratios"]

    def side_by_side(kind: str, attribute: str) -> Measured:
        return Measured(quorum[kind][attribute], bare_app[kind][attribute], paired_ratio=paired[kind][attribute])

    found = {
        "form_get": side_by_side("get", "value"),
        "sign_post": side_by_side("post", "value"),
        "flow": side_by_side("flow", "value"),
        "flow_p99": side_by_side("flow", "p99_ms"),
        "form_get_cpu": side_by_side("get", "cpu_ms_per_request"),
        "sign_post_cpu": side_by_side("post", "cpu_ms_per_request"),
    }
    scaled = result["scaling"]
    if "skipped" not in scaled:
        found["second_core"] = Measured(scaled["2 workers"], scaled["1 worker"], paired_ratio=scaled["paired_ratio"])
    return found


if __name__ == "__main__":
    main()
