"""A team of reps working tasks in working hours: the limited resource of every funnel.

Tasks wait in three queues: *urgent* (the call that follows a connect, taken before anything
else), *inbound* (first touches and follow-up attempts on MQLs) and *outbound* (prospecting
touches). Whenever a rep is free in working hours, the team's priority rule picks the queue:
inbound first, outbound first, by score, or a share of rep time kept for outbound. A task's work
time is working time divided by the rep's productivity (new hires ramp up), so a 30-minute touch
started at 16:45 ends the next morning.

There is no process per task: the pool starts work as reps free up, so a task costs one
completion event. Work and happenings that fall due later wait on the team's agenda
(``agenda.py``) without an event of their own; ``advance`` takes them off in the order they
fell due, and every way into the pool (a rep frees, the office opens, work is submitted, a
wake-up) advances first, so nobody outside need remember to. Only while a rep sits idle in
working hours does the pool set a wake-up, at the earliest due time, so that the work starts
exactly when due. A lead's patience costs no event either: a first touch whose lead ran out of
patience while it waited is dropped when a rep would take it (or when the run ends), as lost at
the instant its patience ran out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import Any, Final, cast

import simpy
from simpy.events import NORMAL

from funnelsim.calendar import Calendar
from funnelsim.model.agenda import Agenda, Happening, heappop, heappush
from funnelsim.records import TASK_ROW, TaskLog
from funnelsim.staffing import Ramp, Seat


class Queue(IntEnum):
    """Where a task waits: the call after a connect jumps every queue; first touches and
    follow-up attempts on MQLs wait as inbound; prospecting touches as outbound."""

    URGENT = 0
    INBOUND = 1
    OUTBOUND = 2


# the queues as plain ints, for the dispatch loop: compiled, an enum member is an attribute
# lookup and a boxed object, a Final int is a constant
URGENT_Q: Final = int(Queue.URGENT)
INBOUND_Q: Final = int(Queue.INBOUND)
OUTBOUND_Q: Final = int(Queue.OUTBOUND)
pack_task: Final = TASK_ROW.pack
_NORMAL: Final = NORMAL  # the turn SimPy gives a Timeout, held where compiled code reaches it


class Task:
    """A piece of work of some kind on one lead (``stage``: which stage of an opportunity).

    A task with an ``expire_h`` is dropped unstarted once that instant has come: the lead's
    patience ran out while it waited.
    """

    __slots__ = (
        "done_h", "expire_h", "key", "kind", "lead", "queue", "rep", "seq", "stage", "start_h",
        "work_h",
    )  # fmt: skip

    def __init__(
        self,
        lead: int,
        kind: int,
        queue: int,
        work_h: float,
        key: float = 0.0,
        expire_h: float = math.inf,
        stage: int = 0,
    ) -> None:
        self.lead = lead
        self.kind = kind
        self.queue = queue
        self.work_h = work_h
        self.key = key  # lower first, when the queue is ordered by key
        self.expire_h = expire_h
        self.stage = stage
        self.seq = 0  # order of arrival in its queue
        self.rep = -1  # who works it, once started
        self.start_h = math.nan
        self.done_h = math.nan

    def __lt__(self, other: Task) -> bool:
        if self.key != other.key:
            return self.key < other.key
        return self.seq < other.seq


class Alarm:
    """A moment the pool asks SimPy to report back (a rep's task done, a wake-up, the office
    opening): then SimPy's loop calls ``callback(alarm)``; ``_value`` says what fell due.

    To SimPy's loop it is a Timeout: a place in its queue, callbacks to call then, ``_ok`` (it
    never fails) and ``_value`` (the names SimPy's loop and a Timeout's readers use). It lacks
    the rest of a Timeout: an event processes can wait on, whose Python constructor schedules
    it. Nothing waits on an alarm, and built natively it costs a fraction of a Timeout (a run
    makes about four a lead).
    """

    __slots__ = ("_ok", "_value", "callbacks")

    def __init__(self, value: object, callback: Callable[[Alarm], None]) -> None:
        self.callbacks: list[Callable[[Alarm], None]] | None = [callback]
        self._ok = True
        self._value = value


def alarm(
    env: simpy.Environment, delay: float, value: object, call: Callable[[Alarm], None]
) -> None:
    """Have SimPy call ``call(alarm)`` after ``delay``, ``alarm._value`` being ``value``: in the
    same turn as a Timeout made now would get (scheduled as a Timeout schedules itself)."""
    # an Alarm is not a simpy.Event, but has all SimPy's loop reads of one (see Alarm)
    env.schedule(cast(Any, Alarm(value, call)), _NORMAL, delay)


class Worker:
    """What the team's work means to the funnel: told when a rep takes a task, when the task is
    done, and when a task was dropped because its lead's patience ran out."""

    def started(self, task: Task, rep: int, now: float) -> None:
        raise NotImplementedError

    def done(self, task: Task, rep: int, now: float) -> None:
        raise NotImplementedError

    def expired(self, task: Task) -> None:
        raise NotImplementedError


