"""A run without PostgreSQL/NATS must say loudly that it skipped their tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "PERFHUB_REQUIRE_SERVICES")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, "PERFHUB_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test", **env},
        timeout=300,
    )


def test_skipped_service_tests_are_announced_at_the_end() -> None:
    result = run_pytest("tests/core/test_bus.py", "-k", "postgres")
    assert result.returncode == 0, result.stdout[-2000:]
    tail = result.stdout[-3000:]
    assert "TESTS DID NOT RUN: the services they need are down." in tail
    assert "PostgreSQL unreachable at postgresql://postgres@127.0.0.1:1/test" in tail


def test_required_services_turn_the_skip_into_a_failure() -> None:
    result = run_pytest("tests/core/test_bus.py", "-k", "postgres", PERFHUB_REQUIRE_SERVICES="1")
    assert result.returncode == 1
    assert "required: CI=true or PERFHUB_REQUIRE_SERVICES=1" in result.stdout
