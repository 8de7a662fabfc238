"""``GET /admin/reports/pilot``: the pilot's success metrics for admins (docs/pilot.md).

Only aggregates leave: counts and shares over athlete-days, never an athlete's own figures, so
the read is not an access to any one athlete's data and writes no access-log rows.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from perfhub.auth.deps import CurrentUser
from perfhub.core.bounds import MAX_ID
from perfhub.core.db import utcnow
from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden
from perfhub.reports.chart import coverage_svg
from perfhub.reports.presenter import CHART_FILE, csv_text, markdown
from perfhub.reports.schemas import PilotReportOut
from perfhub.reports.service import build_report as build
from perfhub.reports.service import parse_query

router = APIRouter(prefix="/admin/reports", tags=["admin"])

Format = Literal["json", "csv", "md", "svg"]
MEDIA: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "svg": "image/svg+xml",
}
# What an Accept header may ask for instead of ?format=.
ACCEPTED: tuple[tuple[str, Format], ...] = (
    ("text/csv", "csv"),
    ("text/markdown", "md"),
    ("image/svg+xml", "svg"),
)


def _negotiated(request: Request) -> Format:
    accept = request.headers.get("accept", "").lower()
    return next((kind for media, kind in ACCEPTED if media in accept), "json")


@router.get(
    "/pilot",
    response_model=PilotReportOut,
    response_model_by_alias=True,
    responses={
        200: {
            "content": {media: {"schema": {"type": "string"}} for media in MEDIA.values()},
            "description": "the report as JSON; as CSV, Markdown or the SVG chart with `format` or `Accept`",
        }
    },
)
def pilot_report(
    request: Request,
    uow: UowDep,
    user: CurrentUser,
    from_: Annotated[
        str | None, Query(alias="from", max_length=32, description="first day, YYYY-MM-DD")
    ] = None,
    to: Annotated[
        str | None, Query(max_length=32, description="last day, YYYY-MM-DD (default: yesterday, UTC)")
    ] = None,
    team: Annotated[int | None, Query(gt=0, le=MAX_ID, description="only this team's athletes")] = None,
    baseline_from: Annotated[
        str | None, Query(alias="baselineFrom", max_length=32, description="baseline's first day")
    ] = None,
    baseline_to: Annotated[
        str | None, Query(alias="baselineTo", max_length=32, description="baseline's last day")
    ] = None,
    format_: Annotated[
        Format | None, Query(alias="format", description="json, csv, md or svg (default: by Accept)")
    ] = None,
) -> Any:
    """The pilot's success metrics from `from` to `to` (default: the 28 days to yesterday):
    daily readiness coverage and before 07:00 local, ingest lag, plan adherence by adjustment and
    against the baseline period (`baselineFrom`..`baselineTo`, not overlapping), OAuth links and
    dead letters, with each pilot target met or not. Admins only."""
    if user.role != "admin":
        raise Forbidden("only an admin reads the pilot report")
    now = utcnow()
    query = parse_query(from_, to, team, baseline_from, baseline_to, today=now.date())
    with uow() as session:
        report = build(session, query, now)
    kind = format_ or _negotiated(request)
    if kind == "json":
        return PilotReportOut.model_validate(report.out())
    if kind == "csv":
        body = csv_text(report)
    elif kind == "md":
        body = markdown(report, chart_hint=f"Chart ({CHART_FILE}): the same query with `format=svg`.")
    else:
        body = coverage_svg(report)
    name = f"pilot-{report.start}--{report.end}.{kind}"
    return Response(
        body, media_type=MEDIA[kind], headers={"Content-Disposition": f'inline; filename="{name}"'}
    )
