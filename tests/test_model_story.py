"""The lead's story (``funnelsim.model.story``): exact traces on tiny deterministic funnels,
checked to the minute.

Every scenario works Monday to Friday 09:00-17:00 from Monday 5 January 2026 (some with
Wednesday 7 January a holiday), with constant work times and probabilities of 0 or 1, so that
every time below can be worked out by hand from the rules in ``funnelsim.model.story`` (the
lead's story) and ``funnelsim.model.pool`` (who works what, when). The hand computations are
written next to each expectation.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from funnelsim import metrics
from funnelsim.model.assembly import assemble
from funnelsim.model.run import simulate
from funnelsim.model.story import Funnel
from funnelsim.records import Outcome, RunRecords, TaskKind
from helpers import scenario

START = dt.datetime(2026, 1, 5)  # Monday
WEEKDAYS_9_TO_5 = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00-17:00"]}
MINUTE = 1 / 60
FIRST_TOUCH, ATTEMPT = TaskKind.FIRST_TOUCH, TaskKind.ATTEMPT
QUALIFICATION, PROSPECT = TaskKind.QUALIFICATION, TaskKind.PROSPECT


def at(text: str) -> dt.datetime:
    """'Mon 2026-01-12 09:00' -> a datetime; the weekday is checked, to catch typos."""
    moment = dt.datetime.strptime(text, "%a %Y-%m-%d %H:%M")
    assert moment.strftime("%a") == text[:3], f"{text}: wrong weekday"
    return moment


def h(text: str) -> float:
    """Simulation hours of a wall-clock time (the origin is START, no warm-up)."""
    return (at(text) - START) / dt.timedelta(hours=1)


def clock(hours: float) -> str:
    """Simulation hours back to 'Mon 2026-01-12 09:00', for readable failures."""
    if math.isnan(hours):
        return "nan"
    return (START + dt.timedelta(hours=hours)).strftime("%a %Y-%m-%d %H:%M")


def const(value: str) -> dict[str, str]:
    return {"dist": "constant", "value": value}


def score(value: float) -> dict[str, Any]:
    return {"dist": "constant", "value": value}


def assert_time(actual: float, expected: str, label: str) -> None:
    assert actual == pytest.approx(h(expected), abs=MINUTE / 10), (
        f"{label}: expected {expected}, got {clock(actual)}"
    )


def sdr_tasks(records: RunRecords) -> list[tuple[int, int, int, str, str]]:
    """SDR tasks as (rep, lead, kind, start, end) in order of start, times as wall-clock text."""
    t = records.tasks
    sdr = np.flatnonzero(t.team == 0)
    order = sdr[np.lexsort((t.rep[sdr], t.start_h[sdr]))]
    return [
        (int(t.rep[i]), int(t.lead[i]), int(t.kind[i]), clock(t.start_h[i]), clock(t.end_h[i]))
        for i in order
    ]


# -- the first touch: two SDRs, a holiday, nights and weekends ----------------------------------
# Two SDRs, Wednesday 7 January a holiday, first touches taking exactly 2 working hours, and a
# 1 business-hour first-touch SLA.
# lead: arrival, first touch start, first touch end, rep, SLA met
WORKWEEK = [
    # before opening: both reps start at 09:00, lowest-numbered rep first
    ("Mon 2026-01-05 08:00", "Mon 2026-01-05 09:00", "Mon 2026-01-05 11:00", 0, True),
    ("Mon 2026-01-05 08:30", "Mon 2026-01-05 09:00", "Mon 2026-01-05 11:00", 1, True),
    # both busy: waits for the first rep to free up; touched exactly at its 1 bh deadline
    ("Mon 2026-01-05 10:00", "Mon 2026-01-05 11:00", "Mon 2026-01-05 13:00", 0, True),
    # work crosses the night: 1 h on Monday, 1 h on Tuesday morning
    ("Mon 2026-01-05 16:00", "Mon 2026-01-05 16:00", "Tue 2026-01-06 10:00", 0, True),
    # work crosses the holiday: 30 min on Tuesday, nothing on Wednesday, 1 h 30 on Thursday
    ("Tue 2026-01-06 16:30", "Tue 2026-01-06 16:30", "Thu 2026-01-08 10:30", 0, True),
    # arrives after hours before the holiday: the SLA clock only starts Thursday 09:00
    ("Tue 2026-01-06 18:00", "Thu 2026-01-08 09:00", "Thu 2026-01-08 11:00", 1, True),
    # Thursday queue: FIFO; the first touched exactly at its deadline, the second one late
    ("Thu 2026-01-08 09:30", "Thu 2026-01-08 10:30", "Thu 2026-01-08 12:30", 0, True),
    ("Thu 2026-01-08 09:45", "Thu 2026-01-08 11:00", "Thu 2026-01-08 13:00", 1, False),
    # work crosses the weekend
    ("Fri 2026-01-09 16:30", "Fri 2026-01-09 16:30", "Mon 2026-01-12 10:30", 0, True),
    ("Fri 2026-01-09 16:45", "Fri 2026-01-09 16:45", "Mon 2026-01-12 10:45", 1, True),
    # Saturday lead: deadline Monday 10:00, but both reps are finishing Friday's work
    ("Sat 2026-01-10 10:00", "Mon 2026-01-12 10:30", "Mon 2026-01-12 12:30", 0, False),
]


def workweek_data(sla: str = "1bh") -> dict[str, Any]:
    return {
        "name": "trace",
        "start": "2026-01-05 00:00",
        "horizon": "2w",
        "warmup": "0d",
        "seed": 3,
        "calendar": {**WEEKDAYS_9_TO_5, "holidays": ["2026-01-07"]},
        "sources": {
            "web": {"kind": "inbound", "arrivals": {"at": [at(a) for a, *_ in WORKWEEK]}},
        },
        "handoff": {"policy": "continuous", "first_touch_sla": sla},
        "teams": {"sdr": {"headcount": 2, "first_touch_time": const("2h")}},
    }


def test_workweek_trace_to_the_minute() -> None:
    records = simulate(scenario(workweek_data()), seed=3)
    leads = records.leads
    assert len(leads) == len(WORKWEEK)
    for i, (arrival, start, end, rep, met) in enumerate(WORKWEEK):
        label = f"lead {i} arriving {arrival}"
        assert_time(leads.arrival_h[i], arrival, label)
        assert_time(leads.touch_start_h[i], start, f"{label}: first touch start")
        assert_time(leads.touch_end_h[i], end, f"{label}: first touch end")
        assert leads.rep[i] == rep, label
        assert bool(leads.sla_met[i]) is met, label
    assert (leads.outcome == Outcome.TOUCHED).all()


def test_sla_deadlines_on_the_business_clock() -> None:
    leads = simulate(scenario(workweek_data()), seed=3).leads
    expected = {
        0: "Mon 2026-01-05 10:00",  # clock starts at opening
        3: "Mon 2026-01-05 17:00",  # 16:00 + 1 bh ends exactly at closing
        5: "Thu 2026-01-08 10:00",  # after hours Tuesday, holiday Wednesday
        10: "Mon 2026-01-12 10:00",  # Saturday
    }
    for i, deadline in expected.items():
        assert_time(leads.sla_deadline_h[i], deadline, f"lead {i} SLA deadline")


def test_calendar_clock_sla_counts_nights() -> None:
    """An SLA written in calendar hours runs through the night: the 18:00 lead misses 24h."""
    leads = simulate(scenario(workweek_data(sla="24h")), seed=3).leads
    assert_time(leads.sla_deadline_h[5], "Wed 2026-01-07 18:00", "lead 5 SLA deadline")
    assert not leads.sla_met[5]
    assert leads.sla_met[0]
    assert not leads.sla_met[10]  # Saturday 10:00 + 24 h is Sunday 10:00; touched Monday


def test_expiry_and_queue_levels_exact() -> None:
    """One rep, 2 h touches, 1 h patience: a lead that waits past its patience is lost."""
    data = {
        "name": "expiry trace",
        "start": "2026-01-05 00:00",
        "horizon": "1d",
        "seed": 1,
        "sources": {
            "web": {
                "kind": "inbound",
                "arrivals": {"at": ["2026-01-05 00:00", "2026-01-05 00:30", "2026-01-05 01:10"]},
            }
        },
        "handoff": {
            "first_touch_sla": "30m",
            "expire_after": const("1h"),
            "decay": {"kind": "exponential", "half_life": "30m"},
        },
        "teams": {"sdr": {"headcount": 1, "first_touch_time": const("2h")}},
    }
    records = simulate(scenario(data), seed=1)
    leads = records.leads
    assert leads.outcome.tolist() == [Outcome.TOUCHED, Outcome.EXPIRED, Outcome.TOUCHED]
    assert leads.expired_h[1] == pytest.approx(1.5)
    assert leads.touch_start_h[[0, 2]].tolist() == pytest.approx([0.0, 2.0])
    assert leads.touch_end_h[2] == pytest.approx(4.0)
    assert leads.sla_met.tolist() == [True, False, False]
    # decay is recorded per lead: waited 0 h and 50 min with a 30 min half-life
    assert leads.decay[0] == pytest.approx(1.0)
    assert leads.decay[2] == pytest.approx(2 ** (-(50 / 60) / 0.5))
    assert np.isnan(leads.decay[1])
    # the queue: 1 waiting at 00:30, 2 at 01:10, 1 when lead 1 expires at 01:30, 0 at 02:00
    assert records.queue.times.tolist() == pytest.approx([0.0, 0.5, 70 / 60, 1.5, 2.0])
    assert records.queue.levels.tolist() == [0, 1, 2, 1, 0]


def test_lead_waiting_at_the_end_is_accounted_for() -> None:
    data = workweek_data()
    data["horizon"] = "1d"
    data["sources"]["web"]["arrivals"]["at"] = [
        "2026-01-05 16:30",
        "2026-01-05 16:40",
        "2026-01-05 16:50",
    ]
    leads = simulate(scenario(data), seed=3).leads
    # two reps take the first two (their touches run into the next morning); the third waits
    # overnight, and the run ends at midnight with all three still in the funnel
    assert leads.outcome.tolist() == [Outcome.WAITING] * 3
    assert (~np.isnan(leads.touch_start_h)).tolist() == [True, True, False]
    assert np.isnan(leads.touch_end_h).all()
    assert not leads.sla_met[2]


# -- a. the Monday batch ---------------------------------------------------------------------
# Two sources with constant scores and fits; without a marketing section every inbound lead is
# an MQL on arrival and its score is the source's. Leads are numbered by arrival.
BATCH_ARRIVALS = {
    "cold": ["2026-01-06 10:00", "2026-01-08 12:00"],  # leads 0 (Tue) and 2 (Thu)
    "hot": ["2026-01-07 11:00", "2026-01-09 13:00"],  # leads 1 (Wed) and 3 (Fri)
}


def batch_data(horizon: str = "3w") -> dict[str, Any]:
    return {
        "name": "batch trace",
        "start": "2026-01-05 00:00",
        "horizon": horizon,
        "warmup": "0d",
        "seed": 1,
        "calendar": WEEKDAYS_9_TO_5,
        "sources": {
            "cold": {
                "kind": "inbound",
                "arrivals": {"at": BATCH_ARRIVALS["cold"]},
                "score": score(0.3),
                "fit": score(0.6),  # below the good-fit threshold; qualifies surely (0.5 + fit > 1)
            },
            "hot": {
                "kind": "inbound",
                "arrivals": {"at": BATCH_ARRIVALS["hot"]},
                "score": score(0.9),
                "fit": score(0.8),  # a good fit
            },
        },
        "handoff": {
            "policy": "batch",
            "batch": {
                "release": "mon 09:00",
                "size": 3,
                "qualify_by": "wed 17:00",
                "good_fit_share": 0.6,
                "good_fit_threshold": 0.7,
            },
            "first_touch_sla": "1bd",
        },
        "teams": {
            "sdr": {
                "headcount": 1,
                "first_touch_time": const("4h"),
                "attempts": {"max": 3, "spacing": "4bh", "connect_probability": 1.0},
                "qualification": {"time": const("6h"), "probability": 1.0},
            }
        },
    }


def test_batch_releases_the_best_scored_leads_on_monday() -> None:
    data = batch_data()
    spec = scenario(data)
    records = simulate(spec, seed=1)
    leads = records.leads
    assert len(leads) == 4
    assert leads.source.tolist() == [spec_index(records, s) for s in ("cold", "hot", "cold", "hot")]
    # no marketing section: an MQL at arrival, with the source's score
    assert np.array_equal(leads.mql_h, leads.arrival_h)
    assert leads.score.tolist() == pytest.approx([0.3, 0.9, 0.3, 0.9])
    # releases every Monday 09:00 (the first one, on the first Monday, finds the pool empty);
    # deadlines the following Wednesday 17:00
    b = records.batches
    for i, (release, deadline) in enumerate(
        [
            ("Mon 2026-01-05 09:00", "Wed 2026-01-07 17:00"),
            ("Mon 2026-01-12 09:00", "Wed 2026-01-14 17:00"),
            ("Mon 2026-01-19 09:00", "Wed 2026-01-21 17:00"),
        ]
    ):
        assert_time(b["release_h"][i], release, f"batch {i} release")
        assert_time(b["deadline_h"][i], deadline, f"batch {i} deadline")
    assert b["size"].tolist() == [0, 3, 1]
    # batch 1: the two hot leads go first although the cold lead 0 arrived earliest; lead 0
    # (the earlier of the two cold ones) fills the third place; lead 2 waits a week
    assert leads.batch.tolist() == [1, 1, 2, 1]
    for i, release in enumerate(
        [
            "Mon 2026-01-12 09:00",
            "Mon 2026-01-12 09:00",
            "Mon 2026-01-19 09:00",
            "Mon 2026-01-12 09:00",
        ]
    ):
        assert_time(leads.handoff_h[i], release, f"lead {i} handoff")
    # good fit (>= 0.7): both hot leads of batch 1, none in batch 2
    assert b["good_fit"].tolist() == [0, 2, 0]


# One SDR, in release order (FIFO inside a batch). Hand computation, 4 h touches and 6 h
# qualification calls, a call taken before any waiting touch:
#   lead 1: touch Mon 09-13, call Mon 13-17 + Tue 09-11 -> SQL Tue 11:00
#   lead 3: touch Tue 11-15, call Tue 15-17 + Wed 09-13 -> SQL Wed 13:00
#   lead 0: touch Wed 13-17, call Thu 09-15           -> SQL Thu 15:00, after Wed 17:00
#   lead 2: (next batch) touch Mon 19th 09-13, call Mon 13-17 + Tue 09-11 -> SQL Tue 11:00
BATCH_TASKS = [
    (0, 1, FIRST_TOUCH, "Mon 2026-01-12 09:00", "Mon 2026-01-12 13:00"),
    (0, 1, QUALIFICATION, "Mon 2026-01-12 13:00", "Tue 2026-01-13 11:00"),
    (0, 3, FIRST_TOUCH, "Tue 2026-01-13 11:00", "Tue 2026-01-13 15:00"),
    (0, 3, QUALIFICATION, "Tue 2026-01-13 15:00", "Wed 2026-01-14 13:00"),
    (0, 0, FIRST_TOUCH, "Wed 2026-01-14 13:00", "Wed 2026-01-14 17:00"),
    (0, 0, QUALIFICATION, "Thu 2026-01-15 09:00", "Thu 2026-01-15 15:00"),
    (0, 2, FIRST_TOUCH, "Mon 2026-01-19 09:00", "Mon 2026-01-19 13:00"),
    (0, 2, QUALIFICATION, "Mon 2026-01-19 13:00", "Tue 2026-01-20 11:00"),
]
BATCH_DECISIONS = {
    1: "Tue 2026-01-13 11:00",
    3: "Wed 2026-01-14 13:00",
    0: "Thu 2026-01-15 15:00",
    2: "Tue 2026-01-20 11:00",
}


def test_batch_work_to_the_minute() -> None:
    records = simulate(scenario(batch_data()), seed=1)
    leads = records.leads
    assert sdr_tasks(records) == BATCH_TASKS
    for rep, lead, kind, start, end in BATCH_TASKS:
        if kind == FIRST_TOUCH:
            assert_time(leads.touch_start_h[lead], start, f"lead {lead} touch start")
            assert_time(leads.touch_end_h[lead], end, f"lead {lead} touch end")
            assert_time(leads.connected_h[lead], end, f"lead {lead} connected")
            assert leads.rep[lead] == rep
    for lead, decision in BATCH_DECISIONS.items():
        assert_time(leads.decision_h[lead], decision, f"lead {lead} decision")
        assert_time(leads.sql_h[lead], decision, f"lead {lead} SQL")
    assert leads.attempts.tolist() == [1, 1, 1, 1]
    assert leads.accepted.tolist() == [1, 1, 1, 1]
    assert (leads.outcome == Outcome.SQL).all()
    # the decision deadline is the Wednesday 17:00 after each lead's release
    for lead, deadline in enumerate(
        [
            "Wed 2026-01-14 17:00",
            "Wed 2026-01-14 17:00",
            "Wed 2026-01-21 17:00",
            "Wed 2026-01-14 17:00",
        ]
    ):
        assert_time(leads.qualify_by_h[lead], deadline, f"lead {lead} qualify_by")
    # SLA of 1 business day from the release: only the first touched of each batch makes it
    assert leads.sla_met.tolist() == [False, True, True, False]


def test_batch_metrics() -> None:
    spec = scenario(batch_data())
    records = simulate(spec, seed=1)
    kpi = metrics.compute(records, spec)
    # lead 0's decision (Thu 15:00) comes after its batch's Wednesday 17:00 deadline
    print(
        f"sla_batch_qualified_by_deadline {kpi['sla_batch_qualified_by_deadline']}, "
        f"batch_fit_promise_met_share {kpi['batch_fit_promise_met_share']}"
    )
    assert kpi["sla_batch_qualified_by_deadline"] == pytest.approx(3 / 4)
    # batch 1: 2 good fits of 3 >= 60% of 3 (met); batch 2: 0 of 1 < 60% (missed);
    # the empty first batch does not count
    assert kpi["batch_fit_promise_met_share"] == pytest.approx(1 / 2)
    assert kpi["sla_first_touch_attainment"] == pytest.approx(2 / 4)
    assert kpi["sqls"] == 4
    assert kpi["mqls"] == 4


def test_lead_beyond_the_batch_size_waits_in_the_pool() -> None:
    """Cut the run on Sunday 18 January: lead 2 is still in marketing's pool."""
    records = simulate(scenario(batch_data(horizon="13d")), seed=1)
    leads = records.leads
    assert leads.outcome.tolist() == [Outcome.SQL, Outcome.SQL, Outcome.WAITING, Outcome.SQL]
    assert np.isnan(leads.handoff_h[2])
    assert leads.batch[2] == -1
    assert np.isnan(leads.touch_start_h[2])
    assert np.isnan(leads.qualify_by_h[2])
    # it was never handed off, so it is not waiting for a first touch
    assert records.queue.levels[-1] == 0


