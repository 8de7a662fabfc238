"""Apple Health export import: parsing, mapping to canonical days, errors, flat memory."""

from __future__ import annotations

import gc
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.wearables.apple import scanner
from perfhub.wearables.apple.archive import open_export
from perfhub.wearables.apple.errors import AppleHealthError
from perfhub.wearables.apple.importer import import_days
from perfhub.wearables.apple.records import USED_TYPES, AppleRecord
from perfhub.wearables.apple.scanner import iter_records

from .apple_export import (
    APP,
    PHONE,
    RESTING_HR,
    SDNN,
    SLEEP,
    WATCH,
    ExportSpec,
    GeneratedExport,
    export_document,
    record_xml,
    write_export_xml,
    write_export_zip,
)

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def sleep(start: str, end: str, stage: str, source: str = WATCH) -> str:
    return record_xml(SLEEP, start, end, f"HKCategoryValueSleepAnalysis{stage}", source=source)


def sdnn(at: str, end: str, value: float, source: str = WATCH) -> str:
    return record_xml(SDNN, at, end, value, source=source, unit="ms")


def rhr(start: str, end: str, value: float) -> str:
    return record_xml(RESTING_HR, start, end, value, unit="count/min")


def export(tmp_path: Path, *records: str, name: str = "export.xml") -> Path:
    path = tmp_path / name
    path.write_text(export_document(records), encoding="utf-8")
    return path


def by_date(payloads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["date"]: p for p in payloads}


def reference_records(path: Path) -> list[tuple[Any, ...]]:
    """The used records as ElementTree sees them: the obviously-correct (slow) reading."""
    out = []
    for _, element in ET.iterparse(path):
        if element.tag == "Record":
            a = element.attrib
            if a.get("type") in USED_TYPES:
                when = [datetime.strptime(a[k], "%Y-%m-%d %H:%M:%S %z") for k in ("startDate", "endDate")]
                out.append((a["type"], a["sourceName"], *when, a.get("value"), a.get("unit")))
            element.clear()
    return out


def ours(path: Path) -> list[tuple[Any, ...]]:
    with open_export(path) as stream:
        return [astuple(r) for r in iter_records(stream)]


def astuple(r: AppleRecord) -> tuple[Any, ...]:
    return (r.type, r.source_name, r.start, r.end, r.value, r.unit)


# --------------------------------------------------------------------------------------------
# HRV and resting HR
# --------------------------------------------------------------------------------------------


def test_sdnn_is_emitted_as_sdnn_never_as_rmssd(tmp_path: Path) -> None:
    path = export(
        tmp_path,
        sleep("2024-01-01 23:00:00 -0800", "2024-01-02 03:00:00 -0800", "AsleepCore"),
        sleep("2024-01-02 03:00:00 -0800", "2024-01-02 07:00:00 -0800", "AsleepDeep"),
        sdnn("2024-01-02 01:00:00 -0800", "2024-01-02 01:01:00 -0800", 40.0),
        sdnn("2024-01-02 04:00:00 -0800", "2024-01-02 04:01:00 -0800", 50.0),
        sdnn("2024-01-02 06:00:00 -0800", "2024-01-02 06:01:00 -0800", 90.0),
        sdnn("2024-01-02 15:00:00 -0800", "2024-01-02 15:01:00 -0800", 20.0),  # daytime: not the night's
    )
    hrv, _, summary = import_days(path)
    # Median of the three night samples; the exact dict, so no rMSSD/lnRMSSD key can sneak in.
    assert hrv == [
        {
            "date": "2024-01-02",
            "sdnn": 50.0,
            "vendor": "apple",
            "capturedAt": "2024-01-02T07:00:00-08:00",
            "sourceDevice": WATCH,
        }
    ]
    assert summary.records == 6 and summary.skipped == 0


