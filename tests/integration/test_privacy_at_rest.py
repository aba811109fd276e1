"""Privacy at rest: once the outbox is delivered, the database holds no signer's name, address, birth date,
document number or email in plaintext; an address kept for updates lives only in the subscriber table."""

from __future__ import annotations

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


def _raw_sqlite_bytes() -> bytes:
    """The database file's bytes after the write-ahead log was folded into it."""
    with _db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(make_url(_db.engine.url).database or "")
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


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
