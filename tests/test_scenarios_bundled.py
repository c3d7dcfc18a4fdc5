"""The bundled plans differ in the directions the domain expects, for reasons the model
produces: nothing below is written into the scenarios as a number to come out again.

* Inbound costs less per lead than outbound (outbound pays for SDR prospecting time).
* Outbound needs more SDR time per SQL (many touches per conversation).
* Inbound is more sensitive to SDR capacity: leads queue and decay when SDRs are short.
* A weekly batch handoff trades conversion for a predictable workload.

Paired comparisons share random numbers (same seed and replications); intervals are 99.9%.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import stdtrit

from funnelsim import metrics
from funnelsim.analysis import summarise
from funnelsim.model.run import simulate
from funnelsim.scenario.load import load_scenario
from helpers import SCENARIOS

pytestmark = pytest.mark.slow
SHORT = ["horizon=26w"]
N = 6


def runs(file: str, *overrides: str) -> list[dict[str, float]]:
    scenario = load_scenario(SCENARIOS / file, [*SHORT, *overrides])
    return [metrics.compute(simulate(scenario, 11, r), scenario) for r in range(N)]


def paired(label: str, values: list[float]) -> tuple[float, float]:
    s = summarise(values, level=0.999)
    print(f"{label}: {s.mean:.4g} [{s.ci_low:.4g}, {s.ci_high:.4g}] (99.9% CI, n={s.n})")
    return s.ci_low, s.ci_high


def test_inbound_costs_less_per_lead_and_outbound_more_sdr_time_per_sql() -> None:
    base = runs("baseline.yaml")
    low, _ = paired(
        "cost per lead, outbound - inbound ($)",
        [m["cost_per_lead_outbound"] - m["cost_per_lead_inbound"] for m in base],
    )
    assert low > 0
    low, _ = paired(
        "SDR hours per SQL, outbound - inbound",
        [m["sdr_hours_per_sql_outbound"] - m["sdr_hours_per_sql_inbound"] for m in base],
    )
    assert low > 0


def elasticity(file: str, headcount: int) -> list[float]:
    """Relative loss of SQLs per relative loss of SDRs, one SDR fewer, paired."""
    fewer = runs(file, f"teams.sdr.headcount={headcount - 1}")
    full = runs(file, f"teams.sdr.headcount={headcount}")
    return [
        ((b["sqls"] - a["sqls"]) / b["sqls"]) * headcount for a, b in zip(fewer, full, strict=True)
    ]


def test_inbound_is_more_sensitive_to_sdr_capacity() -> None:
    inbound = np.array(elasticity("inbound-heavy.yaml", 3))
    outbound = np.array(elasticity("outbound-heavy.yaml", 8))
    paired("SQL elasticity to SDRs, inbound-heavy", list(inbound))
    paired("SQL elasticity to SDRs, outbound-heavy", list(outbound))
    # two plans, two samples: Welch's interval for the difference of their means
    v_in, v_out = inbound.var(ddof=1) / len(inbound), outbound.var(ddof=1) / len(outbound)
    se = math.sqrt(v_in + v_out)
    df = (v_in + v_out) ** 2 / (v_in**2 / (len(inbound) - 1) + v_out**2 / (len(outbound) - 1))
    diff = float(inbound.mean() - outbound.mean())
    low = diff - float(stdtrit(df, 0.9995)) * se
    print(f"inbound - outbound elasticity: {diff:.3f}, 99.9% lower bound {low:.3f} (df {df:.1f})")
    assert low > 0


def test_monday_batch_trades_conversion_for_a_schedule() -> None:
    continuous, batch = runs("baseline.yaml"), runs("monday-batch.yaml")
    low, _ = paired(
        "MQL -> SQL, continuous - batch",
        [
            c["mql_to_sql_rate"] - b["mql_to_sql_rate"]
            for c, b in zip(continuous, batch, strict=True)
        ],
    )
    assert low > 0
    _, high = paired(
        "batch qualified by Wednesday", [b["sla_batch_qualified_by_deadline"] for b in batch]
    )
    assert high < 1
