"""Sleep debt: recent-weighted shortfall against need over 14 nights (docs/readiness.md)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from perfhub.readiness.engine.sleep_debt import (
    DEBT_CATEGORIES,
    DEBT_WEIGHT_TOTAL,
    DEBT_WEIGHTS,
    category_codes,
    category_for,
    compute_debt,
)


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
    assert debt_of([480.0] * 14, need=0.0)[1] == "none"  # an unset need falls back to 480 min


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
