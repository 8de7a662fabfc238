"""Apple Health exports through the CLI and the upload endpoint, into canonical nights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import Harness
from tests.wearables.apple_export import (
    DOCTYPE_V12,
    RESTING_HR,
    SDNN,
    SLEEP,
    USER_ENTERED,
    ExportSpec,
    export_document,
    record_xml,
    write_export_xml,
    write_export_zip,
)

from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily

START = date.today() - timedelta(days=40)
DAY = date.today() - timedelta(days=3)


def at(day: date, clock: str) -> str:
    return f"{day.isoformat()} {clock} -0800"


def iphone_export_zip(path: Path) -> Path:
    """What an iOS 16 phone set to Chinese sends: 导出.xml in the zip, the broken DTD, a stray control
    character in another app's record and in one SDNN sample, and the athlete's own entries."""
    night = DAY - timedelta(days=1)
    records = [
        record_xml(
            SLEEP, at(night, "23:00:00"), at(DAY, "06:30:00"), "HKCategoryValueSleepAnalysisAsleepCore"
        ),
        record_xml(SDNN, at(DAY, "02:00:00"), at(DAY, "02:01:00"), 52, unit="ms"),
        record_xml(SDNN, at(DAY, "03:00:00"), at(DAY, "03:01:00"), 99, source="Watch\x0b", unit="ms"),
        record_xml(
            "HKQuantityTypeIdentifierStepCount",
            at(DAY, "09:00:00"),
            at(DAY, "09:10:00"),
            80,
            source="Pedo\x0b",
        ),
        record_xml(
            RESTING_HR, at(DAY, "07:00:00"), at(DAY, "07:00:00"), 46, source="Health", children=USER_ENTERED
        ),
        record_xml(
            SLEEP,
            at(DAY, "21:00:00"),
            at(DAY + timedelta(days=1), "07:00:00"),
            "HKCategoryValueSleepAnalysisAsleepUnspecified",
            source="Health",
            children=USER_ENTERED,
        ),
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
        archive.writestr("apple_health_export/导出.xml", export_document(records, doctype=DOCTYPE_V12))
    return path


def stored(harness: Harness, user_id: int) -> list[tuple[str, str, str, tuple[object, object]]]:
    with harness.runtime.sessions() as session:
        hrv = session.execute(
            select(HrvDaily.date, HrvDaily.vendor, HrvDaily.sdnn_ms, HrvDaily.resting_hr).where(
                HrvDaily.user_id == user_id
            )
        ).all()
        sleep = session.execute(
            select(
                SleepDaily.date, SleepDaily.vendor, SleepDaily.duration_min, SleepDaily.efficiency_pct
            ).where(SleepDaily.user_id == user_id)
        ).all()
    rows = [("hrv", d.isoformat(), v, (a, b)) for d, v, a, b in hrv]
    rows += [("sleep", d.isoformat(), v, (a, b)) for d, v, a, b in sleep]
    return sorted(rows, key=str)


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
    assert summary["skipped"] == 0 and summary["skippedReasons"] == [] and summary["message"] is None
    iphone = cli(
        "import", "apple-health", str(iphone_export_zip(tmp_path / "iphone.zip")), "--user", "a@example.org"
    )
    assert iphone.returncode == 0, iphone.stderr
    result = json.loads(iphone.stdout)
    assert (result["records"], result["days"], result["skipped"]) == (5, 2, 1)
    assert "control character U+000B" in result["skippedReasons"][0] and result["message"] is None
    (tmp_path / "steps.xml").write_text(export_document([]), encoding="utf-8")
    nothing = cli("import", "apple-health", str(tmp_path / "steps.xml"), "--user", "a@example.org")
    assert nothing.returncode == 0, nothing.stderr
    result = json.loads(nothing.stdout)
    assert (result["records"], result["days"], result["skipped"], result["skippedReasons"]) == (0, 0, 0, [])
    assert "nothing was imported" in result["message"]
    (tmp_path / "bad.xml").write_text("<HealthData><Record type='x'")
    bad = cli("import", "apple-health", str(tmp_path / "bad.xml"), "--user", "a@example.org")
    errors = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
    assert bad.returncode == 1 and len(errors) == 1 and "Apple Health" in errors[0]
    missing = cli("import", "apple-health", str(tmp_path / "nope.zip"), "--user", "a@example.org")
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_an_ios16_chinese_export_with_damage_and_hand_entries(harness: Harness, tmp_path: Path) -> None:
    athlete = harness.user(tz="America/Los_Angeles")
    response = harness.client.post(
        "/api/v1/import/apple-health",
        content=iphone_export_zip(tmp_path / "export.zip").read_bytes(),
        headers={**athlete["headers"], "content-type": "application/zip"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["records"] == 5 and body["days"] == 2 and body["skipped"] == 1 and body["message"] is None
    assert len(body["skippedReasons"]) == 1 and "control character U+000B" in body["skippedReasons"][0]
    harness.drain()
    tomorrow = (DAY + timedelta(days=1)).isoformat()
    assert stored(harness, athlete["id"]) == [
        ("hrv", DAY.isoformat(), "apple", (52.0, None)),
        ("hrv", DAY.isoformat(), "manual", (None, 46.0)),
        ("sleep", DAY.isoformat(), "apple", (450.0, None)),
        ("sleep", tomorrow, "manual", (600.0, None)),  # hand-entered: no efficiency made up
    ]


def test_an_export_without_signals_says_so_and_keeps_what_is_stored(harness: Harness, tmp_path: Path) -> None:
    athlete = harness.user(tz="America/Los_Angeles")
    headers = {**athlete["headers"], "content-type": "application/zip"}
    first = harness.client.post(
        "/api/v1/import/apple-health",
        content=iphone_export_zip(tmp_path / "export.zip").read_bytes(),
        headers=headers,
    )
    assert first.status_code == 201
    harness.drain()
    before = stored(harness, athlete["id"])
    landed = harness.count(RawEvent)
    steps = record_xml(
        "HKQuantityTypeIdentifierStepCount", at(DAY, "09:00:00"), at(DAY, "09:10:00"), 80, unit="count"
    )
    empty = harness.client.post(
        "/api/v1/import/apple-health",
        content=export_document([steps], doctype=DOCTYPE_V12).encode(),
        headers={**athlete["headers"], "content-type": "application/xml"},
    )
    assert empty.status_code == 201, empty.text
    result = empty.json()
    assert (result["records"], result["days"], result["skipped"]) == (0, 0, 0)
    assert "no HRV (SDNN), resting heart rate or sleep records" in result["message"]
    with zipfile.ZipFile(iphone_export_zip(tmp_path / "again.zip")) as archive:
        whole = archive.read("apple_health_export/导出.xml")
    cut = harness.client.post(
        "/api/v1/import/apple-health",
        content=whole[: whole.rindex(b"</HealthData>")],
        headers={**athlete["headers"], "content-type": "application/xml"},
    )
    assert cut.status_code == 422 and cut.headers["content-type"].startswith("application/problem+json")
    assert "ends early" in cut.json()["detail"]
    harness.drain()
    assert stored(harness, athlete["id"]) == before and harness.count(RawEvent) == landed
