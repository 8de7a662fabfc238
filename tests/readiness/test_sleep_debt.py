"""Sleep debt: recent-weighted shortfall against need over 14 nights, and the need itself — the
athlete's setting, or estimated from their own last 60 nights (docs/readiness.md)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from numpy.typing import NDArray

from perfhub.readiness.engine.sleep_debt import (
    DEBT_CATEGORIES,
    DEBT_WEIGHT_TOTAL,
    DEBT_WEIGHTS,
    DEFAULT_SLEEP_NEED_MIN,
    NEED_MIN_NIGHTS,
    NEED_WINDOW,
    category_codes,
    category_for,
    compute_debt,
    daily_need,
)

UNSET = np.array([math.nan])


def debt_of(nights: list[float], need: float = 480.0) -> tuple[float, str | None]:
    hours, cats = compute_debt(np.array([nights], dtype=np.float64), np.array([need]))
    code = int(cats[0, -1])
    return float(hours[0, -1]), DEBT_CATEGORIES[code] if code >= 0 else None


def test_fourteen_short_nights_are_high_debt() -> None:
    hours, category = debt_of([360.0] * 14)
    assert category == "high"
    assert hours == pytest.approx(2.0 * DEBT_WEIGHT_TOTAL)


def test_sleeping_the_need_is_no_debt() -> None:
    hours, category = debt_of([480.0] * 14)
    assert hours == pytest.approx(0.0, abs=1e-9)
    assert category == "none"


def test_recent_nights_weigh_more() -> None:
    old_short = [360.0] * 3 + [480.0] * 11
    recent_short = [480.0] * 11 + [360.0] * 3
    assert debt_of(recent_short)[0] > debt_of(old_short)[0] > 0
    assert DEBT_WEIGHTS[0] == 1.0 and all(a > b for a, b in itertools.pairwise(DEBT_WEIGHTS))


def test_missing_nights_are_not_zero_sleep() -> None:
    full = [420.0] * 14
    gappy = [420.0 if i % 2 else math.nan for i in range(14)]
    assert debt_of(gappy)[0] == pytest.approx(debt_of(full)[0])
    # Far less than the debt of seven nights of no sleep at all.
    assert debt_of(gappy)[0] < 8.0


def test_needs_five_of_fourteen_nights() -> None:
    four = [math.nan] * 10 + [400.0] * 4
    five = [math.nan] * 9 + [400.0] * 5
    assert math.isnan(debt_of(four)[0]) and debt_of(four)[1] is None
    assert not math.isnan(debt_of(five)[0])


def test_surplus_pays_back_but_never_below_zero() -> None:
    short_then_long = [420.0] * 12 + [560.0] * 2
    assert debt_of(short_then_long)[0] < debt_of([420.0] * 14)[0]
    assert debt_of([600.0] * 14)[0] == 0.0


def test_personal_need() -> None:
    assert debt_of([480.0] * 14, need=540.0)[1] == "high"
    # Unset, with too few nights before the last one to estimate a need: 480 min.
    assert debt_of([480.0] * 14, need=0.0)[1] == "none"
    assert debt_of([420.0] * 14, need=0.0)[1] == "high"


def test_window_is_fourteen_nights() -> None:
    nights = [0.0] * 10 + [480.0] * 14  # the short nights are more than 14 nights ago
    assert debt_of(nights)[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("hours", "category"),
    [
        (0.0, "none"),
        (0.2, "none"),
        (0.25, "low"),
        (1.99, "low"),
        (2.0, "moderate"),
        (5.0, "moderate"),
        (5.01, "high"),
    ],
)
def test_categories(hours: float, category: str) -> None:
    assert category_for(hours) == category
    assert DEBT_CATEGORIES[int(category_codes(np.array([hours]))[0])] == category


def test_category_of_nan() -> None:
    with pytest.raises(ValueError):
        category_for(math.nan)
    assert category_codes(np.array([np.nan]))[0] == -1


def test_matches_direct_weighted_sum() -> None:
    rng = np.random.default_rng(0)
    sleep = np.round(rng.normal(450, 60, (3, 40)))
    sleep[rng.random(sleep.shape) < 0.3] = np.nan
    need = np.array([480.0, 450.0, 500.0])
    hours, _ = compute_debt(sleep, need)
    for a in range(3):
        for d in range(40):
            lo = max(0, d - 13)
            window = sleep[a, lo : d + 1][::-1]
            weights = np.array(DEBT_WEIGHTS[: len(window)])
            ok = ~np.isnan(window)
            if ok.sum() < 5:
                assert math.isnan(hours[a, d])
                continue
            short = np.maximum(need[a] - window[ok], -120.0) / 60.0
            expected = max(0.0, float(np.sum(weights[ok] * short) / np.sum(weights[ok]) * DEBT_WEIGHT_TOTAL))
            assert hours[a, d] == pytest.approx(expected, abs=1e-9)


# -- the need: the athlete's own, or estimated from their last 60 nights


def need_of(nights: list[float], set_need: float = math.nan) -> NDArray[np.float64]:
    return daily_need(np.array([nights], dtype=np.float64), np.array([set_need]))[0]


def test_a_set_need_holds_on_every_day() -> None:
    assert need_of([390.0] * 80, set_need=450.0).tolist() == [450.0] * 80
    assert need_of([math.nan] * 3, set_need=705.0).tolist() == [705.0] * 3  # no clamp, no rounding


def test_an_unset_need_is_the_mean_of_the_60_nights_before() -> None:
    need = need_of([390.0] * 100)
    assert need[NEED_MIN_NIGHTS:].tolist() == [390.0] * (100 - NEED_MIN_NIGHTS)
    # ≤ 0 is unset too, like NaN.
    assert need_of([390.0] * 30, set_need=0.0)[-1] == need_of([390.0] * 30, set_need=-1.0)[-1] == 390.0


def test_the_estimate_needs_14_nights_before_the_day() -> None:
    need = need_of([420.0] * 30)
    # Day 13 has 13 nights before it, day 14 has 14: night d itself never counts for its own need.
    assert need[:NEED_MIN_NIGHTS].tolist() == [DEFAULT_SLEEP_NEED_MIN] * NEED_MIN_NIGHTS
    assert need[NEED_MIN_NIGHTS] == 420.0
    gappy = [420.0 if i % 3 == 0 else math.nan for i in range(NEED_WINDOW)]  # 20 of 60 present
    assert need_of([*gappy, math.nan])[-1] == 420.0  # missing nights are missing, not 0 min
    sparse = [420.0 if i % 5 == 0 else math.nan for i in range(NEED_WINDOW)]  # 12 of 60
    assert need_of([*sparse, math.nan])[-1] == DEFAULT_SLEEP_NEED_MIN


def test_the_window_is_the_60_nights_before_the_day() -> None:
    # 60 nights of 420, then the day itself at 600: the day's own night is not in its need.
    assert need_of([420.0] * NEED_WINDOW + [600.0])[-1] == 420.0
    # A night 61 days back has left the window.
    assert need_of([300.0] + [420.0] * NEED_WINDOW + [math.nan])[-1] == 420.0
    assert need_of([300.0] + [420.0] * NEED_WINDOW)[-1] == pytest.approx((300 + 59 * 420) / 60, abs=2.5)


def test_the_estimate_is_clamped_to_6_to_10_hours() -> None:
    assert need_of([300.0] * 40)[-1] == 360.0
    assert need_of([660.0] * 40)[-1] == 600.0


@pytest.mark.parametrize(
    ("mean", "need"),
    [(432.4, 430.0), (432.5, 435.0), (437.5, 440.0), (437.49, 435.0), (359.0, 360.0), (601.0, 600.0)],
)
def test_the_estimate_is_rounded_half_up_to_5_minutes(mean: float, need: float) -> None:
    # 20 nights with the given mean: half of them 10 min under, half 10 min over.
    nights = [mean - 10.0, mean + 10.0] * 10
    assert need_of([*nights, math.nan])[-1] == need


def test_a_habitual_short_sleeper_carries_no_debt_against_their_own_need() -> None:
    nights = np.full((1, 90), 390.0)
    _, default_codes = compute_debt(nights, np.array([DEFAULT_SLEEP_NEED_MIN]))
    estimated, codes = compute_debt(nights, UNSET)
    assert DEBT_CATEGORIES[default_codes[0, -1]] == "high"
    assert estimated[0, -1] == pytest.approx(0.0, abs=1e-9) and DEBT_CATEGORIES[codes[0, -1]] == "none"


@pytest.mark.parametrize(("short_nights", "kept"), [(7, 0.94), (14, 0.85)])
def test_a_run_of_short_nights_barely_lowers_the_estimate(short_nights: int, kept: float) -> None:
    """The documented choice: a plain 60-night mean, which a week or two of restriction moves
    only a little, so the debt it runs up still shows (and still nudges)."""
    nights = np.full((1, 120), 420.0)
    nights[0, -short_nights:] = 300.0
    estimated, codes = compute_debt(nights, UNSET)
    fixed, _ = compute_debt(nights, np.array([420.0]))
    assert estimated[0, -1] >= kept * fixed[0, -1]
    assert estimated[0, -1] < fixed[0, -1]  # it does move: months of short nights become the habit
    assert DEBT_CATEGORIES[codes[0, -1]] == "high"


def test_need_matches_a_direct_mean() -> None:
    rng = np.random.default_rng(1)
    sleep = rng.normal(440, 50, (4, 150))
    sleep[rng.random(sleep.shape) < 0.4] = np.nan
    sleep[1, 30:120] = np.nan  # a long gap: back to the default, then the estimate again
    set_need = np.array([math.nan, 0.0, 505.0, -3.0])
    need = daily_need(sleep, set_need)
    assert need.shape == sleep.shape
    for a in range(4):
        for d in range(150):
            window = sleep[a, max(0, d - 60) : d]
            present = window[~np.isnan(window)]
            if set_need[a] > 0:
                expected = set_need[a]
            elif len(present) < 14:
                expected = 480.0
            else:
                expected = math.floor(min(max(float(np.mean(present)), 360.0), 600.0) / 5 + 0.5) * 5
            assert need[a, d] == expected, (a, d)
    assert {480.0, 505.0} <= set(need.ravel().tolist())


def test_need_depends_on_nothing_older_than_60_nights() -> None:
    """Bit for bit, whatever came before: the engine's bounded memory."""
    rng = np.random.default_rng(2)
    history = rng.normal(430, 70, (3, 3000)) + rng.random((3, 3000)) / 7  # fractional minutes
    history[rng.random(history.shape) < 0.2] = np.nan
    full = daily_need(history, UNSET.repeat(3))
    for start in (0, 1234, 2900):
        tail = daily_need(history[:, start:], UNSET.repeat(3))
        assert np.array_equal(tail[:, NEED_WINDOW:], full[:, start + NEED_WINDOW :])


