"""The funnel reduced to its queue: leads arrive, wait for a limited team, are first touched.

When a scenario has no marketing scoring, no batch, no acceptance, no follow-up attempts or
qualification, no outbound, no AEs and no hiring, the whole funnel is this queue, the one
queueing theory describes (Erlang C, Erlang A). It is also the case planners run by the
hundred thousand leads, so it gets a dedicated dispatcher: the same rules as the general rep
pool (lowest-numbered free rep first, first come first served or best score first, work in
working time, patience from arrival), without the general model's bookkeeping.
``tests/test_funnel_equivalence.py`` holds it to the general model record for record.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import TYPE_CHECKING

import simpy
from simpy.events import Timeout

from funnelsim.model.population import INBOUND, NEW
from funnelsim.scenario.schema import Scenario

if TYPE_CHECKING:
    from funnelsim.model.funnel import FunnelModel

_WAITING, _SERVING, _DONE, _EXPIRED = 0, 1, 2, 3


def is_queue_only(scenario: Scenario) -> bool:
    """True when the scenario's funnel is a single first-touch queue."""
    sdr = scenario.teams.sdr
    return (
        scenario.marketing is None
        and scenario.handoff.batch is None
        and scenario.handoff.acceptance is None
        and sdr.attempts is None
        and sdr.qualification is None
        and not sdr.hiring
        and scenario.teams.ae is None
        and all(s.kind == "inbound" for s in scenario.sources.values())
        and not (
            scenario.initial and (scenario.initial.open_mqls or scenario.initial.open_opportunities)
        )
    )


class FirstTouchQueue:
    """Dispatcher for the queue-only funnel, writing into its FunnelModel's columns."""

    def __init__(self, model: FunnelModel) -> None:
        self.model = model
        self.env: simpy.Environment = model.env
        self.calendar = model.calendar
        self.arrival = model._arrival
        self.work = model._work
        self.patience = model._patience
        self.score = model.score
        self.by_score = model.scenario.handoff.routing == "score"
        self.state = [_WAITING] * len(self.arrival)
        self.end_of_touch = [math.nan] * len(self.arrival)
        self._fifo: deque[int] = deque()
        self._ranked: list[tuple[float, int]] = []
        self._waiting = 0
        self._free = list(range(model.scenario.teams.sdr.headcount))
        self._next = 0
        assert all(k == INBOUND for k in model._kind)
        assert all(e == NEW for e in model._entry)

    def start(self) -> None:
        if self.arrival:
            Timeout(self.env, self.arrival[0]).callbacks.append(self._on_arrival)
        if not self.calendar.always:
            Timeout(self.env, self.calendar.next_open(0.0)).callbacks.append(self._on_open)

    def _on_arrival(self, event: simpy.Event) -> None:
        lead = self._next
        self._next += 1
        now = self.env.now
        self.arrival[lead] = now  # the drawn time, up to the clock's rounding
        if self._next < len(self.arrival):
            Timeout(self.env, max(self.arrival[self._next] - now, 0.0)).callbacks.append(
                self._on_arrival
            )
        if self.patience is not None:
            Timeout(self.env, self.patience[lead], lead).callbacks.append(self._on_expiry)
        if (
            self._free
            and not self._waiting
            and (self.calendar.always or self.calendar.is_working(now))
        ):
            self._touch(lead, now)
            return
        if self.by_score:
            heapq.heappush(self._ranked, (-self.score[lead], lead))
        else:
            self._fifo.append(lead)
        self._waiting += 1

    def _on_expiry(self, event: simpy.Event) -> None:
        lead: int = event._value
        if self.state[lead] == _WAITING:
            self.state[lead] = _EXPIRED
            self.model.expired_h[lead] = self.env.now
            self._waiting -= 1

    def _on_done(self, event: simpy.Event) -> None:
        rep, lead = event._value
        self.state[lead] = _DONE
        self.end_of_touch[lead] = self.env.now
        heapq.heappush(self._free, rep)
        if self._waiting:
            self._dispatch()

    def _on_open(self, event: simpy.Event) -> None:
        if self._waiting:
            self._dispatch()
        nxt = self.calendar.opens_after(self.env.now)
        if nxt is not None:
            Timeout(self.env, nxt - self.env.now).callbacks.append(self._on_open)

    def _dispatch(self) -> None:
        now = self.env.now
        if not (self.calendar.always or self.calendar.is_working(now)):
            return
        state = self.state
        while self._free and self._waiting:
            lead = heapq.heappop(self._ranked)[1] if self.by_score else self._fifo.popleft()
            if state[lead] != _WAITING:
                continue  # expired while queued: removed lazily
            self._waiting -= 1
            self._touch(lead, now)

    def _touch(self, lead: int, now: float) -> None:
        self.state[lead] = _SERVING  # patience no longer matters
        rep = heapq.heappop(self._free)
        work = self.work[lead]
        end = now + work if self.calendar.always else self.calendar.add_business(now, work)
        model = self.model
        model.touch_start_h[lead] = now
        model.rep[lead] = rep
        log = model.sdr.log
        log.rep.append(rep)
        log.lead.append(lead)
        log.kind.append(0)
        log.start_h.append(now)
        log.end_h.append(end)
        Timeout(self.env, end - now, (rep, lead)).callbacks.append(self._on_done)
