"""API token life cycle over HTTP: list, issue, revoke, rotate, expiry and last use.

Every test here runs on real SQLite and on the real PostgreSQL server. Tests that depend on
the time freeze the clock (``time_machine``, not ticking) and step it across exact boundaries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import event
from tests.conftest import Harness, auth

from perfhub.auth.models import ApiToken
from perfhub.auth.service import LAST_USED_RESOLUTION, create_token, get_token, hash_token, rotate_token
from perfhub.core.db import session_scope
from perfhub.core.errors import Conflict

pytestmark = pytest.mark.backends("sqlite", "postgres")

T0 = datetime(2026, 11, 30, 23, 59, 59, 999_000, tzinfo=UTC)
TOKEN_KEYS = {
    "id",
    "name",
    "prefix",
    "userId",
    "scopes",
    "status",
    "createdAt",
    "expiresAt",
    "lastUsedAt",
    "revokedAt",
    "replacedBy",
    "current",
}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def refused_with(response: Any, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == detail


def works(harness: Harness, headers: dict[str, str]) -> bool:
    response = harness.client.get("/api/v1/me", headers=headers)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def issue(harness: Harness, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = harness.client.post("/api/v1/tokens", json={"name": "laptop", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def tokens(harness: Harness, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = harness.client.get("/api/v1/tokens", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_list_shows_own_tokens_and_never_a_token_or_its_hash(harness: Harness) -> None:
    athlete, other = harness.user(), harness.user()
    issued = issue(harness, athlete["headers"], name="phone")
    response = harness.client.get("/api/v1/tokens", headers=athlete["headers"])
    listed = response.json()
    assert [row["name"] for row in listed] == ["phone", f"{athlete['email']} login"]
    assert all(set(row) == TOKEN_KEYS for row in listed)
    assert all(row["userId"] == athlete["id"] and row["status"] == "active" for row in listed)
    assert [row["current"] for row in listed] == [False, True]
    assert issued["prefix"] == issued["token"][:7] and listed[0]["prefix"] == issued["prefix"]
    for secret in (athlete["token"], issued["token"], other["token"]):
        assert secret not in response.text and hash_token(secret) not in response.text
    assert "hash" not in response.text.lower()


def test_issued_personal_token_works_and_expires_as_asked(harness: Harness) -> None:
    athlete = harness.user()
    issued = issue(harness, athlete["headers"], name="laptop", expiresInDays=30)
    assert set(issued) == TOKEN_KEYS | {"token", "replaces"}
    assert issued["token"].startswith("ph_") and issued["userId"] == athlete["id"] and issued["scopes"] == []
    assert at(issued["expiresAt"]) == at(issued["createdAt"]) + timedelta(days=30)
    assert works(harness, auth(issued["token"]))
    forever = issue(harness, athlete["headers"], name="server")
    assert forever["expiresAt"] is None


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "x", "expiresInDays": 0}, {"name": "x", "expiresInDays": 3651}, {"nom": "x"}],
)
def test_bad_issue_requests_are_422(harness: Harness, body: dict[str, Any]) -> None:
    athlete = harness.user()
    response = harness.client.post("/api/v1/tokens", json=body, headers=athlete["headers"])
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_only_an_admin_issues_service_tokens(harness: Harness) -> None:
    athlete, coach, admin = harness.user(), harness.user("coach"), harness.user("admin")
    for person in (athlete, coach):
        response = harness.client.post(
            "/api/v1/tokens", json={"name": "bridge", "scopes": ["ingest"]}, headers=person["headers"]
        )
        assert response.status_code == 403
    service = issue(harness, admin["headers"], name="bridge", scopes=["ingest"], expiresInDays=90)
    assert service["userId"] is None and service["scopes"] == ["ingest"]
    body = {"userId": athlete["id"], "date": "2026-11-20", "rMSSD": 60.0, "vendor": "oura"}
    accepted = harness.client.post("/api/v1/ingest/hrv", json=body, headers=auth(service["token"]))
    assert accepted.status_code == 202
    # A service token manages no tokens, not even its own.
    assert harness.client.get("/api/v1/tokens", headers=auth(service["token"])).status_code == 403
    bad_scope = harness.client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["root"]}, headers=admin["headers"]
    )
    assert bad_scope.status_code == 422


def test_revoked_token_is_refused_and_revoking_again_changes_nothing(harness: Harness) -> None:
    athlete = harness.user()
    spare = issue(harness, athlete["headers"], name="spare")
    response = harness.client.delete(f"/api/v1/tokens/{spare['id']}", headers=athlete["headers"])
    assert response.status_code == 204 and response.content == b""
    refused_with(harness.client.get("/api/v1/me", headers=auth(spare["token"])), "token revoked")
    [row] = [row for row in tokens(harness, athlete["headers"]) if row["id"] == spare["id"]]
    assert row["status"] == "revoked" and row["revokedAt"] is not None
    again = harness.client.delete(f"/api/v1/tokens/{spare['id']}", headers=athlete["headers"])
    assert again.status_code == 204
    [after] = [row for row in tokens(harness, athlete["headers"]) if row["id"] == spare["id"]]
    assert after["revokedAt"] == row["revokedAt"]
    assert works(harness, athlete["headers"])
    # The token a request is made with may revoke itself: logging out.
    me = next(row for row in tokens(harness, athlete["headers"]) if row["current"])
    assert harness.client.delete(f"/api/v1/tokens/{me['id']}", headers=athlete["headers"]).status_code == 204
    refused_with(harness.client.get("/api/v1/tokens", headers=athlete["headers"]), "token revoked")


def test_another_users_token_is_404_to_others_and_revocable_by_an_admin(harness: Harness) -> None:
    owner, intruder = harness.user(), harness.user()
    coach, admin = harness.user("coach"), harness.user("admin")
    target = issue(harness, owner["headers"], name="watch")
    service_id = issue(harness, admin["headers"], name="bridge", scopes=["ingest"])["id"]
    missing = harness.client.delete("/api/v1/tokens/999999", headers=intruder["headers"])
    assert missing.status_code == 404
    for person in (intruder, coach):
        for token_id in (target["id"], service_id):
            response = harness.client.delete(f"/api/v1/tokens/{token_id}", headers=person["headers"])
            # The same answer as for a token that does not exist: nothing to learn from the id.
            assert response.status_code == 404
            assert response.json()["detail"] == f"no token with id {token_id}"
            rotate = harness.client.post(f"/api/v1/tokens/{token_id}/rotate", headers=person["headers"])
            assert rotate.status_code == 404
    assert works(harness, auth(target["token"]))
    revoked = harness.client.delete(f"/api/v1/tokens/{target['id']}", headers=admin["headers"])
    assert revoked.status_code == 204
    refused_with(harness.client.get("/api/v1/me", headers=auth(target["token"])), "token revoked")


def test_admin_lists_anyones_tokens_others_do_not(harness: Harness) -> None:
    athlete, other, admin = harness.user(), harness.user(), harness.user("admin")
    service_headers = harness.service_token()
    theirs = tokens(harness, admin["headers"], userId=athlete["id"])
    assert [row["userId"] for row in theirs] == [athlete["id"]]
    everything = tokens(harness, admin["headers"], all="true")
    owners = {row["userId"] for row in everything}
    assert {athlete["id"], other["id"], admin["id"], None} <= owners
    assert [row["current"] for row in everything].count(True) == 1
    text = harness.client.get("/api/v1/tokens", params={"all": "true"}, headers=admin["headers"]).text
    assert service_headers["Authorization"].removeprefix("Bearer ") not in text
    assert tokens(harness, athlete["headers"], userId=athlete["id"])[0]["current"]
    not_yours = harness.client.get(
        "/api/v1/tokens", params={"userId": other["id"]}, headers=athlete["headers"]
    )
    assert not_yours.status_code == 404
    not_all = harness.client.get("/api/v1/tokens", params={"all": "true"}, headers=athlete["headers"])
    assert not_all.status_code == 403
    unknown = harness.client.get("/api/v1/tokens", params={"userId": 999999}, headers=admin["headers"])
    assert unknown.status_code == 404
    both = harness.client.get(
        "/api/v1/tokens", params={"all": "true", "userId": athlete["id"]}, headers=admin["headers"]
    )
    assert both.status_code == 422


def test_rotate_issues_a_working_token_with_the_same_policy_and_kills_the_old(harness: Harness) -> None:
    athlete = harness.user()
    old = issue(harness, athlete["headers"], name="laptop", expiresInDays=7)
    response = harness.client.post(f"/api/v1/tokens/{old['id']}/rotate", headers=athlete["headers"])
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["token"] != old["token"] and new["id"] != old["id"] and new["replaces"] == old["id"]
    assert (new["name"], new["userId"], new["scopes"]) == (old["name"], old["userId"], old["scopes"])
    assert at(new["expiresAt"]) == at(new["createdAt"]) + timedelta(days=7)
    assert works(harness, auth(new["token"]))
    refused_with(harness.client.get("/api/v1/me", headers=auth(old["token"])), "token revoked")
    [listed_old] = [row for row in tokens(harness, athlete["headers"]) if row["id"] == old["id"]]
    assert listed_old["replacedBy"] == new["id"] and listed_old["status"] == "revoked"
    again = harness.client.post(f"/api/v1/tokens/{old['id']}/rotate", headers=athlete["headers"])
    assert again.status_code == 409


def test_admin_rotates_a_service_token_keeping_its_scopes(harness: Harness) -> None:
    admin = harness.user("admin")
    old = issue(harness, admin["headers"], name="bridge", scopes=["ingest"])
    new = harness.client.post(f"/api/v1/tokens/{old['id']}/rotate", headers=admin["headers"]).json()
    assert new["userId"] is None and new["scopes"] == ["ingest"] and new["expiresAt"] is None
    body = {"userId": admin["id"], "date": "2026-11-20", "rMSSD": 60.0, "vendor": "oura"}
    assert harness.client.post("/api/v1/ingest/hrv", json=body, headers=auth(new["token"])).status_code == 202
    refused = harness.client.post("/api/v1/ingest/hrv", json=body, headers=auth(old["token"]))
    refused_with(refused, "token revoked")


def test_rotation_grace_keeps_the_old_token_until_the_exact_instant(harness: Harness) -> None:
    athlete = harness.user()
    with time_machine.travel(T0, tick=False) as clock:
        old = issue(harness, athlete["headers"], name="bridge")
        response = harness.client.post(
            f"/api/v1/tokens/{old['id']}/rotate", json={"graceMinutes": 10}, headers=athlete["headers"]
        )
        assert response.status_code == 201
        new = response.json()
        clock.move_to(T0 + timedelta(minutes=10) - timedelta(microseconds=1))
        assert works(harness, auth(old["token"])) and works(harness, auth(new["token"]))
        clock.move_to(T0 + timedelta(minutes=10))
        refused_with(harness.client.get("/api/v1/me", headers=auth(old["token"])), "token expired")
        assert works(harness, auth(new["token"]))
    too_long = harness.client.post(
        f"/api/v1/tokens/{new['id']}/rotate", json={"graceMinutes": 61}, headers=athlete["headers"]
    )
    assert too_long.status_code == 422


def test_expiry_boundary_is_exact_in_utc(harness: Harness) -> None:
    athlete = harness.user()
    with time_machine.travel(T0, tick=False) as clock:
        issued = issue(harness, athlete["headers"], name="short", expiresInDays=1)
        end = T0 + timedelta(days=1)
        assert at(issued["expiresAt"]) == end
        clock.move_to(end - timedelta(microseconds=1))
        assert works(harness, auth(issued["token"]))
        clock.move_to(end)
        refused_with(harness.client.get("/api/v1/me", headers=auth(issued["token"])), "token expired")
        [row] = [row for row in tokens(harness, athlete["headers"]) if row["id"] == issued["id"]]
        assert row["status"] == "expired" and row["revokedAt"] is None
        # An expired token is not renewed by rotation: whoever holds it issues a new one.
        rotate = harness.client.post(f"/api/v1/tokens/{issued['id']}/rotate", headers=athlete["headers"])
        assert rotate.status_code == 409 and "expired" in rotate.json()["detail"]


def test_unknown_token_is_401_invalid(harness: Harness) -> None:
    refused_with(harness.client.get("/api/v1/me", headers=auth("ph_not-a-real-token")), "invalid token")


@pytest.fixture
def token_writes(harness: Harness) -> Iterator[list[str]]:
    """Every UPDATE of api_token the app sends, as SQL text."""
    seen: list[str] = []

    def _record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE") and "api_token" in statement:
            seen.append(statement)

    engine = harness.runtime.engine
    event.listen(engine, "before_cursor_execute", _record)
    yield seen
    event.remove(engine, "before_cursor_execute", _record)


def last_used(harness: Harness, token_id: int) -> datetime | None:
    with harness.runtime.sessions() as session:
        row = session.get(ApiToken, token_id)
        assert row is not None
        return row.last_used_at


def test_last_use_is_recorded_at_most_once_a_minute(harness: Harness, token_writes: list[str]) -> None:
    athlete = harness.user()
    with time_machine.travel(T0, tick=False) as clock:
        issued = issue(harness, athlete["headers"], name="bridge")
        assert issued["lastUsedAt"] is None
        token_writes.clear()
        headers = auth(issued["token"])
        assert works(harness, headers)
        assert last_used(harness, issued["id"]) == T0 and len(token_writes) == 1
        # Within the resolution: requests read the token and write nothing.
        clock.move_to(T0 + LAST_USED_RESOLUTION - timedelta(microseconds=1))
        for _ in range(5):
            assert works(harness, headers)
        assert last_used(harness, issued["id"]) == T0 and len(token_writes) == 1
        clock.move_to(T0 + LAST_USED_RESOLUTION)
        assert works(harness, headers)
        assert last_used(harness, issued["id"]) == T0 + LAST_USED_RESOLUTION and len(token_writes) == 2
        [row] = [row for row in tokens(harness, athlete["headers"]) if row["id"] == issued["id"]]
        assert at(row["lastUsedAt"]) == T0 + LAST_USED_RESOLUTION


@pytest.mark.backends("postgres")
def test_concurrent_rotations_of_one_token_yield_one_successor(harness: Harness, backend: str) -> None:
    sessions = harness.runtime.sessions
    with session_scope(sessions) as session:
        token_id = create_token(session, "bridge", None, ("ingest",))[0].id
    first = sessions()
    rotate_token(first, get_token(first, token_id, for_update=True))
    outcome: list[str] = []

    def second() -> None:
        try:
            with session_scope(sessions) as session:
                rotate_token(session, get_token(session, token_id, for_update=True))
            outcome.append("rotated")
        except Conflict as exc:
            outcome.append(exc.detail)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive()  # waiting for the first rotation's lock
    first.commit()
    first.close()
    thread.join(30)
    assert len(outcome) == 1 and "already rotated" in outcome[0]
    assert harness.count(ApiToken) == 2


def test_huge_ids_are_refused_not_a_server_error(harness: Harness) -> None:
    admin = harness.user("admin")
    for path, params in (
        ("/api/v1/tokens", {"userId": str(2**63)}),
        ("/api/v1/tokens", {"userId": "0"}),
    ):
        response = harness.client.get(path, params=params, headers=admin["headers"])
        assert response.status_code == 422, (path, params, response.text)
    assert harness.client.delete(f"/api/v1/tokens/{2**63}", headers=admin["headers"]).status_code == 422
