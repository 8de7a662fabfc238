"""The pipeline's vocabulary: one typed event per subject, and how each looks on the wire.

Producers build these and publish them with :func:`publish` / :func:`publish_all`; consumers
read them back with ``from_payload``. The JSON keys are the wire format of rows already in
outboxes, streams and the dead-letter store, so they never change; a new fact is a new
optional key. A payload that does not parse raises :class:`MalformedEvent`, which dead-letters
the event at once with the reason (no retry makes it parse).

Domains may import this module; it imports no domain and nothing else from the pipeline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal, LiteralString, Protocol, Self

from sqlalchemy.orm import Session

from perfhub.core.outbox import (
    BACKFILL_REQUESTED,
    DATA_NORMALIZED,
    INSIGHTS_UPDATED,
    VENDOR_DATA_RECEIVED,
    WEBHOOK_RECEIVED,
    OutboxRow,
    PermanentError,
    publish_many,
)
from perfhub.core.outbox import publish as publish_payload


class MalformedEvent(PermanentError):
    """A payload that is not the shape of its subject."""


class PipelineEvent(Protocol):
    SUBJECT: ClassVar[str]

    @property
    def user_id(self) -> int | None: ...

    def to_payload(self) -> dict[str, Any]: ...


def publish(session: Session, event: PipelineEvent, *, headers: dict[str, str] | None = None) -> OutboxRow:
    """Record ``event`` in the caller's transaction (delivered only if that commits)."""
    return publish_payload(session, event.SUBJECT, event.to_payload(), user_id=event.user_id, headers=headers)


def publish_all(session: Session, events: Iterable[PipelineEvent]) -> None:
    """:func:`publish` for many events, one INSERT per subject."""
    by_subject: dict[str, list[tuple[dict[str, Any], int | None]]] = defaultdict(list)
    for event in events:
        by_subject[event.SUBJECT].append((event.to_payload(), event.user_id))
    for subject, rows in by_subject.items():
        publish_many(session, subject, rows)


# -- reading payloads -------------------------------------------------------------------------
_REQUIRED: Any = object()


