"""The day's flags (docs/readiness.md#flags): machine-readable states a team table filters on.

Flags are computed from the arrays :func:`~perfhub.readiness.engine.compute.compute_batch`
returns, for any selection of athlete-days at once, as bit masks (:func:`flag_bits`); one
athlete-day's codes are :func:`flag_codes` of its mask. A snapshot stores the codes, and a
recompute compares masks to find stored snapshots whose flags are out of date (rows written
before flags were stored) without reading each day out of the arrays.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.engine.batch import ReadinessArrays
from perfhub.readiness.engine.rules import REASON_CALIBRATING, REASON_NO_RECENT, STATUS_NAMES
from perfhub.readiness.engine.sleep_debt import DEBT_CATEGORIES

__all__ = ["FLAG_CODES", "LOAD_SPIKE_ACWR", "SLEEP_DEBT_FLAG_FROM", "flag_bits", "flag_codes", "flags_mask"]

# In display order: what matters most first. The bit of a code is its position here.
FLAG_CODES: tuple[str, ...] = (
    "illness",
    "hrv_below_range",
    "hrv_unusually_high",
    "overreaching",
    "sleep_debt",
    "load_spike",
    "stale",
    "calibrating",
    "no_recent_data",
)
_BIT = {code: 1 << position for position, code in enumerate(FLAG_CODES)}

# A sleep debt is flagged from `moderate` (2 h) up: the level at which the athlete is nudged.
SLEEP_DEBT_FLAG_FROM = DEBT_CATEGORIES.index("moderate")
# The ACWR from which a spike counts as a flag (the drivers start mentioning it at 1.3).
LOAD_SPIKE_ACWR = 1.5
_CALIBRATING_STATUS = STATUS_NAMES.index("calibrating")


def flag_bits(result: ReadinessArrays, athletes: Any, days: Any) -> NDArray[np.int16]:
    """The flag mask of every selected athlete-day (``result.x[athletes, days]`` indexing).

    Score flags (illness, HRV below its range or saturated, overreaching, sleep debt, load,
    staleness, calibration status) are set only on scored days; a day without a score carries
    the reason it has none (``calibrating`` or ``no_recent_data``). Comparisons are written so
    that NaN never meets them.
    """

    def pick(array: NDArray[Any]) -> NDArray[Any]:
        return np.asarray(array[athletes, days])

    scored = ~np.isnan(pick(result.score))
    with np.errstate(invalid="ignore"):
        below = pick(result.ln7) < pick(result.normal_low)
        spike = pick(result.acwr) >= LOAD_SPIKE_ACWR
    reason = pick(result.reason)
    score_flags = (
        (pick(result.illness), "illness"),
        (below, "hrv_below_range"),
        (pick(result.saturation), "hrv_unusually_high"),
        (pick(result.overreaching), "overreaching"),
        (pick(result.debt_category) >= SLEEP_DEBT_FLAG_FROM, "sleep_debt"),
        (spike, "load_spike"),
        (pick(result.stale), "stale"),
        (pick(result.status) == _CALIBRATING_STATUS, "calibrating"),
    )
    bits = np.zeros(np.shape(scored), dtype=np.int16)
    for condition, code in score_flags:
        bits |= np.where(scored & condition, _BIT[code], 0).astype(np.int16)
    bits |= np.where(~scored & (reason == REASON_CALIBRATING), _BIT["calibrating"], 0).astype(np.int16)
    bits |= np.where(~scored & (reason == REASON_NO_RECENT), _BIT["no_recent_data"], 0).astype(np.int16)
    return bits


def flag_codes(bits: int) -> tuple[str, ...]:
    """The codes of a mask, in :data:`FLAG_CODES` order."""
    return tuple(code for code in FLAG_CODES if bits & _BIT[code])


def flags_mask(codes: Iterable[str]) -> int:
    """The mask of stored codes; a code this version does not know makes the mask differ (−1)."""
    mask = 0
    for code in codes:
        if code not in _BIT:
            return -1
        mask |= _BIT[code]
    return mask
