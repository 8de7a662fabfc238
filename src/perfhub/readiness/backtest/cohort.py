"""A seeded synthetic cohort: athletes × days of nightly inputs with labelled episodes.

Each athlete has their own baselines (ln rMSSD, resting HR, habitual sleep, training volume);
nights vary around them with AR(1) noise, training follows a weekly rhythm, and some nights are
missing. Episodes (illness, overreaching, sleep restriction, saturation) are placed after a
warm-up long enough for the 60-day baselines to form, at most one per 30-day slot, so every
episode is followed by quiet days before the next.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.engine.batch import SeriesBatch

__all__ = ["LABELS", "SLOT_DAYS", "WARMUP_DAYS", "Cohort", "generate"]

LABELS: tuple[str, ...] = ("quiet", "illness", "overreaching", "sleep_restriction", "saturation")
QUIET, ILLNESS, OVERREACHING, SLEEP_RESTRICTION, SATURATION = range(len(LABELS))
# Episodes start only after this many days: the 60-day range needs its history first.
WARMUP_DAYS = 60
SLOT_DAYS = 30
# (shortest, longest) episode in days, by label code.
EPISODE_DAYS = {ILLNESS: (2, 5), OVERREACHING: (7, 14), SLEEP_RESTRICTION: (4, 7), SATURATION: (4, 10)}
EPISODE_CHANCE = 0.6  # of a slot holding an episode
AR_PHI = 0.3
# The weekly training rhythm (Monday first), in units of the athlete's own session load.
WEEK_RHYTHM = np.array([1.0, 0.6, 1.2, 0.0, 1.0, 1.5, 0.4])


@dataclass(frozen=True, eq=False)
class Cohort:
    """The engine's input block, each day's label (codes into :data:`LABELS`) and the episodes
    as flat arrays (athlete row, first day, length in days, label code)."""

    batch: SeriesBatch
    labels: NDArray[np.int8]
    episode_athlete: NDArray[np.int64]
    episode_start: NDArray[np.int64]
    episode_days: NDArray[np.int64]
    episode_kind: NDArray[np.int8]
    hrv_sd: NDArray[np.float64]  # each athlete's day-to-day SD of ln rMSSD


def generate(
    athletes: int, days: int, *, seed: int = 0, start: datetime.date = datetime.date(2025, 1, 6)
) -> Cohort:
    """The same cohort for the same arguments; ``start`` is a Monday so the rhythm lines up."""
    rng = np.random.default_rng(seed)
    a, d = athletes, days
    ln_mean = rng.uniform(3.6, 4.6, a)
    ln_sd = rng.uniform(0.05, 0.12, a)
    rhr_mean = rng.uniform(45.0, 65.0, a)
    habitual = rng.uniform(6.0, 8.5, a) * 60.0
    session_load = rng.uniform(200.0, 600.0, a)
    missing_rate = rng.uniform(0.05, 0.15, a)

    # AR(1) scaled so that the stationary SD is the athlete's own.
    z = rng.standard_normal((a, d))
    noise = np.empty((a, d))
    noise[:, 0] = z[:, 0]
    innovation = np.sqrt(1.0 - AR_PHI**2)
    for day in range(1, d):
        noise[:, day] = AR_PHI * noise[:, day - 1] + innovation * z[:, day]
    weekday = (np.arange(d) + start.weekday()) % 7
    load = session_load[:, None] * WEEK_RHYTHM[weekday][None, :] * rng.uniform(0.8, 1.2, (a, d))
    # A hard day lowers the next night a little: the rhythm shows in HRV as it does in life.
    after = np.zeros((a, d))
    after[:, 1:] = load[:, :-1] / (1.5 * session_load[:, None])
    ln_hrv = ln_mean[:, None] + ln_sd[:, None] * (noise - 0.4 * (after - after.mean()))
    resting_hr = rhr_mean[:, None] - 8.0 * ln_sd[:, None] * noise + rng.normal(0.0, 1.2, (a, d))
    weekend = (weekday >= 5)[None, :]
    sleep = habitual[:, None] + np.where(weekend, 35.0, -10.0) + rng.normal(0.0, 30.0, (a, d))
    efficiency = np.clip(rng.normal(89.0, 4.0, (a, d)), 60.0, 99.0)
    latency = np.clip(rng.normal(12.0, 6.0, (a, d)), 1.0, 90.0)
    wakes = rng.poisson(1.5, (a, d)).astype(np.float64)

    labels = np.zeros((a, d), dtype=np.int8)
    ep_athlete: list[NDArray[np.int64]] = []
    ep_start: list[NDArray[np.int64]] = []
    ep_days: list[NDArray[np.int64]] = []
    ep_kind: list[NDArray[np.int8]] = []
    column = np.arange(d)[None, :]
    rows = np.arange(a)
    for slot_start in range(WARMUP_DAYS, d - SLOT_DAYS + 1, SLOT_DAYS):
        has = rng.random(a) < EPISODE_CHANCE
        kind = rng.integers(1, len(LABELS), a).astype(np.int8)
        shortest = np.array([EPISODE_DAYS.get(int(k), (0, 0))[0] for k in range(len(LABELS))])
        longest = np.array([EPISODE_DAYS.get(int(k), (0, 0))[1] for k in range(len(LABELS))])
        length = rng.integers(shortest[kind], longest[kind] + 1)
        # Room after the episode inside the slot: the next one never runs into it.
        first = slot_start + rng.integers(0, SLOT_DAYS - 15, a)
        k = column - first[:, None]  # day within the episode
        inside = has[:, None] & (k >= 0) & (k < length[:, None])
        labels[inside] = np.broadcast_to(kind[:, None], (a, d))[inside]
        kk = np.where(inside, k, 0).astype(np.float64)
        sd = ln_sd[:, None]
        for code in (ILLNESS, OVERREACHING, SLEEP_RESTRICTION, SATURATION):
            m = inside & (kind == code)[:, None]
            if code == ILLNESS:
                ln_hrv = np.where(m, ln_mean[:, None] - rng.uniform(1.5, 2.5, (a, d)) * sd, ln_hrv)
                resting_hr = np.where(m, resting_hr + rng.uniform(5.0, 9.0, (a, 1)), resting_hr)
            elif code == OVERREACHING:
                slope = rng.uniform(0.02, 0.04, (a, 1))
                wider = 1.0 + 1.5 * kk / np.maximum(length[:, None] - 1, 1)
                decline = ln_mean[:, None] - slope * (kk + 1) + sd * noise * wider
                ln_hrv = np.where(m, decline, ln_hrv)
                resting_hr = np.where(m, resting_hr + 0.3 * (kk + 1), resting_hr)
            elif code == SLEEP_RESTRICTION:
                sleep = np.where(m, rng.uniform(300.0, 330.0, (a, d)), sleep)
            else:
                high = ln_mean[:, None] + rng.uniform(2.5, 4.0, (a, 1)) * sd + 0.3 * sd * noise
                ln_hrv = np.where(m, high, ln_hrv)
        ep_athlete.append(rows[has])
        ep_start.append(first[has])
        ep_days.append(length[has])
        ep_kind.append(kind[has])

    missing = rng.random((a, d)) < missing_rate[:, None]
    for arr in (ln_hrv, resting_hr, sleep, efficiency, latency, wakes):
        arr[missing] = np.nan
    batch = SeriesBatch(
        start=start,
        ln_hrv=ln_hrv,
        hrv_is_sdnn=np.zeros((a, d), dtype=np.bool_),
        resting_hr=resting_hr,
        sleep_min=sleep,
        efficiency_pct=efficiency,
        latency_min=latency,
        wake_count=wakes,
        load=load,
        segment=np.zeros((a, d), dtype=np.int64),
        sleep_need_min=np.round(habitual + 15.0),
    )

    def flat(parts: list[NDArray[np.int64]]) -> NDArray[np.int64]:
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    return Cohort(
        batch=batch,
        labels=labels,
        episode_athlete=flat(ep_athlete),
        episode_start=flat(ep_start),
        episode_days=flat(ep_days),
        episode_kind=np.concatenate(ep_kind) if ep_kind else np.zeros(0, dtype=np.int8),
        hrv_sd=ln_sd,
    )
