"""Fake WHOOP API v2 (docs/vendors.md § WHOOP): OAuth (state ≥ 8 characters, ``offline`` for a refresh
token, rotating refresh tokens that need ``scope=offline``), sleeps / cycles / recoveries / workouts
with ``limit ≤ 25`` + ``nextToken`` paging (workouts need ``read:workout``), the basic profile,
revoke, and signed webhook deliveries.

429s carry ``X-RateLimit-*`` headers and no ``Retry-After``, as documented. v1 paths do not exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tests.fakes import (
    Endpoint,
    FakeVendor,
    fingerprint,
    page_of,
)

from perfhub.wearables.vendors import whoop

SCOPES = {"read:recovery", "read:cycles", "read:sleep", "read:profile", "read:workout", "offline"}
MAX_LIMIT = 25


def signed_delivery(payload: dict[str, Any], secret: str, timestamp: int) -> tuple[dict[str, str], bytes]:
    """Headers and body as WHOOP sends them: base64(HMAC-SHA256(secret, timestamp + body)); ms timestamp."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), str(timestamp).encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "X-WHOOP-Signature": base64.b64encode(digest).decode(),
        "X-WHOOP-Signature-Timestamp": str(timestamp),
    }
    return headers, body


def webhook_payload(type: str, object_id: str, user_id: int, trace_id: str | None = None) -> dict[str, Any]:
    return {"user_id": user_id, "id": object_id, "type": type, "trace_id": trace_id or str(uuid.uuid4())}


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sleep_record(
    *,
    user_id: int,
    cycle_id: int,
    start: str,
    end: str,
    timezone_offset: str | None = "-05:00",
    nap: bool = False,
    score_state: str = "SCORED",
    id: str | None = None,
    light_ms: int = 14_400_000,
    slow_wave_ms: int = 5_400_000,
    rem_ms: int = 6_300_000,
    awake_ms: int = 1_800_000,
    no_data_ms: int = 0,
    disturbance_count: int = 7,
    efficiency: float = 91.5,
    in_bed_ms: int | None = None,
) -> dict[str, Any]:
    """A v2 sleep with every documented field; ``start``/``end`` are UTC instants like WHOOP sends.

    Time in bed is the sum of the stages unless ``in_bed_ms`` says otherwise (a broken record)."""
    record: dict[str, Any] = {
        "id": id or str(uuid.uuid4()),
        "cycle_id": cycle_id,
        "v1_id": None,
        "user_id": user_id,
        "created_at": end,
        "updated_at": end,
        "start": start,
        "end": end,
        "timezone_offset": timezone_offset,
        "nap": nap,
        "score_state": score_state,
    }
    if timezone_offset is None:
        del record["timezone_offset"]
    if score_state == "SCORED":
        record["score"] = {
            "stage_summary": {
                "total_in_bed_time_milli": (
                    in_bed_ms
                    if in_bed_ms is not None
                    else light_ms + slow_wave_ms + rem_ms + awake_ms + no_data_ms
                ),
                "total_awake_time_milli": awake_ms,
                "total_no_data_time_milli": no_data_ms,
                "total_light_sleep_time_milli": light_ms,
                "total_slow_wave_sleep_time_milli": slow_wave_ms,
                "total_rem_sleep_time_milli": rem_ms,
                "sleep_cycle_count": 4,
                "disturbance_count": disturbance_count,
            },
            "sleep_needed": {
                "baseline_milli": 27_000_000,
                "need_from_sleep_debt_milli": 1_200_000,
                "need_from_recent_strain_milli": 600_000,
                "need_from_recent_nap_milli": 0,
            },
            "respiratory_rate": 15.2,
            "sleep_performance_percentage": 88.0,
            "sleep_consistency_percentage": 79.0,
            "sleep_efficiency_percentage": efficiency,
        }
    return record


