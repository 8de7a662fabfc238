"""Dialect-aware bulk writes (inserts, and upserts on a natural key) for SQLite and PostgreSQL alike.

On PostgreSQL every column travels as one array parameter (``INSERT … SELECT unnest(…), …``):
one statement whose text does not depend on the number of rows, so psycopg prepares it once and
PostgreSQL plans it once, where executemany would send and execute a statement per row. SQLite
runs in-process, where executemany is the cheapest way.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Float, Row, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_statement(
    dialect: str, table: Table, columns: tuple[str, ...]
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of many rows of ``columns``; run it with :func:`parameters`."""
    if dialect != "postgresql":
        return sqlite.insert(table)
    # dimensions=1: a JSON value that is itself a list stays one element of its column.
    rows = select(
        *(
            func.unnest(bindparam(name, type_=postgresql.ARRAY(table.c[name].type, dimensions=1)))
            for name in columns
        )
    )
    return postgresql.insert(table).from_select(columns, rows)


def parameters(dialect: str, table: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> Any:
    """The execute() parameters that make :func:`insert_statement` write ``rows``."""
    if dialect != "postgresql":
        return list(rows)
    return {name: _array(table.c[name], [row[name] for row in rows]) for name in columns}


def _array(column: Column[Any], values: list[Any]) -> list[Any]:
    if isinstance(column.type, Float):
        # psycopg dumps a list as one array type and refuses ints mixed with floats.
        return [None if value is None else float(value) for value in values]
    return values


@lru_cache(maxsize=64)
def _insert(dialect: str, table: Table, columns: tuple[str, ...], returning: tuple[str, ...]) -> Any:
    stmt = insert_statement(dialect, table, columns)
    return stmt.returning(*(table.c[name] for name in returning)) if returning else stmt


@lru_cache(maxsize=64)
def _upsert(
    dialect: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...], newer: str | None
) -> Any:
    # Built once per shape: the same statement object lets SQLAlchemy reuse its compiled form.
    stmt = insert_statement(dialect, table, columns)
    updated = {name: stmt.excluded[name] for name in columns if name not in key and name != "id"}
    where = table.c[newer] <= stmt.excluded[newer] if newer is not None else None
    return stmt.on_conflict_do_update(index_elements=list(key), set_=updated, where=where)


def insert_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, returning: tuple[str, ...] = ()
) -> Sequence[Row[Any]]:
    """Insert ``rows`` (all with the same keys) in one statement; the ``returning`` columns of the
    new rows, in no particular order."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    columns = tuple(rows[0])
    result = session.execute(
        _insert(dialect, table, columns, returning), parameters(dialect, table, columns, rows)
    )
    return result.all() if returning else []


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
    columns = tuple(rows[0])
    stmt = _upsert(dialect, table, columns, tuple(key), newer_column)
    session.execute(stmt, parameters(dialect, table, columns, _last_per_key(rows, key, newer_column)))


def _last_per_key(
    rows: Sequence[dict[str, Any]], key: Sequence[str], newer: str | None
) -> list[dict[str, Any]]:
    # One statement may not update a row twice (PostgreSQL refuses), so settle duplicates of a
    # key here exactly as row-by-row upserts would: the later row wins unless it is older.
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        natural = tuple(row[name] for name in key)
        old = kept.get(natural)
        if old is None or newer is None or _not_older(old[newer], row[newer]):
            kept[natural] = row
    return list(kept.values())


def _not_older(old: Any, new: Any) -> bool:
    # As ``old <= new`` in SQL, where a comparison with NULL is never true.
    return old is not None and new is not None and bool(old <= new)