def test_batch_of_size_one_takes_only_the_best() -> None:
    data = batch_data()
    data["handoff"]["batch"]["size"] = 1
    records = simulate(scenario(data), seed=1)
    # Jan 12: hot lead 1 (earlier of the two hot); Jan 19: hot lead 3; then the cold ones
    assert records.leads.batch.tolist() == [-1, 1, -1, 2]
    assert records.batches["size"].tolist() == [0, 1, 1]


# -- b. contact attempts across a weekend ------------------------------------------------------
def attempts_data(connect: float) -> dict[str, Any]:
    return {
        "name": "attempts trace",
        "start": "2026-01-05 00:00",
        "horizon": "2w",
        "seed": 1,
        "calendar": WEEKDAYS_9_TO_5,
        "sources": {
            "web": {
                "kind": "inbound",
                # A: Friday 15:00, B: Saturday 10:00
                "arrivals": {"at": ["2026-01-09 15:00", "2026-01-10 10:00"]},
                "fit": score(0.8),
            }
        },
        "handoff": {"first_touch_sla": "4bh"},
        "teams": {
            "sdr": {
                "headcount": 1,
                "first_touch_time": const("30m"),
                "attempts": {"max": 3, "spacing": "4bh", "connect_probability": connect},
                "qualification": {"time": const("1h"), "probability": 1.0},
            }
        },
    }


