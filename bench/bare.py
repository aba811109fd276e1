"""A bare Flask app doing the signing path's database work, and nothing else: the yardstick of issue 10.

Quorum's signing path is measured against this app in the same run, on the same PostgreSQL cluster, under the same
gunicorn (bench.flow). It does what any petition site must do, the plain way: a 20-field form rendered with Jinja
from one row read; a POST that inserts a statement-shaped row (two HMAC fingerprints, a blob the size of a sealed
statement) and an outbox row holding the confirmation email, in one transaction, then answers 303; a confirmation
page read by the statement's id; a confirmation POST that flips the row and bumps a per-country counter. Its mail
worker (`python -m bench.bare worker`) sends the outbox over SMTP as Quorum's does.

No validation beyond "present", no sealing, no signed links, no translations, no CSRF: what Quorum does beyond this
app is its cost, and the ratio says how large that cost is.

    gunicorn "bench.bare:create_app('postgresql+psycopg://...')"
    python -m bench.bare worker DATABASE_URL SMTP_HOST:PORT
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import smtplib
import sys
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, abort, redirect, render_template, request
from flask.typing import ResponseReturnValue

SLUG = "bare"
COUNTRIES = [
    ("AT", "Austria"), ("BE", "Belgium"), ("BG", "Bulgaria"), ("HR", "Croatia"), ("CY", "Cyprus"),
    ("CZ", "Czechia"), ("DK", "Denmark"), ("EE", "Estonia"), ("FI", "Finland"), ("FR", "France"),
    ("DE", "Germany"), ("GR", "Greece"), ("HU", "Hungary"), ("IE", "Ireland"), ("IT", "Italy"),
    ("LV", "Latvia"), ("LT", "Lithuania"), ("LU", "Luxembourg"), ("MT", "Malta"), ("NL", "Netherlands"),
    ("PL", "Poland"), ("PT", "Portugal"), ("RO", "Romania"), ("SK", "Slovakia"), ("SI", "Slovenia"),
    ("ES", "Spain"), ("SE", "Sweden"),
]  # fmt: skip
SEALED_SIZE = 240
"""Bytes in a sealed Part B statement (48 bytes of SealedBox around the JSON of the signer's fields)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS bare_initiative (
    id serial PRIMARY KEY, slug varchar(80) UNIQUE NOT NULL, title varchar(200) NOT NULL);
CREATE TABLE IF NOT EXISTS bare_country (
    initiative_id int REFERENCES bare_initiative(id), country_code varchar(2),
    confirmed_count int NOT NULL DEFAULT 0, PRIMARY KEY (initiative_id, country_code));
CREATE TABLE IF NOT EXISTS bare_statement (
    id uuid PRIMARY KEY, initiative_id int NOT NULL REFERENCES bare_initiative(id), country_code varchar(2) NOT NULL,
    status varchar(12) NOT NULL, identity_fingerprint varchar(64) NOT NULL, email_fingerprint varchar(64) NOT NULL,
    sealed_data bytea NOT NULL, created_at timestamp NOT NULL, confirmed_at timestamp,
    UNIQUE (initiative_id, identity_fingerprint, email_fingerprint));
CREATE INDEX IF NOT EXISTS ix_bare_statement_country ON bare_statement (initiative_id, country_code, status);
CREATE TABLE IF NOT EXISTS bare_outbox (
    id serial PRIMARY KEY, to_address varchar(320), subject varchar(300) NOT NULL, body_text text,
    status varchar(12) NOT NULL DEFAULT 'queued', created_at timestamp NOT NULL, sent_at timestamp);
