"""Readiness-guided adjustment of one planned session: a pure function, no I/O (docs/plans.md).

:func:`propose` takes the session as planned, the readiness snapshot of its day and the
athlete's training load as it stood the evening before, and answers a :class:`Proposal` — the
adjusted session, a field-by-field diff and the facts behind it — or ``None`` when the plan
stands. The rules, in order (the first that applies decides):

1. A rest session, or a day without a score, is never adjusted.
2. **Illness** (the readiness override: resting HR 5 bpm or more above baseline with HRV below
   the normal range) → rest.
3. **Low** band → a hard or moderate session becomes easy, an easy one stays easy; volume −45 %
   (hard, moderate) or −40 % (easy).
4. **Reduced** band, or the 7-day HRV below the normal range → a hard session becomes moderate
   with −25 % volume; with both at once it becomes easy with −30 %. Other sessions stand.
5. **Elevated** band → a hard session is confirmed with up to +10 % volume, only when the load
   says the athlete is fresh (TSB > 0) and not ramping up (ACWR < 1.3), and HRV is not
   unusually high. Elevated but fatigued, or with no logged training to judge by, keeps the
   plan: high HRV alone never progresses it.
6. **Normal** → the plan stands.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ADJUSTABLE_FIELDS",
    "SESSION_TYPES",
    "TYPE_RPE",
    "LoadFacts",
    "Plan",
    "Proposal",
    "ReadinessFacts",
    "basis_hash",
    "propose",
]

SESSION_TYPES: tuple[str, ...] = ("easy", "moderate", "hard", "rest")
INTENSITY_KINDS: tuple[str, ...] = ("zone", "ftp", "pace", "rpe")

# The session RPE each type stands for (CR-10 scale): a planned load scales with it, and a
# completed session matches an easier plan only when its RPE is within the type's ceiling.
TYPE_RPE: Mapping[str, float] = {"rest": 1.0, "easy": 3.0, "moderate": 5.0, "hard": 7.0}

# The fields an adjustment may change, in the order a diff lists them (API names).
ADJUSTABLE_FIELDS: tuple[str, ...] = ("type", "durationMin", "intensity", "plannedLoad")

# Where each easier type caps an intensity target: zone (1–5), %FTP, RPE (0–10); a pace
# target (seconds per km) is slowed by the factor instead.
_INTENSITY_CAPS: Mapping[str, Mapping[str, float]] = {
    "easy": {"zone": 2, "ftp": 65, "rpe": 3, "pace": 1.15},
    "moderate": {"zone": 3, "ftp": 80, "rpe": 5, "pace": 1.07},
}

# The readiness drivers a rationale cites: what argues for an easier day, or for a harder one.
EASING_DRIVERS = frozenset(
    {
        "illness",
        "overreaching",
        "hrv_below_range",
        "hrv_unusually_high",
        "hrv_drop",
        "rhr_elevated",
        "sleep_short",
        "sleep_efficiency_low",
        "sleep_latency_long",
        "sleep_wakes",
        "sleep_debt",
        "load_spike",
        "load_fatigue",
        "stale_hrv",
        "stale_rhr",
    }
)
PROGRESSING_DRIVERS = frozenset(
    {
        "hrv_in_range",
        "hrv_above_range",
        "rhr_at_baseline",
        "rhr_below_baseline",
        "sleep_good",
        "load_balanced",
    }
)

ELEVATED_MAX_GAIN = 0.10
PROGRESS_MAX_ACWR = 1.3
MIN_SESSION_MIN = 10


@dataclass(frozen=True)
class Plan:
    """The fields of a planned session an adjustment looks at and may change."""

    type: str
    duration_min: int
    intensity: Mapping[str, Any] | None = None
    planned_load: float | None = None

    def fields(self) -> dict[str, Any]:
        """The plan under its API names (the ``original``/``adjusted`` of an adjustment)."""
        return {
            "type": self.type,
            "durationMin": self.duration_min,
            "intensity": None if self.intensity is None else dict(self.intensity),
            "plannedLoad": self.planned_load,
        }


@dataclass(frozen=True)
class ReadinessFacts:
    """What a readiness snapshot says about the day (stored drivers as ``{code, values}``)."""

    score: float | None
    band: str | None
    flags: tuple[str, ...] = ()
    drivers: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class LoadFacts:
    """The athlete's load as it stood the day before the session (None: not known yet)."""

    tsb: float | None = None
    acwr: float | None = None
    atl: float | None = None
    ctl: float | None = None

    @property
    def known(self) -> bool:
        return self.tsb is not None and self.acwr is not None


@dataclass(frozen=True)
class Proposal:
    rule: str
    original: dict[str, Any]
    adjusted: dict[str, Any]
    diff: list[dict[str, Any]]
    # The facts behind it, in the order a rationale cites them: the readiness, its drivers,
    # the load, then the rule's conclusion.
    reasons: list[dict[str, Any]] = field(default_factory=list)


