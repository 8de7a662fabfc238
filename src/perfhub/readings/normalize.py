"""The normalize stage: raw deliveries → canonical ``hrv_daily`` / ``sleep_daily`` upserts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.orm import Session

from perfhub.core.bus import (
    DATA_NORMALIZED,
    VENDOR_DATA_RECEIVED,
    DeadLetter,
    Event,
    PermanentError,
    dead_letter,
    publish_many,
)
from perfhub.core.db import one_of, utcnow
from perfhub.core.metrics import NORMALIZATION_FAILURES
from perfhub.core.upsert import upsert
from perfhub.readings.mapping import MappingError, hrv_row, sleep_row
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily
from perfhub.wearables.vendors import base

CONSUMER = "normalize"
_MAPPERS = {"hrv": (hrv_row, HrvDaily), "sleep": (sleep_row, SleepDaily)}


def map_raw(raw: RawEvent | Row[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The canonical rows for a landed delivery, or :class:`MappingError` (refused parts left out)."""
    return map_raw_parts(raw)[0]


def map_raw_parts(
    raw: RawEvent | Row[Any],
) -> tuple[list[tuple[str, dict[str, Any]]], list[base.Refused]]:
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
    from perfhub.wearables.vendors.registry import MODULES

    module = MODULES.get(vendor)
    if module is None or not record_kind:
        raise MappingError(f"no mapping for {raw.source}/{raw.kind} from {raw.vendor}")
    try:
        mapped = module.map_records(record_kind, raw.payload.get("record"), raw.payload.get("tz") or "UTC")
    except base.MappingError as exc:
        raise MappingError(str(exc)) from exc
    rows: list[tuple[str, dict[str, Any]]] = []
    refused: list[base.Refused] = []
    for item in mapped:
        if isinstance(item, base.Deletion):
            continue  # deletions are applied by the ingest stage, which knows the day
        if isinstance(item, base.Refused):
            refused.append(item)
            continue
        kind, payload = item
        try:
            rows.append((kind, _MAPPERS[kind][0]({**payload, "userId": raw.user_id})))
        except MappingError as exc:
            source = raw.payload.get("sourceId")
            what = f"{vendor} {record_kind} {source}" if source is not None else f"{vendor} {record_kind}"
            reason = f"{what}: the {kind} payload for {payload.get('date')} does not validate ({exc})"
            refused.append(base.Refused(kind, vendor, reason, dict(payload), payload.get("date")))
    return rows, refused


def dead_letter_refusal(session: Session, raw: RawEvent | Row[Any], refused: base.Refused) -> None:
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
            DeadLetter.consumer == CONSUMER,
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
        VENDOR_DATA_RECEIVED,
        {
            "rawEventId": raw.id,
            "userId": raw.user_id,
            "kind": raw.kind,
            "vendor": raw.vendor,
            "source": raw.source,
            "refused": {"signal": refused.signal, "date": refused.date, "part": refused.part},
        },
        reason,
        consumer=CONSUMER,
        user_id=raw.user_id,
    )


def handle_received(session: Session, events: Sequence[Event]) -> None:
    """Consumer of ``vendor.data.received``: bulk upsert per table, one event per athlete."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    touched: dict[int, dict[str, set[date]]] = defaultdict(lambda: defaultdict(set))
    received: dict[int, datetime] = {}
    now = utcnow()
    wanted = [event.payload.get("rawEventId") for event in events]
    table = cast(Table, RawEvent.__table__)
    ids = {raw_id for raw_id in wanted if raw_id is not None}
    # Plain rows, not ORM objects: they are only read.
    landed = {
        raw.id: raw
        for raw in session.execute(
            select(table).where(one_of(table.c.id, ids, session.get_bind().dialect.name))
        )
    }
    for raw_id in wanted:
        raw = landed.get(raw_id)
        if raw is None:
            continue  # erased with its athlete, or pruned by retention: nothing left to do
        try:
            mapped, refused = map_raw_parts(raw)
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
            ("user_id", "date", "vendor"),
            newer_column="captured_at",
        )
    publish_many(
        session,
        DATA_NORMALIZED,
        [
            (
                {
                    "userId": user_id,
                    "signals": sorted(kinds),
                    "dates": [d.isoformat() for d in sorted({d for ds in kinds.values() for d in ds})],
                    # For the ingest-lag metric: the oldest delivery this event carries.
                    "receivedAt": received[user_id].isoformat(),
                },
                user_id,
            )
            for user_id, kinds in touched.items()
        ],
    )
