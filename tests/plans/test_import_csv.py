"""A plan read from CSV (perfhub.plans.importing): the header, the cells, and each row's errors."""

from __future__ import annotations

from datetime import date

import pytest

from perfhub.core.errors import PayloadTooLarge, Unprocessable
from perfhub.plans.importing import (
    MAX_FILE_BYTES,
    MAX_SESSIONS,
    ParsedPlan,
    RowError,
    parse_file,
    parse_intensity,
)

TODAY = date(2026, 3, 10)
HEADER = "date,sport,title,type,durationMin,intensity,plannedLoad"


def parse(text: str | bytes) -> ParsedPlan:
    data = text.encode() if isinstance(text, str) else text
    return parse_file(data, tz="UTC", today=TODAY, content_type="text/csv")


def rows(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def test_rows_become_sessions_with_every_field() -> None:
    plan = parse(
        rows(
            "2026-03-11,run,Intervals 6×4 min,hard,60,Z4,420",
            "2026-03-12,ride,Endurance,moderate,120,75% FTP,",
            "2026-03-13,run,Easy,easy,40,5:15/km,",
            "2026-03-14,row,Steady,moderate,50,RPE 6,300.5",
            "2026-03-15,rest,Day off,rest,0,,",
        )
    )
    assert plan.format == "csv" and plan.errors == [] and plan.skipped == 0
    first = plan.sessions[0]
    assert first.row == 2 and first.uid is None
    assert first.fields.model_dump(by_alias=True) == {
        "date": date(2026, 3, 11),
        "sport": "run",
        "title": "Intervals 6×4 min",
        "type": "hard",
        "durationMin": 60,
        "intensity": {"kind": "zone", "value": 4.0},
        "plannedLoad": 420.0,
    }
    intensities = [s.fields.intensity.model_dump() if s.fields.intensity else None for s in plan.sessions]
    assert intensities == [
        {"kind": "zone", "value": 4.0},
        {"kind": "ftp", "value": 75.0},
        {"kind": "pace", "value": 315.0},
        {"kind": "rpe", "value": 6.0},
        None,
    ]
    assert [s.fields.planned_load for s in plan.sessions] == [420.0, None, None, 300.5, None]
    assert plan.sessions[-1].fields.duration_min == 0 and plan.sessions[-1].fields.type == "rest"


@pytest.mark.parametrize(
    ("written", "kind", "value"),
    [
        ("Z2", "zone", 2),
        ("z 5", "zone", 5),
        ("zone 3", "zone", 3),
        ("Zone3", "zone", 3),
        ("75% FTP", "ftp", 75),
        ("105 %ftp", "ftp", 105),
        ("88,5% of FTP", "ftp", 88.5),
        ("4:30/km", "pace", 270),
        ("4:30 min/km", "pace", 270),
        ("8:00/mi", "pace", 298),  # 480 s per mile is 298 s per km
        ("RPE 6", "rpe", 6),
        ("rpe7.5", "rpe", 7.5),
    ],
)
def test_intensity_is_read_as_people_write_it(written: str, kind: str, value: float) -> None:
    intensity = parse_intensity(written)
    assert intensity is not None
    assert (intensity.kind, intensity.value) == (kind, value)


def test_a_byte_order_mark_semicolons_crlf_blank_lines_and_header_spelling_are_tolerated() -> None:
    text = (
        "\ufeff Date ;SPORT; Title ;Type;Duration Min;Intensity;planned_load\r\n"
        "\r\n"
        "2026-03-11;run;Tempo, then easy;hard;50;Z3;250,5\r\n"
        "   \r\n"
        '2026-03-12;ride;"Long; steady";moderate;90;;\r\n'
    )
    plan = parse(text.encode("utf-8"))
    assert plan.errors == []
    assert [(s.row, s.fields.title) for s in plan.sessions] == [(3, "Tempo, then easy"), (5, "Long; steady")]
    assert plan.sessions[0].fields.planned_load == 250.5


def test_the_delimiter_is_sniffed_from_the_header() -> None:
    tabbed = parse("date\tsport\ttitle\ttype\tdurationMin\n2026-03-11\trun\tEasy\teasy\t30\n")
    assert [s.fields.sport for s in tabbed.sessions] == ["run"]


def test_malformed_rows_are_errors_with_their_line_and_field_and_the_rest_is_kept() -> None:
    plan = parse(
        rows(
            "2026-03-11,run,Good,hard,60,,",
            "2026/03/12,run,Bad date,hard,60,,",
            "2026-03-13,run,Bad type,intervals,60,,",
            "2026-03-14,run,Bad minutes,easy,45.5,,",
            "2026-03-15,run,Out of range,easy,30,RPE 12,",
            "2026-03-16,run,Unreadable intensity,easy,30,fast,",
            "2026-03-17,run,Zero minutes,easy,0,,",
            "2026-03-18,run,Bad load,easy,30,,lots",
            "2026-03-19,,No sport,easy,30,,",
            "2026-02-30,run,No such day,easy,30,,",
            "2026-03-20,run,Too long,easy,1441,,",
            "2026-03-21,run,Good too,easy,30,,",
        )
    )
    assert [s.fields.title for s in plan.sessions] == ["Good", "Good too"]
    found = {(e.row, e.field) for e in plan.errors}
    assert found == {
        (3, "date"),
        (4, "type"),
        (5, "durationMin"),
        (6, "intensity"),
        (7, "intensity"),
        (8, "durationMin"),
        (9, "plannedLoad"),
        (10, "sport"),
        (11, "date"),
        (12, "durationMin"),
    }
    by_row = {e.row: e for e in plan.errors}
    assert "YYYY-MM-DD" in by_row[3].message
    assert "easy, moderate, hard or rest" in by_row[4].message
    assert "RPE 0–10" in by_row[6].message
    assert "Z2" in by_row[7].message and "4:30/km" in by_row[7].message
    assert "more than 0" in by_row[8].message


def test_one_row_with_several_bad_cells_lists_each() -> None:
    plan = parse(rows("tomorrow,run,X,wild,ten,,"))
    assert plan.sessions == []
    assert {(e.row, e.field) for e in plan.errors} == {(2, "date"), (2, "type"), (2, "durationMin")}


def test_a_row_with_more_cells_than_the_header_is_an_error_but_trailing_empty_cells_are_not() -> None:
    plan = parse(rows("2026-03-11,run,A,easy,30,,,,", "2026-03-12,run,B,easy,30,,,extra"))
    assert [s.fields.title for s in plan.sessions] == ["A"]
    assert [(e.row, e.field) for e in plan.errors] == [(3, None)]


def test_unknown_columns_are_ignored_and_a_uid_column_keys_rows() -> None:
    plan = parse(
        rows(
            "notes,2026-03-11,run,A,easy,30,r1",
            "x,2026-03-12,run,B,easy,30,r1",
            header="Notes,date,sport,title,type,durationMin,UID",
        )
    )
    assert [(s.fields.title, s.uid) for s in plan.sessions] == [("A", "r1")]
    assert plan.errors == [RowError(3, "r1", "uid", "repeats the uid of row 2")]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("date,sport,title\n2026-03-11,run,A\n", "missing: type, durationMin"),
        ("2026-03-11,run,A,easy,30\n", "header naming date"),
        ("date,sport,title,type,type,durationMin\n", "twice"),
        ("\n\n  \n", "empty"),
        ("", "empty"),
    ],
)
def test_a_file_without_a_usable_header_is_refused_whole(text: str, words: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        parse(text)
    assert words in caught.value.detail


def test_a_file_that_is_not_utf8_or_is_binary_is_refused() -> None:
    with pytest.raises(Unprocessable, match="not UTF-8"):
        parse(rows("2026-03-11,run,Café,easy,30,,").encode("latin-1"))
    with pytest.raises(Unprocessable, match="binary"):
        parse(b"date,sport\x00,title\n")


def test_a_file_over_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        parse(b"x" * (MAX_FILE_BYTES + 1))


def test_rows_past_the_session_cap_are_not_read_and_that_is_said() -> None:
    lines = [f"2026-03-11,run,Run {i},easy,30,," for i in range(MAX_SESSIONS + 5)]
    plan = parse(rows(*lines))
    assert len(plan.sessions) == MAX_SESSIONS
    assert len(plan.errors) == 1 and plan.errors[0].row == MAX_SESSIONS + 2
    assert f"more than {MAX_SESSIONS}" in plan.errors[0].message


def test_the_format_follows_the_media_type_then_the_file_name_then_the_content() -> None:
    csv_text = rows("2026-03-11,run,A,easy,30,,").encode()
    assert parse_file(csv_text, tz="UTC", today=TODAY).format == "csv"
    assert parse_file(csv_text, tz="UTC", today=TODAY, filename="plan.CSV").format == "csv"
    with pytest.raises(Unprocessable, match="iCalendar"):
        parse_file(csv_text, tz="UTC", today=TODAY, content_type="text/calendar; charset=utf-8")
    with pytest.raises(Unprocessable, match="iCalendar"):
        parse_file(csv_text, tz="UTC", today=TODAY, filename="plan.ics")
