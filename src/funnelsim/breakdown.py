"""The funnel by source, segment, team and first-touch wait: what a RevOps dashboard shows
per group.

The headline metrics (``funnelsim.metrics``) add every lead up; a dashboard also splits the
stages (inquiry -> MQL -> SAL -> SQL -> opportunity -> won, as volumes of the period and as
cohort rates) by where leads came from and which segment they are in, and shows each team's
load and output: its people, how busy they were, what they cost, and the SQLs, opportunities,
deals and new ARR of the leads it worked (any task on them in the period; a lead worked by an
SDR team and an AE team counts for both). A team gets no cohort rates: the leads it works are
chosen by how far they got. Each source also shows its cost (``funnelsim.metrics.Costs``) per
MQL, SQL and deal, and each team where its working hours went (``TIME_SHARES``: the share of
its available hours spent on each kind of work, and idle; they add up to 1).

The wait grouping splits the first touches of the period (the handoffs of the period that were
touched, as ``first_touch_wait_mean_h`` counts them) into bands of how long each waited from
handoff to first touch (``WAIT_EDGES_H``), with how many of them became SQLs by the end of the
run: speed to lead, as a histogram.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from funnelsim.calendar import build_calendar
from funnelsim.metrics import METRICS, STAGES, costs, seat_business_hours, stages
from funnelsim.records import RunRecords, TaskKind, Team
from funnelsim.scenario.schema import Scenario
from funnelsim.staffing import HOURS_PER_YEAR, seat_hours

GROUPINGS = ("source", "segment", "team", "wait")
# where a team's working hours go: each share's task kinds (``time_idle``: the rest, unworked)
TIME_SHARES: dict[str, tuple[TaskKind, ...]] = {
    "time_inbound_follow_up": (TaskKind.FIRST_TOUCH, TaskKind.ATTEMPT),
    "time_qualification": (TaskKind.QUALIFICATION, TaskKind.SQL_REVIEW),
    "time_prospecting": (TaskKind.PROSPECT, TaskKind.MEETING),
    "time_ae_stages": (TaskKind.AE_STAGE,),
}
TEAM_METRICS = {
    "headcount_mean": ("people", "People on the team, on average over the period."),
    "utilization": ("share", "Share of the team's working hours spent working."),
    "time_inbound_follow_up": (
        "share",
        "Share of the team's working hours spent on inbound follow-up: first touches and "
        "further contact attempts.",
    ),
    "time_qualification": (
        "share",
        "Share of the team's working hours spent qualifying: qualification calls, and AEs' "
        "reviews of SQLs.",
    ),
    "time_prospecting": (
        "share",
        "Share of the team's working hours spent on outbound: prospecting touches and the "
        "discovery conversation of held meetings.",
    ),
    "time_ae_stages": (
        "share",
        "Share of the team's working hours spent working opportunities through their stages.",
    ),
    "time_idle": (
        "share",
        "Share of the team's working hours not spent working (1 - utilization).",
    ),
    "cost_people": ("money", "Fully loaded cost of the team's people in the period."),
    "leads_worked": ("leads", "Leads and contacts the team worked on in the period."),
}
TEAM_STAGES = ("sqls", "opportunities", "deals_won", "new_arr")
# bands of the calendar hours from handoff to first touch, [low, high); the last is open
WAIT_EDGES_H = (0.0, 0.25, 1.0, 4.0, 8.0, 24.0, 48.0, 120.0, math.inf)
WAIT_METRICS = ("leads", "sqls")  # first touches in the band, and how many became SQLs


def _hours_text(hours: float) -> str:
    return "0" if hours == 0 else f"{hours * 60:g}m" if hours < 1 else f"{hours:g}h"


# the bands' names, in order: "0-15m", "15m-1h", ..., "48h-120h", "120h+"
WAIT_LABELS = tuple(
    f"{_hours_text(low)}+" if math.isinf(high) else f"{_hours_text(low)}-{_hours_text(high)}"
    for low, high in itertools.pairwise(WAIT_EDGES_H)
)
SOURCE_COSTS = {
    "cost": ("money", "The source's sales and marketing cost (funnelsim.metrics.Costs)."),
    "cost_per_mql": ("money", "The source's cost per MQL of the period."),
    "cost_per_sql": ("money", "The source's cost per SQL of the period."),
    "cost_per_deal": ("money", "The source's cost per deal won in the period."),
}
Key = tuple[str, str, str]  # (grouping, group, metric)


def unit(metric: str) -> str:
    """The unit of a breakdown metric."""
    extra = {**TEAM_METRICS, **SOURCE_COSTS}
    return extra[metric][0] if metric in extra else METRICS[metric].unit


def compute(records: RunRecords, scenario: Scenario) -> dict[Key, float]:
    """The stages by source, by segment and by team, each team's load, and the first touches
    by wait, of one replication."""
    leads = records.leads
    out: dict[Key, float] = {}
    for by, names, column in (
        ("source", records.source_names, leads.source),
        ("segment", records.segment_names, leads.segment),
    ):
        for index, name in enumerate(names):
            for metric, value in stages(records, column == index).items():
                out[by, name, metric] = value
    for name, cost in zip(records.source_names, costs(records, scenario).by_source, strict=True):
        out["source", name, "cost"] = cost
        for metric, of in (("cost_per_mql", "mqls"), ("cost_per_sql", "sqls"),
                           ("cost_per_deal", "deals_won")):  # fmt: skip
            count = out["source", name, of]
            out["source", name, metric] = cost / count if count > 0 else math.nan
    for name, figures in _teams(records, scenario).items():
        for metric, value in figures.items():
            out["team", name, metric] = value
    for name, figures in _waits(records).items():
        for metric, value in figures.items():
            out["wait", name, metric] = value
    return out


def _waits(records: RunRecords) -> dict[str, dict[str, float]]:
    """The period's first touches by wait band (``WAIT_LABELS``), every band present: the
    handoffs of the measured period that were touched (``metrics.compute``'s first-touch
    waits), and those whose lead became an SQL after that handoff (before any later one)."""
    h = records.handoffs
    t0, t1 = records.window
    touched = (h.handoff_h >= t0) & (h.handoff_h < t1) & ~np.isnan(h.touch_start_h)
    # a lead back from nurture is handed off again: its SQL follows its last handoff before it
    order = np.lexsort((h.handoff_h, h.lead))
    same = h.lead[order][1:] == h.lead[order][:-1]
    following = np.full(len(h.lead), np.inf)
    following[order[:-1][same]] = h.handoff_h[order[1:][same]]
    sql_h = records.leads.sql_h[h.lead]
    became = (sql_h >= h.handoff_h) & (sql_h < following)
    band = np.searchsorted(np.asarray(WAIT_EDGES_H[1:-1]), h.wait_h[touched], side="right")
    counts = np.bincount(band, minlength=len(WAIT_LABELS))
    sqls = np.bincount(band[became[touched]], minlength=len(WAIT_LABELS))
    return {
        label: {"leads": float(counts[i]), "sqls": float(sqls[i])}
        for i, label in enumerate(WAIT_LABELS)
    }


def first_touch_sla(scenario: Scenario) -> tuple[float, str]:
    """The scenario's first-touch SLA as hours, and in words, to set against the wait bands:
    calendar time as it is ("4h"); business time as its working hours ("4 business hours"),
    which a lead handed off after hours waits longer than on the calendar."""
    sla = scenario.handoff.first_touch_sla
    if not sla.business:
        return sla.hours, str(sla)
    hours = build_calendar(scenario).business_hours(sla)
    if sla.unit == "bh":
        return hours, f"{hours:g} business hours"
    return hours, f"{sla.amount:g} business day(s), {hours:g} working hours"


def _teams(records: RunRecords, scenario: Scenario) -> dict[str, dict[str, float]]:
    t0, t1 = records.window
    b0, b1 = records.window_b
    tasks = records.tasks
    out: dict[str, dict[str, float]] = {}
    for role, seats, seat_team, seat_b in (
        (Team.SDR, records.sdr_seats, records.sdr_seat_team, records.sdr_seat_b),
        (Team.AE, records.ae_seats, records.ae_seat_team, records.ae_seat_b),
    ):
        teams = scenario.teams.of_role("sdr" if role == Team.SDR else "ae")
        for name, team in teams:
            reps = np.array([rep for rep, of in enumerate(seat_team) if of == name], dtype=int)
            mine = [seats[rep] for rep in reps]
            of_team = np.isin(tasks.rep, reps)
            rows_in = (tasks.team == role) & of_team & (tasks.start_h >= t0) & (tasks.start_h < t1)
            busy = tasks.busy_hours(role, b0, b1, of_team)
            there = seat_business_hours(seat_b[np.isin(seat_b[:, 2], reps)], b0, b1)
            worked = np.zeros(len(records.leads.lead), dtype=bool)
            worked[tasks.lead[rows_in]] = True
            figures = stages(records, worked)
            on_team = seat_hours(mine, t0, t1)
            shares = {  # of the hours the team could work, as utilization counts them
                metric: _of(tasks.busy_hours(role, b0, b1, of_team & np.isin(tasks.kind, kinds)),
                            there)
                for metric, kinds in TIME_SHARES.items()
            }  # fmt: skip
            out[name] = {
                "headcount_mean": on_team / (t1 - t0),
                "utilization": _of(busy, there),
                **shares,
                "time_idle": 1 - _of(busy, there),
                "cost_people": team.annual_cost * on_team / HOURS_PER_YEAR,
                "leads_worked": float(np.count_nonzero(worked)),
                **{metric: figures[metric] for metric in TEAM_STAGES},
            }
    return out


def _of(part: float, whole: float) -> float:
    return part / whole if whole > 0 else math.nan


def metrics_of(grouping: str) -> tuple[str, ...]:
    """The metrics a grouping reports, in order."""
    if grouping == "team":
        return (*TEAM_METRICS, *TEAM_STAGES)
    if grouping == "wait":
        return WAIT_METRICS
    return (*STAGES, *SOURCE_COSTS) if grouping == "source" else STAGES
