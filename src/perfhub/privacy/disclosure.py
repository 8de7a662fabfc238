"""What each piece of an athlete's data discloses, and what a viewer granted some signals may see.

Pure decisions, no I/O: every read path asks these (through :mod:`perfhub.privacy.policy`) so
that no route filters on its own. The signals (docs/architecture.md#privacy) are ``hrv`` (HRV and resting HR),
``sleep`` (sleep and sleep debt), ``readiness`` (the score, its band, status, flags and
adjustments, and a vendor's own readiness score) and ``training``.

A readiness response mixes them: its drivers and contributors are made of HRV, resting-HR,
sleep and training numbers. ``readiness`` covers the score and the direction each signal moved
it ("HRV below your normal range"); the numbers behind that direction belong to their own
signal, so they are shown only when that signal is granted too.

A datum this module does not know (a driver code, contributor or alert kind added later) is
shown only to a viewer who may see every signal: a new kind of data fails closed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from perfhub.teams.schemas import SIGNALS

__all__ = [
    "ALERT_SIGNALS",
    "COMPONENT_SIGNALS",
    "DRIVER_SIGNALS",
    "HRV_DAY",
    "SLEEP_DAY",
    "SLEEP_DEBT_DAY",
    "Detail",
    "RowPolicy",
    "alert_discloses",
    "alert_visible",
    "component_visible",
    "driver_detail",
    "ordered",
    "redact_components",
    "redact_driver",
    "redact_row",
]

HRV, SLEEP, READINESS, TRAINING = SIGNALS

V = TypeVar("V")


class Detail(StrEnum):
    """How much of a readiness driver a viewer sees."""

    FULL = "full"  # the sentence with its numbers, and the fact with its values
    PLAIN = "plain"  # the direction in words only ("Resting HR above baseline"); the fact has no values
    HIDDEN = "hidden"  # left out


# The signal whose values each driver names. ``None``: the driver is about the score itself —
# staleness (how old the data behind it is) and calibration (how many HRV days it rests on) —
# and travels with ``readiness``.
DRIVER_SIGNALS: Mapping[str, str | None] = {
    "illness": HRV,  # resting-HR delta and the 7-day HRV against its range
    "overreaching": HRV,  # the 7-day HRV against its range and the nights of its decline
    "hrv_below_range": HRV,
    "hrv_unusually_high": HRV,
    "hrv_above_range": HRV,
    "hrv_in_range": HRV,
    "hrv_drop": HRV,
    "rhr_elevated": HRV,
    "rhr_below_baseline": HRV,
    "rhr_at_baseline": HRV,
    "sleep_short": SLEEP,
    "sleep_good": SLEEP,
    "sleep_efficiency_low": SLEEP,
    "sleep_latency_long": SLEEP,
    "sleep_wakes": SLEEP,
    "sleep_debt": SLEEP,
    "load_spike": TRAINING,
    "load_fatigue": TRAINING,
    "load_balanced": TRAINING,
    "stale_hrv": None,
    "stale_rhr": None,
    "source_changed": None,  # which device the HRV comes from is about the score, not a value
    "calibrating": None,
}

# Drivers with no wording that keeps their signal's values back: the sleep-debt driver is the
# debt's hours and category (what ``/sleep/debt`` serves under ``sleep``), and "no sleep debt"
# against "sleep debt" would still say which — so without ``sleep`` it is hidden, not reworded.
_NO_PLAIN_FORM = frozenset({"sleep_debt"})

# Contributor scores are each a fixed curve of one signal's numbers (the resting-HR score is the
# bpm above baseline on a scale), so each is shown only with its signal. A readiness-only viewer
# sees none of them; the score itself, its band and the drivers in words remain. (A viewer shown
# some contributors can still subtract them from the score and learn the weighted mean of the
# others, to within rounding — the price of showing any contributor beside the score.)
COMPONENT_SIGNALS: Mapping[str, str] = {
    "hrv_balance": HRV,
    "last_night_hrv": HRV,
    "resting_hr": HRV,
    "sleep": SLEEP,
    "sleep_debt": SLEEP,
    "training_load": TRAINING,
}

# Alerts by kind: a sleep-debt nudge states the debt's hours and category.
ALERT_SIGNALS: Mapping[str, str] = {"sleep_debt": SLEEP}


def _signals_of(table: Mapping[str, str | None], key: str) -> frozenset[str]:
    """The signal ``key`` discloses; every signal for a key the table does not know."""
    if key not in table:
        return frozenset(SIGNALS)
    signal = table[key]
    return frozenset() if signal is None else frozenset({signal})


def _visible(granted: Collection[str], table: Mapping[str, str | None], key: str) -> bool:
    return all(signal in granted for signal in _signals_of(table, key))


def ordered(signals: Collection[str]) -> list[str]:
    """``signals`` in the canonical order of :data:`SIGNALS` (how audit rows list them)."""
    return [signal for signal in SIGNALS if signal in signals]


def driver_detail(granted: Collection[str], code: str) -> Detail:
    """How much of a readiness driver with ``code`` a viewer granted ``granted`` may see."""
    if READINESS not in granted:
        return Detail.HIDDEN
    if _visible(granted, DRIVER_SIGNALS, code):
        return Detail.FULL
    if code not in DRIVER_SIGNALS or code in _NO_PLAIN_FORM:
        return Detail.HIDDEN
    return Detail.PLAIN


def redact_driver(
    granted: Collection[str], fact: Mapping[str, Any]
) -> tuple[Detail, dict[str, Any] | None, frozenset[str]]:
    """A stored driver fact (``{"code", "values"}``) as the viewer may see it.

    Returns its detail, the fact to show (``None`` when hidden) and the signals it discloses. A
    plain fact keeps its code and loses every value — the SDNN/rMSSD ``metric`` too, which says
    what device the athlete wears — and discloses only ``readiness``.
    """
    code = str(fact.get("code", ""))
    detail = driver_detail(granted, code)
    if detail is Detail.HIDDEN:
        return detail, None, frozenset()
    if detail is Detail.PLAIN:
        return detail, {"code": code, "values": {}}, frozenset({READINESS})
    values = dict(fact.get("values") or {})
    return detail, {"code": code, "values": values}, _signals_of(DRIVER_SIGNALS, code) | {READINESS}


def component_visible(granted: Collection[str], name: str) -> bool:
    """Whether a readiness contributor's score may be shown."""
    return READINESS in granted and _visible(granted, COMPONENT_SIGNALS, name)