def test_compute_debt_with_a_daily_need_uses_each_nights_need() -> None:
    rng = np.random.default_rng(3)
    sleep = np.round(rng.normal(450, 60, (2, 40)))
    sleep[rng.random(sleep.shape) < 0.3] = np.nan
    need = rng.choice([420.0, 450.0, 480.0, 540.0], size=sleep.shape)
    hours, _ = compute_debt(sleep, need)
    for a in range(2):
        for d in range(40):
            lo = max(0, d - 13)
            window = sleep[a, lo : d + 1][::-1]
            nights_need = need[a, lo : d + 1][::-1]
            weights = np.array(DEBT_WEIGHTS[: len(window)])
            ok = ~np.isnan(window)
            if ok.sum() < 5:
                assert math.isnan(hours[a, d])
                continue
            short = np.maximum(nights_need[ok] - window[ok], -120.0) / 60.0
            expected = max(0.0, float(np.sum(weights[ok] * short) / np.sum(weights[ok]) * DEBT_WEIGHT_TOTAL))
            assert hours[a, d] == pytest.approx(expected, abs=1e-9)


def test_compute_debt_estimates_an_unset_need_itself() -> None:
    rng = np.random.default_rng(4)
    sleep = rng.normal(420, 45, (3, 120))
    sleep[rng.random(sleep.shape) < 0.25] = np.nan
    settings = np.array([math.nan, 0.0, 450.0])
    by_setting = compute_debt(sleep, settings)
    by_day = compute_debt(sleep, daily_need(sleep, settings))
    assert np.array_equal(by_setting[0], by_day[0], equal_nan=True)
    assert np.array_equal(by_setting[1], by_day[1])


