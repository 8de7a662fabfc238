"""An athlete's plan travels in their export and goes with their erasure; a coach's decisions
outlive the coach's account without naming it."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from tests.conftest import Harness
from tests.plans.plankit import NOON, TODAY, decide, nights, plan, post_nights
from tests.teams.teamkit import API, join, make_team, ok

from perfhub.plans.models import AdjustmentDecision, PlannedSession, SessionAdjustment
from perfhub.training.models import CompletedSession

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def test_the_plan_is_exported_and_erased_with_the_athlete(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    join(harness, coach, team, athlete, training=True, readiness=True)
    post_nights(harness, nights(athlete["id"], TODAY, bad=3))
    created = plan(harness, athlete)
    ok(decide(harness, coach, created["id"], "accept"))
    ok(
        harness.client.post(
            f"{API}/plan/sessions/{created['id']}/complete",
            json={"durationMin": 20, "rpe": 2},
            headers=athlete["headers"],
        )
    )
    document = ok(harness.client.get(f"{API}/me/export", headers=athlete["headers"]))
    assert [s["id"] for s in document["plannedSessions"]] == [created["id"]]
    assert document["sessionAdjustments"][0]["status"] == "accepted"
    assert [(d["decision"], d["actorId"]) for d in document["adjustmentDecisions"]] == [
        ("accepted", coach["id"])
    ]
    assert document["completedSessions"][0]["load"] == 40.0
    # The coach's own export has none of the athlete's plan.
    coach_document = ok(harness.client.get(f"{API}/me/export", headers=coach["headers"]))
    assert coach_document["plannedSessions"] == [] and coach_document["adjustmentDecisions"] == []

    # The coach leaves: the decision stays, no longer naming them.
    assert harness.client.delete(f"{API}/me", headers=coach["headers"]).status_code == 204
    decisions = ok(harness.client.get(f"{API}/plan/sessions/{created['id']}", headers=athlete["headers"]))[
        "adjustment"
    ]["decisions"]
    assert [(d["decision"], d["actorId"], d["actorRole"]) for d in decisions] == [("accepted", None, "coach")]

    assert harness.client.delete(f"{API}/me", headers=athlete["headers"]).status_code == 204
    for model in (PlannedSession, SessionAdjustment, AdjustmentDecision, CompletedSession):
        assert harness.count(model) == 0, model.__name__