def test_attempts_never_connect_across_the_weekend() -> None:
    """Each retry comes 4 business hours after the previous attempt ended.

    A: touch Fri 15:00-15:30; +4bh = 1.5 h Friday + 2.5 h Monday -> Mon 11:30-12:00;
       +4bh -> Mon 16:00-16:30; third failure: unreachable at Mon 16:30.
    B: touch Mon 09:00-09:30; +4bh -> Mon 13:30-14:00; +4bh = 3 h Monday + 1 h Tuesday ->
       Tue 10:00-10:30; unreachable at Tue 10:30.
    """
    records = simulate(scenario(attempts_data(connect=0.0)), seed=1)
    leads = records.leads
    assert sdr_tasks(records) == [
        (0, 0, FIRST_TOUCH, "Fri 2026-01-09 15:00", "Fri 2026-01-09 15:30"),
        (0, 1, FIRST_TOUCH, "Mon 2026-01-12 09:00", "Mon 2026-01-12 09:30"),
        (0, 0, ATTEMPT, "Mon 2026-01-12 11:30", "Mon 2026-01-12 12:00"),
        (0, 1, ATTEMPT, "Mon 2026-01-12 13:30", "Mon 2026-01-12 14:00"),
        (0, 0, ATTEMPT, "Mon 2026-01-12 16:00", "Mon 2026-01-12 16:30"),
        (0, 1, ATTEMPT, "Tue 2026-01-13 10:00", "Tue 2026-01-13 10:30"),
    ]
    assert leads.outcome.tolist() == [Outcome.UNREACHABLE] * 2
    assert leads.attempts.tolist() == [3, 3]
    assert np.isnan(leads.connected_h).all()
    assert np.isnan(leads.sql_h).all()
    assert_time(leads.decision_h[0], "Mon 2026-01-12 16:30", "A unreachable")
    assert_time(leads.decision_h[1], "Tue 2026-01-13 10:30", "B unreachable")
    assert_time(leads.touch_end_h[0], "Fri 2026-01-09 15:30", "A first touch end")
    assert_time(leads.touch_start_h[1], "Mon 2026-01-12 09:00", "B first touch start")
    assert leads.sla_met.tolist() == [True, True]  # B: SLA clock starts Monday 09:00


