"""From canonical rows to the athletes × days arrays the pure readiness code takes.

Source choice (DESIGN §2): per day, the HRV series uses the athlete's *primary* source —
the highest-priority vendor that delivered rMSSD in the trailing 14 days (SDNN only when no
rMSSD source exists) — and never fills gaps from another device. A change of primary
(vendor or metric) starts a new baseline segment. Resting HR and sleep take the day's
highest-priority row.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.insights.readiness import SeriesBatch
from perfhub.normalize.models import HrvDaily, SleepDaily
from perfhub.normalize.queries import source_priority

PRIMARY_LOOKBACK_DAYS = 14


@dataclass(frozen=True)
class HrvReading:
    day: date
    vendor: str
    rmssd: float | None
    sdnn: float | None
    resting_hr: float | None


@dataclass(frozen=True)
class SleepReading:
    day: date
    vendor: str
    duration_min: float
    efficiency_pct: float | None
    latency_min: float | None
    wake_count: int | None


@dataclass
class AthleteSeries:
    """One athlete's readings, as loaded from the database."""

    user_id: int
    tz: str
    priority: tuple[str, ...]
    sleep_need_min: float
    hrv: list[HrvReading]
    sleep: list[SleepReading]

    def first_day(self) -> date | None:
        days = [r.day for r in self.hrv] + [r.day for r in self.sleep]
        return min(days) if days else None

    def last_day(self) -> date | None:
        days = [r.day for r in self.hrv] + [r.day for r in self.sleep]
        return max(days) if days else None


def load_athletes(session: Session, users: Sequence[User]) -> list[AthleteSeries]:
    ids = [user.id for user in users]
    hrv: dict[int, list[HrvReading]] = defaultdict(list)
    sleep: dict[int, list[SleepReading]] = defaultdict(list)
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        for row in session.execute(
            select(
                HrvDaily.user_id,
                HrvDaily.date,
                HrvDaily.vendor,
                HrvDaily.rmssd_ms,
                HrvDaily.sdnn_ms,
                HrvDaily.resting_hr,
            ).where(HrvDaily.user_id.in_(chunk))
        ):
            hrv[row[0]].append(HrvReading(row[1], row[2], row[3], row[4], row[5]))
        for sleep_row in session.execute(
            select(
                SleepDaily.user_id,
                SleepDaily.date,
                SleepDaily.vendor,
                SleepDaily.duration_min,
                SleepDaily.efficiency_pct,
                SleepDaily.latency_min,
                SleepDaily.wake_count,
            ).where(SleepDaily.user_id.in_(chunk))
        ):
            sleep[sleep_row[0]].append(SleepReading(*sleep_row[1:]))
    return [
        AthleteSeries(
            user_id=user.id,
            tz=user.tz,
            priority=source_priority(user),
            sleep_need_min=float(user.sleep_need_min or 480),
            hrv=sorted(hrv[user.id], key=lambda r: r.day),
            sleep=sorted(sleep[user.id], key=lambda r: r.day),
        )
        for user in users
    ]


def _rank(priority: tuple[str, ...], vendor: str) -> tuple[int, str]:
    return (priority.index(vendor) if vendor in priority else len(priority), vendor)


def primary_sources(series: AthleteSeries, days: Sequence[date]) -> list[tuple[str, str] | None]:
    """(vendor, metric) whose HRV each day uses, or None before any HRV has arrived."""
    by_day: dict[date, list[HrvReading]] = defaultdict(list)
    for reading in series.hrv:
        if reading.rmssd is not None or reading.sdnn is not None:
            by_day[reading.day].append(reading)
    result: list[tuple[str, str] | None] = []
    last: tuple[str, str] | None = None
    for day in days:
        candidates: set[tuple[str, str]] = set()
        for back in range(PRIMARY_LOOKBACK_DAYS):
            for reading in by_day.get(day - timedelta(days=back), ()):
                candidates.add((reading.vendor, "rmssd" if reading.rmssd is not None else "sdnn"))
        if candidates:
            # rMSSD beats SDNN whatever the vendor: SDNN is the series of last resort.
            last = min(candidates, key=lambda c: (c[1] != "rmssd", _rank(series.priority, c[0])))
        result.append(last)
    return result


def build_batch(athletes: Sequence[AthleteSeries], start: date, end: date) -> SeriesBatch:
    """Arrays for ``start..end`` (inclusive) with one row per athlete, NaN where missing."""
    n_days = (end - start).days + 1
    days = [start + timedelta(days=i) for i in range(n_days)]
    batch = SeriesBatch.empty(len(athletes), n_days, start)
    for row, athlete in enumerate(athletes):
        batch.sleep_need_min[row] = athlete.sleep_need_min
        primaries = primary_sources(athlete, days)
        hrv_by_key = {(r.day, r.vendor): r for r in athlete.hrv}
        segment, previous = 0, None
        for col, (day, primary) in enumerate(zip(days, primaries, strict=True)):
            if primary is not None and previous is not None and primary != previous:
                segment += 1
            previous = primary or previous
            batch.segment[row, col] = segment
            if primary is None:
                continue
            reading = hrv_by_key.get((day, primary[0]))
            if reading is None:
                continue
            value = reading.rmssd if primary[1] == "rmssd" else reading.sdnn
            if value is not None and value > 0:
                batch.ln_hrv[row, col] = math.log(value)
                batch.hrv_is_sdnn[row, col] = primary[1] == "sdnn"
        _fill_by_priority(
            batch.resting_hr[row],
            start,
            n_days,
            athlete.priority,
            ((r.day, r.vendor, r.resting_hr) for r in athlete.hrv if r.resting_hr is not None),
        )
        best_sleep: dict[date, SleepReading] = {}
        for night in athlete.sleep:
            current = best_sleep.get(night.day)
            if current is None or _rank(athlete.priority, night.vendor) < _rank(
                athlete.priority, current.vendor
            ):
                best_sleep[night.day] = night
        for day, night in best_sleep.items():
            col = (day - start).days
            if 0 <= col < n_days:
                batch.sleep_min[row, col] = night.duration_min
                batch.efficiency_pct[row, col] = _nan(night.efficiency_pct)
                batch.latency_min[row, col] = _nan(night.latency_min)
                batch.wake_count[row, col] = _nan(night.wake_count)
    return batch


def _nan(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)


def _fill_by_priority(
    target: np.ndarray,
    start: date,
    n_days: int,
    priority: tuple[str, ...],
    readings: Iterable[tuple[date, str, float | None]],
) -> None:
    chosen: dict[int, tuple[tuple[int, str], float]] = {}
    for day, vendor, value in readings:
        col = (day - start).days
        if value is None or not 0 <= col < n_days:
            continue
        rank = _rank(priority, vendor)
        if col not in chosen or rank < chosen[col][0]:
            chosen[col] = (rank, value)
    for col, (_, value) in chosen.items():
        target[col] = value
