"""Metrics (``funnelsim.metrics``): a replication's KPIs, worked out by hand on a tiny
deterministic week, and the shape of what ``compute`` returns.

One SDR works Monday to Friday 09:00-17:00 for the week from Monday 5 January 2026 (no
warm-up); a first touch takes exactly 1 hour, the SLA is 1 business hour, and the funnel ends
at the first touch. Five leads arrive:

    A  Mon 09:00  touched 09:00-10:00  waited 0      deadline Mon 10:00  met
    B  Mon 09:30  touched 10:00-11:00  waited 0.5 h  deadline Mon 10:30  met
    C  Mon 09:45  touched 11:00-12:00  waited 1.25 h deadline Mon 10:45  missed
    E  Fri 16:30  touched 16:30-(Mon)  waited 0      deadline Mon 09:30  met (half an hour of
                  its touch falls in the week, the rest after the run's end)
    D  Sat 10:00  still waiting when the run ends at Mon 12 00:00; its deadline (Mon 10:00) is
                  after the end, so the SLA leaves it out
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from funnelsim import metrics
from funnelsim.model.run import simulate
from helpers import scenario

ARRIVALS = ["2026-01-05 09:00", "2026-01-05 09:30", "2026-01-05 09:45", "2026-01-09 16:30",
            "2026-01-10 10:00"]  # fmt: skip
SDR_COST_PER_HOUR = 10.0


def week() -> dict[str, Any]:
    return {
        "name": "metrics by hand",
        "start": "2026-01-05 00:00",
        "horizon": "1w",
        "warmup": "0d",
        "seed": 1,
        "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00-17:00"]},
        "sources": {"web": {"kind": "inbound", "arrivals": {"at": ARRIVALS}}},
        "handoff": {"first_touch_sla": "1bh"},
        "teams": {
            "sdr": {
                "headcount": 1,
                "annual_cost": SDR_COST_PER_HOUR * metrics.HOURS_PER_YEAR,
                "first_touch_time": {"dist": "constant", "value": "1h"},
            }
        },
    }


@pytest.fixture(scope="module")
def kpi() -> dict[str, float]:
    spec = scenario(week())
    return metrics.compute(simulate(spec, seed=1), spec)


EXPECTED = {
    "leads": 5,
    "leads_inbound": 5,
    "leads_outbound": 0,
    "contacts_outbound": 0,
    "mqls": 5,  # no marketing section: every inbound lead is an MQL on arrival
    "sqls": 0,
    "rate_mql_to_sql": 0.0,  # the cohort of 5 MQLs: none an SQL
    "first_touch_waited_share": 3 / 5,  # B, C, and D (never touched)
    "first_touch_wait_mean_h": (0 + 0.5 + 1.25 + 0) / 4,  # A, B, C, E
    "sla_first_touch_attainment": 3 / 4,  # A, B and E of A, B, C and E
    "expired_share": 0.0,
    "leads_lost_untouched": 0,
    "decay_at_first_touch_mean": 1.0,  # no decay curve
    "sdr_utilization": 3.5 / 40,  # A, B, C and half an hour of E, of five 8-hour days
    "queue_length_mean": (0.5 + 1.25 + 38) / 168,  # B, C, and D from Sat 10:00 to the end
    "first_touches_per_sdr_week": 4,
    "cost_people": 168 * SDR_COST_PER_HOUR,  # one SDR on the team all week
    "total_cost": 168 * SDR_COST_PER_HOUR,
    "spend_marketing": 0.0,
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_week_worked_out_by_hand(kpi: dict[str, float], name: str) -> None:
    assert kpi[name] == pytest.approx(EXPECTED[name], rel=1e-12, abs=1e-12), (
        f"{name}: {kpi[name]}, by hand {EXPECTED[name]}"
    )


def test_undefined_ratios_are_nan_not_zero(kpi: dict[str, float]) -> None:
    """No SQL, no deal: the cost of one is undefined, not free."""
    for name in ("cost_per_sql", "cac", "cac_ratio", "cac_payback_months", "sales_cycle_days_mean"):
        assert math.isnan(kpi[name]), f"{name}: {kpi[name]}, expected nan"


def test_every_metric_is_computed_in_the_documented_order(kpi: dict[str, float]) -> None:
    assert list(kpi) == list(metrics.METRICS)
