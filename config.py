"""Configuration classes, read from the environment when the app is created (CONTRACT.md, "Configuration")."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


class MissingSecret(RuntimeError):
    """A production secret is not set, or the configuration cannot work."""


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _flag(name: str, default: str) -> bool:
    return _env(name, default).strip().lower() in {"1", "true", "yes", "on"}


def instance_path() -> Path:
    return Path(_env("QUORUM_INSTANCE", str(ROOT / "instance")))


def _instance_secret(name: str, filename: str) -> str:
    """Outside production, a secret missing from the environment is generated once and kept in instance/."""
    if _env(name):
        return _env(name)
    folder = instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; read what it wrote
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


EXPORT_KEY_FILE = "export_signing_key"


def existing_instance_secret(filename: str) -> str:
    """A secret another process of this instance made in instance/, or "" while there is none."""
    path = instance_path() / filename
    return path.read_text().strip() if path.exists() else ""


def generate_instance_secret(name: str, filename: str) -> str:
    """Outside production: make (or read) a secret in instance/ when it is first needed."""
    return _instance_secret(name, filename)


class Config:
    """Development defaults: SQLite in instance/, mail written to instance/mail/, secrets generated once."""

    ENV_NAME = "development"
    TESTING = False
    ratelimit_default = "1"
    captcha_default = "1"

    def __init__(self) -> None:
        instance = instance_path()
        self.INSTANCE_PATH = str(instance)
        self.SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL") or f"sqlite:///{instance / 'quorum.db'}"
        # hide_parameters: an error message must never carry a signer's data into a log
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
        self.MAIL_FROM = _env("MAIL_FROM", "Quorum <noreply@localhost>")
        self.SMTP_URL = _env("SMTP_URL")
        self.SMTP_TIMEOUT = float(_env("SMTP_TIMEOUT", "10"))
        self.MAIL_DIR = str(instance / "mail")
        self.BASE_URL = _env("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        self.CONFIRM_MAX_AGE = int(_env("CONFIRM_MAX_AGE", "604800"))
        self.MAX_CONTENT_LENGTH = int(_env("MAX_CONTENT_LENGTH", str(1024 * 1024)))
        self.MAX_FORM_MEMORY_SIZE = self.MAX_CONTENT_LENGTH
        self.RATELIMIT_ENABLED = _flag("RATELIMIT_ENABLED", self.ratelimit_default)
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
        # Redis out of reach: each worker counts for itself until it is back (a warning in the log), rather than
        # every request waiting on it or failing; signing must go on through an outage
        self.RATELIMIT_STORAGE_OPTIONS: dict[str, Any] = (
            {"socket_connect_timeout": 1, "socket_timeout": 1} if self.RATELIMIT_STORAGE_URI.startswith("redis") else {}
        )
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_HEADERS_ENABLED = True
        self.SIGN_RATE_LIMIT = _env("SIGN_RATE_LIMIT", "20 per minute; 200 per hour")
        self.LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute; 50 per hour")
        self.API_RATE_LIMIT = _env("API_RATE_LIMIT", "300 per minute")
        # per staff account, whatever the address: NIST SP 800-63B 5.2.2 allows at most 100 failed attempts
        self.LOGIN_ACCOUNT_RATE_LIMIT = _env("LOGIN_ACCOUNT_RATE_LIMIT", "10 per minute; 100 per day")
        self.CAPTCHA_ENABLED = _flag("CAPTCHA_ENABLED", self.captcha_default)
        # the proof of work's difficulty: the browser tries half this many SHA-256 hashes on average
        # (docs/decisions/010-proof-of-work.md has the measured times)
        self.CAPTCHA_MAX_NUMBER = int(_env("CAPTCHA_MAX_NUMBER", "100000"))
        if self.CAPTCHA_MAX_NUMBER < 1:
            raise MissingSecret("CAPTCHA_MAX_NUMBER must be a whole number of at least 1")
        self.EMAIL_CHECK_DELIVERABILITY = _flag("EMAIL_CHECK_DELIVERABILITY", "0")
        self.MAX_EMAILS_PER_STATEMENT = 5
        self.MAX_SIGNERS_PER_EMAIL = 2  # a household, as the UK Parliament petitions service allows
        # however many identities are typed with one address (CONTRACT.md, "Who signed stays unknown")
        self.MAX_EMAILS_PER_ADDRESS_PER_DAY = int(_env("MAX_EMAILS_PER_ADDRESS_PER_DAY", "10"))
        self.MAIL_MAX_ATTEMPTS = int(_env("MAIL_MAX_ATTEMPTS", "10"))
        self.MAIL_RETRY_BASE_SECONDS = int(_env("MAIL_RETRY_BASE_SECONDS", "30"))
        # the pace of updates to supporters, all initiatives together: what the SMTP relay and the receiving
        # providers accept from one sender without deferring or marking it as spam (docs/decisions/011)
        pace = _env("UPDATES_PER_MINUTE", "300").strip()
        if not pace.isdigit() or int(pace) < 1:
            raise MissingSecret("UPDATES_PER_MINUTE must be a whole number of messages a minute, at least 1")
        self.UPDATES_PER_MINUTE = int(pace)
        # How many reverse proxies (load balancers) stand in front and set X-Forwarded-For/-Proto: 0 trusts none, so
        # a client cannot forge its address; behind one load balancer set 1, or every client shares one rate limit.
        self.TRUSTED_PROXIES = int(_env("TRUSTED_PROXIES", "0"))
        # signed audit heads, appended where the database cannot change them (app/audit/heads.py)
        self.AUDIT_HEADS_DIR = _env("AUDIT_HEADS_DIR", str(instance / "audit-heads"))
        # OWASP ASVS 4.0 3.3.2 (level 2): signed in again after 30 idle minutes, and after 12 hours whatever happens
        self.STAFF_SESSION_IDLE_SECONDS = int(_env("STAFF_SESSION_IDLE_SECONDS", "1800"))
        self.STAFF_SESSION_MAX_SECONDS = int(_env("STAFF_SESSION_MAX_SECONDS", "43200"))
        self.ARGON2_PARAMS: dict[str, int] = {}
        self.BABEL_DEFAULT_LOCALE = "en"
        # one catalog per language, translations/<lang>/LC_MESSAGES/messages.po (README, "Languages")
        self.BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session: a signer may take their time
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.BASE_URL.startswith("https://")
        self.SECRET_KEY = self._secret("SECRET_KEY", "secret_key")
        self.FINGERPRINT_KEY = self._secret("FINGERPRINT_KEY", "fingerprint_key")
        # Read, never made here: an auditor's machine that only verifies exports must not invent a signing key of
        # its own (it would then call every genuine manifest forged). `export create` makes it on first use.
        self.EXPORT_SIGNING_KEY = self._existing_secret("EXPORT_SIGNING_KEY", EXPORT_KEY_FILE)

    def _secret(self, name: str, filename: str, required: bool = True) -> str:
        return _instance_secret(name, filename)

    def _existing_secret(self, name: str, filename: str) -> str:
        return _env(name) or existing_instance_secret(filename)

    def as_dict(self) -> dict[str, Any]:
        """Every upper-case setting, the class's own (ENV_NAME, TESTING) and those read from the environment."""
        return {key: getattr(self, key) for key in dir(self) if key.isupper()}


