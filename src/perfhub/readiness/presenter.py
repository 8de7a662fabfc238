"""Readiness as one reader may see it: the answer of ``GET /readiness/today`` and of the today page.

Both read today through :func:`today_readiness` and word a snapshot through
:func:`readiness_out`, so the page can never show more (or other) than the API would answer
the same person. What only the page explains — how many HRV nights a calibrating athlete has,
when the last reading arrived — is :func:`no_score_detail`, cut down to the viewer's grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from perfhub.core.dates import local_today
from perfhub.privacy.disclosure import Detail
from perfhub.privacy.policy import Access, ShownDriver, disclose_flags, disclose_readiness
from perfhub.readiness import queries
from perfhub.readiness.engine import build_batch, compute_batch, driver_from_json, render, render_plain
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.schemas import ComponentOut, ReadinessOut
from perfhub.readiness.service import ensure_today

# Why there is no score today (the ``reason`` of the API's 404), in one sentence.
REASON_TEXT = {
    "calibrating": "Readiness is calibrating: it needs at least 4 nights of HRV.",
    "no_data": "No HRV, resting HR or sleep data yet.",
    "no_recent_data": "No data for more than 7 days.",
}


def driver_sentence(driver: ShownDriver) -> str:
    if driver.detail is Detail.PLAIN:
        return render_plain(driver.fact["code"])
    return render(driver_from_json(driver.fact))


def readiness_out(access: Access, row: ReadinessSnapshotRow) -> ReadinessOut:
    """A scored snapshot with its drivers and components cut down to what ``access`` may see."""
    shown = disclose_readiness(access, row.drivers, row.components)
    return ReadinessOut(
        readiness=round(row.score or 0),
        drivers=[driver_sentence(d) for d in shown.drivers],
        updated_at=row.computed_at,
        date=row.date,
        band=row.band or "",
        status=row.status or "",
        stale=row.stale,
        components=[ComponentOut(**c) for c in shown.components],
        algorithm_version=row.algorithm_version,
        driver_facts=[d.fact for d in shown.drivers],
        flags=disclose_flags(access, row.flags or []),
        hidden=shown.withheld,
    )


@dataclass(frozen=True)
class TodayReadiness:
    """The subject's local today: its readiness, or (``readiness`` None) the ``reason`` there is none."""

    date: date
    readiness: ReadinessOut | None
    reason: str = ""  # a key of REASON_TEXT when there is no score


def today_readiness(session: Session, access: Access) -> TodayReadiness:
    """Today's readiness of ``access.subject``, materialised first if no event has produced it."""
    subject = access.subject
    today = local_today(subject.tz)
    # One query on the usual path, where the pipeline has stored today's snapshot already.
    row = queries.snapshot_on(session, subject.id, today)
    if row is None:
        today = ensure_today(session, subject)
        row = queries.snapshot_on(session, subject.id, today)
    if row is not None and row.score is not None:
        return TodayReadiness(today, readiness_out(access, row))
    return TodayReadiness(today, None, queries.no_score_reason(session, access.subject.id, row))


# The flags in words, for pages (docs/readiness.md#flags); the API serves the codes.
FLAG_LABELS = {
    "illness": "Possible illness or strain",
    "hrv_below_range": "HRV below normal range",
    "hrv_unusually_high": "HRV unusually high",
    "overreaching": "Possible overreaching",
    "sleep_debt": "Sleep debt",
    "load_spike": "Training load spike",
    "stale": "Old data",
    "calibrating": "Calibrating",
    "no_recent_data": "No recent data",
}


def flag_label(code: str) -> str:
    return FLAG_LABELS.get(code, code.replace("_", " ").capitalize())


def visible_flags(readiness: ReadinessOut) -> list[str]:
    """The day's stored flags the reader may see (``readiness.flags``, already cut), as labels."""
    return [flag_label(code) for code in readiness.flags]


@dataclass(frozen=True)
class NoScoreDetail:
    """What explains a missing score, where the viewer may see the signal it comes from."""

    hrv_nights: int | None = None  # valid HRV nights in the current baseline segment, up to today
    last_data: date | None = None  # the newest day with any reading, up to today


def no_score_detail(session: Session, access: Access, today: date, reason: str) -> NoScoreDetail:
    """How far calibration has come, or when data last arrived; only what ``access`` grants.

    The engine counts the nights (its segments decide which count), on the subject's own
    readings: a day with no score is rare and the athlete has little history then, so one
    athlete's batch is cheap.
    """
    wants_nights = reason == "calibrating" and "hrv" in access.granted
    wants_last = reason == "no_recent_data" and {"hrv", "sleep"} <= access.granted
    if not (wants_nights or wants_last):
        return NoScoreDetail()
    (series,) = queries.load_athletes(session, [access.subject])
    first = series.first_day()
    if first is None or first > today:
        return NoScoreDetail()
    if wants_nights:
        result = compute_batch(build_batch([series], first, today))
        access.disclosed({"hrv"})
        return NoScoreDetail(hrv_nights=int(result.hrv_days[0, -1]))
    ordinal = today.toordinal()
    latest = [
        int(days[days <= ordinal].max())
        for days in (series.hrv["day"], series.sleep["day"])
        if (days <= ordinal).any()
    ]
    access.disclosed({"hrv", "sleep"})
    return NoScoreDetail(last_data=date.fromordinal(max(latest)) if latest else None)
