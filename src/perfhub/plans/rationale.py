"""An adjustment's rationale in words, as much of it as the reader may see.

A proposal stores its reasons as facts (codes and values, :mod:`perfhub.plans.adjust`); they
are worded when read, through the privacy rules every other readiness read uses: the score and
band need ``readiness``; each driver's numbers need its own signal too (else it is said in
words only, or left out); the load figures need ``training``. What remains for a reader who
may see none of it is the change itself and that readiness prompted it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfhub.privacy.disclosure import Detail, redact_driver
from perfhub.readiness.engine import driver_from_json, render, render_plain
from perfhub.teams.schemas import SIGNALS

HRV, SLEEP, READINESS, TRAINING = SIGNALS

# What each rule concludes, with the readiness named (a reader granted readiness) or not.
_CONCLUSIONS: Mapping[str, tuple[str, str]] = {
    "illness": ("Rest today", "Adjusted for readiness: rest today"),
    "low": ("Readiness is low: keep it easy and short", "Adjusted for readiness: keep it easy and short"),
    "reduced": ("Readiness is reduced: take the hard session down a notch", "Adjusted for readiness"),
    "hrv_below_range": (
        "HRV is below your normal range: take the hard session down a notch",
        "Adjusted for readiness",
    ),
    "reduced_hrv_below": (
        "Readiness is reduced and HRV below your normal range: make the hard session easy",
        "Adjusted for readiness",
    ),
    "elevated": (
        "Readiness is elevated and your load says you are fresh: the hard session stands, a little longer",
        "Confirmed with readiness: the hard session stands, a little longer",
    ),
}

_FIELD_WORDS: Mapping[str, str] = {
    "type": "type",
    "durationMin": "duration",
    "intensity": "intensity",
    "plannedLoad": "planned load",
}


@dataclass(frozen=True)
class Rationale:
    text: str
    drivers: list[str]
    readiness: int | None
    band: str | None
    disclosed: frozenset[str]  # the signals whose values the words carry (for the audit)


def describe_change(diff: Sequence[Mapping[str, Any]]) -> str:
    """The diff in words: "type hard → easy, duration 60 → 35 min"."""
    parts = []
    for change in diff:
        name = str(change["field"])
        before, after = _value(name, change["from"]), _value(name, change["to"])
        parts.append(f"{_FIELD_WORDS.get(name, name)} {before} → {after}")
    return ", ".join(parts)


def _value(name: str, value: Any) -> str:
    if value is None:
        return "none"
    if name == "durationMin":
        return f"{value} min"
    if name == "intensity" and isinstance(value, Mapping):
        return intensity_words(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def intensity_words(intensity: Mapping[str, Any]) -> str:
    kind, value = intensity.get("kind"), intensity.get("value")
    if not isinstance(value, int | float):
        return str(kind)
    if kind == "zone":
        return f"zone {value:g}"
    if kind == "ftp":
        return f"{value:g}% FTP"
    if kind == "pace":
        seconds = round(value)
        return f"{seconds // 60}:{seconds % 60:02d}/km"
    return f"RPE {value:g}"


def rationale(
    rule: str,
    reasons: Sequence[Mapping[str, Any]],
    diff: Sequence[Mapping[str, Any]],
    granted: Collection[str],
) -> Rationale:
    """The reasons of one adjustment worded for a reader granted ``granted``."""
    sees_readiness = READINESS in granted
    sentences: list[str] = []
    drivers: list[str] = []
    disclosed: set[str] = set()
    score: int | None = None
    band: str | None = None
    for reason in reasons:
        code = str(reason.get("code", ""))
        values = reason.get("values") or {}
        if code == "readiness":
            if sees_readiness:
                score, band = int(values.get("score", 0)), values.get("band")
                sentences.append(f"Readiness {score} ({band})")
                disclosed.add(READINESS)
        elif code == "load_state":
            if TRAINING in granted:
                sentences.append(_load_words(values))
                disclosed.add(TRAINING)
        elif code.startswith("rule_"):
            continue
        else:
            detail, fact, signals = redact_driver(granted, {"code": code, "values": values})
            if fact is None:
                continue
            words = render_plain(code) if detail is Detail.PLAIN else render(driver_from_json(fact))
            drivers.append(words)
            sentences.append(words)
            disclosed |= signals
    named, unnamed = _CONCLUSIONS.get(rule, ("Adjusted for readiness", "Adjusted for readiness"))
    conclusion = named if sees_readiness else unnamed
    change = describe_change(diff)
    sentences.append(f"{conclusion}: {change}" if change else conclusion)
    return Rationale(
        ". ".join(sentences) + ".",
        drivers,
        score,
        band if isinstance(band, str) else None,
        frozenset(disclosed),
    )


def _load_words(values: Mapping[str, Any]) -> str:
    tsb, acwr = values.get("tsb"), values.get("acwr")
    parts = []
    if isinstance(tsb, int | float):
        parts.append(f"training-stress balance {tsb:+.1f}")
    if isinstance(acwr, int | float):
        parts.append(f"acute:chronic load {acwr:.2f}")
    return "Training load: " + ", ".join(parts) if parts else "Training load known"
