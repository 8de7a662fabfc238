"""Weekly summaries as a reader sees them, for the API and the pages alike (docs/weekly.md#who-reads-what).

The athlete sees their own week whole. A coach sees each athlete's week cut to what that athlete
shares: a figure group whose signal is not granted is None, only the sentences whose signals are
all granted are kept, and flags follow :func:`perfhub.privacy.policy.visible_flags`. What each
cut discloses is returned for the audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import EARLIEST_DATE, LATEST_DATE
from perfhub.core.errors import NotFound, Unprocessable
from perfhub.insights.models import WeeklyInsight
from perfhub.insights.sentences import READINESS_DROP
from perfhub.insights.service import DUE_AT, due, last_due_week, refresh_week, stored_weeks
from perfhub.insights.weekly import FIGURE_SIGNALS, iso_week, parse_week
from perfhub.privacy.policy import TeamAccess, visible_flags
from perfhub.readiness.team_table import team_members
from perfhub.teams.schemas import SIGNALS

__all__ = ["TeamWeek", "own_week", "parse_week_query", "team_week"]

# Sentences that are not a reason for a drop: the drop itself and the fallbacks.
_NOT_A_REASON = frozenset({"readiness_down", "steady", "too_little_data"})


def parse_week_query(raw: str | None, tz: str, now: datetime) -> date:
    """The Monday of the ``week`` asked for (422 if it is not one); by default the latest week
    that is due in zone ``tz``."""
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


def own_week(session: Session, user: User, monday: date, now: datetime) -> dict[str, Any]:
    """The athlete's own summary of the week of ``monday``, made now if it is due and not stored
    yet; 404 (``reason: not_due``) for a week that is not due."""
    if not due(user.tz, monday, now):
        raise NotFound(
            f"week {iso_week(monday)} is summarised from {DUE_AT:%H:%M} on the Monday after it",
            reason="not_due",
        )
    row = stored_weeks(session, [user.id], iso_week(monday)).get(user.id)
    if row is None:
        row = refresh_week(session, user, monday, now)
    return {
        "week": row.week,
        "from": row.figures["from"],
        "to": row.figures["to"],
        "computedAt": row.computed_at,
        "figures": row.figures,
        "sentences": row.sentences,
    }


@dataclass(frozen=True)
class TeamWeek:
    week: str
    athletes: list[dict[str, Any]]
    disclosed: dict[int, set[str]]  # per athlete, the signals the entries let through


def team_week(session: Session, access: TeamAccess, monday: date, now: datetime) -> TeamWeek:
    """Every athlete of the team the viewer may know of, by name, with their week as shared; the
    weeks that are due in the athlete's own zone and not stored yet are made now. Nothing is read
    or made for an athlete who shares nothing."""
    label = iso_week(monday)
    members = team_members(session, access)
    readable = [m.id for m in members if m.granted]
    have = stored_weeks(session, readable, label)
    athletes: list[dict[str, Any]] = []
    disclosed: dict[int, set[str]] = {}
    for member in members:
        row = have.get(member.id)
        if row is None and member.granted:
            user = session.get(User, member.id)
            if user is not None and due(user.tz, monday, now):
                row = refresh_week(session, user, monday, now)
        entry, signals = team_entry(member.id, member.name, member.granted, row)
        athletes.append(entry)
        disclosed[member.id] = signals
    return TeamWeek(label, athletes, disclosed)


def team_entry(
    athlete_id: int, name: str, granted: frozenset[str], row: WeeklyInsight | None
) -> tuple[dict[str, Any], set[str]]:
    """One athlete's week cut to ``granted``, and the signals it discloses."""
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
        "hidden": [signal for signal in SIGNALS if signal not in granted],
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
