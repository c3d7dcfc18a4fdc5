"""``funnelsim plan`` (``funnelsim.planning``): the reverse funnel from a target to levers.

The key check is the promise itself: the plan, simulated again on a fresh seed, reaches its
target with the stated probability. The rest: the response curves are inverted exactly and a
demand beyond saturation is reported, the spreadsheet's answer is linear and blind to
capacity, a larger target costs more, and the command's JSON and refusals.

Plans are made on the bundled baseline at a quarter of its volume, cut to two months (8 weeks
after a 4-week warm-up, about 0.03 s a replication), with SQLs as the target: the statistics of
a plan do not depend on the size or length of its funnel.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from funnelsim import planning
from funnelsim.curves import SpendResponse
from funnelsim.economics import planned_cost_monthly
from funnelsim.experiment import run_replications
from funnelsim.planning import Plan, SpendFound, spend_for_leads, wilson
from funnelsim.scenario.load import load_scenario
from funnelsim.scenario.schema import Scenario
from helpers import SCENARIOS, assert_refused, invoke, ok

# the baseline's funnel at a quarter of its volume, over 8 weeks: about 0.03 s a replication
SMALL = [
    "horizon=8w", "warmup=4w", "sources.search.response.leads_at_saturation=120",
    "sources.content.response.leads_at_saturation=50", "sources.outbound.contacts_per_month=100",
    "teams.sdr.headcount=2", "teams.ae.headcount=2",
]  # fmt: skip
SATURATING = [*SMALL, "sources.search.response.half_saturation=8000"]  # search near its top


def reduced(*overrides: str) -> Scenario:
    return load_scenario(SCENARIOS / "baseline.yaml", [*SMALL, *overrides])


# -- the promise: a fresh seed meets the target with the stated probability ------------------------
@pytest.mark.seed(2027)
def test_the_plan_meets_its_target_with_the_stated_probability_on_fresh_seeds(seed: int) -> None:
    """Planned on one seed with 30 replications, simulated again on another with 60: the share
    of fresh replications reaching the target has a 99.9% Wilson interval whose upper end is
    at least the probability asked (the suite's level for statistical checks: a correct plan
    fails about 3% of seeds). The spreadsheet's plan (no margin, no capacity) is printed
    beside it: this check would refuse it."""
    scenario = reduced()
    target, probability = 30.0, 0.8  # the baseline makes about 23 SQLs in the 8 weeks
    found = planning.plan(scenario, "sqls", target, probability=probability, replications=30,
                          seed=seed)  # fmt: skip
    assert found.met, found.binding
    assert found.probability_met.mean >= probability, found.probability_met
    fresh = run_replications(found.scenario, 60, seed=seed + 1)
    hits = sum(1 for v in fresh.values("sqls") if v >= target)
    low, high = wilson(hits, 60, level=0.999)
    sheet = found.spreadsheet_met
    print(
        f"plan x{found.factor:.3f} (search {found.steps}): {found.probability_met.hits}/30 on "
        f"seed {seed}; fresh seed {seed + 1}: {hits}/60 = {hits / 60:.3f}, 95% Wilson "
        f"{wilson(hits, 60)}, 99.9% [{low:.3f}, {high:.3f}]; the spreadsheet's plan on the "
        f"planning seed: {sheet.hits}/{sheet.n}"
    )
    assert high >= probability, f"fresh share {hits}/60: 99.9% CI [{low:.3f}, {high:.3f}]"


def test_wilson_interval_known_values() -> None:
    """Against Newcombe (1998)'s examples: 81/263 gives 0.2553 to 0.3662, 15/148 0.0624 to
    0.1605."""
    for hits, n, expected in ((81, 263, (0.2553, 0.3662)), (15, 148, (0.0624, 0.1605))):
        assert wilson(hits, n) == pytest.approx(expected, abs=5e-5)
    assert wilson(10, 10)[1] == 1.0
    assert wilson(0, 10)[0] == 0.0


def test_the_acceptance_rule_counts_order_statistics() -> None:
    assert planning.needed_hits(0.8, 10) == 9  # ceil(8.8)
    assert planning.needed_hits(0.8, 4) == 4
    assert planning.needed_hits(0.5, 9) == 5
    assert planning.needed_hits(0.8, 40) == 33


# -- the response curves, inverted ----------------------------------------------------------------
CURVES = {
    "hill": SpendResponse("hill", 480, k=40_000, s=1.0, adstock=0.3),
    "s-shaped hill": SpendResponse("hill", 300, k=20_000, s=2.5, adstock=0.6),
    "logistic": SpendResponse("logistic", 200, lam=0.00005, adstock=0.5),
}


@pytest.mark.parametrize("name", list(CURVES))
def test_the_spend_found_gives_the_leads_asked(name: str) -> None:
    curve = CURVES[name]
    for share in (0.01, 0.2, 0.5, 0.8, 0.94):
        asked = share * curve.beta
        found = spend_for_leads(curve, asked)
        given = curve.steady_state_leads(found.spend)
        print(f"{name}: {asked:.1f} leads/month asked, spend {found.spend:,.0f} gives {given:.2f}")
        assert given == pytest.approx(asked, rel=0.01)
        assert not found.saturated
    assert spend_for_leads(curve, 0.0).spend == 0.0


@pytest.mark.parametrize("name", list(CURVES))
def test_a_demand_beyond_saturation_is_capped_and_said(name: str) -> None:
    curve = CURVES[name]
    found = spend_for_leads(curve, 0.99 * curve.beta)
    assert found.saturated
    assert found.leads == pytest.approx(planning.SATURATION * curve.beta)
    assert curve.steady_state_leads(found.spend) == pytest.approx(found.leads, rel=0.01)
    beyond = spend_for_leads(curve, 3 * curve.beta)  # more than the ceiling itself
    assert beyond.saturated
    assert beyond.spend == pytest.approx(found.spend)
    assert isinstance(beyond, SpendFound)


# -- the spreadsheet: linear, no capacity ---------------------------------------------------------
@pytest.fixture(scope="module")
def base() -> planning.Baseline:
    scenario = reduced()
    return planning.baseline_of(scenario, run_replications(scenario, 4, seed=5).metrics, "sqls")


@pytest.mark.parametrize("metric", ["new_arr", "deals_won", "sqls", "pipeline_value"])
def test_the_spreadsheet_scales_linearly_and_ignores_capacity(
    base: planning.Baseline, metric: str
) -> None:
    one = base.mean(metric)
    single, funnel = planning.spreadsheet(base, metric, one)
    double, funnel2 = planning.spreadsheet(base, metric, 2 * one)
    tenfold, _ = planning.spreadsheet(base, metric, 10 * one)
    print(metric, single, double, funnel, funnel2, sep="\n")
    for stage, value in funnel.items():
        if math.isfinite(value):
            assert funnel2[stage] == pytest.approx(2 * value, rel=1e-9), stage
    for path, value in single.items():
        if path.endswith("spend.monthly"):
            assert double[path] == pytest.approx(2 * value, abs=0.02), path
        elif path.endswith("contacts_per_month"):
            assert abs(double[path] - 2 * value) <= 2, path  # whole contacts, rounded up
        else:  # headcount: as it is, whatever the volume
            assert single[path] == double[path] == tenfold[path] == base.levers()[path], path
    # the plan's levers do check capacity: ten times the volume needs more people
    levers = planning.levers_at(base, 10.0).settings
    assert levers["teams.sdr.headcount"] > base.levers()["teams.sdr.headcount"]
    assert levers["teams.ae.headcount"] > base.levers()["teams.ae.headcount"]


def test_the_levers_keep_the_channel_mix(base: planning.Baseline) -> None:
    at = planning.levers_at(base, 1.5)
    for s in base.spend:
        curve = s.response
        assert curve.steady_state_leads(at.settings[s.path]) == pytest.approx(1.5 * s.leads,
                                                                              rel=0.01)  # fmt: skip
    assert at.settings["sources.outbound.contacts_per_month"] == 150
    same = planning.levers_at(base, 1.0).settings
    for path, value in base.levers().items():
        if not path.startswith("teams."):
            assert same[path] == pytest.approx(value), f"{path}: factor 1 is the baseline"
    for team in base.teams:  # as many people, unless the baseline runs them above the cap
        print(team)
        hotter = team.utilisation > team.aim + planning.SLACK
        assert (same[team.path] > team.headcount) if hotter else same[team.path] == team.headcount


# -- a larger target costs more; saturation binds ------------------------------------------------
@pytest.fixture(scope="module")
def two_plans() -> tuple[Plan, Plan]:
    """Search near the top of its curve (the baseline makes about 35 SQLs): a target below the
    baseline's level, and one its search channel cannot reach alone."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml", SATURATING)
    lower = planning.plan(scenario, "sqls", 30, probability=0.5, replications=10, seed=11)
    higher = planning.plan(scenario, "sqls", 48, probability=0.5, replications=10, seed=11)
    return lower, higher


