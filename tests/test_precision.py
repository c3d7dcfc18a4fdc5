"""Precision on demand: replications are added until a CI is narrow enough, or the cap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from funnelsim.cli import app
from funnelsim.errors import UsageError
from funnelsim.experiment import (
    DEFAULT_CAP,
    Precision,
    Runner,
    compare,
    next_size,
    run_replications,
    run_to_precision,
    widest_half_width,
)
from funnelsim.scenario.load import load_scenario
from helpers import SCENARIOS

ERLANG_C = SCENARIOS / "validation" / "erlang-c.yaml"
SHORT = ["horizon=5d", "warmup=1d"]


def test_next_size_follows_the_square_root_law_within_bounds() -> None:
    target = Precision("leads", 1.0, cap=500)
    assert next_size(10, 1.5, target) == 25  # ceil(1.1 * 10 * 2.25)
    assert next_size(10, 3.0, target) == 40  # 99 wanted, at most 4x per round
    assert next_size(10, 1.01, target) == 12  # ceil(11.2): at least the margin
    assert next_size(10, 1.01, target, step=4) == 14  # at least a pool's worth more
    assert next_size(10, math.inf, target) == 20  # undefined yet: double
    assert next_size(400, 2.0, target) == 500  # never beyond the cap


def test_growing_to_a_target_gives_the_fixed_size_result() -> None:
    scenario = load_scenario(ERLANG_C, SHORT)
    first = run_replications(scenario, 4, seed=9).summary()["first_touch_wait_mean_h"].half_width
    target = Precision("first_touch_wait_mean_h", first / 2, cap=64)
    runner = Runner([scenario], 9)
    sizes: list[int] = []
    n, half = run_to_precision(runner, 4, target, sizes.append)
    print(f"half-width {first:.4f} at 4 -> {half:.4f} at {n} (target {target.half_width:.4f})")
    print(f"sizes tried: {sizes}")
    assert half <= target.half_width
    assert sizes[0] == 4
    assert n == sizes[-1] > 4
    assert sizes == sorted(set(sizes))
    [grown] = runner.per_scenario()
    assert grown.n == n
    fixed = run_replications(scenario, n, seed=9)
    assert grown.metrics == fixed.metrics  # growing in rounds changes no number


def test_an_unreachable_target_stops_at_the_cap() -> None:
    runner = Runner([load_scenario(ERLANG_C, SHORT)], 2)
    n, half = run_to_precision(runner, 3, Precision("leads", 1e-9, cap=7))
    print(f"stopped at {n} replications, half-width {half:.3g}")
    assert n == 7
    assert half > 1e-9
    assert runner.replications == 7


def test_with_several_scenarios_the_widest_paired_difference_counts() -> None:
    plans = [load_scenario(ERLANG_C, [*SHORT, f"teams.sdr.headcount={c}"]) for c in (10, 11, 12)]
    plans = [
        p.model_copy(update={"name": f"c={c}"}) for p, c in zip(plans, (10, 11, 12), strict=True)
    ]
    result = compare(plans, 5, seed=4)
    widths = [d["first_touch_wait_mean_h"].half_width for d in result.differences().values()]
    print(f"paired half-widths: {widths}")
    assert widest_half_width(result.per_scenario, "first_touch_wait_mean_h") == max(widths)


BAD_TARGETS = [
    ("leeds=1", "unknown metric 'leeds' (did you mean 'leads'?)"),
    ("leads", "expected METRIC=VALUE, got 'leads'"),
    ("leads=-1", "leads: the half-width must be a positive number"),
    ("leads=0", "leads: the half-width must be a positive number"),
    ("leads=abc", "leads: the half-width must be a positive number"),
    ("leads=nan", "leads: the half-width must be a positive number"),
    ("leads=inf", "leads: the half-width must be a positive number"),
]


def test_a_target_is_parsed_with_its_cap() -> None:
    assert Precision.parse("sqls=12") == Precision("sqls", 12.0, DEFAULT_CAP)
    assert Precision.parse(" sqls =0.5", 40) == Precision("sqls", 0.5, 40)


@pytest.mark.parametrize(("target", "message"), BAD_TARGETS)
def test_a_bad_target_says_what_is_wrong(target: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        Precision.parse(target)
    assert str(caught.value) == f"--target-halfwidth: {message}"


@pytest.mark.parametrize(("target", "message"), BAD_TARGETS[:3])
def test_bad_targets_are_refused_before_anything_runs(
    target: str, message: str, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    args = ["run", str(ERLANG_C), "--target-halfwidth", target, "-n", "2", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"--target-halfwidth: {message}"]
    assert not out.exists()


def test_the_cli_reaches_the_target_or_warns_at_the_cap() -> None:
    args = ["run", str(ERLANG_C), "--set", "horizon=5d", "--set", "warmup=1d", "-w", "1"]
    reached = CliRunner().invoke(
        app, [*args, "-n", "3", "--target-halfwidth", "leads=30", "--json"]
    )
    assert reached.exit_code == 0, reached.output
    data = json.loads(reached.stdout)
    leads = data["metrics"]["leads"]
    print(f"{data['replications']} replications: leads half-width "
          f"{(leads['ci_high'] - leads['ci_low']) / 2:.2f} (target 30)")  # fmt: skip
    assert (leads["ci_high"] - leads["ci_low"]) / 2 <= 30
    capped = CliRunner().invoke(
        app, [*args, "-n", "3", "--target-halfwidth", "leads=0.001", "--max-replications", "5"]
    )
    assert capped.exit_code == 0, capped.output
    assert "after 5 replications (the cap), above the target 0.001" in capped.stderr
