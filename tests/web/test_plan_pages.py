"""The plan pages (#14): the athlete's /plan (sessions, proposals as a diff with their rationale,
accept and revert with their history, completion, unplanned sessions, the load chart) and a
coach's view of one athlete's plan — against the plan API's answers, for the people who may and
may not see them. The clock is frozen: the day decides which sessions are today's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from tests.conftest import Harness
from tests.readiness.teamdata import Shape
from tests.web.coachkit import ALL, API, Browser, can_sign_in, team_with_history, text_of

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.plans.models import SessionAdjustment
from perfhub.plans.schemas import SessionFields
from perfhub.plans.service import create_session
from perfhub.privacy.models import AuditEntry
from perfhub.training.models import CompletedSession

pytestmark = pytest.mark.backends("sqlite")

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
SICK = Shape(sick=3, seed=1)  # 40 nights, the last 3 with low rMSSD and resting HR +8 bpm: illness
NAMES = ["Ada Open", "Bo Private", "Cy Unscored"]
# Ada shares everything; Bo shares everything but training; Cy shares training but not readiness.
SHARES: list[tuple[str, ...]] = [ALL, ("hrv", "sleep", "readiness"), ("training",)]


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass
class Planned:
    team_id: int
    coach: dict[str, Any]
    athletes: list[dict[str, Any]]
    hard: dict[str, int]  # athlete name → today's hard session (proposed an adjustment)
    tomorrow: int  # Ada's easy session tomorrow (no readiness yet, no proposal)
    past: int  # Ada's session three days ago


def plan(harness: Harness, athlete_id: int, day: date, kind: str, title: str, minutes: int = 60) -> int:
    with session_scope(harness.runtime.sessions) as session:
        athlete = session.get(User, athlete_id)
        assert athlete is not None
        fields = SessionFields.model_validate(
            {
                "date": day.isoformat(),
                "sport": "run",
                "title": title,
                "type": kind,
                "durationMin": minutes,
                "intensity": {"kind": "zone", "value": 4 if kind == "hard" else 2},
                "plannedLoad": 7.0 * minutes if kind == "hard" else None,
            }
        )
        return create_session(session, athlete, athlete, fields).id


@pytest.fixture
def planned(harness: Harness, frozen: None) -> Planned:
    team = team_with_history(harness, SHARES, names=NAMES, shapes=[SICK] * 3, signing_in=(0, 1, 2))
    hard = {
        name.split()[0]: plan(harness, athlete["id"], TODAY, "hard", f"{name.split()[0]}'s intervals")
        for name, athlete in zip(NAMES, team.athletes, strict=True)
    }
    ada = team.athletes[0]["id"]
    return Planned(
        team.id,
        team.coach,
        team.athletes,
        hard,
        plan(harness, ada, TODAY + timedelta(days=1), "easy", "Recovery jog", 40),
        plan(harness, ada, TODAY - timedelta(days=3), "moderate", "Tempo", 50),
    )


def api_session(harness: Harness, reader: dict[str, Any], session_id: int) -> dict[str, Any]:
    answer = harness.client.get(f"{API}/plan/sessions/{session_id}", headers=reader["headers"])
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def card(html: str, session_id: int) -> str:
    """The HTML of one session's card."""
    found = re.search(rf'<article [^>]*id="session-{session_id}".*?</article>', html, re.S)
    assert found is not None, f"no card for session {session_id}"
    return found.group(0)


def diff_rows(card_html: str) -> list[tuple[str, str, str]]:
    body = re.search(r'<table class="diff">.*?<tbody>(.*?)</tbody>', card_html, re.S)
    assert body is not None, "no diff table"
    return [
        (text_of(field), text_of(planned), text_of(adjusted))
        for field, planned, adjusted in re.findall(
            r"<tr><th scope=\"row\">(.*?)</th><td>(.*?)</td><td>(.*?)</td></tr>", body.group(1), re.S
        )
    ]


def facts(card_html: str) -> dict[str, str]:
    return {
        text_of(term): text_of(value)
        for term, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", card_html, re.S)
    }


