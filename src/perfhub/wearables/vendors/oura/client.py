"""Oura API v2 data client: records by id, date ranges with next_token paging, the records a webhook names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import MappingError, VendorError
from perfhub.wearables.vendors.http import DEFAULT_RETRY, ApiClient, RetryPolicy
from perfhub.wearables.vendors.oura.mapping import KINDS, main_sleeps
from perfhub.wearables.vendors.parsing import (
    parse_day,
    require_mapping,
    text,
)
from perfhub.wearables.vendors.records import WebhookEvent


class OuraClient(ApiClient):
    def __init__(
        self, http: httpx.Client, token: str, config: VendorConfig, *, policy: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        super().__init__(http, token, config, policy=policy)

    def get_record(self, kind: str, record_id: str) -> dict[str, Any]:
        _check_kind(kind)
        body = self._get(f"/v2/usercollection/{kind}/{quote(record_id, safe='')}")
        return dict(require_mapping(body, f"oura {kind} {record_id}"))

    def iter_records(self, kind: str, start: date, end: date) -> Iterator[dict[str, Any]]:
        """Records whose ``day`` is in ``start..end`` (both inclusive), each once, following next_token."""
        _check_kind(kind)
        # A date-only end_date can miss the last day (docs/vendors.md): ask one day more, filter below.
        params: dict[str, str | int] = {
            "start_date": start.isoformat(),
            "end_date": (end + timedelta(days=1)).isoformat(),
        }
        pages = self._pages(
            f"/v2/usercollection/{kind}",
            params,
            what=f"oura {kind}",
            items="data",
            next_token="next_token",
            token_param="next_token",
            key_of=lambda item: str(item.get("id")),
        )
        first, last = start.isoformat(), end.isoformat()
        for item in pages:
            day = item.get("day")
            if not isinstance(day, str) or first <= day <= last:
                yield item

    def list_records(self, kind: str, start: date, end: date) -> list[dict[str, Any]]:
        return list(self.iter_records(kind, start, end))

    def main_sleeps(self, start: date, end: date) -> list[dict[str, Any]]:
        """The one sleep document per day that canonical rows come from (reconciliation path)."""
        return main_sleeps(self.list_records("sleep", start, end))

    def workouts(self, start: date, end: date) -> list[dict[str, Any]]:
        """The workouts of the days ``start..end``."""
        return self.list_records("workout", start, end)

    def personal_info(self) -> dict[str, Any]:
        return dict(require_mapping(self._get("/v2/usercollection/personal_info"), "oura personal_info"))

    def vendor_user_id(self) -> str:
        """The id webhooks name the athlete by; read it right after linking."""
        info = self.personal_info()
        try:
            return text(info, "id", "oura personal_info")
        except MappingError as exc:
            raise VendorError(str(exc)) from exc

    def fetch_for_event(self, event: WebhookEvent) -> list[tuple[str, dict[str, Any]]]:
        """(kind, record) pairs to hand to ``map_records`` for an ``updated`` notification.

        Any change to a day re-reads that day's sleep periods and returns the main one, so that a
        short period or a score update never overwrites the night with a partial record.
        ``RecordNotFound`` means the record went away since; its delete notification follows.
        """
        if event.event == "deleted" or event.kind not in KINDS:
            return []
        record = self.get_record(event.kind, event.object_id)
        if event.kind == "workout":
            return [("workout", record)]
        day_raw = record.get("day")
        if not isinstance(day_raw, str):
            return [("sleep", record)] if event.kind == "sleep" else []
        day = parse_day(day_raw, f"oura {event.kind} {event.object_id}")
        main = [r for r in self.main_sleeps(day, day) if r.get("day") == day_raw]
        if main:
            return [("sleep", r) for r in main]
        if event.kind == "sleep" and record.get("type") == "deleted":
            return [("sleep", record)]
        return []


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown Oura collection {kind!r}; expected one of {KINDS}")
