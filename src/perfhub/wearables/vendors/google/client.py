"""Google Health API v4 polling client: data points by data type and date filter, with page tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx

from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.google.mapping import (
    DAILY_HRV,
    DAILY_RESTING_HR,
    SLEEP,
    daily_bundles,
    main_sleeps,
)
from perfhub.wearables.vendors.http import DEFAULT_RETRY, ApiClient, RetryPolicy

PAGE_SIZE = 1000
SLEEP_PAGE_SIZE = 25  # the documented maximum for sleep sessions


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
        return self._pages(
            f"/v4/users/me/dataTypes/{data_type}/dataPoints",
            params,
            what=f"google {data_type}",
            items="dataPoints",
            next_token="nextPageToken",
            token_param="pageToken",
            key_of=lambda point: name if isinstance(name := point.get("name"), str) else None,
            empty_omitted=True,  # Google omits empty repeated fields
        )

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
