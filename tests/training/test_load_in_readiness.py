"""Logged training fills readiness's training-load contributor (it was never filled before)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from tests.conftest import Harness
from tests.plans.plankit import NOON, TODAY, nights, post_nights
from tests.teams.teamkit import API, ok

pytestmark = pytest.mark.backends("sqlite")


def components(harness: Harness, who: dict[str, Any]) -> dict[str, Any]:
    today = ok(harness.client.get(f"{API}/readiness/today", headers=who["headers"]))
    return {c["name"]: c for c in today["components"]}


def log(harness: Harness, who: dict[str, Any], back: int, minutes: int, rpe: float) -> None:
    body = {
        "date": (TODAY - timedelta(days=back)).isoformat(),
        "sport": "run",
        "durationMin": minutes,
        "rpe": rpe,
    }
    ok(harness.client.post(f"{API}/training/sessions", json=body, headers=who["headers"]), 201)


def test_three_weeks_of_logging_bring_the_training_load_contributor_in(harness: Harness) -> None:
    with time_machine.travel(NOON, tick=False):
        athlete = harness.user("athlete")
        post_nights(harness, nights(athlete["id"], TODAY))
        assert "training_load" not in components(harness, athlete)
        # Four weeks of a steady 5 sessions a week, then a big last week: a load spike.
        for back in range(35, 7, -1):
            if back % 7 not in (0, 3):
                log(harness, athlete, back, 50, 5)
        for back in range(7, 0, -1):
            log(harness, athlete, back, 90, 8)
        harness.drain()
        load = components(harness, athlete)["training_load"]
        assert 0 <= load["score"] < 60
        facts = ok(harness.client.get(f"{API}/readiness/today", headers=athlete["headers"]))["driverFacts"]
        assert any(f["code"] in ("load_spike", "load_fatigue") for f in facts)