def recovery_record(
    *,
    user_id: int,
    cycle_id: int,
    sleep_id: str,
    created_at: str,
    score_state: str = "SCORED",
    recovery_score: float = 64.0,
    resting_heart_rate: float = 52.0,
    hrv_rmssd_milli: float = 61.3,
    user_calibrating: bool = False,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "cycle_id": cycle_id,
        "sleep_id": sleep_id,
        "user_id": user_id,
        "created_at": created_at,
        "updated_at": created_at,
        "score_state": score_state,
    }
    if score_state == "SCORED":
        record["score"] = {
            "user_calibrating": user_calibrating,
            "recovery_score": recovery_score,
            "resting_heart_rate": resting_heart_rate,
            "hrv_rmssd_milli": hrv_rmssd_milli,
            "spo2_percentage": 96.1,
            "skin_temp_celsius": 33.4,
        }
    return record


def workout_record(
    *,
    user_id: int,
    start: str,
    end: str,
    timezone_offset: str | None = "-05:00",
    sport_name: str | None = "running",
    sport_id: int | None = 0,
    score_state: str = "SCORED",
    strain: float = 12.6,
    average_heart_rate: int = 148,
    max_heart_rate: int = 176,
    kilojoule: float = 2_410.5,
    distance_meter: float | None = 10_040.0,
    id: str | None = None,
    updated_at: str | None = None,
) -> dict[str, Any]:
    """A v2 workout with every documented field; ``start``/``end`` are UTC instants like WHOOP sends."""
    record: dict[str, Any] = {
        "id": id or str(uuid.uuid4()),
        "v1_id": None,
        "user_id": user_id,
        "created_at": end,
        "updated_at": updated_at or end,
        "start": start,
        "end": end,
        "timezone_offset": timezone_offset,
        "sport_name": sport_name,
        "sport_id": sport_id,
        "score_state": score_state,
    }
    for key in ("timezone_offset", "sport_name", "sport_id"):
        if record[key] is None:
            del record[key]
    if score_state == "SCORED":
        record["score"] = {
            "strain": strain,
            "average_heart_rate": average_heart_rate,
            "max_heart_rate": max_heart_rate,
            "kilojoule": kilojoule,
            "percent_recorded": 100.0,
            "distance_meter": distance_meter,
            "altitude_gain_meter": 46.0,
            "altitude_change_meter": 0.5,
            "zone_durations": {
                "zone_zero_milli": 60_000,
                "zone_one_milli": 300_000,
                "zone_two_milli": 900_000,
                "zone_three_milli": 1_200_000,
                "zone_four_milli": 600_000,
                "zone_five_milli": 0,
            },
        }
        if distance_meter is None:
            del record["score"]["distance_meter"]
    return record


