"""The engine's input block (:class:`SeriesBatch`) and the arrays it computes (:class:`ReadinessArrays`)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.engine.rules import CONTRIBUTORS, RANGE_HALF_WIDTH_SD

__all__ = ["FLOAT_INPUTS", "ReadinessArrays", "SeriesBatch"]

FLOAT_INPUTS = (
    "ln_hrv",
    "resting_hr",
    "sleep_min",
    "efficiency_pct",
    "latency_min",
    "wake_count",
    "load",
)


@dataclass(frozen=True, eq=False)
class SeriesBatch:
    """athletes × days block of daily inputs; column 0 is ``start``; NaN means missing (never zero).

    ``segment`` ids should be carried forward over days without readings; a new segment starts
    wherever the id changes between consecutive days. ``load`` is the day's training load; an
    athlete whose ``load`` is NaN on every day logs no training. Once an athlete has logged load,
    a later NaN day counts as a rest day (0): no session logged means no training.
    """

    start: datetime.date
    ln_hrv: NDArray[np.float64]
    hrv_is_sdnn: NDArray[np.bool_]
    resting_hr: NDArray[np.float64]
    sleep_min: NDArray[np.float64]
    efficiency_pct: NDArray[np.float64]
    latency_min: NDArray[np.float64]
    wake_count: NDArray[np.float64]
    load: NDArray[np.float64]
    segment: NDArray[np.int64]
    sleep_need_min: NDArray[np.float64]
    # Per athlete: readings exist before ``start`` (a batch cut from a longer history), so a
    # day with none inside the batch is silence (no_recent_data), not an athlete without data.
    earlier_data: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        shape = np.shape(self.ln_hrv)
        if len(shape) != 2:
            raise ValueError("ln_hrv must be (athletes, days)")
        for name in FLOAT_INPUTS:
            object.__setattr__(self, name, _as(getattr(self, name), np.float64, shape, name))
        object.__setattr__(self, "hrv_is_sdnn", _as(self.hrv_is_sdnn, np.bool_, shape, "hrv_is_sdnn"))
        object.__setattr__(self, "segment", _as(self.segment, np.int64, shape, "segment"))
        need = _as(self.sleep_need_min, np.float64, (shape[0],), "sleep_need_min")
        object.__setattr__(self, "sleep_need_min", need)
        earlier = np.zeros(shape[0], dtype=np.bool_) if self.earlier_data is None else self.earlier_data
        object.__setattr__(self, "earlier_data", _as(earlier, np.bool_, (shape[0],), "earlier_data"))

    @classmethod
    def empty(cls, athletes: int, days: int, start: datetime.date) -> SeriesBatch:
        """All-NaN inputs, segment 0 everywhere, sleep need estimated (0), no earlier data."""

        def nan() -> NDArray[np.float64]:
            return np.full((athletes, days), np.nan)

        return cls(
            start=start,
            ln_hrv=nan(),
            hrv_is_sdnn=np.zeros((athletes, days), dtype=np.bool_),
            resting_hr=nan(),
            sleep_min=nan(),
            efficiency_pct=nan(),
            latency_min=nan(),
            wake_count=nan(),
            load=nan(),
            segment=np.zeros((athletes, days), dtype=np.int64),
            sleep_need_min=np.zeros(athletes),
        )

    @property
    def athletes(self) -> int:
        return int(self.ln_hrv.shape[0])

    @property
    def days(self) -> int:
        return int(self.ln_hrv.shape[1])

    def date_of(self, day: int) -> datetime.date:
        return self.start + datetime.timedelta(days=int(day))

    def day_index(self, date: datetime.date) -> int:
        """Column of ``date``; raises ``IndexError`` outside the batch."""
        day = (date - self.start).days
        if not 0 <= day < self.days:
            raise IndexError(f"{date} is outside {self.start} + {self.days} days")
        return day

    def subset(self, athletes: Sequence[int] | slice) -> SeriesBatch:
        """A batch of the selected athletes (rows copied), same dates."""
        rows: Any = athletes if isinstance(athletes, slice) else np.asarray(athletes, dtype=np.intp)
        kwargs: dict[str, Any] = {"start": self.start}
        for f in fields(self):
            if f.name != "start":
                kwargs[f.name] = np.array(getattr(self, f.name)[rows])
        return SeriesBatch(**kwargs)


def _as(value: Any, dtype: type, shape: tuple[int, ...], name: str) -> Any:
    arr: NDArray[Any] = np.asarray(value, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


@dataclass(eq=False)
class ReadinessArrays:
    """Every intermediate of :func:`compute_batch`; all (A, D) unless noted.

    Ages are days since the latest reading (−1 = never). ``hrv_value``/``rhr_value`` are the
    values actually scored (last night's reading, or the 7-day mean when stale).
    """

    score: NDArray[np.float64]  # NaN when no score
    band: NDArray[np.int8]  # → BAND_NAMES, −1 when no score
    status: NDArray[np.int8]  # → STATUS_NAMES, −1 when no score
    reason: NDArray[np.int8]  # → REASON_NAMES, 0 when scored
    stale: NDArray[np.bool_]
    components: NDArray[np.float64]  # (A, D, 6) in CONTRIBUTORS order, NaN when absent
    ln7: NDArray[np.float64]
    normal_low: NDArray[np.float64]
    normal_high: NDArray[np.float64]
    hrv_value: NDArray[np.float64]  # last night's ln HRV, NaN when the night is missing
    hrv_night_z: NDArray[np.float64]  # last night against the 60-day mean, in SD
    hrv_stale: NDArray[np.bool_]
    hrv_age_days: NDArray[np.int32]
    hrv_days: NDArray[np.int32]  # valid HRV days in the segment within the last HISTORY_DAYS
    history_days: NDArray[np.int32]  # valid HRV days of any segment within the last HISTORY_DAYS
    segment_start: NDArray[np.int32]  # first day (column) of the day's effective segment
    rhr_value: NDArray[np.float64]
    rhr_baseline: NDArray[np.float64]
    rhr_stale: NDArray[np.bool_]
    rhr_age_days: NDArray[np.int32]
    sleep_need: NDArray[np.float64]  # minutes: set by the athlete or estimated from their nights
    debt_hours: NDArray[np.float64]
    debt_category: NDArray[np.int8]  # → DEBT_CATEGORIES, −1 when no debt
    acwr: NDArray[np.float64]
    load_acute: NDArray[np.float64]  # 7-day mean load
    load_chronic: NDArray[np.float64]  # 42-day mean load
    load_days: NDArray[np.int32]  # days since the first logged load, inclusive (0 = none yet)
    trend_sd: NDArray[np.float64]  # the HRV trend's windowed CUSUM, in SD
    trend_nights: NDArray[np.int32]  # nights with a reading behind it
    illness: NDArray[np.bool_]  # illness cap applied
    overreaching: NDArray[np.bool_]  # overreaching cap applied
    saturation: NDArray[np.bool_]  # HRV far above range with resting HR normal

    @classmethod
    def allocate(cls, athletes: int, days: int) -> ReadinessArrays:
        kinds: dict[str, Any] = {
            "components": ((athletes, days, len(CONTRIBUTORS)), np.float64),
        }
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            shape, dtype = kinds.get(f.name, ((athletes, days), _DTYPES.get(f.name, np.float64)))
            kwargs[f.name] = np.empty(shape, dtype=dtype)
        return cls(**kwargs)

    @property
    def hrv_normal_sd(self) -> NDArray[np.float64]:
        """The 60-day SD (floored) behind the range: the range is mean ± 0.5 SD."""
        return (self.normal_high - self.normal_low) / (2 * RANGE_HALF_WIDTH_SD)


_DTYPES: dict[str, Any] = {
    "band": np.int8,
    "status": np.int8,
    "reason": np.int8,
    "debt_category": np.int8,
    "stale": np.bool_,
    "hrv_stale": np.bool_,
    "rhr_stale": np.bool_,
    "illness": np.bool_,
    "overreaching": np.bool_,
    "saturation": np.bool_,
    "history_days": np.int32,
    "trend_nights": np.int32,
    "hrv_age_days": np.int32,
    "hrv_days": np.int32,
    "segment_start": np.int32,
    "rhr_age_days": np.int32,
    "load_days": np.int32,
}
