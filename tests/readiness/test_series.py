"""From canonical readings to batch arrays: the vectorised build equals the rules read literally."""

from __future__ import annotations

import datetime
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pytest

from perfhub.readiness.engine import SeriesBatch, compute_batch, inputs_hashes, series
from perfhub.readiness.engine.rules import HISTORY_DAYS, MEMORY_DAYS
from perfhub.readiness.engine.series import (
    ESTABLISHED_NIGHTS,
    ESTABLISHED_WINDOW,
    PRIMARY_CARRY_DAYS,
    PRIMARY_LOOKBACK_DAYS,
    PRIMARY_MEMORY_DAYS,
    AthleteSeries,
    HrvReading,
    SleepReading,
    build_batch,
)
from perfhub.readings.mapping import source_rank
from perfhub.settings import DEFAULT_SOURCE_PRIORITY

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


Source = tuple[str, str]  # (vendor, "rmssd" | "sdnn")


def reference_primaries(series: Literal, days: list[datetime.date]) -> list[Source | None]:
    """docs/readiness.md#source-priority read literally, one day at a time."""
    by_day: dict[datetime.date, set[Source]] = defaultdict(set)
    for reading in series.hrv:
        if reading.rmssd is not None:
            by_day[reading.day].add((reading.vendor, "rmssd"))
        elif reading.sdnn is not None:
            by_day[reading.day].add((reading.vendor, "sdnn"))

    def preferred(sources: set[Source]) -> Source:
        return min(sources, key=lambda c: (c[1] != "rmssd", source_rank(series.priority, c[0])))

    def trailing(day: datetime.date, days: int) -> Iterable[Source]:
        for back in range(days):
            yield from by_day.get(day - datetime.timedelta(days=back), ())

    def established(day: datetime.date) -> set[Source]:
        nights = Counter(trailing(day, ESTABLISHED_WINDOW))
        return {source for source, count in nights.items() if count >= ESTABLISHED_NIGHTS}

    result: list[Source | None] = []
    for day in days:
        primary = None
        for back in range(PRIMARY_CARRY_DAYS + 1):  # the latest day with an established source
            sources = established(day - datetime.timedelta(days=back))
            if sources:
                primary = preferred(sources)
                break
        else:
            recent = set(trailing(day, PRIMARY_LOOKBACK_DAYS))
            primary = preferred(recent) if recent else None
        result.append(primary)
    return result


def reference_batch(athletes: list[Literal], start: datetime.date, end: datetime.date) -> SeriesBatch:
    n_days = (end - start).days + 1
    days = [start + datetime.timedelta(days=i) for i in range(n_days)]
    batch = SeriesBatch.empty(len(athletes), n_days, start)
    for row, athlete in enumerate(athletes):
        batch.sleep_need_min[row] = athlete.sleep_need_min
        hrv_by_key = {(r.day, r.vendor): r for r in athlete.hrv}
        primaries = reference_primaries(athlete, days)
        segment, previous = 0, None
        for col, (day, primary) in enumerate(zip(days, primaries, strict=True)):
            # A new segment when the primary changes, also to none after a long break.
            if previous is not None and primary != previous:
                segment += 1
            previous = primary
            batch.segment[row, col] = segment
            reading = hrv_by_key.get((day, primary[0])) if primary else None
            value = None if reading is None else getattr(reading, primary[1])  # type: ignore[index]
            if value is not None and value > 0:
                batch.ln_hrv[row, col] = math.log(value)
                batch.hrv_is_sdnn[row, col] = primary[1] == "sdnn"  # type: ignore[index]
        _reference_by_priority(batch, row, athlete, days, primaries)
    return batch


