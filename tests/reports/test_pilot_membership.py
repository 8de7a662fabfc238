"""A team's pilot report counts the athletes who were in the team during the period, on the days
they were: one who left is counted up to the day they left, one who joined from the day they
joined, one who joined after the period not at all. Real SQLite and PostgreSQL; the clock frozen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.reports.pilotkit import _night, _snapshot, local

from perfhub.auth.models import User
from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.reports.service import PilotQuery, build_report
from perfhub.reports.timing import Athlete
from perfhub.teams.models import TeamMembershipSpan
from perfhub.teams.service import create_team, join_team, remove_member

pytestmark = pytest.mark.backends("sqlite", "postgres")

START, END = date(2026, 2, 16), date(2026, 3, 1)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ZONES = (("left", "UTC"), ("joined", "Pacific/Kiritimati"), ("late", "UTC"), ("never", "UTC"))


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def at(moment: datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=False)


def test_members_count_on_the_days_they_were_in_the_team(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        coach, _ = create_user(session, "coach@example.org", "coach")
        team_id = create_team(session, "Squad", coach).id
        people = {
            name: create_user(session, f"{name}@example.org", "athlete", tz=tz)[0].id
            for name, tz in (
                ("left", "UTC"),
                ("joined", "Pacific/Kiritimati"),
                ("late", "UTC"),
                ("never", "UTC"),
            )
        }
        for user_id in people.values():
            tz = session.get(User, user_id).tz  # type: ignore[union-attr]
            for k in range(-10, 20):
                day = START + timedelta(days=k)
                wake = local(day, 6, 30, tz)
                _night(session, user_id, day, wake)
                _snapshot(session, user_id, day, wake + timedelta(minutes=10))

    def join(name: str, moment: datetime) -> None:
        with at(moment), session_scope(sessions) as session:
            athlete = session.get(User, people[name])
            assert athlete is not None
            join_team(session, team_id, athlete, set())

    join("left", datetime(2026, 2, 1, 9, 0, tzinfo=UTC))
    with at(datetime(2026, 2, 20, 12, 0, tzinfo=UTC)), session_scope(sessions) as session:
        athlete = session.get(User, people["left"])
        assert athlete is not None
        remove_member(session, athlete, team_id, athlete.id)  # they leave on the 20th at noon
    join("joined", datetime(2026, 2, 25, 9, 0, tzinfo=UTC))  # 23:00 on the 25th in UTC+14
    join("late", datetime(2026, 3, 5, 9, 0, tzinfo=UTC))

    with session_scope(sessions) as session:
        spans = session.execute(
            select(TeamMembershipSpan.athlete_id, TeamMembershipSpan.left_at).order_by(TeamMembershipSpan.id)
        ).all()
        assert spans == [
            (people["left"], datetime(2026, 2, 20, 12, 0, tzinfo=UTC)),
            (people["joined"], None),
            (people["late"], None),
        ]
        report = build_report(session, PilotQuery(START, END, team_id), NOW)
        everyone = build_report(session, PilotQuery(START, END), NOW)

    # "late" joined after the period and "never" never did: two athletes.
    assert report.athletes == 2 and everyone.athletes == 4
    active = {day.day: day.active for day in report.days}
    # "left": the 16th to the 20th (they were in for its morning). "joined": from the 25th,
    # their local day (UTC+14), to the 1st.
    expected = {START + timedelta(days=k): int(k <= 4) + int(k >= 9) for k in range(14)}
    assert active == expected
    assert report.coverage.active == 10 and report.coverage.covered == 10
    assert report.lag.nights == 10  # only the nights of the days they were in
    assert everyone.coverage.active == 4 * 14 and everyone.lag.nights == 4 * 14


def test_member_on_reads_the_athletes_own_calendar_day() -> None:
    joined = datetime(
        2026, 2, 25, 9, 0, tzinfo=UTC
    )  # 23:00 on the 25th in UTC+14, 21:00 on the 24th in UTC-12
    east = Athlete(1, "Pacific/Kiritimati", ((joined, None),))
    west = Athlete(2, "Etc/GMT+12", ((joined, datetime(2026, 2, 26, 11, 0, tzinfo=UTC)),))
    assert not east.member_on(date(2026, 2, 24)) and east.member_on(date(2026, 2, 25))
    assert west.member_on(date(2026, 2, 24)) and west.member_on(date(2026, 2, 25))
    # Left at 23:00 on the 25th in UTC-12: not in the team on the 26th.
    assert not west.member_on(date(2026, 2, 26))
    assert Athlete(3, "UTC").member_on(date(2000, 1, 1))  # no team: every day
