"""From a told story to records: the columns a run filled, as flat typed arrays.

The story writes each lead's times into typed columns as things happen; this turns them, once
the run is over, into the records everything downstream reads (``funnelsim.records``), adding
what follows from them: SLA deadlines and whether they were met, lifetime values, the queue's
level over time, the business clock's view of every instant metrics need.
"""

from __future__ import annotations

import math

import numpy as np

from funnelsim.calendar import Calendar
from funnelsim.economics import lifetime_value
from funnelsim.model.story import Funnel
from funnelsim.records import (
    FloatArray,
    HandoffLog,
    HandoffRecords,
    LeadRecords,
    Outcome,
    RunRecords,
    TaskLog,
    TaskRecords,
    Team,
    floats,
    ints,
    level_series,
)
from funnelsim.staffing import Seat
from funnelsim.units import Duration


def assemble(funnel: Funnel) -> RunRecords:
    """The records of a funnel whose story has been told to the end of its horizon."""
    p, cal, rules, scenario = funnel.people, funnel.calendar, funnel.rules, funnel.scenario
    sla = scenario.handoff.first_touch_sla
    handoffs = _handoff_records(funnel.handoffs, cal, sla)
    handoff_h = floats(funnel.handoff_h)
    touch_start = floats(funnel.touch_start_h)
    deadline, met = _sla(cal, sla, handoff_h, touch_start)
    deal = floats(funnel.deal_value)
    outcome = ints(funnel.outcome)
    opened = ~np.isnan(floats(funnel.opp_h))
    meeting = floats(funnel.meeting_h)
    booked = ~np.isnan(meeting)
    drawn_deal = floats(funnel.drawn_deal) if funnel.drawn_deal else np.nan
    t0, t1 = scenario.warmup_hours, funnel.end_h
    logs: list[tuple[int, int, TaskLog]] = []
    seats: dict[Team, list[Seat]] = {}
    seat_team: dict[Team, list[str]] = {}
    for role, pools, teams in (
        (Team.SDR, funnel.sdr_teams, rules.sdr_teams),
        (Team.AE, funnel.ae_teams, rules.ae_teams),
    ):
        seats[role], seat_team[role] = [], []
        for pool, team in zip(pools, teams, strict=True):
            logs.append((int(role), len(seats[role]), pool.log))
            seats[role] += pool.seats
            seat_team[role] += [team.name] * len(pool.seats)
    tasks = TaskRecords.from_logs(cal, logs)
    weeks = np.append(np.arange(t0, t1, 168.0), t1)
    return RunRecords(
        leads=LeadRecords(
            lead=np.arange(len(p), dtype=np.int64),
            kind=p.kind,
            source=p.source,
            segment=p.segment,
            arrival_h=floats(funnel.arrival),
            fit=floats(funnel.fit),
            intent=floats(funnel.intent),
            score=floats(funnel.score),
            work_h=p.work_h,
            patience_h=p.patience_h,
            mql_h=floats(funnel.mql_h),
            handoff_h=handoff_h,
            batch=ints(funnel.batch),
            touch_start_h=touch_start,
            touch_end_h=floats(funnel.touch_end_h),
            rep=ints(funnel.rep),
            expired_h=floats(funnel.expired_h),
            sla_deadline_h=deadline,
            sla_met=met,
            decay=floats(funnel.decay),
            accepted=ints(funnel.accepted),
            attempts=ints(funnel.attempts),
            connected_h=floats(funnel.connected_h),
            decision_h=floats(funnel.decision_h),
            qualify_by_h=floats(funnel.deadline_h),
            sal_h=floats(funnel.sal_h),
            booked_h=np.where(booked, floats(funnel.connected_h), np.nan),
            meeting_h=meeting,
            # a no-show is decided at the meeting's very time; a held one after its discovery
            held_h=np.where(
                booked & (meeting < funnel.end_h) & (floats(funnel.decision_h) != meeting),
                meeting,
                np.nan,
            ),
            sql_h=floats(funnel.sql_h),
            opp_h=floats(funnel.opp_h),
            closed_h=floats(funnel.closed_h),
            won=outcome == Outcome.WON,
            deal_value=deal,
            ltv=np.where(
                np.isnan(deal),
                np.nan,
                lifetime_value(scenario.economics, np.nan_to_num(deal), p.kind),
            ),
            pipeline_value=np.where(opened, drawn_deal, np.nan),
            contact=ints(funnel.contact) if len(funnel.contact) else np.full(len(p), -1),
            cycles=ints(funnel.cycles),
            entry=p.entry,
            outcome=outcome,
        ),
        handoffs=handoffs,
        tasks=tasks,
        batches=funnel.batches.freeze(),
        queue=level_series(handoffs.handoff_h, np.fmin(handoffs.touch_start_h, handoffs.expired_h)),
        open_opportunities=funnel.open_opps.series(),
        source_names=p.source_names,
        segment_names=p.segment_names,
        window=(t0, t1),
        window_b=(cal.business_time(t0), cal.business_time(t1)),
        weeks_h=weeks,
        weeks_b=cal.business_time_array(weeks),
        end_h=t1,
        sdr_seats=seats[Team.SDR],
        ae_seats=seats[Team.AE],
        sdr_seat_b=_seat_b(cal, seats[Team.SDR], t1, tasks, Team.SDR),
        ae_seat_b=_seat_b(cal, seats[Team.AE], t1, tasks, Team.AE),
        sdr_seat_team=tuple(seat_team[Team.SDR]),
        ae_seat_team=tuple(seat_team[Team.AE]),
        seed=funnel.seed,
        replication=funnel.replication,
    )


