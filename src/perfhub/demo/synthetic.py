"""Deterministic generator of plausible athlete nightly data (HRV rMSSD, resting HR, sleep).

Pure functions, no I/O. Everything is driven by ``numpy.random.default_rng`` so that the
same arguments always give the same output.

Model (per athlete, one value per morning ``date``; a night belongs to the date the athlete
woke up, docs/readiness.md#canonical-days):

* ln(rMSSD) = individual baseline + AR(1) noise + white noise + weekly training rhythm
  (a hard session the day before lowers it, a rest day raises it) + a small sleep effect
  + episode offsets.  The day-to-day SD of ln(rMSSD) (≈ CV of rMSSD) is the profile's
  ``ln_rmssd_sd`` (0.05–0.11).
* Resting HR mirrors it: AR(1) noise, +1–2 bpm after hard days, episode offsets.
* Episodes, 1–3 per 120 days: *illness* (3–6 days of HRV −20–35 % and resting HR
  +5–9 bpm, short recovery tail, longer and poorer sleep, no training) and *overreaching*
  (1–2 weeks of gradual HRV decline to −11–20 % and RHR +2–4 bpm, then recovery).
* Sleep: weekend mornings longer, late evening sessions shorten the following night,
  some athletes are chronically short sleepers; efficiency 75–97 %, latency 3–45 min,
  0–6 wakes.
* Missing nights ~5–8 % per signal, in runs of 1–3; sometimes both signals are missing
  (device not worn), sometimes only one.  The last day (``end``) is always present so a
  fresh demo has data for "today".
"""

from __future__ import annotations

import datetime
import math
import zlib
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from perfhub.demo.profiles import DEMO_ZONES, VENDORS, AthleteProfile, check_seed, make_profiles

__all__ = [
    "DEMO_ZONES",
    "VENDORS",
    "AthleteProfile",
    "HrvNight",
    "SleepNight",
    "TrainingDay",
    "generate_nights",
    "make_profiles",
    "simulate",
    "to_ingest_payloads",
]


# Validation ranges of the ingest API; generated values always stay well inside them.
RMSSD_RANGE = (1.0, 300.0)
RESTING_HR_RANGE = (25.0, 120.0)
SLEEP_MIN_RANGE = (0, 1440)
EFFICIENCY_RANGE = (0.0, 100.0)

# Tighter, physiologically plausible clips used by the generator.
_RMSSD_CLIP = (8.0, 250.0)
_RHR_CLIP = (32.0, 95.0)
_SLEEP_CLIP = (150, 720)
_EFF_CLIP = (75.0, 97.0)
_LATENCY_CLIP = (3.0, 45.0)
_WAKES_CLIP = (0, 6)


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class HrvNight:
    date: datetime.date
    rmssd_ms: float
    resting_hr: float
    vendor: str
    captured_at: datetime.datetime  # tz-aware UTC, the morning of `date` in the athlete's zone


@dataclass(frozen=True)
class SleepNight:
    date: datetime.date
    duration_min: int
    efficiency_pct: float
    latency_min: float
    wake_count: int
    vendor: str
    captured_at: datetime.datetime  # tz-aware UTC, the morning of `date` in the athlete's zone


# --------------------------------------------------------------------------- nights

# Training load of the session done on each weekday (Mon=0): rest, hard, easy, hard, rest/easy,
# long, moderate.  The morning after reflects it.
_WEEK_LOAD = np.array([0.1, 1.0, 0.4, 1.0, 0.2, 0.9, 0.6])


@dataclass
class _Episodes:
    ln_off: np.ndarray[Any, np.dtype[np.float64]]
    rhr_off: np.ndarray[Any, np.dtype[np.float64]]
    sleep_off: np.ndarray[Any, np.dtype[np.float64]]
    eff_off: np.ndarray[Any, np.dtype[np.float64]]
    wake_off: np.ndarray[Any, np.dtype[np.float64]]
    load_override: np.ndarray[Any, np.dtype[np.float64]]  # NaN = normal week


