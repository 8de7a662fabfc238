"""The sleep need on ``/me``: null while it is estimated from the athlete's nights, a number once
they set one, and null again to go back to the estimate; every real change recomputes readiness."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import Harness

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.profile import service
from perfhub.profile.schemas import MePatch

pytestmark = pytest.mark.backends("sqlite", "postgres")

ME = "/api/v1/me"


def patch_me(harness: Harness, who: dict[str, Any], body: dict[str, Any]) -> Any:
    return harness.client.patch(ME, json=body, headers=who["headers"])


def test_set_keep_and_clear_the_sleep_need(harness: Harness) -> None:
    athlete = harness.user()
    assert harness.client.get(ME, headers=athlete["headers"]).json()["sleepNeedMin"] is None

    assert patch_me(harness, athlete, {"sleepNeedMin": 450}).json()["sleepNeedMin"] == 450
    # Left out, the need stays; a null for another field changes nothing either.
    kept = patch_me(harness, athlete, {"name": "Ada", "tz": None})
    assert kept.status_code == 200 and kept.json()["sleepNeedMin"] == 450
    assert harness.client.get(ME, headers=athlete["headers"]).json()["sleepNeedMin"] == 450

    cleared = patch_me(harness, athlete, {"sleepNeedMin": None})
    assert cleared.status_code == 200 and cleared.json()["sleepNeedMin"] is None
    assert harness.client.get(ME, headers=athlete["headers"]).json()["sleepNeedMin"] is None


@pytest.mark.parametrize(("minutes", "status"), [(239, 422), (240, 200), (720, 200), (721, 422)])
def test_the_bounds_are_4_to_12_hours(harness: Harness, minutes: int, status: int) -> None:
    athlete = harness.user()
    answer = patch_me(harness, athlete, {"sleepNeedMin": minutes})
    assert answer.status_code == status, answer.text
    expected = minutes if status == 200 else None
    assert harness.client.get(ME, headers=athlete["headers"]).json()["sleepNeedMin"] == expected


def test_only_a_real_change_recomputes_readiness(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    athlete = harness.user()
    recomputed: list[int] = []
    monkeypatch.setattr(service, "recompute", lambda session, users: recomputed.extend(u.id for u in users))

    def apply(body: dict[str, Any]) -> int | None:
        with session_scope(harness.runtime.sessions) as session:
            return service.update_profile(session, athlete["id"], MePatch.model_validate(body)).sleep_need_min

    steps: list[tuple[dict[str, Any], int | None, int]] = [
        ({"sleepNeedMin": None}, None, 0),  # estimated already: nothing to redo
        ({"sleepNeedMin": 450}, 450, 1),
        ({"sleepNeedMin": 450}, 450, 1),
        ({"name": "Ada"}, 450, 1),
        ({"sleepNeedMin": None}, None, 2),  # back to the estimate: history measured against it
    ]
    for body, stored, recomputes in steps:
        assert apply(body) == stored, body
        assert recomputed == [athlete["id"]] * recomputes, body
    with session_scope(harness.runtime.sessions) as session:
        assert session.get_one(User, athlete["id"]).sleep_need_min is None
