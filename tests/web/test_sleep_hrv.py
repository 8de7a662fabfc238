"""The athlete's sleep and HRV pages (#12): the figures, the chart data and the charts drawn.

Data goes in through the ingest API and the embedded pipeline (normalize, then readiness), as a
wearable's would; nothing writes canonical rows or snapshots by hand. The clock is frozen where
the date matters. The browser tests at the end share one live server and one athlete.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import time_machine
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from tests.conftest import Harness
from tests.web.browser import LiveServer, WebUser, check_accessibility, login, screenshot
from tests.web.signin import HTML, sign_in, with_password

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.privacy.models import AuditEntry
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.readings.service import accept_batch
from perfhub.teams.service import create_team, join_team

pytestmark = pytest.mark.backends("sqlite")

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
NEED_MIN = 480  # the need the debt tests set (an unset one is estimated from the nights)


# --- helpers ---------------------------------------------------------------------------------


def local_today(tz: str, now: datetime = NOW) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def nights(end: date, count: int) -> list[date]:
    """``count`` consecutive wake dates ending on ``end``, oldest first."""
    return [end - timedelta(days=back) for back in range(count - 1, -1, -1)]


def sleep_bodies(user_id: int, durations: dict[date, float]) -> list[dict[str, Any]]:
    return [
        {
            "userId": user_id,
            "date": day.isoformat(),
            "durationMin": minutes,
            "efficiencyPct": 88,
            "latencyMin": 14,
            "wakeCount": 3,
            "vendor": "oura",
        }
        for day, minutes in durations.items()
    ]


def hrv_bodies(user_id: int, readings: dict[date, tuple[float, float]]) -> list[dict[str, Any]]:
    return [
        {"userId": user_id, "date": day.isoformat(), "rMSSD": rmssd, "restingHr": rhr, "vendor": "oura"}
        for day, (rmssd, rhr) in readings.items()
    ]


def ingest(
    harness: Harness, *, sleep: Sequence[dict[str, Any]] = (), hrv: Sequence[dict[str, Any]] = ()
) -> None:
    """Through the ingest API, then the pipeline until nothing is left to do."""
    answer = harness.client.post(
        "/api/v1/ingest/batch", json={"sleep": list(sleep), "hrv": list(hrv)}, headers=harness.service_token()
    )
    assert answer.status_code == 202, answer.text
    harness.drain()


def page(harness: Harness, path: str, status: int = 200) -> str:
    answer = harness.client.get(path, headers=HTML)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def chart_data(html: str, element_id: str) -> dict[str, Any]:
    """The JSON block charts.js draws ``element_id`` from."""
    found = re.search(rf'<script type="application/json" id="{element_id}-data">(.*?)</script>', html, re.S)
    assert found is not None, f"no data block for {element_id}"
    assert f'data-chart-data="{element_id}-data"' in html
    return dict(json.loads(found.group(1)))


def text_of(html: str) -> str:
    """The page's words, tags removed and spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def input_value(html: str, name: str) -> str:
    found = re.search(rf'<input type="date" id="[^"]+" name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no date input {name}"
    return found.group(1)


def expected_debts(durations: dict[date, float], days: list[date]) -> dict[date, float]:
    """Sleep debt by its definition (docs/readiness.md#sleep-debt), written out night by night:
    the shortfall of the last 14 nights weighted 14/14 (last night) down to 1/14, a surplus paying
    back at most 2 h, scaled to the full weights when nights are missing; 5 nights at least."""
    out = {}
    for day in days:
        weighted = total = 0.0
        present = 0
        for lag in range(14):
            minutes = durations.get(day - timedelta(days=lag))
            weight = (14 - lag) / 14
            if minutes is not None:
                weighted += weight * max(NEED_MIN - minutes, -120) / 60
                total += weight
                present += 1
        if present >= 5:
            out[day] = max(0.0, weighted / total * 7.5)
    return out


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


# --- the sleep page --------------------------------------------------------------------------


def set_need(harness: Harness, athlete: dict[str, Any], minutes: int | None) -> None:
    answer = harness.client.patch("/api/v1/me", json={"sleepNeedMin": minutes}, headers=athlete["headers"])
    assert answer.status_code == 200, answer.text


def test_sleep_shows_last_night_and_the_athletes_14_debt_points(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness, tz="Europe/Oslo")
    set_need(harness, athlete, NEED_MIN)
    today = local_today("Europe/Oslo")
    # Two weeks at the need, then two weeks an hour short; last night 7:05.
    durations = {day: 480.0 for day in nights(today - timedelta(days=14), 14)}
    durations |= {day: 420.0 for day in nights(today, 14)}
    durations[today] = 425.0
    ingest(harness, sleep=sleep_bodies(athlete["id"], durations))
    sign_in(harness.client, athlete["email"])

    html = page(harness, "/sleep")
    words = text_of(html)
    assert "Last night Woke up today, " + f"{today:%A} {today.day} {today:%B} {today.year}" in words
    assert "Time asleep (h:mm) 7:05 (7 hours 5 minutes)" in words
    assert "Efficiency 88%" in words and "Fell asleep in 14 min" in words and "Woke up 3 times" in words
    assert "from Oura" in words

    window = nights(today, 14)
    data = chart_data(html, "sleep-debt")
    assert data["x"] == [day.isoformat() for day in window]
    debt = data["series"][data["counted"]]
    assert debt["label"] == "Sleep debt" and debt["kind"] == "bars"
    expected = expected_debts(durations, window)
    assert len(expected) == 14
    assert debt["values"] == pytest.approx([expected[day] for day in window], abs=0.006)
    # The thresholds are marked at the category edges.
    assert [s["values"][0] for s in data["series"] if s["kind"] == "threshold"] == [0.25, 2.0, 5.0]

    assert f"High {expected[today]:.1f} h over the last 14 nights" in words
    assert "More than 5 h short over the last two weeks" in words
    assert "What to do Make sleep the priority this week" in words
    summary = (
        f"Sleep debt went from {expected[window[0]]:.1f} h to {expected[today]:.1f} h over 14 nights: high."
    )
    assert summary in words
    assert 'role="img" aria-label="Bar chart of sleep debt in hours' in html
    assert "sleep need (today 8 hours, as you set it on your profile)" in words
    # The page reads what the API serves.
    api = harness.client.get(
        f"/api/v1/sleep/debt?from={window[0]}&to={today}", headers=athlete["headers"]
    ).json()
    assert [row["debtHours"] for row in api] == debt["values"]


@pytest.mark.parametrize(
    ("minutes", "category", "meaning"),
    [
        (480, "None", "You have slept about as much as you need"),
        (470, "Low", "A small shortfall, under 2 h"),
        (450, "Moderate", "2 to 5 h short over the last two weeks"),
        (400, "High", "More than 5 h short"),
    ],
)
def test_debt_category_in_words_from_the_fifth_night(
    harness: Harness, frozen: None, minutes: float, category: str, meaning: str
) -> None:
    athlete = with_password(harness)
    today = local_today("UTC")
    durations = {day: float(minutes) for day in nights(today, 6)}
    ingest(harness, sleep=sleep_bodies(athlete["id"], durations))
    sign_in(harness.client, athlete["email"])

    html = page(harness, "/sleep")
    words = text_of(html)
    hours = expected_debts(durations, [today])[today]
    assert f'<span class="debt debt-{category.lower()}" id="debt-category">{category}</span>' in html
    assert f"{category} {hours:.1f} h over the last 14 nights" in words
    assert meaning in words
    # Only the two days with 5 or more of their 14 nights have a debt to draw.
    values = chart_data(html, "sleep-debt")["series"][0]["values"]
    assert [value is not None for value in values] == [False] * 12 + [True, True]


def test_the_need_shown_is_the_one_estimated_from_the_athletes_nights(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness)
    today = local_today("UTC")
    # 13 nights before today and last night: the estimate needs 14 nights before the day.
    ingest(harness, sleep=sleep_bodies(athlete["id"], {day: 400.0 for day in nights(today, 14)}))
    sign_in(harness.client, athlete["email"])
    words = text_of(page(harness, "/sleep"))
    assert "sleep need (today 8 hours, the usual figure until 14 of your nights are recorded)" in words

    # 60 nights before today: 30 of 6 h 40 and 30 of 7 h 30, a mean of 7 h 05 min.
    older = {day: 400.0 for day in nights(today - timedelta(days=14), 17)}
    older |= {day: 450.0 for day in nights(today - timedelta(days=31), 30)}
    ingest(harness, sleep=sleep_bodies(athlete["id"], older))
    words = text_of(page(harness, "/sleep"))
    assert "sleep need (today 7 hours 5 minutes, estimated from your last 60 nights)" in words

    set_need(harness, athlete, 450)
    assert "sleep need (today 7 hours 30 minutes, as you set it on your profile)" in text_of(
        page(harness, "/sleep")
    )


def test_fewer_than_five_nights_is_explained_and_not_charted(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness)
    today = local_today("UTC")
    ingest(harness, sleep=sleep_bodies(athlete["id"], {day: 450.0 for day in nights(today, 3)}))
    sign_in(harness.client, athlete["email"])

    html = page(harness, "/sleep")
    words = text_of(html)
    assert "Time asleep (h:mm) 7:30" in words
    assert "Sleep debt needs at least 5 of the last 14 nights. There are 3 so far; 2 more nights" in words
    assert 'id="sleep-debt-data"' not in html and 'id="debt-category"' not in html


def test_no_sleep_at_all_says_so(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness)
    sign_in(harness.client, athlete["email"])
    words = text_of(page(harness, "/sleep"))
    assert "No sleep recorded in the 14 nights up to today." in words
    assert (
        "There is no sleep debt to show: it needs at least 5 of the last 14 nights, and none is recorded."
        in words
    )


def test_a_night_missing_last_night_shows_the_most_recent_one(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness)
    today = local_today("UTC")
    ingest(
        harness,
        sleep=sleep_bodies(athlete["id"], {day: 450.0 for day in nights(today - timedelta(days=2), 6)}),
    )
    sign_in(harness.client, athlete["email"])
    words = text_of(page(harness, "/sleep"))
    assert "Most recent night No sleep recorded for last night yet." in words
    assert "2 days ago (from Oura)" in words


# --- the athlete's calendar, at the ends of the world's time zones ---------------------------


@pytest.mark.parametrize(
    ("now", "tz"),
    [
        # 23:30 UTC: already the next day at UTC+14.
        (datetime(2026, 3, 10, 23, 30, tzinfo=UTC), "Etc/GMT-14"),
        # 00:30 UTC: still the day before at UTC-12.
        (datetime(2026, 3, 11, 0, 30, tzinfo=UTC), "Etc/GMT+12"),
    ],
    ids=["UTC+14", "UTC-12"],
)
def test_last_night_and_the_windows_follow_the_athletes_calendar(
    harness: Harness, now: datetime, tz: str
) -> None:
    with time_machine.travel(now, tick=False):
        athlete = with_password(harness, tz=tz)
        today = local_today(tz, now)
        assert today != now.date()  # the case where the UTC date would be wrong
        durations = {day: 400.0 + index for index, day in enumerate(nights(today, 16))}
        readings = {day: (55.0 + index % 5, 50.0) for index, day in enumerate(nights(today, 16))}
        ingest(harness, sleep=sleep_bodies(athlete["id"], durations), hrv=hrv_bodies(athlete["id"], readings))
        sign_in(harness.client, athlete["email"])

        html = page(harness, "/sleep")
        words = text_of(html)
        assert f"Last night Woke up today, {today:%A} {today.day} {today:%B} {today.year}" in words
        assert f"Time asleep (h:mm) {415 // 60}:{415 % 60:02d}" in words  # the 16th night: 400 + 15 min
        data = chart_data(html, "sleep-debt")
        assert data["x"][0] == (today - timedelta(days=13)).isoformat() and data["x"][-1] == today.isoformat()
        assert data["series"][0]["values"][-1] is not None

        hrv = page(harness, "/hrv")
        assert input_value(hrv, "to") == today.isoformat()
        assert input_value(hrv, "from") == (today - timedelta(days=29)).isoformat()
        assert chart_data(hrv, "hrv-chart")["x"][-1] == today.isoformat()


# --- the HRV page ----------------------------------------------------------------------------


def hrv_history(end: date, count: int) -> dict[date, tuple[float, float]]:
    """Nights with an rMSSD that wanders around 60 ms and a resting HR around 50 bpm."""
    return {
        day: (round(60 * math.exp(0.12 * math.sin(index / 3)), 1), round(50 + 2 * math.cos(index / 4), 1))
        for index, day in enumerate(nights(end, count))
    }


def range_by_definition(readings: dict[date, tuple[float, float]], day: date) -> tuple[float, float, float]:
    """The normal range (docs/readiness.md#normal-range) and resting-HR baseline of ``day``,
    computed here from the nights: mean ± ½ SD (n−1, floored at 0.05) of ln rMSSD over the 60
    days before the day, and the 60-day mean of resting HR."""
    before = [readings[d] for d in (day - timedelta(days=k) for k in range(1, 61)) if d in readings]
    ln = np.log([rmssd for rmssd, _ in before])
    sd = max(float(np.std(ln, ddof=1)), 0.05)
    rhr = float(np.mean([rhr for _, rhr in before]))
    return float(ln.mean()) - sd / 2, float(ln.mean()) + sd / 2, rhr


def test_hrv_shows_each_night_against_the_normal_range_readiness_uses(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness)
    today = local_today("UTC")
    readings = hrv_history(today, 90)
    ingest(harness, hrv=hrv_bodies(athlete["id"], readings))
    sign_in(harness.client, athlete["email"])

    start = today - timedelta(days=29)
    html = page(harness, f"/hrv?from={start}&to={today}")
    data = chart_data(html, "hrv-chart")
    series = {s["label"]: s["values"] for s in data["series"]}
    window = nights(today, 30)
    assert data["x"] == [day.isoformat() for day in window]
    assert data["band"] == {"series": [0, 1], "label": "Normal range"}
    assert series["ln rMSSD, each night"] == pytest.approx(
        [math.log(readings[day][0]) for day in window], abs=0.0006
    )
    for column, day in enumerate(window):
        low, high, _ = range_by_definition(readings, day)
        assert series["Normal range, bottom"][column] == pytest.approx(low, abs=0.0006)
        assert series["Normal range, top"][column] == pytest.approx(high, abs=0.0006)
    # The very numbers readiness stored for today (not the same maths done twice).
    with harness.runtime.sessions() as session:
        snapshot = session.scalar(
            select(ReadinessSnapshotRow).where(
                ReadinessSnapshotRow.user_id == athlete["id"],
                ReadinessSnapshotRow.date == today,
                ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
            )
        )
    assert snapshot is not None
    assert series["Normal range, bottom"][-1] == round(snapshot.baselines["normalLow"], 3)
    assert series["Normal range, top"][-1] == round(snapshot.baselines["normalHigh"], 3)
    assert series["7-day average"][-1] == round(snapshot.baselines["ln7"], 3)

    rhr = chart_data(html, "rhr-chart")
    rhr_series = {s["label"]: s["values"] for s in rhr["series"]}
    assert rhr_series["Resting HR"] == [readings[day][1] for day in window]
    low, high, rhr_baseline = range_by_definition(readings, today)
    assert rhr_series["Baseline (60-day mean)"][-1] == pytest.approx(rhr_baseline, abs=0.05)

    words = text_of(html)
    ln_today = math.log(readings[today][0])
    assert (
        f"Latest night ({today:%a} {today.day} {today:%b}) {ln_today:.2f} ({readings[today][0]:.0f} ms)"
        in words
    )
    assert f"Normal range {low:.2f}–{high:.2f}" in words
    assert "ln rMSSD was recorded on 30 of 30 nights" in words
    assert f"Baseline (60-day mean) {rhr_baseline:.0f} bpm" in words
    assert "Resting HR was recorded on 30 of 30 nights" in words
    # The quick range for these days is the current one.
    assert f'href="/hrv?from={start}&amp;to={today}" aria-current="true">Last 30 days' in html
    assert f'href="/hrv?from={today - timedelta(days=89)}&amp;to={today}">Last 90 days' in html


def test_hrv_without_enough_history_has_no_band_and_says_why(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness)
    today = local_today("UTC")
    ingest(harness, hrv=hrv_bodies(athlete["id"], hrv_history(today, 3)))
    sign_in(harness.client, athlete["email"])
    html = page(harness, "/hrv")
    words = text_of(html)
    assert (
        "There is no normal range yet: it needs at least 4 nights of HRV in the 60 days before a day."
        in words
    )
    data = chart_data(html, "hrv-chart")
    assert sum(v is not None for v in data["series"][data["counted"]]["values"]) == 3
    assert all(v is None for v in data["series"][0]["values"])
    assert "ln rMSSD was recorded on 3 of 30 nights" in words


def test_hrv_with_no_readings_in_the_range(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness)
    sign_in(harness.client, athlete["email"])
    html = page(harness, "/hrv?from=2026-01-01&to=2026-01-14")
    words = text_of(html)
    assert "No HRV recorded between 1 Jan – 14 Jan 2026." in words
    assert "No resting heart rate recorded between 1 Jan – 14 Jan 2026." in words
    assert 'id="hrv-chart-data"' not in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-03-01&to=2026-02-01", "from (2026-03-01) is after to (2026-02-01)"),
        ("from=2024-01-01&to=2026-03-01", "a range may span at most 366 days"),
        ("from=2026-02-30", "from must be a real date as YYYY-MM-DD, got &#39;2026-02-30&#39;"),
        ("to=yesterday", "to must be a real date as YYYY-MM-DD, got &#39;yesterday&#39;"),
    ],
)
def test_a_bad_range_is_an_error_page(harness: Harness, query: str, message: str) -> None:
    athlete = with_password(harness)
    sign_in(harness.client, athlete["email"])
    html = page(harness, f"/hrv?{query}", status=422)
    assert "Some of what you entered cannot be used" in html
    assert message in html