def test_resting_hr_belongs_to_its_own_local_date(tmp_path: Path) -> None:
    path = export(
        tmp_path,
        rhr("2024-01-01 00:05:00 -0800", "2024-01-01 23:55:00 -0800", 52),
        rhr("2024-01-02 00:04:00 -0800", "2024-01-02 23:51:00 -0800", 49),
        # 00:02 on the 4th in +10:00 is still the 3rd in UTC: the record's own offset decides.
        rhr("2024-01-04 00:02:00 +1000", "2024-01-04 21:00:00 +1000", 58),
        rhr("2024-01-05 00:02:00 -0800", "2024-01-05 23:00:00 -0800", 150),  # out of range
    )
    hrv, sleep_rows, summary = import_days(path)
    assert sleep_rows == []
    assert [(p["date"], p["restingHr"], p["capturedAt"]) for p in hrv] == [
        ("2024-01-01", 52.0, "2024-01-01T23:55:00-08:00"),
        ("2024-01-02", 49.0, "2024-01-02T23:51:00-08:00"),
        ("2024-01-04", 58.0, "2024-01-04T21:00:00+10:00"),
    ]
    assert all("sdnn" not in p for p in hrv)
    assert summary.skipped == 1 and "resting HR 150" in summary.errors[0] and "25–120" in summary.errors[0]
    assert summary.days == 3


def test_hrv_falls_back_to_the_early_morning_when_there_is_no_sleep(tmp_path: Path) -> None:
    path = export(
        tmp_path,
        sdnn("2024-01-04 23:30:00 -0800", "2024-01-04 23:31:00 -0800", 10.0),
        sdnn("2024-01-05 03:00:00 -0800", "2024-01-05 03:01:00 -0800", 40.0),
        sdnn("2024-01-05 09:30:00 -0800", "2024-01-05 09:31:00 -0800", 60.0),
        sdnn("2024-01-05 11:00:00 -0800", "2024-01-05 11:01:00 -0800", 100.0),
    )
    hrv, _, _ = import_days(path)
    assert hrv == [
        {
            "date": "2024-01-05",
            "sdnn": 50.0,
            "vendor": "apple",
            "capturedAt": "2024-01-05T09:31:00-08:00",
            "sourceDevice": WATCH,
        }
    ]


# --------------------------------------------------------------------------------------------
# Sleep
# --------------------------------------------------------------------------------------------


def test_overlapping_watch_phone_and_app_sleep_is_one_night_from_one_source(tmp_path: Path) -> None:
    d1, d2 = "2024-01-01", "2024-01-02"
    path = export(
        tmp_path,
        # iPhone: one InBed interval (no asleep time, so it can never be the night's source)
        sleep(f"{d1} 22:50:00 -0800", f"{d2} 06:45:00 -0800", "InBed", PHONE),
        # Sleep app: InBed plus two overlapping asleep pieces, 443 min in all (longer than the Watch)
        sleep(f"{d1} 22:55:00 -0800", f"{d2} 06:40:00 -0800", "InBed", APP),
        sleep(f"{d1} 23:15:00 -0800", f"{d2} 03:30:00 -0800", "AsleepUnspecified", APP),
        sleep(f"{d2} 03:00:00 -0800", f"{d2} 06:38:00 -0800", "AsleepUnspecified", APP),
        # Watch: staged, one awakening, a 30 s overlap and a segment written twice
        sleep(f"{d1} 23:00:00 -0800", f"{d1} 23:10:00 -0800", "Awake"),
        sleep(f"{d1} 23:10:00 -0800", f"{d2} 01:00:00 -0800", "AsleepCore"),
        sleep(f"{d2} 01:00:00 -0800", f"{d2} 02:00:00 -0800", "AsleepDeep"),
        sleep(f"{d2} 02:00:00 -0800", f"{d2} 02:05:00 -0800", "Awake"),
        sleep(f"{d2} 02:05:00 -0800", f"{d2} 04:00:00 -0800", "AsleepREM"),
        sleep(f"{d2} 03:59:30 -0800", f"{d2} 06:30:00 -0800", "AsleepCore"),
        sleep(f"{d2} 03:59:30 -0800", f"{d2} 06:30:00 -0800", "AsleepCore"),
    )
    _, rows, summary = import_days(path)
    # Watch: 23:10–02:00 + 02:05–06:30 = 435 min asleep. The Watch wrote no InBed; the iPhone's and
    # the app's both cover all of its sleep, and the app's is the shorter: in bed 22:55–06:40.
    assert rows == [
        {
            "date": "2024-01-02",
            "durationMin": 435.0,
            "efficiencyPct": round(435 / 465 * 100, 1),
            "latencyMin": 15.0,
            "wakeCount": 1,
            "inBedMin": 465.0,
            "vendor": "apple",
            "capturedAt": "2024-01-02T06:30:00-08:00",
            "sourceDevice": WATCH,
        }
    ]
    assert summary.days == 1 and summary.records == 11


