"""Security review, low findings: what used to answer 500, or was accepted and then lost or
misread, is refused at the API with a 422 problem (on SQLite and on PostgreSQL).

Each test sends what the review sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.conftest import Harness

from perfhub.app import create_app
from perfhub.core.errors import PROBLEM_JSON
from perfhub.readings.models import RawEvent
from perfhub.settings import Settings

pytestmark = pytest.mark.backends("sqlite", "postgres")

DAY = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
RANGE_ENDPOINTS = ("/api/v1/sleep/summary", "/api/v1/hrv/daily", "/api/v1/readiness", "/api/v1/sleep/debt")


def hrv(user_id: Any, **extra: Any) -> dict[str, Any]:
    return {"userId": user_id, "date": DAY, "rMSSD": 61.5, "restingHr": 47, "vendor": "oura", **extra}


def post_raw(harness: Harness, path: str, body: bytes, headers: dict[str, str]) -> Any:
    return harness.client.post(path, content=body, headers={**headers, "content-type": "application/json"})


def assert_problem(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["type"] and problem["title"] and problem["detail"]
    if status == 422:
        assert problem["errors"] and all({"loc", "msg"} <= set(e) for e in problem["errors"])
    return problem


@pytest.mark.parametrize("user_id", [2**63, 2**63 - 1, 2**31, -(2**63) - 1, 0])
def test_ingest_user_id_out_of_range_is_422(harness: Harness, user_id: int) -> None:
    """userId ≥ 2^63 was a 500 (and ≥ 2^31 one on PostgreSQL's 32-bit ids)."""
    ingest = harness.service_token()
    for path, body in (
        ("/api/v1/ingest/hrv", hrv(user_id)),
        ("/api/v1/ingest/batch", {"hrv": [hrv(user_id)]}),
    ):
        problem = assert_problem(harness.client.post(path, json=body, headers=ingest))
        assert any("userId" in e["loc"] for e in problem["errors"])
    assert harness.count(RawEvent) == 0


@pytest.mark.parametrize("path", [*RANGE_ENDPOINTS, "/api/v1/readiness/today"])
@pytest.mark.parametrize("user_id", [2**63, 2**31, 0])
def test_user_id_query_out_of_range_is_422(harness: Harness, path: str, user_id: int) -> None:
    coach = harness.user("coach")
    problem = assert_problem(harness.client.get(path, params={"userId": user_id}, headers=coach["headers"]))
    assert problem["errors"][0]["loc"] == ["query", "userId"]


@pytest.mark.parametrize("path", RANGE_ENDPOINTS)
@pytest.mark.parametrize(
    "params",
    [
        {"to": "0001-01-05"},  # the default `from` is 29 days earlier: before year 1
        {"from": "0001-01-01", "to": "0001-01-05"},
        {"from": "9999-12-30", "to": "9999-12-31"},
        {"from": "1999-12-31", "to": "2000-01-02"},
    ],
)
def test_dates_out_of_range_are_422(harness: Harness, path: str, params: dict[str, str]) -> None:
    athlete = harness.user()
    problem = assert_problem(harness.client.get(path, params=params, headers=athlete["headers"]))
    assert problem["errors"][0]["loc"][0] == "query"


def test_sleep_debt_from_year_one_is_422(harness: Harness) -> None:
    athlete = harness.user()
    response = harness.client.get(
        "/api/v1/sleep/debt", params={"from": "0001-01-01"}, headers=athlete["headers"]
    )
    assert assert_problem(response)["errors"][0]["loc"] == ["query", "from"]


def test_earliest_dates_still_read(harness: Harness) -> None:
    athlete = harness.user()
    for path in RANGE_ENDPOINTS:
        response = harness.client.get(
            path, params={"from": "2000-01-01", "to": "2000-01-05"}, headers=athlete["headers"]
        )
        assert response.status_code == 200 and response.json() == []


@pytest.mark.parametrize(
    "captured_at",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        "2000-01-01T00:59:59+01:00",
    ],
)
def test_capture_time_the_pipeline_cannot_store_is_422(harness: Harness, captured_at: str) -> None:
    """Was 202, then failed five times in normalize (UTC conversion overflows) and was
    dead-lettered: the reading was lost without the sender knowing."""
    athlete, ingest = harness.user(), harness.service_token()
    response = harness.client.post(
        "/api/v1/ingest/hrv", json=hrv(athlete["id"], capturedAt=captured_at), headers=ingest
    )
    assert "capturedAt" in assert_problem(response)["detail"]
    assert harness.count(RawEvent) == 0


