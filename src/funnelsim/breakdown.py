"""The funnel by source, by segment and by team: what a RevOps dashboard shows per group.

The headline metrics (``funnelsim.metrics``) add every lead up; a dashboard also splits the
stages (inquiry -> MQL -> SAL -> SQL -> opportunity -> won, as volumes of the period and as
cohort rates) by where leads came from and which segment they are in, and shows each team's
load and output: its people, how busy they were, what they cost, and the SQLs, opportunities,
deals and new ARR of the leads it worked (any task on them in the period; a lead worked by an
SDR team and an AE team counts for both). A team gets no cohort rates: the leads it works are
chosen by how far they got. Each source also shows its cost (``funnelsim.metrics.Costs``) per
MQL, SQL and deal.
"""

from __future__ import annotations

import math

import numpy as np

from funnelsim.metrics import METRICS, STAGES, costs, seat_business_hours, stages
from funnelsim.records import RunRecords, Team
from funnelsim.scenario.schema import Scenario
from funnelsim.staffing import HOURS_PER_YEAR, seat_hours

GROUPINGS = ("source", "segment", "team")
TEAM_METRICS = {
    "headcount_mean": ("people", "People on the team, on average over the period."),
    "utilization": ("share", "Share of the team's working hours spent working."),
    "cost_people": ("money", "Fully loaded cost of the team's people in the period."),
    "leads_worked": ("leads", "Leads and contacts the team worked on in the period."),
}
TEAM_STAGES = ("sqls", "opportunities", "deals_won", "new_arr")
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
    """The stages by source, by segment and by team, and each team's load, of one replication."""
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
    return out


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
            out[name] = {
                "headcount_mean": on_team / (t1 - t0),
                "utilization": busy / there if there > 0 else math.nan,
                "cost_people": team.annual_cost * on_team / HOURS_PER_YEAR,
                "leads_worked": float(np.count_nonzero(worked)),
                **{metric: figures[metric] for metric in TEAM_STAGES},
            }
    return out


def metrics_of(grouping: str) -> tuple[str, ...]:
    """The metrics a grouping reports, in order."""
    if grouping == "team":
        return (*TEAM_METRICS, *TEAM_STAGES)
    return (*STAGES, *SOURCE_COSTS) if grouping == "source" else STAGES