class FakeWhoop(FakeVendor):
    name = "whoop"
    adapter = whoop.ADAPTER
    authorize_path = "/oauth/oauth2/auth"
    token_path = "/oauth/oauth2/token"
    api_path = "/developer"
    default_client_id = "whoop-client-id"
    default_client_secret = "whoop-client-secret"

    def __init__(self, **common: Any) -> None:
        super().__init__(
            **common,
            allowed_scopes=SCOPES,
            access_ttl_s=3_600,
            rotate=True,
            min_state_length=8,
            refresh_needs_offline_scope=True,
            offline_from=lambda scope, params: "offline" in scope.split(),
        )
        self.profiles: dict[int, dict[str, Any]] = {}
        self.sleeps: dict[str, dict[str, Any]] = {}
        self.cycles: dict[int, dict[str, Any]] = {}
        self.recoveries: dict[int, dict[str, Any]] = {}  # by cycle id
        self.workouts: dict[str, dict[str, Any]] = {}
        self.revoked: set[int] = set()
        self._next_cycle = 93_845_000

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "100, 100;window=60, 10000;window=86400",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(retry_after)),
        }

    # -- store --------------------------------------------------------------------------------

    def add_user(self, user_id: int = 456, email: str = "athlete@example.com") -> int:
        self.profiles[user_id] = {
            "user_id": user_id,
            "email": email,
            "first_name": "Ada",
            "last_name": "Runner",
        }
        return user_id

    def add_night(
        self,
        user_id: int,
        *,
        start: str,
        end: str,
        timezone_offset: str | None = "-05:00",
        recovery_state: str = "SCORED",
        user_calibrating: bool = False,
        **sleep_fields: Any,
    ) -> dict[str, Any]:
        """A cycle with its main sleep and recovery, linked the way WHOOP links them."""
        self._next_cycle += 1
        cycle_id = self._next_cycle
        self.cycles[cycle_id] = {
            "id": cycle_id,
            "user_id": user_id,
            "created_at": start,
            "updated_at": end,
            "start": start,
            "end": None,
            "timezone_offset": timezone_offset,
            "score_state": "SCORED",
            "score": {"strain": 9.1, "kilojoule": 8_300.0, "average_heart_rate": 64, "max_heart_rate": 151},
        }
        sleep = sleep_record(
            user_id=user_id,
            cycle_id=cycle_id,
            start=start,
            end=end,
            timezone_offset=timezone_offset,
            **sleep_fields,
        )
        self.sleeps[sleep["id"]] = sleep
        created = _iso(_parse(end) + timedelta(minutes=3))
        recovery = recovery_record(
            user_id=user_id,
            cycle_id=cycle_id,
            sleep_id=sleep["id"],
            created_at=created,
            score_state=recovery_state,
            user_calibrating=user_calibrating,
        )
        self.recoveries[cycle_id] = recovery
        return {"cycle": self.cycles[cycle_id], "sleep": sleep, "recovery": recovery}

    def add_nap(self, user_id: int, cycle_id: int, *, start: str, end: str) -> dict[str, Any]:
        nap = sleep_record(user_id=user_id, cycle_id=cycle_id, start=start, end=end, nap=True)
        self.sleeps[nap["id"]] = nap
        return nap

    def delete_sleep(self, sleep_id: str) -> None:
        self.sleeps.pop(sleep_id, None)

    def add_workout(self, user_id: int, *, start: str, end: str, **fields: Any) -> dict[str, Any]:
        workout = workout_record(user_id=user_id, start=start, end=end, **fields)
        self.workouts[workout["id"]] = workout
        return workout

    def delete_workout(self, workout_id: str) -> None:
        self.workouts.pop(workout_id, None)

    # -- webhooks -----------------------------------------------------------------------------

    def deliver(
        self, url: str, payload: dict[str, Any], *, timestamp_ms: int | None = None
    ) -> httpx.Response | None:
        """POST a signed delivery as WHOOP would; None when the athlete revoked access (no webhooks)."""
        if payload.get("user_id") in self.revoked:
            return None
        stamp = timestamp_ms if timestamp_ms is not None else int(self.clock() * 1000)
        headers, body = signed_delivery(payload, self.client_secret, stamp)
        return self.callback_client().post(url, content=body, headers=headers)

    # -- endpoints ----------------------------------------------------------------------------

    def api_routes(self) -> list[tuple[str, Endpoint, list[str]]]:
        return [
            ("/developer/v2/user/profile/basic", self._profile, ["GET"]),
            ("/developer/v2/user/access", self._revoke, ["DELETE"]),
            ("/developer/v2/activity/sleep", self._list_sleeps, ["GET"]),
            ("/developer/v2/activity/sleep/{sleep_id}", self._sleep, ["GET"]),
            ("/developer/v2/recovery", self._list_recoveries, ["GET"]),
            ("/developer/v2/cycle", self._list_cycles, ["GET"]),
            ("/developer/v2/activity/workout", self._list_workouts, ["GET"]),
            ("/developer/v2/activity/workout/{workout_id}", self._workout, ["GET"]),
            ("/developer/v2/cycle/{cycle_id:int}/recovery", self._cycle_recovery, ["GET"]),
            ("/developer/v2/cycle/{cycle_id:int}/sleep", self._cycle_sleep, ["GET"]),
        ]

    def _user(self, request: Request, scope: str | None) -> int | Response:
        issued = self.oauth.bearer(request, scope)
        if issued is None:
            return JSONResponse({"error": "Authorization was not valid"}, 401)
        return int(issued.user_id)

    async def _profile(self, request: Request) -> Response:
        user = self._user(request, "read:profile")
        return user if isinstance(user, Response) else JSONResponse(self.profiles[user])

    async def _revoke(self, request: Request) -> Response:
        user = self._user(request, None)
        if isinstance(user, Response):
            return user
        self.oauth.revoke_user(str(user))
        self.revoked.add(user)
        return Response(status_code=204)

    async def _sleep(self, request: Request) -> Response:
        user = self._user(request, "read:sleep")
        if isinstance(user, Response):
            return user
        sleep = self.sleeps.get(request.path_params["sleep_id"])
        if sleep is None or sleep["user_id"] != user:
            return JSONResponse({"error": "Not Found"}, 404)
        return JSONResponse(sleep)

    async def _workout(self, request: Request) -> Response:
        user = self._user(request, "read:workout")
        if isinstance(user, Response):
            return user
        workout = self.workouts.get(request.path_params["workout_id"])
        if workout is None or workout["user_id"] != user:
            return JSONResponse({"error": "Not Found"}, 404)
        return JSONResponse(workout)

    async def _list_workouts(self, request: Request) -> Response:
        return self._page(request, "read:workout", "workout", self.workouts.values(), "start")

    async def _cycle_recovery(self, request: Request) -> Response:
        user = self._user(request, "read:recovery")
        if isinstance(user, Response):
            return user
        recovery = self.recoveries.get(request.path_params["cycle_id"])
        if recovery is None or recovery["user_id"] != user:
            return JSONResponse({"error": "Not Found"}, 404)
        return JSONResponse(recovery)

    async def _cycle_sleep(self, request: Request) -> Response:
        user = self._user(request, "read:sleep")
        if isinstance(user, Response):
            return user
        cycle_id = request.path_params["cycle_id"]
        found = [
            s
            for s in self.sleeps.values()
            if s["cycle_id"] == cycle_id and not s["nap"] and s["user_id"] == user
        ]
        return JSONResponse(found[0]) if found else JSONResponse({"error": "Not Found"}, 404)

    async def _list_sleeps(self, request: Request) -> Response:
        return self._page(request, "read:sleep", "sleep", self.sleeps.values(), "start")

    async def _list_cycles(self, request: Request) -> Response:
        return self._page(request, "read:cycles", "cycle", self.cycles.values(), "start")

    async def _list_recoveries(self, request: Request) -> Response:
        return self._page(request, "read:recovery", "recovery", self.recoveries.values(), "created_at")

    def _page(self, request: Request, scope: str, what: str, source: Any, time_field: str) -> Response:
        user = self._user(request, scope)
        if isinstance(user, Response):
            return user
        q = request.query_params
        try:
            limit = int(q.get("limit", "10"))
            start = _parse(q["start"]) if "start" in q else None
            end = _parse(q["end"]) if "end" in q else None
        except ValueError:
            return JSONResponse({"error": "limit must be an integer; start and end ISO 8601"}, 400)
        if not 1 <= limit <= MAX_LIMIT:
            return JSONResponse({"error": f"limit must be between 1 and {MAX_LIMIT}"}, 400)
        records = sorted(
            (
                r
                for r in source
                if r["user_id"] == user
                and (start is None or _parse(r[time_field]) >= start)
                and (end is None or _parse(r[time_field]) < end)
            ),
            key=lambda r: r[time_field],
            reverse=True,  # newest first
        )
        key = fingerprint(str(user), what, q.get("start"), q.get("end"))
        paged = page_of(records, q.get("nextToken"), key, limit)
        if paged is None:
            return JSONResponse({"error": "invalid nextToken"}, 400)
        page, next_token = paged
        return JSONResponse({"records": page, "next_token": next_token})


def offset_instant(local: str, offset: str) -> str:
    """A UTC instant string for a local wall time in a fixed offset, e.g. ("2026-03-09T18:30", "-07:00")."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    return _iso(datetime.fromisoformat(local).replace(tzinfo=zone))
