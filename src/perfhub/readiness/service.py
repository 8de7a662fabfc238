"""Readiness snapshots: compute with the pure engine, persist what changed, announce it.

The same path serves one athlete after an event and every athlete in a batch recompute:
load → :func:`build_batch` → :func:`compute_batch` (vectorised) → materialise the days that
may have changed → upsert those whose inputs changed → ``insights.updated``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import local_today
from perfhub.core.db import one_of, utcnow
from perfhub.core.upsert import upsert
from perfhub.pipeline.events import InsightsUpdated, SleepDebtNight, publish_all
from perfhub.readiness.engine import (
    ALGORITHM_VERSION,
    DEBT_CATEGORIES,
    AthleteSeries,
    ReadinessArrays,
    ReadinessSnapshot,
    SeriesBatch,
    build_batch,
    category_for,
    compute_batch,
    compute_debt,
    driver_to_json,
    flag_bits,
    flags_mask,
    inputs_hashes,
    snapshot,
)
from perfhub.readiness.engine.rules import MEMORY_DAYS
from perfhub.readiness.engine.sleep_debt import DEBT_WINDOW, NEED_WINDOW
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.queries import WindowedSeries, load_athletes, read_from, window_start
from perfhub.readings.models import HrvDaily, SleepDaily

# The announced debt is rounded as snapshots store their numbers (engine/snapshot.py): the last
# bits of a window sum depend on where the batch starts, and the event must not.
DEBT_DECIMALS = 9


@dataclass
class AthleteUpdate:
    user_id: int
    today: date
    changed: list[date] = field(default_factory=list)
    revised: list[date] = field(default_factory=list)
    # The newest night with sleep data and the sleep debt on it, for the nudge.
    latest_night: date | None = None
    latest_debt_hours: float | None = None
    latest_debt_category: str | None = None

    def sleep_debt(self) -> SleepDebtNight | None:
        if self.latest_night is None or self.latest_debt_hours is None or self.latest_debt_category is None:
            return None
        return SleepDebtNight(
            self.latest_night, self.latest_debt_hours, self.latest_debt_category, self.today
        )

    def announcement(self, with_sleep_debt: bool) -> InsightsUpdated | None:
        """``insights.updated`` for this athlete, if anything changed or the debt is reported."""
        debt = self.sleep_debt() if with_sleep_debt else None
        if not self.changed and debt is None:
            return None
        return InsightsUpdated(
            self.user_id, tuple(self.changed), tuple(self.revised), ALGORITHM_VERSION, debt
        )


def snapshot_row(user_id: int, snap: ReadinessSnapshot) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "date": snap.date,
        "algorithm_version": snap.algorithm_version,
        "score": None if snap.score is None else float(snap.score),
        "band": snap.band,
        "status": snap.status,
        "reason": snap.reason,
        "stale": snap.stale,
        "drivers": [driver_to_json(d) for d in snap.drivers],
        "components": [{"name": c.name, "score": c.score, "weight": c.weight} for c in snap.components],
        "flags": list(snap.flags),
        "baselines": {k: (None if v is None or v != v else v) for k, v in snap.baselines.items()},
        "inputs_hash": snap.inputs_hash,
        "computed_at": utcnow(),
    }


def recompute(
    session: Session,
    users: Sequence[User],
    since: dict[int, date] | None = None,
    *,
    announce: bool = True,
    report_sleep_debt: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[AthleteUpdate]:
    """Recompute snapshots from ``since[user]`` (default: the athlete's first day) to their today.

    One vectorised computation covers all ``users``; only days whose inputs changed are written.
    ``announce`` publishes ``insights.updated`` for the athletes whose snapshots changed;
    ``report_sleep_debt`` adds each athlete's newest sleep debt to it, and announces that even
    when no snapshot changed (the sleep-debt nudge reacts to it).
    """
    # With ``since``, only the window the days from it can depend on is read (the engine's
    # memory is bounded), so that a new night costs the same after 60 days or 3 years.
    athletes = [a for a in load_athletes(session, users, since) if a.first_day() is not None]
    if not athletes:
        return []
    todays = {a.user_id: local_today(a.tz) for a in athletes}
    # Rows are independent: the batch starts at the earliest day any of its athletes needs.
    start = min(_needed_from(a) for a in athletes)
    spans = {}
    for athlete in athletes:
        first = cast(date, athlete.first_day())
        begin = max(first, (since or {}).get(athlete.user_id, first))
        # A windowed athlete with nothing inside the window has no readings after it either.
        last = athlete.last_day() or todays[athlete.user_id]
        spans[athlete.user_id] = (begin, max(todays[athlete.user_id], last))
    end = max(finish for _, finish in spans.values())
    # A windowed athlete's history may begin before the batch: days without readings inside it
    # are then silence (no_recent_data), as the whole history has them.
    earlier = np.array([cast(date, a.first_day()) < start for a in athletes], dtype=np.bool_)
    batch = replace(build_batch(athletes, start, end), earlier_data=earlier)
    result = compute_batch(batch)
    existing = _existing_hashes(session, spans)
    updates, rows = [], []
    for row, athlete in enumerate(athletes):
        begin, finish = spans[athlete.user_id]
        update, snapshot_rows = _changed_snapshots(
            batch,
            result,
            row,
            athlete,
            begin,
            finish,
            todays[athlete.user_id],
            existing.get(athlete.user_id, {}),
        )
        updates.append(update)
        rows.extend(snapshot_rows)
        if progress:
            progress(1)
    # One upsert for every athlete of the batch rather than one per athlete.
    for chunk in range(0, len(rows), 1000):
        upsert(
            session,
            cast(Table, ReadinessSnapshotRow.__table__),
            rows[chunk : chunk + 1000],
            ("user_id", "date", "algorithm_version"),
        )
    if announce:
        announcements = (update.announcement(report_sleep_debt) for update in updates)
        publish_all(session, [event for event in announcements if event is not None])
    return updates


def _needed_from(athlete: AthleteSeries) -> date:
    """The first day the batch must hold for ``athlete``: its first day, or for a windowed load
    the start of the window, from which the results of the days recomputed equal a whole
    history's."""
    first = cast(date, athlete.first_day())
    return max(first, window_start(athlete.since)) if isinstance(athlete, WindowedSeries) else first


def _debt_night(athlete: AthleteSeries, batch: SeriesBatch) -> date | None:
    """The newest night, if ``batch`` gives its sleep debt as the whole history does: the
    ``MEMORY_DAYS`` days up to it inside the batch and loaded. For a windowed load of a long
    history that is every night from the day before ``since`` on; an older newest night (no
    sleep since) is left out, as the nudge only uses today's or yesterday's."""
    night = athlete.last_night()
    if night is None or not isinstance(athlete, WindowedSeries):
        return night
    # From here on the batch holds every reading of the athlete's.
    held = max(batch.start, read_from(athlete.since))
    if cast(date, athlete.first_day()) >= held or night >= held + timedelta(days=MEMORY_DAYS - 1):
        return night
    return None


@dataclass(frozen=True)
class _Stored:
    """What a recompute compares a stored snapshot with: its inputs' digest and its flags' mask."""

    digest: str
    flags: int


def _existing_hashes(session: Session, spans: dict[int, tuple[date, date]]) -> dict[int, dict[date, _Stored]]:
    """Stored input hashes and flags of the days about to be recomputed, for all athletes in one query."""
    if not spans:
        return {}
    lowest = min(begin for begin, _ in spans.values())
    found: dict[int, dict[date, _Stored]] = {}
    ids = list(spans)
    dialect = session.get_bind().dialect.name
    for chunk in range(0, len(ids), 500):
        for user_id, day, digest, flags in session.execute(
            select(
                ReadinessSnapshotRow.user_id,
                ReadinessSnapshotRow.date,
                ReadinessSnapshotRow.inputs_hash,
                ReadinessSnapshotRow.flags,
            ).where(
                one_of(ReadinessSnapshotRow.user_id, ids[chunk : chunk + 500], dialect),
                ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
                ReadinessSnapshotRow.date >= lowest,
            )
        ):
            if spans[user_id][0] <= day <= spans[user_id][1]:
                found.setdefault(user_id, {})[day] = _Stored(digest, flags_mask(flags or []))
    return found


def _changed_snapshots(
    batch: SeriesBatch,
    result: ReadinessArrays,
    row: int,
    athlete: AthleteSeries,
    begin: date,
    finish: date,
    today: date,
    existing: dict[date, _Stored],
) -> tuple[AthleteUpdate, list[dict[str, Any]]]:
    update = AthleteUpdate(athlete.user_id, today)
    night = _debt_night(athlete, batch)
    if night is not None:
        col = (night - batch.start).days
        hours = float(result.debt_hours[row, col])
        if hours == hours:  # not NaN: enough nights for a debt
            update.latest_night = night
            update.latest_debt_hours = round(hours, DEBT_DECIMALS)
            update.latest_debt_category = DEBT_CATEGORIES[int(result.debt_category[row, col])]
    rows = []
    first_col = (cast(date, athlete.first_day()) - batch.start).days
    cols = range((begin - batch.start).days, (finish - batch.start).days + 1)
    flags = flag_bits(result, row, slice(cols.start, cols.stop)).tolist()
    digests = inputs_hashes(batch, result, row, cols, first_col)
    for col, digest, mask in zip(cols, digests, flags, strict=True):
        day = batch.start + timedelta(days=col)
        stored = existing.get(day)
        if stored is not None and stored.digest == digest and stored.flags == mask:
            continue
        snap = snapshot(batch, result, row, col, digest=digest)
        if snap.score is not None or snap.reason in ("calibrating", "no_recent_data"):
            rows.append(snapshot_row(athlete.user_id, snap))
            # Same inputs, other flags: a row stored before flags were, brought up to date
            # silently — nothing a reader was told about has changed.
            if stored is None or stored.digest != digest:
                update.changed.append(day)
                if stored is not None and day < today:
                    update.revised.append(day)
    return update, rows


def refresh(session: Session, since: dict[int, date]) -> list[AthleteUpdate]:
    """After new data: recompute each athlete from ``since[athlete]`` and announce what changed,
    with the newest sleep debt, in the caller's transaction."""
    if not since:
        return []
    # Lock the athletes (in id order: no deadlocks) so two insights workers never interleave
    # recomputes of one athlete, which could let an older computation overwrite a newer one.
    # FOR NO KEY UPDATE: it does not block the foreign-key checks of concurrent ingest.
    users = list(
        session.scalars(
            select(User)
            .where(one_of(User.id, since, session.get_bind().dialect.name))
            .order_by(User.id)
            .with_for_update(key_share=True)
        )
    )
    return recompute(session, users, since, report_sleep_debt=True)


def ensure_today(session: Session, user: User) -> date:
    """Materialise today's snapshot if no event has produced it yet (e.g. before the sync)."""
    today = local_today(user.tz)
    present = session.scalar(
        select(ReadinessSnapshotRow.id).where(
            ReadinessSnapshotRow.user_id == user.id,
            ReadinessSnapshotRow.date == today,
            ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
        )
    )
    if present is None:
        recompute(session, [user], {user.id: today})
    return today


@dataclass(frozen=True)
class DebtDay:
    date: date
    debt_hours: float
    category: str


def sleep_debt_days(session: Session, user: User, start: date, end: date) -> list[DebtDay]:
    """Sleep debt for each day of ``start..end`` that has enough nights (≥ 5 of 14)."""
    # A day's debt reads its 14 nights, each against the need estimated from the 60 nights
    # before it (when the athlete set none): the batch starts that far before ``start``.
    lead = DEBT_WINDOW + NEED_WINDOW
    (athlete,) = load_athletes(session, [user], {user.id: start})
    batch = build_batch([athlete], start - timedelta(days=lead), end)
    hours, _codes = compute_debt(batch.sleep_min, batch.sleep_need_min)
    days = []
    for offset in range((end - start).days + 1):
        value = float(hours[0, offset + lead])
        if value == value:
            days.append(DebtDay(start + timedelta(days=offset), round(value, 2), category_for(value)))
    return days


@dataclass(frozen=True)
class Coverage:
    """Athletes whose night has arrived — an HRV or sleep row dated their local today — and how
    many of them have a readiness *score* for today."""

    arrived: int
    scored: int

    @property
    def ratio(self) -> float | None:
        """``scored / arrived``; None while no night has arrived (no figure, not 0)."""
        return self.scored / self.arrived if self.arrived else None


def coverage_counts(session: Session, now: datetime | None = None) -> Coverage:
    """:class:`Coverage` now.

    A "calibrating" answer is no coverage, and an athlete whose night has not come yet (it is
    01:00 where they live, or they have not synced) is neither covered nor missing, so the
    ratio does not fall to 0 at each local midnight.
    """
    from sqlalchemy import union

    instant = now or utcnow()
    # Every zone's today lies within a day of the UTC date (UTC−12 … UTC+14).
    earliest = instant.date() - timedelta(days=1)
    rows = union(
        select(HrvDaily.user_id, HrvDaily.date).where(HrvDaily.date >= earliest),
        select(SleepDaily.user_id, SleepDaily.date).where(SleepDaily.date >= earliest),
    ).subquery()
    nights = session.execute(
        select(rows.c.user_id, rows.c.date, User.tz).join(User, User.id == rows.c.user_id)
    ).all()
    arrived = {user_id: day for user_id, day, tz in nights if day == local_today(tz, instant)}
    if not arrived:
        return Coverage(0, 0)
    scored = set(
        session.execute(
            select(ReadinessSnapshotRow.user_id, ReadinessSnapshotRow.date).where(
                ReadinessSnapshotRow.user_id.in_(list(arrived)),
                ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
                ReadinessSnapshotRow.date >= earliest,
                ReadinessSnapshotRow.score.is_not(None),
            )
        ).all()
    )
    return Coverage(len(arrived), sum((user_id, day) in scored for user_id, day in arrived.items()))


def coverage(session: Session, now: datetime | None = None) -> float | None:
    """Share of the athletes whose night has arrived that have a readiness score for today
    (``None`` while no night has arrived): :func:`coverage_counts`' ratio."""
    return coverage_counts(session, now).ratio


@dataclass(frozen=True)
class HrvBaselineDay:
    """One day's HRV and resting HR beside the baselines readiness judges them against.

    ``ln_hrv`` is the night's reading from the day's primary HRV source (``is_sdnn`` when that
    source gives SDNN); ``ln7`` its 7-day mean and ``normal_low``..``normal_high`` the 60-day
    normal range (docs/readiness.md#normal-range); ``resting_hr_baseline`` the previous-60-day
    mean. ``None`` where the engine has no value (missing night, too few readings).
    """

    date: date
    ln_hrv: float | None
    is_sdnn: bool
    ln7: float | None
    normal_low: float | None
    normal_high: float | None
    resting_hr: float | None
    resting_hr_baseline: float | None


def _number(value: Any) -> float | None:
    number = float(value)
    return None if number != number else number  # NaN: no value


def hrv_baselines(session: Session, user: User, start: date, end: date) -> list[HrvBaselineDay]:
    """Every day of ``start..end`` with the numbers the readiness engine computes for it.

    The engine itself computes them (``compute_batch``), over a batch that begins at the
    athlete's first reading as a snapshot recompute does, so each day's primary source, segment
    and 60-day window are the ones its readiness snapshot stores as ``normalLow``/``normalHigh``
    and ``restingHrBaseline``; the range is never derived a second way.
    """
    (athlete,) = load_athletes(session, [user])
    first = athlete.first_day()
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    if first is None or first > end:
        return [HrvBaselineDay(day, None, False, None, None, None, None, None) for day in days]
    batch = build_batch([athlete], min(first, start), end)
    result = compute_batch(batch, workers=1)
    out = []
    for day in days:
        col = batch.day_index(day)
        out.append(
            HrvBaselineDay(
                date=day,
                ln_hrv=_number(batch.ln_hrv[0, col]),
                is_sdnn=bool(batch.hrv_is_sdnn[0, col]),
                ln7=_number(result.ln7[0, col]),
                normal_low=_number(result.normal_low[0, col]),
                normal_high=_number(result.normal_high[0, col]),
                resting_hr=_number(batch.resting_hr[0, col]),
                resting_hr_baseline=_number(result.rhr_baseline[0, col]),
            )
        )
    return out
