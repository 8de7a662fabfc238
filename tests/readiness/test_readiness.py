"""Scenario tests of the pure readiness computation (docs/readiness.md), on synthesised series."""

from __future__ import annotations

import dataclasses
import datetime
import math

import numpy as np
import pytest

from perfhub.readiness.engine import (
    ALGORITHM_VERSION,
    BAND_NAMES,
    CONTRIBUTORS,
    WEIGHTS,
    Curve,
    Driver,
    ReadinessArrays,
    SeriesBatch,
    band_codes,
    band_for,
    compute_batch,
    render,
    snapshot,
)
from perfhub.readiness.engine.curves import HRV_BALANCE_CURVE, LAST_NIGHT_CURVE, RHR_CURVE

START = datetime.date(2024, 1, 1)


def stable_batch(days: int = 90, athletes: int = 1, seed: int = 0, ln_sd: float = 0.08) -> SeriesBatch:
    """Noisy but stable athletes: ln rMSSD ≈ 4.0, RHR ≈ 52 bpm, ≈ 7.8 h of decent sleep."""
    rng = np.random.default_rng(seed)
    shape = (athletes, days)
    b = SeriesBatch.empty(athletes, days, START)
    b.ln_hrv[:] = 4.0 + rng.normal(0, ln_sd, shape)
    b.resting_hr[:] = np.round(52 + rng.normal(0, 1.5, shape))
    b.sleep_min[:] = np.round(470 + rng.normal(0, 25, shape))
    b.efficiency_pct[:] = np.round(90 + rng.normal(0, 2, shape))
    b.latency_min[:] = np.round(np.clip(12 + rng.normal(0, 5, shape), 2, None))
    b.wake_count[:] = rng.poisson(1.5, shape)
    return b


def codes(snap_drivers: tuple[Driver, ...]) -> list[str]:
    return [d.code for d in snap_drivers]


# ----------------------------------------------------------------------------- bands and curves


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, "low"),
        (39, "low"),
        (39.49, "low"),
        (39.5, "reduced"),
        (40, "reduced"),
        (64, "reduced"),
        (65, "normal"),
        (84, "normal"),
        (84.6, "elevated"),
        (85, "elevated"),
        (100, "elevated"),
    ],
)
def test_band_for_uses_the_rounded_score(score: float, band: str) -> None:
    assert band_for(score) == band
    assert BAND_NAMES[int(band_codes(np.array([float(score)]))[0])] == band


def test_band_for_rejects_nan() -> None:
    with pytest.raises(ValueError):
        band_for(math.nan)
    assert band_codes(np.array([np.nan]))[0] == -1


def test_curve_matches_linear_interpolation_and_propagates_nan() -> None:
    xs = np.linspace(-5, 5, 1001)
    for curve in (HRV_BALANCE_CURVE, LAST_NIGHT_CURVE, RHR_CURVE):
        np.testing.assert_allclose(curve(xs), np.interp(xs, curve.xp, curve.fp), atol=1e-9)
        assert math.isnan(curve.at(math.nan))
    with pytest.raises(ValueError):
        Curve((0.0, 1.0), (5.0, 5.0))


def test_hrv_balance_is_two_sided() -> None:
    in_range = HRV_BALANCE_CURVE.at(0.0)
    assert 70 <= in_range <= 80
    assert HRV_BALANCE_CURVE.at(-0.5) >= 70 - 1e-9  # the range edge is still ≈ in range
    assert HRV_BALANCE_CURVE.at(-1.5) < 40  # below the range it falls steeply
    top = max(HRV_BALANCE_CURVE.at(z) for z in np.linspace(-0.5, 0.5, 101))
    for z in (0.75, 1.0, 2.0, 3.0, 6.0):
        assert HRV_BALANCE_CURVE.at(z) <= top


def test_typical_day_scores_about_75() -> None:
    for curve in (HRV_BALANCE_CURVE, LAST_NIGHT_CURVE, RHR_CURVE):
        assert 73 <= curve.at(0.0) <= 78


# ----------------------------------------------------------------------------- scenarios


def test_stable_athlete_scores_normal() -> None:
    b = stable_batch()
    r = compute_batch(b)
    snap = snapshot(b, r, 0, b.days - 1)
    assert snap.band == "normal"
    assert snap.status == "full"
    assert snap.reason is None
    assert not snap.stale
    assert snap.algorithm_version == ALGORITHM_VERSION
    assert 1 <= len(snap.drivers) <= 4
    # Not a lucky last day: the whole full-status stretch sits in the normal band.
    bands = [BAND_NAMES[c] for c in r.band[0, 60:]]
    assert bands.count("normal") >= 0.9 * len(bands)
    assert {c.name for c in snap.components} == set(CONTRIBUTORS) - {"training_load"}
    assert sum(c.weight for c in snap.components) == pytest.approx(1.0, abs=1e-3)


