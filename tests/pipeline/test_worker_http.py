"""A worker's /healthz and /readyz: ready only while its database answers and its stage runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from perfhub.pipeline.worker_http import operations_app


@dataclass
class FakeWorker:
    healthy: bool


def call(app: Any, path: str) -> tuple[str, dict[str, str], Any]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response))
    parsed = json.loads(body) if answer["headers"]["Content-Type"].endswith("json") else body.decode()
    return answer["status"], answer["headers"], parsed


def test_ready_only_while_the_database_answers_and_the_stage_runs() -> None:
    state: dict[str, Any] = {"worker": None, "db": True}
    app = operations_app(lambda: state["worker"], lambda: bool(state["db"]))
    assert call(app, "/healthz")[0] == "200 OK"
    status, headers, body = call(app, "/readyz")  # not started yet
    assert status.startswith("503") and headers["Content-Type"] == "application/problem+json"
    assert body["checks"] == {"database": True, "stage": False} and body["detail"] == "not ready: stage"
    state["worker"] = FakeWorker(healthy=True)
    assert call(app, "/readyz")[2] == {"status": "ready", "checks": {"database": True, "stage": True}}
    state["worker"] = FakeWorker(healthy=False)  # a consumer task died, or the bus is gone
    assert call(app, "/readyz")[0].startswith("503")
    state["worker"], state["db"] = FakeWorker(healthy=True), False
    assert call(app, "/readyz")[2]["detail"] == "not ready: database"
    status, _, text = call(app, "/metrics")
    assert status.startswith("200") and "perfhub_events_processed_total" in text


def test_a_stage_that_is_not_consuming_reports_itself_down() -> None:
    from prometheus_client import REGISTRY

    from perfhub.pipeline.workers import BusRuntime
    from perfhub.settings import Settings

    settings = Settings(database_url="sqlite://", nats_url="nats://127.0.0.1:1")
    side = BusRuntime(settings, None, ["insights"], database_gauges=False)  # type: ignore[arg-type]
    side.report_up()  # never connected, no consumer running
    assert REGISTRY.get_sample_value("perfhub_stage_up", {"stage": "insights"}) == 0.0