def test_without_stages_the_longest_source_wins_and_its_pieces_are_merged(tmp_path: Path) -> None:
    d1, d2 = "2024-01-01", "2024-01-02"
    path = export(
        tmp_path,
        # A Watch that ran flat after 40 minutes: staged, but far too little to be the night.
        sleep(f"{d1} 23:00:00 -0800", f"{d1} 23:40:00 -0800", "AsleepCore"),
        sleep(f"{d1} 22:40:00 -0800", f"{d2} 06:10:00 -0800", "InBed", APP),
        sleep(f"{d1} 23:00:00 -0800", f"{d2} 03:00:00 -0800", "AsleepUnspecified", APP),
        sleep(f"{d2} 02:00:00 -0800", f"{d2} 06:00:00 -0800", "AsleepUnspecified", APP),
        sleep(f"{d2} 02:00:00 -0800", f"{d2} 02:20:00 -0800", "Awake", APP),
        sleep(f"{d1} 23:30:00 -0800", f"{d2} 05:00:00 -0800", "AsleepUnspecified", "Pillow"),
    )
    _, rows, _ = import_days(path)
    assert len(rows) == 1
    night = rows[0]
    # App: 23:00–06:00 merged (420) minus its own Awake 02:00–02:20 = 400; never 420 + 330 + 40.
    assert night["sourceDevice"] == APP
    assert night["durationMin"] == 400.0
    assert night["wakeCount"] == 1
    assert night["inBedMin"] == 450.0 and night["latencyMin"] == 20.0
    assert night["efficiencyPct"] == round(400 / 450 * 100, 1)


@pytest.mark.parametrize(
    ("start", "end", "wake_date", "captured", "asleep"),
    [
        # -08:00: 23:00 → 07:00 local; the wake date is the next day (not the start's date).
        (
            "2024-01-01 23:00:00 -0800",
            "2024-01-02 07:00:00 -0800",
            "2024-01-02",
            "2024-01-02T07:00:00-08:00",
            480,
        ),
        # +10:00: wakes at 06:00 local, which is still the 1st in UTC; the local date counts.
        (
            "2024-01-01 22:00:00 +1000",
            "2024-01-02 06:00:00 +1000",
            "2024-01-02",
            "2024-01-02T06:00:00+10:00",
            480,
        ),
        # The night clocks go forward: 8 h on the wall clock, 7 h asleep.
        (
            "2024-03-09 23:00:00 -0800",
            "2024-03-10 07:00:00 -0700",
            "2024-03-10",
            "2024-03-10T07:00:00-07:00",
            420,
        ),
    ],
)
def test_a_night_belongs_to_the_local_wake_date_in_the_records_own_offset(
    tmp_path: Path, start: str, end: str, wake_date: str, captured: str, asleep: int
) -> None:
    mid = start[:11] + "23:59:00" + start[19:]
    path = export(
        tmp_path,
        sleep(start, end, "AsleepCore"),
        sdnn(mid, mid, 44.0),
    )
    hrv, rows, _ = import_days(path, default_tz="Europe/Berlin")  # the records' offsets win
    assert [(r["date"], r["capturedAt"], r["durationMin"]) for r in rows] == [(wake_date, captured, asleep)]
    assert [(h["date"], h["sdnn"], h["capturedAt"]) for h in hrv] == [(wake_date, 44.0, captured)]


