"""WHOOP API v2: OAuth config, webhook verification, data client, pure mapping.

HRV and resting HR come from the recovery, sleep durations from the sleep. WHOOP has no date
field: a night belongs to the local date of the sleep's ``end`` in its ``timezone_offset``, and a
recovery takes the date of the sleep it was scored from (``sleep_id``), so the client attaches that
sleep to the recovery under the key ``"sleep"`` before mapping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from perfhub.wearables.vendors.base import (
    DEFAULT_RETRY,
    ApiClient,
    Deletion,
    Mapped,
    MappingError,
    RecordNotFound,
    Refused,
    RetryPolicy,
    SignatureError,
    VendorConfig,
    VendorError,
    WebhookEvent,
    check_freshness,
    drop_none,
    fields_of,
    header,
    iso,
    minutes,
    number,
    parse_instant,
    parse_offset,
    require_mapping,
    signal_part,
    text,
)

VENDOR = "whoop"
DEFAULT_AUTHORIZE_URL = "https://api.prod.whoop.com/oauth/oauth2/auth"
DEFAULT_TOKEN_URL = "https://api.prod.whoop.com/oauth/oauth2/token"
DEFAULT_API_BASE = "https://api.prod.whoop.com/developer"
SCOPES = ("read:recovery", "read:cycles", "read:sleep", "read:profile", "offline")

PAGE_LIMIT = 25  # the documented maximum
KINDS = ("sleep", "workout", "recovery")
SCORED = "SCORED"
NOT_YET_SCORED = frozenset({"PENDING_SCORE", "UNSCORABLE"})


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
        uses_pkce=False,  # not documented for WHOOP
        client_id=client_id,
        client_secret=client_secret,
        refresh_scope="offline",
    )


# --------------------------------------------------------------------------- webhooks


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_webhook(
    headers: Mapping[str, str], raw_body: bytes, secret: str, now: float, tolerance_s: int = 300
) -> None:
    """Raise ``SignatureError`` unless the delivery is signed with ``secret`` (the client secret) and fresh.

    ``X-WHOOP-Signature-Timestamp`` is milliseconds; ``now`` and ``tolerance_s`` are seconds.
    """
    if not secret:
        raise SignatureError("no WHOOP client secret configured")
    provided = header(headers, "X-WHOOP-Signature")
    timestamp = header(headers, "X-WHOOP-Signature-Timestamp")
    if not provided or not timestamp:
        raise SignatureError("missing X-WHOOP-Signature or X-WHOOP-Signature-Timestamp")
    try:
        provided_digest = base64.b64decode(provided.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("X-WHOOP-Signature is not base64") from exc
    expected = hmac.new(
        secret.encode("utf-8"), timestamp.strip().encode("utf-8") + raw_body, hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, provided_digest):
        raise SignatureError("X-WHOOP-Signature does not match")
    try:
        sent_at_ms = float(timestamp)
    except ValueError as exc:
        raise SignatureError("X-WHOOP-Signature-Timestamp is not milliseconds since the epoch") from exc
    check_freshness(sent_at_ms / 1000.0, now, tolerance_s)


def dedupe_key(payload: Mapping[str, Any]) -> str:
    return f"{VENDOR}:{text(payload, 'trace_id', 'whoop webhook')}"


def parse_webhook(payload: Any) -> WebhookEvent:
    body = require_mapping(payload, "whoop webhook")
    what = "whoop webhook"
    kind, _, action = text(body, "type", what).partition(".")
    if kind not in KINDS or action not in ("updated", "deleted"):
        raise MappingError(f"{what}: unknown type {body.get('type')!r}")
    user_id = body.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, int | str) or user_id == "":
        raise MappingError(f"{what}: user_id is missing")
    return WebhookEvent(
        vendor=VENDOR,
        kind=kind,
        object_id=text(body, "id", what),
        event="deleted" if action == "deleted" else "updated",
        vendor_user_id=str(user_id),
        dedupe_key=dedupe_key(body),
    )


def deletions_for_event(event: WebhookEvent) -> list[Deletion]:
    """``sleep.deleted`` names the sleep; ``recovery.deleted`` names the sleep the recovery came from."""
    if event.event != "deleted":
        return []
    if event.kind == "sleep":
        return [Deletion("sleep", VENDOR, object_id=event.object_id)]
    if event.kind == "recovery":
        return [Deletion("hrv", VENDOR, object_id=event.object_id)]
    return []


# --------------------------------------------------------------------------- data client


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("WHOOP range bounds must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WhoopClient(ApiClient):
    def __init__(
        self, http: httpx.Client, token: str, config: VendorConfig, *, policy: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        super().__init__(http, token, config, policy=policy)

    def _iter(self, path: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """``start`` inclusive, ``end`` exclusive; every record once, following next_token."""
        params: dict[str, str | int] = {"limit": PAGE_LIMIT, "start": _instant(start), "end": _instant(end)}
        seen_ids: set[str] = set()
        seen_tokens: set[str] = set()
        while True:
            body = require_mapping(self._get(path, params), f"whoop {path} page")
            records = body.get("records")
            if not isinstance(records, list):
                raise VendorError(f"whoop {path} page without a records list")
            for item in records:
                if not isinstance(item, dict):
                    raise VendorError(f"whoop {path} page holds a non-object")
                key = str(item.get("id", item.get("cycle_id")))
                if key in seen_ids:
                    continue
                seen_ids.add(key)
                yield item
            next_token = body.get("next_token")
            if not next_token:
                return
            if next_token in seen_tokens:
                raise VendorError(f"whoop {path} paging repeats a next_token")
            seen_tokens.add(str(next_token))
            params["nextToken"] = str(next_token)

    def list_sleeps(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return list(self._iter("/v2/activity/sleep", start, end))

    def list_cycles(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return list(self._iter("/v2/cycle", start, end))

    def list_recoveries(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Recoveries with their sleep attached (key ``"sleep"``), ready for ``map_records``."""
        recoveries = list(self._iter("/v2/recovery", start, end))
        # Sleeps near the window cover nearly every recovery in one paged listing; the rest one by one.
        sleeps = {
            str(s.get("id")): s for s in self.list_sleeps(start - timedelta(days=1), end + timedelta(days=1))
        }
        out = []
        for recovery in recoveries:
            sleep_id = recovery.get("sleep_id")
            sleep = sleeps.get(str(sleep_id)) if sleep_id is not None else None
            if sleep is None and sleep_id is not None:
                try:
                    sleep = self.get_sleep(str(sleep_id))
                except RecordNotFound:
                    sleep = None
            out.append({**recovery, "sleep": sleep} if sleep is not None else dict(recovery))
        return out

    def get_sleep(self, sleep_id: str) -> dict[str, Any]:
        body = self._get(f"/v2/activity/sleep/{quote(sleep_id, safe='')}")
        return dict(require_mapping(body, f"whoop sleep {sleep_id}"))

    def get_cycle_recovery(self, cycle_id: int | str) -> dict[str, Any]:
        body = self._get(f"/v2/cycle/{quote(str(cycle_id), safe='')}/recovery")
        return dict(require_mapping(body, f"whoop recovery of cycle {cycle_id}"))

    def recovery_for_sleep(self, sleep_id: str) -> dict[str, Any]:
        """A ``recovery.updated`` webhook names the sleep: sleep → cycle_id → the cycle's recovery."""
        sleep = self.get_sleep(sleep_id)
        cycle_id = sleep.get("cycle_id")
        if cycle_id is None or isinstance(cycle_id, bool):
            raise VendorError(f"whoop sleep {sleep_id} has no cycle_id")
        recovery = self.get_cycle_recovery(cycle_id)
        return {**recovery, "sleep": sleep}

    def profile(self) -> dict[str, Any]:
        return dict(require_mapping(self._get("/v2/user/profile/basic"), "whoop profile"))

    def vendor_user_id(self) -> str:
        """The id webhooks name the athlete by; read it right after linking."""
        try:
            return text(self.profile(), "user_id", "whoop profile")
        except MappingError as exc:
            raise VendorError(str(exc)) from exc

    def revoke(self) -> None:
        """Revoke our access (also stops webhooks); the stored tokens are useless afterwards."""
        self._delete("/v2/user/access")

    def fetch_for_event(self, event: WebhookEvent) -> list[tuple[str, dict[str, Any]]]:
        """(kind, record) pairs to hand to ``map_records`` for an ``updated`` notification.

        ``RecordNotFound`` means the record went away since; its delete notification follows.
        """
        if event.event == "deleted":
            return []
        if event.kind == "sleep":
            return [("sleep", self.get_sleep(event.object_id))]
        if event.kind == "recovery":
            return [("recovery", self.recovery_for_sleep(event.object_id))]
        return []


