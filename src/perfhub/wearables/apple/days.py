"""How one import's records become canonical days, in the ingest API's shape (docs/http-api.md,
minus ``userId``), by the athlete's wake date (docs/readiness.md#canonical-days).

What the devices measured is emitted with vendor ``apple``; a record typed in by the athlete
(``HKWasUserEntered``) with vendor ``manual``, its nights and days apart from the measured ones.

Sleep: the night of each wake date (:mod:`perfhub.wearables.apple.nights`). ``inBedMin``,
``efficiencyPct`` and ``latencyMin`` only when an InBed record says when bedtime was; ``wakeCount``
not for hand-entered nights, which say nothing about it.
HRV: Apple's ``HeartRateVariabilitySDNN`` is SDNN and is only ever emitted as ``sdnn``. Nightly SDNN is
the **median** of the samples inside the chosen night's in-bed window (median, because a night has 1–4
samples and one motion-corrupted reading should not move the value), from the night's own source when
it has any; with no night for the date, the samples taken 00:00–10:00 local on it.
Resting HR: Apple's one value per day, on the local date of its start.

Pure: no database, no HTTP.
"""

from __future__ import annotations

import array
import statistics
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from perfhub.wearables.apple.errors import MAX_MESSAGE, AppleHealthError, quoted, shown
from perfhub.wearables.apple.intervals import EPOCH_DAY, epoch_and_offset, epoch_of_day, iso_at, local_day
from perfhub.wearables.apple.limits import ImportLimits
from perfhub.wearables.apple.nights import STAGES, Night, SleepNights
from perfhub.wearables.apple.records import SDNN_TYPE, SLEEP_TYPE, AppleRecord, Invalid, short_name
from perfhub.wearables.apple.summary import MAX_ERRORS

VENDOR = "apple"
MANUAL = "manual"
MAX_SOURCES = 256  # distinct sourceName values per import; a person has a few devices and apps
SDNN_RANGE = (1.0, 300.0)
RESTING_HR_RANGE = (25.0, 120.0)
MAX_LATENCY_MIN = 720.0  # the ingest API's limit
FALLBACK_HRV_UNTIL = 10 * 3600
EARLIEST_DATE = date(2000, 1, 1)  # the ingest API refuses older dates


