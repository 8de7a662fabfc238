"""Readings: land deliveries in the raw log and announce them (in one transaction), and map
landed deliveries to the canonical ``hrv_daily`` / ``sleep_daily`` / ``workout`` rows
(normalisation); remove the workouts a vendor deleted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import one_of, utcnow
from perfhub.core.errors import NotFound
from perfhub.core.metrics import NORMALIZATION_FAILURES
from perfhub.core.outbox import DeadLetter, PermanentError, dead_letter
from perfhub.core.upsert import insert_rows, upsert
from perfhub.pipeline.events import DataNormalized, VendorDataReceived, publish, publish_all
from perfhub.readings.mapping import (
    Deletion,
    MappingError,
    RecordMappers,
    Refused,
    Signal,
    WorkoutIn,
    hrv_row,
    sleep_row,
    workout_row,
)
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily, Workout
from perfhub.readings.schemas import HrvIn, SleepIn

# Who files a refused part in the dead-letter store (the normalize stage's consumer).
NORMALIZE_CONSUMER = "normalize"
_MAPPERS = {"hrv": (hrv_row, HrvDaily), "sleep": (sleep_row, SleepDaily), "workout": (workout_row, Workout)}
# The natural key of each canonical table: a day per vendor, or a workout per vendor record.
_KEYS = {
    "hrv": ("user_id", "date", "vendor"),
    "sleep": ("user_id", "date", "vendor"),
    "workout": ("user_id", "vendor", "vendor_id"),
}


def land(
    session: Session,
    *,
    source: str,
    kind: str,
    vendor: str,
    user_id: int | None,
    payload: dict[str, Any],
    received_at: datetime | None = None,
) -> RawEvent:
    """Store a raw delivery and publish ``vendor.data.received`` for the normalize stage."""
    raw = RawEvent(
        source=source,
        kind=kind,
        vendor=vendor,
        user_id=user_id,
        payload=payload,
        received_at=received_at or utcnow(),
    )
    session.add(raw)
    session.flush()
    publish(session, announcement(raw))
    return raw


def accept_batch(
    session: Session, readings: Sequence[HrvIn | SleepIn | WorkoutIn], source: str = "api"
) -> int:
    """Accept many readings in one transaction: each is still its own delivery in the landing log."""
    users = cast(Table, User.__table__)
    wanted = {reading.user_id for reading in readings}
    known = set(
        session.scalars(select(users.c.id).where(one_of(users.c.id, wanted, session.get_bind().dialect.name)))
    )
    missing = sorted(wanted - known)
    if missing:
        raise NotFound(f"no user with id {', '.join(map(str, missing[:10]))}")
    received_at = utcnow()
    rows = [
        {
            "source": source,
            "kind": _kind(reading),
            "vendor": reading.vendor,
            "user_id": reading.user_id,
            "payload": _payload(reading, received_at),
            "received_at": received_at,
        }
        for reading in readings
    ]
    # One INSERT for the landing log, one for the outbox; no ORM objects to track.
    landed = insert_rows(
        session,
        cast(Table, RawEvent.__table__),
        rows,
        returning=("id", "user_id", "kind", "vendor", "source"),
    )
    # RETURNING has no set order, but ids are drawn in the readings' order: announce by id, so
    # the later of two readings for one day still wins a tie in the normalize stage.
    ordered = sorted(landed, key=lambda raw: raw.id)
    publish_all(session, [announcement(raw) for raw in ordered])
    return len(rows)


def _kind(reading: HrvIn | SleepIn | WorkoutIn) -> str:
    if isinstance(reading, WorkoutIn):
        return "workout"
    return "hrv" if isinstance(reading, HrvIn) else "sleep"


def _payload(reading: HrvIn | SleepIn | WorkoutIn, received_at: datetime) -> dict[str, Any]:
    payload = reading.model_dump(mode="json", by_alias=True, exclude_none=True)
    # A reading without its own capture time is versioned by when it reached us.
    payload.setdefault("capturedAt", received_at.isoformat())
    return payload


def announcement(raw: RawEvent | Row[Any]) -> VendorDataReceived:
    return VendorDataReceived(raw.id, raw.user_id, raw.kind, raw.vendor, raw.source)


def accept_reading(
    session: Session, body: HrvIn | SleepIn, source: str = "api", *, checked: bool = False
) -> RawEvent:
    """Accept one canonical reading from the ingest API (or the demo seeder, which uses this path)."""
    if not checked and session.get(User, body.user_id) is None:
        raise NotFound(f"no user with id {body.user_id}")
    received_at = utcnow()
    return land(
        session,
        source=source,
        kind=_kind(body),
        vendor=body.vendor,
        user_id=body.user_id,
        payload=_payload(body, received_at),
        received_at=received_at,
    )


def map_raw(raw: RawEvent | Row[Any], mappers: RecordMappers) -> list[tuple[str, dict[str, Any]]]:
    """The canonical rows for a landed delivery, or :class:`MappingError` (refused parts left out)."""
    return map_raw_parts(raw, mappers)[0]


def map_raw_parts(
    raw: RawEvent | Row[Any],
    mappers: RecordMappers,
) -> tuple[list[tuple[str, dict[str, Any]]], list[Refused]]:
    """The canonical rows for a landed delivery and the parts of it that were refused.

    Canonical API payloads map one to one (or raise :class:`MappingError`: the API validated them,
    so a bad one is bad whole); vendor records (kind ``vendor.type``) go through the vendor
    module's pure mapping first, and then each payload is validated on its own, so that one
    signal out of range (say a resting HR of 130) refuses that signal and not the others.
    """
    entry = _MAPPERS.get(raw.kind)
    if entry is not None:
        return [(raw.kind, entry[0](raw.payload))], []
    vendor, _, record_kind = raw.kind.partition(".")
    mapper = mappers.get(vendor)
    if mapper is None or not record_kind:
        raise MappingError(f"no mapping for {raw.source}/{raw.kind} from {raw.vendor}")
    mapped = mapper.map_records(record_kind, raw.payload.get("record"), raw.payload.get("tz") or "UTC")
    rows: list[tuple[str, dict[str, Any]]] = []
    refused: list[Refused] = []
    for item in mapped:
        if isinstance(item, Deletion):
            continue  # deletions are applied by the ingest stage, which knows the day
        if isinstance(item, Refused):
            refused.append(item)
            continue
        kind, payload = item
        try:
            rows.append((kind, _MAPPERS[kind][0]({**payload, "userId": raw.user_id})))
        except MappingError as exc:
            source = raw.payload.get("sourceId")
            what = f"{vendor} {record_kind} {source}" if source is not None else f"{vendor} {record_kind}"
            reason = f"{what}: the {kind} payload for {payload.get('date')} does not validate ({exc})"
            signal = cast(Signal, kind)  # a key of _MAPPERS, looked up above
            refused.append(Refused(signal, vendor, reason, dict(payload), payload.get("date")))
    return rows, refused


def dead_letter_refusal(session: Session, raw: RawEvent | Row[Any], refused: Refused) -> None:
    """File a refused part in the dead-letter store, once while it stays unreplayed.

    The reconciliation poll lands the same vendor records again every few hours; the reason names
    the record and what is wrong with it, so an unreplayed dead letter with the same reason for the
    athlete already says it. Replaying it re-normalises the whole landed record: the valid parts
    upsert to the same rows, and the refused part maps if the mapping has been fixed since.
    """
    reason = f"refused part of {raw.kind}: {refused.reason}"
    filed = session.scalar(
        select(DeadLetter.id)
        .where(
            DeadLetter.user_id == raw.user_id,
            DeadLetter.consumer == NORMALIZE_CONSUMER,
            DeadLetter.reason == reason[:4000],
            DeadLetter.replayed_at.is_(None),
        )
        .limit(1)
    )
    if filed is not None:
        return
    NORMALIZATION_FAILURES.labels(raw.kind).inc()
    dead_letter(
        session,
        VendorDataReceived.SUBJECT,
        {
            **announcement(raw).to_payload(),
            "refused": {"signal": refused.signal, "date": refused.date, "part": refused.part},
        },
        reason,
        consumer=NORMALIZE_CONSUMER,
        user_id=raw.user_id,
    )


def normalize(session: Session, raw_event_ids: Sequence[int], mappers: RecordMappers) -> None:
    """Map landed deliveries to canonical rows: a bulk upsert per table, then one
    ``data.normalized`` per athlete. Deliveries since erased or pruned are skipped."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    touched: dict[int, dict[str, set[date]]] = defaultdict(lambda: defaultdict(set))
    received: dict[int, datetime] = {}
    now = utcnow()
    table = cast(Table, RawEvent.__table__)
    ids = set(raw_event_ids)
    # Plain rows, not ORM objects: they are only read.
    landed = {
        raw.id: raw
        for raw in session.execute(
            select(table).where(one_of(table.c.id, ids, session.get_bind().dialect.name))
        )
    }
    for raw_id in raw_event_ids:
        raw = landed.get(raw_id)
        if raw is None:
            continue  # erased with its athlete, or pruned by retention: nothing left to do
        try:
            mapped, refused = map_raw_parts(raw, mappers)
        except MappingError as exc:
            NORMALIZATION_FAILURES.labels(raw.kind).inc()
            raise PermanentError(f"raw event {raw.id}: {exc}") from exc
        for part in refused:
            dead_letter_refusal(session, raw, part)
        for kind, row in mapped:
            row["ingested_at"] = now
            rows[kind].append(row)
            touched[row["user_id"]][kind].add(row["date"])
            user_id = row["user_id"]
            received[user_id] = min(received.get(user_id, raw.received_at), raw.received_at)
    for kind, kind_rows in rows.items():
        # Several deliveries for one key in a batch: upsert keeps the newest.
        upsert(
            session,
            cast(Table, _MAPPERS[kind][1].__table__),
            kind_rows,
            _KEYS[kind],
            newer_column="captured_at",
        )
    # For the ingest-lag metric, each event carries the oldest delivery it stands for.
    publish_all(
        session,
        [
            DataNormalized(
                user_id,
                tuple(sorted(kinds)),
                tuple(sorted({d for ds in kinds.values() for d in ds})),
                received[user_id],
            )
            for user_id, kinds in touched.items()
        ],
    )


def remove_workouts(session: Session, user_id: int, vendor: str, vendor_ids: Sequence[str]) -> set[date]:
    """Delete the workouts a vendor deleted; returns the days they were on.

    A completed session made from one loses its link with it (``ON DELETE SET NULL``); the
    training side decides, when the day is announced, whether that session still stands.
    """
    if not vendor_ids:
        return set()
    doomed = session.execute(
        select(Workout.id, Workout.date).where(
            Workout.user_id == user_id, Workout.vendor == vendor, Workout.vendor_id.in_(list(vendor_ids))
        )
    ).all()
    if doomed:
        session.execute(delete(Workout).where(Workout.id.in_([row.id for row in doomed])))
    return {row.date for row in doomed}
