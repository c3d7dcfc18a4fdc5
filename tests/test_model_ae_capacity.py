"""AEs as a constraint: when the pipeline outgrows the team, AE headcount and ramp-up bind.

Paired comparisons on common random numbers (``funnelsim.analysis.paired_difference``): the
same leads reach the AEs in both plans, so a difference in deals won is the AEs' doing. The
intervals print their numbers. And the quota metrics, by hand on a tiny case.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from funnelsim import metrics
from funnelsim.analysis import excludes_zero, paired_difference
from funnelsim.experiment import run_replications
from funnelsim.model.run import simulate
from helpers import bundled, scenario

REPLICATIONS = 8


def deals(data: dict[str, Any], seed: int, *overrides: str) -> list[float]:
    shorter = ("horizon=26w", "warmup=8w", *overrides)
    return run_replications(scenario(data, *shorter), REPLICATIONS, seed).values("deals_won")


@pytest.mark.seed(5)
def test_halving_the_aes_loses_deals(seed: int) -> None:
    data = bundled("outbound-heavy.yaml")  # the plan whose pipeline keeps its AEs busiest
    data["teams"]["ae"]["hiring"] = []
    for team in ("sdr", "ae"):  # random departures would add their own noise to both plans
        data["teams"][team].pop("availability")
    full = deals(data, seed, "teams.ae.headcount=4")
    half = deals(data, seed, "teams.ae.headcount=2")
    diff = paired_difference(half, full)
    print(f"deals won, 2 AEs - 4 AEs: {diff.mean:.1f} [{diff.ci_low:.1f}, {diff.ci_high:.1f}]")
    assert excludes_zero(diff)
    assert diff.mean < 0


@pytest.mark.seed(6)
def test_a_slow_ramp_loses_deals(seed: int) -> None:
    """One AE and two hires at the start of the period, for the pipeline of the outbound-heavy
    plan: ramping from 20% of a seasoned AE's speed, against at full speed from day one."""
    data = bundled("outbound-heavy.yaml")
    for team in ("sdr", "ae"):  # random departures would bring ramping hires into both plans
        data["teams"][team].pop("availability")
    data["teams"]["ae"]["headcount"] = 1
    data["teams"]["ae"]["hiring"] = [{"at": data["start"], "change": 2}]
    slow = deals(data, seed, "teams.ae.ramp.start=0.2")
    fast = deals(data, seed, "teams.ae.ramp.start=1.0")
    diff = paired_difference(slow, fast)
    print(
        f"deals won, ramp 0.2 - ramp 1.0: {diff.mean:.1f} [{diff.ci_low:.1f}, {diff.ci_high:.1f}]"
    )
    assert excludes_zero(diff)
    assert diff.mean < 0


def one_deal_each(quota: float) -> dict[str, Any]:
    """Two AEs, always at work; two open opportunities of the starting state at their last
    stage, each worth 1,000 and sure to be won; a year long."""
    return {
        "name": "quota",
        "start": "2026-01-01 00:00",
        "horizon": "365d",
        "segments": {"all": {"deal_size": {"mean": 1000}, "win_rate": 1.0}},
        "sources": {"web": {"kind": "inbound", "arrivals": {"at": ["2028-01-01 00:00"]},
                            "fit": {"dist": "constant", "value": 0.5}}},
        "handoff": {"first_touch_sla": "1h"},
        "teams": {
            "sdr": {"headcount": 1, "first_touch_time": {"dist": "constant", "value": "5m"}},
            "ae": {
                "headcount": 2,
                "quota": quota,
                "stages": [{"name": "close", "work": {"dist": "constant", "value": "1h"},
                            "delay": "100d"}],
                "win": {"fit_effect": 0, "collateral_lift": 0},
            },
        },
        "initial": {"open_opportunities": [{"source": "web", "stage": "close", "count": 2}]},
    }  # fmt: skip


@pytest.mark.parametrize(("quota", "attained"), [(900.0, 1.0), (1100.0, 0.0)])
def test_quota_attainment_and_pipeline_coverage_by_hand(quota: float, attained: float) -> None:
    spec = scenario(one_deal_each(quota))
    records = simulate(spec, seed=1)
    found = metrics.compute(records, spec)
    # each AE worked one opportunity's last stage at hour 0 and closed 1,000 on day 100
    assert records.leads.won.sum() == 2
    print(found["ae_quota_attainment_share"], found["pipeline_coverage"])
    assert found["ae_quota_attainment_share"] == attained
    # open pipeline 2,000 on 1 January and 1 April (both won on 11 April, after 100 days),
    # none on 1 July and 1 October; each quarter's quota is 2 AEs x quota / 4
    open_q = 2000 / (quota / 2)
    assert found["pipeline_coverage"] == pytest.approx(np.mean([open_q, open_q, 0, 0]))


def quiet_deal() -> dict[str, Any]:
    """One open opportunity whose buyer goes quiet after 2 hours of discovery and 6 days."""
    data = one_deal_each(1000.0)
    data["teams"]["ae"]["stages"] = [
        {"name": "discovery", "work": {"dist": "constant", "value": "2h"}, "delay": "6d",
         "advance": 0.0},
        {"name": "close", "work": {"dist": "constant", "value": "1h"}, "delay": "1d"},
    ]  # fmt: skip
    data["initial"] = {"open_opportunities": [{"source": "web", "count": 1, "stage": "discovery"}]}
    return data


def test_a_deal_that_does_not_advance_is_closed_lost_after_the_buyers_delay() -> None:
    """An opportunity whose buyer goes quiet after the first stage stays in the pipeline for
    that stage's delay, then is closed lost: exact times on a 24/7 calendar."""
    records = simulate(scenario(quiet_deal()), seed=1)
    leads = records.leads
    opened = np.flatnonzero(~np.isnan(leads.opp_h))
    assert len(opened) == 1
    lead = int(opened[0])
    print(f"closed at {leads.closed_h[lead]} h, won {leads.won[lead]}")
    assert not leads.won[lead]
    assert leads.closed_h[lead] == pytest.approx(2 + 6 * 24)  # the work, then the buyer's delay
    level = records.open_opportunities
    assert level.time_average(0.0, 2 + 6 * 24) == pytest.approx(1.0)  # open all along


def test_a_stale_deal_stays_in_the_pipeline_until_sales_marks_it_lost() -> None:
    """``stale_for``: the quiet deal above stays open 10 days more, still worked by no AE."""
    data = quiet_deal()
    data["teams"]["ae"]["stale_for"] = "10d"
    records = simulate(scenario(data), seed=1)
    lead = int(np.flatnonzero(~np.isnan(records.leads.opp_h))[0])
    closed = records.leads.closed_h[lead]
    print(f"closed lost at {closed} h")
    assert not records.leads.won[lead]
    assert closed == pytest.approx(2 + 6 * 24 + 10 * 24)
    assert records.open_opportunities.time_average(0.0, closed) == pytest.approx(1.0)
    ae_work = records.tasks.team == 1
    assert records.tasks.end_h[ae_work].max() == pytest.approx(2.0)  # no AE works it after