def test_set_needs_give_exactly_what_they_always_gave() -> None:
    rng = np.random.default_rng(5)
    sleep = rng.normal(450, 60, (3, 60))
    sleep[rng.random(sleep.shape) < 0.3] = np.nan
    needs = np.array([480.0, 437.0, 510.0])
    as_settings = compute_debt(sleep, needs)
    as_days = compute_debt(sleep, np.repeat(needs[:, None], 60, axis=1))
    assert np.array_equal(as_settings[0], as_days[0], equal_nan=True)


@pytest.mark.parametrize(
    "need",
    [
        np.full((2, 9), 480.0),  # a daily need of the wrong shape
        np.array([480.0, 480.0, 480.0]),  # settings for three athletes, nights of two
        np.where(np.arange(10) == 4, 0.0, 480.0)[None, :].repeat(2, axis=0),  # a day without a need
    ],
)
def test_compute_debt_refuses_a_need_that_does_not_fit(need: NDArray[np.float64]) -> None:
    with pytest.raises(ValueError):
        compute_debt(np.full((2, 10), 420.0), need)


def test_daily_need_refuses_misshapen_input() -> None:
    with pytest.raises(ValueError):
        daily_need(np.full(10, 420.0), np.array([0.0]))
    with pytest.raises(ValueError):
        daily_need(np.full((2, 10), 420.0), np.array([0.0]))
