"""A plan read from iCalendar (perfhub.plans.importing): days in the athlete's zone, durations,
sport and type from the event's words, recurrences, cancellations and each event's errors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfhub.core.errors import Unprocessable
from perfhub.plans.importing import MAX_SESSIONS, ParsedPlan, parse_file

TODAY = date(2026, 3, 10)


def calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//perfhub tests//EN\r\n{body}END:VCALENDAR\r\n"
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def event(uid: str, start: str, summary: str, *lines: str) -> str:
    return "\n".join([f"UID:{uid}", f"DTSTART{start}", f"SUMMARY:{summary}", *lines])


def parse(data: bytes, tz: str = "UTC", today: date = TODAY) -> ParsedPlan:
    return parse_file(data, tz=tz, today=today, content_type="text/calendar")


def dates(plan: ParsedPlan) -> list[date]:
    return [item.fields.date for item in plan.sessions]


@pytest.mark.parametrize(
    ("tz", "day"),
    [
        ("Pacific/Kiritimati", date(2026, 3, 12)),  # UTC+14: 23:30 UTC is 13:30 the next day
        ("Etc/GMT+12", date(2026, 3, 11)),  # UTC-12: 11:30 the same day
        ("UTC", date(2026, 3, 11)),
    ],
)
def test_a_utc_time_lands_on_the_athletes_local_day(tz: str, day: date) -> None:
    plan = parse(calendar(event("e1", ":20260311T233000Z", "Tempo run", "DTEND:20260312T003000Z")), tz)
    assert dates(plan) == [day]
    assert plan.sessions[0].fields.duration_min == 60


def test_a_tzid_time_is_moved_to_the_athletes_zone_and_a_floating_time_is_theirs() -> None:
    data = calendar(
        event("oslo", ";TZID=Europe/Oslo:20260311T003000", "Easy run", "DURATION:PT40M"),
        event("floating", ":20260311T003000", "Easy run", "DURATION:PT40M"),
    )
    # 00:30 in Oslo (UTC+1 in March) is 23:30 UTC the day before; in New York, 18:30 that day.
    assert dates(parse(data, "America/New_York")) == [date(2026, 3, 10), date(2026, 3, 11)]
    assert dates(parse(data, "Europe/Oslo")) == [date(2026, 3, 11), date(2026, 3, 11)]


def test_an_all_day_event_is_its_date_whatever_the_zone_with_its_duration_from_its_text() -> None:
    data = calendar(
        event("a", ";VALUE=DATE:20260311", "Long ride 2h30", "DTEND;VALUE=DATE:20260312"),
        event("b", ";VALUE=DATE:20260312", "Endurance swim", "DESCRIPTION:About 45 min, drills"),
        event("c", ";VALUE=DATE:20260313", "Rest day"),
        event("d", ";VALUE=DATE:20260314", "Intervals run 5x3min"),
    )
    for tz in ("Pacific/Kiritimati", "Etc/GMT+12"):
        plan = parse(data, tz)
        assert dates(plan) == [date(2026, 3, 11), date(2026, 3, 12), date(2026, 3, 13)]
        assert [s.fields.duration_min for s in plan.sessions] == [150, 45, 0]
        assert [s.fields.type for s in plan.sessions] == ["moderate", "moderate", "rest"]
        # "5x3min" is a repetition's length, not the session's: no duration, an error.
        assert [(e.uid, e.field) for e in plan.errors] == [("d", "durationMin")]


def test_sport_and_type_come_from_categories_then_summary_then_description() -> None:
    plan = parse(
        calendar(
            event(
                "c", ":20260311T070000Z", "Morning session", "DURATION:PT1H", "CATEGORIES:Cycling,Threshold"
            ),
            event("s", ":20260311T070000Z", "Recovery swim", "DURATION:PT30M"),
            event("d", ":20260311T070000Z", "Session", "DURATION:PT50M", "DESCRIPTION:Steady erg piece"),
            event("h", ":20260311T070000Z", "VO2 max run with easy recoveries", "DURATION:PT50M"),
            event("g", ":20260311T070000Z", "S&C circuit, light", "DURATION:PT40M"),
        )
    )
    assert plan.errors == []
    got = [(s.uid, s.fields.sport, s.fields.type, s.fields.title) for s in plan.sessions]
    assert got == [
        ("c", "ride", "hard", "Morning session"),
        ("s", "swim", "easy", "Recovery swim"),
        ("d", "row", "moderate", "Session"),
        ("h", "run", "hard", "VO2 max run with easy recoveries"),
        ("g", "strength", "easy", "S&C circuit, light"),
    ]


def test_intensity_is_read_from_the_description_as_in_csv() -> None:
    plan = parse(
        calendar(
            event("p", ":20260311T070000Z", "Tempo run", "DURATION:PT1H", "DESCRIPTION:3x10 min at 4:30/km"),
            event("f", ":20260311T070000Z", "Threshold ride", "DURATION:PT1H", "DESCRIPTION:2x20 @ 95% FTP"),
            event("x", ":20260311T070000Z", "Tempo run", "DURATION:PT1H", "DESCRIPTION:RPE 14"),
        )
    )
    assert [s.fields.intensity.model_dump() for s in plan.sessions if s.fields.intensity] == [
        {"kind": "pace", "value": 270.0},
        {"kind": "ftp", "value": 95.0},
    ]
    assert [(e.uid, e.field) for e in plan.errors] == [("x", "intensity")]


def test_events_without_a_sport_a_type_or_a_start_are_errors_naming_their_uid() -> None:
    plan = parse(
        calendar(
            event("meeting", ":20260311T090000Z", "Team meeting", "DURATION:PT1H"),
            event("nosport", ":20260311T090000Z", "Hard session", "DURATION:PT1H"),
            "UID:nostart\nSUMMARY:Easy run",
            event("backwards", ":20260311T090000Z", "Easy run", "DTEND:20260311T080000Z"),
            event("good", ":20260311T090000Z", "Easy run", "DURATION:PT30M"),
        )
    )
    assert [s.uid for s in plan.sessions] == ["good"]
    assert [(e.row, e.uid, e.field) for e in plan.errors] == [
        (None, "meeting", "type"),
        (None, "nosport", "sport"),
        (None, "nostart", "date"),
        (None, "backwards", "durationMin"),
    ]


def test_cancelled_events_are_skipped_and_counted() -> None:
    plan = parse(
        calendar(
            event("gone", ":20260311T070000Z", "Easy run", "DURATION:PT30M", "STATUS:CANCELLED"),
            event("kept", ":20260312T070000Z", "Easy run", "DURATION:PT30M", "STATUS:CONFIRMED"),
        )
    )
    assert plan.skipped == 1 and [s.uid for s in plan.sessions] == ["kept"] and plan.errors == []


def test_a_weekly_recurrence_is_expanded_with_exceptions_and_moved_occurrences() -> None:
    series = event(
        "weekly",
        ";TZID=Europe/Oslo:20260302T070000",
        "Easy swim",
        "DURATION:PT45M",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20260331T000000Z",
        "EXDATE;TZID=Europe/Oslo:20260319T070000",
    )
    moved = event(
        "weekly",
        ";TZID=Europe/Oslo:20260324T180000",
        "Easy swim, evening",
        "DURATION:PT60M",
        "RECURRENCE-ID;TZID=Europe/Oslo:20260323T070000",
    )
    cancelled = event(
        "weekly",
        ";TZID=Europe/Oslo:20260326T070000",
        "Easy swim",
        "DURATION:PT45M",
        "RECURRENCE-ID;TZID=Europe/Oslo:20260326T070000",
        "STATUS:CANCELLED",
    )
    plan = parse(calendar(series, moved, cancelled), "Europe/Oslo")
    assert plan.errors == [] and plan.skipped == 1
    # From today (10 March) on: 12, 16, (19 excluded), (23 moved to 24), (26 cancelled), 30.
    got = sorted((s.fields.date, s.fields.duration_min, s.uid) for s in plan.sessions)
    assert got == [
        (date(2026, 3, 12), 45, "weekly#20260312T060000Z"),
        (date(2026, 3, 16), 45, "weekly#20260316T060000Z"),
        (date(2026, 3, 24), 60, "weekly#20260323T060000Z"),
        (date(2026, 3, 30), 45, "weekly#20260330T050000Z"),  # summer time from 29 March
    ]


def test_an_endless_recurrence_stops_at_the_window_and_all_day_series_keep_their_dates() -> None:
    plan = parse(calendar(event("daily", ";VALUE=DATE:20260101", "Easy run 30 min", "RRULE:FREQ=DAILY")))
    assert dates(plan)[0] == TODAY and len(plan.sessions) == 26 * 7
    assert dates(plan)[-1] == TODAY + timedelta(weeks=26) - timedelta(days=1)
    assert plan.sessions[0].uid == "daily#20260310"


def test_a_series_starting_later_is_expanded_from_its_own_start() -> None:
    plan = parse(calendar(event("w", ";VALUE=DATE:20260601", "Easy run 30 min", "RRULE:FREQ=WEEKLY;COUNT=3")))
    assert dates(plan) == [date(2026, 6, 1), date(2026, 6, 8), date(2026, 6, 15)]


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2",  # never happens: would keep the expansion busy
        "FREQ=HOURLY",
        "FREQ=WEEKLY;BYDAY=1MO",
        "FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z",
    ],
)
def test_recurrences_other_than_plain_daily_or_weekly_are_errors(rule: str) -> None:
    plan = parse(calendar(event("r", ":20260311T070000Z", "Easy run", "DURATION:PT30M", f"RRULE:{rule}")))
    assert plan.sessions == [] and [(e.uid, e.field) for e in plan.errors] == [("r", "date")]


def test_a_file_past_the_session_cap_is_cut_with_an_error() -> None:
    many = [event(f"e{i}", ";VALUE=DATE:20260311", "Easy run 30 min") for i in range(MAX_SESSIONS + 3)]
    plan = parse(calendar(*many))
    assert len(plan.sessions) == MAX_SESSIONS
    assert [e.uid for e in plan.errors] == [f"e{MAX_SESSIONS}"]


def test_a_repeated_uid_is_an_error_and_long_uids_are_kept_as_a_hash() -> None:
    long_uid = "x" * 300
    plan = parse(
        calendar(
            event("dup", ":20260311T070000Z", "Easy run", "DURATION:PT30M"),
            event("dup", ":20260312T070000Z", "Easy run", "DURATION:PT30M"),
            event(long_uid, ":20260313T070000Z", "Easy run", "DURATION:PT30M"),
        )
    )
    assert [e.uid for e in plan.errors] == ["dup"]
    keys = [s.uid or "" for s in plan.sessions]
    assert keys[0] == "dup" and keys[1].startswith("sha256:") and len(keys[1]) <= 255


def test_an_event_without_a_uid_gets_a_stable_key_and_is_named_by_its_summary() -> None:
    data = calendar(
        "DTSTART:20260311T070000Z\nSUMMARY:Easy run\nDURATION:PT30M",
        "DTSTART:20260311T070000Z\nSUMMARY:Board meeting\nDURATION:PT30M",
    )
    first, second = parse(data), parse(data)
    assert first.sessions[0].uid == second.sessions[0].uid
    assert (first.sessions[0].uid or "").startswith("nouid:")
    assert "Board meeting" in first.errors[0].message and first.errors[0].uid is None


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "no events"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n", "iCalendar"),
        (b"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", "iCalendar"),
        (b"hello", "iCalendar"),
    ],
)
def test_a_file_that_is_not_a_calendar_is_refused_whole(data: bytes, words: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        parse(data)
    assert words in caught.value.detail


# Property lines, good and broken, that calendars in the wild combine in every way.
LINES = [
    "UID:x", "UID:y", "DTSTART:20260311T070000Z", "DTSTART;VALUE=DATE:20260311",
    "DTSTART:99991231T235900Z", "DTSTART:00010101T000000Z", "DTSTART;TZID=Nowhere/Zone:20260311T070000",
    "DTSTART:garbage", "DTEND:20260311T080000", "DTEND;VALUE=DATE:20260312", "DURATION:PT45M",
    "DURATION:garbage", "DURATION:-PT5M", "DURATION:P400D", "SUMMARY:Easy run 30 min", "SUMMARY:Tempo ride",
    "SUMMARY:" + "x" * 300, "RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY;COUNT=x",
    "RRULE:FREQ=WEEKLY;UNTIL=20260401", "RRULE:FREQ=WEEKLY;UNTIL=garbage", "RRULE:garbage",
    "RRULE:FREQ=WEEKLY;INTERVAL=0",
    "RRULE:FREQ=WEEKLY;BYDAY=XX", "RRULE:FREQ=DAILY;WKST=ZZ", "EXDATE:garbage", "EXDATE:20260318T070000Z",
    "RDATE:20260320T070000Z", "RDATE;VALUE=PERIOD:20260320T070000Z/PT1H", "RECURRENCE-ID:20260318T070000Z",
    "RECURRENCE-ID:garbage", "STATUS:CANCELLED", "CATEGORIES:Run,Easy", "CATEGORIES:", "DESCRIPTION:RPE 99",
    "DESCRIPTION:Z9", "BEGIN:VALARM", "END:VALARM",
]  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    events=st.lists(st.lists(st.sampled_from(LINES), min_size=1, max_size=8), min_size=1, max_size=3),
    tz=st.sampled_from(["UTC", "Pacific/Kiritimati", "Etc/GMT+12"]),
)
def test_any_mix_of_good_and_broken_properties_is_sessions_errors_or_a_refusal(
    events: list[list[str]], tz: str
) -> None:
    try:
        plan = parse(calendar(*("\n".join(lines) for lines in events)), tz)
    except Unprocessable:
        return
    assert len(plan.sessions) + len(plan.errors) + plan.skipped >= 1
    assert all(item.uid and len(item.uid) <= 255 for item in plan.sessions)