# --- who may see them ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sleep", "/hrv"])
def test_signed_out_goes_to_sign_in_and_back(harness: Harness, path: str) -> None:
    answer = harness.client.get(path, headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={quote(path, safe='')}"


def test_a_coach_sees_only_what_the_athlete_shares(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness, tz="Pacific/Auckland")
    coach = with_password(harness, role="coach")
    with session_scope(harness.runtime.sessions) as session:
        coach_user, athlete_user = session.get(User, coach["id"]), session.get(User, athlete["id"])
        assert coach_user is not None and athlete_user is not None
        team = create_team(session, "Rowing", coach_user)
        join_team(session, team.id, athlete_user, {"sleep", "readiness"})
    today = local_today("Pacific/Auckland")
    ingest(
        harness,
        sleep=sleep_bodies(athlete["id"], {day: 450.0 for day in nights(today, 8)}),
        hrv=hrv_bodies(athlete["id"], hrv_history(today, 8)),
    )
    sign_in(harness.client, coach["email"])

    sleep = page(harness, f"/sleep?userId={athlete['id']}")
    assert f"Sleep · {athlete['email'].split('@')[0]}" in text_of(sleep)
    assert "Time asleep (h:mm) 7:30" in text_of(sleep)
    # The need is the athlete's setting, not shared: the coach reads how the debt is counted only.
    assert "against the athlete's sleep need, over the last 14 nights" in text_of(sleep)
    with harness.runtime.sessions() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.subject_id == athlete["id"])).all()
    assert [(entry.actor_id, entry.signals, entry.path) for entry in audit] == [
        (coach["id"], ["sleep"], "/sleep")
    ]

    refused = page(harness, f"/hrv?userId={athlete['id']}", status=403)
    assert (
        "You cannot do that here" in refused
        and f"athlete {athlete['id']} does not share hrv with you" in refused
    )
    # Without an athlete, the coach is told where the page is for.
    own = page(harness, "/sleep", status=403)
    assert "This page shows an athlete&#39;s sleep." in own