def _handoff_records(log: HandoffLog, calendar: Calendar, sla: Duration) -> HandoffRecords:
    handoff = floats(log.handoff_h)
    touch = floats(log.touch_start_h)
    deadline, met = _sla(calendar, sla, handoff, touch)
    return HandoffRecords(
        lead=ints(log.lead),
        handoff_h=handoff,
        touch_start_h=touch,
        expired_h=floats(log.expired_h),
        decision_h=floats(log.decision_h),
        qualify_by_h=floats(log.qualify_by_h),
        batch=ints(log.batch),
        decay=floats(log.decay),
        sla_deadline_h=deadline,
        sla_met=met,
    )


def _sla(
    calendar: Calendar, sla: Duration, handoff_h: FloatArray, touch_h: FloatArray
) -> tuple[FloatArray, np.ndarray]:
    """First-touch SLA deadlines from handoff times, and whether the touch met them."""
    deadline = calendar.deadline_array(handoff_h, sla)
    return deadline, ~np.isnan(touch_h) & (touch_h <= deadline + 1e-9)


def _seat_b(
    calendar: Calendar, seats: list[Seat], end_h: float, tasks: TaskRecords, team: int
) -> FloatArray:
    """When each seat could work, on the business clock: one row (from, to, rep) per interval
    on the team and not away (past the end: until just after it). A task in hand when a day off
    began or its rep left was finished: that time was worked, so it counts as available too."""
    pieces, reps = [], []
    for rep, seat in enumerate(seats):
        there = seat.available(end_h + 1.0)
        mine = list(there)
        if seat.away or seat.left_h < math.inf:
            worked = (tasks.team == team) & (tasks.rep == rep)
            start, end = tasks.start_h[worked], tasks.end_h[worked]
            lo = np.array([a for a, _ in there] or [math.inf])
            hi = np.array([b for _, b in there] or [math.inf])
            k = np.clip(np.searchsorted(lo, start, side="right") - 1, 0, None)
            spills = ~((start >= lo[k]) & (end <= hi[k]))  # not inside one interval it was there
            for a, b in zip(start[spills].tolist(), end[spills].tolist(), strict=True):
                mine += _outside(a, b, there)
        pieces += mine
        reps += [rep] * len(mine)
    if not pieces:
        return np.zeros((0, 3))
    return np.column_stack([calendar.business_time_array(np.array(pieces)), reps])


def _outside(
    start: float, end: float, there: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The parts of [start, end) outside the sorted, disjoint intervals ``there``."""
    out, at = [], start
    for a, b in there:
        if b <= at:
            continue
        if a >= end:
            break
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < end:
        out.append((at, end))
    return out
