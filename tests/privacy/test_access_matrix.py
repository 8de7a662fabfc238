"""Who reads what: every per-athlete read path × what the athlete shares × every kind of viewer.

The athlete is on two teams: A, whose coach is granted the signals under test, and B, which is
granted nothing. Coach B must see nothing through the athlete's membership in A (a coach reads
only through teams they coach), coach A only what A is granted. A coach of an unrelated team
and another athlete must not learn the athlete exists; an admin sees everything, audited. Each
case asserts the status, the exact fields present (against the athlete's own view) and the
audit rows written. SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import Harness
from tests.privacy.test_consent_signals import person, post_history, signal_of, utc_today

from perfhub.core.db import session_scope
from perfhub.privacy.models import AuditEntry
from perfhub.teams.models import Team
from perfhub.teams.schemas import SIGNALS
from perfhub.teams.service import create_team, join_team

pytestmark = pytest.mark.backends("sqlite", "postgres")

API = "/api/v1"


# Each path and the signal it is about (the one it is refused without).
PATHS: dict[str, str] = {
    "/hrv/daily": "hrv",
    "/sleep/summary": "sleep",
    "/sleep/debt": "sleep",
    "/readiness/today": "readiness",
    "/readiness": "readiness",
    "/alerts": "sleep",
}
# Fields of an HRV row that are the vendor's readiness, not HRV.
VENDOR_READINESS_FIELDS = {"readinessScore", "vendorCalibrating"}
COMPONENT_SIGNAL = {
    "hrv_balance": "hrv",
    "last_night_hrv": "hrv",
    "resting_hr": "hrv",
    "sleep": "sleep",
    "sleep_debt": "sleep",
    "training_load": "training",
}


@dataclass
class World:
    athlete: dict[str, Any]
    viewers: dict[str, dict[str, Any]]
    params: dict[str, str]  # the date range every request asks for


def build_world(harness: Harness, share_with_a: set[str], share_with_b: set[str] | None = None) -> World:
    athlete, other = harness.user(), harness.user()
    coach_a, coach_b, coach_c = harness.user("coach"), harness.user("coach"), harness.user("coach")
    admin = harness.user("admin")
    with session_scope(harness.runtime.sessions) as session:

        def team(coach: dict[str, Any], name: str) -> int:
            return create_team(session, name, person(session, coach)).id

        a, b, c = team(coach_a, "A"), team(coach_b, "B"), team(coach_c, "C")
        join_team(session, a, person(session, athlete), share_with_a)
        join_team(session, b, person(session, athlete), share_with_b or set())
        # Coach C's team is unrelated to the athlete and shares everything of someone else.
        join_team(session, c, person(session, other), set(SIGNALS))
    post_history(harness, athlete["id"])
    post_history(harness, other["id"], seed=9)
    start = utc_today() - timedelta(days=20)
    return World(
        athlete=athlete,
        viewers={
            "self": athlete,
            "coach A": coach_a,
            "coach B": coach_b,
            "coach of another team": coach_c,
            "other athlete": other,
            "admin": admin,
        },
        params={"from": start.isoformat(), "to": utc_today().isoformat()},
    )


def read(harness: Harness, world: World, path: str, viewer: dict[str, Any], *, as_self: bool = False) -> Any:
    params = dict(world.params) if path not in ("/readiness/today", "/alerts") else {}
    if not as_self:
        params["userId"] = str(world.athlete["id"])
    return harness.client.get(f"{API}{path}", params=params, headers=viewer["headers"])


def audit_of(harness: Harness, actor: dict[str, Any]) -> list[tuple[int, str, list[str], str]]:
    with harness.runtime.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.actor_id == actor["id"]).order_by(AuditEntry.id)
        )
        return [(row.subject_id, row.actor_role, list(row.signals), row.path) for row in rows]


def non_null(row: dict[str, Any]) -> set[str]:
    return {key for key, value in row.items() if value is not None}


def expected_readiness(own: dict[str, Any], granted: set[str]) -> dict[str, Any]:
    """The athlete's own readiness day as a viewer granted ``granted`` must see it."""
    drivers, facts = [], []
    for text, fact in zip(own["drivers"], own["driverFacts"], strict=True):
        signal = signal_of(fact["code"])
        if signal is None or signal in granted:
            drivers.append(text)
            facts.append(fact)
        elif fact["code"] != "sleep_debt":
            drivers.append(None)  # in words: checked below to carry no number
            facts.append({"code": fact["code"], "values": {}})
    return {
        **own,
        "drivers": drivers,
        "driverFacts": facts,
        "components": [c for c in own["components"] if COMPONENT_SIGNAL[c["name"]] in granted],
        "hidden": [s for s in SIGNALS if s not in granted],
        # Flags travel with readiness; the sleep-debt flag also says something of sleep.
        "flags": [flag for flag in own.get("flags", []) if flag != "sleep_debt" or "sleep" in granted],
    }


