"""The pilot's arithmetic on hand-made rows (docs/pilot.md): who is active, covered and by when,
the lag percentiles, adherence against a baseline, OAuth outcomes, dead letters, the targets."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from perfhub.plans.adherence import Figures
from perfhub.reports.chart import coverage_svg
from perfhub.reports.pilot import (
    Adherence,
    DeadLetterFact,
    LinkAttempt,
    PilotReport,
    dead_letter_groups,
    nearest_rank,
    oauth_links,
    pilot_report,
    reason_class,
    relative_gain,
)
from perfhub.reports.presenter import csv_text, markdown
from perfhub.reports.timing import (
    Announcement,
    Athlete,
    Inputs,
    LinkSpan,
    Reading,
    Snapshot,
    Timeline,
    active_days,
    day_complete,
    timing,
)

D = date(2026, 2, 10)
NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)


def at(day: date, hour: int, minute: int, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def figures(kept: int, planned: int, group: str = "unadjusted") -> Figures:
    made = Figures()
    for n in range(planned):
        made.add(D, group, n < kept)
    return made


def test_nearest_rank_is_the_smallest_value_with_that_share_at_or_under_it() -> None:
    values = [float(n) for n in range(20, 0, -1)]  # 20 … 1, unsorted on purpose
    assert (nearest_rank(values, 50), nearest_rank(values, 95), nearest_rank(values, 99)) == (10, 19, 20)
    assert nearest_rank([7.0], 99) == 7 and nearest_rank([], 50) is None
    # 241 values: rank ⌈0.95 × 241⌉ = 229, ⌈0.99 × 241⌉ = 239 — exactly, not by floating point.
    ranks = [float(n) for n in range(1, 242)]
    assert (nearest_rank(ranks, 95), nearest_rank(ranks, 99)) == (229, 239)


def test_a_day_is_complete_once_it_is_over_at_utc_minus_12() -> None:
    assert not day_complete(D, datetime(2026, 2, 11, 11, 59, tzinfo=UTC))
    assert day_complete(D, datetime(2026, 2, 11, 12, 0, tzinfo=UTC))


def test_readiness_counts_from_the_first_store_after_the_night_arrived() -> None:
    timeline = Timeline(
        [
            Announcement(1, D, "readiness", at(D, 5, 0, "UTC")),  # before the night: a stale one
            Announcement(1, D, "sleep", at(D, 6, 40, "UTC")),
            Announcement(1, D, "hrv", at(D, 6, 50, "UTC")),
            Announcement(1, D, "readiness", at(D, 6, 55, "UTC")),
            Announcement(1, D, "readiness", at(D, 6, 45, "UTC")),
        ]
    )
    # The night arrived with its sleep at 06:40; readiness was stored at 06:45.
    assert timeline.first_stored(1, D, ("hrv", "sleep"), None) == (at(D, 6, 45, "UTC"), "events")
    # Its HRV at 06:50: the first readiness after that is 06:55.
    assert timeline.first_stored(1, D, ("hrv",), None) == (at(D, 6, 55, "UTC"), "events")
    # No events: the snapshot's computed_at stands in, or nothing.
    fallback = at(D, 9, 0, "UTC")
    assert timeline.first_stored(2, D, ("hrv",), fallback) == (fallback, "computedAt")
    assert timeline.first_stored(2, D, ("hrv",), None) == (None, None)


def test_active_means_linked_that_day_or_a_night_in_the_seven_days_ending_on_it() -> None:
    days = [D + timedelta(days=n) for n in range(10)]  # 10 … 19 February
    athlete = Athlete(1, "Pacific/Kiritimati")
    week = {D + timedelta(days=n) for n in range(6)}
    assert active_days(athlete, [D - timedelta(days=1)], [], days) == week
    # Linked at 23:30 local on the 14th, revoked at 00:30 local on the 16th: live on 14, 15, 16.
    span = LinkSpan(1, at(date(2026, 2, 14), 23, 30, athlete.tz), at(date(2026, 2, 16), 0, 30, athlete.tz))
    assert active_days(athlete, [], [span], days) == {date(2026, 2, d) for d in (14, 15, 16)}
    # The same instants in UTC−12, 26 hours behind: 21:30 on the 13th to 22:30 on the 14th.
    west = Athlete(2, "Etc/GMT+12")
    moved = LinkSpan(2, span.start, span.end)
    assert active_days(west, [], [moved], days) == {date(2026, 2, d) for d in (13, 14)}
    assert active_days(athlete, [], [LinkSpan(1, at(D, 8, 0, athlete.tz), None)], days) == set(days)


def night(athlete: int, day: date, tz: str, *signals: str) -> list[Reading]:
    return [Reading(athlete, day, signal, at(day, 6, 0, tz)) for signal in signals]


def test_coverage_before_seven_and_lag_across_zones() -> None:
    """Four athletes on one day: A (UTC+14) stored at 06:20 local; B (UTC−12) stored at 08:00
    local; C has a night but a calibrating snapshot; D is linked and sends nothing. Active 4,
    covered 2 (A, B), before 07:00 1 (A); HRV nights 3: lags 20 min, 2 h, and C's 30 min."""
    a, b, c = "Pacific/Kiritimati", "Etc/GMT+12", "UTC"
    inputs = Inputs(
        days=[D],
        athletes=[Athlete(1, a), Athlete(2, b), Athlete(3, c), Athlete(4, "Asia/Tokyo")],
        links=[LinkSpan(4, datetime(2026, 1, 1, tzinfo=UTC), None)],
        readings=[*night(1, D, a, "hrv", "sleep"), *night(2, D, b, "hrv"), *night(3, D, c, "hrv", "sleep")],
        snapshots=[
            Snapshot(1, D, True, at(D, 6, 20, a) + timedelta(days=3)),  # recomputed since
            Snapshot(2, D, True, at(D, 8, 0, b)),
            Snapshot(3, D, False, at(D, 6, 30, c)),
        ],
        announcements=[
            Announcement(1, D, "hrv", at(D, 6, 10, a)),
            Announcement(1, D, "sleep", at(D, 6, 10, a)),
            Announcement(1, D, "readiness", at(D, 6, 20, a)),
            Announcement(3, D, "hrv", at(D, 6, 25, c)),
            Announcement(3, D, "readiness", at(D, 6, 30, c)),
        ],
    )
    timed = timing(inputs, NOW)
    (day,) = timed.days
    assert (day.complete, day.active, day.covered, day.before) == (True, 4, 2, 1)
    assert (day.nights, day.within) == (3, 2)
    assert timed.covered_by[D] == {"events": 1, "computedAt": 1}
    lags = {n.athlete_id: (n.seconds, n.source) for n in timed.nights}
    assert lags == {1: (1200.0, "events"), 2: (7200.0, "computedAt"), 3: (1800.0, "events")}


