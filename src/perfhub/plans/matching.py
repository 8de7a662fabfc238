"""Wearable workouts → completed sessions, each counted once (issue #14).

The insights stage calls :func:`match_days` for the days a ``data.normalized`` event names with
the ``workout`` signal (a workout landed, changed or was deleted) or the ``training`` signal (the
athlete logged a session), before readiness is recomputed; the days whose load changed are
recomputed with the rest. Every run settles the days it is given from what is stored, so a
re-delivered workout, a replay or a second run changes nothing.

The rules, per athlete and day:

- **One session, one completion.** Workouts of different vendors overlapping in time by more than
  half of the shorter one are the same session (a watch and a strap on one run). The one whose
  vendor ranks first in the athlete's source priority stands for it; one completed session is
  linked to it. Workouts of one vendor are never merged: a vendor does not record one session twice.
- **The athlete's word first.** A session the athlete logged (a planned session completed by hand,
  or an unplanned one of the same sport that day) takes the workout: its ``workout_id`` is filled,
  its RPE and minutes stay the athlete's. A completion the watch made earlier for it goes.
- **Else the plan.** A planned, not-yet-completed, non-rest session that day of the same sport
  (:func:`sport_family`) is completed by the workout; a workout of a sport perfhub cannot name
  matches only a day with a single such session.
- **Else unplanned.** The workout becomes an unplanned completed session.
- **RPE** of a completion the watch made (``rpe_estimated``): WHOOP's strain / 2.1 (at most 10),
  else Oura's intensity (easy 3, moderate 5, hard 7), else the planned session's type
  (:data:`~perfhub.plans.adjust.TYPE_RPE`), else 4. It follows the workout as the vendor updates
  it (a strain scored later), until the athlete says their own.
- **Deleted workouts.** A completion made only from a workout the vendor deleted goes with it (its
  planned session is open again); one the athlete logged or confirmed stays, unlinked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import one_of, utcnow
from perfhub.plans.adjust import TYPE_RPE
from perfhub.plans.models import PlannedSession
from perfhub.readings.mapping import source_rank
from perfhub.readings.models import Workout
from perfhub.readings.queries import source_priority
from perfhub.training.load import session_load
from perfhub.training.models import CompletedSession

__all__ = [
    "DEFAULT_RPE",
    "INTENSITY_RPE",
    "STRAIN_PER_RPE",
    "estimated_rpe",
    "match_days",
    "same_session",
    "sport_family",
]

STRAIN_PER_RPE = 2.1
INTENSITY_RPE: Mapping[str, float] = {"easy": 3.0, "moderate": 5.0, "hard": 7.0}
DEFAULT_RPE = 4.0
MANUAL = "manual"

# Words that name a sport, whatever the vendor or the athlete wrote (Apple's activity types are
# split into words first: HKWorkoutActivityTypeTraditionalStrengthTraining → traditional strength
# training). The first family with a word in the name wins, so "trail running" is a run.
_FAMILIES: tuple[tuple[str, frozenset[str]], ...] = (
    ("run", frozenset({"run", "running", "jog", "jogging", "treadmill"})),
    ("ride", frozenset({"ride", "cycling", "bike", "biking", "spin", "spinning", "handcycling", "cycle"})),
    ("swim", frozenset({"swim", "swimming", "pool"})),
    ("row", frozenset({"row", "rowing", "erg"})),
    (
        "strength",
        frozenset({"strength", "weightlifting", "weights", "powerlifting", "gym", "lifting", "crossfit"}),
    ),
    ("walk", frozenset({"walk", "walking", "hike", "hiking", "rucking"})),
    ("ski", frozenset({"ski", "skiing", "snowboarding"})),
    ("yoga", frozenset({"yoga", "pilates", "stretching", "flexibility"})),
)
_APPLE_PREFIX = "HKWorkoutActivityType"
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORDS = re.compile(r"[a-z]+")


def sport_family(name: str | None) -> str | None:
    """``run``, ``ride``, ``swim``, ``row``, ``strength``, ``walk``, ``ski`` or ``yoga`` for a sport
    named any way the vendors and athletes name it; None when the name says none of them."""
    if not name:
        return None
    text = name.strip()
    if text.startswith(_APPLE_PREFIX):
        text = _CAMEL.sub(" ", text[len(_APPLE_PREFIX) :])
    words = set(_WORDS.findall(text.lower()))
    for family, names in _FAMILIES:
        if words & names:
            return family
    return None


def same_session(a: Workout, b: Workout) -> bool:
    """Two vendors' records of one session: overlapping by more than half of the shorter."""
    if a.vendor == b.vendor:
        return False
    overlap = (min(a.end_at, b.end_at) - max(a.start_at, b.start_at)).total_seconds()
    shorter = min((a.end_at - a.start_at).total_seconds(), (b.end_at - b.start_at).total_seconds())
    return shorter > 0 and overlap > shorter / 2


