"""Fake Oura API v2 (docs/vendors.md § Oura): OAuth, usercollection data with next_token paging, personal
info, webhook subscriptions with the verification handshake, and signed deliveries.

Reproduced quirks: the token endpoint wants client credentials in the form body; refresh tokens are
single use; a date-only ``end_date`` is treated as exclusive, so a client that does not ask one day
past its range misses the last day. PKCE is unconfirmed at Oura: ``pkce_supported`` picks either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tests.fakes import (
    Endpoint,
    FakeVendor,
    fingerprint,
    page_of,
)

from perfhub.wearables.vendors import oura

SCOPES = {"email", "personal", "daily", "heartrate", "workout", "tag", "session", "spo2Daily"}
DATA_TYPES = {
    "sleep",
    "daily_sleep",
    "daily_readiness",
    "daily_activity",
    "daily_spo2",
    "workout",
    "session",
    "tag",
}
SUBSCRIPTION_TTL_S = 90 * 86400


def signed_delivery(payload: dict[str, Any], secret: str, timestamp: int) -> tuple[dict[str, str], bytes]:
    """Headers and body exactly as Oura sends a webhook: HMAC-SHA256(secret, timestamp + body), hex upper."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), str(timestamp).encode() + body, hashlib.sha256).hexdigest().upper()
    headers = {
        "content-type": "application/json",
        "x-oura-signature": digest,
        "x-oura-timestamp": str(timestamp),
    }
    return headers, body


def webhook_payload(
    event_type: str,
    data_type: str,
    object_id: str,
    user_id: str,
    event_time: str = "2026-01-02T08:00:00+00:00",
) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "data_type": data_type,
        "object_id": object_id,
        "event_time": event_time,
        "user_id": user_id,
    }


def handshake(http: httpx.Client, callback_url: str, verification_token: str, challenge: str) -> bool:
    """What Oura does before creating a subscription: GET the callback, expect the challenge back."""
    response = http.get(
        callback_url, params={"verification_token": verification_token, "challenge": challenge}
    )
    if response.status_code != 200:
        return False
    try:
        return bool(response.json().get("challenge") == challenge)
    except (ValueError, AttributeError):
        return False


def sleep_doc(
    day: str,
    *,
    id: str | None = None,
    type: str = "long_sleep",
    bedtime_start: str | None = None,
    bedtime_end: str | None = None,
    average_hrv: float | None = 48.0,
    lowest_heart_rate: float | None = 51,
    total_sleep_duration: int | None = 27_000,
    time_in_bed: int | None = 29_700,
    latency: int | None = 540,
    efficiency: int | None = 91,
    readiness_score: int | None = 82,
) -> dict[str, Any]:
    """A ``sleep`` document with every documented field; defaults are a plausible night ending ``day``.

    Without ``bedtime_start`` the period starts ``time_in_bed`` before it ends, as Oura's do.
    """
    end = bedtime_end or f"{day}T07:05:00+01:00"
    span = timedelta(seconds=time_in_bed or total_sleep_duration or 29_700)
    start = bedtime_start or (datetime.fromisoformat(end) - span).isoformat()
    return {
        "id": id or str(uuid.uuid4()),
        "day": day,
        "bedtime_start": start,
        "bedtime_end": end,
        "type": type,
        "average_hrv": average_hrv,
        "average_heart_rate": 56.5,
        "lowest_heart_rate": lowest_heart_rate,
        "hrv": {"interval": 300.0, "items": [41.0, 50.0, 52.0], "timestamp": end},
        "total_sleep_duration": total_sleep_duration,
        "time_in_bed": time_in_bed,
        "awake_time": 2_160,
        "latency": latency,
        "deep_sleep_duration": 5_400,
        "light_sleep_duration": 14_400,
        "rem_sleep_duration": 7_200,
        "efficiency": efficiency,
        "restless_periods": 210,
        "average_breath": 14.6,
        "readiness": None
        if readiness_score is None
        else {"score": readiness_score, "contributors": {"hrv_balance": 80}, "temperature_deviation": -0.1},
    }


