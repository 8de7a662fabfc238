"""Google Health API v4: OAuth config, polling client for daily HRV, pure mapping.

Polling only: the notification payload shape and signing-key publication are unconfirmed, so
``verify_webhook`` rejects every delivery (fail closed) and a scheduled poll is the data path.

Decisions on the ``daily-heart-rate-variability`` fields:
- ``averageHeartRateVariabilityMilliseconds`` is the night's RMSSD and becomes ``rMSSD``.
- ``deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds`` is RMSSD over deep sleep only; it
  runs systematically higher than the whole-night value, so using it when the average is missing
  would mix two measures in one baseline. It is never used: such a day has no HRV row.
- ``nonRemHeartRateBeatsPerMinute`` is the mean heart rate over non-REM sleep, not a resting heart
  rate (Google publishes that separately as ``daily-resting-heart-rate``); it is never ``restingHr``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from perfhub.vendors.base import (
    DEFAULT_RETRY,
    ApiClient,
    Deletion,
    Mapped,
    MappingError,
    RetryPolicy,
    SignatureError,
    VendorConfig,
    VendorError,
    WebhookEvent,
    drop_none,
    iso,
    number,
    parse_day,
    require_mapping,
)

VENDOR = "google"
DEFAULT_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_API_BASE = "https://health.googleapis.com"
SCOPES = (
    "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly",
    "https://www.googleapis.com/auth/googlehealth.sleep.readonly",
)
DAILY_HRV = "daily-heart-rate-variability"
# Each data point nests its values under the camelCase data type name.
_PAYLOAD_KEY = {DAILY_HRV: "dailyHeartRateVariability"}
PAGE_SIZE = 1000


def config_from(
    client_id: str,
    client_secret: str,
    *,
    authorize_url: str | None = None,
    token_url: str | None = None,
    api_base: str | None = None,
    scopes: Sequence[str] | None = None,
) -> VendorConfig:
    return VendorConfig(
        name=VENDOR,
        authorize_url=authorize_url or DEFAULT_AUTHORIZE_URL,
        token_url=token_url or DEFAULT_TOKEN_URL,
        api_base=api_base or DEFAULT_API_BASE,
        scopes=tuple(scopes or SCOPES),
        uses_pkce=True,
        client_id=client_id,
        client_secret=client_secret,
        # Google hands out a refresh token only for offline access, and on a relink only with consent.
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
    )


def verify_webhook(
    headers: Mapping[str, str], raw_body: bytes, secret: str, now: float, tolerance_s: int = 300
) -> None:
    """Always raises: we register no Google Health subscriber (ECDSA key publication unconfirmed)."""
    raise SignatureError("Google Health notifications are not accepted; data is polled")


def parse_webhook(payload: Any) -> WebhookEvent:
    raise MappingError("Google Health notifications are not accepted; data is polled")


def deletions_for_event(event: WebhookEvent) -> list[Deletion]:
    return []


# --------------------------------------------------------------------------- data client


class GoogleHealthClient(ApiClient):
    def __init__(
        self, http: httpx.Client, token: str, config: VendorConfig, *, policy: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        super().__init__(http, token, config, policy=policy)

    def iter_daily(
        self, data_type: str, start: date, end: date, *, page_size: int = PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Data points of a daily data type with ``date`` in ``start..end`` (both inclusive), each once."""
        field = data_type.replace("-", "_")
        params: dict[str, str | int] = {
            "filter": f'{field}.date >= "{start.isoformat()}" AND '
            f'{field}.date < "{(end + timedelta(days=1)).isoformat()}"',
            "pageSize": page_size,
        }
        seen_names: set[str] = set()
        seen_tokens: set[str] = set()
        path = f"/v4/users/me/dataTypes/{data_type}/dataPoints"
        while True:
            body = require_mapping(self._get(path, params), f"google {data_type} page")
            points = body.get("dataPoints", [])  # Google omits empty repeated fields
            if not isinstance(points, list):
                raise VendorError(f"google {data_type} page without a dataPoints list")
            for point in points:
                if not isinstance(point, dict):
                    raise VendorError(f"google {data_type} page holds a non-object")
                name = point.get("name")
                if isinstance(name, str):
                    if name in seen_names:
                        continue
                    seen_names.add(name)
                yield point
            next_token = body.get("nextPageToken")
            if not next_token:
                return
            if next_token in seen_tokens:
                raise VendorError(f"google {data_type} paging repeats a nextPageToken")
            seen_tokens.add(str(next_token))
            params["pageToken"] = str(next_token)

    def daily_hrv(self, start: date, end: date) -> list[dict[str, Any]]:
        return list(self.iter_daily(DAILY_HRV, start, end))


# --------------------------------------------------------------------------- pure mapping


def source_id(kind: str, record: Mapping[str, Any]) -> str | None:
    name = record.get("name")
    return name if isinstance(name, str) else None


def _date(value: Any, what: str) -> date:
    """``google.type.Date`` (``{year, month, day}``) as the API sends it, or ``YYYY-MM-DD``."""
    if isinstance(value, str):
        return parse_day(value, what)
    parts = require_mapping(value, f"{what} date")
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise MappingError(f"{what}: date {dict(parts)!r} is not a full calendar date") from exc


def map_records(kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
    """Canonical ("hrv", payload) pairs for one data point (a ``DataPoint`` or its inner object).

    Google gives no capture instant, only the athlete's local ``date``; ``capturedAt`` is the start
    of that date in ``tz_fallback``: never in the future, and stable across polls so that a
    re-fetched correction still replaces the day.
    """
    if kind != DAILY_HRV:
        raise MappingError(f"unsupported Google Health kind {kind!r}")
    point = require_mapping(record, "google data point")
    what = f"google {kind} {point.get('name', '')}".rstrip()
    inner = point.get(_PAYLOAD_KEY[kind], point)
    values = require_mapping(inner, what)
    day = _date(values.get("date"), what)
    rmssd = number(values, "averageHeartRateVariabilityMilliseconds", what) or None
    if rmssd is None:
        return []
    try:
        zone = ZoneInfo(tz_fallback)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"fallback time zone {tz_fallback!r} is not an IANA zone") from exc
    captured = datetime.combine(day, time(0, 0), tzinfo=zone)
    return [
        (
            "hrv",
            drop_none(
                {"date": day.isoformat(), "rMSSD": rmssd, "vendor": VENDOR, "capturedAt": iso(captured)}
            ),
        )
    ]
