"""Shared fixtures: a fresh database per test on real SQLite and real PostgreSQL.

PostgreSQL tests use ``PERFHUB_TEST_DATABASE_URL``. When it is unreachable they skip with
the reason, except under ``CI=true`` or ``PERFHUB_REQUIRE_SERVICES=1``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exists, func, select

from perfhub.app import create_app
from perfhub.auth.service import create_user, issue_token
from perfhub.core.db import session_scope
from perfhub.core.migrate import upgrade
from perfhub.pipeline.runtime import Runtime
from perfhub.settings import Settings

PG_URL = os.environ.get("PERFHUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("PERFHUB_TEST_NATS_URL", "nats://127.0.0.1:4222")
RUN_ID = uuid.uuid4().hex[:8]


def services_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PERFHUB_REQUIRE_SERVICES") == "1"


UNREACHABLE = "unreachable at"  # every service skip says it, so the summary can count them


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """A green run that skipped the PostgreSQL/NATS tests must not look like a full one."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if UNREACHABLE in str(getattr(report, "longrepr", ""))
    ]
    if not skipped:
        return
    reasons = sorted({str(report.longrepr[2]).removeprefix("Skipped: ") for report in skipped})
    bar = "!" * 78
    terminalreporter.write_line(bar, red=True, bold=True)
    terminalreporter.write_line(
        f"{len(skipped)} TESTS DID NOT RUN: the services they need are down.", red=True, bold=True
    )
    for reason in reasons:
        terminalreporter.write_line(f"  {reason}", red=True)
    terminalreporter.write_line(
        "  Start PostgreSQL and NATS (see README), or set PERFHUB_REQUIRE_SERVICES=1 to make this a failure.",
        red=True,
    )
    terminalreporter.write_line(bar, red=True, bold=True)


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


def _nats_reachable() -> None:
    host, _, port = NATS_URL.rpartition("//")[2].partition(":")
    try:
        socket.create_connection((host, int(port or 4222)), timeout=2).close()
    except OSError as exc:
        message = f"NATS unreachable at {NATS_URL}: {exc}"
        if services_required():
            pytest.fail(message + " (required: CI=true or PERFHUB_REQUIRE_SERVICES=1)")
        pytest.skip(message)


# Where a test runs: embedded on SQLite or PostgreSQL, or production (PostgreSQL + NATS
# JetStream with the API and each worker as separate processes). A test that uses `backend`
# runs on all three unless it (or its module's `pytestmark`) says
# `@pytest.mark.backends("sqlite", ...)`.
BACKENDS = {
    "sqlite": (),
    "postgres": (pytest.mark.postgres,),
    "nats": (pytest.mark.postgres, pytest.mark.nats),
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    names = marker.args if marker is not None else tuple(BACKENDS)
    unknown = set(names) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown backends {sorted(unknown)} in {metafunc.definition.nodeid}")
    metafunc.parametrize(
        "backend", [pytest.param(name, marks=BACKENDS[name], id=name) for name in names], indirect=True
    )


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def nats_names() -> Iterator[dict[str, str]]:
    """A subject and stream prefix of this test's own on the shared NATS server; removed after."""
    _nats_reachable()
    tag = f"{RUN_ID}{uuid.uuid4().hex[:6]}"
    names = {"subject_prefix": f"t{tag}.", "stream_prefix": f"T{tag}"}
    yield names
    asyncio.run(_delete_streams(names["stream_prefix"]))


async def _delete_streams(stream_prefix: str) -> None:
    import nats

    connection = await nats.connect(NATS_URL, connect_timeout=3)
    try:
        js = connection.jetstream()
        for info in await js.streams_info():
            if info.config.name and info.config.name.startswith(stream_prefix + "_"):
                await js.delete_stream(info.config.name)
    finally:
        await connection.close()


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
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


SECRET = "test-secret-key-0123456789"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, var_dir=tmp_path / "var", secret_key=SECRET)


