"""Incremental recomputes (docs/readiness.md#incremental-recompute): after new data, readiness
reads only the window of history the recomputed days can depend on. What it stores must be
exactly what a recompute over the whole history stores — this is the guard of "served scores
identical to the batch path".

Athletes with 470 nights of messy history (gaps, a 70-day break, two rMSSD vendors and an SDNN
one, device switches, sick nights, short nights, training load that stops and restarts) are
kept up to date the way the pipeline keeps them: one night at a time, a late night, a corrected
night 100 days back, a backfilled one 300 days back, and today's snapshot materialised for an
athlete who stopped long ago. Twins with the same readings, recomputed once from scratch at the
end, must have byte-identical rows. Real SQLite and PostgreSQL, the clock frozen.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import numpy as np
import pytest
import time_machine
from sqlalchemy import Table, Text, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.core.upsert import insert_rows, upsert
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.engine.rules import MEMORY_DAYS
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.queries import WindowedSeries, load_athletes, read_from
from perfhub.readiness.service import AthleteUpdate, ensure_today, recompute, refresh
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.training.models import CompletedSession

pytestmark = pytest.mark.backends("sqlite", "postgres")

TZ = "Europe/Oslo"
# Noon UTC: the athletes' local today is the UTC date all day long in Oslo.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HISTORY = 470  # nights before the clock starts; night HISTORY is NOW's date
NEW_NIGHTS = 8
FIRST = NOW.date() - timedelta(days=HISTORY)
LAST = HISTORY + NEW_NIGHTS - 1  # the index of the newest night
CORRECTED = LAST - 100  # a night corrected long after it arrived
BACKFILLED = LAST - 300  # a night of the long break, sent late by a bridge
STOPPED = 170  # the retired athlete's last night
JOINED = HISTORY - 20  # the new athlete's first night
FOUND_SHOWN = 80  # differences listed when the test fails


def day(index: int) -> date:
    return FIRST + timedelta(days=index)


def noon(index: int) -> datetime:
    return datetime.combine(day(index), NOW.timetz())


# ------------------------------------------------------------------------------------------------
# A messy history
# ------------------------------------------------------------------------------------------------


@dataclass
class Nights:
    """One athlete's readings by night index, without the athlete: rows for the canonical tables."""

    hrv: dict[int, list[dict[str, Any]]]
    sleep: dict[int, list[dict[str, Any]]]
    load: dict[int, float]

    def rows(self, user_id: int, nights: range | list[int]) -> tuple[list[dict[str, Any]], ...]:
        wanted = set(nights)
        captured = NOW - timedelta(days=1)
        hrv = [
            {"user_id": user_id, "date": day(i), "captured_at": captured, **row}
            for i in sorted(self.hrv)
            if i in wanted
            for row in self.hrv[i]
        ]
        sleep = [
            {"user_id": user_id, "date": day(i), "captured_at": captured, **row}
            for i in sorted(self.sleep)
            if i in wanted
            for row in self.sleep[i]
        ]
        sessions = [
            {
                "athlete_id": user_id,
                "date": day(i),
                "sport": "run",
                "duration_min": load / 6.0,
                "rpe": 6.0,
                "load": load,
                "source": "manual",
            }
            for i, load in sorted(self.load.items())
            if i in wanted
        ]
        return hrv, sleep, sessions


def _vendors(i: int) -> list[str]:
    """Who measured night ``i``: whoop, then a 70-day break, a switch to oura (overlapping), an
    SDNN-only stretch while the ring was away, oura again, whoop while it was broken, oura."""
    if 120 <= i < 132 or 150 <= i < 220:
        return []
    vendors = []
    if i < 240 or 395 <= i < 425:
        vendors.append("whoop")
    if 220 <= i < 260 or 300 <= i < 395 or i >= 425:
        vendors.append("oura")
    if 260 <= i < 320:
        vendors.append("apple")
    return vendors


SCALE = {"whoop": 70.0, "oura": 55.0, "apple": 45.0}  # each device reads its own level
RHR_OFFSET = {"whoop": 2.0, "oura": 0.0, "apple": 3.0}