def test_a_nap_never_creates_a_day_nor_adds_to_the_night(tmp_path: Path) -> None:
    path = export(
        tmp_path,
        sleep("2024-01-01 23:00:00 -0800", "2024-01-02 07:00:00 -0800", "AsleepCore"),
        sleep("2024-01-02 14:00:00 -0800", "2024-01-02 15:00:00 -0800", "AsleepCore"),  # nap, same source
        sleep("2024-01-03 13:30:00 -0800", "2024-01-03 14:15:00 -0800", "InBed", APP),
        sleep("2024-01-03 13:35:00 -0800", "2024-01-03 14:10:00 -0800", "AsleepUnspecified", APP),
        sdnn("2024-01-03 13:50:00 -0800", "2024-01-03 13:51:00 -0800", 61.0),  # during the nap
    )
    hrv, rows, summary = import_days(path)
    assert [(r["date"], r["durationMin"], r["sourceDevice"]) for r in rows] == [("2024-01-02", 480.0, WATCH)]
    assert hrv == []
    assert summary.days == 1


def test_values_out_of_range_are_skipped_with_a_reason(tmp_path: Path) -> None:
    path = export(
        tmp_path,
        sdnn("2024-01-05 03:00:00 -0800", "2024-01-05 03:01:00 -0800", 0.5),
        sdnn("2024-01-05 04:00:00 -0800", "2024-01-05 04:01:00 -0800", 412.0),
        sdnn("2024-01-05 05:00:00 -0800", "2024-01-05 05:01:00 -0800", 45.0),
        rhr("2024-01-05 00:01:00 -0800", "2024-01-05 23:00:00 -0800", 20),
        # An app that never stopped recording: 24.5 h asleep.
        sleep("2024-01-06 07:00:00 -0800", "2024-01-07 07:30:00 -0800", "AsleepUnspecified", APP),
        sleep("2024-01-07 23:00:00 -0800", "2024-01-08 07:00:00 -0800", "AsleepSideways"),
    )
    hrv, rows, summary = import_days(path)
    assert [(h["date"], h.get("sdnn"), h.get("restingHr")) for h in hrv] == [("2024-01-05", 45.0, None)]
    assert rows == []
    assert summary.records == 6
    assert summary.skipped == 5
    joined = "\n".join(summary.errors)
    for needle in ("SDNN 0.5 ms", "SDNN 412 ms", "resting HR 20", "1470 min is over 1440", "AsleepSideways"):
        assert needle in joined


# --------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> GeneratedExport:
    spec = ExportSpec(seed=7, start=date(2024, 2, 20), days=30, filler=0.05, beats_per_hrv=8)
    return write_export_xml(tmp_path_factory.mktemp("month") / "export.xml", spec)


def test_zip_and_plain_xml_import_the_same(tmp_path: Path, month: GeneratedExport) -> None:
    spec = ExportSpec(seed=7, start=date(2024, 2, 20), days=30, filler=0.05, beats_per_hrv=8)
    nested = write_export_zip(tmp_path / "export.zip", spec)
    flat = write_export_zip(tmp_path / "flat.zip", spec, member="export.xml")
    expected = import_days(month.path)
    assert expected[2].days == 30
    assert import_days(nested.path) == expected
    assert import_days(flat.path) == expected
    with zipfile.ZipFile(nested.path) as archive:
        # The CDA document comes first in the archive and is not the one read.
        assert archive.namelist()[0] == "apple_health_export/export_cda.xml"


