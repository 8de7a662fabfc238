"""Google Health API v4: OAuth config, polling client for daily HRV, resting HR and sleep, pure mapping.

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
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from perfhub.wearables.vendors.base import (
    DEFAULT_RETRY,
    ApiClient,
    Deletion,
    Mapped,
    MappingError,
    Refused,
    RetryPolicy,
    SignatureError,
    VendorConfig,
    VendorError,
    WebhookEvent,
    drop_none,
    iso,
    number,
    overlaps_night,
    parse_day,
    parse_instant,
    require_mapping,
    signal_part,
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
DAILY_RESTING_HR = "daily-resting-heart-rate"
SLEEP = "sleep"
# Our own record kind: one date's daily HRV and resting HR data points, bundled by the client.
DAILY = "daily"
# Each data point nests its values under the camelCase data type name.
HRV_KEY = "dailyHeartRateVariability"
RESTING_HR_KEY = "dailyRestingHeartRate"
_PAYLOAD_KEY = {DAILY_HRV: HRV_KEY, DAILY_RESTING_HR: RESTING_HR_KEY, SLEEP: "sleep"}
PAGE_SIZE = 1000
SLEEP_PAGE_SIZE = 25  # the documented maximum for sleep sessions


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
        return self._iter(
            data_type,
            f'{field}.date >= "{start.isoformat()}" AND '
            f'{field}.date < "{(end + timedelta(days=1)).isoformat()}"',
            page_size,
        )

    def iter_sleeps(
        self, start: date, end: date, *, page_size: int = SLEEP_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Sleep sessions that ended (athlete's local date) in ``start..end``, each once."""
        return self._iter(
            SLEEP,
            f'sleep.interval.civil_end_time >= "{start.isoformat()}" AND '
            f'sleep.interval.civil_end_time < "{(end + timedelta(days=1)).isoformat()}"',
            min(page_size, SLEEP_PAGE_SIZE),
        )

    def _iter(self, data_type: str, filter_: str, page_size: int) -> Iterator[dict[str, Any]]:
        params: dict[str, str | int] = {"filter": filter_, "pageSize": page_size}
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

    def daily_resting_hr(self, start: date, end: date) -> list[dict[str, Any]]:
        return list(self.iter_daily(DAILY_RESTING_HR, start, end))

    def daily_records(self, start: date, end: date) -> list[dict[str, Any]]:
        """One ``daily`` record per date with its HRV and resting HR points, ready for ``map_records``."""
        return daily_bundles(self.daily_hrv(start, end), self.daily_resting_hr(start, end))

    def main_sleeps(self, start: date, end: date) -> list[dict[str, Any]]:
        """Per wake date, the one sleep session canonical rows come from (see ``main_sleeps``)."""
        return main_sleeps(list(self.iter_sleeps(start, end)))


# --------------------------------------------------------------------------- pure mapping


def source_id(kind: str, record: Mapping[str, Any]) -> str | None:
    if kind == DAILY:
        day = record.get("date")
        return f"{DAILY}/{day}" if isinstance(day, str) else None
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


