"""Teams over the API by role: who lists, creates, sees, adds coaches to and removes members from
a team. A team the caller has no part in answers 404 exactly as one that does not exist."""

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
    memberships,
    ok,
    problem,
)

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def people(harness: Harness) -> dict[str, dict[str, Any]]:
    """Two coaches, a team each (Rowing: coach; Cycling: other) and Rowing's athlete sharing hrv."""
    people = {
        "coach": harness.user("coach"),
        "other": harness.user("coach"),
        "admin": harness.user("admin"),
        "athlete": harness.user("athlete"),
        "outsider": harness.user("athlete"),
    }
    people["rowing"] = {"id": make_team(harness, people["coach"], "Rowing")}
    people["cycling"] = {"id": make_team(harness, people["other"], "Cycling")}
    join(harness, people["coach"], people["rowing"]["id"], people["athlete"], hrv=True)
    return people


def names(teams: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(team["name"], team["role"]) for team in teams]


def test_each_person_lists_the_teams_they_have_a_part_in(harness: Harness, people: dict[str, Any]) -> None:
    def listed(who: str) -> list[dict[str, Any]]:
        return list(ok(harness.client.get(f"{API}/teams", headers=people[who]["headers"])))

    coach = listed("coach")
    assert names(coach) == [("Rowing", "coach")]
    assert coach[0]["coaches"] == [
        {"id": people["coach"]["id"], "name": people["coach"]["email"].split("@")[0]}
    ]
    assert coach[0]["athleteCount"] == 1
    assert names(listed("athlete")) == [("Rowing", "member")]
    assert names(listed("other")) == [("Cycling", "coach")]
    assert listed("outsider") == []
    assert names(listed("admin")) == [("Cycling", "admin"), ("Rowing", "admin")]
    assert [team["athleteCount"] for team in listed("admin")] == [0, 1]

    # One coach on two teams, two coaches on one team.
    ok(add_coach(harness, people["other"], people["cycling"]["id"], people["coach"]), 201)
    assert names(listed("coach")) == [("Cycling", "coach"), ("Rowing", "coach")]
    cycling = listed("other")[0]
    assert [c["id"] for c in cycling["coaches"]] == [people["other"]["id"], people["coach"]["id"]]


def test_coaches_and_admins_create_teams_athletes_do_not(harness: Harness, people: dict[str, Any]) -> None:
    post = harness.client.post
    made = ok(post(f"{API}/teams", json={"name": "  Track  "}, headers=people["coach"]["headers"]), 201)
    assert made["name"] == "Track"
    assert [c["id"] for c in made["coaches"]] == [people["coach"]["id"]]
    # A coach may name themself, not someone else.
    own = {"name": "Swim", "coachEmail": people["coach"]["email"].upper()}
    assert (
        ok(post(f"{API}/teams", json=own, headers=people["coach"]["headers"]), 201)["coaches"][0]["id"]
        == (people["coach"]["id"])
    )
    other = {"name": "Swim", "coachEmail": people["other"]["email"]}
    problem(post(f"{API}/teams", json=other, headers=people["coach"]["headers"]), 403)
    problem(post(f"{API}/teams", json={"name": "Mine"}, headers=people["athlete"]["headers"]), 403)
    problem(post(f"{API}/teams", json={"name": "Mine"}, headers=harness.service_token()), 403)

    named = ok(post(f"{API}/teams", json=other, headers=people["admin"]["headers"]), 201)
    assert [c["id"] for c in named["coaches"]] == [people["other"]["id"]]
    assert "Swim" in [
        t["name"] for t in ok(harness.client.get(f"{API}/teams", headers=people["other"]["headers"]))
    ]
    itself = ok(post(f"{API}/teams", json={"name": "Admin's"}, headers=people["admin"]["headers"]), 201)
    assert [c["id"] for c in itself["coaches"]] == [people["admin"]["id"]]
    # The named coach must be a coach; "no account" and "not a coach" answer alike.
    for email in (people["athlete"]["email"], "nobody@example.org"):
        body = problem(
            post(f"{API}/teams", json={"name": "X", "coachEmail": email}, headers=people["admin"]["headers"]),
            422,
        )
        assert body["detail"] == f"no coach with email {email}"
        assert body["errors"][0]["loc"] == ["body", "coachEmail"]