# --------------------------------------------------------------------------- pure mapping


def source_id(kind: str, record: Mapping[str, Any]) -> str | None:
    """The id a later ``Deletion`` names: the sleep uuid, for a recovery as well."""
    value = record.get("sleep_id") if kind == "recovery" else record.get("id")
    return str(value) if value is not None else None


def wake_time(sleep: Mapping[str, Any], tz_fallback: str, what: str) -> datetime:
    """The sleep's ``end`` in the offset it was recorded in (the athlete's zone when WHOOP gave none)."""
    end = parse_instant(sleep.get("end"), f"{what} end")
    offset = sleep.get("timezone_offset")
    if offset is None:
        return end.astimezone(_zone(tz_fallback))
    return end.astimezone(parse_offset(offset, what))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"fallback time zone {name!r} is not an IANA zone") from exc


def _scored(record: Mapping[str, Any], what: str) -> Mapping[str, Any] | None:
    """The score object, or None while WHOOP has not scored it; a SCORED record needs one."""
    state = record.get("score_state")
    if state in NOT_YET_SCORED:
        return None
    if state != SCORED:
        raise MappingError(f"{what}: unknown score_state {state!r}")
    score = record.get("score")
    if score is None:
        raise MappingError(f"{what}: SCORED without a score")
    return require_mapping(score, f"{what} score")


