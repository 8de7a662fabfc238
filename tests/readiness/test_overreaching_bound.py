"""The clairvoyant bound behind ``make bench-overreaching`` (bench/overreaching_bound.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from perfhub.readiness.backtest import cohort


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "overreaching_bound.py"
    spec = importlib.util.spec_from_file_location("overreaching_bound", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_bound_holds_false_alarms_at_5_percent_and_catches_later_days_better(bench: ModuleType) -> None:
    best = bench.bound(400, seed=3)
    assert best.false_alarms == pytest.approx(0.05, abs=0.002)
    assert 0.3 < best.by_day_4 < 0.9
    assert best.per_day[0] < best.per_day[3] < best.per_day[9]
    assert best.per_day[-1] > 0.9


def test_a_steep_decline_is_caught_at_once_and_a_flat_one_is_not(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cohort, "OVERREACHING_SLOPE", (0.3, 0.3))
    assert bench.bound(200, seed=3).by_day_4 > 0.99
    monkeypatch.setattr(cohort, "OVERREACHING_SLOPE", (0.001, 0.001))
    monkeypatch.setattr(cohort, "OVERREACHING_WIDENING", 0.0)
    monkeypatch.setattr(cohort, "OVERREACHING_RHR_PER_DAY", 0.0)
    # Next to nothing to see: the episode days alarm about as often as quiet days do.
    assert bench.bound(400, seed=3).days < 0.12


def test_the_script_prints_the_bound_readiness_and_the_ratio(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--athletes", "100", "--cohort", "40", "--days", "150"]) == 0
    out = capsys.readouterr().out
    assert "clairvoyant bound" in out and "readiness" in out and "reference rule" in out
    assert "readiness / bound: flagged by day 4" in out
    assert "target flagged by day 4 ≥ 80%: the bound is" in out


def test_the_script_refuses_sizes_out_of_range(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--athletes", "5"]) == 2
    assert "--athletes 100–100000" in capsys.readouterr().err
