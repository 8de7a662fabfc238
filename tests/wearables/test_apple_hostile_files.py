"""Files made to hurt the importer: time and memory stay bounded, and messages stay short and inert.

Each big file is generated here, in pieces, and read by ``import_days`` in a subprocess of its own,
which reports its wall time and how far its peak RSS (``VmHWM``) rose over a warmed-up baseline:
the import's own cost, whatever else the test process holds.

Measured on the code before this (2 cores, load about 4), same files: 100 MiB of spaces before the
root 17 s and +302 MB; 100 MiB of type names without a '<' 29 s; 40 spaces and a byte after
``</HealthData>`` and a record with a million MetadataEntry children (each behind a comment) over
300 s; 100 MiB of processing instructions 26 s, of ``<!x`` 16 s; 400,000 one-minute sleep records
+82 MB, 400,000 isolated ones +161 MB; a 256 MiB zip bomb inflated whole. Before the rework
before that, 100 MiB of spaces in a zip took +203 MB and one 100 MiB attribute +619 MB and a skip
reason of 100 MiB. Now each is under 6 s and +26 MB. The bounds are several times that (a loaded
machine) and under what the old code took.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from perfhub.wearables.apple import archive as apple_archive
from perfhub.wearables.apple import scanner
from perfhub.wearables.apple.days import MAX_SOURCES
from perfhub.wearables.apple.errors import MAX_MESSAGE, AppleHealthError, shown
from perfhub.wearables.apple.importer import import_days
from perfhub.wearables.apple.limits import ImportLimits
from perfhub.wearables.apple.records import MAX_SOURCE_CHARS

from .apple_export import (
    HOSTILE_END,
    HOSTILE_HEAD,
    MIB,
    RESTING_HR,
    SDNN,
    SLEEP,
    export_document,
    record_xml,
    repeated,
    write_pieces,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (VmHWM)")

MAX_GROWTH = 64 * MIB
NO_RATIO = {"max_zip_ratio": 1e12}  # to reach the scanner with what the ratio cap would refuse

MEASURE = r"""
import json, sys, time
from pathlib import Path
from perfhub.wearables.apple.errors import AppleHealthError
from perfhub.wearables.apple.importer import import_days
from perfhub.wearables.apple.limits import ImportLimits

def peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")

path, limits, warm = Path(sys.argv[1]), ImportLimits(**json.loads(sys.argv[2])), Path(sys.argv[3])
import_days(warm, limits=limits)  # regexes, numpy, zoneinfo and a chunk buffer: not the file's cost
before = peak()
started = time.perf_counter()
try:
    hrv, sleep, summary = import_days(path, limits=limits)
    result = {"records": summary.records, "skipped": summary.skipped, "errors": summary.errors,
              "hrv": len(hrv), "sleep": len(sleep)}
except AppleHealthError as exc:
    result = {"refused": str(exc)}
print(json.dumps({"seconds": time.perf_counter() - started, "growth": peak() - before, **result}))
"""


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warm") / "warm.xml"
    path.write_text(export_document([sdnn_record(datetime(2024, 1, 2, 3))]), encoding="utf-8")
    return path


def measure(path: Path, warm: Path, **limits: Any) -> dict[str, Any]:
    """``import_days(path)`` in a fresh interpreter: seconds, peak RSS growth and the outcome."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), json.dumps(limits), str(warm)],
        capture_output=True,
        text=True,
        timeout=300,  # the old code never finished some of these: fail, do not hang
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    path.unlink()
    return result


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S -0800")


def sdnn_record(moment: datetime, value: float = 50.0, source: str = "Watch") -> str:
    return record_xml(SDNN, at(moment), at(moment), value, source=source, unit="ms")


def inert(message: str, limit: int) -> None:
    assert len(message) <= limit, f"{len(message)} characters"
    assert message.isprintable(), repr(message)


# --------------------------------------------------------------------------------------------
# What the probe sent, and its relatives
# --------------------------------------------------------------------------------------------


def test_a_zip_of_100_mib_of_spaces_is_refused_at_once_and_read_flat_when_allowed(
    tmp_path: Path, warm: Path
) -> None:
    def build() -> Path:
        pieces = [HOSTILE_HEAD, *repeated(b" ", 100 * MIB), HOSTILE_END]
        return write_pieces(tmp_path / "export.zip", pieces, member="apple_health_export/export.xml")

    refused = measure(build(), warm)
    assert "zip bomb" in refused["refused"] and "1,0" in refused["refused"]  # about 1,028 times
    assert refused["seconds"] < 5 and refused["growth"] < 16 * MIB
    # The scanner itself: the carried tail stays bounded however long a run without '<' is.
    read = measure(build(), warm, **NO_RATIO)
    assert read["records"] == 0 and read["growth"] < MAX_GROWTH and read["seconds"] < 30


