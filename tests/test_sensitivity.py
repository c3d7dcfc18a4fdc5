"""Which inputs decide (issue 14, item 3): tornado, Morris and Sobol on known answers.

A Poisson source whose rate is uncertain, and an uncertain first-touch SLA that cannot change
how many leads arrive: the leads counted depend on the rate alone. Every setting runs on common
random numbers, so the SLA's effect on leads is exactly nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from funnelsim import experiment
from funnelsim.executors import ExecutorSpec
from funnelsim.sensitivity_analysis import Sensitivity, analyse
from helpers import BASE, assert_refused, invoke, ok, scenario

RATE = "sources.web.arrivals.rate"
SLA = "handoff.first_touch_sla"


def window(name: str = "Base", low: str = "2/h", high: str = "6/h") -> dict[str, object]:
    data = yaml.safe_load(BASE)
    data.update(name=name, horizon="10h", warmup="0h", seed=3)
    data["sources"]["web"]["arrivals"]["rate"] = {"low": low, "high": high}
    data["handoff"]["first_touch_sla"] = {"low": "10m", "high": "60m"}
    return data


@pytest.mark.slow
def test_sobol_finds_the_rate_and_not_the_unused_input() -> None:
    found = analyse(
        [scenario(window())], metric="leads", method="sobol", replications=8, samples=32
    )
    rate, sla = found.parameters[RATE], found.parameters[SLA]
    for name, figures in ((RATE, rate), (SLA, sla)):
        print(f"ST {name}: {figures['ST']:.3f} +/- {figures['ST_conf']:.3f}")
    assert sla["ST"] - sla["ST_conf"] <= 0.0 <= sla["ST"] + sla["ST_conf"]
    assert rate["ST"] + rate["ST_conf"] >= 0.8  # near 1: the noise is averaged over 8 runs
    assert rate["ST"] - rate["ST_conf"] > 0.3
    assert found.ranked()[0] == RATE


def test_the_tornado_ends_are_separate_runs_with_the_input_fixed_there() -> None:
    found = analyse([scenario(window())], metric="leads", method="tornado", replications=4)
    rate = found.parameters[RATE]
    assert (rate["low"], rate["high"]) == ("2/h", "6/h")
    for end, value in (("metric_at_low", "2/h"), ("metric_at_high", "6/h")):
        fixed = scenario(window(), f"{RATE}={value}")
        runs = experiment.run([fixed], 4, found.seed).per_scenario[0].values("leads")
        print(f"{end}: {rate[end]} against {np.mean(runs)} from a run at {value}")
        assert rate[end] == pytest.approx(np.mean(runs), abs=1e-12)
    assert found.parameters[SLA]["metric_at_low"] == found.parameters[SLA]["metric_at_high"]


@pytest.mark.slow
def test_same_seed_same_indices_whatever_the_workers() -> None:
    plan = [scenario(window())]
    kwargs = {"metric": "leads", "method": "morris", "replications": 2, "trajectories": 4}
    one = analyse(plan, **kwargs).as_json()  # type: ignore[arg-type]
    two = analyse(plan, executor=ExecutorSpec(2), **kwargs).as_json()  # type: ignore[arg-type]
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert one["parameters"][RATE]["mu_star"] > 0
    assert one["parameters"][SLA]["mu_star"] == 0


def test_the_verdict_flips_where_the_plans_meet() -> None:
    """Rates 2-6/h against 3-5/h, drawn at one quantile: equal at the middle, 4/h."""
    plans = [scenario(window()), scenario(window("Narrow", "3/h", "5/h"))]
    found = analyse(plans, metric="leads", method="tornado", replications=8)
    flip = found.break_even[RATE]
    print(f"break-even {flip}")
    assert flip is not None
    assert abs(flip["quantile"] - 0.5) <= 0.1
    assert found.break_even[SLA] is None  # no difference at all: nothing flips


def test_the_command_explains_a_metric(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(window()))
    args = ["sensitivity", plan, "--metric", "leads", "--method", "tornado", "-n", "2", "-w", "1"]
    data = json.loads(ok(*args, "--json").stdout)
    assert {"metric", "method", "parameters", "break_even"} <= set(data)
    assert set(data["parameters"][RATE]) == {"low", "high", "metric_at_low", "metric_at_high"}
    plain = tmp_path / "plain.yaml"
    plain.write_text(BASE)
    lines = assert_refused(invoke("sensitivity", plain))
    assert "no uncertain input" in lines[0], lines
    lines = assert_refused(invoke("sensitivity", plan, "--metric", "newarr"))
    assert "unknown metric 'newarr'" in lines[0], lines


@pytest.mark.slow
def test_the_results_folder_is_queryable_and_resumes(tmp_path: Path) -> None:
    base, narrow = tmp_path / "base.yaml", tmp_path / "narrow.yaml"
    base.write_text(yaml.safe_dump(window()))
    narrow.write_text(yaml.safe_dump(window("Narrow", "3/h", "5/h")))
    out = tmp_path / "out"
    args = ["sensitivity", base, narrow, "--metric", "leads", "--method", "morris",
            "--trajectories", "3", "-n", "2", "-w", "1", "--out", out, "--json"]  # fmt: skip
    first = json.loads(ok(*args).stdout)
    for name in ("sensitivity.csv", "sensitivity.json", "sensitivity.png", "manifest.json"):
        assert (out / name).is_file(), name
    rows = json.loads(ok("query", out, "SELECT input, mu_star FROM sensitivity", "--json").stdout)
    assert [row["input"] for row in rows] == [RATE, SLA]  # most decisive first
    assert rows[0]["mu_star"] == pytest.approx(first["parameters"][RATE]["mu_star"])
    lines = assert_refused(invoke(*args))
    assert "holds results already; pass --resume" in lines[0], lines
    again = ok(*args, "--resume")
    assert json.loads(again.stdout) == first  # every batch found stored, the same figures
    assert "finished replication(s) kept" in again.stderr


def test_inputs_with_sobol_indices_rank_above_those_screened_only() -> None:
    """ST (a share of variance) and mu* (in the metric's unit) are not compared."""
    found = Sensitivity(
        "new_arr", "morris+sobol", ["A"],
        {"screened": {"mu_star": 1000.0}, "small": {"mu_star": 5.0, "ST": 0.1},
         "big": {"mu_star": 900.0, "ST": 0.8}},
        {}, 10, 1, 1,
    )  # fmt: skip
    assert found.ranked() == ["big", "small", "screened"]
