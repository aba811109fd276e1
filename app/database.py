"""Small database idioms that must behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db


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
