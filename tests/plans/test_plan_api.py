"""The plan API end to end: proposals from real readiness, accept and revert with their history,
late data, coaches, sharing, completion and bad input (docs/plans.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from tests.conftest import Harness
from tests.plans.plankit import NOON, TODAY, decide, nights, noon_zone, plan, post_nights, session
from tests.teams.teamkit import API, join, make_team, ok, problem, share

from perfhub.plans.models import AdjustmentDecision, SessionAdjustment
from perfhub.training.models import CompletedSession

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture(autouse=True)
def frozen(backend: str) -> Any:
    """The clock at a fixed noon, in process. The production deployment's own processes run on
    the real clock: its tests use an athlete whose local time is near noon instead."""
    if backend == "nats":
        yield None
        return
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def test_a_poor_night_proposes_and_accept_then_revert_restores_the_plan_exactly(harness: Harness) -> None:
    athlete = harness.user("athlete")
    post_nights(harness, nights(athlete["id"], TODAY, bad=3))
    intensity = {"kind": "zone", "value": 4}
    created = plan(harness, athlete, intensity=intensity, plannedLoad=420)
    adjustment = created["adjustment"]
    assert adjustment is not None and adjustment["status"] == "proposed"
    assert adjustment["rule"] == "illness" and adjustment["band"] == "low" and adjustment["readiness"] <= 39
    original = {"type": "hard", "durationMin": 60, "intensity": intensity, "plannedLoad": 420.0}
    assert adjustment["original"] == original
    assert adjustment["adjusted"] == {"type": "rest", "durationMin": 0, "intensity": None, "plannedLoad": 0.0}
    assert {d["field"] for d in adjustment["diff"]} == {"type", "durationMin", "intensity", "plannedLoad"}
    # The rationale cites the drivers with their values, then what changes.
    assert "Readiness" in adjustment["rationale"] and "HRV below your normal range" in adjustment["rationale"]
    assert "type hard → rest" in adjustment["rationale"]
    assert created["final"] == original  # nothing decided: the plan stands until accepted

    accepted = ok(decide(harness, athlete, created["id"], "accept"))
    assert accepted["status"] == "accepted" and len(accepted["decisions"]) == 1
    assert session(harness, athlete, created["id"])["final"] == adjustment["adjusted"]
    # Saying it twice is one decision.
    assert len(ok(decide(harness, athlete, created["id"], "accept"))["decisions"]) == 1

    reverted = ok(decide(harness, athlete, created["id"], "revert"))
    assert reverted["status"] == "reverted"
    assert [(d["decision"], d["actorId"], d["actorRole"]) for d in reverted["decisions"]] == [
        ("accepted", athlete["id"], "athlete"),
        ("reverted", athlete["id"], "athlete"),
    ]
    after = session(harness, athlete, created["id"])
    assert after["final"] == original
    assert {k: after[k] for k in ("type", "durationMin", "intensity", "plannedLoad")} == original
    assert (
        ok(harness.client.get(f"{API}/plan/sessions/{created['id']}/adjustment", headers=athlete["headers"]))[
            "status"
        ]
        == "reverted"
    )
    assert harness.count(AdjustmentDecision) == 2


def test_a_normal_day_proposes_nothing_and_the_adjustment_is_404(harness: Harness) -> None:
    athlete = harness.user("athlete")
    post_nights(harness, nights(athlete["id"], TODAY))
    created = plan(harness, athlete)
    assert created["adjustment"] is None
    problem(
        harness.client.get(f"{API}/plan/sessions/{created['id']}/adjustment", headers=athlete["headers"]), 404
    )
    problem(decide(harness, athlete, created["id"], "accept"), 404)


@pytest.mark.backends("sqlite", "postgres", "nats")
def test_a_session_planned_before_the_data_gets_its_proposal_through_the_pipeline(
    harness: Harness, backend: str
) -> None:
    tz, today = noon_zone() if backend == "nats" else ("UTC", TODAY)
    athlete = harness.user("athlete", tz=tz)
    post_nights(harness, nights(athlete["id"], today - timedelta(days=1), count=39))
    created = plan(harness, athlete, date=today.isoformat())
    assert created["adjustment"] is None  # yesterday's data says nothing about today
    post_nights(harness, nights(athlete["id"], today, count=3, bad=3))
    assert session(harness, athlete, created["id"])["adjustment"]["status"] == "proposed"


def test_a_late_night_updates_an_open_proposal_and_leaves_a_decided_one(harness: Harness) -> None:
    athlete = harness.user("athlete")
    post_nights(harness, nights(athlete["id"], TODAY, bad=3))
    open_one = plan(harness, athlete, title="Tempo")
    decided = plan(harness, athlete, title="Hills")
    ok(decide(harness, athlete, decided["id"], "accept"))
    before = session(harness, athlete, decided["id"])["adjustment"]
    # The vendor re-sends last night, corrected: a good night. Readiness changes.
    post_nights(harness, nights(athlete["id"], TODAY, count=1))
    still_open = session(harness, athlete, open_one["id"])["adjustment"]
    assert still_open is None or (
        still_open["status"] == "proposed"
        and (still_open["readiness"], still_open["rule"]) != (open_one["adjustment"]["readiness"], "illness")
    )
    assert session(harness, athlete, decided["id"])["adjustment"] == before


def test_a_past_session_is_not_adjusted(harness: Harness) -> None:
    athlete = harness.user("athlete")
    post_nights(harness, nights(athlete["id"], TODAY, bad=3))
    yesterday = plan(harness, athlete, date=(TODAY - timedelta(days=1)).isoformat())
    assert yesterday["adjustment"] is None


def test_coaches_see_and_decide_only_through_shared_training(harness: Harness) -> None:
    coach, outsider, athlete = harness.user("coach"), harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    make_team(harness, outsider, "Elsewhere")
    join(harness, coach, team, athlete, training=True, readiness=True, hrv=True)
    post_nights(harness, nights(athlete["id"], TODAY, bad=3))
    created = plan(harness, coach, athleteId=athlete["id"])
    assert created["athleteId"] == athlete["id"] and created["adjustment"]["readiness"] is not None
    listed = ok(
        harness.client.get(f"{API}/plan/sessions", params={"userId": athlete["id"]}, headers=coach["headers"])
    )
    assert [s["id"] for s in listed] == [created["id"]]
    accepted = ok(decide(harness, coach, created["id"], "accept"))
    assert accepted["decisions"][-1]["actorRole"] == "coach"

    # A coach of another team: as if the session did not exist.
    for response in (
        harness.client.get(f"{API}/plan/sessions/{created['id']}", headers=outsider["headers"]),
        decide(harness, outsider, created["id"], "revert"),
        harness.client.get(
            f"{API}/plan/sessions", params={"userId": athlete["id"]}, headers=outsider["headers"]
        ),
        harness.client.post(
            f"{API}/plan/sessions",
            json={
                "date": TODAY.isoformat(),
                "sport": "run",
                "title": "x",
                "type": "easy",
                "durationMin": 30,
                "athleteId": athlete["id"],
            },
            headers=outsider["headers"],
        ),
    ):
        body = problem(response, 404)
        assert str(athlete["id"]) not in body["detail"] or "session" not in body["detail"]
    assert session(harness, athlete, created["id"])["adjustment"]["status"] == "accepted"

    # Readiness withdrawn: the coach still sees the session and its change, not the values.
    ok(share(harness, athlete, team, readiness=False))
    seen = session(harness, coach, created["id"])["adjustment"]
    assert seen["readiness"] is None and seen["band"] is None and seen["drivers"] == []
    assert "Readiness" not in seen["rationale"] and "type hard → rest" in seen["rationale"]
    # Training withdrawn: 403 for the team's coach.
    ok(share(harness, athlete, team, training=False))
    problem(harness.client.get(f"{API}/plan/sessions/{created['id']}", headers=coach["headers"]), 403)
    problem(decide(harness, coach, created["id"], "revert"), 403)


def test_completing_a_session_counts_its_load_once(harness: Harness) -> None:
    athlete = harness.user("athlete")
    created = plan(harness, athlete, type="moderate", date=(TODAY - timedelta(days=1)).isoformat())
    url = f"{API}/plan/sessions/{created['id']}/complete"
    done = ok(harness.client.post(url, json={"durationMin": 50, "rpe": 6}, headers=athlete["headers"]))
    assert (done["load"], done["plannedSessionId"], done["rpeEstimated"]) == (300.0, created["id"], False)
    again = ok(harness.client.post(url, json={"durationMin": 55, "rpe": 6}, headers=athlete["headers"]))
    assert again["id"] == done["id"] and again["load"] == 330.0
    assert harness.count(CompletedSession) == 1
    ok(
        harness.client.post(
            f"{API}/training/sessions",
            json={"date": TODAY.isoformat(), "sport": "ride", "durationMin": 60, "rpe": 3},
            headers=athlete["headers"],
        ),
        201,
    )
    load = ok(
        harness.client.get(
            f"{API}/training/load",
            params={"from": (TODAY - timedelta(days=1)).isoformat(), "to": TODAY.isoformat()},
            headers=athlete["headers"],
        )
    )["days"]
    assert [(d["date"], d["load"]) for d in load] == [
        ((TODAY - timedelta(days=1)).isoformat(), 330.0),
        (TODAY.isoformat(), 180.0),
    ]
    assert load[1]["atl"] == pytest.approx(255.0)
    listed = ok(harness.client.get(f"{API}/plan/sessions", headers=athlete["headers"]))
    assert listed[0]["completed"]["load"] == 330.0


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"type": "brutal"}, "type"),
        ({"durationMin": 0}, "durationMin"),
        ({"durationMin": 2000}, "durationMin"),
        ({"intensity": {"kind": "zone", "value": 7}}, "intensity"),
        ({"intensity": {"kind": "watts", "value": 200}}, "intensity"),
        ({"date": "2026-02-30"}, "date"),
        ({"title": "   "}, "title"),
        ({"durationMin": "60"}, "durationMin"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_sessions_are_refused_and_nothing_is_stored(
    harness: Harness, change: dict[str, Any], where: str
) -> None:
    athlete = harness.user("athlete")
    body = {
        "date": TODAY.isoformat(),
        "sport": "run",
        "title": "Run",
        "type": "easy",
        "durationMin": 30,
        **change,
    }
    refused = problem(harness.client.post(f"{API}/plan/sessions", json=body, headers=athlete["headers"]), 422)
    assert where in str(refused)
    assert ok(harness.client.get(f"{API}/plan/sessions", headers=athlete["headers"])) == []


def test_a_decided_session_keeps_its_plan_and_an_open_one_is_remade(harness: Harness) -> None:
    athlete = harness.user("athlete")
    post_nights(harness, nights(athlete["id"], TODAY, bad=3))
    created = plan(harness, athlete)
    url = f"{API}/plan/sessions/{created['id']}"
    changed = ok(harness.client.patch(url, json={"durationMin": 90}, headers=athlete["headers"]))
    assert changed["durationMin"] == 90 and changed["adjustment"]["original"]["durationMin"] == 90
    ok(decide(harness, athlete, created["id"], "accept"))
    problem(harness.client.patch(url, json={"durationMin": 30}, headers=athlete["headers"]), 409)
    assert harness.client.delete(url, headers=athlete["headers"]).status_code == 204
    problem(harness.client.get(url, headers=athlete["headers"]), 404)
    assert harness.count(SessionAdjustment) == 0 and harness.count(AdjustmentDecision) == 0
