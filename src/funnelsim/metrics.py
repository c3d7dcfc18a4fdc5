"""Per-replication KPIs, derived from the records of one run and the scenario's prices.

Two ways of counting, as a budget review reads them:

* **Handoff quality** (first-touch waits, SLA attainment, expiry) follows the cohort of leads
  handed off in the measured period, so every lead is judged on its own clock.
* **Funnel volumes, money and costs** count what happened in the measured period: MQLs made,
  SQLs qualified, deals won and revenue booked between its start and end, against the spend
  and people cost of the same period.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from funnelsim import economics
from funnelsim.calendar import month_bounds
from funnelsim.records import Kind, Outcome, RunRecords, TaskKind, Team
from funnelsim.scenario.schema import InboundSource, OutboundSource, Scenario, Staff
from funnelsim.staffing import HOURS_PER_YEAR, Ramp, Seat, seat_hours


@dataclass(frozen=True)
class MetricInfo:
    unit: str
    description: str
    better: Literal["higher", "lower"] | None = None  # which way a plan is better; None: neither


def _m(unit: str, description: str) -> MetricInfo:
    return MetricInfo(unit, description)


METRICS: dict[str, MetricInfo] = {
    "leads": _m("leads", "Inbound leads that arrived and outbound leads engaged."),
    "leads_inbound": _m("leads", "Inbound leads that arrived."),
    "leads_outbound": _m("leads", "Outbound contacts reached in a conversation: the outbound "
                         "counterpart of a lead that came in."),
    "contacts_outbound": _m("contacts", "Outbound contacts loaded from target lists."),
    "contacts_not_loaded": _m(
        "contacts", "Contacts a list would have loaded had its market not run dry (every contact "
        "in a sequence, resting, or in the pipeline)."
    ),
    "mqls": _m("leads", "Leads that became marketing qualified (MQL)."),
    "sals": _m("leads", "MQLs accepted by sales at first touch (SAL)."),
    "sqls": _m("leads", "Sales-qualified leads (SQL): inbound leads qualified in a call, "
               "outbound contacts qualified in a held meeting."),
    "sqls_inbound": _m("leads", "SQLs from inbound."),
    "sqls_outbound": _m("leads", "SQLs from outbound (meetings held and qualified)."),
    "meetings_booked": _m("meetings", "Meetings booked by outbound prospecting."),
    "meetings_held": _m("meetings", "Booked meetings the contact showed up to."),
    "opportunities": _m("opportunities", "Opportunities opened by AEs (SQLs they accepted)."),
    "deals_won": _m("deals", "Opportunities won."),
    "deals_won_inbound": _m("deals", "Deals won from inbound."),
    "deals_won_outbound": _m("deals", "Deals won from outbound."),
    "new_arr": _m("money", "New annual recurring revenue: the contract value (ACV) of deals won "
                  "in the period."),
    "revenue": _m("money", "Subscription revenue recognised in the period: every customer won "
                  "so far (warm-up included) paying ARR/12 a month, with expansion and churn as "
                  "expected values."),
    "revenue_inbound": _m("money", "Revenue recognised from customers won from inbound."),
    "revenue_outbound": _m("money", "Revenue recognised from customers won from outbound."),
    "gross_profit": _m("money", "Revenue recognised x gross margin."),
    "pipeline_value": _m("money", "Deal value at stake in opportunities opened."),
    "ltv": _m("money", "Lifetime value of deals won: expected gross profit over "
              "economics.lifetime, with expansion and churn."),
    "sales_cycle_days_mean": _m("days", "Mean time from opportunity to won deal."),
    "rate_inquiry_to_mql": _m("share", "Cohort: inbound leads that arrived in the period and "
                              "became MQLs by the end of the run."),
    "rate_mql_to_sal": _m("share", "Cohort: MQLs of the period accepted by sales at first touch "
                          "(SAL) by the end of the run."),
    "rate_mql_to_sql": _m("share", "Cohort: MQLs of the period that became SQLs by the end of "
                          "the run."),
    "rate_sql_to_opportunity": _m("share", "Cohort: SQLs of the period accepted by an AE as "
                                  "opportunities by the end of the run."),
    "rate_opportunity_to_won": _m("share", "Cohort: opportunities opened in the period and won "
                                  "by the end of the run (open ones count as not won)."),
    "rate_meeting_held": _m("share", "Cohort: outbound meetings booked in the period that were "
                            "held (1 - no-show rate)."),
    "days_mql_to_sql_mean": _m("days", "Mean calendar time from MQL to SQL, over the SQLs of "
                               "the period's MQLs."),
    "days_sql_to_opportunity_mean": _m("days", "Mean calendar time from SQL to opportunity, "
                                       "over the opportunities of the period's SQLs."),
    "first_touch_waited_share": _m(
        "share", "Handed-off leads that waited at all for a first touch (expired included)."
    ),
    "first_touch_wait_mean_h": _m(
        "hours", "Mean calendar time from handoff to first touch, over touched leads."
    ),
    "first_touch_wait_p90_h": _m("hours", "90th percentile of the time to first touch."),
    "sla_first_touch_attainment": _m(
        "share",
        "Handed-off leads first touched within the SLA; expired leads, and leads still "
        "waiting past their deadline at the end, are misses; leads whose deadline is after "
        "the end are left out.",
    ),
    "sla_batch_qualified_by_deadline": _m(
        "share", "Batch leads with a sales decision by the batch deadline."
    ),
    "batch_fit_promise_met_share": _m(
        "share", "Batches whose share of good-fit leads met the promise."
    ),
    "expired_share": _m("share", "MQLs lost untouched when patience ran out."),
    "leads_lost_untouched": _m("leads", "Leads lost untouched (expired)."),
    "leads_unreachable": _m("leads", "Leads and contacts never reached after every attempt."),
    "attempts_per_lead_mean": _m(
        "attempts", "Contact attempts per inbound lead accepted by sales and decided in the "
        "period (the first touch is attempt 1)."
    ),
    "decay_at_first_touch_mean": _m(
        "multiplier", "Mean odds multiplier of leads at their first touch (1: no decay)."
    ),
    "sdr_utilization": _m("share", "Share of SDR working hours spent working."),
    "ae_utilization": _m("share", "Share of AE working hours spent working."),
    "ae_quota_attainment_share": _m(
        "share", "AEs on the team and ramped through the whole period whose revenue won (each "
        "deal credited to the AE who worked its last stage) reached their quota for the period."
    ),
    "pipeline_coverage": _m(
        "ratio", "Open pipeline (deal value of open opportunities) at the start of each calendar "
        "quarter in the period, over that quarter's quota (AEs on the team x their "
        "productivity then x a quarter of the yearly quota); the mean over those quarters."
    ),
    "queue_length_mean": _m("leads", "Time-average number of leads waiting for a first touch."),
    "first_touches_per_sdr_week": _m("touches", "First touches started per SDR per week."),
    "sdr_hours_per_sql_inbound": _m("hours", "SDR working hours on inbound per inbound SQL."),
    "sdr_hours_per_sql_outbound": _m("hours", "SDR working hours on outbound per outbound SQL."),
    "sqls_per_sdr_month": _m("leads", "SQLs (qualified meetings) per SDR per month (average "
                             "SDR headcount of the period)."),
    "new_arr_per_ae_year": _m("money", "New ARR per AE per year (average AE headcount of the "
                              "period): what an AE closes, to hold against quota."),
    "spend_marketing": _m("money", "Channel spend and channel costs."),
    "cost_people": _m("money", "Fully loaded cost of SDRs, AEs, their first-line managers, "
                      "marketing people, and sales and marketing leadership and operations."),
    "cost_commissions": _m("money", "Commissions: economics.commission x new ARR."),
    "cost_tools": _m("money", "Sales tools per SDR and AE seat."),
    "total_cost": _m("money", "Sales and marketing cost: spend, outbound programs, people, "
                     "commissions and tools."),
    "planned_cost_monthly": _m("money", "The plan's cost per month known before the run: "
                               "channel spend, programs, tools and loaded headcount as planned "
                               "(no commissions, no random departures)."),
    "cost_per_lead": _m("money", "Cost of generating leads (spend, marketing people, outbound "
                        "programs and SDR prospecting time) per lead."),
    "cost_per_lead_inbound": _m("money", "Channel spend and marketing people per inbound lead."),
    "cost_per_lead_outbound": _m(
        "money", "Outbound program cost and SDR prospecting time per outbound lead (contact "
        "reached)."
    ),
    "cost_per_sql": _m("money", "Total cost per SQL."),
    "cost_per_sql_inbound": _m("money", "Inbound sources' cost (their spend, and the rep time, "
                               "marketing people and commissions their leads took) per inbound "
                               "SQL."),
    "cost_per_sql_outbound": _m("money", "Outbound sources' cost per outbound SQL."),
    "cac": _m("money", "Customer acquisition cost: sales and marketing cost per deal won."),
    "cac_ratio": _m("ratio", "Sales and marketing cost per $1 of new ARR."),
    "cac_payback_months": _m("months", "Months of gross profit on the new ARR that pay back the "
                             "period's sales and marketing cost: total cost / (new ARR x gross "
                             "margin / 12)."),
    "ltv_to_cac": _m("ratio", "Lifetime value of the deals won over the period's sales and "
                     "marketing cost."),
}  # fmt: skip

# Which way is better, for the probability that one plan beats another (``compare
# --uncertainty``): more of the funnel, money and promises kept; less cost, waiting and loss.
# Utilisation, attempts and contacts loaded are neither: too little idles people, too much
# queues leads.
_LOWER = {
    "contacts_not_loaded", "sales_cycle_days_mean", "days_mql_to_sql_mean",
    "days_sql_to_opportunity_mean", "first_touch_waited_share", "first_touch_wait_mean_h",
    "first_touch_wait_p90_h", "expired_share", "leads_lost_untouched", "leads_unreachable",
    "queue_length_mean", "sdr_hours_per_sql_inbound", "sdr_hours_per_sql_outbound",
    "spend_marketing", "total_cost", "planned_cost_monthly", "cac", "cac_ratio",
    "cac_payback_months",
}  # fmt: skip
_NEITHER = {"contacts_outbound", "attempts_per_lead_mean", "sdr_utilization", "ae_utilization"}
METRICS = {
    name: replace(
        info,
        better=(
            None
            if name in _NEITHER
            else "lower"
            if name in _LOWER or name.startswith("cost_")
            else "higher"
        ),
    )
    for name, info in METRICS.items()
}


def _share(mask: np.ndarray, of: np.ndarray) -> float:
    return float(np.count_nonzero(mask & of) / np.count_nonzero(of)) if of.any() else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _in(times: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return (times >= t0) & (times < t1)


def _prorate(start: float, end: float, t0: float, t1: float) -> float:
    """Share of [start, end) that lies in the window [t0, t1)."""
    return max(0.0, min(end, t1) - max(start, t0)) / (end - start) if end > start else 0.0


def seat_business_hours(seat_b: np.ndarray, b0: float, b1: float) -> float:
    """Working hours seats were on the team in the window: the time they could work."""
    if not len(seat_b):
        return 0.0
    return float(
        np.sum(np.clip(np.minimum(seat_b[:, 1], b1) - np.maximum(seat_b[:, 0], b0), 0, None))
    )


def _quota(records: RunRecords, scenario: Scenario) -> tuple[float, float]:
    """AE quota attainment and pipeline coverage (nan without an AE quota). Each AE is held to
    the quota of their team (a further AE team without one: that of ``teams.ae``)."""
    ae = scenario.teams.ae
    if ae is None or ae.quota is None:
        return math.nan, math.nan
    leads, tasks = records.leads, records.tasks
    t0, t1 = records.window
    quota: dict[str, float] = {}
    ramp: dict[str, Ramp] = {}  # the teams whose new hires ramp up
    for name, team in scenario.teams.of_role("ae"):
        quota[name] = getattr(team, "quota", None) or ae.quota
        if team.ramp is not None:
            ramp[name] = Ramp(team.ramp.start, team.ramp.over.hours)
    seats = list(zip(records.ae_seats, records.ae_seat_team, strict=True))
    # each deal won in the period is credited to the AE who worked its last stage
    won = np.flatnonzero(leads.won & _in(leads.closed_h, t0, t1))
    stage = np.flatnonzero((tasks.team == Team.AE) & (tasks.kind == TaskKind.AE_STAGE))
    last = {int(tasks.lead[i]): int(tasks.rep[i]) for i in stage[np.argsort(tasks.end_h[stage])]}
    closed = np.zeros(len(seats))
    for lead in won.tolist():
        if lead in last:  # a deal of the starting state past its last stage has no AE
            closed[last[lead]] += leads.deal_value[lead]
    years = (t1 - t0) / HOURS_PER_YEAR
    ramped = [
        (rep, team)
        for rep, (seat, team) in enumerate(seats)
        if seat.joined_h <= t0
        and seat.left_h >= t1
        and (seat.ramped or team not in ramp or seat.joined_h + ramp[team].hours <= t0)
    ]
    at_quota = sum(bool(closed[rep] >= quota[team] * years) for rep, team in ramped)
    attained = _ratio(at_quota, len(ramped))
    # open pipeline at each quarter's start, against the quarter's quota of the teams then
    starts, _ = month_bounds(scenario.origin, records.end_h)
    first = scenario.origin.month - 1  # the calendar month of starts[0], from 0
    quarters = [t for m, t in enumerate(starts.tolist()) if (first + m) % 3 == 0 and t0 <= t < t1]
    coverage = []
    for t in quarters:
        is_open = (leads.opp_h <= t) & ~(leads.closed_h <= t)
        pipeline = float(np.nansum(leads.pipeline_value[is_open]))
        due = sum(
            quota[team] / 4 * (ramp[team].productivity(seat, t) if team in ramp else 1.0)
            for seat, team in seats
            if seat.active(t)
        )
        coverage.append(_ratio(pipeline, due))
    return attained, float(np.mean(coverage)) if coverage else math.nan


def _people_cost(records: RunRecords, scenario: Scenario) -> tuple[float, float]:
    """What the SDR-role and AE-role teams cost over the measured period: each seat at its
    team's annual cost, for the time it was on the team."""
    t0, t1 = records.window

    def cost(teams: list[tuple[str, Staff]], seats: list[Seat], names: tuple[str, ...]) -> float:
        return sum(
            team.annual_cost
            * seat_hours([s for s, of in zip(seats, names, strict=True) if of == name], t0, t1)
            / HOURS_PER_YEAR
            for name, team in teams
        )

    teams = scenario.teams
    return (
        cost(teams.of_role("sdr"), records.sdr_seats, records.sdr_seat_team),
        cost(teams.of_role("ae"), records.ae_seats, records.ae_seat_team),
    )


