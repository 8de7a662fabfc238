"""Security review, low finding: the OpenAPI document listed no 400/401/403/404/409/413 and its
422 shape was not the one sent. Now every error answer is documented as it is sent, so that
clients and fuzzers (tests/api/test_schemathesis.py) can check them.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import Harness

from perfhub.core.errors import PROBLEM_JSON

# The document and the answers' shapes do not depend on the database.
pytestmark = pytest.mark.backends("sqlite")

PROBLEMS = {"400", "401", "403", "404", "409", "413", "422", "503"}


@pytest.fixture
def document(harness: Harness) -> dict[str, Any]:
    response = harness.client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _api_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in operations.items()
    ]


def test_every_api_operation_documents_its_problems(document: dict[str, Any]) -> None:
    operations = _api_operations(document)
    assert len(operations) > 20
    for method, path, operation in operations:
        responses = operation["responses"]
        assert set(responses) >= PROBLEMS, (method, path, sorted(responses))
        for status in PROBLEMS:
            assert list(responses[status]["content"]) == [PROBLEM_JSON], (method, path, status)
        schema = responses["422"]["content"][PROBLEM_JSON]["schema"]
        assert schema == {"$ref": "#/components/schemas/ValidationProblem"}


def test_the_documented_422_is_the_one_sent(harness: Harness, document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's own shape, never sent
    problem = schemas["ValidationProblem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "errors"}
    assert schemas["ProblemError"]["required"] == ["loc", "msg"]
    sent = harness.client.post("/api/v1/ingest/hrv", json={}, headers=harness.service_token())
    assert sent.status_code == 422 and sent.headers["content-type"] == PROBLEM_JSON
    body = sent.json()
    assert set(problem["required"]) <= set(body) <= set(problem["properties"])
    assert all(set(error) == {"loc", "msg"} for error in body["errors"])


def test_readyz_documents_its_503(document: dict[str, Any]) -> None:
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]
