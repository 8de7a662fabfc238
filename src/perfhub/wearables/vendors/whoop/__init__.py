"""WHOOP API v2: the adapter, and the vendor's modules re-exported under one name.

HRV and resting HR come from the recovery, sleep durations from the sleep, workouts (with their
strain) from the workout. WHOOP has no date
field: a night belongs to the local date of the sleep's ``end`` in its ``timezone_offset``, and a
recovery takes the date of the sleep it was scored from (``sleep_id``), so the client attaches that
sleep to the recovery under the key ``"sleep"`` before mapping.

``mapping`` is pure (no HTTP, no settings); ``webhooks`` verifies deliveries; ``client`` reads the
data and revokes access.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import ClassVar

from perfhub.wearables.vendors.adapter import Record, VendorAdapter, VendorDefaults
from perfhub.wearables.vendors.errors import MissingScope
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

log = logging.getLogger(__name__)


class WhoopAdapter(VendorAdapter):
    name: ClassVar[str] = VENDOR
    display_name: ClassVar[str] = "WHOOP"
    defaults: ClassVar[VendorDefaults] = VendorDefaults(
        authorize_url="https://api.prod.whoop.com/oauth/oauth2/auth",
        token_url="https://api.prod.whoop.com/oauth/oauth2/token",
        api_base="https://api.prod.whoop.com/developer",
        scopes=("read:recovery", "read:cycles", "read:sleep", "read:workout", "read:profile", "offline"),
        uses_pkce=False,  # not documented for WHOOP
        # WHOOP issues no new refresh token on a refresh without scope=offline.
        refresh_scope="offline",
    )
    client_class: ClassVar[type[ApiClient]] = WhoopClient
    revocable: ClassVar[bool] = True
    # The vendor's pure functions are the adapter's methods as they stand.
    verify_webhook = staticmethod(verify_webhook)
    parse_webhook = staticmethod(parse_webhook)
    deletions_for_event = staticmethod(deletions_for_event)
    map_records = staticmethod(map_records)
    source_id = staticmethod(source_id)

    def vendor_user_id(self, client: ApiClient) -> str | None:
        assert isinstance(client, WhoopClient)
        return client.vendor_user_id()

    def revoke(self, client: ApiClient) -> None:
        assert isinstance(client, WhoopClient)
        client.revoke()

    def fetch_for_event(self, client: ApiClient, event: WebhookEvent) -> list[Record]:
        assert isinstance(client, WhoopClient)
        return client.fetch_for_event(event)

    def fetch_range(self, client: ApiClient, start: date, end: date) -> list[Record]:
        assert isinstance(client, WhoopClient)
        # WHOOP pages by instant: pad a day each side so nights crossing midnight are included.
        lo = datetime.combine(start - timedelta(days=1), time(), UTC)
        hi = datetime.combine(end + timedelta(days=1), time(), UTC)
        records: list[Record] = [("sleep", s) for s in client.list_sleeps(lo, hi)]
        records += [("recovery", r) for r in client.list_recoveries(lo, hi)]
        try:
            # Listed by start: a workout of the last day's evening starts on the next UTC day.
            records += [("workout", w) for w in client.list_workouts(lo, hi + timedelta(days=1))]
        except MissingScope as exc:
            # A link made before perfhub read workouts: its nights still come; the athlete is
            # told to link again where a workout notification fails (dead-lettered with this).
            log.warning("%s", exc)
        return records


ADAPTER = WhoopAdapter()
