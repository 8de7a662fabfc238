"""From canonical rows to the athletes × days arrays the pure readiness code takes.

Source choice (DESIGN §2): per day, the HRV series uses the athlete's *primary* source —
the highest-priority vendor that delivered rMSSD in the trailing 14 days (SDNN only when no
rMSSD source exists) — and never fills gaps from another device. A change of primary
(vendor or metric) starts a new baseline segment. Resting HR and sleep take the day's
highest-priority row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.insights.readiness import SeriesBatch
from perfhub.normalize.models import HrvDaily, SleepDaily
from perfhub.normalize.queries import source_priority

PRIMARY_LOOKBACK_DAYS = 14


class HrvReading(NamedTuple):
    day: date
    vendor: str
    rmssd: float | None
    sdnn: float | None
    resting_hr: float | None


class SleepReading(NamedTuple):
    day: date
    vendor: str
    duration_min: float
    efficiency_pct: float | None
    latency_min: float | None
    wake_count: int | None


HRV_COLUMNS = HrvReading._fields
SLEEP_COLUMNS = SleepReading._fields


def _columns(rows: Sequence[Sequence[Any]], names: tuple[str, ...], skip: int = 0) -> dict[str, np.ndarray]:
    """Readings (oldest first; the first ``skip`` fields ignored) as arrays: days as ordinals
    (``date.toordinal``: numpy's own date parsing costs microseconds per value), missing
    numbers as NaN."""
    arrays = {
        "day": np.array([row[skip].toordinal() for row in rows], dtype=np.int64),
        "vendor": np.array([row[skip + 1] for row in rows], dtype=object),
    }
    for k, name in enumerate(names[2:], start=skip + 2):
        arrays[name] = np.array([row[k] for row in rows], dtype=np.float64)  # None becomes NaN
    return arrays


@dataclass
class AthleteSeries:
    """One athlete's canonical readings as columns, oldest first (see ``HRV_COLUMNS``)."""

    user_id: int
    tz: str
    priority: tuple[str, ...]
    sleep_need_min: float
    hrv: dict[str, np.ndarray]
    sleep: dict[str, np.ndarray]

    @classmethod
    def from_readings(
        cls,
        user_id: int,
        tz: str,
        priority: tuple[str, ...],
        sleep_need_min: float,
        hrv: Sequence[HrvReading],
        sleep: Sequence[SleepReading],
    ) -> AthleteSeries:
        return cls(
            user_id,
            tz,
            priority,
            sleep_need_min,
            _columns(sorted(hrv, key=lambda r: r[0]), HRV_COLUMNS),
            _columns(sorted(sleep, key=lambda r: r[0]), SLEEP_COLUMNS),
        )

    def _ends(self, index: int) -> list[date]:
        return [date.fromordinal(int(c["day"][index])) for c in (self.hrv, self.sleep) if len(c["day"])]

    def first_day(self) -> date | None:
        return min(self._ends(0), default=None)

    def last_day(self) -> date | None:
        return max(self._ends(-1), default=None)

    def last_night(self) -> date | None:
        """The newest day with sleep data."""
        return date.fromordinal(int(self.sleep["day"][-1])) if len(self.sleep["day"]) else None


def _by_user(rows: Sequence[Sequence[Any]], names: tuple[str, ...]) -> dict[int, dict[str, np.ndarray]]:
    """Rows of (user_id, *names) ordered by user, as each user's columns (views of one array)."""
    if not rows:
        return {}
    user_ids = np.array([row[0] for row in rows], dtype=np.int64)
    columns = _columns(rows, names, skip=1)
    starts = np.flatnonzero(np.r_[True, user_ids[1:] != user_ids[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    return {
        int(user_ids[begin]): {name: array[begin:end] for name, array in columns.items()}
        for begin, end in zip(starts.tolist(), ends.tolist(), strict=True)
    }


def load_athletes(session: Session, users: Sequence[User]) -> list[AthleteSeries]:
    # Core rows fetched all at once and turned into columns chunk by chunk: this runs for every
    # athlete of every insights batch, so per-row Python work is kept to the minimum.
    connection = session.connection()
    hrv: dict[int, dict[str, np.ndarray]] = {}
    sleep: dict[int, dict[str, np.ndarray]] = {}
    ids = [user.id for user in users]
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        hrv_rows = connection.execute(
            select(
                HrvDaily.user_id,
                HrvDaily.date,
                HrvDaily.vendor,
                HrvDaily.rmssd_ms,
                HrvDaily.sdnn_ms,
                HrvDaily.resting_hr,
            )
            .where(HrvDaily.user_id.in_(chunk))
            .order_by(HrvDaily.user_id, HrvDaily.date)
        ).all()
        hrv.update(_by_user(hrv_rows, HRV_COLUMNS))
        sleep_rows = connection.execute(
            select(
                SleepDaily.user_id,
                SleepDaily.date,
                SleepDaily.vendor,
                SleepDaily.duration_min,
                SleepDaily.efficiency_pct,
                SleepDaily.latency_min,
                SleepDaily.wake_count,
            )
            .where(SleepDaily.user_id.in_(chunk))
            .order_by(SleepDaily.user_id, SleepDaily.date)
        ).all()
        sleep.update(_by_user(sleep_rows, SLEEP_COLUMNS))
    no_hrv, no_sleep = _columns([], HRV_COLUMNS), _columns([], SLEEP_COLUMNS)
    return [
        AthleteSeries(
            user_id=user.id,
            tz=user.tz,
            priority=source_priority(user),
            sleep_need_min=float(user.sleep_need_min or 480),
            hrv=hrv.get(user.id, no_hrv),
            sleep=sleep.get(user.id, no_sleep),
        )
        for user in users
    ]


def _vendor_ranks(priority: tuple[str, ...], vendors: np.ndarray) -> np.ndarray:
    """Each reading's vendor as a small integer, 0 the best: the athlete's priority order,
    unlisted vendors after it by name."""
    names, inverse = np.unique(vendors, return_inverse=True)
    order = sorted(
        range(len(names)),
        key=lambda k: (priority.index(names[k]) if names[k] in priority else len(priority), names[k]),
    )
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return rank[inverse]


def _best_per_day(cols: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Positions of the best-ranked reading of each day (column)."""
    order = np.lexsort((ranks, cols))
    return order[np.unique(cols[order], return_index=True)[1]]


def _offsets(days: np.ndarray, start: date) -> np.ndarray:
    return days - start.toordinal()


def primary_sources(
    series: AthleteSeries, start: date, n_days: int
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Index into the returned (vendor, metric) candidates of each day's HRV source, -1 before any.

    The primary is the best candidate with a reading in the trailing ``PRIMARY_LOOKBACK_DAYS``
    (rMSSD beats SDNN whatever the vendor; then the athlete's priority); without one, the last
    primary carries on.
    """
    hrv = series.hrv
    has_rmssd = ~np.isnan(hrv["rmssd"])
    usable = has_rmssd | ~np.isnan(hrv["sdnn"])
    primary = np.full(n_days, -1, dtype=np.int64)
    if not usable.any():
        return primary, []
    vendors = hrv["vendor"][usable]
    ranks = _vendor_ranks(series.priority, vendors)
    # One key per (vendor, metric), ordered best first: any rMSSD before any SDNN.
    keys = np.where(has_rmssd[usable], 0, len(vendors)) + ranks
    candidates, which = np.unique(keys, return_inverse=True)
    first_of = np.unique(which, return_index=True)[1]
    named = [(str(vendors[p]), "rmssd" if keys[p] < len(vendors) else "sdnn") for p in first_of]
    lead = PRIMARY_LOOKBACK_DAYS - 1  # readings this long before ``start`` still count
    cols = _offsets(hrv["day"][usable], start) + lead
    inside = (cols >= 0) & (cols < n_days + lead)
    present = np.zeros((len(candidates), n_days + lead + 1), dtype=np.int64)
    present[which[inside], cols[inside] + 1] = 1
    seen = np.cumsum(present, axis=1)
    recent = seen[:, PRIMARY_LOOKBACK_DAYS:] - seen[:, :-PRIMARY_LOOKBACK_DAYS] > 0  # one per day
    best = np.where(recent.any(axis=0), recent.argmax(axis=0), -1)
    # Carry the last primary over days without any recent reading.
    last = np.maximum.accumulate(np.where(best >= 0, np.arange(n_days), -1))
    primary[last >= 0] = best[last[last >= 0]]
    return primary, named


def build_batch(athletes: Sequence[AthleteSeries], start: date, end: date) -> SeriesBatch:
    """Arrays for ``start..end`` (inclusive) with one row per athlete, NaN where missing."""
    n_days = (end - start).days + 1
    batch = SeriesBatch.empty(len(athletes), n_days, start)
    for row, athlete in enumerate(athletes):
        batch.sleep_need_min[row] = athlete.sleep_need_min
        _fill_hrv(batch, row, athlete, start, n_days)
        _fill_sleep(batch, row, athlete, start, n_days)
    return batch


def _fill_hrv(batch: SeriesBatch, row: int, athlete: AthleteSeries, start: date, n_days: int) -> None:
    primary, candidates = primary_sources(athlete, start, n_days)
    if candidates:
        # A new baseline segment wherever the primary changes.
        changed = np.zeros(n_days, dtype=np.int64)
        changed[1:] = (primary[1:] >= 0) & (primary[:-1] >= 0) & (primary[1:] != primary[:-1])
        batch.segment[row] = np.cumsum(changed)
    cols = _offsets(athlete.hrv["day"], start)
    inside = (cols >= 0) & (cols < n_days)
    if not inside.any():
        return
    cols = cols[inside]
    vendors = athlete.hrv["vendor"][inside]
    if candidates:
        # Each candidate's value per day: its vendor's reading of its metric, never another's.
        values = np.full((len(candidates), n_days), np.nan)
        for k, (vendor, metric) in enumerate(candidates):
            mine = vendors == vendor
            values[k, cols[mine]] = athlete.hrv[metric][inside][mine]
        days = np.flatnonzero(primary >= 0)
        value = values[primary[days], days]
        with np.errstate(invalid="ignore"):
            good = value > 0
        batch.ln_hrv[row, days[good]] = np.log(value[good])
        is_sdnn = np.array([metric == "sdnn" for _, metric in candidates])
        batch.hrv_is_sdnn[row, days[good]] = is_sdnn[primary[days[good]]]
    # Resting HR: the day's highest-priority reading that has one.
    resting = athlete.hrv["resting_hr"][inside]
    with_rhr = np.flatnonzero(~np.isnan(resting))
    if len(with_rhr):
        best = with_rhr[_best_per_day(cols[with_rhr], _vendor_ranks(athlete.priority, vendors[with_rhr]))]
        batch.resting_hr[row, cols[best]] = resting[best]


def _fill_sleep(batch: SeriesBatch, row: int, athlete: AthleteSeries, start: date, n_days: int) -> None:
    cols = _offsets(athlete.sleep["day"], start)
    inside = np.flatnonzero((cols >= 0) & (cols < n_days))
    if not len(inside):
        return
    best = inside[
        _best_per_day(cols[inside], _vendor_ranks(athlete.priority, athlete.sleep["vendor"][inside]))
    ]
    at = cols[best]
    for name in ("duration_min", "efficiency_pct", "latency_min", "wake_count"):
        target = batch.sleep_min if name == "duration_min" else getattr(batch, name)
        target[row, at] = athlete.sleep[name][best]