def status_of(card_html: str) -> str:
    found = re.search(r'class="adjustment-status" data-status="(\w+)"', card_html)
    assert found is not None
    return found.group(1)


# --- the athlete's page -------------------------------------------------------------------------


def test_a_proposal_shows_as_a_diff_with_its_rationale_and_both_buttons(
    harness: Harness, planned: Planned
) -> None:
    ada = planned.athletes[0]
    session_id = planned.hard["Ada"]
    api = api_session(harness, ada, session_id)
    assert api["adjustment"]["status"] == "proposed" and api["adjustment"]["rule"] == "illness"

    html = Browser(harness, ada["email"]).get("/plan")
    ada_card = card(html, session_id)
    assert diff_rows(ada_card) == [
        ("Type", "Hard", "Rest"),
        ("Duration", "60 min", "0 min"),
        ("Intensity", "zone 4", "none"),
        ("Planned load", "420", "0"),
    ]
    assert api["adjustment"]["rationale"] in text_of(ada_card)
    assert "Readiness 39 (low)" in api["adjustment"]["rationale"]  # the athlete sees their own score
    assert status_of(ada_card) == "proposed"
    # Until someone decides, the session as planned is the plan.
    assert facts(ada_card) == {
        "Type": "Hard",
        "Sport": "run",
        "Duration": "60 min",
        "Intensity": "zone 4",
        "Planned load": "420",
    }
    for action in ("accept", "revert"):
        form = re.search(
            rf'<form method="post" action="/plan/sessions/{session_id}/{action}"[^>]*>\s*'
            r'<input type="hidden" name="csrf_token" value="[0-9a-f]{64}">',
            ada_card,
        )
        assert form is not None, action
    assert "Today, Tuesday 10 March 2026" in text_of(ada_card)

    # Tomorrow has no readiness yet: no proposal; three days ago is in the past section.
    upcoming, past = html.split('id="past-heading"')
    assert f'id="session-{planned.tomorrow}"' in upcoming and "adjustment" not in card(html, planned.tomorrow)
    assert f'id="session-{planned.past}"' in past
    assert '<a href="/plan" aria-current="page">Plan</a>' in html


def test_accept_then_a_coach_reverts_and_the_page_shows_the_original_with_the_history(
    harness: Harness, planned: Planned
) -> None:
    ada = planned.athletes[0]
    session_id = planned.hard["Ada"]
    athlete = Browser(harness, ada["email"])
    answer = athlete.post(f"/plan/sessions/{session_id}/accept", {}, from_page="/plan")
    assert answer.status_code == 303 and answer.headers["location"] == f"/plan#session-{session_id}"

    accepted = card(athlete.get("/plan"), session_id)
    assert status_of(accepted) == "accepted"
    assert facts(accepted)["Type"] == "Rest" and facts(accepted)["Duration"] == "0 min"
    assert "Accepted by you at 09:30 on Tuesday 10 March 2026" in text_of(accepted)
    assert "/accept" not in accepted and f"/plan/sessions/{session_id}/revert" in accepted
    assert api_session(harness, ada, session_id)["final"]["type"] == "rest"

    coach = Browser(harness, planned.coach["email"])
    base = f"/teams/{planned.team_id}/athletes/{ada['id']}/plan"
    answer = coach.post(f"{base}/sessions/{session_id}/revert", {}, from_page=base)
    assert answer.status_code == 303 and answer.headers["location"] == f"{base}#session-{session_id}"

    reverted = card(athlete.get("/plan"), session_id)
    assert status_of(reverted) == "reverted"
    assert facts(reverted)["Type"] == "Hard" and facts(reverted)["Duration"] == "60 min"
    with harness.runtime.sessions() as session:
        coach_name = session.get(User, planned.coach["id"])
        assert coach_name is not None
        shown = coach_name.name or coach_name.email
    history = re.findall(r"<li>(.*?)</li>", reverted.split('class="history"')[1].split("</ol>")[0], re.S)
    assert [text_of(line) for line in history] == [
        "Accepted by you at 09:30 on Tuesday 10 March 2026",
        f"Reverted by coach {shown} at 09:30 on Tuesday 10 March 2026",
    ]
    final = api_session(harness, ada, session_id)
    assert final["final"] == final["adjustment"]["original"]
    # The coach's page words the athlete's decision from the coach's side.
    assert f"Accepted by {NAMES[0]} (the athlete)" in text_of(card(coach.get(base), session_id))


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(
    harness: Harness, planned: Planned
) -> None:
    ada = planned.athletes[0]
    session_id = planned.hard["Ada"]
    athlete = Browser(harness, ada["email"])
    for path in (
        f"/plan/sessions/{session_id}/accept",
        f"/plan/sessions/{session_id}/revert",
        f"/plan/sessions/{session_id}/complete",
        "/plan/unplanned",
    ):
        answer = athlete.client.post(
            path, data={"minutes": "30", "rpe": "5", "sport": "run", "date": "2026-03-09"}
        )
        assert answer.status_code == 403, path
        assert "This form was refused" in answer.text
        forged = athlete.client.post(path, data={"csrf_token": "0" * 64, "minutes": "30", "rpe": "5"})
        assert forged.status_code == 403, path
    coach = Browser(harness, planned.coach["email"])
    base = f"/teams/{planned.team_id}/athletes/{ada['id']}/plan"
    assert coach.client.post(f"{base}/sessions/{session_id}/accept").status_code == 403
    assert api_session(harness, ada, session_id)["adjustment"]["status"] == "proposed"
    assert harness.count(CompletedSession) == 0


