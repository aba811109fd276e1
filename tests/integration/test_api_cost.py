"""The public counts are read from the per-country counters: the API's queries neither grow in number nor touch the
statements as statements accumulate (a proof by the SQL it sends, not by a timing)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import InitiativeCountry, Statement, utcnow

from ..support.factories import make_initiative


@contextmanager
def _recorded() -> Iterator[list[str]]:
    statements: list[str] = []

    def listen(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)


def _add_confirmed(initiative_id: int, count: int, start: int) -> None:
    now = utcnow()
    db.session.execute(
        sa.insert(Statement),
        [
            {
                "initiative_id": initiative_id,
                "country_code": "PL",
                "status": "confirmed",
                "identity_fingerprint": hashlib.sha256(f"id{n}".encode()).hexdigest(),
                "email_fingerprint": hashlib.sha256(f"mail{n}".encode()).hexdigest(),
                "email_slot": 1,
                "sealed_data": b"sealed",
                "created_at": now,
                "confirmed_at": now,
            }
            for n in range(start, start + count)
        ],
    )
    db.session.execute(
        sa.update(InitiativeCountry)
        .where(InitiativeCountry.initiative_id == initiative_id, InitiativeCountry.country_code == "PL")
        .values(confirmed_count=InitiativeCountry.confirmed_count + count)
    )
    db.session.commit()


@pytest.mark.counters_edited  # rows and counters written in bulk, as no signer could
def test_api_queries_do_not_grow_with_statements(app, client):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative("counted")
    initiative_id = initiative.id
    observed = []
    for start, batch in ((0, 10), (10, 500)):
        _add_confirmed(initiative_id, batch, start=start)
        db.session.remove()
        with _recorded() as statements:
            detail = client.get("/api/v1/initiatives/counted").get_json()
            listing = client.get("/api/v1/initiatives").get_json()
        observed.append(statements)
        assert not [s for s in statements if "FROM statement" in s], statements  # counters, never the rows
        assert detail["confirmed"] == listing["initiatives"][0]["confirmed"]
    assert detail["confirmed"] == 510
    assert len(observed[0]) == len(observed[1])  # the same queries for 10 or 510 statements