def test_100_mib_of_spaces_before_the_root_is_refused_without_holding_them(
    tmp_path: Path, warm: Path
) -> None:
    pieces = [b'<?xml version="1.0"?>', *repeated(b" ", 100 * MIB), b"<HealthData>", HOSTILE_END]
    result = measure(write_pieces(tmp_path / "export.xml", pieces), warm)
    assert "not an Apple Health export" in result["refused"]
    assert result["growth"] < MAX_GROWTH and result["seconds"] < 10


def test_one_100_mib_attribute_costs_one_short_skip_reason(tmp_path: Path, warm: Path) -> None:
    good = sdnn_record(datetime(2024, 1, 2, 4)).encode()
    pieces = [
        HOSTILE_HEAD,
        f' <Record type="{SDNN}" sourceName="'.encode(),
        *repeated(b"A", 100 * MIB),
        b'" unit="ms" startDate="2024-01-02 03:00:00 -0800" endDate="2024-01-02 03:00:00 -0800"',
        b' value="x"/>\n',
        good,
        HOSTILE_END,
    ]
    result = measure(write_pieces(tmp_path / "export.zip", pieces, member="export.xml"), warm, **NO_RATIO)
    assert (result["records"], result["skipped"], result["hrv"]) == (2, 1, 1)
    assert result["errors"] == ["SDNN at line 3: the Record tag is longer than 64.0 KiB"]
    assert result["growth"] < MAX_GROWTH and result["seconds"] < 30


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path, warm: Path) -> None:
    pieces = [HOSTILE_HEAD, *repeated(b"\0", 256 * MIB), HOSTILE_END]
    result = measure(write_pieces(tmp_path / "export.zip", pieces, member="export.xml"), warm)
    assert "would inflate" in result["refused"] and "zip bomb" in result["refused"]
    assert result["seconds"] < 2 and result["growth"] < 16 * MIB


def test_nesting_ten_million_deep_is_just_bytes(tmp_path: Path, warm: Path) -> None:
    depth = 10_000_000
    pieces = [
        HOSTILE_HEAD,
        *repeated(b"<a>", 3 * depth),
        sdnn_record(datetime(2024, 1, 2, 3)).encode(),
        *repeated(b"</a>", 4 * depth),
        HOSTILE_END,
    ]
    result = measure(write_pieces(tmp_path / "export.zip", pieces, member="export.xml"), warm, **NO_RATIO)
    assert (result["records"], result["hrv"]) == (1, 1)
    assert result["growth"] < MAX_GROWTH and result["seconds"] < 30


# --------------------------------------------------------------------------------------------
# Inputs that made a search quadratic or a pattern backtrack
# --------------------------------------------------------------------------------------------


def test_type_names_with_no_tag_between_them_are_stepped_over(tmp_path: Path, warm: Path) -> None:
    # Each one used to search back for its tag's '<' from the start of the chunk.
    names = repeated(f'{RESTING_HR}"'.encode(), 100 * MIB)
    good = sdnn_record(datetime(2024, 1, 2, 3)).encode()
    pieces = [HOSTILE_HEAD, b" <Record ", *names, b"/>\n", good, HOSTILE_END]
    result = measure(write_pieces(tmp_path / "export.xml", pieces), warm)
    assert result["records"] == 1 and result["growth"] < MAX_GROWTH and result["seconds"] < 10


def test_spaces_then_a_stray_byte_after_the_root_end_is_refused_at_once(tmp_path: Path, warm: Path) -> None:
    # "(\s+|...)*\Z" tried every way of splitting the spaces: 40 took longer than anyone waits.
    text = export_document([sdnn_record(datetime(2024, 1, 2, 3))]) + " " * 40 + "x"
    path = tmp_path / "export.xml"
    path.write_text(text, encoding="utf-8")
    result = measure(path, warm)
    assert "ends early" in result["refused"] and result["seconds"] < 2