def test_hrv_drop_with_raised_resting_hr_scores_low() -> None:
    b = stable_batch()
    b.ln_hrv[0, -3:] += math.log(0.7)  # three nights 30 % down
    b.resting_hr[0, -3:] += 7
    r = compute_batch(b)
    snap = snapshot(b, r, 0, b.days - 1)
    assert snap.band == "low"
    assert snap.score is not None and snap.score <= 39
    found = codes(snap.drivers)
    assert found[0] == "illness"
    assert "hrv_below_range" in found
    assert "rhr_elevated" in found
    text = " | ".join(snap.rendered_drivers())
    assert "HRV below your normal range" in text
    assert "Resting HR 7 bpm above baseline" in text
    assert "Possible illness or accumulated strain" in text
    assert "illness" in snap.flags


def test_hrv_far_above_range_does_not_raise_readiness() -> None:
    base = stable_batch()
    high = stable_batch()
    high.ln_hrv[0, -7:] += 0.5  # a week far above the normal range
    r_base, r_high = compute_batch(base), compute_batch(high)
    s_base, s_high = snapshot(base, r_base, 0, -1), snapshot(high, r_high, 0, -1)
    assert s_high.score is not None and s_base.score is not None
    assert r_high.score[0, -1] <= r_base.score[0, -1]
    k = CONTRIBUTORS.index("hrv_balance")
    assert r_high.components[0, -1, k] <= r_base.components[0, -1, k]
    assert "hrv_unusually_high" in codes(s_high.drivers)
    assert "hrv_unusually_high" in s_high.flags
    assert any("HRV unusually high" in t for t in s_high.rendered_drivers())


def test_two_days_of_data_is_calibrating_without_score() -> None:
    b = stable_batch(days=2)
    r = compute_batch(b)
    for day in (0, 1):
        snap = snapshot(b, r, 0, day)
        assert snap.score is None and snap.band is None and snap.status is None
        assert snap.reason == "calibrating"
        assert snap.components == () and snap.drivers == ()


def test_status_follows_valid_hrv_days() -> None:
    b = stable_batch(days=70)
    r = compute_batch(b)
    names = [snapshot(b, r, 0, d).status or snapshot(b, r, 0, d).reason for d in range(70)]
    assert names[:3] == ["calibrating"] * 3
    assert snapshot(b, r, 0, 2).score is None
    assert snapshot(b, r, 0, 3).score is not None  # 4th HRV day: score shown, status calibrating
    assert names[3] == names[19] == "calibrating"
    assert names[20] == names[58] == "provisional"
    assert names[59] == names[69] == "full"


def test_no_data_ever() -> None:
    b = SeriesBatch.empty(1, 10, START)
    r = compute_batch(b)
    assert snapshot(b, r, 0, 9).reason == "no_data"
    assert (r.reason == 2).all()


def test_missing_day_is_not_zero() -> None:
    b = stable_batch()
    d = b.days - 1
    b.ln_hrv[0, d - 1] = np.nan
    b.resting_hr[0, d - 1] = np.nan
    b.sleep_min[0, d - 1] = np.nan
    r = compute_batch(b)
    window = b.ln_hrv[0, d - 6 : d + 1]
    assert r.ln7[0, d] == pytest.approx(float(np.nanmean(window)), abs=1e-12)
    assert 3.9 < r.ln7[0, d] < 4.1  # a zero would drag the mean towards 3.4
    snap = snapshot(b, r, 0, d)
    assert snap.band == "normal"
    assert not snap.stale  # today's readings are there


def test_eight_days_without_signal_is_no_recent_data() -> None:
    b = stable_batch(days=70)
    for arr in (b.ln_hrv, b.resting_hr, b.sleep_min):
        arr[0, 60:] = np.nan  # last signal on day 59
    r = compute_batch(b)
    assert (r.reason[0, 67:] == 3).all()
    assert snapshot(b, r, 0, 67).reason == "no_recent_data"  # 8 days since the last signal
    assert snapshot(b, r, 0, 69).reason == "no_recent_data"
    two_days = snapshot(b, r, 0, 61)  # stale but still scored from the 7-day averages
    assert two_days.score is not None and two_days.stale


