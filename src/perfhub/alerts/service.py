"""Sleep-debt nudges and the athlete's alert preferences."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from perfhub.alerts.models import Alert, AlertPreference
from perfhub.core.db import one_of
from perfhub.pipeline.events import InsightsUpdated, SleepDebtNight

SLEEP_DEBT = "sleep_debt"
NUDGE_CATEGORIES = {"moderate": "warning", "high": "critical"}
SEVERITY_RANK = {"warning": 1, "critical": 2}
# A debt that stays at one level is mentioned again after this many nights, not every night.
REMIND_AFTER_NIGHTS = 3


def preferences(session: Session, user_id: int) -> AlertPreference:
    pref = session.get(AlertPreference, user_id)
    return pref if pref is not None else AlertPreference(user_id=user_id, sleep_debt=True)


def set_preferences(session: Session, user_id: int, *, sleep_debt: bool) -> AlertPreference:
    pref = session.get(AlertPreference, user_id)
    if pref is None:
        pref = AlertPreference(user_id=user_id, sleep_debt=sleep_debt)
        session.add(pref)
    pref.sleep_debt = sleep_debt
    session.flush()
    return pref


def sleep_debt_message(hours: float, category: str) -> str:
    return (
        f"Sleep debt {hours:.1f} h ({category}) over the last 14 nights. "
        "An earlier bedtime for the next few nights pays it back."
    )


def nudge_sleep_debt(session: Session, updates: Sequence[InsightsUpdated]) -> None:
    """Nudge when sleep debt reaches moderate or high, if the athlete wants it.

    Only the newest night (today's or yesterday's, as of the recompute) nudges, so recomputing
    history never sends a stale alert. At most one nudge per night (the unique key makes replays
    harmless); a debt that stays at the same level is repeated only after
    ``REMIND_AFTER_NIGHTS``, while a rise from moderate to high nudges at once. Updates are
    taken in order, as if one by one: an earlier one's nudge counts for a later one's.
    """
    due: list[tuple[int, SleepDebtNight]] = [
        (update.user_id, debt)
        for update in updates
        if (debt := update.sleep_debt) is not None
        and debt.category in NUDGE_CATEGORIES
        and debt.night >= debt.today - timedelta(days=1)
    ]
    if not due:
        return
    # Two queries for the whole batch, not two per athlete.
    ids = [user_id for user_id, _ in due]
    dialect = session.get_bind().dialect.name
    opted_out = set(
        session.scalars(
            select(AlertPreference.user_id).where(
                one_of(AlertPreference.user_id, ids, dialect), AlertPreference.sleep_debt.is_(False)
            )
        )
    )
    earliest = min(debt.night for _, debt in due)
    recent: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for user_id, day, severity in session.execute(
        select(Alert.user_id, Alert.date, Alert.severity).where(
            one_of(Alert.user_id, ids, dialect),
            Alert.kind == SLEEP_DEBT,
            Alert.date >= earliest - timedelta(days=REMIND_AFTER_NIGHTS),
        )
    ):
        recent[user_id].append((day, severity))
    rows = []
    for user_id, debt in due:
        if user_id in opted_out:
            continue
        night, severity = debt.night, NUDGE_CATEGORIES[debt.category]
        if any(
            night - timedelta(days=REMIND_AFTER_NIGHTS) <= day < night
            and SEVERITY_RANK.get(earlier, 0) >= SEVERITY_RANK[severity]
            for day, earlier in recent[user_id]
        ):
            continue
        if any(day == night for day, _ in recent[user_id]):
            continue  # this night has its nudge (the insert would skip it anyway)
        recent[user_id].append((night, severity))
        rows.append(
            {
                "user_id": user_id,
                "kind": SLEEP_DEBT,
                "date": night,
                "severity": severity,
                "message": sleep_debt_message(debt.hours, debt.category),
            }
        )
    if not rows:
        return
    table = cast(Table, Alert.__table__)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # Rows passed separately: one cached statement, not a new multi-VALUES compile per batch.
    session.execute(insert(table).on_conflict_do_nothing(index_elements=["user_id", "kind", "date"]), rows)


def list_alerts(session: Session, user_id: int, limit: int = 100) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.user_id == user_id)
            .order_by(Alert.date.desc(), Alert.id.desc())
            .limit(limit)
        )
    )