def check_body(path: str, own: Any, got: Any, granted: set[str]) -> None:
    """``got`` is exactly the athlete's own ``own`` with what ``granted`` does not cover taken out."""
    if path == "/hrv/daily":
        assert len(got) == len(own) > 0
        for mine, theirs in zip(own, got, strict=True):
            assert set(theirs) == set(mine)  # every field is there, withheld ones as null
            withheld = set() if "readiness" in granted else VENDOR_READINESS_FIELDS
            assert non_null(theirs) == non_null(mine) - withheld
            assert {k: v for k, v in theirs.items() if k not in withheld} == {
                k: v for k, v in mine.items() if k not in withheld
            }
        return
    if path.startswith("/readiness"):
        days_own, days_got = ([own], [got]) if path == "/readiness/today" else (own, got)
        assert len(days_got) == len(days_own) > 0
        for mine, theirs in zip(days_own, days_got, strict=True):
            want = expected_readiness(mine, granted)
            assert set(theirs) == set(want)
            for key in set(want) - {"drivers"}:
                assert theirs[key] == want[key], key
            assert len(theirs["drivers"]) == len(want["drivers"])
            for text, wanted in zip(theirs["drivers"], want["drivers"], strict=True):
                if wanted is None:
                    assert not any(ch.isdigit() for ch in text), text
                else:
                    assert text == wanted
        return
    # Sleep rows, sleep debt and nudges are one signal each: all or nothing.
    assert got == own and len(own) > 0


def audited_signals(path: str, granted: set[str]) -> list[str]:
    """What a read of ``path`` discloses to a viewer granted ``granted`` in this world.

    The world's athlete has HRV, resting-HR and sleep contributors and drivers and a vendor
    score on every HRV row, but no training load.
    """
    primary = PATHS[path]
    extra: set[str] = set()
    if path == "/hrv/daily" and "readiness" in granted:
        extra = {"readiness"}
    if path.startswith("/readiness"):
        extra = granted & {"hrv", "sleep"}
    return [s for s in SIGNALS if s == primary or s in extra]


GRANTS = [
    pytest.param(set(), id="nothing"),
    pytest.param({"hrv"}, id="hrv"),
    pytest.param({"sleep"}, id="sleep"),
    pytest.param({"readiness"}, id="readiness"),
    pytest.param({"training"}, id="training"),
    pytest.param({"hrv", "readiness"}, id="hrv+readiness"),
    pytest.param(set(SIGNALS), id="everything"),
]


@pytest.mark.parametrize("share_with_a", GRANTS)
def test_access_matrix(harness: Harness, share_with_a: set[str]) -> None:
    world = build_world(harness, share_with_a)
    athlete = world.athlete
    own = {}
    for path in PATHS:
        response = read(harness, world, path, athlete, as_self=True)
        assert response.status_code == 200, (path, response.text)
        own[path] = response.json()
    # What each viewer may read of the athlete; None: the athlete's existence is not disclosed.
    granted_to: dict[str, set[str] | None] = {
        "self": set(SIGNALS),
        "coach A": share_with_a,
        "coach B": set(),  # B is granted nothing; A's grant must not reach B's coach
        "coach of another team": None,
        "other athlete": None,
        "admin": set(SIGNALS),
    }
    audited_viewers = {"coach A", "admin"}
    failures: list[str] = []
    for who, viewer in world.viewers.items():
        granted = granted_to[who]
        expected_audit = []
        for path, signal in PATHS.items():
            response = read(harness, world, path, viewer)
            case = f"{who} {path} (A granted {sorted(share_with_a)})"
            if granted is None:
                expected = 404
            elif signal not in granted:
                expected = 403
            else:
                expected = 200
            if response.status_code != expected:
                failures.append(f"{case}: {response.status_code}, expected {expected}: {response.text[:200]}")
                continue
            if expected != 200:
                assert response.headers["content-type"].startswith("application/problem+json"), case
                continue
            assert granted is not None
            try:
                check_body(path, own[path], response.json(), granted)
            except AssertionError as exc:
                failures.append(f"{case}: body: {exc}")
            if who in audited_viewers:
                expected_audit.append(
                    (athlete["id"], viewer_role(who), audited_signals(path, granted), f"{API}{path}")
                )
        if audit_of(harness, viewer) != expected_audit:
            failures.append(f"{who}: audit {audit_of(harness, viewer)} != {expected_audit}")
    assert not failures, "\n".join(failures)
    # Nothing but coach A's and the admin's reads were audited; the athlete's own never are.
    assert harness.count(AuditEntry) == sum(len(audit_of(harness, world.viewers[w])) for w in audited_viewers)
    check_team_paths(harness, world, share_with_a)


