"""A seeded pilot of 20 athletes, in zones from UTC−12 to UTC+14, with figures known by hand.

The period is 16 February – 1 March 2026 (14 days); the report is read on 3 March at 12:00 UTC,
when every day of it is over everywhere. Each night is captured (woken up) at 06:00 local.

- Athletes 0–13: readiness stored 20 minutes after the night (06:20 local), except athlete 0's
  last three nights (stored 26 hours late) and athlete 13's calibrating 20 February. Their
  snapshots were recomputed a day later: only the outbox's events tell that readiness was there
  before 07:00. Active 196, covered 195, before 07:00 192; HRV nights 193 × 20 min, 3 × 26 h.
- Athlete 14: readiness at 09:00 local, no outbox events (timed by ``computed_at``): 14, 14, 0;
  14 × 3 h.
- Athlete 15: a stale readiness at 05:00, the night at 08:50, readiness at 09:00: 14, 14, 0;
  14 × 3 h.
- Athletes 16–17: every night, readiness on every other day (06:30): 28, 14, 14; 14 × 30 min
  and 14 nights awaiting readiness.
- Athlete 18: linked since January, sends nothing: 14, 0, 0.
- Athlete 19: nights until 18 February (readiness 06:10), stale scores without a night after:
  9, 3, 3; 3 × 10 min.

In all: 275 active athlete-days, 240 covered (87.27 %), 209 before 07:00 (76.0 %); 255 HRV
nights, 241 stored, p50 20 min, p95 3 h, p99 26 h, 210 within the hour (82.35 %). The lowest
day is 19 February, 16 of 20.

Team "Pilot A" is athletes 0–9 (UTC−12 and UTC+14 among them): 140 athlete-days, all covered,
137 before 07:00; 140 nights, 137 within the hour, p95 20 min, p99 26 h.

Adherence, period: accepted 7 of 8, reverted 2 of 4, unadjusted 4 of 8 (13 of 20, 65 %);
baseline 19 January – 1 February: 5 of 10 (50 %) — 30 % better. OAuth: 3 links completed in the
period, 2 attempts failed (1 of them in the team). Dead letters: 6 in the period (3 the team's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.auth.service import create_user
from perfhub.core.db import session_scope
from perfhub.core.outbox import DATA_NORMALIZED, INSIGHTS_UPDATED, DeadLetter, OutboxRow
from perfhub.plans.models import PlannedSession, SessionAdjustment
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.teams.models import TeamMembershipSpan
from perfhub.teams.service import create_team, join_team
from perfhub.training.load import session_load
from perfhub.training.models import CompletedSession
from perfhub.wearables.models import OAuthState, VendorConnection

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
START, END = date(2026, 2, 16), date(2026, 3, 1)
BASELINE = (date(2026, 1, 19), date(2026, 2, 1))
FIRST_NIGHT = START - timedelta(days=6)
DAYS = [START + timedelta(days=n) for n in range(14)]
ZONES = [
    "Etc/GMT+12",  # UTC−12
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "UTC",
    "Europe/Oslo",
    "Asia/Kolkata",
    "Pacific/Chatham",  # UTC+13:45 in February
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Pago_Pago",
    "Africa/Nairobi",
    "Europe/London",
    "Asia/Singapore",
    "America/Denver",
    "Pacific/Tongatapu",
]
TEAM = range(10)
JOINED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Pilot:
    athletes: list[int] = field(default_factory=list)
    team_id: int = 0
    admin_token: str = ""
    coach_token: str = ""


def local(day: date, hour: int, minute: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _night(session: Session, user_id: int, day: date, wake: datetime) -> None:
    common = {"user_id": user_id, "date": day, "vendor": "oura", "captured_at": wake, "ingested_at": wake}
    session.add(HrvDaily(rmssd_ms=60.0, ln_rmssd=4.09, resting_hr=50.0, **common))
    session.add(SleepDaily(duration_min=450.0, **common))


def _snapshot(session: Session, user_id: int, day: date, computed: datetime, *, scored: bool = True) -> None:
    session.add(
        ReadinessSnapshotRow(
            user_id=user_id,
            date=day,
            algorithm_version=ALGORITHM_VERSION,
            score=72.0 if scored else None,
            band="normal" if scored else None,
            status="full" if scored else None,
            reason=None if scored else "calibrating",
            drivers=[],
            components=[],
            flags=[],
            baselines={},
            inputs_hash=f"{user_id}-{day}",
            computed_at=computed,
        )
    )


def _event(session: Session, user_id: int, day: date, kind: str, at: datetime) -> None:
    if kind == "readiness":
        subject = INSIGHTS_UPDATED
        payload: dict[str, Any] = {
            "userId": user_id,
            "dates": [day.isoformat()],
            "revised": False,
            "revisedDates": [],
            "algorithmVersion": ALGORITHM_VERSION,
        }
    else:
        subject = DATA_NORMALIZED
        payload = {"userId": user_id, "signals": ["hrv", "sleep"], "dates": [day.isoformat()]}
    row = OutboxRow(subject=subject, payload=payload, headers={}, user_id=user_id, created_at=at)
    row.published_at = at
    session.add(row)


def _nights(session: Session, index: int, user_id: int, tz: str) -> None:
    last = date(2026, 2, 18) if index == 19 else END
    day = FIRST_NIGHT
    while day <= last:
        wake = local(day, 6, 0, tz)
        _night(session, user_id, day, wake)
        if day >= START:
            _readiness(session, index, user_id, tz, day, wake)
        day += timedelta(days=1)
    if index == 19:  # scored (stale) snapshots after the data stopped, and no night
        for day in DAYS[3:9]:
            _snapshot(session, user_id, day, local(day, 5, 0, tz))
            _event(session, user_id, day, "readiness", local(day, 5, 0, tz))


def _readiness(session: Session, index: int, user_id: int, tz: str, day: date, wake: datetime) -> None:
    if index <= 13:
        _event(session, user_id, day, "night", wake + timedelta(minutes=10))
        late = index == 0 and day >= date(2026, 2, 27)
        stored = wake + (timedelta(hours=26) if late else timedelta(minutes=20))
        _event(session, user_id, day, "readiness", stored)
        # Recomputed since (late data changed the day's inputs): computed_at says nothing of when.
        calibrating = index == 13 and day == date(2026, 2, 20)
        _snapshot(session, user_id, day, wake + timedelta(days=1), scored=not calibrating)
    elif index == 14:
        _snapshot(session, user_id, day, wake + timedelta(hours=3))
    elif index == 15:
        _event(session, user_id, day, "readiness", local(day, 5, 0, tz))  # before the night came
        _event(session, user_id, day, "night", local(day, 8, 50, tz))
        _event(session, user_id, day, "readiness", local(day, 9, 0, tz))
        _snapshot(session, user_id, day, wake + timedelta(days=1))
    elif index in (16, 17):
        _event(session, user_id, day, "night", wake + timedelta(minutes=10))
        if (day - START).days % 2 == 0:
            _event(session, user_id, day, "readiness", wake + timedelta(minutes=30))
            _snapshot(session, user_id, day, wake + timedelta(minutes=30))
    elif index == 19:
        _event(session, user_id, day, "night", wake + timedelta(minutes=5))
        _event(session, user_id, day, "readiness", wake + timedelta(minutes=10))
        _snapshot(session, user_id, day, wake + timedelta(minutes=10))


def _session(
    session: Session,
    athlete: int,
    day: date,
    *,
    status: str | None = None,
    done: tuple[float, float] | None = None,
) -> None:
    """A hard 60-minute session; an adjustment (``status``) would make it easy, 35 minutes."""
    row = PlannedSession(athlete_id=athlete, date=day, sport="run", title="run", type="hard", duration_min=60)
    session.add(row)
    session.flush()
    if status is not None:
        original = {"type": "hard", "durationMin": 60, "intensity": None, "plannedLoad": None}
        session.add(
            SessionAdjustment(
                session_id=row.id,
                athlete_id=athlete,
                status=status,
                rule="low",
                original=original,
                adjusted={**original, "type": "easy", "durationMin": 35},
                diff=[],
                reasons=[],
                snapshot_date=day,
                algorithm_version=ALGORITHM_VERSION,
                basis_hash="x",
            )
        )
    if done is not None:
        minutes, rpe = done
        session.add(
            CompletedSession(
                athlete_id=athlete,
                date=day,
                sport="run",
                duration_min=minutes,
                rpe=rpe,
                load=session_load(rpe, minutes),
                planned_session_id=row.id,
                source="manual",
            )
        )


HARD, EASY = (60.0, 7.0), (35.0, 3.0)


def _plans(session: Session, ids: list[int]) -> None:
    for n in range(10):  # baseline: 5 of 10 kept
        _session(session, ids[2], BASELINE[0] + timedelta(days=n), done=HARD if n < 5 else None)
    for n in range(8):  # accepted: 7 of 8 kept
        day = START + timedelta(days=n)
        _session(session, ids[3], day, status="accepted", done=EASY if n < 7 else None)
    for n in range(4):  # reverted: 2 of 4 kept; the other two did the adjusted session instead
        day = START + timedelta(days=8 + n)
        _session(session, ids[3], day, status="reverted", done=HARD if n < 2 else EASY)
    for n in range(8):  # unadjusted: 4 of 8 kept
        _session(session, ids[4], START + timedelta(days=n), done=HARD if n % 2 == 0 else None)


def _links(session: Session, ids: list[int]) -> None:
    def connection(index: int, vendor: str, linked: datetime, **extra: Any) -> None:
        session.add(
            VendorConnection(
                user_id=ids[index],
                vendor=vendor,
                status=extra.pop("status", "linked"),
                vendor_user_id=f"{vendor}-{index}",
                linked_at=linked,
                **extra,
            )
        )

    connection(18, "oura", datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    first = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
    for index in range(3):
        connection(index, "whoop", first + timedelta(minutes=index))
    connection(
        5,
        "oura",
        datetime(2026, 2, 1, tzinfo=UTC),
        status="revoked",
        status_reason="unlinked",
        revoked_at=datetime(2026, 2, 10, tzinfo=UTC),
    )

    def attempt(index: int, used: datetime | None, expires: datetime, vendor: str = "oura") -> None:
        state = f"state-{index}-{expires.isoformat()}"
        session.add(
            OAuthState(state_hash=state, user_id=ids[index], vendor=vendor, used_at=used, expires_at=expires)
        )

    done = first + timedelta(milliseconds=2)
    attempt(0, done, done + timedelta(minutes=8), "whoop")  # the link it made
    refused = datetime(2026, 2, 21, 10, 0, tzinfo=UTC)
    attempt(6, refused, refused + timedelta(minutes=5))  # refused: nothing linked
    attempt(12, None, datetime(2026, 2, 22, 8, 0, tzinfo=UTC))  # left unfinished
    attempt(7, None, NOW + timedelta(minutes=5))  # still open
    attempt(8, datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 2, 10, 0, 9, tzinfo=UTC))  # before


def _dead_letters(session: Session, ids: list[int]) -> None:
    def letter(consumer: str, reason: str, at: datetime, user: int | None, replayed: bool = False) -> None:
        session.add(
            DeadLetter(
                subject="vendor.webhook.received",
                consumer=consumer,
                payload={},
                reason=reason,
                user_id=user,
                created_at=at,
                replayed_at=at if replayed else None,
            )
        )

    base = datetime(2026, 2, 20, 10, 0, tzinfo=UTC)
    for n in range(3):
        letter("ingest", "VendorError: oura answered 503", base + timedelta(hours=n), ids[1], n == 0)
    refused = "refused part of hrv: oura sleep 7: the hrv payload for 2026-02-20 does not validate"
    for n in range(2):
        letter("normalize", refused, base + timedelta(days=1, hours=n), ids[16])
    letter("insights", "=cmd|' /C calc'!A0: boom", base + timedelta(days=5), None)
    letter("ingest", "VendorError: before the period", datetime(2026, 2, 10, tzinfo=UTC), ids[1])


def seed_pilot(sessions: sessionmaker[Session]) -> Pilot:
    pilot = Pilot()
    with session_scope(sessions) as session:
        _, pilot.admin_token = create_user(session, "admin@example.org", "admin")
        coach, pilot.coach_token = create_user(session, "coach@example.org", "coach")
        team = create_team(session, "Pilot A", coach)
        pilot.team_id = team.id
        people: list[User] = []
        for index, tz in enumerate(ZONES):
            athlete, _ = create_user(session, f"athlete{index}@example.org", "athlete", tz=tz)
            people.append(athlete)
            if index in TEAM:
                join_team(session, team.id, athlete, set())
        # They have been in the team since before the baseline, not since the test ran.
        session.execute(
            update(TeamMembershipSpan).where(TeamMembershipSpan.team_id == team.id).values(joined_at=JOINED)
        )
        pilot.athletes = [athlete.id for athlete in people]
        for index, athlete in enumerate(people):
            if index != 18:
                _nights(session, index, athlete.id, athlete.tz)
        _plans(session, pilot.athletes)
        _links(session, pilot.athletes)
        _dead_letters(session, pilot.athletes)
    return pilot