CREATE INDEX IF NOT EXISTS ix_bare_outbox_due ON bare_outbox (status, id);
"""

_FIELDS: list[tuple[str, list[dict[str, str]]]] = [
    ("1. Your nationality", [{"name": "country", "label": "Member state of your nationality", "kind": "select"}]),
    (
        "2. About you",
        [
            {"name": "first_names", "label": "First names (all of them)", "kind": "text", "autocomplete": "given-name"},
            {"name": "family_names", "label": "Family names", "kind": "text", "autocomplete": "family-name"},
        ],
    ),
    (
        "3. Your date of birth and address",
        [
            {"name": "date_of_birth_day", "label": "Day", "kind": "text", "autocomplete": "bday-day"},
            {"name": "date_of_birth_month", "label": "Month", "kind": "text", "autocomplete": "bday-month"},
            {"name": "date_of_birth_year", "label": "Year", "kind": "text", "autocomplete": "bday-year"},
            {"name": "street", "label": "Street and number", "kind": "text", "autocomplete": "address-line1"},
            {"name": "street_more", "label": "Address, line 2", "kind": "text", "autocomplete": "address-line2"},
            {"name": "postal_code", "label": "Postal code", "kind": "text", "autocomplete": "postal-code"},
            {"name": "city", "label": "City or town", "kind": "text", "autocomplete": "address-level2"},
            {"name": "residence_country", "label": "Country of residence", "kind": "select"},
        ],
    ),
    (
        "3. Your identity document",
        [
            {"name": "id_type", "label": "Document", "kind": "text", "autocomplete": "off"},
            {"name": "id_number", "label": "Document number", "kind": "text", "autocomplete": "off",
             "hint": "As printed on the document"},
            {"name": "age_confirm", "label": "I am old enough to sign", "kind": "checkbox"},
        ],
    ),
    (
        "4. Confirm by email",
        [
            {"name": "email", "label": "Email address", "kind": "email", "autocomplete": "email",
             "hint": "We send you a link: your support counts only once you confirm it."},
            {"name": "email_again", "label": "Email address, again", "kind": "email", "autocomplete": "email"},
            {"name": "phone", "label": "Phone (optional)", "kind": "tel", "autocomplete": "tel"},
            {"name": "privacy_consent", "label": "I have read the privacy statement", "kind": "checkbox"},
            {"name": "declaration", "label": "The information I have given is correct", "kind": "checkbox"},
            {"name": "updates_consent", "label": "Send me updates (optional)", "kind": "checkbox"},
        ],
    ),
]  # fmt: skip
assert sum(len(group) for _legend, group in _FIELDS) == 20

_RULES_JSON = json.dumps(
    {code: {"part": "B", "min_age": 18, "id_types": ["personal_number", "passport"]} for code, _name in COUNTRIES}
)
_REQUIRED = ("country", "first_names", "family_names", "id_number", "email", "privacy_consent", "declaration")
_KEY = b"bare-fingerprint-key"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_schema(url: str, title: str = "Benchmark") -> None:
    """The tables, one initiative and its 27 countries (idempotent)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for statement in filter(str.strip, SCHEMA.split(";")):
            connection.execute(sa.text(statement))
        connection.execute(
            sa.text("INSERT INTO bare_initiative (slug, title) VALUES (:slug, :title) ON CONFLICT DO NOTHING"),
            {"slug": SLUG, "title": title},
        )
        connection.execute(
            sa.text(
                "INSERT INTO bare_country (initiative_id, country_code) SELECT id, :code FROM bare_initiative "
                "WHERE slug = :slug ON CONFLICT DO NOTHING"
            ),
            [{"code": code, "slug": SLUG} for code, _name in COUNTRIES],
        )
    engine.dispose()


