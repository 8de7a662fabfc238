"""``perfhub team invite``: the same invitation the API makes, answered by the athlete over the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine
from tests.conftest import SECRET, Harness
from tests.teams.teamkit import API, accept, make_team, ok
from typer.testing import CliRunner

from perfhub.cli import app
from perfhub.settings import Settings, _from_environment, use_settings

pytestmark = pytest.mark.backends("sqlite")

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    env = {
        "PERFHUB_DATABASE_URL": settings.database_url,
        "PERFHUB_VAR_DIR": str(settings.var_dir),
        "PERFHUB_SECRET_KEY": SECRET,
    }
    # In-process (so the frozen clock applies): forget settings an earlier invocation cached.
    use_settings(None)
    _from_environment.cache_clear()
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_team_invite_prints_the_invitation_the_athlete_then_accepts(
    harness: Harness, settings: Settings
) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    with time_machine.travel(T0, tick=False):
        code, out, _ = cli(settings, "team", "invite", str(team), athlete["email"].upper())
        assert code == 0, out
        invitation = json.loads(out)
        assert invitation == {
            "id": invitation["id"],
            "teamId": team,
            "email": athlete["email"],
            "expiresAt": "2026-12-08T09:30:00Z",
        }
        assert json.loads(cli(settings, "team", "invite", str(team), athlete["email"])[1]) == invitation
        (seen,) = ok(harness.client.get(f"{API}/invitations", headers=athlete["headers"]))
        assert seen["id"] == invitation["id"] and seen["invitedBy"] is None
        assert ok(accept(harness, athlete, invitation["id"], readiness=True))["signals"]["readiness"] is True


@pytest.mark.parametrize(("team", "email"), [("999", "a@example.org"), ("1", "not-an-email")])
def test_team_invite_refusals_are_one_line(
    harness: Harness, settings: Settings, team: str, email: str
) -> None:
    make_team(harness, harness.user("coach"))
    code, out, err = cli(settings, "team", "invite", team, email)
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
