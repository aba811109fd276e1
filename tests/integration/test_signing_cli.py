"""The signing side's commands: `initiatives create`, `keys generate`, `mail send`, `demo seed` (CONTRACT.md)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from nacl.public import PrivateKey

from app.initiatives import add_months, find_initiative
from app.models import Initiative, Statement, utctoday
from app.sealing import read_private_key
from config import ROOT

from ..support.factories import make_initiative, part_b


def _run(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def _one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    """Non-zero exit and exactly one line saying why."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return str(lines[0])


def _create(app, slug: str = "open-data", start: str | None = None, end: str | None = None, *extra: str):  # type: ignore[no-untyped-def]
    today = utctoday()
    return _run(
        app,
        "initiatives",
        "create",
        "--slug",
        slug,
        "--title",
        "Open data for all",
        "--start",
        start or today.isoformat(),
        "--end",
        end or (today + timedelta(days=300)).isoformat(),
        *extra,
    )


def _initiatives(db) -> list[Initiative]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Initiative)))


# -- initiatives create ----------------------------------------------------------------------------------------------


def test_create_initiative(app, client, db):  # type: ignore[no-untyped-def]
    """Outside production a created initiative collects at once, as the contract says, with a development key."""
    result = _create(app)
    assert result.exit_code == 0, result.output
    assert "created initiative open-data" in result.output
    assert "development auditor key" in result.output
    [initiative] = _initiatives(db)
    assert (initiative.slug, initiative.title, initiative.rule_set) == ("open-data", "Open data for all", "eci-2024")
    assert initiative.status == "collecting"
    assert len(initiative.countries) == 27
    key_file = Path(app.instance_path) / "auditor-open-data.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert initiative.auditor_public_key == bytes(PrivateKey(read_private_key(key_file)).public_key)
    assert client.get("/api/v1/initiatives/open-data").get_json()["status"] == "collecting"
    assert client.post("/i/open-data/sign", data=part_b()).status_code == 303


def test_create_in_production_waits_for_the_auditor_key(app, client, db, tmp_path):  # type: ignore[no-untyped-def]
    """In production no private key is ever written on the server: signing opens after `keys generate`."""
    app.config["ENV_NAME"] = "production"
    (Path(app.instance_path) / "auditor-open-data.key").unlink(missing_ok=True)  # from an earlier test
    result = _create(app)
    assert result.exit_code == 0, result.output
    assert "keys generate --initiative open-data" in result.output
    [initiative] = _initiatives(db)
    assert initiative.auditor_public_key is None
    assert not (Path(app.instance_path) / "auditor-open-data.key").exists()
    assert client.post("/i/open-data/sign", data=part_b()).status_code == 403  # nothing can be collected yet
    generated = app.test_cli_runner().invoke(
        args=["keys", "generate", "--initiative", "open-data", "--out", str(tmp_path / "auditor.key")]
    )
    assert generated.exit_code == 0, generated.output
    assert client.post("/i/open-data/sign", data=part_b()).status_code == 303


def test_create_with_older_rules_and_twelve_months(app, db):  # type: ignore[no-untyped-def]
    start = utctoday()
    last_day = add_months(start, 12) - timedelta(days=1)
    result = _create(app, "old-rules", start.isoformat(), last_day.isoformat(), "--rules", "eci-2020")
    assert result.exit_code == 0, result.output
    [initiative] = _initiatives(db)
    assert initiative.rule_set == "eci-2020"
    assert initiative.country("DE").threshold == 67680


def test_create_draft_is_hidden(app, client, db):  # type: ignore[no-untyped-def]
    result = _create(app, "quiet", None, None, "--draft")
    assert result.exit_code == 0, result.output
    [initiative] = _initiatives(db)
    assert initiative.status == "draft"
    assert client.get("/api/v1/initiatives").get_json() == {"initiatives": []}
    assert client.get("/i/quiet").status_code == 404


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("2026-13-01", "2026-12-01", "--start"),
        ("01.02.2026", "2026-12-01", "--start"),
        ("2026-02-01", "2026-02-30", "--end"),
        ("2026-02-01", "next week", "--end"),
        ("2026-06-01", "2026-05-31", "before the start"),
        ("2026-01-01", "2027-01-01", "12 months"),
        ("2026-01-31", "2027-06-01", "12 months"),
    ],
)
def test_create_refuses_bad_dates(app, db, start, end, words):  # type: ignore[no-untyped-def]
    line = _one_line_error(_create(app, "dated", start, end))
    assert words in line
    assert _initiatives(db) == []


def test_create_refuses_bad_rules_slug_and_title(app, db):  # type: ignore[no-untyped-def]
    assert "eci-2024" in _one_line_error(_create(app, "ruled", None, None, "--rules", "eci-1999"))
    assert "slug" in _one_line_error(_create(app, "Not A Slug"))
    assert "slug" in _one_line_error(_create(app, "-leading-hyphen"))
    today = utctoday()
    result = _run(
        app,
        "initiatives",
        "create",
        "--slug",
        "untitled",
        "--title",
        "   ",
        "--start",
        today.isoformat(),
        "--end",
        today.isoformat(),
    )
    assert "title" in _one_line_error(result)
    result = _run(
        app,
        "initiatives",
        "create",
        "--slug",
        "wordy",
        "--title",
        "T" * 201,
        "--start",
        today.isoformat(),
        "--end",
        today.isoformat(),
    )
    assert "too long" in _one_line_error(result)
    # several problems at once still make one line
    line = _one_line_error(_create(app, "Bad Slug", "2026-06-01", "2026-05-01", "--rules", "nope"))
    assert "slug" in line and "rules" in line and "before the start" in line
    assert _initiatives(db) == []