def test_attempt_that_connects_gets_the_call_at_once() -> None:
    records = simulate(scenario(attempts_data(connect=1.0)), seed=1)
    leads = records.leads
    assert sdr_tasks(records) == [
        (0, 0, FIRST_TOUCH, "Fri 2026-01-09 15:00", "Fri 2026-01-09 15:30"),
        (0, 0, QUALIFICATION, "Fri 2026-01-09 15:30", "Fri 2026-01-09 16:30"),
        (0, 1, FIRST_TOUCH, "Mon 2026-01-12 09:00", "Mon 2026-01-12 09:30"),
        (0, 1, QUALIFICATION, "Mon 2026-01-12 09:30", "Mon 2026-01-12 10:30"),
    ]
    assert leads.attempts.tolist() == [1, 1]
    assert leads.outcome.tolist() == [Outcome.SQL] * 2
    assert_time(leads.connected_h[0], "Fri 2026-01-09 15:30", "A connected")
    assert_time(leads.sql_h[0], "Fri 2026-01-09 16:30", "A SQL")
    assert_time(leads.connected_h[1], "Mon 2026-01-12 09:30", "B connected")
    assert_time(leads.sql_h[1], "Mon 2026-01-12 10:30", "B SQL")


# -- c. a hire ramping up, and a departure ------------------------------------------------------
RAMP_ARRIVALS = [
    "2026-01-05 08:00", "2026-01-05 08:30",  # 0, 1: the hire's first day
    "2026-01-12 08:00", "2026-01-12 08:30",  # 2, 3: one week in, half way up the ramp
    "2026-01-19 08:00", "2026-01-19 08:30",  # 4, 5: two weeks in, fully ramped
    "2026-01-21 10:00", "2026-01-21 10:05",  # 6, 7
    "2026-01-21 11:00", "2026-01-21 11:10",  # 8, 9
]  # fmt: skip


