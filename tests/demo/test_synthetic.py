"""Tests for the deterministic synthetic athlete-data generator."""

from __future__ import annotations

import datetime
import itertools
import json
import math
import re
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfhub.demo.synthetic import (
    VENDORS,
    AthleteProfile,
    HrvNight,
    SleepNight,
    generate_nights,
    make_profiles,
    to_ingest_payloads,
)

END = datetime.date(2025, 3, 30)
DAYS = 120
HRV_KEYS = {"userId", "date", "rMSSD", "restingHr", "vendor", "capturedAt"}
SLEEP_KEYS = {
    "userId",
    "date",
    "durationMin",
    "efficiencyPct",
    "latencyMin",
    "wakeCount",
    "vendor",
    "capturedAt",
}


Team = list[tuple[AthleteProfile, list[HrvNight], list[SleepNight]]]


@pytest.fixture(scope="module")
def team() -> Team:
    out = []
    for i, profile in enumerate(make_profiles(12, seed=7)):
        hrv, sleep = generate_nights(profile, DAYS, END, seed=100 + i)
        out.append((profile, hrv, sleep))
    return out


# ---------------------------------------------------------------- determinism


def test_make_profiles_deterministic() -> None:
    assert make_profiles(20, seed=3) == make_profiles(20, seed=3)
    assert make_profiles(20, seed=3) != make_profiles(20, seed=4)
    assert make_profiles(0) == []


def test_generate_nights_deterministic() -> None:
    profile = make_profiles(1, seed=11)[0]
    first = generate_nights(profile, DAYS, END, seed=42)
    second = generate_nights(profile, DAYS, END, seed=42)
    assert first == second
    assert to_ingest_payloads(3, *first) == to_ingest_payloads(3, *second)
    other = generate_nights(profile, DAYS, END, seed=43)
    assert [h.rmssd_ms for h in other[0]] != [h.rmssd_ms for h in first[0]]


def test_negative_arguments_rejected() -> None:
    profile = make_profiles(1)[0]
    with pytest.raises(ValueError):
        make_profiles(-1)
    with pytest.raises(ValueError):
        generate_nights(profile, -1, END, seed=1)
    with pytest.raises(ValueError):
        generate_nights(profile, 10, END, seed=-1)


# ---------------------------------------------------------------- profiles


def test_profiles_plausible_and_unique() -> None:
    profiles = make_profiles(60, seed=7)
    assert len({p.name for p in profiles}) == 60
    assert len({p.email_local for p in profiles}) == 60
    for p in profiles:
        assert len(p.name.split(" ")) >= 2
        assert re.fullmatch(r"[a-z]+\.[a-z]+\d*", p.email_local), p.email_local
        ZoneInfo(p.tz)  # a real IANA zone
        assert 25.0 <= math.exp(p.ln_rmssd_mean) <= 120.0
        assert 0.04 <= p.ln_rmssd_sd <= 0.12
        assert 40.0 <= p.resting_hr <= 62.0
        assert 300.0 <= p.sleep_mean_min <= 540.0
        assert p.sleep_sd_min > 0
        assert p.vendor in VENDORS
    # Varied: several zones and vendors, some chronically short sleepers.
    assert len({p.tz for p in profiles}) >= 5
    assert {p.vendor for p in profiles} == set(VENDORS)
    assert any(p.sleep_mean_min < 410 for p in profiles)
    assert np.ptp([math.exp(p.ln_rmssd_mean) for p in profiles]) > 40


def test_email_local_strips_diacritics() -> None:
    for p in make_profiles(200, seed=1):
        assert p.email_local.isascii()


# ---------------------------------------------------------------- dates and ranges