class DevelopmentConfig(Config):
    pass


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    ratelimit_default = "0"
    captcha_default = "0"

    def __init__(self) -> None:
        super().__init__()
        self.ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self) -> None:
        if not _env("DATABASE_URL"):
            raise MissingSecret("DATABASE_URL is not set: production needs a PostgreSQL URL")
        super().__init__()
        if (
            self.RATELIMIT_ENABLED
            and self.RATELIMIT_STORAGE_URI.startswith("memory://")
            and not _flag("RATELIMIT_ALLOW_MEMORY", "0")
        ):
            # each worker would keep its own count: 4 workers let 4 times the limit through
            raise MissingSecret(
                "RATELIMIT_STORAGE_URI is memory://, which every worker counts apart: set redis://..., "
                "or RATELIMIT_ALLOW_MEMORY=1 for one single-process server, or RATELIMIT_ENABLED=0 behind a proxy "
                "that limits"
            )

    def _existing_secret(self, name: str, filename: str) -> str:
        return _env(name)

    def _secret(self, name: str, filename: str, required: bool = True) -> str:
        value = _env(name)
        if not value and required:
            raise MissingSecret(f"{name} is not set: production refuses to start without it")
        return value


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """The config for QUORUM_ENV (or `name`), reading the environment now."""
    name = name or _env("QUORUM_ENV", "development")
    if name not in CONFIGS:
        raise MissingSecret(f"QUORUM_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
    return CONFIGS[name]()
