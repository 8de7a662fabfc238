"""GET /insights/weekly (the caller's) and GET /teams/{id}/insights/weekly (a coach's team): the
week asked for, the week that is due in each athlete's zone, and the team version under the
sharing rules and the access log — exactly the team table's 403/404."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.conftest import Harness
from tests.insights.weekdata import API, full_day, put_day
from tests.readiness.teamdata import Team, audit_of, make_team

from perfhub.core.db import session_scope
from perfhub.teams.models import TeamCoach

pytestmark = pytest.mark.backends("sqlite")

MONDAY = date(2026, 11, 16)  # 2026-W47
BEFORE = MONDAY - timedelta(weeks=1)
AFTER = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # Tuesday after W47: due everywhere


def slump(harness: Harness, athlete_id: int) -> None:
    """W46 at 80 on three days; W47 at 60 on three days, with the 7-day HRV below its range
    (4.0 under 4.1) and sleep debt rising from 2 h to 3 h, a sleep-debt flag on the last day."""
    for i in range(3):
        put_day(harness, athlete_id, BEFORE + timedelta(days=i), 80, full_day())
    for i, debt in enumerate((2.0, 2.5, 3.0)):
        flags = ("hrv_below_range", "sleep_debt") if i == 2 else ("hrv_below_range",)
        put_day(
            harness,
            athlete_id,
            MONDAY + timedelta(days=i),
            60,
            full_day(ln7=4.0, normalLow=4.1, debtHours=debt),
            flags=flags,
        )


def weekly(harness: Harness, who: dict[str, Any], **params: Any) -> Any:
    return harness.client.get(f"{API}/insights/weekly", params=params, headers=who["headers"])


def team_weekly(harness: Harness, team_id: int, who: dict[str, Any], **params: Any) -> Any:
    return harness.client.get(f"{API}/teams/{team_id}/insights/weekly", params=params, headers=who["headers"])


def test_the_caller_reads_their_last_week_by_default_and_any_due_week(harness: Harness) -> None:
    athlete = harness.user()
    slump(harness, athlete["id"])
    with time_machine.travel(AFTER, tick=False):
        body = weekly(harness, athlete).json()
        assert body["week"] == "2026-W47" and body["from"] == "2026-11-16" and body["to"] == "2026-11-22"
        readiness = body["figures"]["readiness"]
        assert (readiness["mean"], readiness["previousMean"], readiness["change"]) == (60.0, 80.0, -20.0)
        assert [s["rule"] for s in body["sentences"]] == [
            "readiness_down",
            "hrv_below_range",
            "sleep_debt_rising",
        ]
        assert body["sentences"][2]["text"].startswith("Your sleep debt rose from 2 h to 3 h (moderate)")
        assert weekly(harness, athlete, week="2026-W47").json() == body, "stored: read back as it is"
        earlier = weekly(harness, athlete, week="2026-W46").json()
        assert earlier["figures"]["readiness"]["mean"] == 80.0
        # The week under way is not summarised yet.
        pending = weekly(harness, athlete, week="2026-W48")
        assert pending.status_code == 404 and pending.json()["reason"] == "not_due"


@pytest.mark.parametrize("bad", ["2026-48", "2026-W4", "2025-W53", "2026-W00", "1999-W10", "x" * 21])
def test_a_bad_week_is_422_problem_json(harness: Harness, bad: str) -> None:
    athlete = harness.user()
    answer = weekly(harness, athlete, week=bad)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_default_week_follows_the_athletes_zone(harness: Harness) -> None:
    # Sunday 2026-11-22 18:00 UTC is Monday 07:00 in Auckland: W47 is due there, not in UTC.
    kiwi = harness.user(tz="Pacific/Auckland")
    here = harness.user()
    with time_machine.travel(datetime(2026, 11, 22, 18, 0, tzinfo=UTC), tick=False):
        assert weekly(harness, kiwi).json()["week"] == "2026-W47"
        assert weekly(harness, here).json()["week"] == "2026-W46"
        assert weekly(harness, here, week="2026-W47").status_code == 404


def coached_team(harness: Harness) -> Team:
    team = make_team(
        harness,
        [{"hrv", "sleep", "readiness", "training"}, {"readiness"}, {"readiness", "sleep"}],
        names=["Ann", "Bo", "Cy"],
        tzs=["UTC", "UTC", "America/Los_Angeles"],
        with_history=[False, False, False],
    )
    for athlete in team.athletes:
        slump(harness, athlete["id"])
    return team


def test_the_team_version_respects_what_each_athlete_shares(harness: Harness) -> None:
    team = coached_team(harness)
    ann, bo, cy = team.athletes
    with time_machine.travel(AFTER, tick=False):
        answer = team_weekly(harness, team.id, team.coach)
    assert answer.status_code == 200
    body = answer.json()
    assert body["week"] == "2026-W47"
    by_name = {a["name"]: a for a in body["athletes"]}
    assert list(by_name) == ["Ann", "Bo", "Cy"]

    full = by_name["Ann"]
    assert full["hidden"] == [] and full["status"] == "ready"
    assert full["trendedDown"] is True and full["why"] == ["hrv_below_range", "sleep_debt_rising"]
    assert full["flags"] == {"hrv_below_range": 3, "sleep_debt": 1}
    assert full["figures"]["hrv"]["belowRange"] == 3
    assert full["figures"]["adherence"] == {"planned": 0, "kept": 0, "rate": None}

    # Readiness only: every other group null, its sentences and the sleep-debt flag left out.
    bo_row = by_name["Bo"]
    assert bo_row["hidden"] == ["hrv", "sleep", "training"]
    assert all(bo_row["figures"][g] is None for g in ("hrv", "restingHr", "sleep", "load", "adherence"))
    assert bo_row["figures"]["readiness"]["mean"] == 60.0
    assert [s["rule"] for s in bo_row["sentences"]] == ["readiness_down"]
    assert bo_row["trendedDown"] is True and bo_row["why"] == []
    assert bo_row["flags"] == {"hrv_below_range": 3}
    assert bo_row["figures"]["readiness"]["flagDays"] == {"hrv_below_range": 3}

    cy_row = by_name["Cy"]
    assert cy_row["why"] == ["sleep_debt_rising"] and cy_row["flags"] == {
        "hrv_below_range": 3,
        "sleep_debt": 1,
    }

    # One audit row per athlete, naming what was disclosed.
    assert sorted(audit_of(harness, team.coach["id"])) == sorted(
        [
            (ann["id"], ["hrv", "sleep", "readiness", "training"], f"{API}/teams/{team.id}/insights/weekly"),
            (bo["id"], ["readiness"], f"{API}/teams/{team.id}/insights/weekly"),
            (cy["id"], ["sleep", "readiness"], f"{API}/teams/{team.id}/insights/weekly"),
        ]
    )


def test_an_athlete_whose_week_is_not_over_is_pending_and_not_audited(harness: Harness) -> None:
    team = coached_team(harness)
    # Monday 07:00 UTC is still Sunday 23:00 in Los Angeles.
    with time_machine.travel(datetime(2026, 11, 23, 7, 0, tzinfo=UTC), tick=False):
        body = team_weekly(harness, team.id, team.coach).json()
    by_name = {a["name"]: a for a in body["athletes"]}
    assert body["week"] == "2026-W47"
    assert by_name["Ann"]["status"] == "ready"
    cy = by_name["Cy"]
    assert (cy["status"], cy["figures"], cy["sentences"]) == ("pending", None, [])
    assert {subject for subject, _, _ in audit_of(harness, team.coach["id"])} == {
        team.athletes[0]["id"],
        team.athletes[1]["id"],
    }


def test_who_may_read_a_teams_weeks(harness: Harness) -> None:
    team = coached_team(harness)
    other = make_team(harness, [{"readiness"}], with_history=[False])
    admin = harness.user("admin")
    assistant = harness.user("coach")
    with session_scope(harness.runtime.sessions) as session:
        session.add(TeamCoach(team_id=team.id, coach_id=assistant["id"]))
    with time_machine.travel(AFTER, tick=False):
        assert team_weekly(harness, team.id, team.coach).status_code == 200
        assert team_weekly(harness, team.id, assistant).status_code == 200
        assert team_weekly(harness, team.id, admin).status_code == 200
        member = team_weekly(harness, team.id, team.athletes[0])
        assert member.status_code == 403
        assert member.headers["content-type"].startswith("application/problem+json")
        assert team_weekly(harness, team.id, other.athletes[0]).status_code == 404
        assert team_weekly(harness, team.id, other.coach).status_code == 404
        assert team_weekly(harness, 999_999, team.coach).status_code == 404
        assert team_weekly(harness, team.id, team.coach, week="2026-W99").status_code == 422
    # Refused reads leave no audit row.
    assert audit_of(harness, other.coach["id"]) == []
    assert audit_of(harness, team.athletes[0]["id"]) == []