def _assert_valid(
    hrv: list[HrvNight], sleep: list[SleepNight], profile: AthleteProfile, days: int, end: datetime.date
) -> None:
    start = end - datetime.timedelta(days=days - 1)
    for series in (hrv, sleep):
        dates = [n.date for n in series]
        assert all(a < b for a, b in itertools.pairwise(dates))
        if days:
            assert dates[-1] == end
            assert dates[0] >= start
        else:
            assert dates == []
    for h in hrv:
        assert 1.0 <= h.rmssd_ms <= 300.0
        assert 25.0 <= h.resting_hr <= 120.0
        assert h.vendor == profile.vendor
    for s in sleep:
        assert isinstance(s.duration_min, int)
        assert 0 <= s.duration_min <= 1440
        assert 75.0 <= s.efficiency_pct <= 97.0
        assert 3.0 <= s.latency_min <= 45.0
        assert isinstance(s.wake_count, int)
        assert 0 <= s.wake_count <= 6
        assert s.vendor == profile.vendor
    zone = ZoneInfo(profile.tz)
    for n in [*hrv, *sleep]:
        assert n.captured_at.utcoffset() == datetime.timedelta(0)
        local = n.captured_at.astimezone(zone)
        assert local.date() == n.date  # the morning of that date, in the athlete's zone
        assert 4 <= local.hour < 12


def test_dates_and_ranges(team: Team) -> None:
    for profile, hrv, sleep in team:
        _assert_valid(hrv, sleep, profile, DAYS, END)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    profile_seed=st.integers(min_value=0, max_value=1000),
    days=st.integers(min_value=0, max_value=400),
    end=st.dates(min_value=datetime.date(2015, 1, 1), max_value=datetime.date(2035, 12, 31)),
)
def test_ranges_property(seed: int, profile_seed: int, days: int, end: datetime.date) -> None:
    profile = make_profiles(1, seed=profile_seed)[0]
    hrv, sleep = generate_nights(profile, days, end, seed=seed)
    _assert_valid(hrv, sleep, profile, days, end)


def test_single_day() -> None:
    profile = make_profiles(1)[0]
    hrv, sleep = generate_nights(profile, 1, END, seed=5)
    assert [h.date for h in hrv] == [END]
    assert [s.date for s in sleep] == [END]


# ---------------------------------------------------------------- missing nights


