"""Shared fixtures: a fresh database per test on real SQLite and real PostgreSQL.

PostgreSQL tests use ``PERFHUB_TEST_DATABASE_URL``. When it is unreachable they skip with
the reason, except under ``CI=true`` or ``PERFHUB_REQUIRE_SERVICES=1``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from perfhub.app import create_app
from perfhub.auth.service import create_user, issue_token
from perfhub.core.db import session_scope
from perfhub.core.migrate import upgrade
from perfhub.runtime import Runtime
from perfhub.settings import Settings

PG_URL = os.environ.get("PERFHUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
RUN_ID = uuid.uuid4().hex[:8]


def services_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PERFHUB_REQUIRE_SERVICES") == "1"


def _server_url(database: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{database}"


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database for this run; each test clones it (fast)."""
    try:
        admin = _admin()
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {PG_URL}: {exc}".splitlines()[0]
        if services_required():
            pytest.fail(message + " (required: CI=true or PERFHUB_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    name = f"perfhub_tpl_{RUN_ID}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    upgrade(_server_url(name))
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "perfhub.db"
        shutil.copy(template, target)
        yield f"sqlite:///{target}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"perfhub_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    try:
        yield _server_url(name)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, var_dir=tmp_path / "var", secret_key="test-secret-key-0123456789"
    )


@dataclass
class Harness:
    """An app on a fresh database, with helpers to make people and tokens."""

    client: TestClient
    runtime: Runtime

    def user(self, role: str = "athlete", email: str | None = None, tz: str = "UTC") -> dict[str, Any]:
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.org"
        with session_scope(self.runtime.sessions) as session:
            user, token = create_user(session, email, role, tz=tz)
            return {"id": user.id, "email": user.email, "token": token, "headers": auth(token)}

    def service_token(self) -> dict[str, str]:
        with session_scope(self.runtime.sessions) as session:
            return auth(issue_token(session, "test ingest", None, ("ingest",)))

    def drain(self) -> None:
        self.runtime.bus.drain()

    def count(self, model: Any) -> int:
        with self.runtime.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def harness(settings: Settings) -> Iterator[Harness]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield Harness(client, app.state.runtime)
