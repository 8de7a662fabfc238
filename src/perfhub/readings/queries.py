"""Reads of canonical daily data: one winning source per day and signal."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.readings.mapping import pick_by_priority
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.settings import DEFAULT_SOURCE_PRIORITY

Daily = TypeVar("Daily", HrvDaily, SleepDaily)


def source_priority(user: User) -> tuple[str, ...]:
    return tuple(user.source_priority or DEFAULT_SOURCE_PRIORITY)


def _winning(session: Session, model: type[Daily], user: User, start: date, end: date) -> list[Daily]:
    rows = session.scalars(
        select(model).where(model.user_id == user.id, model.date >= start, model.date <= end)
    )
    by_date: dict[date, dict[str, Daily]] = defaultdict(dict)
    for row in rows:
        by_date[row.date][row.vendor] = row
    priority = source_priority(user)
    return [pick_by_priority(by_date[day], priority) for day in sorted(by_date)]


def hrv_days(session: Session, user: User, start: date, end: date) -> list[HrvDaily]:
    return _winning(session, HrvDaily, user, start, end)


def sleep_days(session: Session, user: User, start: date, end: date) -> list[SleepDaily]:
    return _winning(session, SleepDaily, user, start, end)
