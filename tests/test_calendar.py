"""Units, working calendars, lead sources and random streams, checked piece by piece.

Calendar expectations are worked out by hand on a Monday-to-Friday 09:00-17:00 calendar whose
clock starts on Monday 5 January 2026 at 00:00, with Wednesday 7 January a holiday. Sources are
checked statistically: the count of arrivals over many replications must agree with the written
rate within a 99.9% confidence interval (the numbers are printed: run with ``-s``).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest

from funnelsim.calendar import Calendar
from funnelsim.model.sources import arrival_times
from funnelsim.rng import Streams
from funnelsim.scenario.schema import Arrivals, WorkingCalendar
from funnelsim.units import Duration, Rate
from helpers import assert_theory_in_ci

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


# -- durations and rates -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "hours"),
    [("30m", 0.5), ("90m", 1.5), ("4h", 4.0), ("2d", 48.0), ("2w", 336.0), ("0.5d", 12.0)],
)
def test_calendar_durations_in_hours(text: str, hours: float) -> None:
    duration = Duration.parse(text)
    assert not duration.business
    assert duration.hours == pytest.approx(hours, rel=1e-12)


@pytest.mark.parametrize(("text", "amount", "unit"), [("3bd", 3.0, "bd"), ("6bh", 6.0, "bh")])
def test_business_durations_need_a_calendar(text: str, amount: float, unit: str) -> None:
    duration = Duration.parse(text)
    assert (duration.amount, duration.unit) == (amount, unit)
    assert duration.business
    with pytest.raises(ValueError, match="business time"):
        _ = duration.hours


@pytest.mark.parametrize(
    ("text", "per_hour"),
    [("9/h", 9.0), ("40/d", 40 / 24), ("200/w", 200 / 168), ("0.5/m", 30.0)],
)
def test_rates_per_hour(text: str, per_hour: float) -> None:
    assert Rate.parse(text).per_hour == pytest.approx(per_hour, rel=1e-12)


@pytest.mark.parametrize("text", ["30m", "4h", "2d", "2w", "3bd", "6bh", "1.5h", "0.25bd"])
def test_duration_str_round_trip(text: str) -> None:
    duration = Duration.parse(text)
    assert str(duration) == text
    assert Duration.parse(str(duration)) == duration


@pytest.mark.parametrize("text", ["9/h", "40/d", "200/w", "0.5/m", "2.5/h"])
def test_rate_str_round_trip(text: str) -> None:
    rate = Rate.parse(text)
    assert str(rate) == text
    assert Rate.parse(str(rate)) == rate


@pytest.mark.parametrize("value", ["30", 30, "30x", "h", "3 bdays"])
def test_unreadable_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):  # PydanticCustomError is a ValueError
        Duration.parse(value)


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


# -- lead sources --------------------------------------------------------------------------------
REPLICATIONS = 30


def counts_by_replication(
    spec: Arrivals, span_h: float, origin: dt.datetime = ORIGIN
) -> list[np.ndarray]:
    runs = []
    for replication in range(REPLICATIONS):
        rng = Streams(20260105, replication).generator("arrivals/test")
        times = arrival_times(spec, origin, span_h, rng)
        assert (np.diff(times) >= 0).all(), "arrival times must be sorted"
        assert times.size == 0 or (times[0] >= 0 and times[-1] < span_h)
        runs.append(times)
    return runs


def test_constant_rate_count_matches_rate_times_span() -> None:
    spec = Arrivals.model_validate({"rate": "9/h"})
    span = 1000.0
    runs = counts_by_replication(spec, span)
    expected = 9.0 * span
    assert_theory_in_ci(
        "constant 9/h over 1000 h: leads",
        expected,
        [float(len(r)) for r in runs],
        max_half_width=0.02 * expected,
    )
    gaps = np.concatenate([np.diff(r) for r in runs])
    assert_theory_in_ci(
        "constant 9/h: mean gap (h)",
        1 / 9,
        [float(np.diff(r).mean()) for r in runs],
        max_half_width=0.02 / 9,
    )
    # exponential gaps: the coefficient of variation is 1
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.02)


OFFICE_HOURS = [0.0] * 9 + [1.0] * 8 + [0.0] * 7  # 09:00-17:00


@pytest.mark.parametrize(
    "origin",
    [ORIGIN, dt.datetime(2026, 1, 7, 10, 30)],
    ids=["monday-midnight", "wednesday-10:30"],
)
def test_weekly_shape_keeps_to_office_hours_and_the_written_mean(origin: dt.datetime) -> None:
    spec = Arrivals.model_validate(
        {
            "rate": "200/w",
            "weekdays": {"mon": 1, "tue": 1, "wed": 1, "thu": 1, "fri": 1, "sat": 0, "sun": 0},
            "hours": OFFICE_HOURS,
        }
    )
    weeks = 4
    runs = counts_by_replication(spec, weeks * 168.0, origin)
    for times in runs:
        moments = [origin + dt.timedelta(hours=float(t)) for t in times]
        weekend = [m for m in moments if m.weekday() >= 5]
        night = [m for m in moments if not 9 <= m.hour < 17]
        assert not weekend, f"{len(weekend)} weekend arrivals, e.g. {weekend[:3]}"
        assert not night, f"{len(night)} arrivals outside 09-17, e.g. {night[:3]}"
    expected = 200.0 * weeks
    assert_theory_in_ci(
        f"200/w shaped to office hours, {weeks} whole weeks from {origin:%a %H:%M}: leads",
        expected,
        [float(len(r)) for r in runs],
        max_half_width=0.05 * expected,
    )
    # within office hours the intensity is flat: 40 leads a day, 5 an hour
    hour_of_day = np.concatenate(
        [[(origin + dt.timedelta(hours=float(t))).hour for t in r] for r in runs]
    )
    per_hour = np.bincount(hour_of_day, minlength=24)[9:17]
    assert per_hour.min() > 0.85 * per_hour.mean(), per_hour


def test_relative_weekday_weights_give_the_ratio_of_counts() -> None:
    spec = Arrivals.model_validate({"rate": "100/w", "weekdays": {"mon": 2, "tue": 1}})
    weeks = 10
    runs = counts_by_replication(spec, weeks * 168.0)
    mondays, tuesdays, others = [], [], 0
    for times in runs:
        weekday = np.array([(ORIGIN + dt.timedelta(hours=float(t))).weekday() for t in times])
        mondays.append(float(np.count_nonzero(weekday == 0)))
        tuesdays.append(float(np.count_nonzero(weekday == 1)))
        others += int(np.count_nonzero(weekday > 1))
    assert others == 0, "days not listed must get no arrivals"
    assert_theory_in_ci(
        "mon: 2, tue: 1: Monday share",
        2 / 3,
        [m / (m + t) for m, t in zip(mondays, tuesdays, strict=True)],
        max_half_width=0.03,
    )
    assert_theory_in_ci(
        "mon: 2, tue: 1 at 100/w over 10 weeks: leads",
        100.0 * weeks,
        [m + t for m, t in zip(mondays, tuesdays, strict=True)],
        max_half_width=0.05 * 100.0 * weeks,
    )


# -- random streams ------------------------------------------------------------------------------
def draws(seed: int, replication: int, name: str) -> np.ndarray:
    return Streams(seed, replication).generator(name).random(50)


def test_same_stream_same_draws() -> None:
    np.testing.assert_array_equal(draws(1, 0, "arrivals/web"), draws(1, 0, "arrivals/web"))
    np.testing.assert_array_equal(draws(9, 4, "work/sdr/web"), draws(9, 4, "work/sdr/web"))


@pytest.mark.parametrize(
    "other",
    [(1, 0, "arrivals/chat"), (1, 1, "arrivals/web"), (2, 0, "arrivals/web")],
    ids=["other-name", "other-replication", "other-seed"],
)
def test_different_streams_differ(other: tuple[int, int, str]) -> None:
    base = draws(1, 0, "arrivals/web")
    assert not np.array_equal(base, draws(*other))
    # not merely shifted copies of one another either
    assert abs(np.corrcoef(base, draws(*other))[0, 1]) < 0.6


FIRST_DRAW = (
    "from funnelsim.rng import Streams; "
    "print(repr(float(Streams(1, 0).generator('arrivals/web').random())))"
)


def first_draw_with_hash_seed(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_DRAW],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_stream_names_do_not_depend_on_hash_randomisation() -> None:
    a, b = first_draw_with_hash_seed("123"), first_draw_with_hash_seed("456")
    print(f"first draw of (1, 0, 'arrivals/web'): {a} (PYTHONHASHSEED=123), {b} (456)")
    assert a == b
    here = repr(float(Streams(1, 0).generator("arrivals/web").random()))
    assert a == here
