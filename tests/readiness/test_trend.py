"""The drill-in (GET /teams/{id}/athletes/{athleteId}/trend): one athlete's days under the same
sharing rules as the table — each day's numbers equal what the athlete reads of themself, a
signal not shared is null on every day and named, and each read by someone else is audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.conftest import Harness
from tests.readiness.teamdata import API, Shape, Team, audit_of, make_team, share

from perfhub.core.db import session_scope
from perfhub.teams.models import TeamCoach

pytestmark = pytest.mark.backends("sqlite")

ALL = {"hrv", "sleep", "readiness", "training"}
FIELDS = {
    "readiness": ("readiness", "band", "status", "stale", "flags"),
    "hrv": ("lnRMSSD", "normalLow", "normalHigh", "restingHr", "restingHrBaseline"),
    "sleep": ("sleepMin", "efficiencyPct", "sleepDebtHours", "sleepDebtCategory"),
}


def utc_today() -> date:
    return datetime.now(UTC).date()


def trend(
    harness: Harness, team: Team, athlete: dict[str, Any], viewer: dict[str, Any], **params: Any
) -> Any:
    return harness.client.get(
        f"{API}/teams/{team.id}/athletes/{athlete['id']}/trend", params=params, headers=viewer["headers"]
    )


def own(harness: Harness, athlete: dict[str, Any], path: str, start: date, end: date) -> dict[str, Any]:
    response = harness.client.get(
        f"{API}{path}", params={"from": start.isoformat(), "to": end.isoformat()}, headers=athlete["headers"]
    )
    assert response.status_code == 200, response.text
    return {row["date"]: row for row in response.json()}


def test_every_day_equals_the_athletes_own_reads(harness: Harness) -> None:
    team = make_team(harness, [ALL], shapes=[Shape(sick=3, short=9, seed=1)], nights=30)
    athlete = team.athletes[0]
    end = utc_today()
    start = end - timedelta(days=34)  # a few days before the first night
    response = trend(harness, team, athlete, team.coach, **{"from": start.isoformat(), "to": end.isoformat()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["athleteId"], body["name"], body["from"], body["to"], body["hidden"]) == (
        athlete["id"],
        athlete["name"],
        start.isoformat(),
        end.isoformat(),
        [],
    )
    days = body["days"]
    assert [d["date"] for d in days] == [(start + timedelta(days=k)).isoformat() for k in range(35)]
    readiness = own(harness, athlete, "/readiness", start, end)
    hrv = own(harness, athlete, "/hrv/daily", start, end)
    sleep = own(harness, athlete, "/sleep/summary", start, end)
    debt = own(harness, athlete, "/sleep/debt", start, end)
    assert len(readiness) > 20 and len(debt) > 20
    for day in days:
        on = day["date"]
        if on in readiness:
            r = readiness[on]
            assert (day["readiness"], day["band"], day["status"], day["stale"], day["flags"]) == (
                r["readiness"],
                r["band"],
                r["status"],
                r["stale"],
                r["flags"],
            )
        else:
            assert day["readiness"] is None
        if on in hrv:
            assert day["lnRMSSD"] == pytest.approx(hrv[on]["lnRMSSD"], abs=1e-4)
            assert day["restingHr"] == hrv[on]["restingHr"]
        else:
            assert day["lnRMSSD"] is None and day["restingHr"] is None
        if on in sleep:
            assert (day["sleepMin"], day["efficiencyPct"]) == (
                sleep[on]["durationMin"],
                sleep[on]["efficiencyPct"],
            )
        assert day["sleepDebtHours"] == (debt[on]["debtHours"] if on in debt else None)
    # The normal range the engine scored with, as the table shows it for today.
    table = harness.client.get(f"{API}/teams/{team.id}/readiness", headers=team.coach["headers"]).json()
    (row,) = table["athletes"]
    assert (days[-1]["normalLow"], days[-1]["normalHigh"]) == (row["normalLow"], row["normalHigh"])
    assert days[-1]["flags"][:2] == ["illness", "hrv_below_range"]
    assert days[-1]["restingHr"] > days[-1]["restingHrBaseline"] + 5


@pytest.mark.parametrize(
    "granted",
    [{"readiness"}, {"hrv"}, {"sleep"}, {"hrv", "sleep"}, set()],
    ids=["readiness", "hrv", "sleep", "hrv+sleep", "nothing"],
)
def test_a_signal_not_shared_is_null_on_every_day(harness: Harness, granted: set[str]) -> None:
    team = make_team(harness, [granted], shapes=[Shape(sick=3, short=9, seed=1)], nights=30)
    athlete = team.athletes[0]
    response = trend(harness, team, athlete, team.coach)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hidden"] == [s for s in ("hrv", "sleep", "readiness") if s not in granted]
    assert len(body["days"]) == 30 and body["to"] == utc_today().isoformat()
    for signal, fields in FIELDS.items():
        values = [day[field] for day in body["days"] for field in fields]
        if signal in granted:
            assert any(value is not None for value in values), signal
        else:
            assert all(value is None for value in values), signal
    if "readiness" in granted:  # the sleep-debt flag travels with sleep
        assert all("sleep_debt" not in (day["flags"] or []) for day in body["days"])
    path = f"{API}/teams/{team.id}/athletes/{athlete['id']}/trend"
    expected = [(athlete["id"], [s for s in ("hrv", "sleep", "readiness") if s in granted], path)]
    assert audit_of(harness, team.coach["id"]) == (expected if granted else [])


def test_who_may_drill_in(harness: Harness) -> None:
    team = make_team(harness, [ALL, ALL], nights=10)
    other = make_team(harness, [ALL], nights=10)
    ana, ben = team.athletes
    outsider = other.athletes[0]
    admin = harness.user("admin")
    # Ana reads herself through her team, unaudited; a teammate does not learn she exists.
    assert trend(harness, team, ana, ana).status_code == 200
    assert trend(harness, team, ana, ben).status_code == 404
    assert audit_of(harness, ana["id"]) == [] and audit_of(harness, ben["id"]) == []
    # The other team's coach, and this team's coach for an athlete not in this team.
    assert trend(harness, team, ana, other.coach).status_code == 404
    assert trend(harness, team, outsider, team.coach).status_code == 404
    # Even when the coach also coaches the outsider's team: the path names this team.
    with session_scope(harness.runtime.sessions) as session:
        session.add(TeamCoach(team_id=other.id, coach_id=team.coach["id"]))
    assert trend(harness, team, outsider, team.coach).status_code == 404
    assert trend(harness, other, outsider, team.coach).status_code == 200
    response = harness.client.get(
        f"{API}/teams/999999/athletes/{ana['id']}/trend", headers=team.coach["headers"]
    )
    assert response.status_code == 404
    assert trend(harness, team, ana, admin).status_code == 200
    assert [subject for subject, _, _ in audit_of(harness, admin["id"])] == [ana["id"]]


def test_range_rules(harness: Harness) -> None:
    team = make_team(harness, [ALL], nights=5)
    ana = team.athletes[0]
    today = utc_today()
    longest = {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()}
    assert len(trend(harness, team, ana, team.coach, **longest).json()["days"]) == 366
    too_long = {"from": (today - timedelta(days=366)).isoformat(), "to": today.isoformat()}
    assert trend(harness, team, ana, team.coach, **too_long).status_code == 422
    backwards = {"from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()}
    assert trend(harness, team, ana, team.coach, **backwards).status_code == 422
    assert trend(harness, team, ana, team.coach, **{"from": "2026-02-30"}).status_code == 422


@pytest.mark.parametrize(
    ("zone", "today"),
    [("Pacific/Kiritimati", "2026-03-11"), ("Etc/GMT+12", "2026-03-09")],
)
def test_the_default_range_ends_on_the_athletes_local_today(harness: Harness, zone: str, today: str) -> None:
    with time_machine.travel(datetime(2026, 3, 10, 11, 30, tzinfo=UTC), tick=False):
        team = make_team(harness, [ALL], tzs=[zone], nights=10)
        body = trend(harness, team, team.athletes[0], team.coach).json()
        assert body["to"] == today and body["days"][-1]["date"] == today
        assert body["days"][-1]["readiness"] is not None and body["days"][-1]["sleepMin"] is not None


def test_a_revocation_is_obeyed_by_the_next_drill_in(harness: Harness) -> None:
    team = make_team(harness, [ALL], nights=10)
    ana = team.athletes[0]
    assert trend(harness, team, ana, team.coach).json()["days"][-1]["lnRMSSD"] is not None
    share(harness, team.id, ana["id"], {"sleep"})
    body = trend(harness, team, ana, team.coach).json()
    assert body["hidden"] == ["hrv", "readiness"]
    assert all(day["lnRMSSD"] is None and day["readiness"] is None for day in body["days"])
    assert body["days"][-1]["sleepMin"] is not None
