"""Input digests: a stable hash of all one athlete-day's result depends on (docs/readiness.md#snapshots)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from perfhub.readiness.engine.batch import FLOAT_INPUTS, ReadinessArrays, SeriesBatch
from perfhub.readiness.engine.rules import (
    ALGORITHM_VERSION,
    CTL_DAYS,
    FULL_HRV_DAYS,
    HISTORY_DAYS,
    LOOKBACK_DAYS,
    NO_RECENT_AFTER_DAYS,
    RULES_REVISION,
)

__all__ = ["inputs_hash", "inputs_hashes"]


def inputs_hashes(
    batch: SeriesBatch, result: ReadinessArrays, athlete: int, days: Sequence[int], first_day: int = 0
) -> list[str]:
    """Stable SHA-256, per day in ``days``, of everything that athlete-day's result depends on.

    That is the inputs of the last ``LOOKBACK_DAYS`` days (segment ids relative to the day's)
    plus the few facts that reach further back (HRV days in the segment and in the history,
    capped where the status stops changing; segment start, ages and load history, capped at the
    longest window they matter for). Windows
    never reach before ``first_day``, the athlete's first data, so an athlete hashes the same in
    a batch of one or of thousands, whatever the batch's first column. Equal hashes mean an
    unchanged result, so a recompute can skip the write.
    """
    a = int(athlete)
    if not len(days):
        return []
    # Day-major rows of every input, so a window of days is one contiguous slice of bytes.
    inputs = np.column_stack(
        [getattr(batch, name)[a] for name in FLOAT_INPUTS] + [batch.hrv_is_sdnn[a].astype(np.float64)]
    )
    inputs = np.where(np.isnan(inputs), np.nan, inputs + 0.0)  # one NaN payload, no −0.0
    row_bytes = memoryview(inputs.tobytes())
    stride = inputs.shape[1] * inputs.itemsize
    segment = batch.segment[a]
    day = np.asarray(days, dtype=np.int64)
    lo = np.maximum(first_day, day - LOOKBACK_DAYS + 1)
    extras = np.column_stack(
        [
            day - lo,
            np.minimum(result.hrv_days[a, day], FULL_HRV_DAYS),
            np.minimum(result.history_days[a, day], FULL_HRV_DAYS),
            np.minimum(day - np.maximum(result.segment_start[a, day], first_day), HISTORY_DAYS),
            _capped_age(result.hrv_age_days[a, day]),
            _capped_age(result.rhr_age_days[a, day]),
            np.minimum(result.load_days[a, day], CTL_DAYS),
            result.reason[a, day],
        ]
    ).astype(np.int64)
    prefix = hashlib.sha256(f"{ALGORITHM_VERSION}/{RULES_REVISION}".encode())
    prefix.update(np.float64(batch.sleep_need_min[a]).tobytes())
    digests = []
    for k, (d, start) in enumerate(zip(day.tolist(), lo.tolist(), strict=True)):
        h = prefix.copy()
        h.update(extras[k].tobytes())
        h.update(row_bytes[start * stride : (d + 1) * stride])
        h.update((segment[start : d + 1] - segment[d]).tobytes())
        digests.append(h.hexdigest())
    return digests


def _capped_age(age: np.ndarray) -> np.ndarray:
    # Beyond the no-recent-data limit an age changes nothing but its own number in a driver.
    return np.where(age > NO_RECENT_AFTER_DAYS, NO_RECENT_AFTER_DAYS + 1, age)


def inputs_hash(
    batch: SeriesBatch, result: ReadinessArrays, athlete: int, day: int, first_day: int = 0
) -> str:
    """:func:`inputs_hashes` of one day."""
    return inputs_hashes(batch, result, athlete, [int(day)], first_day)[0]
