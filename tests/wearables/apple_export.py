"""Realistic Apple Health exports (``export.xml`` / ``export.zip``) for tests and the import benchmark.

The output mimics what the Health app writes: the ``HealthData`` DOCTYPE with its internal DTD,
``ExportDate`` and ``Me``, then ``Record`` elements grouped by type (chronological inside a type),
then ``Workout`` and ``ActivitySummary`` elements. Most of a real export's bytes are high-frequency
records the importer must skip (heart rate, energy, steps, each with a ~200-character ``device``
string), plus beat-to-beat lists under every SDNN record; the generator reproduces that mix so the
benchmark measures the real skipping cost.

Sleep is written the way the devices overlap in practice: the Watch writes staged segments
(Core/Deep/REM/Awake, now and then a duplicated or slightly overlapping one), the iPhone writes one
InBed interval, and a third-party app writes InBed plus overlapping AsleepUnspecified pieces. Some
nights have no Watch (charging), some afternoons a nap, a few nights HRV but no sleep tracking.

``ExportSpec.export_version=12`` writes the DOCTYPE of iOS 16 (HealthKit Export Version 12), whose
internal DTD has declarations without their closing ``>``: no conforming XML parser accepts it, while
every record after it is intact. ``stray_controls`` puts a vertical tab (U+000B, which XML forbids)
into a metadata value of other apps' records now and then, as real exports carry.

Everything is a function of the seed (string-seeded ``random.Random`` per day and record kind), so
the same spec gives the same bytes in either record order, and the file is written in small pieces
to a stream: a year is never held in memory. ``GeneratedExport.expected`` holds the per-day values
the importer is supposed to derive, computed independently from the generator's own plan.
"""

from __future__ import annotations

import math
import random
import statistics
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Literal, cast
from zoneinfo import ZoneInfo

WATCH = "Alex’s Apple Watch"
PHONE = "Alex’s iPhone"
APP = "Sleep Cycle"

WATCH_DEVICE = (
    "&lt;&lt;HKDevice: 0x2836f1d60&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, "
    "hardware:Watch6,2, software:10.1, creation date:2023-10-02 18:51:14 +0000&gt;"
)
PHONE_DEVICE = (
    "&lt;&lt;HKDevice: 0x2836f1e40&gt;, name:iPhone, manufacturer:Apple Inc., model:iPhone, "
    "hardware:iPhone14,5, software:17.1.2, creation date:2023-11-20 07:12:40 +0000&gt;"
)
_VERSIONS = {WATCH: "10.1", PHONE: "17.1.2", APP: "7480"}
_DEVICES = {WATCH: WATCH_DEVICE, PHONE: PHONE_DEVICE, APP: None}

SDNN = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
RESTING_HR = "HKQuantityTypeIdentifierRestingHeartRate"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
IN_BED = "HKCategoryValueSleepAnalysisInBed"
ASLEEP = "HKCategoryValueSleepAnalysisAsleepUnspecified"
AWAKE = "HKCategoryValueSleepAnalysisAwake"
CORE = "HKCategoryValueSleepAnalysisAsleepCore"
DEEP = "HKCategoryValueSleepAnalysisAsleepDeep"
REM = "HKCategoryValueSleepAnalysisAsleepREM"
_ASLEEP_STAGES = frozenset({ASLEEP, CORE, DEEP, REM})

# The Health app's DOCTYPE (HealthKit Export Version 13), abridged to the elements written here.
DOCTYPE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 13 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord|
  Audiogram|VisionPrescription)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
<!ATTLIST Me
  HKCharacteristicTypeIdentifierDateOfBirth         CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBiologicalSex       CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBloodType           CDATA #REQUIRED
  HKCharacteristicTypeIdentifierFitzpatrickSkinType CDATA #REQUIRED
  HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse CDATA #IMPLIED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!-- Note: Any Records that appear as children of a correlation also appear as top-level records
     in this document. -->
<!ELEMENT Correlation ((MetadataEntry|Record)*)>
<!ATTLIST Correlation
  type          CDATA #REQUIRED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT Workout ((MetadataEntry|WorkoutEvent|WorkoutRoute|WorkoutStatistics)*)>
