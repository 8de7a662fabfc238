"""``perfhub plan import`` as an operator runs it: a real subprocess, JSON on stdout, one-line errors.

The files hold single dated sessions (no recurrence), so nothing here depends on the day it runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_cli import run

from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.core.migrate import upgrade
from perfhub.plans.models import PlannedSession

CSV = (
    "date;sport;title;type;durationMin;intensity\r\n"
    "2026-03-11;run;Tempo;hard;50;Z3\r\n"
    "2026-03-12;run;Bad;wild;50;\r\n"
)
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
    "BEGIN:VEVENT\r\nUID:late-tempo\r\nDTSTART:20260311T233000Z\r\nDURATION:PT50M\r\n"
    "SUMMARY:Tempo run\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
def db(tmp_path: Path) -> str:
    # Made in process: each command run is a whole interpreter start, kept for what is tested.
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            create_user(session, "a@example.org", "athlete", tz="Pacific/Kiritimati")
            create_user(session, B, "athlete")
    finally:
        engine.dispose()
    return url


def sessions(db: str) -> list[tuple[str, str, str | None, int | None]]:
    engine = make_engine(db)
    try:
        with make_sessionmaker(engine)() as session:
            rows = session.query(PlannedSession).order_by(PlannedSession.date, PlannedSession.id)
            return [(str(r.date), r.title, r.external_uid, r.created_by_id) for r in rows]
    finally:
        engine.dispose()


def test_a_csv_plan_is_imported_with_its_errors_in_the_json(db: str, tmp_path: Path) -> None:
    (tmp_path / "plan.csv").write_text("\ufeff" + CSV, encoding="utf-8")
    result = run(["plan", "import", "plan.csv", "--athlete", "b@example.org"], db, tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["format"], out["created"], out["dryRun"]) == ("csv", 1, False)
    assert out["errors"] == [
        {
            "row": 3,
            "uid": None,
            "field": "type",
            "message": "'wild' is not a type: easy, moderate, hard or rest",
        }
    ]
    assert "1 rows or events were left out" in result.stderr
    # Made at the command line: by no person of the app.
    assert sessions(db) == [("2026-03-11", "Tempo", None, None)]


def test_a_calendar_is_imported_in_the_athletes_zone_once_however_often(db: str, tmp_path: Path) -> None:
    (tmp_path / "plan.ics").write_text(ICS, encoding="utf-8")
    args = ["plan", "import", "plan.ics", "--athlete", "a@example.org"]
    first = json.loads(run(args, db, tmp_path).stdout)
    dry = json.loads(run([*args, "--dry-run"], db, tmp_path).stdout)
    again = json.loads(run(args, db, tmp_path).stdout)
    assert (first["created"], dry["unchanged"], dry["dryRun"], again["unchanged"]) == (1, 1, True, 1)
    assert sessions(db) == [("2026-03-12", "Tempo run", "late-tempo", None)]  # UTC+14: the next day


def test_a_big_file_shows_progress_on_stderr(db: str, tmp_path: Path) -> None:
    lines = ["date,sport,title,type,durationMin"] + [f"2026-04-01,run,Run {i},easy,30" for i in range(150)]
    (tmp_path / "big.csv").write_text("\n".join(lines), encoding="utf-8")
    result = run(["plan", "import", "big.csv", "--athlete", "b@example.org"], db, tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)["created"] == 150
    assert "importing sessions" in result.stderr and "150/150" in result.stderr


B = "b@example.org"
# One of each kind a command run meets (the file, its contents, the athlete): every way a file
# can be unreadable is the parser's, tested in process (test_import_csv, test_import_ics), and
# each run here is a whole interpreter start.
BAD_INPUT = [
    ("missing.csv", None, B, "no such file"),
    ("nothing.csv", b"date,sport,title,type,durationMin\n2026-03-11,run,A,no,3", B, "row 2, type"),
    ("plan.csv", CSV.encode(), "nobody@example.org", "nobody@example.org"),
]  # fmt: skip


def test_bad_input_is_one_line_a_non_zero_exit_and_nothing_written(db: str, tmp_path: Path) -> None:
    for name, content, athlete, words in BAD_INPUT:
        if content is not None:
            (tmp_path / name).write_bytes(content)
        result = run(["plan", "import", name, "--athlete", athlete], db, tmp_path)
        assert result.returncode != 0 and result.stdout == "", name
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, (name, result.stderr)
    assert sessions(db) == []
