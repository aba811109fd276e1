"""A throwaway PostgreSQL 15 cluster (initdb + pg_ctl) on loopback, run as `postgres` when we are root.

`create_app_database` sets a database up as the README's production section does: owned by `quorum`, who runs the
migrations, and used by the app as `quorum_app`, with the rights of scripts/database-app-role.sql only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("QUORUM_PG_BIN", "/usr/lib/postgresql/15/bin"))
OWNER = "quorum"
APP_ROLE = "quorum_app"
APP_ROLE_SQL = Path(__file__).resolve().parents[2] / "scripts" / "database-app-role.sql"


def available() -> bool:
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """Start with `start()`, stop with `stop()`; `restart()` for tests that outlive a database restart."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable  # fsync on, as in production (benchmarks); off for tests, which need no durability
        self.root = Path(tempfile.mkdtemp(prefix="quorum-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self._run(
            PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "log", "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def _superuser(self):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True)

    def create_database(self, name: str) -> str:
        with self._superuser() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_app_database(self, name: str) -> tuple[str, str]:
        """A database owned by OWNER; returns the URLs of the owner (for migrations) and of the app's role. Run
        `grant_app_role` after migrating."""
        with self._superuser() as conn:
            for role in (OWNER, APP_ROLE):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                    conn.execute(f'CREATE ROLE "{role}" LOGIN')
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{OWNER}"')
        return self.url(name, OWNER), self.url(name, APP_ROLE)

    def grant_app_role(self, name: str) -> None:
        """The README's script, run as the owner."""
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user={OWNER} dbname={name}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(APP_ROLE_SQL.read_text(encoding="utf-8"))  # type: ignore[arg-type]

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