def workout_doc(
    day: str,
    *,
    id: str | None = None,
    activity: str = "running",
    start: str | None = None,
    end: str | None = None,
    intensity: str | None = "moderate",
    calories: float | None = 512.0,
    distance: float | None = 9_870.0,
    label: str | None = None,
    source: str = "autodetected",
) -> dict[str, Any]:
    """A ``workout`` document with every documented field; by default 07:00–07:50 on ``day`` at +01:00."""
    return {
        "id": id or str(uuid.uuid4()),
        "activity": activity,
        "calories": calories,
        "day": day,
        "distance": distance,
        "start_datetime": start or f"{day}T07:00:00.000+01:00",
        "end_datetime": end or f"{day}T07:50:00.000+01:00",
        "intensity": intensity,
        "label": label,
        "source": source,
    }


def readiness_doc(day: str, score: int = 80, *, id: str | None = None) -> dict[str, Any]:
    return {
        "id": id or str(uuid.uuid4()),
        "day": day,
        "score": score,
        "timestamp": f"{day}T00:00:00+00:00",
        "temperature_deviation": -0.1,
        "temperature_trend_deviation": 0.05,
        "contributors": {
            "activity_balance": 80,
            "body_temperature": 95,
            "hrv_balance": 75,
            "previous_day_activity": 70,
            "previous_night": 85,
            "recovery_index": 90,
            "resting_heart_rate": 88,
            "sleep_balance": 77,
            "sleep_regularity": 80,
        },
    }


