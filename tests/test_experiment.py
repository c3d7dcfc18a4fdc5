"""Running experiments (``funnelsim.experiment``): plans compared on common random numbers, and
replications added until an interval is narrow enough.

Comparisons pair replications that share their random numbers, so each paired difference has
a narrower interval than the unpaired one; a plan against an unchanged copy of itself differs
by exactly nothing. Precision on demand grows the number of replications until a target
half-width or the cap, and gives exactly what a run of that size gives.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from funnelsim.analysis import paired_difference, unpaired_difference
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
from funnelsim.scenario.load import load_scenario, load_scenarios
from helpers import SCENARIOS

BASELINE = SCENARIOS / "baseline.yaml"
SHORT = ["horizon=13w", "warmup=4w"]
SHORT_OPTIONS = ["--set", "horizon=4w", "--set", "warmup=1w"]


def widths(base: list[float], other: list[float], label: str) -> tuple[float, float]:
    paired = paired_difference(other, base)
    unpaired = unpaired_difference(other, base)
    print(
        f"{label}: difference {paired.mean:.4g}; 95% half-width paired {paired.half_width:.4g}, "
        f"unpaired {unpaired.half_width:.4g}"
    )
    assert paired.mean == pytest.approx(unpaired.mean)
    return paired.half_width, unpaired.half_width


@pytest.mark.slow
@pytest.mark.seed(5)
def test_bundled_comparison_pairs_narrower_than_unpaired(seed: int) -> None:
    """Inbound-heavy against outbound-heavy: each source draws its arrivals, fits and odds
    from the same streams in both plans, so part of a replication's noise cancels. Upstream
    (leads, MQLs) the pairing tightens the interval; downstream the two plans' very different
    SDR teams (3 against 8) decorrelate the queues, and pairing buys little there.

    The gain upstream is modest (about a quarter of the half-width): it takes 24 replications
    for the estimated widths to show it on any seed (with 8, paired and unpaired widths cross on
    about one seed in three)."""
    plans = [
        load_scenario(SCENARIOS / f, SHORT) for f in ("inbound-heavy.yaml", "outbound-heavy.yaml")
    ]
    base, other = compare(plans, 24, seed=seed).per_scenario
    for metric in ("leads_inbound", "mqls"):
        paired, unpaired = widths(base.values(metric), other.values(metric), metric)
        assert paired < unpaired, f"{metric}: paired {paired:.4g}, unpaired {unpaired:.4g}"


@pytest.mark.slow
@pytest.mark.seed(5)
def test_changing_outbound_leaves_inbound_numbers_alone(seed: int) -> None:
    """More outbound effort, nothing else: inbound arrivals are the same leads in both plans,
    so inbound differences come only from what the change does to them, and their intervals
    shrink several-fold: to about a fifth to a third of the unpaired ones over 24 replications
    (the mean wait, heavy-tailed, and all SQLs, outbound ones included, a little less)."""
    plans = load_scenarios(
        [SCENARIOS / "baseline.yaml"],
        SHORT,
        ["More outbound: sources.outbound.contacts_per_month=600"],
    )
    assert [p.name for p in plans] == ["Baseline (balanced)", "More outbound"]
    base, other = compare(plans, 24, seed=seed).per_scenario
    assert base.values("leads_inbound") == other.values("leads_inbound")  # the same leads
    assert base.values("contacts_outbound") != other.values("contacts_outbound")  # the change
    at_most = {"mqls": 0.5, "sqls_inbound": 0.5, "first_touch_wait_mean_h": 0.75, "sqls": 0.6}
    for metric, share in at_most.items():
        paired, unpaired = widths(base.values(metric), other.values(metric), metric)
        assert paired < share * unpaired, (
            f"{metric}: paired {paired:.4g}, unpaired {unpaired:.4g}, at most {share:g} of it"
        )


def compare_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["compare", *args, "-n", "3", "-w", "1", "--json", *SHORT_OPTIONS]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def defined(metrics: dict[str, dict[str, float | None]]) -> set[str]:
    """The metrics whose mean is a number (not null: undefined in every replication)."""
    return {name for name, s in metrics.items() if s["mean"] is not None}


# metrics a baseline year always has: money spent, leads arriving, SDRs working
ALWAYS = {"leads", "leads_inbound", "mqls", "total_cost", "sdr_utilization"}


def test_a_plan_against_an_unchanged_variant_differs_by_exactly_nothing() -> None:
    """Same streams, same plan under another name: every paired difference is zero, in every
    replication, while the plans' own numbers are far from zero."""
    data = compare_json(str(BASELINE), "--variant", "Twin: teams.sdr.headcount=3")
    assert data["baseline"] == "Baseline (balanced)"
    assert list(data["scenarios"]) == ["Baseline (balanced)", "Twin"]
    assert data["replications"] == 3
    twin, differences = data["scenarios"]["Twin"]["metrics"], data["differences"]["Twin"]
    assert set(differences) == set(twin)
    print({m: twin[m]["mean"] for m in sorted(ALWAYS)})
    assert defined(twin) >= ALWAYS
    assert all(twin[m]["mean"] > 0 for m in ALWAYS)
    assert defined(differences) == defined(twin)
    for metric in defined(differences):
        diff = differences[metric]
        assert diff == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}, metric