class Days:
    """Counts and skip reasons of one import; the records go to one :class:`_Signals` per vendor."""

    def __init__(self, max_records: int = ImportLimits.max_records) -> None:
        self.records = 0
        self.skipped = 0
        self.errors: list[str] = []
        self._vendors: dict[str, _Signals] = {}
        self._max_records = max_records

    def skip(self, reason: str) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(shown(reason, MAX_MESSAGE))

    def add(self, item: AppleRecord | Invalid) -> None:
        self.records += 1
        if self.records > self._max_records:
            # Refused rather than cut: a night or day half read would be stored as if whole.
            raise AppleHealthError(
                f"the export holds more than {self._max_records:,} SDNN, resting-HR and sleep records, "
                "the import limit"
            )
        if isinstance(item, Invalid):
            self.skip(item.reason)
            return
        vendor = MANUAL if item.user_entered else VENDOR
        signals = self._vendors.get(vendor)
        if signals is None:
            signals = self._vendors[vendor] = _Signals(vendor, self.skip)
        signals.add(item)

    def payloads(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        hrv: list[dict[str, Any]] = []
        sleep: list[dict[str, Any]] = []
        for vendor in sorted(self._vendors):
            vendor_hrv, vendor_sleep = self._vendors[vendor].payloads()
            hrv += vendor_hrv
            sleep += vendor_sleep
        # By date; a stable sort keeps apple before manual within one.
        hrv.sort(key=lambda p: str(p["date"]))
        sleep.sort(key=lambda p: str(p["date"]))
        return hrv, sleep


class _Signals:
    """The SDNN, resting-HR and sleep records of one vendor (measured or typed in), and their days."""

    def __init__(self, vendor: str, skip: Callable[[str], None]) -> None:
        self.vendor = vendor
        self.skip = skip
        self._sources: list[str] = []
        self._source_ids: dict[str, int] = {}
        self._sleep = SleepNights(skip)
        self._hrv_start = array.array("q")
        self._hrv_offset = array.array("i")
        self._hrv_end = array.array("q")
        self._hrv_end_offset = array.array("i")
        self._hrv_value = array.array("d")
        self._hrv_source = array.array("i")
        self._rhr: dict[date, tuple[float, int, int, str]] = {}
        self._tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        # Records this far outside the dates stored can touch no stored day (a night is at most a
        # day long, UTC offsets at most one), so they are not kept: kept, they would cost memory by the
        # day, and a file may hold a record on every day of ten thousand years.
        self._first_epoch = epoch_of_day(EARLIEST_DATE - timedelta(days=3))
        self._last_epoch = epoch_of_day(self._tomorrow + timedelta(days=4))

    def _where(self, item: AppleRecord) -> str:
        where = f"{item.start.isoformat(sep=' ')} from {shown(item.source_name)}"
        return where + " (entered by hand)" if self.vendor == MANUAL else where

    def add(self, item: AppleRecord) -> None:
        start, start_offset = epoch_and_offset(item.start)
        end, end_offset = epoch_and_offset(item.end)
        if end < start:
            self.skip(f"{short_name(item.type)} at {self._where(item)}: ends before it starts")
            return
        if end < self._first_epoch or start > self._last_epoch:
            dates = f"{EARLIEST_DATE}..{self._tomorrow}"
            self.skip(f"{short_name(item.type)} at {self._where(item)}: outside {dates} (device clock?)")
            return
        if item.source_name not in self._source_ids:
            # Sources are kept by name, once each; a file naming a new one on every record must not
            # grow memory by a name per record.
            if len(self._sources) >= MAX_SOURCES:
                self.skip(f"{short_name(item.type)} at {self._where(item)}: more than {MAX_SOURCES} sources")
                return
            self._source_ids[item.source_name] = len(self._sources)
            self._sources.append(item.source_name)
        if item.type == SLEEP_TYPE:
            stage = STAGES.get(item.value or "")
            if stage is None:
                self.skip(f"sleep at {self._where(item)}: unknown value {quoted(item.value)}")
                return
            self._sleep.add(item.source_name, start, end, end_offset, stage)
            return
        value = self._number(item)
        if value is None:
            return
        if item.type == SDNN_TYPE:
            source = self._source_ids[item.source_name]
            self._hrv_start.append(start)
            self._hrv_offset.append(start_offset)
            self._hrv_end.append(end)
            self._hrv_end_offset.append(end_offset)
            self._hrv_value.append(value)
            self._hrv_source.append(source)
        else:
            day, _ = local_day(start, start_offset)
            previous = self._rhr.get(day)
            # Apple writes one per day; should a second source write one too, keep the later-ending
            # (fuller-day) value rather than averaging two devices.
            if previous is None or end > previous[1]:
                self._rhr[day] = (value, end, end_offset, item.source_name)

    def _number(self, item: AppleRecord) -> float | None:
        is_sdnn = item.type == SDNN_TYPE
        name, unit, (low, high) = (
            ("SDNN", "ms", SDNN_RANGE) if is_sdnn else ("resting HR", "count/min", RESTING_HR_RANGE)
        )
        if item.unit not in (None, unit):
            self.skip(f"{name} at {self._where(item)}: unit {quoted(item.unit)}, expected {unit}")
            return None
        try:
            value = float(item.value or "")
        except ValueError:
            self.skip(f"{name} at {self._where(item)}: value {quoted(item.value)} is not a number")
            return None
        if not low <= value <= high:
            self.skip(f"{name} {value:g} {unit} at {self._where(item)} is outside {low:g}–{high:g}")
            return None
        return value

    # ------------------------------------------------------------------------------------------

    def _sdnn(
        self, nights: dict[date, Night]
    ) -> dict[date, tuple[float, str, int, int]]:  # day → (median, source, captured epoch, offset)
        # In numpy, as in _blocks: index lists of Python ints cost 30-odd bytes a sample where these
        # cost 8, and a hostile file may hold a million samples.
        start = np.array(self._hrv_start, dtype=np.int64)
        order = np.argsort(start, kind="stable")
        starts = start[order]
        result: dict[date, tuple[float, str, int, int]] = {}
        for day, night in nights.items():
            lo = int(np.searchsorted(starts, night.in_bed_start, "left"))
            hi = int(np.searchsorted(starts, night.in_bed_end, "right"))
            picked = self._one_source(order[lo:hi].tolist(), prefer=night.source)
            if picked:
                values = [self._hrv_value[i] for i in picked]
                result[day] = (
                    statistics.median(values),
                    self._sources[self._hrv_source[picked[0]]],
                    night.wake,
                    night.wake_offset,
                )
        del starts  # each temporary goes as soon as it is used: a few of them at once is the peak
        local = np.array(self._hrv_offset, dtype=np.int64)
        local += start
        del start
        day_number, seconds = np.divmod(local, 86400)
        del local
        night_days = np.array([(day - EPOCH_DAY).days for day in nights], dtype=np.int64)
        keep = seconds < FALLBACK_HRV_UNTIL
        del seconds
        keep &= ~np.isin(day_number, night_days)
        morning = order[keep[order]]
        del keep, order
        morning = morning[np.argsort(day_number[morning], kind="stable")]  # by day, then by start
        bounds = np.flatnonzero(np.diff(day_number[morning])) + 1
        firsts, ends = np.concatenate(([0], bounds)), np.concatenate((bounds, [len(morning)]))
        for lo, hi in zip(firsts, ends, strict=True):
            if lo == hi:
                continue
            day = EPOCH_DAY + timedelta(days=int(day_number[morning[lo]]))
            picked = self._one_source(morning[lo:hi].tolist(), prefer=None)
            last = max(picked, key=self._hrv_end.__getitem__)
            result[day] = (
                statistics.median(self._hrv_value[i] for i in picked),
                self._sources[self._hrv_source[last]],
                self._hrv_end[last],
                self._hrv_end_offset[last],
            )
        return result

    def _one_source(self, indexes: list[int], prefer: str | None) -> list[int]:
        """The samples of one source: the night's sleep source if it has any, else the busiest."""
        if not indexes:
            return []
        by_source: dict[int, list[int]] = {}
        for i in indexes:
            by_source.setdefault(self._hrv_source[i], []).append(i)
        preferred = self._source_ids.get(prefer) if prefer is not None else None
        if preferred is not None and preferred in by_source:
            return by_source[preferred]
        return max(by_source.items(), key=lambda kv: (len(kv[1]), self._sources[kv[0]]))[1]

    def payloads(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        nights = self._sleep.nights()
        sdnn = self._sdnn(nights)
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        hrv_out: list[dict[str, Any]] = []
        sleep_out: list[dict[str, Any]] = []
        for day in sorted(set(nights) | set(sdnn) | set(self._rhr)):
            if not EARLIEST_DATE <= day <= tomorrow:
                self.skip(f"day {day}: outside {EARLIEST_DATE}..{tomorrow} (device clock?)")
                continue
            night = nights.get(day)
            if night is not None:
                sleep_out.append(_sleep_payload(day, night, self.vendor))
            hrv = sdnn.get(day)
            rhr = self._rhr.get(day)
            if hrv is None and rhr is None:
                continue
            payload: dict[str, Any] = {"date": day.isoformat()}
            if hrv is not None:
                payload["sdnn"] = round(hrv[0], 2)
            if rhr is not None:
                payload["restingHr"] = rhr[0]
            payload["vendor"] = self.vendor
            if night is not None:
                captured, offset = night.wake, night.wake_offset
            else:
                captured, offset = max(
                    ([(hrv[2], hrv[3])] if hrv else []) + ([(rhr[1], rhr[2])] if rhr else [])
                )
            payload["capturedAt"] = iso_at(captured, offset)
            if hrv is not None:
                payload["sourceDevice"] = hrv[1]
            elif rhr is not None:
                payload["sourceDevice"] = rhr[3]
            hrv_out.append(payload)
        return hrv_out, sleep_out


def _sleep_payload(day: date, night: Night, vendor: str) -> dict[str, Any]:
    asleep_min = night.asleep / 60
    payload: dict[str, Any] = {"date": day.isoformat(), "durationMin": round(asleep_min, 1)}
    in_bed_min = None
    if night.bed is not None:
        in_bed_min = (night.bed[1] - night.bed[0]) / 60
        if in_bed_min > 0:
            payload["efficiencyPct"] = round(min(100.0, asleep_min / in_bed_min * 100), 1)
        latency_min = (night.asleep_start - night.bed[0]) / 60
        # The ingest API refuses more; such a bedtime (asleep 12 h after it) says nothing about this
        # night's sleep onset, and refusing it would refuse the whole import.
        if latency_min <= MAX_LATENCY_MIN:
            payload["latencyMin"] = round(latency_min, 1)
    if vendor != MANUAL:
        payload["wakeCount"] = night.wakes
    if in_bed_min is not None:
        payload["inBedMin"] = round(in_bed_min, 1)
    payload["vendor"] = vendor
    payload["capturedAt"] = iso_at(night.wake, night.wake_offset)
    payload["sourceDevice"] = night.source
    return payload
