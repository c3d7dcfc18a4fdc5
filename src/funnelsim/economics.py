"""Money as a CFO reads it: subscriptions recognised over time, and what selling costs.

A won deal's value is its annual contract value (ACV): new ARR on the day it closes. From then
on the customer pays ARR/12 a month; its ARR grows with expansion at the yearly rate ``e`` and
it stays a customer with the yearly logo-churn rate ``c``, both continuously, so the expected
revenue per year at age ``a`` (years) is

    ACV * exp(r * a),    r = ln(1 + e) + ln(1 - c)

Revenue recognised in a window is its integral over the part of the window after the close;
lifetime value is gross margin times that integral over ``lifetime`` from the close. Both are
expectations over churn, not one drawn fate per customer: churn and expansion move the mean
revenue, not its spread. ``planned_cost_monthly`` is what a plan costs before anything is
simulated: channel spend, programs, tools and loaded headcount as planned (no commissions,
which depend on outcomes; no random departures).
"""

from __future__ import annotations

import math

import numpy as np

from funnelsim.calendar import hours_between, month_bounds
from funnelsim.records import FloatArray, Kind
from funnelsim.scenario.schema import (
    Economics,
    InboundSource,
    OutboundSource,
    Scenario,
    Staff,
)
from funnelsim.staffing import HOURS_PER_YEAR, seat_hours, seats_from_plan


def growth_rates(economics: Economics) -> tuple[float, float]:
    """The continuous yearly growth of expected ARR, for inbound and for outbound customers."""

    def rate(kind: str) -> float:
        churn = getattr(economics.churn_annual, kind)
        expansion = getattr(economics.expansion_annual, kind)
        return math.log1p(expansion) + (math.log1p(-churn) if churn < 1 else -math.inf)

    return rate("inbound"), rate("outbound")


def _integral(rate: FloatArray, a0: FloatArray, a1: FloatArray) -> FloatArray:
    """The integral of exp(rate * a) da from a0 to a1 (ages in years)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        grown = (np.exp(rate * a1) - np.exp(rate * a0)) / rate
    flat = np.abs(rate) < 1e-12
    return np.where(flat, a1 - a0, np.nan_to_num(grown, nan=0.0))


def _rates(economics: Economics, kind: np.ndarray) -> FloatArray:
    inbound, outbound = growth_rates(economics)
    return np.where(kind == Kind.INBOUND, inbound, outbound)


def recognised(
    economics: Economics,
    acv: FloatArray,
    kind: np.ndarray,
    closed_h: FloatArray,
    t0: float,
    t1: float,
) -> FloatArray:
    """Each customer's expected subscription revenue recognised in [t0, t1) (hours)."""
    a0 = np.maximum(t0 - closed_h, 0.0) / HOURS_PER_YEAR
    a1 = np.maximum(t1 - closed_h, 0.0) / HOURS_PER_YEAR
    return acv * _integral(_rates(economics, kind), a0, a1)


def lifetime_value(economics: Economics, acv: FloatArray, kind: np.ndarray) -> FloatArray:
    """Each customer's expected gross profit over ``economics.lifetime`` from its close."""
    years = np.full(len(acv), economics.lifetime.hours / HOURS_PER_YEAR)
    return economics.gross_margin * acv * _integral(_rates(economics, kind), 0.0 * years, years)


def overhead_per_seat_year(economics: Economics) -> float:
    """What each SDR or AE seat costs beyond its loaded salary, per year: a share of a
    first-line manager, and tools."""
    managers = (
        economics.manager_annual_cost / economics.manager_span if economics.manager_span else 0
    )
    return managers + economics.tools_per_head


def planned_cost_monthly(scenario: Scenario) -> float:
    """The plan's cost per month over the measured period, known before the run: channel spend
    and costs, outbound programs (every planned contact loaded), loaded headcount as the hiring
    plans say (managers and tools included), marketing people. No commissions."""
    t0 = scenario.warmup_hours
    t1 = t0 + scenario.horizon_hours
    months = (t1 - t0) / (HOURS_PER_YEAR / 12)
    starts, ends = month_bounds(scenario.origin, t1)
    total = 0.0
    for source in scenario.sources.values():
        for m, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            share = max(0.0, min(end, t1) - max(start, t0)) / (end - start)
            if isinstance(source, InboundSource):
                spend = source.spend.for_month(m, scenario.origin) if source.spend else 0.0
                total += share * (spend + source.monthly_cost)
            elif isinstance(source, OutboundSource):
                total += share * (
                    source.monthly_cost + source.cost_per_contact * source.contacts_per_month
                )
    overhead = overhead_per_seat_year(scenario.economics)
    teams: list[tuple[str, Staff]] = [
        *scenario.teams.of_role("sdr"),
        *scenario.teams.of_role("ae"),
    ]
    for _, team in teams:
        changes = [(hours_between(scenario.origin, h.at), h.change) for h in team.hiring]
        hours = seat_hours(seats_from_plan(team.headcount, changes, t1), t0, t1)
        total += (team.annual_cost + overhead) * hours / HOURS_PER_YEAR
    people = marketing_people_annual(scenario) + scenario.economics.leadership_annual
    total += people * (t1 - t0) / HOURS_PER_YEAR
    return total / months


def marketing_people_annual(scenario: Scenario) -> float:
    """Marketing's people per year: programs and scoring, and enablement (collateral)."""
    m = scenario.marketing
    if m is None:
        return 0.0
    enablement = m.enablement
    extra = enablement.headcount * enablement.annual_cost_per_head if enablement else 0.0
    return m.headcount * m.annual_cost_per_head + extra
