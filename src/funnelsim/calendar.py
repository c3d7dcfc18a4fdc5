"""Working time: when reps work, and how business-time SLAs are counted.

The simulation clock is in hours since the simulation began (the start of the warm-up). A
calendar turns that clock into working intervals (workdays, working hours, holidays) and offers
the two pieces of arithmetic the funnel needs:

* ``business_time(t)``: working hours elapsed from the origin to ``t`` (flat while closed);
* ``add_business(t, h)``: the earliest instant by which ``h`` working hours have passed after
  ``t``, which is how a "6bh" SLA deadline, or the end of 1 h of rep work started at 16:30, is
  found.

Reps work only in working time, and a task's work time is working time: a 1 h touch started at
16:30 on a 09:00-17:00 day finishes at 09:30 the next working day.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from funnelsim.scenario.schema import Scenario
from funnelsim.units import Duration

if TYPE_CHECKING:  # numpy only where arrays are asked for: working time and months need none
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOUR = dt.timedelta(hours=1)
_EXTEND_WEEKS = 52


def hours_between(origin: dt.datetime, moment: dt.datetime) -> float:
    """Simulation-clock hours from ``origin`` to ``moment``."""
    return (moment - origin) / _HOUR


class Calendar:
    """Working intervals over the simulation clock.

    ``workdays`` are weekday indices (Monday 0), ``hours`` the working ranges of a day in hours
    after midnight (e.g. ``[(9, 12), (13, 17)]``), ``holidays`` dates with no work. With
    ``always=True`` every instant is working time and business hours are calendar hours.
    """

    def __init__(
        self,
        origin: dt.datetime,
        *,
        always: bool = False,
        workdays: Iterable[int] = range(5),
        hours: Sequence[tuple[float, float]] = ((9.0, 17.0),),
        holidays: Iterable[dt.date] = (),
    ) -> None:
        self.origin = origin
        self.always = always
        self.workdays = frozenset(workdays)
        self.hours = tuple(sorted(hours))
        self.holidays = frozenset(holidays)
        self.hours_per_business_day = (
            24.0 if always else float(sum(end - start for start, end in self.hours))
        )
        self._opens: list[float] = []
        self._closes: list[float] = []
        self._cum: list[float] = []  # working hours elapsed at each opening
        self._ends: list[float] = []  # working hours elapsed at each closing
        self._hint = 0  # the interval of the latest lookup: the simulation clock moves forward
        midnight = dt.datetime.combine(origin.date(), dt.time())
        self._next_day = origin.date()
        self._covered_until = hours_between(origin, midnight)  # clock time of _next_day 00:00
        if not always:
            if not self.workdays or self.hours_per_business_day <= 0:
                raise ValueError("a calendar needs at least one workday and working hours")
            self._extend(24.0 * 7 * _EXTEND_WEEKS)

    # -- building ---------------------------------------------------------------------------
    def _extend(self, until: float) -> None:
        """Generate working intervals day by day, at least up to ``until`` hours after origin."""
        while self._covered_until <= until:
            day = self._next_day
            base = self._covered_until
            if day.weekday() in self.workdays and day not in self.holidays:
                for start, end in self.hours:
                    open_t, close_t = max(base + start, 0.0), base + end
                    if close_t <= open_t:
                        continue  # a range that ended before the simulation began
                    cum = self._ends[-1] if self._ends else 0.0
                    self._opens.append(open_t)
                    self._closes.append(close_t)
                    self._cum.append(cum)
                    self._ends.append(cum + close_t - open_t)
            self._next_day = day + dt.timedelta(days=1)
            self._covered_until = base + 24.0

    def _cover(self, t: float) -> None:
        while t >= self._covered_until - 24.0 * 7:
            self._extend(self._covered_until + 24.0 * 7 * _EXTEND_WEEKS)

    # -- scalar arithmetic (the simulation's hot path) ---------------------------------------
    def _slot(self, t: float) -> int:
        """The last interval opening at or before ``t`` (-1: none), with the next one known.

        Lookups mostly come at or near the simulation's current time, so the previous answer
        is tried first; the search is only needed when the clock has moved on to another one.
        """
        opens = self._opens
        k = self._hint
        if k + 1 < len(opens) and opens[k] <= t < opens[k + 1]:
            return k
        self._cover(t)
        k = bisect.bisect_right(opens, t) - 1
        while k + 1 >= len(opens):  # a closure longer than the covered stretch
            self._extend(self._covered_until + 24.0 * 7 * _EXTEND_WEEKS)
        if k >= 0:
            self._hint = k
        return k

    def is_working(self, t: float) -> bool:
        """True when reps work at instant ``t`` (working intervals are [open, close))."""
        if self.always:
            return True
        k = self._slot(t)
        return k >= 0 and t < self._closes[k]

    def working_interval(self, t: float) -> tuple[float, float] | None:
        """The working interval [open, close) that ``t`` falls in; None when closed."""
        if self.always:
            return -math.inf, math.inf
        k = self._slot(t)
        if k >= 0 and t < self._closes[k]:
            return self._opens[k], self._closes[k]
        return None

    def next_open(self, t: float) -> float:
        """``t`` itself when working, else the next opening."""
        if self.always:
            return t
        k = self._slot(t)
        if k >= 0 and t < self._closes[k]:
            return t
        return self._opens[k + 1]

    def business_time(self, t: float) -> float:
        """Working hours elapsed between the origin and ``t``."""
        if self.always:
            return t
        k = self._slot(t)
        if k < 0:
            return 0.0
        return self._cum[k] + min(t - self._opens[k], self._closes[k] - self._opens[k])

    def at_business_time(self, b: float) -> float:
        """The earliest instant at which ``b`` working hours have elapsed since the origin."""
        if self.always:
            return b
        while b > self._ends[-1]:
            self._extend(self._covered_until + 24.0 * 7 * _EXTEND_WEEKS)
        k = bisect.bisect_left(self._ends, b)
        return self._opens[k] + (b - self._cum[k])

    def add_business(self, t: float, hours: float) -> float:
        """The instant at which ``hours`` of working time have passed after ``t``."""
        if self.always:
            return t + hours
        k = self._hint
        opens = self._opens
        if not (k + 1 < len(opens) and opens[k] <= t < opens[k + 1]):
            k = self._slot(t)
        if k < 0:
            return max(t, self.at_business_time(hours))
        close, cum = self._closes[k], self._cum
        if t < close:
            if t + hours <= close:
                return t + hours  # done within the working interval it starts in (most work is)
            b = cum[k] + (t - opens[k]) + hours
        else:
            b = cum[k] + (close - opens[k]) + hours
        ends = self._ends
        while b > ends[-1]:
            self._extend(self._covered_until + 24.0 * 7 * _EXTEND_WEEKS)
        # the interval in which b working hours are reached: mostly one of the next few, found
        # by stepping forward (far cheaper than a search), or searched for when further ahead
        j = k
        while ends[j] < b:
            j += 1
            if j - k > 8:
                j = bisect.bisect_left(ends, b, j)
                break
        end = opens[j] + (b - cum[j])
        # at a boundary the earliest instant with that much working time is the previous
        # closing, which lies before t when no working time is added: never go back in time
        return end if end > t else t

    def business_hours(self, duration: Duration) -> float:
        """Working hours in a duration written on the business clock (bh, bd)."""
        if duration.unit == "bh":
            return duration.amount
        if duration.unit == "bd":
            return duration.amount * self.hours_per_business_day
        raise ValueError(f"{duration} is calendar time, not business time")

    def deadline(self, t: float, duration: Duration) -> float:
        """When a clock of ``duration`` started at ``t`` runs out (calendar or business)."""
        if duration.business:
            return self.add_business(t, self.business_hours(duration))
        return t + duration.hours

    def working_hours_between(self, t0: float, t1: float) -> float:
        return self.business_time(t1) - self.business_time(t0)

    # -- vectorised arithmetic (records and metrics) -----------------------------------------
    def business_time_array(self, t: npt.ArrayLike) -> FloatArray:
        import numpy as np

        times = np.asarray(t, dtype=np.float64)
        if self.always or times.size == 0:
            return times.astype(np.float64, copy=True)
        self._cover(float(np.nanmax(times)) if np.isfinite(times).any() else 0.0)
        opens, closes, cum = (np.asarray(a) for a in (self._opens, self._closes, self._cum))
        k = np.searchsorted(opens, times, side="right") - 1
        kc = np.clip(k, 0, None)
        out = cum[kc] + np.minimum(times - opens[kc], closes[kc] - opens[kc])
        out = np.where(k < 0, 0.0, out)
        return np.where(np.isnan(times), np.nan, out)

    def deadline_array(self, t: npt.ArrayLike, duration: Duration) -> FloatArray:
        import numpy as np

        times = np.asarray(t, dtype=np.float64)
        if not duration.business:
            return times + duration.hours
        b = self.business_time_array(times) + self.business_hours(duration)
        if self.always:
            return b
        if np.isfinite(b).any():
            self.at_business_time(float(np.nanmax(b)))  # extends the intervals far enough
        ends, opens, cum = (np.asarray(a) for a in (self._ends, self._opens, self._cum))
        k = np.searchsorted(ends, b, side="left")
        k = np.clip(k, 0, len(opens) - 1)
        deadline: FloatArray = np.maximum(times, opens[k] + (b - cum[k]))
        return deadline

    def opens_after(self, t: float) -> float | None:
        """The first opening strictly after ``t`` (None for an always-open calendar)."""
        if self.always:
            return None
        return self._opens[self._slot(t) + 1]

    def datetime_at(self, t: float) -> dt.datetime:
        return self.origin + dt.timedelta(hours=t)


def build_calendar(scenario: Scenario) -> Calendar:
    """The scenario's working calendar: around the clock, or its working days and hours."""
    spec = scenario.calendar
    if spec == "always":
        return Calendar(scenario.origin, always=True)
    return Calendar(
        scenario.origin,
        workdays=spec.weekday_indices,
        hours=spec.hour_ranges,
        holidays=spec.holidays,
    )


def month_edges(origin: dt.datetime, span_h: float) -> tuple[list[float], list[float]]:
    """Start and end (simulation hours) of each calendar month the simulation touches.

    Months are whole calendar months: the first starts on the 1st of the origin's month, so
    at or before hour 0, and the last ends on or after ``span_h``.
    """
    starts = [hours_between(origin, dt.datetime(origin.year, origin.month, 1))]
    ends: list[float] = []
    while True:
        ends.append(hours_between(origin, _next_month(origin, len(ends))))
        if ends[-1] >= span_h:
            return starts, ends
        starts.append(ends[-1])


def month_bounds(origin: dt.datetime, span_h: float) -> tuple[FloatArray, FloatArray]:
    """:func:`month_edges` as arrays."""
    import numpy as np

    starts, ends = month_edges(origin, span_h)
    return np.array(starts), np.array(ends)


def _next_month(origin: dt.datetime, index: int) -> dt.datetime:
    """The first instant of the calendar month after month ``index`` (0: the origin's)."""
    month = origin.month + index + 1
    return dt.datetime(origin.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
