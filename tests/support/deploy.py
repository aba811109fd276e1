"""What deploy/ describes, started on loopback: the systemd units' commands and HAProxy with deploy/haproxy.cfg.

The failover test and bench.flow run the units' own `ExecStart` lines (read from deploy/systemd/, with /opt/quorum
read as this checkout and its .venv as the running interpreter's), and HAProxy with the very configuration file a
deployment copies, its ports and paths given through the environment variables that file reads.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from .postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALLED_AT = "/opt/quorum"
"""Where the units expect the checkout (WorkingDirectory, ExecStart)."""

HAPROXY = Path(os.environ.get("QUORUM_HAPROXY", "/usr/sbin/haproxy"))


def haproxy_available() -> bool:
    return HAPROXY.exists()


def _service_section(name: str) -> list[tuple[str, str]]:
    """The [Service] lines of deploy/systemd/<name> as (key, value), in order (keys may repeat)."""
    lines: list[tuple[str, str]] = []
    section = ""
    for raw in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service":
            key, _, value = line.partition("=")
            lines.append((key.strip(), value.strip()))
    return lines


def unit_defaults(name: str) -> dict[str, str]:
    """The unit's `Environment=` settings (the env file given to the command overrides them, as systemd does)."""
    defaults: dict[str, str] = {}
    for key, value in _service_section(name):
        if key == "Environment":
            for word in shlex.split(value):
                variable, _, setting = word.partition("=")
                defaults[variable] = setting
    return defaults


def unit_command(name: str, env: Mapping[str, str]) -> list[str]:
    """The unit's ExecStart as an argument list, `${NAME}` expanded from `env` as systemd would (one word each)."""
    [command] = [value for key, value in _service_section(name) if key == "ExecStart"]
    venv_bin = f"{INSTALLED_AT}/.venv/bin/"
    words = []
    for word in shlex.split(command):
        word = re.sub(r"\$\{(\w+)\}", lambda match: env[match.group(1)], word)
        if word.startswith(venv_bin):  # the interpreter running us: the checkout's .venv, or CI's
            word = str(Path(sys.executable).parent / word.removeprefix(venv_bin))
        words.append(word.replace(INSTALLED_AT, str(ROOT)))
    return words


def start_unit(name: str, env: Mapping[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Run a unit's command in its own process group (so that it can be killed whole, as a machine dies)."""
    environment = {**unit_defaults(name), **env}
    return subprocess.Popen(
        unit_command(name, environment),
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def kill_unit(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the master and every worker at once: the app server is gone mid-request, as if unplugged."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def stop_unit(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answered at {url} within {timeout:.0f} s") from None
            time.sleep(0.1)


class Balancer:
    """HAProxy with deploy/haproxy.cfg on 127.0.0.1, in front of app servers at the given loopback ports."""

    def __init__(self, app_ports: list[int], server_maxconn: int) -> None:
        assert len(app_ports) == 2, "deploy/haproxy.cfg names two app servers"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="quorum-haproxy-"))
        self.socket = self.folder / "admin.sock"
        self.log_path = self.folder / "haproxy.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "QUORUM_LB_FOREGROUND": "1",
            "QUORUM_LB_SOCKET": str(self.socket),
            "QUORUM_LB_ERRORS": str(DEPLOY / "errors"),
            "QUORUM_LB_LISTEN": f"127.0.0.1:{self.port}",
            "QUORUM_LB_APP1": f"127.0.0.1:{app_ports[0]}",
            "QUORUM_LB_APP2": f"127.0.0.1:{app_ports[1]}",
            "QUORUM_LB_SERVER_MAXCONN": str(server_maxconn),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        config = str(DEPLOY / "haproxy.cfg")
        subprocess.run([HAPROXY, "-c", "-q", "-f", config], env=self.env, check=True, timeout=30)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [HAPROXY, "-db", "-f", config], env=self.env, stdout=self._log, stderr=self._log, start_new_session=True
        )
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)

    def ask(self, command: str) -> str:
        """One command on the runtime API (the admin socket)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(5)
            connection.connect(str(self.socket))
            connection.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict[str, str]]:
        """`show stat` of the app servers, by name: status (UP, DOWN, MAINT), stot (requests sent), ..."""
        text = self.ask("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row for row in rows if row["pxname"] == "quorum_app_servers"}

    def set_state(self, server: str, state: str) -> None:
        """ready, drain or maint, as an operator would before a restart."""
        answer = self.ask(f"set server quorum_app_servers/{server} state {state}")
        assert not answer.strip(), answer

    def wait_for(self, server: str, status: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (seen := self.servers()[server]["status"]) != status:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server} stayed {seen}, not {status}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if self._log is not None:
            self._log.close()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
