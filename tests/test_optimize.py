"""The best plan for a budget (issue 15, item 1): ``funnelsim optimize`` on known answers.

Two inbound channels with Hill responses and a budget spent in full: the best split equalises
marginal leads per dollar, which scipy finds on the curves themselves. An SDR team with a
first-touch SLA to hold at least cost: the constraint decides, and no chosen plan may break
it. Then what a planner relies on: same seed, same plan whatever the workers; a SIGKILLed
optimisation resumes with the trials it had; an infeasible problem says which constraint no
trial met; a bad file is refused at its line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from scipy.optimize import minimize_scalar

from funnelsim.executors import ExecutorSpec
from funnelsim.goals import parse_goal
from funnelsim.metrics import METRICS
from funnelsim.optimizer import Optimum, optimize
from funnelsim.scenario.load import with_settings
from funnelsim.scenario.optimization import load_optimization
from funnelsim.theory import ErlangC
from helpers import BASE, assert_refused, invoke, location, ok

FUNNELSIM = Path(sys.executable).parent / "funnelsim"
BUDGET = 40_000.0  # a month, spent in full on the two channels


def channels() -> dict[str, Any]:
    """Two channels whose Hill curves differ in size, half-saturation and shape, so the best
    split lies inside the range; SDRs enough for every lead; a quarter of a year."""
    data = yaml.safe_load(BASE)
    data.update(name="Two channels", horizon="13w", warmup="0h", seed=11)
    web = {"kind": "inbound", "score": {"dist": "constant", "value": 0.5}}
    data["sources"] = {
        "search": {
            **web,
            "spend": {"monthly": 20000},
            "response": {
                "curve": "hill",
                "leads_at_saturation": 900,
                "half_saturation": 30000,
                "shape": 1.0,
                "adstock": 0.0,
            },
        },
        "content": {
            **web,
            "spend": {"monthly": 20000},
            "response": {
                "curve": "hill",
                "leads_at_saturation": 400,
                "half_saturation": 6000,
                "shape": 1.5,
                "adstock": 0.0,
            },
        },
    }
    data["teams"]["sdr"]["headcount"] = 30
    return data


def write(folder: Path, spec: dict[str, Any], plan: dict[str, Any]) -> Path:
    (folder / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    path = folder / "optimize.yaml"
    path.write_text(yaml.safe_dump({"baseline": "plan.yaml", **spec}, sort_keys=False))
    return path


def split_spec(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Split",
        "variables": {"sources.content.spend.monthly": {"low": 0, "high": BUDGET, "step": 250}},
        "budget": {"planned_cost_monthly": BUDGET, "fill": "sources.search.spend.monthly"},
        "objective": {"maximize": "leads"},
        "metrics": ["leads", "planned_cost_monthly"],
        "trials": 24,
        "batch": 6,
        "replications": 2,
        "promising": 4,
        "confirm": {"candidates": 3, "replications": 6},
        **changes,
    }


def load(path: Path) -> Any:
    return load_optimization(path, metrics=list(METRICS), parse_goal=parse_goal)


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Optimum, Any]:
    path = write(tmp_path_factory.mktemp("split"), split_spec(), channels())
    spec, baseline = load(path)
    return optimize(spec, baseline), baseline


def monthly_leads(baseline: Any, content: float, spend: float) -> float:
    """Expected leads a month on the curves themselves, ``spend`` split at ``content``."""
    plan = with_settings(
        baseline,
        {"sources.content.spend.monthly": content, "sources.search.spend.monthly": spend - content},
        "x",
    )
    total = 0.0
    for source in plan.sources.values():
        assert source.response is not None
        assert source.spend is not None
        total += source.response.spend_response().expected_leads(source.spend.plan(3, plan.origin))[
            -1
        ]
    return float(total)


def test_the_split_reaches_the_optimum_of_the_curves(split: tuple[Optimum, Any]) -> None:
    found, baseline = split
    chosen = float(found.best.settings["sources.content.spend.monthly"])
    spend = chosen + float(found.best.settings["sources.search.spend.monthly"])
    cost = found.best.metrics["planned_cost_monthly"]
    print(
        f"channel spend {spend:,.2f} of a planned cost of {cost.mean:,.2f} (budget {BUDGET:,.0f})"
    )
    assert cost.mean == pytest.approx(BUDGET, abs=0.02)  # the budget, spent in full
    assert spend > BUDGET * 0.9  # the rest: the channels' own fixed costs
    best = minimize_scalar(
        lambda x: -monthly_leads(baseline, x, spend), bounds=(0, spend), method="bounded"
    )
    optimum, reached = -best.fun, monthly_leads(baseline, chosen, spend)
    print(
        f"optimum: content {best.x:,.0f}, {optimum:.1f} leads/month; chosen: content "
        f"{chosen:,.0f}, {reached:.1f} leads/month ({reached / optimum:.2%} of the optimum)"
    )
    assert reached >= 0.98 * optimum


def sla_spec(**changes: Any) -> dict[str, Any]:
    return {
        "name": "SDRs for an SLA",
        "variables": {"teams.sdr.headcount": {"low": 6, "high": 16}},
        "constraints": ["sla_first_touch_attainment >= 0.8"],
        "objective": {"minimize": "planned_cost_monthly"},
        "metrics": ["sla_first_touch_attainment", "first_touch_wait_mean_h"],
        "trials": 12,
        "batch": 4,
        "replications": 3,
        "promising": 5,
        "confirm": {"candidates": 3, "replications": 8},
        **changes,
    }


def sdr_plan() -> dict[str, Any]:
    data = yaml.safe_load(BASE)  # 9 leads an hour, an hour each: 9 SDRs are fully busy
    data.update(horizon="6d", warmup="1d", seed=5)
    data["teams"]["sdr"]["annual_cost"] = 60000
    return data


def test_no_chosen_plan_breaks_a_constraint(tmp_path: Path) -> None:
    spec, baseline = load(write(tmp_path, sla_spec(), sdr_plan()))
    found = optimize(spec, baseline, executor=ExecutorSpec(2))
    goal = parse_goal("sla_first_touch_attainment >= 0.8")
    for plan in [found.best, *found.indistinguishable]:
        sla = plan.metrics[goal.metric]
        print(
            f"{plan.settings}: SLA attainment {sla.mean:.3f} [{sla.ci_low:.3f}, {sla.ci_high:.3f}]"
        )
        assert goal.met(sla, "ci")
    # fewer SDRs cost less: the best is the smallest team the simulation is sure holds the SLA,
    # Erlang C's smallest (M/M/c: 9 leads an hour, an hour each, 30 minutes), or one more
    # where the interval of the smallest still reaches below the goal
    theory = {c: ErlangC(9.0, 1.0, c).prob_wait_within(0.5) for c in range(10, 14)}
    least = min(c for c, p in theory.items() if p >= 0.8)
    print(f"Erlang C attainment by headcount: {theory}; smallest meeting 0.8: {least}")
    assert found.best.settings["teams.sdr.headcount"] in (least, least + 1)


def test_an_infeasible_problem_names_the_constraint_no_trial_met(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        sla_spec(
            constraints=["sla_first_touch_attainment >= 0.8", "first_touch_wait_mean_h <= 0"],
            trials=4,
            confirm={"candidates": 1, "replications": 3},
        ),
        sdr_plan(),
    )
    lines = assert_refused(invoke("optimize", path, "-w", "1"))
    print(lines)
    assert any("first_touch_wait_mean_h <= 0: met by no trial" in line for line in lines)
    assert not any("sla_first_touch_attainment >= 0.8: met by no" in line for line in lines)


@pytest.mark.slow
def test_same_seed_same_plan_whatever_the_workers(tmp_path: Path) -> None:
    path = write(tmp_path, split_spec(trials=12), channels())
    one = json.loads(ok("optimize", path, "-w", "1", "--json").stdout)
    two = json.loads(ok("optimize", path, "-w", "2", "--json").stdout)
    dask = json.loads(ok("optimize", path, "-w", "2", "--executor", "dask", "--json").stdout)
    print(one["best"]["variables"], one["best"]["metrics"]["leads"])
    assert one == two == dask
    assert set(one) >= {"best", "indistinguishable", "trials"}
    assert "pareto" not in one
    assert one["trials"] == 12
    assert set(one["best"]) >= {"variables", "metrics"}
    assert set(one["best"]["metrics"]["leads"]) >= {"mean", "ci_low", "ci_high"}


def test_two_objectives_give_a_pareto_front(tmp_path: Path) -> None:
    spec = split_spec(
        objective=None,
        trials=12,
        batch=6,
        objectives=[{"maximize": "leads"}, {"minimize": "first_touch_wait_mean_h"}],
        variables={
            "sources.content.spend.monthly": {"low": 0, "high": BUDGET, "step": 250},
            "teams.sdr.headcount": {"low": 8, "high": 30},
        },
    )
    path = write(tmp_path, spec, channels())
    found = json.loads(ok("optimize", path, "-w", "1", "--json", "--out", tmp_path / "out").stdout)
    front = found["pareto"]
    print(
        [
            (p["metrics"]["leads"]["mean"], p["metrics"]["first_touch_wait_mean_h"]["mean"])
            for p in front
        ]
    )
    assert front
    assert found["best"] in front
    for a in front:  # no member of the front is beaten on both objectives by another
        for b in front:
            leads_better = b["metrics"]["leads"]["mean"] > a["metrics"]["leads"]["mean"]
            wait_better = (
                b["metrics"]["first_touch_wait_mean_h"]["mean"]
                < a["metrics"]["first_touch_wait_mean_h"]["mean"]
            )
            assert not (leads_better and wait_better)
    assert {"pareto.png", "history.png", "trials.csv"} <= {
        p.name for p in (tmp_path / "out").iterdir()
    }


@pytest.mark.slow
def test_a_killed_optimisation_resumes_with_the_trials_it_had(tmp_path: Path) -> None:
    path = write(tmp_path, split_spec(trials=24, batch=4), channels())
    whole = json.loads(ok("optimize", path, "-w", "1", "--json").stdout)
    out = tmp_path / "killed"
    command = [str(FUNNELSIM), "optimize", str(path), "-w", "1", "--out", str(out)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    journal = out / "optuna.journal"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if journal.is_file() and len(re.findall(r'"state": ?1\b', journal.read_text())) >= 6:
            break  # some trials complete (a COMPLETE state told), not all
        time.sleep(0.01)
    assert process.poll() is None, "finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert not (out / "optimize.json").exists()
    resumed = ok("optimize", path, "-w", "1", "--out", out, "--resume", "--json")
    kept = [line for line in resumed.stderr.splitlines() if "finished trial(s) kept" in line]
    print(kept)
    assert kept
    assert 1 <= int(kept[0].split()[1]) < 24
    again = json.loads(resumed.stdout)
    assert again["trials"] == 24
    # the sampler is seeded by batch: the resumed search proposes what the whole one did
    assert again["best"]["variables"] == whole["best"]["variables"]
    assert again["best"]["metrics"] == whole["best"]["metrics"]


def test_a_resume_finishes_a_half_told_batch_as_the_whole_run_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after two of a batch's four trials were told: the resume simulates that batch
    again from its recorded proposals, tells the other two, and goes on; the sampler of every
    later batch sees what it saw in the uninterrupted run, so the answer is the same."""
    from funnelsim import optimizer
    from funnelsim.review import section

    path = write(tmp_path, split_spec(trials=12, batch=4), channels())
    whole = json.loads(ok("optimize", path, "-w", "1", "--json").stdout)
    real, told = optimizer._tell, []

    def crash_on_the_seventh(*args: Any) -> None:
        if len(told) == 6:
            raise RuntimeError("the machine went down")
        told.append(args[2].number)
        real(*args)

    out = tmp_path / "crashed"
    monkeypatch.setattr(optimizer, "_tell", crash_on_the_seventh)
    crashed = invoke("optimize", path, "-w", "1", "--out", out)
    monkeypatch.undo()
    assert isinstance(crashed.exception, RuntimeError), crashed.output
    assert told == [0, 1, 2, 3, 4, 5]
    resumed = ok("optimize", path, "-w", "1", "--out", out, "--resume", "--json")
    assert "resumed: 6 finished trial(s) kept" in resumed.stderr
    again = json.loads(resumed.stdout)
    print(whole["best"], again["best"], sep="\n")
    assert again["trials"] == 12
    assert again["best"]["variables"] == whole["best"]["variables"]
    assert again["best"]["metrics"] == whole["best"]["metrics"]
    assert again["best"]["trial"] == whole["best"]["trial"]  # no trial numbered anew
    # the folder joins a budget review (report --with): the best split, and the search's charts
    brought = section(out)
    assert brought.title == "The budget split, optimised"
    variables = {row[0]: row[2] for row in brought.tables[0].rows}
    assert set(variables) == set(again["best"]["variables"])
    assert {c.title for c in brought.charts} >= {
        "The search: every trial's objective, and the best so far"
    }


