"""A team of reps working tasks in working hours: the limited resource of every funnel.

Tasks wait in three queues: *urgent* (the call that follows a connect, taken before anything
else), *inbound* (first touches and follow-up attempts on MQLs) and *outbound* (prospecting
touches). Whenever a rep is free in working hours, the team's priority rule picks the queue:
inbound first, outbound first, by score, or a share of rep time kept for outbound. A task's work
time is working time divided by the rep's productivity (new hires ramp up), so a 30-minute touch
started at 16:45 ends the next morning.

There is no process per task: the pool starts work as reps free up, so a task costs one
completion event.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import Timeout

from funnelsim.calendar import Calendar
from funnelsim.records import TaskLog
from funnelsim.staffing import Ramp, Seat

URGENT, INBOUND, OUTBOUND = 0, 1, 2

# kinds of work, indices into records.TASK_KINDS
FIRST_TOUCH, ATTEMPT, QUALIFICATION, PROSPECT, AE_STAGE = 0, 1, 2, 3, 4

Done = Callable[["Task", int, float], None]


class Task:
    """A piece of work on one lead: ``done(task, rep, now)`` runs when it is finished."""

    __slots__ = ("cancelled", "done", "key", "kind", "lead", "queue", "seq", "work_h")

    def __init__(
        self, lead: int, kind: int, queue: int, work_h: float, done: Done, key: float = 0.0
    ) -> None:
        self.lead = lead
        self.kind = kind
        self.queue = queue
        self.work_h = work_h
        self.done = done
        self.key = key  # lower first, when the queue is ordered by key
        self.cancelled = False
        self.seq = 0

    def __lt__(self, other: Task) -> bool:
        return (self.key, self.seq) < (other.key, other.seq)


Started = Callable[[Task, int, float], None]


class RepPool:
    """One team: its seats over time, its task queues and its priority rule."""

    def __init__(
        self,
        env: simpy.Environment,
        calendar: Calendar,
        seats: list[Seat],
        *,
        ramp: Ramp | None = None,
        priority: str | float = "inbound_first",
        ordered: tuple[bool, bool, bool] = (False, False, False),
        on_start: Started | None = None,
    ) -> None:
        self.env = env
        self.calendar = calendar
        self.seats = seats
        self.ramp = ramp
        self.priority = priority
        self.ordered = ordered
        self.on_start = on_start
        self.queues: list[Any] = [[] if o else deque() for o in ordered]
        self.waiting = [0, 0, 0]
        self.busy_h = [0.0, 0.0, 0.0]  # work started, by queue (for the outbound share rule)
        self.log = TaskLog()
        self._free = [i for i, s in enumerate(seats) if s.joined_h <= 0.0]
        heapq.heapify(self._free)
        self._seq = 0
        self._ramping = ramp is not None and any(not s.ramped for s in seats)
        self._changing = any(s.joined_h > 0 or s.left_h != float("inf") for s in seats)
        self._share = not isinstance(priority, str)  # the share rule counts work started

    # -- wiring ------------------------------------------------------------------------------
    def start(self) -> None:
        for rep, seat in enumerate(self.seats):
            if seat.joined_h > 0:
                Timeout(self.env, seat.joined_h, rep).callbacks.append(self._on_join)
        if not self.calendar.always:
            Timeout(self.env, self.calendar.next_open(0.0)).callbacks.append(self._on_open)

    def _on_join(self, event: simpy.Event) -> None:
        heapq.heappush(self._free, event._value)
        self._dispatch()

    def _on_open(self, event: simpy.Event) -> None:
        self._dispatch()
        nxt = self.calendar.opens_after(self.env.now)
        if nxt is not None:
            Timeout(self.env, nxt - self.env.now).callbacks.append(self._on_open)

    # -- work --------------------------------------------------------------------------------
    def submit(self, task: Task) -> None:
        """Queue a task; it starts at once if a rep is free and the office is open."""
        self._seq += 1
        task.seq = self._seq
        free = self._free
        if free and not (self.waiting[0] or self.waiting[1] or self.waiting[2]):
            # nothing queued ahead of it: start at once (the common case, kept cheap)
            now = self.env.now
            if self.calendar.always or self.calendar.is_working(now):
                rep = heapq.heappop(free)
                if not self._changing or self.seats[rep].active(now):
                    self._begin(task, rep, now)
                    return
        q = task.queue
        if self.ordered[q]:
            heapq.heappush(self.queues[q], task)
        else:
            self.queues[q].append(task)
        self.waiting[q] += 1
        if self._free:
            self._dispatch()

    def _pick(self) -> int:
        """The queue the next free rep takes from (-1: nothing waiting)."""
        w = self.waiting
        if w[URGENT]:
            return URGENT
        if not w[OUTBOUND]:
            return INBOUND if w[INBOUND] else -1
        if not w[INBOUND]:
            return OUTBOUND
        rule = self.priority
        if rule == "inbound_first":
            return INBOUND
        if rule == "outbound_first":
            return OUTBOUND
        if rule == "score":
            return INBOUND if self.queues[INBOUND][0] < self.queues[OUTBOUND][0] else OUTBOUND
        assert isinstance(rule, float)
        spent = self.busy_h[INBOUND] + self.busy_h[OUTBOUND]
        return OUTBOUND if self.busy_h[OUTBOUND] < rule * spent else INBOUND

    def _dispatch(self) -> None:
        now = self.env.now
        if not (self.calendar.always or self.calendar.is_working(now)):
            return
        while self._free:
            q = self._pick()
            if q < 0:
                return
            queue = self.queues[q]
            task = heapq.heappop(queue) if self.ordered[q] else queue.popleft()
            self.waiting[q] -= 1
            if task.cancelled:
                continue
            rep = heapq.heappop(self._free)
            if self._changing and not self.seats[rep].active(now):
                self.waiting[q] += 1  # put the task back: that rep has left
                if self.ordered[q]:
                    heapq.heappush(queue, task)
                else:
                    queue.appendleft(task)
                continue
            self._begin(task, rep, now)

    def _begin(self, task: Task, rep: int, now: float) -> None:
        work = task.work_h
        if self._ramping:
            assert self.ramp is not None
            work /= max(self.ramp.productivity(self.seats[rep], now), 1e-6)
        end = now + work if self.calendar.always else self.calendar.add_business(now, work)
        if self._share:
            self.busy_h[task.queue] += work
        log = self.log
        log.rep.append(rep)
        log.lead.append(task.lead)
        log.kind.append(task.kind)
        log.start_h.append(now)
        log.end_h.append(end)
        if self.on_start is not None:
            self.on_start(task, rep, now)
        Timeout(self.env, end - now, (rep, task)).callbacks.append(self._on_done)

    def _on_done(self, event: simpy.Event) -> None:
        rep, task = event._value
        now = self.env.now
        task.done(task, rep, now)
        if not self._changing or self.seats[rep].active(now):
            heapq.heappush(self._free, rep)
        if self._free:
            self._dispatch()