# The team paths (the coach's table, its CSV, the drill-in) for each kind of viewer, through team A:
# what they answer, and for the athlete's row the signals hidden. None: the row's signals follow
# A's grant. The table is for the team's coaches and admins: an athlete of the team is refused
# (403), anyone without a part in it learns nothing (404). The drill-in is also the athlete's own.
TEAM_PATHS = ("table", "csv", "trend")
TEAM_STATUS: dict[str, dict[str, int]] = {
    "self": {"table": 403, "csv": 403, "trend": 200},
    "coach A": {"table": 200, "csv": 200, "trend": 200},
    "coach B": {"table": 404, "csv": 404, "trend": 404},
    "coach of another team": {"table": 404, "csv": 404, "trend": 404},
    "other athlete": {"table": 404, "csv": 404, "trend": 404},
    "admin": {"table": 200, "csv": 200, "trend": 200},
}
TABLE_SIGNALS = ("hrv", "sleep", "readiness")


def check_team_paths(harness: Harness, world: World, share_with_a: set[str]) -> None:
    athlete = world.athlete
    with harness.runtime.sessions() as session:
        team_a = session.scalar(select(Team.id).where(Team.name == "A"))
    urls = {
        "table": f"{API}/teams/{team_a}/readiness",
        "csv": f"{API}/teams/{team_a}/readiness.csv",
        "trend": f"{API}/teams/{team_a}/athletes/{athlete['id']}/trend",
    }
    failures: list[str] = []
    for who, viewer in world.viewers.items():
        sees_all = who in ("self", "admin")
        hidden = [] if sees_all else [s for s in TABLE_SIGNALS if s not in share_with_a]
        for name in TEAM_PATHS:
            before = len(audit_of(harness, viewer))
            params = {} if name != "trend" else dict(world.params)
            response = harness.client.get(urls[name], params=params, headers=viewer["headers"])
            case = f"{who} {name} (A granted {sorted(share_with_a)})"
            expected = TEAM_STATUS[who][name]
            if response.status_code != expected:
                failures.append(f"{case}: {response.status_code}, expected {expected}: {response.text[:200]}")
                continue
            if expected != 200:
                continue
            if name == "table":
                (row,) = [r for r in response.json()["athletes"] if r["athleteId"] == athlete["id"]]
                got = sorted(row["hidden"])
                if "readiness" in row["hidden"] and row["readiness"] is not None:
                    failures.append(f"{case}: a hidden readiness has a value")
            elif name == "csv":
                lines = list(csv.DictReader(io.StringIO(response.text)))
                (line,) = [r for r in lines if r["athleteId"] == str(athlete["id"])]
                got = sorted(filter(None, line["hidden"].split(";")))
            else:
                got = sorted(set(response.json()["hidden"]) & set(TABLE_SIGNALS))
            if got != sorted(hidden):
                failures.append(f"{case}: hidden {got}, expected {sorted(hidden)}")
            # A read by someone other than the athlete that let a signal through is audited.
            wrote = len(audit_of(harness, viewer)) - before
            disclosed = sees_all or bool(set(share_with_a) & set(TABLE_SIGNALS))
            if who == "self" and wrote:
                failures.append(f"{case}: the athlete's own read was audited")
            if who != "self" and disclosed and not wrote:
                failures.append(f"{case}: not audited")
    assert not failures, "\n".join(failures)


def viewer_role(who: str) -> str:
    return "admin" if who == "admin" else "coach"


def test_two_teams_grants_never_mix(harness: Harness) -> None:
    """A shares hrv, B shares sleep: each coach gets their own team's grant only, and a coach
    of both gets both."""
    world = build_world(harness, {"hrv"}, {"sleep"})
    coach_a, coach_b = world.viewers["coach A"], world.viewers["coach B"]
    for path, signal in PATHS.items():
        a = read(harness, world, path, coach_a).status_code
        b = read(harness, world, path, coach_b).status_code
        assert (a, b) == (200 if signal == "hrv" else 403, 200 if signal == "sleep" else 403), path
    hrv_rows = read(harness, world, "/hrv/daily", coach_a).json()
    assert all(row["readinessScore"] is None for row in hrv_rows)
    assert [s for _, _, s, _ in audit_of(harness, coach_a)] == [["hrv"], ["hrv"]]
    assert [s for _, _, s, _ in audit_of(harness, coach_b)] == [["sleep"], ["sleep"], ["sleep"]]

    # A coach who runs two teams the athlete is on reads what either is granted.
    both = harness.user("coach")
    with session_scope(harness.runtime.sessions) as session:
        coach, athlete = person(session, both), person(session, world.athlete)
        join_team(session, create_team(session, "E", coach).id, athlete, {"hrv"})
        join_team(session, create_team(session, "F", coach).id, athlete, {"sleep"})
    for path, signal in PATHS.items():
        status = read(harness, world, path, both).status_code
        assert status == (403 if signal == "readiness" else 200), path