def ramp_data(departure: str) -> dict[str, Any]:
    return {
        "name": "ramp trace",
        "start": "2026-01-05 00:00",
        "horizon": "3w",
        "seed": 1,
        "calendar": WEEKDAYS_9_TO_5,
        "sources": {"web": {"kind": "inbound", "arrivals": {"at": RAMP_ARRIVALS}}},
        "handoff": {"first_touch_sla": "1bd"},
        "teams": {
            "sdr": {
                "headcount": 1,
                "first_touch_time": const("2h"),
                "hiring": [
                    {"at": "2026-01-05 09:00", "change": 1},
                    {"at": departure, "change": -1},
                ],
                "ramp": {"start": 0.5, "over": "2w"},
            }
        },
    }


def test_new_hire_ramps_up_linearly() -> None:
    """Productivity 0.5 on joining, 0.75 a week later, 1 after the two weeks of the ramp."""
    records = simulate(scenario(ramp_data(departure="2026-01-21 12:00")), seed=1)
    t = records.tasks
    rows = {int(lead): i for i, lead in enumerate(t.lead)}
    expected = {
        # lead: (rep, start, end, business hours the 2 h of work took)
        0: (0, "Mon 2026-01-05 09:00", "Mon 2026-01-05 11:00", 2.0),
        1: (1, "Mon 2026-01-05 09:00", "Mon 2026-01-05 13:00", 4.0),  # 2 h / 0.5
        2: (0, "Mon 2026-01-12 09:00", "Mon 2026-01-12 11:00", 2.0),
        3: (1, "Mon 2026-01-12 09:00", "Mon 2026-01-12 11:40", 2 / 0.75),
        4: (0, "Mon 2026-01-19 09:00", "Mon 2026-01-19 11:00", 2.0),
        5: (1, "Mon 2026-01-19 09:00", "Mon 2026-01-19 11:00", 2.0),  # ramp over: exact
    }
    for lead, (rep, start, end, business) in expected.items():
        i = rows[lead]
        assert t.rep[i] == rep, f"lead {lead}"
        assert_time(t.start_h[i], start, f"lead {lead} start")
        assert_time(t.end_h[i], end, f"lead {lead} end")
        assert t.end_b[i] - t.start_b[i] == pytest.approx(business, abs=1e-9), f"lead {lead}"
    seats = records.sdr_seats
    assert len(seats) == 2
    assert seats[0].joined_h == 0
    assert seats[0].ramped
    assert seats[1].joined_h == pytest.approx(h("Mon 2026-01-05 09:00"))
    assert seats[1].left_h == pytest.approx(h("Wed 2026-01-21 12:00"))
    assert not seats[1].ramped