<!ATTLIST Workout
  workoutActivityType   CDATA #REQUIRED
  duration              CDATA #IMPLIED
  durationUnit          CDATA #IMPLIED
  totalDistance         CDATA #IMPLIED
  totalDistanceUnit     CDATA #IMPLIED
  totalEnergyBurned     CDATA #IMPLIED
  totalEnergyBurnedUnit CDATA #IMPLIED
  sourceName            CDATA #REQUIRED
  sourceVersion         CDATA #IMPLIED
  device                CDATA #IMPLIED
  creationDate          CDATA #IMPLIED
  startDate             CDATA #REQUIRED
  endDate               CDATA #REQUIRED
>
<!ELEMENT WorkoutEvent (MetadataEntry?)>
<!ATTLIST WorkoutEvent
  type         CDATA #REQUIRED
  date         CDATA #REQUIRED
  duration     CDATA #IMPLIED
  durationUnit CDATA #IMPLIED
>
<!ELEMENT WorkoutStatistics EMPTY>
<!ATTLIST WorkoutStatistics
  type      CDATA #REQUIRED
  startDate CDATA #REQUIRED
  endDate   CDATA #REQUIRED
  average   CDATA #IMPLIED
  minimum   CDATA #IMPLIED
  maximum   CDATA #IMPLIED
  sum       CDATA #IMPLIED
  unit      CDATA #IMPLIED
>
<!ELEMENT WorkoutRoute ((MetadataEntry|FileReference)*)>
<!ATTLIST WorkoutRoute
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT FileReference EMPTY>
<!ATTLIST FileReference
  path CDATA #REQUIRED
>
<!ELEMENT ActivitySummary EMPTY>
<!ATTLIST ActivitySummary
  dateComponents           CDATA #IMPLIED
  activeEnergyBurned       CDATA #IMPLIED
  activeEnergyBurnedGoal   CDATA #IMPLIED
  activeEnergyBurnedUnit   CDATA #IMPLIED
  appleMoveTime            CDATA #IMPLIED
  appleMoveTimeGoal        CDATA #IMPLIED
  appleExerciseTime        CDATA #IMPLIED
  appleExerciseTimeGoal    CDATA #IMPLIED
  appleStandHours          CDATA #IMPLIED
  appleStandHoursGoal      CDATA #IMPLIED
>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry
  key   CDATA #REQUIRED
  value CDATA #REQUIRED
>
<!ELEMENT HeartRateVariabilityMetadataList (InstantaneousBeatsPerMinute*)>
<!ELEMENT InstantaneousBeatsPerMinute EMPTY>
<!ATTLIST InstantaneousBeatsPerMinute
  bpm  CDATA #REQUIRED
  time CDATA #REQUIRED
>
]>
"""

# iOS 16 (HealthKit Export Version 12): the same DTD plus the vision-prescription declarations it
# introduced, written broken: the ATTLIST of VisionPrescription and the ELEMENT of Attachment lack their
# closing '>', so the next declaration starts inside them ("syntax error" from expat, libxml2 and
# every other conforming parser).
DOCTYPE_V12 = DOCTYPE.replace("HealthKit Export Version: 13", "HealthKit Export Version: 12").replace(
    "]>\n",
    """<!ELEMENT VisionPrescription ((RightEye|LeftEye|Attachment|MetadataEntry)*)>
<!ATTLIST VisionPrescription
  type             CDATA #REQUIRED
  dateIssued       CDATA #REQUIRED
  expirationDate   CDATA #IMPLIED
  brand            CDATA #IMPLIED
<!ELEMENT RightEye EMPTY>
<!ATTLIST RightEye
  sphere           CDATA #IMPLIED
  sphereUnit       CDATA #IMPLIED
  cylinder         CDATA #IMPLIED
  cylinderUnit     CDATA #IMPLIED
  axis             CDATA #IMPLIED
  axisUnit         CDATA #IMPLIED
>
<!ELEMENT Attachment EMPTY
<!ATTLIST Attachment
  identifier       CDATA #IMPLIED
>
]>
""",
)
assert DOCTYPE_V12 != DOCTYPE and DOCTYPE_V12.count("]>") == 1

USER_ENTERED = '  <MetadataEntry key="HKWasUserEntered" value="1"/>\n'

CDA_XML = """<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <realmCode code="US"/>
 <title>Health Export CDA Document</title>
