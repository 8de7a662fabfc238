"""Engine, sessions and the schema naming convention.

Services receive a ``Session`` and never commit; the request or job boundary does
(:func:`session_scope`).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session, sessionmaker
from sqlalchemy.types import NullType, TypeDecorator

from perfhub.core.errors import Conflict

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def one_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Collection[Any], dialect: str
) -> ColumnElement[bool]:
    """``column IN values``, for lists of ids whose length changes from call to call."""
    if dialect == "postgresql":
        # One array parameter rather than one placeholder per value: the SQL text is the same
        # for any number of values, so psycopg prepares it once and PostgreSQL plans it once.
        listed = list(values)
        if _all_ints(listed):
            return column == any_(
                cast(bindparam(None, _int_array(listed), type_=NullType()), ARRAY(column.type))
            )
        return column == any_(bindparam(None, listed, type_=ARRAY(column.type)))
    return column.in_(list(values))


def one_of_param(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str, dialect: str
) -> ColumnElement[bool]:
    """:func:`one_of` for ids (integers) in a statement built once and run many times: the ids
    are the parameter ``name``, given as :func:`one_of_value` makes it."""
    if dialect == "postgresql":
        return column == any_(cast(bindparam(name, type_=NullType()), ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def one_of_value(ids: Collection[int], dialect: str) -> Any:
    """The value of a :func:`one_of_param` parameter."""
    listed = list(ids)
    if dialect != "postgresql":
        return listed
    if not _all_ints(listed):
        raise TypeError("one_of_param takes integer ids")
    return _int_array(listed)


def _all_ints(values: list[Any]) -> bool:
    return all(type(value) is int for value in values)


def _int_array(ids: list[int]) -> str:
    # Ids travel as one array literal, untyped, which the server reads straight as integer[]:
    # psycopg would look at every element in Python to choose the array's type and dump it
    # (for a team's 200 ids that costs more than the query), and a parameter typed as text
    # would be cast row by row where the plan is a scan.
    return "{" + ",".join(map(str, ids)) + "}"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _private_sqlite_files(url: str) -> None:
    """Create the database file owner-only (0600) in a directory of the owner's (0700) before
    SQLite opens it: SQLite creates files world-readable by default (0644 under the usual
    umask), and gives the ``-wal`` and ``-shm`` files the mode of the database file. Files an
    earlier version created are stripped of their world access."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o007:
                file.chmod(mode & ~0o007)
        except FileNotFoundError:
            continue


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _private_sqlite_files(url)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own implicit BEGIN would fight the explicit BEGIN IMMEDIATE below.
            dbapi_connection.isolation_level = None
            # WAL lets the API read while the in-process consumers write.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        # SQLite has one writer. Its own busy handler polls with growing sleeps, which under
        # dozens of threads turns into a convoy; a process-wide mutex hands the lock over at
        # once. BEGIN IMMEDIATE still guards against other processes (busy_timeout).
        writer = threading.Lock()
        engine.info = {"sqlite_writer": writer}  # type: ignore[attr-defined]

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            writer.acquire()
            try:
                # Take the write lock up front: no read-to-write upgrade can then fail.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writer.release()
                raise
            conn.info["perfhub_writer"] = True

        def _finish(conn: Any, statement: str) -> None:
            if not conn.info.pop("perfhub_writer", False):
                return
            try:
                # End the transaction here so the mutex is released only once SQLite's lock is.
                conn.exec_driver_sql(statement)
            finally:
                writer.release()

        event.listen(engine, "commit", lambda conn: _finish(conn, "COMMIT"))
        event.listen(engine, "rollback", lambda conn: _finish(conn, "ROLLBACK"))

        return engine
    # Bound parameters are health data (a user id, a date, an HRV value): errors, and the span
    # statuses and logs made from them, show the statement without them.
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)
    # PostgreSQL adds a DETAIL line quoting the failing row or key (health values); the
    # errors, and the logs and span statuses made from them, keep the first line only.
    event.listen(engine, "handle_error", _drop_row_details)
    if engine.dialect.driver == "psycopg":
        from psycopg.types.array import ListBinaryDumper

        @event.listens_for(engine, "connect")
        def _binary_arrays(dbapi_connection: Any, _record: Any) -> None:
            # Bulk writes send each column as one array (core.upsert): in binary, psycopg
            # need not quote and escape every element in Python.
            dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)

    return engine


def _without_details(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("DETAIL:"))


def _drop_row_details(context: Any) -> None:
    for exc in (context.original_exception, context.sqlalchemy_exception):
        if exc is not None and exc.args and isinstance(exc.args[0], str) and "DETAIL:" in exc.args[0]:
            exc.args = (_without_details(exc.args[0]), *exc.args[1:])


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """The unit-of-work boundary: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


T = TypeVar("T")


def retry_on_conflict(work: Callable[[], T], *, gave_up: str, attempts: int = 3) -> T:
    """Run ``work`` — one whole unit of work, opening and committing its own transaction —
    again when it lost a race for a unique key: another transaction inserted the same row and
    committed first. The next attempt reads that row and updates it, so two requests racing end
    with the rows either alone would have made. After ``attempts`` losses: :class:`Conflict`
    saying ``gave_up``."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except IntegrityError as exc:
            if attempt == attempts:
                raise Conflict(gave_up) from exc
    raise AssertionError("unreachable")
