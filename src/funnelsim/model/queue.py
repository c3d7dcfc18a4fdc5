"""The funnel reduced to its queue, served first come first served: a function over arrays.

When a scenario has no marketing scoring, no batch, no acceptance, no follow-up attempts or
qualification, no outbound, no AEs, no hiring and no starting state, and leads are taken in
order of arrival, the whole funnel is the queue queueing theory describes (Erlang C; Erlang A
with patience). It is also the case planners run by the hundred thousand leads, so it is
computed directly, with no event at all: served in order of arrival, each lead starts at the
earliest instant a rep is free in working time, on the lowest-numbered rep free then, unless its
patience has run out by that instant. The rules are the general rep pool's (``pool.py``), and
``tests/test_model_queue.py`` holds the two to the same records, up to the rounding of SimPy's
clock.

Why it is exact: served in order of arrival, no lead starts before the one ahead of it, so the
instant ``T`` the last lead started (or found it had waited too long) bounds every later start,
and every rep free by then is, for a later lead, free from ``max(arrival, T)`` on.
"""

from __future__ import annotations

import heapq
import math
from array import array
from typing import Final

from funnelsim.calendar import Calendar

heappush: Final = heapq.heappush
heappop: Final = heapq.heappop


class FirstTouches:
    """Each lead's first touch: when it started and ended, on which rep, or when it was lost.

    ``nan`` where it did not happen within the run; ``rep`` is -1 for a lead never touched.
    ``done_h`` is when the rep was free again (``end_h`` up to the clock's rounding).
    """

    def __init__(self, n: int) -> None:
        self.start_h: array[float] = array("d", [math.nan]) * n
        self.end_h: array[float] = array("d", [math.nan]) * n
        self.done_h: array[float] = array("d", [math.nan]) * n
        self.expired_h: array[float] = array("d", [math.nan]) * n
        self.rep: array[int] = array("q", [-1]) * n
        self.order: list[int] = []  # the leads touched, in the order their touches started


def first_touches(
    arrival_h: memoryview[float],
    work_h: array[float],
    patience_h: array[float] | None,
    reps: int,
    calendar: Calendar,
    end_h: float,
) -> FirstTouches:
    """Serve leads (sorted by arrival) first come first served by ``reps`` reps who work in
    ``calendar``'s working time, until ``end_h``. A lead whose patience runs out before a rep
    is free for it is lost at that instant."""
    n = len(arrival_h)
    out = FirstTouches(n)
    busy: list[tuple[float, int]] = []  # (free again at, rep)
    idle: list[int] = list(range(reps))  # free by ``last``: a heap of rep numbers
    last = -math.inf  # when the last lead started, or was found lost
    for lead in range(n):
        arrival = arrival_h[lead]
        base = arrival if arrival > last else last
        while busy and busy[0][0] <= base:
            heappush(idle, heappop(busy)[1])
        t = calendar.next_open(base if idle else busy[0][0])
        while busy and busy[0][0] <= t:  # free by then too: they tie with the idle ones
            heappush(idle, heappop(busy)[1])
        last = t
        lost_at = arrival + patience_h[lead] if patience_h is not None else math.inf
        if t >= end_h:  # not started within the run
            if lost_at < end_h:
                out.expired_h[lead] = lost_at
            continue
        if lost_at <= t:
            out.expired_h[lead] = lost_at
            continue
        rep = heappop(idle)
        work = work_h[lead]
        end = t + work
        interval = calendar.working_interval(t)
        if interval is not None and end > interval[1]:  # past the closing: working time only
            end = calendar.add_business(t, work)
        done = t + (end - t)  # the instant SimPy's clock reads when it is done
        heappush(busy, (done, rep))
        out.start_h[lead] = t
        out.end_h[lead] = end
        out.done_h[lead] = done
        out.rep[lead] = rep
        out.order.append(lead)
    return out
