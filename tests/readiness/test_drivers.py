"""Drivers: JSON round trip, wording, and selection (also against frozen expectations).

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

from perfhub.readiness.engine import (
    WEIGHTS,
    DayFacts,
    Driver,
    driver_from_json,
    driver_to_json,
    render,
    select_drivers,
)

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


def test_driver_json_round_trip_and_rendering() -> None:
    examples = [
        Driver("hrv_below_range", {"ln7": 3.85, "normal_low": 4.02, "normal_high": 4.21, "metric": "rMSSD"}),
        Driver("rhr_elevated", {"value": 58.0, "baseline": 52.0, "delta": 6.0}),
        Driver("sleep_debt", {"hours": 6.5, "category": "high"}),
        Driver("illness", {"rhr_delta": 6.0, "ln7": 3.85, "normal_low": 4.02, "normal_high": 4.21}),
        Driver("stale_hrv", {"age_days": 2}),
    ]
    rendered = [render(d) for d in examples]
    assert rendered[0] == "HRV below your normal range (7-day ln rMSSD 3.85, range 4.02–4.21)"
    assert rendered[1].startswith("Resting HR 6 bpm above baseline")
    assert rendered[2] == "Sleep debt 6.5 h (high)"
    assert rendered[3].startswith("Possible illness or accumulated strain")
    assert rendered[4].startswith("No HRV reading for last night (latest 2 days ago)")
    for d in examples:
        assert driver_from_json(driver_to_json(d)) == d
    assert "ln SDNN" in render(Driver("hrv_in_range", {**examples[0].values, "metric": "SDNN"}))
    assert render(Driver("mystery", {"x": 1})) == "mystery (x 1)"
    with pytest.raises(ValueError):
        driver_from_json({"code": "x", "values": {"bad": [1]}})


def test_driver_selection_is_worst_first_and_keeps_staleness() -> None:
    facts = DayFacts(
        metric="rMSSD",
        components={"hrv_balance": 20.0, "resting_hr": 22.0, "sleep": 40.0, "sleep_debt": 30.0},
        weights=WEIGHTS,
        ln7=3.8,
        normal_low=4.0,
        normal_high=4.1,
        rhr_value=60.0,
        rhr_baseline=52.0,
        rhr_stale=True,
        rhr_age_days=3,
        sleep_min=300.0,
        efficiency_pct=70.0,
        debt_hours=9.0,
        debt_category="high",
        illness=True,
    )
    chosen = select_drivers(facts)
    assert len(chosen) == 4
    assert chosen[0].code == "illness"
    assert chosen[1].code == "hrv_below_range"  # 0.30 × 55 points lost beats resting HR's 0.20 × 53
    stale = [d for d in chosen if d.code == "stale_rhr"]
    assert len(stale) == 1
    assert render(stale[0]) == "No resting HR for last night (latest 3 days ago); 7-day average used"
    calm = DayFacts(
        metric="SDNN",
        components={"hrv_balance": 77.0},
        weights=WEIGHTS,
        ln7=4.5,
        normal_low=4.4,
        normal_high=4.6,
    )
    assert [d.code for d in select_drivers(calm)] == ["hrv_in_range"]
    assert "ln SDNN" in render(select_drivers(calm)[0])
