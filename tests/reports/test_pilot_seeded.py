"""The pilot report on a seeded pilot of 20 athletes (tests/reports/pilotkit.py has the figures
worked out by hand), through ``perfhub report pilot`` and ``GET /admin/reports/pilot``, on real
SQLite and PostgreSQL; and what either says to a mistake."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from tests.conftest import SECRET
from tests.reports.pilotkit import NOW, Pilot, seed_pilot
from typer.testing import CliRunner

from perfhub.app import create_app
from perfhub.cli import app as cli_app
from perfhub.core.errors import PROBLEM_JSON
from perfhub.settings import Settings, _from_environment, use_settings

pytestmark = pytest.mark.backends("sqlite", "postgres")

URL = "/api/v1/admin/reports/pilot"
PERIOD = {"from": "2026-02-16", "to": "2026-03-01"}
WITH_BASELINE = {**PERIOD, "baselineFrom": "2026-01-19", "baselineTo": "2026-02-01"}
CLI_PERIOD = ["--from", "2026-02-16", "--to", "2026-03-01"]
CLI_BASELINE = [*CLI_PERIOD, "--baseline-from", "2026-01-19", "--baseline-to", "2026-02-01"]


@dataclass
class Served:
    client: TestClient
    pilot: Pilot
    settings: Settings

    def get(self, params: dict[str, Any], token: str | None = None, **headers: str) -> Any:
        auth = {"Authorization": f"Bearer {token or self.pilot.admin_token}"}
        with time_machine.travel(NOW, tick=False):
            return self.client.get(URL, params=params, headers={**auth, **headers})

    def cli(self, *args: str) -> tuple[int, str, str]:
        env = {
            "PERFHUB_DATABASE_URL": self.settings.database_url,
            "PERFHUB_VAR_DIR": str(self.settings.var_dir),
            "PERFHUB_SECRET_KEY": SECRET,
        }
        # In process, so that the frozen clock applies: forget the settings the app made current.
        use_settings(None)
        _from_environment.cache_clear()
        with time_machine.travel(NOW, tick=False):
            result = CliRunner().invoke(cli_app, ["report", "pilot", *args], env=env)
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    # No consumers: the seeded outbox rows are history to read, not events to deliver.
    app = create_app(settings, run_workers=False)
    with TestClient(app) as client:
        yield Served(client, seed_pilot(app.state.runtime.sessions), settings)


def targets(report: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(t["code"], t["value"], t["met"]) for t in report["targets"]]


def test_the_whole_pilot_as_json(served: Served) -> None:
    response = served.get(WITH_BASELINE)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["from"], report["to"], report["team"], report["athletes"]) == (
        "2026-02-16",
        "2026-03-01",
        None,
        20,
    )
    assert report["generatedAt"] == "2026-03-03T12:00:00Z"
    assert targets(report) == [
        ("coverage", 0.8727, True),
        ("before7", 0.76, False),
        ("lag", 0.8235, False),
        ("adherence", 0.3, True),
    ]
    coverage = report["coverage"]
    assert {k: v for k, v in coverage.items() if k not in ("days", "lowestDay")} == {
        "activeDays": 275,
        "coveredDays": 240,
        "coverage": 0.8727,
        "before7Days": 209,
        "before7Share": 0.76,
        "timedBy": {"events": 226, "computedAt": 14},
    }
    assert (coverage["lowestDay"]["date"], coverage["lowestDay"]["covered"]) == ("2026-02-19", 16)
    assert coverage["days"][0] == {
        "date": "2026-02-16",
        "complete": True,
        "active": 20,
        "covered": 19,
        "coverage": 0.95,
        "before7": 17,
        "before7Share": 0.85,
        "hrvNights": 19,
        "withinHour": 17,
    }
    assert [day["active"] for day in coverage["days"]] == [20] * 9 + [19] * 5
    covered = [19, 17, 19, 16, 17, 16, 18, 16, 18, 16, 18, 16, 18, 16]
    assert [day["covered"] for day in coverage["days"]] == covered
    assert report["lag"] == {
        "nights": 255,
        "stored": 241,
        "awaiting": 14,
        "p50Seconds": 1200.0,
        "p95Seconds": 10800.0,
        "p99Seconds": 93600.0,
        "withinHour": 210,
        "withinHourShare": 0.8235,
        "timedBy": {"events": 227, "computedAt": 14},
        "untimedNights": 0,
    }
    adherence = report["adherence"]
    assert adherence["period"]["overall"] == {"planned": 20, "kept": 13, "rate": 0.65}
    assert {g: (t["planned"], t["kept"]) for g, t in adherence["period"]["byGroup"].items()} == {
        "accepted": (8, 7),
        "reverted": (4, 2),
        "undecided": (0, 0),
        "unadjusted": (8, 4),
    }
    assert adherence["baseline"]["overall"] == {"planned": 10, "kept": 5, "rate": 0.5}
    assert (adherence["baseline"]["from"], adherence["baseline"]["to"]) == ("2026-01-19", "2026-02-01")
    assert (adherence["gainOverBaseline"], adherence["acceptedOverReverted"]) == (0.3, 0.75)
    assert adherence["acceptedOverUnadjusted"] == 0.75
    assert report["oauth"] == {"completed": 3, "failed": 2, "failuresKeptSince": "2025-01-27T12:00:00Z"}
    assert report["deadLetters"] == {
        "total": 6,
        "byReason": [
            {"consumer": "ingest", "reason": "VendorError", "count": 3, "replayed": 1},
            {"consumer": "normalize", "reason": "refused part of hrv", "count": 2, "replayed": 0},
            {"consumer": "insights", "reason": "=cmd|' /C calc'!A0", "count": 1, "replayed": 0},
        ],
    }


def test_one_team_spanning_utc_minus_12_to_plus_14(served: Served) -> None:
    report = served.get({**WITH_BASELINE, "team": served.pilot.team_id}).json()
    assert report["team"] == {"id": served.pilot.team_id, "name": "Pilot A"} and report["athletes"] == 10
    assert targets(report) == [
        ("coverage", 1.0, True),
        ("before7", 0.9786, True),
        ("lag", 0.9786, True),
        ("adherence", 0.3, True),
    ]
    lag = report["lag"]
    assert (lag["nights"], lag["p50Seconds"], lag["p95Seconds"]) == (140, 1200.0, 1200.0)
    assert lag["p99Seconds"] == 93600.0
    assert (report["coverage"]["activeDays"], report["coverage"]["before7Days"]) == (140, 137)
    oauth = report["oauth"]
    assert (oauth["completed"], oauth["failed"], report["deadLetters"]["total"]) == (3, 1, 3)


def test_the_command_line_prints_the_same_report(served: Served, tmp_path: Path) -> None:
    code, out, err = served.cli(*CLI_BASELINE, "--out", str(tmp_path / "charts"))
    assert code == 0, err
    assert out.startswith("# Pilot report, 2026-02-16 – 2026-03-01\n")
    for line in (
        "| daily readiness coverage | ≥ 85 % | 87.3 % | **met** |",
        "| readiness available before 07:00 local | ≥ 85 % of active athlete-days | 76.0 % | **not met** |",
        "| overnight HRV ingested within 1 hour of availability | ≥ 95 % of nights | 82.4 % | **not met** |",
        "| plan adherence better than baseline | ≥ 10 % better (relative) | +30.0 % | **met** |",
        "| 20.0 min | 3.0 h | 26.0 h | 210 of 255 (82.4 %) |",
        "| adjusted, accepted | 8 | 7 | 87.5 % |",
        "| all, baseline 2026-01-19 – 2026-02-01 | 10 | 5 | 50.0 % |",
        "| insights | =cmd\\|' /C calc'!A0 | 1 | 0 |",
        "Lowest day: 2026-02-19, 16 of 20 (80.0 %).",
    ):
        assert line in out, line
    chart = tmp_path / "charts" / "pilot-coverage.svg"
    assert f"![Daily readiness coverage]({chart.as_posix()})" in out
    svg = ET.fromstring(chart.read_text(encoding="utf-8"))
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}g"))) == 14
    # The same figures as the endpoint's (the runner reads CRLF line ends as LF).
    code, csv_out, _ = served.cli(*CLI_BASELINE, "--format", "csv")
    served_csv = served.get({**WITH_BASELINE, "format": "csv"}).text
    assert code == 0 and csv_out == served_csv.replace("\r\n", "\n")
    assert "target,coverage.value,,0.8727\n" in csv_out


@pytest.mark.backends("sqlite")
def test_csv_markdown_and_the_chart_by_accept_or_format(served: Served) -> None:
    response = served.get(PERIOD, Accept="text/csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    table = csv.DictReader(io.StringIO(response.text))
    rows = {(r["section"], r["item"], r["date"]): r["value"] for r in table}
    assert rows[("coverage", "coverage", "")] == "0.8727"
    assert rows[("coverage", "covered", "2026-02-19")] == "16"
    assert rows[("lag", "p99Seconds", "")] == "93600.0"
    assert rows[("target", "adherence.met", "")] == ""  # no baseline: not judged
    assert rows[("deadLetters.insights", "'=cmd|' /C calc'!A0", "")] == "1"  # never a formula
    markdown = served.get({**PERIOD, "format": "md"})
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "not judged (no baseline period given)" in markdown.text and "`format=svg`" in markdown.text
    svg = served.get(PERIOD, Accept="image/svg+xml")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert ET.fromstring(svg.text).tag == "{http://www.w3.org/2000/svg}svg"
    # ?format= wins over Accept.
    assert served.get({**PERIOD, "format": "json"}, Accept="text/csv").json()["athletes"] == 20


@pytest.mark.backends("sqlite")
def test_only_admins_read_it(served: Served) -> None:
    response = served.get(PERIOD, token=served.pilot.coach_token)
    assert response.status_code == 403 and response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"] == "only an admin reads the pilot report"
    assert served.client.get(URL).status_code == 401


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"from": "2026-03-01", "to": "2026-02-16"}, 422, "from (2026-03-01) is after to (2026-02-16)"),
        ({"from": "2026-02-30"}, 422, "from must be a real date as YYYY-MM-DD, got '2026-02-30'"),
        ({"to": "2026-03-04"}, 422, "to (2026-03-04) is in the future: the latest day is today, 2026-03-03"),
        ({**PERIOD, "baselineFrom": "2026-01-01"}, 422, "give baselineFrom and baselineTo together"),
        (
            {**PERIOD, "baselineFrom": "2026-02-01", "baselineTo": "2026-02-16"},
            422,
            "the baseline (2026-02-01..2026-02-16) overlaps the period (2026-02-16..2026-03-01)",
        ),
        ({"from": "2024-01-01", "to": "2026-03-01"}, 422, "from..to may span at most 366 days"),
        ({"team": "999"}, 404, "no team with id 999"),
    ],
)
def test_bad_queries_are_problems(served: Served, params: dict[str, str], status: int, detail: str) -> None:
    response = served.get(params)
    assert response.status_code == status and response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"] == detail


@pytest.mark.backends("sqlite")
def test_bad_query_parameters_fastapi_checks_are_problems_too(served: Served) -> None:
    for params in ({"format": "xml"}, {"team": "abc"}, {"team": "0"}):
        response = served.get(params)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-03-01", "--to", "2026-02-16"], "--from (2026-03-01) is after --to (2026-02-16)"),
        (["--from", "16/02/2026"], "--from must be a real date as YYYY-MM-DD, got '16/02/2026'"),
        (["--team", "999"], "no team with id 999"),
        (["--team", "rowing"], "--team must be a team's id (a whole number from 1), got 'rowing'"),
        (["--baseline-to", "2026-01-01"], "give --baseline-from and --baseline-to together"),
        (["--format", "xlsx"], "--format must be md or csv, got 'xlsx'"),
    ],
)
def test_command_line_mistakes_are_one_line(served: Served, args: list[str], message: str) -> None:
    code, out, err = served.cli(*args)
    assert code != 0 and out == ""
    assert err.strip().splitlines() == [f"error: {message}"]
