"""Schema migrations (Alembic), driven from code so ``perfhub db upgrade`` needs no ini file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from perfhub.core.db import make_engine, normalise_url

MIGRATION_LOCK_KEY = 0x70666875620001  # "pfhub" + 1: any constant no other tool on the server uses


def alembic_config(database_url: str) -> Config:
    """Point Alembic at the migrations shipped inside the package (so a wheel can migrate)."""
    config = Config()
    config.set_main_option("script_location", "perfhub:migrations")
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    engine = make_engine(database_url)
    try:
        # SQLite: BEGIN IMMEDIATE from our engine events; migrations run in that transaction.
        with engine.connect() as connection, sqlite_foreign_keys_off(connection), connection.begin():
            if connection.dialect.name == "postgresql":
                # API and workers start together and all upgrade: one at a time, the rest then see head.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


@contextmanager
def sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, foreign keys off while migrations run, checked after, and on again.

    Batch mode rebuilds a table by copying it and dropping the original; with foreign keys on,
    dropping a parent (team, user_account) would cascade-delete its children. The pragma only
    takes effect outside a transaction, so call this before the migration's transaction begins.
    Elsewhere it does nothing.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    _pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = _pragma(connection, "PRAGMA foreign_key_check")
        if broken:
            raise RuntimeError(f"the migration left rows with dangling foreign keys: {broken[:5]}")
    finally:
        _pragma(connection, "PRAGMA foreign_keys=ON")


def _pragma(connection: Connection, statement: str) -> list[tuple[object, ...]]:
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(statement)
        return list(cursor.fetchall())
    finally:
        cursor.close()
