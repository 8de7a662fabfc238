"""Dialect-aware upserts on a natural key, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    *,
    newer_column: str | None = None,
) -> None:
    """Insert ``rows`` or update them in place on a ``key`` conflict.

    With ``newer_column``, an existing row is only replaced by a row whose value there is not
    older, so deliveries arriving out of order settle on the same final state.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(list(rows))
    updated = {name: stmt.excluded[name] for name in rows[0] if name not in key and name != "id"}
    where = None
    if newer_column is not None:
        where = table.c[newer_column] <= stmt.excluded[newer_column]
    session.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=updated, where=where))