def test_the_team_as_each_person_sees_it(harness: Harness, people: dict[str, Any]) -> None:
    rowing = people["rowing"]["id"]
    get = harness.client.get
    for who in ("coach", "admin"):
        team = ok(get(f"{API}/teams/{rowing}", headers=people[who]["headers"]))
        assert team["name"] == "Rowing"
        assert [c["id"] for c in team["coaches"]] == [people["coach"]["id"]]
        (member,) = team["members"]
        assert member["athleteId"] == people["athlete"]["id"]
        assert member["sharing"] == {**NONE_SHARED, "hrv": True}
        assert member["joinedAt"].endswith("Z")
    own = ok(get(f"{API}/teams/{rowing}", headers=people["athlete"]["headers"]))
    assert own == {
        "id": rowing,
        "name": "Rowing",
        "coaches": [{"id": people["coach"]["id"], "name": people["coach"]["email"].split("@")[0]}],
        "sharing": {**NONE_SHARED, "hrv": True},
    }
    # Strangers cannot tell the team from one that does not exist.
    missing = problem(get(f"{API}/teams/{rowing + 100}", headers=people["other"]["headers"]), 404)
    for who in ("other", "outsider"):
        body = problem(get(f"{API}/teams/{rowing}", headers=people[who]["headers"]), 404)
        assert body["detail"] == missing["detail"].replace(str(rowing + 100), str(rowing))


def test_coaches_are_added_by_the_team_s_coaches_or_an_admin_once(
    harness: Harness, people: dict[str, Any]
) -> None:
    rowing = people["rowing"]["id"]
    first = ok(add_coach(harness, people["coach"], rowing, people["other"]), 201)
    assert [c["id"] for c in first["coaches"]] == [people["coach"]["id"], people["other"]["id"]]
    assert ok(add_coach(harness, people["coach"], rowing, people["other"]), 200) == first
    assert ok(add_coach(harness, people["other"], rowing, people["other"]), 200) == first
    # The new coach sees the team as its coach.
    assert ok(harness.client.get(f"{API}/teams/{rowing}", headers=people["other"]["headers"]))["members"]
    third = harness.user("coach")
    assert len(ok(add_coach(harness, people["admin"], rowing, third), 201)["coaches"]) == 3

    problem(add_coach(harness, people["athlete"], rowing, harness.user("coach")), 403)
    problem(add_coach(harness, people["outsider"], rowing, harness.user("coach")), 404)
    problem(add_coach(harness, harness.user("coach"), rowing, harness.user("coach")), 404)
    body = problem(add_coach(harness, people["coach"], rowing, people["athlete"]), 422)
    assert body["errors"][0]["loc"] == ["body", "email"]
    problem(add_coach(harness, people["coach"], rowing, people["admin"]), 422)


def test_members_are_removed_by_a_coach_or_leave_themselves(harness: Harness, people: dict[str, Any]) -> None:
    rowing, athlete = people["rowing"]["id"], people["athlete"]
    second = harness.user("athlete")
    join(harness, people["coach"], rowing, second)

    def remove(by: dict[str, Any], athlete_id: int) -> Any:
        return harness.client.delete(f"{API}/teams/{rowing}/members/{athlete_id}", headers=by["headers"])

    # An athlete cannot remove, nor learn of, another member; strangers learn nothing.
    problem(remove(athlete, second["id"]), 404)
    problem(remove(people["outsider"], athlete["id"]), 404)
    problem(remove(people["other"], athlete["id"]), 404)
    problem(remove(people["coach"], people["outsider"]["id"]), 404)
    assert memberships(harness, rowing, athlete["id"]) == memberships(harness, rowing, second["id"]) == 1

    assert remove(athlete, athlete["id"]).status_code == 204
    assert memberships(harness, rowing, athlete["id"]) == 0
    problem(remove(athlete, athlete["id"]), 404)
    problem(harness.client.get(f"{API}/teams/{rowing}", headers=athlete["headers"]), 404)

    assert remove(people["coach"], second["id"]).status_code == 204
    assert (
        ok(harness.client.get(f"{API}/teams/{rowing}", headers=people["coach"]["headers"]))["members"] == []
    )
    join(harness, people["coach"], rowing, second)
    assert remove(people["admin"], second["id"]).status_code == 204