</ClinicalDocument>
"""


@dataclass(frozen=True)
class ExportSpec:
    """What to generate. ``filler`` scales the high-frequency records the importer skips."""

    seed: int = 1
    start: date = date(2024, 1, 1)  # wake date of the first night
    days: int = 30
    tz: str = "America/Los_Angeles"  # offsets follow this zone, DST included, as the Health app writes
    filler: float = 1.0
    beats_per_hrv: int = 60
    order: Literal["by_type", "chronological"] = "by_type"
    nap_rate: float = 0.12
    watch_missing_rate: float = 0.06  # Watch on the charger: the app and iPhone only, no night HRV
    app_rate: float = 0.5  # nights the third-party app also tracks
    sleep_off_rate: float = 0.04  # Watch worn (night HRV) but nobody records sleep
    export_version: Literal[12, 13] = 13  # 12: iOS 16's broken internal DTD
    stray_controls: bool = False  # U+000B in a metadata value of the first heart-rate record of a day


@dataclass(frozen=True)
class ExpectedDay:
    """What a correct importer derives for one wake date (independently computed by the generator)."""

    sleep_source: str | None
    asleep_min: float | None
    wake: datetime | None
    sdnn: float | None
    resting_hr: float | None


@dataclass
class GeneratedExport:
    path: Path
    bytes: int = 0
    records: int = 0
    records_by_type: Counter[str] = field(default_factory=Counter)
    expected: dict[date, ExpectedDay] = field(default_factory=dict)

    @property
    def used_records(self) -> int:
        return sum(self.records_by_type[t] for t in (SDNN, RESTING_HR, SLEEP))


# --------------------------------------------------------------------------------------------
# Time formatting: epoch seconds → "2024-01-01 23:00:00 -0800" in the spec's zone
# --------------------------------------------------------------------------------------------


class _Clock:
    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)
        self._offsets: dict[int, tuple[int, str]] = {}
        self._dates: dict[int, str] = {}

    def offset(self, epoch: int) -> tuple[int, str]:
        # Per UTC quarter-hour: every zone's transitions fall on one, and a dict hit is far cheaper
        # than zoneinfo for the million timestamps of a large export.
        key = epoch // 900
        hit = self._offsets.get(key)
        if hit is None:
            offset = datetime.fromtimestamp(key * 900, self.zone).utcoffset()
            seconds = int(offset.total_seconds()) if offset is not None else 0
            sign = "-" if seconds < 0 else "+"
            hours, minutes = divmod(abs(seconds) // 60, 60)
            hit = self._offsets[key] = (seconds, f"{sign}{hours:02d}{minutes:02d}")
        return hit

    def fmt(self, epoch: int) -> str:
        seconds, text = self.offset(epoch)
        local = epoch + seconds
        day, sec = divmod(local, 86400)
        day_text = self._dates.get(day)
        if day_text is None:
            day_text = self._dates[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        return f"{day_text} {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} {text}"

    def local_date(self, epoch: int) -> date:
        seconds, _ = self.offset(epoch)
        return date(1970, 1, 1) + timedelta(days=(epoch + seconds) // 86400)

    def local_seconds(self, epoch: int) -> int:
        return (epoch + self.offset(epoch)[0]) % 86400

    def aware(self, epoch: int) -> datetime:
        seconds, _ = self.offset(epoch)
        return datetime.fromtimestamp(epoch, UTC).astimezone(timezone(timedelta(seconds=seconds)))

    def midnight(self, day: date) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp())


# --------------------------------------------------------------------------------------------
# XML pieces
# --------------------------------------------------------------------------------------------


def record_xml(
    type_: str,
    start: str,
    end: str,
    value: str | float | None,
    *,
    source: str = WATCH,
    unit: str | None = None,
    device: str | None = None,
    created: str | None = None,
    version: str | None = None,
    children: str = "",
) -> str:
    """One ``Record`` element as the Health app writes it (attribute order and indentation included).

    ``start``/``end``/``created`` are already-formatted dates ("2024-01-01 23:00:00 -0800"); ``source``
    and ``device`` are written as given, so pass XML-escaped text.
    """
    parts = [f' <Record type="{type_}" sourceName="{source}"']
    version = version if version is not None else _VERSIONS.get(source, "1.0")
    parts.append(f' sourceVersion="{version}"')
    if device is None:
        device = _DEVICES.get(source)
    if device:
        parts.append(f' device="{device}"')
    if unit:
        parts.append(f' unit="{unit}"')
    parts.append(f' creationDate="{created or end}" startDate="{start}" endDate="{end}"')
    if value is not None:
        parts.append(f' value="{value}"')
    if children:
        parts.append(f">\n{children} </Record>\n")
    else:
        parts.append("/>\n")
    return "".join(parts)


def export_document(records: Iterable[str], *, root: str = "HealthData", doctype: bool | str = True) -> str:
    """A small, complete export around hand-written records (for focused tests).

    ``doctype``: True for the current Health app's, False for none, or the prolog to write instead.
    """
    if isinstance(doctype, str):
        head = doctype
    else:
        head = DOCTYPE if doctype else '<?xml version="1.0" encoding="UTF-8"?>\n'
    return (
        f'{head}<{root} locale="en_US">\n'
        ' <ExportDate value="2024-06-01 10:00:00 -0700"/>\n' + _me() + "".join(records) + f"</{root}>\n"
    )


def _me() -> str:
    return (
        ' <Me HKCharacteristicTypeIdentifierDateOfBirth="1991-04-12" '
        'HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale" '
        'HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" '
        'HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" '
        'HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>\n'
    )


# --------------------------------------------------------------------------------------------
# The plan of one day: the night that ends on it, its nap, its HRV samples
# --------------------------------------------------------------------------------------------

Segment = tuple[int, int, str]  # start epoch, end epoch, sleep value


@dataclass
class _Day:
    day: date
    midnight: int
    watch: list[Segment]
    phone: list[Segment]
    app: list[Segment]
    nap: list[tuple[str, Segment]]
    hrv_night: list[tuple[int, float]]
    hrv_day: list[tuple[int, float]]
    rhr: tuple[int, int, float] | None


def _plan(spec: ExportSpec, clock: _Clock, day: date) -> _Day:
    rng = random.Random(f"{spec.seed}:{day.toordinal()}:night")
    midnight = clock.midnight(day)
    bed = midnight - 7200 + rng.randrange(0, 150 * 60)  # 22:00–00:30
    onset = bed + rng.randrange(4 * 60, 25 * 60)
    wake = midnight + 6 * 3600 + rng.randrange(0, 120 * 60)  # 06:00–08:00
    watch_missing = rng.random() < spec.watch_missing_rate
    sleep_off = not watch_missing and rng.random() < spec.sleep_off_rate
    app_on = watch_missing or rng.random() < spec.app_rate

    watch: list[Segment] = []
    if not watch_missing and not sleep_off:
        if rng.random() < 0.6:
            watch.append((bed, onset, AWAKE))
        t = onset
        while t < wake:
            progress = (t - onset) / max(1, wake - onset)
            roll = rng.random()
            if roll < 0.1 and t > onset:
                stage, length = AWAKE, rng.randrange(60, 5 * 60)
            elif roll < 0.1 + 0.35 * (1 - progress):
                stage, length = DEEP, rng.randrange(8 * 60, 35 * 60)
            elif roll < 0.55 + 0.2 * progress:
                stage, length = CORE, rng.randrange(10 * 60, 40 * 60)
            else:
                stage, length = REM, rng.randrange(5 * 60, 30 * 60)
            end = min(t + length, wake)
            # The Watch sometimes writes boundaries that overlap by a few seconds.
            if watch and watch[-1][2] == AWAKE and stage == AWAKE:
                stage = CORE
            overlap = watch and watch[-1][2] != AWAKE and stage != AWAKE and rng.random() < 0.08
            start = t - rng.randrange(1, 40) if overlap else t
            watch.append((start, end, stage))
            t = end
        if watch and watch[-1][2] == AWAKE:
            watch[-1] = (watch[-1][0], watch[-1][1], CORE)
        if rng.random() < 0.1:  # a sync duplicate, written twice
            watch.append(watch[rng.randrange(len(watch))])

    phone: list[Segment] = []
    if not sleep_off and rng.random() < 0.8:
        phone.append((bed - rng.randrange(0, 600), wake + rng.randrange(0, 1200), IN_BED))

    app: list[Segment] = []
    if not sleep_off and app_on:
        app.append((bed - 180, wake + 360, IN_BED))
        a = onset + rng.randrange(-300, 600)
        b = wake - rng.randrange(0, 600)
        mid = (a + b) // 2
        app.append((a, mid + 600, ASLEEP))
        app.append((mid, b, ASLEEP))

    nap: list[tuple[str, Segment]] = []
    if rng.random() < spec.nap_rate:
        start = midnight + 13 * 3600 + rng.randrange(0, 150 * 60)
        end = start + rng.randrange(20 * 60, 80 * 60)
        if rng.random() < 0.5:
            nap.append((APP, (start - 120, end + 120, IN_BED)))
            nap.append((APP, (start, end, ASLEEP)))
        else:
            nap.append((WATCH, (start, end, CORE)))

    base = 42.0 * math.exp(rng.gauss(0, 0.12))
    hrv_night: list[tuple[int, float]] = []
    if not watch_missing:
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(onset + 600, wake - 600)
            hrv_night.append((at, round(max(5.0, rng.gauss(base * 1.1, 7)), 4)))
        hrv_night.sort()
    hrv_day = sorted(
        (midnight + rng.randrange(9 * 3600, 21 * 3600), round(max(5.0, rng.gauss(base * 0.8, 7)), 4))
        for _ in range(rng.randint(2, 4))
    )
    rhr = None
    if rng.random() < 0.98:
        rhr = (
            midnight + rng.randrange(60, 600),
            midnight + 86400 - rng.randrange(60, 900),
            float(round(rng.gauss(52, 3))),
        )
    return _Day(day, midnight, watch, phone, app, nap, hrv_night, hrv_day, rhr)


def _union_seconds(intervals: Iterable[tuple[int, int]]) -> int:
    total, cur_start, cur_end = 0, None, None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def _expected(plan: _Day, clock: _Clock) -> ExpectedDay:
    source, segments = (WATCH, plan.watch) if plan.watch else (APP, plan.app)
    asleep = [(s, e) for s, e, v in segments if v in _ASLEEP_STAGES]
    if asleep:
        wake_epoch = max(e for _, e in asleep)
        window_start = min(s for s, _, _ in segments)
        window_end = max(e for _, e, _ in segments)
        sleep_min: float | None = _union_seconds(asleep) / 60
        in_window = [v for at, v in plan.hrv_night + plan.hrv_day if window_start <= at <= window_end]
        wake: datetime | None = clock.aware(wake_epoch)
        chosen: str | None = source
    else:
        sleep_min, wake, chosen = None, None, None
        in_window = [
            v
            for at, v in plan.hrv_night + plan.hrv_day
            if clock.local_date(at) == plan.day and clock.local_seconds(at) < 10 * 3600
        ]
    return ExpectedDay(
        sleep_source=chosen,
        asleep_min=sleep_min,
        wake=wake,
        sdnn=statistics.median(in_window) if in_window else None,
        resting_hr=plan.rhr[2] if plan.rhr else None,
    )


# --------------------------------------------------------------------------------------------
# Record writers, one per record kind; each returns the XML of that kind for one day
# --------------------------------------------------------------------------------------------

Writer = Callable[[ExportSpec, _Clock, _Day, Counter[str]], str]

# (type, source, unit, records per day at filler=1, day window hours, value range, metadata child)
_FILLER: tuple[tuple[str, str, str, int, tuple[int, int], tuple[float, float], str], ...] = (
    ("HKQuantityTypeIdentifierStepCount", PHONE, "count", 90, (7, 23), (8, 900), ""),
    ("HKQuantityTypeIdentifierStepCount", WATCH, "count", 80, (7, 23), (8, 900), ""),
    ("HKQuantityTypeIdentifierDistanceWalkingRunning", PHONE, "km", 90, (7, 23), (0.005, 0.7), ""),
    ("HKQuantityTypeIdentifierDistanceWalkingRunning", WATCH, "km", 80, (7, 23), (0.005, 0.7), ""),
    ("HKQuantityTypeIdentifierBasalEnergyBurned", WATCH, "Cal", 220, (0, 24), (0.4, 18), ""),
    ("HKQuantityTypeIdentifierActiveEnergyBurned", WATCH, "Cal", 480, (7, 23), (0.05, 14), ""),
    (
        "HKQuantityTypeIdentifierHeartRate",
        WATCH,
        "count/min",
        200,
        (0, 24),
        (48, 150),
        '  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>\n',
    ),
    ("HKQuantityTypeIdentifierFlightsClimbed", PHONE, "count", 10, (8, 21), (1, 4), ""),
    ("HKQuantityTypeIdentifierAppleStandTime", WATCH, "min", 40, (7, 23), (1, 5), ""),
    ("HKQuantityTypeIdentifierAppleExerciseTime", WATCH, "min", 35, (7, 21), (1, 1), ""),
    ("HKQuantityTypeIdentifierEnvironmentalAudioExposure", WATCH, "dBASPL", 60, (7, 23), (35, 85), ""),
    ("HKQuantityTypeIdentifierHeadphoneAudioExposure", PHONE, "dBASPL", 15, (7, 23), (40, 80), ""),
    ("HKQuantityTypeIdentifierWalkingSpeed", PHONE, "km/hr", 25, (8, 21), (3, 6), ""),
    ("HKQuantityTypeIdentifierWalkingStepLength", PHONE, "cm", 25, (8, 21), (60, 80), ""),
    ("HKQuantityTypeIdentifierRespiratoryRate", WATCH, "count/min", 25, (0, 7), (12, 18), ""),
    ("HKQuantityTypeIdentifierOxygenSaturation", WATCH, "%", 6, (0, 24), (0.93, 1.0), ""),
)


def _filler_writer(index: int) -> Writer:
    type_, source, unit, per_day, (h0, h1), (lo, hi), child = _FILLER[index]
    device = _DEVICES[source]
    version = _VERSIONS[source]
    integer = unit in ("count", "count/min", "min")
    head = (
        f' <Record type="{type_}" sourceName="{source}" sourceVersion="{version}" device="{device}"'
        f' unit="{unit}"'
    )
    tail = f">\n{child} </Record>\n" if child else "/>\n"

    def write(spec: ExportSpec, clock: _Clock, plan: _Day, counts: Counter[str]) -> str:
        n = int(
            per_day * spec.filler + random.Random(f"{spec.seed}:{plan.day.toordinal()}:f{index}").random()
        )
        if n <= 0:
            return ""
        rng = random.Random(f"{spec.seed}:{plan.day.toordinal()}:{index}")
        span = (h1 - h0) * 3600
        base = plan.midnight + h0 * 3600
        fmt = clock.fmt
        out = []
        for start in sorted(base + int(rng.random() * span) for _ in range(n)):
            end = start + rng.randrange(0, 600)
            value = (
                round(lo + rng.random() * (hi - lo)) if integer else round(lo + rng.random() * (hi - lo), 5)
            )
            end_text = fmt(end)
            out.append(
                f'{head} creationDate="{fmt(end + 40)}" startDate="{fmt(start)}" endDate="{end_text}"'
                f' value="{value}"{tail}'
            )
        if spec.stray_controls and child and out:
            # The motion-context value of the day's first heart-rate sample gets a vertical tab.
            out[0] = out[0].replace('value="0"/>', 'value="0\x0b"/>', 1)
        counts[type_] += n
        return "".join(out)

    return write


def _beats(rng: random.Random, clock: _Clock, at: int, n: int) -> str:
    if n <= 0:
        return ""
    lines = ["  <HeartRateVariabilityMetadataList>\n"]
    seconds = clock.local_seconds(at) + 0.0
    for _ in range(n):
        seconds += rng.uniform(0.7, 1.3)
        h, rem = divmod(seconds, 3600)
        m, s = divmod(rem, 60)
        hour12 = int(h) % 12 or 12
        lines.append(
            f'   <InstantaneousBeatsPerMinute bpm="{rng.randint(50, 80)}" '
            f'time="{hour12}:{int(m):02d}:{s:05.2f} {"AM" if int(h) % 24 < 12 else "PM"}"/>\n'
        )
    lines.append("  </HeartRateVariabilityMetadataList>\n")
    return "".join(lines)


def _write_sdnn(spec: ExportSpec, clock: _Clock, plan: _Day, counts: Counter[str]) -> str:
    rng = random.Random(f"{spec.seed}:{plan.day.toordinal()}:beats")
    out = []
    for at, value in sorted(plan.hrv_night + plan.hrv_day):
        end = at + rng.randrange(55, 65)
        out.append(
            record_xml(
                SDNN,
                clock.fmt(at),
                clock.fmt(end),
                value,
                source=WATCH,
                unit="ms",
                created=clock.fmt(end + 5),
                children=_beats(rng, clock, at, spec.beats_per_hrv),
            )
        )
    counts[SDNN] += len(out)
    return "".join(out)


def _write_rhr(spec: ExportSpec, clock: _Clock, plan: _Day, counts: Counter[str]) -> str:
    if plan.rhr is None:
        return ""
    start, end, value = plan.rhr
    counts[RESTING_HR] += 1
    return record_xml(
        RESTING_HR,
        clock.fmt(start),
        clock.fmt(end),
        f"{value:g}",
        unit="count/min",
        created=clock.fmt(end + 30),
    )


def _write_sleep(spec: ExportSpec, clock: _Clock, plan: _Day, counts: Counter[str]) -> str:
    out = []
    for source, segments in ((PHONE, plan.phone), (APP, plan.app), (WATCH, plan.watch)):
        for start, end, value in segments:
            out.append(record_xml(SLEEP, clock.fmt(start), clock.fmt(end), value, source=source))
    for source, (start, end, value) in plan.nap:
        out.append(record_xml(SLEEP, clock.fmt(start), clock.fmt(end), value, source=source))
    counts[SLEEP] += len(out)
    return "".join(out)


def _write_stand_hour(spec: ExportSpec, clock: _Clock, plan: _Day, counts: Counter[str]) -> str:
    n = int(16 * spec.filler)
    out = []
    for hour in range(7, 7 + n):
        start = plan.midnight + hour * 3600
        out.append(
            record_xml(
                "HKCategoryTypeIdentifierAppleStandHour",
                clock.fmt(start),
                clock.fmt(start + 3600),
                "HKCategoryValueAppleStandHourStood" if hour % 3 else "HKCategoryValueAppleStandHourIdle",
            )
        )
    counts["HKCategoryTypeIdentifierAppleStandHour"] += n
    return "".join(out)


def _write_workout(spec: ExportSpec, clock: _Clock, plan: _Day, counts: Counter[str]) -> str:
    rng = random.Random(f"{spec.seed}:{plan.day.toordinal()}:workout")
    if rng.random() < 0.5:
        return ""
    start = plan.midnight + rng.randrange(16 * 3600, 19 * 3600)
    minutes = rng.uniform(25, 70)
    end = start + int(minutes * 60)
    s, e = clock.fmt(start), clock.fmt(end)
    return (
        f' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="{minutes:.4f}" '
        f'durationUnit="min" sourceName="{WATCH}" sourceVersion="10.1" device="{WATCH_DEVICE}" '
        f'creationDate="{e}" startDate="{s}" endDate="{e}">\n'
        '  <MetadataEntry key="HKIndoorWorkout" value="0"/>\n'
        '  <MetadataEntry key="HKAverageMETs" value="10.4 kcal/hr·kg"/>\n'
        f'  <WorkoutEvent type="HKWorkoutEventTypeSegment" date="{s}" duration="8.1" durationUnit="min"/>\n'
        f'  <WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned" startDate="{s}" '
        f'endDate="{e}" sum="{minutes * 11:.2f}" unit="Cal"/>\n'
        f'  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="{s}" endDate="{e}" '
        f'average="{rng.uniform(135, 160):.1f}" minimum="98" maximum="176" unit="count/min"/>\n'
        f'  <WorkoutRoute sourceName="{WATCH}" sourceVersion="10.1" creationDate="{e}" startDate="{s}" '
        f'endDate="{e}">\n'
        f'   <FileReference path="/workout-routes/route_{plan.day.isoformat()}_{start % 86400}.gpx"/>\n'
        "  </WorkoutRoute>\n"
        " </Workout>\n"
    )


def _write_activity(spec: ExportSpec, clock: _Clock, plan: _Day, counts: Counter[str]) -> str:
    rng = random.Random(f"{spec.seed}:{plan.day.toordinal()}:activity")
    return (
        f' <ActivitySummary dateComponents="{plan.day.isoformat()}" '
        f'activeEnergyBurned="{rng.uniform(250, 900):.3f}" activeEnergyBurnedGoal="600" '
        'activeEnergyBurnedUnit="Cal" appleMoveTime="0" appleMoveTimeGoal="0" '
        f'appleExerciseTime="{rng.randint(5, 90)}" appleExerciseTimeGoal="30" '
        f'appleStandHours="{rng.randint(6, 14)}" appleStandHoursGoal="12"/>\n'
    )


def _record_writers() -> list[Writer]:
    # The Health app groups records by type; the three we import sit among the others, not first.
    fillers = [_filler_writer(i) for i in range(len(_FILLER))]
    return [
        *fillers[:6],
        _write_rhr,
        *fillers[6:12],
        _write_sdnn,
        *fillers[12:],
        _write_sleep,
        _write_stand_hour,
    ]


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def _chunks(spec: ExportSpec, result: GeneratedExport) -> Iterator[str]:
    clock = _Clock(spec.tz)
    days = [spec.start + timedelta(days=i) for i in range(spec.days)]
    plans: dict[date, _Day] = {}

    def plan_of(day: date) -> _Day:
        # Re-planned per pass in by_type order rather than kept: a year of plans is not needed at once.
        if spec.order == "chronological":
            return plans.setdefault(day, _plan(spec, clock, day))
        return _plan(spec, clock, day)

    end = clock.midnight(spec.start + timedelta(days=spec.days)) + 10 * 3600
    doctype = DOCTYPE_V12 if spec.export_version == 12 else DOCTYPE
    yield doctype + '<HealthData locale="en_US">\n' + f' <ExportDate value="{clock.fmt(end)}"/>\n' + _me()
    writers = _record_writers()
    records = result.records_by_type
    if spec.order == "by_type":
        for writer in writers:
            for day in days:
                yield writer(spec, clock, plan_of(day), records)
    else:
        for day in days:
            plan = plan_of(day)
            for writer in writers:
                yield writer(spec, clock, plan, records)
            plans.pop(day, None)
    for day in days:
        yield _write_workout(spec, clock, plan_of(day), records)
    for day in days:
        yield _write_activity(spec, clock, plan_of(day), records)
    yield "</HealthData>\n"
    for day in days:
        plan = _plan(spec, clock, day)
        expected = _expected(plan, clock)
        if expected.asleep_min is not None or expected.sdnn is not None or expected.resting_hr is not None:
            result.expected[day] = expected


def write_export(
    out: IO[bytes],
    spec: ExportSpec,
    *,
    progress: Callable[[int], None] | None = None,
    path: Path | None = None,
) -> GeneratedExport:
    """Stream an export.xml for ``spec`` into ``out``; ``progress(bytes_written)`` after each piece."""
    result = GeneratedExport(path=path or Path("-"))
    written = 0
    pending: list[bytes] = []
    pending_size = 0
    for text in _chunks(spec, result):
        data = text.encode()
        pending.append(data)
        pending_size += len(data)
        if pending_size >= 1 << 20:
            out.write(b"".join(pending))
            written += pending_size
            pending, pending_size = [], 0
            if progress:
                progress(written)
    out.write(b"".join(pending))
    written += pending_size
    if progress:
        progress(written)
    result.bytes = written
    result.records = sum(result.records_by_type.values())
    return result


def write_export_xml(
    path: Path, spec: ExportSpec, *, progress: Callable[[int], None] | None = None
) -> GeneratedExport:
    with open(path, "wb") as out:
        return write_export(out, spec, progress=progress, path=path)


def write_export_zip(
    path: Path,
    spec: ExportSpec,
    *,
    member: str = "apple_health_export/export.xml",
    progress: Callable[[int], None] | None = None,
) -> GeneratedExport:
    """An export.zip laid out like the Health app's: the CDA document first, routes, then export.xml."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        folder = member.rpartition("/")[0]
        prefix = f"{folder}/" if folder else ""
        archive.writestr(f"{prefix}export_cda.xml", CDA_XML)
        archive.writestr(f"{prefix}workout-routes/route_2024-01-02_7.12pm.gpx", "<gpx/>\n")
        with archive.open(member, "w", force_zip64=True) as out:
            result = write_export(out, spec, progress=progress, path=path)
    return result


