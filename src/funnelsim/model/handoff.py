"""The continuous handoff: leads queue for a limited team of SDRs.

A lead arrives and joins the queue. Whenever an SDR is free during working hours, the next lead
(first come first served, or highest score first) gets its first touch; the touch takes working
time, so a touch started at 16:30 finishes the next morning. A lead whose patience runs out
before anyone touches it is lost. The SLA clock starts at arrival.

There is no process per waiting lead: a dispatcher hands leads to reps as reps free up, so a lead
costs an arrival event, a completion event, and an expiry event only when it must wait and can
expire. Results go straight into the per-lead record columns.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import Timeout

from funnelsim.calendar import Calendar

_WAITING, _TOUCHED, _EXPIRED = 0, 1, 2


class ContinuousHandoff:
    """Queue, rep pool and dispatcher for first touches, writing into record columns."""

    def __init__(
        self,
        env: simpy.Environment,
        calendar: Calendar,
        *,
        headcount: int,
        arrival_h: list[float],
        score: list[float],
        work_h: list[float],
        patience_h: list[float] | None,
        by_score: bool,
    ) -> None:
        self.env = env
        self.calendar = calendar
        self.arrival_h = arrival_h
        self.score = score
        self.work_h = work_h
        self.patience_h = patience_h
        self.by_score = by_score
        n = len(arrival_h)
        nan = float("nan")
        self.state = [_WAITING] * n
        self.touch_start_h = [nan] * n
        self.touch_end_h = [nan] * n
        self.rep = [-1] * n
        self.expired_h = [nan] * n
        self.queue_times: list[float] = [0.0]
        self.queue_levels: list[int] = [0]
        self._fifo: deque[int] = deque()
        self._ranked: list[tuple[float, int]] = []
        self._waiting = 0
        self._free = list(range(headcount))  # a heap: the lowest-numbered free rep works first
        self._next = 0
        self._n = n

    # -- wiring ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.arrival_h:
            self._at(self.arrival_h[0], self._on_arrival, None)
        if not self.calendar.always:
            first = self.calendar.next_open(0.0)
            self._at(first, self._on_open, None)

    def _at(self, t: float, callback: Callable[[simpy.Event], None], value: Any) -> None:
        event = simpy.Timeout(self.env, max(t - self.env.now, 0.0), value)
        event.callbacks.append(callback)

    # -- events ------------------------------------------------------------------------------
    def _on_arrival(self, event: simpy.Event) -> None:
        lead = self._next
        self._next += 1
        now = self.arrival_h[lead]  # env.now up to rounding; the drawn time keeps waits exact
        if self._next < self._n:
            Timeout(self.env, self.arrival_h[self._next] - now).callbacks.append(self._on_arrival)
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
        self.queue_times.append(now)
        self.queue_levels.append(self._waiting)
        if self.patience_h is not None:
            self._at(now + self.patience_h[lead], self._on_expiry, lead)

    def _on_expiry(self, event: simpy.Event) -> None:
        lead: int = event._value
        if self.state[lead] == _WAITING:
            self.state[lead] = _EXPIRED
            self.expired_h[lead] = self.env.now
            self._waiting -= 1
            self.queue_times.append(self.env.now)
            self.queue_levels.append(self._waiting)

    def _on_done(self, event: simpy.Event) -> None:
        rep: int = event._value
        heapq.heappush(self._free, rep)
        if self._waiting:
            self._dispatch()

    def _on_open(self, event: simpy.Event) -> None:
        if self._waiting:
            self._dispatch()
        self._at(self.calendar.opens_after(self.env.now) or 0.0, self._on_open, None)

    # -- work ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Give waiting leads to free reps, as long as both exist and the office is open."""
        now = self.env.now
        if not (self.calendar.always or self.calendar.is_working(now)):
            return
        state = self.state
        while self._free and self._waiting:
            lead = heapq.heappop(self._ranked)[1] if self.by_score else self._fifo.popleft()
            if state[lead] != _WAITING:
                continue  # expired while queued; removed lazily
            self._waiting -= 1
            self.queue_times.append(now)
            self.queue_levels.append(self._waiting)
            self._touch(lead, now)

    def _touch(self, lead: int, now: float) -> None:
        rep = heapq.heappop(self._free)
        work = self.work_h[lead]
        end = now + work if self.calendar.always else self.calendar.add_business(now, work)
        self.state[lead] = _TOUCHED
        self.touch_start_h[lead] = now
        self.touch_end_h[lead] = end
        self.rep[lead] = rep
        Timeout(self.env, end - now, rep).callbacks.append(self._on_done)
