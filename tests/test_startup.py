"""``funnelsim validate`` starts light: checking a file loads no numerical or drawing library.

Checking a scenario needs pydantic, PyYAML and click; the offered-load line it prints is
computed without numpy (the spend curves on plain floats, the calendar's working hours and
months as lists). So a fresh interpreter that validates a bundled file must not have imported
numpy, scipy, pandas, simpy or rich, whether the simulation runs compiled or from source. How
fast it starts is measured by ``benchmarks/bench_startup.py``, not here.

The numpy-free figures must also agree with the ones the simulation computes with numpy.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnelsim import compiled
from funnelsim.curves import SpendResponse
from funnelsim.model.population import expected_monthly_leads
from funnelsim.scenario.load import load_scenario
from funnelsim.scenario.schema import Empirical, InboundSource
from funnelsim.theory import offered_load

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BUNDLED = sorted(p for p in SCENARIOS.rglob("*.yaml") if "studies" not in p.parts)
HEAVY = ("numpy", "scipy", "pandas", "pyarrow", "simpy", "rich", "matplotlib")

VALIDATE = """
import sys
from funnelsim.cli import main
path = sys.argv[1]
sys.argv = ["funnelsim", "validate", path]
try:
    main()
except SystemExit as done:
    assert done.code in (0, None), done.code
print("imported:", *sorted(m for m in {HEAVY!r} if m in sys.modules))
"""


def validate_in_fresh_interpreter(path: Path, *, pure: bool) -> tuple[str, list[str]]:
    """What validate printed, and which of HEAVY it imported."""
    env = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    if pure:
        env[compiled.PURE_ENV] = "1"
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE.format(HEAVY=HEAVY), str(path.relative_to(ROOT))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *out, last = done.stdout.strip().splitlines()
    assert last.startswith("imported:"), done.stdout
    return "\n".join(out), last.split()[1:]


def test_the_bundled_files_are_found() -> None:
    names = {str(p.relative_to(SCENARIOS)) for p in BUNDLED}
    assert {"baseline.yaml", "monday-batch.yaml", "validation/erlang-c.yaml"} <= names, names


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_validate_imports_no_numerical_or_drawing_library(path: Path) -> None:
    said, heavy = validate_in_fresh_interpreter(path, pure=False)
    assert ": ok: " in said, said
    assert "offered load" in said, said
    assert heavy == [], f"validate {path.name} imported {heavy}"


def test_validate_from_source_imports_none_either() -> None:
    """The calendar is compiled with mypyc: from its source it must stay as light."""
    said, heavy = validate_in_fresh_interpreter(SCENARIOS / "baseline.yaml", pure=True)
    assert ": ok: " in said, said
    assert heavy == [], heavy


# -- the numpy-free figures agree with numpy's --------------------------------------------------
PLANS = sorted(SCENARIOS.glob("*.yaml"))  # the plans, every one with channels bought by spend


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.name)
def test_offered_load_counts_the_leads_the_simulation_expects(path: Path) -> None:
    """offered_load's leads from spend, computed on floats, are the simulation's (numpy's)."""
    scenario = load_scenario(path, None)
    bought = {
        name: source
        for name, source in scenario.sources.items()
        if isinstance(source, InboundSource) and source.spend is not None
    }
    assert bought, "no channel bought by spend: this checks nothing"
    span = scenario.warmup_hours + scenario.horizon_hours
    monthly = sum(
        float(expected_monthly_leads(source, scenario.origin, span).mean())
        for source in bought.values()
    )
    work, _ = offered_load(scenario.model_copy(update={"sources": bought}))
    want = monthly * 12 / 8766 * scenario.teams.sdr.first_touch_time.mean_hours
    assert math.isclose(work, want, rel_tol=1e-12), (work, want)


spends = st.floats(0.0, 1e6)
plans = st.lists(spends, min_size=1, max_size=36)


@st.composite
def responses(draw: st.DrawFn) -> SpendResponse:
    beta = draw(st.floats(1.0, 1000.0))
    theta = draw(st.floats(0.0, 0.95))
    if draw(st.booleans()):
        k, s = draw(st.floats(10.0, 1e5)), draw(st.floats(0.2, 4.0))
        return SpendResponse("hill", beta, k=k, s=s, adstock=theta)
    return SpendResponse("logistic", beta, lam=draw(st.floats(1e-6, 1e-2)), adstock=theta)


@settings(max_examples=200, deadline=None)
@given(responses(), plans)
def test_expected_leads_without_numpy_are_numpys_leads(
    response: SpendResponse, plan: list[float]
) -> None:
    got = response.expected_leads(plan)
    want = response.leads(plan)
    assert len(got) == len(want)
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12), (got, want.tolist())


def test_expected_leads_refuse_what_leads_refuse() -> None:
    response = SpendResponse("hill", 100.0, k=1000.0, s=1.0)
    for bad in ([-1.0], [math.nan], [math.inf]):
        with pytest.raises(ValueError, match="spend"):
            response.expected_leads(bad)
    assert response.expected_leads([0.0, 1000.0]) == [0.0, 50.0]


def test_the_empirical_mean_is_the_weighted_average() -> None:
    dist = Empirical.model_validate(
        {"dist": "empirical", "values": ["20m", "35m", "1h"], "weights": [1, 2, 5]}
    )
    assert math.isclose(dist.mean_hours, np.average([1 / 3, 35 / 60, 1.0], weights=[1, 2, 5]))
    plain = Empirical.model_validate({"dist": "empirical", "values": ["30m", "90m"]})
    assert math.isclose(plain.mean_hours, 1.0)


# -- the garbage collector and pydantic's plugins, as the command sets them ---------------------
AFTER = """
import gc, sys
from funnelsim import cli
sys.argv = ["funnelsim", *{argv!r}]
try:
    cli.main()
except SystemExit as done:
    assert done.code in (0, None), done.code
print(gc.isenabled(), type(sys.modules.get("pydantic.plugin._loader")).__name__)
"""


@pytest.mark.parametrize(
    ("argv", "collecting"),
    [
        (["validate", "scenarios/baseline.yaml"], False),
        (["schema"], False),
        (["run", "scenarios/validation/erlang-c.yaml", "-n", "1", "--set", "horizon=2d"], True),
    ],
)
def test_only_start_up_bound_commands_run_without_the_collector(
    argv: list[str], collecting: bool
) -> None:
    """validate and schema turn the collector off (their objects live to the end); a command
    that simulates keeps it on. With plugins off, pydantic gets the loader that finds none."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", AFTER.format(argv=argv)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    enabled, loader = done.stdout.split()[-2:]
    assert enabled == str(collecting), done.stdout
    assert loader == "_NoPlugins", done.stdout
