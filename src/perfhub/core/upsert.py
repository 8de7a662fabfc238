"""Dialect-aware upserts on a natural key, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


@lru_cache(maxsize=64)
def _statement(
    dialect: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...], newer: str | None
) -> Insert:
    # Built once per shape: the same statement object lets SQLAlchemy reuse its compiled form,
    # and rows passed separately go out as batched multi-row INSERTs ("insertmanyvalues").
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    updated = {name: stmt.excluded[name] for name in columns if name not in key and name != "id"}
    where = table.c[newer] <= stmt.excluded[newer] if newer is not None else None
    return stmt.on_conflict_do_update(index_elements=list(key), set_=updated, where=where)


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
    stmt = _statement(dialect, table, tuple(rows[0]), tuple(key), newer_column)
    session.execute(stmt, list(rows))
