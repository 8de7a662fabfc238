"""The backtest: the synthetic cohort and its devices, the service's path over it, the served
check, the reference rule, the counting, the report and `perfhub backtest`."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from perfhub.cli import app
from perfhub.readiness.backtest.cohort import LABELS, VENDORS, WARMUP_DAYS, Cohort, generate
from perfhub.readiness.backtest.evaluate import (
    HISTORY_NIGHTS,
    Scored,
    evaluate,
    figures,
    reference_rule,
    sample_rows,
    score_cohort,
    served_equals_batch,
    sweep,
)
from perfhub.readiness.backtest.report import CHARTS, TARGETS, summary, write_report
from perfhub.readiness.engine.compute import compute_batch
from perfhub.readiness.engine.series import build_batch
from perfhub.settings import DEFAULT_SOURCE_PRIORITY

ILLNESS = LABELS.index("illness")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@cache
def _cohort() -> Cohort:
    """One mid-sized cohort shared by the read-only tests (generating it takes a fraction of a second)."""
    return generate(400, 365, seed=3)


@cache
def _small() -> tuple[Cohort, Scored]:
    cohort = generate(60, 200, seed=4)
    return cohort, score_cohort(cohort)


def _grid(cohort: Cohort, signal: str, column: str) -> np.ndarray:
    """One reading column of every athlete as athletes × days, NaN where there is none."""
    out = np.full((len(cohort.athletes), cohort.days), np.nan)
    for row, athlete in enumerate(cohort.athletes):
        columns = getattr(athlete, signal)
        out[row, columns["day"] - cohort.start.toordinal()] = columns[column]
    return out


def _vendors(cohort: Cohort, row: int) -> dict[int, str]:
    athlete = cohort.athletes[row]
    first = cohort.start.toordinal()
    return {
        int(day) - first: vendor
        for day, vendor in zip(athlete.hrv["day"], athlete.hrv["vendor"], strict=True)
    }


def test_the_cohort_is_the_same_for_a_seed_and_differs_between_seeds() -> None:
    one, again, other = generate(20, 150, seed=7), generate(20, 150, seed=7), generate(20, 150, seed=8)
    for a, b in zip(one.athletes, again.athletes, strict=True):
        for signal in ("hrv", "sleep"):
            for name, values in getattr(a, signal).items():
                np.testing.assert_array_equal(values, getattr(b, signal)[name])
        assert a.load == b.load and a.sleep_need_min == b.sleep_need_min
    np.testing.assert_array_equal(one.labels, again.labels)
    np.testing.assert_array_equal(one.episode_start, again.episode_start)
    np.testing.assert_array_equal(one.switch_day, again.switch_day)
    np.testing.assert_array_equal(one.stray_day, again.stray_day)
    assert one.main_vendor == again.main_vendor
    assert not np.array_equal(
        np.nan_to_num(_grid(one, "hrv", "rmssd")), np.nan_to_num(_grid(other, "hrv", "rmssd"))
    )


def test_labels_cover_every_episode_type_after_the_warm_up_and_match_the_episodes() -> None:
    cohort = _cohort()
    assert set(np.unique(cohort.labels)) == set(range(len(LABELS)))
    assert (cohort.labels[:, :WARMUP_DAYS] == 0).all()
    assert int((cohort.labels > 0).sum()) == int(cohort.episode_days.sum())
    firsts = cohort.labels[cohort.episode_athlete, cohort.episode_start]
    np.testing.assert_array_equal(firsts, cohort.episode_kind)
    assert cohort.describe()["episodes"]["illness"] == int((cohort.episode_kind == ILLNESS).sum())
    # Illness nights drop ln rMSSD and raise resting HR against the same athlete's quiet nights.
    ln = np.log(_grid(cohort, "hrv", "rmssd"))
    rhr = _grid(cohort, "hrv", "resting_hr")
    quiet = cohort.labels == 0
    illness = cohort.labels == ILLNESS
    ln_quiet = np.nanmean(np.where(quiet, ln, np.nan), axis=1, keepdims=True)
    rhr_quiet = np.nanmean(np.where(quiet, rhr, np.nan), axis=1, keepdims=True)
    assert np.nanmean((ln - ln_quiet)[illness]) < -0.1
    assert np.nanmean((rhr - rhr_quiet)[illness]) > 4.0
    restricted = cohort.labels == LABELS.index("sleep_restriction")
    minutes = _grid(cohort, "sleep", "duration_min")[restricted]
    assert np.nanmin(minutes) >= 300 and np.nanmax(minutes) <= 330


def test_missing_nights_are_5_to_15_percent_and_training_is_logged_apart() -> None:
    cohort = _cohort()
    hrv = ~np.isnan(_grid(cohort, "hrv", "rmssd"))
    per_athlete = 1.0 - hrv.mean(axis=1)
    assert 0.07 < per_athlete.mean() < 0.13
    assert per_athlete.min() > 0.0 and per_athlete.max() < 0.25
    assert cohort.describe()["missingNights"] == pytest.approx(1.0 - hrv.mean(), abs=1e-4)
    # Missing means missing everywhere that night, on one device.
    np.testing.assert_array_equal(hrv, ~np.isnan(_grid(cohort, "sleep", "duration_min")))
    for athlete in cohort.athletes[:20]:
        np.testing.assert_array_equal(athlete.hrv["vendor"], athlete.sleep["vendor"])
        # Every day but the rest day of the weekly rhythm (Thursday) has a session, worn or not.
        assert {day.weekday() for day in athlete.load} == {0, 1, 2, 4, 5, 6}
        assert len(athlete.load) == sum(1 for k in range(cohort.days) if k % 7 != 3)


def test_devices_main_vendors_switches_and_stray_nights() -> None:
    cohort = _cohort()
    about = cohort.describe()
    assert set(cohort.main_vendor) == set(VENDORS) and sum(about["mainVendors"].values()) == 400
    assert all(athlete.priority == DEFAULT_SOURCE_PRIORITY for athlete in cohort.athletes)
    switched = np.flatnonzero(cohort.switch_day >= 0)
    strays = np.flatnonzero(cohort.stray_day >= 0)
    assert 20 <= len(switched) <= 65 and about["deviceSwitches"] == len(switched)  # ~10 % a year
    assert 3 <= len(strays) <= 25 and about["strayNights"] == len(strays)  # ~3 % a year
    ln = np.log(_grid(cohort, "hrv", "rmssd"))
    quiet = cohort.labels == 0
    offsets = []
    for row in switched:
        day, new = int(cohort.switch_day[row]), cohort.switch_vendor[row]
        assert new != cohort.main_vendor[row]
        worn = {k: v for k, v in _vendors(cohort, int(row)).items() if k != cohort.stray_day[row]}
        assert {v for k, v in worn.items() if k < day} <= {cohort.main_vendor[row]}
        assert {v for k, v in worn.items() if k >= day} == {new}
        before, after = (
            quiet[row] & (np.arange(cohort.days) < day),
            quiet[row] & (np.arange(cohort.days) >= day),
        )
        if before.sum() > 30 and after.sum() > 30:
            offsets.append(np.nanmean(ln[row, after]) - np.nanmean(ln[row, before]))
    # The new device reads ln rMSSD 0.1–0.3 off the old one (the day-to-day SD is 0.05–0.12).
    assert len(offsets) >= 10 and np.median(np.abs(offsets)) > 0.08
    for row in strays:
        vendors = _vendors(cohort, int(row))
        night = int(cohort.stray_day[row])
        assert vendors[night] == cohort.stray_vendor[row]
        assert list(vendors.values()).count(cohort.stray_vendor[row]) == 1 or cohort.switch_day[row] >= 0
        neighbours = [vendors[k] for k in (night - 1, night + 1) if k in vendors]
        assert cohort.stray_vendor[row] not in neighbours
    needs = np.array([athlete.sleep_need_min for athlete in cohort.athletes])
    assert 0.12 < (needs > 0).mean() < 0.3 and about["sleepNeedSet"] == int((needs > 0).sum())
    assert needs[needs > 0].min() >= 360 and needs[needs > 0].max() <= 540


def test_scoring_runs_the_service_path_and_chunks_change_nothing() -> None:
    cohort, scored = _small()
    whole = compute_batch(build_batch(cohort.athletes, cohort.start, cohort.end))
    # The cohort's span is the batch's: one column per day, the cohort's first day first.
    assert scored.batch.start == cohort.start and scored.batch.days == cohort.days
    np.testing.assert_array_equal(scored.result.score, whole.score)
    np.testing.assert_array_equal(score_cohort(cohort, chunk=7).result.band, whole.band)
    np.testing.assert_array_equal(
        scored.batch.ln_hrv, build_batch(cohort.athletes, cohort.start, cohort.end).ln_hrv
    )
    # History counts HRV nights of any device, so it only grows, by at most one a day.
    steps = np.diff(scored.hrv_nights, axis=1)
    assert ((steps == 0) | (steps == 1)).all()
    assert int(scored.hrv_nights[:, -1].sum()) == sum(len(a.hrv["day"]) for a in cohort.athletes)
    assert not (scored.alarm & scored.normal).any()


def test_athletes_served_alone_equal_the_cohort_wide_batch() -> None:
    cohort, scored = _small()
    # Athletes whose readings and training begin together, with and without device trouble.
    plain = [row for row, a in enumerate(cohort.athletes) if a.first_day() == cohort.start]
    devices = [row for row in plain if cohort.switch_day[row] >= 0 or cohort.stray_day[row] >= 0]
    assert devices
    rows = sorted({*devices[:3], *plain[:5]})
    check = served_equals_batch(cohort, scored, rows=rows)
    assert check.identical, check.first_difference
    assert check.athletes == len(rows) and check.athlete_days == len(rows) * cohort.days
    assert check.as_json()["identical"] is True


def test_the_served_check_catches_a_day_that_differs() -> None:
    cohort = generate(12, 120, seed=9)
    scored = score_cohort(cohort)
    row = next(row for row, a in enumerate(cohort.athletes) if a.first_day() == cohort.start)
    day = int(np.flatnonzero(~np.isnan(scored.result.score[row]))[-1])
    scored.result.score[row, day] += 3.0
    check = served_equals_batch(cohort, scored, rows=[row])
    assert not check.identical
    assert (check.differing_days, check.differing_athletes) == (1, 1)
    when = cohort.start + datetime.timedelta(days=day)
    assert check.first_difference is not None
    assert f"athlete {cohort.athletes[row].user_id} on {when}" in check.first_difference


def test_the_sample_includes_athletes_with_device_trouble() -> None:
    cohort = _cohort()
    rows = sample_rows(cohort, 20)
    assert rows == sample_rows(cohort, 20) and len(rows) == len(set(rows)) == 20
    trouble = sum(cohort.switch_day[row] >= 0 or cohort.stray_day[row] >= 0 for row in rows)
    assert trouble >= 10
    assert len(sample_rows(generate(3, 100, seed=1), 20)) == 3


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
    high[0, 2] = True  # a saturation false flag on a quiet day
    debt = np.zeros((2, 10), dtype=np.bool_)
    debt[0, [2, 3, 7]] = True  # 3 of athlete 0's 5 quiet days: most
    debt[1, [2, 8]] = True  # 2 of athlete 1's 3: most
    debt[1, 9] = False
    calibrating = np.zeros((2, 10), dtype=np.bool_)
    calibrating[0, [1, 5]] = True
    calibrating[1, 9] = True
    nights = np.tile(np.arange(1, 11) * 20, (2, 1))  # 60 nights from day 2 on
    episodes = (
        np.array([0, 1]),
        np.array([4, 3]),
        np.array([3, 5]),
        np.array([ill, sat], dtype=np.int8),
    )
    out = figures(
        alarm,
        normal,
        high,
        labels,
        episodes,
        sleep_debt=debt,
        calibrating=calibrating,
        hrv_nights=nights,
        from_day=2,
    )
    # Quiet days from day 2: athlete 0 days 2,3,7,8,9 and athlete 1 days 2,8,9.
    assert out["quiet"] == {
        "days": 8,
        "falseAlarms": round(1 / 8, 4),
        "normal": round(6 / 8, 4),
        "unusuallyHigh": round(1 / 8, 4),
        "sleepDebtAthletes": 1.0,
    }
    assert out["illness"] == {"episodes": 1, "days": 3, "daysAlarming": round(1 / 3, 4), "flaggedByDay4": 1.0}
    assert out["saturation"] == {
        "episodes": 1,
        "days": 5,
        "daysAlarming": 0.0,
        "flaggedByDay4": 0.0,
        "flaggedWithin3Nights": 0.0,
    }
    assert out["overreaching"]["episodes"] == 0 and out["overreaching"]["daysAlarming"] is None
    # Day 1 has 40 nights of history: calibrating there is fine; days 5 and 9 are not.
    assert out["calibrating"] == {"days": 2, "athletes": 2}
    high[1, 5] = True  # now on its 3rd night
    debt[0, 7] = False  # 2 of 5: no longer most
    again = figures(alarm, normal, high, labels, episodes, sleep_debt=debt, from_day=2)
    assert again["saturation"]["flaggedWithin3Nights"] == 1.0
    assert again["quiet"]["sleepDebtAthletes"] == 0.5
    assert again["calibrating"] == {"days": None, "athletes": None}
    rule = figures(alarm, normal, None, labels, episodes, from_day=2)
    assert rule["quiet"]["unusuallyHigh"] is None and rule["quiet"]["sleepDebtAthletes"] is None


def test_the_sweep_counts_displayed_scores_below_each_threshold() -> None:
    labels = np.zeros((1, 6), dtype=np.int8)
    labels[0, 3:5] = ILLNESS
    score = np.array([[90.0, 70.0, 64.5, 64.4, np.nan, 30.0]])  # 64.5 shows as 65, 64.4 as 64
    curve = sweep(score, labels, from_day=0)
    assert curve.thresholds[0] == 0 and curve.thresholds[-1] == 101
    # Quiet days 0, 1, 2, 5 (scores shown 90, 70, 65, 30); illness days 3, 4 (64, no score).
    assert curve.false_alarms[65] == 0.25 and curve.false_alarms[66] == 0.5 and curve.false_alarms[101] == 1.0
    assert curve.caught["illness"][64] == 0.0 and curve.caught["illness"][65] == 0.5
    assert curve.caught["illness"][101] == 0.5  # a day without a score is never caught
    assert curve.caught_all[65] == 0.5 and np.isnan(curve.caught["overreaching"]).sum() == 0


def _report(tmp_path: Path) -> tuple[dict, Path, list[str] | None]:
    cohort, scored = _small()
    methods, curve = evaluate(cohort, scored)
    served = served_equals_batch(cohort, scored, rows=[0, 1])
    result = summary(cohort, 5, served, methods)
    path, charts = write_report(result, cohort, scored, curve, tmp_path / "report")
    return result, path, charts


def test_the_report_has_the_figures_the_targets_and_the_charts(tmp_path: Path) -> None:
    result, path, charts = _report(tmp_path)
    assert result["athletes"] == 60 and result["days"] == 200 and result["seed"] == 5
    assert len(result["targets"]["readiness"]) == len(TARGETS) == 7
    calibrating = result["targets"]["readiness"][-1]
    assert calibrating["value"] == result["readiness"]["calibrating"]["days"]
    assert calibrating["met"] == (calibrating["value"] == 0)
    assert result["targets"]["reference"][-1] == {**calibrating, "value": None, "met": None}
    report = path.read_text(encoding="utf-8")
    assert "## Targets (#15)" in report and "| illness |" in report
    assert "| false alarms on quiet days | ≤ 5 % |" in report
    assert f"| days calibrating with ≥ {HISTORY_NIGHTS} nights of HRV | 0 |" in report
    assert "Served = batch: identical on " + str(result["served"]["athleteDays"]) in report
    assert charts == list(CHARTS)
    for name in CHARTS:
        assert f"]({name})" in report
        assert (path.parent / name).read_bytes()[:8] == PNG_MAGIC
    points = result["operatingPoints"]
    assert set(points) == {"readinessBelow65", "readiness", "reference"}
    # Below 65 is the low and reduced bands; the flags can only add alarms to it.
    assert points["readiness"]["caught"] >= points["readinessBelow65"]["caught"]


def test_the_report_without_matplotlib_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it now raises ImportError
    _result, path, charts = _report(tmp_path)
    assert charts is None
    assert "No charts: matplotlib is not installed" in path.read_text(encoding="utf-8")
    assert not any((path.parent / name).exists() for name in CHARTS)


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

    done = run("--athletes", "40", "--days", "200", "--seed", "2", "--out", "rep")
    result = json.loads(done.stdout)
    assert result["athletes"] == 40 and result["days"] == 200 and result["seed"] == 2
    assert set(LABELS) <= set(result["readiness"]) and set(LABELS) <= set(result["reference"])
    assert len(result["targets"]["readiness"]) == 7
    served = result["served"]
    assert served["athletes"] == 20 and served["athleteDays"] > 20 * 150
    # A difference between the served and the batch path fails the run, after the figures.
    if served["identical"]:
        assert done.returncode == 0, done.stderr
        assert f"served = batch: identical on {served['athleteDays']} athlete-days" in done.stderr
    else:
        assert done.returncode == 1
        assert f"served ≠ batch: {served['differingDays']} of {served['athleteDays']}" in done.stderr
    assert "false alarms on quiet days" in done.stderr and "report written to" in done.stderr
    report = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "| illness |" in report and "## Targets (#15)" in report
    for name in CHARTS:
        assert (tmp_path / "rep" / name).read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    ("args", "named"),
    [(("--athletes", "0"), "--athletes"), (("--days", "89"), "--days"), (("--seed", "-1"), "--seed")],
)
def test_the_cli_refuses_sizes_out_of_range_in_one_line(args: tuple[str, ...], named: str) -> None:
    result = CliRunner().invoke(app, ["backtest", *args])
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and named in result.stderr
