"""Weekly insights kept as history: made once a week is due in the athlete's own zone, rewritten
only when its inputs change, remade when late data reaches a stored or due week, exported with
the account and erased with it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from tests.conftest import Harness
from tests.insights.weekdata import API, full_day, put_day

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.insights.models import WeeklyInsight
from perfhub.insights.service import due, last_due_week, make_due_weeks, refresh_changed_days, refresh_week

pytestmark = pytest.mark.backends("sqlite")

MONDAY = date(2026, 11, 16)  # 2026-W47
# Tuesday of the week after, 12:00 UTC: W47 is due everywhere.
AFTER = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def seed_week(harness: Harness, user_id: int, scores: list[float | None], start: date = MONDAY) -> None:
    for i, score in enumerate(scores):
        put_day(harness, user_id, start + timedelta(days=i), score, full_day())


def weeks_of(harness: Harness, user_id: int) -> dict[str, WeeklyInsight]:
    with harness.runtime.sessions() as session:
        rows = session.scalars(select(WeeklyInsight).where(WeeklyInsight.user_id == user_id)).all()
        session.expunge_all()
        return {row.week: row for row in rows}


def test_a_week_is_due_at_six_on_the_next_monday_in_the_athletes_zone() -> None:
    # Monday 2026-11-23 06:00 in Auckland (UTC+13) is Sunday 17:00 UTC; in Los Angeles (UTC−8)
    # it is Monday 14:00 UTC.
    sunday_evening_utc = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    assert due("Pacific/Auckland", MONDAY, sunday_evening_utc)
    assert not due("Pacific/Auckland", MONDAY, sunday_evening_utc - timedelta(seconds=1))
    assert not due("America/Los_Angeles", MONDAY, datetime(2026, 11, 23, 13, 59, tzinfo=UTC))
    assert due("America/Los_Angeles", MONDAY, datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    assert last_due_week("Pacific/Auckland", sunday_evening_utc) == MONDAY
    assert last_due_week("America/Los_Angeles", sunday_evening_utc) == MONDAY - timedelta(weeks=1)
    assert last_due_week("UTC", datetime(2026, 11, 23, 5, 59, tzinfo=UTC)) == MONDAY - timedelta(weeks=1)


@pytest.mark.backends("sqlite", "postgres")
def test_refresh_stores_the_week_and_rewrites_it_only_when_its_inputs_change(harness: Harness) -> None:
    athlete = harness.user()
    # Five of seven days: 80, 70, 60, 90, 75 → mean 75.0 (Saturday and Sunday missing).
    seed_week(harness, athlete["id"], [80, 70, 60, 90, 75])
    first = AFTER
    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, athlete["id"])
        assert user is not None
        row = refresh_week(session, user, MONDAY, first)
        assert row.week == "2026-W47"
        assert row.figures["readiness"]["mean"] == 75.0
        assert row.figures["readiness"]["scoredDays"] == 5
        assert row.figures["daysWithData"] == 5
        assert [s["rule"] for s in row.sentences] == ["steady"]
        assert row.sentences[0]["cites"] == {"mean": 75.0, "goodDays": 4, "scoredDays": 5}
    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, athlete["id"])
        assert user is not None
        again = refresh_week(session, user, MONDAY, first + timedelta(hours=1))
        assert again.computed_at == first, "same inputs: the stored row is left alone"
    # Late data: Saturday arrives, at 30 → mean (375 + 30) / 6 = 67.5.
    put_day(harness, athlete["id"], MONDAY + timedelta(days=5), 30, full_day())
    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, athlete["id"])
        assert user is not None
        changed = refresh_week(session, user, MONDAY, first + timedelta(hours=2))
        assert changed.figures["readiness"]["mean"] == 67.5
        assert changed.computed_at == first + timedelta(hours=2)
    assert list(weeks_of(harness, athlete["id"])) == ["2026-W47"]


def test_late_data_remakes_stored_and_due_weeks_and_leaves_a_week_under_way(harness: Harness) -> None:
    athlete = harness.user()
    seed_week(harness, athlete["id"], [80, 80, 80], MONDAY - timedelta(weeks=1))  # W46
    seed_week(harness, athlete["id"], [70, 70, 70])  # W47
    seed_week(harness, athlete["id"], [60, 60], MONDAY + timedelta(weeks=1))  # W48, under way
    with session_scope(harness.runtime.sessions) as session:
        changed = {
            athlete["id"]: {MONDAY - timedelta(weeks=1) + timedelta(days=2), MONDAY + timedelta(weeks=1)}
        }
        # W46 and W47 (the week after a changed one compares with it) are due; W48 and W49 are not.
        assert refresh_changed_days(session, changed, AFTER) == 2
    weeks = weeks_of(harness, athlete["id"])
    assert sorted(weeks) == ["2026-W46", "2026-W47"]
    assert weeks["2026-W47"].figures["readiness"]["change"] == -10.0
    # Far-back late data (a history import) remakes only weeks already stored.
    with session_scope(harness.runtime.sessions) as session:
        old = {athlete["id"]: {date(2025, 3, 5)}}
        assert refresh_changed_days(session, old, AFTER) == 0
    assert sorted(weeks_of(harness, athlete["id"])) == ["2026-W46", "2026-W47"]


def test_readiness_updates_reach_the_weekly_insights_through_the_pipeline(harness: Harness) -> None:
    from perfhub.core.outbox import publish
    from perfhub.pipeline.events import InsightsUpdated

    athlete = harness.user()
    seed_week(harness, athlete["id"], [50, 55, 60])
    with time_machine.travel(AFTER, tick=False):
        with session_scope(harness.runtime.sessions) as session:
            # What a readiness recompute announces when a late night changed Tuesday of W47.
            event = InsightsUpdated(athlete["id"], (MONDAY + timedelta(days=1),), (), "1.1.0")
            publish(session, InsightsUpdated.SUBJECT, event.to_payload(), user_id=athlete["id"])
        harness.drain()
    weeks = weeks_of(harness, athlete["id"])
    assert list(weeks) == ["2026-W47"]
    assert weeks["2026-W47"].figures["readiness"]["mean"] == 55.0


def test_the_weeks_are_exported_and_erased_with_the_account(harness: Harness) -> None:
    athlete = harness.user()
    seed_week(harness, athlete["id"], [80, 70, 60])
    with time_machine.travel(AFTER, tick=False):
        body = harness.client.get(f"{API}/insights/weekly", headers=athlete["headers"]).json()
        assert body["week"] == "2026-W47"
        document = harness.client.get(f"{API}/me/export", headers=athlete["headers"]).json()
    assert [w["week"] for w in document["weeklyInsights"]] == ["2026-W47"]
    assert document["weeklyInsights"][0]["figures"]["readiness"]["mean"] == 70.0
    assert harness.client.delete(f"{API}/me", headers=athlete["headers"]).status_code == 204
    with harness.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WeeklyInsight)) == 0


def written(trigger: str) -> float:
    return REGISTRY.get_sample_value("perfhub_weekly_insights_written_total", {"trigger": trigger}) or 0.0


def test_the_monday_sweep_makes_each_athletes_last_week_once_their_morning_has_come(harness: Harness) -> None:
    here = harness.user()
    west = harness.user(tz="America/Los_Angeles")
    idle = harness.user()
    seed_week(harness, here["id"], [70, 70, 70])
    seed_week(harness, west["id"], [70, 70, 70])
    # Monday 07:00 UTC: W47 is due in UTC; in Los Angeles it is still Sunday, so W46 is its last.
    monday_morning = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    swept = written("sweep")
    assert make_due_weeks(harness.runtime.sessions, monday_morning) == 2
    assert written("sweep") == swept + 2
    assert list(weeks_of(harness, here["id"])) == ["2026-W47"]
    assert list(weeks_of(harness, west["id"])) == ["2026-W46"]
    assert weeks_of(harness, idle["id"]) == {}, "no snapshots lately: nothing to summarise"
    assert make_due_weeks(harness.runtime.sessions, monday_morning + timedelta(minutes=10)) == 0
    # 14:00 UTC is 06:00 in Los Angeles.
    assert make_due_weeks(harness.runtime.sessions, datetime(2026, 11, 23, 14, 0, tzinfo=UTC)) == 1
    assert sorted(weeks_of(harness, west["id"])) == ["2026-W46", "2026-W47"]
    assert weeks_of(harness, west["id"])["2026-W47"].figures["readiness"]["mean"] == 70.0