def _plan_episodes(rng: np.random.Generator, days: int) -> _Episodes:
    ep = _Episodes(
        ln_off=np.zeros(days),
        rhr_off=np.zeros(days),
        sleep_off=np.zeros(days),
        eff_off=np.zeros(days),
        wake_off=np.zeros(days),
        load_override=np.full(days, np.nan),
    )
    n = round(float(rng.uniform(1.0, 3.49)) * days / 120.0)
    busy = np.zeros(days, dtype=bool)
    earliest = 14 if days >= 60 else 0
    for _ in range(n):
        kind = "illness" if rng.random() < 0.55 else "overreaching"
        if kind == "illness":
            length = int(rng.integers(3, 7))
            tail = 2
        else:
            length = int(rng.integers(7, 15))
            tail = int(rng.integers(4, 8))
        span = length + tail
        if span + earliest > days:
            continue
        placed = -1
        for _try in range(30):
            start = int(rng.integers(earliest, days - span + 1))
            lo, hi = max(0, start - 10), min(days, start + span + 10)
            if not busy[lo:hi].any():
                placed = start
                break
        if placed < 0:
            continue
        s = placed
        busy[s : s + span] = True
        if kind == "illness":
            ln_drop = math.log(1.0 - float(rng.uniform(0.20, 0.35)))
            rhr_up = float(rng.uniform(5.0, 9.0))
            shape = np.concatenate([np.ones(length), [0.5, 0.2]])
            ep.ln_off[s : s + span] += ln_drop * shape
            ep.rhr_off[s : s + span] += rhr_up * shape
            ep.sleep_off[s : s + span] += float(rng.uniform(20.0, 60.0)) * shape
            ep.eff_off[s : s + span] -= float(rng.uniform(3.0, 8.0)) * shape
            ep.wake_off[s : s + span] += 1.5 * shape
            # No training while ill (the day before the first bad morning onwards).
            ep.load_override[max(0, s - 1) : s + length] = 0.0
            ep.load_override[s + length : s + span] = 0.3
        else:
            ln_drop = -float(rng.uniform(0.12, 0.22))
            rhr_up = float(rng.uniform(2.0, 4.0))
            build_up = np.linspace(1.0 / length, 1.0, length)
            recovery = np.linspace(1.0, 0.0, tail + 2)[1:-1]
            ramp = np.concatenate([build_up, recovery])
            ep.ln_off[s : s + span] += ln_drop * ramp
            ep.rhr_off[s : s + span] += rhr_up * ramp
            ep.eff_off[s : s + span] -= 2.0 * ramp
            ep.wake_off[s : s + span] += 0.6 * ramp
            ep.load_override[max(0, s - 1) : s + length - 1] = 1.0  # a heavy block
            ep.load_override[s + length - 1 : s + span] = 0.25  # then backing off
    return ep