def _reference_by_priority(
    batch: SeriesBatch, row: int, athlete: Literal, days: list[datetime.date], primaries: list[Source | None]
) -> None:
    def rank(reading: HrvReading | SleepReading) -> tuple[int, str]:
        return source_rank(athlete.priority, reading.vendor)

    for col, (day, primary) in enumerate(zip(days, primaries, strict=True)):
        rhr = [r for r in athlete.hrv if r.day == day and r.resting_hr is not None]
        own = [r for r in rhr if primary is not None and r.vendor == primary[0]]
        if rhr:
            batch.resting_hr[row, col] = (own[0] if own else min(rhr, key=rank)).resting_hr
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
    # Devices worn nightly or now and then, and put away for days to months (a trial, a switch,
    # a break), so that sources get established, lapse, carry over and run out.
    worn = {vendor: rng.choice((0.1, 0.3, 0.55, 0.9)) for vendor in vendors}
    off = {
        vendor: [(first, first + rng.randint(3, 90)) for first in rng.sample(range(days), rng.randint(0, 2))]
        for vendor in vendors
    }
    hrv, sleep = [], []
    for offset in range(days):
        day = START + datetime.timedelta(days=offset)
        for vendor in vendors:
            if any(first <= offset < last for first, last in off[vendor]):
                continue
            if rng.random() < worn[vendor]:
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


def test_first_nights_rmssd_beats_sdnn_then_priority_and_a_long_silence_ends_the_segment() -> None:
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
    # No source is ever established (3 nights in a week), so the first-nights rule decides: the
    # best source of the trailing 14 days. A new segment wherever the primary changes: Apple
    # SDNN, then Oura rMSSD, then WHOOP by priority until no source is left (day 17); Oura on
    # day 30 continues the sourceless stretch's segment.
    assert list(batch.segment[0]) == [0, 0, 1] + [2] * 14 + [3] * 15
    assert batch.hrv_is_sdnn[0, 0] and not batch.hrv_is_sdnn[0, 2]
    np.testing.assert_allclose(batch.ln_hrv[0, [0, 2, 3, 30]], np.log([60.0, 50.0, 48.0, 52.0]))
    assert math.isnan(batch.ln_hrv[0, 1])  # never filled from another device
    assert list(batch.resting_hr[0, [2, 3]]) == [55.0, 54.0]


WHOOP_RMSSD, OURA_RMSSD = 40.0, 70.0  # one value per device, so that ln HRV names the source
WHOOP_RHR, OURA_RHR = 50.0, 46.0


def worn(vendor: str, days: Iterable[int]) -> list[HrvReading]:
    rmssd, rhr = (WHOOP_RMSSD, WHOOP_RHR) if vendor == "whoop" else (OURA_RMSSD, OURA_RHR)
    return [HrvReading(START + datetime.timedelta(days=d), vendor, rmssd, None, rhr) for d in days]


def default_priority_batch(readings: list[HrvReading], days: int) -> SeriesBatch:
    athlete = AthleteSeries.from_readings(1, "UTC", DEFAULT_SOURCE_PRIORITY, 480.0, readings, [])
    return build_batch([athlete], START, START + datetime.timedelta(days=days - 1))


def new_segments(batch: SeriesBatch) -> list[int]:
    return [int(d) for d in np.flatnonzero(np.diff(batch.segment[0])) + 1]


def test_one_stray_night_of_a_higher_ranked_device_never_switches_the_primary() -> None:
    assert DEFAULT_SOURCE_PRIORITY.index("oura") < DEFAULT_SOURCE_PRIORITY.index("whoop")
    batch = default_priority_batch(worn("whoop", range(40)) + worn("oura", [20]), 40)
    assert new_segments(batch) == []
    np.testing.assert_allclose(batch.ln_hrv[0], math.log(WHOOP_RMSSD))
    # Resting HR too stays with the primary's vendor, though Oura ranks higher.
    np.testing.assert_array_equal(batch.resting_hr[0], WHOOP_RHR)
    # So the stray night costs no calibration: every WHOOP night counts in one baseline.
    assert compute_batch(batch).hrv_days[0, 39] == 40