def test_sleep_debt_alone_does_not_make_a_score() -> None:
    b = stable_batch(days=70)
    b.ln_hrv[0, 40:] = np.nan  # HRV and resting HR stopped a month ago: nothing left to carry
    b.resting_hr[0, 40:] = np.nan
    b.sleep_min[0, 64:] = np.nan  # 6 nights without sleep either; the debt still has 8 of 14
    r = compute_batch(b)
    assert not math.isnan(r.debt_hours[0, 69])
    assert snapshot(b, r, 0, 69).reason == "no_recent_data"


def test_seven_silent_days_still_score_and_the_eighth_does_not() -> None:
    b = stable_batch(days=80)
    for arr in (b.ln_hrv, b.resting_hr, b.sleep_min):
        arr[0, 70:] = np.nan  # last signal on day 69
    r = compute_batch(b)
    for day in range(70, 77):  # 1–7 days of silence: stale, still scored
        snap = snapshot(b, r, 0, day)
        assert snap.score is not None and snap.stale, day
    for day in range(74, 77):  # under 3 readings in the week: the 7-day mean as of day 69
        assert r.ln7[0, day] == pytest.approx(float(np.mean(b.ln_hrv[0, 63:70])))
    assert snapshot(b, r, 0, 77).reason == "no_recent_data"


def test_stale_fallback_sets_stale_and_names_the_age() -> None:
    b = stable_batch()
    b.ln_hrv[0, -2:] = np.nan
    b.resting_hr[0, -2:] = np.nan  # sleep is still there
    r = compute_batch(b)
    snap = snapshot(b, r, 0, -1)
    assert snap.score is not None
    assert snap.stale and "stale" in snap.flags
    stale = [d for d in snap.drivers if d.code in ("stale_hrv", "stale_rhr")]
    assert {d.code for d in stale} == {"stale_hrv", "stale_rhr"}
    assert all(d.values["age_days"] == 2 for d in stale)
    text = snap.rendered_drivers()
    hrv_words = "No HRV reading for last night (latest 2 days ago); scored without it, on your 7-day average"
    assert hrv_words in text
    assert "No resting HR for last night (latest 2 days ago); 7-day average used" in text
    # Last night's HRV is missing, not a typical night: its contributor is left out.
    assert snap.baselines["lastNightLnHrv"] is None
    assert "last_night_hrv" not in {c.name for c in snap.components}
    # Resting HR more than 36 h old: the 7-day mean as of the latest reading stands in.
    assert snap.baselines["restingHr"] == pytest.approx(float(np.mean(b.resting_hr[0, -9:-2])))


def test_one_missing_night_is_stale_and_weighed_as_missing() -> None:
    b = stable_batch()
    b.ln_hrv[0, -1] = np.nan
    b.resting_hr[0, -1] = np.nan
    r = compute_batch(b)
    snap = snapshot(b, r, 0, -1)
    assert snap.stale and "stale" in snap.flags
    assert snap.baselines["lastNightLnHrv"] is None
    assert "last_night_hrv" not in {c.name for c in snap.components}
    assert snap.baselines["restingHr"] == b.resting_hr[0, -2]  # yesterday's reading, < 36 h old
    text = snap.rendered_drivers()
    assert "No resting HR for last night (latest yesterday); that value used" in text


def sdnn_switch_batch(split_segments: bool) -> SeriesBatch:
    """60 days of rMSSD (ln ≈ 4.0), then the athlete's only device reports SDNN (ln ≈ 4.6)."""
    b = stable_batch(days=100)
    rng = np.random.default_rng(7)
    b.ln_hrv[0, 60:] = 4.6 + rng.normal(0, 0.08, 40)
    b.hrv_is_sdnn[0, 60:] = True
    if split_segments:
        b.segment[0, 60:] = 1
    return b