@pytest.mark.parametrize(
    ("name", "piece"),
    [
        ("processing instructions", b"<?a?>"),
        ("comments", b"<!---->"),
        ("declarations", b"<!x"),
        ("less-than signs", b"<"),
    ],
)
def test_a_body_of_tiny_items_is_stepped_over_in_c(
    tmp_path: Path, warm: Path, name: str, piece: bytes
) -> None:
    pieces = [HOSTILE_HEAD, *repeated(piece, 100 * MIB), b"\n", sdnn_record(datetime(2024, 1, 2, 3)).encode()]
    result = measure(write_pieces(tmp_path / "export.xml", [*pieces, HOSTILE_END]), warm)
    assert result["records"] == 1, name
    assert result["growth"] < MAX_GROWTH and result["seconds"] < 15


def test_a_record_with_a_million_metadata_entries_is_refused_alone(tmp_path: Path, warm: Path) -> None:
    entry = b'<!----><MetadataEntry key="HKWasUserEntered" value="0"/>\n'
    opening = record_xml(SDNN, at(datetime(2024, 1, 2, 3)), at(datetime(2024, 1, 2, 3)), 50, unit="ms")
    opening = opening.replace("/>\n", ">\n")
    pieces = [
        HOSTILE_HEAD,
        opening.encode(),
        *repeated(entry, 100 * MIB),
        b" </Record>\n",
        sdnn_record(datetime(2024, 1, 2, 4)).encode(),
        HOSTILE_END,
    ]
    result = measure(write_pieces(tmp_path / "export.xml", pieces), warm)
    assert (result["records"], result["skipped"], result["hrv"]) == (2, 1, 1)
    assert result["errors"] == ["SDNN at line 3: more than 1000 MetadataEntry children"]
    assert result["growth"] < MAX_GROWTH and result["seconds"] < 15


# --------------------------------------------------------------------------------------------
# Records that are each fine: memory is bounded by what is kept, and what is kept by the limits
# --------------------------------------------------------------------------------------------


def sleep_records(count: int, step: timedelta, length: timedelta, sources: int = 1) -> Iterator[bytes]:
    for source in range(sources):
        start = datetime(2001, 1, 1, 22) + timedelta(minutes=source)
        for i in range(count):
            begin = start + i * step
            yield record_xml(
                SLEEP,
                at(begin),
                at(begin + length),
                "HKCategoryValueSleepAnalysisAsleepCore",
                source=f"S{source}",
            ).encode()


def test_400_000_one_minute_sleep_records_without_a_break(tmp_path: Path, warm: Path) -> None:
    # One block of 277 days: never a night, and no longer held as a tuple per record.
    pieces = [HOSTILE_HEAD, *sleep_records(400_000, timedelta(minutes=1), timedelta(minutes=1)), HOSTILE_END]
    result = measure(write_pieces(tmp_path / "export.xml", pieces), warm)
    assert (result["records"], result["sleep"], result["skipped"]) == (400_000, 0, 1)
    assert "without a break of an hour is not a night" in result["errors"][0]
    assert result["growth"] < MAX_GROWTH


def test_400_000_isolated_sleep_records_from_four_sources(tmp_path: Path, warm: Path) -> None:
    # 100,000 blocks a source, each a night in the making; streamed, not all held at once.
    records = sleep_records(100_000, timedelta(minutes=75), timedelta(minutes=10), sources=4)
    result = measure(write_pieces(tmp_path / "export.xml", [HOSTILE_HEAD, *records, HOSTILE_END]), warm)
    assert result["records"] == 400_000 and result["sleep"] > 1000
    assert result["growth"] < MAX_GROWTH


def test_more_records_than_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_text(
        export_document(sdnn_record(datetime(2024, 1, 1) + timedelta(hours=i)) for i in range(1500)),
        encoding="utf-8",
    )
    with pytest.raises(AppleHealthError, match="more than 1,000 SDNN, resting-HR and sleep records"):
        import_days(path, limits=ImportLimits(max_records=1000))
    assert import_days(path, limits=ImportLimits(max_records=1500))[2].records == 1500


def test_records_far_outside_the_stored_dates_are_not_kept(tmp_path: Path) -> None:
    records = [sdnn_record(datetime(2024, 1, 2, 3))]
    records += [sdnn_record(datetime(2200, 1, 1) + timedelta(days=i)) for i in range(50)]
    records += [sdnn_record(datetime(1990, 1, 1) + timedelta(days=i)) for i in range(50)]
    hrv, _, summary = import_days(write(tmp_path, export_document(records)))
    assert [h["date"] for h in hrv] == ["2024-01-02"]
    assert summary.skipped == 100 and "outside 2000-01-01.." in summary.errors[0]


