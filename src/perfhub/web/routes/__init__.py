"""The web pages: one router per area, all outside the API and its OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter

from perfhub.web.routes import (
    access_log,
    account,
    adherence,
    admin,
    athlete_trend,
    connections,
    hrv,
    nudges,
    plan,
    profile,
    session,
    sharing,
    sleep,
    team_page,
    teams,
    today,
    week,
)

router = APIRouter(include_in_schema=False)
AREAS = (
    session,
    today,
    plan,
    sleep,
    hrv,
    nudges,
    sharing,
    access_log,
    profile,
    account,
    connections,
    teams,
    team_page,
    athlete_trend,
    adherence,
    week,
    admin,
)
for area in AREAS:
    router.include_router(area.router)