def test_a_new_higher_ranked_device_takes_over_on_its_third_night() -> None:
    batch = default_priority_batch(worn("whoop", range(30)) + worn("oura", range(30, 60)), 60)
    assert new_segments(batch) == [30 + ESTABLISHED_NIGHTS - 1]
    # The first two Oura nights fall on the old primary's days and are not used for it.
    assert np.isnan(batch.ln_hrv[0, [30, 31]]).all()
    np.testing.assert_allclose(batch.ln_hrv[0, 32:], math.log(OURA_RMSSD))


def test_a_new_lower_ranked_device_takes_over_once_the_old_one_lapses() -> None:
    # The old device stays established while 3 of its nights are in the week: up to 3 days
    # after its last night. Switching sooner would flip-flop athletes who wear both and forget
    # the higher-ranked one for a few nights.
    batch = default_priority_batch(worn("oura", range(30)) + worn("whoop", range(30, 60)), 60)
    last_established = 29 + ESTABLISHED_WINDOW - ESTABLISHED_NIGHTS
    assert new_segments(batch) == [last_established + 1]
    assert np.isnan(batch.ln_hrv[0, 30 : last_established + 1]).all()
    np.testing.assert_allclose(batch.ln_hrv[0, last_established + 1 :], math.log(WHOOP_RMSSD))


def test_wearing_both_devices_stays_on_the_higher_ranked_one() -> None:
    # After the first week Oura misses every third night: still established, and never filled
    # in from WHOOP.
    oura_nights = [d for d in range(60) if d < 7 or d % 3 != 2]
    missed = [d for d in range(60) if d not in oura_nights]
    batch = default_priority_batch(worn("whoop", range(60)) + worn("oura", oura_nights), 60)
    assert new_segments(batch) == []
    np.testing.assert_allclose(batch.ln_hrv[0, oura_nights], math.log(OURA_RMSSD))
    assert np.isnan(batch.ln_hrv[0, missed]).all()
    # Resting HR from the primary's vendor when it has one, else the best row of the day.
    np.testing.assert_array_equal(batch.resting_hr[0, oura_nights], OURA_RHR)
    np.testing.assert_array_equal(batch.resting_hr[0, missed], WHOOP_RHR)


def test_in_the_first_week_the_first_established_device_holds_until_the_preferred_one_is() -> None:
    # Oura misses the third night of all: WHOOP is established first (day 2), Oura on its own
    # third night (day 3). This costs Oura's baseline its first two nights.
    oura_nights = [d for d in range(20) if d != 2]
    batch = default_priority_batch(worn("whoop", range(20)) + worn("oura", oura_nights), 20)
    assert new_segments(batch) == [2, 3]
    np.testing.assert_allclose(
        batch.ln_hrv[0, [0, 1, 2, 3]], np.log([OURA_RMSSD, OURA_RMSSD, WHOOP_RMSSD, OURA_RMSSD])
    )


def test_a_trial_week_of_a_higher_ranked_device_switches_twice() -> None:
    batch = default_priority_batch(worn("whoop", range(60)) + worn("oura", range(20, 27)), 60)
    # To Oura on its third night, back to WHOOP when Oura is no longer established; WHOOP's
    # nights in between are not used, and its return starts a new baseline.
    back = 26 + ESTABLISHED_WINDOW - ESTABLISHED_NIGHTS + 1
    assert new_segments(batch) == [22, back]
    np.testing.assert_allclose(batch.ln_hrv[0, 22:27], math.log(OURA_RMSSD))
    assert np.isnan(batch.ln_hrv[0, 27:back]).all()
    np.testing.assert_allclose(batch.ln_hrv[0, back:], math.log(WHOOP_RMSSD))


@pytest.mark.parametrize("gap", [3, 10, 40])
def test_days_without_a_device_keep_the_primary(gap: int) -> None:
    # A stray night of another device in the gap changes nothing either.
    readings = worn("whoop", range(20)) + worn("oura", [21]) + worn("whoop", range(20 + gap, 80))
    batch = default_priority_batch(readings, 80)
    assert new_segments(batch) == []
    assert np.isnan(batch.ln_hrv[0, 20 : 20 + gap]).all()