@pytest.mark.parametrize(
    ("departure", "expected"),
    [
        pytest.param(
            # the hire is busy with lead 7 when leaving at 12:00: finishes it (12:05) and then
            # takes nothing more, so lead 9 waits for rep 0
            "Wed 2026-01-21 12:00",
            {
                6: (0, "Wed 2026-01-21 10:00", "Wed 2026-01-21 12:00"),
                7: (1, "Wed 2026-01-21 10:05", "Wed 2026-01-21 12:05"),
                8: (0, "Wed 2026-01-21 12:00", "Wed 2026-01-21 14:00"),
                9: (0, "Wed 2026-01-21 14:00", "Wed 2026-01-21 16:00"),
            },
            id="busy-when-leaving",
        ),
        pytest.param(
            # the hire left the day before, idle: rep 0 does everything, in arrival order
            "Tue 2026-01-20 12:00",
            {
                6: (0, "Wed 2026-01-21 10:00", "Wed 2026-01-21 12:00"),
                7: (0, "Wed 2026-01-21 12:00", "Wed 2026-01-21 14:00"),
                8: (0, "Wed 2026-01-21 14:00", "Wed 2026-01-21 16:00"),
                9: (0, "Wed 2026-01-21 16:00", "Thu 2026-01-22 10:00"),
            },
            id="idle-when-leaving",
        ),
    ],
)
def test_departure_stops_new_work(
    departure: str, expected: dict[int, tuple[int, str, str]]
) -> None:
    leaving = at(departure).strftime("%Y-%m-%d %H:%M")
    records = simulate(scenario(ramp_data(departure=leaving)), seed=1)
    t = records.tasks
    rows = {int(lead): i for i, lead in enumerate(t.lead)}
    for lead, (rep, start, end) in expected.items():
        i = rows[lead]
        assert t.rep[i] == rep, f"lead {lead}: rep {t.rep[i]}, expected {rep}"
        assert_time(t.start_h[i], start, f"lead {lead} start")
        assert_time(t.end_h[i], end, f"lead {lead} end")
    # no task of the hire starts at or after the departure
    hire = t.rep == 1
    assert (t.start_h[hire] < h(departure)).all()


