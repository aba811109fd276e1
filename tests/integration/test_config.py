"""Configuration from the environment: production refuses to start without its secrets; cookies follow BASE_URL."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import config as settings
from config import ROOT, DevelopmentConfig, load_config

from ..support.factories import make_initiative

PRODUCTION = {
    "DATABASE_URL": "postgresql+psycopg://quorum@127.0.0.1:1/quorum",
    "SECRET_KEY": "s" * 43,
    "FINGERPRINT_KEY": "f" * 43,
}
REDIS_LIMITS = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"}  # nothing listens there: start-up must not need it


def _start(tmp_path: Path, code: str = "import wsgi", **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter in the repository with nothing in its environment but what is given."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QUORUM_INSTANCE": str(tmp_path / "instance")}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("missing", ["DATABASE_URL", "SECRET_KEY", "FINGERPRINT_KEY"])
def test_production_refuses_to_start_without_a_secret(tmp_path, missing):  # type: ignore[no-untyped-def]
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _start(tmp_path, QUORUM_ENV="production", **env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert missing in lines[0]
    assert "Traceback" not in result.stderr
    # nothing was generated in its place
    instance = tmp_path / "instance"
    assert not (instance / "secret_key").exists()
    assert not (instance / "fingerprint_key").exists()


def test_production_with_nothing_set_names_one_variable(tmp_path):  # type: ignore[no-untyped-def]
    result = _start(tmp_path, QUORUM_ENV="production")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert any(name in lines[0] for name in PRODUCTION)


def test_production_refusal_also_stops_the_command_line(tmp_path):  # type: ignore[no-untyped-def]
    code = "import sys; from flask.cli import main; sys.argv = 'flask --app wsgi initiatives list'.split(); main()"
    result = _start(
        tmp_path, code, QUORUM_ENV="production", DATABASE_URL=PRODUCTION["DATABASE_URL"], FINGERPRINT_KEY="x" * 43
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_starts_with_its_secrets(tmp_path):  # type: ignore[no-untyped-def]
    """With limits counted in Redis, as CONTRACT.md names it (`redis://...`): before a Redis client was installed this
    very setting stopped every process with a traceback."""
    code = (
        "import wsgi; c = wsgi.app.config; "
        "print(c['SECRET_KEY'] == 's' * 43, c['FINGERPRINT_KEY'] == 'f' * 43, c['TESTING'], "
        "c['SESSION_COOKIE_SECURE'], c['RATELIMIT_ENABLED'], c['CAPTCHA_ENABLED'])"
    )
    result = _start(
        tmp_path, code, QUORUM_ENV="production", BASE_URL="https://sign.example.eu", **PRODUCTION, **REDIS_LIMITS
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "False", "True", "True", "True"]
    assert not (tmp_path / "instance" / "secret_key").exists()


@pytest.mark.parametrize(
    ("settings", "starts"),
    [
        ({}, False),  # memory:// by default: each worker would count for itself
        ({"RATELIMIT_STORAGE_URI": "memory://"}, False),
        ({"RATELIMIT_ALLOW_MEMORY": "1"}, True),  # one single-process server, said out loud
        ({"RATELIMIT_ENABLED": "0"}, True),  # nothing to count: a proxy in front limits
        (REDIS_LIMITS, True),
    ],
)
def test_production_refuses_limits_each_worker_counts_alone(tmp_path, settings, starts):  # type: ignore[no-untyped-def]
    result = _start(tmp_path, QUORUM_ENV="production", **PRODUCTION, **settings)
    if starts:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "RATELIMIT_STORAGE_URI" in lines[0] and "redis://" in lines[0] and "RATELIMIT_ALLOW_MEMORY=1" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_command_runs_with_limits_in_redis(tmp_path):  # type: ignore[no-untyped-def]
    """`RATELIMIT_STORAGE_URI=redis://...` once crashed every `flask` command: no Redis client was installed. A
    command that touches no limit does not need Redis to be up, either."""
    code = "import sys; from flask.cli import main; sys.argv = 'flask --app wsgi routes'.split(); main()"
    result = _start(tmp_path, code, QUORUM_ENV="development", **REDIS_LIMITS)
    assert result.returncode == 0, result.stderr
    assert "admin.login" in result.stdout


def test_without_quorum_env_a_server_is_production_and_a_command_development(tmp_path):  # type: ignore[no-untyped-def]
    """Issue 7: a server started without QUORUM_ENV ran in development mode, generating its secrets and keeping
    auditors' private keys on disk. A WSGI server (anything but the `flask` command) is production now, and stops
    without its secrets; `flask` commands and `make run` stay development, as CONTRACT.md says."""
    server = _start(tmp_path)  # `import wsgi`, as gunicorn or any WSGI server does
    assert server.returncode != 0
    lines = [line for line in server.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "DATABASE_URL" in lines[0] and "production" in lines[0], server.stderr
    assert not (tmp_path / "instance" / "secret_key").exists()

    started = _start(tmp_path, "import wsgi; print(wsgi.app.config['ENV_NAME'])", **PRODUCTION, **REDIS_LIMITS)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["production"]

    code = "import sys; from flask.cli import main; sys.argv = 'flask --app wsgi routes'.split(); main()"
    command = _start(tmp_path, code)
    assert command.returncode == 0, command.stderr
    assert (tmp_path / "instance" / "secret_key").exists()  # development: generated once into instance/


@pytest.mark.slow
def test_gunicorn_without_quorum_env_runs_as_production(tmp_path):  # type: ignore[no-untyped-def]
    """The same through `gunicorn wsgi:app` itself: without secrets it stops at once, naming what is missing."""
    from ..support.postgres import free_port

    command = [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{free_port()}", "wsgi:app"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QUORUM_INSTANCE": str(tmp_path / "instance")}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "quorum: DATABASE_URL is not set: production" in result.stderr
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_unknown_environment_name_is_refused(tmp_path):  # type: ignore[no-untyped-def]
    result = _start(tmp_path, QUORUM_ENV="prod")
    assert result.returncode != 0
    assert "QUORUM_ENV" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_development_generates_secrets_once(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QUORUM_INSTANCE", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = DevelopmentConfig()
    second = DevelopmentConfig()
    assert first.SECRET_KEY == second.SECRET_KEY
    assert first.FINGERPRINT_KEY == second.FINGERPRINT_KEY
    assert first.SECRET_KEY != first.FINGERPRINT_KEY
    assert len(first.SECRET_KEY) >= 32
    for name in ("secret_key", "fingerprint_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert DevelopmentConfig().SECRET_KEY == "from-the-environment"


def test_defaults_outside_production(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QUORUM_INSTANCE", str(tmp_path))
    for name in (
        "DATABASE_URL",
        "BASE_URL",
        "CONFIRM_MAX_AGE",
        "SMTP_URL",
        "MAIL_FROM",
        "RATELIMIT_ENABLED",
        "CAPTCHA_ENABLED",
        "RATELIMIT_STORAGE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    config = load_config("development")
    database, mail = config.SQLALCHEMY_DATABASE_URI, config.MAIL_DIR
    assert database == f"sqlite:///{tmp_path / 'quorum.db'}"
    assert config.BASE_URL == "http://127.0.0.1:5000"
    assert config.CONFIRM_MAX_AGE == 604800
    assert config.MAX_CONTENT_LENGTH == 1024 * 1024
    assert config.MAIL_FROM == "Quorum <noreply@localhost>"
    assert config.SMTP_URL == ""
    assert mail == str(tmp_path / "mail")
    assert config.RATELIMIT_STORAGE_URI == "memory://"
    assert (config.RATELIMIT_ENABLED, config.CAPTCHA_ENABLED) == (True, True)
    assert config.SESSION_COOKIE_SECURE is False
    testing = settings.TestingConfig()
    assert (testing.RATELIMIT_ENABLED, testing.CAPTCHA_ENABLED) == (False, False)

    monkeypatch.setenv("BASE_URL", "https://sign.example.eu/")
    monkeypatch.setenv("CONFIRM_MAX_AGE", "3600")
    monkeypatch.setenv("RATELIMIT_ENABLED", "0")
    config = load_config("development")
    assert config.BASE_URL == "https://sign.example.eu"
    assert config.CONFIRM_MAX_AGE == 3600
    assert config.RATELIMIT_ENABLED is False
    assert config.SESSION_COOKIE_SECURE is True


def _session_cookie(app_factory, base_url: str, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BASE_URL", base_url)
    web = app_factory()
    response = web.test_client().get("/i/stop-scanning/sign")  # the form's CSRF token lives in the session
    assert response.status_code == 200
    [cookie] = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]
    return cookie


def test_cookie_is_secure_when_base_url_is_https(app, app_factory, monkeypatch):  # type: ignore[no-untyped-def]
    make_initiative()
    cookie = _session_cookie(app_factory, "https://sign.example.eu", monkeypatch)
    attributes = [part.strip() for part in cookie.split(";")]
    assert "Secure" in attributes
    assert "HttpOnly" in attributes
    assert "SameSite=Lax" in attributes


def test_cookie_is_not_secure_over_plain_http(app, app_factory, monkeypatch):  # type: ignore[no-untyped-def]
    make_initiative()
    cookie = _session_cookie(app_factory, "http://127.0.0.1:5000", monkeypatch)
    attributes = [part.strip() for part in cookie.split(";")]
    assert "Secure" not in attributes
    assert "HttpOnly" in attributes
