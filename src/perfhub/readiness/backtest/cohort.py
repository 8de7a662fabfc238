"""A seeded synthetic cohort: each athlete's nightly readings, as the service loads them, with
labelled episodes.

Each athlete has their own baselines (ln rMSSD, resting HR, habitual sleep, training volume);
nights vary around them with AR(1) noise, training follows a weekly rhythm, sleep is longer at
weekends, and some nights are missing. Episodes (illness, overreaching, sleep restriction,
saturation) are placed after a warm-up long enough for the 60-day baselines to form, at most one
per 30-day slot, so every episode is followed by quiet days before the next.

The readings carry vendor names, as canonical readings do. Each athlete wears one main device;
a few wear another for a single night (a borrowed ring), and some switch device for good once.
Another device reads the same physiology with a systematic offset of its own (ln rMSSD
±0.1–0.3, resting HR ±2 bpm): the engine is meant to cope with what real devices do.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.engine.series import AthleteSeries
from perfhub.settings import DEFAULT_SOURCE_PRIORITY

__all__ = [
    "LABELS",
    "SLOT_DAYS",
    "VENDORS",
    "WARMUP_DAYS",
    "Cohort",
    "generate",
]

LABELS: tuple[str, ...] = ("quiet", "illness", "overreaching", "sleep_restriction", "saturation")
QUIET, ILLNESS, OVERREACHING, SLEEP_RESTRICTION, SATURATION = range(len(LABELS))
# Episodes start only after this many days: the 60-day range needs its history first.
WARMUP_DAYS = 60
SLOT_DAYS = 30
# (shortest, longest) episode in days, by label code.
EPISODE_DAYS = {ILLNESS: (2, 5), OVERREACHING: (7, 14), SLEEP_RESTRICTION: (4, 7), SATURATION: (4, 10)}
EPISODE_CHANCE = 0.6  # of a slot holding an episode
AR_PHI = 0.3
HRV_SD = (0.05, 0.12)  # each athlete's night-to-night SD of ln rMSSD is drawn from this range
# Resting HR moves against HRV (this many bpm per SD of the athlete's ln rMSSD noise), plus noise
# of its own (SD in bpm).
RHR_PER_HRV_SD = 8.0
RHR_NOISE_BPM = 1.2
# Overreaching: ln rMSSD falls by a slope (per day, drawn per athlete) from the first night, the
# night-to-night noise widens linearly to 1 + OVERREACHING_WIDENING times its SD by the last
# night, and resting HR rises by OVERREACHING_RHR_PER_DAY bpm a day.
OVERREACHING_SLOPE = (0.02, 0.04)
OVERREACHING_WIDENING = 1.5
OVERREACHING_RHR_PER_DAY = 0.3
# The weekly training rhythm (Monday first), in units of the athlete's own session load.
WEEK_RHYTHM = np.array([1.0, 0.6, 1.2, 0.0, 1.0, 1.5, 0.4])

# The main devices and how common each is in the cohort.
VENDORS: tuple[str, ...] = ("oura", "whoop", "google", "apple")
VENDOR_SHARE = (0.35, 0.30, 0.15, 0.20)
# Chances per athlete and year: one stray night from another device; a permanent switch.
STRAY_PER_YEAR = 0.03
SWITCH_PER_YEAR = 0.10
# Another device's systematic offset: |ln rMSSD| in this range, resting HR up to ± this.
OTHER_LN_OFFSET = (0.1, 0.3)
OTHER_RHR_OFFSET = 2.0
# Most athletes never set a sleep need (0: the engine estimates it); the others set their own.
SLEEP_NEED_SET_SHARE = 0.2


@dataclass(frozen=True, eq=False)
class Cohort:
    """The athletes' readings, each day's label (codes into :data:`LABELS`), the episodes as flat
    arrays (athlete row, first day, length in days, label code) and the device history.

    Row ``i`` of every array is ``athletes[i]``; day ``k`` is ``start + k``. ``switch_day`` and
    ``stray_day`` are −1 for athletes without a switch or a stray night.
    """

    start: datetime.date
    days: int
    athletes: tuple[AthleteSeries, ...]
    labels: NDArray[np.int8]
    episode_athlete: NDArray[np.int64]
    episode_start: NDArray[np.int64]
    episode_days: NDArray[np.int64]
    episode_kind: NDArray[np.int8]
    hrv_sd: NDArray[np.float64]  # each athlete's day-to-day SD of ln rMSSD
    main_vendor: tuple[str, ...]
    switch_day: NDArray[np.int64]
    switch_vendor: tuple[str, ...]  # "" without a switch
    stray_day: NDArray[np.int64]
    stray_vendor: tuple[str, ...]  # "" without a stray night

    @property
    def end(self) -> datetime.date:
        return self.start + datetime.timedelta(days=self.days - 1)

    def describe(self) -> dict[str, Any]:
        """What the cohort holds, for the report: devices, sleep needs, nights and episodes."""
        nights = sum(len(athlete.hrv["day"]) for athlete in self.athletes)
        return {
            "mainVendors": {vendor: self.main_vendor.count(vendor) for vendor in VENDORS},
            "deviceSwitches": int((self.switch_day >= 0).sum()),
            "strayNights": int((self.stray_day >= 0).sum()),
            "sleepNeedSet": sum(athlete.sleep_need_min > 0 for athlete in self.athletes),
            "missingNights": round(1.0 - nights / max(1, len(self.athletes) * self.days), 4),
            "episodes": {
                LABELS[code]: int((self.episode_kind == code).sum()) for code in range(1, len(LABELS))
            },
        }


def generate(
    athletes: int, days: int, *, seed: int = 0, start: datetime.date = datetime.date(2025, 1, 6)
) -> Cohort:
    """The same cohort for the same arguments; ``start`` is a Monday so the rhythm lines up."""
    rng = np.random.default_rng(seed)
    a, d = athletes, days
    ln_mean = rng.uniform(3.6, 4.6, a)
    ln_sd = rng.uniform(*HRV_SD, a)
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
    resting_hr = (
        rhr_mean[:, None] - RHR_PER_HRV_SD * ln_sd[:, None] * noise + rng.normal(0.0, RHR_NOISE_BPM, (a, d))
    )
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
    shortest = np.array([EPISODE_DAYS.get(k, (0, 0))[0] for k in range(len(LABELS))])
    longest = np.array([EPISODE_DAYS.get(k, (0, 0))[1] for k in range(len(LABELS))])
    for slot_start in range(WARMUP_DAYS, d - SLOT_DAYS + 1, SLOT_DAYS):
        has = rng.random(a) < EPISODE_CHANCE
        kind = rng.integers(1, len(LABELS), a).astype(np.int8)
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
                slope = rng.uniform(*OVERREACHING_SLOPE, (a, 1))
                wider = 1.0 + OVERREACHING_WIDENING * kk / np.maximum(length[:, None] - 1, 1)
                decline = ln_mean[:, None] - slope * (kk + 1) + sd * noise * wider
                ln_hrv = np.where(m, decline, ln_hrv)
                resting_hr = np.where(m, resting_hr + OVERREACHING_RHR_PER_DAY * (kk + 1), resting_hr)
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

    # Devices: which one read each night, and what each reads against the main one.
    n_vendors = len(VENDORS)
    main = rng.choice(n_vendors, size=a, p=VENDOR_SHARE)
    ln_offset = rng.uniform(*OTHER_LN_OFFSET, (a, n_vendors)) * rng.choice((-1.0, 1.0), (a, n_vendors))
    rhr_offset = rng.uniform(-OTHER_RHR_OFFSET, OTHER_RHR_OFFSET, (a, n_vendors))
    ln_offset[rows, main] = 0.0
    rhr_offset[rows, main] = 0.0
    per_year = d / 365.0
    switches = rng.random(a) < min(1.0, SWITCH_PER_YEAR * per_year)
    switch_day = np.where(switches, rng.integers(1, d, a), -1)
    switch_to = (main + rng.integers(1, n_vendors, a)) % n_vendors
    device = np.where(switches[:, None] & (column >= switch_day[:, None]), switch_to[:, None], main[:, None])
    strays = rng.random(a) < min(1.0, STRAY_PER_YEAR * per_year)
    stray_day = np.where(strays, rng.integers(0, d, a), -1)
    worn = device[rows, np.maximum(stray_day, 0)]
    stray_from = (worn + rng.integers(1, n_vendors, a)) % n_vendors
    # The athlete wore the other device instead of their own that night.
    device[rows[strays], stray_day[strays]] = stray_from[strays]
    missing[rows[strays], stray_day[strays]] = False

    # What the devices report: rMSSD in ms to a tenth, resting HR in whole beats.
    rmssd = np.round(np.exp(ln_hrv + ln_offset[rows[:, None], device]), 1)
    resting_hr = np.round(resting_hr + rhr_offset[rows[:, None], device])

    need_set = rng.random(a) < SLEEP_NEED_SET_SHARE
    sleep_need = np.where(need_set, np.round(habitual + rng.uniform(0.0, 30.0, a)), 0.0)
    series = _readings(
        start,
        need=sleep_need,
        present=~missing,
        device=device,
        columns={
            "rmssd": rmssd,
            "resting_hr": resting_hr,
            "duration_min": np.round(sleep),
            "efficiency_pct": np.round(efficiency, 1),
            "latency_min": np.round(latency),
            "wake_count": wakes,
        },
        load=load,
    )

    def flat(parts: list[NDArray[np.int64]]) -> NDArray[np.int64]:
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    return Cohort(
        start=start,
        days=d,
        athletes=series,
        labels=labels,
        episode_athlete=flat(ep_athlete),
        episode_start=flat(ep_start),
        episode_days=flat(ep_days),
        episode_kind=np.concatenate(ep_kind) if ep_kind else np.zeros(0, dtype=np.int8),
        hrv_sd=ln_sd,
        main_vendor=tuple(VENDORS[v] for v in main),
        switch_day=switch_day.astype(np.int64),
        switch_vendor=tuple(VENDORS[v] if s else "" for v, s in zip(switch_to, switches, strict=True)),
        stray_day=stray_day.astype(np.int64),
        stray_vendor=tuple(VENDORS[v] if s else "" for v, s in zip(stray_from, strays, strict=True)),
    )


def _readings(
    start: datetime.date,
    *,
    need: NDArray[np.float64],
    present: NDArray[np.bool_],
    device: NDArray[np.int64],
    columns: dict[str, NDArray[np.float64]],
    load: NDArray[np.float64],
) -> tuple[AthleteSeries, ...]:
    """Each athlete's readings as :class:`AthleteSeries` columns, sliced out of flat arrays."""
    a, d = present.shape
    row, col = np.nonzero(present)  # row-major: each athlete's nights in date order
    bounds = np.concatenate(([0], np.cumsum(np.bincount(row, minlength=a))))
    day = start.toordinal() + col.astype(np.int64)
    vendor = np.array(VENDORS, dtype=object)[device[row, col]]
    values = {name: values[row, col] for name, values in columns.items()}
    no_sdnn = np.full(len(row), np.nan)
    dates = [start + datetime.timedelta(days=k) for k in range(d)]
    out = []
    for i in range(a):
        at = slice(int(bounds[i]), int(bounds[i + 1]))
        hrv = {
            "day": day[at],
            "vendor": vendor[at],
            "rmssd": values["rmssd"][at],
            "sdnn": no_sdnn[at],
            "resting_hr": values["resting_hr"][at],
        }
        sleep = {"day": day[at], "vendor": vendor[at]} | {
            name: values[name][at] for name in ("duration_min", "efficiency_pct", "latency_min", "wake_count")
        }
        # Training is logged apart from the wearable: only days with a session, never missing.
        sessions = np.flatnonzero(load[i] > 0)
        logged = dict(zip([dates[k] for k in sessions], load[i, sessions].tolist(), strict=True))
        out.append(AthleteSeries(i + 1, "UTC", DEFAULT_SOURCE_PRIORITY, float(need[i]), hrv, sleep, logged))
    return tuple(out)
