"""The overreaching trend (docs/readiness.md#overreaching): nightly HRV shortfalls over the last
runs of nights, the newest weighted most, on hand-made series whose nights sit at known SDs."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from perfhub.readiness.engine import SeriesBatch, compute_batch, snapshot
from perfhub.readiness.engine.rules import OVERREACHING_CAP, TREND_ALARM_SD, TREND_MIN_NIGHTS, TREND_WINDOW

START = datetime.date(2024, 1, 1)
BASE_NIGHTS = 70
SPREAD = 0.08  # the quiet nights alternate 4.0 ± SPREAD


def quiet_batch(extra: int) -> SeriesBatch:
    """BASE_NIGHTS steady nights (ln rMSSD alternating around 4.0, resting HR 52, 7.8 h of
    sleep), then ``extra`` nights the test sets."""
    days = BASE_NIGHTS + extra
    b = SeriesBatch.empty(1, days, START)
    b.ln_hrv[0] = 4.0 + SPREAD * np.where(np.arange(days) % 2 == 0, 1.0, -1.0)
    b.resting_hr[0] = 52.0
    b.sleep_min[0] = 470.0
    b.efficiency_pct[0] = 90.0
    b.latency_min[0] = 12.0
    b.wake_count[0] = 1.0
    return b


def set_nights(b: SeriesBatch, sds: list[float]) -> None:
    """The last ``len(sds)`` nights at these SDs from the steady baseline (mean 4.0, SD of the
    alternating nights, which sit at about ±1 SD); a later night's own 60-day baseline moves only
    a little."""
    sd = SPREAD * np.sqrt(60 / 59)
    for offset, z in enumerate(sds):
        b.ln_hrv[0, b.days - len(sds) + offset] = 4.0 + z * sd


def test_a_decline_over_three_nights_is_flagged_on_the_third_and_caps_the_score() -> None:
    b = quiet_batch(3)
    set_nights(b, [0.0, -1.0, -1.4, -2.2])
    r = compute_batch(b)
    before, day = snapshot(b, r, 0, b.days - 2), snapshot(b, r, 0, b.days - 1)
    # (1·1.0 + 2·1.4) / √5 ≈ 1.7 after two nights; (1.0 + 2.8 + 6.6) / √14 ≈ 2.8 after three.
    assert "overreaching" not in before.flags
    assert 1.5 < r.trend_sd[0, -2] < TREND_ALARM_SD
    assert "overreaching" in day.flags
    assert r.trend_sd[0, -1] > 2.6
    assert day.score is not None and day.score <= OVERREACHING_CAP
    assert day.band == "reduced"
    driver = next(d for d in day.drivers if d.code == "overreaching")
    assert driver.values["nights"] == 3
    assert any("possible overreaching" in text for text in day.rendered_drivers())


def test_a_recovered_night_ends_the_alarm_the_same_day() -> None:
    b = quiet_batch(4)
    set_nights(b, [0.0, -1.0, -1.4, -2.2, 0.2])
    r = compute_batch(b)
    assert "overreaching" in snapshot(b, r, 0, b.days - 2).flags
    assert "overreaching" not in snapshot(b, r, 0, b.days - 1).flags
    assert r.trend_sd[0, -1] < TREND_ALARM_SD


def test_one_bad_night_alone_is_not_a_trend() -> None:
    b = quiet_batch(4)
    set_nights(b, [0.1, 0.1, 0.1, -2.6])
    r = compute_batch(b)
    # Weighted, the one night reaches the alarm level; it needs TREND_MIN_NIGHTS nights below.
    assert TREND_MIN_NIGHTS == 2
    assert "overreaching" not in snapshot(b, r, 0, b.days - 1).flags
    set_nights(b, [0.1, 0.1, -0.4, -2.6])
    r = compute_batch(b)
    assert "overreaching" in snapshot(b, r, 0, b.days - 1).flags


def test_ill_nights_count_for_illness_not_for_the_trend() -> None:
    b = quiet_batch(3)
    set_nights(b, [-1.0, -1.4, -2.2])
    b.resting_hr[0, -3:] = 59.0
    r = compute_batch(b)
    day = snapshot(b, r, 0, b.days - 1)
    assert "illness" in day.flags and "overreaching" not in day.flags
    assert day.score is not None and day.score <= 39


def _weighted_runs(night_z: np.ndarray, ill: np.ndarray) -> np.ndarray:
    """The trend written out per day and run length, straight from its definition."""
    days = night_z.shape[0]
    out = np.zeros(days)
    for d in range(days):
        for k in range(2, TREND_WINDOW + 1):
            first = d - k + 1
            if first < 0:
                break
            total = squares = below = 0.0
            for i in range(first, d + 1):
                if np.isnan(night_z[i]) or ill[i]:
                    continue
                weight = i - first + 1
                total += weight * -night_z[i]
                squares += weight * weight
                below += -night_z[i] > 0
            if below >= TREND_MIN_NIGHTS and total / np.sqrt(squares) > out[d]:
                out[d] = total / np.sqrt(squares)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_running_sums_equal_the_definition_on_noisy_series(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b = quiet_batch(120)
    b.ln_hrv[0, BASE_NIGHTS:] = 4.0 + rng.normal(0.0, 0.1, 120) - np.linspace(0.0, 0.2, 120)
    b.ln_hrv[0, rng.random(b.days) < 0.1] = np.nan
    b.resting_hr[0, BASE_NIGHTS:] = np.round(52 + rng.normal(0, 2.0, 120))
    r = compute_batch(b)
    expected = _weighted_runs(r.hrv_night_z[0], r.illness[0])
    scored = ~np.isnan(r.score[0])
    np.testing.assert_allclose(r.trend_sd[0][scored], expected[scored], rtol=0, atol=1e-12)
    alarm = (expected >= TREND_ALARM_SD) & ~r.illness[0] & scored
    assert alarm.any()
    np.testing.assert_array_equal(r.overreaching[0][scored], alarm[scored])
