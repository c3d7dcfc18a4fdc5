"""Teams over time: who is on the team when, and how productive they are.

A team starts with its headcount, fully ramped. A hiring plan adds people on given dates (each
ramping up: a new SDR does not work at full speed in week one) and removes people (the most
recently hired leave first). A rep's productivity at a moment scales the working time a task
takes: at 50% productivity a 30-minute touch takes an hour. The fully loaded cost of a head
accrues per calendar hour on the team, ramping or not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

HOURS_PER_YEAR = 8766.0  # calendar hours in an average year


@dataclass(frozen=True)
class Seat:
    """One person on a team: on the team during [joined_h, left_h), ramping from joined_h, and
    away (days off) during each interval of ``away``, in order."""

    joined_h: float
    left_h: float = math.inf
    ramped: bool = True  # False: ramps up from joined_h
    away: tuple[tuple[float, float], ...] = ()

    def available(self, end_h: float) -> list[tuple[float, float]]:
        """The intervals, up to ``end_h``, when the person is on the team and not away."""
        pieces, start = [], self.joined_h
        stop = min(self.left_h, end_h)
        for a, b in self.away:
            if a > start:
                pieces.append((start, min(a, stop)))
            start = max(start, b)
        if stop > start:
            pieces.append((start, stop))
        return [(a, b) for a, b in pieces if b > a]

    def active(self, t: float) -> bool:
        return self.joined_h <= t < self.left_h


@dataclass(frozen=True)
class Ramp:
    """Productivity of a new hire: linear from ``start`` to 1 over ``hours`` (calendar)."""

    start: float = 1.0
    hours: float = 0.0

    def productivity(self, seat: Seat, t: float) -> float:
        if seat.ramped or self.hours <= 0:
            return 1.0
        progress = (t - seat.joined_h) / self.hours
        return min(1.0, self.start + (1.0 - self.start) * max(progress, 0.0))


def seats_from_plan(
    headcount: int, changes: list[tuple[float, int]], horizon_end_h: float
) -> list[Seat]:
    """The seats of a team given its starting headcount and (time, +hires / -departures).

    Departures remove the most recently joined people still on the team; a change after the
    end of the simulation is ignored. Raises ValueError if more people leave than are there.
    """
    seats: list[Seat] = [Seat(0.0) for _ in range(headcount)]
    for at_h, change in sorted(changes):
        if at_h >= horizon_end_h:
            continue
        if change > 0:
            seats += [Seat(at_h, ramped=False) for _ in range(change)]
            continue
        present = [i for i, s in enumerate(seats) if s.active(at_h)]
        if -change > len(present):
            raise ValueError(
                f"{-change} departure(s) at hour {at_h:g} but only {len(present)} on the team"
            )
        for i in sorted(present, key=lambda i: seats[i].joined_h)[len(present) + change :]:
            old = seats[i]
            seats[i] = Seat(old.joined_h, at_h, old.ramped)
    return seats


def seat_hours(seats: list[Seat], t0: float, t1: float) -> float:
    """Calendar hours that seats were on the team within [t0, t1): the basis of people cost."""
    return sum(max(0.0, min(s.left_h, t1) - max(s.joined_h, t0)) for s in seats)


class Sampler(Protocol):
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray: ...


def with_availability(
    seats: list[Seat],
    days_per_year: float,
    tenure: Sampler | None,
    lag_h: float,
    workdays: list[float],
    end_h: float,
    generator: Callable[[int], np.random.Generator],
) -> list[Seat]:
    """The seats with random departures and days off.

    People leave after a random tenure (drawn per person; for those on the team at hour 0,
    from hour 0); their seat stays empty ``lag_h`` before a new hire fills it, who ramps up
    and may leave in turn; a seat the plan ends earlier is not refilled after that. Each
    person is away each working day (a whole day from ``workdays``' midnights) with
    probability ``days_per_year`` over a year's working days, independently.

    Each planned seat and its successors draw from a generator of their own, keyed by when the
    seat was planned to start, so that a plan with one more person leaves everyone else's
    draws as they were (common random numbers). Replacements follow the planned seats.
    """
    import numpy as np

    per_year = len(workdays) * HOURS_PER_YEAR / end_h if end_h > 0 else 0.0
    p = min(1.0, days_per_year / per_year) if per_year > 0 else 0.0
    days = np.asarray(workdays)
    planned: list[Seat] = []
    later: list[Seat] = []
    starting: dict[float, int] = {}
    for seat in seats:
        k = starting.get(seat.joined_h, 0)
        starting[seat.joined_h] = k + 1
        rng = generator(int(seat.joined_h * 60) * 1024 + k)
        chain, current = [], seat
        while True:
            leave = current.joined_h + float(tenure.sample(rng, 1)[0]) if tenure else math.inf
            stop = min(current.left_h, end_h)
            if leave >= stop:
                chain.append(current)
                break
            chain.append(Seat(current.joined_h, leave, current.ramped))
            if leave + lag_h >= stop:
                break
            current = Seat(leave + lag_h, current.left_h, ramped=False)
        if p > 0:
            for i, person in enumerate(chain):
                mine = days[(days >= person.joined_h) & (days < min(person.left_h, end_h))]
                off = mine[rng.random(len(mine)) < p].tolist()
                away = tuple((d, d + 24.0) for d in off)
                chain[i] = Seat(person.joined_h, person.left_h, person.ramped, away)
        planned.append(chain[0])
        later += chain[1:]
    return planned + later
