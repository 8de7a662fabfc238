"""Fake Google Health API v4 (VENDORS.md § Google): Google OAuth with PKCE, and
``users/me/dataTypes/{type}/dataPoints`` listing with a date ``filter`` and page tokens.

Beyond VENDORS.md, following Google's general OAuth and API conventions: a refresh token is issued
only with ``access_type=offline``; refresh tokens do not rotate unless ``rotate_refresh_tokens``;
errors are ``{"error": {"code", "message", "status"}}``; 429 carries no Retry-After; the list
response omits ``dataPoints``/``nextPageToken`` when empty, and the ``date`` is a
``google.type.Date`` object (``{year, month, day}``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tests.fakes import (
    Endpoint,
    FakeClock,
    FakeOAuth,
    FakeVendor,
    fingerprint,
    page_token,
    read_page_token,
)

from perfhub.vendors import google
from perfhub.vendors.base import VendorConfig

HEALTH_SCOPE = "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly"
SLEEP_SCOPE = "https://www.googleapis.com/auth/googlehealth.sleep.readonly"
SCOPES = {HEALTH_SCOPE, SLEEP_SCOPE, "openid", "email"}
DAILY_TYPES = {"daily-heart-rate-variability": ("dailyHeartRateVariability", HEALTH_SCOPE)}
DEFAULT_PAGE_SIZE = 1440
MAX_PAGE_SIZE = 10_000
_CLAUSE = re.compile(r'^\s*([a-z_]+)\.date\s*(>=|<)\s*"(\d{4}-\d{2}-\d{2})"\s*$')


def _error(code: int, status: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)


def daily_hrv_point(
    user_id: str,
    day: str,
    *,
    average: float | None = 42.5,
    deep_sleep: float | None = 55.0,
    non_rem_bpm: int | None = 57,
    entropy: float | None = 2.9,
) -> dict[str, Any]:
    """A ``DataPoint`` for daily-heart-rate-variability as the API returns it (int64 as a string)."""
    year, month, dd = (int(part) for part in day.split("-"))
    values: dict[str, Any] = {"date": {"year": year, "month": month, "day": dd}}
    if average is not None:
        values["averageHeartRateVariabilityMilliseconds"] = average
    if deep_sleep is not None:
        values["deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds"] = deep_sleep
    if non_rem_bpm is not None:
        values["nonRemHeartRateBeatsPerMinute"] = str(non_rem_bpm)
    if entropy is not None:
        values["entropy"] = entropy
    return {
        "name": f"users/{user_id}/dataTypes/daily-heart-rate-variability/dataPoints/{day.replace('-', '')}",
        "dataSource": {"recordingMethod": "PASSIVELY_MEASURED", "platform": "FITBIT"},
        "dailyHeartRateVariability": values,
    }


class FakeGoogle(FakeVendor):
    name = "google"

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        client_id: str = "google-client-id.apps.googleusercontent.com",
        client_secret: str = "google-client-secret",
        rotate_refresh_tokens: bool = False,
    ) -> None:
        super().__init__(clock)
        self.client_id = client_id
        self.client_secret = client_secret
        self.oauth = FakeOAuth(
            self.clock,
            client_id=client_id,
            client_secret=client_secret,
            allowed_scopes=SCOPES,
            access_ttl_s=3_599,
            rotate=rotate_refresh_tokens,
            pkce=True,
            offline_from=lambda scope, params: params.get("access_type") == "offline",
        )
        self.points: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def config(self, base_url: str = "http://fake-google") -> VendorConfig:
        return google.config_from(
            self.client_id,
            self.client_secret,
            authorize_url=f"{base_url}/o/oauth2/v2/auth",
            token_url=f"{base_url}/token",
            api_base=base_url,
        )

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {}

    def rate_limit_body(self) -> Any:
        return {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}

    def put(self, user_id: str, data_type: str, point: dict[str, Any]) -> dict[str, Any]:
        self.points.setdefault(user_id, {}).setdefault(data_type, []).append(point)
        return point

    def routes(self) -> list[tuple[str, Endpoint, list[str]]]:
        return [
            ("/o/oauth2/v2/auth", self.oauth.authorize, ["GET"]),
            ("/token", self.oauth.token, ["POST"]),
            ("/v4/users/me/dataTypes/{data_type}/dataPoints", self._list, ["GET"]),
        ]

    async def _list(self, request: Request) -> Response:
        data_type = request.path_params["data_type"]
        if data_type not in DAILY_TYPES:
            return _error(404, "NOT_FOUND", f"unknown data type {data_type}")
        payload_key, scope = DAILY_TYPES[data_type]
        issued = self.oauth.bearer(request)
        if issued is None:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if scope not in issued.scope.split():
            return _error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        q = request.query_params
        low, high = date.min, date.max
        if q.get("filter"):
            for clause in q["filter"].split(" AND "):
                match = _CLAUSE.match(clause)
                if match is None or match.group(1) != data_type.replace("-", "_"):
                    return _error(400, "INVALID_ARGUMENT", f"unsupported filter {clause!r}")
                bound = date.fromisoformat(match.group(3))
                if match.group(2) == ">=":
                    low = bound
                else:
                    high = bound
        try:
            size = min(int(q.get("pageSize", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "pageSize must be an integer")

        def day_of(point: dict[str, Any]) -> date:
            d = point[payload_key]["date"]
            return date(d["year"], d["month"], d["day"])

        points = sorted(
            (p for p in self.points.get(issued.user_id, {}).get(data_type, []) if low <= day_of(p) < high),
            key=day_of,
        )
        key = fingerprint(issued.user_id, data_type, q.get("filter"), str(size))
        offset = 0
        if q.get("pageToken"):
            found = read_page_token(q["pageToken"], key)
            if found is None:
                return _error(400, "INVALID_ARGUMENT", "invalid page token")
            offset = found
        page = points[offset : offset + size]
        body: dict[str, Any] = {}
        if page:
            body["dataPoints"] = page
        if offset + size < len(points):
            body["nextPageToken"] = page_token(offset + size, key)
        return JSONResponse(body)
