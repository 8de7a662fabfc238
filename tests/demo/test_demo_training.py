"""The demo's training: plans by sport and weekday, what was done of them (never on or after the
athlete's local today, at any hour in any zone), and, once the pipeline has made readiness, real
figures for training load and adherence and the proposals of today's sessions."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.demo.test_seed_any_hour import FROZEN_DAYS, every_zone_profiles

from perfhub.app import create_app
from perfhub.auth.models import User
from perfhub.core.dates import local_today
from perfhub.demo.seed import athlete_history, seed_demo
from perfhub.demo.synthetic import make_profiles
from perfhub.demo.training import AHEAD_DAYS, BACK_DAYS, WEEK, demo_plan, sport_of
from perfhub.plans.adherence import RPE_CEILING
from perfhub.plans.models import PlannedSession, SessionAdjustment
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.settings import Settings
from perfhub.training.models import CompletedSession

# A Tuesday morning in Europe: a hard day for most of the team.
NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def test_the_plan_follows_the_weekly_rhythm_and_is_deterministic() -> None:
    profile = make_profiles(1, seed=7)[0]
    today = date(2026, 3, 3)
    _, _, training = athlete_history(profile, 60, NOW, 7)
    plan = demo_plan(profile, today, training, 7)
    assert plan == demo_plan(profile, today, training, 7)
    assert plan != demo_plan(profile, today, training, 8)
    days = [s.date for s in plan.sessions]
    assert days == [today + timedelta(days=d) for d in range(-BACK_DAYS, AHEAD_DAYS)]
    for item in plan.sessions:
        assert item.type == WEEK[item.date.weekday()][0]
        assert (item.duration_min == 0) == (item.type == "rest")
        assert (item.done is not None) <= (item.date < today)  # nothing done from today on
        if item.type == "rest":
            assert item.done is None


def test_what_was_done_follows_the_nights_training() -> None:
    kinds: Counter[str] = Counter()
    for index, profile in enumerate(make_profiles(12, seed=7)):
        today = NOW.astimezone(ZoneInfo(profile.tz)).date()
        _, _, training = athlete_history(profile, 120, NOW, 7 + index)
        by_day = {t.date: t for t in training}
        for item in demo_plan(profile, today, training, 7 + index).sessions:
            if item.date >= today or item.type == "rest":
                continue
            kind = by_day[item.date].kind
            kinds[kind] += 1
            if kind in ("skipped", "ill"):
                assert item.done is None, item
            else:
                assert item.done is not None, item
            if kind == "block":
                assert (
                    item.done is not None and item.done.rpe > RPE_CEILING.get(item.type, 10)
                ) or item.type == "hard"
    assert kinds["usual"] > kinds["skipped"] + kinds["ill"]


def test_sports_fit_the_athletes() -> None:
    sports = {}
    for profile in make_profiles(60, seed=7):
        sport = sport_of(profile)
        sports[profile.email_local] = sport
        if profile.tz.startswith("Africa/"):
            assert sport == "running"
        if profile.tz in ("Europe/Oslo", "Europe/Stockholm", "Europe/Helsinki"):
            assert sport == "cross-country skiing"
    assert len(set(sports.values())) >= 5


@pytest.mark.parametrize("day", FROZEN_DAYS, ids=lambda d: d.date().isoformat())
def test_nothing_is_done_on_or_after_local_today_at_any_hour(day: datetime) -> None:
    profiles = every_zone_profiles()
    for hour in range(0, 24, 3):
        now = day + timedelta(hours=hour, minutes=17)
        for index, profile in enumerate(profiles):
            today = now.astimezone(ZoneInfo(profile.tz)).date()
            _, _, training = athlete_history(profile, 10, now, index)
            plan = demo_plan(profile, today, training, index)
            assert any(s.date == today for s in plan.sessions)
            assert all(s.date < today for s in plan.sessions if s.done is not None)
            assert all(u.date < today for u in plan.unplanned)


# --------------------------------------------------------------------------------------------
# The seeded demo, through the pipeline and the API
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("demo-training")
    shutil.copy(sqlite_template, work / "demo.db")
    settings = Settings(
        database_url=f"sqlite:///{work / 'demo.db'}", var_dir=work / "var", secret_key="demo-test"
    )
    with time_machine.travel(NOW, tick=False):
        app = create_app(settings)
        with TestClient(app) as client:
            credentials = seed_demo(app.state.runtime.sessions, settings.var_dir, days=60)
            app.state.runtime.bus.drain()
            yield {"client": client, "runtime": app.state.runtime, "credentials": credentials.to_json()}


def headers(person: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {person['token']}"}


def test_the_team_has_plans_and_completions(demo: dict[str, Any]) -> None:
    with demo["runtime"].sessions() as session:
        zones = dict(session.execute(select(User.id, User.tz).where(User.role == "athlete")).all())
        todays = {athlete: local_today(tz, NOW) for athlete, tz in zones.items()}
        planned = session.scalars(select(PlannedSession)).all()
        done = session.scalars(select(CompletedSession)).all()
    assert len(zones) == 12
    assert Counter(p.athlete_id for p in planned) == dict.fromkeys(zones, BACK_DAYS + AHEAD_DAYS)
    assert all(c.date < todays[c.athlete_id] for c in done)
    past = [p for p in planned if p.date < todays[p.athlete_id] and p.type != "rest"]
    linked = {c.planned_session_id: c for c in done if c.planned_session_id is not None}
    assert 0.8 * len(past) <= len(linked) < len(past)  # most done, some missed
    harder = [
        c for i, c in linked.items() if c.rpe > RPE_CEILING.get(next(p.type for p in past if p.id == i), 10)
    ]
    assert harder, "some sessions are done harder than planned"


def test_load_and_adherence_show_real_numbers(demo: dict[str, Any]) -> None:
    client, credentials = demo["client"], demo["credentials"]
    athlete = credentials["athletes"][0]
    load = client.get("/api/v1/training/load", headers=headers(athlete))
    assert load.status_code == 200, load.text
    yesterday = load.json()["days"][-2]
    assert yesterday["atl"] > 0 and yesterday["ctl"] > 0 and yesterday["acwr"] is not None
    start = (NOW.date() - timedelta(days=BACK_DAYS + 1)).isoformat()
    end = (NOW.date() + timedelta(days=1)).isoformat()
    team = client.get(
        f"/api/v1/teams/{credentials['teamId']}/adherence",
        params={"from": start, "to": end},
        headers=headers(credentials["coach"]),
    )
    assert team.status_code == 200, team.text
    body = team.json()
    assert body["hidden"] == [] and len(body["athletes"]) == 12
    assert body["overall"]["planned"] == 12 * BACK_DAYS
    assert 0.6 < body["overall"]["rate"] < 1.0
    assert len(body["byWeek"]) >= 4
    own = client.get("/api/v1/plan/adherence", params={"from": start, "to": end}, headers=headers(athlete))
    assert own.status_code == 200 and own.json()["overall"]["planned"] == BACK_DAYS


def test_todays_sessions_are_proposed_for_where_readiness_asks(demo: dict[str, Any]) -> None:
    with demo["runtime"].sessions() as session:
        zones = dict(session.execute(select(User.id, User.tz).where(User.role == "athlete")).all())
        todays = {athlete: local_today(tz, NOW) for athlete, tz in zones.items()}
        snapshots = {
            (s.user_id, s.date): s
            for s in session.scalars(select(ReadinessSnapshotRow))
            if s.date == todays[s.user_id]
        }
        adjusted = {a.session_id: a for a in session.scalars(select(SessionAdjustment))}
        today_sessions = [
            p for p in session.scalars(select(PlannedSession)) if p.date == todays[p.athlete_id]
        ]
    assert adjusted, "the demo shows proposals for today"
    for row in today_sessions:
        snapshot = snapshots.get((row.athlete_id, row.date))
        band = None if snapshot is None else snapshot.band
        wanted = (band == "low" and row.type != "rest") or (band == "reduced" and row.type == "hard")
        if wanted:
            assert row.id in adjusted, (row.athlete_id, band, row.type)
    assert {a.status for a in adjusted.values()} == {"proposed"}
    assert all(a.snapshot_date == todays[a.athlete_id] for a in adjusted.values())


def test_the_teams_pilot_report_counts_the_athletes_over_the_seeded_history(demo: dict[str, Any]) -> None:
    """The demo's athletes have been in its team for all the history it made, so a team's report
    over the last weeks counts every one of them every day."""
    from perfhub.reports.service import PilotQuery, build_report

    end = NOW.date() - timedelta(days=2)
    start = end - timedelta(days=13)
    with demo["runtime"].sessions() as session:
        report = build_report(session, PilotQuery(start, end, demo["credentials"]["teamId"]), NOW)
    assert report.athletes == 12
    assert report.coverage.active == 12 * 14
