"""The adjustment rules as a table: each band × session type, the illness override, elevated but
fatigued, and high HRV alone (docs/plans.md#rules)."""

from __future__ import annotations

from typing import Any

import pytest

from perfhub.plans.adjust import LoadFacts, Plan, ReadinessFacts, basis_hash, propose

FRESH = LoadFacts(tsb=6.0, acwr=1.05, atl=300.0, ctl=306.0)
UNKNOWN = LoadFacts()
SCORES = {"low": 30.0, "reduced": 55.0, "normal": 75.0, "elevated": 90.0}


def readiness(band: str, *flags: str, drivers: tuple[dict[str, Any], ...] = ()) -> ReadinessFacts:
    return ReadinessFacts(SCORES[band], band, tuple(flags), drivers)


def plan(kind: str, minutes: int = 60, **extra: Any) -> Plan:
    return Plan(kind, minutes, extra.get("intensity"), extra.get("planned_load"))


# (band, session type) → (adjusted type, adjusted minutes) or None when the plan stands.
RULES: dict[tuple[str, str], tuple[str, int] | None] = {
    ("low", "hard"): ("easy", 35),  # −45 %, to 5 minutes
    ("low", "moderate"): ("easy", 35),
    ("low", "easy"): ("easy", 35),  # −40 %
    ("low", "rest"): None,
    ("reduced", "hard"): ("moderate", 45),  # −25 %
    ("reduced", "moderate"): None,
    ("reduced", "easy"): None,
    ("reduced", "rest"): None,
    ("normal", "hard"): None,
    ("normal", "moderate"): None,
    ("normal", "easy"): None,
    ("normal", "rest"): None,
    ("elevated", "hard"): ("hard", 65),  # confirmed, ≤ +10 %
    ("elevated", "moderate"): None,
    ("elevated", "easy"): None,
    ("elevated", "rest"): None,
}


@pytest.mark.parametrize(("band", "kind"), list(RULES))
def test_the_rule_table(band: str, kind: str) -> None:
    proposal = propose(plan(kind, 0 if kind == "rest" else 60), readiness(band), FRESH)
    expected = RULES[(band, kind)]
    if expected is None:
        assert proposal is None
        return
    assert proposal is not None
    assert (proposal.adjusted["type"], proposal.adjusted["durationMin"]) == expected
    assert proposal.original == {"type": kind, "durationMin": 60, "intensity": None, "plannedLoad": None}
    changed = {change["field"] for change in proposal.diff}
    assert changed == {f for f in ("type", "durationMin") if proposal.original[f] != proposal.adjusted[f]}
    assert proposal.reasons[0] == {
        "code": "readiness",
        "values": {"score": round(SCORES[band]), "band": band},
    }


@pytest.mark.parametrize("kind", ["hard", "moderate", "easy"])
def test_illness_overrides_everything_but_rest_into_rest(kind: str) -> None:
    for band in ("low", "reduced", "normal"):
        proposal = propose(plan(kind, planned_load=300.0), readiness(band, "illness"), FRESH)
        assert proposal is not None and proposal.rule == "illness"
        assert proposal.adjusted == {"type": "rest", "durationMin": 0, "intensity": None, "plannedLoad": 0.0}
    assert propose(plan("rest", 0), readiness("low", "illness"), FRESH) is None


def test_hrv_below_range_alone_eases_a_hard_session_and_with_reduced_more() -> None:
    alone = propose(plan("hard", 60), readiness("normal", "hrv_below_range"), FRESH)
    assert alone is not None and alone.rule == "hrv_below_range"
    assert (alone.adjusted["type"], alone.adjusted["durationMin"]) == ("moderate", 45)
    both = propose(plan("hard", 60), readiness("reduced", "hrv_below_range"), FRESH)
    assert both is not None and both.rule == "reduced_hrv_below"
    assert (both.adjusted["type"], both.adjusted["durationMin"]) == ("easy", 40)  # −30 %, to 5 min
    assert propose(plan("moderate", 60), readiness("normal", "hrv_below_range"), FRESH) is None


