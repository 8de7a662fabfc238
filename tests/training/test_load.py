"""Training-load figures against values worked out by hand (docs/plans.md#training-load)."""

from __future__ import annotations

import statistics
from datetime import date, timedelta

import pytest

from perfhub.training.load import load_series, session_load

D0 = date(2026, 3, 1)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def test_session_load_is_rpe_times_minutes() -> None:
    assert session_load(6, 50) == 300.0
    assert session_load(3.5, 45) == 157.5


def test_no_logging_no_figures() -> None:
    days = load_series({}, day(0), day(2))
    assert [d.load for d in days] == [0.0, 0.0, 0.0]
    assert all(d.atl is None and d.ctl is None and d.tsb is None for d in days)


def test_averages_start_at_the_first_logged_day_and_unlogged_days_are_rest() -> None:
    daily = {day(0): 300.0, day(2): 600.0}
    first, second, third = load_series(daily, day(0), day(2))
    assert (first.atl, first.ctl) == (300.0, 300.0)  # one day of history
    assert second.load == 0.0 and second.atl == 150.0  # (300 + 0) / 2
    assert third.atl == 300.0  # (300 + 0 + 600) / 3
    # Too short a history for TSB and ACWR.
    assert third.tsb is None and third.acwr is None
    # Days before the first logged one have nothing.
    (before,) = load_series(daily, day(-1), day(-1))
    assert before.atl is None and before.load == 0.0


def test_a_steady_then_raised_load_by_hand() -> None:
    # 35 days of 100, then 7 days of 200: on day 41 (the 42nd day) —
    #   ATL = 200 (last 7 all 200); CTL = (35·100 + 7·200) / 42 = 116.67;
    #   chronic 28 = (21·100 + 7·200) / 28 = 125; ACWR = 200 / 125 = 1.6; TSB = 116.67 − 200.
    daily = {day(n): 100.0 for n in range(35)} | {day(n): 200.0 for n in range(35, 42)}
    (last,) = load_series(daily, day(41), day(41))
    assert last.atl == 200.0
    assert last.ctl == pytest.approx(116.67, abs=0.01)
    assert last.acwr == pytest.approx(1.6, abs=0.001)
    assert last.tsb == pytest.approx(116.67 - 200.0, abs=0.01)
    # Seven equal days: no spread, so monotony (and strain) are undefined.
    assert last.monotony is None and last.strain is None


def test_monotony_and_strain_of_a_week_by_hand() -> None:
    week = [300.0, 0.0, 450.0, 200.0, 0.0, 600.0, 150.0]
    daily = {day(n): 100.0 for n in range(21)} | {day(21 + i): load for i, load in enumerate(week) if load}
    (last,) = load_series(daily, day(27), day(27))
    mean, spread = statistics.fmean(week), statistics.pstdev(week)
    assert last.monotony == pytest.approx(mean / spread, abs=0.001)
    assert last.strain == pytest.approx(sum(week) * mean / spread, abs=0.1)
    # TSB and ACWR from the 21st day on.
    assert last.tsb is not None and last.acwr is not None


def test_a_range_in_the_middle_sees_the_load_before_it() -> None:
    daily = {day(n): 100.0 for n in range(30)}
    whole = load_series(daily, day(0), day(29))
    tail = load_series(daily, day(25), day(29))
    assert tail == whole[25:]
