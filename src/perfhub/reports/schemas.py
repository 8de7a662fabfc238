"""The pilot report's JSON, as ``GET /admin/reports/pilot`` documents and answers it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from perfhub.plans.adherence_routes import GroupsOut, TallyOut


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class TeamRef(_Out):
    id: int
    name: str


class TargetOut(_Out):
    code: Literal["coverage", "before7", "lag", "adherence"]
    target: str
    goal: str
    value: float | None = Field(description="a share (0–1), or for adherence the relative gain")
    met: bool | None = Field(description="null: not judged (nothing to judge it on)")
    note: str


class DayOut(_Out):
    date: date
    complete: bool = Field(description="the day is over in every time zone (counted in the totals)")
    active: int = Field(description="athletes linked or with a night in the 7 days ending on the day")
    covered: int = Field(description="active athletes with a readiness score for the day, on its night")
    coverage: float | None
    before7: int = Field(description="covered athletes whose readiness was there before 07:00 local")
    before7_share: float | None = Field(alias="before7Share", description="before7 ÷ active")
    hrv_nights: int = Field(alias="hrvNights")
    within_hour: int = Field(alias="withinHour", description="HRV nights stored within 1 h of availability")


class TimedByOut(_Out):
    events: int = Field(description="timed by the outbox's events")
    computed_at: int = Field(alias="computedAt", description="timed by the snapshot's computed_at (later)")


class CoverageOut(_Out):
    active_days: int = Field(alias="activeDays")
    covered_days: int = Field(alias="coveredDays")
    coverage: float | None
    before7_days: int = Field(alias="before7Days")
    before7_share: float | None = Field(alias="before7Share")
    lowest_day: DayOut | None = Field(alias="lowestDay")
    timed_by: TimedByOut = Field(alias="timedBy")
    days: list[DayOut]


class LagOut(_Out):
    nights: int = Field(description="HRV nights dated in the period")
    stored: int = Field(description="of them, with readiness stored after their HRV arrived")
    awaiting: int
    p50_seconds: float | None = Field(alias="p50Seconds")
    p95_seconds: float | None = Field(alias="p95Seconds")
    p99_seconds: float | None = Field(alias="p99Seconds")
    within_hour: int = Field(alias="withinHour")
    within_hour_share: float | None = Field(alias="withinHourShare")
    timed_by: TimedByOut = Field(alias="timedBy")
    untimed_nights: int = Field(
        alias="untimedNights",
        description="HRV nights from vendors that give a date only (Google): no capture instant, so"
        " no lag is timed for them and they are not in the figures above",
    )


class SplitOut(_Out):
    overall: TallyOut
    by_group: GroupsOut = Field(alias="byGroup")


class BaselineOut(SplitOut):
    from_: date = Field(alias="from")
    to: date


class AdherenceOut(_Out):
    period: SplitOut
    baseline: BaselineOut | None
    gain_over_baseline: float | None = Field(alias="gainOverBaseline")
    accepted_over_reverted: float | None = Field(alias="acceptedOverReverted")
    accepted_over_unadjusted: float | None = Field(alias="acceptedOverUnadjusted")


class OAuthOut(_Out):
    completed: int
    failed: int
    failures_kept_since: datetime = Field(
        alias="failuresKeptSince", description="failed attempts before this are no longer kept"
    )


class DeadLetterOut(_Out):
    consumer: str
    reason: str = Field(description="the kind of failure: the reason's text before its first colon")
    count: int
    replayed: int


class DeadLettersOut(_Out):
    total: int
    by_reason: list[DeadLetterOut] = Field(alias="byReason")


class PilotReportOut(_Out):
    from_: date = Field(alias="from")
    to: date
    team: TeamRef | None
    generated_at: datetime = Field(alias="generatedAt")
    athletes: int
    targets: list[TargetOut]
    coverage: CoverageOut
    lag: LagOut
    adherence: AdherenceOut
    oauth: OAuthOut
    dead_letters: DeadLettersOut = Field(alias="deadLetters")
