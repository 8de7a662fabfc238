"""The policy over many athletes at once: one statement however many, and the same answer as
asking athlete by athlete. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import make_engine, make_sessionmaker
from perfhub.privacy.policy import is_related, readable_signals
from perfhub.privacy.queries import readable_athletes
from perfhub.teams.models import Team, TeamMembership
from perfhub.teams.schemas import SIGNALS
from perfhub.teams.service import create_team

pytestmark = pytest.mark.backends("sqlite", "postgres")

ALL = frozenset(SIGNALS)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The statements the engine executes inside the block."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def person(session: Session, name: str, role: str = "athlete") -> User:
    user = User(email=f"{name}@example.org", name=name, role=role)
    session.add(user)
    session.flush()
    return user


def team(session: Session, coach: User, *members: tuple[User, set[str]]) -> Team:
    made = create_team(session, f"team of {coach.name}", coach)
    for athlete, shared in members:
        membership = TeamMembership(team_id=made.id, athlete_id=athlete.id)
        for signal in SIGNALS:
            setattr(membership, f"share_{signal}", signal in shared)
        session.add(membership)
    session.flush()
    return made


def test_one_statement_for_two_hundred_athletes(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        coach = person(session, "coach", "coach")
        admin = person(session, "admin", "admin")
        athletes = [person(session, f"athlete{i}") for i in range(200)]
        # Two teams, every athlete on both: the grants are the union of what each team gets.
        first = team(session, coach, *((a, {"hrv"} if i % 2 else set()) for i, a in enumerate(athletes)))
        team(session, coach, *((a, {"sleep"} if i % 3 == 0 else set()) for i, a in enumerate(athletes)))
        session.commit()
        ids = {athlete.id for athlete in athletes}  # loaded now, so that only the policy is counted
        for viewer, team_id in ((coach, None), (coach, first.id), (admin, None), (admin, first.id)):
            session.refresh(viewer)
            with counting(engine) as statements:
                readable = readable_athletes(session, viewer, team_id)
            assert len(statements) == 1, (viewer.role, team_id, statements)
            assert ids <= set(readable)

        session.refresh(coach)
        with counting(engine) as statements:
            readable = readable_athletes(session, coach)
        assert len(statements) == 1
        assert len(readable) == 201  # the coach reads themself too
        for i, athlete_id in enumerate(sorted(ids)):
            expected = {"hrv"} if i % 2 else set()
            expected |= {"sleep"} if i % 3 == 0 else set()
            assert readable[athlete_id] == expected, i


@dataclass
class Mixed:
    people: dict[str, User]
    teams: dict[str, int]
    expected: dict[tuple[str, str], frozenset[str] | None]  # None: not readable at all


def mixed(session: Session) -> Mixed:
    p = {
        name: person(session, name, role)
        for name, role in (
            ("coach_a", "coach"),
            ("coach_b", "coach"),
            ("coach_c", "coach"),
            ("admin", "admin"),
            ("ann", "athlete"),  # on A and B
            ("ben", "athlete"),  # on A only, shares nothing
            ("cat", "athlete"),  # on C only
            ("dan", "athlete"),  # on no team
        )
    }
    a = team(session, p["coach_a"], (p["ann"], {"hrv", "readiness"}), (p["ben"], set()))
    b = team(session, p["coach_b"], (p["ann"], {"sleep"}))
    c = team(session, p["coach_c"], (p["cat"], set(SIGNALS)))
    # Coach A also runs a second team Ann is on: its grants add to A's.
    a2 = team(session, p["coach_a"], (p["ann"], {"training"}))
    expected: dict[tuple[str, str], frozenset[str] | None] = {}
    for viewer in p:
        for subject in p:
            expected[viewer, subject] = ALL if viewer in (subject, "admin") else None
    expected["coach_a", "ann"] = frozenset({"hrv", "readiness", "training"})
    expected["coach_a", "ben"] = frozenset()
    expected["coach_b", "ann"] = frozenset({"sleep"})
    expected["coach_c", "cat"] = ALL
    return Mixed(p, {"A": a.id, "B": b.id, "C": c.id, "A2": a2.id}, expected)


def test_set_answer_equals_the_per_athlete_answer_for_every_pair(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        world = mixed(session)
        session.commit()
        for viewer_name, viewer in world.people.items():
            readable = readable_athletes(session, viewer)
            for subject_name, subject in world.people.items():
                expected = world.expected[viewer_name, subject_name]
                pair = (viewer_name, subject_name)
                assert readable.get(subject.id) == expected, pair
                assert is_related(session, viewer, subject) == (expected is not None), pair
                assert readable_signals(session, viewer, subject) == (expected or frozenset()), pair
                assert readable_athletes(session, viewer, athlete_ids=[subject.id]) == (
                    {} if expected is None else {subject.id: expected}
                ), pair


def test_a_team_narrows_who_not_what(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        world = mixed(session)
        session.commit()
        p, teams = world.people, world.teams
        # Coach A's view of team A: Ann with everything coach A holds of her (A2's training too).
        assert readable_athletes(session, p["coach_a"], teams["A"]) == {
            p["ann"].id: frozenset({"hrv", "readiness", "training"}),
            p["ben"].id: frozenset(),
        }
        # A team the viewer does not coach shows none of its members.
        assert readable_athletes(session, p["coach_a"], teams["C"]) == {}
        assert readable_athletes(session, p["coach_b"], teams["A"]) == {p["ann"].id: frozenset({"sleep"})}
        assert readable_athletes(session, p["admin"], teams["B"]) == {p["ann"].id: ALL}
        assert readable_athletes(session, p["ann"], teams["A"]) == {p["ann"].id: ALL}
        assert readable_athletes(session, p["dan"], teams["A"]) == {}
        assert readable_athletes(session, p["dan"]) == {p["dan"].id: ALL}
