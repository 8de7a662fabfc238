"""From canonical readings to batch arrays: the vectorised build equals the rules read literally."""

from __future__ import annotations

import datetime
import math
import random
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pytest

from perfhub.readiness.engine import SeriesBatch, compute_batch, inputs_hashes, series
from perfhub.readiness.engine.series import (
    PRIMARY_LOOKBACK_DAYS,
    AthleteSeries,
    HrvReading,
    SleepReading,
    build_batch,
)
from perfhub.readings.mapping import source_rank

START = datetime.date(2025, 3, 1)
VENDORS = ("oura", "whoop", "google", "apple", "garmin")


@dataclass
class Literal:
    """An athlete as plain readings, for the reference implementation."""

    priority: tuple[str, ...]
    sleep_need_min: float
    hrv: list[HrvReading]
    sleep: list[SleepReading]

    def series(self, user_id: int) -> AthleteSeries:
        return AthleteSeries.from_readings(
            user_id, "UTC", self.priority, self.sleep_need_min, self.hrv, self.sleep
        )


def reference_primaries(series: Literal, days: list[datetime.date]) -> list[tuple[str, str] | None]:
    """DESIGN §2 read literally, one day at a time."""
    by_day: dict[datetime.date, list[HrvReading]] = defaultdict(list)
    for reading in series.hrv:
        if reading.rmssd is not None or reading.sdnn is not None:
            by_day[reading.day].append(reading)
    result: list[tuple[str, str] | None] = []
    last: tuple[str, str] | None = None
    for day in days:
        candidates = {
            (reading.vendor, "rmssd" if reading.rmssd is not None else "sdnn")
            for back in range(PRIMARY_LOOKBACK_DAYS)
            for reading in by_day.get(day - datetime.timedelta(days=back), ())
        }
        if candidates:
            last = min(candidates, key=lambda c: (c[1] != "rmssd", source_rank(series.priority, c[0])))
        result.append(last)
    return result


def reference_batch(athletes: list[Literal], start: datetime.date, end: datetime.date) -> SeriesBatch:
    n_days = (end - start).days + 1
    days = [start + datetime.timedelta(days=i) for i in range(n_days)]
    batch = SeriesBatch.empty(len(athletes), n_days, start)
    for row, athlete in enumerate(athletes):
        batch.sleep_need_min[row] = athlete.sleep_need_min
        hrv_by_key = {(r.day, r.vendor): r for r in athlete.hrv}
        segment, previous = 0, None
        for col, (day, primary) in enumerate(zip(days, reference_primaries(athlete, days), strict=True)):
            if primary is not None and previous is not None and primary != previous:
                segment += 1
            previous = primary or previous
            batch.segment[row, col] = segment
            reading = hrv_by_key.get((day, primary[0])) if primary else None
            value = None if reading is None else getattr(reading, primary[1])  # type: ignore[index]
            if value is not None and value > 0:
                batch.ln_hrv[row, col] = math.log(value)
                batch.hrv_is_sdnn[row, col] = primary[1] == "sdnn"  # type: ignore[index]
        _reference_by_priority(batch, row, athlete, days)
    return batch


def _reference_by_priority(batch: SeriesBatch, row: int, athlete: Literal, days: list[datetime.date]) -> None:
    def rank(reading: HrvReading | SleepReading) -> tuple[int, str]:
        return source_rank(athlete.priority, reading.vendor)

    for col, day in enumerate(days):
        rhr = [r for r in athlete.hrv if r.day == day and r.resting_hr is not None]
        if rhr:
            batch.resting_hr[row, col] = min(rhr, key=rank).resting_hr
        nights = [r for r in athlete.sleep if r.day == day]
        if nights:
            night = min(nights, key=rank)
            batch.sleep_min[row, col] = night.duration_min
            for name in ("efficiency_pct", "latency_min", "wake_count"):
                value = getattr(night, name)
                getattr(batch, name)[row, col] = np.nan if value is None else value


