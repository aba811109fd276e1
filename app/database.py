"""Small database idioms that must behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.routing import IntegerConverter, Map

from .extensions import db

_SCRUBBED = "quorum.scrubbed"


def insert_unless_conflict(table: sa.Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: True if the row went in, False if a unique constraint said no.

    Lets the database's constraints decide races without an exception (and without savepoints, which
    pysqlite does not handle well).
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING, not rowcount: SQLAlchemy adds an implicit RETURNING for a generated key on PostgreSQL, and the
    # result's rowcount is then -1 even when the row went in
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return db.session.execute(statement).first() is not None


def upsert_add(
    table: sa.Table, key: dict[str, Any], column: str, delta: int, *, below: int | None = None
) -> int | None:
    """Add `delta` to `column` of the row with this primary key, making the row (column = delta) if there is none.

    One statement (INSERT ... ON CONFLICT DO UPDATE), so two transactions adding at once both count. With `below`,
    an existing row is only changed while the column is below that bound; returns the new value, or None when the
    bound said no.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(**key, **{column: delta})
    current = table.c[column]
    statement = statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={column: current + delta},
        where=(current < below) if below is not None else None,
    ).returning(current)
    value = db.session.execute(statement).scalar()
    return None if value is None else int(value)


def forget_scrubbed() -> None:
    """Say that this transaction scrubs personal data (an address, a link): on SQLite, once it commits, the write-ahead
    log is checkpointed and truncated, so the old values survive neither in the log nor (secure_delete) in free pages.
    """
    db.session.info[_SCRUBBED] = True


def checkpoint_after_scrubbing(session: Any) -> None:
    """The `after_commit` half of `forget_scrubbed` (SQLite only; PostgreSQL's VACUUM does this in its own time)."""
    if not session.info.pop(_SCRUBBED, False):
        return
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


ROW_ID_MAX = 2**31 - 1
"""The largest id an `integer` column holds on PostgreSQL (SQLite's hold more, never needed)."""


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every URL, bounded by the largest row id: /admin/accounts/99999999999 is a 404, not an integer
    overflow in the database (a 500)."""

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ) -> None:
        super().__init__(map, fixed_digits, min, ROW_ID_MAX if max is None else max, signed)
