"""Property tests of the readiness rules (hypothesis)."""

from __future__ import annotations

import datetime
import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from perfhub.readiness.engine import (
    CONTRIBUTORS,
    SeriesBatch,
    band_codes,
    compute_batch,
)

START = datetime.date(2024, 1, 1)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_batch(seed: int, days: int, athletes: int, missing: float, ln_sd: float) -> SeriesBatch:
    rng = np.random.default_rng(seed)
    shape = (athletes, days)
    b = SeriesBatch.empty(athletes, days, START)
    b.ln_hrv[:] = rng.normal(4.0, 0.4, (athletes, 1)) + rng.normal(0, ln_sd, shape)
    b.resting_hr[:] = np.round(rng.normal(55, 6, (athletes, 1)) + rng.normal(0, 2, shape))
    b.sleep_min[:] = np.round(rng.normal(450, 50, shape))
    b.efficiency_pct[:] = np.round(np.clip(rng.normal(88, 5, shape), 50, 100))
    b.latency_min[:] = np.round(rng.gamma(2.0, 8.0, shape))
    b.wake_count[:] = rng.poisson(2.0, shape)
    if athletes > 1:
        b.load[::2] = np.round(rng.gamma(2.0, 40.0, b.load[::2].shape))
    for arr in (b.ln_hrv, b.resting_hr, b.sleep_min):
        arr[rng.random(shape) < missing] = np.nan
    return b


def from_params(params: dict[str, float], athletes: int = 1) -> SeriesBatch:
    return random_batch(
        int(params["seed"]), int(params["days"]), athletes, params["missing"], params["ln_sd"]
    )


def today_pair(b: SeriesBatch) -> SeriesBatch:
    """Two copies of athlete 0, to be changed only on the last day."""
    pair = b.subset([0, 0])
    # Keep today's readings present in both copies: the properties are about values.
    pair.ln_hrv[:, -1] = b.ln_hrv[0, -1] if not math.isnan(b.ln_hrv[0, -1]) else 4.0
    pair.resting_hr[:, -1] = b.resting_hr[0, -1] if not math.isnan(b.resting_hr[0, -1]) else 55.0
    return pair


series = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "days": st.integers(25, 90),
        "missing": st.sampled_from([0.0, 0.1, 0.3]),
        "ln_sd": st.floats(0.03, 0.2),
    }
)


@FAST
@given(params=series, drop=st.floats(1e-3, 1.5), today=st.floats(-0.6, 0.4))
def test_lower_hrv_today_never_raises_readiness(params: dict[str, float], drop: float, today: float) -> None:
    b = today_pair(from_params(params))
    base = float(np.nanmean(b.ln_hrv[0, :-1])) if not np.isnan(b.ln_hrv[0, :-1]).all() else 4.0
    b.ln_hrv[:, -1] = base + today
    b.ln_hrv[1, -1] -= drop
    r = compute_batch(b)
    # Only while the 7-day mean stays inside or below the range and the night is not saturated
    # (far above the baseline with resting HR normal): above, lower is *better*.
    assume(not (r.ln7[0, -1] > r.normal_high[0, -1]) and not r.saturation[0, -1])
    before, after = r.score[0, -1], r.score[1, -1]
    assert np.isnan(before) == np.isnan(after)
    if not np.isnan(before):
        assert after <= before + 1e-9


@FAST
@given(params=series, rise=st.floats(0.1, 25.0))
def test_higher_resting_hr_today_never_raises_readiness(params: dict[str, float], rise: float) -> None:
    b = today_pair(from_params(params))
    b.resting_hr[1, -1] += rise
    r = compute_batch(b)
    before, after = r.score[0, -1], r.score[1, -1]
    assert np.isnan(before) == np.isnan(after)
    if not np.isnan(before):
        assert after <= before + 1e-9


@FAST
@given(params=series)
def test_missing_days_are_skipped_not_zero(params: dict[str, float]) -> None:
    b = from_params(params)
    r = compute_batch(b)
    x = b.ln_hrv[0]
    for d in range(b.days):
        window = x[max(0, d - 6) : d + 1]
        present = window[~np.isnan(window)]
        if len(present) >= 3:
            assert abs(r.ln7[0, d] - float(np.mean(present))) < 1e-9
            continue
        # Too few readings this week: the 7-day mean as of the latest reading of the segment
        # stands in for up to 7 days, else there is none.
        seen = np.flatnonzero(~np.isnan(x[: d + 1]))
        last = int(seen[-1]) if len(seen) else -1
        if last >= int(r.segment_start[0, d]) and d - last <= 7 and last >= 0:
            assert r.ln7[0, d] == r.ln7[0, last] or (np.isnan(r.ln7[0, d]) and np.isnan(r.ln7[0, last]))
        else:
            assert np.isnan(r.ln7[0, d])


@settings(max_examples=15, deadline=None)
@given(params=series, athletes=st.integers(2, 12), block=st.integers(1, 5))
def test_batch_rows_do_not_depend_on_neighbours(params: dict[str, float], athletes: int, block: int) -> None:
    b = from_params(params, athletes)
    full = compute_batch(b, block_athletes=block, workers=2)
    last = athletes - 1
    alone = compute_batch(b.subset([last]), workers=1)
    np.testing.assert_array_equal(full.score[last], alone.score[0])
    np.testing.assert_array_equal(full.components[last], alone.components[0])


@FAST
@given(params=series)
def test_scores_bands_and_components_are_consistent(params: dict[str, float]) -> None:
    b = from_params(params, 3)
    r = compute_batch(b)
    scored = ~np.isnan(r.score)
    assert ((r.score[scored] >= 0) & (r.score[scored] <= 100)).all()
    np.testing.assert_array_equal(r.band, band_codes(r.score))
    assert ((r.reason == 0) == scored).all()
    assert ((r.status >= 0) == scored).all()
    comps = r.components[scored]
    present = comps[~np.isnan(comps)]
    assert ((present >= 0) & (present <= 100)).all()
    assert comps.shape[-1] == len(CONTRIBUTORS)
    # The illness override always caps.
    assert (r.score[r.illness] <= 39).all()