class _CountingSink:
    """Counts what would be written: sizing a 300 MB export needs a sample, not a file."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def spec_for_size(target_bytes: int, spec: ExportSpec | None = None) -> ExportSpec:
    """``spec`` with ``days`` chosen so that the export comes out close to ``target_bytes``."""
    spec = spec or ExportSpec()
    sample_days = 14
    small = write_export(cast(IO[bytes], _CountingSink()), replace(spec, days=1)).bytes
    sample = write_export(cast(IO[bytes], _CountingSink()), replace(spec, days=sample_days + 1)).bytes
    per_day = (sample - small) / sample_days
    return replace(spec, days=max(1, round((target_bytes - (small - per_day)) / per_day)))


# --------------------------------------------------------------------------------------------
# Hostile files: written in pieces, so that a test makes a 100 MB one without holding it
# --------------------------------------------------------------------------------------------

HOSTILE_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<HealthData locale="en_US">\n'
HOSTILE_END = b"</HealthData>\n"
MIB = 1 << 20


def repeated(piece: bytes, total: int) -> Iterator[bytes]:
    """``piece`` over and over, ``total`` bytes in all (the last copy cut short), about 1 MiB at a time."""
    block = piece * max(1, MIB // len(piece))
    while total > 0:
        yield block[:total]
        total -= len(block)


def write_pieces(path: Path, pieces: Iterable[bytes], *, member: str | None = None) -> Path:
    """The pieces as a file, or as ``member`` of a deflated zip at ``path`` (zip64: any size)."""
    if member is None:
        with path.open("wb") as handle:
            for piece in pieces:
                handle.write(piece)
        return path
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(member, "w", force_zip64=True) as handle,
    ):
        for piece in pieces:
            handle.write(piece)
    return path
