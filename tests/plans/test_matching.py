"""Workouts → completed sessions (perfhub.plans.matching): the plan, the athlete's own entry, two
vendors recording one session, deletions, RPE estimates; each settled day settles the same again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import Harness

from perfhub.core.db import session_scope
from perfhub.plans.matching import estimated_rpe, match_days, same_session, sport_family
from perfhub.plans.models import PlannedSession
from perfhub.readings.models import Workout
from perfhub.readings.service import remove_workouts
from perfhub.training.models import CompletedSession

pytestmark = pytest.mark.backends("sqlite", "postgres")

DAY = date(2026, 3, 9)
EST = timezone(timedelta(hours=-5))


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=EST)


class World:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.athlete = harness.user(tz="America/New_York")["id"]
        self._n = 0

    def workout(
        self, vendor: str, start: datetime, minutes: float, sport: str = "running", **fields: Any
    ) -> int:
        self._n += 1
        with session_scope(self.harness.runtime.sessions) as session:
            row = Workout(
                user_id=self.athlete,
                vendor=vendor,
                vendor_id=fields.pop("vendor_id", f"{vendor}-{self._n}"),
                date=start.date(),
                start_at=start.astimezone(UTC),
                end_at=(start + timedelta(minutes=minutes)).astimezone(UTC),
                utc_offset_min=int(start.utcoffset().total_seconds() // 60),  # type: ignore[union-attr]
                sport=sport,
                duration_min=minutes,
                captured_at=start.astimezone(UTC),
                **fields,
            )
            session.add(row)
            session.flush()
            return row.id

    def plan(self, sport: str, type: str = "moderate", minutes: int = 50, day: date = DAY) -> int:
        with session_scope(self.harness.runtime.sessions) as session:
            row = PlannedSession(
                athlete_id=self.athlete,
                date=day,
                sport=sport,
                title=f"{type} {sport}",
                type=type,
                duration_min=minutes,
            )
            session.add(row)
            session.flush()
            return row.id

    def logged(self, sport: str, minutes: float, rpe: float, planned: int | None = None) -> int:
        with session_scope(self.harness.runtime.sessions) as session:
            row = CompletedSession(
                athlete_id=self.athlete,
                date=DAY,
                sport=sport,
                duration_min=minutes,
                rpe=rpe,
                rpe_estimated=False,
                load=rpe * minutes,
                planned_session_id=planned,
                source="manual",
                entered_by_id=self.athlete,
            )
            session.add(row)
            session.flush()
            return row.id

    def match(self, *days: date) -> set[date]:
        with session_scope(self.harness.runtime.sessions) as session:
            return match_days(session, {self.athlete: list(days or (DAY,))}).get(self.athlete, set())

    def completions(self) -> list[dict[str, Any]]:
        with self.harness.runtime.sessions() as session:
            rows = session.scalars(select(CompletedSession).order_by(CompletedSession.id)).all()
            return [
                {
                    "id": r.id,
                    "date": r.date,
                    "sport": r.sport,
                    "minutes": r.duration_min,
                    "rpe": r.rpe,
                    "estimated": r.rpe_estimated,
                    "load": r.load,
                    "planned": r.planned_session_id,
                    "workout": r.workout_id,
                    "source": r.source,
                }
                for r in rows
            ]


@pytest.fixture
def world(harness: Harness) -> World:
    return World(harness)


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("running", "run"),
        ("Run", "run"),
        ("HKWorkoutActivityTypeRunning", "run"),
        ("trail running", "run"),
        ("cycling", "ride"),
        ("bike", "ride"),
        ("Ride", "ride"),
        ("HKWorkoutActivityTypeCycling", "ride"),
        ("Mountain Biking", "ride"),
        ("swimming", "swim"),
        ("HKWorkoutActivityTypeSwimming", "swim"),
        ("HKWorkoutActivityTypeTraditionalStrengthTraining", "strength"),
        ("weightlifting", "strength"),
        ("HIIT", None),
        ("", None),
        ("whoop sport 71", None),
    ],
)
def test_sport_names_of_every_source_fall_into_families(name: str, family: str | None) -> None:
    assert sport_family(name) == family


def test_rpe_is_estimated_from_strain_then_intensity_then_the_plan() -> None:
    def w(**fields: Any) -> Workout:
        return Workout(vendor="x", **fields)

    assert estimated_rpe([w(strain=12.6)], "easy") == 6.0
    assert estimated_rpe([w(strain=21.0)], None) == 10.0
    assert estimated_rpe([w(intensity="hard")], "easy") == 7.0
    assert estimated_rpe([w(), w(strain=4.2)], None) == 2.0  # a second vendor's measure still counts
    assert estimated_rpe([w()], "hard") == 7.0
    assert estimated_rpe([w()], None) == 4.0


def test_overlap_must_exceed_half_of_the_shorter_and_vendors_must_differ() -> None:
    def w(vendor: str, start: datetime, minutes: int) -> Workout:
        return Workout(vendor=vendor, start_at=start, end_at=start + timedelta(minutes=minutes))

    run = w("whoop", at(7), 60)
    assert same_session(run, w("apple", at(7, 25), 40))  # 35 of 40 minutes
    assert not same_session(run, w("apple", at(7, 45), 40))  # 15 of 40
    assert not same_session(run, w("whoop", at(7, 5), 50))  # one vendor never records one session twice


def test_a_workout_completes_the_planned_session_of_its_sport_once(world: World) -> None:
    ride = world.plan("ride", "easy", 90)
    run = world.plan("run", "moderate", 50)
    workout = world.workout("whoop", at(7), 48, strain=12.6)
    assert world.match() == {DAY}
    [done] = world.completions()
    assert (done["planned"], done["workout"], done["sport"], done["minutes"]) == (run, workout, "run", 48)
    assert (done["rpe"], done["estimated"], done["load"], done["source"]) == (6.0, True, 288.0, "whoop")
    assert world.match() == set()  # settled: a re-delivery or a replay changes nothing
    assert world.completions() == [done]
    assert ride not in {c["planned"] for c in world.completions()}


def test_two_vendors_recording_one_session_make_one_completion(world: World) -> None:
    run = world.plan("run")
    apple = world.workout("apple", at(7, 1), 47, sport="running")
    world.match()
    [first] = world.completions()
    assert (first["workout"], first["rpe"], first["planned"]) == (apple, 5.0, run)  # the plan's type
    whoop = world.workout("whoop", at(7), 50, strain=8.4)
    world.match()
    [done] = world.completions()
    # WHOOP ranks before Apple in the default priority: it stands for the session now.
    assert (done["id"], done["workout"], done["rpe"], done["minutes"]) == (first["id"], whoop, 4.0, 50)
    later = world.workout("apple", at(18), 30, sport="running")  # the evening's: another session
    world.match()
    assert [(c["workout"], c["planned"]) for c in world.completions()] == [(whoop, run), (later, None)]


def test_a_session_completed_by_hand_takes_the_workout_and_keeps_the_athletes_rpe(world: World) -> None:
    run = world.plan("run")
    mine = world.logged("run", 55, 8.0, planned=run)
    workout = world.workout("oura", at(7), 50, intensity="easy")
    world.match()
    assert [(c["id"], c["workout"], c["rpe"], c["minutes"], c["estimated"]) for c in world.completions()] == [
        (mine, workout, 8.0, 55, False)
    ]


def test_a_session_logged_after_the_watch_made_one_replaces_it(world: World) -> None:
    workout = world.workout("whoop", at(7), 45, strain=10.5)
    world.match()
    assert [c["source"] for c in world.completions()] == ["whoop"]
    mine = world.logged("running", 45, 6.0)  # announced with the training signal: the day is settled again
    assert world.match() == {DAY}
    assert [(c["id"], c["workout"], c["rpe"]) for c in world.completions()] == [(mine, workout, 6.0)]


def test_unknown_sports_match_only_a_single_session_and_rest_never(world: World) -> None:
    world.plan("run", "rest")
    run = world.plan("run")
    hiit = world.workout("whoop", at(12), 30, sport="HIIT", strain=9.0)
    world.match()
    assert [c["planned"] for c in world.completions()] == [run]  # the only non-rest session
    world.plan("swim", day=DAY + timedelta(days=1))
    world.plan("ride", day=DAY + timedelta(days=1))
    other = world.workout("apple", at(12, day=DAY + timedelta(days=1)), 30, sport="functional fitness")
    world.match(DAY + timedelta(days=1))
    assert [(c["workout"], c["planned"], c["rpe"]) for c in world.completions()] == [
        (hiit, run, 4.3),
        (other, None, 4.0),  # two sessions it might be: unplanned, and Apple gives no effort
    ]


def test_a_deleted_workout_takes_its_completion_and_the_plan_opens_again(world: World) -> None:
    run = world.plan("run")
    world.workout("whoop", at(7), 50, strain=12.0, vendor_id="w-1")
    world.match()
    with session_scope(world.harness.runtime.sessions) as session:
        assert remove_workouts(session, world.athlete, "whoop", ["w-1"]) == {DAY}
    assert world.match() == {DAY}
    assert world.completions() == []
    again = world.workout("oura", at(7), 50, intensity="hard")
    world.match()
    assert [(c["workout"], c["planned"], c["rpe"]) for c in world.completions()] == [(again, run, 7.0)]


def test_a_deleted_workout_leaves_the_athletes_entry_unlinked(world: World) -> None:
    run = world.plan("run")
    mine = world.logged("run", 50, 7.0, planned=run)
    world.workout("whoop", at(7), 50, strain=12.0, vendor_id="w-2")
    world.match()
    with session_scope(world.harness.runtime.sessions) as session:
        remove_workouts(session, world.athlete, "whoop", ["w-2"])
    world.match()
    assert [(c["id"], c["workout"], c["rpe"]) for c in world.completions()] == [(mine, None, 7.0)]


def test_a_workout_the_vendor_moves_to_another_day_moves_its_completion(world: World) -> None:
    world.plan("run")
    workout = world.workout("whoop", at(23, 30), 50, strain=6.3)
    world.match()
    with session_scope(world.harness.runtime.sessions) as session:
        row = session.get(Workout, workout)
        assert row is not None
        row.date, row.start_at = DAY + timedelta(days=1), at(0, 30, DAY + timedelta(days=1)).astimezone(UTC)
        row.end_at = row.start_at + timedelta(minutes=50)
    assert world.match(DAY + timedelta(days=1)) == {DAY, DAY + timedelta(days=1)}
    [moved] = world.completions()
    assert (moved["date"], moved["planned"], moved["rpe"]) == (DAY + timedelta(days=1), None, 3.0)
