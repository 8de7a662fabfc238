"""``GET /audit``: who sees which rows of the access log, in words, a page at a time.

An athlete sees the reads of their own data (never their own reads, which write nothing), a
coach the reads they made, an admin everything; pages follow the `Link` header and stay the
same while new reads arrive. The path words cover every route that can read athlete data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select
from tests.conftest import Harness
from tests.privacy.test_consent_signals import coach_with

from perfhub.app import create_app
from perfhub.core.db import session_scope
from perfhub.privacy.deps import declared_read
from perfhub.privacy.models import AuditEntry
from perfhub.privacy.paths import describe_path, words_for_path
from perfhub.settings import Settings

pytestmark = pytest.mark.backends("sqlite")

API = "/api/v1"
FALLBACKS = {"a team view in the API", "the API", "a team page", "a page"}


def audit(harness: Harness, viewer: dict[str, Any], **params: Any) -> Any:
    return harness.client.get(f"{API}/audit", params=params, headers=viewer["headers"])


def read_as(harness: Harness, viewer: dict[str, Any], path: str, athlete: dict[str, Any]) -> None:
    answer = harness.client.get(f"{API}{path}", params={"userId": athlete["id"]}, headers=viewer["headers"])
    assert answer.status_code == 200, answer.text


def audit_count(harness: Harness) -> int:
    with harness.runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def name(harness: Harness, who: dict[str, Any], display: str) -> None:
    from perfhub.auth.models import User

    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, who["id"])
        assert user is not None
        user.name = display


def test_each_role_sees_its_own_part_of_the_log(harness: Harness) -> None:
    anna, ben = harness.user(), harness.user()
    coach = coach_with(harness, anna, {"hrv", "sleep"})
    name(harness, coach, "Coach Carla")
    with session_scope(harness.runtime.sessions) as session:
        from perfhub.auth.models import User
        from perfhub.teams.service import create_team, join_team

        carla = session.get(User, coach["id"])
        assert carla is not None
        join_team(session, create_team(session, "Second", carla).id, session.get(User, ben["id"]), {"hrv"})
    admin = harness.user("admin")
    name(harness, admin, "Ada Admin")

    before = audit_count(harness)
    for path in ("/hrv/daily", "/sleep/summary", "/readiness", "/alerts"):
        assert harness.client.get(f"{API}{path}", headers=anna["headers"]).status_code == 200
    assert audit_count(harness) == before, "an athlete reading their own data writes no audit row"

    read_as(harness, coach, "/hrv/daily", anna)
    read_as(harness, coach, "/sleep/summary", anna)
    read_as(harness, coach, "/hrv/daily", ben)
    read_as(harness, admin, "/readiness", anna)

    mine = audit(harness, anna)
    assert mine.status_code == 200 and "link" not in mine.headers
    rows = mine.json()
    assert [(r["actorName"], r["actorRole"], r["path"], r["signals"]) for r in rows] == [
        ("Ada Admin", "admin", "/api/v1/readiness", ["readiness"]),
        ("Coach Carla", "coach", "/api/v1/sleep/summary", ["sleep"]),
        ("Coach Carla", "coach", "/api/v1/hrv/daily", ["hrv"]),
    ]
    assert {r["subjectId"] for r in rows} == {anna["id"]} and {r["kind"] for r in rows} == {"read"}
    assert rows[2]["pathDescription"] == "your HRV and resting HR (/api/v1/hrv/daily)"
    assert rows[1]["pathDescription"] == "your sleep (/api/v1/sleep/summary)"
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert set(rows[0]) == {
        "id",
        "at",
        "actorId",
        "actorRole",
        "actorName",
        "subjectId",
        "signals",
        "path",
        "pathDescription",
        "kind",
    }

    assert [(r["subjectId"], r["path"]) for r in audit(harness, ben).json()] == [
        (ben["id"], "/api/v1/hrv/daily")
    ]
    # A coach sees the reads they made, not the admin's; an athlete's filter only narrows.
    assert [(r["actorId"], r["subjectId"]) for r in audit(harness, coach).json()] == [
        (coach["id"], ben["id"]),
        (coach["id"], anna["id"]),
        (coach["id"], anna["id"]),
    ]
    assert audit(harness, coach, subjectId=ben["id"]).json()[0]["subjectId"] == ben["id"]
    assert audit(harness, anna, subjectId=ben["id"]).json() == []
    # An admin sees everything, and may ask for one person's.
    assert len(audit(harness, admin).json()) == 4
    assert {r["subjectId"] for r in audit(harness, admin, subjectId=anna["id"]).json()} == {anna["id"]}
    # Service tokens have no access log, and the limits hold.
    assert harness.client.get(f"{API}/audit", headers=harness.service_token()).status_code == 403
    assert harness.client.get(f"{API}/audit").status_code == 401
    for bad in ({"limit": 0}, {"limit": 501}, {"before": 0}, {"subjectId": "x"}):
        assert audit(harness, admin, **bad).status_code == 422, bad


def add_reads(harness: Harness, actor: dict[str, Any], subject: dict[str, Any], n: int) -> list[int]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with session_scope(harness.runtime.sessions) as session:
        rows = [
            AuditEntry(
                at=start + timedelta(minutes=i),
                actor_id=actor["id"],
                actor_role="coach",
                subject_id=subject["id"],
                signals=["hrv"],
                path="/api/v1/hrv/daily",
            )
            for i in range(n)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def next_link(answer: Any) -> str | None:
    header = answer.headers.get("link")
    if header is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', header)
    assert match, header
    return match.group(1)


@pytest.mark.backends("sqlite", "postgres")
def test_pages_follow_the_link_header_and_stay_put_while_reads_arrive(harness: Harness) -> None:
    athlete, coach = harness.user(), harness.user("coach")
    ids = add_reads(harness, coach, athlete, 7)
    first = audit(harness, athlete, limit=3)
    assert [r["id"] for r in first.json()] == ids[::-1][:3]
    link = next_link(first)
    assert link is not None and f"before={ids[4]}" in link and "limit=3" in link
    # Reads arriving meanwhile are newer than every row already shown: the next page is unchanged.
    newer = add_reads(harness, coach, athlete, 2)
    second = harness.client.get(link, headers=athlete["headers"])
    assert [r["id"] for r in second.json()] == ids[::-1][3:6]
    last_link = next_link(second)
    assert last_link is not None
    last = harness.client.get(last_link, headers=athlete["headers"])
    assert [r["id"] for r in last.json()] == [ids[0]] and next_link(last) is None
    # The first page now starts with the new reads.
    assert [r["id"] for r in audit(harness, athlete, limit=2).json()] == newer[::-1]
    # Exactly a page's worth: no next page is announced.
    assert next_link(audit(harness, athlete, limit=9)) is None
    assert next_link(audit(harness, athlete, limit=8)) is not None


def test_every_route_that_reads_athlete_data_has_words(settings: Settings) -> None:
    app = create_app(settings, run_workers=False)
    checked = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and declared_read(route.dependant) is not None:
            concrete = re.sub(r"\{[^}]+\}", "7", str(context.path))
            assert words_for_path(concrete) not in FALLBACKS, context.path
            checked += 1
    assert checked >= 19
    # The team reads of issue #13 (one row per athlete, the CSV, one athlete's days).
    for path, words in {
        "/api/v1/teams/3/readiness": "your team's readiness table",
        "/api/v1/teams/3/readiness.csv": "your team's readiness table, downloaded as CSV",
        "/api/v1/teams/3/athletes/41/trend": "your trend",
        "/teams/3": "your team's readiness page",
        "/teams/3/athletes/41": "your trend page",
        "/sleep": "your sleep page",
        "/api/v1/hrv/daily/": "your HRV and resting HR",
    }.items():
        assert words_for_path(path) == words, path
    assert describe_path("/api/v1/sleep/debt") == "your sleep debt (/api/v1/sleep/debt)"
    # A path nobody listed still says something, and ids must be ids.
    assert words_for_path("/api/v1/teams/3/weekly") == "a team view in the API"
    assert words_for_path("/api/v1/teams/x/readiness") == "a team view in the API"
    assert words_for_path("/api/v1/unlisted/view") == "the API"
    assert words_for_path("/api/v1/insights/weekly") == "your weekly summary"
    assert words_for_path("/api/v1/teams/3/insights/weekly") == "your team's weekly summary"
    assert words_for_path("/api/v1/plan/sessions/9/adjustment") == "the adjustment of one of your sessions"
    assert words_for_path("/elsewhere") == "a page"