def test_marking_done_shows_minutes_rpe_and_load_and_bad_values_are_said(
    harness: Harness, planned: Planned
) -> None:
    ada = planned.athletes[0]
    athlete = Browser(harness, ada["email"])
    answer = athlete.post(
        f"/plan/sessions/{planned.past}/complete", {"minutes": "50", "rpe": "6"}, from_page="/plan"
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/plan#session-{planned.past}"
    done = card(athlete.get("/plan"), planned.past)
    assert "Done: 50 min, RPE 6, load 300" in text_of(done)
    assert "Correct what was done" in done
    completed = harness.client.get(
        f"{API}/training/sessions", params={"from": "2026-03-01", "to": "2026-03-10"}, headers=ada["headers"]
    ).json()
    assert [(c["plannedSessionId"], c["durationMin"], c["rpe"], c["load"]) for c in completed] == [
        (planned.past, 50.0, 6.0, 300.0)
    ]

    refused = athlete.post(
        f"/plan/sessions/{planned.hard['Ada']}/complete", {"minutes": "abc", "rpe": "11"}, from_page="/plan"
    )
    assert refused.status_code == 422
    bad = card(refused.text, planned.hard["Ada"])
    assert "Enter the minutes as a number, for example 45." in bad
    assert "RPE is a number from 0 (rest) to 10 (maximal effort)." in bad
    assert 'value="abc"' in bad and 'aria-invalid="true"' in bad and '<details class="complete" open>' in bad
    assert f'href="#session-{planned.hard["Ada"]}"' in refused.text  # the alert leads to the form

    # A session still ahead has no form, and a post for it is refused.
    assert "/complete" not in card(athlete.get("/plan"), planned.tomorrow)
    ahead = athlete.post(
        f"/plan/sessions/{planned.tomorrow}/complete", {"minutes": "40", "rpe": "3"}, from_page="/plan"
    )
    assert ahead.status_code == 422 and "This session is still ahead" in ahead.text
    assert harness.count(CompletedSession) == 1


def test_an_unplanned_session_is_listed_and_feeds_the_load_chart(harness: Harness, planned: Planned) -> None:
    ada = planned.athletes[0]
    athlete = Browser(harness, ada["email"])
    before = athlete.get("/plan")
    assert 'id="no-load"' in before and 'id="load-chart"' not in before

    answer = athlete.post(
        "/plan/unplanned",
        {"date": "2026-03-09", "sport": "swim", "minutes": "30", "rpe": "4"},
        from_page="/plan",
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/plan#done-unplanned"
    html = athlete.get("/plan")
    assert "Yesterday, Monday 9 March 2026 : swim, 30 min, RPE 4, load 120" in text_of(html)
    spec = json.loads(re.search(r'id="load-chart-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert spec["x"][0] == "2025-12-11" and spec["x"][-1] == "2026-03-10" and len(spec["x"]) == 90
    assert spec["xLabel"] == "Day"
    atl, ctl, tsb = (series["values"] for series in spec["series"])
    # One 120 session yesterday, the first ever: ATL and CTL over the two days logged since.
    assert atl[-2:] == [120.0, 60.0] and ctl[-2:] == [120.0, 60.0] and tsb[-1] is None
    assert "sessions were logged on 1 of these 90 days" in html

    for data, message in (
        (
            {"date": "2026-03-11", "sport": "swim", "minutes": "30", "rpe": "4"},
            "A session you did is today or earlier.",
        ),
        (
            {"date": "2026-03-09", "sport": " ", "minutes": "30", "rpe": "4"},
            "Say which sport, for example run or bike.",
        ),
        (
            {"date": "2026-03-09", "sport": "swim", "minutes": "0", "rpe": "4"},
            "Minutes must be more than 0 and at most 1440.",
        ),
        (
            {"date": "yesterday", "sport": "swim", "minutes": "30", "rpe": "4"},
            "Choose the day of the session.",
        ),
    ):
        refused = athlete.post("/plan/unplanned", data, from_page="/plan")
        assert refused.status_code == 422, data
        assert message in refused.text and 'href="#log"' in refused.text
    with harness.runtime.sessions() as session:
        assert len(session.scalars(select(CompletedSession)).all()) == 1


def test_the_athletes_own_forms_act_only_on_their_own_sessions(harness: Harness, planned: Planned) -> None:
    ada, bo = planned.athletes[0], planned.athletes[1]
    athlete = Browser(harness, bo["email"])
    for action in ("accept", "revert"):
        answer = athlete.post(f"/plan/sessions/{planned.hard['Ada']}/{action}", {}, from_page="/plan")
        assert answer.status_code == 404, action
    answer = athlete.post(
        f"/plan/sessions/{planned.hard['Ada']}/complete", {"minutes": "5", "rpe": "1"}, from_page="/plan"
    )
    assert answer.status_code == 404
    # The coach of a team Ada shares training with acts on the team's path, not on /plan.
    coach = Browser(harness, planned.coach["email"])
    assert (
        coach.post(f"/plan/sessions/{planned.hard['Ada']}/accept", {}, from_page="/teams").status_code == 404
    )
    assert api_session(harness, ada, planned.hard["Ada"])["adjustment"]["status"] == "proposed"
    assert coach.get("/plan", status=403)  # a coach has no plan of their own


# --- the coach's view ---------------------------------------------------------------------------


def test_the_coach_sees_the_plan_worded_as_the_athlete_shares_it_and_the_read_is_audited(
    harness: Harness, planned: Planned
) -> None:
    coach = Browser(harness, planned.coach["email"])
    ada, _, cy = planned.athletes
    for athlete, name in ((ada, "Ada"), (cy, "Cy")):
        path = f"/teams/{planned.team_id}/athletes/{athlete['id']}/plan"
        html = coach.get(path)
        session_id = planned.hard[name]
        api = api_session(harness, planned.coach, session_id)["adjustment"]
        shown = card(html, session_id)
        assert api["rationale"] in text_of(shown)
        assert diff_rows(shown)[0] == ("Type", "Hard", "Rest")
        assert f'action="{path}/sessions/{session_id}/accept"' in shown
        assert "Log a session" not in html and "/complete" not in html  # the athlete's own forms
        assert f'href="/teams/{planned.team_id}/athletes/{athlete["id"]}"' in html
    # Cy does not share readiness: no score in the reasons, and none of the readiness drivers' values.
    cy_words = text_of(
        card(coach.get(f"/teams/{planned.team_id}/athletes/{cy['id']}/plan"), planned.hard["Cy"])
    )
    assert "Readiness 39" not in cy_words and "ln rMSSD" not in cy_words
    assert "Adjusted for readiness: rest today" in cy_words
    ada_words = text_of(
        card(coach.get(f"/teams/{planned.team_id}/athletes/{ada['id']}/plan"), planned.hard["Ada"])
    )
    assert "Readiness 39 (low)" in ada_words
    with harness.runtime.sessions() as session:
        audit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor_id == planned.coach["id"],
                AuditEntry.path == f"/teams/{planned.team_id}/athletes/{ada['id']}/plan",
            )
        ).all()
    assert audit and all(entry.subject_id == ada["id"] for entry in audit)
    assert set(audit[0].signals) >= {"training", "readiness"}


def test_the_coach_gets_a_hidden_notice_when_training_is_not_shared(
    harness: Harness, planned: Planned
) -> None:
    bo = planned.athletes[1]
    coach = Browser(harness, planned.coach["email"])
    base = f"/teams/{planned.team_id}/athletes/{bo['id']}/plan"
    html = coach.get(base, status=403)
    assert "Hidden: Bo Private does not share training with you, so their plan is not shown." in html
    assert "Bo's intervals" not in html and "session-" not in html
    answer = coach.post(f"{base}/sessions/{planned.hard['Bo']}/accept", {}, from_page="/teams")
    assert answer.status_code == 403
    assert api_session(harness, bo, planned.hard["Bo"])["adjustment"]["status"] == "proposed"
    with harness.runtime.sessions() as session:
        read = session.scalars(select(AuditEntry).where(AuditEntry.path == base)).all()
    assert read == []  # nothing was disclosed


def test_another_teams_coach_and_mismatched_paths_are_404(harness: Harness, planned: Planned) -> None:
    ada, bo, _ = planned.athletes
    stranger = harness.user("coach")
    can_sign_in(harness, stranger["id"])
    other = Browser(harness, stranger["email"])
    base = f"/teams/{planned.team_id}/athletes/{ada['id']}/plan"
    other.get(base, status=404)
    assert (
        other.post(f"{base}/sessions/{planned.hard['Ada']}/accept", {}, from_page="/teams").status_code == 404
    )
    # The team's coach, with a session of another athlete under Ada's path: 404, nothing decided.
    coach = Browser(harness, planned.coach["email"])
    wrong = coach.post(f"{base}/sessions/{planned.hard['Cy']}/accept", {}, from_page="/teams")
    assert wrong.status_code == 404
    coach.get(f"/teams/{planned.team_id}/athletes/999999/plan", status=404)
    with harness.runtime.sessions() as session:
        statuses = set(session.scalars(select(SessionAdjustment.status)))
    assert statuses == {"proposed"}
    # An athlete of the team may open only their own plan through it.
    Browser(harness, bo["email"]).get(base, status=404)


def test_the_drill_in_and_the_team_page_lead_to_the_plan(harness: Harness, planned: Planned) -> None:
    coach = Browser(harness, planned.coach["email"])
    ada = planned.athletes[0]
    plan_path = f"/teams/{planned.team_id}/athletes/{ada['id']}/plan"
    assert f'href="{plan_path}"' in coach.get(f"/teams/{planned.team_id}/athletes/{ada['id']}")
    adherence = f"/teams/{planned.team_id}/adherence"
    assert f'href="{adherence}"' in coach.get(f"/teams/{planned.team_id}")
    assert f'href="{plan_path}"' in coach.get(adherence)
    # The athlete's own drill-in leads to their own plan page.
    assert 'id="plan-link" href="/plan"' in Browser(harness, ada["email"]).get(
        f"/teams/{planned.team_id}/athletes/{ada['id']}"
    )


# --- the team's adherence ----------------------------------------------------------------------


def chart_data(html: str, element_id: str) -> dict[str, Any]:
    found = re.search(rf'id="{element_id}-data">(.*?)</script>', html, re.S)
    assert found is not None, f"no data for #{element_id}"
    return dict(json.loads(found.group(1)))


def test_adherence_is_the_apis_per_athlete_and_week_with_the_split_and_hidden_athletes(
    harness: Harness, planned: Planned
) -> None:
    ada, bo, cy = planned.athletes
    athlete = Browser(harness, ada["email"])
    assert (
        athlete.post(f"/plan/sessions/{planned.hard['Ada']}/accept", {}, from_page="/plan").status_code == 303
    )
    done = athlete.post(
        f"/plan/sessions/{planned.past}/complete", {"minutes": "50", "rpe": "5"}, from_page="/plan"
    )
    assert done.status_code == 303
    # Two days on, today's and tomorrow's sessions are over and count.
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        coach = Browser(harness, planned.coach["email"])
        params = {"from": "2026-03-01", "to": "2026-03-12"}
        path = f"/teams/{planned.team_id}/adherence"
        html = coach.get(path, **params)
        api = harness.client.get(f"{API}{path}", params=params, headers=planned.coach["headers"]).json()
    # Ada: Tempo kept (W10, unadjusted), today's accepted rest kept, tomorrow's easy run not done;
    # Cy's undecided hard session not done; Bo does not share training and is not counted.
    assert api["overall"] == {"planned": 4, "kept": 2, "rate": 0.5}
    assert api["hidden"] == [bo["id"]]
    words = text_of(html)
    assert "2 of 4 (50%) planned sessions kept." in words
    split = dict(
        re.findall(r'data-group="(\w+)"><span class="split-name">\w+</span>: <strong>(.*?)</strong>', html)
    )
    assert split == {
        "accepted": "1 of 1 (100%)",
        "reverted": "none planned",
        "undecided": "0 of 1 (0%)",
        "unadjusted": "1 of 2 (50%)",
    }
    assert "Not counted: Bo Private does not share training with you." in words

    spec = chart_data(html, "adherence-chart")
    assert spec["x"] == ["2026-03-02", "2026-03-09"] and spec["xLabel"] == "Week (from its Monday)"
    overall, accepted, unadjusted = (series["values"] for series in spec["series"])
    assert overall == [round(week["overall"]["rate"] * 100, 1) for week in api["byWeek"]] == [100.0, 33.3]
    assert accepted == [None, 100.0] and unadjusted == [100.0, 0.0]

    rows = re.findall(r'<tr data-athlete-id="(\d+)">(.*?)</tr>', html, re.S)
    assert [int(athlete_id) for athlete_id, _ in rows] == [a["athleteId"] for a in api["athletes"]]
    cells = {
        int(athlete_id): [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for athlete_id, row in rows
    }
    assert cells[ada["id"]] == [
        "Ada Open",
        "2 of 3 (67%)",
        "1 of 1 (100%)",
        "none planned",
        "none planned",
        "1 of 2 (50%)",
        "100%",
        "50%",
    ]
    assert cells[cy["id"]] == [
        "Cy Unscored",
        "0 of 1 (0%)",
        "none planned",
        "none planned",
        "0 of 1 (0%)",
        "none planned",
        "—",
        "0%",
    ]
    assert f'href="/teams/{planned.team_id}/athletes/{ada["id"]}/plan"' in html
    with harness.runtime.sessions() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.path == path, AuditEntry.actor_id == planned.coach["id"])
        ).all()
    # The page's read is audited as the API's: one row per athlete counted, training only.
    assert sorted((entry.subject_id, tuple(entry.signals)) for entry in audit) == sorted(
        [(ada["id"], ("training",)), (cy["id"], ("training",))]
    )


def test_adherence_is_for_the_teams_coaches(harness: Harness, planned: Planned) -> None:
    path = f"/teams/{planned.team_id}/adherence"
    Browser(harness, planned.athletes[0]["email"]).get(path, status=403)
    stranger = harness.user("coach")
    can_sign_in(harness, stranger["id"])
    Browser(harness, stranger["email"]).get(path, status=404)
    coach = Browser(harness, planned.coach["email"])
    assert "There is nothing here" not in coach.get(path)
    bad = coach.get(path, status=422, **{"from": "2026-03-10", "to": "2026-03-01"})
    assert "from (2026-03-10) is after to (2026-03-01)" in bad
    # No session in the range: said in words, no chart.
    empty = coach.get(path, **{"from": "2026-01-01", "to": "2026-01-31"})
    assert 'id="no-weeks"' in empty and 'id="adherence-chart"' not in empty
