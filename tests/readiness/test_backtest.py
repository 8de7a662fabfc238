"""The backtest: the synthetic cohort, the reference rule, the counting, and `perfhub backtest`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from perfhub.readiness.backtest.cohort import LABELS, WARMUP_DAYS, generate
from perfhub.readiness.backtest.evaluate import figures, reference_rule


def test_the_cohort_is_the_same_for_a_seed_and_differs_between_seeds() -> None:
    one, again, other = generate(20, 150, seed=7), generate(20, 150, seed=7), generate(20, 150, seed=8)
    for name in ("ln_hrv", "resting_hr", "sleep_min", "load"):
        np.testing.assert_array_equal(getattr(one.batch, name), getattr(again.batch, name))
    np.testing.assert_array_equal(one.labels, again.labels)
    np.testing.assert_array_equal(one.episode_start, again.episode_start)
    assert not np.array_equal(np.nan_to_num(one.batch.ln_hrv), np.nan_to_num(other.batch.ln_hrv))


def test_labels_cover_every_episode_type_after_the_warm_up_and_match_the_episodes() -> None:
    cohort = generate(200, 365, seed=3)
    assert set(np.unique(cohort.labels)) == set(range(len(LABELS)))
    assert (cohort.labels[:, :WARMUP_DAYS] == 0).all()
    assert int((cohort.labels > 0).sum()) == int(cohort.episode_days.sum())
    firsts = cohort.labels[cohort.episode_athlete, cohort.episode_start]
    np.testing.assert_array_equal(firsts, cohort.episode_kind)
    illness = cohort.labels == LABELS.index("illness")
    quiet = (cohort.labels == 0) & ~np.isnan(cohort.batch.ln_hrv)
    # Illness nights drop ln rMSSD and raise resting HR against the same athletes' quiet nights.
    assert np.nanmean(cohort.batch.ln_hrv[illness]) < np.nanmean(cohort.batch.ln_hrv[quiet])
    assert np.nanmean(cohort.batch.resting_hr[illness]) > np.nanmean(cohort.batch.resting_hr[quiet]) + 3


def test_missing_nights_are_5_to_15_percent() -> None:
    cohort = generate(300, 200, seed=5)
    per_athlete = np.isnan(cohort.batch.ln_hrv).mean(axis=1)
    assert 0.07 < per_athlete.mean() < 0.13
    assert per_athlete.min() > 0.0 and per_athlete.max() < 0.25
    # Missing means missing everywhere that night; training is logged apart from the wearable.
    np.testing.assert_array_equal(np.isnan(cohort.batch.ln_hrv), np.isnan(cohort.batch.sleep_min))
    assert not np.isnan(cohort.batch.load).any()


def _flat_athlete(days: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ln = 4.0 + 0.08 * rng.standard_normal((1, days))
    rhr = 55.0 + rng.standard_normal((1, days))
    return ln, rhr


def test_the_reference_rule_flags_a_hand_made_illness_episode_and_not_the_quiet_days_before() -> None:
    ln, rhr = _flat_athlete(100)
    ln[0, 80:83] = 4.0 - 0.2  # 2.5 SD below
    rhr[0, 80:83] = 62.0
    fired = reference_rule(ln, rhr)
    assert fired[0, 80:83].all()
    assert not fired[0, :29].any()  # fewer than 30 nights: nothing judged
    quiet = reference_rule(*_flat_athlete(100))
    assert quiet[0, 60:].mean() < 0.3


def test_the_reference_rule_night_clause_needs_resting_hr_up() -> None:
    # ln rMSSD alternating ±0.08 around 4.0 (SD 0.08), resting HR flat at 55.
    ln = 4.0 + 0.08 * np.where(np.arange(100) % 2 == 0, 1.0, -1.0)[None, :]
    rhr = np.full((1, 100), 55.0)
    ln[0, 90] = 3.88  # 1.5 SD below: the 7-day mean moves far less than 0.5 SD
    assert not reference_rule(ln, rhr)[0, 90]
    rhr[0, 90] = 61.0
    assert reference_rule(ln, rhr)[0, 90]
    assert not reference_rule(ln, rhr)[0, 60:90].any()


def test_counts_on_a_hand_made_batch_are_exact() -> None:
    ill, sat = LABELS.index("illness"), LABELS.index("saturation")
    labels = np.zeros((2, 10), dtype=np.int8)
    labels[0, 4:7] = ill  # athlete 0: illness days 4–6
    labels[1, 3:8] = sat  # athlete 1: saturation days 3–7
    alarm = np.zeros((2, 10), dtype=np.bool_)
    alarm[0, 6] = True  # illness caught on its 3rd day
    alarm[0, 9] = True  # a false alarm
    alarm[1, 1] = True  # before from_day: not counted
    normal = ~alarm
    normal[0, 8] = False  # quiet, neither alarming nor normal (no score)
    high = np.zeros((2, 10), dtype=np.bool_)
    high[1, 7] = True  # saturation flagged on its 5th night only
    episodes = (
        np.array([0, 1]),
        np.array([4, 3]),
        np.array([3, 5]),
        np.array([ill, sat], dtype=np.int8),
    )
    out = figures(alarm, normal, high, labels, episodes, from_day=2)
    # Quiet days from day 2: athlete 0 days 2,3,7,8,9 and athlete 1 days 2,8,9.
    assert out["quiet"] == {"days": 8, "falseAlarms": round(1 / 8, 4), "normal": round(6 / 8, 4)}
    assert out["illness"] == {"episodes": 1, "days": 3, "daysAlarming": round(1 / 3, 4), "flaggedByDay4": 1.0}
    assert out["saturation"] == {
        "episodes": 1,
        "days": 5,
        "daysAlarming": 0.0,
        "flaggedByDay4": 0.0,
        "flaggedWithin3Nights": 0.0,
    }
    assert out["overreaching"]["episodes"] == 0 and out["overreaching"]["daysAlarming"] is None
    high[1, 5] = True  # now on its 3rd night
    again = figures(alarm, normal, high, labels, episodes, from_day=2)
    assert again["saturation"]["flaggedWithin3Nights"] == 1.0


def test_the_cli_prints_the_figures_and_writes_the_report(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "PERFHUB_VAR_DIR": str(tmp_path / "var")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "perfhub.cli", "backtest", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    done = run("--athletes", "30", "--days", "150", "--seed", "2", "--out", "rep")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["algorithm"] == "1.0.0" and result["athletes"] == 30 and result["seed"] == 2
    assert set(result["readiness"]) == set(LABELS) == set(result["reference"])
    assert len(result["targets"]["readiness"]) == 6
    report = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "| illness |" in report and "## Targets (#15)" in report
    assert "| false alarms on quiet days | ≤ 5 % |" in report
    bad = run("--athletes", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--athletes" in bad.stderr and bad.stdout == ""
    too_short = run("--days", "89")
    assert too_short.returncode == 2 and "--days" in too_short.stderr
