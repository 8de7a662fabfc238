"""Migrations load from the package and tolerate processes that start together."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from tests.conftest import RUN_ID, _admin, _server_url

from perfhub.core.db import normalise_url
from perfhub.core.migrate import alembic_config, upgrade


def head() -> str:
    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def test_migrations_are_found_inside_the_package() -> None:
    directory = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert "site-packages" in directory.dir or directory.dir.endswith("src/perfhub/migrations")
    assert head() >= "0005"


@pytest.mark.postgres
def test_concurrent_upgrades_of_a_fresh_postgres_database(pg_template: str) -> None:
    name = f"perfhub_mig_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _server_url(name)
    try:
        # API and three workers starting together each run the upgrade.
        with ThreadPoolExecutor(4) as pool:
            for future in [pool.submit(upgrade, url) for _ in range(4)]:
                future.result()
        engine = create_engine(normalise_url(url))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == head()
        engine.dispose()
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
