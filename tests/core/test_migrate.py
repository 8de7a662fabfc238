"""Migrations load from the package and tolerate processes that start together."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from tests.conftest import RUN_ID, _admin, _server_url

from perfhub.core.db import normalise_url
from perfhub.core.migrate import alembic_config


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
        # API and three workers starting together each run the upgrade (separate processes, as
        # in production: Alembic's context is process-global).
        code = f"from perfhub.core.migrate import upgrade; upgrade({url!r})"
        processes = [
            subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        for process in processes:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr[-2000:]
        engine = create_engine(normalise_url(url))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == head()
        engine.dispose()
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