@pytest.mark.parametrize(
    "load",
    [
        LoadFacts(tsb=-4.0, acwr=1.1, atl=320.0, ctl=316.0),  # negative TSB
        LoadFacts(tsb=3.0, acwr=1.3, atl=300.0, ctl=303.0),  # ACWR at the limit
        LoadFacts(tsb=3.0, acwr=1.6, atl=300.0, ctl=303.0),  # a spike
    ],
)
def test_elevated_but_fatigued_keeps_the_plan(load: LoadFacts) -> None:
    assert propose(plan("hard"), readiness("elevated"), load) is None


def test_high_hrv_alone_never_progresses() -> None:
    # No logged training: nothing says the athlete is fresh, whatever the HRV.
    assert propose(plan("hard"), readiness("elevated"), UNKNOWN) is None
    # HRV unusually high is a warning, not a licence.
    assert propose(plan("hard"), readiness("elevated", "hrv_unusually_high"), FRESH) is None


def test_progress_is_at_most_ten_percent() -> None:
    for minutes in (30, 45, 60, 75, 90, 33, 7):
        proposal = propose(plan("hard", minutes), readiness("elevated"), FRESH)
        assert proposal is not None
        assert minutes <= proposal.adjusted["durationMin"] <= minutes * 1.10


@pytest.mark.parametrize(
    ("intensity", "easy", "moderate"),
    [
        ({"kind": "zone", "value": 4}, 2, 3),
        ({"kind": "ftp", "value": 95}, 65, 80),
        ({"kind": "rpe", "value": 8}, 3, 5),
        ({"kind": "pace", "value": 240}, 276, 257),  # 4:00/km slowed to 4:36 and 4:17
        ({"kind": "zone", "value": 1}, 1, 1),  # never raised
    ],
)
def test_intensity_targets_ease_with_the_type(
    intensity: dict[str, Any], easy: float, moderate: float
) -> None:
    low = propose(plan("hard", intensity=intensity), readiness("low"), FRESH)
    reduced = propose(plan("hard", intensity=intensity), readiness("reduced"), FRESH)
    assert low is not None and reduced is not None
    assert low.adjusted["intensity"] == {**intensity, "value": easy}
    assert reduced.adjusted["intensity"] == {**intensity, "value": moderate}


def test_planned_load_scales_with_volume_and_type() -> None:
    proposal = propose(plan("hard", 60, planned_load=420.0), readiness("reduced"), FRESH)
    assert proposal is not None
    # 45/60 of the minutes at moderate (RPE 5) instead of hard (RPE 7).
    assert proposal.adjusted["plannedLoad"] == pytest.approx(420.0 * 0.75 * 5 / 7, abs=0.1)


def test_no_score_no_proposal() -> None:
    assert propose(plan("hard"), ReadinessFacts(None, None), FRESH) is None


def test_the_reasons_cite_the_drivers_behind_the_rule() -> None:
    drivers = (
        {"code": "hrv_below_range", "values": {"ln7": 3.85, "low": 4.02, "high": 4.21}},
        {"code": "sleep_good", "values": {"minutes": 480}},
        {"code": "sleep_debt", "values": {"hours": 6.5, "category": "high"}},
    )
    proposal = propose(plan("hard"), readiness("low", drivers=drivers), FRESH)
    assert proposal is not None
    codes = [reason["code"] for reason in proposal.reasons]
    assert codes == ["readiness", "hrv_below_range", "sleep_debt", "load_state", "rule_low"]
    assert proposal.reasons[3]["values"]["tsb"] == 6.0


def test_the_basis_changes_with_what_the_proposal_rests_on() -> None:
    base = basis_hash(plan("hard"), readiness("low"), FRESH, "abc")
    assert base == basis_hash(plan("hard"), readiness("low"), FRESH, "abc")
    assert base != basis_hash(plan("hard"), readiness("reduced"), FRESH, "abc")
    assert base != basis_hash(plan("hard", 50), readiness("low"), FRESH, "abc")
    assert base != basis_hash(plan("hard"), readiness("low"), FRESH, "abd")