# -- d. an outbound sequence that never connects -----------------------------------------------
def outbound_data(headcount: int) -> dict[str, Any]:
    return {
        "name": "outbound trace",
        "start": "2026-01-05 00:00",
        "horizon": "8w",
        "seed": 11,
        "calendar": WEEKDAYS_9_TO_5,
        "sources": {
            "list": {
                "kind": "outbound",
                "contacts_per_month": 40,
                "sequence": {
                    "touches": 4,
                    "spacing": "2bd",  # 16 business hours
                    "touch_time": const("15m"),
                    "connect_probability": 0.0,
                    "meeting_probability": 0.5,
                },
            }
        },
        "handoff": {"first_touch_sla": "1bd"},
        "teams": {"sdr": {"headcount": headcount, "first_touch_time": const("30m")}},
    }


@pytest.mark.parametrize("headcount", [1, 25])
def test_outbound_sequence_never_connecting(headcount: int) -> None:
    """Every contact gets exactly 4 touches, 2 business days apart at least, then unreachable.

    With 25 SDRs nobody waits, so each touch starts exactly when it is due: the first at the
    contact's arrival (on the business clock), each next one exactly 16 business hours after the
    previous one ended.
    """
    model = Funnel(scenario(outbound_data(headcount)), seed=11)
    model.run()
    records = assemble(model)
    leads, t = records.leads, records.tasks
    cal = model.calendar
    assert len(leads) > 40  # about 40 a month for two months
    assert (t.kind == PROSPECT).all()
    spacing = 16.0
    finished = 0
    for lead in range(len(leads)):
        mine = np.flatnonzero(t.lead == lead)
        mine = mine[np.argsort(t.start_h[mine])]
        label = f"contact {lead} arriving {clock(leads.arrival_h[lead])}"
        if cal.next_open(float(leads.arrival_h[lead])) >= records.end_h:
            assert len(mine) == 0, label  # arrived after the last working hour of the run
            continue
        assert len(mine) >= 1, label  # every other contact gets a first touch (light load)
        assert np.allclose(t.end_b[mine] - t.start_b[mine], 0.25), label
        gaps = t.start_b[mine][1:] - t.end_b[mine][:-1]
        assert (gaps >= spacing - 1e-9).all(), f"{label}: gaps {gaps}"
        if headcount > 4:
            assert np.allclose(gaps, spacing, atol=1e-9), f"{label}: gaps {gaps}"
            first_b = cal.business_time(float(leads.arrival_h[lead]))
            assert t.start_b[mine[0]] == pytest.approx(first_b, abs=1e-9), label
        if leads.outcome[lead] == Outcome.UNREACHABLE:
            finished += 1
            assert len(mine) == 4, label
            assert leads.attempts[lead] == 4, label
            assert leads.decision_h[lead] == pytest.approx(t.end_h[mine[-1]]), label
        else:  # still in its sequence at the end
            assert leads.outcome[lead] == Outcome.WAITING, label
            assert np.isnan(leads.decision_h[lead]), label
            assert leads.attempts[lead] < 4, label
            assert len(mine) - leads.attempts[lead] in (0, 1), label  # one touch in progress
        assert np.isnan(leads.connected_h[lead]), label
        assert np.isnan(leads.sql_h[lead]), label
    print(f"{finished} of {len(leads)} contacts finished their sequence, all unreachable")
    assert finished >= 30
    # the first touch of a contact is recorded as its touch
    for lead in range(len(leads)):
        mine = np.flatnonzero(t.lead == lead)
        if len(mine):
            assert leads.touch_start_h[lead] == t.start_h[mine].min()
        else:
            assert np.isnan(leads.touch_start_h[lead])