def test_a_variant_with_more_sdrs_shares_the_same_leads_among_more_people() -> None:
    """``compare FILE --variant`` needs no second file: more SDRs, the same inbound leads
    (common random numbers), each SDR clearly less busy."""
    data = compare_json(str(BASELINE), "--variant", "8 SDRs: teams.sdr.headcount=8")
    assert list(data["scenarios"]) == ["Baseline (balanced)", "8 SDRs"]
    diff = data["differences"]["8 SDRs"]
    print({m: diff[m] for m in ("leads_inbound", "first_touches_per_sdr_week", "sdr_utilization")})
    assert diff["leads_inbound"] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert diff["first_touches_per_sdr_week"]["ci_high"] < 0
    assert diff["sdr_utilization"]["ci_high"] < 0


def test_a_file_and_its_variants_line_up_in_order() -> None:
    """Files first, then each variant of the first file, in the order given."""
    data = compare_json(
        str(BASELINE),
        str(SCENARIOS / "inbound-heavy.yaml"),
        "--variant", "6 SDRs: teams.sdr.headcount=6",
        "--variant", "Bigger list: sources.outbound.contacts_per_month=600; teams.sdr.headcount=6",
    )  # fmt: skip
    names = ["Baseline (balanced)", "Inbound-heavy", "6 SDRs", "Bigger list"]
    assert list(data["scenarios"]) == names
    assert list(data["differences"]) == names[1:]
    # two overrides applied: the bigger list reaches more contacts than 6 SDRs alone
    six, bigger = (data["scenarios"][n]["metrics"]["contacts_outbound"] for n in names[2:])
    assert bigger["mean"] > six["mean"]


def test_compare_needs_two_distinct_plans() -> None:
    runner = CliRunner()
    one = runner.invoke(app, ["compare", str(BASELINE)])
    assert one.exit_code == 2
    assert "at least two" in one.stderr
    same = runner.invoke(app, ["compare", str(BASELINE), str(BASELINE)])
    assert same.exit_code == 2
    assert "names must differ" in same.stderr
    named_as_the_file = runner.invoke(
        app, ["compare", str(BASELINE), "--variant", "Baseline (balanced): teams.sdr.headcount=6"]
    )
    assert named_as_the_file.exit_code == 2
    assert "names must differ" in named_as_the_file.stderr


# -- precision on demand: replications until an interval is narrow enough ---------------------
ERLANG_C = SCENARIOS / "validation" / "erlang-c.yaml"
QUEUE_SHORT = ["horizon=5d", "warmup=1d"]


def test_next_size_follows_the_square_root_law_within_bounds() -> None:
    target = Precision("leads", 1.0, cap=500)
    assert next_size(10, 1.5, target) == 25  # ceil(1.1 * 10 * 2.25)
    assert next_size(10, 3.0, target) == 40  # 99 wanted, at most 4x per round
    assert next_size(10, 1.01, target) == 12  # ceil(11.2): at least the margin
    assert next_size(10, 1.01, target, step=4) == 14  # at least a pool's worth more
    assert next_size(10, math.inf, target) == 20  # undefined yet: double
    assert next_size(400, 2.0, target) == 500  # never beyond the cap


def test_growing_to_a_target_gives_the_fixed_size_result() -> None:
    scenario = load_scenario(ERLANG_C, QUEUE_SHORT)
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
    runner = Runner([load_scenario(ERLANG_C, QUEUE_SHORT)], 2)
    n, half = run_to_precision(runner, 3, Precision("leads", 1e-9, cap=7))
    print(f"stopped at {n} replications, half-width {half:.3g}")
    assert n == 7
    assert half > 1e-9
    assert runner.replications == 7


def test_with_several_scenarios_the_widest_paired_difference_counts() -> None:
    plans = [
        load_scenario(ERLANG_C, [*QUEUE_SHORT, f"teams.sdr.headcount={c}"]) for c in (10, 11, 12)
    ]
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
