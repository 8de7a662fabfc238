"""The adherence endpoints on a seeded team (docs/plans.md#adherence): a coach reads the team's
figures per athlete and per ISO week, split by adjustment; an athlete not sharing training is
hidden and not counted; a coach of another team gets 404 and an athlete of the team 403; each
listed athlete gets one audit row, all in one INSERT; the athlete reads their own figures, and a
coach reads them through ``userId``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from tests.conftest import Harness
from tests.readiness.teamdata import StatementCounter

from perfhub.auth.models import User
from perfhub.auth.service import create_user
from perfhub.core.db import session_scope
from perfhub.plans.models import PlannedSession, SessionAdjustment
from perfhub.privacy.models import AuditEntry
from perfhub.teams.schemas import SIGNALS
from perfhub.teams.service import create_team, join_team
from perfhub.training.load import session_load
from perfhub.training.models import CompletedSession

pytestmark = pytest.mark.backends("sqlite", "postgres")

API = "/api/v1"
# Wednesday 9 December 2026, noon UTC: 2 a.m. on Thursday the 10th at UTC+14 (Kiritimati).
NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
RANGE = {"from": "2026-11-30", "to": "2026-12-13"}  # ISO weeks 2026-W49 and 2026-W50


def day(n: int) -> date:
    return date(2026, 12, n)


@dataclass
class Squad:
    team_id: int
    coach: dict[str, Any]
    a: dict[str, Any]  # UTC, shares everything
    b: dict[str, Any]  # UTC+14, shares training only
    c: dict[str, Any]  # UTC, shares everything but training
    other: dict[str, Any]  # the coach of another team
    admin: dict[str, Any]


def person(user: User, token: str) -> dict[str, Any]:
    return {"id": user.id, "headers": {"Authorization": f"Bearer {token}"}}


def plan(
    session: Any,
    athlete: int,
    when: date,
    kind: str,
    minutes: int,
    *,
    adjusted: tuple[str, int] | None = None,
    status: str | None = None,
    done: tuple[float, float] | None = None,
) -> None:
    row = PlannedSession(
        athlete_id=athlete, date=when, sport="run", title=f"{kind} run", type=kind, duration_min=minutes
    )
    session.add(row)
    session.flush()
    if adjusted is not None and status is not None:
        session.add(
            SessionAdjustment(
                session_id=row.id,
                athlete_id=athlete,
                status=status,
                rule="low",
                original={"type": kind, "durationMin": minutes, "intensity": None, "plannedLoad": None},
                adjusted={
                    "type": adjusted[0],
                    "durationMin": adjusted[1],
                    "intensity": None,
                    "plannedLoad": None,
                },
                diff=[],
                reasons=[],
                snapshot_date=when,
                algorithm_version="test",
                basis_hash="x",
            )
        )
    if done is not None:
        log(session, athlete, when, *done, planned=row.id)


def log(
    session: Any, athlete: int, when: date, minutes: float, rpe: float, planned: int | None = None
) -> None:
    session.add(
        CompletedSession(
            athlete_id=athlete,
            date=when,
            sport="run",
            duration_min=minutes,
            rpe=rpe,
            load=session_load(rpe, minutes),
            planned_session_id=planned,
            source="manual",
        )
    )


@pytest.fixture
def squad(harness: Harness) -> Iterator[Squad]:
    with time_machine.travel(NOW, tick=False):
        with session_scope(harness.runtime.sessions) as session:
            coach, coach_token = create_user(session, "coach@example.org", "coach", name="Coach")
            team_id = create_team(session, "Squad", coach).id
            a, a_token = create_user(session, "a@example.org", "athlete", name="Ada")
            b, b_token = create_user(session, "b@example.org", "athlete", name="Bo", tz="Pacific/Kiritimati")
            c, c_token = create_user(session, "c@example.org", "athlete", name="Cy")
            join_team(session, team_id, a, set(SIGNALS))
            join_team(session, team_id, b, {"training"})
            join_team(session, team_id, c, set(SIGNALS) - {"training"})
            # Ada, week 49: kept (unadjusted), rest kept, accepted and kept, reverted and missed.
            plan(session, a.id, day(1), "hard", 60, done=(62, 8))
            plan(session, a.id, day(2), "rest", 0)
            plan(session, a.id, day(3), "hard", 60, adjusted=("easy", 35), status="accepted", done=(35, 3))
            # Done as the adjustment said, but it was reverted: judged against the 50-minute plan.
            plan(
                session, a.id, day(4), "moderate", 50, adjusted=("easy", 30), status="reverted", done=(30, 3)
            )
            # Week 50: missed; undecided and kept; today (not counted, though done).
            plan(session, a.id, day(7), "easy", 40)
            plan(
                session, a.id, day(8), "moderate", 45, adjusted=("easy", 25), status="proposed", done=(45, 5)
            )
            plan(session, a.id, day(9), "easy", 30, done=(30, 3))
            # Bo (already the 10th where they live): too hard; a rest day with a ride logged.
            plan(session, b.id, day(8), "easy", 30, done=(30, 6))
            plan(session, b.id, day(9), "rest", 0)
            log(session, b.id, day(9), 45, 4)
            # Cy does not share training: never counted, whatever they did.
            plan(session, c.id, day(1), "hard", 60, done=(60, 7))
            plan(session, c.id, day(2), "easy", 30)
            other_coach, other_token = create_user(session, "other@example.org", "coach", name="Other")
            create_team(session, "Others", other_coach)
            admin, admin_token = create_user(session, "admin@example.org", "admin", name="Admin")
            people = {
                "coach": person(coach, coach_token),
                "a": person(a, a_token),
                "b": person(b, b_token),
                "c": person(c, c_token),
                "other": person(other_coach, other_token),
                "admin": person(admin, admin_token),
            }
        yield Squad(team_id, **people)


def tally(planned: int, kept: int) -> dict[str, Any]:
    return {"planned": planned, "kept": kept, "rate": None if planned == 0 else round(kept / planned, 4)}


def get(harness: Harness, path: str, viewer: dict[str, Any], status: int = 200, **params: Any) -> Any:
    response = harness.client.get(f"{API}{path}", params=params, headers=viewer["headers"])
    assert response.status_code == status, response.text
    return response.json()


def audit(harness: Harness, actor: int) -> list[tuple[int, list[str], str]]:
    with harness.runtime.sessions() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.actor_id == actor).order_by(AuditEntry.id))
        return [(row.subject_id, list(row.signals), row.path) for row in rows]


def test_the_coach_reads_the_team_per_athlete_and_per_week(harness: Harness, squad: Squad) -> None:
    body = get(harness, f"/teams/{squad.team_id}/adherence", squad.coach, **RANGE)
    assert (body["from"], body["to"]) == ("2026-11-30", "2026-12-13")
    assert body["overall"] == tally(8, 4)
    assert body["byGroup"] == {
        "accepted": tally(1, 1),
        "reverted": tally(1, 0),
        "undecided": tally(1, 1),
        "unadjusted": tally(5, 2),
    }
    weeks = {week["week"]: week for week in body["byWeek"]}
    assert list(weeks) == ["2026-W49", "2026-W50"]
    assert weeks["2026-W49"]["overall"] == tally(4, 3)
    assert weeks["2026-W50"]["overall"] == tally(4, 1)
    assert weeks["2026-W50"]["byGroup"]["undecided"] == tally(1, 1)
    assert body["hidden"] == [squad.c["id"]]
    athletes = {row["athleteId"]: row for row in body["athletes"]}
    assert [row["name"] for row in body["athletes"]] == ["Ada", "Bo"]
    assert athletes[squad.a["id"]]["overall"] == tally(6, 4)
    assert athletes[squad.a["id"]]["byGroup"]["reverted"] == tally(1, 0)
    assert [w["week"] for w in athletes[squad.a["id"]]["byWeek"]] == ["2026-W49", "2026-W50"]
    # Bo's 9th is over where they live (UTC+14), and the ride on the rest day breaks it.
    assert athletes[squad.b["id"]]["overall"] == tally(2, 0)
    assert athletes[squad.b["id"]]["byWeek"] == [
        {"week": "2026-W50", "overall": tally(2, 0), "byGroup": athletes[squad.b["id"]]["byGroup"]}
    ]


def test_each_listed_athlete_is_audited_once_in_one_insert(harness: Harness, squad: Squad) -> None:
    with StatementCounter(harness.runtime.engine) as counter:
        get(harness, f"/teams/{squad.team_id}/adherence", squad.coach, **RANGE)
    path = f"{API}/teams/{squad.team_id}/adherence"
    assert audit(harness, squad.coach["id"]) == [
        (squad.a["id"], ["training"], path),
        (squad.b["id"], ["training"], path),
    ]
    inserts = [s for s in counter.statements if s.lstrip().upper().startswith("INSERT INTO AUDIT")]
    assert len(inserts) == 1, inserts


def test_a_revoked_share_hides_the_athlete_at_the_next_read(harness: Harness, squad: Squad) -> None:
    response = harness.client.put(
        f"{API}/sharing/{squad.team_id}", json={"training": False}, headers=squad.b["headers"]
    )
    assert response.status_code == 200, response.text
    body = get(harness, f"/teams/{squad.team_id}/adherence", squad.coach, **RANGE)
    assert body["hidden"] == sorted([squad.b["id"], squad.c["id"]])
    assert [row["name"] for row in body["athletes"]] == ["Ada"]
    assert body["overall"] == tally(6, 4)


def test_who_may_read_a_team(harness: Harness, squad: Squad) -> None:
    path = f"/teams/{squad.team_id}/adherence"
    get(harness, path, squad.other, 404, **RANGE)
    get(harness, "/teams/999999/adherence", squad.coach, 404)
    get(harness, path, squad.a, 403, **RANGE)
    admin = get(harness, path, squad.admin, **RANGE)
    # An admin reads everyone, Cy included (their 1st was kept, their 2nd missed).
    assert admin["hidden"] == [] and admin["overall"] == tally(10, 5)
    assert audit(harness, squad.other["id"]) == [] and audit(harness, squad.a["id"]) == []
    get(harness, path, squad.coach, 422, **{"from": "2026-12-13", "to": "2026-11-30"})


def test_the_default_range_is_the_last_30_days(harness: Harness, squad: Squad) -> None:
    body = get(harness, f"/teams/{squad.team_id}/adherence", squad.coach)
    assert (body["from"], body["to"]) == ("2026-11-10", "2026-12-09")
    assert body["overall"] == tally(8, 4)


def test_the_athlete_reads_their_own_and_a_coach_reads_it_through_user_id(
    harness: Harness, squad: Squad
) -> None:
    own = get(harness, "/plan/adherence", squad.a, **RANGE)
    assert own["overall"] == tally(6, 4) and own["hidden"] == [] and "athletes" not in own
    assert own["byGroup"]["accepted"] == tally(1, 1)
    assert [w["week"] for w in own["byWeek"]] == ["2026-W49", "2026-W50"]
    assert get(harness, "/plan/adherence", squad.b, **RANGE)["overall"] == tally(2, 0)
    assert audit(harness, squad.a["id"]) == []  # one's own data is not audited
    coach = get(harness, "/plan/adherence", squad.coach, userId=squad.a["id"], **RANGE)
    assert coach["overall"] == own["overall"] and coach["byWeek"] == own["byWeek"]
    assert audit(harness, squad.coach["id"]) == [(squad.a["id"], ["training"], f"{API}/plan/adherence")]
    get(harness, "/plan/adherence", squad.coach, 403, userId=squad.c["id"])
    get(harness, "/plan/adherence", squad.other, 404, userId=squad.a["id"])
    get(harness, "/plan/adherence", squad.b, 404, userId=squad.a["id"])