# -- a lead back from nurture that expires in marketing's pool ---------------------------------
def comeback_data() -> dict[str, Any]:
    """Rejected at its first touch, back from nurture a day later, lost in the batch pool.

    Marketing with no scoring noise and an MQL bar of 0 makes every lead an MQL; acceptance
    rejects its fit of 0.3; nurture brings it back after exactly 1 day (once); patience of 4
    days covers the wait for the first release but runs out before the next one.
    """
    return {
        "name": "comeback trace",
        "start": "2026-01-05 00:00",
        "horizon": "2w",
        "seed": 1,
        "calendar": WEEKDAYS_9_TO_5,
        "sources": {
            "web": {
                "kind": "inbound",
                "arrivals": {"at": ["2026-01-02 12:00"]},  # Friday, in the warm-up
                "fit": score(0.3),
                "intent": score(0.5),
            }
        },
        "warmup": "3d",
        "marketing": {
            "mql_threshold": 0.0,
            "scoring_noise": 0.0,
            "nurture": {"reemerge_probability": 1.0, "after": const("1d"), "max_cycles": 1},
        },
        "handoff": {
            "policy": "batch",
            "batch": {"release": "mon 09:00", "size": 10, "qualify_by": "wed 17:00"},
            "first_touch_sla": "1bd",
            "acceptance": {"fit_threshold": 0.5},
            "expire_after": const("4d"),
        },
        "teams": {"sdr": {"headcount": 1, "first_touch_time": const("1h")}},
    }


def test_lead_back_from_nurture_expiring_in_the_pool() -> None:
    """Released Mon 09:00, touched 09:00-10:00 and rejected; an MQL again Tue 10:00; lost in
    the pool Sat 10:00. Its row must then read as a lead lost untouched, as ``Outcome`` says
    'expired' is, not as one touched within the SLA (its touch belongs to the earlier cycle).
    """
    records = simulate(scenario(comeback_data()), seed=1)
    leads = records.leads
    origin = START - dt.timedelta(days=3)

    def wall(hours: float) -> str:
        if math.isnan(hours):
            return "nan"
        return (origin + dt.timedelta(hours=hours)).strftime("%a %Y-%m-%d %H:%M")

    t = records.tasks
    tasks = [(int(k), wall(s), wall(e)) for k, s, e in zip(t.kind, t.start_h, t.end_h, strict=True)]
    assert tasks == [(FIRST_TOUCH, "Mon 2026-01-05 09:00", "Mon 2026-01-05 10:00")]
    assert leads.cycles.tolist() == [1]
    assert leads.outcome.tolist() == [Outcome.EXPIRED]
    assert wall(leads.expired_h[0]) == "Sat 2026-01-10 10:00"
    row = {
        name: (wall(leads.columns()[name][0]) if name.endswith("_h") else leads.columns()[name][0])
        for name in ("handoff_h", "touch_start_h", "decision_h", "sla_met", "accepted")
    }
    print(f"expired lead's row: {row}")
    assert np.isnan(leads.touch_start_h[0]), f"an expired lead shows a touch: {row}"
    assert not leads.sla_met[0], f"an expired lead shows its SLA met: {row}"
    # the row is the latest cycle's: an MQL again (mql_h keeps the first), never handed off
    assert wall(leads.mql_h[0]) == "Fri 2026-01-02 12:00"
    assert np.isnan(leads.handoff_h[0])
    assert np.isnan(leads.decision_h[0])
    assert leads.batch[0] == -1
    assert leads.accepted[0] == -1


def spec_index(records: RunRecords, name: str) -> int:
    return records.source_names.index(name)
