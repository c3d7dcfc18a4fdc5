"""What a team knows will fall due later: work and happenings, in the order they fall due.

Much of a funnel's work is known in advance to become due later (a follow-up attempt four
working hours after a failed one, the next touch of an outbound sequence, an opportunity's next
stage after the buyer's delay), and so are *happenings* that may bring work or close it (a lead
arriving, a contact loaded from the month's list, a lead back from nurture, a buyer's decision
after the last stage). An agenda holds them without a SimPy event each: the team they belong to
takes them off, in the order they fell due, whenever it next looks at its queues (see
``pool.RepPool.advance``, the one way a team's time moves on).

Two sources feed it: a *plan* of happenings known before the run starts (every new lead's
arrival, in order of arrival time), walked by an index, and a heap of what the run adds as it
goes. Entries due at the same time take their turns in the order they were added; planned ones
before added ones.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from typing import Final, Generic, TypeVar

# heap functions held where compiled code reaches them directly
heappush: Final = heapq.heappush
heappop: Final = heapq.heappop

# Something the funnel does at a known time, given that time, that may hand a team work (a
# lead arriving, a lead back from nurture) or close it (a buyer's decision).
Happening = Callable[[float], None]
T = TypeVar("T")


class Agenda(Generic[T]):
    """Items (work of type ``T``, or happenings) due later, earliest first."""

    def __init__(self) -> None:
        # The distinct due times, on a heap of plain floats (compared by the interpreter's own
        # float comparison, compiled or not), and the item due at each. Two items due at the
        # very same instant are rare (times are continuous): the later ones wait in ``_more``.
        self._times: list[float] = []
        self._first: dict[float, T | Happening] = {}
        self._more: dict[float, deque[T | Happening]] = {}
        self._planned_h: list[float] = []
        self._planned: list[Happening] = []
        self._next_planned = 0
        self.due_h = math.inf  # when the earliest item falls due

    def plan(self, due_h: list[float], happenings: list[Happening]) -> None:
        """Happenings known before the run (``happenings[i]`` due at ``due_h[i]``, sorted by
        due time). They take their turns in exactly that order."""
        if self._planned:
            raise RuntimeError("an agenda takes one plan per run")
        self._planned_h, self._planned = due_h, happenings
        if due_h and due_h[0] < self.due_h:
            self.due_h = due_h[0]

    def add(self, due: float, item: T | Happening) -> None:
        """Put an item on the agenda, due at ``due``."""
        if due in self._first:
            self._more.setdefault(due, deque()).append(item)
        else:
            self._first[due] = item
            heappush(self._times, due)
        if due < self.due_h:
            self.due_h = due

    def pop(self) -> T | Happening:
        """Take the earliest item off the agenda (there must be one; it was due at ``due_h``)."""
        i = self._next_planned
        planned_h = self._planned_h
        times = self._times
        item: T | Happening
        if i < len(planned_h) and (not times or planned_h[i] <= times[0]):
            item = self._planned[i]
            i += 1
            self._next_planned = i
        else:
            due = times[0]
            item = self._first.pop(due)
            more = self._more.get(due) if self._more else None
            if more:  # the next item due at the same instant takes its place
                self._first[due] = more.popleft()
                if not more:
                    del self._more[due]
            else:
                heappop(times)
        next_planned = planned_h[i] if i < len(planned_h) else math.inf
        next_later = times[0] if times else math.inf
        self.due_h = next_planned if next_planned < next_later else next_later
        return item
