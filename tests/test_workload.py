"""Runs too large for the machine are refused before they start (issue 13, fault 7).

``funnelsim.workload`` estimates a replication's leads and memory from the scenario alone; a run
is refused when one replication would need more than half the machine's memory or the whole run
more than 10^9 simulated leads, and ``--force`` runs it anyway. These tests check the estimate
against simulated replications, the rule, and that every command refuses before writing a byte.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from funnelsim import experiment, workload
from funnelsim.model.run import simulate
from funnelsim.scenario.load import load_scenario
from funnelsim.workload import MAX_RUN_LEADS, Workload, WorkloadError
from helpers import BASE, ROOT, SCENARIOS, assert_refused, invoke, ok, scenario, snapshot

BASELINE = SCENARIOS / "baseline.yaml"
TINY = {**yaml.safe_load(BASE), "horizon": "2d", "warmup": "0d"}  # 9 leads an hour


def test_the_estimated_leads_are_the_mean_of_simulated_replications() -> None:
    """The estimate is an expectation: the 99% CI of the simulated mean must contain it."""
    plan = load_scenario(BASELINE, ["horizon=26w", "warmup=2w"])
    counts = np.array([len(simulate(plan, seed, 0).leads) for seed in range(6)], dtype=float)
    mean, half = counts.mean(), stats.t.ppf(0.995, len(counts) - 1) * stats.sem(counts)
    want = workload.estimate(plan).leads
    print(f"simulated leads {mean:,.0f} +/- {half:,.0f} (99% CI), estimated {want:,.0f}")
    assert abs(mean - want) <= half, (mean, half, want)


def test_the_funnel_at_the_start_counts() -> None:
    plan = scenario({**TINY, "initial": {"open_mqls": [{"source": "web", "count": 30}]}})
    assert workload.estimate(plan).leads == pytest.approx(9 * 48 + 30)


# the peak from /proc (VmHWM): ru_maxrss would start at pytest's own peak, kept across exec
MEASURE = """
import gc, sys
from funnelsim import workload
from funnelsim.model.run import simulate
from funnelsim.scenario.load import load_scenario
def peak():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
plan = load_scenario(sys.argv[1], sys.argv[2:])
gc.collect()
before = peak()
simulate(plan, 1, 0)
print(peak() - before, workload.estimate(plan).replication_bytes)
"""


@pytest.mark.parametrize(
    "changes",
    [["horizon=52w"], ["horizon=12w", "teams.sdr.headcount=20000"]],
    ids=["a year", "twenty thousand SDRs"],
)
def test_the_memory_estimate_is_not_below_what_a_replication_takes(changes: list[str]) -> None:
    """Measured as the benchmark measures it: the growth of the peak in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(BASELINE), *changes],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    grown, estimated = (float(x) for x in done.stdout.split())
    print(f"{changes}: grew {grown / 2**20:.0f} MB, estimated {estimated / 2**20:.0f} MB")
    assert grown <= estimated


# -- the rule ------------------------------------------------------------------------------------
def test_a_replication_over_half_the_memory_is_refused() -> None:
    plan = Workload("big", leads=1e6, reps=10, weeks=60)
    size = plan.replication_bytes
    assert workload.refusals([plan], 1, memory=math.ceil(2 * size)) == []
    (why,) = workload.refusals([plan], 1, memory=math.floor(2 * size) - 1)
    assert why.startswith("big: one replication needs about 1.1 GB (1,000,000 leads"), why
    assert "more than half of this machine's memory (2.2 GB)" in why, why


def test_a_run_over_a_billion_leads_is_refused() -> None:
    plans = [Workload("a", 1e5, 3, 60), Workload("b", 2e5, 3, 60)]
    assert workload.refusals(plans, 3333, memory=None) == []  # 999,900,000 leads
    (why,) = workload.refusals(plans, 3334, memory=None)
    assert "about 1,000,200,000 leads (2 scenarios x 3,334 replications)" in why, why
    assert f"more than {MAX_RUN_LEADS:,}" in why, why


