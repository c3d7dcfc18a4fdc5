"""Lead sources: when leads arrive.

Inbound leads arrive as a Poisson process: at a constant rate, or with an intensity that
follows the week (Monday mornings busier than Sunday nights) and the year (seasonality by
calendar month). The weekly shape is a
non-homogeneous Poisson process with a piecewise-constant intensity by hour, sampled exactly by
inverting its cumulative intensity; all arrival times of a replication are drawn at once as a
vector, so the simulation spends no events generating them.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from funnelsim.calendar import hours_between
from funnelsim.scenario.schema import WEEKDAY_NAMES, Arrivals

if TYPE_CHECKING:
    from funnelsim.calendar import FloatArray


def _poisson_points(rng: np.random.Generator, total: float) -> FloatArray:
    """Points of a unit-rate Poisson process on [0, total), drawn in vectorised blocks."""
    if not total > 0:  # no expected point at all (a spend that buys no leads)
        return np.zeros(0)
    chunks: list[FloatArray] = []
    reached = 0.0
    block = int(total + 6 * math.sqrt(total) + 16)
    while reached < total:
        points = reached + np.cumsum(rng.exponential(1.0, block))
        chunks.append(points)
        reached = float(points[-1])
        block = max(16, block // 4)
    points = np.concatenate(chunks)
    return points[points < total]


def hourly_intensity(
    spec: Arrivals, origin: dt.datetime, span_h: float, rate_per_hour: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Breakpoints and leads-per-hour on each clock-hour piece of a weekly-shaped process.

    The rate (``spec.rate`` unless ``rate_per_hour`` is given) is the mean over a week; the
    weekday and hour weights shape it (their product is normalised to mean one over the week).
    """
    rate = rate_per_hour if rate_per_hour is not None else spec.rate.per_hour  # type: ignore[union-attr]
    day_w = np.array(
        [1.0] * 7 if spec.weekdays is None else [spec.weekdays.get(d, 0.0) for d in WEEKDAY_NAMES]  # type: ignore[call-overload]
    )
    hour_w = np.ones(24) if spec.hours is None else np.asarray(spec.hours, dtype=float)
    week = np.outer(day_w, hour_w).ravel()  # 168 weights, Monday 00:00 first
    week = week / week.mean()
    first_hour = origin.replace(minute=0, second=0, microsecond=0)
    offset = hours_between(origin, first_hour)  # <= 0: clock hours start before the origin
    n_hours = math.ceil(span_h - offset) + 1
    starts = offset + np.arange(n_hours, dtype=float)
    slot = (first_hour.weekday() * 24 + first_hour.hour + np.arange(n_hours)) % 168
    season = np.asarray(spec.month_weights())[calendar_months(first_hour, n_hours)]
    return np.clip(starts, 0.0, None), rate * week[slot] * season


def calendar_months(first_hour: dt.datetime, n_hours: int) -> np.ndarray:
    """The calendar month (0: January) of each of ``n_hours`` clock hours from ``first_hour``."""
    hours = np.datetime64(first_hour, "h") + np.arange(n_hours)
    return np.asarray(hours.astype("datetime64[M]").astype(np.int64) % 12)


def invert_intensity(
    starts: FloatArray, rates: FloatArray, span_h: float, rng: np.random.Generator
) -> FloatArray:
    """Arrival times in [0, span_h) of a Poisson process with piecewise-constant intensity.

    Unit-rate Poisson points are mapped through the inverse of the cumulative intensity.
    """
    ends = np.append(starts[1:], span_h)
    lengths = np.clip(np.minimum(ends, span_h) - starts, 0.0, None)
    cumulative = np.concatenate([[0.0], np.cumsum(rates * lengths)])
    points = _poisson_points(rng, float(cumulative[-1]))
    piece = np.searchsorted(cumulative, points, side="right") - 1
    safe = np.where(rates[piece] > 0, rates[piece], 1.0)
    times: FloatArray = starts[piece] + (points - cumulative[piece]) / safe
    return times[times < span_h]


def arrival_times(
    spec: Arrivals, origin: dt.datetime, span_h: float, rng: np.random.Generator
) -> FloatArray:
    """All arrival times in [0, span_h) simulation hours for one source and replication."""
    if spec.at is not None:
        times = np.sort(np.array([hours_between(origin, t) for t in spec.at], dtype=float))
        return times[(times >= 0) & (times < span_h)]
    assert spec.rate is not None
    if spec.weekdays is None and spec.hours is None and spec.months is None:
        return _poisson_points(rng, spec.rate.per_hour * span_h) / spec.rate.per_hour
    starts, rates = hourly_intensity(spec, origin, span_h)
    return invert_intensity(starts, rates, span_h, rng)