class FakeOura(FakeVendor):
    name = "oura"
    adapter = oura.ADAPTER
    default_client_id = "oura-client-id"
    default_client_secret = "oura-client-secret"

    def __init__(self, *, page_size: int = 25, pkce_supported: bool = False, **common: Any) -> None:
        super().__init__(
            **common,
            allowed_scopes=SCOPES,
            access_ttl_s=86_400,
            code_ttl_s=600,
            rotate=True,
            pkce=pkce_supported,
        )
        self.page_size = page_size
        self.personal: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {
            "Retry-After": str(int(retry_after)),
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
        }

    # -- store --------------------------------------------------------------------------------

    def add_user(self, user_id: str | None = None, email: str = "athlete@example.com") -> str:
        user_id = user_id or secrets.token_hex(8)
        self.personal[user_id] = {
            "id": user_id,
            "age": 31,
            "weight": 68.5,
            "height": 1.76,
            "biological_sex": "female",
            "email": email,
        }
        self.records.setdefault(user_id, {})
        return user_id

    def put(self, user_id: str, data_type: str, record: dict[str, Any]) -> dict[str, Any]:
        self.records.setdefault(user_id, {}).setdefault(data_type, {})[str(record["id"])] = record
        return record

    def remove(self, user_id: str, data_type: str, record_id: str) -> None:
        self.records.get(user_id, {}).get(data_type, {}).pop(record_id, None)

    # -- webhooks -----------------------------------------------------------------------------

    def deliver(
        self, callback_url: str, payload: dict[str, Any], *, timestamp: int | None = None
    ) -> httpx.Response:
        """POST a signed delivery as Oura would; a 410 answer cancels the subscriptions to that URL."""
        headers, body = signed_delivery(payload, self.client_secret, int(timestamp or self.clock()))
        response = self.callback_client().post(callback_url, content=body, headers=headers)
        if response.status_code == 410:
            for sub_id in [s for s, sub in self.subscriptions.items() if sub["callback_url"] == callback_url]:
                del self.subscriptions[sub_id]
        return response

    # -- endpoints ----------------------------------------------------------------------------

    def api_routes(self) -> list[tuple[str, Endpoint, list[str]]]:
        return [
            ("/v2/usercollection/personal_info", self._personal_info, ["GET"]),
            ("/v2/usercollection/{data_type}", self._list, ["GET"]),
            ("/v2/usercollection/{data_type}/{record_id}", self._one, ["GET"]),
            ("/v2/webhook/subscription", self._subscriptions, ["GET", "POST"]),
            ("/v2/webhook/subscription/renew/{sub_id}", self._renew, ["PUT"]),
            ("/v2/webhook/subscription/{sub_id}", self._subscription, ["GET", "PUT", "DELETE"]),
        ]

    def _user(self, request: Request, scope: str) -> str | Response:
        issued = self.oauth.bearer(request, scope)
        if issued is None:
            return JSONResponse({"detail": "Unauthorized"}, 401)
        return issued.user_id

    async def _personal_info(self, request: Request) -> Response:
        user = self._user(request, "personal")
        if isinstance(user, Response):
            return user
        return JSONResponse(self.personal[user])

    async def _one(self, request: Request) -> Response:
        data_type = request.path_params["data_type"]
        user = self._user(request, "daily")
        if isinstance(user, Response):
            return user
        record = self.records.get(user, {}).get(data_type, {}).get(request.path_params["record_id"])
        if record is None:
            return JSONResponse({"detail": "Not Found"}, 404)
        return JSONResponse(record)

    async def _list(self, request: Request) -> Response:
        data_type = request.path_params["data_type"]
        if data_type not in DATA_TYPES:
            return JSONResponse({"detail": "Not Found"}, 404)
        user = self._user(request, "daily")
        if isinstance(user, Response):
            return user
        q = request.query_params
        try:
            start = date.fromisoformat(q["start_date"]) if "start_date" in q else None
            end = date.fromisoformat(q["end_date"]) if "end_date" in q else None
        except ValueError:
            return JSONResponse({"detail": "start_date and end_date are YYYY-MM-DD"}, 400)
        # The documented quirk: the last day of a date-only range can be missed.
        records = sorted(
            (
                r
                for r in self.records.get(user, {}).get(data_type, {}).values()
                if (start is None or r["day"] >= start.isoformat())
                and (end is None or r["day"] < end.isoformat())
            ),
            key=lambda r: (r["day"], r["id"]),
        )
        key = fingerprint(user, data_type, q.get("start_date"), q.get("end_date"))
        paged = page_of(records, q.get("next_token"), key, self.page_size)
        if paged is None:
            return JSONResponse({"detail": "invalid next_token"}, 400)
        page, next_token = paged
        return JSONResponse({"data": page, "next_token": next_token})

    # -- subscriptions ------------------------------------------------------------------------

    def _app_authenticated(self, request: Request) -> bool:
        return request.headers.get("x-client-id") == self.client_id and hmac.compare_digest(
            request.headers.get("x-client-secret", ""), self.client_secret
        )

    def _expiry(self) -> str:
        return datetime.fromtimestamp(self.clock() + SUBSCRIPTION_TTL_S, UTC).isoformat()

    @staticmethod
    def _public(sub: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in sub.items() if k != "verification_token"}

    async def _subscriptions(self, request: Request) -> Response:
        if not self._app_authenticated(request):
            return JSONResponse({"detail": "invalid client credentials"}, 401)
        if request.method == "GET":
            return JSONResponse([self._public(s) for s in self.subscriptions.values()])
        try:
            body = await request.json()
            fields = {
                k: str(body[k]) for k in ("callback_url", "verification_token", "event_type", "data_type")
            }
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "callback_url, verification_token, event_type, data_type"}, 422)
        if (
            fields["event_type"] not in ("create", "update", "delete")
            or fields["data_type"] not in DATA_TYPES
        ):
            return JSONResponse({"detail": "unknown event_type or data_type"}, 422)
        for sub in self.subscriptions.values():
            if (sub["callback_url"], sub["event_type"], sub["data_type"]) == (
                fields["callback_url"],
                fields["event_type"],
                fields["data_type"],
            ):
                return JSONResponse({"detail": "subscription already exists"}, 409)
        challenge = secrets.token_urlsafe(12)
        verified = await run_in_threadpool(
            handshake,
            self.callback_client(),
            fields["callback_url"],
            fields["verification_token"],
            challenge,
        )
        if not verified:
            return JSONResponse({"detail": "callback verification failed"}, 400)
        sub_id = str(uuid.uuid4())
        self.subscriptions[sub_id] = {"id": sub_id, **fields, "expiration_time": self._expiry()}
        return JSONResponse(self._public(self.subscriptions[sub_id]), 201)

    async def _subscription(self, request: Request) -> Response:
        if not self._app_authenticated(request):
            return JSONResponse({"detail": "invalid client credentials"}, 401)
        sub = self.subscriptions.get(request.path_params["sub_id"])
        if sub is None:
            return JSONResponse({"detail": "Not Found"}, 404)
        if request.method == "DELETE":
            del self.subscriptions[sub["id"]]
            return Response(status_code=204)
        if request.method == "PUT":
            body = await request.json()
            sub.update({k: str(body[k]) for k in ("callback_url", "verification_token") if k in body})
        return JSONResponse(self._public(sub))

    async def _renew(self, request: Request) -> Response:
        if not self._app_authenticated(request):
            return JSONResponse({"detail": "invalid client credentials"}, 401)
        sub = self.subscriptions.get(request.path_params["sub_id"])
        if sub is None:
            return JSONResponse({"detail": "Not Found"}, 404)
        sub["expiration_time"] = self._expiry()
        return JSONResponse(self._public(sub))
