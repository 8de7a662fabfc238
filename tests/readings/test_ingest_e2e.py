"""End to end through the HTTP API: ingest → raw log → normalize → canonical rows → reads.

Every test here runs on real SQLite and on the real PostgreSQL server.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tests.conftest import Harness

from perfhub.core.outbox import OutboxRow
from perfhub.privacy.models import AuditEntry
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily

DAY = date.today() - timedelta(days=3)

# What is stored and read back is the same code on every deployment: these run in process only;
# the production deployment's transport is what the tests left on all three backends check.
IN_PROCESS = pytest.mark.backends("sqlite", "postgres")


def hrv(user_id: int, day: date = DAY, **extra: Any) -> dict[str, Any]:
    body = {"userId": user_id, "date": day.isoformat(), "rMSSD": 62.0, "restingHr": 48, "vendor": "oura"}
    body.update(extra)
    return body


def sleep(user_id: int, day: date = DAY, **extra: Any) -> dict[str, Any]:
    body = {
        "userId": user_id,
        "date": day.isoformat(),
        "durationMin": 455,
        "efficiencyPct": 91,
        "latencyMin": 12,
        "wakeCount": 2,
        "vendor": "oura",
    }
    body.update(extra)
    return body


def rng(start: date, end: date) -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat()}


def test_hrv_flows_to_canonical_row(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    response = harness.client.post("/api/v1/ingest/hrv", json=hrv(athlete["id"]), headers=ingest)
    assert response.status_code == 202 and response.json() == {"status": "accepted"}
    harness.drain()
    rows = harness.client.get("/api/v1/hrv/daily", params=rng(DAY, DAY), headers=athlete["headers"]).json()
    assert len(rows) == 1
    row = rows[0]
    assert row["userId"] == athlete["id"] and row["date"] == DAY.isoformat()
    assert row["rMSSD"] == 62.0 and row["lnRMSSD"] == pytest.approx(math.log(62.0))
    assert row["restingHr"] == 48 and row["sdnn"] is None and row["vendor"] == "oura"
    assert row["capturedAt"].endswith("Z") or "+00:00" in row["capturedAt"]


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is stored and read; the deployment's transport: the nats tests here
def test_ln_rmssd_only_is_converted(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    body = {"userId": athlete["id"], "date": DAY.isoformat(), "lnRMSSD": 4.0, "vendor": "whoop"}
    assert harness.client.post("/api/v1/ingest/hrv", json=body, headers=ingest).status_code == 202
    harness.drain()
    row = harness.client.get("/api/v1/hrv/daily", params=rng(DAY, DAY), headers=athlete["headers"]).json()[0]
    assert row["rMSSD"] == pytest.approx(math.exp(4.0)) and row["lnRMSSD"] == pytest.approx(4.0)


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is stored and read; the deployment's transport: the nats tests here
def test_sleep_flows_to_summary(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    assert (
        harness.client.post("/api/v1/ingest/sleep", json=sleep(athlete["id"]), headers=ingest).status_code
        == 202
    )
    harness.drain()
    rows = harness.client.get(
        "/api/v1/sleep/summary", params=rng(DAY, DAY), headers=athlete["headers"]
    ).json()
    assert [
        (r["date"], r["durationMin"], r["efficiencyPct"], r["latencyMin"], r["wakeCount"]) for r in rows
    ] == [(DAY.isoformat(), 455, 91, 12, 2)]
    assert set(rows[0]) == {
        "userId",
        "date",
        "durationMin",
        "efficiencyPct",
        "latencyMin",
        "wakeCount",
        "vendor",
        "capturedAt",
    }


def test_duplicate_posts_update_never_duplicate(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    for _ in range(3):
        harness.client.post("/api/v1/ingest/hrv", json=hrv(athlete["id"]), headers=ingest)
    harness.client.post("/api/v1/ingest/hrv", json=hrv(athlete["id"], rMSSD=70.0), headers=ingest)
    harness.drain()
    harness.drain()  # replaying the bus changes nothing
    assert harness.count(HrvDaily) == 1
    assert harness.count(RawEvent) == 4  # the landing log keeps every delivery
    row = harness.client.get("/api/v1/hrv/daily", params=rng(DAY, DAY), headers=athlete["headers"]).json()
    assert [r["rMSSD"] for r in row] == [70.0]


def test_out_of_order_days_come_back_by_date(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    days = [DAY - timedelta(days=offset) for offset in (0, 5, 2, 9, 1)]
    for day in days:
        harness.client.post("/api/v1/ingest/sleep", json=sleep(athlete["id"], day), headers=ingest)
    harness.drain()
    rows = harness.client.get(
        "/api/v1/sleep/summary", params=rng(DAY - timedelta(days=10), DAY), headers=athlete["headers"]
    ).json()
    assert [r["date"] for r in rows] == sorted(d.isoformat() for d in days)


def test_older_version_arriving_late_does_not_win(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    newer = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    older = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    harness.client.post(
        "/api/v1/ingest/hrv", json=hrv(athlete["id"], rMSSD=80.0, capturedAt=newer), headers=ingest
    )
    harness.drain()
    harness.client.post(
        "/api/v1/ingest/hrv", json=hrv(athlete["id"], rMSSD=40.0, capturedAt=older), headers=ingest
    )
    harness.drain()
    rows = harness.client.get("/api/v1/hrv/daily", params=rng(DAY, DAY), headers=athlete["headers"]).json()
    assert [r["rMSSD"] for r in rows] == [80.0]
    assert harness.count(HrvDaily) == 1


def test_several_vendors_keep_rows_and_priority_wins(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    harness.client.post(
        "/api/v1/ingest/hrv", json=hrv(athlete["id"], vendor="whoop", rMSSD=55.0), headers=ingest
    )
    harness.client.post(
        "/api/v1/ingest/hrv", json=hrv(athlete["id"], vendor="oura", rMSSD=65.0), headers=ingest
    )
    harness.drain()
    assert harness.count(HrvDaily) == 2
    rows = harness.client.get("/api/v1/hrv/daily", params=rng(DAY, DAY), headers=athlete["headers"]).json()
    assert [(r["vendor"], r["rMSSD"]) for r in rows] == [("oura", 65.0)]


BAD_HRV = [
    ({"rMSSD": 0.5}, "rMSSD"),
    ({"rMSSD": 301}, "rMSSD"),
    ({"restingHr": 300}, "restingHr"),
    ({"date": "2024-02-30"}, "date"),
    ({"date": "yesterday"}, "date"),
    ({"date": 20240101}, "date"),
    ({"date": (date.today() + timedelta(days=5)).isoformat()}, None),
    ({"vendor": "fitbit-classic"}, "vendor"),
    ({"rMSSD": None, "restingHr": None}, None),
    ({"rMSSD": 60.0, "lnRMSSD": 5.5}, None),
    ({"capturedAt": "2024-01-01T08:00:00"}, "capturedAt"),
    ({"unexpected": 1}, "unexpected"),
    ({"userId": "abc"}, "userId"),
]


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
@pytest.mark.parametrize(("change", "field"), BAD_HRV)
def test_invalid_hrv_bodies_are_rejected_and_store_nothing(
    harness: Harness, change: dict[str, Any], field: str | None
) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    body = {k: v for k, v in {**hrv(athlete["id"]), **change}.items() if v is not None}
    response = harness.client.post("/api/v1/ingest/hrv", json=body, headers=ingest)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] and problem["detail"] and problem["type"]
    assert all(set(e) == {"loc", "msg"} for e in problem["errors"])
    if field:
        assert any(field in map(str, e["loc"]) for e in problem["errors"]), problem
    assert harness.count(RawEvent) == 0 and harness.count(OutboxRow) == 0


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
@pytest.mark.parametrize(
    "change",
    [
        {"durationMin": 1441},
        {"durationMin": -1},
        {"efficiencyPct": 101},
        {"wakeCount": -2},
        {"inBedMin": 100},
        {"durationMin": None},
    ],
)
def test_invalid_sleep_bodies_are_rejected(harness: Harness, change: dict[str, Any]) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    body = {k: v for k, v in {**sleep(athlete["id"]), **change}.items() if v is not None}
    response = harness.client.post("/api/v1/ingest/sleep", json=body, headers=ingest)
    assert response.status_code == 422, response.text
    assert harness.count(RawEvent) == 0


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
def test_malformed_json_is_a_problem(harness: Harness) -> None:
    ingest = harness.service_token()
    response = harness.client.post(
        "/api/v1/ingest/hrv",
        content=b'{"userId": 1, "date": ',
        headers={**ingest, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert harness.count(RawEvent) == 0


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
def test_unknown_athlete_is_404(harness: Harness) -> None:
    response = harness.client.post("/api/v1/ingest/hrv", json=hrv(999_999), headers=harness.service_token())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert harness.count(RawEvent) == 0


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
def test_wrong_token_kinds(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    cases = [
        ("post", "/api/v1/ingest/hrv", athlete["headers"], 403),  # a person cannot ingest
        ("post", "/api/v1/ingest/hrv", {}, 401),
        ("post", "/api/v1/ingest/hrv", {"Authorization": "Bearer ph_nope"}, 401),
        ("post", "/api/v1/ingest/hrv", {"Authorization": "Basic dXNlcjpwdw=="}, 401),
        ("get", "/api/v1/hrv/daily", ingest, 403),  # a service reads nobody's data
        ("get", "/api/v1/sleep/summary", {}, 401),
    ]
    for method, path, headers, status in cases:
        kwargs: dict[str, Any] = {"headers": headers}
        if method == "post":
            kwargs["json"] = hrv(athlete["id"])
        response = getattr(harness.client, method)(path, **kwargs)
        assert response.status_code == status, (path, headers, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert harness.count(RawEvent) == 0


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is stored and read; the deployment's transport: the nats tests here
def test_another_athletes_data_is_never_returned(harness: Harness) -> None:
    alice, bob, ingest = harness.user(), harness.user(), harness.service_token()
    harness.client.post("/api/v1/ingest/hrv", json=hrv(bob["id"]), headers=ingest)
    harness.drain()
    for path in ("/api/v1/hrv/daily", "/api/v1/sleep/summary"):
        response = harness.client.get(
            path, params={**rng(DAY, DAY), "userId": bob["id"]}, headers=alice["headers"]
        )
        assert response.status_code in (403, 404)
        assert "rMSSD" not in response.text
    # Alice's own view contains only Alice.
    own = harness.client.get("/api/v1/hrv/daily", params=rng(DAY, DAY), headers=alice["headers"]).json()
    assert own == []


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is stored and read; the deployment's transport: the nats tests here
def test_coach_reads_only_what_is_shared_and_is_audited(harness: Harness) -> None:
    from perfhub.auth.models import User
    from perfhub.core.db import session_scope
    from perfhub.teams.service import create_team, join_team

    coach, athlete, ingest = harness.user("coach"), harness.user(), harness.service_token()
    with session_scope(harness.runtime.sessions) as session:
        team = create_team(session, "Rowing", session.get(User, coach["id"]))
        join_team(session, team.id, session.get(User, athlete["id"]), {"sleep"})
    harness.client.post("/api/v1/ingest/hrv", json=hrv(athlete["id"]), headers=ingest)
    harness.client.post("/api/v1/ingest/sleep", json=sleep(athlete["id"]), headers=ingest)
    harness.drain()
    params = {**rng(DAY, DAY), "userId": athlete["id"]}
    assert harness.client.get("/api/v1/hrv/daily", params=params, headers=coach["headers"]).status_code == 403
    shared = harness.client.get("/api/v1/sleep/summary", params=params, headers=coach["headers"])
    assert shared.status_code == 200 and len(shared.json()) == 1
    assert harness.count(AuditEntry) == 1


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "2024-03-10", "to": "2024-03-01"}, 422),
        ({"from": "2023-01-01", "to": "2024-03-01"}, 422),
        ({"from": "2024-02-30", "to": "2024-03-01"}, 422),
        ({"from": "03/01/2024"}, 422),
        ({"from": "2024-01-01", "to": "2024-12-31"}, 200),  # 366 days in a leap year
    ],
)
def test_range_validation(harness: Harness, params: dict[str, str], status: int) -> None:
    athlete = harness.user()
    for path in ("/api/v1/sleep/summary", "/api/v1/hrv/daily"):
        response = harness.client.get(path, params=params, headers=athlete["headers"])
        assert response.status_code == status, response.text
        if status == 422:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"]


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is stored and read; the deployment's transport: the nats tests here
def test_operations_endpoints(harness: Harness) -> None:
    assert harness.client.get("/healthz").json() == {"status": "ok"}
    ready = harness.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "bus": True}
    assert ready.json()["status"] == "ready"
    spec = harness.client.get("/openapi.json").json()
    assert "/api/v1/ingest/hrv" in spec["paths"] and "/api/v1/sleep/summary" in spec["paths"]
    assert "text/html" in harness.client.get("/docs").headers["content-type"]
    assert harness.client.get("/api/v1/nope", headers=harness.user()["headers"]).status_code == 404


def test_batch_ingest_is_all_or_nothing_and_idempotent(harness: Harness) -> None:
    athlete, ingest = harness.user(), harness.service_token()
    days = [DAY - timedelta(days=i) for i in range(5)]
    body = {"hrv": [hrv(athlete["id"], d) for d in days], "sleep": [sleep(athlete["id"], d) for d in days]}
    response = harness.client.post("/api/v1/ingest/batch", json=body, headers=ingest)
    assert response.status_code == 202 and response.json() == {"status": "accepted", "accepted": 10}
    harness.client.post("/api/v1/ingest/batch", json=body, headers=ingest)  # again: same rows
    harness.drain()
    assert harness.count(HrvDaily) == 5 and harness.count(SleepDaily) == 5
    raw_before = harness.count(RawEvent)
    broken = {"hrv": [hrv(athlete["id"]), hrv(athlete["id"], rMSSD=900)]}
    bad = harness.client.post("/api/v1/ingest/batch", json=broken, headers=ingest)
    assert bad.status_code == 422 and any("rMSSD" in map(str, e["loc"]) for e in bad.json()["errors"])
    unknown = harness.client.post("/api/v1/ingest/batch", json={"hrv": [hrv(999_999)]}, headers=ingest)
    assert unknown.status_code == 404
    empty = harness.client.post("/api/v1/ingest/batch", json={}, headers=ingest)
    assert empty.status_code == 422
    assert harness.count(RawEvent) == raw_before
    assert (
        harness.client.post("/api/v1/ingest/batch", json=body, headers=athlete["headers"]).status_code == 403
    )


@pytest.mark.backends("sqlite")
def test_a_bus_outage_is_reported_but_does_not_make_the_api_unready(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What requests publish waits in the outbox until the bus is back: delivery is delayed only.
    monkeypatch.setattr(harness.runtime, "bus_ok", lambda: False)
    degraded = harness.client.get("/readyz")
    assert degraded.status_code == 200
    assert degraded.json() == {"status": "degraded", "checks": {"database": True, "bus": False}}
    monkeypatch.setattr(harness.runtime, "database_ok", lambda: False)
    down = harness.client.get("/readyz")
    assert down.status_code == 503 and "database" in down.json()["detail"]