def test_nights_of_a_vendor_that_gives_a_date_only_are_counted_apart_not_timed() -> None:
    """Google stamps a night with the start of its date: timed from there, a night stored at
    06:20 would show 6 h 20 min of lag. It is left out of the lag and counted as untimed, and
    still covers the day; a night with a timed row beside it is timed by that row."""
    midnight = at(D, 0, 0, "UTC")
    inputs = Inputs(
        days=[D],
        athletes=[Athlete(1, "UTC"), Athlete(2, "UTC")],
        links=[],
        readings=[
            Reading(1, D, "hrv", midnight, timed=False),
            Reading(1, D, "sleep", midnight, timed=False),
            Reading(2, D, "hrv", midnight, timed=False),
            Reading(2, D, "hrv", at(D, 6, 0, "UTC")),  # the same night from a timed vendor
        ],
        snapshots=[Snapshot(1, D, True, at(D, 6, 20, "UTC")), Snapshot(2, D, True, at(D, 6, 20, "UTC"))],
        announcements=[
            Announcement(1, D, "hrv", at(D, 6, 15, "UTC")),
            Announcement(1, D, "readiness", at(D, 6, 20, "UTC")),
            Announcement(2, D, "hrv", at(D, 6, 15, "UTC")),
            Announcement(2, D, "readiness", at(D, 6, 20, "UTC")),
        ],
    )
    timed = timing(inputs, NOW)
    assert timed.untimed_nights == 1
    assert [(n.athlete_id, n.seconds) for n in timed.nights] == [(2, 1200.0)]
    assert (timed.days[0].covered, timed.days[0].before) == (2, 2)
    report = pilot_report(
        inputs,
        start=D,
        end=D,
        team=None,
        adherence=Adherence(Figures(), None, None),
        oauth=oauth_links([], [], NOW, NOW, NOW, NOW),
        dead_letters=[],
        now=NOW,
    )
    assert report.lag.out()["untimedNights"] == 1 and report.lag.nights == 1
    assert "1 HRV nights from vendors that give a date only (Google) are left out" in markdown(report)


