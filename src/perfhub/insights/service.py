"""Weekly insights stored: read a week's inputs, compute it (:mod:`perfhub.insights.weekly`) and
keep it as history, rewritten only when what it was computed from changed (docs/weekly.md).

A week is due once its athlete's own clock reaches :data:`DUE_AT` on the Monday after it: the
summary is made then, by the first read that asks for it (the reader's default week is the last
due one), and remade whenever late data changes a due or stored week
(:func:`refresh_changed_days`, run when readiness is updated).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.core.db import one_of, session_scope, utcnow
from perfhub.core.metrics import WEEKLY_INSIGHTS_WRITTEN
from perfhub.core.upsert import upsert
from perfhub.insights.models import WeeklyInsight
from perfhub.insights.sentences import choose_sentences
from perfhub.insights.weekly import (
    Day,
    WeekInputs,
    inputs_digest,
    iso_week,
    previous_weeks,
    summarise,
)
from perfhub.plans.adherence import Tally, figures
from perfhub.plans.adherence_routes import read_facts
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.training.models import CompletedSession

__all__ = [
    "DUE_AT",
    "NEW_WEEKS_BACK",
    "due",
    "last_due_week",
    "make_due_weeks",
    "read_inputs",
    "refresh_changed_days",
    "refresh_week",
    "stored",
]

# Monday morning: late enough that Sunday night's sleep and Monday's readiness are in.
DUE_AT = time(6, 0)
# Late data reaching back further than this (a history import) remakes the weeks already stored
# but makes no new ones: the consumer's transaction stays short, and a read still makes any week.
NEW_WEEKS_BACK = 8


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def due(tz: str, monday: date, now: datetime | None = None) -> bool:
    """Whether the week of ``monday`` is over and summarised in the athlete's zone ``tz``: their
    clock has reached :data:`DUE_AT` on the Monday after it."""
    at = datetime.combine(monday + timedelta(weeks=1), DUE_AT, tzinfo=ZoneInfo(tz))
    return (now or datetime.now(UTC)) >= at


def last_due_week(tz: str, now: datetime | None = None) -> date:
    """The Monday of the latest week that is due in zone ``tz``."""
    moment = (now or datetime.now(UTC)).astimezone(ZoneInfo(tz))
    this_monday = _monday(moment.date())
    return this_monday - timedelta(weeks=1 if moment.time() >= DUE_AT else 2)


def read_inputs(session: Session, user: User, monday: date) -> WeekInputs:
    """What the week of ``monday`` is computed from: the current algorithm's snapshots of the
    week and the one before, the training load of the five weeks to its end, and adherence to
    the sessions planned in it. Five statements."""
    sunday = monday + timedelta(days=6)
    rows = session.execute(
        select(
            ReadinessSnapshotRow.date,
            ReadinessSnapshotRow.score,
            ReadinessSnapshotRow.band,
            ReadinessSnapshotRow.flags,
            ReadinessSnapshotRow.baselines,
        ).where(
            ReadinessSnapshotRow.user_id == user.id,
            ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
            ReadinessSnapshotRow.date >= monday - timedelta(weeks=1),
            ReadinessSnapshotRow.date <= sunday,
        )
    ).all()
    days = [
        Day(day, score, band, tuple(flags or ()), dict(baselines or {}))
        for day, score, band, flags, baselines in rows
    ]
    first = previous_weeks(monday)[-1]
    loads = {
        day: float(load or 0.0)
        for day, load in session.execute(
            select(CompletedSession.date, func.sum(CompletedSession.load))
            .where(
                CompletedSession.athlete_id == user.id,
                CompletedSession.date >= first,
                CompletedSession.date <= sunday,
            )
            .group_by(CompletedSession.date)
        )
    }
    since = session.scalar(
        select(func.min(CompletedSession.date)).where(CompletedSession.athlete_id == user.id)
    )
    facts, logged = read_facts(session, [user.id], monday, sunday)
    # Every session of a due week is over: the athlete's "today" is past its Sunday.
    _, per_athlete = figures(facts, logged, {user.id: sunday + timedelta(days=1)}, monday, sunday)
    overall = per_athlete[user.id].total.overall
    return WeekInputs(monday, days, loads, since, Tally(overall.planned, overall.kept))


def refresh_week(
    session: Session, user: User, monday: date, now: datetime | None = None, *, trigger: str = "read"
) -> WeeklyInsight:
    """Compute the week of ``monday`` and store it; a stored week whose inputs have not changed
    is left as it is (and its ``computed_at`` with it)."""
    week = iso_week(monday)
    inputs = read_inputs(session, user, monday)
    digest = inputs_digest(inputs)
    current = stored(session, user.id, week)
    if current is not None and current.inputs_hash == digest:
        return current
    figures_ = summarise(inputs)
    row = {
        "user_id": user.id,
        "week": week,
        "figures": figures_,
        "sentences": [sentence.out() for sentence in choose_sentences(figures_)],
        "inputs_hash": digest,
        "computed_at": now or utcnow(),
    }
    # An upsert, not an insert: two first reads of a due week may race to make it.
    upsert(session, cast(Table, WeeklyInsight.__table__), [row], ("user_id", "week"))
    WEEKLY_INSIGHTS_WRITTEN.labels(trigger).inc()
    if current is not None:
        session.expire(current)
    made = stored(session, user.id, week)
    assert made is not None
    return made


def stored(session: Session, user_id: int, week: str) -> WeeklyInsight | None:
    return session.scalar(
        select(WeeklyInsight).where(WeeklyInsight.user_id == user_id, WeeklyInsight.week == week)
    )


def stored_weeks(session: Session, user_ids: Collection[int], week: str) -> dict[int, WeeklyInsight]:
    """The stored summaries of ``week`` of ``user_ids``, in one statement."""
    if not user_ids:
        return {}
    dialect = session.get_bind().dialect.name
    rows = session.scalars(
        select(WeeklyInsight).where(
            one_of(WeeklyInsight.user_id, list(user_ids), dialect), WeeklyInsight.week == week
        )
    )
    return {row.user_id: row for row in rows}


def refresh_changed_days(
    session: Session, days: Mapping[int, Iterable[date]], now: datetime | None = None
) -> int:
    """Remake the weeks that ``days`` (per athlete: the days whose readiness changed) fall in, and
    the week after each (it compares its readiness with theirs) — those already stored or already
    due, never a week still under way. Returns how many weeks were looked at (each is rewritten
    only if its inputs changed)."""
    weeks = {
        user_id: {_monday(day) + timedelta(weeks=k) for day in changed for k in (0, 1)}
        for user_id, changed in days.items()
    }
    weeks = {user_id: mondays for user_id, mondays in weeks.items() if mondays}
    if not weeks:
        return 0
    dialect = session.get_bind().dialect.name
    users = {u.id: u for u in session.scalars(select(User).where(one_of(User.id, list(weeks), dialect)))}
    have = (
        {
            (user_id, week)
            for user_id, week in session.execute(
                select(WeeklyInsight.user_id, WeeklyInsight.week).where(
                    one_of(WeeklyInsight.user_id, list(users), dialect)
                )
            )
        }
        if users
        else set()
    )
    looked = 0
    for user_id, mondays in sorted(weeks.items()):
        user = users.get(user_id)
        if user is None:
            continue
        for monday in sorted(mondays):
            recent = monday >= last_due_week(user.tz, now) - timedelta(weeks=NEW_WEEKS_BACK - 1)
            if (user_id, iso_week(monday)) in have or (recent and due(user.tz, monday, now)):
                refresh_week(session, user, monday, now, trigger="late_data")
                looked += 1
    return looked


# How far back the sweep looks for athletes with data: the week that is due and the day after it.
_SWEEP_DAYS = 15


def make_due_weeks(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    """Make last week's summary for every athlete whose week has become due and who has a
    readiness snapshot in it or after it, if it is not stored yet — what turns "the first read
    after Monday 06:00" into "Monday 06:00" (docs/weekly.md#when). One transaction per athlete,
    so that a sweep over a large population never holds a long one. Returns how many it made."""
    moment = now or datetime.now(UTC)
    with sessions() as session:
        since = moment.date() - timedelta(days=_SWEEP_DAYS)
        recent = select(ReadinessSnapshotRow.user_id).where(ReadinessSnapshotRow.date >= since).distinct()
        people = session.execute(select(User.id, User.tz).where(User.id.in_(recent))).all()
        wanted = {user_id: last_due_week(tz, moment) for user_id, tz in people}
        labels = {iso_week(monday) for monday in wanted.values()}
        have: set[tuple[int, str]] = set()
        if labels:
            rows = session.execute(
                select(WeeklyInsight.user_id, WeeklyInsight.week).where(WeeklyInsight.week.in_(labels))
            )
            have = {(user_id, week) for user_id, week in rows}
    made = 0
    for user_id, monday in sorted(wanted.items()):
        if (user_id, iso_week(monday)) in have:
            continue
        with session_scope(sessions) as session:
            user = session.get(User, user_id)
            if user is not None:
                refresh_week(session, user, monday, moment, trigger="sweep")
                made += 1
    return made
