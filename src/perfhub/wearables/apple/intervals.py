"""Time as the night rules count it: epoch seconds with the record's own UTC offset beside them, and
unions and differences of ``(start, end)`` intervals."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


def epoch_and_offset(value: datetime) -> tuple[int, int]:
    offset = value.utcoffset()
    return int(value.timestamp()), int(offset.total_seconds()) if offset is not None else 0


def iso_at(epoch: int, offset: int) -> str:
    return datetime.fromtimestamp(epoch, timezone(timedelta(seconds=offset))).isoformat()


EPOCH_DAY = date(1970, 1, 1)


def epoch_of_day(day: date) -> int:
    return (day - EPOCH_DAY).days * 86400


def local_day(epoch: int, offset: int) -> tuple[date, int]:
    days, seconds = divmod(epoch + offset, 86400)
    return EPOCH_DAY + timedelta(days=days), seconds


Interval = tuple[int, int]


def union(intervals: list[Interval]) -> list[Interval]:
    """Merge overlapping and touching intervals (sorted by start)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(keep: list[Interval], remove: list[Interval]) -> list[Interval]:
    """``keep`` minus ``remove``; both merged and sorted."""
    out: list[Interval] = []
    j = 0
    for start, end in keep:
        while j < len(remove) and remove[j][1] <= start:
            j += 1
        k = j
        cursor = start
        while k < len(remove) and remove[k][0] < end:
            if remove[k][0] > cursor:
                out.append((cursor, remove[k][0]))
            cursor = max(cursor, remove[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out
