"""Working calendars (``funnelsim.calendar``): business time, opening hours, holidays and
deadlines, checked piece by piece.

Expectations are worked out by hand on a Monday-to-Friday 09:00-17:00 calendar whose clock
starts on Monday 5 January 2026 at 00:00, with Wednesday 7 January a holiday, and checked over
two years against an independent day-by-day count.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import pytest

from funnelsim.calendar import Calendar
from funnelsim.scenario.schema import WorkingCalendar
from funnelsim.units import Duration

ORIGIN = dt.datetime(2026, 1, 5)  # a Monday, 00:00
HOLIDAY = dt.date(2026, 1, 7)  # Wednesday of the first week
NEXT_YEAR_HOLIDAY = dt.date(2027, 1, 1)  # a Friday, beyond the first 52 weeks built eagerly
TWO_YEARS_H = 2 * 365 * 24.0


def at(text: str) -> float:
    """Simulation hours of ``'Mon 2026-01-05 09:00'`` on a clock starting at ORIGIN."""
    return (dt.datetime.strptime(text, "%a %Y-%m-%d %H:%M") - ORIGIN) / dt.timedelta(hours=1)


def office(holidays: tuple[dt.date, ...] = (HOLIDAY,)) -> Calendar:
    return Calendar(ORIGIN, workdays=range(5), hours=((9.0, 17.0),), holidays=holidays)


def lunch_break() -> Calendar:
    spec = WorkingCalendar.model_validate({"hours": ["09:00-12:00", "13:00-17:00"]})
    return Calendar(ORIGIN, workdays=spec.weekday_indices, hours=spec.hour_ranges)


# -- the working calendar: hand-computed instants ----------------------------------------------
@pytest.mark.parametrize(
    ("moment", "working"),
    [
        ("Mon 2026-01-05 00:00", False),
        ("Mon 2026-01-05 09:00", True),  # opening instant belongs to working time
        ("Mon 2026-01-05 12:00", True),
        ("Mon 2026-01-05 17:00", False),  # closing instant does not
        ("Tue 2026-01-06 08:59", False),
        ("Wed 2026-01-07 10:00", False),  # holiday
        ("Thu 2026-01-08 10:00", True),
        ("Sat 2026-01-10 10:00", False),
        ("Sun 2026-01-11 16:00", False),
    ],
)
def test_is_working(moment: str, working: bool) -> None:
    assert office().is_working(at(moment)) is working


def test_working_intervals_are_half_open() -> None:
    cal = office()
    open_t, close_t = at("Tue 2026-01-06 09:00"), at("Tue 2026-01-06 17:00")
    assert not cal.is_working(open_t - 1e-9)
    assert cal.is_working(open_t)
    assert cal.is_working(close_t - 1e-9)
    assert not cal.is_working(close_t)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("Mon 2026-01-05 00:00", "Mon 2026-01-05 09:00"),  # before the first opening
        ("Mon 2026-01-05 09:00", "Mon 2026-01-05 09:00"),  # open: itself
        ("Mon 2026-01-05 13:15", "Mon 2026-01-05 13:15"),
        ("Mon 2026-01-05 17:00", "Tue 2026-01-06 09:00"),  # a night
        ("Mon 2026-01-05 22:00", "Tue 2026-01-06 09:00"),
        ("Tue 2026-01-06 17:00", "Thu 2026-01-08 09:00"),  # night + holiday
        ("Wed 2026-01-07 12:00", "Thu 2026-01-08 09:00"),
        ("Fri 2026-01-09 17:00", "Mon 2026-01-12 09:00"),  # a weekend
        ("Sat 2026-01-10 12:00", "Mon 2026-01-12 09:00"),
    ],
)
def test_next_open(moment: str, expected: str) -> None:
    assert office().next_open(at(moment)) == at(expected)


@pytest.mark.parametrize(
    ("moment", "worked"),
    [
        ("Mon 2026-01-05 00:00", 0.0),
        ("Mon 2026-01-05 09:00", 0.0),
        ("Mon 2026-01-05 10:30", 1.5),
        ("Mon 2026-01-05 17:00", 8.0),
        ("Mon 2026-01-05 23:00", 8.0),  # flat overnight
        ("Tue 2026-01-06 09:00", 8.0),
        ("Tue 2026-01-06 11:00", 10.0),
        ("Wed 2026-01-07 12:00", 16.0),  # flat over the holiday
        ("Thu 2026-01-08 09:00", 16.0),
        ("Fri 2026-01-09 17:00", 32.0),
        ("Sun 2026-01-11 12:00", 32.0),  # flat over the weekend
        ("Mon 2026-01-12 09:45", 32.75),
    ],
)
def test_business_time(moment: str, worked: float) -> None:
    cal = office()
    assert cal.business_time(at(moment)) == pytest.approx(worked, abs=1e-12)


def test_business_time_is_flat_while_closed() -> None:
    cal = office()
    night = np.linspace(at("Mon 2026-01-05 17:00"), at("Tue 2026-01-06 09:00"), 50)
    weekend = np.linspace(at("Fri 2026-01-09 17:00"), at("Mon 2026-01-12 09:00"), 50)
    assert {cal.business_time(float(t)) for t in night} == {8.0}
    assert {cal.business_time(float(t)) for t in weekend} == {32.0}
    assert cal.working_hours_between(at("Tue 2026-01-06 16:00"), at("Thu 2026-01-08 10:00")) == 2.0


@pytest.mark.parametrize(
    ("start", "hours", "end"),
    [
        ("Mon 2026-01-05 10:00", 3.0, "Mon 2026-01-05 13:00"),  # same day
        ("Mon 2026-01-05 16:00", 1.0, "Mon 2026-01-05 17:00"),  # ends exactly at closing
        ("Mon 2026-01-05 16:00", 2.0, "Tue 2026-01-06 10:00"),  # across a night
        ("Mon 2026-01-05 20:00", 1.0, "Tue 2026-01-06 10:00"),  # starts while closed
        ("Tue 2026-01-06 16:30", 2.0, "Thu 2026-01-08 10:30"),  # across night + holiday
        ("Fri 2026-01-09 16:30", 2.0, "Mon 2026-01-12 10:30"),  # across a weekend
        ("Sat 2026-01-10 10:00", 1.0, "Mon 2026-01-12 10:00"),  # starts in the weekend
        ("Mon 2026-01-05 10:00", 40.0, "Tue 2026-01-13 10:00"),  # a working week + holiday
    ],
)
def test_add_business(start: str, hours: float, end: str) -> None:
    assert office().add_business(at(start), hours) == pytest.approx(at(end), abs=1e-9)


@pytest.mark.parametrize(
    "moment",
    [
        "Mon 2026-01-05 09:00",  # the very first opening
        "Mon 2026-01-05 10:00",
        "Tue 2026-01-06 09:00",  # an opening after a night
        "Thu 2026-01-08 09:00",  # an opening after a holiday
        "Mon 2026-01-12 09:00",  # an opening after a weekend
    ],
)
def test_add_zero_business_hours_at_a_working_instant_is_that_instant(moment: str) -> None:
    """No work takes no time: a 0 h task started at an opening ends at that opening.

    (A ``constant 0m`` first-touch time is a valid scenario; the handoff ends the touch at
    ``add_business(now, work)`` and schedules it ``end - now`` later.)
    """
    t = at(moment)
    assert office().is_working(t)
    assert office().add_business(t, 0.0) == t


@pytest.mark.parametrize(
    "moment", ["Mon 2026-01-05 20:00", "Sat 2026-01-10 10:00", "Wed 2026-01-07 12:00"]
)
def test_add_business_never_goes_back_in_time(moment: str) -> None:
    cal, t = office(), at(moment)
    for hours in (0.0, 1e-6, 0.5, 8.0):
        assert cal.add_business(t, hours) >= t, f"add_business({moment}, {hours})"


@pytest.mark.parametrize(
    ("start", "duration", "deadline"),
    [
        ("Mon 2026-01-05 10:00", "6bh", "Mon 2026-01-05 16:00"),
        ("Mon 2026-01-05 16:00", "6bh", "Tue 2026-01-06 14:00"),
        ("Tue 2026-01-06 16:00", "3bh", "Thu 2026-01-08 11:00"),  # holiday skipped
        ("Mon 2026-01-05 10:00", "1bd", "Tue 2026-01-06 10:00"),  # 1bd = 8 working hours
        ("Tue 2026-01-06 10:00", "1bd", "Thu 2026-01-08 10:00"),
        ("Fri 2026-01-09 10:00", "1bd", "Mon 2026-01-12 10:00"),
        ("Sat 2026-01-10 10:00", "2bd", "Tue 2026-01-13 17:00"),  # Mon + Tue, all of them
        ("Fri 2026-01-09 16:00", "2d", "Sun 2026-01-11 16:00"),  # calendar clock ignores hours
        ("Tue 2026-01-06 18:00", "30m", "Tue 2026-01-06 18:30"),
        ("Mon 2026-01-05 10:00", "1w", "Mon 2026-01-12 10:00"),
    ],
)
def test_deadline(start: str, duration: str, deadline: str) -> None:
    assert office().deadline(at(start), Duration.parse(duration)) == pytest.approx(
        at(deadline), abs=1e-9
    )


def test_one_business_day_is_eight_working_hours() -> None:
    cal = office()
    assert cal.hours_per_business_day == 8.0
    assert cal.business_hours(Duration.parse("3bd")) == 24.0
    assert cal.business_hours(Duration.parse("6bh")) == 6.0
    with pytest.raises(ValueError, match="calendar time"):
        cal.business_hours(Duration.parse("2d"))
    rng = np.random.default_rng(11)
    for t in rng.uniform(0.0, 24.0 * 60, 200):
        assert cal.deadline(float(t), Duration.parse("1bd")) == cal.deadline(
            float(t), Duration.parse("8bh")
        )


# -- the working calendar: two years against an independent day-by-day count ------------------
def reference_is_working(t: float, holidays: set[dt.date]) -> bool:
    day = ORIGIN.date() + dt.timedelta(days=math.floor(t / 24))
    clock = t - 24 * math.floor(t / 24)
    return day.weekday() < 5 and day not in holidays and 9.0 <= clock < 17.0


def reference_business_time(t: float, holidays: set[dt.date]) -> float:
    """Working hours before ``t``, counted day by day with datetime (no calendar code)."""
    days = math.floor(t / 24)
    worked = 0.0
    for d in range(days + 1):
        date = ORIGIN.date() + dt.timedelta(days=d)
        if date.weekday() >= 5 or date in holidays:
            continue
        clock = 24.0 if d < days else t - 24 * d
        worked += min(max(clock - 9.0, 0.0), 8.0)
    return worked


def test_two_years_agree_with_a_day_by_day_count() -> None:
    holidays = {HOLIDAY, NEXT_YEAR_HOLIDAY}
    cal = office(tuple(holidays))
    midnights = np.arange(0.0, TWO_YEARS_H, 24.0)
    expected = np.cumsum(
        [0.0]
        + [
            0.0 if d.weekday() >= 5 or d in holidays else 8.0
            for d in (ORIGIN.date() + dt.timedelta(days=i) for i in range(len(midnights) - 1))
        ]
    )
    got = np.array([cal.business_time(float(t)) for t in midnights])
    np.testing.assert_array_equal(got, expected)
    rng = np.random.default_rng(20260105)
    for t in map(float, rng.uniform(0.0, TWO_YEARS_H, 300)):
        assert cal.is_working(t) is reference_is_working(t, holidays), t
        assert cal.business_time(t) == pytest.approx(reference_business_time(t, holidays), abs=1e-9)
    assert not cal.is_working(at("Fri 2027-01-01 10:00"))  # a holiday in the extended stretch
    assert cal.next_open(at("Thu 2026-12-31 17:00")) == at("Mon 2027-01-04 09:00")


@pytest.mark.parametrize("make", [office, lunch_break], ids=["office", "lunch-break"])
@pytest.mark.parametrize("duration", ["30m", "2d", "1bh", "6bh", "1bd", "3bd", "40bh"])
def test_vectorised_arithmetic_matches_scalar(make: Callable[[], Calendar], duration: str) -> None:
    """Fresh calendars on both sides, instants over two years: both extend lazily."""
    rng = np.random.default_rng(8675309)
    times = rng.uniform(0.0, TWO_YEARS_H, 2000)
    times[:20] = np.arange(20) * 12.0  # midnights and noons, some on openings and closings
    spec = Duration.parse(duration)
    vector_cal, scalar_cal = make(), make()
    vector_b = vector_cal.business_time_array(times)
    vector_d = vector_cal.deadline_array(times, spec)
    scalar_b = np.array([scalar_cal.business_time(float(t)) for t in times])
    scalar_d = np.array([scalar_cal.deadline(float(t), spec) for t in times])
    np.testing.assert_array_equal(vector_b, scalar_b)
    np.testing.assert_array_equal(vector_d, scalar_d)
    assert (vector_d >= times).all()


def test_always_open_calendar_is_the_identity() -> None:
    cal = Calendar(ORIGIN, always=True)
    times = np.random.default_rng(5).uniform(0.0, TWO_YEARS_H, 100)
    assert cal.hours_per_business_day == 24.0
    for t in map(float, times):
        assert cal.is_working(t)
        assert cal.next_open(t) == t
        assert cal.business_time(t) == t
        assert cal.add_business(t, 2.5) == t + 2.5
        assert cal.deadline(t, Duration.parse("6bh")) == t + 6.0
        assert cal.deadline(t, Duration.parse("1bd")) == t + 24.0
        assert cal.deadline(t, Duration.parse("30m")) == t + 0.5
    np.testing.assert_array_equal(cal.business_time_array(times), times)
    np.testing.assert_array_equal(cal.deadline_array(times, Duration.parse("3bh")), times + 3.0)
    assert cal.opens_after(10.0) is None


def test_lunch_break_calendar() -> None:
    cal = lunch_break()
    assert cal.hours_per_business_day == 7.0
    assert cal.is_working(at("Mon 2026-01-05 11:59"))
    assert not cal.is_working(at("Mon 2026-01-05 12:00"))
    assert not cal.is_working(at("Mon 2026-01-05 12:30"))
    assert cal.is_working(at("Mon 2026-01-05 13:00"))
    assert cal.next_open(at("Mon 2026-01-05 12:10")) == at("Mon 2026-01-05 13:00")
    assert cal.business_time(at("Mon 2026-01-05 12:30")) == 3.0  # flat over lunch
    assert cal.business_time(at("Mon 2026-01-05 14:00")) == 4.0
    assert cal.business_time(at("Mon 2026-01-05 17:00")) == 7.0
    assert cal.add_business(at("Mon 2026-01-05 11:30"), 1.0) == at("Mon 2026-01-05 13:30")
    assert cal.deadline(at("Mon 2026-01-05 11:30"), Duration.parse("2bh")) == at(
        "Mon 2026-01-05 14:30"
    )
    # 1bd = 7 h: Mon 11:00-12:00 and 13:00-17:00 (5 h), then Tue 09:00-11:00 (2 h)
    assert cal.deadline(at("Mon 2026-01-05 11:00"), Duration.parse("1bd")) == at(
        "Tue 2026-01-06 11:00"
    )
