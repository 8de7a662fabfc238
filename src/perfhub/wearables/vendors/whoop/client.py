"""WHOOP API v2 data client: instant ranges with next_token paging, recovery via the sleep's cycle,
workouts, revoke."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import (
    MappingError,
    MissingScope,
    RecordNotFound,
    Unauthorized,
    VendorError,
)
from perfhub.wearables.vendors.http import DEFAULT_RETRY, ApiClient, RetryPolicy
from perfhub.wearables.vendors.parsing import (
    require_mapping,
    text,
)
from perfhub.wearables.vendors.records import WebhookEvent

PAGE_LIMIT = 25  # the documented maximum
WORKOUT_SCOPE = "read:workout"


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
        return self._pages(
            path,
            params,
            what=f"whoop {path}",
            items="records",
            next_token="next_token",
            token_param="nextToken",
            key_of=lambda item: str(item.get("id", item.get("cycle_id"))),
        )

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

    def list_workouts(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Workouts starting in ``start..end`` (end exclusive); :class:`MissingScope` for a link
        made without ``read:workout``."""
        with _workout_scope():
            return list(self._iter("/v2/activity/workout", start, end))

    def get_workout(self, workout_id: str) -> dict[str, Any]:
        with _workout_scope():
            body = self._get(f"/v2/activity/workout/{quote(workout_id, safe='')}")
        return dict(require_mapping(body, f"whoop workout {workout_id}"))

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
        if event.kind == "workout":
            return [("workout", self.get_workout(event.object_id))]
        return []


@contextmanager
def _workout_scope() -> Iterator[None]:
    """The token is fresh when a call is made (refreshed first), so WHOOP refusing it on a workout
    path (401, or 403) means the link was granted without ``read:workout``: made before perfhub
    read workouts. Said so, rather than as an expired token."""
    try:
        yield
    except VendorError as exc:
        if not (isinstance(exc, Unauthorized) or exc.status_code == 403):
            raise
        raise MissingScope(
            f"WHOOP refused to share workouts (HTTP {exc.status_code}): this link was made before "
            f"perfhub asked for {WORKOUT_SCOPE}; link WHOOP again to bring workouts in",
            scope=WORKOUT_SCOPE,
            status_code=exc.status_code,
        ) from exc
