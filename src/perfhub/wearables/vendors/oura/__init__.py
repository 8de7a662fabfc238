"""Oura API v2: the adapter, and the vendor's modules re-exported under one name.

Canonical rows come from the ``sleep`` document (one per sleep period): it carries the night's
rMSSD (``average_hrv``), resting HR (``lowest_heart_rate``), the readiness score and the sleep
durations. ``daily_readiness`` and ``daily_sleep`` carry scores only; their notifications are
answered by re-reading that day's main sleep period. ``workout`` documents are workouts.

``mapping`` is pure (no HTTP, no settings); ``webhooks`` verifies deliveries and manages
subscriptions; ``client`` reads the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar

from perfhub.wearables.vendors.adapter import Record, VendorAdapter, VendorDefaults
from perfhub.wearables.vendors.http import ApiClient
from perfhub.wearables.vendors.oura.client import OuraClient
from perfhub.wearables.vendors.oura.mapping import (
    KINDS,
    MAIN_SLEEP_TYPES,
    NAP_TYPES,
    VENDOR,
    is_overnight,
    main_sleeps,
    map_records,
    source_id,
)
from perfhub.wearables.vendors.oura.webhooks import (
    EVENT_TYPES,
    WEBHOOK_DATA_TYPES,
    Subscription,
    answer_challenge,
    create_subscription,
    dedupe_key,
    delete_subscription,
    deletions_for_event,
    ensure_subscriptions,
    list_subscriptions,
    parse_webhook,
    renew_subscription,
    signature,
    verify_webhook,
)
from perfhub.wearables.vendors.records import WebhookEvent

__all__ = [
    "ADAPTER",
    "EVENT_TYPES",
    "KINDS",
    "MAIN_SLEEP_TYPES",
    "NAP_TYPES",
    "VENDOR",
    "WEBHOOK_DATA_TYPES",
    "OuraAdapter",
    "OuraClient",
    "Subscription",
    "answer_challenge",
    "create_subscription",
    "dedupe_key",
    "delete_subscription",
    "deletions_for_event",
    "ensure_subscriptions",
    "is_overnight",
    "list_subscriptions",
    "main_sleeps",
    "map_records",
    "parse_webhook",
    "renew_subscription",
    "signature",
    "source_id",
    "verify_webhook",
]


class OuraAdapter(VendorAdapter):
    name: ClassVar[str] = VENDOR
    display_name: ClassVar[str] = "Oura"
    # PKCE is unconfirmed at Oura: sending it is harmless (RFC 6749 §3.1 says servers ignore unknown
    # parameters) and protects the code where it is honoured; ``config(uses_pkce=False)`` stops it.
    defaults: ClassVar[VendorDefaults] = VendorDefaults(
        authorize_url="https://cloud.ouraring.com/oauth/authorize",
        token_url="https://api.ouraring.com/oauth/token",
        api_base="https://api.ouraring.com",
        scopes=("email", "personal", "daily", "heartrate", "workout", "tag", "session", "spo2Daily"),
        uses_pkce=True,
    )
    client_class: ClassVar[type[ApiClient]] = OuraClient
    has_handshake: ClassVar[bool] = True
    # The vendor's pure functions are the adapter's methods as they stand.
    verify_webhook = staticmethod(verify_webhook)
    parse_webhook = staticmethod(parse_webhook)
    deletions_for_event = staticmethod(deletions_for_event)
    map_records = staticmethod(map_records)
    source_id = staticmethod(source_id)

    def vendor_user_id(self, client: ApiClient) -> str | None:
        assert isinstance(client, OuraClient)
        return client.vendor_user_id()

    def answer_handshake(self, query: Mapping[str, str], settings: Any) -> dict[str, str] | None:
        token = settings.oura_webhook_verification_token
        return answer_challenge(query, token.get_secret_value() if token else None)

    def fetch_for_event(self, client: ApiClient, event: WebhookEvent) -> list[Record]:
        assert isinstance(client, OuraClient)
        return client.fetch_for_event(event)

    def fetch_range(self, client: ApiClient, start: date, end: date) -> list[Record]:
        assert isinstance(client, OuraClient)
        records: list[Record] = [("sleep", record) for record in client.main_sleeps(start, end)]
        return records + [("workout", record) for record in client.workouts(start, end)]


ADAPTER = OuraAdapter()
