"""Invitations: a coach invites, the athlete chooses what to share on accepting, and the coach's
reads follow those grants — and every later change of them — on the very next request.
Expiry, declining, withdrawal and repeated requests."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.conftest import Harness
from tests.teams.teamkit import (
    API,
    NONE_SHARED,
    accept,
    add_coach,
    invite,
    make_team,
    memberships,
    ok,
    post_nights,
    problem,
    read,
    share,
)

from perfhub.auth.service import user_by_email
from perfhub.core.db import session_scope
from perfhub.teams.service import join_team

pytestmark = pytest.mark.backends("sqlite")

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def received(harness: Harness, athlete: dict[str, Any]) -> list[dict[str, Any]]:
    return list(ok(harness.client.get(f"{API}/invitations", headers=athlete["headers"])))


def decline(harness: Harness, athlete: dict[str, Any], invitation_id: int) -> Any:
    return harness.client.post(f"{API}/invitations/{invitation_id}/decline", headers=athlete["headers"])


def revoke(harness: Harness, coach: dict[str, Any], team_id: int, invitation_id: int) -> Any:
    return harness.client.delete(
        f"{API}/teams/{team_id}/invitations/{invitation_id}", headers=coach["headers"]
    )


def team_invitations(harness: Harness, coach: dict[str, Any], team_id: int) -> list[dict[str, Any]]:
    return list(ok(harness.client.get(f"{API}/teams/{team_id}/invitations", headers=coach["headers"])))


@pytest.mark.backends("sqlite", "postgres")
@pytest.mark.parametrize("tz", ["Etc/GMT+12", "Pacific/Kiritimati"])
def test_an_invitation_accepted_with_hrv_only_opens_hrv_only_and_follows_every_change(
    harness: Harness, tz: str
) -> None:
    coach, second = harness.user("coach"), harness.user("coach")
    athlete = harness.user("athlete", tz=tz)
    post_nights(harness, athlete["id"])
    team = make_team(harness, coach)
    problem(read(harness, coach, "/hrv/daily", athlete["id"]), 404)  # not related yet

    invitation = invite(harness, coach, team, athlete["email"])
    assert invitation["status"] == "pending" and invitation["teamName"] == "Rowing"
    (seen,) = received(harness, athlete)
    assert seen["id"] == invitation["id"]
    assert seen["coaches"] == [{"id": coach["id"], "name": coach["email"].split("@")[0]}]
    assert seen["invitedBy"]["id"] == coach["id"]
    problem(read(harness, coach, "/hrv/daily", athlete["id"]), 404)  # invited is not joined

    joined = ok(accept(harness, athlete, invitation["id"], hrv=True))
    assert joined == {"teamId": team, "teamName": "Rowing", "signals": {**NONE_SHARED, "hrv": True}}
    assert received(harness, athlete) == []
    assert team_invitations(harness, coach, team)[0]["status"] == "accepted"

    rows = ok(read(harness, coach, "/hrv/daily", athlete["id"]))
    assert len(rows) == 4 and {row["userId"] for row in rows} == {athlete["id"]}
    problem(read(harness, coach, "/sleep/summary", athlete["id"]), 403)
    problem(read(harness, coach, "/readiness", athlete["id"]), 403)

    # A second coach of the team reads exactly what the first does.
    ok(add_coach(harness, coach, team, second), 201)
    assert len(ok(read(harness, second, "/hrv/daily", athlete["id"]))) == 4
    problem(read(harness, second, "/sleep/summary", athlete["id"]), 403)

    # Revoked: the very next read, by either coach, is refused.
    assert ok(share(harness, athlete, team, hrv=False))["signals"] == NONE_SHARED
    problem(read(harness, coach, "/hrv/daily", athlete["id"]), 403)
    problem(read(harness, second, "/hrv/daily", athlete["id"]), 403)

    # Granted again, sleep this time: the next read obeys that too.
    ok(share(harness, athlete, team, sleep=True))
    assert len(ok(read(harness, second, "/sleep/summary", athlete["id"]))) == 4
    problem(read(harness, second, "/hrv/daily", athlete["id"]), 403)

    # Leaving ends every grant at once: the athlete is a stranger to the team's coaches again.
    response = harness.client.delete(
        f"{API}/teams/{team}/members/{athlete['id']}", headers=athlete["headers"]
    )
    assert response.status_code == 204
    for viewer in (coach, second):
        problem(read(harness, viewer, "/sleep/summary", athlete["id"]), 404)


def test_inviting_again_while_pending_answers_the_same_invitation(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    with time_machine.travel(T0, tick=False) as clock:
        first = harness.client.post(
            f"{API}/teams/{team}/invitations",
            json={"email": f"  {athlete['email'].upper()} "},
            headers=coach["headers"],
        )
        made = ok(first, 201)
        assert made["email"] == athlete["email"]
        assert made["expiresAt"] == (T0 + timedelta(days=14)).isoformat().replace("+00:00", "Z")
        clock.shift(timedelta(days=13))
        again = harness.client.post(
            f"{API}/teams/{team}/invitations", json={"email": athlete["email"]}, headers=coach["headers"]
        )
        assert ok(again, 200) == made
        # Once it has expired, inviting makes a new one, and only that one can be answered.
        clock.shift(timedelta(days=1))
        renewed = invite(harness, coach, team, athlete["email"])
        assert renewed["id"] != made["id"] and renewed["status"] == "pending"
        assert [i["status"] for i in team_invitations(harness, coach, team)] == ["pending", "expired"]
        assert [i["id"] for i in received(harness, athlete)] == [renewed["id"]]
        ok(accept(harness, athlete, renewed["id"], sleep=True))
    # Someone in the team already cannot be invited.
    body = problem(
        harness.client.post(
            f"{API}/teams/{team}/invitations", json={"email": athlete["email"]}, headers=coach["headers"]
        ),
        409,
    )
    assert "already in team" in body["detail"]


def test_an_invitation_can_be_answered_until_it_expires_not_at_it(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    with time_machine.travel(T0, tick=False) as clock:
        invitation = invite(harness, coach, team, athlete["email"])
        clock.move_to(T0 + timedelta(days=14) - timedelta(microseconds=1))
        assert [i["id"] for i in received(harness, athlete)] == [invitation["id"]]
        clock.move_to(T0 + timedelta(days=14))
        assert received(harness, athlete) == []
        for answer in (
            accept(harness, athlete, invitation["id"], hrv=True),
            decline(harness, athlete, invitation["id"]),
        ):
            body = problem(answer, 409)
            assert body["reason"] == "expired" and "expired" in body["detail"]
        assert team_invitations(harness, coach, team)[0]["status"] == "expired"
    assert memberships(harness, team, athlete["id"]) == 0


def test_accepting_twice_is_one_membership_and_the_second_changes_nothing(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    invitation = invite(harness, coach, team, athlete["email"])
    first = ok(accept(harness, athlete, invitation["id"], hrv=True, readiness=True))
    assert ok(accept(harness, athlete, invitation["id"], hrv=True, readiness=True)) == first
    assert memberships(harness, team, athlete["id"]) == 1
    # A late repeat never re-grants what the athlete turned off since.
    ok(share(harness, athlete, team, hrv=False))
    again = ok(accept(harness, athlete, invitation["id"], hrv=True, readiness=True))
    assert again["signals"] == {**NONE_SHARED, "readiness": True}
    assert memberships(harness, team, athlete["id"]) == 1
    assert problem(decline(harness, athlete, invitation["id"]), 409)["reason"] == "accepted"
    # After leaving, the used invitation does not bring the athlete back.
    harness.client.delete(f"{API}/teams/{team}/members/{athlete['id']}", headers=coach["headers"])
    assert problem(accept(harness, athlete, invitation["id"]), 409)["reason"] == "left"
    assert memberships(harness, team, athlete["id"]) == 0


def test_an_empty_accept_joins_sharing_nothing(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    post_nights(harness, athlete["id"], nights=1)
    first = invite(harness, coach, team, athlete["email"])
    joined = ok(harness.client.post(f"{API}/invitations/{first['id']}/accept", headers=athlete["headers"]))
    assert joined["signals"] == NONE_SHARED
    (member,) = ok(harness.client.get(f"{API}/teams/{team}", headers=coach["headers"]))["members"]
    assert member["sharing"] == NONE_SHARED
    for path in ("/hrv/daily", "/sleep/summary", "/readiness"):
        problem(read(harness, coach, path, athlete["id"]), 403)
    other = harness.user("athlete")
    second = invite(harness, coach, team, other["email"])
    ok(accept(harness, other, second["id"]))  # {}
    assert ok(harness.client.get(f"{API}/sharing", headers=other["headers"]))[0]["signals"] == NONE_SHARED


def test_declining(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    invitation = invite(harness, coach, team, athlete["email"])
    declined = ok(decline(harness, athlete, invitation["id"]))
    assert declined["status"] == "declined" and declined["respondedAt"] is not None
    assert ok(decline(harness, athlete, invitation["id"])) == declined
    assert received(harness, athlete) == []
    assert problem(accept(harness, athlete, invitation["id"], hrv=True), 409)["reason"] == "declined"
    assert memberships(harness, team, athlete["id"]) == 0
    problem(revoke(harness, coach, team, invitation["id"]), 409)
    # A new invitation can still be accepted.
    ok(accept(harness, athlete, invite(harness, coach, team, athlete["email"])["id"]))


def test_withdrawn_invitations(harness: Harness) -> None:
    coach, athlete, admin = harness.user("coach"), harness.user("athlete"), harness.user("admin")
    team, elsewhere = make_team(harness, coach), make_team(harness, harness.user("coach"), "Cycling")
    invitation = invite(harness, coach, team, athlete["email"])
    problem(revoke(harness, harness.user("coach"), team, invitation["id"]), 404)  # not their team
    problem(revoke(harness, coach, elsewhere, invitation["id"]), 404)  # not that team's invitation
    problem(revoke(harness, admin, elsewhere, invitation["id"]), 404)
    assert revoke(harness, coach, team, invitation["id"]).status_code == 204
    assert revoke(harness, admin, team, invitation["id"]).status_code == 204  # again: no change
    assert team_invitations(harness, coach, team)[0]["status"] == "revoked"
    assert received(harness, athlete) == []
    for answer in (
        accept(harness, athlete, invitation["id"], hrv=True),
        decline(harness, athlete, invitation["id"]),
    ):
        assert problem(answer, 409)["reason"] == "revoked"
    assert memberships(harness, team, athlete["id"]) == 0
    # An accepted invitation is not withdrawn: the coach removes the member instead.
    accepted = invite(harness, coach, team, athlete["email"])
    ok(accept(harness, athlete, accepted["id"]))
    problem(revoke(harness, coach, team, accepted["id"]), 409)


def test_someone_else_s_invitation_is_not_found(harness: Harness) -> None:
    coach, athlete, other = harness.user("coach"), harness.user("athlete"), harness.user("athlete")
    team = make_team(harness, coach)
    invitation = invite(harness, coach, team, athlete["email"])
    missing = problem(accept(harness, other, invitation["id"] + 1000), 404)
    for answer in (
        accept(harness, other, invitation["id"], hrv=True),
        decline(harness, other, invitation["id"]),
        accept(harness, coach, invitation["id"]),
    ):
        body = problem(answer, 404)
        assert body["detail"] == missing["detail"].replace(
            str(invitation["id"] + 1000), str(invitation["id"])
        )
    assert received(harness, other) == []
    assert memberships(harness, team, other["id"]) == 0
    assert team_invitations(harness, coach, team)[0]["status"] == "pending"


def test_who_may_invite_and_list_a_team_s_invitations(harness: Harness) -> None:
    coach, athlete, admin = harness.user("coach"), harness.user("athlete"), harness.user("admin")
    team = make_team(harness, coach)
    ok(accept(harness, athlete, invite(harness, coach, team, athlete["email"])["id"]))
    by_admin = invite(harness, admin, team, "newcomer@example.org")  # no account yet: fine
    assert by_admin["invitedBy"]["id"] == admin["id"]
    assert [i["email"] for i in team_invitations(harness, admin, team)] == [
        "newcomer@example.org",
        athlete["email"],
    ]

    def attempt(who: dict[str, Any]) -> list[int]:
        posted = harness.client.post(
            f"{API}/teams/{team}/invitations", json={"email": "x@example.org"}, headers=who["headers"]
        )
        listed = harness.client.get(f"{API}/teams/{team}/invitations", headers=who["headers"])
        return [posted.status_code, listed.status_code]

    assert attempt(athlete) == [403, 403]  # in the team: knows it exists
    assert attempt(harness.user("athlete")) == [404, 404]
    assert attempt(harness.user("coach")) == [404, 404]
    # A coach may be invited, but only athletes join.
    other_coach = harness.user("coach")
    problem(accept(harness, other_coach, invite(harness, coach, team, other_coach["email"])["id"]), 403)


@pytest.mark.backends("sqlite", "postgres")
def test_the_same_request_arriving_at_once_makes_one_of_everything(harness: Harness) -> None:
    coach, other, athlete = harness.user("coach"), harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)

    def at_once(call: Callable[[], Any], times: int = 4) -> list[Any]:
        with ThreadPoolExecutor(times) as pool:
            return list(pool.map(lambda _: call(), range(times)))

    invited = at_once(
        lambda: harness.client.post(
            f"{API}/teams/{team}/invitations", json={"email": athlete["email"]}, headers=coach["headers"]
        )
    )
    assert sorted(r.status_code for r in invited) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in invited}) == 1
    accepted = at_once(lambda: accept(harness, athlete, invited[0].json()["id"], sleep=True))
    assert [r.status_code for r in accepted] == [200] * 4
    assert {r.json()["signals"]["sleep"] for r in accepted} == {True}
    assert memberships(harness, team, athlete["id"]) == 1
    added = at_once(lambda: add_coach(harness, coach, team, other))
    assert sorted(r.status_code for r in added) == [200, 200, 200, 201]
    assert len(ok(harness.client.get(f"{API}/teams/{team}", headers=other["headers"]))["coaches"]) == 2


def test_accepting_while_in_the_team_already_changes_nothing(harness: Harness) -> None:
    coach, athlete = harness.user("coach"), harness.user("athlete")
    team = make_team(harness, coach)
    invitation = invite(harness, coach, team, athlete["email"])
    with session_scope(harness.runtime.sessions) as session:  # as `perfhub team join` does
        join_team(session, team, user_by_email(session, athlete["email"]), {"sleep"})
    assert problem(accept(harness, athlete, invitation["id"], hrv=True), 409)["reason"] == "member"
    assert ok(harness.client.get(f"{API}/sharing", headers=athlete["headers"]))[0]["signals"] == {
        **NONE_SHARED,
        "sleep": True,
    }
    assert memberships(harness, team, athlete["id"]) == 1
