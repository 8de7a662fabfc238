"""The coach's team table (GET /teams/{id}/readiness) and the stored flags it is served from.

Each row is checked against what the athlete sees of themself through the per-athlete reads,
cut to what they share: hidden signals are null (never zero) and named. Filters combine and
never match on a hidden value; every column sorts with nulls last; the default day is each
athlete's own local today; each disclosed athlete gets one audit row, all written in one
statement; a revocation is obeyed by the very next read; and the whole table is a constant
number of statements however many athletes it has.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, update
from tests.conftest import Harness
from tests.readiness.teamdata import (
    API,
    Shape,
    StatementCounter,
    Team,
    audit_of,
    make_team,
    share,
    write_history,
)

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.readiness.engine import ALGORITHM_VERSION, FLAG_CODES
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.service import recompute
from perfhub.readiness.team_table import COLUMNS, SIGNAL_COLUMNS, TABLE_SIGNALS
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.teams.models import TeamCoach
from perfhub.teams.service import join_team

pytestmark = pytest.mark.backends("sqlite")

ALL = {"hrv", "sleep", "readiness", "training"}


def table(harness: Harness, team: Team, viewer: dict[str, Any] | None = None, **params: Any) -> Any:
    response = harness.client.get(
        f"{API}/teams/{team.id}/readiness", params=params, headers=(viewer or team.coach)["headers"]
    )
    assert response.status_code == 200, response.text
    return response.json()


def rows_by_id(body: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["athleteId"]: row for row in body["athletes"]}


def own_view(harness: Harness, athlete: dict[str, Any], day: str) -> dict[str, Any]:
    """What the athlete reads of themself for ``day`` through the per-athlete endpoints."""

    def get(path: str, **params: Any) -> Any:
        response = harness.client.get(f"{API}{path}", params=params, headers=athlete["headers"])
        assert response.status_code == 200, response.text
        return response.json()

    today = get("/readiness/today")
    (hrv,) = get("/hrv/daily", **{"from": day, "to": day})
    (sleep,) = get("/sleep/summary", **{"from": day, "to": day})
    (debt,) = get("/sleep/debt", **{"from": day, "to": day})
    return {"readiness": today, "hrv": hrv, "sleep": sleep, "debt": debt}


# --------------------------------------------------------------------------------------------
# Rows under each grant
# --------------------------------------------------------------------------------------------

GRANTS: list[set[str]] = [ALL, {"readiness"}, {"sleep"}, {"hrv"}, {"hrv", "readiness"}, set()]


def test_each_row_shows_exactly_the_shared_signals_with_the_athletes_own_values(harness: Harness) -> None:
    shapes = [Shape(sick=3, short=8, seed=k) for k in range(len(GRANTS))]
    team = make_team(harness, GRANTS, shapes=shapes)
    body = table(harness, team)
    assert body["date"] is None
    rows = rows_by_id(body)
    assert [row["name"] for row in body["athletes"]] == sorted(a["name"] for a in team.athletes)
    for athlete, granted in zip(team.athletes, GRANTS, strict=True):
        row = rows[athlete["id"]]
        day = row["date"]
        assert set(row) == set(COLUMNS)
        assert row["hidden"] == [signal for signal in TABLE_SIGNALS if signal not in granted]
        own = own_view(harness, athlete, day)
        for signal, columns in SIGNAL_COLUMNS.items():
            if signal not in granted:
                assert all(row[column] is None for column in columns), (granted, signal, row)
                continue
            assert all(row[column] is not None for column in columns), (granted, signal, row)
        if "readiness" in granted:
            readiness = own["readiness"]
            assert (row["readiness"], row["band"], row["status"], row["stale"]) == (
                readiness["readiness"],
                readiness["band"],
                readiness["status"],
                readiness["stale"],
            )
            # The stored flags, as far as the coach may see them: sleep_debt needs sleep too.
            expected = [f for f in readiness["flags"] if f != "sleep_debt" or "sleep" in granted]
            assert row["flags"] == expected
            assert {"illness", "hrv_below_range"} <= set(row["flags"])
            assert ("sleep_debt" in row["flags"]) == ("sleep" in granted)
        if "sleep" in granted:
            assert row["lastSleepMin"] == own["sleep"]["durationMin"] == 330.0
            assert row["lastSleepEfficiencyPct"] == own["sleep"]["efficiencyPct"]
            assert row["sleepDebtHours"] == own["debt"]["debtHours"]
            assert row["sleepDebtCategory"] == own["debt"]["category"] == "high"
        if "hrv" in granted:
            assert row["lnRMSSD"] == pytest.approx(own["hrv"]["lnRMSSD"], abs=1e-4)
            assert row["normalLow"] < row["normalHigh"]
            assert row["hrvVsNormal"] == "below"  # the sick nights


def test_athletes_without_data_or_snapshot_show_nulls_not_zeros(harness: Harness) -> None:
    team = make_team(harness, [ALL, ALL], with_history=[True, False])
    rows = rows_by_id(table(harness, team))
    empty = rows[team.athletes[1]["id"]]
    assert empty["hidden"] == []
    assert all(empty[column] is None for columns in SIGNAL_COLUMNS.values() for column in columns)
    assert rows[team.athletes[0]["id"]]["readiness"] is not None


def test_a_missing_today_snapshot_is_computed_as_readiness_today_would(harness: Harness) -> None:
    team = make_team(harness, [ALL])
    athlete = team.athletes[0]
    with session_scope(harness.runtime.sessions) as session:
        session.execute(
            ReadinessSnapshotRow.__table__.delete().where(  # type: ignore[attr-defined]
                ReadinessSnapshotRow.user_id == athlete["id"]
            )
        )
    row = rows_by_id(table(harness, team))[athlete["id"]]
    assert row["readiness"] is not None and row["flags"] is not None
    today = harness.client.get(f"{API}/readiness/today", headers=athlete["headers"]).json()
    assert row["readiness"] == today["readiness"]


# --------------------------------------------------------------------------------------------
# Who may read the table
# --------------------------------------------------------------------------------------------


def test_only_the_teams_coaches_and_admins_read_it(harness: Harness) -> None:
    team = make_team(harness, [ALL])
    stranger, admin = harness.user("coach"), harness.user("admin")
    member = team.athletes[0]
    path = f"{API}/teams/{team.id}/readiness"
    assert harness.client.get(path, headers=member["headers"]).status_code == 403
    assert harness.client.get(path, headers=stranger["headers"]).status_code == 404
    assert (
        harness.client.get(f"{API}/teams/999999/readiness", headers=team.coach["headers"]).status_code == 404
    )
    body = table(harness, team, admin)
    assert body["athletes"][0]["readiness"] is not None and body["athletes"][0]["hidden"] == []
    assert audit_of(harness, admin["id"]) == [(member["id"], ["hrv", "sleep", "readiness"], path)]
    assert audit_of(harness, stranger["id"]) == [] and audit_of(harness, member["id"]) == []


def test_a_coach_sees_only_this_teams_members_with_grants_from_any_team_they_coach(harness: Harness) -> None:
    team = make_team(harness, [{"readiness"}, {"readiness"}])
    other = make_team(harness, [ALL])
    # The first athlete also joins the coach's second team sharing sleep: the coach may read
    # their sleep (the union over the coach's teams), in this table too.
    with session_scope(harness.runtime.sessions) as session:
        athlete = session.get(User, team.athletes[0]["id"])
        assert athlete is not None
        session.add(TeamCoach(team_id=other.id, coach_id=team.coach["id"]))
        join_team(session, other.id, athlete, {"sleep"})
    rows = rows_by_id(table(harness, team))
    assert set(rows) == {a["id"] for a in team.athletes}
    assert rows[team.athletes[0]["id"]]["hidden"] == ["hrv"]
    assert rows[team.athletes[1]["id"]]["hidden"] == ["hrv", "sleep"]


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


def filtered(harness: Harness, team: Team, **params: Any) -> list[str]:
    return [row["name"] for row in table(harness, team, **params)["athletes"]]


def test_filters_combine_and_never_match_a_hidden_value(harness: Harness) -> None:
    names = ["Ana Sick", "Ben Sick Hidden", "Cleo Well", "Dan Debt", "Eve Debt Hidden", "Finn Sick"]
    grants: list[set[str]] = [ALL, {"hrv", "sleep"}, ALL, ALL, {"readiness"}, {"readiness"}]
    shapes = [
        Shape(sick=3, seed=1),
        Shape(sick=3, seed=2),
        Shape(seed=3),
        Shape(short=9, seed=4),
        Shape(short=9, seed=5),
        Shape(sick=3, seed=6),
    ]
    team = make_team(harness, grants, names=names, shapes=shapes)
    everyone = table(harness, team)["athletes"]
    bands = {row["name"]: row["band"] for row in everyone}
    assert bands["Ana Sick"] == "low" and bands["Ben Sick Hidden"] is None and bands["Cleo Well"] != "low"

    # Ben is as sick as Ana but hides readiness: band=low must not find him.
    assert filtered(harness, team, band="low") == ["Ana Sick", "Finn Sick"]
    two = {"low", bands["Cleo Well"]}
    assert filtered(harness, team, band=sorted(two)) == [name for name in names if bands[name] in two]
    assert "Cleo Well" in filtered(harness, team, band=sorted(two))
    # Eve has a high sleep debt but does not share sleep: the flag would give it away.
    assert filtered(harness, team, flag="sleep_debt") == ["Dan Debt"]
    assert filtered(harness, team, flag=["sleep_debt", "illness"]) == ["Ana Sick", "Dan Debt", "Finn Sick"]
    assert filtered(harness, team, q="sick") == ["Ana Sick", "Ben Sick Hidden", "Finn Sick"]
    assert filtered(harness, team, q="SICK", band="low", flag="hrv_below_range") == ["Ana Sick", "Finn Sick"]
    assert filtered(harness, team, q="ana", band="low") == ["Ana Sick"]
    assert filtered(harness, team, q="nobody") == []
    for bad in ({"band": "awful"}, {"flag": "sleep_debt_high"}, {"sort": "password"}, {"date": "2024-02-30"}):
        response = harness.client.get(
            f"{API}/teams/{team.id}/readiness", params=bad, headers=team.coach["headers"]
        )
        assert response.status_code == 422, bad


def test_a_value_filter_audits_what_it_read_of_the_athletes_it_left_out(harness: Harness) -> None:
    team = make_team(
        harness,
        [ALL, {"hrv", "sleep"}, {"readiness"}],
        names=["Ana", "Ben", "Cleo"],
        shapes=[Shape(sick=3, seed=1), Shape(sick=3, seed=2), Shape(seed=3)],
    )
    path = f"{API}/teams/{team.id}/readiness"
    assert filtered(harness, team, band="low") == ["Ana"]
    ana, ben, cleo = (a["id"] for a in team.athletes)
    # Ana is shown (all three); Cleo's readiness was read to leave her out; Ben's was not (hidden).
    assert audit_of(harness, team.coach["id"]) == [
        (ana, ["hrv", "sleep", "readiness"], path),
        (cleo, ["readiness"], path),
    ]
    assert ben not in {subject for subject, _, _ in audit_of(harness, team.coach["id"])}


# --------------------------------------------------------------------------------------------
# Sorting
# --------------------------------------------------------------------------------------------


def sort_value(column: str, value: Any) -> Any:
    order = {
        "band": ["low", "reduced", "normal", "elevated"],
        "status": ["calibrating", "provisional", "full"],
        "sleepDebtCategory": ["none", "low", "moderate", "high"],
        "hrvVsNormal": ["below", "within", "above"],
    }
    if column in order:
        return order[column].index(value)
    if column in ("flags", "hidden"):
        return (len(value), tuple(value))
    if column == "name":
        return value.casefold()
    return value


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_every_column_sorts_with_nulls_last(harness: Harness, descending: bool) -> None:
    grants: list[set[str]] = [ALL, ALL, ALL, {"readiness"}, {"sleep"}, set(), ALL]
    shapes = [
        Shape(sick=3, short=9, seed=1),
        Shape(seed=2),
        Shape(short=3, seed=3),
        Shape(sick=2, seed=4),
        Shape(short=9, seed=5),
        Shape(seed=6, nights=10),  # calibrating
        Shape(gap=3, seed=7, nights=70),  # stale, full
    ]
    names = ["delta", "Alpha", "charlie", "Bravo", "echo", "Foxtrot", "golf"]
    team = make_team(harness, grants, names=names, shapes=shapes)
    for column in COLUMNS:
        sign = "-" if descending else ""
        rows = table(harness, team, sort=f"{sign}{column}")["athletes"]
        values = [row[column] for row in rows]
        present = [v for v in values if v is not None]
        assert values == present + [None] * (len(values) - len(present)), (column, values)
        keys = [sort_value(column, v) for v in present]
        assert keys == sorted(keys, reverse=descending), (column, values)
        assert len(set(map(repr, present))) > 1 or column == "date", (column, values)  # a real test


def test_several_sort_keys_and_ties_by_name(harness: Harness) -> None:
    team = make_team(harness, [{"readiness"}] * 4, names=["b", "A", "d", "C"], with_history=[False] * 4)
    assert filtered(harness, team, sort="band") == ["A", "b", "C", "d"]  # all null: by name
    assert filtered(harness, team, sort="-band,-name") == ["d", "C", "b", "A"]


# --------------------------------------------------------------------------------------------
# The default day: each athlete's own local today
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # 11:30 UTC: already tomorrow at UTC+14, still yesterday at UTC-12.
        (
            datetime(2026, 3, 10, 11, 30, tzinfo=UTC),
            {"Etc/GMT+12": "2026-03-09", "Pacific/Kiritimati": "2026-03-11"},
        ),
        # 00:30 UTC: both a day apart from UTC the other way round.
        (
            datetime(2026, 3, 10, 0, 30, tzinfo=UTC),
            {"Etc/GMT+12": "2026-03-09", "Pacific/Kiritimati": "2026-03-10"},
        ),
    ],
)
def test_the_default_day_is_each_athletes_local_today(
    harness: Harness, instant: datetime, expected: dict[str, str]
) -> None:
    zones = ["Etc/GMT+12", "Pacific/Kiritimati", "UTC"]
    with time_machine.travel(instant, tick=False):
        team = make_team(harness, [ALL] * 3, tzs=zones)
        rows = table(harness, team)["athletes"]
        by_zone = dict(zip(zones, sorted(rows, key=lambda row: row["name"]), strict=True))
        assert by_zone["UTC"]["date"] == instant.date().isoformat()
        for zone, day in expected.items():
            row = by_zone[zone]
            assert row["date"] == day
            # Each row is that athlete's newest night and scored: their today has data.
            assert row["readiness"] is not None and row["lastSleepMin"] is not None
        fixed = table(harness, team, date="2026-03-05")
        assert fixed["date"] == "2026-03-05" and {row["date"] for row in fixed["athletes"]} == {"2026-03-05"}


# --------------------------------------------------------------------------------------------
# Audit and revocation
# --------------------------------------------------------------------------------------------


def test_one_audit_row_per_disclosed_athlete_written_in_one_statement(harness: Harness) -> None:
    team = make_team(harness, [ALL, {"sleep"}, set(), {"readiness", "training"}])
    # The coach is a member of their own team too: their own row is never audited.
    with session_scope(harness.runtime.sessions) as session:
        coach = session.get(User, team.coach["id"])
        assert coach is not None
        join_team(session, team.id, coach, set())
    engine = harness.runtime.engine
    with StatementCounter(engine) as counter:
        rows = table(harness, team)["athletes"]
    assert team.coach["id"] in {row["athleteId"] for row in rows}
    inserts = [s for s in counter.statements if s.lstrip().upper().startswith("INSERT INTO AUDIT_LOG")]
    assert len(inserts) == 1
    path = f"{API}/teams/{team.id}/readiness"
    a, b, _, d = (athlete["id"] for athlete in team.athletes)
    assert audit_of(harness, team.coach["id"]) == [
        (a, ["hrv", "sleep", "readiness"], path),
        (b, ["sleep"], path),
        (d, ["readiness"], path),
    ]


def test_a_revocation_is_obeyed_by_the_very_next_read(harness: Harness) -> None:
    team = make_team(harness, [ALL])
    athlete = team.athletes[0]
    before = rows_by_id(table(harness, team))[athlete["id"]]
    assert before["lnRMSSD"] is not None and before["hidden"] == []
    share(harness, team.id, athlete["id"], {"sleep", "readiness"})
    after = rows_by_id(table(harness, team))[athlete["id"]]
    assert after["hidden"] == ["hrv"]
    assert all(after[column] is None for column in SIGNAL_COLUMNS["hrv"])
    assert after["readiness"] == before["readiness"]
    share(harness, team.id, athlete["id"], set())
    last = rows_by_id(table(harness, team))[athlete["id"]]
    assert last["hidden"] == ["hrv", "sleep", "readiness"]
    assert [signals for _, signals, _ in audit_of(harness, team.coach["id"])] == [
        ["hrv", "sleep", "readiness"],
        ["sleep", "readiness"],
    ]


# --------------------------------------------------------------------------------------------
# Set-based: a constant number of statements for any team size
# --------------------------------------------------------------------------------------------


def make_bare_team(harness: Harness, size: int) -> Team:
    """``size`` athletes sharing everything, with history, made fast (no API calls)."""
    return make_team(harness, [ALL] * size, nights=21)


@pytest.mark.backends("sqlite", "postgres")
def test_the_table_is_a_constant_number_of_statements(harness: Harness) -> None:
    counts = []
    for size in (5, 50):
        team = make_bare_team(harness, size)
        table(harness, team)  # warm: today's snapshots exist already; nothing is materialised
        with StatementCounter(harness.runtime.engine) as counter:
            rows = table(harness, team)["athletes"]
        assert len(rows) == size and all(row["readiness"] is not None for row in rows)
        counts.append(len(counter.statements))
        # One statement each for the snapshots, the HRV, the sleep and the audit rows.
        for table_name in ("readiness_snapshot", "hrv_daily", "sleep_daily", "audit_log"):
            touching = [s for s in counter.statements if re.search(f"(FROM|INTO) {table_name}\\b", s)]
            assert len(touching) == 1, (table_name, touching)
    assert counts[0] == counts[1], counts
    # Authentication (its own transaction), the policy (team and grants), names, the three
    # reads, the audit insert, and the transactions' begin and end.
    assert counts[0] <= 16, counts


# --------------------------------------------------------------------------------------------
# Flags: stored with every snapshot, served by the readiness API
# --------------------------------------------------------------------------------------------


def stored_flags(harness: Harness, user_id: int) -> dict[date, list[str]]:
    with harness.runtime.sessions() as session:
        rows = session.execute(
            select(ReadinessSnapshotRow.date, ReadinessSnapshotRow.flags).where(
                ReadinessSnapshotRow.user_id == user_id,
                ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
            )
        )
        return {day: list(flags) for day, flags in rows}


@pytest.mark.backends("sqlite", "postgres")
def test_flags_are_stored_for_every_state(harness: Harness) -> None:
    team = make_team(
        harness,
        [ALL] * 4,
        shapes=[Shape(sick=3, short=9, seed=1), Shape(gap=3, seed=2), Shape(gap=9, seed=3), Shape(seed=4)],
        nights=40,
    )
    sick, stale, silent, young = (a["id"] for a in team.athletes)
    with session_scope(harness.runtime.sessions) as session:
        # A new athlete with two nights: calibrating, no score.
        user = session.get(User, young)
        assert user is not None
        session.execute(ReadinessSnapshotRow.__table__.delete().where(ReadinessSnapshotRow.user_id == young))  # type: ignore[attr-defined]
        for model in (HrvDaily, SleepDaily):
            session.execute(model.__table__.delete().where(model.user_id == young))  # type: ignore[attr-defined]
        write_history(session, [user], 2, {})
    newest = {
        user_id: flags[max(flags)]
        for user_id, flags in ((u, stored_flags(harness, u)) for u in (sick, stale, silent, young))
    }
    assert newest[sick][:3] == ["illness", "hrv_below_range", "sleep_debt"]
    assert "stale" in newest[stale]
    assert newest[silent] == ["no_recent_data"]
    assert newest[young] == ["calibrating"]
    for flags in stored_flags(harness, sick).values():
        assert flags == [code for code in FLAG_CODES if code in flags]  # the fixed order


def test_snapshots_stored_without_flags_get_them_on_the_next_recompute_unannounced(harness: Harness) -> None:
    team = make_team(harness, [ALL], shapes=[Shape(sick=3, short=9, seed=1)])
    athlete_id = team.athletes[0]["id"]
    before = stored_flags(harness, athlete_id)
    assert any(before.values())
    with session_scope(harness.runtime.sessions) as session:
        # As rows written before flags were stored: the migration's default.
        session.execute(update(ReadinessSnapshotRow).values(flags=[]))
    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, athlete_id)
        assert user is not None
        (update_,) = recompute(session, [user], announce=False)
        assert update_.changed == [] and update_.revised == []  # nothing a reader was told changed
    assert stored_flags(harness, athlete_id) == before


def test_the_readiness_api_serves_the_flags_the_viewer_may_see(harness: Harness) -> None:
    team = make_team(harness, [{"readiness"}], shapes=[Shape(sick=3, short=9, seed=1)])
    athlete = team.athletes[0]
    own = harness.client.get(f"{API}/readiness/today", headers=athlete["headers"]).json()
    assert own["flags"][:3] == ["illness", "hrv_below_range", "sleep_debt"]
    theirs = harness.client.get(
        f"{API}/readiness/today", params={"userId": athlete["id"]}, headers=team.coach["headers"]
    ).json()
    assert theirs["flags"] == [flag for flag in own["flags"] if flag != "sleep_debt"]


def test_a_revocation_through_put_sharing_is_obeyed_on_every_team_path_at_once(harness: Harness) -> None:
    team = make_team(harness, [ALL])
    athlete = team.athletes[0]
    base = f"{API}/teams/{team.id}"
    assert rows_by_id(table(harness, team))[athlete["id"]]["hidden"] == []
    answer = harness.client.put(f"{API}/sharing/{team.id}", json={"hrv": False}, headers=athlete["headers"])
    assert answer.status_code == 200, answer.text
    assert rows_by_id(table(harness, team))[athlete["id"]]["hidden"] == ["hrv"]
    csv_text = harness.client.get(f"{base}/readiness.csv", headers=team.coach["headers"]).text
    assert csv_text.splitlines()[1].endswith(",hrv")
    trend = harness.client.get(f"{base}/athletes/{athlete['id']}/trend", headers=team.coach["headers"]).json()
    assert trend["hidden"] == ["hrv"] and all(day["lnRMSSD"] is None for day in trend["days"])
