"""The migrations build exactly the schema the models describe, on both databases: a model
changed without its migration (or the reverse) fails here, not in production."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import perfhub.models  # noqa: F401  (every domain's tables on Base.metadata)
from perfhub.core.db import Base

pytestmark = pytest.mark.backends("sqlite", "postgres")


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            # Types are left out: JSON is JSONB on PostgreSQL and the UTC column is a decorator.
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "\n".join(map(str, differences))
