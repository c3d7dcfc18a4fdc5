"""Uncertain inputs (issue 14, items 1 and 2): ranges drawn, and the spread they cause.

The decomposition has a known answer: the leads a Poisson source brings in a window of ``T``
hours, its rate uniform on [a, b], have variance E[rate] T + Var(rate) T^2, so the inputs'
share is Var(rate) T^2 over that total. The intervals print their numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from funnelsim import experiment, uncertainty
from funnelsim.executors import ExecutorSpec
from funnelsim.scenario.load import load_scenario
from funnelsim.scenario.ranges import Range, quantile
from funnelsim.units import Duration, Rate
from helpers import BASE, SCENARIOS, assert_refused, invoke, ok, scenario

WINDOW_H = 10.0
LOW, HIGH = 2.0, 6.0  # leads an hour


def poisson_window() -> dict[str, object]:
    data = yaml.safe_load(BASE)
    data.update(horizon=f"{WINDOW_H:g}h", warmup="0h", seed=11)
    data["sources"]["web"]["arrivals"]["rate"] = {"low": f"{LOW:g}/h", "high": f"{HIGH:g}/h"}
    return data


# -- drawing ------------------------------------------------------------------------------------
def test_whole_numbers_are_drawn_with_equal_chances() -> None:
    number = Range(value=2, low=1, high=3, kind="int")
    drawn = [quantile(number, u) for u in (0.0, 0.32, 0.34, 0.66, 0.67, 0.999)]
    assert drawn == [1, 1, 2, 2, 3, 3]


def test_a_triangular_range_has_its_mode_at_its_value() -> None:
    number = Range(value=0.2, low=0.0, high=1.0, shape="triangular")
    assert quantile(number, 0.0) == 0.0
    assert quantile(number, 0.2) == pytest.approx(0.2)  # F(mode) = (mode - low) / (high - low)
    assert quantile(number, 0.9999) == pytest.approx(1.0, abs=0.02)
    # the median of a triangular on [0, 1] with mode 0.2: 1 - sqrt(0.5 * 0.8)
    assert quantile(number, 0.5) == pytest.approx(1 - math.sqrt(0.4))


def test_quantities_keep_their_units() -> None:
    days = Range(value=Duration(2, "d"), low=Duration(1, "d"), high=Duration(3, "d"))
    assert quantile(days, 0.25) == Duration(1.5, "d")
    mixed = Range(value=Duration(1, "d"), low=Duration(12, "h"), high=Duration(2, "d"))
    assert quantile(mixed, 0.5) == Duration(30, "h")
    rate = Range(value=Rate(4, "h"), low=Rate(2, "h"), high=Rate(6, "h"))
    assert quantile(rate, 0.75) == Rate(5, "h")


def test_the_draws_cover_every_stratum_of_every_range_once() -> None:
    plan = load_scenario(SCENARIOS / "baseline.yaml")
    inputs = uncertainty.uncertain_inputs(plan)
    draws = [d for (d,) in uncertainty.draw_inputs([plan], 16, seed=3)]
    path = ("segments", "smb", "win_rate")
    number = inputs["segments.smb.win_rate"]
    assert isinstance(number.low, float)
    assert isinstance(number.high, float)
    fractions = sorted((d[path] - number.low) / (number.high - number.low) for d in draws)
    strata = [math.floor(f * 16) for f in fractions]
    assert strata == list(range(16))
    assert [d for (d,) in uncertainty.draw_inputs([plan], 16, seed=3)] == draws  # seeded
    assert [d for (d,) in uncertainty.draw_inputs([plan], 16, seed=4)] != draws


# -- the decomposition's known answer ----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.seed(11)
def test_the_inputs_share_of_a_poisson_count_is_its_known_share(seed: int) -> None:
    mean_rate, var_rate = (LOW + HIGH) / 2, (HIGH - LOW) ** 2 / 12
    want = var_rate * WINDOW_H**2 / (mean_rate * WINDOW_H + var_rate * WINDOW_H**2)
    found = experiment.run_uncertain([scenario(poisson_window())], 64, 8, seed)
    leads = found.spreads()["leads"]
    low, high = leads.parameter_share_ci
    print(
        f"inputs' share of the variance of leads in {WINDOW_H:g} h: {leads.parameter_share:.3f} "
        f"[{low:.3f}, {high:.3f}] (95% CI); theory {want:.3f}"
    )
    assert low <= want <= high
    assert high - low < 0.3  # an interval that says something
    mean_want = mean_rate * WINDOW_H
    print(
        f"mean leads {leads.mean:.2f} [{leads.ci_low:.2f}, {leads.ci_high:.2f}]; theory {mean_want}"
    )
    assert leads.ci_low <= mean_want <= leads.ci_high
    table = found.table("leads")
    assert table.shape == (64, 8)
    assert leads.p05 == pytest.approx(np.percentile(table, 5))


def test_no_input_uncertainty_means_no_share() -> None:
    """Every draw alike: what varies is noise alone, and the share is 0."""
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(1, 10)) + rng.normal(scale=0.1, size=(12, 10))
    result = uncertainty.spread(noise, seed=1)
    print(f"share {result.parameter_share:.3f} {result.parameter_share_ci}")
    assert result.parameter_share < 0.05
    rows = rng.normal(scale=5, size=(12, 1)) + rng.normal(scale=0.1, size=(12, 10))
    assert uncertainty.spread(rows, seed=1).parameter_share > 0.95


# -- same seed, same answer -------------------------------------------------------------------
@pytest.mark.slow
def test_same_seed_same_answer_whatever_the_workers_or_executor() -> None:
    plan = scenario(poisson_window())
    one = json.dumps(experiment.run_uncertain([plan], 6, 3, 5).as_json(), sort_keys=True)
    for executor in (ExecutorSpec(2, "process"), ExecutorSpec(2, "dask")):
        found = experiment.run_uncertain([plan], 6, 3, 5, executor=executor).as_json()
        assert json.dumps(found, sort_keys=True) == one, executor
    assert json.dumps(experiment.run_uncertain([plan], 6, 3, 6).as_json(), sort_keys=True) != one


# -- the command line --------------------------------------------------------------------------
def test_validate_lists_the_uncertain_inputs(tmp_path: Path) -> None:
    said = ok("validate", SCENARIOS / "baseline.yaml").stdout.splitlines()
    count = int(said[1].split()[0])
    assert said[1].endswith("uncertain input(s), each drawn from its range by --uncertainty:")
    listed = said[2:]
    assert len(listed) == count > 50
    assert "  segments.smb.win_rate: 0.35 to 0.55 (uniform; value 0.44; C: " in "\n".join(listed)


def test_run_uncertainty_json_has_every_key(tmp_path: Path) -> None:
    path = tmp_path / "poisson.yaml"
    path.write_text(yaml.safe_dump(poisson_window()))
    data = json.loads(ok("run", path, "--uncertainty", "4", "-n", "2", "--json").stdout)
    assert data["uncertainty"] == 4
    assert data["replications"] == 2
    assert list(data["inputs"]) == ["sources.web.arrivals.rate"]
    assert data["inputs"]["sources.web.arrivals.rate"]["low"] == "2/h"
    keys = {"mean", "ci_low", "ci_high", "p05", "p95", "parameter_share", "parameter_share_ci"}
    assert set(data["metrics"]["leads"]) == keys
    assert len(data["metrics"]["leads"]["parameter_share_ci"]) == 2


def test_uncertainty_needs_ranges_and_one_scenario(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(BASE)
    lines = assert_refused(invoke("run", plain, "--uncertainty", "4"))
    assert lines[0].startswith("--uncertainty: Base: no uncertain input"), lines
    two = [SCENARIOS / "inbound-heavy.yaml", SCENARIOS / "outbound-heavy.yaml"]
    lines = assert_refused(invoke("run", *two, "--uncertainty", "4"))
    assert lines[0] == "--uncertainty: one scenario at a time (a file, no --variant)", lines


# -- comparing plans under uncertainty ---------------------------------------------------------
def faster(data: dict[str, object]) -> dict[str, object]:
    """The Poisson window, 2 leads an hour more at every draw, under another name."""
    data = json.loads(json.dumps(data))
    data["name"] = "Faster"
    data["sources"]["web"]["arrivals"]["rate"] = {"low": "4/h", "high": "8/h"}  # type: ignore[index]
    return data


def test_plans_share_the_draw_of_each_path() -> None:
    plans = [scenario(poisson_window()), scenario(faster(poisson_window()))]
    path = ("sources", "web", "arrivals", "rate")
    for first, second in uncertainty.draw_inputs(plans, 8, seed=2):
        a, b = first[path], second[path]
        assert isinstance(a, Rate)
        assert isinstance(b, Rate)
        assert (a.amount - 2) / 4 == pytest.approx((b.amount - 4) / 4)  # one quantile for both


def test_p_better_counts_wins_ties_half_and_follows_the_direction() -> None:
    difference = np.array([[1.0, 0.0], [-1.0, 2.0]])
    chance, (low, high) = uncertainty.p_better(difference, "higher", seed=1)
    assert chance == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert low <= chance <= high
    assert uncertainty.p_better(difference, "lower", seed=1)[0] == pytest.approx(1 - 0.625)


@pytest.mark.slow
def test_compare_gives_the_chance_a_plan_is_better(tmp_path: Path) -> None:
    """More arrivals at every draw and replication: more leads nearly always (ties count half),
    and the differences' spread and share come with it."""
    first, second = tmp_path / "plan.yaml", tmp_path / "faster.yaml"
    first.write_text(yaml.safe_dump(poisson_window()))
    second.write_text(yaml.safe_dump(faster(poisson_window())))
    args = ["compare", first, second, "--uncertainty", "8", "-n", "4", "--json"]
    data = json.loads(ok(*args).stdout)
    assert data["baseline"] == "Base"
    assert set(data["scenarios"]) == {"Base", "Faster"}
    leads = data["differences"]["Faster"]["leads"]
    low, high = leads["p_better_ci"]
    print(f"P(faster has more leads) = {leads['p_better']:.3f} [{low:.3f}, {high:.3f}]")
    assert leads["p_better"] > 0.9
    assert low <= leads["p_better"] <= high
    assert leads["ci_low"] > 0  # about 20 leads more in 10 hours
    assert data["differences"]["Faster"]["sdr_utilization"]["p_better"] is None  # no direction
    assert {"p05", "p95", "parameter_share", "parameter_share_ci"} <= set(leads)


@pytest.mark.slow
def test_a_study_under_uncertainty_compares_every_point_with_its_baseline(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(poisson_window()))
    study = tmp_path / "study.yaml"
    faster_rate = {"sources.web.arrivals.rate.low": "4/h", "sources.web.arrivals.rate.high": "8/h"}
    study.write_text(
        yaml.safe_dump(
            {"name": "Rates", "baseline": "plan.yaml", "replications": 3,
             "variants": {"faster": faster_rate}}
        )
    )  # fmt: skip
    data = json.loads(ok("study", study, "--uncertainty", "6", "--json").stdout)
    assert data["baseline"] == "Rates"
    assert data["replications"] == 3
    assert data["uncertainty"] == 6
    leads = data["differences"]["Rates: faster"]["leads"]
    print(f"P(faster point has more leads) = {leads['p_better']:.3f}")
    assert leads["p_better"] > 0.9
