"""Exact traces on tiny deterministic funnels, checked to the minute.

Two SDRs working Monday to Friday 09:00-17:00, Wednesday 7 January 2026 a holiday, first touches
taking exactly 2 working hours, and a 1 business-hour first-touch SLA. Every expected time
below was worked out by hand from those rules.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from funnelsim.model.run import simulate
from funnelsim.records import EXPIRED, TOUCHED, WAITING
from helpers import scenario

START = dt.datetime(2026, 1, 5)  # Monday


def at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%a %Y-%m-%d %H:%M")


def hours(moment: dt.datetime) -> float:
    return (moment - START) / dt.timedelta(hours=1)


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


def workweek_scenario(sla: str = "1bh") -> dict[str, object]:
    return {
        "name": "trace",
        "start": "2026-01-05 00:00",
        "horizon": "2w",
        "warmup": "0d",
        "seed": 3,
        "calendar": {
            "workdays": ["mon", "tue", "wed", "thu", "fri"],
            "hours": ["09:00-17:00"],
            "holidays": ["2026-01-07"],
        },
        "sources": {
            "web": {"kind": "inbound", "arrivals": {"at": [a for a, *_ in WORKWEEK]}},
        },
        "handoff": {"policy": "continuous", "first_touch_sla": sla},
        "teams": {"sdr": {"headcount": 2, "first_touch_time": {"dist": "constant", "value": "2h"}}},
    }


def test_workweek_trace_to_the_minute() -> None:
    data = workweek_scenario()
    data["sources"]["web"]["arrivals"]["at"] = [at(a) for a, *_ in WORKWEEK]  # type: ignore[index]
    records = simulate(scenario(data), seed=3)
    leads = records.leads
    assert len(leads) == len(WORKWEEK)
    for i, (arrival, start, end, rep, met) in enumerate(WORKWEEK):
        label = f"lead {i} arriving {arrival}"
        assert leads.arrival_h[i] == pytest.approx(hours(at(arrival)), abs=1 / 600), label
        assert leads.touch_start_h[i] == pytest.approx(hours(at(start)), abs=1 / 600), label
        assert leads.touch_end_h[i] == pytest.approx(hours(at(end)), abs=1 / 600), label
        assert leads.rep[i] == rep, label
        assert bool(leads.sla_met[i]) is met, label
    assert (leads.outcome == TOUCHED).all()


def test_sla_deadlines_on_the_business_clock() -> None:
    data = workweek_scenario()
    data["sources"]["web"]["arrivals"]["at"] = [at(a) for a, *_ in WORKWEEK]  # type: ignore[index]
    leads = simulate(scenario(data), seed=3).leads
    expected = {
        0: "Mon 2026-01-05 10:00",  # clock starts at opening
        3: "Mon 2026-01-05 17:00",  # 16:00 + 1 bh ends exactly at closing
        5: "Thu 2026-01-08 10:00",  # after hours Tuesday, holiday Wednesday
        10: "Mon 2026-01-12 10:00",  # Saturday
    }
    for i, deadline in expected.items():
        assert leads.sla_deadline_h[i] == pytest.approx(hours(at(deadline)), abs=1 / 600)


def test_calendar_clock_sla_counts_nights() -> None:
    """An SLA written in calendar hours runs through the night: the 18:00 lead misses 24h."""
    data = workweek_scenario(sla="24h")
    data["sources"]["web"]["arrivals"]["at"] = [at(a) for a, *_ in WORKWEEK]  # type: ignore[index]
    leads = simulate(scenario(data), seed=3).leads
    assert leads.sla_deadline_h[5] == pytest.approx(hours(at("Wed 2026-01-07 18:00")))
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
            "expire_after": {"dist": "constant", "value": "1h"},
            "decay": {"kind": "exponential", "half_life": "30m"},
        },
        "teams": {"sdr": {"headcount": 1, "first_touch_time": {"dist": "constant", "value": "2h"}}},
    }
    records = simulate(scenario(data), seed=1)
    leads = records.leads
    assert leads.outcome.tolist() == [TOUCHED, EXPIRED, TOUCHED]
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
    data = workweek_scenario()
    data["horizon"] = "1d"
    data["sources"]["web"]["arrivals"]["at"] = [  # type: ignore[index]
        "2026-01-05 16:30",
        "2026-01-05 16:40",
        "2026-01-05 16:50",
    ]
    leads = simulate(scenario(data), seed=3).leads
    # two reps take the first two (their touches run into the next morning); the third waits
    # overnight, and the run ends at midnight with all three still in the funnel
    assert leads.outcome.tolist() == [WAITING, WAITING, WAITING]
    assert (~np.isnan(leads.touch_start_h)).tolist() == [True, True, False]
    assert np.isnan(leads.touch_end_h).all()
    assert not leads.sla_met[2]
