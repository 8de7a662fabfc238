"""POST /plan/import end to end: uploads as a file part or a raw body, valid rows kept beside bad
ones, re-import by UID, dry runs, coaches and the privacy policy, and files refused whole."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from tests.conftest import Harness
from tests.plans.plankit import NOON, TODAY, decide, nights, plan, post_nights
from tests.teams.teamkit import API, join, make_team, ok, problem

from perfhub.plans.models import PlannedSession

pytestmark = pytest.mark.backends("sqlite")

CSV = (
    "date,sport,title,type,durationMin,intensity,plannedLoad\n"
    "2026-03-11,run,Intervals 6x4 min,hard,60,Z4,420\n"
    "2026-03-12,ride,Endurance,moderate,120,75% FTP,\n"
    "2026-03-13,run,Easy,easy,40,,\n"
)


def ics(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n".encode()


def vevent(uid: str, start: str, summary: str, minutes: int = 45, extra: str = "") -> str:
    lines = [f"UID:{uid}", f"DTSTART:{start}", f"DURATION:PT{minutes}M", f"SUMMARY:{summary}"]
    return "\r\n".join(lines + ([extra] if extra else []))


CALENDAR = ics(
    vevent("tempo-1", "20260311T233000Z", "Tempo run", 50),
    vevent("swim-1", "20260312T070000Z", "Easy swim", 30, "RRULE:FREQ=WEEKLY;COUNT=3"),
    vevent("gone-1", "20260313T070000Z", "Easy run", 30, "STATUS:CANCELLED"),
)


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def upload(harness: Harness, who: dict[str, Any], data: bytes, name: str = "plan.csv", **params: Any) -> Any:
    return harness.client.post(
        f"{API}/plan/import", files={"file": (name, data)}, params=params, headers=who["headers"]
    )


def post_raw(harness: Harness, who: dict[str, Any], data: bytes, media: str, **params: Any) -> Any:
    headers = {**who["headers"], "Content-Type": media}
    return harness.client.post(f"{API}/plan/import", content=data, params=params, headers=headers)


def stored(harness: Harness, athlete_id: int) -> list[PlannedSession]:
    with harness.runtime.sessions() as session:
        rows = session.query(PlannedSession).filter_by(athlete_id=athlete_id).order_by(PlannedSession.date)
        return list(rows)


def listed(harness: Harness, who: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    query = {"from": "2026-03-01", "to": "2026-04-30", **params}
    return list(ok(harness.client.get(f"{API}/plan/sessions", params=query, headers=who["headers"])))


def test_an_athlete_imports_a_csv_file_into_their_plan(harness: Harness) -> None:
    athlete = harness.user("athlete")
    result = ok(upload(harness, athlete, CSV.encode()))
    assert result == {
        "format": "csv",
        "dryRun": False,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "removed": 0,
        "errors": [],
    }
    sessions = listed(harness, athlete)
    assert [(s["date"], s["title"], s["type"], s["durationMin"], s["source"]) for s in sessions] == [
        ("2026-03-11", "Intervals 6x4 min", "hard", 60, "csv"),
        ("2026-03-12", "Endurance", "moderate", 120, "csv"),
        ("2026-03-13", "Easy", "easy", 40, "csv"),
    ]
    assert sessions[0]["intensity"] == {"kind": "zone", "value": 4.0} and sessions[0]["plannedLoad"] == 420.0
    assert [row.created_by_id for row in stored(harness, athlete["id"])] == [athlete["id"]] * 3


def test_valid_rows_are_kept_and_bad_ones_listed(harness: Harness) -> None:
    athlete = harness.user("athlete")
    data = CSV + "2026-03-14,run,Bad,wild,40,,\n2026-03-15,run,Worse,easy,40,fast,\n"
    result = ok(post_raw(harness, athlete, data.encode(), "text/csv"))
    assert result["created"] == 3
    assert result["errors"] == [
        {
            "row": 5,
            "uid": None,
            "field": "type",
            "message": "'wild' is not a type: easy, moderate, hard or rest",
        },
        {"row": 6, "uid": None, "field": "intensity", "message": result["errors"][1]["message"]},
    ]
    assert "RPE 6" in result["errors"][1]["message"]
    assert len(stored(harness, athlete["id"])) == 3


# On PostgreSQL too: the stored sessions are found by their UIDs with an array parameter there.
@pytest.mark.backends("sqlite", "postgres")
def test_a_calendar_lands_in_the_athletes_zone_and_importing_it_again_duplicates_nothing(
    harness: Harness,
) -> None:
    athlete = harness.user("athlete", tz="Pacific/Kiritimati")  # UTC+14
    first = ok(post_raw(harness, athlete, CALENDAR, "text/calendar"))
    assert (first["format"], first["created"], first["skipped"], first["errors"]) == ("ics", 4, 1, [])
    rows = stored(harness, athlete["id"])
    # 23:30 UTC on 11 March is 13:30 on 12 March in Kiritimati; the swims recur weekly.
    assert [(str(r.date), r.title, r.source) for r in rows] == [
        ("2026-03-12", "Tempo run", "ics"),
        ("2026-03-12", "Easy swim", "ics"),
        ("2026-03-19", "Easy swim", "ics"),
        ("2026-03-26", "Easy swim", "ics"),
    ]
    assert {r.external_uid for r in rows} == {
        "tempo-1",
        "swim-1#20260312T070000Z",
        "swim-1#20260319T070000Z",
        "swim-1#20260326T070000Z",
    }
    ids = {r.external_uid: r.id for r in rows}

    again = ok(upload(harness, athlete, CALENDAR, "plan.ics"))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)

    changed = CALENDAR.replace(b"SUMMARY:Tempo run", b"SUMMARY:Threshold run").replace(b"PT50M", b"PT70M")
    third = ok(post_raw(harness, athlete, changed, "text/calendar"))
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 3)
    rows = stored(harness, athlete["id"])
    assert len(rows) == 4 and {r.external_uid: r.id for r in rows} == ids
    tempo = next(r for r in rows if r.external_uid == "tempo-1")
    assert (tempo.title, tempo.duration_min, tempo.type) == ("Threshold run", 70, "hard")


def test_the_same_event_lands_on_the_same_day_for_utc_minus_12(harness: Harness) -> None:
    athlete = harness.user("athlete", tz="Etc/GMT+12")  # UTC-12
    ok(post_raw(harness, athlete, ics(vevent("t", "20260311T233000Z", "Tempo run")), "text/calendar"))
    assert [str(r.date) for r in stored(harness, athlete["id"])] == ["2026-03-11"]


def test_re_import_leaves_other_sessions_and_decided_adjustments_alone(harness: Harness) -> None:
    athlete = harness.user("athlete")
    manual = plan(harness, athlete, title="Planned by hand")
    post_nights(harness, nights(athlete["id"], TODAY, bad=3))  # poor nights: today's hard session is cut
    day = TODAY.strftime("%Y%m%d")
    calendar = ics(
        vevent("today", f"{day}T170000Z", "Threshold run", 60), vevent("next", "20260320T070000Z", "Easy run")
    )
    ok(post_raw(harness, athlete, calendar, "text/calendar"))
    imported = next(r for r in stored(harness, athlete["id"]) if r.external_uid == "today")
    ok(decide(harness, athlete, imported.id, "accept"))

    result = ok(post_raw(harness, athlete, calendar.replace(b"PT60M", b"PT90M"), "text/calendar"))
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 1)
    assert [(e["uid"], e["message"]) for e in result["errors"]] == [("today", result["errors"][0]["message"])]
    assert "accepted" in result["errors"][0]["message"]
    rows = {r.id: r for r in stored(harness, athlete["id"])}
    assert rows[imported.id].duration_min == 60 and manual["id"] in rows


def test_events_cancelled_since_the_last_import_are_removed_from_the_plan(harness: Harness) -> None:
    athlete = harness.user("athlete", tz="Pacific/Kiritimati")
    ok(post_raw(harness, athlete, CALENDAR, "text/calendar"))
    assert len(stored(harness, athlete["id"])) == 4
    # The tempo run is cancelled, and so is the second swim of the series (one occurrence).
    cancelled = ics(
        vevent("tempo-1", "20260311T233000Z", "Tempo run", 50, "STATUS:CANCELLED"),
        vevent("swim-1", "20260312T070000Z", "Easy swim", 30, "RRULE:FREQ=WEEKLY;COUNT=3"),
        vevent(
            "swim-1",
            "20260319T070000Z",
            "Easy swim",
            30,
            "RECURRENCE-ID:20260319T070000Z\r\nSTATUS:CANCELLED",
        ),
    )
    dry = ok(post_raw(harness, athlete, cancelled, "text/calendar", dryRun="true"))
    assert (dry["removed"], dry["skipped"], dry["created"]) == (2, 2, 0)
    assert len(stored(harness, athlete["id"])) == 4  # a dry run removes nothing

    result = ok(post_raw(harness, athlete, cancelled, "text/calendar"))
    assert (result["removed"], result["skipped"], result["unchanged"], result["errors"]) == (2, 2, 2, [])
    assert [(str(r.date), r.external_uid) for r in stored(harness, athlete["id"])] == [
        ("2026-03-12", "swim-1#20260312T070000Z"),
        ("2026-03-26", "swim-1#20260326T070000Z"),
    ]
    # Importing the cancellations again finds nothing more to remove: the same rows.
    again = ok(post_raw(harness, athlete, cancelled, "text/calendar"))
    assert (again["removed"], again["unchanged"]) == (0, 2)
    # The whole series cancelled: its remaining occurrences go too.
    series = ics(
        vevent("swim-1", "20260312T070000Z", "Easy swim", 30, "RRULE:FREQ=WEEKLY;COUNT=3\r\nSTATUS:CANCELLED")
    )
    assert ok(post_raw(harness, athlete, series, "text/calendar"))["removed"] == 2
    assert stored(harness, athlete["id"]) == []


def test_a_cancelled_event_leaves_sessions_of_other_files_and_decided_adjustments_alone(
    harness: Harness,
) -> None:
    athlete = harness.user("athlete")
    post_nights(harness, nights(athlete["id"], TODAY, bad=3))  # poor nights: today's hard session is cut
    day = TODAY.strftime("%Y%m%d")
    ok(
        post_raw(
            harness, athlete, ics(vevent("today", f"{day}T170000Z", "Threshold run", 60)), "text/calendar"
        )
    )
    imported = next(r for r in stored(harness, athlete["id"]) if r.external_uid == "today")
    ok(decide(harness, athlete, imported.id, "accept"))
    csv_with_uid = "uid,date,sport,title,type,durationMin\nnext,2026-03-20,run,Easy run,easy,40\n"
    ok(upload(harness, athlete, csv_with_uid.encode()))

    cancelled = ics(
        vevent("today", f"{day}T170000Z", "Threshold run", 60, "STATUS:CANCELLED"),
        vevent("next", "20260320T070000Z", "Easy run", 40, "STATUS:CANCELLED"),
    )
    result = ok(post_raw(harness, athlete, cancelled, "text/calendar"))
    assert result["removed"] == 0
    assert [(e["uid"], "accepted" in e["message"]) for e in result["errors"]] == [("today", True)]
    assert {r.external_uid for r in stored(harness, athlete["id"])} == {"today", "next"}


def test_a_dry_run_counts_and_writes_nothing(harness: Harness) -> None:
    athlete = harness.user("athlete")
    result = ok(upload(harness, athlete, CSV.encode(), dryRun="true"))
    assert (result["dryRun"], result["created"]) == (True, 3)
    assert stored(harness, athlete["id"]) == []
    ok(post_raw(harness, athlete, CALENDAR, "text/calendar"))
    again = ok(post_raw(harness, athlete, CALENDAR.replace(b"PT50M", b"PT55M"), "text/calendar", dryRun=True))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 3)
    assert {r.duration_min for r in stored(harness, athlete["id"])} == {50, 30}


def test_a_coach_imports_for_an_athlete_of_their_team_sharing_training(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    join(harness, coach, make_team(harness, coach), athlete, training=True)
    result = ok(upload(harness, coach, CSV.encode(), athleteId=athlete["id"]))
    assert result["created"] == 3
    rows = stored(harness, athlete["id"])
    assert len(rows) == 3 and {r.created_by_id for r in rows} == {coach["id"]}
    assert stored(harness, coach["id"]) == []


def test_a_coach_of_another_team_or_without_training_shared_cannot(harness: Harness) -> None:
    coach, other_coach = harness.user("coach"), harness.user("coach")
    athlete, private = harness.user("athlete"), harness.user("athlete")
    team = make_team(harness, coach)
    join(harness, coach, team, athlete, training=True)
    join(harness, coach, team, private, hrv=True)
    make_team(harness, other_coach, "Other")

    body = problem(upload(harness, other_coach, CSV.encode(), athleteId=athlete["id"]), 404)
    assert str(athlete["id"]) in body["detail"]
    problem(upload(harness, coach, CSV.encode(), athleteId=private["id"]), 403)
    problem(upload(harness, coach, CSV.encode(), athleteId=2_000_000_000), 404)
    # An unrelated coach learns nothing about the file either: refused before it is read.
    problem(upload(harness, other_coach, b"", athleteId=athlete["id"]), 404)
    assert stored(harness, athlete["id"]) == [] and stored(harness, private["id"]) == []


def test_a_file_with_nothing_valid_is_422_listing_every_error_and_writes_nothing(harness: Harness) -> None:
    athlete = harness.user("athlete")
    data = "date,sport,title,type,durationMin\n2026-13-01,run,A,easy,30\n2026-03-11,run,B,wild,30\n"
    body = problem(upload(harness, athlete, data.encode()), 422)
    assert body["detail"] == (
        "no row of the file could be imported (2 errors; the first: row 2, date: "
        "'2026-13-01' is not a date as YYYY-MM-DD)"
    )
    assert [(e["loc"], e["row"], e["field"]) for e in body["errors"]] == [
        (["body", 2, "date"], 2, "date"),
        (["body", 3, "type"], 3, "type"),
    ]
    events = ics(vevent("m", "20260311T090000Z", "Board meeting"))
    body = problem(post_raw(harness, athlete, events, "text/calendar"), 422)
    assert body["errors"][0]["loc"] == ["body", "m", "type"] and body["errors"][0]["uid"] == "m"
    assert stored(harness, athlete["id"]) == []


LATIN_1 = "date,sport,title,type,durationMin\n2026-03-11,run,Café,easy,30\n".encode("latin-1")


@pytest.mark.parametrize(
    ("data", "media", "status", "words"),
    [
        (b"", "text/csv", 422, "empty"),
        (b"  \r\n\r\n", "text/csv", 422, "empty"),
        (LATIN_1, "text/csv", 422, "UTF-8"),
        (b"date,title\n2026-03-11,A\n", "text/csv", 422, "missing: sport, type, durationMin"),
        (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar", 422, "no events"),
        (b"not a calendar", "text/calendar", 422, "iCalendar"),
        (b"x" * (2 * 1024 * 1024 + 1), "text/csv", 413, "larger"),
    ],
)  # fmt: skip
def test_files_that_cannot_be_read_are_refused_with_a_clear_problem(
    harness: Harness, data: bytes, media: str, status: int, words: str
) -> None:
    athlete = harness.user("athlete")
    body = problem(post_raw(harness, athlete, data, media), status)
    assert words in body["detail"]
    assert stored(harness, athlete["id"]) == []


def test_a_plan_past_the_json_limit_is_still_read(harness: Harness) -> None:
    # A season's calendar is bigger than an ordinary body (64 KiB): the import has its own limit.
    athlete = harness.user("athlete")
    rows = [f"2026-04-{1 + i % 28:02d},run,{'Long steady run ' * 8}{i},easy,30" for i in range(900)]
    data = ("date,sport,title,type,durationMin\n" + "\n".join(rows)).encode()
    assert len(data) > 64 * 1024
    assert ok(post_raw(harness, athlete, data, "text/csv"))["created"] == 900


def test_the_format_is_recognised_without_a_declared_type_and_a_form_needs_its_file_part(
    harness: Harness,
) -> None:
    athlete = harness.user("athlete")
    assert ok(upload(harness, athlete, CALENDAR, "export.txt"))["format"] == "ics"
    assert ok(post_raw(harness, athlete, CSV.encode(), "application/octet-stream"))["format"] == "csv"
    response = harness.client.post(
        f"{API}/plan/import",
        data={"other": "x"},
        files={"notfile": ("a.csv", b"x")},
        headers=athlete["headers"],
    )
    assert "part named file" in problem(response, 400)["detail"]


def test_the_import_needs_a_person(harness: Harness) -> None:
    problem(harness.client.post(f"{API}/plan/import", content=CSV, headers={"Content-Type": "text/csv"}), 401)
    problem(post_raw(harness, {"headers": harness.service_token()}, CSV.encode(), "text/csv"), 403)
