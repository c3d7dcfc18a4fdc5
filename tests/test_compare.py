"""Comparing plans on common random numbers: paired differences and their intervals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from funnelsim.analysis import paired_difference, unpaired_difference
from funnelsim.cli import app
from funnelsim.experiment import compare
from funnelsim.scenario.load import load_scenario
from helpers import SCENARIOS

SHORT = ["horizon=13w", "warmup=4w"]


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
    base, other = compare(plans, 8, seed=5).batches
    for metric in ("leads_inbound", "mqls"):
        paired, unpaired = widths(base.values(metric), other.values(metric), metric)
        assert paired < 0.8 * unpaired


@pytest.mark.slow
def test_changing_outbound_leaves_inbound_numbers_alone(tmp_path: Path) -> None:
    """More outbound effort, nothing else: inbound arrivals are the same leads in both plans,
    so inbound differences come only from what the change does to them."""
    text = (SCENARIOS / "baseline.yaml").read_text()
    more = tmp_path / "more-outbound.yaml"
    more.write_text(
        text.replace("name: Baseline (balanced)", "name: More outbound").replace(
            "contacts_per_month: 400", "contacts_per_month: 600"
        )
    )
    plans = [load_scenario(SCENARIOS / "baseline.yaml", SHORT), load_scenario(more, SHORT)]
    base, other = compare(plans, 8, seed=5).batches
    assert base.values("leads_inbound") == other.values("leads_inbound")  # the same leads
    for metric in ("mqls", "sqls_inbound", "first_touch_wait_mean_h", "sqls"):
        paired, unpaired = widths(base.values(metric), other.values(metric), metric)
        assert paired < 0.5 * unpaired


def test_a_plan_against_itself_differs_by_exactly_nothing(tmp_path: Path) -> None:
    """Same streams, same plan: every paired difference is zero, in every replication."""
    text = (SCENARIOS / "baseline.yaml").read_text()
    twin = tmp_path / "twin.yaml"
    twin.write_text(text.replace("name: Baseline (balanced)", "name: Twin"))
    result = CliRunner().invoke(
        app,
        ["compare", str(SCENARIOS / "baseline.yaml"), str(twin), "-n", "3", "--json",
         "--set", "horizon=4w", "--set", "warmup=1w"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["baseline"] == "Baseline (balanced)"
    assert set(data["scenarios"]) == {"Baseline (balanced)", "Twin"}
    assert data["replications"] == 3
    differences = data["differences"]["Twin"]
    assert set(differences) == set(data["scenarios"]["Twin"]["metrics"])
    for metric, diff in differences.items():
        if diff["mean"] is not None:
            assert diff["mean"] == 0.0, metric
            assert diff["ci_low"] == diff["ci_high"] == 0.0, metric


def test_compare_needs_two_distinct_plans(tmp_path: Path) -> None:
    runner = CliRunner()
    one = runner.invoke(app, ["compare", str(SCENARIOS / "baseline.yaml")])
    assert one.exit_code == 2
    assert "at least two" in one.stderr
    same = runner.invoke(
        app, ["compare", str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "baseline.yaml")]
    )
    assert same.exit_code == 2
    assert "names must differ" in same.stderr


def test_paired_difference_by_hand() -> None:
    diff = paired_difference([11.0, 12.0, 14.0], [10.0, 10.0, 11.0])  # differences 1, 2, 3
    assert diff.mean == pytest.approx(2.0)
    half = 4.302652729749464 * 1.0 / math.sqrt(3)  # t(0.975, 2) x sd 1 / sqrt(3)
    assert diff.half_width == pytest.approx(half)
