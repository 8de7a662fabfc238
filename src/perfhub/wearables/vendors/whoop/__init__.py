"""WHOOP API v2: the adapter, and the vendor's modules re-exported under one name.

HRV and resting HR come from the recovery, sleep durations from the sleep. WHOOP has no date
field: a night belongs to the local date of the sleep's ``end`` in its ``timezone_offset``, and a
recovery takes the date of the sleep it was scored from (``sleep_id``), so the client attaches that
sleep to the recovery under the key ``"sleep"`` before mapping.

``mapping`` is pure (no HTTP, no settings); ``webhooks`` verifies deliveries; ``client`` reads the
data and revokes access.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from perfhub.readings.mapping import Deletion, Mapped
from perfhub.wearables.vendors.adapter import Record, VendorAdapter, VendorDefaults
from perfhub.wearables.vendors.http import ApiClient
from perfhub.wearables.vendors.records import WebhookEvent
from perfhub.wearables.vendors.whoop.client import PAGE_LIMIT, WhoopClient
from perfhub.wearables.vendors.whoop.mapping import (
    KINDS,
    NOT_YET_SCORED,
    SCORED,
    VENDOR,
    map_records,
    source_id,
    wake_time,
)
from perfhub.wearables.vendors.whoop.webhooks import (
    dedupe_key,
    deletions_for_event,
    parse_webhook,
    signature,
    verify_webhook,
)

__all__ = [
    "ADAPTER",
    "KINDS",
    "NOT_YET_SCORED",
    "PAGE_LIMIT",
    "SCORED",
    "VENDOR",
    "WhoopAdapter",
    "WhoopClient",
    "dedupe_key",
    "deletions_for_event",
    "map_records",
    "parse_webhook",
    "signature",
    "source_id",
    "verify_webhook",
    "wake_time",
]


class WhoopAdapter(VendorAdapter):
    name: ClassVar[str] = VENDOR
    display_name: ClassVar[str] = "WHOOP"
    defaults: ClassVar[VendorDefaults] = VendorDefaults(
        authorize_url="https://api.prod.whoop.com/oauth/oauth2/auth",
        token_url="https://api.prod.whoop.com/oauth/oauth2/token",
        api_base="https://api.prod.whoop.com/developer",
        scopes=("read:recovery", "read:cycles", "read:sleep", "read:profile", "offline"),
        uses_pkce=False,  # not documented for WHOOP
        # WHOOP issues no new refresh token on a refresh without scope=offline.
        refresh_scope="offline",
    )
    client_class: ClassVar[type[ApiClient]] = WhoopClient
    revocable: ClassVar[bool] = True

    def vendor_user_id(self, client: ApiClient) -> str | None:
        assert isinstance(client, WhoopClient)
        return client.vendor_user_id()

    def revoke(self, client: ApiClient) -> None:
        assert isinstance(client, WhoopClient)
        client.revoke()

    def verify_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, secret: str, now: float, tolerance_s: int = 300
    ) -> None:
        verify_webhook(headers, raw_body, secret, now, tolerance_s)

    def parse_webhook(self, payload: Any) -> WebhookEvent:
        return parse_webhook(payload)

    def deletions_for_event(self, event: WebhookEvent) -> list[Deletion]:
        return deletions_for_event(event)

    def fetch_for_event(self, client: ApiClient, event: WebhookEvent) -> list[Record]:
        assert isinstance(client, WhoopClient)
        return client.fetch_for_event(event)

    def fetch_range(self, client: ApiClient, start: date, end: date) -> list[Record]:
        assert isinstance(client, WhoopClient)
        # WHOOP pages by instant: pad a day each side so nights crossing midnight are included.
        lo = datetime.combine(start - timedelta(days=1), time(), UTC)
        hi = datetime.combine(end + timedelta(days=1), time(), UTC)
        return [("sleep", s) for s in client.list_sleeps(lo, hi)] + [
            ("recovery", r) for r in client.list_recoveries(lo, hi)
        ]

    def map_records(self, kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
        return map_records(kind, record, tz_fallback)

    def source_id(self, kind: str, record: Mapping[str, Any]) -> str | None:
        return source_id(kind, record)


ADAPTER = WhoopAdapter()
