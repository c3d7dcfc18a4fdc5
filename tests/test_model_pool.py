"""The team and its agenda (``funnelsim.model.pool``, ``funnelsim.model.agenda``): exact traces
of work that falls due later, follow-up attempts waiting among the team's later tasks, checked
to the minute; and the time the team finishes each task, to the last bit.

One SDR works Monday to Friday 09:00-17:00 from Monday 5 January 2026. First touches and
follow-up attempts take exactly 30 minutes, attempts never connect, and a failed attempt is
followed by one more, one business hour after it ended. Every expected time below was worked
out by hand from those rules.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from funnelsim.model.agenda import Agenda
from funnelsim.model.assembly import assemble
from funnelsim.model.story import Funnel
from funnelsim.records import Outcome, TaskKind
from helpers import run_python, scenario

START = dt.datetime(2026, 1, 5)  # Monday
FIRST_TOUCH, ATTEMPT = TaskKind.FIRST_TOUCH, TaskKind.ATTEMPT
A, C, D, E = 0, 1, 2, 3  # leads, numbered by arrival


def clock(hours: float) -> str:
    return (START + dt.timedelta(hours=float(hours))).strftime("%a %H:%M")


def data() -> dict[str, Any]:
    return {
        "name": "later work trace",
        "start": "2026-01-05 00:00",
        "horizon": "1w",
        "seed": 1,
        "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00-17:00"]},
        "sources": {
            "web": {
                "kind": "inbound",
                "arrivals": {
                    "at": [
                        "2026-01-05 09:00",  # A
                        "2026-01-05 09:37",  # C
                        "2026-01-05 10:12",  # D
                        "2026-01-05 10:35",  # E: arrives after A's retry fell due
                    ]
                },
            }
        },
        "handoff": {"first_touch_sla": "1bd"},
        "teams": {
            "sdr": {
                "headcount": 1,
                "first_touch_time": {"dist": "constant", "value": "30m"},
                "attempts": {"max": 2, "spacing": "1bh", "connect_probability": 0.0},
            }
        },
    }


# A: touch 09:00-09:30, retry due 10:30.  C: touch 09:37-10:07, retry due 11:07.
# D: touch 10:12-10:42, retry due 11:42.
# A's retry falls due at 10:30 while the SDR is busy with D: it waits, and is taken exactly when
# the SDR frees at 10:42, ahead of E, handed off at 10:35 (after A's retry fell due).
# E: touch 11:12-11:42, retry due 12:42. C's retry fell due at 11:07, also during other work:
# taken at 11:42. D's retry (due 11:42) follows at 12:12, E's (due 12:42) at 12:42.
EXPECTED = [
    (A, FIRST_TOUCH, "Mon 09:00", "Mon 09:30"),
    (C, FIRST_TOUCH, "Mon 09:37", "Mon 10:07"),
    (D, FIRST_TOUCH, "Mon 10:12", "Mon 10:42"),
    (A, ATTEMPT, "Mon 10:42", "Mon 11:12"),
    (E, FIRST_TOUCH, "Mon 11:12", "Mon 11:42"),
    (C, ATTEMPT, "Mon 11:42", "Mon 12:12"),
    (D, ATTEMPT, "Mon 12:12", "Mon 12:42"),
    (E, ATTEMPT, "Mon 12:42", "Mon 13:12"),
]


def test_work_due_while_the_rep_is_busy_is_taken_when_the_rep_frees() -> None:
    model = Funnel(scenario(data()), seed=1)
    model.run()
    records = assemble(model)
    t = records.tasks
    order = np.argsort(t.start_h, kind="stable")
    tasks = [
        (int(t.lead[i]), int(t.kind[i]), clock(t.start_h[i]), clock(t.end_h[i])) for i in order
    ]
    assert tasks == EXPECTED
    assert (t.rep == 0).all()
    leads = records.leads
    assert leads.attempts.tolist() == [2, 2, 2, 2]
    assert leads.outcome.tolist() == [Outcome.UNREACHABLE] * 4
    decided = [clock(h) for h in leads.decision_h]
    assert decided == ["Mon 11:12", "Mon 12:12", "Mon 12:42", "Mon 13:12"]  # the retries' ends
    touched = [clock(h) for h in leads.touch_start_h]
    assert touched == ["Mon 09:00", "Mon 09:37", "Mon 10:12", "Mon 11:12"]


def test_work_due_later_needs_no_event_of_its_own() -> None:
    """Work that falls due while every rep is busy costs no SimPy event: nothing happens at
    10:30 or 11:07 (A's and C's retries fall due), nor at 10:35 (E arrives). C and D, arriving
    while the SDR sits idle, each wake it up at their arrival, so that it starts them then."""
    model = Funnel(scenario(data()), seed=1)
    env = model.env
    scheduled: list[str] = []
    schedule = env.schedule

    def record(event: Any, priority: int = 1, delay: float = 0) -> None:
        scheduled.append(clock(env.now + delay))
        schedule(event, priority, delay)

    env.schedule = record
    model.run()
    for instant in ("Mon 10:30", "Mon 11:07", "Mon 10:35"):
        assert instant not in scheduled, f"an event at {instant}: {sorted(scheduled)}"
    for instant in ("Mon 09:37", "Mon 10:12"):
        assert instant in scheduled, f"no wake-up at {instant}: {sorted(scheduled)}"
    completions = [end for *_, end in EXPECTED]
    assert all(end in scheduled for end in completions)


CLOCK_CHECK = """
from funnelsim.model import pool
from funnelsim.model.agenda import Agenda
from funnelsim.model.assembly import assemble
from funnelsim.model.story import Funnel
from funnelsim.scenario.load import load_scenario

