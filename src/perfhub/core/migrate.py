"""Schema migrations (Alembic), driven from code so ``perfhub db upgrade`` needs no ini file."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

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
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # API and workers start together and all upgrade: one at a time, the rest then see head.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
