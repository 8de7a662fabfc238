"""Weekly insights over HTTP: an athlete's own week, and a team's for its coaches (docs/weekly.md).

The athlete reads their own summaries. A team's are read by its coaches and admins, decided for
the whole team in one policy statement (an athlete of the team: 403; anyone else: 404); each
athlete's figures and sentences are cut to the signals they share, the others are null and named
in ``hidden``, and every athlete something was disclosed of gets one audit row, all written in
one INSERT in the read's transaction.

A week is asked for as ``YYYY-Www`` (ISO); by default the latest week that is due (over, and past
06:00 on the Monday after it) in the reader's own zone. A due week not stored yet is made by the
read that asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import EARLIEST_DATE, LATEST_DATE
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound, Unprocessable
from perfhub.insights.models import WeeklyInsight
from perfhub.insights.service import DUE_AT, due, last_due_week, refresh_week, stored_weeks
from perfhub.insights.weekly import FIGURE_SIGNALS, READINESS_DROP, iso_week, parse_week
from perfhub.privacy.deps import AthleteRead, ReadRequest, TeamRead, TeamReadRequest
from perfhub.privacy.policy import audit_team_read, visible_flags
from perfhub.readiness.team_table import team_members
from perfhub.teams.schemas import SIGNALS

router = APIRouter(tags=["insights"])

OwnWeekRead = Annotated[ReadRequest, AthleteRead(signals=SIGNALS, own=True)]
TeamWeekRead = Annotated[TeamReadRequest, TeamRead(signals=SIGNALS)]
WeekQuery = Query(
    max_length=20,
    description="an ISO week, YYYY-Www (default: the latest week that is over, from 06:00 on the "
    "Monday after it in the athlete's own time zone)",
)

# Sentences that are not a reason for a drop: the drop itself and the fallbacks.
_NOT_A_REASON = frozenset({"readiness_down", "steady", "too_little_data"})


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class SentenceOut(_Out):
    rule: str = Field(description="the rule that chose it (docs/weekly.md#rules)")
    text: str
    signals: list[str] = Field(description="the signals its numbers come from")
    cites: dict[str, Any] = Field(description="the figures it cites, by name")


class WeeklyOut(_Out):
    week: str = Field(description="ISO week, YYYY-Www")
    from_: date = Field(alias="from", description="its Monday, in the athlete's calendar")
    to: date = Field(description="its Sunday")
    computed_at: datetime = Field(alias="computedAt")
    figures: dict[str, Any] = Field(
        description="readiness, hrv, restingHr, sleep, load, adherence (docs/weekly.md#figures)"
    )
    sentences: list[SentenceOut] = Field(description="one to three, in the rules' order")


class AthleteWeekOut(_Out):
    athlete_id: int = Field(alias="athleteId")
    name: str
    status: str = Field(description="ready | pending (the week is not over in the athlete's zone yet)")
    computed_at: datetime | None = Field(alias="computedAt")
    figures: dict[str, Any] | None = Field(description="each group null when its signal is hidden")
    sentences: list[SentenceOut] = Field(description="the sentences whose signals the athlete shares")
    trended_down: bool | None = Field(
        alias="trendedDown", description=f"readiness fell {READINESS_DROP:g} points or more (null: unknown)"
    )
    why: list[str] = Field(description="when it fell: the other rules that fired (the reasons shown)")
    flags: dict[str, int] = Field(description="days each visible flag was raised")
    hidden: list[str] = Field(description="signals the athlete does not share with you")


class TeamWeeklyOut(_Out):
    team_id: int = Field(alias="teamId")
    week: str
    athletes: list[AthleteWeekOut] = Field(description="the team's athletes, by name")


def _week(raw: str | None, tz: str, now: datetime) -> date:
    if raw is None:
        return last_due_week(tz, now)
    try:
        monday = parse_week(raw)
    except ValueError as exc:
        raise Unprocessable(
            f"week must be an ISO week as YYYY-Www, got {raw!r}",
            [{"loc": ["query", "week"], "msg": "invalid ISO week"}],
        ) from exc
    if not EARLIEST_DATE <= monday <= LATEST_DATE:
        raise Unprocessable(
            f"week must lie between {EARLIEST_DATE.year} and {LATEST_DATE.year}",
            [{"loc": ["query", "week"], "msg": "out of range"}],
        )
    return monday


def _summary(
    session: Session, user: User, monday: date, now: datetime, have: WeeklyInsight | None
) -> WeeklyInsight:
    return have if have is not None else refresh_week(session, user, monday, now)


@router.get("/insights/weekly", response_model=WeeklyOut, response_model_by_alias=True)
def weekly(uow: UowDep, read: OwnWeekRead, week: Annotated[str | None, WeekQuery] = None) -> WeeklyOut:
    """Your weekly summary: readiness trend and band days, HRV against the normal range, resting
    HR, sleep and sleep debt, training load against the previous four weeks, adherence, and one to
    three sentences chosen by rules from them. 404 for a week that is not over yet."""
    now = datetime.now(UTC)
    with uow() as session:
        access = read.authorize(session)
        user = access.subject
        monday = _week(week, user.tz, now)
        if not due(user.tz, monday, now):
            raise NotFound(
                f"week {iso_week(monday)} is summarised from {DUE_AT:%H:%M} on the Monday after it",
                reason="not_due",
            )
        row = _summary(
            session, user, monday, now, stored_weeks(session, [user.id], iso_week(monday)).get(user.id)
        )
        return WeeklyOut.model_validate(_own(row))


def _own(row: WeeklyInsight) -> dict[str, Any]:
    return {
        "week": row.week,
        "from": row.figures["from"],
        "to": row.figures["to"],
        "computedAt": row.computed_at,
        "figures": row.figures,
        "sentences": row.sentences,
    }


@router.get("/teams/{teamId}/insights/weekly", response_model=TeamWeeklyOut, response_model_by_alias=True)
def team_weekly(
    uow: UowDep, read: TeamWeekRead, week: Annotated[str | None, WeekQuery] = None
) -> TeamWeeklyOut:
    """Each athlete's weekly summary as they share it with you: who trended down and why, the
    flags raised, adherence. Signals not shared are null and named in `hidden`; an athlete whose
    week is not over yet in their own zone is `pending`. `week` defaults to the latest week that
    is over in your zone."""
    now = datetime.now(UTC)
    with uow() as session:
        access = read.authorize(session)
        monday = _week(week, read.viewer.tz, now)
        label = iso_week(monday)
        members = team_members(session, access)
        have = stored_weeks(session, [m.id for m in members if m.granted], label)
        users = {m.id: session.get(User, m.id) for m in members if m.granted and m.id not in have}
        athletes: list[dict[str, Any]] = []
        disclosed: dict[int, set[str]] = {}
        for member in members:
            user = users.get(member.id)
            row = have.get(member.id)
            if row is None and user is not None and due(user.tz, monday, now):
                row = refresh_week(session, user, monday, now)
            shown, signals = _team_entry(member.id, member.name, member.granted, row)
            athletes.append(shown)
            disclosed[member.id] = signals
        audit_team_read(session, read.viewer, disclosed, read.path)
        return TeamWeeklyOut.model_validate({"teamId": read.team_id, "week": label, "athletes": athletes})


def _team_entry(
    athlete_id: int, name: str, granted: frozenset[str], row: WeeklyInsight | None
) -> tuple[dict[str, Any], set[str]]:
    """One athlete's week cut to ``granted``, and the signals it discloses."""
    hidden = [signal for signal in SIGNALS if signal not in granted]
    entry: dict[str, Any] = {
        "athleteId": athlete_id,
        "name": name,
        "status": "pending" if row is None else "ready",
        "computedAt": None,
        "figures": None,
        "sentences": [],
        "trendedDown": None,
        "why": [],
        "flags": {},
        "hidden": hidden,
    }
    if row is None or not granted:
        return entry, set()
    disclosed: set[str] = set()
    figures: dict[str, Any] = {key: row.figures[key] for key in ("week", "from", "to", "daysWithData")}
    for group, signal in FIGURE_SIGNALS.items():
        figures[group] = row.figures[group] if signal in granted else None
        if signal in granted:
            disclosed.add(signal)
    sentences = [s for s in row.sentences if set(s["signals"]) <= granted]
    if "readiness" in granted:
        readiness = dict(row.figures["readiness"])
        flags, flag_signals = _flags(granted, readiness["flagDays"])
        readiness["flagDays"] = flags
        figures["readiness"] = readiness
        entry["flags"] = flags
        disclosed |= flag_signals
        change = readiness["change"]
        entry["trendedDown"] = None if change is None else change <= -READINESS_DROP
        if entry["trendedDown"]:
            entry["why"] = [s["rule"] for s in sentences if s["rule"] not in _NOT_A_REASON]
    entry.update(computedAt=row.computed_at, figures=figures, sentences=sentences)
    return entry, disclosed


def _flags(granted: frozenset[str], days: Mapping[str, int]) -> tuple[dict[str, int], frozenset[str]]:
    shown, signals = visible_flags(granted, tuple(days))
    return {code: days[code] for code in shown}, signals