def test_a_coach_without_any_sharing_is_refused_both_pages(harness: Harness) -> None:
    athlete = with_password(harness)
    coach = with_password(harness, role="coach")
    with session_scope(harness.runtime.sessions) as session:
        coach_user, athlete_user = session.get(User, coach["id"]), session.get(User, athlete["id"])
        assert coach_user is not None and athlete_user is not None
        join_team(session, create_team(session, "Track", coach_user).id, athlete_user, set())
    sign_in(harness.client, coach["email"])
    for path in ("/sleep", "/hrv"):
        html = page(harness, f"{path}?userId={athlete['id']}", status=403)
        assert "does not share" in html


# --- in a browser ----------------------------------------------------------------------------


def midday_zone() -> str:
    """A zone where it is now around noon, so the athlete's today holds for the whole module."""
    offset = max(-12, min(14, 12 - datetime.now(UTC).hour))
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/ names count the other way


@dataclass(frozen=True)
class SeededAthlete:
    user: WebUser
    today: date
    sleep_nights: int
    hrv_nights: int


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> SeededAthlete:
    """One athlete with 20 nights of sleep and 70 of HRV, ingested as a bridge would send them."""
    tz = midday_zone()
    user = live_server.user(tz=tz)
    today = datetime.now(UTC).astimezone(ZoneInfo(tz)).date()
    durations = {day: 420.0 + 10 * (index % 4) for index, day in enumerate(nights(today, 20))}
    readings = hrv_history(today, 70)
    with session_scope(live_server.sessions) as session:
        accept_batch(
            session,
            [SleepIn.model_validate(body) for body in sleep_bodies(user.id, durations)]
            + [HrvIn.model_validate(body) for body in hrv_bodies(user.id, readings)],
        )
    live_server.runtime.bus.drain()
    with live_server.sessions() as session:
        landed = [
            session.scalar(select(func.count()).select_from(model).where(model.user_id == user.id))
            for model in (SleepDaily, HrvDaily, ReadinessSnapshotRow)
        ]
    assert landed[:2] == [len(durations), len(readings)] and landed[2], "the pipeline did not finish"
    return SeededAthlete(user, today, len(durations), len(readings))


