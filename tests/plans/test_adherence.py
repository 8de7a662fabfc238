"""Adherence as arithmetic, checked against hand-computed cases (docs/plans.md#adherence): the rest
rule, the ±20 % edges, the RPE ceilings, the session as finally decided (accepted or reverted),
the groups, ISO weeks and the "before the athlete's local today" cut in several time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from perfhub.core.dates import local_today
from perfhub.plans.adherence import (
    Completion,
    SessionFacts,
    figures,
    group_of,
    is_kept,
    iso_week,
    within_duration,
)
from perfhub.plans.adherence_routes import facts_of
from perfhub.plans.models import PlannedSession, SessionAdjustment

MONDAY = date(2026, 11, 23)  # ISO week 2026-W48
TODAY = {1: date(2026, 12, 7), 2: date(2026, 12, 7)}


def session(
    kind: str = "moderate",
    minutes: float = 60,
    done: tuple[float, float] | None = None,
    *,
    day: date = MONDAY,
    status: str | None = None,
    athlete: int = 1,
) -> SessionFacts:
    completion = None if done is None else Completion(*done)
    return SessionFacts(athlete, day, kind, minutes, status, completion)


# --------------------------------------------------------------------------------------------
# One session
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "kept"),
    [
        (48, True),  # −20 %: the edge is inside
        (72, True),  # +20 %
        (60, True),
        (47.9, False),
        (72.1, False),
        (47.99, False),
        (72.01, False),
    ],
)
def test_duration_within_20_percent_either_way_edges_included(minutes: float, kept: bool) -> None:
    assert is_kept(session("moderate", 60, (minutes, 5)), False) is kept


def test_the_edges_are_exact_for_minutes_given_as_decimals() -> None:
    # In binary floats 8.4 − 7 is a hair more than 0.2 × 7, and 3.6 − 3 than 0.2 × 3: the
    # minutes are taken as the decimals they were given as, so the edges stay inside.
    for final, low, high in ((7, 5.6, 8.4), (3, 2.4, 3.6), (12, 9.6, 14.4), (35, 28, 42)):
        assert within_duration(low, final) and within_duration(high, final), final
        assert not within_duration(low - 0.001, final) and not within_duration(high + 0.001, final)
    assert within_duration(22.5, 18.75) and not within_duration(22.51, 18.75)


@pytest.mark.parametrize(
    ("kind", "rpe", "kept"),
    [
        ("easy", 3, True),
        ("easy", 4, True),
        ("easy", 4.5, False),
        ("moderate", 6, True),
        ("moderate", 6.5, False),
        ("moderate", 8, False),
        ("hard", 10, True),
        ("hard", 2, True),  # no floor: an easy-feeling hard day is still the session done
    ],
)
def test_rpe_no_higher_than_the_type_allows(kind: str, rpe: float, kept: bool) -> None:
    assert is_kept(session(kind, 60, (60, rpe)), False) is kept


def test_a_missed_session_is_not_kept_even_if_the_day_had_other_training() -> None:
    assert not is_kept(session("easy", 40), False)
    # Something was logged, but not linked to the plan: adherence is about the planned session.
    assert not is_kept(session("easy", 40), True)


def test_a_rest_day_is_kept_when_nothing_was_logged() -> None:
    assert is_kept(session("rest", 0), False)
    assert not is_kept(session("rest", 0), True)
    # Even a completion linked to the rest session itself breaks it.
    assert not is_kept(session("rest", 0, (30, 2)), True)


# --------------------------------------------------------------------------------------------
# The session as finally decided
# --------------------------------------------------------------------------------------------


def planned(kind: str = "hard", minutes: int = 60) -> PlannedSession:
    return PlannedSession(
        id=1, athlete_id=1, date=MONDAY, sport="run", title="Intervals", type=kind, duration_min=minutes
    )


def adjustment(status: str, adjusted: dict[str, Any]) -> SessionAdjustment:
    return SessionAdjustment(
        session_id=1,
        athlete_id=1,
        status=status,
        rule="low",
        original={"type": "hard", "durationMin": 60, "intensity": None, "plannedLoad": None},
        adjusted={"intensity": None, "plannedLoad": None, **adjusted},
        diff=[],
        reasons=[],
    )


EASIER = {"type": "easy", "durationMin": 35}


def test_accepted_is_judged_against_the_adjusted_session() -> None:
    row = planned()
    accepted = adjustment("accepted", EASIER)
    facts = facts_of(row, accepted, Completion(35, 3))
    assert (facts.final_type, facts.final_duration_min, facts.status) == ("easy", 35.0, "accepted")
    assert is_kept(facts, True)
    # The plan as written, done anyway: too long and too hard for the easy session decided on.
    assert not is_kept(facts_of(row, accepted, Completion(60, 7)), True)
    # 42 minutes is +20 % of 35; RPE 4 is the easy ceiling.
    assert is_kept(facts_of(row, accepted, Completion(42, 4)), True)


@pytest.mark.parametrize("status", ["reverted", "proposed"])
def test_reverted_or_undecided_is_judged_against_the_plan(status: str) -> None:
    row = planned()
    held = adjustment(status, EASIER)
    facts = facts_of(row, held, Completion(35, 3))
    assert (facts.final_type, facts.final_duration_min) == ("hard", 60.0)
    assert not is_kept(facts, True)  # 35 of 60 minutes
    assert is_kept(facts_of(row, held, Completion(60, 7)), True)


def test_an_accepted_illness_rest_is_kept_by_resting() -> None:
    row = planned()
    rested = adjustment("accepted", {"type": "rest", "durationMin": 0, "plannedLoad": 0.0})
    assert is_kept(facts_of(row, rested, None), False)
    assert not is_kept(facts_of(row, rested, Completion(60, 7)), True)
    # Reverted, the hard session stands and resting misses it.
    assert not is_kept(facts_of(row, adjustment("reverted", rested.adjusted), None), False)


def test_groups() -> None:
    assert [group_of(s) for s in ("accepted", "reverted", "proposed", None)] == [
        "accepted",
        "reverted",
        "undecided",
        "unadjusted",
    ]
    with pytest.raises(ValueError):
        group_of("withdrawn")


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def test_figures_hand_computed() -> None:
    week2 = MONDAY + timedelta(days=7)  # 2026-W49
    sessions = [
        # Week 48, athlete 1
        session("hard", 60, (60, 8), day=MONDAY),  # kept, unadjusted
        session("easy", 35, (35, 3), day=MONDAY + timedelta(1), status="accepted"),  # kept
        session("hard", 60, None, day=MONDAY + timedelta(2), status="reverted"),  # missed
        session("rest", 0, None, day=MONDAY + timedelta(3)),  # kept: nothing logged
        session("rest", 0, None, day=MONDAY + timedelta(4)),  # not kept: an unplanned ride
        # Week 49, athlete 2
        session("easy", 40, (40, 5), day=week2, athlete=2, status="accepted"),  # RPE 5 > 4
        session("moderate", 50, (45, 5), day=week2, athlete=2, status="proposed"),  # kept
    ]
    logged = {(1, MONDAY), (1, MONDAY + timedelta(1)), (1, MONDAY + timedelta(4)), (2, week2)}
    total, per_athlete = figures(sessions, logged, TODAY, MONDAY, week2 + timedelta(6))
    out = total.out()
    assert out["overall"] == {"planned": 7, "kept": 4, "rate": round(4 / 7, 4)}
    assert out["byGroup"] == {
        "accepted": {"planned": 2, "kept": 1, "rate": 0.5},
        "reverted": {"planned": 1, "kept": 0, "rate": 0.0},
        "undecided": {"planned": 1, "kept": 1, "rate": 1.0},
        "unadjusted": {"planned": 3, "kept": 2, "rate": 0.6667},
    }
    weeks = {week["week"]: week for week in out["byWeek"]}
    assert list(weeks) == ["2026-W48", "2026-W49"]
    assert weeks["2026-W48"]["overall"] == {"planned": 5, "kept": 3, "rate": 0.6}
    assert weeks["2026-W48"]["byGroup"]["undecided"] == {"planned": 0, "kept": 0, "rate": None}
    assert weeks["2026-W49"]["byGroup"]["accepted"] == {"planned": 1, "kept": 0, "rate": 0.0}
    assert per_athlete[1].out()["overall"] == {"planned": 5, "kept": 3, "rate": 0.6}
    assert per_athlete[2].out()["overall"] == {"planned": 2, "kept": 1, "rate": 0.5}
    assert [week["week"] for week in per_athlete[2].out()["byWeek"]] == ["2026-W49"]


def test_only_the_range_counts_and_an_athlete_without_sessions_has_no_rate() -> None:
    sessions = [session("easy", 30, (30, 3), day=MONDAY + timedelta(days=d)) for d in range(7)]
    total, per_athlete = figures(sessions, set(), TODAY, MONDAY + timedelta(2), MONDAY + timedelta(4))
    assert total.out()["overall"] == {"planned": 3, "kept": 3, "rate": 1.0}
    assert per_athlete[2].out() == {
        "overall": {"planned": 0, "kept": 0, "rate": None},
        "byGroup": {
            g: {"planned": 0, "kept": 0, "rate": None}
            for g in ("accepted", "reverted", "undecided", "unadjusted")
        },
        "byWeek": [],
    }
    # An athlete the caller did not ask about (no today given) is never counted.
    total, per_athlete = figures(sessions, set(), {2: TODAY[2]}, MONDAY, MONDAY + timedelta(6))
    assert total.out()["overall"]["planned"] == 0 and set(per_athlete) == {2}


def test_iso_weeks_follow_the_iso_year() -> None:
    assert iso_week(date(2026, 11, 23)) == "2026-W48"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"  # a Friday: still the last week of 2026
    assert iso_week(date(2027, 1, 4)) == "2027-W01"
    assert iso_week(date(2025, 12, 29)) == "2026-W01"


# --------------------------------------------------------------------------------------------
# "Before today" is each athlete's own today
# --------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # Monday evening in London, Tuesday in Auckland
ZONES = {1: "Pacific/Auckland", 2: "America/Los_Angeles", 3: "Europe/London", 4: "Pacific/Kiritimati"}


@pytest.mark.parametrize(
    ("athlete", "counted"),
    [
        (1, 2),  # Tuesday 12:30 in Auckland: Monday is over
        (2, 1),  # Monday 15:30 in Los Angeles: Monday may still be done
        (3, 1),  # Monday 23:30 in London: not over yet
        (4, 2),  # UTC+14: Tuesday 13:30
    ],
)
def test_sessions_count_from_the_day_after_in_the_athletes_own_zone(athlete: int, counted: int) -> None:
    sunday, monday = date(2026, 11, 29), date(2026, 11, 30)
    sessions = [session("easy", 30, None, day=day, athlete=athlete) for day in (sunday, monday)]
    todays = {athlete: local_today(ZONES[athlete], NOW)}
    total, _ = figures(sessions, set(), todays, sunday, monday + timedelta(days=3))
    assert total.out()["overall"]["planned"] == counted


def test_today_never_counts_even_when_done() -> None:
    today = TODAY[1]
    sessions = [
        session("easy", 30, (30, 3), day=today),
        session("easy", 30, (30, 3), day=today - timedelta(1)),
    ]
    total, _ = figures(sessions, set(), {1: today}, today - timedelta(7), today + timedelta(7))
    assert total.out()["overall"] == {"planned": 1, "kept": 1, "rate": 1.0}