def estimated_rpe(workouts: Sequence[Workout], planned_type: str | None) -> float:
    """The session RPE the workouts' effort measures stand for (first that has one, in the order
    given), else the planned type's, else :data:`DEFAULT_RPE`."""
    for workout in workouts:
        if workout.strain is not None:
            return round(min(10.0, workout.strain / STRAIN_PER_RPE), 1)
    for workout in workouts:
        if workout.intensity is not None and workout.intensity in INTENSITY_RPE:
            return INTENSITY_RPE[workout.intensity]
    if planned_type is not None and planned_type in TYPE_RPE:
        return TYPE_RPE[planned_type]
    return DEFAULT_RPE


def _made_by_watch(row: CompletedSession) -> bool:
    """A completion the athlete has said nothing about: made from a workout, RPE estimated."""
    return row.source != MANUAL and row.rpe_estimated


@dataclass
class _Day:
    """What one athlete has around the days being settled."""

    workouts: list[Workout]
    completions: list[CompletedSession]
    planned: dict[int, PlannedSession]


def match_days(session: Session, days: Mapping[int, Sequence[date]]) -> dict[int, set[date]]:
    """Settle the workouts and completed sessions of each athlete's ``days``; returns, per athlete,
    the days whose training load changed (for readiness to recompute). Never commits."""
    wanted = {athlete: sorted(set(ds)) for athlete, ds in days.items() if ds}
    if not wanted:
        return {}
    dialect = session.get_bind().dialect.name
    # Locked in id order, as readiness locks them: two insights workers never settle one athlete's
    # days at once (each would make its own completion of one workout).
    users = session.scalars(
        select(User).where(one_of(User.id, wanted, dialect)).order_by(User.id).with_for_update(key_share=True)
    ).all()
    changed: dict[int, set[date]] = {}
    for user in users:
        moved = _settle(session, user, wanted[user.id])
        if moved:
            changed[user.id] = moved
    return changed


def _load(session: Session, athlete_id: int, first: date, last: date) -> _Day:
    workouts = list(
        session.scalars(
            select(Workout)
            .where(Workout.user_id == athlete_id, Workout.date >= first, Workout.date <= last)
            .order_by(Workout.start_at, Workout.id)
        )
    )
    ids = [w.id for w in workouts]
    in_span = (CompletedSession.date >= first) & (CompletedSession.date <= last)
    completions = list(
        session.scalars(
            select(CompletedSession)
            .where(
                CompletedSession.athlete_id == athlete_id,
                or_(in_span, CompletedSession.workout_id.in_(ids)) if ids else in_span,
            )
            .order_by(CompletedSession.id)
        )
    )
    planned = {
        p.id: p
        for p in session.scalars(
            select(PlannedSession).where(
                PlannedSession.athlete_id == athlete_id,
                PlannedSession.date >= first,
                PlannedSession.date <= last,
            )
        )
    }
    for row in completions:
        if row.planned_session_id is not None and row.planned_session_id not in planned:
            outside = session.get(PlannedSession, row.planned_session_id)
            if outside is not None:
                planned[outside.id] = outside
    return _Day(workouts, completions, planned)


def _settle(session: Session, user: User, days: list[date]) -> set[date]:
    # A day either side: two vendors' records of one session can fall on two local days (a run
    # across midnight, two offsets), and a corrected workout can move to the next day.
    world = _load(session, user.id, days[0] - timedelta(days=1), days[-1] + timedelta(days=1))
    before = {row.id: (row.date, row.load) for row in world.completions}
    changed: set[date] = set()
    # Made from a workout since deleted (the link went with it): nothing is left to stand for it.
    for row in list(world.completions):
        if _made_by_watch(row) and row.workout_id is None:
            _remove(session, world, row, changed)
    priority = source_priority(user)
    for cluster in _clusters(world.workouts):
        ordered = sorted(cluster, key=lambda w: (source_rank(priority, w.vendor), w.start_at, w.id))
        _link(session, world, ordered, changed)
    session.flush()
    for row in world.completions:
        was = before.get(row.id)
        if was is None:
            changed.add(row.date)
        elif was != (row.date, row.load):
            changed |= {was[0], row.date}
    return changed