def test_a_larger_target_costs_more(two_plans: tuple[Plan, Plan]) -> None:
    small, large = two_plans
    print(small.as_json(), large.as_json(), sep="\n")
    assert small.met
    assert large.met
    assert large.factor > small.factor
    assert large.planned_cost_monthly > small.planned_cost_monthly
    assert large.costs["spreadsheet"] > small.costs["spreadsheet"]
    assert planned_cost_monthly(large.scenario) == large.planned_cost_monthly


def test_a_saturated_channel_binds(two_plans: tuple[Plan, Plan]) -> None:
    small, large = two_plans
    saturated = "sources.search: response curve saturated at"
    print(small.binding, large.binding, sep="\n")
    assert not any(line.startswith(saturated) for line in small.binding)
    assert any(line.startswith(saturated) for line in large.binding)
    # the other channels make up for it: they grow faster than the volume
    growth = large.settings["sources.outbound.contacts_per_month"] / 100
    assert growth > large.factor > 1.0
    assert large.funnel["sqls"]["plan"] >= 48 * 0.9


# -- the command -------------------------------------------------------------------------------
BASELINE = str(SCENARIOS / "baseline.yaml")
SET_SMALL = [word for setting in SMALL for word in ("--set", setting)]


def test_plan_json_and_out(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = ok("plan", BASELINE, "--target", "sqls=25", "-n", "3", "--probability", "0.5",
                "-w", "1", "--seed", "3", "--out", str(out), "--json", *SET_SMALL)  # fmt: skip
    data = json.loads(result.stdout)
    contract = {"plan", "planned_cost_monthly", "probability_met", "binding", "spreadsheet"}
    assert contract <= set(data), sorted(data)
    assert set(data["probability_met"]) == {"mean", "ci_low", "ci_high"}
    levers = {
        "sources.search.spend.monthly", "sources.content.spend.monthly",
        "sources.outbound.contacts_per_month", "teams.sdr.headcount", "teams.ae.headcount",
    }  # fmt: skip
    assert set(data["plan"]) == set(data["spreadsheet"]) == levers
    assert isinstance(data["binding"], list)
    assert data["metric"] == "sqls"
    assert data["target"] == 25
    assert data["seed"] == 3
    assert data["replications"] == 3
    assert data["planned_cost_monthly"] > 0
    low, mean, high = (data["probability_met"][k] for k in ("ci_low", "mean", "ci_high"))
    assert 0 <= low <= mean <= high <= 1
    stored = json.loads((out / "plan.json").read_text())
    assert stored["plan"] == data["plan"]
    assert (out / "baseline" / "manifest.json").is_file()
    assert (out / stored["folders"]["plan"] / "manifest.json").is_file()


def test_plan_prints_the_plan_beside_the_spreadsheet() -> None:
    result = ok("plan", BASELINE, "--target", "sqls=25", "-n", "4", "--probability", "0.5",
                "-w", "1", *SET_SMALL)  # fmt: skip
    print(result.stdout)
    assert "planned_cost_monthly:" in result.stdout
    assert "probability met:" in result.stdout
    assert "spreadsheet" in result.stdout


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("new_ar=3000000", "unknown metric 'new_ar' (did you mean 'new_arr'?)"),
        ("cac=30000", "cac: lower is better"),
        ("sla_first_touch_attainment=0.9", "does not grow with the funnel's volume"),
        ("sqls_per_sdr_month=30", "does not grow with the funnel's volume"),
        ("new_arr", "expected METRIC=VALUE"),
        ("new_arr=lots", "is not a number"),
        ("new_arr=-5", "positive number"),
    ],
)
def test_plan_refuses_a_target_it_cannot_plan_for(target: str, said: str) -> None:
    lines = assert_refused(invoke("plan", BASELINE, "--target", target))
    assert any(line.startswith("--target: ") and said in line for line in lines), lines


@pytest.mark.parametrize("probability", ["1.5", "0", "1", "nan"])
def test_plan_refuses_a_probability_outside_0_1(probability: str) -> None:
    lines = assert_refused(
        invoke("plan", BASELINE, "--target", "sqls=100", "--probability", probability)
    )
    assert any("--probability: must be between 0 and 1" in line for line in lines), lines


def test_plan_refuses_too_few_replications_for_the_probability() -> None:
    lines = assert_refused(
        invoke("plan", BASELINE, "--target", "sqls=100", "--probability", "0.95", "-n", "10")
    )
    assert any("needs at least 19 replications" in line for line in lines), lines


def test_plan_refuses_a_target_far_beyond_the_baseline() -> None:
    lines = assert_refused(
        invoke("plan", BASELINE, "--target", "sqls=1000000", "-n", "4", "-w", "1", *SET_SMALL)
    )
    assert any("times the volume of Baseline (balanced)" in line for line in lines), lines
