"""Driver selection against frozen expectations.

``driver_selection_cases.json`` holds 300 generated athlete-days (facts left at their default
are omitted; weights are the engine's) with the drivers the if-chain implementation chose
before it became a table of candidate builders: codes, order, wording numbers and the effect
of ``limit`` must stay exactly as they were. The cases were drawn to straddle every threshold
(``delta`` of exactly ±1 and 3 bpm, sleep of exactly 0.9 and 0.95 × need, ACWR 0.8/1.3/1.5,
efficiency 85 %, latency 30 min, 5 wakes) and to mix staleness, illness and calibration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfhub.readiness.engine import WEIGHTS, DayFacts, driver_to_json, select_drivers

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "driver_selection_cases.json").read_text())


def test_fixture_exercises_every_selectable_driver() -> None:
    codes = {d["code"] for case in CASES for d in case["drivers"]}
    assert len(CASES) == 300
    assert codes == {
        "illness",
        "hrv_below_range",
        "hrv_unusually_high",
        "hrv_above_range",
        "hrv_in_range",
        "hrv_drop",
        "rhr_elevated",
        "rhr_below_baseline",
        "rhr_at_baseline",
        "sleep_short",
        "sleep_good",
        "sleep_efficiency_low",
        "sleep_latency_long",
        "sleep_wakes",
        "sleep_debt",
        "load_spike",
        "load_fatigue",
        "load_balanced",
        "stale_hrv",
        "stale_rhr",
        "calibrating",
    }


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_selection_matches_the_recorded_drivers(case: dict[str, Any]) -> None:
    facts = DayFacts(weights=WEIGHTS, **case["facts"])
    chosen = select_drivers(facts, limit=case["limit"])
    assert [driver_to_json(d) for d in chosen] == case["drivers"]
