"""Privacy at rest: once the outbox is delivered, the database holds no signer's name, address, birth date,
document number or email in plaintext; an address kept for updates lives only in the subscriber table."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.extensions import db as _db
from app.mail.delivery import deliver_due
from app.models import Subscriber

from ..support.factories import confirm_link, make_initiative, part_a, part_b, path_of


def _signers(marker: str, updates: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Part A and Part B data with values no other test writes, so leftovers of earlier tests cannot interfere."""
    extra = {"updates_consent": "y"} if updates else {}
    a = part_a(
        first_names=f"Zoë{marker}",
        family_names=f"Müller{marker}",
        street=f"Hauptstraße {marker}",
        postal_code=f"PC{marker[:8]}",
        city=f"Berlin{marker}",
        date_of_birth="1971-08-19",
        email=f"zoe.{marker}@example.org",
        **extra,
    )
    b = part_b(
        first_names=f"Agnieszka{marker}",
        family_names=f"Wiśniewska{marker}",
        id_number="02070803628",
        email=f"aga.{marker}@example.org",
        **extra,
    )
    return a, b


def _secrets(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return [
        a["first_names"],
        a["family_names"],
        a["street"],
        a["city"],
        a["date_of_birth"],
        a["email"],
        b["first_names"],
        b["family_names"],
        b["id_number"],
        b["email"],
        a["postal_code"],
        "Hauptstra",
        "19710819",  # the birth date without separators; bare "1971" can occur by chance in a timestamp or a hash
    ]


def _table_dumps() -> dict[str, str]:
    """Every table in the database, models or not, as text read with SELECT * (what a dump would show)."""
    dumps: dict[str, str] = {}
    with _db.engine.connect() as connection:
        for name in sa.inspect(connection).get_table_names():
            rows = connection.execute(sa.select(sa.text("*")).select_from(sa.table(name))).all()
            dumps[name] = "\n".join(repr(tuple(row)) for row in rows)
    assert {"statement", "outbox_message", "subscriber"} <= set(dumps)
    return dumps


def _read_elsewhere(*paths: Path) -> bytes:
    """Files' bytes, read by another process. Opening and closing a database file in this process would drop the
    POSIX locks SQLite's own connections hold on it (they are per process), and break those connections."""
    script = (
        "import sys\n"
        "for p in sys.argv[1:]:\n"
        "    try: sys.stdout.buffer.write(open(p, 'rb').read())\n"
        "    except FileNotFoundError: pass"
    )
    return subprocess.run([sys.executable, "-c", script, *map(str, paths)], capture_output=True, check=True).stdout


def _raw_sqlite_bytes() -> bytes:
    """The database file's bytes after the write-ahead log was folded into it."""
    with _db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(make_url(_db.engine.url).database or "")
    return _read_elsewhere(path, path.with_name(path.name + "-wal"))


def _sign_and_deliver(client, smtp, slug: str, *signers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for data in signers:
        assert client.post(f"/i/{slug}/sign", data=data).status_code == 303
    assert deliver_due(echo=lambda _line: None).sent == len(signers)
    for data in signers:
        assert client.post(path_of(confirm_link(smtp.to(data["email"])[0]))).status_code == 200


def _encodings(value: str) -> list[bytes]:
    return [value.encode("utf-8"), value.encode("utf-16-le")]


def test_nothing_personal_in_plaintext(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    marker = uuid.uuid4().hex[:10]
    a, b = _signers(marker, updates=False)
    initiative, _ = make_initiative()
    _sign_and_deliver(client, smtp, initiative.slug, a, b)
    secrets = _secrets(a, b)

    dumps = _table_dumps()
    assert dumps["statement"] and dumps["outbox_message"]
    for table, text in dumps.items():
        for secret in secrets:
            assert secret not in text, (table, secret)
    assert dumps["subscriber"] == ""

    if db.engine.dialect.name == "sqlite":
        raw = _raw_sqlite_bytes()
        assert initiative.slug.encode() in raw  # the reading works
        for secret in secrets:
            for encoded in _encodings(secret):
                assert encoded not in raw, secret


def test_queued_message_holds_the_address_until_delivered(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """The outbox is the one place an address waits, and only until it is sent."""
    marker = uuid.uuid4().hex[:10]
    a, _b = _signers(marker, updates=False)
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=a).status_code == 303
    before = _table_dumps()
    assert a["email"] in before["outbox_message"]
    assert a["first_names"] not in before["outbox_message"]
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        assert a["email"].encode() in _raw_sqlite_bytes()  # the raw reading would see it
    assert deliver_due(echo=lambda _line: None).sent == 1
    assert a["email"] not in _table_dumps()["outbox_message"]
    if sqlite:
        raw = _raw_sqlite_bytes()
        assert a["email"].encode() not in raw  # not even in a page's free space
        assert b"/confirm/" not in raw


def test_updates_address_only_in_the_subscriber_table(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    marker = uuid.uuid4().hex[:10]
    a, b = _signers(marker, updates=True)
    initiative, _ = make_initiative()
    _sign_and_deliver(client, smtp, initiative.slug, a, b)

    dumps = _table_dumps()
    for address in (a["email"], b["email"]):
        holders = [table for table, text in dumps.items() if address in text]
        assert holders == ["subscriber"], (address, holders)
    others = [s for s in _secrets(a, b) if s not in (a["email"], b["email"])]
    for table, text in dumps.items():
        for secret in others:
            assert secret not in text, (table, secret)
    # the subscriptions became active with the confirmations
    db.session.expire_all()
    subscribers = db.session.scalars(sa.select(Subscriber)).all()
    assert sorted((s.email, s.active) for s in subscribers) == sorted([(a["email"], True), (b["email"], True)])

    if db.engine.dialect.name == "sqlite":
        raw = _raw_sqlite_bytes()
        for secret in others:
            assert secret.encode() not in raw, secret


def _files_as_they_are() -> bytes:
    """The database file and its write-ahead log as they lie on disk now, without checkpointing anything."""
    path = Path(make_url(_db.engine.url).database or "")
    return _read_elsewhere(path, path.with_name(path.name + "-wal"))


def test_scrubbed_addresses_leave_the_write_ahead_log_at_once(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """SQLite keeps old page versions in its -wal file until a checkpoint: the app checkpoints after scrubbing."""
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL: no file of ours to read; its own WAL is the server's (README, "Privacy")
    marker = uuid.uuid4().hex[:10]
    a, _b = _signers(marker, updates=True)
    initiative, _ = make_initiative()
    assert client.post(f"/i/{initiative.slug}/sign", data=a).status_code == 303
    assert a["email"].encode() in _files_as_they_are()
    assert deliver_due(echo=lambda _line: None).sent == 1
    raw = _files_as_they_are()
    assert b"/confirm/" not in raw  # the link went with the outbox row's body
    # the address is kept for updates (subscriber table) until the signer unsubscribes: then it goes too
    [subscriber] = db.session.scalars(sa.select(Subscriber)).all()
    link = client.get(f"/i/{initiative.slug}").status_code  # any request: the unsubscribe link comes below
    assert link == 200
    from flask import current_app

    from app.links import links
    from app.signing.subscriptions import unsubscribe_url

    url = unsubscribe_url(links(), current_app.config["SECRET_KEY"], initiative, subscriber)
    assert client.post(path_of(url)).status_code == 200
    assert a["email"].encode() not in _files_as_they_are()


def test_the_development_database_and_mail_files_are_private(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Outside tests and production, `make run` keeps both under instance/: only their owner may read them."""
    import os
    import stat

    from app import create_app
    from app.mail.delivery import DirectoryTransport
    from config import TestingConfig

    database = tmp_path / "dev" / "quorum.db"
    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}")
    with app.app_context():
        with _db.engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
            connection.commit()
        _db.engine.dispose()
    assert stat.S_IMODE(os.stat(database).st_mode) == 0o600
    from email.message import EmailMessage

    message = EmailMessage()
    message["Message-ID"] = "<probe@example.org>"
    message.set_content("hello")
    folder = tmp_path / "mail"
    DirectoryTransport(folder, echo=lambda _line: None).send(message)
    [written] = list(folder.iterdir())
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
