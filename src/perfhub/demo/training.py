"""The demo's training plans and what was done of them: pure and deterministic, like the nights.

Every athlete gets a sport that fits them (runners from East Africa, skiers from the Nordics,
the rest running, cycling, rowing, swimming or triathlon) and the same weekly rhythm the nights
were generated with (:mod:`perfhub.demo.synthetic`): Monday rest, Tuesday and Thursday hard,
Wednesday and Friday easy, a long moderate session on Saturday and a steady one on Sunday.

What was done follows the training the nights were made with, so a missed session shows in the
HRV of the morning after: a skipped day or an illness is a missed session, a heavy block is a
session done harder than planned (and a rest day trained through), backing off after an episode
is a session cut short. On the usual days most sessions are done as planned, a few harder.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from perfhub.demo.profiles import AthleteProfile, check_seed
from perfhub.demo.synthetic import TrainingDay
from perfhub.plans.adjust import TYPE_RPE

__all__ = [
    "AHEAD_DAYS",
    "BACK_DAYS",
    "DemoCompletion",
    "DemoPlan",
    "DemoSession",
    "DemoUnplanned",
    "demo_plan",
    "sport_of",
]

BACK_DAYS = 28  # four weeks of plan before today, done or missed
AHEAD_DAYS = 14  # today and the 13 days after it

# Monday … Sunday: (type, which of the sport's sessions).
WEEK: tuple[tuple[str, str], ...] = (
    ("rest", "rest"),
    ("hard", "intervals"),
    ("easy", "easy"),
    ("hard", "threshold"),
    ("easy", "short"),
    ("moderate", "long"),
    ("moderate", "steady"),
)

# Per sport, each kind of session: (sport, title, minutes). Triathletes change sport by the day.
_SESSIONS: Mapping[str, Mapping[str, tuple[str, str, int]]] = {
    "running": {
        "intervals": ("running", "Intervals 6 × 800 m", 60),
        "easy": ("running", "Easy run", 45),
        "threshold": ("running", "Tempo 3 × 10 min", 55),
        "short": ("running", "Recovery jog", 30),
        "long": ("running", "Long run", 95),
        "steady": ("running", "Steady run", 50),
    },
    "cycling": {
        "intervals": ("cycling", "VO2max 5 × 4 min", 75),
        "easy": ("cycling", "Endurance ride", 60),
        "threshold": ("cycling", "Sweet spot 2 × 20 min", 80),
        "short": ("cycling", "Recovery spin", 45),
        "long": ("cycling", "Long ride", 180),
        "steady": ("cycling", "Tempo ride", 90),
    },
    "rowing": {
        "intervals": ("rowing", "8 × 500 m on the erg", 60),
        "easy": ("rowing", "Steady state UT2", 50),
        "threshold": ("rowing", "3 × 12 min at threshold", 60),
        "short": ("rowing", "Technique paddle", 40),
        "long": ("rowing", "Long row UT1", 90),
        "steady": ("rowing", "Steady row", 60),
    },
    "swimming": {
        "intervals": ("swimming", "10 × 100 m fast", 60),
        "easy": ("swimming", "Easy aerobic swim", 40),
        "threshold": ("swimming", "CSS 4 × 400 m", 55),
        "short": ("swimming", "Drills and kick", 35),
        "long": ("swimming", "Long swim", 75),
        "steady": ("swimming", "Pull set", 50),
    },
    "cross-country skiing": {
        "intervals": ("cross-country skiing", "Uphill intervals 5 × 5 min", 70),
        "easy": ("cross-country skiing", "Easy classic ski", 60),
        "threshold": ("cross-country skiing", "Skate threshold 4 × 8 min", 65),
        "short": ("cross-country skiing", "Technique session", 45),
        "long": ("cross-country skiing", "Long distance ski", 150),
        "steady": ("cross-country skiing", "Steady skate", 75),
    },
    "triathlon": {
        "intervals": ("swimming", "Swim 10 × 100 m fast", 60),
        "easy": ("running", "Easy run", 45),
        "threshold": ("cycling", "Bike 2 × 20 min at threshold", 75),
        "short": ("swimming", "Easy swim", 40),
        "long": ("cycling", "Long ride", 150),
        "steady": ("running", "Brick run off the bike", 50),
    },
}
_MIXED = ("running", "cycling", "rowing", "swimming", "triathlon")

# The intensity target each sport plans by, per session type: pace (s/km) for runs, %FTP for
# rides, zones for rowing and skiing, RPE in the pool.
_TARGETS: Mapping[str, tuple[str, Mapping[str, float]]] = {
    "running": ("pace", {"easy": 340, "moderate": 300, "hard": 245}),
    "cycling": ("ftp", {"easy": 62, "moderate": 78, "hard": 98}),
    "rowing": ("zone", {"easy": 2, "moderate": 3, "hard": 4}),
    "cross-country skiing": ("zone", {"easy": 2, "moderate": 3, "hard": 5}),
    "swimming": ("rpe", {"easy": 3, "moderate": 5, "hard": 8}),
}


@dataclass(frozen=True)
class DemoCompletion:
    duration_min: float
    rpe: float


@dataclass(frozen=True)
class DemoSession:
    date: date
    sport: str
    title: str
    type: str
    duration_min: int
    intensity: dict[str, Any] | None
    planned_load: float | None
    done: DemoCompletion | None = None


@dataclass(frozen=True)
class DemoUnplanned:
    """A session logged without a plan (a rest day trained through)."""

    date: date
    sport: str
    duration_min: float
    rpe: float


@dataclass(frozen=True)
class DemoPlan:
    sessions: list[DemoSession]
    unplanned: list[DemoUnplanned]


def sport_of(profile: AthleteProfile) -> str:
    """The athlete's sport: fixed by where they live and who they are, never by chance."""
    if profile.tz.startswith("Africa/"):
        return "running"
    if profile.tz in ("Europe/Oslo", "Europe/Stockholm", "Europe/Helsinki"):
        return "cross-country skiing"
    return _MIXED[zlib.crc32(profile.email_local.encode()) % len(_MIXED)]