STAGES = (
    "leads", "mqls", "sals", "sqls", "opportunities", "deals_won", "new_arr",
    "rate_inquiry_to_mql", "rate_mql_to_sal", "rate_mql_to_sql", "rate_sql_to_opportunity",
    "rate_opportunity_to_won", "days_mql_to_sql_mean", "days_sql_to_opportunity_mean",
)  # fmt: skip


def stages(records: RunRecords, within: np.ndarray | None = None) -> dict[str, float]:
    """The funnel's stages as a RevOps dashboard reads them (``STAGES``), over the leads
    ``within`` (default: all): each stage's volume in the period, and each stage's cohort of the
    period with the share of it that reached the next stage by the end of the run."""
    leads = records.leads
    t0, t1 = records.window
    mine = np.ones(len(leads.lead), dtype=bool) if within is None else within
    inbound = (leads.kind == Kind.INBOUND) & mine
    new = (leads.entry < 0) & mine  # the starting state arrived before the simulation
    arrived = _in(leads.arrival_h, t0, t1) & new
    opened = _in(leads.opp_h, t0, t1) & new
    mqls = _in(leads.mql_h, t0, t1) & inbound
    sqls = _in(leads.sql_h, t0, t1) & mine
    won = leads.won & _in(leads.closed_h, t0, t1) & mine
    engaged = (leads.kind == Kind.OUTBOUND) & _in(leads.connected_h, t0, t1) & mine

    def reached(stage_h: np.ndarray) -> np.ndarray:
        return np.asarray(~np.isnan(stage_h))

    to_sql = (leads.sql_h - leads.mql_h)[mqls & reached(leads.sql_h)] / 24.0
    to_opp = (leads.opp_h - leads.sql_h)[sqls & reached(leads.opp_h)] / 24.0
    return {
        "leads": float(np.count_nonzero(arrived & inbound) + np.count_nonzero(engaged)),
        "mqls": float(np.count_nonzero(_in(leads.mql_h, t0, t1) & mine)),
        "sals": float(np.count_nonzero(_in(leads.sal_h, t0, t1) & mine)),
        "sqls": float(np.count_nonzero(sqls)),
        "opportunities": float(np.count_nonzero(opened)),
        "deals_won": float(np.count_nonzero(won)),
        "new_arr": float(np.nansum(leads.deal_value[won])),
        "rate_inquiry_to_mql": _share(reached(leads.mql_h), arrived & inbound),
        "rate_mql_to_sal": _share(reached(leads.sal_h), mqls),
        "rate_mql_to_sql": _share(reached(leads.sql_h), mqls),
        "rate_sql_to_opportunity": _share(reached(leads.opp_h), sqls),
        "rate_opportunity_to_won": _share(leads.won, opened),
        "days_mql_to_sql_mean": float(to_sql.mean()) if to_sql.size else math.nan,
        "days_sql_to_opportunity_mean": float(to_opp.mean()) if to_opp.size else math.nan,
    }


