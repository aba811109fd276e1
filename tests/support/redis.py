"""A throwaway Redis (Debian's `redis-server`) on a free loopback port, nothing written to disk, as postgres.py does
for PostgreSQL: the store that rate limits share across app servers."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .postgres import free_port

REDIS_SERVER = Path(os.environ.get("QUORUM_REDIS_SERVER", "/usr/bin/redis-server"))


def available() -> bool:
    return REDIS_SERVER.exists()


class RedisServer:
    """Start with `start()`, stop with `stop()`; `flush()` empties it between tests."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="quorum-redis-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)

    def start(self) -> None:
        command = [
            str(REDIS_SERVER),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.root),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(self.root / "redis.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 30
        client = self._client()
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError as error:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    log = (self.root / "redis.log").read_text(errors="replace")[-800:]
                    raise RuntimeError(f"redis-server did not start: {log}") from error
                time.sleep(0.05)

    def flush(self) -> None:
        self._client().flushall()

    def keys(self) -> list[str]:
        return sorted(key.decode() for key in self._client().keys("*"))

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)
