"""The disclosure decisions on their own (pure functions, no database): every granted-signal
combination against every driver, contributor, alert kind and row field there is."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from perfhub.alerts.service import SLEEP_DEBT
from perfhub.privacy.disclosure import (
    ALERT_SIGNALS,
    COMPONENT_SIGNALS,
    DRIVER_SIGNALS,
    HRV_DAY,
    SLEEP_DAY,
    Detail,
    alert_visible,
    component_visible,
    driver_detail,
    ordered,
    redact_components,
    redact_driver,
    redact_row,
)
from perfhub.readiness.engine import (
    CONTRIBUTORS,
    DRIVER_CODES,
    PLAIN_CODES,
    Driver,
    driver_to_json,
    render,
    render_plain,
)
from perfhub.teams.schemas import SIGNALS

EVERY_GRANT = [
    frozenset(combo) for n in range(len(SIGNALS) + 1) for combo in itertools.combinations(SIGNALS, n)
]
DIGIT = re.compile(r"\d")

# One fact per code with every number the engine puts in it.
SAMPLE_VALUES: dict[str, dict[str, Any]] = {
    "illness": {"rhr_delta": 6.76, "ln7": 3.97, "normal_low": 4.04, "normal_high": 4.13, "metric": "SDNN"},
    "overreaching": {"nights": 6, "ln7": 3.99, "normal_low": 4.04, "normal_high": 4.13, "metric": "rMSSD"},
    "hrv_below_range": {"ln7": 3.97, "normal_low": 4.04, "normal_high": 4.13, "metric": "rMSSD"},
    "hrv_unusually_high": {
        "value": 4.6,
        "ln7": 4.5,
        "normal_low": 4.04,
        "normal_high": 4.13,
        "metric": "rMSSD",
    },
    "hrv_above_range": {"ln7": 4.15, "normal_low": 4.04, "normal_high": 4.13, "metric": "rMSSD"},
    "hrv_in_range": {"ln7": 4.1, "normal_low": 4.04, "normal_high": 4.13, "metric": "rMSSD"},
    "hrv_drop": {"value": 3.7, "ln7": 4.1, "drop_sd": -1.6, "metric": "rMSSD"},
    "rhr_elevated": {"value": 57.0, "baseline": 50.2, "delta": 6.8},
    "rhr_below_baseline": {"value": 47.0, "baseline": 50.2, "delta": -3.2},
    "rhr_at_baseline": {"value": 50.0, "baseline": 50.2, "delta": -0.2},
    "sleep_short": {"minutes": 330.0, "need": 480.0},
    "sleep_good": {"minutes": 470.0, "need": 480.0},
    "sleep_efficiency_low": {"efficiency": 78.0},
    "sleep_latency_long": {"latency": 42.0},
    "sleep_wakes": {"wakes": 6.0},
    "sleep_debt": {"hours": 6.5, "category": "high"},
    "load_spike": {"acwr": 1.6},
    "load_fatigue": {"acute": 700.0, "chronic": 450.0, "tsb": -250.0},
    "load_balanced": {"acwr": 1.0},
    "stale_hrv": {"age_days": 3},
    "stale_rhr": {"age_days": 4},
    "source_changed": {"days": 5, "nights": 3, "needed": 4},
    "calibrating": {"days": 9, "target": 21, "next": "provisional"},
}


def test_every_kind_of_datum_has_a_decision() -> None:
    # A driver, contributor or alert kind added without a decision here would fail closed (shown
    # only to whoever sees everything); this makes adding one a conscious choice instead.
    assert set(DRIVER_CODES) == set(DRIVER_SIGNALS) == set(SAMPLE_VALUES)
    assert set(CONTRIBUTORS) == set(COMPONENT_SIGNALS)
    assert SLEEP_DEBT in ALERT_SIGNALS and ALERT_SIGNALS[SLEEP_DEBT] == "sleep"
    assert set(DRIVER_SIGNALS.values()) <= {*SIGNALS, None}


@pytest.mark.parametrize("code", DRIVER_CODES)
def test_a_driver_shows_its_numbers_only_with_their_signal(code: str) -> None:
    stored = driver_to_json(Driver(code, SAMPLE_VALUES[code]))
    signal = DRIVER_SIGNALS[code]
    for granted in EVERY_GRANT:
        detail, fact, disclosed = redact_driver(granted, stored)
        if "readiness" not in granted:
            assert (detail, fact, disclosed) == (Detail.HIDDEN, None, frozenset())
        elif signal is None or signal in granted:
            assert detail is Detail.FULL and fact == stored
            assert disclosed == {"readiness", *([signal] if signal else [])}
        elif detail is Detail.PLAIN:
            assert fact == {"code": code, "values": {}} and disclosed == {"readiness"}
            assert code in PLAIN_CODES and not DIGIT.search(render_plain(code))
            assert "SDNN" not in render_plain(code) and "rMSSD" not in render_plain(code)
        else:
            assert detail is Detail.HIDDEN and fact is None and code == "sleep_debt"


def test_a_readiness_only_viewer_gets_directions_not_values() -> None:
    granted = frozenset({"readiness"})
    assert driver_detail(granted, "hrv_below_range") is Detail.PLAIN
    assert driver_detail(granted, "rhr_elevated") is Detail.PLAIN
    assert driver_detail(granted, "sleep_short") is Detail.PLAIN
    assert driver_detail(granted, "load_spike") is Detail.PLAIN
    assert driver_detail(granted, "sleep_debt") is Detail.HIDDEN
    # How old the data behind the score is, and how many days it rests on, are the score's own.
    assert driver_detail(granted, "stale_hrv") is Detail.FULL
    assert driver_detail(granted, "calibrating") is Detail.FULL
    assert render_plain("rhr_elevated") == "Resting HR above baseline"
    assert render_plain("hrv_below_range") == "HRV below your normal range"
    full = render(Driver("rhr_elevated", SAMPLE_VALUES["rhr_elevated"]))
    assert full == "Resting HR 7 bpm above baseline (57 vs 50 bpm)"


def test_unknown_kinds_fail_closed() -> None:
    everything = frozenset(SIGNALS)
    for granted in EVERY_GRANT:
        sees_all = granted == everything
        assert driver_detail(granted, "new_code") is (Detail.FULL if sees_all else Detail.HIDDEN)
        assert component_visible(granted, "new_component") is sees_all
        assert alert_visible(granted, "new_kind") is sees_all
    assert redact_driver(everything, {"code": "new_code", "values": {"x": 1}})[2] == everything


def test_contributor_scores_follow_their_signal() -> None:
    components = [{"name": name, "score": 60.0, "weight": 0.1} for name in CONTRIBUTORS]
    for granted in EVERY_GRANT:
        shown, disclosed = redact_components(granted, components)
        names = {c["name"] for c in shown}
        if "readiness" not in granted:
            assert names == set() and disclosed == frozenset()
            continue
        assert names == {name for name in CONTRIBUTORS if COMPONENT_SIGNALS[name] in granted}
        assert disclosed == ({"readiness"} | {COMPONENT_SIGNALS[n] for n in names} if names else frozenset())
    only_readiness, _ = redact_components({"readiness"}, components)
    assert only_readiness == []


HRV_ROW = {
    "user_id": 7,
    "date": "2026-11-24",
    "rmssd_ms": 61.5,
    "ln_rmssd": 4.12,
    "sdnn_ms": None,
    "resting_hr": 47.0,
    "readiness_score": 81.0,
    "vendor_calibrating": False,
    "vendor": "oura",
    "captured_at": "2026-11-24T06:00:00+00:00",
}


def test_the_vendor_score_in_an_hrv_row_needs_readiness() -> None:
    shown, disclosed = redact_row({"hrv"}, HRV_DAY, HRV_ROW)
    assert shown == {**HRV_ROW, "readiness_score": None, "vendor_calibrating": None}
    assert disclosed == {"hrv"}
    shown, disclosed = redact_row({"hrv", "readiness"}, HRV_DAY, HRV_ROW)
    assert shown == HRV_ROW and disclosed == {"hrv", "readiness"}
    # Granted but empty is not disclosed.
    _, disclosed = redact_row(
        {"hrv", "readiness"}, HRV_DAY, {**HRV_ROW, "readiness_score": None, "vendor_calibrating": None}
    )
    assert disclosed == {"hrv"}
    with pytest.raises(PermissionError):
        redact_row({"readiness"}, HRV_DAY, HRV_ROW)
    with pytest.raises(PermissionError):
        redact_row({"hrv"}, SLEEP_DAY, {"duration_min": 450})


def test_audit_order_is_canonical() -> None:
    assert ordered({"readiness", "hrv", "training", "sleep"}) == ["hrv", "sleep", "readiness", "training"]
    assert ordered({"readiness", "bogus"}) == ["readiness"]
