"""Every problem+json answer names the request's trace, and a caller's own trace is kept."""

from __future__ import annotations

import re

import pytest
from tests.conftest import Harness

from perfhub.core.errors import PROBLEM_JSON

pytestmark = pytest.mark.backends("sqlite")

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def test_a_problem_carries_the_trace_id_of_its_request(harness: Harness) -> None:
    anonymous = harness.client.get("/api/v1/readiness/today")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith(PROBLEM_JSON)
    assert re.fullmatch(r"[0-9a-f]{32}", anonymous.json()["traceId"])
    traced = harness.client.get(
        "/api/v1/readiness/today", headers={"traceparent": f"00-{CALLER_TRACE}-b7ad6b7169203331-01"}
    )
    assert traced.status_code == 401 and traced.json()["traceId"] == CALLER_TRACE
