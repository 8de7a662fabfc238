"""The weekly pages: /week (the athlete's own) and /teams/{id}/week (a coach's team) say what the
API answers the same person, under the same rules and audit."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
import time_machine
from tests.conftest import Harness
from tests.insights.test_weekly_api import AFTER, coached_team, slump
from tests.readiness.teamdata import audit_of
from tests.web.signin import HTML, PASSWORD, sign_in, with_password

from perfhub.auth.models import User
from perfhub.auth.passwords import set_password
from perfhub.core.db import session_scope

pytestmark = pytest.mark.backends("sqlite")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def chart_data(html: str, element_id: str) -> dict[str, Any]:
    found = re.search(rf'<script type="application/json" id="{element_id}-data">(.*?)</script>', html, re.S)
    assert found is not None, element_id
    return json.loads(unescape(found.group(1)))


def signed_in(harness: Harness, person: dict[str, Any]) -> None:
    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, person["id"])
        assert user is not None
        set_password(session, user, PASSWORD)
    assert sign_in(harness.client, person["email"]).status_code == 303


def test_the_athlete_reads_their_week_with_its_chart(harness: Harness) -> None:
    athlete = with_password(harness)
    slump(harness, athlete["id"])
    with time_machine.travel(AFTER, tick=False):
        api = harness.client.get("/api/v1/insights/weekly", headers=athlete["headers"]).json()
        assert sign_in(harness.client, athlete["email"]).status_code == 303
        page = harness.client.get("/week", headers=HTML)
        today = harness.client.get("/today", headers=HTML)
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Week 2026-W47: 16 Nov – 22 Nov 2026" in words
    for sentence in api["sentences"]:
        assert sentence["text"] in words
    assert "mean 60 over 3 scored days (the week before 80, change -20)" in words
    assert "below the normal range on 3 of 3 days" in words
    chart = chart_data(page.text, "week-readiness")
    assert chart["x"][0] == "2026-11-16" and len(chart["x"]) == 7
    assert chart["series"][0]["values"] == [60.0, 60.0, 60.0, None, None, None, None]
    assert chart["series"][1]["values"] == [80.0] * 7
    assert 'href="/week?week=2026-W46"' in page.text and "2026-W48" not in page.text
    assert 'href="/week"' in today.text


def test_a_week_not_over_says_so(harness: Harness) -> None:
    athlete = with_password(harness)
    with time_machine.travel(AFTER, tick=False):
        assert sign_in(harness.client, athlete["email"]).status_code == 303
        page = harness.client.get("/week?week=2026-W48", headers=HTML)
        bad = harness.client.get("/week?week=2026-48", headers=HTML)
    assert page.status_code == 200 and "Not over yet" in page.text
    assert bad.status_code == 422


def test_the_coach_reads_the_teams_week_as_each_athlete_shares_it(harness: Harness) -> None:
    team = coached_team(harness)
    signed_in(harness, team.coach)
    with time_machine.travel(AFTER, tick=False):
        page = harness.client.get(f"/teams/{team.id}/week", headers=HTML)
        table = harness.client.get(f"/teams/{team.id}", headers=HTML)
    assert page.status_code == 200
    rows = {
        text_of(row).split(" ", 2)[1]: text_of(row)
        for row in re.findall(r"<tr>\s*<th scope=\"row\">.*?</tr>", page.text, re.S)
    }
    assert "down" in rows["Ann"] and "HRV below range, sleep debt rising" in rows["Ann"]
    assert "sleep debt (1 d)" in rows["Ann"] and "nothing planned" in rows["Ann"]
    # Bo shares readiness only: no reasons that need HRV or sleep, no sleep-debt flag, training hidden.
    assert "HRV below range (3 d)" in rows["Bo"] and "sleep debt" not in rows["Bo"]
    assert rows["Bo"].endswith("hidden ")
    assert "Bo does not share HRV, sleep, training with you" in text_of(page.text)
    assert f'href="/teams/{team.id}/week"' in table.text
    # Each athlete sharing readiness has its week drawn day by day, told in words too.
    charts = re.findall(r'<svg class="spark".*?aria-label="([^"]*)".*?</svg>', page.text, re.S)
    assert len(charts) == 3
    for label, svg in zip(charts, re.findall(r'<svg class="spark".*?</svg>', page.text, re.S), strict=True):
        days = re.findall(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[^,.]* (\d+)", unescape(label))
        assert label.startswith("Readiness by day: ") and days
        assert svg.count("<circle") == len(days)
        heights = [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]
        # Higher scores sit higher (smaller y), in the 0–30 box.
        assert all(0 <= y <= 30 for y in heights)
        ranked = sorted(zip((int(d) for d in days), heights, strict=True))
        assert [y for _, y in ranked] == sorted(heights, reverse=True)
    path = f"/teams/{team.id}/week"
    assert {
        (subject, tuple(signals)) for subject, signals, p in audit_of(harness, team.coach["id"]) if p == path
    } == {
        (team.athletes[0]["id"], ("hrv", "sleep", "readiness", "training")),
        (team.athletes[1]["id"], ("readiness",)),
        (team.athletes[2]["id"], ("sleep", "readiness")),
    }


def test_a_teams_week_is_for_its_coaches(harness: Harness) -> None:
    team = coached_team(harness)
    member = team.athletes[0]
    signed_in(harness, member)
    with time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), tick=False):
        assert harness.client.get(f"/teams/{team.id}/week", headers=HTML).status_code == 403
        assert harness.client.get("/teams/999999/week", headers=HTML).status_code == 404
