"""Plausibility bands: where a sound plan's outputs land, as published benchmarks put them.

The bands of ``docs/domain.md`` as data, by metric. A bundled scenario must land inside each of
them or say why not in its ``outside_bands`` map (``tests/test_bands.py``); a report may mark a
figure that falls outside. A band is a sanity check on the model and its numbers, not a target:
a plan outside one is either unusual, or its mechanics or numbers are wrong.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    what: str  # the row of docs/domain.md
    source: str
    grade: str

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


BANDS: dict[str, Band] = {
    "rate_inquiry_to_mql": Band(0.10, 0.40, "inquiry -> MQL", "glossaries (HubSpot, First Page "
                                "Sage via vendors)", "C"),
    "rate_mql_to_sal": Band(0.40, 0.90, "MQL -> SAL", "SiriusDecisions ~42% of raw MQLs; "
                            "higher with good scoring", "C"),
    "rate_mql_to_sql": Band(0.13, 0.60, "MQL -> SQL", "glossaries", "C"),
    "rate_sql_to_opportunity": Band(0.40, 0.80, "SQL -> opportunity", "glossaries", "C"),
    "rate_opportunity_to_won": Band(0.15, 0.35, "opportunity -> won", "glossaries", "C"),
    "rate_meeting_held": Band(0.65, 0.80, "cold-booked meeting no-show 20-35%",
                              "vendor benchmarks 2025-26", "C"),
    "sqls_per_sdr_month": Band(12.0, 25.0, "qualified meetings per SDR per month (outbound "
                               "12-15, inbound 20-25)", "vendor benchmarks 2026", "C"),
    "new_arr_per_ae_year": Band(500_000.0, 1_000_000.0, "AE quota: new ARR per ramped AE per "
                                "year", "Bridge Group AE reports", "C"),
    "pipeline_coverage": Band(3.0, 4.0, "pipeline coverage (open pipeline at a quarter's start "
                              "over its quota)", "Bridge Group AE reports; sales-ops practice",
                              "C"),
    "cac_ratio": Band(1.3, 2.0, "CAC ratio (S&M cost per $1 of new ARR)",
                      "KBCM 2019 (~1.3); Benchmarkit 2025 (2.0)", "B"),
    "cac_payback_months": Band(12.0, 24.0, "CAC payback (months of gross profit)",
                               "OpenView; Benchmarkit 2025 (18)", "B"),
}  # fmt: skip
"""Bands on simulated metrics (``funnelsim.metrics``)."""

INPUT_BANDS: dict[str, Band] = {
    "economics.gross_margin": Band(0.72, 0.81, "SaaS gross margin", "KBCM SaaS survey, "
                                   "OpenView", "B"),
    "economics.churn_annual": Band(0.07, 0.10, "annual logo churn, B2B SaaS (median)",
                                   "SaaS Capital", "B"),
    "net_revenue_retention": Band(1.00, 1.15, "net revenue retention", "KBCM", "B"),
}  # fmt: skip
"""Bands on a scenario's own numbers (net revenue retention: (1 + expansion) x (1 - churn))."""
