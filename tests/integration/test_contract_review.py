"""Contract review findings: each test pins a place where the app once did not answer as CONTRACT.md or ECI.md say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.mail.delivery import deliver_due
from app.sealing import write_private_key

from ..support.factories import confirm_link, make_initiative, part_b, path_of
from ..support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _clean_env(instance: Path, **extra: str) -> dict[str, str]:
    """A process that knows nothing of the test run: no secrets, its own instance folder."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QUORUM_INSTANCE": str(instance)}
    env.update(extra)
    return env


def test_gunicorn_stops_when_a_production_secret_is_missing(tmp_path):  # type: ignore[no-untyped-def]
    """CONTRACT.md, Configuration: "In production a missing secret stops start-up (the process exits non-zero)";
    Running it: production is `gunicorn wsgi:app`. The worker exits with code 2, which gunicorn does not treat as a
    boot error, so the master restarts the worker forever and never exits."""
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{free_port()}", "--workers", "1", "wsgi:app"]
    env = _clean_env(tmp_path / "instance", QUORUM_ENV="production", SECRET_KEY="s" * 43, FINGERPRINT_KEY="f" * 43)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail("gunicorn kept restarting its worker instead of exiting:\n" + output[-800:])
    assert process.returncode != 0
    assert "DATABASE_URL" in output


@pytest.mark.slow  # a fresh virtualenv's worth of processes: `make test` runs it, the quick loop does not
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_export_open_works_on_the_auditors_own_machine(app, client, smtp, db, tmp_path):  # type: ignore[no-untyped-def]
    """CONTRACT.md, Command line: `export verify DIR` checks the signature and `export open DIR --key FILE --out
    DIR2` is the auditor side. On any other machine than the server (a fresh instance folder) both once refused a
    genuine export: the instance generated its own EXPORT_SIGNING_KEY on the spot and then called the real signature
    "re-signed by someone else". Since issue 7 they refuse until the machine trusts a key (one line saying how), and
    work with the published key (`--key-file`) or with the key pinned after comparing its fingerprint."""
    app.config["SMTP_URL"] = smtp.url
    initiative, private = make_initiative()
    data = part_b()
    assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    deliver_due(echo=lambda _line: None)
    [message] = smtp.to(data["email"])
    assert client.post(path_of(confirm_link(message))).status_code == 200
    export = tmp_path / "export"
    created = app.test_cli_runner().invoke(
        args=["export", "create", "--initiative", initiative.slug, "--out", str(export)]
    )
    assert created.exit_code == 0, created.output
    key_file = tmp_path / "auditor.key"
    write_private_key(key_file, private)
    published = tmp_path / "export-key.txt"
    published.write_bytes(client.get("/admin/export-key").get_data())

    pins = tmp_path / "auditors-laptop-config" / "export-keys"
    auditor = _clean_env(tmp_path / "auditors-laptop", QUORUM_ENV="development", QUORUM_EXPORT_PINS=str(pins))
    flask = [str(BIN / "flask"), "--app", "wsgi"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*flask, *args], cwd=ROOT, env=auditor, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )

    refused = run("export", "verify", str(export))
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "Error: no trusted export key for http://127.0.0.1:5000: pass --key-file with the key published at "
        "http://127.0.0.1:5000/admin/export-key, or compare and pin its fingerprint once with --pin (or `export "
        "trust`)"
    ]
    verified = run("export", "verify", str(export), "--key-file", str(published))
    assert verified.returncode == 0, verified.stderr
    out = tmp_path / "csv"
    opened = run("export", "open", str(export), "--key", str(key_file), "--out", str(out), "--key-file", str(published))
    assert opened.returncode == 0, opened.stderr
    assert (out / "PL.csv").read_text(encoding="utf-8").count("\n") == 2

    fingerprint = next(line for line in published.read_text().splitlines() if line.startswith("fingerprint: "))
    trusted = run("export", "trust", str(export), "--fingerprint", fingerprint.removeprefix("fingerprint: "))
    assert trusted.returncode == 0, trusted.stderr
    assert pins.is_file()
    assert run("export", "verify", str(export)).returncode == 0  # pinned: no key file needed from now on


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_users_create_without_a_password_says_why(app, db):  # type: ignore[no-untyped-def]
    """CONTRACT.md: every command "exits non-zero with a one-line reason on bad arguments". Without a terminal and
    without --password-stdin (a script, cron, CI) the command ends with a bare "Aborted!"."""
    result = app.test_cli_runner().invoke(args=["users", "create", "ops@example.org", "--role", "admin"], input="")
    assert result.exit_code != 0
    last = [line for line in result.output.splitlines() if line.strip()][-1]
    assert last != "Aborted!"
    assert "password" in last.lower()


def test_a_subscriber_can_unsubscribe(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """ECI.md, retention: addresses kept for updates stay "until the signer unsubscribes". The confirmation email of a
    signer who asked for updates carries a link out; GET changes nothing, POST scrubs the address at once."""
    import sqlalchemy as sa

    from app.models import Subscriber

    initiative, _ = make_initiative()
    data = part_b(updates_consent="y")
    assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    deliver_due(echo=lambda _line: None)
    [message] = smtp.to(data["email"])
    text = message.get_body(preferencelist=("plain",)).get_content()
    [link] = [word for word in text.split() if "/unsubscribe/" in word]
    assert link.startswith(f"{mail_app.config['BASE_URL']}/i/{initiative.slug}/unsubscribe/")
    assert "/confirm/" not in link
    assert client.post(path_of(confirm_link(message))).status_code == 200  # confirming still works alongside

    assert client.get(path_of(link)).status_code == 200
    db.session.expire_all()
    [subscriber] = db.session.scalars(sa.select(Subscriber)).all()
    assert subscriber.unsubscribed_at is None and subscriber.email == data["email"] and subscriber.active

    assert client.post(path_of(link)).status_code == 200
    assert client.post(path_of(link)).status_code == 200  # twice is harmless
    db.session.expire_all()
    [subscriber] = db.session.scalars(sa.select(Subscriber)).all()
    assert subscriber.unsubscribed_at is not None and subscriber.email == "" and not subscriber.active
    assert client.get(path_of(link[:-3] + "abc")).status_code == 400  # an altered link
    other, _ = make_initiative("other-initiative")
    assert client.get(path_of(link).replace(initiative.slug, other.slug)).status_code == 400


def test_no_unsubscribe_link_without_consent(mail_app, client, smtp):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    data = part_b()
    client.post(f"/i/{initiative.slug}/sign", data=data)
    deliver_due(echo=lambda _line: None)
    [message] = smtp.to(data["email"])
    assert "/unsubscribe/" not in message.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_command_on_an_unmigrated_database_says_what_to_do(app_factory, tmp_path):  # type: ignore[no-untyped-def]
    """CONTRACT.md: every command "exits non-zero with a one-line reason". Before `db upgrade` (a newcomer's first
    try, or a wrong DATABASE_URL) `initiatives create`, `retention purge` and `audit verify` end in a SQLAlchemy
    traceback ("no such table: initiative") instead of one line that says to run `db upgrade`."""
    fresh = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}")
    result = fresh.test_cli_runner().invoke(
        args=["initiatives", "create", "--slug", "a", "--title", "A", "--start", "2026-01-01", "--end", "2026-06-30"]
    )
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "db upgrade" in lines[0], result.output