def test_force_lifts_the_refusal() -> None:
    plans = [Workload("a", 1e9, 3, 60)]
    with pytest.raises(WorkloadError, match="--force runs it anyway"):
        workload.check(plans, 2, memory=2**40)
    workload.check(plans, 2, memory=2**40, force=True)


def test_the_machine_memory_is_known_here() -> None:
    memory = workload.machine_memory()
    assert memory is not None
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < memory <= physical


def test_the_library_run_refuses_and_forced_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """experiment.run, the one run path: refused on a (pretended) small machine, unless forced."""
    plan = scenario(TINY)
    monkeypatch.setattr(workload, "machine_memory", lambda: 2**20)
    with pytest.raises(WorkloadError, match="more than half of this machine's memory"):
        experiment.run([plan], 2, 1)
    result = experiment.run([plan], 2, 1, force=True)
    assert len(result.per_scenario[0]) == 2


# -- the commands ----------------------------------------------------------------------------------
TEN_MILLION_SDRS = ["--set", "teams.sdr.headcount=10000000"]


def test_validate_refuses_a_scenario_too_large_to_run_and_force_accepts_it() -> None:
    lines = assert_refused(invoke("validate", BASELINE, *TEN_MILLION_SDRS))
    assert lines[0].startswith("Baseline (balanced): one replication needs about"), lines
    assert "10,000,005 reps" in lines[0], lines
    assert lines[-1] == "(--force runs it anyway)", lines
    said = ok("validate", BASELINE, *TEN_MILLION_SDRS, "--force")
    assert ": ok: " in said.stdout


@pytest.mark.parametrize("command", ["run", "compare"])
def test_too_many_replications_are_refused_with_nothing_written(
    command: str, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    files = [BASELINE] if command == "run" else [BASELINE, SCENARIOS / "inbound-heavy.yaml"]
    started = time.monotonic()
    lines = assert_refused(invoke(command, *files, "-n", "10000000", "--out", out))
    assert "replications), more than 1,000,000,000" in lines[0], lines
    assert time.monotonic() - started < 60  # refused before running, not after an hour
    assert not out.exists()


def test_a_precision_target_is_judged_at_its_cap(tmp_path: Path) -> None:
    args = ["run", BASELINE, "--target-halfwidth", "sqls=1", "--max-replications", "100000"]
    lines = assert_refused(invoke(*args))
    assert "(100,000 replications)" in lines[0], lines


def test_a_resumed_run_is_judged_on_its_replications(tmp_path: Path) -> None:
    out = tmp_path / "results"
    plan = tmp_path / "plan.yaml"
    plan.write_text(BASE)
    ok("run", plan, "-n", "2", "--out", out, "--no-records")
    before = snapshot(out)
    lines = assert_refused(invoke("run", plan, "-n", "100000000", "--out", out, "--resume"))
    assert "more than 1,000,000,000" in lines[0], lines
    assert snapshot(out) == before


def test_a_huge_study_grid_is_refused_before_its_points_are_made(tmp_path: Path) -> None:
    """100 x 100 x 100 points: refused from the study file, without building a million
    scenarios (which alone would take hours)."""
    grid = {
        "teams.sdr.headcount": list(range(1, 101)),
        "teams.ae.headcount": list(range(1, 101)),
        "sources.search.spend.monthly": [1000 * i for i in range(1, 101)],
    }
    lines_of_values = "\n".join(f"      {key}: {values}" for key, values in grid.items())
    study = tmp_path / "grid.yaml"
    study.write_text(
        f"name: Grid\nbaseline: {BASELINE}\nreplications: 2\n"
        f"sweeps:\n  all:\n    mode: grid\n    values:\n{lines_of_values}\n"
    )
    started = time.monotonic()
    lines = assert_refused(invoke("study", study, "--out", tmp_path / "out"))
    assert "(1,000,001 scenarios x 2 replications)" in lines[0], lines
    assert time.monotonic() - started < 60
    assert not (tmp_path / "out").exists()