def test_iter_records_agrees_with_elementtree(
    month: GeneratedExport, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = reference_records(month.path)
    assert len(reference) == month.used_records > 500
    assert ours(month.path) == reference
    monkeypatch.setattr(scanner, "CHUNK_BYTES", 4093)  # tags and text split at every odd place
    assert ours(month.path) == reference


def test_the_generated_month_imports_as_the_generator_planned(month: GeneratedExport) -> None:
    hrv, rows, summary = import_days(month.path)
    hrv_by, sleep_by = by_date(hrv), by_date(rows)
    assert summary.skipped == 0 and summary.records == month.used_records
    assert set(hrv_by) | set(sleep_by) == {d.isoformat() for d in month.expected}
    for day, want in month.expected.items():
        got_sleep = sleep_by.get(day.isoformat())
        if want.asleep_min is None:
            assert got_sleep is None, day
        else:
            assert got_sleep is not None, day
            assert want.wake is not None
            assert (got_sleep["durationMin"], got_sleep["sourceDevice"], got_sleep["capturedAt"]) == (
                round(want.asleep_min, 1),
                want.sleep_source,
                want.wake.isoformat(),
            ), day
        got_hrv = hrv_by.get(day.isoformat(), {})
        assert got_hrv.get("sdnn") == (None if want.sdnn is None else round(want.sdnn, 2)), day
        assert got_hrv.get("restingHr") == want.resting_hr, day


def test_record_order_in_the_file_does_not_matter(tmp_path: Path, month: GeneratedExport) -> None:
    spec = ExportSpec(seed=7, start=date(2024, 2, 20), days=30, filler=0.05, beats_per_hrv=8)
    mixed = write_export_xml(tmp_path / "chronological.xml", replace(spec, order="chronological"))
    assert mixed.path.read_bytes() != month.path.read_bytes()
    assert import_days(mixed.path) == import_days(month.path)


def test_payloads_fit_the_ingest_api(month: GeneratedExport) -> None:
    hrv, rows, _ = import_days(month.path)
    for model, payloads in ((HrvIn, hrv), (SleepIn, rows)):
        for payload in payloads:
            # sourceDevice is the one key beyond docs/http-api.md's ingest bodies (hrv_daily.source_device).
            body = {k: v for k, v in payload.items() if k != "sourceDevice"}
            model.model_validate({**body, "userId": 1})
            assert set(payload) - set(body) == {"sourceDevice"}


DOCUMENT_WITH_TRAPS = export_document(
    [
        "<!-- an old record, commented out:\n"
        + sdnn("2024-01-02 01:00:00 -0800", "2024-01-02 01:01:00 -0800", 11.0)
        + "-->\n",
        " <Note><![CDATA[ pasted: "
        + rhr("2024-01-02 00:01:00 -0800", "2024-01-02 23:00:00 -0800", 99)
        + " ]]></Note>\n",
        " <?editor " + sdnn("2024-01-02 02:00:00 -0800", "2024-01-02 02:01:00 -0800", 12.0) + "?>\n",
        # Valid XML Apple does not write: other quotes, spaces around '=', attribute order, references.
        " <Record\n   startDate = '2024-01-02 03:00:00 -0800'"
        " type='HKQuantityTypeIdentifierHeartRateVariabilitySDNN'"
        ' sourceName="Jo&apos;s &#x2019;Watch&#x2019; &amp; co" unit="ms"\n'
        '   endDate="2024-01-02 03:01:00 -0800" value="47.5" />\n',
        ' <Record type="HKQuantityTypeIdentifierStepCount" sourceName="HKCategoryTypeIdentifierSleepAnalysis"'
        ' startDate="2024-01-02 03:00:00 -0800" endDate="2024-01-02 03:01:00 -0800" value="12"/>\n',
        sleep("2024-01-01 23:00:00 -0800", "2024-01-02 07:00:00 -0800", "AsleepREM"),
        " <!-- a comment after the last record -->\n",
    ]
)


@pytest.mark.parametrize("chunk", [1, 5, 64, 1000, scanner.CHUNK_BYTES])
def test_records_in_comments_cdata_and_instructions_are_ignored_at_any_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    path = tmp_path / "export.xml"
    path.write_text(DOCUMENT_WITH_TRAPS, encoding="utf-8")
    monkeypatch.setattr(scanner, "CHUNK_BYTES", chunk)
    found = ours(path)
    assert [(r[0], r[1], r[4]) for r in found] == [
        (SDNN, "Jo's ’Watch’ & co", "47.5"),
        (SLEEP, WATCH, "HKCategoryValueSleepAnalysisAsleepREM"),
    ]
    assert found == reference_records(path)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def raises(path: Path) -> str:
    with pytest.raises(AppleHealthError) as caught:
        import_days(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_malformed_record_is_skipped_with_its_line_not_the_whole_file(
    tmp_path: Path, month: GeneratedExport
) -> None:
    lines = month.path.read_text(encoding="utf-8").splitlines(keepends=True)
    # Far past the first chunk, so the line number is counted across chunks.
    used = next(i for i in range(len(lines) - 1, 0, -1) if lines[i].startswith(f' <Record type="{SDNN}"'))
    other = next(
        i
        for i in range(len(lines) - 1, 0, -1)
        if lines[i].startswith(' <Record type="HKQuantityTypeIdentifierStepCount"')
    )
    for target in (used, other):
        lines[target] = lines[target].replace('value="', "value=", 1)
    broken = tmp_path / "broken.xml"
    broken.write_text("".join(lines), encoding="utf-8")
    hrv, rows, summary = import_days(broken)
    # The step record is not ours to judge; the SDNN one is counted, with where to find it.
    assert summary.records == month.used_records and summary.skipped == 1
    assert summary.errors == [f"SDNN at line {used + 1}: the Record tag is not well-formed XML"]
    good_hrv, good_rows, _ = import_days(month.path)
    assert rows == good_rows
    # One sample fewer moves at most the one day it belonged to.
    changed = [p for p in hrv if p not in good_hrv] + [p for p in good_hrv if p not in hrv]
    assert len({p["date"] for p in changed}) <= 1


def test_a_truncated_export_says_so(tmp_path: Path, month: GeneratedExport) -> None:
    data = month.path.read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(data[: len(data) * 2 // 3])
    message = raises(cut)
    assert "ends early" in message and "</HealthData>" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('<?xml version="1.0"?>\n<Workbook><Record type="x"/></Workbook>\n', "root element is <Workbook>"),
        ("date,hrv\n2024-01-01,45\n", "not an Apple Health export: not XML (syntax error at line 1"),
        ("", "the file is empty"),
        (
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n<HealthData locale="de"></HealthData>\n',
            "declares encoding ISO-8859-1",
        ),
    ],
)
def test_files_that_are_not_exports_are_refused(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "upload.xml"
    path.write_text(content, encoding="utf-8")
    assert expected in raises(path)


def test_zip_without_export_xml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
        archive.writestr("notes.txt", "hello")
    message = raises(path)
    assert "export.zip holds no Apple Health export" in message and "<HealthData> root" in message
    assert "notes.txt" in message


def test_a_missing_file_is_an_import_error(tmp_path: Path) -> None:
    assert "cannot read" in raises(tmp_path / "nope.zip")


# --------------------------------------------------------------------------------------------
# Progress and memory
# --------------------------------------------------------------------------------------------


def test_progress_counts_up_to_the_uncompressed_size(tmp_path: Path, month: GeneratedExport) -> None:
    calls: list[tuple[int, int]] = []
    zipped = write_export_zip(
        tmp_path / "export.zip",
        ExportSpec(seed=7, start=date(2024, 2, 20), days=30, filler=0.05, beats_per_hrv=8),
    )
    import_days(zipped.path, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 2
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (month.bytes, month.bytes)


def peak_bytes(run: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_year_imports_in_flat_memory(tmp_path: Path, month: GeneratedExport) -> None:
    # Same density, one quarter vs one year: the file grows 4×; memory is the streaming buffers
    # plus a compact column per kept record, so the peak must barely move. A parser that kept the
    # tree (or a list of every record) would grow with the file and fail both checks.
    quarter = write_export_xml(
        tmp_path / "quarter.xml", ExportSpec(seed=3, start=date(2023, 1, 1), days=91, filler=0.03)
    )
    year = write_export_xml(
        tmp_path / "year.xml", ExportSpec(seed=3, start=date(2023, 1, 1), days=365, filler=0.03)
    )
    assert 4_000_000 < quarter.bytes < 6_000_000 and 17_000_000 < year.bytes < 23_000_000
    import_days(month.path)  # warm caches (regex, zoneinfo) outside the measurement
    small = peak_bytes(lambda: import_days(quarter.path))
    large = peak_bytes(lambda: import_days(year.path))
    assert large < 1.5 * small, (small, large)
    assert large < year.bytes / 3, (large, year.bytes)


def test_the_generator_is_deterministic_by_seed(tmp_path: Path) -> None:
    spec = ExportSpec(seed=11, days=4, filler=0.1, beats_per_hrv=4)
    first = write_export_xml(tmp_path / "a.xml", spec)
    second = write_export_xml(tmp_path / "b.xml", spec)
    other = write_export_xml(tmp_path / "c.xml", replace(spec, seed=12))
    assert first.path.read_bytes() == second.path.read_bytes() != other.path.read_bytes()
