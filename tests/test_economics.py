"""Economics a CFO recognises (``funnelsim.economics``, the money in ``funnelsim.metrics``).

* **One subscription by hand.** A single deal closes at a known instant; its new ARR, the
  revenue recognised, gross profit, commission, CAC ratio, payback and lifetime value are
  computed here from first principles (a numerical integral of ARR x expansion x survival) and
  must equal the metrics.
* **Every dollar is somebody's.** The sources' costs add up to the total cost.
* **The plan's cost** (``planned_cost_monthly``) by hand on a tiny plan.
* **The article's levers move outcomes:** enablement people raise deals won; the feedback loop's
  bar moves sales acceptance towards its target (paired CIs on common random numbers).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.integrate import quad

from funnelsim import economics, metrics
from funnelsim.analysis import excludes_zero, paired_difference
from funnelsim.experiment import run_replications
from funnelsim.model.run import simulate
from funnelsim.staffing import HOURS_PER_YEAR
from helpers import bundled, scenario

ACV, MARGIN, CHURN, EXPANSION, COMMISSION = 50_000.0, 0.8, 0.10, 0.20, 0.12
AE_COST = 100_000.0
HORIZON_D = 200


def one_deal() -> dict[str, Any]:
    """One open opportunity at hour 0, two deterministic stages, won for sure: it closes at
    1h + 5d + 3h + 10d, on a 24/7 calendar, by the only AE."""
    return {
        "name": "one subscription",
        "start": "2026-01-05 00:00",
        "horizon": f"{HORIZON_D}d",
        "segments": {"mid": {"deal_size": {"mean": ACV}, "win_rate": 1.0}},
        "sources": {
            "web": {"kind": "inbound", "arrivals": {"at": ["2027-01-01 00:00"]}},
        },
        "handoff": {"first_touch_sla": "1h"},
        "teams": {
            "sdr": {"headcount": 1, "first_touch_time": {"dist": "constant", "value": "5m"}},
            "ae": {
                "headcount": 1,
                "annual_cost": AE_COST,
                "stages": [
                    {"name": "discovery", "work": {"dist": "constant", "value": "1h"},
                     "delay": "5d"},
                    {"name": "proposal", "work": {"dist": "constant", "value": "3h"},
                     "delay": "10d"},
                ],
            },
        },
        "economics": {
            "gross_margin": MARGIN,
            "churn_annual": {"inbound": CHURN, "outbound": 0.0},
            "expansion_annual": {"inbound": EXPANSION, "outbound": 0.0},
            "commission": COMMISSION,
            "lifetime": "104w",
        },
        "initial": {"open_opportunities": [{"source": "web", "count": 1, "stage": "discovery"}]},
    }  # fmt: skip


def expected_arr(age_years: float) -> float:
    """ARR a customer of this age is expected to pay at: expansion compounding, survival by
    yearly churn."""
    return ACV * (1 + EXPANSION) ** age_years * (1 - CHURN) ** age_years


def test_one_subscription_by_hand() -> None:
    spec = scenario(one_deal())
    records = simulate(spec, seed=1)
    got = metrics.compute(records, spec)
    closed = 1 + 5 * 24 + 3 + 10 * 24
    leads = records.leads
    assert leads.won.sum() == 1
    assert leads.closed_h[leads.won][0] == pytest.approx(closed)
    t1 = HORIZON_D * 24.0
    revenue, _ = quad(lambda h: expected_arr(h / HOURS_PER_YEAR) / HOURS_PER_YEAR, 0, t1 - closed)
    ltv, _ = quad(lambda y: MARGIN * expected_arr(y), 0, 104 * 7 * 24 / HOURS_PER_YEAR)
    cost = AE_COST * t1 / HOURS_PER_YEAR + COMMISSION * ACV  # the AE's year, and commission
    want = {
        "new_arr": ACV,
        "revenue": revenue,
        "gross_profit": MARGIN * revenue,
        "ltv": ltv,
        "cost_commissions": COMMISSION * ACV,
        "total_cost": cost,
        "cac": cost,
        "cac_ratio": cost / ACV,
        "cac_payback_months": cost / (ACV * MARGIN / 12),
        "ltv_to_cac": ltv / cost,
    }
    for name, value in want.items():
        print(f"{name:20s} metric {got[name]:14.4f}  by hand {value:14.4f}")
        assert got[name] == pytest.approx(value, rel=1e-9), name


@pytest.mark.seed(4)
def test_the_sources_costs_add_up_to_the_total(seed: int) -> None:
    spec = scenario(bundled("baseline.yaml"), "horizon=13w")
    records = simulate(spec, seed=seed)
    cost = metrics.costs(records, spec)
    print(f"total {cost.total:,.0f}; by source {[round(c) for c in cost.by_source]}")
    assert sum(cost.by_source) == pytest.approx(cost.total, rel=1e-12)
    assert all(c > 0 for c in cost.by_source)
    # the lead-generating part is inside each source's cost
    assert all(g <= c + 1e-6 for g, c in zip(cost.generating, cost.by_source, strict=True))


def test_the_plans_cost_by_hand() -> None:
    data = one_deal()
    data["sources"]["web"]["spend"] = {"monthly": 1000.0}
    data["sources"]["web"]["monthly_cost"] = 200.0
    data["sources"]["web"]["response"] = {"curve": "hill", "leads_at_saturation": 10,
                                          "half_saturation": 1000}  # fmt: skip
    del data["sources"]["web"]["arrivals"]
    data["teams"]["sdr"]["annual_cost"] = 60_000.0
    data["economics"].update(manager_span=2, manager_annual_cost=120_000.0, tools_per_head=2400.0)
    data["economics"]["leadership_annual"] = 24_000.0
    spec = scenario(data)
    months = HORIZON_D * 24 / (HOURS_PER_YEAR / 12)
    # spend and channel cost: the months of the run, pro rata (Jan 5 to Jul 24, 2026)
    days = [27, 28, 31, 30, 31, 30, 23]  # days of each calendar month inside the run
    in_month = [31, 28, 31, 30, 31, 30, 31]
    channel = sum(1200.0 * d / m for d, m in zip(days, in_month, strict=True))
    people = (
        (60_000 + 100_000 + 2 * (120_000 / 2 + 2400) + 24_000) * HORIZON_D * 24 / HOURS_PER_YEAR
    )
    want = (channel + people) / months
    got = economics.planned_cost_monthly(spec)
    print(f"planned cost per month {got:,.2f}, by hand {want:,.2f}")
    assert got == pytest.approx(want, rel=1e-9)


REPLICATIONS = 8


@pytest.mark.seed(21)
def test_enablement_people_win_more_deals(seed: int) -> None:
    data = bundled("baseline.yaml")
    for team in ("sdr", "ae"):
        data["teams"][team].pop("availability", None)
    spec = ("horizon=26w", "warmup=8w")
    base = run_replications(scenario(data, *spec), REPLICATIONS, seed)
    data["marketing"]["enablement"] = {"headcount": 2, "annual_cost_per_head": 120000,
                                       "collateral_per_head": 0.3}  # fmt: skip
    enabled = run_replications(scenario(data, *spec), REPLICATIONS, seed)
    diff = paired_difference(enabled.values("deals_won"), base.values("deals_won"))
    cost = paired_difference(enabled.values("cost_people"), base.values("cost_people"))
    print(f"deals won, 2 enablement people - none: {diff.mean:.1f} [{diff.ci_low:.1f}, "
          f"{diff.ci_high:.1f}]; people cost {cost.mean:,.0f}")  # fmt: skip
    assert excludes_zero(diff)
    assert diff.mean > 0
    assert cost.mean == pytest.approx(2 * 120000 * 26 * 7 * 24 / HOURS_PER_YEAR, rel=1e-9)


@pytest.mark.seed(22)
def test_the_feedback_bar_moves_acceptance_towards_its_target(seed: int) -> None:
    data = bundled("baseline.yaml")
    spec = ("horizon=26w", "warmup=8w", "marketing.feedback_acceptance_target=0.97")
    still = run_replications(scenario(data, *spec), REPLICATIONS, seed)
    moving = run_replications(
        scenario(data, *spec, "marketing.feedback_threshold_step=0.002"), REPLICATIONS, seed
    )
    diff = paired_difference(moving.values("rate_mql_to_sal"), still.values("rate_mql_to_sal"))
    before = float(np.mean(still.values("rate_mql_to_sal")))
    after = float(np.mean(moving.values("rate_mql_to_sal")))
    print(f"MQL -> SAL: bar still {before:.3f}, bar moving {after:.3f}; difference "
          f"{diff.mean:.3f} [{diff.ci_low:.3f}, {diff.ci_high:.3f}]")  # fmt: skip
    assert excludes_zero(diff)
    assert diff.mean > 0  # fewer misfits pass the bar: sales accepts more of what it gets
    assert after <= 0.97 + 0.02  # towards the target, not past it
    assert not math.isnan(after)
