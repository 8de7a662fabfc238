"""Apple Health exports through the CLI and the upload endpoint, into canonical nights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from tests.conftest import Harness
from tests.vendors.apple_export import ExportSpec, write_export_xml, write_export_zip

from perfhub.ingest.models import RawEvent

START = date.today() - timedelta(days=40)


def test_upload_lands_sdnn_and_sleep_and_feeds_readiness(harness: Harness, tmp_path: Path) -> None:
    athlete = harness.user(tz="America/Los_Angeles")
    export = write_export_zip(tmp_path / "export.zip", ExportSpec(start=START, days=30))
    response = harness.client.post(
        "/api/v1/import/apple-health",
        content=export.path.read_bytes(),
        headers={**athlete["headers"], "content-type": "application/zip"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["records"] == export.used_records and body["days"] >= 25
    harness.drain()
    params = {"from": START.isoformat(), "to": (START + timedelta(days=40)).isoformat()}
    nights = harness.client.get("/api/v1/hrv/daily", params=params, headers=athlete["headers"]).json()
    assert nights and all(n["vendor"] == "apple" and n["rMSSD"] is None for n in nights)
    assert any(n["sdnn"] for n in nights)  # SDNN stays SDNN
    expected = {d: e for d, e in export.expected.items() if e.sdnn is not None}
    first = nights[0]
    assert first["sdnn"] == pytest.approx(expected[date.fromisoformat(first["date"])].sdnn, abs=0.05)
    sleep = harness.client.get("/api/v1/sleep/summary", params=params, headers=athlete["headers"]).json()
    assert len(sleep) >= 20
    history = harness.client.get("/api/v1/readiness", params=params, headers=athlete["headers"]).json()
    assert history, "an SDNN athlete gets readiness on an SDNN baseline"


def test_broken_upload_stores_nothing(harness: Harness, tmp_path: Path) -> None:
    athlete = harness.user()
    good = write_export_xml(tmp_path / "export.xml", ExportSpec(start=START, days=5))
    broken = good.path.read_bytes()[: good.bytes // 2]
    for content in (broken, b"<html><body>not health</body></html>", b""):
        response = harness.client.post(
            "/api/v1/import/apple-health",
            content=content,
            headers={**athlete["headers"], "content-type": "application/xml"},
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert harness.count(RawEvent) == 0
    coach = harness.user("coach")
    assert (
        harness.client.post(
            "/api/v1/import/apple-health", content=good.path.read_bytes(), headers=coach["headers"]
        ).status_code
        == 403
    )


def test_cli_import_prints_summary(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": db,
        "PERFHUB_SECRET_KEY": "k",
        "PERFHUB_VAR_DIR": str(tmp_path),
    }
    env.pop("PERFHUB_NATS_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "perfhub.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("user", "add", "a@example.org", "--role", "athlete").returncode == 0
    export = write_export_xml(tmp_path / "export.xml", ExportSpec(start=START, days=20))
    result = cli("import", "apple-health", str(export.path), "--user", "a@example.org")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["records"] == export.used_records and 15 <= summary["days"] <= 21
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.db") as conn:
        assert conn.execute("SELECT count(*) FROM hrv_daily WHERE sdnn_ms IS NOT NULL").fetchone()[0] > 10
        assert conn.execute("SELECT count(*) FROM sleep_daily").fetchone()[0] > 10
    again = cli("import", "apple-health", str(export.path), "--user", "a@example.org")
    assert again.returncode == 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:  # idempotent: same nights, no duplicates
        assert (
            conn.execute("SELECT count(*) FROM hrv_daily").fetchone()[0]
            == conn.execute("SELECT count(DISTINCT date) FROM hrv_daily").fetchone()[0]
        )
    (tmp_path / "bad.xml").write_text("<HealthData><Record type='x'")
    bad = cli("import", "apple-health", str(tmp_path / "bad.xml"), "--user", "a@example.org")
    errors = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
    assert bad.returncode == 1 and len(errors) == 1 and "Apple Health" in errors[0]
    missing = cli("import", "apple-health", str(tmp_path / "nope.zip"), "--user", "a@example.org")
    assert missing.returncode == 1 and "no such file" in missing.stderr