class RepPool:
    """One team: its seats over time, its task queues and its priority rule."""

    def __init__(
        self,
        env: simpy.Environment,
        calendar: Calendar,
        seats: list[Seat],
        worker: Worker,
        *,
        ramp: Ramp | None = None,
        priority: str | float = "inbound_first",
        ordered: tuple[bool, bool, bool] = (False, False, False),
    ) -> None:
        self.env = env
        self.calendar = calendar
        self.seats = seats
        self.worker = worker
        self.ramp = ramp
        self.priority = priority
        self.ordered = list(ordered)  # a list: compiled, indexing a tuple by a variable boxes it
        # the waiting tasks of each queue: in order of arrival, or (an ordered queue) on a heap
        # by key
        self._fifo: list[deque[Task]] = [deque(), deque(), deque()]
        self._ranked: list[list[Task]] = [[], [], []]
        self.waiting = [0, 0, 0]
        self.busy_h = [0.0, 0.0, 0.0]  # work started, by queue (for the outbound share rule)
        self.log = TaskLog()
        self._free = [i for i, s in enumerate(seats) if s.joined_h <= 0.0]
        self._free.sort()  # a sorted list is a heap
        self._seq = 0
        # until when each rep is still ramping up (-inf: fully productive from the start)
        ramp_h = ramp.hours if ramp is not None else 0.0
        self._ramped_h = [-math.inf if s.ramped else s.joined_h + ramp_h for s in seats]
        self._ramping = any(h > -math.inf for h in self._ramped_h)
        # when reps may leave or be away, a free rep is checked to be there before it works
        self._gaps = any(s.left_h != math.inf or s.away for s in seats)
        self._left_h = [s.left_h for s in seats]
        self._away = [list(s.away) for s in seats]
        self._away_next = [0] * len(seats)  # each rep's first absence not yet over or handled
        self._share = not isinstance(priority, str)  # the share rule counts work started
        self._always = calendar.always
        # the working interval the clock was last seen in: most checks fall inside it
        self._open_h, self._close_h = (-math.inf, math.inf) if calendar.always else (0.0, 0.0)
        # tasks and happenings due later, earliest first; and a plan of happenings known from
        # the start, in order of due time (two parallel lists, walked by an index)
        self.agenda: Agenda[Task] = Agenda()
        self._advancing = False
        self._wakes: list[float] = []  # pending wake-ups, earliest first
        self._wake_h = math.inf  # the earliest pending wake-up
        self._done_cb = self._on_done
        # the log's columns, held here: every task started adds a row
        self._log_rows = self.log.rows

    # -- wiring ------------------------------------------------------------------------------
    def start(self) -> None:
        for rep, seat in enumerate(self.seats):
            if seat.joined_h > 0:
                alarm(self.env, seat.joined_h, rep, self._on_join)
        if not self._always:
            alarm(self.env, self.calendar.next_open(0.0), None, self._on_open)
        if self._free and self.agenda.due_h < math.inf:
            self._wake(self.agenda.due_h)

    def _on_join(self, event: Alarm) -> None:
        heappush(self._free, cast(int, event._value))
        now: float = self.env.now
        self._dispatch(now)

    def _on_open(self, event: Alarm) -> None:
        now: float = self.env.now
        self._dispatch(now)
        nxt = self.calendar.opens_after(now)
        if nxt is not None:
            alarm(self.env, nxt - now, None, self._on_open)

    def _is_open(self, now: float) -> bool:
        """True in working time; remembers the working interval for the checks that follow."""
        if self._open_h <= now < self._close_h:
            return True
        interval = self.calendar.working_interval(now)
        if interval is None:
            return False
        self._open_h, self._close_h = interval
        return True

    # -- work --------------------------------------------------------------------------------
    def plan(self, due_h: list[float], happenings: list[Happening]) -> None:
        """Happenings known before the run starts, in order of due time (``Agenda.plan``)."""
        self.agenda.plan(due_h, happenings)

    def submit(self, task: Task) -> None:
        """Queue a task due now; it starts at once if a rep is free and the office is open."""
        if self._advancing:  # handed over by a happening being taken off the agenda: in turn
            self._enqueue(task)
            return
        now: float = self.env.now
        if self.agenda.due_h <= now:
            self.advance(now)  # work that fell due earlier queues ahead of this task
        free = self._free
        waiting = self.waiting
        if free and not (waiting[0] or waiting[1] or waiting[2]) and self._is_open(now):
            # nothing queued ahead of it: start at once (the common case, kept cheap)
            rep = heappop(free)
            if not self._gaps or self._there(rep, now):
                self._begin(task, rep, now)
                return
        self._enqueue(task)
        if free:
            self._dispatch(now)

    def submit_at(self, task: Task, due: float) -> None:
        """Queue a task that falls due at ``due``, later than now: from then on it is as if
        submitted then.

        It waits among the later tasks without an event of its own; only if a rep is idle does
        the pool wake up at the due time to start it then.
        """
        self._agenda(due, task)

    def call_at(self, due: float, happening: Happening) -> None:
        """Have ``happening(due)`` run at ``due``: when the team next looks at its queues, which
        it does at ``due`` itself if a rep is idle then; it sees the world as it was at ``due``.
        """
        self._agenda(due, happening)

    def _agenda(self, due: float, item: Task | Happening) -> None:
        """Put a task or happening due later on the agenda; wake up for it if a rep is idle."""
        self.agenda.add(due, item)
        if self._free and due < self._wake_h:
            self._wake(due)

    def _enqueue(self, task: Task) -> None:
        """Put the task at the back of its queue (in key order, if the queue is ordered)."""
        self._seq += 1
        task.seq = self._seq
        q = task.queue
        if self.ordered[q]:
            heappush(self._ranked[q], task)
        else:
            self._fifo[q].append(task)
        # counts written out in full (compiled, `+=` on a list item goes through generic objects)
        self.waiting[q] = self.waiting[q] + 1

    def advance(self, now: float, instant: float = math.inf) -> None:
        """Move the team's time on to ``now``: every task on the agenda due by then joins its
        queue, and every happening due by then runs, in the order they fell due, as of its own
        time (as of the clock for those due from ``instant`` on). Every way into the pool does
        this first; the funnel calls it before reading what happenings write, and at the end.
        """
        if self._advancing:
            return  # already under way, further up the stack
        agenda = self.agenda
        fifo, ranked, ordered, waiting = self._fifo, self._ranked, self.ordered, self.waiting
        self._advancing = True
        while agenda.due_h <= now:
            due = agenda.due_h
            item = agenda.pop()
            if isinstance(item, Task):  # queued as by _enqueue, written out: the hot path
                self._seq += 1
                item.seq = self._seq
                q = item.queue
                if ordered[q]:
                    heappush(ranked[q], item)
                else:
                    fifo[q].append(item)
                waiting[q] = waiting[q] + 1
            elif due < instant:  # it may queue work, or put more on the agenda
                item(due)
            else:
                clock: float = self.env.now
                item(clock)
        self._advancing = False

    def _wake(self, due: float) -> None:
        """Make sure the pool looks at its queues at ``due``, when a later task falls due.

        Not needed if an earlier wake-up is pending (it sets the next one), nor when the office
        is closed then (its opening dispatches).
        """
        if due >= self._wake_h:
            return
        if not (self._always or self.calendar.is_working(due)):
            return
        heappush(self._wakes, due)
        self._wake_h = due
        now: float = self.env.now
        alarm(self.env, due - now, due, self._on_wake)

    def _on_wake(self, event: Alarm) -> None:
        due = cast(float, event._value)
        wakes = self._wakes
        while wakes and wakes[0] <= due:
            heappop(wakes)
        self._wake_h = wakes[0] if wakes else math.inf
        now: float = self.env.now
        # The clock lands on the due time up to a rounding error, either side: what falls due
        # at this instant happens as of the clock, as it would by an event of its own (so that
        # a lead arriving to an idle team waits exactly no time).
        self.advance(max(due, now), instant=min(due, now))
        self._dispatch(now)

    def _rule(self) -> int:
        """The queue the team's priority rule picks when both inbound and outbound wait."""
        rule = self.priority
        if rule == "inbound_first":
            return INBOUND_Q
        if rule == "outbound_first":
            return OUTBOUND_Q
        if rule == "score":
            return (
                INBOUND_Q
                if self._ranked[INBOUND_Q][0] < self._ranked[OUTBOUND_Q][0]
                else OUTBOUND_Q
            )
        assert isinstance(rule, float)
        spent = self.busy_h[INBOUND_Q] + self.busy_h[OUTBOUND_Q]
        return OUTBOUND_Q if self.busy_h[OUTBOUND_Q] < rule * spent else INBOUND_Q

    def _dispatch(self, now: float) -> None:
        """Free reps take waiting work, urgent first, then as the priority rule says."""
        if not (self._open_h <= now < self._close_h or self._is_open(now)):
            return
        if self.agenda.due_h <= now:
            self.advance(now)
        free, waiting, ordered = self._free, self.waiting, self.ordered
        fifo, ranked = self._fifo, self._ranked
        while free:
            if waiting[URGENT_Q]:
                q = URGENT_Q
            elif not waiting[OUTBOUND_Q]:
                if not waiting[INBOUND_Q]:
                    # a rep stays idle: it starts the next later task when that falls due
                    if self.agenda.due_h < self._wake_h:
                        self._wake(self.agenda.due_h)
                    return
                q = INBOUND_Q
            elif not waiting[INBOUND_Q]:
                q = OUTBOUND_Q
            else:
                q = self._rule()
            task = heappop(ranked[q]) if ordered[q] else fifo[q].popleft()
            waiting[q] = waiting[q] - 1
            if task.expire_h <= now:  # the lead's patience ran out while it waited
                self.worker.expired(task)
                continue
            rep = heappop(free)
            if self._gaps and not self._there(rep, now):
                waiting[q] = waiting[q] + 1  # put the task back: that rep is not there
                if ordered[q]:
                    heappush(ranked[q], task)
                else:
                    fifo[q].appendleft(task)
                continue
            self._begin(task, rep, now)

    def _begin(self, task: Task, rep: int, now: float) -> None:
        """A rep takes the task now (in working time): it ends after its work time."""
        work = task.work_h
        if self._ramping and now < self._ramped_h[rep]:  # a new hire, not yet fully productive
            assert self.ramp is not None
            work /= max(self.ramp.productivity(self.seats[rep], now), 1e-6)
        end = now + work
        if end > self._close_h:  # the work runs past the closing: count working time only
            end = self.calendar.add_business(now, work)
        if self._share:
            self.busy_h[task.queue] += work
        task.rep = rep
        task.start_h = now
        # `+=`: compiled, a method call (`extend`) is looked up by name on every row
        self._log_rows += pack_task(rep, task.lead, task.kind, now, end)
        self.worker.started(task, rep, now)
        # SimPy's clock will read exactly now + delay when it is done: kept, so that the pool
        # need not ask SimPy for the time then
        delay = end - now
        task.done_h = now + delay
        alarm(self.env, delay, task, self._done_cb)

    def _on_done(self, event: Alarm) -> None:
        task = cast(Task, event._value)
        rep = task.rep
        now = task.done_h
        if self.agenda.due_h <= now:
            self.advance(now)  # what fell due happened before this moment's consequences
        self.worker.done(task, rep, now)
        if not self._gaps or self._there(rep, now):
            heappush(self._free, rep)
        if self._free:
            self._dispatch(now)

    def _there(self, rep: int, now: float) -> bool:
        """True if the rep is on the team and not away now. A rep found away (a free rep's
        day off begins, or a task ends inside one) comes back when the absence ends; a task in
        hand when an absence begins is finished first."""
        if now >= self._left_h[rep]:
            return False
        away = self._away[rep]
        i = self._away_next[rep]
        while i < len(away) and away[i][1] <= now:
            i += 1
        self._away_next[rep] = i
        if i < len(away) and away[i][0] <= now:
            self._away_next[rep] = i + 1  # this absence is handled: back at its end
            alarm(self.env, away[i][1] - now, rep, self._on_join)
            return False
        return True

    def expire_waiting(self, until: float) -> None:
        """At the end of a run: drop the waiting tasks whose patience ran out before ``until``."""
        for q in (URGENT_Q, INBOUND_Q, OUTBOUND_Q):
            for task in self._ranked[q] if self.ordered[q] else self._fifo[q]:
                if task.expire_h < until:
                    self.worker.expired(task)