def redact_components(
    granted: Collection[str], components: Iterable[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], frozenset[str]]:
    """The contributors (``{"name", "score", "weight"}``) the viewer may see, and what they disclose."""
    shown: list[dict[str, Any]] = []
    disclosed: set[str] = set()
    for component in components:
        name = str(component.get("name", ""))
        if component_visible(granted, name):
            shown.append(dict(component))
            disclosed |= _signals_of(COMPONENT_SIGNALS, name) | {READINESS}
    return shown, frozenset(disclosed)


def alert_visible(granted: Collection[str], kind: str) -> bool:
    """Whether an alert of ``kind`` may be shown."""
    return _visible(granted, ALERT_SIGNALS, kind)


def alert_discloses(kind: str) -> frozenset[str]:
    return _signals_of(ALERT_SIGNALS, kind)


@dataclass(frozen=True)
class RowPolicy:
    """A kind of daily row: the signal needed to read it at all, and fields that belong to another.

    ``other`` maps a field to the signal it discloses when that differs from ``signal`` — e.g. a
    vendor's own readiness score in an HRV row travels with ``readiness``, not ``hrv``.
    """

    signal: str
    other: Mapping[str, str] = field(default_factory=dict)


HRV_DAY = RowPolicy(HRV, {"readiness_score": READINESS, "vendor_calibrating": READINESS})
SLEEP_DAY = RowPolicy(SLEEP)
SLEEP_DEBT_DAY = RowPolicy(SLEEP)


def redact_row(
    granted: Collection[str], policy: RowPolicy, row: Mapping[str, V]
) -> tuple[dict[str, V | None], frozenset[str]]:
    """The row with every field of an ungranted signal set to ``None``, and what it still discloses.

    The row is disclosed under ``policy.signal`` (the caller has checked the viewer holds it); an
    ``other`` signal counts as disclosed only when one of its fields still carries a value.
    """
    if policy.signal not in granted:
        raise PermissionError(f"a row of {policy.signal} read without {policy.signal} granted")
    out: dict[str, V | None] = {}
    disclosed = {policy.signal}
    for name, value in row.items():
        signal = policy.other.get(name, policy.signal)
        if signal not in granted:
            out[name] = None
            continue
        out[name] = value
        if value is not None:
            disclosed.add(signal)
    return out, frozenset(disclosed)