def data_block(page: Page, element_id: str) -> dict[str, Any]:
    return dict(json.loads(page.locator(f"#{element_id}-data").text_content() or "null"))


def test_browser_sleep_debt_chart_draws_the_athletes_nights(
    live_server: LiveServer, page: Page, seeded: SeededAthlete
) -> None:
    login(page, live_server, seeded.user)
    page.goto(f"{live_server.url}/sleep")
    chart = page.locator("#sleep-debt")
    # 20 nights: every day of the 14-day window has at least 5 nights behind it.
    expect(chart).to_have_attribute("data-points", "14")
    assert sum(v is not None for v in data_block(page, "sleep-debt")["series"][0]["values"]) == 14
    expect(chart.locator("canvas")).to_have_count(1)
    legend = chart.locator(".u-legend .u-series")
    expect(legend).to_have_count(5)  # the night, the debt and three thresholds
    expect(legend.nth(1)).to_contain_text("Sleep debt")
    expect(legend.nth(4)).to_contain_text("High above 5 h")
    expect(chart).to_have_attribute("aria-label", re.compile(r"^Bar chart of sleep debt in hours"))
    expect(page.locator("#sleep-debt-summary")).to_contain_text("over 14 nights")
    check_accessibility(page)

    # At phone width the chart follows its container, and nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(chart.locator("canvas")).to_have_attribute("width", re.compile(r"^\d+$"))
    page.wait_for_function(
        "() => document.querySelector('#sleep-debt canvas').getBoundingClientRect().width <= 370"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "sleep")


