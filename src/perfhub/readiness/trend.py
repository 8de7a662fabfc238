"""One athlete's days for a coach's drill-in: readiness, HRV against its range, resting HR against
its baseline, sleep and sleep debt — each signal shown only when shared, like the team table.

Nothing is derived here: the judgments come from the engine (stored snapshots for readiness,
band and flags; :func:`~perfhub.readiness.service.hrv_baselines` for the normal range and the
resting-HR baseline; :func:`~perfhub.readiness.service.sleep_debt_days` for the debt) and the
night's numbers from the day's highest-ranked source, as ``/hrv/daily`` and ``/sleep/summary``
choose them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from perfhub.core.dates import DateRange
from perfhub.privacy.policy import Access, visible_flags
from perfhub.readiness.queries import snapshot_days
from perfhub.readiness.service import hrv_baselines, sleep_debt_days
from perfhub.readiness.team_table import TABLE_SIGNALS
from perfhub.readings.queries import source_priority, winning_hrv, winning_sleep

__all__ = ["TREND_SIGNALS", "trend_days"]

TREND_SIGNALS = TABLE_SIGNALS

Day = dict[str, Any]


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def trend_days(session: Session, access: Access, span: DateRange) -> list[Day]:
    """Every day of ``span`` (oldest first), with the fields of each signal ``access`` lacks null.

    A signal that is not granted is not even read."""
    subject, granted = access.subject, access.granted
    days: list[Day] = [{"date": day} for day in span.days()]
    by_date = {day["date"]: day for day in days}
    if "readiness" in granted:
        snapshots = snapshot_days(session, [subject.id], span.start, span.end)
        for (_, on), snap in snapshots.items():
            by_date[on].update(
                readiness=None if snap.score is None else int(snap.score),
                band=snap.band,
                status=snap.status,
                stale=snap.stale,
                flags=visible_flags(granted, snap.flags)[0],
            )
    priority = {subject.id: source_priority(subject)}
    if "hrv" in granted:
        for (_, on), night in winning_hrv(session, priority, span.start, span.end).items():
            by_date[on].update(lnRMSSD=_rounded(night.ln_rmssd, 4), restingHr=night.resting_hr)
        for baseline in hrv_baselines(session, subject, span.start, span.end):
            by_date[baseline.date].update(
                normalLow=_rounded(baseline.normal_low, 4),
                normalHigh=_rounded(baseline.normal_high, 4),
                restingHrBaseline=_rounded(baseline.resting_hr_baseline, 2),
            )
    if "sleep" in granted:
        for (_, on), sleep in winning_sleep(session, priority, span.start, span.end).items():
            by_date[on].update(sleepMin=sleep.duration_min, efficiencyPct=sleep.efficiency_pct)
        for debt in sleep_debt_days(session, subject, span.start, span.end):
            by_date[debt.date].update(sleepDebtHours=debt.debt_hours, sleepDebtCategory=debt.category)
    return days