@pytest.mark.parametrize("split_segments", [True, False])
def test_sdnn_gets_its_own_baseline(split_segments: bool) -> None:
    b = sdnn_switch_batch(split_segments)
    r = compute_batch(b)
    assert (r.segment_start[0, 60:] == 60).all()
    assert r.hrv_days[0, 60] == 1  # the count restarts with the new metric
    for day in (60, 61, 62):
        # Not "calibrating" after two months of HRV: scored on the rest, the change said in words.
        snap = snapshot(b, r, 0, day)
        assert snap.score is not None and snap.status == "provisional"
        assert "hrv_balance" not in {c.name for c in snap.components}
        assert "source_changed" in {d.code for d in snap.drivers}
    assert any("HRV comes from a new device" in t for t in snapshot(b, r, 0, 61).rendered_drivers())
    snap = snapshot(b, r, 0, 99)
    mean_sdnn = float(np.mean(b.ln_hrv[0, 60:99]))
    assert snap.baselines["normalLow"] is not None and snap.baselines["normalHigh"] is not None
    centre = (snap.baselines["normalLow"] + snap.baselines["normalHigh"]) / 2
    assert centre == pytest.approx(mean_sdnn, abs=1e-8)  # no rMSSD day in the baseline
    assert snap.hrv_metric == "SDNN"
    assert snap.band == "normal"  # a jump of +0.6 ln units is not "unusually high" in its own segment
    hrv_facts = [d for d in snap.drivers if d.code.startswith("hrv")]
    assert hrv_facts and all(d.values["metric"] == "SDNN" for d in hrv_facts)
    assert any("ln SDNN" in render(d) for d in hrv_facts)
    # Also the 7-day mean on the first SDNN days never mixes in rMSSD readings.
    assert math.isnan(r.ln7[0, 61])
    assert r.ln7[0, 62] == pytest.approx(float(np.mean(b.ln_hrv[0, 60:63])))


def test_explicit_and_derived_sdnn_segments_agree() -> None:
    a, b = sdnn_switch_batch(True), sdnn_switch_batch(False)
    ra, rb = compute_batch(a), compute_batch(b)
    np.testing.assert_array_equal(ra.score, rb.score)
    np.testing.assert_array_equal(ra.normal_low, rb.normal_low)


def test_training_load_only_when_logged() -> None:
    b = stable_batch(days=90, athletes=2)
    b.load[1, :] = 60.0
    b.load[1, ::7] = np.nan  # a weekly rest day, not a missing value
    b.load[1, -7:] = 150.0  # an acute spike
    r = compute_batch(b)
    k = CONTRIBUTORS.index("training_load")
    assert math.isnan(r.components[0, -1, k])
    assert not math.isnan(r.components[1, -1, k])
    assert r.acwr[1, -1] > 1.5
    snap = snapshot(b, r, 1, -1)
    assert "load_spike" in codes(snap.drivers) and "load_spike" in snap.flags
    assert sum(c.weight for c in snap.components) == pytest.approx(1.0, abs=1e-3)
    # Before three weeks of logging there is no load contributor.
    assert math.isnan(r.components[1, 19, k])


def test_weights_sum_to_one_and_cover_contributors() -> None:
    assert tuple(WEIGHTS) == CONTRIBUTORS
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- batch == single


def _assert_same_row(big: ReadinessArrays, i: int, small: ReadinessArrays) -> None:
    for f in dataclasses.fields(ReadinessArrays):
        np.testing.assert_array_equal(getattr(big, f.name)[i], getattr(small, f.name)[0], err_msg=f.name)


def test_single_athlete_snapshot_equals_batch_snapshot() -> None:
    rng = np.random.default_rng(3)
    b = stable_batch(days=120, athletes=50, seed=11)
    b.ln_hrv[rng.random(b.ln_hrv.shape) < 0.15] = np.nan
    b.sleep_min[rng.random(b.sleep_min.shape) < 0.1] = np.nan
    b.load[::3] = np.round(rng.gamma(2.0, 30.0, b.load[::3].shape))
    b.segment[5, 80:] = 1
    b.hrv_is_sdnn[7, :] = True
    b.sleep_need_min[9] = 540
    b.ln_hrv[13, 100:110] = np.nan  # stale stretch
    full = compute_batch(b, workers=2, block_athletes=16)
    for athlete in (0, 5, 7, 9, 13, 49):
        one = b.subset([athlete])
        single = compute_batch(one, workers=1)
        _assert_same_row(full, athlete, single)
        for day in (2, 30, 85, 105, 119):
            assert snapshot(one, single, 0, day) == snapshot(b, full, athlete, day)


def test_snapshot_accepts_a_date_and_hash_is_stable() -> None:
    b = stable_batch()
    r = compute_batch(b)
    day = b.days - 1
    by_date = snapshot(b, r, 0, b.date_of(day))
    assert by_date == snapshot(b, r, 0, day)
    assert by_date.date == START + datetime.timedelta(days=day)
    # Changing an input far outside every window keeps the hash; inside a window changes it.
    old = stable_batch()
    old.ln_hrv[0, 5] += 0.01
    assert snapshot(old, compute_batch(old), 0, day).inputs_hash == by_date.inputs_hash
    recent = stable_batch()
    recent.sleep_min[0, day - 3] += 10
    assert snapshot(recent, compute_batch(recent), 0, day).inputs_hash != by_date.inputs_hash
