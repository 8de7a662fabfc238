"""Sharing per team: an athlete lists and changes what each of their teams sees, and a coach's
grants are the union over every team the coach runs with that athlete."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import Harness
from tests.teams.teamkit import (
    API,
    NONE_SHARED,
    add_coach,
    join,
    make_team,
    ok,
    post_nights,
    problem,
    read,
    share,
)

pytestmark = pytest.mark.backends("sqlite")


def sharing(harness: Harness, who: dict[str, Any]) -> list[dict[str, Any]]:
    return list(ok(harness.client.get(f"{API}/sharing", headers=who["headers"])))


def test_an_athlete_lists_and_changes_what_each_team_sees(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    rowing, cycling = make_team(harness, coach, "Rowing"), make_team(harness, coach, "cycling")
    assert sharing(harness, athlete) == []
    join(harness, coach, rowing, athlete, hrv=True, training=True)
    join(harness, coach, cycling, athlete)
    assert sharing(harness, athlete) == [
        {"teamId": cycling, "teamName": "cycling", "signals": NONE_SHARED},
        {"teamId": rowing, "teamName": "Rowing", "signals": {**NONE_SHARED, "hrv": True, "training": True}},
    ]
    # Only the signals named change.
    changed = ok(share(harness, athlete, rowing, hrv=False, readiness=True))
    assert changed == {
        "teamId": rowing,
        "teamName": "Rowing",
        "signals": {**NONE_SHARED, "readiness": True, "training": True},
    }
    assert sharing(harness, athlete)[1] == changed
    assert sharing(harness, athlete)[0]["signals"] == NONE_SHARED
    (member,) = ok(harness.client.get(f"{API}/teams/{rowing}", headers=coach["headers"]))["members"]
    assert member["sharing"] == changed["signals"]
    # The same change again: the same answer.
    assert ok(share(harness, athlete, rowing, hrv=False, readiness=True)) == changed


def test_only_a_member_athlete_changes_sharing(harness: Harness) -> None:
    coach, athlete, stranger = harness.user("coach"), harness.user("athlete"), harness.user("athlete")
    team = make_team(harness, coach)
    join(harness, coach, team, athlete, hrv=True)
    missing = problem(share(harness, stranger, team + 100, hrv=True), 404)
    body = problem(share(harness, stranger, team, hrv=True), 404)
    assert body["detail"] == missing["detail"].replace(str(team + 100), str(team))
    for who in (coach, harness.user("admin")):
        problem(share(harness, who, team, hrv=False), 403)
        assert sharing(harness, who) == []
    problem(
        harness.client.put(f"{API}/sharing/{team}", json={"hrv": True}, headers=harness.service_token()), 403
    )
    assert sharing(harness, athlete)[0]["signals"] == {**NONE_SHARED, "hrv": True}


@pytest.mark.backends("sqlite", "postgres")
def test_a_coach_of_two_teams_reads_the_union_of_both_grants(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    post_nights(harness, athlete["id"], nights=2)
    rowing, cycling = make_team(harness, coach, "Rowing"), make_team(harness, coach, "Cycling")
    join(harness, coach, rowing, athlete, hrv=True)
    join(harness, coach, cycling, athlete, sleep=True)
    assert len(ok(read(harness, coach, "/hrv/daily", athlete["id"]))) == 2
    assert len(ok(read(harness, coach, "/sleep/summary", athlete["id"]))) == 2
    problem(read(harness, coach, "/readiness", athlete["id"]), 403)

    # Each team's grant ends on its own; the other team's still counts.
    ok(share(harness, athlete, rowing, hrv=False))
    problem(read(harness, coach, "/hrv/daily", athlete["id"]), 403)
    assert len(ok(read(harness, coach, "/sleep/summary", athlete["id"]))) == 2
    ok(share(harness, athlete, rowing, sleep=True))
    ok(share(harness, athlete, cycling, sleep=False))
    assert len(ok(read(harness, coach, "/sleep/summary", athlete["id"]))) == 2  # through Rowing now
    response = harness.client.delete(
        f"{API}/teams/{rowing}/members/{athlete['id']}", headers=coach["headers"]
    )
    assert response.status_code == 204
    problem(read(harness, coach, "/sleep/summary", athlete["id"]), 403)  # still in Cycling: known, unshared


@pytest.mark.backends("sqlite", "postgres")
def test_two_coaches_of_one_team_read_the_same_and_lose_it_together(harness: Harness) -> None:
    first, second, outsider = harness.user("coach"), harness.user("coach"), harness.user("coach")
    athlete = harness.user("athlete")
    post_nights(harness, athlete["id"], nights=2)
    team = make_team(harness, first)
    ok(add_coach(harness, first, team, second), 201)
    join(harness, second, team, athlete, hrv=True, sleep=True)
    for coach in (first, second):
        assert len(ok(read(harness, coach, "/hrv/daily", athlete["id"]))) == 2
        assert len(ok(read(harness, coach, "/sleep/summary", athlete["id"]))) == 2
    problem(read(harness, outsider, "/hrv/daily", athlete["id"]), 404)

    ok(share(harness, athlete, team, hrv=False))
    for coach in (first, second):
        problem(read(harness, coach, "/hrv/daily", athlete["id"]), 403)
        assert len(ok(read(harness, coach, "/sleep/summary", athlete["id"]))) == 2
    # One coach removes the athlete: neither reads anything of them any more.
    response = harness.client.delete(f"{API}/teams/{team}/members/{athlete['id']}", headers=second["headers"])
    assert response.status_code == 204
    for coach in (first, second):
        problem(read(harness, coach, "/sleep/summary", athlete["id"]), 404)
    assert sharing(harness, athlete) == []