BAD_BODIES = [
    ("POST", "/teams", {}),
    ("POST", "/teams", {"name": ""}),
    ("POST", "/teams", {"name": "   "}),
    ("POST", "/teams", {"name": "x" * 201}),
    ("POST", "/teams", {"name": 5}),
    ("POST", "/teams", {"name": "A\u0000B"}),
    ("POST", "/teams", {"name": "A", "coach": "x@example.org"}),
    ("POST", "/teams", {"name": "A", "coachEmail": "not-an-email"}),
    ("POST", "/teams/{team}/coaches", {}),
    ("POST", "/teams/{team}/coaches", {"email": "a b@example.org"}),
    ("POST", "/teams/{team}/invitations", {"email": ""}),
    ("POST", "/teams/{team}/invitations", {"email": "@example.org"}),
    ("POST", "/teams/{team}/invitations", {"email": ["x@example.org"]}),
    ("POST", "/invitations/1/accept", {"hrv": "yes"}),
    ("POST", "/invitations/1/accept", {"hrv": 1}),
    ("POST", "/invitations/1/accept", {"hrv": None}),
    ("POST", "/invitations/1/accept", {"heart": True}),
    ("PUT", "/sharing/{team}", {}),
    ("PUT", "/sharing/{team}", {"hrv": None}),
    ("PUT", "/sharing/{team}", {"hrv": True, "sleep": None}),
    ("PUT", "/sharing/{team}", {"hrv": "false"}),
    ("PUT", "/sharing/{team}", {"rowing": True}),
]


def test_bad_bodies_are_422_and_change_nothing(harness: Harness, people: dict[str, Any]) -> None:
    for method, path, body in BAD_BODIES:
        who = people["athlete"] if path.startswith(("/sharing", "/invitations")) else people["admin"]
        url = API + path.format(team=people["rowing"]["id"])
        response = harness.client.request(method, url, json=body, headers=who["headers"])
        assert response.status_code == 422, (method, path, body, response.text)
        assert response.json()["errors"], (method, path, body)
    sharing = ok(harness.client.get(f"{API}/sharing", headers=people["athlete"]["headers"]))
    assert sharing[0]["signals"] == {**NONE_SHARED, "hrv": True}
    assert len(ok(harness.client.get(f"{API}/teams", headers=people["admin"]["headers"]))) == 2
    assert ok(harness.client.get(f"{API}/invitations", headers=people["athlete"]["headers"])) == []


ID_PATHS = [
    ("GET", "/teams/{id}"),
    ("POST", "/teams/{id}/coaches"),
    ("DELETE", "/teams/{id}/members/{id}"),
    ("POST", "/teams/{id}/invitations"),
    ("GET", "/teams/{id}/invitations"),
    ("DELETE", "/teams/1/invitations/{id}"),
    ("POST", "/invitations/{id}/accept"),
    ("POST", "/invitations/{id}/decline"),
    ("PUT", "/sharing/{id}"),
]


def test_path_ids_out_of_range_are_422(harness: Harness) -> None:
    coach = harness.user("coach")
    for method, path in ID_PATHS:
        body = {"email": "a@example.org"} if method == "POST" else {"hrv": True} if method == "PUT" else None
        for bad in ("0", "-1", str(2**31), "x"):
            response = harness.client.request(
                method, API + path.format(id=bad), json=body, headers=coach["headers"]
            )
            assert response.status_code == 422, (method, path, bad, response.text)
            assert response.json()["errors"][0]["loc"][0] == "path"
