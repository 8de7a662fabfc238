"""Google Health API v4: the adapter, and the vendor's modules re-exported under one name.

Polling only: the notification payload shape and signing-key publication are unconfirmed, so
``verify_webhook`` rejects every delivery (fail closed) and a scheduled poll is the data path.

Three data types are read from ``GET /v4/users/me/dataTypes/{type}/dataPoints``; each data point
nests its values under the camelCase type name:

- ``daily-heart-rate-variability`` (``dailyHeartRateVariability``, filter ``…date``):
  ``averageHeartRateVariabilityMilliseconds`` is the night's RMSSD and becomes ``rMSSD``.
  ``deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds`` is RMSSD over deep sleep only; it
  runs systematically higher than the whole-night value, so using it when the average is missing
  would mix two measures in one baseline: such a day has no rMSSD. ``nonRemHeartRateBeatsPerMinute``
  is the mean heart rate over non-REM sleep, not a resting heart rate; it is never ``restingHr``.
- ``daily-resting-heart-rate`` (``dailyRestingHeartRate``, filter ``…date``): ``beatsPerMinute``
  (int64, sent as a JSON string) becomes ``restingHr``. Google computes it from the whole day's
  heart rate, with or without sleep (``dailyRestingHeartRateMetadata.calculationMethod``
  ``WITH_SLEEP`` | ``ONLY_WITH_AWAKE_DATA``); both are Google's resting HR of that date and kept.
- ``sleep`` (``sleep``, filter ``sleep.interval.civil_end_time``, at most 25 a page): a session
  with ``interval`` (``startTime``/``endTime`` instants, ``endUtcOffset``, ``civilEndTime``),
  ``metadata`` (``nap``, ``processed``, …) and ``summary`` (``minutesAsleep``,
  ``minutesInSleepPeriod``, ``minutesToFallAsleep``, …).

The two daily types are separate data points but one canonical HRV row per day, and a canonical
row is replaced whole: landed separately, the resting HR of a day would wipe its rMSSD. The client
therefore bundles them per date (kind ``daily``: ``{"date", "dailyHeartRateVariability",
"dailyRestingHeartRate"}``) and the mapping takes each on its own, so a malformed HRV point refuses
the rMSSD and keeps the resting HR.

``mapping`` is pure (no HTTP, no settings); ``client`` polls the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar

from perfhub.readings.mapping import Deletion
from perfhub.wearables.vendors.adapter import Record, VendorAdapter, VendorDefaults
from perfhub.wearables.vendors.errors import MappingError, SignatureError
from perfhub.wearables.vendors.google.client import PAGE_SIZE, SLEEP_PAGE_SIZE, GoogleHealthClient
from perfhub.wearables.vendors.google.mapping import (
    DAILY,
    DAILY_HRV,
    DAILY_RESTING_HR,
    HRV_KEY,
    RESTING_HR_KEY,
    SLEEP,
    VENDOR,
    daily_bundles,
    main_sleeps,
    map_records,
    source_id,
)
from perfhub.wearables.vendors.http import ApiClient
from perfhub.wearables.vendors.records import WebhookEvent

__all__ = [
    "ADAPTER",
    "DAILY",
    "DAILY_HRV",
    "DAILY_RESTING_HR",
    "HRV_KEY",
    "PAGE_SIZE",
    "RESTING_HR_KEY",
    "SLEEP",
    "SLEEP_PAGE_SIZE",
    "VENDOR",
    "GoogleAdapter",
    "GoogleHealthClient",
    "daily_bundles",
    "deletions_for_event",
    "main_sleeps",
    "map_records",
    "parse_webhook",
    "source_id",
    "verify_webhook",
]


def verify_webhook(
    headers: Mapping[str, str], raw_body: bytes, secret: str, now: float, tolerance_s: int = 300
) -> None:
    """Always raises: we register no Google Health subscriber (ECDSA key publication unconfirmed)."""
    raise SignatureError("Google Health notifications are not accepted; data is polled")


def parse_webhook(payload: Any) -> WebhookEvent:
    raise MappingError("Google Health notifications are not accepted; data is polled")


def deletions_for_event(event: WebhookEvent) -> list[Deletion]:
    return []


class GoogleAdapter(VendorAdapter):
    name: ClassVar[str] = VENDOR
    display_name: ClassVar[str] = "Google Health"
    defaults: ClassVar[VendorDefaults] = VendorDefaults(
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        api_base="https://health.googleapis.com",
        scopes=(
            "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly",
            "https://www.googleapis.com/auth/googlehealth.sleep.readonly",
        ),
        uses_pkce=True,
        # Google hands out a refresh token only for offline access, and on a relink only with consent.
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
    )
    client_class: ClassVar[type[ApiClient]] = GoogleHealthClient
    names_account: ClassVar[bool] = False  # its accounts cannot be told apart
    captures_instants: ClassVar[bool] = False  # daily values carry their date only
    # The vendor's pure functions are the adapter's methods as they stand.
    verify_webhook = staticmethod(verify_webhook)
    parse_webhook = staticmethod(parse_webhook)
    deletions_for_event = staticmethod(deletions_for_event)
    map_records = staticmethod(map_records)
    source_id = staticmethod(source_id)

    def fetch_for_event(self, client: ApiClient, event: WebhookEvent) -> list[Record]:
        return []  # no notifications reach here: data is polled

    def fetch_range(self, client: ApiClient, start: date, end: date) -> list[Record]:
        assert isinstance(client, GoogleHealthClient)
        # HRV and resting HR come bundled per date (one canonical row each day); sleep is the one
        # main session per wake date.
        return [(DAILY, day) for day in client.daily_records(start, end)] + [
            (SLEEP, point) for point in client.main_sleeps(start, end)
        ]


ADAPTER = GoogleAdapter()