def _clusters(workouts: list[Workout]) -> list[list[Workout]]:
    parent = list(range(len(workouts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(workouts):
        for j in range(i + 1, len(workouts)):
            b = workouts[j]
            if b.start_at >= a.end_at:
                break  # sorted by start: nothing later overlaps a
            if same_session(a, b):
                parent[root(j)] = root(i)
    groups: dict[int, list[Workout]] = {}
    for i, workout in enumerate(workouts):
        groups.setdefault(root(i), []).append(workout)
    return list(groups.values())


def _remove(session: Session, world: _Day, row: CompletedSession, changed: set[date]) -> None:
    changed.add(row.date)
    world.completions.remove(row)
    session.delete(row)
    session.flush()


def _link(session: Session, world: _Day, cluster: list[Workout], changed: set[date]) -> None:
    """Give the session ``cluster`` stands for (best source first) exactly one completion."""
    lead = cluster[0]
    ids = {w.id for w in cluster}
    linked = [row for row in world.completions if row.workout_id in ids]
    athletes = [row for row in linked if not _made_by_watch(row)]
    watch = [row for row in linked if _made_by_watch(row)]
    for row in watch:
        plan = world.planned.get(row.planned_session_id) if row.planned_session_id is not None else None
        if plan is not None and plan.date != lead.date:
            row.planned_session_id = None  # the vendor moved the workout off the planned day
    target: CompletedSession | None = None
    if athletes:
        target = athletes[0]
    else:
        target = _logged_by_athlete(world, lead)
        if target is None and watch:
            target = watch[0]
            if target.planned_session_id is None:
                plan = _open_plan(world, lead)
                target.planned_session_id = plan.id if plan is not None else None
    for row in linked:
        if row is target:
            continue
        if _made_by_watch(row):
            _remove(session, world, row, changed)
        else:
            row.workout_id = None  # a second entry of the athlete's for one session: kept, unlinked
    session.flush()  # the unique workout link is free before it is given again
    if target is None:
        plan = _open_plan(world, lead)
        target = CompletedSession(
            athlete_id=lead.user_id,
            planned_session_id=plan.id if plan is not None else None,
            rpe_estimated=True,
            source=lead.vendor[:16],
            entered_by_id=None,
        )
        session.add(target)
        world.completions.append(target)
    target.workout_id = lead.id
    if _made_by_watch(target):
        _follow(target, cluster, world)
    session.flush()


def _follow(row: CompletedSession, cluster: list[Workout], world: _Day) -> None:
    """A watch-made completion is what its workouts say, with the RPE they stand for."""
    lead = cluster[0]
    plan = world.planned.get(row.planned_session_id) if row.planned_session_id is not None else None
    sport = plan.sport if plan is not None else (sport_family(lead.sport) or lead.sport)
    rpe = estimated_rpe(cluster, plan.type if plan is not None else None)
    minutes = round(lead.duration_min, 1)
    values = (lead.date, sport[:60], minutes, rpe, session_load(rpe, minutes), lead.vendor[:16])
    if values != (row.date, row.sport, row.duration_min, row.rpe, row.load, row.source):
        row.date, row.sport, row.duration_min, row.rpe, row.load, row.source = values
        row.updated_at = utcnow()


def _compatible(workout: Workout, sport: str, single: bool) -> bool:
    """Whether a session of ``sport`` can be the workout; ``single``: the only candidate that day."""
    family, theirs = sport_family(workout.sport), sport_family(sport)
    if family is not None and theirs is not None:
        return family == theirs
    return single or workout.sport.strip().lower() == sport.strip().lower()


def _candidates(world: _Day, day: date) -> list[PlannedSession]:
    return sorted(
        (p for p in world.planned.values() if p.date == day and p.type != "rest"),
        key=lambda p: p.id,
    )


def _closest(workout: Workout, sessions: list[PlannedSession]) -> PlannedSession | None:
    return min(sessions, key=lambda p: (abs(p.duration_min - workout.duration_min), p.id), default=None)


def _open_plan(world: _Day, workout: Workout) -> PlannedSession | None:
    """The planned session of the workout's day it completes, when none has completed it yet."""
    day = _candidates(world, workout.date)
    done = {row.planned_session_id for row in world.completions if row.planned_session_id is not None}
    fitting = [p for p in day if p.id not in done and _compatible(workout, p.sport, len(day) == 1)]
    return _closest(workout, fitting)


def _logged_by_athlete(world: _Day, workout: Workout) -> CompletedSession | None:
    """A session the athlete logged on the workout's day that no workout stands for yet: a planned
    session they completed by hand, else an unplanned one of the same sport."""
    day = _candidates(world, workout.date)
    free = [
        row
        for row in world.completions
        if row.date == workout.date and row.workout_id is None and not _made_by_watch(row)
    ]
    planned_done = {row.planned_session_id: row for row in free if row.planned_session_id is not None}
    fitting = [p for p in day if p.id in planned_done and _compatible(workout, p.sport, len(day) == 1)]
    plan = _closest(workout, fitting)
    if plan is not None:
        return planned_done[plan.id]
    unplanned = [row for row in free if row.planned_session_id is None]
    matching = [row for row in unplanned if _compatible(workout, row.sport, len(unplanned) == 1)]
    return min(matching, key=lambda row: (abs(row.duration_min - workout.duration_min), row.id), default=None)