def _intensity(sport: str, kind: str) -> dict[str, Any] | None:
    if kind == "rest" or sport not in _TARGETS:
        return None
    target, values = _TARGETS[sport]
    return {"kind": target, "value": values[kind]}


def _planned(sport: str, day: date) -> DemoSession:
    kind, slot = WEEK[day.weekday()]
    if kind == "rest":
        return DemoSession(day, _SESSIONS[sport]["easy"][0], "Rest day", "rest", 0, None, 0.0)
    session_sport, title, minutes = _SESSIONS[sport][slot]
    return DemoSession(
        day,
        session_sport,
        title,
        kind,
        minutes,
        _intensity(session_sport, kind),
        round(TYPE_RPE[kind] * minutes, 1),
    )


def demo_plan(profile: AthleteProfile, today: date, training: Iterable[TrainingDay], seed: int) -> DemoPlan:
    """The athlete's sessions from four weeks before ``today`` to two weeks ahead, those before
    ``today`` with what was done of them (``training``: the days the nights were made with; a
    day it does not cover was a usual one)."""
    rng = np.random.default_rng([check_seed(seed), zlib.crc32(profile.email_local.encode()), 14])
    sport = sport_of(profile)
    done_on = {day.date: day for day in training}
    sessions: list[DemoSession] = []
    unplanned: list[DemoUnplanned] = []
    for offset in range(-BACK_DAYS, AHEAD_DAYS):
        day = today + timedelta(days=offset)
        session = _planned(sport, day)
        # Drawn for every day, used or not: a day's draws never depend on another day's outcome.
        draws = rng.random(4)
        if offset >= 0:
            sessions.append(session)
            continue
        trained = done_on.get(day, TrainingDay(day, 0.0, "usual"))
        if session.type == "rest":
            if trained.kind == "block":
                minutes = float(40 + round(30 * draws[0]))
                unplanned.append(DemoUnplanned(day, session.sport, minutes, float(4 + round(2 * draws[1]))))
            sessions.append(session)
            continue
        sessions.append(_with_done(session, trained.kind, draws))
    return DemoPlan(sessions, unplanned)


def _with_done(session: DemoSession, kind: str, draws: np.ndarray[Any, Any]) -> DemoSession:
    base = TYPE_RPE[session.type]
    planned = session.duration_min
    if kind in ("skipped", "ill"):
        return session
    if kind == "easing":
        # Backing off: cut well short, easier than planned.
        minutes, rpe = planned * (0.5 + 0.2 * draws[0]), base - 1
    elif kind == "block" or draws[2] < 0.08:
        # Harder than planned: longer, and above what the type allows.
        minutes, rpe = planned * (1.0 + 0.3 * draws[0]), base + 2 + round(draws[1])
    else:
        # As planned: within a few minutes, RPE at the type's or a point either side.
        minutes = planned * (0.9 + 0.2 * draws[0])
        rpe = base + (-1 if draws[1] < 0.25 else 1 if draws[1] > 0.75 else 0)
    done = DemoCompletion(float(max(5, round(minutes))), float(min(10.0, max(1.0, rpe))))
    return replace(session, done=done)