def test_capture_time_at_the_bound_is_accepted_and_stored(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    body = hrv(athlete["id"], capturedAt="2000-01-01T13:00:00+13:00")  # 2000-01-01T00:00Z
    assert harness.client.post("/api/v1/ingest/hrv", json=body, headers=ingest).status_code == 202
    harness.drain()
    rows = harness.client.get(
        "/api/v1/hrv/daily", params={"from": DAY, "to": DAY}, headers=athlete["headers"]
    ).json()
    assert [row["capturedAt"][:19] for row in rows] == ["2000-01-01T00:00:00"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("userId", True),  # was stored as user 1
        ("userId", "2"),
        ("userId", 2.5),
        ("rMSSD", True),  # would have been an rMSSD of 1 ms
        ("rMSSD", "61.5"),
        ("restingHr", False),
    ],
)
def test_numbers_are_json_numbers(harness: Harness, field: str, value: Any) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    body = hrv(athlete["id"])
    body[field] = value
    problem = assert_problem(harness.client.post("/api/v1/ingest/hrv", json=body, headers=ingest))
    assert any(field in e["loc"] for e in problem["errors"])
    sleep = {"userId": athlete["id"], "date": DAY, "durationMin": True, "vendor": "oura", "wakeCount": True}
    assert_problem(harness.client.post("/api/v1/ingest/sleep", json=sleep, headers=ingest))
    assert harness.count(RawEvent) == 0


