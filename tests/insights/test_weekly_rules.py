"""The weekly figures and their sentences, on seeded weeks whose numbers are worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from perfhub.insights.sentences import choose_sentences
from perfhub.insights.weekly import (
    Day,
    WeekInputs,
    inputs_digest,
    iso_week,
    parse_week,
    summarise,
)
from perfhub.plans.adherence import Tally

MONDAY = date(2026, 11, 23)  # 2026-W48
BEFORE = MONDAY - timedelta(weeks=1)


def day(
    when: date,
    score: float | None,
    *,
    band: str | None = None,
    flags: tuple[str, ...] = (),
    **baselines: float | None,
) -> Day:
    if score is not None and band is None:
        band = "low" if score < 40 else "reduced" if score < 65 else "normal" if score < 85 else "elevated"
    return Day(when, score, band, flags, baselines)


def inputs(
    days: list[Day],
    loads: dict[date, float] | None = None,
    since: date | None = None,
    planned: int = 0,
    kept: int = 0,
) -> WeekInputs:
    return WeekInputs(MONDAY, days, loads or {}, since, Tally(planned, kept))


def steady_week(scores: list[float], start: date = MONDAY) -> list[Day]:
    return [day(start + timedelta(days=i), s) for i, s in enumerate(scores)]


def rules(figures: dict[str, Any]) -> list[str]:
    return [s.rule for s in choose_sentences(figures)]


def test_weeks_parse_as_iso_weeks() -> None:
    assert parse_week("2026-W48") == MONDAY
    assert iso_week(MONDAY + timedelta(days=6)) == "2026-W48"
    # 2026-01-01 is a Thursday: ISO week 1 of 2026 starts on 2025-12-29.
    assert parse_week("2026-W01") == date(2025, 12, 29)
    assert parse_week("2026-W53") == date(2026, 12, 28)  # 2026 has 53 ISO weeks
    for bad in ("2025-W53", "2026-48", "2026-W4", "2026-w48", "2026-W00", "abcd-W01", "2026-W48 "):
        with pytest.raises(ValueError):
            parse_week(bad)


def test_a_week_with_missing_days_counts_only_the_days_it_has() -> None:
    # Four days of seven: Tue, Wed, Fri, Sun. Readiness 70, 60, 50, 64 → mean 61.0.
    # The week before: 75, 72, 69 (three days) → mean 72.0; change −11.0.
    this = [
        day(
            MONDAY + timedelta(days=1),
            70,
            ln7=4.0,
            normalLow=4.1,
            normalHigh=4.5,
            restingHr=52,
            restingHrBaseline=50,
            sleepMin=420,
            debtHours=2.0,
        ),
        day(
            MONDAY + timedelta(days=2),
            60,
            flags=("hrv_below_range",),
            ln7=3.9,
            normalLow=4.1,
            normalHigh=4.5,
            restingHr=56,
            restingHrBaseline=50,
            sleepMin=390,
            debtHours=3.0,
        ),
        day(
            MONDAY + timedelta(days=4),
            50,
            flags=("hrv_below_range", "sleep_debt"),
            ln7=3.8,
            normalLow=4.1,
            normalHigh=4.5,
            sleepMin=None,
            debtHours=3.5,
        ),
        day(
            MONDAY + timedelta(days=6),
            64,
            ln7=4.2,
            normalLow=4.1,
            normalHigh=4.5,
            restingHr=54,
            restingHrBaseline=51,
            sleepMin=450,
            debtHours=2.75,
        ),
    ]
    before = steady_week([75, 72, 69], BEFORE)
    f = summarise(inputs(this + before))
    assert f["week"] == "2026-W48" and f["from"] == "2026-11-23" and f["to"] == "2026-11-29"
    assert f["daysWithData"] == 4
    r = f["readiness"]
    assert (r["scoredDays"], r["mean"], r["previousMean"], r["change"]) == (4, 61.0, 72.0, -11.0)
    assert r["bandDays"] == {"low": 0, "reduced": 3, "normal": 1, "elevated": 0}
    assert r["flagDays"] == {"hrv_below_range": 2, "sleep_debt": 1}
    assert [d["date"] for d in r["daily"]] == ["2026-11-24", "2026-11-25", "2026-11-27", "2026-11-29"]
    # 4.0, 3.9, 3.8 under 4.1; 4.2 inside.
    assert (f["hrv"]["days"], f["hrv"]["belowRange"], f["hrv"]["withinRange"]) == (4, 3, 1)
    # Resting HR on three days: (52 + 56 + 54) / 3 = 54.0 over baselines (50 + 50 + 51) / 3 = 50.3.
    assert f["restingHr"] == {"days": 3, "mean": 54.0, "baselineMean": 50.3, "delta": 3.7}
    # Sleep on three nights: (420 + 390 + 450) / 3 = 420.0; debt 2.0 → 2.75 h, moderate, rising.
    s = f["sleep"]
    assert (s["nights"], s["meanMin"], s["debtStartHours"], s["debtEndHours"]) == (3, 420.0, 2.0, 2.75)
    assert (s["debtCategory"], s["debtTrend"]) == ("moderate", "rising")
    # Nothing logged ever: load unknown, not zero.
    assert f["load"] == {"week": None, "previousWeeks": [None] * 4, "previousMean": None, "ratio": None}
    assert f["adherence"] == {"planned": 0, "kept": 0, "rate": None}

    chosen = choose_sentences(f)
    assert [s.rule for s in chosen] == ["readiness_down", "hrv_below_range", "sleep_debt_rising"]
    assert chosen[0].text.startswith("Your readiness averaged 61, down 11 points from 72 the week before")
    assert "on 3 of 4 days" in chosen[1].text
    assert "from 2 h to 2.75 h (moderate)" in chosen[2].text
    assert chosen[0].signals == ("readiness",) and chosen[1].signals == ("hrv",)
    assert chosen[2].cites == {"debtStartHours": 2.0, "debtEndHours": 2.75, "category": "moderate"}


def test_training_load_against_the_previous_four_weeks() -> None:
    # Logged since four weeks before: the previous weeks total 1000, 1200, 800, 1000 (mean 1000.0);
    # this week 300 × 5 = 1500, ratio 1.5.
    loads: dict[date, float] = {}
    for weeks_back, total in ((1, 1000), (2, 1200), (3, 800), (4, 1000)):
        loads[MONDAY - timedelta(weeks=weeks_back)] = total
    for i in range(5):
        loads[MONDAY + timedelta(days=i)] = 300
    f = summarise(inputs(steady_week([80, 80, 80]), loads, since=MONDAY - timedelta(weeks=4)))
    assert f["load"] == {
        "week": 1500.0,
        "previousWeeks": [1000.0, 1200.0, 800.0, 1000.0],
        "previousMean": 1000.0,
        "ratio": 1.5,
    }
    chosen = choose_sentences(f)
    assert [s.rule for s in chosen] == ["load_spike"]
    assert "load of 1500 was 1.5 times your average of 1000" in chosen[0].text


def test_weeks_before_the_first_logged_day_are_unknown_and_rest_days_are_zero() -> None:
    # First session two weeks back on Wednesday: that week counts (Mon/Tue before it do not), the
    # two before it are unknown. Previous weeks: 0 (rested all week), 400; mean 200.0.
    since = MONDAY - timedelta(weeks=2) + timedelta(days=2)
    loads = {since: 400.0, MONDAY: 250.0}
    f = summarise(inputs([], loads, since=since))
    assert f["load"]["previousWeeks"] == [0.0, 400.0, None, None]
    assert f["load"]["previousMean"] == 200.0
    assert (f["load"]["week"], f["load"]["ratio"]) == (250.0, 1.25)
    assert "load_spike" not in rules(f)  # 1.25 is not over 1.3


def test_low_adherence_and_the_cap_of_three_sentences() -> None:
    this = [
        day(
            MONDAY + timedelta(days=i),
            50,
            ln7=3.0,
            normalLow=3.5,
            normalHigh=4.0,
            restingHr=60,
            restingHrBaseline=55,
            debtHours=5.5 + i,
        )
        for i in range(4)
    ]
    f = summarise(inputs(this + steady_week([80, 80, 80], BEFORE), planned=5, kept=3))
    assert f["adherence"] == {"planned": 5, "kept": 3, "rate": 0.6}
    assert f["sleep"]["debtCategory"] == "high"
    # Five rules fire; the first three in rule order are kept.
    assert rules(f) == ["readiness_down", "hrv_below_range", "sleep_debt_rising"]
    calm = summarise(inputs(steady_week([80, 80, 80]), planned=5, kept=3))
    chosen = choose_sentences(calm)
    assert [s.rule for s in chosen] == ["adherence_low"]
    assert "You kept 3 of 5 planned sessions (60 %)" in chosen[0].text


def test_the_thresholds_edges() -> None:
    # Exactly 8 points down fires; 7.9 does not.
    assert "readiness_down" in rules(
        summarise(inputs(steady_week([72, 72, 72]) + steady_week([80, 80, 80], BEFORE)))
    )
    assert "readiness_down" not in rules(
        summarise(inputs(steady_week([72.1, 72.1, 72.1]) + steady_week([80, 80, 80], BEFORE)))
    )
    # Two scored days the week before: no previous mean, so no trend.
    two = summarise(inputs(steady_week([50, 50, 50]) + steady_week([90, 90], BEFORE)))
    assert two["readiness"]["previousMean"] is None and "readiness_down" not in rules(two)
    # 70 % adherence is not low.
    assert rules(summarise(inputs(steady_week([80, 80, 80]), planned=10, kept=7))) == ["steady"]


def test_a_quiet_week_and_a_week_without_data_still_say_one_thing() -> None:
    quiet = choose_sentences(summarise(inputs(steady_week([80, 90, 60]))))
    assert [s.rule for s in quiet] == ["steady"]
    assert quiet[0].text.startswith("Your readiness averaged 76.7 with 2 of 3 scored days normal or better")
    empty = choose_sentences(summarise(inputs(steady_week([70, None, None]))))  # type: ignore[list-item]
    assert [s.rule for s in empty] == ["too_little_data"]
    assert "scored on 1 of 7 days" in empty[0].text


def test_the_digest_follows_the_inputs() -> None:
    base = inputs(steady_week([80, 80, 80]))
    assert inputs_digest(base) == inputs_digest(inputs(list(reversed(steady_week([80, 80, 80])))))
    assert inputs_digest(base) != inputs_digest(inputs(steady_week([80, 80, 81])))
    assert inputs_digest(base) != inputs_digest(inputs(steady_week([80, 80, 80]), planned=1))