def _values(point: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    """A data point's values: nested under the type's key as the API sends them, or flat."""
    return require_mapping(point.get(key, point), what)


def _int64(values: Mapping[str, Any], key: str, what: str) -> float | None:
    """Proto3 JSON sends int64 as a string ("52"); a plain number is accepted as well."""
    value = values.get(key)
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError as exc:
            raise MappingError(f"{what}: {key} {value!r} is not a number") from exc
        return number({key: parsed}, key, what)
    return number(values, key, what)


def _point_date(point: Mapping[str, Any], key: str) -> str | None:
    try:
        return _date(_values(point, key, "google point").get("date"), "google point").isoformat()
    except MappingError:
        return None


def daily_bundles(
    hrv_points: Sequence[Mapping[str, Any]], resting_points: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``daily`` records: per date, its ``daily-heart-rate-variability`` and ``daily-resting-heart-rate``
    data points under their own keys. A point whose date cannot be read gets a record of its own
    (without ``date``) so that ``map_records`` reports it; with several points of a type for one
    date (several devices), the first listed is used."""
    by_day: dict[str, dict[str, Any]] = {}
    unreadable: list[dict[str, Any]] = []
    for key, points in ((HRV_KEY, hrv_points), (RESTING_HR_KEY, resting_points)):
        for point in points:
            day = _point_date(point, key)
            if day is None:
                unreadable.append({key: dict(point)})
                continue
            by_day.setdefault(day, {"date": day}).setdefault(key, dict(point))
    return [by_day[day] for day in sorted(by_day)] + unreadable


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"fallback time zone {name!r} is not an IANA zone") from exc


def map_records(kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
    """Canonical ("hrv" | "sleep", payload) pairs, or ``Refused`` parts, for one Google record.

    ``daily``: a date's HRV and resting HR points → one HRV row, each point mapped on its own.
    ``sleep``: a sleep session → a sleep row (naps only when they are overnight, see ``main_sleeps``).
    ``daily-heart-rate-variability``: a single HRV point, as earlier versions landed them.

    Google gives daily values no capture instant, only the athlete's local ``date``; their
    ``capturedAt`` is the start of that date in ``tz_fallback``: never in the future, and stable
    across polls so that a re-fetched correction still replaces the day.
    """
    if kind == DAILY:
        return _map_daily(record, tz_fallback)
    if kind == SLEEP:
        return _map_sleep(record, tz_fallback)
    if kind == DAILY_HRV:
        point = require_mapping(record, "google data point")
        return _map_daily({"date": _point_date(point, HRV_KEY), HRV_KEY: point}, tz_fallback)
    raise MappingError(f"unsupported Google Health kind {kind!r}")


def _map_daily(record: Any, tz_fallback: str) -> list[Mapped]:
    bundle = require_mapping(record, "google daily record")
    points = {key: bundle[key] for key in (HRV_KEY, RESTING_HR_KEY) if bundle.get(key) is not None}
    names = " ".join(str(require_mapping(p, "google data point").get("name", "")) for p in points.values())
    what = f"google daily {bundle.get('date') or names}".rstrip()
    if bundle.get("date") is None:
        # Only a point whose own date is unreadable lands without one; reading it says why.
        for key, point in points.items():
            _date(_values(point, key, what).get("date"), what)
    day = _date(bundle.get("date"), what)
    captured = datetime.combine(day, time(0, 0), tzinfo=_zone(tz_fallback))
    values: dict[str, float] = {}
    refused: list[Mapped] = []
    for key, field, reader in (
        (HRV_KEY, "rMSSD", _rmssd),
        (RESTING_HR_KEY, "restingHr", _resting_hr),
    ):
        point = points.get(key)
        if point is None:
            continue
        point_what = f"google {key} {point.get('name', day.isoformat())}"
        try:
            value = reader(point, day, point_what)
        except MappingError as exc:
            refused.append(Refused("hrv", VENDOR, str(exc), {key: dict(point)}, day.isoformat()))
            continue
        if value is not None:
            values[field] = value
    if not values:
        return refused
    payload = {"date": day.isoformat(), **values, "vendor": VENDOR, "capturedAt": iso(captured)}
    return [("hrv", payload), *refused]


def _same_day(values: Mapping[str, Any], day: date, what: str) -> None:
    own = _date(values.get("date"), what)
    if own != day:
        raise MappingError(f"{what}: dated {own} inside the record of {day}")


def _rmssd(point: Mapping[str, Any], day: date, what: str) -> float | None:
    values = _values(point, HRV_KEY, what)
    _same_day(values, day, what)
    return number(values, "averageHeartRateVariabilityMilliseconds", what) or None


def _resting_hr(point: Mapping[str, Any], day: date, what: str) -> float | None:
    values = _values(point, RESTING_HR_KEY, what)
    _same_day(values, day, what)
    return _int64(values, "beatsPerMinute", what) or None


# --------------------------------------------------------------------------- sleep


SLEEP_FIELDS = ("minutesAsleep", "minutesInSleepPeriod", "minutesToFallAsleep")


def _duration_seconds(value: Any, what: str) -> float:
    """A ``google.protobuf.Duration`` as proto3 JSON sends it ("-18000s"), or plain seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            pass
    raise MappingError(f'{what}: UTC offset {value!r} is not a duration like "3600s"')


def _wake(sleep: Mapping[str, Any], tz_fallback: str, what: str) -> tuple[datetime, datetime, date]:
    """(start, end) instants on the wake clock, and the wake date.

    The wake date is Google's own ``civilEndTime`` date when present; otherwise the local date of
    ``endTime`` in ``endUtcOffset`` (the athlete's zone when Google gave none).
    """
    interval = require_mapping(sleep.get("interval"), f"{what} interval")
    end = parse_instant(interval.get("endTime"), f"{what} endTime")
    offset = interval.get("endUtcOffset")
    if offset is None:
        end = end.astimezone(_zone(tz_fallback))
    else:
        seconds = _duration_seconds(offset, what)
        if abs(seconds) > 14 * 3600:
            raise MappingError(f"{what}: UTC offset {offset!r} is out of range")
        end = end.astimezone(timezone(timedelta(seconds=seconds)))
    raw_start = interval.get("startTime")
    start = parse_instant(raw_start, f"{what} startTime").astimezone(end.tzinfo) if raw_start else end
    civil = interval.get("civilEndTime")
    day = _date(require_mapping(civil, f"{what} civilEndTime").get("date"), what) if civil else end.date()
    return start, end, day


def _metadata(sleep: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    meta = sleep.get("metadata")
    return {} if meta is None else require_mapping(meta, f"{what} metadata")


def _is_nap(sleep: Mapping[str, Any], what: str) -> bool:
    nap = _metadata(sleep, what).get("nap")
    if nap is not None and not isinstance(nap, bool):
        raise MappingError(f"{what}: metadata.nap must be true or false")
    return nap is True


def _counts_as_night(sleep: Mapping[str, Any], tz_fallback: str, what: str) -> bool:
    """A nap-flagged session counts only when it is overnight: Google flags short sessions without
    stages as naps, and a short night (02:30–05:00) would otherwise leave the day without sleep."""
    if not _is_nap(sleep, what):
        return True
    start, end, _ = _wake(sleep, tz_fallback, what)
    return overlaps_night(start, end)


def main_sleeps(points: Sequence[Mapping[str, Any]], tz_fallback: str = "UTC") -> list[dict[str, Any]]:
    """Per wake date, the session canonical rows come from: not a nap before an overnight nap,
    Google's ``mainSleep`` mark where a client sends it, then the most minutes asleep, then the
    later end. Daytime naps never compete, so a day with only a nap has no sleep row. A session
    that cannot be read is passed on for ``map_records`` to report."""
    best: dict[date, tuple[tuple[bool, bool, float, str], Mapping[str, Any]]] = {}
    unreadable: list[dict[str, Any]] = []
    for point in points:
        what = f"google sleep {point.get('name', '')}".rstrip()
        try:
            sleep = _values(point, "sleep", what)
            if not _counts_as_night(sleep, tz_fallback, what):
                continue
            _, end, day = _wake(sleep, tz_fallback, what)
            meta = _metadata(sleep, what)
            summary = sleep.get("summary")
            asleep = _int64(summary, "minutesAsleep", what) if isinstance(summary, Mapping) else None
        except MappingError:
            unreadable.append(dict(point))
            continue
        rank = (not _is_nap(sleep, what), meta.get("mainSleep") is True, asleep or 0.0, end.isoformat())
        if day not in best or rank > best[day][0]:
            best[day] = (rank, point)
    return [dict(best[day][1]) for day in sorted(best)] + unreadable


def _map_sleep(record: Any, tz_fallback: str) -> list[Mapped]:
    point = require_mapping(record, "google sleep point")
    what = f"google sleep {point.get('name', '')}".rstrip()
    sleep = _values(point, "sleep", what)
    if not _counts_as_night(sleep, tz_fallback, what):
        return []
    if _metadata(sleep, what).get("processed") is False:
        return []  # Google has not finished scoring it; a later poll brings the final session
    _, woke, day = _wake(sleep, tz_fallback, what)
    summary = sleep.get("summary")
    part = {"name": point.get("name"), "summary": summary}
    return signal_part(
        "sleep",
        VENDOR,
        lambda: _sleep_payload(summary, woke, day, what),
        part=drop_none(part),
        day=day.isoformat(),
    )


def _sleep_payload(summary: Any, woke: datetime, day: date, what: str) -> list[Mapped]:
    values = require_mapping(summary, f"{what} summary")
    asleep = _int64(values, "minutesAsleep", what)
    if asleep is None:
        raise MappingError(f"{what}: summary.minutesAsleep is missing")
    in_period = _int64(values, "minutesInSleepPeriod", what)
    if in_period is not None and in_period < asleep:
        raise MappingError(
            f"{what}: minutesInSleepPeriod {in_period:g} is shorter than minutesAsleep {asleep:g}"
        )
    # Google publishes no efficiency in v4: time asleep over time in the sleep period is the
    # textbook definition (and what Fitbit showed), so it is derived rather than left out.
    efficiency = round(asleep / in_period * 100, 1) if in_period else None
    # Google sends no wake count; the stage summary counts AWAKE segments, with short awakenings
    # listed apart, which is not the same thing: wakeCount stays absent rather than approximated.
    payload = {
        "date": day.isoformat(),
        "durationMin": asleep,
        "efficiencyPct": efficiency,
        "latencyMin": _int64(values, "minutesToFallAsleep", what),
        "inBedMin": in_period,
        "vendor": VENDOR,
        "capturedAt": iso(woke),
    }
    return [("sleep", drop_none(payload))]