def test_a_bad_file_is_refused_at_its_line(tmp_path: Path) -> None:
    spec = split_spec(
        variables={"sources.content.spend.monthy": {"low": 0, "high": 10}},
        constraints=["sla_frst_touch_attainment >= 0.9"],
    )
    path = write(tmp_path, spec, channels())
    lines = assert_refused(invoke("optimize", path))
    print(lines)
    text = path.read_text()
    assert any(
        line.startswith(f"{path}:{location(text, '- ^sla_frst_touch')}") and "did you mean" in line
        for line in lines
    )
    spec = split_spec(variables={"sources.content.spend.monthy": {"low": 0, "high": 10}})
    path = write(tmp_path, spec, channels())
    lines = assert_refused(invoke("optimize", path))
    print(lines)
    assert any("monthy" in line and "did you mean 'monthly'" in line for line in lines)
    assert any(
        line.startswith(f"{path}:{location(path.read_text(), '^sources.content.spend.monthy')}")
        for line in lines
    )
    assert not (tmp_path / "out").exists()


def test_uncertain_inputs_and_a_bad_year_statistic(tmp_path: Path) -> None:
    """With ``uncertainty: 4`` every trial runs on the same four draws of the ranged inputs;
    ``p10`` counts a plan by the 10th percentile of its outcomes, never above their mean."""
    plan = channels()
    plan["sources"]["search"]["response"]["half_saturation"] = {"low": 20000, "high": 40000}
    spec = split_spec(trials=6, batch=3, uncertainty=4,
                      objective={"maximize": "leads", "statistic": "p10"})  # fmt: skip
    loaded, baseline = load(write(tmp_path, spec, plan))
    found = optimize(loaded, baseline)
    rows = [row for row in found.trial_rows() if not row["skipped"]]
    for row in rows:
        print(f"trial {row['trial']}: mean {row['leads']:.1f}, p10 {row['leads_p10']:.1f}")
        assert row["leads_p10"] < row["leads"]
    first = found.trials[0]
    assert len(first.outcomes["leads"]) == 4  # one list of replications per draw
    assert len({round(sum(draw), 6) for draw in first.outcomes["leads"]}) == 4
