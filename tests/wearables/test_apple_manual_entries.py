"""What the athlete typed into the Health app is theirs (vendor ``manual``), bedtime comes only from
InBed records (the night's own source's first, else another's over the same sleep), and an export
without HRV, resting HR or sleep says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.wearables.apple import scanner
from perfhub.wearables.apple.importer import import_days

from .apple_export import PHONE, RESTING_HR, SDNN, SLEEP, USER_ENTERED, WATCH, export_document, record_xml

HEALTH = "Health"  # what the Health app writes as sourceName for data added by hand


def sleep(start: str, end: str, stage: str, source: str = WATCH, *, by_hand: bool = False) -> str:
    value = f"HKCategoryValueSleepAnalysis{stage}"
    return record_xml(SLEEP, start, end, value, source=source, children=USER_ENTERED if by_hand else "")


def write(tmp_path: Path, *records: str) -> Path:
    path = tmp_path / "export.xml"
    path.write_text(export_document(records), encoding="utf-8")
    return path


def fits_the_ingest_api(hrv: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    for model, payloads in ((HrvIn, hrv), (SleepIn, rows)):
        for payload in payloads:
            model.model_validate({**payload, "userId": 1})


# --------------------------------------------------------------------------------------------
# HKWasUserEntered
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 50, scanner.CHUNK_BYTES])
def test_records_entered_by_hand_are_manual_never_apple(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    d1, d2 = "2024-01-01", "2024-01-02"
    metadata = '  <MetadataEntry key="HKTimeZone" value="America/Los_Angeles"/>\n' + USER_ENTERED
    path = write(
        tmp_path,
        # Measured: the Watch's night and an SDNN sample in it.
        sleep(f"{d1} 23:00:00 -0800", f"{d2} 06:00:00 -0800", "AsleepCore"),
        record_xml(SDNN, f"{d2} 02:00:00 -0800", f"{d2} 02:01:00 -0800", 48, unit="ms"),
        # Typed in on the same day: an SDNN reading and a resting HR, and a whole night on the 3rd.
        record_xml(
            SDNN,
            f"{d2} 07:30:00 -0800",
            f"{d2} 07:30:00 -0800",
            61,
            source=HEALTH,
            unit="ms",
            children=metadata,
        ),
        record_xml(
            RESTING_HR,
            f"{d2} 07:31:00 -0800",
            f"{d2} 07:31:00 -0800",
            47,
            source=HEALTH,
            unit="count/min",
            children=USER_ENTERED,
        ),
        sleep(
            "2024-01-02 22:00:00 -0800",
            "2024-01-03 08:00:00 -0800",
            "AsleepUnspecified",
            HEALTH,
            by_hand=True,
        ),
        # HKWasUserEntered="0", or inside a comment, is not a hand entry.
        record_xml(
            RESTING_HR,
            f"{d1} 00:01:00 -0800",
            f"{d1} 23:00:00 -0800",
            52,
            unit="count/min",
            children='  <MetadataEntry key="HKWasUserEntered" value="0"/>\n  <!-- ' + USER_ENTERED + " -->\n",
        ),
    )
    monkeypatch.setattr(scanner, "CHUNK_BYTES", chunk)
    hrv, rows, summary = import_days(path)
    assert [(h["date"], h["vendor"], h.get("sdnn"), h.get("restingHr"), h["sourceDevice"]) for h in hrv] == [
        ("2024-01-01", "apple", None, 52.0, WATCH),
        ("2024-01-02", "apple", 48.0, None, WATCH),
        ("2024-01-02", "manual", 61.0, 47.0, HEALTH),
    ]
    # The hand-entered night: its length, and nothing it does not say (no bedtime, no awakenings).
    assert [(r["date"], r["vendor"]) for r in rows] == [("2024-01-02", "apple"), ("2024-01-03", "manual")]
    assert rows[1] == {
        "date": "2024-01-03",
        "durationMin": 600.0,
        "vendor": "manual",
        "capturedAt": "2024-01-03T08:00:00-08:00",
        "sourceDevice": HEALTH,
    }
    assert summary.records == 6 and summary.skipped == 0 and summary.days == 3
    fits_the_ingest_api(hrv, rows)


def test_old_exports_with_metadata_as_attributes_are_read_too(tmp_path: Path) -> None:
    record = record_xml(
        RESTING_HR, "2024-01-02 07:31:00 -0800", "2024-01-02 07:31:00 -0800", 47, unit="count/min"
    ).replace("<Record ", '<Record HKWasUserEntered="1" ')
    hrv, _, _ = import_days(write(tmp_path, record))
    assert [h["vendor"] for h in hrv] == ["manual"]


def test_a_bad_value_entered_by_hand_is_skipped_and_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        record_xml(
            SDNN,
            "2024-01-02 07:30:00 -0800",
            "2024-01-02 07:30:00 -0800",
            900,
            source=HEALTH,
            unit="ms",
            children=USER_ENTERED,
        ),
    )
    hrv, _, summary = import_days(path)
    assert hrv == [] and summary.skipped == 1
    assert summary.errors == [
        "SDNN 900 ms at 2024-01-02 07:30:00-08:00 from Health (entered by hand) is outside 1–300"
    ]


# --------------------------------------------------------------------------------------------
# Bedtime: efficiency, latency and time in bed only from InBed
# --------------------------------------------------------------------------------------------


def test_efficiency_and_latency_need_an_in_bed_record(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        # 2nd: an app without InBed; its asleep span alone says nothing about bedtime.
        sleep("2024-01-01 22:00:00 -0800", "2024-01-02 08:00:00 -0800", "AsleepUnspecified", "Pillow"),
        # 3rd: the Watch with a leading Awake but no InBed: tracking began then, not bedtime.
        sleep("2024-01-02 22:30:00 -0800", "2024-01-02 22:50:00 -0800", "Awake"),
        sleep("2024-01-02 22:50:00 -0800", "2024-01-03 06:50:00 -0800", "AsleepCore"),
        # 4th: the app again, now with InBed from 22:00: 30 min to fall asleep, 7.5 h of 8 h asleep.
        sleep("2024-01-03 22:00:00 -0800", "2024-01-04 06:00:00 -0800", "InBed", "Pillow"),
        sleep("2024-01-03 22:30:00 -0800", "2024-01-04 06:00:00 -0800", "AsleepUnspecified", "Pillow"),
    )
    _, rows, _ = import_days(path)
    bedtime = ("efficiencyPct", "latencyMin", "inBedMin")
    assert [(r["date"], r["durationMin"], *(r.get(k) for k in bedtime)) for r in rows] == [
        ("2024-01-02", 600.0, None, None, None),
        ("2024-01-03", 480.0, None, None, None),
        ("2024-01-04", 450.0, 93.8, 30.0, 480.0),
    ]
    fits_the_ingest_api([], rows)


def test_an_in_bed_record_from_another_source_gives_the_watch_its_bedtime(tmp_path: Path) -> None:
    # The Watch writes no InBed; the iPhone's sleep schedule does, for the same night.
    path = write(
        tmp_path,
        sleep("2024-01-01 22:00:00 -0800", "2024-01-02 07:00:00 -0800", "InBed", PHONE),
        sleep("2024-01-01 23:00:00 -0800", "2024-01-02 06:00:00 -0800", "AsleepCore"),
    )
    _, rows, _ = import_days(path)
    bedtime = ("efficiencyPct", "latencyMin", "inBedMin")
    assert [(r["sourceDevice"], r["durationMin"], *(r.get(k) for k in bedtime)) for r in rows] == [
        (WATCH, 420.0, round(420 / 540 * 100, 1), 60.0, 540.0)
    ]
    fits_the_ingest_api([], rows)


def test_the_winners_own_in_bed_comes_before_another_sources(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        sleep("2024-01-01 21:00:00 -0800", "2024-01-02 07:00:00 -0800", "InBed", PHONE),
        sleep("2024-01-01 22:30:00 -0800", "2024-01-02 06:30:00 -0800", "InBed", "Pillow"),
        sleep("2024-01-01 23:00:00 -0800", "2024-01-02 06:00:00 -0800", "AsleepUnspecified", "Pillow"),
    )
    _, rows, _ = import_days(path)
    assert [(r["sourceDevice"], r["latencyMin"], r["inBedMin"]) for r in rows] == [("Pillow", 30.0, 480.0)]


def test_the_in_bed_record_covering_most_of_the_sleep_gives_the_bedtime(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        # The phone's schedule ends at 05:00, an hour before waking; the app's covers it all.
        sleep("2024-01-01 22:30:00 -0800", "2024-01-02 05:00:00 -0800", "InBed", PHONE),
        sleep("2024-01-01 22:45:00 -0800", "2024-01-02 06:15:00 -0800", "InBed", "Pillow"),
        sleep("2024-01-01 23:00:00 -0800", "2024-01-02 06:00:00 -0800", "AsleepCore"),
    )
    _, rows, _ = import_days(path)
    assert [(r["latencyMin"], r["inBedMin"]) for r in rows] == [(15.0, 450.0)]


def test_no_bedtime_from_in_bed_records_that_miss_the_sleep_or_run_for_days(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        # Ends as the sleep starts: it touches the night but says nothing about it.
        sleep("2024-01-01 21:00:00 -0800", "2024-01-01 23:00:00 -0800", "InBed", PHONE),
        sleep("2024-01-01 23:00:00 -0800", "2024-01-02 06:00:00 -0800", "AsleepCore"),
        # Left running for 30 hours: no bedtime of any one night.
        sleep("2024-01-02 20:00:00 -0800", "2024-01-04 02:00:00 -0800", "InBed", "Pillow"),
        sleep("2024-01-02 23:00:00 -0800", "2024-01-03 06:00:00 -0800", "AsleepCore"),
    )
    _, rows, _ = import_days(path)
    assert [(r["date"], "efficiencyPct" in r, "latencyMin" in r, "inBedMin" in r) for r in rows] == [
        ("2024-01-02", False, False, False),
        ("2024-01-03", False, False, False),
    ]


def test_a_night_typed_in_by_hand_never_takes_a_devices_bedtime(tmp_path: Path) -> None:
    # Ten hours typed in, the iPhone's schedule over the same night: no efficiency made up from either.
    path = write(
        tmp_path,
        sleep("2024-01-01 21:00:00 -0800", "2024-01-02 07:00:00 -0800", "InBed", PHONE),
        sleep(
            "2024-01-01 21:00:00 -0800",
            "2024-01-02 07:00:00 -0800",
            "AsleepUnspecified",
            HEALTH,
            by_hand=True,
        ),
    )
    _, rows, _ = import_days(path)
    assert [(r["vendor"], r["durationMin"], "efficiencyPct" in r, "latencyMin" in r) for r in rows] == [
        ("manual", 600.0, False, False)
    ]


# --------------------------------------------------------------------------------------------
# Nothing to import
# --------------------------------------------------------------------------------------------


def test_an_export_without_hrv_resting_hr_or_sleep_says_so(tmp_path: Path) -> None:
    steps = record_xml(
        "HKQuantityTypeIdentifierStepCount", "2024-01-02 09:00:00 -0800", "2024-01-02 09:10:00 -0800", 812
    )
    hrv, rows, summary = import_days(write(tmp_path, steps))
    assert (hrv, rows, summary.records, summary.days, summary.skipped) == ([], [], 0, 0, 0)
    assert summary.message is not None
    assert "no HRV (SDNN), resting heart rate or sleep records" in summary.message


def test_an_export_whose_records_are_all_unusable_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        record_xml(RESTING_HR, "2024-01-02 00:01:00 -0800", "2024-01-02 23:00:00 -0800", 300),
        record_xml(SDNN, "2024-01-02 03:00:00 -0800", "bad date", 40, unit="ms"),
    )
    hrv, rows, summary = import_days(path)
    assert (hrv, rows, summary.records, summary.days, summary.skipped) == ([], [], 2, 0, 2)
    assert summary.message is not None and "none of this export's 2" in summary.message


def test_an_export_with_days_has_no_message(tmp_path: Path) -> None:
    path = write(tmp_path, sleep("2024-01-01 23:00:00 -0800", "2024-01-02 07:00:00 -0800", "AsleepCore"))
    assert import_days(path)[2].message is None
