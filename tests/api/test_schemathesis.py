"""Property-based API conformance: schemathesis fuzzes every documented operation.

It reads ``/openapi.json`` of the app, serves a fresh SQLite database with an athlete (ten
nights of data), their coach and an ingest service token, and calls each operation as each of
the three (schemathesis also leaves the token out or spoils it, for the 401 paths). The checks:
nothing answers 5xx, and every status code, content type and body is one the document promises.

Examples per operation are bounded (``PERFHUB_FUZZ_EXAMPLES``, default 10) so that the run stays
well under two minutes on two cores; the examples and coverage phases add a number of their own
fixed by the schema (boundary values such as the largest id). Raise it to explore.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from tests.conftest import SECRET

from perfhub.app import create_app
from perfhub.auth.models import ApiToken
from perfhub.auth.service import create_user, hash_token, issue_token, token_status
from perfhub.core.db import session_scope
from perfhub.pipeline.runtime import Runtime
from perfhub.privacy.models import AuditEntry
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.readings.service import accept_reading
from perfhub.settings import Settings, use_settings
from perfhub.teams.service import create_team, join_team

MAX_EXAMPLES = int(os.environ.get("PERFHUB_FUZZ_EXAMPLES", "10"))
# An athlete in no team of the coach's: whatever the fuzzer asks, the coach never learns of them.
OUTSIDER = "Zebediah Outsider"
NIGHTS = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Seeded:
    app: Any
    runtime: Runtime
    tokens: dict[str, str] = field(default_factory=dict)
    outsider_id: int = 0

    def keep_token_live(self, caller: str) -> None:
        """DELETE /tokens/{id} and its rotation, fuzzed, may revoke the caller's own token. A 401
        after that is correct, but would test nothing more: the caller gets a new token."""
        with session_scope(self.runtime.sessions) as session:
            row = session.scalar(
                select(ApiToken).where(ApiToken.token_hash == hash_token(self.tokens[caller]))
            )
            assert row is not None
            if token_status(row, datetime.now(UTC)) == "active" and row.replaced_by_id is None:
                return
            self.tokens[caller] = issue_token(session, f"fuzz {caller}", row.user_id, row.scopes)


@pytest.fixture
def seeded(sqlite_template: Path, tmp_path: Path) -> Iterator[Seeded]:
    target = tmp_path / "perfhub.db"
    shutil.copy(sqlite_template, target)
    config = Settings(
        database_url=f"sqlite:///{target}",
        var_dir=tmp_path / "var",
        secret_key=SECRET,
        reconcile_interval_s=0,
    )
    app = create_app(config, run_workers=False)
    seeded = Seeded(app, app.state.runtime)
    with session_scope(seeded.runtime.sessions) as session:
        athlete, seeded.tokens["athlete"] = create_user(session, "fuzz-athlete@example.org", "athlete")
        coach, seeded.tokens["coach"] = create_user(session, "fuzz-coach@example.org", "coach")
        team = create_team(session, "fuzz team", coach)
        join_team(session, team.id, athlete, {"hrv", "sleep", "readiness", "training"})
        outsider, _ = create_user(session, "zebediah@example.org", "athlete", name=OUTSIDER)
        elsewhere = create_team(
            session, "another team", create_user(session, "other-coach@example.org", "coach")[0]
        )
        join_team(session, elsewhere.id, outsider, {"hrv", "sleep", "readiness", "training"})
        seeded.outsider_id = outsider.id
        seeded.tokens["ingest"] = issue_token(session, "fuzz ingest", None, ("ingest",))
        today = datetime.now(UTC).date()
        for offset in range(1, NIGHTS + 1):
            night = {
                "userId": athlete.id,
                "date": (today - timedelta(days=offset)).isoformat(),
                "vendor": "oura",
            }
            accept_reading(session, HrvIn.model_validate({**night, "rMSSD": 55 + offset, "restingHr": 50}))
            accept_reading(session, SleepIn.model_validate({**night, "durationMin": 420}))
    seeded.runtime.bus.drain()  # normalised rows and readiness snapshots to read back
    try:
        yield seeded
    finally:
        seeded.runtime.close()


def _document() -> dict[str, Any]:
    """The OpenAPI document, read at collection (schemathesis parametrizes over its operations
    then); the app it came from is discarded, and each test serves a seeded one."""
    app = create_app(Settings(database_url="sqlite://", secret_key=SECRET), run_workers=False)
    try:
        return app.openapi()
    finally:
        app.state.runtime.close()
        use_settings(None)  # building the app made its settings the process's


schema = schemathesis.openapi.from_dict(
    _document(), config=schemathesis.Config.from_dict({"generation": {"max-examples": MAX_EXAMPLES}})
)


def _conformance(caller: str) -> Callable[..., None]:
    """One test per caller: schemathesis parametrizes over operations, not over fixtures."""

    @schema.parametrize()
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases every run: CI fails on a change, not on luck
        # One seeded database for all of an operation's cases is the point, not an accident.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
        ],
    )
    def test(case: Any, seeded: Seeded) -> None:
        headers = {"Authorization": f"Bearer {seeded.tokens[caller]}"}
        response = case.call_and_validate(app=seeded.app, headers=headers, checks=CHECKS)
        if caller == "coach":
            assert OUTSIDER not in response.text and "zebediah" not in response.text, case.path
            with seeded.runtime.sessions() as session:
                read = select(AuditEntry.id).where(AuditEntry.subject_id == seeded.outsider_id)
                assert session.scalar(read) is None, case.path
        if case.path.startswith("/api/v1/tokens/"):
            seeded.keep_token_live(caller)

    return test


test_api_as_athlete = _conformance("athlete")
test_api_as_coach = _conformance("coach")
test_api_as_ingest_service = _conformance("ingest")