@dataclass(frozen=True)
class Costs:
    """Sales and marketing cost of the measured period, and each source's share of it.

    Each source carries its own spend and programs, the rep time spent on its leads (each role's
    cost, managers and tools included, split by the working hours its leads took), marketing's
    people in proportion to its MQLs (inbound sources), and the commissions on its new ARR.
    ``generating`` is the part that produced the leads: spend, programs, marketing people and
    prospecting time.
    """

    spend: float  # inbound channels' spend and costs
    programs: float  # outbound lists and tools
    people: float  # loaded SDRs, AEs and their managers, marketing people
    commissions: float
    tools: float
    by_source: list[float]  # in the order of RunRecords.source_names
    generating: list[float]

    @property
    def total(self) -> float:
        return self.spend + self.programs + self.people + self.commissions + self.tools


def costs(records: RunRecords, scenario: Scenario) -> Costs:
    """What the period cost, in total and source by source (``Costs``)."""
    leads, tasks = records.leads, records.tasks
    t0, t1 = records.window
    b0, b1 = records.window_b
    econ = scenario.economics
    names = records.source_names
    arrived = _in(leads.arrival_h, t0, t1) & (leads.entry < 0)
    won = leads.won & _in(leads.closed_h, t0, t1)
    starts, ends = month_bounds(scenario.origin, records.end_h)
    own = np.zeros(len(names))
    spend = programs = 0.0
    for index, name in enumerate(names):
        source = scenario.sources[name]
        for m, (start, end) in enumerate(zip(starts, ends, strict=True)):
            share = _prorate(start, end, t0, t1)
            if isinstance(source, InboundSource):
                monthly = source.spend.for_month(m, scenario.origin) if source.spend else 0.0
                own[index] += share * (monthly + source.monthly_cost)
            else:
                own[index] += share * source.monthly_cost
        if isinstance(source, OutboundSource):
            loaded = arrived & (leads.source == index) & (leads.outcome != Outcome.NOT_LOADED)
            own[index] += source.cost_per_contact * float(np.count_nonzero(loaded))
            programs += own[index]
        else:
            spend += own[index]
    # people: each role's loaded cost with its managers, by working hours on each source's leads
    sdr_cost, ae_cost = _people_cost(records, scenario)
    seat_years = [
        seat_hours(records.sdr_seats, t0, t1) / HOURS_PER_YEAR,
        seat_hours(records.ae_seats, t0, t1) / HOURS_PER_YEAR,
    ]
    per_manager = econ.manager_annual_cost / econ.manager_span if econ.manager_span else 0.0
    role_cost = [
        sdr_cost + (per_manager + econ.tools_per_head) * seat_years[0],
        ae_cost + (per_manager + econ.tools_per_head) * seat_years[1],
    ]
    source_of_task = leads.source[tasks.lead]
    prospecting = np.zeros(len(names))
    by_source = own.copy()
    for role in (Team.SDR, Team.AE):
        hours = np.array(
            [tasks.busy_hours(role, b0, b1, source_of_task == i) for i in range(len(names))]
        )
        if hours.sum() > 0:
            by_source += role_cost[role] * hours / hours.sum()
            if role == Team.SDR:
                prospecting = role_cost[role] * hours / hours.sum()
    marketing = economics.marketing_people_annual(scenario) * (t1 - t0) / HOURS_PER_YEAR
    mqls = np.array(
        [
            np.count_nonzero(_in(leads.mql_h, t0, t1) & (leads.source == i))
            for i in range(len(names))
        ],
        dtype=float,
    )
    inbound = np.array([isinstance(scenario.sources[n], InboundSource) for n in names])
    weights = mqls if mqls.sum() > 0 else inbound.astype(float)
    marketing_share = marketing * weights / weights.sum() if weights.sum() > 0 else 0.0 * weights
    commissions = np.array(
        [econ.commission * float(np.nansum(leads.deal_value[won & (leads.source == i)]))
         for i in range(len(names))]
    )  # fmt: skip
    by_source += marketing_share + commissions
    # leadership and operations serve every source: shared in proportion to the rest
    leadership = econ.leadership_annual * (t1 - t0) / HOURS_PER_YEAR
    if by_source.sum() > 0:
        by_source += leadership * by_source / by_source.sum()
    generating = own + marketing_share + np.where(inbound, 0.0, prospecting)
    tools = econ.tools_per_head * (seat_years[0] + seat_years[1])
    return Costs(
        spend=spend,
        programs=programs,
        people=sdr_cost
        + ae_cost
        + per_manager * (seat_years[0] + seat_years[1])
        + marketing
        + leadership,
        commissions=float(commissions.sum()),
        tools=tools,
        by_source=by_source.tolist(),
        generating=generating.tolist(),
    )