def random_athlete(rng: random.Random, days: int = 120) -> Literal:
    vendors = rng.sample(VENDORS, rng.randint(1, 3))
    priority = tuple(rng.sample(VENDORS, rng.randint(0, 4)))
    hrv, sleep = [], []
    for offset in range(days):
        day = START + datetime.timedelta(days=offset)
        for vendor in vendors:
            if rng.random() < 0.55:
                kind = rng.random()
                rmssd = rng.uniform(20, 90) if kind < 0.7 else (0.0 if kind < 0.72 else None)
                sdnn = rng.uniform(30, 120) if kind > 0.6 else None
                rhr = rng.uniform(42, 62) if rng.random() < 0.8 else None
                hrv.append(HrvReading(day, vendor, rmssd, sdnn, rhr))
            if rng.random() < 0.5:
                sleep.append(
                    SleepReading(
                        day,
                        vendor,
                        rng.uniform(300, 560),
                        rng.choice([None, rng.uniform(70, 98)]),
                        rng.choice([None, rng.uniform(2, 40)]),
                        rng.choice([None, rng.randint(0, 6)]),
                    )
                )
    return Literal(priority, rng.choice([420.0, 480.0, 540.0]), hrv, sleep)


FIELDS = (
    "ln_hrv",
    "hrv_is_sdnn",
    "resting_hr",
    "sleep_min",
    "efficiency_pct",
    "latency_min",
    "wake_count",
    "segment",
    "sleep_need_min",
)


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_batch_equals_the_literal_rules(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if seed % 2:
        monkeypatch.setattr(series, "BUILD_BLOCK", 4)  # athletes built in several blocks
    rng = random.Random(seed)
    athletes = [random_athlete(rng) for _ in range(6)]
    # Also a window that starts after the data does: readings just before it still count.
    for start, end in (
        (START, START + datetime.timedelta(days=130)),
        (START + datetime.timedelta(days=40), START + datetime.timedelta(days=90)),
    ):
        fast = build_batch([a.series(user_id) for user_id, a in enumerate(athletes)], start, end)
        slow = reference_batch(athletes, start, end)
        for name in FIELDS:
            np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)


def test_rmssd_beats_sdnn_then_priority_and_gaps_carry_the_primary() -> None:
    day = lambda n: START + datetime.timedelta(days=n)  # noqa: E731
    athlete = AthleteSeries.from_readings(
        1,
        "UTC",
        ("whoop", "oura"),
        480.0,
        [
            HrvReading(day(0), "apple", None, 60.0, None),  # SDNN only
            HrvReading(day(2), "oura", 50.0, None, 55.0),  # rMSSD beats SDNN
            HrvReading(day(3), "whoop", 48.0, None, 54.0),  # higher priority takes over
            HrvReading(day(30), "oura", 52.0, None, None),  # whoop silent for > 14 days
        ],
        [],
    )
    batch = build_batch([athlete], START, day(31))
    # A new segment wherever the primary changes: Apple SDNN, then Oura rMSSD, then WHOOP by
    # priority, carried through WHOOP's silence until Oura is the only recent source (day 30).
    assert list(batch.segment[0]) == [0, 0, 1] + [2] * 27 + [3, 3]
    assert batch.hrv_is_sdnn[0, 0] and not batch.hrv_is_sdnn[0, 2]
    np.testing.assert_allclose(batch.ln_hrv[0, [0, 2, 3, 30]], np.log([60.0, 50.0, 48.0, 52.0]))
    assert math.isnan(batch.ln_hrv[0, 1])  # never filled from another device
    assert list(batch.resting_hr[0, [2, 3]]) == [55.0, 54.0]


def test_inputs_hash_does_not_depend_on_the_batch_it_was_computed_in() -> None:
    rng = random.Random(3)
    alone = random_athlete(rng, days=90).series(1)
    late = AthleteSeries.from_readings(
        2,
        "UTC",
        (),
        480.0,
        [
            HrvReading(START - datetime.timedelta(days=200 - n), "oura", 50.0 + n % 7, None, 50.0)
            for n in range(120)
        ],
        [],
    )
    end = START + datetime.timedelta(days=89)
    days = [0, 3, 10, 50, 85, 89]  # early days' windows would reach before the athlete's data
    single = build_batch([alone], START, end)
    together = build_batch([late, alone], late.first_day() or START, end)  # starts 200 days earlier
    shift = (START - together.start).days
    assert inputs_hashes(single, compute_batch(single), 0, days) == inputs_hashes(
        together, compute_batch(together), 1, [d + shift for d in days], first_day=shift
    )