def test_missing_rate_and_patterns(team: Team) -> None:
    window = [END - datetime.timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    total = len(team) * DAYS
    hrv_missing = sum(DAYS - len(hrv) for _, hrv, _ in team) / total
    sleep_missing = sum(DAYS - len(sleep) for _, _, sleep in team) / total
    assert 0.03 <= hrv_missing <= 0.11
    assert 0.03 <= sleep_missing <= 0.11

    both = only_one = runs_of_two_plus = 0
    for _, hrv, sleep in team:
        h_dates = {h.date for h in hrv}
        s_dates = {s.date for s in sleep}
        both += sum(1 for d in window if d not in h_dates and d not in s_dates)
        only_one += sum(1 for d in window if (d in h_dates) != (d in s_dates))
        missing = [d not in h_dates for d in window]
        runs_of_two_plus += sum(1 for a, b in itertools.pairwise(missing) if a and b)
    assert both > 0  # device not worn
    assert only_one > 0  # signals missing independently
    assert runs_of_two_plus > 0  # 2–3 in a row happens


# ---------------------------------------------------------------- realism


def _series(hrv: list[HrvNight]) -> tuple[np.ndarray, np.ndarray, list[datetime.date]]:
    return (
        np.log([h.rmssd_ms for h in hrv]),
        np.array([h.resting_hr for h in hrv]),
        [h.date for h in hrv],
    )


def test_day_to_day_variation_realistic(
    team: Team,
) -> None:
    cvs, lag1 = [], []
    for _profile, hrv, _ in team:
        ln, _, dates = _series(hrv)
        # Robust day-to-day SD (MAD-based, so episodes don't dominate) ≈ CV of rMSSD.
        resid = ln - np.median(ln)
        cvs.append(1.4826 * np.median(np.abs(resid - np.median(resid))))
        consecutive = [i for i in range(1, len(dates)) if (dates[i] - dates[i - 1]).days == 1]
        a, b = resid[[i - 1 for i in consecutive]], resid[consecutive]
        lag1.append(float(np.corrcoef(a, b)[0, 1]))
    assert 0.05 <= float(np.median(cvs)) <= 0.12
    assert all(0.03 <= cv <= 0.16 for cv in cvs)
    assert float(np.mean(lag1)) > 0.15  # autocorrelated, not white noise


def test_follows_individual_baseline(
    team: Team,
) -> None:
    for profile, hrv, _ in team:
        ln, rhr, _ = _series(hrv)
        assert abs(float(np.median(ln)) - profile.ln_rmssd_mean) < 0.12
        assert abs(float(np.median(rhr)) - profile.resting_hr) < 3.5


def test_illness_like_dip_detectable(
    team: Team,
) -> None:
    def has_dip(profile: AthleteProfile, hrv: list[HrvNight]) -> bool:
        baseline = math.exp(profile.ln_rmssd_mean)
        run = 0
        prev: datetime.date | None = None
        for h in hrv:
            sick = h.rmssd_ms <= 0.85 * baseline and h.resting_hr >= profile.resting_hr + 4
            contiguous = prev is not None and (h.date - prev).days <= 2  # tolerate one missing night
            run = (run + 1 if contiguous else 1) if sick else 0
            prev = h.date if sick else None
            if run >= 3:
                return True
        return False

    dips = sum(has_dip(profile, hrv) for profile, hrv, _ in team)
    assert dips >= 2


def test_episodes_are_rare(team: Team) -> None:
    # Most nights sit near baseline: episodes (1–3 per 120 days) stay the exception.
    for profile, hrv, _ in team:
        ln, _, _ = _series(hrv)
        low = np.mean(ln < profile.ln_rmssd_mean - 0.2)
        assert low < 0.25


def test_weekly_rhythm(team: Team) -> None:
    # Mornings after the weekly hard sessions (Tue, Thu) vs. after the Monday rest day.
    after_hard, after_rest = [], []
    weekend_sleep, weekday_sleep = [], []
    for profile, hrv, sleep in team:
        for h in hrv:
            d = math.log(h.rmssd_ms) - profile.ln_rmssd_mean
            if h.date.weekday() in (2, 4):
                after_hard.append(d)
            elif h.date.weekday() == 1:
                after_rest.append(d)
        for s in sleep:
            (weekend_sleep if s.date.weekday() in (5, 6) else weekday_sleep).append(
                s.duration_min - profile.sleep_mean_min
            )
    assert np.mean(after_rest) > np.mean(after_hard) + 0.03
    assert np.mean(weekend_sleep) > np.mean(weekday_sleep) + 20


def test_sleep_varies(team: Team) -> None:
    for _profile, _, sleep in team:
        durations = np.array([s.duration_min for s in sleep])
        assert durations.std() > 20
        assert len({s.wake_count for s in sleep}) >= 3
        assert np.ptp([s.latency_min for s in sleep]) > 10


# ---------------------------------------------------------------- payloads


def test_payload_shape(team: Team) -> None:
    profile, hrv, sleep = team[0]
    payloads = to_ingest_payloads(17, hrv, sleep)
    assert len(payloads) == len(hrv) + len(sleep)
    kinds = [k for k, _ in payloads]
    assert kinds.count("hrv") == len(hrv)
    assert kinds.count("sleep") == len(sleep)

    json.dumps([body for _, body in payloads])  # JSON-native types only
    dates = [datetime.date.fromisoformat(body["date"]) for _, body in payloads]
    assert dates == sorted(dates)  # chronological

    for kind, body in payloads:
        assert body["userId"] == 17
        assert body["vendor"] == profile.vendor
        captured = datetime.datetime.fromisoformat(body["capturedAt"])
        assert captured.utcoffset() == datetime.timedelta(0)
        if kind == "hrv":
            assert set(body) == HRV_KEYS
            assert isinstance(body["rMSSD"], float)
            assert isinstance(body["restingHr"], float)
        else:
            assert kind == "sleep"
            assert set(body) == SLEEP_KEYS
            assert type(body["durationMin"]) is int
            assert type(body["wakeCount"]) is int
            assert isinstance(body["efficiencyPct"], float)
            assert isinstance(body["latencyMin"], float)

    first_hrv = next(body for kind, body in payloads if kind == "hrv")
    assert first_hrv["date"] == hrv[0].date.isoformat()
    assert first_hrv["rMSSD"] == hrv[0].rmssd_ms
    assert first_hrv["restingHr"] == hrv[0].resting_hr
    assert datetime.datetime.fromisoformat(first_hrv["capturedAt"]) == hrv[0].captured_at


def test_payloads_empty() -> None:
    assert to_ingest_payloads(1, [], []) == []