def _missing_masks(rng: np.random.Generator, days: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Boolean masks (hrv_missing, sleep_missing); runs of 1–3 nights, ~5–8 % per signal."""
    rate = float(rng.uniform(0.05, 0.08))
    mean_run = 1.55  # E[run length] for lengths 1/2/3 with p .6/.25/.15

    def runs(per_day_rate: float) -> np.ndarray[Any, Any]:
        mask = np.zeros(days, dtype=bool)
        p_start = per_day_rate / mean_run
        starts = rng.random(days) < p_start
        lengths = rng.choice([1, 2, 3], size=days, p=[0.6, 0.25, 0.15])
        for i in np.flatnonzero(starts):
            mask[i : i + int(lengths[i])] = True
        return mask

    both = runs(rate * 0.6)  # device not worn / not synced
    hrv_only = runs(rate * 0.4)  # no valid HRV window
    sleep_only = runs(rate * 0.4)  # sleep not detected / scored
    hrv_missing = both | hrv_only
    sleep_missing = both | sleep_only
    if days:
        hrv_missing[-1] = False
        sleep_missing[-1] = False
    return hrv_missing, sleep_missing


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Stationary AR(1) series with marginal SD ``sd``."""
    out = np.empty(n)
    if n == 0:
        return out
    innov = rng.normal(0.0, sd * math.sqrt(1.0 - phi * phi), n)
    out[0] = rng.normal(0.0, sd)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + innov[t]
    return out


@dataclass(frozen=True)
class TrainingDay:
    """The training the nights were made with, for one day (the mornings after reflect it).

    ``load`` is relative (1.0 a hard session, 0 nothing); ``kind`` says why it is what it is:
    ``usual`` (the weekly rhythm), ``skipped``, ``ill`` (no training while ill), ``block`` (the
    heavy block before overreaching) or ``easing`` (backing off after an episode).
    """

    date: datetime.date
    load: float
    kind: str


def generate_nights(
    profile: AthleteProfile, days: int, end: datetime.date, seed: int
) -> tuple[list[HrvNight], list[SleepNight]]:
    """Nightly HRV/RHR and sleep for the ``days`` mornings ending at ``end`` (inclusive).

    Deterministic for (profile, days, end, seed); the profile's e-mail local part is mixed into
    the seed, so athletes sharing a seed still get different nights.  Missing nights are simply
    absent from the lists; both lists are strictly increasing by date and end at ``end``.
    """
    hrv, sleep, _ = simulate(profile, days, end, seed)
    return hrv, sleep


def simulate(
    profile: AthleteProfile, days: int, end: datetime.date, seed: int
) -> tuple[list[HrvNight], list[SleepNight], list[TrainingDay]]:
    """:func:`generate_nights` and the training behind them: one :class:`TrainingDay` for each
    day before a generated morning (the ``days`` days ending the day before ``end``)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    if profile.vendor not in VENDORS:
        raise ValueError(f"unknown vendor {profile.vendor!r}")
    rng = np.random.default_rng([check_seed(seed), zlib.crc32(profile.email_local.encode())])
    zone = ZoneInfo(profile.tz)
    dates = [end - datetime.timedelta(days=days - 1 - i) for i in range(days)]
    weekday = np.array([d.weekday() for d in dates], dtype=int)

    episodes = _plan_episodes(rng, days)
    hrv_missing, sleep_missing = _missing_masks(rng, days)

    # Training done the day before each morning; a few sessions skipped or swapped.
    prev_weekday = (weekday - 1) % 7
    load = _WEEK_LOAD[prev_weekday].copy()
    skipped = rng.random(days) < 0.08
    load[skipped] = 0.0
    load += rng.normal(0.0, 0.08, days)
    load = np.where(np.isnan(episodes.load_override), load, episodes.load_override)
    load = np.clip(load, 0.0, 1.2)
    load_c = load - float(_WEEK_LOAD.mean())
    # Evening sessions (the day before) shorten the night and delay sleep onset.
    late = (load >= 0.55) & (rng.random(days) < 0.25)

    # ---- sleep
    sd_sleep = profile.sleep_sd_min
    weekend = np.isin(weekday, (5, 6))  # Saturday and Sunday mornings
    sleep = (
        profile.sleep_mean_min
        + _ar1(rng, days, 0.45 * sd_sleep, 0.3)
        + rng.normal(0.0, 0.75 * sd_sleep, days)
        + np.where(weekend, rng.uniform(25.0, 65.0, days), -8.0)
        - np.where(late, rng.uniform(30.0, 80.0, days), 0.0)
        + episodes.sleep_off
    )
    sleep = np.clip(np.rint(sleep), *_SLEEP_CLIP)
    eff_base = float(rng.uniform(84.0, 93.0))
    eff = eff_base + rng.normal(0.0, 2.8, days) + episodes.eff_off - np.where(late, 1.5, 0.0)
    eff = np.clip(np.round(eff, 1), *_EFF_CLIP)
    lat_median = float(rng.uniform(7.0, 17.0))
    latency = lat_median * np.exp(rng.normal(0.0, 0.45, days))
    latency += np.where(late, rng.uniform(6.0, 15.0, days), 0.0)
    latency = np.clip(np.round(latency, 1), *_LATENCY_CLIP)
    wake_rate = float(rng.uniform(0.8, 2.4))
    wakes = rng.poisson(np.maximum(wake_rate + episodes.wake_off, 0.1))
    wakes = np.clip(wakes, *_WAKES_CLIP)

    # ---- HRV (ln rMSSD) and resting HR
    sd = profile.ln_rmssd_sd
    ar = _ar1(rng, days, sd * math.sqrt(0.55), 0.55)
    white = rng.normal(0.0, sd * math.sqrt(0.35), days)
    sleep_effect = np.clip(0.03 * (sleep - profile.sleep_mean_min) / 60.0, -0.05, 0.03)
    ln_rmssd = (
        profile.ln_rmssd_mean
        + ar
        + white
        - 0.07 * load_c
        + sleep_effect
        - np.where(late, 0.03, 0.0)
        + episodes.ln_off
    )
    rmssd = np.clip(np.round(np.exp(ln_rmssd), 1), *_RMSSD_CLIP)
    # Resting HR co-moves (negatively) with the autocorrelated HRV component.
    rhr = (
        profile.resting_hr
        - 10.0 * ar
        + _ar1(rng, days, 1.0, 0.4)
        + rng.normal(0.0, 0.8, days)
        + 1.8 * load_c
        + np.where(late, 1.0, 0.0)
        + episodes.rhr_off
    )
    rhr = np.clip(np.rint(rhr), *_RHR_CLIP)

    # ---- capture instant: wake-up + sync delay, local morning -> UTC
    wake_min = 6.5 * 60 + np.where(weekend, 55.0, 0.0) + rng.normal(0.0, 22.0, days)
    capture_min = np.clip(wake_min + rng.uniform(3.0, 45.0, days), 4 * 60, 11 * 60 + 59)

    hrv_out: list[HrvNight] = []
    sleep_out: list[SleepNight] = []
    for i, day in enumerate(dates):
        minutes = int(capture_min[i])
        local = datetime.datetime.combine(day, datetime.time(minutes // 60, minutes % 60), tzinfo=zone)
        captured = local.astimezone(datetime.UTC)
        if not hrv_missing[i]:
            hrv_out.append(
                HrvNight(
                    date=day,
                    rmssd_ms=float(rmssd[i]),
                    resting_hr=float(rhr[i]),
                    vendor=profile.vendor,
                    captured_at=captured,
                )
            )
        if not sleep_missing[i]:
            sleep_out.append(
                SleepNight(
                    date=day,
                    duration_min=int(sleep[i]),
                    efficiency_pct=float(eff[i]),
                    latency_min=float(latency[i]),
                    wake_count=int(wakes[i]),
                    vendor=profile.vendor,
                    captured_at=captured,
                )
            )
    kinds = np.where(
        np.isnan(episodes.load_override),
        np.where(skipped, "skipped", "usual"),
        np.where(
            episodes.load_override == 0.0,
            "ill",
            np.where(episodes.load_override == 1.0, "block", "easing"),
        ),
    )
    training = [
        TrainingDay(day - datetime.timedelta(days=1), round(float(load[i]), 3), str(kinds[i]))
        for i, day in enumerate(dates)
    ]
    return hrv_out, sleep_out, training


# --------------------------------------------------------------------------- payloads


def _iso_utc(ts: datetime.datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("captured_at must be timezone-aware")
    return ts.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def to_ingest_payloads(
    user_id: int, hrv: list[HrvNight], sleep: list[SleepNight]
) -> list[tuple[str, dict[str, Any]]]:
    """Bodies for ``POST /ingest/hrv`` and ``POST /ingest/sleep`` (docs/http-api.md, "Ingest").

    Returns ``(kind, body)`` with kind ``"hrv"`` or ``"sleep"``, in chronological order (by
    date; a day's HRV before its sleep).  Bodies hold only JSON-native types.
    """
    items: list[tuple[datetime.date, int, str, dict[str, Any]]] = []
    for h in hrv:
        body: dict[str, Any] = {
            "userId": user_id,
            "date": h.date.isoformat(),
            "rMSSD": float(h.rmssd_ms),
            "restingHr": float(h.resting_hr),
            "vendor": h.vendor,
            "capturedAt": _iso_utc(h.captured_at),
        }
        items.append((h.date, 0, "hrv", body))
    for s in sleep:
        body = {
            "userId": user_id,
            "date": s.date.isoformat(),
            "durationMin": int(s.duration_min),
            "efficiencyPct": float(s.efficiency_pct),
            "latencyMin": float(s.latency_min),
            "wakeCount": int(s.wake_count),
            "vendor": s.vendor,
            "capturedAt": _iso_utc(s.captured_at),
        }
        items.append((s.date, 1, "sleep", body))
    items.sort(key=lambda it: (it[0], it[1]))
    return [(kind, body) for _, _, kind, body in items]
