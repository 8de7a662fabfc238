"""Explainable daily readiness from ln HRV, resting HR, sleep and training load (docs/readiness.md).

Pure and vectorised, importing neither the database nor the web framework:
:func:`build_batch` turns canonical readings into an athletes × days block (:class:`SeriesBatch`),
:func:`compute_batch` returns every intermediate as arrays (:class:`ReadinessArrays`), and
:func:`snapshot` reads one athlete-day out of them and attaches drivers. The single-day path (after
an event) is the same code on a one-athlete batch, so batch and single-day results are identical
by construction.

Modules: :mod:`.rules` (constants, windows, bands), :mod:`.curves`, :mod:`.batch`,
:mod:`.compute` (over :mod:`.windows`), :mod:`.snapshot`, :mod:`.flags`, :mod:`.hashing`, :mod:`.drivers`
(facts and wording), :mod:`.selection` (which drivers a day gets), :mod:`.sleep_debt`,
:mod:`.series` (readings → batch).
"""

from perfhub.readiness.engine.batch import ReadinessArrays, SeriesBatch
from perfhub.readiness.engine.compute import compute_batch
from perfhub.readiness.engine.curves import Curve
from perfhub.readiness.engine.drivers import (
    DRIVER_CODES,
    PLAIN_CODES,
    Driver,
    driver_from_json,
    driver_to_json,
    render,
    render_plain,
)
from perfhub.readiness.engine.flags import FLAG_CODES, flag_bits, flag_codes, flags_mask
from perfhub.readiness.engine.hashing import inputs_hash, inputs_hashes
from perfhub.readiness.engine.rules import (
    ALGORITHM_VERSION,
    BAND_NAMES,
    CONTRIBUTORS,
    REASON_NAMES,
    STATUS_NAMES,
    WEIGHTS,
    band_codes,
    band_for,
    round_score,
)
from perfhub.readiness.engine.selection import DayFacts, select_drivers
from perfhub.readiness.engine.series import AthleteSeries, HrvReading, SleepReading, build_batch
from perfhub.readiness.engine.sleep_debt import DEBT_CATEGORIES, category_for, compute_debt
from perfhub.readiness.engine.snapshot import Component, ReadinessSnapshot, snapshot

__all__ = [
    "ALGORITHM_VERSION",
    "BAND_NAMES",
    "CONTRIBUTORS",
    "DEBT_CATEGORIES",
    "DRIVER_CODES",
    "FLAG_CODES",
    "PLAIN_CODES",
    "REASON_NAMES",
    "STATUS_NAMES",
    "WEIGHTS",
    "AthleteSeries",
    "Component",
    "Curve",
    "DayFacts",
    "Driver",
    "HrvReading",
    "ReadinessArrays",
    "ReadinessSnapshot",
    "SeriesBatch",
    "SleepReading",
    "band_codes",
    "band_for",
    "build_batch",
    "category_for",
    "compute_batch",
    "compute_debt",
    "driver_from_json",
    "driver_to_json",
    "flag_bits",
    "flag_codes",
    "flags_mask",
    "inputs_hash",
    "inputs_hashes",
    "render",
    "render_plain",
    "round_score",
    "select_drivers",
    "snapshot",
]