def test_the_primary_is_carried_for_a_bounded_time() -> None:
    batch = default_priority_batch(worn("whoop", range(20)) + worn("whoop", range(100, 110)), 110)
    # WHOOP is established up to day 21 and carried for PRIMARY_CARRY_DAYS after that; then
    # the athlete has no source, and the next nights start a new baseline.
    lapse = 19 + ESTABLISHED_WINDOW - ESTABLISHED_NIGHTS + PRIMARY_CARRY_DAYS + 1
    assert new_segments(batch) == [lapse]
    np.testing.assert_allclose(batch.ln_hrv[0, 100:], math.log(WHOOP_RMSSD))
    assert compute_batch(batch).hrv_days[0, 109] == 10


def primaries(athlete: AthleteSeries, start: datetime.date, end: datetime.date) -> np.ndarray:
    n_days = (end - start).days + 1
    return series.primary_sources(series._gather([athlete], "hrv", start), 1, n_days)[0][0]


def readings_since(athlete: Literal, first: datetime.date) -> Literal:
    """The athlete as an incremental recompute loads them: only the readings from ``first`` on."""
    return Literal(
        athlete.priority,
        athlete.sleep_need_min,
        [r for r in athlete.hrv if r.day >= first],
        [r for r in athlete.sleep if r.day >= first],
    )


MEMORY_SEEDS = range(8)
MEMORY_DAYS_FROM = range(5, 300, 9)  # days s (offsets from START) a recompute may start on


@pytest.mark.parametrize("seed", MEMORY_SEEDS)
@pytest.mark.parametrize("memory", [75, PRIMARY_MEMORY_DAYS])
def test_the_primary_depends_on_a_bounded_past_only(seed: int, memory: int) -> None:
    """Readings and a batch from ``memory`` days before day s give the same primaries from s on
    as all readings and a batch from the athlete's first reading; so do the arrays built on them."""
    # The engine's memory covers the status window and, for each of its days, the primary's choice.
    assert HISTORY_DAYS + PRIMARY_MEMORY_DAYS <= MEMORY_DAYS
    rng = random.Random(1000 + seed)
    end = START + datetime.timedelta(days=299)
    for user_id in range(6):
        literal = random_athlete(rng, days=300)
        athlete = literal.series(user_id)
        first = athlete.first_day() or START
        whole, whole_batch = primaries(athlete, first, end), build_batch([athlete], first, end)
        for offset in MEMORY_DAYS_FROM:
            s = START + datetime.timedelta(days=offset)
            start = s - datetime.timedelta(days=memory)
            recent = readings_since(literal, start).series(user_id)
            part, part_batch = primaries(recent, start, end), build_batch([recent], start, end)
            at, since = (s - first).days, memory
            if at < 0:  # the athlete's first reading comes later
                at, since = 0, since - at
            np.testing.assert_array_equal(part[since:], whole[at:])
            for name in ("ln_hrv", "hrv_is_sdnn", "resting_hr"):
                np.testing.assert_array_equal(
                    getattr(part_batch, name)[0, since:], getattr(whole_batch, name)[0, at:], err_msg=name
                )
            # Segment boundaries after s: each depends on the primaries of its day and the day before.
            np.testing.assert_array_equal(
                np.diff(part_batch.segment[0, since:]), np.diff(whole_batch.segment[0, at:])
            )


def test_the_memory_check_can_fail() -> None:
    """With a shorter memory the primaries do differ, so the test above is not vacuous."""
    rng = random.Random(1000)
    end = START + datetime.timedelta(days=299)
    short = PRIMARY_MEMORY_DAYS - 1
    differs = 0
    for user_id in range(6 * len(MEMORY_SEEDS)):
        literal = random_athlete(rng, days=300)
        whole = primaries(literal.series(user_id), START, end)
        for offset in MEMORY_DAYS_FROM:
            start = START + datetime.timedelta(days=offset - short)
            part = primaries(readings_since(literal, start).series(user_id), start, end)
            differs += not np.array_equal(part[short:], whole[offset:])
    assert differs > 0


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