def test_a_new_source_on_every_record_is_capped(tmp_path: Path) -> None:
    records = [sdnn_record(datetime(2024, 1, 2, 3), source=f"S{i:04d}" + "x" * 300) for i in range(400)]
    hrv, _, summary = import_days(write(tmp_path, export_document(records)))
    assert summary.skipped == 400 - MAX_SOURCES
    assert "more than 256 sources" in summary.errors[0]
    # Stored names are cut to what the ingest API accepts, rather than failing the whole import.
    assert len(hrv) == 1 and len(hrv[0]["sourceDevice"]) == MAX_SOURCE_CHARS


def test_a_zip_listing_more_files_than_an_export_ever_has_is_refused_before_zipfile_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("apple_health_export/export.xml", export_document([]))
        for i in range(20):
            archive.writestr(f"workout-routes/route_{i}.gpx", "")
    assert import_days(path)[2].records == 0
    monkeypatch.setattr(apple_archive, "MAX_ZIP_MEMBERS", 20)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile read the central directory")

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", never)
    with pytest.raises(AppleHealthError, match="lists 21 files"):
        import_days(path)


@pytest.mark.parametrize("chunk", [4093, 1 << 16, scanner.CHUNK_BYTES])
def test_a_tag_over_64_kib_is_refused_wherever_the_chunks_fall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    long = sdnn_record(datetime(2024, 1, 2, 3), source="W" * 70_000)
    text = export_document([long, sdnn_record(datetime(2024, 1, 2, 4))])
    monkeypatch.setattr(scanner, "CHUNK_BYTES", chunk)
    hrv, _, summary = import_days(write(tmp_path, text))
    assert [h["sdnn"] for h in hrv] == [50.0] and summary.skipped == 1
    assert "longer than 64.0 KiB" in summary.errors[0] or "not well-formed" in summary.errors[0]


# --------------------------------------------------------------------------------------------
# Messages: short, and nothing in them a terminal acts on
# --------------------------------------------------------------------------------------------

ESCAPES = "\x1b[2J\x1b]0;pwned\x07\u009b31m\u202e\u2028"


def test_shown_escapes_what_a_terminal_would_act_on_and_cuts_the_rest() -> None:
    assert shown("Alex’s Apple Watch") == "Alex’s Apple Watch"
    text = shown(ESCAPES + "A" * 1000)
    assert text.startswith("\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202e\\u2028AAA")
    assert text.endswith(f"… ({len(ESCAPES) + 1000:,} characters)") and text.isprintable()
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def test_skip_reasons_quote_the_file_short_and_inert(tmp_path: Path) -> None:
    # XML allows C1 controls (U+0080–U+009F, CSI among them) and bidirectional overrides in values.
    hostile = "&#x9b;31m&#x202e;" + "B" * 5000
    records = [
        record_xml(RESTING_HR, at(datetime(2024, 1, 2)), at(datetime(2024, 1, 2)), hostile, unit="count/min"),
        record_xml(SDNN, at(datetime(2024, 1, 2, 3)), at(datetime(2024, 1, 2, 3)), 50, unit=hostile),
        record_xml(SLEEP, at(datetime(2024, 1, 2, 1)), at(datetime(2024, 1, 2, 2)), hostile, source=hostile),
        record_xml(SDNN, hostile, hostile, 50, unit="ms"),
    ]
    _, _, summary = import_days(write(tmp_path, export_document(records)))
    assert summary.skipped == 4
    for reason in summary.errors:
        inert(reason, 300)
        assert "\\x9b31m\\u202e" in reason and "… (5,0" in reason


def test_refusals_quote_names_short_and_inert(tmp_path: Path) -> None:
    path = tmp_path / f"{ESCAPES}{'n' * 150}.zip"  # a name may be 255 bytes
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{ESCAPES}[bold]{'m' * 500}.xml", "<NotHealth/>")
    with pytest.raises(AppleHealthError) as refused:
        import_days(path)
    inert(str(refused.value), MAX_MESSAGE + 30)
    assert "holds no Apple Health export" in str(refused.value) and "\\x1b[2J" in str(refused.value)
    root = tmp_path / "root.xml"
    root.write_text(f"<{'R' * 5000}/>", encoding="utf-8")
    with pytest.raises(AppleHealthError, match="the root element is <RRRR") as refused:
        import_days(root)
    inert(str(refused.value), MAX_MESSAGE + 30)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "export.xml"
    path.write_text(text, encoding="utf-8")
    return path