checked = 0
take_over = pool.RepPool._on_done


def on_done(self, event):
    global checked
    task = event._value
    assert task.done_h == self.env.now, (task.kind, task.done_h, self.env.now)
    checked += 1
    take_over(self, event)


pool.RepPool._on_done = on_done
Funnel(load_scenario("scenarios/baseline.yaml", ["horizon=8w"]), 1).run()
print(checked)
"""


def test_the_pool_knows_when_work_is_done_to_the_last_bit() -> None:
    """The pool reads the time a task is done from what it scheduled, not from SimPy's clock:
    on every completion of a full funnel (run from source, where the check can be slipped in)
    the two are the same number."""
    checked = int(run_python(CLOCK_CHECK, pure=True).stdout)
    print(f"{checked} completions checked")
    assert checked > 5000


# -- the agenda --------------------------------------------------------------------------------
def test_the_agenda_gives_items_in_the_order_they_fall_due() -> None:
    """Earliest first; at one time, planned happenings before added items, and added items in
    the order they were added; ``due_h`` always names the earliest left."""
    agenda: Agenda[str] = Agenda()
    assert agenda.due_h == math.inf
    planned = [lambda now: None, lambda now: None, lambda now: None]
    agenda.add(2.0, "added at 2, first")
    agenda.add(0.5, "added at 0.5")
    agenda.plan([1.0, 2.0, 3.0], planned)  # type: ignore[arg-type]
    agenda.add(2.0, "added at 2, second")
    assert agenda.due_h == 0.5
    popped = []
    while agenda.due_h < math.inf:
        due = agenda.due_h
        item = agenda.pop()
        popped.append((due, planned.index(item) if callable(item) else item))  # type: ignore[arg-type]
        assert agenda.due_h >= due
    assert popped == [
        (0.5, "added at 0.5"),
        (1.0, 0),
        (2.0, 1),
        (2.0, "added at 2, first"),
        (2.0, "added at 2, second"),
        (3.0, 2),
    ]
    with pytest.raises(RuntimeError, match="one plan per run"):
        agenda.plan([4.0], planned[:1])  # type: ignore[arg-type]