def propose(plan: Plan, readiness: ReadinessFacts, load: LoadFacts) -> Proposal | None:
    """The adjustment of ``plan`` for the day ``readiness`` describes, or None when it stands."""
    if plan.type == "rest" or readiness.score is None or readiness.band is None:
        return None
    flags = set(readiness.flags)
    band = readiness.band
    hrv_below = "hrv_below_range" in flags
    if "illness" in flags:
        return _proposal("illness", plan, _rest(plan), readiness, load)
    if band == "low":
        cut = 0.40 if plan.type == "easy" else 0.45
        return _proposal("low", plan, _eased(plan, "easy", 1 - cut), readiness, load)
    if plan.type == "hard" and (band == "reduced" or hrv_below):
        if band == "reduced" and hrv_below:
            return _proposal("reduced_hrv_below", plan, _eased(plan, "easy", 0.70), readiness, load)
        rule = "reduced" if band == "reduced" else "hrv_below_range"
        return _proposal(rule, plan, _eased(plan, "moderate", 0.75), readiness, load)
    if band == "elevated" and plan.type == "hard" and _fresh(load) and "hrv_unusually_high" not in flags:
        longer = _scaled(plan, plan.type, 1 + ELEVATED_MAX_GAIN)
        return _proposal("elevated", plan, longer, readiness, load)
    return None


def _fresh(load: LoadFacts) -> bool:
    return load.known and (load.tsb or 0) > 0 and (load.acwr or 0) < PROGRESS_MAX_ACWR


def _round_minutes(minutes: float, floor: int) -> int:
    return max(floor, round(minutes / 5.0) * 5)


def _scaled(plan: Plan, new_type: str, volume: float) -> Plan:
    duration = _round_minutes(plan.duration_min * volume, min(MIN_SESSION_MIN, plan.duration_min))
    if volume > 1:
        # "At most +10 %": rounding to 5 minutes never adds more.
        duration = min(duration, int(plan.duration_min * volume))
        duration = max(duration, plan.duration_min)
    return Plan(
        new_type, duration, _intensity_for(plan.intensity, new_type), _load_for(plan, new_type, duration)
    )


def _eased(plan: Plan, easier: str, volume: float) -> Plan:
    # Never harder than planned: an easy session in a low band stays easy.
    order = SESSION_TYPES.index
    target = easier if order(easier) < order(plan.type) else plan.type
    return _scaled(plan, target, volume)


def _rest(plan: Plan) -> Plan:
    return Plan("rest", 0, None, 0.0 if plan.planned_load is not None else None)


def _intensity_for(intensity: Mapping[str, Any] | None, new_type: str) -> dict[str, Any] | None:
    if intensity is None:
        return None
    caps = _INTENSITY_CAPS.get(new_type)
    kind, value = intensity.get("kind"), intensity.get("value")
    if caps is None or kind not in caps or not isinstance(value, int | float):
        return dict(intensity)
    cap = caps[str(kind)]
    eased: float = round(value * cap) if kind == "pace" else min(value, cap)
    return {**intensity, "value": int(eased) if float(eased).is_integer() else eased}


def _load_for(plan: Plan, new_type: str, duration: int) -> float | None:
    if plan.planned_load is None or plan.duration_min <= 0:
        return plan.planned_load
    ratio = (duration / plan.duration_min) * (TYPE_RPE[new_type] / TYPE_RPE[plan.type])
    return round(plan.planned_load * ratio, 1)


def _proposal(rule: str, plan: Plan, adjusted: Plan, readiness: ReadinessFacts, load: LoadFacts) -> Proposal:
    original, changed = plan.fields(), adjusted.fields()
    diff = [
        {"field": name, "from": original[name], "to": changed[name]}
        for name in ADJUSTABLE_FIELDS
        if original[name] != changed[name]
    ]
    reasons: list[dict[str, Any]] = [
        {"code": "readiness", "values": {"score": round(float(readiness.score or 0)), "band": readiness.band}}
    ]
    cited = PROGRESSING_DRIVERS if rule == "elevated" else EASING_DRIVERS
    if rule == "illness":
        # The illness driver states both: HRV below range and resting HR up.
        cited = cited - {"hrv_below_range", "rhr_elevated"}
    reasons.extend(
        {"code": d["code"], "values": dict(d.get("values") or {})}
        for d in readiness.drivers
        if d.get("code") in cited and not _no_debt(d)
    )
    if load.known:
        reasons.append(
            {
                "code": "load_state",
                "values": {"tsb": load.tsb, "acwr": load.acwr, "atl": load.atl, "ctl": load.ctl},
            }
        )
    reasons.append({"code": f"rule_{rule}", "values": {}})
    return Proposal(rule, original, changed, diff, reasons)


def _no_debt(driver: Mapping[str, Any]) -> bool:
    return driver.get("code") == "sleep_debt" and (driver.get("values") or {}).get("category") == "none"


def basis_hash(plan: Plan, readiness: ReadinessFacts, load: LoadFacts, inputs_hash: str) -> str:
    """A digest of everything a proposal is made from: equal digests, equal proposals."""
    basis = {
        "plan": plan.fields(),
        "score": readiness.score,
        "band": readiness.band,
        "flags": sorted(readiness.flags),
        "drivers": list(readiness.drivers),
        "load": [load.tsb, load.acwr, load.atl, load.ctl],
        "inputs": inputs_hash,
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()