class _Reader:
    """Typed access to one payload's keys; every failure names the subject and the key."""

    def __init__(self, subject: str, payload: Any) -> None:
        if not isinstance(payload, dict):
            raise MalformedEvent(f"{subject} payload is {type(payload).__name__}, not an object")
        self.subject = subject
        self.payload: dict[str, Any] = payload

    def fail(self, key: str, what: str) -> MalformedEvent:
        return MalformedEvent(f"malformed {self.subject} payload: {key} {what}")

    def _get(self, key: str, default: Any) -> Any:
        if key in self.payload and self.payload[key] is not None:
            return self.payload[key]
        if default is _REQUIRED:
            raise self.fail(key, "is missing")
        return default

    def integer(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, not {value!r}"[:200])
        return value

    def text(self, key: str, default: Any = _REQUIRED, *, numbers: bool = False) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if numbers and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {value!r}"[:200])
        return value

    def choice(self, key: str, allowed: tuple[LiteralString, ...]) -> Any:
        value = self.text(key)
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}, not {value!r}"[:200])
        return value

    def number(self, key: str) -> float:
        value = self._get(key, _REQUIRED)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {value!r}"[:200])
        return float(value)

    def day(self, key: str) -> date:
        try:
            return date.fromisoformat(self.text(key))
        except ValueError as exc:
            raise self.fail(key, f"is not a date ({exc})") from exc

    def moment(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self.text(key, default)
        if value is default:
            return value
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise self.fail(key, f"is not a timestamp ({exc})") from exc

    def texts(self, key: str) -> tuple[str, ...]:
        values = self._get(key, ())
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            raise self.fail(key, "must be a list of strings")
        return tuple(values)

    def days(self, key: str) -> tuple[date, ...]:
        try:
            return tuple(date.fromisoformat(value) for value in self.texts(key))
        except ValueError as exc:
            raise self.fail(key, f"holds something that is not a date ({exc})") from exc


def _isoformat(days: Sequence[date]) -> list[str]:
    return [day.isoformat() for day in days]


# -- the events ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WebhookReceived:
    """A vendor said a record changed; the ingest stage fetches it."""

    SUBJECT: ClassVar[str] = WEBHOOK_RECEIVED
    connection_id: int
    user_id: int
    vendor: str
    kind: str
    object_id: str
    event: Literal["updated", "deleted"]

    def to_payload(self) -> dict[str, Any]:
        return {
            "connectionId": self.connection_id,
            "userId": self.user_id,
            "vendor": self.vendor,
            "kind": self.kind,
            "objectId": self.object_id,
            "event": self.event,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        p = _Reader(cls.SUBJECT, payload)
        return cls(
            p.integer("connectionId"),
            p.integer("userId"),
            p.text("vendor"),
            p.text("kind"),
            p.text("objectId", numbers=True),
            p.choice("event", ("updated", "deleted")),
        )


@dataclass(frozen=True, slots=True)
class BackfillRequested:
    """Asks the ingest stage for the next chunk of a link's history: which link (it was linked
    at ``linked_at``) and how far its backfill had come. A handler acts on it only while both
    still hold, which makes redeliveries, replays and a previous link's leftovers no-ops."""

    SUBJECT: ClassVar[str] = BACKFILL_REQUESTED
    connection_id: int
    user_id: int
    vendor: str
    linked_at: datetime
    days_done: int

    def to_payload(self) -> dict[str, Any]:
        return {
            "connectionId": self.connection_id,
            "userId": self.user_id,
            "vendor": self.vendor,
            "linkedAt": self.linked_at.isoformat(),
            "daysDone": self.days_done,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        p = _Reader(cls.SUBJECT, payload)
        return cls(
            p.integer("connectionId"),
            p.integer("userId"),
            p.text("vendor"),
            p.moment("linkedAt"),
            p.integer("daysDone"),
        )


@dataclass(frozen=True, slots=True)
class VendorDataReceived:
    """A delivery landed in the raw log; the normalize stage maps it to canonical rows."""

    SUBJECT: ClassVar[str] = VENDOR_DATA_RECEIVED
    raw_event_id: int
    user_id: int | None
    kind: str
    vendor: str
    source: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "rawEventId": self.raw_event_id,
            "userId": self.user_id,
            "kind": self.kind,
            "vendor": self.vendor,
            "source": self.source,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        # A replayed refusal carries a "refused" key as well: it re-normalises the whole delivery.
        p = _Reader(cls.SUBJECT, payload)
        return cls(
            p.integer("rawEventId"),
            p.integer("userId", None),
            p.text("kind"),
            p.text("vendor"),
            p.text("source"),
        )


@dataclass(frozen=True, slots=True)
class DataNormalized:
    """An athlete's canonical rows changed on ``dates`` (upserted, or deleted by a vendor)."""

    SUBJECT: ClassVar[str] = DATA_NORMALIZED
    user_id: int
    signals: tuple[str, ...]
    dates: tuple[date, ...]
    # The oldest delivery this event carries, for the ingest-lag metric (none for deletions).
    received_at: datetime | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "userId": self.user_id,
            "signals": list(self.signals),
            "dates": _isoformat(self.dates),
        }
        if self.received_at is not None:
            payload["receivedAt"] = self.received_at.isoformat()
        return payload

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        p = _Reader(cls.SUBJECT, payload)
        return cls(p.integer("userId"), p.texts("signals"), p.days("dates"), p.moment("receivedAt", None))


@dataclass(frozen=True, slots=True)
class SleepDebtNight:
    """The newest night with sleep data and the sleep debt on it, as of the athlete's ``today``."""

    night: date
    hours: float
    category: str
    today: date

    def to_payload(self) -> dict[str, Any]:
        return {
            "night": self.night.isoformat(),
            "hours": self.hours,
            "category": self.category,
            "today": self.today.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        p = _Reader(INSIGHTS_UPDATED + " sleepDebt", payload)
        return cls(p.day("night"), p.number("hours"), p.text("category"), p.day("today"))


@dataclass(frozen=True, slots=True)
class InsightsUpdated:
    """An athlete's readiness snapshots changed on ``dates`` (``revised_dates``: days before
    their today that had a snapshot already). ``sleep_debt`` is set when the recompute followed
    new data (not for a batch recompute or a settings change), for the sleep-debt nudge."""

    SUBJECT: ClassVar[str] = INSIGHTS_UPDATED
    user_id: int
    dates: tuple[date, ...]
    revised_dates: tuple[date, ...]
    algorithm_version: str
    sleep_debt: SleepDebtNight | None = None

    @property
    def revised(self) -> bool:
        return bool(self.revised_dates)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "userId": self.user_id,
            "dates": _isoformat(self.dates),
            "revised": self.revised,
            "revisedDates": _isoformat(self.revised_dates),
            "algorithmVersion": self.algorithm_version,
        }
        if self.sleep_debt is not None:
            payload["sleepDebt"] = self.sleep_debt.to_payload()
        return payload

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        p = _Reader(cls.SUBJECT, payload)
        debt = p.payload.get("sleepDebt")
        return cls(
            p.integer("userId"),
            p.days("dates"),
            p.days("revisedDates"),
            p.text("algorithmVersion"),
            None if debt is None else SleepDebtNight.from_payload(debt),
        )
