"""The typed pipeline events: the wire format stays what rows already in outboxes and streams
hold, and a payload of the wrong shape is refused with a reason (dead-lettered at once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from perfhub.core.delivery import deliver, is_final
from perfhub.core.outbox import PermanentError
from perfhub.pipeline.events import (
    BackfillRequested,
    DataNormalized,
    InsightsUpdated,
    MalformedEvent,
    SleepDebtNight,
    VendorDataReceived,
    WebhookReceived,
)

LINKED = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)

# Payloads exactly as the producers wrote them before the events were typed.
LEGACY: list[tuple[Any, dict[str, Any]]] = [
    (
        WebhookReceived(7, 3, "oura", "sleep", "abc", "updated"),
        {
            "connectionId": 7,
            "userId": 3,
            "vendor": "oura",
            "kind": "sleep",
            "objectId": "abc",
            "event": "updated",
        },
    ),
    (
        BackfillRequested(7, 3, "whoop", LINKED, 30),
        {"connectionId": 7, "userId": 3, "vendor": "whoop", "linkedAt": LINKED.isoformat(), "daysDone": 30},
    ),
    (
        VendorDataReceived(11, 3, "hrv", "oura", "api"),
        {"rawEventId": 11, "userId": 3, "kind": "hrv", "vendor": "oura", "source": "api"},
    ),
    (
        DataNormalized(3, ("hrv", "sleep"), (date(2024, 5, 1), date(2024, 5, 2)), LINKED),
        {
            "userId": 3,
            "signals": ["hrv", "sleep"],
            "dates": ["2024-05-01", "2024-05-02"],
            "receivedAt": LINKED.isoformat(),
        },
    ),
    (
        DataNormalized(3, ("hrv", "sleep"), (date(2024, 5, 1),)),
        {"userId": 3, "signals": ["hrv", "sleep"], "dates": ["2024-05-01"]},
    ),
    (
        InsightsUpdated(3, (date(2024, 5, 1), date(2024, 5, 2)), (date(2024, 5, 1),), "1.0.0"),
        {
            "userId": 3,
            "dates": ["2024-05-01", "2024-05-02"],
            "revised": True,
            "revisedDates": ["2024-05-01"],
            "algorithmVersion": "1.0.0",
        },
    ),
]


@pytest.mark.parametrize(("event", "payload"), LEGACY, ids=lambda v: type(v).__name__)
def test_the_wire_format_is_the_one_already_in_outboxes_and_streams(
    event: Any, payload: dict[str, Any]
) -> None:
    assert event.to_payload() == payload
    assert type(event).from_payload(payload) == event


def test_insights_updated_carries_the_sleep_debt_as_an_optional_key() -> None:
    debt = SleepDebtNight(date(2024, 5, 2), 6.5, "moderate", date(2024, 5, 3))
    event = InsightsUpdated(3, (), (), "1.0.0", debt)
    payload = event.to_payload()
    assert payload["sleepDebt"] == {
        "night": "2024-05-02",
        "hours": 6.5,
        "category": "moderate",
        "today": "2024-05-03",
    }
    assert payload["revised"] is False and payload["dates"] == []
    assert InsightsUpdated.from_payload(payload) == event


def test_a_replayed_refusal_with_its_extra_key_still_parses() -> None:
    payload = {"rawEventId": 11, "userId": 3, "kind": "oura.sleep", "vendor": "oura", "source": "webhook"}
    refused = {**payload, "refused": {"signal": "hrv", "date": "2024-05-01", "part": {}}}
    assert VendorDataReceived.from_payload(refused) == VendorDataReceived.from_payload(payload)


@pytest.mark.parametrize(
    ("model", "payload", "reason"),
    [
        (DataNormalized, {"signals": ["hrv"], "dates": []}, "userId is missing"),
        (DataNormalized, {"userId": "3", "dates": []}, "userId must be an integer"),
        (DataNormalized, {"userId": 3, "dates": ["yesterday"]}, "dates holds something that is not a date"),
        (
            VendorDataReceived,
            {"rawEventId": True, "kind": "hrv", "vendor": "x", "source": "api"},
            "rawEventId",
        ),
        (
            BackfillRequested,
            {"connectionId": 1, "userId": 1, "vendor": "oura", "linkedAt": "no", "daysDone": 0},
            "linkedAt",
        ),
        (
            WebhookReceived,
            {
                "connectionId": 1,
                "userId": 1,
                "vendor": "oura",
                "kind": "sleep",
                "objectId": "a",
                "event": "gone",
            },
            "event must be one of",
        ),
        (InsightsUpdated, ["not", "an", "object"], "not an object"),
    ],
)
def test_a_payload_of_the_wrong_shape_is_refused_for_good_with_the_reason(
    model: Any, payload: Any, reason: str
) -> None:
    with pytest.raises(MalformedEvent, match=reason) as caught:
        model.from_payload(payload)
    assert isinstance(caught.value, PermanentError)
    assert model.SUBJECT in str(caught.value)
    assert is_final(caught.value, attempts=1, max_attempts=5)


def test_delivery_isolates_the_poison_event_and_keeps_the_rest() -> None:
    calls: list[list[int]] = []

    def handle(batch: Sequence[int]) -> None:
        calls.append(list(batch))
        if 3 in batch:
            raise ValueError("poison")

    outcome = deliver([1, 2, 3, 4], handle)
    assert calls == [[1, 2, 3, 4], [1], [2], [3], [4]]
    assert outcome.done == [1, 2, 4]
    assert [(item, str(exc)) for item, exc in outcome.failed] == [(3, "poison")]


def test_delivery_holds_the_whole_batch_when_the_failure_is_not_the_events_fault() -> None:
    def handle(batch: Sequence[int]) -> None:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        deliver([1, 2], handle, hold=lambda exc: isinstance(exc, ConnectionError))
    assert deliver([1], handle).failed[0][0] == 1
