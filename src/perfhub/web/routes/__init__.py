"""The web pages: one router per area, all outside the API and its OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter

from perfhub.web.routes import admin, connections, hrv, nudges, profile, session, sleep, teams, today

router = APIRouter(include_in_schema=False)
for area in (session, today, sleep, hrv, nudges, profile, connections, teams, admin):
    router.include_router(area.router)
