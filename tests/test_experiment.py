"""Comparing plans on common random numbers: paired differences and their intervals."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from typer.testing import CliRunner

from funnelsim.analysis import paired_difference, unpaired_difference
from funnelsim.cli import app
from funnelsim.experiment import compare
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
def test_bundled_comparison_pairs_narrower_than_unpaired() -> None:
    """Inbound-heavy against outbound-heavy: each source draws its arrivals, fits and odds
    from the same streams in both plans, so part of a replication's noise cancels. Upstream
    (leads, MQLs) the pairing tightens the interval; downstream the two plans' very different
    SDR teams (3 against 8) decorrelate the queues, and pairing buys little there."""
    plans = [
        load_scenario(SCENARIOS / f, SHORT) for f in ("inbound-heavy.yaml", "outbound-heavy.yaml")
    ]
    base, other = compare(plans, 8, seed=5).per_scenario
    for metric in ("leads_inbound", "mqls"):
        paired, unpaired = widths(base.values(metric), other.values(metric), metric)
        assert paired < 0.8 * unpaired


@pytest.mark.slow
def test_changing_outbound_leaves_inbound_numbers_alone() -> None:
    """More outbound effort, nothing else: inbound arrivals are the same leads in both plans,
    so inbound differences come only from what the change does to them."""
    plans = load_scenarios(
        [SCENARIOS / "baseline.yaml"],
        SHORT,
        ["More outbound: sources.outbound.contacts_per_month=600"],
    )
    assert [p.name for p in plans] == ["Baseline (balanced)", "More outbound"]
    base, other = compare(plans, 8, seed=5).per_scenario
    assert base.values("leads_inbound") == other.values("leads_inbound")  # the same leads
    assert base.values("contacts_outbound") != other.values("contacts_outbound")  # the change
    for metric in ("mqls", "sqls_inbound", "first_touch_wait_mean_h", "sqls"):
        paired, unpaired = widths(base.values(metric), other.values(metric), metric)
        assert paired < 0.5 * unpaired


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
    data = compare_json(str(BASELINE), "--variant", "Twin: teams.sdr.headcount=5")
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


def test_paired_difference_by_hand() -> None:
    diff = paired_difference([11.0, 12.0, 14.0], [10.0, 10.0, 11.0])  # differences 1, 2, 3
    assert diff.mean == pytest.approx(2.0)
    half = 4.302652729749464 * 1.0 / math.sqrt(3)  # t(0.975, 2) x sd 1 / sqrt(3)
    assert diff.half_width == pytest.approx(half)