def test_create_refuses_a_duplicate_slug(app, db):  # type: ignore[no-untyped-def]
    assert _create(app).exit_code == 0
    line = _one_line_error(_create(app))
    assert "exists already" in line
    assert len(_initiatives(db)) == 1


def test_create_without_required_options_fails(app, db):  # type: ignore[no-untyped-def]
    result = _run(app, "initiatives", "create", "--slug", "x")
    assert result.exit_code != 0
    assert "Missing option" in result.stderr
    assert _initiatives(db) == []


def test_bad_arguments_in_a_real_process(app, tmp_path):  # type: ignore[no-untyped-def]
    """The same refusal from `flask --app wsgi ...` as an operator runs it: exit status 1, one line on stderr."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "QUORUM_ENV": "testing",
        "QUORUM_INSTANCE": str(tmp_path),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "initiatives",
            "create",
            "--slug",
            "x",
            "--title",
            "X",
            "--start",
            "2026-01-01",
            "--end",
            "2028-01-01",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "Error: collection may last at most 12 months: the end date must be before 2027-01-01"
    ]


# -- keys generate ---------------------------------------------------------------------------------------------------


def test_generate_keys(app, client, db, tmp_path):  # type: ignore[no-untyped-def]
    assert _create(app).exit_code == 0
    out = tmp_path / "auditor.key"
    result = _run(app, "keys", "generate", "--initiative", "open-data", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    [initiative] = _initiatives(db)
    private = read_private_key(out)
    assert bytes(PrivateKey(private).public_key) == initiative.auditor_public_key
    assert private not in (initiative.auditor_public_key or b"")
    # now it collects
    assert client.post("/i/open-data/sign", data=part_b()).status_code == 303


def test_generate_keys_refuses_to_overwrite(app, db, tmp_path):  # type: ignore[no-untyped-def]
    assert _create(app).exit_code == 0
    before = _initiatives(db)[0].auditor_public_key
    out = tmp_path / "auditor.key"
    out.write_text("precious\n")
    line = _one_line_error(_run(app, "keys", "generate", "--initiative", "open-data", "--out", str(out)))
    assert "overwrite" in line or "exists" in line
    assert out.read_text() == "precious\n"
    assert _initiatives(db)[0].auditor_public_key == before


def test_generate_keys_unknown_initiative_or_folder(app, db, tmp_path):  # type: ignore[no-untyped-def]
    line = _one_line_error(_run(app, "keys", "generate", "--initiative", "nope", "--out", str(tmp_path / "k")))
    assert "nope" in line
    assert not (tmp_path / "k").exists()
    assert _create(app).exit_code == 0
    before = _initiatives(db)[0].auditor_public_key
    missing = tmp_path / "no-such-folder" / "k"
    line = _one_line_error(_run(app, "keys", "generate", "--initiative", "open-data", "--out", str(missing)))
    assert "no-such-folder" in line
    assert _initiatives(db)[0].auditor_public_key == before


def test_generate_keys_refuses_once_statements_are_sealed(app, client, db, tmp_path):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    before = initiative.auditor_public_key
    out = tmp_path / "new.key"
    line = _one_line_error(_run(app, "keys", "generate", "--initiative", initiative.slug, "--out", str(out)))
    assert "statements" in line
    assert not out.exists()
    db.session.expire_all()
    assert find_initiative(initiative.slug).auditor_public_key == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 1


# -- mail send -------------------------------------------------------------------------------------------------------


def test_mail_send_writes_files_and_prints_links(app, client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b()).status_code == 303
    result = _run(app, "mail", "send")
    assert result.exit_code == 0, result.output
    assert f"/i/{initiative.slug}/confirm/" in result.output
    assert ".eml" in result.output
    assert "sent 1" in result.output
    again = _run(app, "mail", "send")
    assert "sent 0" in again.output


def test_mail_send_refuses_a_bad_smtp_url(app, client, db):  # type: ignore[no-untyped-def]
    app.config["SMTP_URL"] = "http://mail.example.org"
    line = _one_line_error(_run(app, "mail", "send"))
    assert "SMTP_URL" in line


# -- demo seed -------------------------------------------------------------------------------------------------------


def test_demo_seed_is_idempotent(app, app_factory, db, client, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QUORUM_INSTANCE", str(tmp_path))  # the demo key goes to this app's own instance folder
    demo = app_factory()
    with demo.app_context():
        first = _run(demo, "demo", "seed")
        assert first.exit_code == 0, first.output
        key = Path(demo.instance_path) / "auditor-reclaim-your-face.key"
        assert key.exists()
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        key_bytes = key.read_bytes()
        second = _run(demo, "demo", "seed")
        assert second.exit_code == 0, second.output
        assert "nothing to seed" in second.output
        assert key.read_bytes() == key_bytes
    [initiative] = _initiatives(db)
    assert initiative.slug == "reclaim-your-face"
    assert bytes(PrivateKey(read_private_key(key)).public_key) == initiative.auditor_public_key
    body = client.get("/api/v1/initiatives/reclaim-your-face").get_json()
    assert body["status"] == "collecting"
    assert client.post("/i/reclaim-your-face/sign", data=part_b()).status_code == 303