def test_a_night_without_readiness_awaits_and_counts_as_late_only_once_the_hour_is_past() -> None:
    inputs = Inputs([D], [Athlete(1, "UTC")], [], night(1, D, "UTC", "hrv"), [], [])
    just = at(D, 6, 30, "UTC")
    report = pilot_report(
        inputs,
        start=D,
        end=D,
        team=None,
        adherence=Adherence(Figures(), None, None),
        oauth=oauth_links([], [], NOW, NOW, NOW, NOW),
        dead_letters=[],
        now=just,
    )
    lag = report.lag
    assert (lag.nights, lag.stored, lag.decided, lag.within_ratio) == (1, 0, 0, None)
    assert not report.days[0].complete and report.coverage.active == 0  # the day is not over: not counted
    later = timing(inputs, at(D, 7, 1, "UTC"))
    assert [night.decided(at(D, 7, 1, "UTC")) for night in later.nights] == [True]


def test_adherence_gain_is_relative_to_the_baseline() -> None:
    assert relative_gain(0.65, 0.5) == 0.3
    assert relative_gain(0.5, 0.5) == 0.0
    assert relative_gain(0.5, 0.0) is None and relative_gain(None, 0.5) is None
    period = figures(13, 20)
    adherence = Adherence(period, figures(5, 10), (D, D))
    assert adherence.gain == 0.3
    accepted_vs_reverted = Figures()
    for n in range(8):
        accepted_vs_reverted.add(D, "accepted", n < 7)
    for n in range(4):
        accepted_vs_reverted.add(D, "reverted", n < 2)
    assert Adherence(accepted_vs_reverted, None, None).group_gain("accepted", "reverted") == 0.75
    assert Adherence(period, None, None).gain is None


def test_targets_met_not_met_and_not_judged() -> None:
    day = [*night(1, D, "UTC", "hrv", "sleep")]
    inputs = Inputs(
        [D],
        [Athlete(1, "UTC")],
        [],
        day,
        [Snapshot(1, D, True, at(D, 6, 20, "UTC"))],
        [
            Announcement(1, D, "hrv", at(D, 6, 10, "UTC")),
            Announcement(1, D, "readiness", at(D, 6, 20, "UTC")),
        ],
    )
    oauth = oauth_links([], [], NOW, NOW, NOW, NOW)

    def judged(adherence: Adherence) -> dict[str, tuple[float | None, bool | None]]:
        report = pilot_report(
            inputs, start=D, end=D, team=None, adherence=adherence, oauth=oauth, dead_letters=[], now=NOW
        )
        return {code: (t["value"], t["met"]) for t in report.out()["targets"] for code in [t["code"]]}

    assert judged(Adherence(figures(11, 20), figures(10, 20), (D, D))) == {
        "coverage": (1.0, True),
        "before7": (1.0, True),
        "lag": (1.0, True),
        "adherence": (0.1, True),  # 0.55 against 0.5: exactly 10 % better
    }
    assert judged(Adherence(figures(10, 20), figures(10, 20), (D, D)))["adherence"] == (0.0, False)
    assert judged(Adherence(figures(10, 20), None, None))["adherence"] == (None, None)