def messy(seed: int, nights: int = LAST + 1) -> Nights:
    rng = np.random.default_rng(seed)
    hrv: dict[int, list[dict[str, Any]]] = {}
    sleep: dict[int, list[dict[str, Any]]] = {}
    load: dict[int, float] = {}
    for i in range(nights):
        sick = 440 <= i < 444
        short = 455 <= i < 466
        for vendor in _vendors(i):
            if rng.random() < 0.1:
                continue  # the device missed the night
            level = SCALE[vendor] * math.exp(rng.normal(0, 0.06)) * (0.7 if sick else 1.0)
            rhr = 50.0 + RHR_OFFSET[vendor] + rng.normal(0, 1.0) + (7.0 if sick else 0.0)
            hrv.setdefault(i, []).append(
                {
                    "vendor": vendor,
                    "rmssd_ms": None if vendor == "apple" else round(level, 1),
                    "ln_rmssd": None if vendor == "apple" else math.log(round(level, 1)),
                    "sdnn_ms": round(level, 1) if vendor == "apple" else None,
                    "resting_hr": None if rng.random() < 0.05 else round(rhr, 1),
                }
            )
        # Sleep from the devices worn, and a few nights of the break from a ring without HRV.
        sleepers = _vendors(i) or (["oura"] if 160 <= i < 176 else [])
        for vendor in sleepers:
            if rng.random() < 0.08:
                continue
            minutes = 330.0 + rng.normal(0, 10) if short else 455.0 + rng.normal(0, 30)
            sleep.setdefault(i, []).append(
                {
                    "vendor": vendor,
                    "duration_min": round(minutes, 1),
                    "efficiency_pct": None if rng.random() < 0.1 else round(float(rng.uniform(80, 96)), 1),
                    "latency_min": round(float(rng.uniform(3, 35)), 1),
                    "wake_count": int(rng.integers(0, 5)),
                }
            )
        # Training logged for months, a pause of three, then again with a spike.
        if (230 <= i < 330 or i >= 420) and i % 7 not in (2, 5):
            load[i] = round(float(rng.uniform(250, 550)) * (2.2 if 460 <= i < 467 else 1.0), 1)
    return Nights(hrv, sleep, load)


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(noon(HISTORY - 1), tick=False) as traveller:
        yield traveller


def athlete(session: Session, name: str, sleep_need_min: int | None) -> User:
    user, _ = create_user(session, f"{name}-{uuid.uuid4().hex[:6]}@example.org", "athlete", tz=TZ)
    user.sleep_need_min = sleep_need_min
    session.flush()
    return user


def write(session: Session, user_id: int, nights: Nights, which: range | list[int]) -> None:
    hrv, sleep, sessions_ = nights.rows(user_id, which)
    insert_rows(session, cast(Table, HrvDaily.__table__), hrv)
    insert_rows(session, cast(Table, SleepDaily.__table__), sleep)
    insert_rows(session, cast(Table, CompletedSession.__table__), sessions_)


STORED = ("algorithm_version", "score", "band", "status", "reason", "stale", "inputs_hash")
STORED_JSON = ("drivers", "components", "flags", "baselines")


def stored(session: Session, user_id: int) -> dict[date, dict[str, Any]]:
    """Every stored column of the athlete's snapshots but the row's own identity and time; the
    JSON both parsed and as the database's text."""
    row = ReadinessSnapshotRow
    columns = [getattr(row, name) for name in (*STORED, *STORED_JSON)]
    texts = [sql_cast(getattr(row, name), Text).label(f"{name}_text") for name in STORED_JSON]
    found = session.execute(select(row.date, *columns, *texts).where(row.user_id == user_id))
    names = (*STORED, *STORED_JSON, *(f"{name} (text)" for name in STORED_JSON))
    return {values[0]: dict(zip(names, values[1:], strict=True)) for values in found}


def differences(path: str, incremental: Any, whole: Any) -> list[str]:
    """Where two stored values differ, to the innermost field, floats in full."""
    if isinstance(incremental, dict) and isinstance(whole, dict):
        keys = sorted(set(incremental) | set(whole))
        return [d for k in keys for d in differences(f"{path}.{k}", incremental.get(k), whole.get(k))]
    if isinstance(incremental, list) and isinstance(whole, list) and len(incremental) == len(whole):
        return [
            d
            for k, pair in enumerate(zip(incremental, whole, strict=True))
            for d in differences(f"{path}[{k}]", *pair)
        ]
    return (
        []
        if incremental == whole and type(incremental) is type(whole)
        else [f"{path}: {incremental!r} != {whole!r}"]
    )


