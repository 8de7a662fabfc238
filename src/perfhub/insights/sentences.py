"""The sentences a week earns: explicit rules over its figures, pure, no I/O (docs/weekly.md#rules).

Each rule reads the figures of :func:`perfhub.insights.weekly.summarise` and either stays silent
or returns one sentence that quotes the numbers that made it fire (``cites``) and names the
signals they come from, so that a coach is shown only the sentences whose signals the athlete
shares with them. The rules of :data:`RULES` are tried in order and the first
:data:`MAX_SENTENCES` that fire are kept; when none fires, one fallback speaks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perfhub.insights.weekly import MIN_SCORED_DAYS

__all__ = [
    "ADHERENCE_LOW_RATE",
    "HRV_BELOW_DAYS",
    "LOAD_SPIKE_RATIO",
    "MAX_SENTENCES",
    "READINESS_DROP",
    "RHR_RISE_BPM",
    "RULES",
    "Sentence",
    "choose_sentences",
]

READINESS_DROP = 8.0  # points of weekly mean readiness, week over week
HRV_BELOW_DAYS = 3  # days with the 7-day HRV below the normal range
RHR_RISE_BPM = 3.0  # weekly mean resting HR over the mean of its baseline
LOAD_SPIKE_RATIO = 1.3  # the week's load against the mean of the previous four weeks
ADHERENCE_LOW_RATE = 0.70
MAX_SENTENCES = 3


@dataclass(frozen=True)
class Sentence:
    rule: str
    text: str
    signals: tuple[str, ...]
    cites: Mapping[str, Any]

    def out(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "text": self.text,
            "signals": list(self.signals),
            "cites": dict(self.cites),
        }


def _readiness_down(f: Mapping[str, Any]) -> Sentence | None:
    r = f["readiness"]
    if r["change"] is None or r["change"] > -READINESS_DROP:
        return None
    return Sentence(
        "readiness_down",
        f"Your readiness averaged {r['mean']:g}, down {-r['change']:g} points from {r['previousMean']:g} "
        "the week before: plan an easy day early this week and see how you respond.",
        ("readiness",),
        {"mean": r["mean"], "previousMean": r["previousMean"], "change": r["change"]},
    )


def _hrv_below(f: Mapping[str, Any]) -> Sentence | None:
    h = f["hrv"]
    if h["belowRange"] < HRV_BELOW_DAYS:
        return None
    return Sentence(
        "hrv_below_range",
        f"Your 7-day HRV was below your normal range on {h['belowRange']} of {h['days']} days: "
        "keep hard sessions for when it is back in range.",
        ("hrv",),
        {"belowRange": h["belowRange"], "days": h["days"]},
    )


def _sleep_debt(f: Mapping[str, Any]) -> Sentence | None:
    s = f["sleep"]
    if s["debtTrend"] != "rising" or s["debtCategory"] not in ("moderate", "high"):
        return None
    return Sentence(
        "sleep_debt_rising",
        f"Your sleep debt rose from {s['debtStartHours']:g} h to {s['debtEndHours']:g} h "
        f"({s['debtCategory']}): go to bed earlier on a few nights this week to pay it back.",
        ("sleep",),
        {
            "debtStartHours": s["debtStartHours"],
            "debtEndHours": s["debtEndHours"],
            "category": s["debtCategory"],
        },
    )


def _load_spike(f: Mapping[str, Any]) -> Sentence | None:
    g = f["load"]
    if g["ratio"] is None or g["ratio"] <= LOAD_SPIKE_RATIO:
        return None
    return Sentence(
        "load_spike",
        f"Your training load of {g['week']:g} was {g['ratio']:g} times your average of "
        f"{g['previousMean']:g} over the previous four weeks: build up more gradually this week.",
        ("training",),
        {"week": g["week"], "previousMean": g["previousMean"], "ratio": g["ratio"]},
    )


def _resting_hr_up(f: Mapping[str, Any]) -> Sentence | None:
    h = f["restingHr"]
    if h["delta"] is None or h["delta"] < RHR_RISE_BPM:
        return None
    return Sentence(
        "resting_hr_up",
        f"Your resting heart rate averaged {h['mean']:g} bpm, {h['delta']:g} above your baseline of "
        f"{h['baselineMean']:g}: watch for illness or fatigue before adding intensity.",
        ("hrv",),
        {"mean": h["mean"], "baselineMean": h["baselineMean"], "delta": h["delta"]},
    )


def _adherence_low(f: Mapping[str, Any]) -> Sentence | None:
    a = f["adherence"]
    if a["rate"] is None or a["rate"] >= ADHERENCE_LOW_RATE:
        return None
    return Sentence(
        "adherence_low",
        f"You kept {a['kept']} of {a['planned']} planned sessions ({round(a['rate'] * 100)} %): "
        "tell your coach what got in the way so the plan can fit your week.",
        ("training",),
        {"kept": a["kept"], "planned": a["planned"], "rate": a["rate"]},
    )


def _steady(f: Mapping[str, Any]) -> Sentence | None:
    r = f["readiness"]
    if r["mean"] is None:
        return None
    good = r["bandDays"]["normal"] + r["bandDays"]["elevated"]
    return Sentence(
        "steady",
        f"Your readiness averaged {r['mean']:g} with {good} of {r['scoredDays']} scored days normal "
        "or better: carry on with the plan as it is.",
        ("readiness",),
        {"mean": r["mean"], "goodDays": good, "scoredDays": r["scoredDays"]},
    )


def _missing(f: Mapping[str, Any]) -> Sentence | None:
    r = f["readiness"]
    if r["mean"] is not None:
        return None
    return Sentence(
        "too_little_data",
        f"Readiness was scored on {r['scoredDays']} of 7 days, fewer than {MIN_SCORED_DAYS}: wear your "
        "device overnight so that next week's summary has figures to go on.",
        ("readiness",),
        {"scoredDays": r["scoredDays"]},
    )


# In the order they are tried; the first ``MAX_SENTENCES`` that fire are kept. ``steady`` and
# ``too_little_data`` only speak when nothing else did.
RULES: tuple[tuple[str, Callable[[Mapping[str, Any]], Sentence | None]], ...] = (
    ("readiness_down", _readiness_down),
    ("hrv_below_range", _hrv_below),
    ("sleep_debt_rising", _sleep_debt),
    ("load_spike", _load_spike),
    ("resting_hr_up", _resting_hr_up),
    ("adherence_low", _adherence_low),
)
_FALLBACKS = (_steady, _missing)


def choose_sentences(figures: Mapping[str, Any]) -> list[Sentence]:
    """One to three sentences from the week's figures, by the rules of :data:`RULES`."""
    chosen = [s for _, rule in RULES if (s := rule(figures)) is not None][:MAX_SENTENCES]
    if not chosen:
        chosen = [s for rule in _FALLBACKS if (s := rule(figures)) is not None][:1]
    return chosen