def compute(records: RunRecords, scenario: Scenario) -> dict[str, float]:
    """All KPIs of one replication, in the order of ``METRICS``."""
    leads, tasks = records.leads, records.tasks
    t0, t1 = records.window
    b0, b1 = records.window_b
    inbound = leads.kind == Kind.INBOUND
    outbound = leads.kind == Kind.OUTBOUND
    out: dict[str, float] = {}

    # -- volumes in the period
    new = leads.entry < 0  # the starting state arrived before the simulation
    arrived = _in(leads.arrival_h, t0, t1) & new
    opened = _in(leads.opp_h, t0, t1) & new
    sql = _in(leads.sql_h, t0, t1)
    won = leads.won & _in(leads.closed_h, t0, t1)
    out.update(stages(records))
    out["leads_inbound"] = float(np.count_nonzero(arrived & inbound))
    out["leads_outbound"] = out["leads"] - out["leads_inbound"]
    dry = leads.outcome == Outcome.NOT_LOADED
    out["contacts_outbound"] = float(np.count_nonzero(arrived & outbound & ~dry))
    out["contacts_not_loaded"] = float(np.count_nonzero(arrived & dry))
    out["sqls_inbound"] = float(np.count_nonzero(sql & inbound))
    out["sqls_outbound"] = float(np.count_nonzero(sql & outbound))
    out["deals_won_inbound"] = float(np.count_nonzero(won & inbound))
    out["deals_won_outbound"] = float(np.count_nonzero(won & outbound))
    out["pipeline_value"] = float(np.nansum(leads.pipeline_value[opened]))
    cycle = (leads.closed_h - leads.opp_h)[won] / 24.0
    out["sales_cycle_days_mean"] = float(cycle.mean()) if cycle.size else math.nan
    out["meetings_booked"] = float(np.count_nonzero(_in(leads.booked_h, t0, t1)))
    out["meetings_held"] = float(np.count_nonzero(_in(leads.held_h, t0, t1)))
    out["rate_meeting_held"] = _share(~np.isnan(leads.held_h), _in(leads.booked_h, t0, t1))

    # -- the handoff, on the cohort of handoffs in the period (a lead back from nurture is
    # handed off, and judged, again)
    h = records.handoffs
    handed = _in(h.handoff_h, t0, t1)
    touched = handed & ~np.isnan(h.touch_start_h)
    gone = ~np.isnan(h.expired_h)
    wait = h.wait_h
    waited = handed & (~touched | (wait > 0))
    undecided = np.isnan(h.touch_start_h) & ~gone & (h.sla_deadline_h > records.end_h)
    waits = wait[touched]
    out["first_touch_waited_share"] = _share(waited, handed)
    out["first_touch_wait_mean_h"] = float(waits.mean()) if waits.size else math.nan
    out["first_touch_wait_p90_h"] = float(np.quantile(waits, 0.9)) if waits.size else math.nan
    out["sla_first_touch_attainment"] = _share(h.sla_met, handed & ~undecided)
    batch = handed & (h.batch >= 0)
    decided = h.decision_h <= h.qualify_by_h
    pending = np.isnan(h.decision_h) & (h.qualify_by_h > records.end_h)
    out["sla_batch_qualified_by_deadline"] = _share(decided, batch & ~pending)
    released = records.batches["release_h"]
    sizes = records.batches["size"]
    in_period = _in(released, t0, t1) & (sizes > 0)
    met = records.batches["good_fit"] >= records.batches["promised_share"] * sizes - 1e-9
    out["batch_fit_promise_met_share"] = _share(met, in_period)
    # over MQLs: under a batch policy some expire in marketing's pool, never handed off
    expired = ~np.isnan(leads.expired_h)
    out["expired_share"] = _share(expired, _in(leads.mql_h, t0, t1) & inbound)
    out["leads_lost_untouched"] = float(np.count_nonzero(_in(leads.expired_h, t0, t1)))
    unreachable = leads.outcome == Outcome.UNREACHABLE
    out["leads_unreachable"] = float(np.count_nonzero(unreachable & _in(leads.decision_h, t0, t1)))
    worked = inbound & (leads.accepted == 1) & _in(leads.decision_h, t0, t1)
    out["attempts_per_lead_mean"] = (
        float(leads.attempts[worked].mean()) if worked.any() else math.nan
    )
    out["decay_at_first_touch_mean"] = float(h.decay[touched].mean()) if touched.any() else math.nan

    # -- rep time
    sdr_available = seat_business_hours(records.sdr_seat_b, b0, b1)
    sdr_busy = tasks.busy_hours(0, b0, b1)
    out["sdr_utilization"] = _ratio(sdr_busy, sdr_available)
    ae_available = seat_business_hours(records.ae_seat_b, b0, b1)
    out["ae_utilization"] = _ratio(tasks.busy_hours(1, b0, b1), ae_available)
    out["ae_quota_attainment_share"], out["pipeline_coverage"] = _quota(records, scenario)
    out["queue_length_mean"] = records.queue.time_average(t0, t1)
    weeks = (t1 - t0) / 168.0
    first_touches = float(np.count_nonzero(_in(leads.touch_start_h, t0, t1) & inbound))
    headcount = seat_hours(records.sdr_seats, t0, t1) / (t1 - t0)  # average over the period
    out["first_touches_per_sdr_week"] = _ratio(first_touches, weeks * headcount)
    prospect = np.isin(tasks.kind, (TaskKind.PROSPECT, TaskKind.MEETING))  # outbound work
    sdr_in = tasks.busy_hours(0, b0, b1, ~prospect)
    sdr_out = tasks.busy_hours(0, b0, b1, prospect)
    out["sdr_hours_per_sql_inbound"] = _ratio(sdr_in, out["sqls_inbound"])
    out["sdr_hours_per_sql_outbound"] = _ratio(sdr_out, out["sqls_outbound"])

    # -- money: subscriptions, and what selling cost
    econ = scenario.economics
    acv = np.nan_to_num(leads.deal_value)
    customers = leads.won & (leads.closed_h < t1)  # warm-up deals pay in the period too
    revenue = np.zeros(len(acv))
    revenue[customers] = economics.recognised(
        econ, acv[customers], leads.kind[customers], leads.closed_h[customers], t0, t1
    )
    out["new_arr"] = float(np.sum(acv[won]))
    out["revenue"] = float(np.sum(revenue))
    out["revenue_inbound"] = float(np.sum(revenue[inbound]))
    out["revenue_outbound"] = float(np.sum(revenue[outbound]))
    out["gross_profit"] = econ.gross_margin * out["revenue"]
    out["ltv"] = float(np.nansum(leads.ltv[won]))
    cost = costs(records, scenario)
    out["spend_marketing"] = cost.spend
    out["cost_people"] = cost.people
    out["cost_commissions"] = cost.commissions
    out["cost_tools"] = cost.tools
    out["total_cost"] = cost.total
    out["planned_cost_monthly"] = economics.planned_cost_monthly(scenario)
    kinds = [scenario.sources[name].kind for name in records.source_names]
    cost_in = sum(c for c, k in zip(cost.by_source, kinds, strict=True) if k == "inbound")
    cost_out = cost.total - cost_in
    gen = cost.generating
    gen_in = sum(c for c, k in zip(gen, kinds, strict=True) if k == "inbound")
    out["cost_per_lead"] = _ratio(sum(gen), out["leads"])
    out["cost_per_lead_inbound"] = _ratio(gen_in, out["leads_inbound"])
    out["cost_per_lead_outbound"] = _ratio(sum(gen) - gen_in, out["leads_outbound"])
    out["cost_per_sql"] = _ratio(out["total_cost"], out["sqls"])
    out["cost_per_sql_inbound"] = _ratio(cost_in, out["sqls_inbound"])
    out["cost_per_sql_outbound"] = _ratio(cost_out, out["sqls_outbound"])
    out["cac"] = _ratio(out["total_cost"], out["deals_won"])
    out["cac_ratio"] = _ratio(out["total_cost"], out["new_arr"])
    out["cac_payback_months"] = _ratio(out["total_cost"], out["new_arr"] * econ.gross_margin / 12)
    out["ltv_to_cac"] = _ratio(out["ltv"], out["total_cost"])
    years = (t1 - t0) / HOURS_PER_YEAR
    ae_headcount = seat_hours(records.ae_seats, t0, t1) / (t1 - t0)
    out["new_arr_per_ae_year"] = _ratio(out["new_arr"], ae_headcount * years)
    out["sqls_per_sdr_month"] = _ratio(out["sqls"], headcount * years * 12)
    return {name: out[name] for name in METRICS}


