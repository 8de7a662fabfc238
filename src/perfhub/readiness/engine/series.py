"""From canonical readings to the athletes × days arrays the readiness engine takes.

Pure: the readings arrive as :class:`AthleteSeries`, loaded by :mod:`perfhub.readiness.queries`.

Source choice (docs/readiness.md#source-priority): per day, the HRV series uses the athlete's
*primary* source — the most preferred *established* (vendor, metric), i.e. one with readings on
at least 3 of the last 7 days (any rMSSD before any SDNN, then the athlete's priority) — and
never fills gaps from another device. A change of primary (vendor or metric) starts a new
baseline segment. Resting HR comes from the primary's vendor when it has one that day, else
from the day's highest-priority row; sleep takes the day's highest-priority row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import numpy as np

from perfhub.readiness.engine.batch import SeriesBatch
from perfhub.readings.mapping import source_rank

__all__ = [
    "BUILD_BLOCK",
    "ESTABLISHED_NIGHTS",
    "ESTABLISHED_WINDOW",
    "HRV_COLUMNS",
    "PRIMARY_CARRY_DAYS",
    "PRIMARY_LOOKBACK_DAYS",
    "PRIMARY_MEMORY_DAYS",
    "SLEEP_COLUMNS",
    "AthleteSeries",
    "HrvReading",
    "SleepReading",
    "as_columns",
    "build_batch",
    "primary_sources",
]

# A source is *established* on a day when it has readings on at least ``ESTABLISHED_NIGHTS`` of
# the last ``ESTABLISHED_WINDOW`` days: the 7-day HRV mean needs 3 readings too, so a source
# below that could not carry a baseline anyway, and one stray night never reaches it.
ESTABLISHED_NIGHTS = 3
ESTABLISHED_WINDOW = 7
# With no source established on a day, the primary stays the one of the latest day within this
# many days that had one; a bound, so that a day's primary never depends on old history.
PRIMARY_CARRY_DAYS = 60
# Before any source is established within that look-back (an athlete's first nights, or after a
# long break), the best source with a reading in this many trailing days, so that calibration
# starts from the first night.
PRIMARY_LOOKBACK_DAYS = 14
# The oldest reading a day's primary can depend on, in days back (the engine budgets 75 for it,
# see ``rules.MEMORY_DAYS``).
PRIMARY_MEMORY_DAYS = max(PRIMARY_CARRY_DAYS + ESTABLISHED_WINDOW, PRIMARY_LOOKBACK_DAYS) - 1


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


def _ordinal(day: date | str) -> int:
    return day.toordinal() if isinstance(day, date) else date.fromisoformat(day).toordinal()


def as_columns(rows: Sequence[Sequence[Any]], names: tuple[str, ...], skip: int = 0) -> dict[str, np.ndarray]:
    """Readings (oldest first; the first ``skip`` fields ignored) as arrays: days as ordinals
    (``date.toordinal``: numpy's own date parsing costs microseconds per value), missing
    numbers as NaN."""
    arrays = {
        "day": np.array([_ordinal(row[skip]) for row in rows], dtype=np.int64),
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
    # Training load per day with logged sessions (date → RPE × minutes summed); empty when the
    # athlete logs no training.
    load: Mapping[date, float] = field(default_factory=dict)

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
            as_columns(sorted(hrv, key=lambda r: r[0]), HRV_COLUMNS),
            as_columns(sorted(sleep, key=lambda r: r[0]), SLEEP_COLUMNS),
        )

    def _ends(self, index: int) -> list[date]:
        ends = [date.fromordinal(int(c["day"][index])) for c in (self.hrv, self.sleep) if len(c["day"])]
        if self.load:
            # Training logged before the first night counts in the load windows: the athlete's
            # batch must start there whether computed alone or with others.
            ends.append(min(self.load) if index == 0 else max(self.load))
        return ends

    def first_day(self) -> date | None:
        return min(self._ends(0), default=None)

    def last_day(self) -> date | None:
        return max(self._ends(-1), default=None)

    def last_night(self) -> date | None:
        """The newest day with sleep data."""
        return date.fromordinal(int(self.sleep["day"][-1])) if len(self.sleep["day"]) else None


class _Readings(NamedTuple):
    """One signal's readings of every athlete in a batch, side by side."""

    row: np.ndarray  # the athlete's row in the batch
    col: np.ndarray  # the day's column (negative: before the batch)
    rank: np.ndarray  # the vendor's place in that athlete's priority, 0 the best
    vendors: int  # distinct vendors in the batch
    values: dict[str, np.ndarray]


def _gather(athletes: Sequence[AthleteSeries], signal: str, start: date) -> _Readings:
    columns = [getattr(athlete, signal) for athlete in athletes]
    counts = [len(c["day"]) for c in columns]
    names = [name for name in columns[0] if name not in ("day", "vendor")] if columns else []
    row = np.repeat(np.arange(len(athletes)), counts)
    col = np.concatenate([c["day"] for c in columns] or [np.empty(0, np.int64)]) - start.toordinal()
    values = {name: np.concatenate([c[name] for c in columns]) for name in names}
    # Vendor names as small codes; a dict beats sorting Python strings with np.unique.
    codes: dict[str, int] = {}
    vendor = np.array([codes.setdefault(v, len(codes)) for c in columns for v in c["vendor"]], dtype=np.int64)
    vendors = list(codes)
    # Vendor ranks per distinct priority list (usually one for the whole batch).
    priorities: dict[tuple[str, ...], int] = {}
    group = np.array([priorities.setdefault(a.priority, len(priorities)) for a in athletes], dtype=np.int64)
    ranks = np.zeros((max(1, len(priorities)), len(vendors)), dtype=np.int64)
    for priority, g in priorities.items():
        order = sorted(range(len(vendors)), key=lambda k: source_rank(priority, vendors[k]))
        ranks[g, order] = np.arange(len(vendors))
    rank = ranks[group[row], vendor] if len(row) else np.empty(0, np.int64)
    return _Readings(row, col, rank, len(vendors), values)


def _best_per_day(readings: _Readings, keep: np.ndarray, n_days: int) -> np.ndarray:
    """Positions (among ``keep``) of each athlete-day's best-ranked reading."""
    cell = readings.row[keep] * n_days + readings.col[keep]
    order = np.lexsort((readings.rank[keep], cell))
    return keep[order[np.unique(cell[order], return_index=True)[1]]]


def _most_preferred(mask: np.ndarray) -> np.ndarray:
    """The first key set along axis 1 (keys are in preference order), -1 where none is."""
    return np.where(mask.any(axis=1), mask.argmax(axis=1), -1)


def primary_sources(hrv: _Readings, athletes: int, n_days: int) -> tuple[np.ndarray, int]:
    """Each athlete-day's HRV source as a key, -1 where there is none.

    A key ``k < n`` is rMSSD from the vendor ranked ``k`` in that athlete's priority, ``k >= n``
    SDNN from the vendor ranked ``k - n``; ``n`` is returned with the keys. Sources are compared
    by key: rMSSD beats SDNN whatever the vendor, then the athlete's priority. The primary on day
    ``d`` is the best source established on ``d``; else the best established on the latest day
    of ``d − PRIMARY_CARRY_DAYS … d`` that had one; else the best with a reading in the trailing
    ``PRIMARY_LOOKBACK_DAYS``; else -1. It depends only on readings dated
    ``d − PRIMARY_MEMORY_DAYS … d``.
    """
    n = max(1, hrv.vendors)
    has_rmssd = ~np.isnan(hrv.values["rmssd"])
    lead = PRIMARY_MEMORY_DAYS  # readings this long before the batch still count
    usable = np.flatnonzero(
        (has_rmssd | ~np.isnan(hrv.values["sdnn"])) & (hrv.col >= -lead) & (hrv.col < n_days)
    )
    # Keys in preference order: every rMSSD (by rank) before every SDNN.
    keys = np.where(has_rmssd[usable], 0, n) + hrv.rank[usable]
    # Extended day x = column + lead; seen[..., x] counts the reading days before x.
    present = np.zeros((athletes, 2 * n, lead + n_days + 1), dtype=np.int32)
    present[hrv.row[usable], keys, hrv.col[usable] + lead + 1] = 1
    seen = np.cumsum(present, axis=2, dtype=np.int32)

    def trailing(days: int, first_column: int) -> np.ndarray:
        """Reading days in the trailing ``days``, for columns ``first_column … n_days − 1``."""
        x = first_column + lead
        return seen[:, :, x + 1 :] - seen[:, :, x + 1 - days : lead + n_days + 1 - days]

    # Best established source on columns -PRIMARY_CARRY_DAYS … n_days − 1 (index j = column +
    # PRIMARY_CARRY_DAYS), then the latest of them at or before each day, if within the carry.
    established = _most_preferred(trailing(ESTABLISHED_WINDOW, -PRIMARY_CARRY_DAYS) >= ESTABLISHED_NIGHTS)
    index = np.arange(established.shape[1])
    latest = np.maximum.accumulate(np.where(established >= 0, index, -1), axis=1)[:, PRIMARY_CARRY_DAYS:]
    carried = latest >= np.arange(n_days)  # j ≥ column, i.e. no more than the carry back
    first_nights = _most_preferred(trailing(PRIMARY_LOOKBACK_DAYS, 0) > 0)
    carried_source = np.take_along_axis(established, np.maximum(latest, 0), axis=1)
    return np.where(carried, carried_source, first_nights), n


# Athletes per block of the batch build: bounds the (athletes × sources × days) arrays.
BUILD_BLOCK = 256


def build_batch(athletes: Sequence[AthleteSeries], start: date, end: date) -> SeriesBatch:
    """Arrays for ``start..end`` (inclusive) with one row per athlete, NaN where missing."""
    n_days = (end - start).days + 1
    batch = SeriesBatch.empty(len(athletes), n_days, start)
    for first in range(0, len(athletes), BUILD_BLOCK):
        block = athletes[first : first + BUILD_BLOCK]
        rows = slice(first, first + len(block))
        batch.sleep_need_min[rows] = [athlete.sleep_need_min for athlete in block]
        _fill_hrv(batch, rows, _gather(block, "hrv", start), len(block), n_days)
        _fill_sleep(batch, rows, _gather(block, "sleep", start), n_days)
        _fill_load(batch, first, block, start, n_days)
    return batch


def _fill_load(
    batch: SeriesBatch, first: int, block: Sequence[AthleteSeries], start: date, n_days: int
) -> None:
    # Days before the batch do not count: the engine's windows start at the first logged day
    # inside it, as they start at the first reading.
    for offset, athlete in enumerate(block):
        for day, load in athlete.load.items():
            col = (day - start).days
            if 0 <= col < n_days:
                batch.load[first + offset, col] = load


def _fill_hrv(batch: SeriesBatch, rows: slice, hrv: _Readings, athletes: int, n_days: int) -> None:
    primary, n = primary_sources(hrv, athletes, n_days)
    # A new baseline segment wherever the primary changes, also when it lapses to none (-1)
    # after a long break: the days without a source then open the next source's segment, as
    # they do before an athlete's first reading, and whether two days share a segment depends
    # only on the primaries between them.
    changed = np.zeros_like(primary)
    changed[:, 1:] = (primary[:, :-1] >= 0) & (primary[:, 1:] != primary[:, :-1])
    batch.segment[rows] = np.cumsum(changed, axis=1)
    inside = np.flatnonzero((hrv.col >= 0) & (hrv.col < n_days))
    # Each (vendor, metric)'s value per day, by key: its vendor's reading, never another's.
    values = np.full((athletes, 2 * n, n_days), np.nan)
    for offset, metric in ((0, "rmssd"), (n, "sdnn")):
        values[hrv.row[inside], hrv.rank[inside] + offset, hrv.col[inside]] = hrv.values[metric][inside]
    value = np.take_along_axis(values, np.maximum(primary, 0)[:, None, :], axis=1)[:, 0, :]
    with np.errstate(invalid="ignore"):
        good = (primary >= 0) & (value > 0)
    ln_hrv = np.full(primary.shape, np.nan)
    np.log(value, out=ln_hrv, where=good)
    batch.ln_hrv[rows] = ln_hrv
    batch.hrv_is_sdnn[rows] = good & (primary >= n)
    # Resting HR: the primary's vendor's, as two devices' resting HRs differ systematically and
    # a mix would move the baseline; else the day's highest-priority reading that has one.
    rhr = hrv.values["resting_hr"]
    with_rhr = inside[~np.isnan(rhr[inside])]
    resting_hr = np.full(primary.shape, np.nan)
    best = _best_per_day(hrv, with_rhr, n_days)
    resting_hr[hrv.row[best], hrv.col[best]] = rhr[best]
    day_primary = primary[hrv.row[with_rhr], hrv.col[with_rhr]]
    own = with_rhr[(day_primary >= 0) & (hrv.rank[with_rhr] == day_primary % n)]
    resting_hr[hrv.row[own], hrv.col[own]] = rhr[own]
    batch.resting_hr[rows] = resting_hr


def _fill_sleep(batch: SeriesBatch, rows: slice, sleep: _Readings, n_days: int) -> None:
    best = _best_per_day(sleep, np.flatnonzero((sleep.col >= 0) & (sleep.col < n_days)), n_days)
    at = (sleep.row[best], sleep.col[best])
    batch.sleep_min[rows][at] = sleep.values["duration_min"][best]
    for name in ("efficiency_pct", "latency_min", "wake_count"):
        getattr(batch, name)[rows][at] = sleep.values[name][best]
