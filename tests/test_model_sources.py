"""Lead sources (``funnelsim.model.sources``): arrival times drawn from a written rate and weekly
shape.

Checked statistically: the count of arrivals over many replications must agree with the
written rate within a 99.9% confidence interval (the numbers are printed: run with ``-s``); the
seeds are fixed in CI and rotate with FUNNELSIM_TEST_SEED (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from funnelsim.model.run import simulate
from funnelsim.model.sources import arrival_times
from funnelsim.rng import Streams
from funnelsim.scenario.schema import Arrivals
from helpers import assert_theory_in_ci, bundled, scenario

ORIGIN = dt.datetime(2026, 1, 5)  # a Monday, 00:00
pytestmark = pytest.mark.seed(20260105)  # the fixed seed, in CI

REPLICATIONS = 30


def counts_by_replication(
    spec: Arrivals, span_h: float, seed: int, origin: dt.datetime = ORIGIN
) -> list[np.ndarray]:
    """Arrival times over ``span_h`` hours from ``origin``, one array per replication."""
    runs = []
    for replication in range(REPLICATIONS):
        rng = Streams(seed, replication).generator("arrivals/test")
        times = arrival_times(spec, origin, span_h, rng)
        assert (np.diff(times) >= 0).all(), "arrival times must be sorted"
        assert times.size == 0 or (times[0] >= 0 and times[-1] < span_h)
        runs.append(times)
    return runs


def test_constant_rate_count_matches_rate_times_span(seed: int) -> None:
    spec = Arrivals.model_validate({"rate": "9/h"})
    span = 1000.0
    runs = counts_by_replication(spec, span, seed)
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
def test_weekly_shape_keeps_to_office_hours_and_the_written_mean(
    origin: dt.datetime, seed: int
) -> None:
    spec = Arrivals.model_validate(
        {
            "rate": "200/w",
            "weekdays": {"mon": 1, "tue": 1, "wed": 1, "thu": 1, "fri": 1, "sat": 0, "sun": 0},
            "hours": OFFICE_HOURS,
        }
    )
    weeks = 4
    runs = counts_by_replication(spec, weeks * 168.0, seed, origin)
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


def test_relative_weekday_weights_give_the_ratio_of_counts(seed: int) -> None:
    spec = Arrivals.model_validate({"rate": "100/w", "weekdays": {"mon": 2, "tue": 1}})
    weeks = 10
    runs = counts_by_replication(spec, weeks * 168.0, seed)
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


def test_seasonality_shapes_each_calendar_month_and_keeps_the_yearly_mean(seed: int) -> None:
    """A quiet December and a busy March around a written yearly mean rate: each month's count
    is the rate x its normalised weight x its hours, and the year keeps the rate."""
    months = {"mar": 1.5, "dec": 0.5}  # the other ten months: 1, so the mean is already 1
    spec = Arrivals.model_validate({"rate": "2/h", "months": months})
    start = dt.datetime(2026, 1, 1)
    span = 365 * 24.0
    runs = counts_by_replication(spec, span, seed, origin=start)
    edges = [0.0]
    for month in range(1, 13):
        end = dt.datetime(2026 + month // 12, month % 12 + 1, 1)
        edges.append((end - start).total_seconds() / 3600)
    for month, weight in ((2, 1.5), (11, 0.5), (5, 1.0)):  # March, December, June
        hours = edges[month + 1] - edges[month]
        expected = 2.0 * weight * hours
        assert_theory_in_ci(
            f"2/h in month {month + 1} (weight {weight}): leads",
            expected,
            [float(np.histogram(r, bins=edges)[0][month]) for r in runs],
            max_half_width=0.05 * expected,
        )
    assert_theory_in_ci(
        "2/h seasonal, a year: leads", 2.0 * span, [float(len(r)) for r in runs],
        max_half_width=0.01 * 2.0 * span,
    )  # fmt: skip


def test_a_spend_that_buys_no_leads_runs_with_none() -> None:
    """Saturation so far out that the spend buys no lead at all: the source is simply silent
    (it used to fail concatenating no points)."""
    spec = scenario(
        bundled("baseline.yaml"),
        "sources.search.response.half_saturation=1e12",
        "horizon=2w",
        "warmup=0d",
    )
    leads = simulate(spec, seed=1).leads
    search = list(spec.sources).index("search")
    print(f"leads from search: {np.count_nonzero(leads.source == search)}")
    assert np.count_nonzero(leads.source == search) == 0
    assert np.count_nonzero(leads.source == list(spec.sources).index("content")) > 0