def weekly(records: RunRecords) -> dict[str, np.ndarray]:
    """Week-by-week series over the measured period: stage counts, queue and utilisation."""
    leads, tasks = records.leads, records.tasks
    edges, edges_b = records.weeks_h, records.weeks_b

    def count(times: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        selected = times if mask is None else times[mask]
        return np.histogram(selected[~np.isnan(selected)], bins=edges)[0].astype(float)

    inbound = leads.kind == Kind.INBOUND
    series: dict[str, np.ndarray] = {
        "week_start_h": edges[:-1],
        "leads_inbound": count(leads.arrival_h, inbound),
        "contacts_outbound": count(leads.arrival_h, ~inbound),
        "mqls": count(leads.mql_h),
        "sqls": count(leads.sql_h),
        "opportunities": count(leads.opp_h),
        "deals_won": count(leads.closed_h, leads.won),
        "new_arr": np.histogram(
            leads.closed_h[leads.won], bins=edges, weights=leads.deal_value[leads.won]
        )[0],
        "leads_lost_untouched": count(leads.expired_h),
        "queue_length_mean": np.array(
            [records.queue.time_average(a, b) for a, b in itertools.pairwise(edges)]
        ),
        "open_opportunities_mean": np.array(
            [records.open_opportunities.time_average(a, b) for a, b in itertools.pairwise(edges)]
        ),
    }
    for team, name, seat_b in ((0, "sdr", records.sdr_seat_b), (1, "ae", records.ae_seat_b)):
        busy, available = [], []
        for ba, bb in itertools.pairwise(edges_b):
            busy.append(tasks.busy_hours(team, ba, bb))
            available.append(seat_business_hours(seat_b, ba, bb))
        series[f"{name}_utilization"] = np.array(
            [_ratio(x, y) for x, y in zip(busy, available, strict=True)]
        )
    return series