def test_oauth_links_completed_and_failed_in_the_period() -> None:
    start, end = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 15, tzinfo=UTC)
    linked = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)

    def ended(day: date) -> tuple[datetime, datetime]:
        used = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return used, used + timedelta(minutes=9)

    attempts = [
        LinkAttempt(linked + timedelta(milliseconds=1), linked + timedelta(minutes=9), linked),  # linked
        LinkAttempt(*ended(date(2026, 2, 4)), None),  # refused
        LinkAttempt(None, datetime(2026, 2, 5, tzinfo=UTC), None),  # left unfinished, expired
        LinkAttempt(None, NOW + timedelta(minutes=5), None),  # still open
        LinkAttempt(*ended(date(2026, 1, 20)), None),  # before the period
        # Ended in the period; its connection's link is 9 hours later: another attempt's.
        LinkAttempt(*ended(date(2026, 2, 6)), linked + timedelta(days=3)),
    ]
    result = oauth_links([linked, datetime(2026, 1, 2, tzinfo=UTC)], attempts, start, end, NOW, NOW)
    assert (result.completed, result.failed) == (1, 3)


def test_dead_letters_group_by_consumer_and_the_kind_of_failure() -> None:
    assert reason_class("VendorError: oura answered 503 (user 7, rMSSD 54)") == "VendorError"
    assert reason_class("refused part of hrv: oura sleep 7: bad") == "refused part of hrv"
    assert reason_class("  ") == "unknown"
    groups = dead_letter_groups(
        [
            DeadLetterFact("ingest", "VendorError: a", True),
            DeadLetterFact("ingest", "VendorError: b", False),
            DeadLetterFact("normalize", "PermanentError: raw event 3: x", False),
        ]
    )
    assert [(g.consumer, g.reason, g.count, g.replayed) for g in groups] == [
        ("ingest", "VendorError", 2, 1),
        ("normalize", "PermanentError", 1, 0),
    ]


@pytest.fixture
def small_report() -> PilotReport:
    inputs = Inputs(
        [D, D + timedelta(days=1)],
        [Athlete(1, "UTC")],
        [],
        night(1, D, "UTC", "hrv"),
        [Snapshot(1, D, True, at(D, 6, 20, "UTC"))],
        [],
    )
    return pilot_report(
        inputs,
        start=D,
        end=D + timedelta(days=1),
        team={"id": 3, "name": "A | B"},
        adherence=Adherence(figures(1, 2), None, None),
        oauth=oauth_links([], [], NOW, NOW, NOW, NOW),
        dead_letters=[DeadLetterFact("insights", "=HYPERLINK(1)|x: boom", False)],
        now=NOW,
    )


def test_csv_is_one_long_table_and_safe_for_spreadsheets(small_report: PilotReport) -> None:
    rows = list(csv.reader(io.StringIO(csv_text(small_report))))
    assert rows[0] == ["section", "item", "date", "value"]
    by_key = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert by_key[("coverage", "covered", "2026-02-10")] == "1"
    assert by_key[("coverage", "covered", "2026-02-11")] == "0"
    assert by_key[("target", "coverage.met", "")] == "false"  # 1 of 2 active athlete-days
    assert by_key[("adherence", "period.all.rate", "")] == "0.5"
    # A reason that looks like a formula arrives as text.
    assert by_key[("deadLetters.insights", "'=HYPERLINK(1)|x", "")] == "1"


def test_markdown_and_chart_hold_the_figures(small_report: PilotReport) -> None:
    text = markdown(small_report, chart="out/pilot-coverage.svg")
    assert "team A \\| B (#3): 1 athletes" in text
    assert "| daily readiness coverage | ≥ 85 % | 50.0 % | **not met** |" in text
    assert "![Daily readiness coverage](out/pilot-coverage.svg)" in text
    assert "| insights | =HYPERLINK(1)\\|x | 1 | 0 |" in text
    svg = ET.fromstring(coverage_svg(small_report))
    ns = "{http://www.w3.org/2000/svg}"
    bars = [g for g in svg.iter(f"{ns}g")]
    assert len(bars) == 2  # one per day, each with its figures as a tooltip
    assert "2026-02-10: 1 of 1 covered (100 %)" in (bars[0].findtext(f"{ns}title") or "")
    heights = [float(r.get("height", 0)) for r in bars[0].iter(f"{ns}rect")]
    # Covered, and before 07:00 by its snapshot's computed_at (06:20; no events): the whole plot.
    assert heights == [196.0, 196.0]