def test_browser_hrv_chart_draws_the_band_and_resting_hr(
    live_server: LiveServer, page: Page, seeded: SeededAthlete
) -> None:
    login(page, live_server, seeded.user)
    page.goto(f"{live_server.url}/hrv")
    chart = page.locator("#hrv-chart")
    expect(chart).to_have_attribute("data-points", "30")  # the default range: the last 30 nights
    data = data_block(page, "hrv-chart")
    assert sum(v is not None for v in data["series"][data["counted"]]["values"]) == 30
    # 70 nights: every shown day has its 60-day normal range.
    expect(chart).to_have_attribute("data-band-points", "30")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart.locator(".u-legend")).to_contain_text("Normal range, top")
    expect(chart.locator(".u-legend")).to_contain_text("ln rMSSD, each night")
    expect(page.locator("#rhr-chart")).to_have_attribute("data-points", "30")
    expect(page.locator("#rhr-chart .u-legend")).to_contain_text("Baseline (60-day mean)")

    # The quick range redraws for 90 days (70 of them with a night).
    page.get_by_role("link", name="Last 90 days").click()
    expect(chart).to_have_attribute("data-points", str(seeded.hrv_nights))
    expect(page.get_by_role("link", name="Last 90 days")).to_have_attribute("aria-current", "true")
    check_accessibility(page)
    screenshot(page, "hrv")
