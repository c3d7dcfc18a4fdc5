"""The bundled plans against the plausibility bands of docs/domain.md (``funnelsim.bands``).

A bundled scenario's outputs, not only its inputs, must look like the market: stage rates,
meeting no-shows, SDR and AE output, CAC ratio and payback. Each plan runs a full year on its
own seed; a metric lands inside its band when its 99% confidence interval meets the band (the
model cannot be told apart from it at 99%), and the table of every figure is printed. A plan may
sit outside a band only where its ``outside_bands`` says why. The inputs a band covers (gross
margin, churn, net revenue retention) are checked as given. And the two flagship plans cost the
same, as planned, within 1%.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from funnelsim.analysis import summarise
from funnelsim.bands import BANDS, INPUT_BANDS
from funnelsim.economics import planned_cost_monthly
from funnelsim.experiment import run_replications
from funnelsim.scenario.load import load_scenario
from funnelsim.scenario.ranges import ranges_of
from funnelsim.scenario.schema import Scenario
from helpers import SCENARIOS

REPLICATIONS = 10
BUNDLED = sorted(p.name for p in SCENARIOS.glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("name", BUNDLED)
def test_a_bundled_plan_lands_inside_every_band(name: str) -> None:
    spec = load_scenario(SCENARIOS / name)
    assert spec.seed is not None
    runs = run_replications(spec, REPLICATIONS, spec.seed)
    outside = []
    print(f"\n{spec.name}: {REPLICATIONS} replications, seed {spec.seed}, 99% CIs")
    for metric, band in BANDS.items():
        s = summarise(runs.values(metric), level=0.99)
        meets = s.ci_low <= band.high and s.ci_high >= band.low
        excused = spec.outside_bands.get(metric)
        mark = "in" if meets else ("outside, on purpose" if excused else "OUTSIDE")
        print(f"  {metric:24s} {s.mean:12.4g} [{s.ci_low:10.4g}, {s.ci_high:10.4g}]  band "
              f"[{band.low:g}, {band.high:g}] ({band.source}, {band.grade}): {mark}")  # fmt: skip
        if not meets and not excused:
            outside.append(metric)
    assert not outside, f"{name}: outside the bands of docs/domain.md: {outside}"


@pytest.mark.parametrize("name", BUNDLED)
def test_a_bundled_plans_inputs_sit_inside_their_bands(name: str) -> None:
    spec = load_scenario(SCENARIOS / name)
    econ = spec.economics
    margin = INPUT_BANDS["economics.gross_margin"]
    assert margin.holds(econ.gross_margin), f"gross margin {econ.gross_margin}"
    for kind in ("inbound", "outbound"):
        churn = getattr(econ.churn_annual, kind)
        expansion = getattr(econ.expansion_annual, kind)
        nrr = (1 + expansion) * (1 - churn)
        print(f"{name} {kind}: churn {churn:.0%}, net revenue retention {nrr:.3f}")
        assert INPUT_BANDS["economics.churn_annual"].holds(churn), f"{kind} churn {churn}"
        assert INPUT_BANDS["net_revenue_retention"].holds(nrr), f"{kind} NRR {nrr:.3f}"


def _plan(name: str) -> Scenario:
    return load_scenario(Path(SCENARIOS / name))


def test_the_flagship_plans_cost_the_same_as_planned() -> None:
    inbound = planned_cost_monthly(_plan("inbound-heavy.yaml"))
    outbound = planned_cost_monthly(_plan("outbound-heavy.yaml"))
    print(f"planned cost per month: inbound-heavy {inbound:,.0f}, outbound-heavy {outbound:,.0f}")
    assert abs(outbound - inbound) <= 0.01 * inbound


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_number_says_where_it_comes_from(name: str) -> None:
    """Each number written as a number carries a grade, and a range unless it is the plan's own
    decision (grade A, "the plan"); numbers inside lists and weight maps take no range."""
    found = ranges_of(load_scenario(SCENARIOS / name))
    ungraded = [path for path, r in found.items() if r.grade is None]
    unranged = [path for path, r in found.items() if not r.has_range and r.source != "the plan"]
    print(f"{name}: {len(found)} numbers with a grade; without a range: {unranged}")
    assert len(found) >= 100
    assert not ungraded, ungraded
    assert not unranged, unranged
