"""Calendar helpers: an athlete's local "today" and validated date ranges from query strings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from perfhub.core.errors import Unprocessable

MAX_RANGE_DAYS = 366
# The dates perfhub accepts anywhere. Nothing wearable predates 2000, and both bounds keep date
# arithmetic (windows of weeks before a day, the day after) far from ``date.min``/``date.max``,
# which would raise OverflowError deep inside a read or in the pipeline.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def local_today(tz: str, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(tz)).date()


def parse_date(value: str, field: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise Unprocessable(
            f"{field} must be a real date as YYYY-MM-DD, got {value!r}",
            [{"loc": ["query", field], "msg": "invalid date"}],
        ) from exc
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise Unprocessable(
            f"{field} must be between {EARLIEST_DATE} and {LATEST_DATE}, got {value}",
            [{"loc": ["query", field], "msg": f"outside {EARLIEST_DATE}..{LATEST_DATE}"}],
        )
    return day


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def date_range(raw_from: str | None, raw_to: str | None, today: date, default_days: int = 30) -> DateRange:
    """Both ends inclusive; defaults to the last ``default_days`` days ending today."""
    end = parse_date(raw_to, "to") if raw_to else today
    start = parse_date(raw_from, "from") if raw_from else end - timedelta(days=default_days - 1)
    if start > end:
        raise Unprocessable(
            f"from ({start}) is after to ({end})", [{"loc": ["query", "from"], "msg": "from is after to"}]
        )
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Unprocessable(
            f"a range may span at most {MAX_RANGE_DAYS} days",
            [{"loc": ["query", "to"], "msg": f"more than {MAX_RANGE_DAYS} days"}],
        )
    return DateRange(start, end)