@dataclass
class Harness:
    """An app on a fresh database, with helpers to make people and tokens.

    ``client`` is a TestClient for the embedded backends and a real HTTP client for the
    production backend; ``drain`` waits until the pipeline has nothing left to do.
    """

    client: Any
    runtime: Runtime
    deployment: Deployment | None = None

    def user(self, role: str = "athlete", email: str | None = None, tz: str = "UTC") -> dict[str, Any]:
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.org"
        with session_scope(self.runtime.sessions) as session:
            user, token = create_user(session, email, role, tz=tz)
            return {"id": user.id, "email": user.email, "token": token, "headers": auth(token)}

    def service_token(self) -> dict[str, str]:
        with session_scope(self.runtime.sessions) as session:
            return auth(issue_token(session, "test ingest", None, ("ingest",)))

    def drain(self) -> None:
        if self.deployment is not None:
            self.deployment.wait_idle(self.runtime)
        else:
            self.runtime.bus.drain()

    def count(self, model: Any) -> int:
        with self.runtime.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Deployment:
    """The production shape as real processes: ``serve --no-workers`` plus workers."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.port = _free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.cwd / f"{name}.log"
        self.logs[name] = log
        process = subprocess.Popen(
            [sys.executable, "-m", "perfhub.cli", *args],
            env=self.env,
            cwd=self.cwd,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def start(self, workers: dict[str, str] | None = None) -> None:
        self.spawn("api", "serve", "--no-workers", "--port", str(self.port))
        for name, stage in (workers or {"normalize": "normalize", "insights": "insights"}).items():
            self.spawn(name, "worker", stage)
        self.wait_http()
        for name in self.processes:
            if name != "api":
                self.wait_log(name, "running")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_http(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            self.check_alive()
            time.sleep(0.1)
        raise AssertionError("API did not become ready:\n" + self.tail("api"))

    def wait_log(self, name: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.logs[name].read_text(errors="replace"):
                return
            self.check_alive()
            time.sleep(0.05)
        raise AssertionError(f"{name} did not say {text!r}:\n" + self.tail(name))

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None and process.returncode not in (0, -9, -15):
                raise AssertionError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str) -> str:
        return "\n".join(self.logs[name].read_text(errors="replace").splitlines()[-30:])

    def wait_idle(self, runtime: Runtime, timeout: float = 60) -> None:
        """Until every outbox row is published and every consumer has settled its events."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            quiet = quiet + 1 if pipeline_backlog(runtime) == 0 else 0
            if quiet >= 2:
                return
            self.check_alive()
            time.sleep(0.05)
        raise AssertionError(f"pipeline still busy ({pipeline_backlog(runtime)})")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def pipeline_backlog(runtime: Runtime) -> int:
    from perfhub.core.outbox import OutboxDelivery, OutboxRow
    from perfhub.pipeline.stages import consumers

    with runtime.sessions() as session:
        backlog = (
            session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None))
            )
            or 0
        )
        for spec in consumers():
            settled = exists().where(
                OutboxDelivery.consumer == spec.name,
                OutboxDelivery.outbox_id == OutboxRow.id,
                OutboxDelivery.status.in_(("done", "dead")),
            )
            backlog += (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.subject == spec.subject, ~settled)
                )
                or 0
            )
        return int(backlog)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deployment_env(settings: Settings, nats_names: dict[str, str], **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": settings.database_url,
        "PERFHUB_NATS_URL": NATS_URL,
        "PERFHUB_NATS_SUBJECT_PREFIX": nats_names["subject_prefix"],
        "PERFHUB_NATS_STREAM_PREFIX": nats_names["stream_prefix"],
        "PERFHUB_SECRET_KEY": SECRET,
        "PERFHUB_VAR_DIR": str(settings.var_dir),
    }
    env.update(extra)
    return env


@pytest.fixture
def harness(
    backend: str, settings: Settings, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Harness]:
    if backend != "nats":
        app = create_app(settings)
        with TestClient(app) as client:
            yield Harness(client, app.state.runtime)
        return
    nats_names = request.getfixturevalue("nats_names")
    deployment = Deployment(deployment_env(settings, nats_names), tmp_path)
    runtime = Runtime.build(settings)  # direct database access for assertions; no consumers
    try:
        deployment.start()
        with httpx.Client(base_url=deployment.base_url, timeout=30) as client:
            yield Harness(client, runtime, deployment)
    finally:
        deployment.stop()
        runtime.close()