def _fingerprint(*parts: str) -> str:
    return hmac.new(_KEY, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def create_app(database_url: str, base_url: str = "http://127.0.0.1") -> Flask:
    """The bare app on `database_url`; confirmation links in emails start with `base_url`."""
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    engine = sa.create_engine(database_url, pool_size=2)
    app.extensions["bare.engine"] = engine
    countries = dict(COUNTRIES)

    def initiative() -> Any:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT id, title FROM bare_initiative WHERE slug = :slug"), {"slug": SLUG}
            ).first()
        if row is None:
            abort(404)
        return row

    @app.get("/form")
    def form() -> str:
        return render_template(
            "bare/form.html",
            initiative=initiative(),
            fieldsets=_FIELDS,
            countries=COUNTRIES,
            selected=request.args.get("country", ""),
            rules_json=_RULES_JSON,
        )

    @app.post("/sign")
    def sign() -> ResponseReturnValue:
        data = request.form
        if any(not data.get(name) for name in _REQUIRED) or data["country"] not in countries:
            abort(422)
        now = utcnow()
        statement_id = uuid.uuid4()
        email = data["email"].strip().lower()
        link = f"{base_url}/confirm/{statement_id}"
        with engine.begin() as connection:
            initiative_id = connection.execute(
                sa.text("SELECT id FROM bare_initiative WHERE slug = :slug"), {"slug": SLUG}
            ).scalar_one()
            connection.execute(
                sa.text(
                    "INSERT INTO bare_statement (id, initiative_id, country_code, status, identity_fingerprint, "
                    "email_fingerprint, sealed_data, created_at) VALUES (:id, :initiative_id, :country, 'pending', "
                    ":identity, :email_fp, :sealed, :now)"
                ),
                {
                    "id": statement_id,
                    "initiative_id": initiative_id,
                    "country": data["country"],
                    "identity": _fingerprint(data["country"], data["id_type"], data["id_number"]),
                    "email_fp": _fingerprint(email),
                    "sealed": os.urandom(SEALED_SIZE),
                    "now": now,
                },
            )
            connection.execute(
                sa.text(
                    "INSERT INTO bare_outbox (to_address, subject, body_text, created_at) "
                    "VALUES (:to, :subject, :body, :now)"
                ),
                {
                    "to": email,
                    "subject": "Please confirm your support",
                    "body": f"Hello,\n\nplease confirm your support by opening this link:\n\n{link}\n\nThank you.\n",
                    "now": now,
                },
            )
        return redirect("/thanks", code=303)

    @app.get("/confirm/<uuid:statement_id>")
    def confirm_page(statement_id: uuid.UUID) -> str:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT country_code FROM bare_statement WHERE id = :id"), {"id": statement_id}
            ).first()
        if row is None:
            abort(404)
        return render_template(
            "bare/confirm.html", initiative=initiative(), country=countries[row[0]], statement_id=statement_id
        )

    @app.post("/confirm/<uuid:statement_id>")
    def confirm(statement_id: uuid.UUID) -> str:
        now = utcnow()
        with engine.begin() as connection:
            row = connection.execute(
                sa.text(
                    "UPDATE bare_statement SET status = 'confirmed', confirmed_at = :now "
                    "WHERE id = :id AND status = 'pending' RETURNING initiative_id, country_code"
                ),
                {"id": statement_id, "now": now},
            ).first()
            if row is not None:
                connection.execute(
                    sa.text(
                        "UPDATE bare_country SET confirmed_count = confirmed_count + 1 "
                        "WHERE initiative_id = :initiative_id AND country_code = :country"
                    ),
                    {"initiative_id": row[0], "country": row[1]},
                )
            country = row[1] if row is not None else None
        return render_template("bare/confirmed.html", initiative=initiative(), country=countries.get(country or "", ""))

    return app


def deliver_forever(database_url: str, smtp_address: str, interval: float = 2.0) -> None:
    """The outbox over SMTP, 50 at a time with SKIP LOCKED, scrubbed once sent; sleeps `interval` when it is empty
    (as `flask mail send --loop` does). Stops on SIGTERM."""
    host, _, port = smtp_address.rpartition(":")
    engine = sa.create_engine(database_url, pool_size=1)
    stopping = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    client = smtplib.SMTP(host, int(port), timeout=10)
    print("bare worker: delivering", flush=True)
    while not stopping["now"]:
        with engine.begin() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT id, to_address, subject, body_text FROM bare_outbox WHERE status = 'queued' "
                    "ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED"
                )
            ).all()
            for _id, to, subject, body in rows:
                message = EmailMessage()
                message["From"] = "Petition <noreply@example.org>"
                message["To"] = to
                message["Subject"] = subject
                message.set_content(body, cte="8bit")
                client.send_message(message)
            if rows:
                connection.execute(
                    sa.text(
                        "UPDATE bare_outbox SET status = 'sent', sent_at = :now, to_address = NULL, body_text = NULL "
                        "WHERE id = ANY(:ids)"
                    ),
                    {"now": utcnow(), "ids": [row[0] for row in rows]},
                )
        if not rows:
            time.sleep(interval)
    client.quit()
    engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "worker":
        sys.exit("usage: python -m bench.bare worker DATABASE_URL SMTP_HOST:PORT")
    deliver_forever(sys.argv[2], sys.argv[3])