def _is_nap(sleep: Mapping[str, Any], what: str) -> bool:
    nap = sleep.get("nap")
    if not isinstance(nap, bool):
        raise MappingError(f"{what}: nap must be true or false")
    return nap


STAGE_FIELDS = (
    "total_light_sleep_time_milli",
    "total_slow_wave_sleep_time_milli",
    "total_rem_sleep_time_milli",
)
# How far the staged sleep may sit from in-bed time × efficiency before the night is impossible:
# rounding, and WHOOP's own definitions of the two, never move it by more than a few percent.
CROSS_CHECK_MIN_SLACK_MS = 30 * 60_000
CROSS_CHECK_SLACK_SHARE = 0.10


def _map_sleep(record: Any, tz_fallback: str) -> list[Mapped]:
    sleep = require_mapping(record, "whoop sleep")
    what = f"whoop sleep {sleep.get('id')}"
    if _is_nap(sleep, what):
        return []
    score = _scored(sleep, what)
    if score is None:
        return []
    woke = wake_time(sleep, tz_fallback, what)
    day = woke.date().isoformat()
    stages = score.get("stage_summary")
    part = {
        "id": sleep.get("id"),
        "stage_summary": stages,
        "sleep_efficiency_percentage": score.get("sleep_efficiency_percentage"),
    }
    return signal_part(
        "sleep", VENDOR, lambda: _sleep_payload(score, woke, what), part=drop_none(part), day=day
    )


def _sleep_payload(score: Mapping[str, Any], woke: datetime, what: str) -> list[Mapped]:
    stage_what = f"{what} stage_summary"
    stages = require_mapping(score.get("stage_summary"), stage_what)
    asleep_ms = sum(number(stages, key, stage_what, required=True) or 0.0 for key in STAGE_FIELDS)
    in_bed_ms = number(stages, "total_in_bed_time_milli", stage_what)
    if in_bed_ms is not None and in_bed_ms < asleep_ms:
        raise MappingError(f"{what}: time in bed is shorter than the sleep stages add up to")
    efficiency = number(score, "sleep_efficiency_percentage", what)
    if efficiency is not None and efficiency > 100:
        raise MappingError(f"{what}: sleep_efficiency_percentage {efficiency} is above 100")
    if in_bed_ms is not None and efficiency is not None:
        _cross_check(
            asleep_ms, in_bed_ms, efficiency, number(stages, "total_no_data_time_milli", stage_what), what
        )
    wakes = number(stages, "disturbance_count", stage_what)
    if wakes is not None and not wakes.is_integer():
        raise MappingError(f"{what}: disturbance_count {wakes} is not a whole number")
    # WHOOP has no sleep latency: latencyMin stays absent rather than a guessed 0.
    payload = {
        "date": woke.date().isoformat(),
        "durationMin": minutes(asleep_ms, 60_000),
        "efficiencyPct": efficiency,
        "wakeCount": int(wakes) if wakes is not None else None,
        "inBedMin": minutes(in_bed_ms, 60_000),
        "vendor": VENDOR,
        "capturedAt": iso(woke),
    }
    return [("sleep", drop_none(payload))]


def _cross_check(
    asleep_ms: float, in_bed_ms: float, efficiency: float, no_data_ms: float | None, what: str
) -> None:
    """Refuse a night whose staged sleep contradicts its own in-bed time and efficiency.

    Efficiency is the share of time in bed spent asleep, so in-bed × efficiency is a second,
    independent estimate of the sleep duration. A night scored with no stages at all (0 minutes of
    light, slow wave and REM next to 7 hours in bed at 91 %) passes every range check on its own
    but cannot be true; ingesting it would record a sleepless night and a large sleep debt. Time
    WHOOP could not stage (no data) may explain a shortfall, so it widens the tolerance.
    """
    expected_ms = in_bed_ms * efficiency / 100
    slack_ms = max(CROSS_CHECK_MIN_SLACK_MS, CROSS_CHECK_SLACK_SHARE * in_bed_ms) + (no_data_ms or 0.0)
    if abs(asleep_ms - expected_ms) > slack_ms:
        raise MappingError(
            f"{what}: light + slow wave + REM add up to {asleep_ms / 60_000:.0f} min, but "
            f"{in_bed_ms / 60_000:.0f} min in bed at {efficiency:g} % efficiency means about "
            f"{expected_ms / 60_000:.0f} min asleep"
        )


