"""Fake Google Health API v4 (docs/vendors.md § Google): Google OAuth with PKCE, and
``users/me/dataTypes/{type}/dataPoints`` listing with a ``filter`` and page tokens for
``daily-heart-rate-variability``, ``daily-resting-heart-rate`` and ``sleep``.

Beyond docs/vendors.md, following Google's published v4 reference and general API conventions: a
refresh token is issued only with ``access_type=offline``; refresh tokens do not rotate unless
``rotate_refresh_tokens``; errors are ``{"error": {"code", "message", "status"}}``; 429 carries
no Retry-After; the list response omits ``dataPoints``/``nextPageToken`` when empty; a ``date``
is a ``google.type.Date`` object (``{year, month, day}``), int64 values are JSON strings and a
UTC offset is a ``Duration`` string ("3600s"). Daily types filter on ``{type}.date``; sleep on
``sleep.interval.civil_end_time`` (a civil date or date-time) or ``sleep.interval.end_time`` (an
RFC 3339 instant), at most 25 sessions a page. Other filter fields are a 400.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tests.fakes import (
    Endpoint,
    FakeVendor,
    fingerprint,
    page_of,
)

from perfhub.wearables.vendors import google

HEALTH_SCOPE = "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly"
SLEEP_SCOPE = "https://www.googleapis.com/auth/googlehealth.sleep.readonly"
SCOPES = {HEALTH_SCOPE, SLEEP_SCOPE, "openid", "email"}
DAILY_TYPES = {
    "daily-heart-rate-variability": ("dailyHeartRateVariability", HEALTH_SCOPE),
    "daily-resting-heart-rate": ("dailyRestingHeartRate", HEALTH_SCOPE),
}
SLEEP_TYPE = ("sleep", SLEEP_SCOPE)
DEFAULT_PAGE_SIZE = 1440
MAX_PAGE_SIZE = 10_000
SLEEP_PAGE_SIZE = 25  # default and maximum for sleep sessions
_CLAUSE = re.compile(r'^\s*([a-z_]+(?:\.[a-z_]+)*)\s*(>=|<)\s*"([^"]+)"\s*$')
_CIVIL = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2})?$")


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


def _google_date(day: str) -> dict[str, int]:
    year, month, dd = (int(part) for part in day.split("-"))
    return {"year": year, "month": month, "day": dd}


def daily_resting_hr_point(
    user_id: str, day: str, *, bpm: int | None = 52, method: str = "WITH_SLEEP"
) -> dict[str, Any]:
    """A ``DataPoint`` for daily-resting-heart-rate as the API returns it (int64 as a string)."""
    values: dict[str, Any] = {
        "date": _google_date(day),
        "dailyRestingHeartRateMetadata": {"calculationMethod": method},
    }
    if bpm is not None:
        values["beatsPerMinute"] = str(bpm)
    return {
        "name": f"users/{user_id}/dataTypes/daily-resting-heart-rate/dataPoints/{day.replace('-', '')}",
        "dataSource": {"recordingMethod": "DERIVED", "platform": "FITBIT"},
        "dailyRestingHeartRate": values,
    }


def _civil(instant: datetime) -> dict[str, Any]:
    return {
        "date": _google_date(instant.date().isoformat()),
        "time": {"hours": instant.hour, "minutes": instant.minute, "seconds": instant.second},
    }


def sleep_point(
    user_id: str,
    *,
    start: str,
    end: str,
    utc_offset_s: int = 3600,
    minutes_asleep: int | None = None,
    minutes_awake: int = 35,
    minutes_to_fall_asleep: int | None = 12,
    nap: bool = False,
    processed: bool = True,
    stages: bool = True,
) -> dict[str, Any]:
    """A ``sleep`` ``DataPoint`` as the API returns it. ``start``/``end`` are local wall times
    ("2026-02-03T23:10") in ``utc_offset_s``; by default the session is asleep all but
    ``minutes_awake`` of it, with a plausible stage split."""
    zone = timezone(timedelta(seconds=utc_offset_s))
    begin = datetime.fromisoformat(start).replace(tzinfo=zone)
    finish = datetime.fromisoformat(end).replace(tzinfo=zone)
    period = int((finish - begin).total_seconds() // 60)
    asleep = period - minutes_awake if minutes_asleep is None else minutes_asleep
    deep, rem = asleep // 6, asleep // 5
    stage_summary = (
        [
            {"type": "AWAKE", "minutes": str(minutes_awake), "count": "6"},
            {"type": "LIGHT", "minutes": str(asleep - deep - rem), "count": "21"},
            {"type": "DEEP", "minutes": str(deep), "count": "4"},
            {"type": "REM", "minutes": str(rem), "count": "5"},
        ]
        if stages
        else [
            {"type": "AWAKE", "minutes": str(minutes_awake), "count": "2"},
            {"type": "ASLEEP", "minutes": str(asleep), "count": "3"},
        ]
    )
    summary: dict[str, Any] = {
        "minutesInSleepPeriod": str(period),
        "minutesAsleep": str(asleep),
        "minutesAwake": str(minutes_awake),
        "minutesAfterWakeUp": "0",
        "stagesSummary": stage_summary,
    }
    if minutes_to_fall_asleep is not None:
        summary["minutesToFallAsleep"] = str(minutes_to_fall_asleep)
    offset = f"{utc_offset_s}s"
    return {
        "name": f"users/{user_id}/dataTypes/sleep/dataPoints/{uuid.uuid4()}",
        "dataSource": {"recordingMethod": "PASSIVELY_MEASURED", "platform": "FITBIT"},
        "sleep": {
            "interval": {
                "startTime": begin.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "startUtcOffset": offset,
                "endTime": finish.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "endUtcOffset": offset,
                "civilStartTime": _civil(begin),
                "civilEndTime": _civil(finish),
            },
            "type": "STAGES" if stages else "CLASSIC",
            "metadata": {
                "nap": nap,
                "processed": processed,
                "manuallyEdited": False,
                "stagesStatus": "SUCCEEDED" if stages else "REJECTED_NAP" if nap else "REJECTED_COVERAGE",
            },
            "summary": summary,
            "createTime": finish.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "updateTime": finish.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
    }


class FakeGoogle(FakeVendor):
    name = "google"
    adapter = google.ADAPTER
    authorize_path = "/o/oauth2/v2/auth"
    token_path = "/token"
    default_client_id = "google-client-id.apps.googleusercontent.com"
    default_client_secret = "google-client-secret"

    def __init__(self, *, rotate_refresh_tokens: bool = False, **common: Any) -> None:
        super().__init__(
            **common,
            allowed_scopes=SCOPES,
            access_ttl_s=3_599,
            rotate=rotate_refresh_tokens,
            pkce=True,
            offline_from=lambda scope, params: params.get("access_type") == "offline",
        )
        self.points: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {}

    def rate_limit_body(self) -> Any:
        return {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}

    def put(self, user_id: str, data_type: str, point: dict[str, Any]) -> dict[str, Any]:
        self.points.setdefault(user_id, {}).setdefault(data_type, []).append(point)
        return point

    def api_routes(self) -> list[tuple[str, Endpoint, list[str]]]:
        return [
            ("/v4/users/me/dataTypes/{data_type}/dataPoints", self._list, ["GET"]),
        ]

    async def _list(self, request: Request) -> Response:
        data_type = request.path_params["data_type"]
        if data_type in DAILY_TYPES:
            payload_key, scope = DAILY_TYPES[data_type]
        elif data_type == "sleep":
            payload_key, scope = SLEEP_TYPE
        else:
            return _error(404, "NOT_FOUND", f"unknown data type {data_type}")
        issued = self.oauth.bearer(request)
        if issued is None:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if scope not in issued.scope.split():
            return _error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        q = request.query_params
        filter_type = data_type.replace("-", "_")
        key_of = _sleep_key if data_type == "sleep" else _daily_key(payload_key)
        low: Any = None
        high: Any = None
        if q.get("filter"):
            for clause in q["filter"].split(" AND "):
                match = _CLAUSE.match(clause)
                bound = _bound(data_type, filter_type, match) if match else None
                if bound is None:
                    return _error(400, "INVALID_ARGUMENT", f"INVALID_DATA_POINT_FILTER: {clause!r}")
                field, value = bound
                if match is not None and match.group(2) == ">=":
                    low = (field, value)
                else:
                    high = (field, value)
        default_size, max_size = (
            (SLEEP_PAGE_SIZE, SLEEP_PAGE_SIZE) if data_type == "sleep" else (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        )
        try:
            size = min(int(q.get("pageSize", default_size)), max_size)
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "pageSize must be an integer")
        if size <= 0:
            size = default_size

        def within(point: dict[str, Any]) -> bool:
            for bound, keep in ((low, lambda a, b: a >= b), (high, lambda a, b: a < b)):
                if bound is not None and not keep(key_of(point, bound[0]), bound[1]):
                    return False
            return True

        points = sorted(
            (p for p in self.points.get(issued.user_id, {}).get(data_type, []) if within(p)),
            key=lambda p: key_of(p, "order"),
        )
        key = fingerprint(issued.user_id, data_type, q.get("filter"), str(size))
        paged = page_of(points, q.get("pageToken") or None, key, size)
        if paged is None:
            return _error(400, "INVALID_ARGUMENT", "invalid page token")
        page, next_token = paged
        body: dict[str, Any] = {}
        if page:
            body["dataPoints"] = page
        if next_token is not None:
            body["nextPageToken"] = next_token
        return JSONResponse(body)


def _bound(data_type: str, filter_type: str, match: re.Match[str]) -> tuple[str, Any] | None:
    """(field, comparable value) of one filter clause, or None when the API would refuse it."""
    field, literal = match.group(1), match.group(3)
    if data_type != "sleep":
        if field != f"{filter_type}.date":
            return None
        try:
            return "date", date.fromisoformat(literal)
        except ValueError:
            return None
    if field == "sleep.interval.civil_end_time" and _CIVIL.match(literal):
        return "civil_end", datetime.fromisoformat(literal)
    if field == "sleep.interval.end_time":
        try:
            instant = datetime.fromisoformat(literal.replace("Z", "+00:00"))
        except ValueError:
            return None
        return ("end", instant) if instant.tzinfo is not None else None
    return None


def _from_google_date(value: dict[str, int]) -> date:
    return date(value["year"], value["month"], value["day"])


def _daily_key(payload_key: str) -> Any:
    def key(point: dict[str, Any], field: str) -> Any:
        return _from_google_date(point[payload_key]["date"])

    return key


def _sleep_key(point: dict[str, Any], field: str) -> Any:
    interval = point["sleep"]["interval"]
    if field == "end" or field == "order":
        return datetime.fromisoformat(interval["endTime"].replace("Z", "+00:00"))
    civil = interval["civilEndTime"]
    clock = civil.get("time", {})
    return datetime.combine(
        _from_google_date(civil["date"]),
        datetime.min.time().replace(hour=clock.get("hours", 0), minute=clock.get("minutes", 0)),
    )
