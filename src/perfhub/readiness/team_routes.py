"""A coach's view of a team: the readiness table, its CSV, and one athlete's trend (the drill-in).

Who may read is decided by the privacy policy, for the whole team in one statement
(:func:`~perfhub.privacy.deps.TeamRead`); the team's coaches and admins read it, an athlete of
the team gets 403 and anyone else 404. Each athlete's signals are disclosed as they share them;
what a read let through is audited — one row per athlete, in one statement, in the read's
transaction (docs/readiness.md#team-table).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from perfhub.core.dates import date_range, local_today
from perfhub.core.deps import FromQuery, ToQuery, UowDep
from perfhub.core.errors import Unprocessable
from perfhub.privacy.deps import AthleteRead, ReadRequest, TeamRead, TeamReadRequest
from perfhub.privacy.policy import audit_team_read
from perfhub.readiness.schemas import TeamTableOut, TrendOut
from perfhub.readiness.team_csv import csv_chunks
from perfhub.readiness.team_table import (
    COLUMNS,
    NUMERIC_COLUMNS,
    TABLE_SIGNALS,
    TableFilters,
    materialise_today,
    parse_day,
    parse_filters,
    parse_sort,
    range_disclosed,
    range_rows,
    read_team_table,
    team_members,
)
from perfhub.readiness.trend import TREND_SIGNALS, trend_days

router = APIRouter(tags=["teams"])

TeamTableRead = Annotated[TeamReadRequest, TeamRead(signals=TABLE_SIGNALS)]
TrendRead = Annotated[ReadRequest, AthleteRead(signals=TREND_SIGNALS, dated=True, in_team=True)]

DateQuery = Query(alias="date", description="the day, YYYY-MM-DD (default: each athlete's own local today)")
BandQuery = Query(description="only these bands (repeat for several): low | reduced | normal | elevated")
FlagQuery = Query(description="only rows with any of these flags (repeat for several)")
NameQuery = Query(max_length=200, description="only athletes whose name contains this (any case)")
SortQuery = Query(
    max_length=500,
    description="a column to sort by, `-` first for descending; several comma-separated. Nulls last.",
)


def _filters(band: list[str], flag: list[str], q: str | None) -> TableFilters:
    return parse_filters(band, flag, q)


@router.get("/teams/{teamId}/readiness", response_model=TeamTableOut)
def team_readiness(
    uow: UowDep,
    read: TeamTableRead,
    date_: Annotated[str | None, DateQuery] = None,
    band: Annotated[list[str], BandQuery] = [],  # noqa: B006 (FastAPI copies query defaults)
    flag: Annotated[list[str], FlagQuery] = [],  # noqa: B006
    q: Annotated[str | None, NameQuery] = None,
    sort: Annotated[str | None, SortQuery] = None,
) -> Response:
    """One row per athlete of the team: readiness, sleep debt, last night's sleep and HRV against
    the normal range, flags; a signal the athlete does not share is null and named in `hidden`.
    Filters combine; `sort` takes any column."""
    day, filters, keys = parse_day(date_), _filters(band, flag, q), parse_sort(sort)
    with uow() as session:
        access = read.authorize(session)
        table = read_team_table(session, access, day, filters, keys)
        audit_team_read(session, read.viewer, table.disclosed, read.path)
    # The rows are already the answer's JSON (TeamTableOut documents it): a team's worth of
    # rows is not validated a second time on every request.
    body = {"date": None if day is None else day.isoformat(), "athletes": table.rows}
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


@router.get(
    "/teams/{teamId}/readiness.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the table's rows as CSV, with a header"}},
)
def team_readiness_csv(
    uow: UowDep,
    read: TeamTableRead,
    date_: Annotated[str | None, DateQuery] = None,
    from_: str | None = FromQuery,
    to: str | None = ToQuery,
    band: Annotated[list[str], BandQuery] = [],  # noqa: B006
    flag: Annotated[list[str], FlagQuery] = [],  # noqa: B006
    q: Annotated[str | None, NameQuery] = None,
    sort: Annotated[str | None, SortQuery] = None,
) -> StreamingResponse:
    """The table as CSV (UTF-8, a header row), under the same rules and audit. With `from`/`to`
    instead of `date`: a row per athlete and day of the range (at most 366 days), by date."""
    day, filters, keys = parse_day(date_), _filters(band, flag, q), parse_sort(sort)
    ranged = from_ is not None or to is not None
    if ranged and day is not None:
        raise Unprocessable(
            "ask for one date or a from/to range, not both",
            [{"loc": ["query", "date"], "msg": "with from/to"}],
        )
    with uow() as session:
        access = read.authorize(session)
        if not ranged:
            # One day: read and audited together, in this transaction, before a byte is sent.
            table = read_team_table(session, access, day, filters, keys)
            audit_team_read(session, read.viewer, table.disclosed, read.path)
            rows: Iterator[Mapping[str, Any] | Sequence[Any]] = iter(table.rows)
            label = (day or local_today(read.viewer.tz)).isoformat()
        else:
            # A range is streamed a window at a time; its audit — every athlete the rows can
            # show — is committed here, before the first row is read.
            span = date_range(from_, to, local_today(read.viewer.tz))
            members = team_members(session, access)
            materialise_today(session, members, span.start, span.end)
            audit_team_read(session, read.viewer, range_disclosed(members, filters), read.path)
            rows = range_rows(uow, members, span.start, span.end, filters, keys)
            label = f"{span.start.isoformat()}--{span.end.isoformat()}"
    filename = f"team-{read.team_id}-{label}.csv"
    return StreamingResponse(
        csv_chunks(COLUMNS, rows, numeric=NUMERIC_COLUMNS),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/teams/{teamId}/athletes/{athleteId}/trend", response_model=TrendOut)
def athlete_trend(uow: UowDep, read: TrendRead) -> TrendOut:
    """One athlete's days over `from`..`to` (at most 366, default the last 30 of their calendar):
    readiness, band and flags; ln rMSSD with its normal range; resting HR and its baseline; sleep,
    efficiency and sleep debt. Signals the athlete does not share are null and named in `hidden`."""
    with uow() as session:
        access, span = read.authorize_range(session, partial=True)
        days = trend_days(session, access, span)
        subject = access.subject
        hidden = [signal for signal in TREND_SIGNALS if signal not in access.granted]
        return TrendOut.model_validate(
            {
                "athleteId": subject.id,
                "name": subject.name or subject.email,
                "from": span.start,
                "to": span.end,
                "hidden": hidden,
                "days": days,
            }
        )