RECOVERY_FIELDS = ("hrv_rmssd_milli", "resting_heart_rate", "user_calibrating")


def _map_recovery(record: Any, tz_fallback: str) -> list[Mapped]:
    recovery = require_mapping(record, "whoop recovery")
    what = f"whoop recovery of cycle {recovery.get('cycle_id')}"
    score = _scored(recovery, what)
    if score is None:
        return []
    sleep = recovery.get("sleep")
    if sleep is not None:
        sleep = require_mapping(sleep, f"{what} sleep")
        if _is_nap(sleep, f"{what} sleep"):
            return []
        # Only the sleep's wake time is used: a sleep whose stages are refused still dates its
        # recovery, and the night's HRV and resting HR are kept.
        measured = wake_time(sleep, tz_fallback, f"{what} sleep")
    else:
        # Without its sleep, the recovery's creation (when WHOOP scored it, on waking) in the
        # athlete's zone is the nearest stand-in for the wake time.
        measured = parse_instant(recovery.get("created_at"), f"{what} created_at").astimezone(
            _zone(tz_fallback)
        )
    day = measured.date().isoformat()
    part = {"cycle_id": recovery.get("cycle_id"), "sleep_id": recovery.get("sleep_id")}
    return signal_part(
        "hrv",
        VENDOR,
        lambda: _hrv_payload(score, measured, what),
        part=drop_none({**part, **fields_of(score, RECOVERY_FIELDS)}),
        day=day,
    )


def _hrv_payload(score: Mapping[str, Any], measured: datetime, what: str) -> list[Mapped]:
    day = measured.date().isoformat()
    rmssd = number(score, "hrv_rmssd_milli", what) or None
    resting_hr = number(score, "resting_heart_rate", what) or None
    if rmssd is None and resting_hr is None:
        raise MappingError(f"{what}: scored without hrv_rmssd_milli or resting_heart_rate")
    refused: list[Mapped] = []
    readiness: float | None = None
    try:
        readiness = number(score, "recovery_score", what)
        if readiness is not None and readiness > 100:
            raise MappingError(f"{what}: recovery_score {readiness} is above 100")
    except MappingError as exc:
        # A vendor score, not a signal: it never costs the night its HRV and resting HR.
        readiness = None
        reason = f"{exc}; the HRV row is kept without a readiness score"
        refused.append(Refused("hrv", VENDOR, reason, {"recovery_score": score.get("recovery_score")}, day))
    # ``user_calibrating``: WHOOP is still learning the athlete's baselines and its score is not
    # final; the flag travels with the row so readers can tell.
    calibrating = score.get("user_calibrating")
    if calibrating is not None and not isinstance(calibrating, bool):
        reason = f"{what}: user_calibrating must be true or false; the HRV row is kept without it"
        refused.append(Refused("hrv", VENDOR, reason, {"user_calibrating": calibrating}, day))
        calibrating = None
    payload = {
        "date": day,
        "rMSSD": rmssd,
        "restingHr": resting_hr,
        "readinessScore": readiness,
        "vendorCalibrating": calibrating,
        "vendor": VENDOR,
        "capturedAt": iso(measured),
    }
    return [("hrv", drop_none(payload)), *refused]


def map_records(kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
    """Canonical ("hrv" | "sleep", payload) pairs for one WHOOP record (ingest bodies without ``userId``).

    ``sleep``: non-nap, scored sleeps → a sleep row. ``recovery`` (ideally with its sleep under
    ``"sleep"``): scored recoveries → an HRV row. ``workout`` and ``cycle`` make no rows.

    What dates a record (nap flag, score state, wake time) refuses it whole (``MappingError``); a
    payload that cannot be built is ``Refused`` with its reason, and a night's sleep and its recovery
    are separate records, so an impossible sleep never costs the recovery's HRV and resting HR.
    """
    if kind == "sleep":
        return _map_sleep(record, tz_fallback)
    if kind == "recovery":
        return _map_recovery(record, tz_fallback)
    if kind in ("workout", "cycle"):
        return []
    raise MappingError(f"unsupported WHOOP kind {kind!r}")
