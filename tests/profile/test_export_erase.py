"""``GET /me/export`` and ``DELETE /me``: all of a person's data out, then all of it gone.

Each person gets every kind of row perfhub keeps (readings through the real ingest path and
pipeline, tokens, a web session, a failed sign-in, a vendor connection and a pending link,
dead letters and events naming them, a team, an invitation, reads by their coach). The export
must carry each kind and nothing of anyone else; after an erasure a scan of every table finds
nothing of the person but the erasure record, and nobody else's rows changed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.orm import Session
from tests.conftest import SECRET, Harness
from tests.fakes.whoop import FakeWhoop
from tests.privacy.test_consent_signals import person, post_history
from tests.wearables.conftest import link_athlete, running_vendor_app

import perfhub.models  # noqa: F401 - every table in Base.metadata
from perfhub.auth.passwords import set_password
from perfhub.auth.service import hash_token
from perfhub.auth.sessions import hash_secret, sign_in, start_session
from perfhub.core.crypto import SecretBox
from perfhub.core.db import Base, session_scope, utcnow
from perfhub.core.outbox import OutboxDelivery, OutboxRow, dead_letter
from perfhub.settings import Settings
from perfhub.teams.models import Team, TeamInvitation
from perfhub.teams.service import create_team, join_team
from perfhub.wearables.models import OAuthState, VendorConnection
from perfhub.wearables.vendors.http import RetryPolicy
from perfhub.wearables.vendors.registry import use_retry_policy

pytestmark = pytest.mark.backends("sqlite")

API = "/api/v1"
PASSWORD = "correct horse battery staple"
ID_COLUMN = re.compile(r"(^|_)(user_id|athlete_id|subject_id|actor_id|coach_id|invited_by_id)$")


@dataclass
class Account:
    """A person with every kind of row, and the secrets an export must never carry."""

    who: dict[str, Any]
    secrets: list[str]


def full_account(harness: Harness, who: dict[str, Any], coach: dict[str, Any], team_id: int) -> Account:
    """Give ``who`` (an athlete in ``team_id``, coached by ``coach``) every kind of row."""
    post_history(harness, who["id"], nights=10, seed=who["id"])
    harness.drain()
    headers = who["headers"]
    assert harness.client.put(
        f"{API}/alerts/preferences", json={"sleepDebt": False}, headers=headers
    ).is_success
    second = harness.client.post(f"{API}/tokens", json={"name": "phone"}, headers=headers).json()["token"]
    box = SecretBox(SECRET)
    access, refresh = f"oura-access-{who['id']}", f"oura-refresh-{who['id']}"
    with session_scope(harness.runtime.sessions) as session:
        me = person(session, who)
        set_password(session, me, PASSWORD)
        cookie, _ = start_session(session, me)
        assert sign_in(session, who["email"], "not the password", "198.51.100.7") is None
        password_hash = me.password_hash
        session.add(
            VendorConnection(
                user_id=me.id,
                vendor="oura",
                status="linked",
                vendor_user_id=f"oura-user-{me.id}",
                access_token=box.seal(access),
                refresh_token=box.seal(refresh),
                linked_at=utcnow(),
            )
        )
        session.add(
            OAuthState(
                user_id=me.id,
                vendor="whoop",
                state_hash=hash_secret(f"state-{me.id}"),
                code_verifier=box.seal(f"verifier-{me.id}"),
                expires_at=utcnow() + timedelta(minutes=10),
            )
        )
        dead_letter(session, "data.normalized", {"userId": me.id, "dates": []}, "boom", user_id=me.id)
        # Named only in the payload: still theirs.
        dead_letter(session, "insights.updated", {"userId": me.id, "dates": []}, "payload only")
        # An event no consumer takes yet (the pipeline would otherwise act on it now).
        event = OutboxRow(subject="test.waiting", payload={"userId": me.id}, headers={})
        session.add(event)
        session.flush()
        session.add(OutboxDelivery(consumer="alerts", outbox_id=event.id, status="retry", attempts=1))
        session.add(
            TeamInvitation(
                team_id=team_id,
                email=me.email,
                invited_by_id=coach["id"],
                expires_at=utcnow() + timedelta(days=7),
            )
        )
    # Reads by the coach (audited), through the policy.
    for path in ("/hrv/daily", "/sleep/summary"):
        answer = harness.client.get(f"{API}{path}", params={"userId": who["id"]}, headers=coach["headers"])
        assert answer.status_code == 200, answer.text
    secrets = [
        who["token"],
        second,
        hash_token(who["token"]),
        hash_token(second),
        cookie,
        hash_secret(cookie),
    ]
    return Account(who, [*secrets, access, refresh, str(password_hash), f"verifier-{who['id']}"])


@dataclass
class World:
    anna: Account
    ben: Account
    coach: dict[str, Any]
    admin: dict[str, Any]
    team_id: int


def build_world(harness: Harness) -> World:
    anna, ben, coach, admin = harness.user(), harness.user(), harness.user("coach"), harness.user("admin")
    with session_scope(harness.runtime.sessions) as session:
        team_id = create_team(session, "Rowing", person(session, coach)).id
        join_team(session, team_id, person(session, anna), {"hrv", "sleep"})
        join_team(session, team_id, person(session, ben), {"hrv", "sleep", "readiness"})
    return World(
        full_account(harness, anna, coach, team_id),
        full_account(harness, ben, coach, team_id),
        coach,
        admin,
        team_id,
    )


# ---------------------------------------------------------------------------------------------
# The scan: every table, every column that could name a person
# ---------------------------------------------------------------------------------------------


def _json_names(value: Any, person_id: int) -> bool:
    if isinstance(value, dict):
        return value.get("userId") == person_id or any(_json_names(v, person_id) for v in value.values())
    if isinstance(value, list):
        return any(_json_names(v, person_id) for v in value)
    return False


def _names(table: str, column: Any, value: Any, person_id: int, strings: set[str]) -> bool:
    if isinstance(column.type, Integer):
        is_person = ID_COLUMN.search(column.name) or (table == "user_account" and column.name == "id")
        return bool(is_person) and value == person_id
    if isinstance(column.type, JSON):
        return _json_names(value, person_id)
    return isinstance(column.type, String) and value in strings


def mentions(harness: Harness, person_id: int, email: str) -> list[tuple[str, tuple[Any, ...]]]:
    """Every row of every table that names the person: an id column, ``userId`` in JSON, the
    email or its hash. (table, the row) pairs, in a stable order."""
    strings = {email, hash_secret(email)}
    found: list[tuple[str, tuple[Any, ...]]] = []
    with harness.runtime.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                values = row._mapping
                if any(
                    _names(table.name, column, values[column.name], person_id, strings)
                    for column in table.columns
                ):
                    found.append((table.name, tuple(row)))
    return sorted(found, key=repr)


def the_erasure_record(rows: list[tuple[str, tuple[Any, ...]]], person_id: int, path: str) -> None:
    assert len(rows) == 1, rows
    table, row = rows[0]
    assert table == "audit_log"
    columns = [column.name for column in Base.metadata.tables["audit_log"].columns]
    record = dict(zip(columns, row, strict=True))
    assert record["kind"] == "erasure" and record["signals"] == []
    assert record["subject_id"] == record["actor_id"] == person_id and record["path"] == path


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, inner
            yield from walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner)


def test_the_export_has_every_kind_of_the_callers_data_and_nothing_of_anyone_elses(harness: Harness) -> None:
    world = build_world(harness)
    anna = world.anna.who
    answer = harness.client.get(f"{API}/me/export", headers=anna["headers"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-disposition"] == f'attachment; filename="perfhub-export-{anna["id"]}.json"'
    document = answer.json()
    assert document["format"] == "perfhub-export" and document["version"] == 1
    profile = document["profile"]
    assert (profile["id"], profile["email"], profile["role"], profile["hasPassword"]) == (
        anna["id"],
        anna["email"],
        "athlete",
        True,
    )
    assert document["alertPreferences"]["sleepDebt"] is False
    with harness.runtime.sessions() as session:
        counts = own_counts(session, anna["id"])
    for section, expected in counts.items():
        assert len(document[section]) == expected > 0, section
    assert {t["name"] for t in document["apiTokens"]} >= {"phone"}
    assert sum(d["deliveries"] for d in document["deliveries"]) == counts["rawEvents"]
    assert {d["source"] for d in document["deliveries"]} == {"api"}
    assert all(isinstance(raw["payload"], dict) for raw in document["rawEvents"])
    assert document["vendorConnections"][0]["vendor"] == "oura"
    assert document["vendorConnections"][0]["vendorUserId"] == f"oura-user-{anna['id']}"
    assert document["pendingLinks"][0]["vendor"] == "whoop"
    assert document["deadLetters"][0]["reason"] == "boom"
    assert [(m["teamId"], m["teamName"], m["sharing"]) for m in document["teamMemberships"]] == [
        (world.team_id, "Rowing", {"hrv": True, "sleep": True, "readiness": False, "training": False})
    ]
    history = document["teamMembershipHistory"]
    assert [(h["teamId"], h["teamName"], h["leftAt"]) for h in history] == [(world.team_id, "Rowing", None)]
    assert history[0]["joinedAt"] == document["teamMemberships"][0]["joinedAt"]
    assert [(i["teamName"], i["status"]) for i in document["invitations"]] == [("Rowing", "pending")]
    assert document["teamsCoached"] == [] and document["invitationsSent"] == []
    assert [(e["actorId"], e["subjectId"], e["path"]) for e in document["accessLog"]] == [
        (world.coach["id"], anna["id"], "/api/v1/hrv/daily"),
        (world.coach["id"], anna["id"], "/api/v1/sleep/summary"),
    ]
    assert document["accessLog"][0]["pathDescription"] == "your HRV and resting HR (/api/v1/hrv/daily)"

    # Nothing of Ben's, and no secret of Anna's (tokens, hashes, sealed or plain vendor tokens).
    text = answer.text
    ben = world.ben.who
    assert ben["email"] not in text
    people = {value for key, value in walk(document) if key in {"userId", "athleteId", "subjectId"}}
    assert people == {anna["id"]}
    for secret in world.anna.secrets:
        assert secret not in text, secret
    with harness.runtime.sessions() as session:
        sealed = session.scalars(select(VendorConnection.access_token)).all()
    assert all(value and value not in text for value in sealed)
    secret_keys = re.compile(
        r"(token|password|state|browser|completion)Hash|codeVerifier|held(Code|Tokens)|(access|refresh)Token"
    )
    assert not any(secret_keys.fullmatch(key) for key, _ in walk(document))


def own_counts(session: Session, user_id: int) -> dict[str, int]:
    from sqlalchemy import func

    from perfhub.alerts.models import Alert
    from perfhub.auth.models import ApiToken, WebSession
    from perfhub.readiness.models import ReadinessSnapshotRow
    from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily

    def count(model: Any) -> int:
        return int(
            session.scalar(select(func.count()).select_from(model).where(model.user_id == user_id)) or 0
        )

    return {
        "apiTokens": count(ApiToken),
        "webSessions": count(WebSession),
        "hrvDays": count(HrvDaily),
        "sleepDays": count(SleepDaily),
        "readinessSnapshots": count(ReadinessSnapshotRow),
        "alerts": count(Alert),
        "rawEvents": count(RawEvent),
    }


def test_a_coach_exports_their_own_account(harness: Harness) -> None:
    world = build_world(harness)
    with session_scope(harness.runtime.sessions) as session:
        session.add(
            TeamInvitation(
                team_id=world.team_id,
                email="newcomer@example.org",
                invited_by_id=world.coach["id"],
                expires_at=utcnow() + timedelta(days=7),
            )
        )
    document = harness.client.get(f"{API}/me/export", headers=world.coach["headers"]).json()
    assert document["profile"]["role"] == "coach"
    assert document["teamsCoached"] == [
        {"teamId": world.team_id, "teamName": "Rowing", "addedAt": document["teamsCoached"][0]["addedAt"]}
    ]
    assert {i["email"] for i in document["invitationsSent"]} == {
        "newcomer@example.org",
        world.anna.who["email"],
        world.ben.who["email"],
    }
    # The reads they made; none of the athletes' readings.
    assert len(document["accessLog"]) == 4
    assert {e["actorId"] for e in document["accessLog"]} == {world.coach["id"]}
    for section in ("hrvDays", "sleepDays", "readinessSnapshots", "alerts", "rawEvents", "teamMemberships"):
        assert document[section] == [], section


# ---------------------------------------------------------------------------------------------
# Erasure
# ---------------------------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgres")
def test_erasure_leaves_nothing_but_its_record_and_nobody_elses_rows_change(harness: Harness) -> None:
    world = build_world(harness)
    anna, ben = world.anna.who, world.ben.who
    assert mentions(harness, anna["id"], anna["email"]), "the scan finds the person before"
    bens = mentions(harness, ben["id"], ben["email"])
    coachs = mentions(harness, world.coach["id"], world.coach["email"])

    assert harness.client.delete(f"{API}/me", headers=anna["headers"]).status_code == 204

    the_erasure_record(mentions(harness, anna["id"], anna["email"]), anna["id"], "/api/v1/me")
    assert mentions(harness, ben["id"], ben["email"]) == bens

    # The coach's reads of Anna and invitation to her went with her; the rest is as it was.
    def not_annas(rows: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
        return [row for row in rows if anna["id"] not in row[1] and anna["email"] not in row[1]]

    after = mentions(harness, world.coach["id"], world.coach["email"])
    assert not_annas(coachs) == not_annas(after) and len(after) < len(coachs)
    with harness.runtime.sessions() as session:
        assert session.get(Team, world.team_id) is not None
    # The token is gone with the person: a second erasure, or any request, is 401.
    again = harness.client.delete(f"{API}/me", headers=anna["headers"])
    assert again.status_code == 401 and again.json()["detail"] == "invalid token"
    assert harness.client.get(f"{API}/me", headers=anna["headers"]).status_code == 401
    # What the admin sees of it; the athlete's coach sees nothing of her any more.
    rows = harness.client.get(
        f"{API}/audit", params={"subjectId": anna["id"]}, headers=world.admin["headers"]
    )
    assert [(r["kind"], r["actorName"], r["actorRole"], r["signals"], r["path"]) for r in rows.json()] == [
        ("erasure", "a deleted account", "athlete", [], "/api/v1/me")
    ]
    trail = harness.client.get(f"{API}/audit", headers=world.coach["headers"]).json()
    assert len(trail) == 2 and {entry["subjectId"] for entry in trail} == {ben["id"]}
    answer = harness.client.get(
        f"{API}/hrv/daily", params={"userId": anna["id"]}, headers=world.coach["headers"]
    )
    assert answer.status_code == 404


def test_a_coach_erasing_themself_leaves_their_team_and_the_athletes_log(harness: Harness) -> None:
    world = build_world(harness)
    coach, anna = world.coach, world.anna.who
    assert harness.client.delete(f"{API}/me", headers=coach["headers"]).status_code == 204

    the_erasure_record(mentions(harness, coach["id"], coach["email"]), coach["id"], "/api/v1/me")
    with harness.runtime.sessions() as session:
        assert session.get(Team, world.team_id) is not None
        invitations = session.scalars(select(TeamInvitation).where(TeamInvitation.team_id == world.team_id))
        assert {(i.email, i.invited_by_id) for i in invitations} == {
            (anna["email"], None),
            (world.ben.who["email"], None),
        }
    # Anna still sees that her data was read, by an account that no longer exists.
    log = harness.client.get(f"{API}/audit", headers=anna["headers"]).json()
    assert [(e["actorId"], e["actorName"], e["actorRole"]) for e in log] == [
        (None, "a deleted account", "coach"),
        (None, "a deleted account", "coach"),
    ]
    teams = harness.client.get(f"{API}/me/export", headers=anna["headers"]).json()["teamMemberships"]
    assert [t["teamId"] for t in teams] == [world.team_id]


@pytest.fixture
def instant_retries() -> Iterator[None]:
    use_retry_policy(RetryPolicy(sleep=lambda _s: None))
    yield
    use_retry_policy(None)


def test_erasure_revokes_a_linked_wearable_at_the_vendor(settings: Settings, instant_retries: None) -> None:
    fake = FakeWhoop()
    with running_vendor_app(settings, fake) as harness:
        athlete = harness.user()
        link_athlete(harness, fake, athlete, fake.add_user())
        harness.drain()
        assert not fake.calls("/v2/user/access")
        assert harness.client.delete(f"{API}/me", headers=athlete["headers"]).status_code == 204
        assert [call.method for call in fake.calls("/v2/user/access")] == ["DELETE"]
        the_erasure_record(mentions(harness, athlete["id"], athlete["email"]), athlete["id"], "/api/v1/me")


def test_a_vendor_that_cannot_be_reached_does_not_stop_the_erasure(
    settings: Settings, instant_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeWhoop()
    with running_vendor_app(settings, fake) as harness:
        athlete = harness.user()
        link_athlete(harness, fake, athlete, fake.add_user())
        harness.drain()
        fake.outage_next(100, 503)
        with caplog.at_level(logging.WARNING, logger="perfhub.profile.erasure"):
            assert harness.client.delete(f"{API}/me", headers=athlete["headers"]).status_code == 204
        assert len(fake.calls("/v2/user/access")) == 2  # tried, with one retry
        assert [r.getMessage() for r in caplog.records if "not revoked" in r.getMessage()] == [
            f"erasure of user {athlete['id']}: whoop access not revoked at the vendor "
            "(VendorUnavailable: DELETE fake-whoop/developer/v2/user/access: HTTP 503 after 2 attempts); "
            "its tokens are deleted here"
        ]
        the_erasure_record(mentions(harness, athlete["id"], athlete["email"]), athlete["id"], "/api/v1/me")


def test_perfhub_user_erase(harness: Harness, settings: Settings, tmp_path: Path) -> None:
    world = build_world(harness)
    anna = world.anna.who
    bens = mentions(harness, world.ben.who["id"], world.ben.who["email"])
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": settings.database_url,
        "PERFHUB_VAR_DIR": str(settings.var_dir),
        "PERFHUB_SECRET_KEY": SECRET,
    }

    done = subprocess.run(
        [sys.executable, "-m", "perfhub.cli", "user", "erase", anna["email"].upper()],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"erased": anna["id"], "notRevokedAtVendor": []}
    the_erasure_record(mentions(harness, anna["id"], anna["email"]), anna["id"], "perfhub user erase")
    assert mentions(harness, world.ben.who["id"], world.ben.who["email"]) == bens
