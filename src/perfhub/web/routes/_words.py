"""Words the team and privacy pages share: the signals an athlete shares, and dates in a zone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from perfhub.teams.schemas import SIGNALS
from perfhub.web.routes._charts import MONTHS

SIGNAL_WORDS = {"hrv": "HRV", "sleep": "Sleep", "readiness": "Readiness", "training": "Training"}

# What a coach sees when a signal is shared (docs/architecture.md#privacy), as a sentence's start.
SIGNAL_COVERS = {
    "hrv": "HRV and resting heart rate, night by night, against your normal range",
    "sleep": "How long and how well you slept, your sleep debt and sleep-debt nudges",
    "readiness": "Your readiness score, its band, status and flags, and the reasons in words",
    "training": "Your training load",
}


def signal_word(signal: str) -> str:
    return SIGNAL_WORDS.get(signal, signal.capitalize())


def signals_in_words(signals: Iterable[str]) -> str:
    """``HRV, Sleep and Readiness`` in the canonical order; ``nothing`` for none."""
    chosen = set(signals)
    words = [signal_word(signal) for signal in SIGNALS if signal in chosen]
    words += sorted(signal_word(signal) for signal in chosen - set(SIGNALS))
    if not words:
        return "nothing"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def date_in_zone(moment: datetime, tz: str) -> str:
    """``14 March 2026``: the calendar day of ``moment`` in ``tz``."""
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"
