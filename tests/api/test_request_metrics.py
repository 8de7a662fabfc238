"""Request metrics: every answer counted under its route template, never the raw path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from tests.conftest import Harness

from perfhub.core.outbox import outbox_age

pytestmark = pytest.mark.backends("sqlite")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_route_template_and_status(harness: Harness) -> None:
    coach = harness.user(role="coach")
    route = "/api/v1/teams/{teamId}/readiness"
    before = sample("perfhub_http_requests_total", method="GET", route=route, status="404")
    anonymous_before = sample(
        "perfhub_http_requests_total", method="GET", route="/api/v1/readiness/today", status="401"
    )
    assert harness.client.get("/api/v1/teams/987654/readiness", headers=coach["headers"]).status_code == 404
    assert harness.client.get("/api/v1/readiness/today").status_code == 401  # refused at the edge
    assert sample("perfhub_http_requests_total", method="GET", route=route, status="404") == before + 1
    assert (
        sample("perfhub_http_requests_total", method="GET", route="/api/v1/readiness/today", status="401")
        == anonymous_before + 1
    )
    body = harness.client.get("/metrics").text
    assert "987654" not in body  # ids in paths never become labels
    assert (
        'perfhub_http_request_duration_seconds_count{method="GET",route="/api/v1/teams/{teamId}/readiness"}'
        in body
    )


def test_outbox_age_is_zero_when_nothing_waits_and_reads_naive_utc() -> None:
    assert outbox_age(None) == 0.0
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert 3590 < outbox_age(an_hour_ago) < 3700
    assert 3590 < outbox_age(an_hour_ago.replace(tzinfo=None)) < 3700  # SQLite's naive UTC