def debt_of(update: AthleteUpdate) -> tuple[Any, ...]:
    return update.latest_night, update.latest_debt_hours, update.latest_debt_category


def full_history_differences(session: Session, users: list[User], windowed: list[AthleteUpdate]) -> list[str]:
    """What a recompute over the whole history would write, and where the newest sleep debt the
    windowed recomputes reported differs from the one it reports."""
    full = {update.user_id: update for update in recompute(session, users, announce=False)}
    found = [
        f"athlete {user.id}: the whole history rewrites {full[user.id].changed}"
        for user in users
        if full[user.id].changed
    ]
    found += [
        f"athlete {update.user_id}: newest sleep debt {debt_of(update)} != {debt_of(full[update.user_id])}"
        for update in windowed
        if debt_of(update) != debt_of(full[update.user_id])
    ]
    return found


def corrected(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The night's readings as a vendor re-sends them after reprocessing: HRV far lower."""
    if not rows:
        rows = [{"vendor": "oura", "rmssd_ms": 55.0, "sdnn_ms": None, "resting_hr": 51.0}]
    out = []
    for row in rows:
        rmssd = None if row["rmssd_ms"] is None else round(row["rmssd_ms"] * 0.6, 1)
        out.append(row | {"rmssd_ms": rmssd, "ln_rmssd": rmssd and math.log(rmssd)})
    return out


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------


def test_a_windowed_load_reads_only_the_window_and_knows_the_first_day(
    sessions: sessionmaker[Session], clock: time_machine.Traveller
) -> None:
    nights = messy(seed=3)
    since = day(HISTORY - 1)  # today
    with session_scope(sessions) as session:
        windowed, whole, empty = (athlete(session, name, 450) for name in ("windowed", "whole", "empty"))
        for user in (windowed, whole):
            write(session, user.id, nights, range(HISTORY))
        loaded = load_athletes(session, [windowed, whole, empty], {windowed.id: since, empty.id: since})
    first = min(*nights.hrv, *nights.sleep)
    assert read_from(since) == since - timedelta(days=MEMORY_DAYS)
    cut, full, nothing = loaded
    assert isinstance(cut, WindowedSeries) and not isinstance(full, WindowedSeries)
    assert cut.first_day() == full.first_day() == day(first) < read_from(since)
    for signal in ("hrv", "sleep"):
        days = getattr(cut, signal)["day"]
        assert days.min() >= read_from(since).toordinal()
        # Everything from the window on is there, nothing before it.
        everything = getattr(full, signal)["day"]
        assert days.tolist() == everything[everything >= read_from(since).toordinal()].tolist()
    assert (
        cut.load
        and min(cut.load) >= read_from(since)
        and cut.load == {d: v for d, v in full.load.items() if d >= read_from(since)}
    )
    assert min(full.load) < read_from(since)
    assert cut.sleep_need_min == 450.0 and cut.since == since
    assert isinstance(nothing, WindowedSeries) and nothing.first_day() is None and nothing.last_day() is None


def test_incremental_recomputes_store_exactly_what_a_whole_history_recompute_stores(
    sessions: sessionmaker[Session], clock: time_machine.Traveller
) -> None:
    set_need, estimated, retired = messy(seed=1), messy(seed=2), messy(seed=5, nights=STOPPED + 1)
    # A new athlete, who logged training for ten days before the first night.
    newcomer = messy(seed=7)
    logged_before = Nights({}, {}, {i: 300.0 for i in range(JOINED - 10, JOINED)})
    # The athletes kept up to date incrementally, with their history up to yesterday.
    with session_scope(sessions) as session:
        one = athlete(session, "set-need", 450)
        two = athlete(session, "estimated-need", None)
        gone = athlete(session, "retired", None)
        young = athlete(session, "new", 480)
        write(session, one.id, set_need, range(HISTORY))
        write(session, two.id, estimated, [i for i in range(HISTORY) if i != BACKFILLED])
        write(session, gone.id, retired, range(STOPPED + 1))
        write(session, young.id, newcomer, range(JOINED, HISTORY))
        write(session, young.id, logged_before, range(JOINED - 10, JOINED))
        recompute(session, [one, two, gone, young], announce=False)
        ids = (one.id, two.id, gone.id, young.id)

    def athletes(session: Session) -> list[User]:
        return list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))

    found: list[str] = []  # reported all at once: which fields of which days differ
    late = HISTORY + 3  # the first athlete's night that arrives a day late, with the next one
    for night in range(HISTORY, LAST + 1):
        clock.move_to(noon(night))
        with session_scope(sessions) as session:
            one, two, gone, young = athletes(session)
            arriving = {late: [], late + 1: [late, late + 1]}.get(night, [night])
            write(session, one.id, set_need, arriving)
            write(session, two.id, estimated, [night])
            write(session, young.id, newcomer, [night])
            since = {two.id: day(night), young.id: day(night)} | (
                {one.id: day(arriving[0])} if arriving else {}
            )
            updates = refresh(session, since)
            assert day(night) in next(u for u in updates if u.user_id == two.id).changed
            if not arriving:
                # Nothing new: opening the today page makes the day's snapshot.
                assert ensure_today(session, one) == day(night)
            # The athlete who stopped long ago opens the today page.
            assert ensure_today(session, gone) == day(night)
            found += full_history_differences(
                session, [one, two, gone, young], [u for u in updates if u.user_id != gone.id]
            )

    with session_scope(sessions) as session:
        one, two, gone, young = athletes(session)
        # A night corrected 100 days back for one athlete and one backfilled 300 days back (in the
        # long break) for the other, in one batch: windows of different starts, the earlier one
        # reaching back to the first day.
        set_need.hrv[CORRECTED] = corrected(set_need.hrv.get(CORRECTED))
        hrv_rows = Nights(set_need.hrv, {}, {}).rows(one.id, [CORRECTED])[0]
        upsert(session, cast(Table, HrvDaily.__table__), hrv_rows, ("user_id", "date", "vendor"))
        estimated.hrv[BACKFILLED] = corrected(None)
        write(session, two.id, Nights({BACKFILLED: estimated.hrv[BACKFILLED]}, {}, {}), [BACKFILLED])
        updates = refresh(session, {one.id: day(CORRECTED), two.id: day(BACKFILLED)})
        by_user = {update.user_id: update for update in updates}
        assert day(CORRECTED) in by_user[one.id].changed and day(CORRECTED) in by_user[one.id].revised
        assert by_user[two.id].changed and min(by_user[two.id].changed) >= day(BACKFILLED)
        found += full_history_differences(session, [one, two, gone, young], updates)
        # The retired athlete's newest night is far outside any window: no debt is reported for it
        # (a whole history reports one for a night 300 days old, which no nudge uses).
        (update,) = recompute(session, [gone], {gone.id: day(LAST)}, announce=False)
        assert update.latest_night is None and update.changed == []

    # Twins with the final readings, recomputed once over the whole history.
    with session_scope(sessions) as session:
        twins = [
            athlete(session, "twin-set-need", 450),
            athlete(session, "twin-estimated", None),
            athlete(session, "twin-retired", None),
            athlete(session, "twin-new", 480),
        ]
        write(session, twins[0].id, set_need, range(LAST + 1))
        write(session, twins[1].id, estimated, range(LAST + 1))
        write(session, twins[2].id, retired, range(STOPPED + 1))
        write(session, twins[3].id, newcomer, range(JOINED, LAST + 1))
        write(session, twins[3].id, logged_before, range(JOINED - 10, JOINED))
        for user in twins:  # each alone: a batch's other athletes must not matter either
            recompute(session, [user], announce=False)
        for original, twin in zip(ids, [user.id for user in twins], strict=True):
            kept, fresh = stored(session, original), stored(session, twin)
            assert kept and sorted(kept) == sorted(fresh)
            found += [
                f"athlete {original} {snapshot_day}: {difference}"
                for snapshot_day in sorted(kept)
                for difference in differences("", kept[snapshot_day], fresh[snapshot_day])
            ]
        # Every day of the history is stored, up to the last night, under this version.
        days = sorted(stored(session, ids[0]))
        assert days[-1] == day(LAST) and len(days) > 400
        assert {row["algorithm_version"] for row in stored(session, ids[0]).values()} == {ALGORITHM_VERSION}
    assert not found, f"{len(found)} differences:\n" + "\n".join(found[:FOUND_SHOWN])