def test_integral_numbers_are_still_accepted(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    body = {"userId": athlete["id"], "date": DAY, "durationMin": 452, "wakeCount": 2, "vendor": "oura"}
    assert harness.client.post("/api/v1/ingest/sleep", json=body, headers=ingest).status_code == 202


@pytest.mark.parametrize(
    "raw",
    [
        # The last key silently won: this was a reading for the second user.
        '{"userId": %(id)d, "userId": %(other)d, "date": "%(day)s", "rMSSD": 60, "vendor": "oura"}',
        '{"userId": %(id)d, "date": "%(day)s", "rMSSD": 60, "rMSSD": 90, "vendor": "oura"}',
    ],
)
def test_duplicate_keys_are_422(harness: Harness, raw: str) -> None:
    athlete, other, ingest = harness.user(), harness.user(), harness.service_token()
    body = (raw % {"id": athlete["id"], "other": other["id"], "day": DAY}).encode()
    problem = assert_problem(post_raw(harness, "/api/v1/ingest/hrv", body, ingest))
    assert problem["errors"][0]["loc"] == ["body"] and "duplicate key" in problem["errors"][0]["msg"]
    assert harness.count(RawEvent) == 0


def test_duplicate_keys_nested_in_a_batch_are_422(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    one = json.dumps(hrv(athlete["id"]))
    body = f'{{"hrv": [{one}, {one[:-1]}, "vendor": "whoop"}}]}}'.encode()
    assert (
        "duplicate key 'vendor'"
        in assert_problem(post_raw(harness, "/api/v1/ingest/batch", body, ingest))["detail"]
    )
    assert harness.count(RawEvent) == 0


def test_duplicate_keys_are_refused_on_every_json_endpoint(harness: Harness) -> None:
    athlete = harness.user()
    body = b'{"sleepDebt": true, "sleepDebt": false}'
    response = harness.client.put(
        "/api/v1/alerts/preferences",
        content=body,
        headers={**athlete["headers"], "content-type": "application/json"},
    )
    assert_problem(response)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_422(harness: Harness, literal: str) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    body = f'{{"userId": {athlete["id"]}, "date": "{DAY}", "rMSSD": {literal}, "vendor": "oura"}}'.encode()
    assert_problem(post_raw(harness, "/api/v1/ingest/hrv", body, ingest))


def test_deep_nesting_is_422_not_500(harness: Harness) -> None:
    ingest = harness.service_token()
    body = b'{"hrv": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    assert (
        "nested too deeply"
        in assert_problem(post_raw(harness, "/api/v1/ingest/batch", body, ingest))["detail"]
    )


@pytest.mark.parametrize("device", ["watch\\u0000", "watch\\ud800"])
def test_text_the_database_cannot_hold_is_422(harness: Harness, device: str) -> None:
    """NUL (PostgreSQL text/JSONB) and a lone surrogate (no encoding at all) failed on storage."""
    athlete, ingest = harness.user(), harness.service_token()
    body = (
        f'{{"userId": {athlete["id"]}, "date": "{DAY}", "rMSSD": 60, "vendor": "oura", '
        f'"sourceDevice": "{device}"}}'
    ).encode()
    problem = assert_problem(post_raw(harness, "/api/v1/ingest/hrv", body, ingest))
    assert any("sourceDevice" in e["loc"] for e in problem["errors"])
    assert harness.count(RawEvent) == 0


def test_malformed_json_keeps_its_usual_answer(harness: Harness) -> None:
    ingest = harness.service_token()
    problem = assert_problem(post_raw(harness, "/api/v1/ingest/hrv", b'{"userId": ', ingest))
    assert problem["errors"][0]["loc"][0] == "body"


# -- the edge: size and authentication before the body (in process; over HTTP in test_hardening_http)


def test_declared_oversize_is_413_problem(harness: Harness) -> None:
    ingest = harness.service_token()
    body = b"[" + b" " * (70 * 1024) + b"]"
    response = post_raw(harness, "/api/v1/ingest/hrv", body, ingest)
    problem = assert_problem(response, 413)
    assert response.headers["connection"] == "close" and "65536 bytes" in problem["detail"]


def test_a_batch_of_1000_readings_fits_its_limit(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    days = [(date.fromisoformat(DAY) - timedelta(days=i)).isoformat() for i in range(500)]
    reading = {
        "rMSSD": 61.54321,
        "restingHr": 47.5,
        "sdnn": 80.12345,
        "readinessScore": 77.5,
        "capturedAt": "2026-11-24T06:31:12.123456+13:45",
        "sourceDevice": "x" * 40,
    }
    body = {
        "hrv": [{"userId": athlete["id"], "date": day, "vendor": "oura", **reading} for day in days],
        "sleep": [
            {
                "userId": athlete["id"],
                "date": day,
                "durationMin": 452.5,
                "efficiencyPct": 91.25,
                "vendor": "oura",
            }
            for day in days
        ],
    }
    # Pretty-printed, as a person debugging with curl might send it.
    raw = json.dumps(body, indent=2).encode()
    assert len(raw) < 1024**2
    response = post_raw(harness, "/api/v1/ingest/batch", raw, ingest)
    assert response.status_code == 202 and response.json()["accepted"] == 1000


def test_every_path_has_a_limit(harness: Harness) -> None:
    """A decoded newline in a path matched no entry of the limit table: a 500 (schemathesis)."""
    athlete = harness.user()
    response = harness.client.post("/api/v1/connections/%0A/link", headers=athlete["headers"])
    assert_problem(response, 422)
    response = harness.client.post("/%0A", content=b"{}", headers={"content-type": "application/json"})
    assert_problem(response, 404)


@pytest.mark.parametrize("token", [None, "ph_not-a-token"])
def test_a_body_without_a_valid_token_is_401_before_it_is_read(harness: Harness, token: str | None) -> None:
    # Malformed and oversized for its route, yet the answer is about the token: the body was not read.
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for path in ("/api/v1/ingest/hrv", "/api/v1/tokens", "/api/v1/import/apple-health"):
        response = post_raw(harness, path, b'{"userId": 1, "userId": 2' + b" " * 1000, headers)
        problem = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer" and response.headers["connection"] == "close"
        assert problem["detail"] in ("missing bearer token", "invalid token")


def test_a_database_error_at_the_edge_leaves_authentication_to_the_endpoint(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During an outage the endpoint answers it (503 with Retry-After, core.outage), not the edge
    with a 500; and the endpoint still authenticates, so nothing gets in unauthenticated."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from perfhub import app as app_module

    edge_calls: list[object] = []

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        edge_calls.append(args)
        raise OperationalError("SELECT", {}, psycopg.OperationalError("connection refused"))

    # The edge looks its authentication up when a request comes (the endpoint has its own).
    monkeypatch.setattr(app_module, "authenticate_in_own_transaction", unreachable)
    athlete, ingest = harness.user(), harness.service_token()
    assert (
        harness.client.post("/api/v1/ingest/hrv", json=hrv(athlete["id"]), headers=ingest).status_code == 202
    )
    forged = {"Authorization": "Bearer ph_forged"}
    assert_problem(harness.client.post("/api/v1/ingest/hrv", json=hrv(athlete["id"]), headers=forged), 401)
    assert len(edge_calls) == 2  # the edge did try, and failed, both times


def test_revoked_token_is_401_at_the_edge(harness: Harness) -> None:
    athlete = harness.user()
    tokens = harness.client.get("/api/v1/tokens", headers=athlete["headers"]).json()
    assert (
        harness.client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=athlete["headers"]).status_code
        == 204
    )
    response = harness.client.patch("/api/v1/me", json={"sleepNeedMin": 450}, headers=athlete["headers"])
    assert assert_problem(response, 401)["detail"] == "token revoked"


# -- webhooks: a small cap instead of a token; nothing read for an unconfigured vendor


@pytest.fixture
def oura_client(settings: Settings) -> Any:
    configured = settings.model_copy(
        update={"oura_client_id": "oura-id", "oura_client_secret": SecretStr("oura-secret")}
    )
    with TestClient(create_app(configured, run_workers=False)) as client:
        yield client


def _signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(b"oura-secret", timestamp.encode() + body, hashlib.sha256).hexdigest().upper()
    return {"content-type": "application/json", "x-oura-signature": digest, "x-oura-timestamp": timestamp}


def test_webhook_over_its_cap_is_413(oura_client: TestClient) -> None:
    body = b'{"event_type": "create", "data_type": "sleep", "object_id": "' + b"x" * 70_000 + b'"}'
    assert_problem(oura_client.post("/api/v1/webhooks/oura", content=body, headers=_signed(body)), 413)


def test_webhook_with_duplicate_keys_is_400_after_its_signature(oura_client: TestClient) -> None:
    body = b'{"event_type": "create", "event_type": "delete", "data_type": "sleep", "object_id": "a"}'
    assert (
        "duplicate key"
        in assert_problem(
            oura_client.post("/api/v1/webhooks/oura", content=body, headers=_signed(body)), 400
        )["detail"]
    )
    # Unsigned, the same body is refused for its signature, not its content.
    assert_problem(oura_client.post("/api/v1/webhooks/oura", content=body), 401)


def test_webhook_for_an_unconfigured_vendor_is_401(oura_client: TestClient) -> None:
    assert_problem(oura_client.post("/api/v1/webhooks/whoop", content=b"{}"), 401)
