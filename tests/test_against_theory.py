"""The model reduced to textbook queues must reproduce Erlang C, Erlang A and Little's law.

Each check runs independent replications of a long horizon after a warm-up, and asserts that
the analytic value lies in the simulation's 99.9% confidence interval and that the interval is
narrow (see docs/validation.md). The numbers are printed: run with ``-s`` to see them.
"""

from __future__ import annotations

import numpy as np
import pytest

from funnelsim import metrics
from funnelsim.model.run import simulate
from funnelsim.records import RunRecords
from funnelsim.theory import ErlangA, ErlangC
from helpers import assert_theory_in_ci, bundled, scenario

pytestmark = pytest.mark.slow


class Runs:
    """Replications of one scenario: their records and their metrics."""

    def __init__(self, data: dict[str, object], n: int, *overrides: str) -> None:
        spec = scenario(data, *overrides)
        self.records = [simulate(spec, seed=20261127, replication=r) for r in range(n)]
        self.metrics = [metrics.compute(r, spec) for r in self.records]

    def column(self, name: str) -> list[float]:
        return [m[name] for m in self.metrics]


# (arrival rate /h, mean work time, reps, SLA in hours, replications, horizon)
ERLANG_C_CASES = {
    "bundled rho=0.90": ("9/h", "1h", 10, 0.5, 24, "200d"),
    "rho=0.83 c=6": ("20/h", "15m", 6, 5 / 60, 12, "100d"),
    "rho=0.75 c=2": ("1.5/h", "1h", 2, 1.0, 30, "400d"),
}


@pytest.mark.parametrize("case", list(ERLANG_C_CASES))
def test_erlang_c(case: str) -> None:
    rate, work, reps, sla_h, n, horizon = ERLANG_C_CASES[case]
    runs = Runs(
        bundled("validation/erlang-c.yaml"),
        n,
        f"sources.web.arrivals.rate={rate}",
        f"teams.sdr.first_touch_time.mean={work}",
        f"teams.sdr.headcount={reps}",
        f"handoff.first_touch_sla={sla_h * 60:g}m",
        f"horizon={horizon}",
    )
    spec = scenario(bundled("validation/erlang-c.yaml"), f"sources.web.arrivals.rate={rate}")
    lam = spec.sources["web"].arrivals.rate.per_hour  # type: ignore[union-attr]
    mu = (
        1
        / scenario(
            bundled("validation/erlang-c.yaml"), f"teams.sdr.first_touch_time.mean={work}"
        ).teams.sdr.first_touch_time.mean_hours
    )
    theory = ErlangC(lam, mu, reps)
    print(f"\n{case}: lambda={lam}/h mu={mu}/h c={reps} rho={theory.utilization:.3f}")
    assert_theory_in_ci(
        "P(wait > 0)",
        theory.prob_wait,
        runs.column("first_touch_waited_share"),
        max_half_width=0.02,
    )
    assert_theory_in_ci(
        "mean wait (h)",
        theory.mean_wait,
        runs.column("first_touch_wait_mean_h"),
        max_half_width=0.1 * theory.mean_wait,
    )
    assert_theory_in_ci(
        f"P(wait <= {sla_h:.3g} h)",
        theory.prob_wait_within(sla_h),
        runs.column("sla_first_touch_attainment"),
        max_half_width=0.02,
    )
    assert_theory_in_ci(
        "utilisation", theory.utilization, runs.column("sdr_utilization"), max_half_width=0.01
    )
    assert_theory_in_ci(
        "mean queue (leads)",
        theory.mean_queue,
        runs.column("queue_length_mean"),
        max_half_width=0.1 * theory.mean_queue,
    )


# (arrival rate /h, mean work, reps, mean patience, replications)
ERLANG_A_CASES = {
    "bundled": ("9/h", "1h", 10, "2h", 16),
    "overloaded lambda > c mu": ("14/h", "1h", 10, "1h", 16),
}


@pytest.mark.parametrize("case", list(ERLANG_A_CASES))
def test_erlang_a(case: str) -> None:
    rate, work, reps, patience, n = ERLANG_A_CASES[case]
    data = bundled("validation/erlang-a.yaml")
    overrides = (
        f"sources.web.arrivals.rate={rate}",
        f"teams.sdr.first_touch_time.mean={work}",
        f"teams.sdr.headcount={reps}",
        f"handoff.expire_after.mean={patience}",
        "horizon=100d",
    )
    spec = scenario(data, *overrides)
    lam = spec.sources["web"].arrivals.rate.per_hour  # type: ignore[union-attr]
    mu = 1 / spec.teams.sdr.first_touch_time.mean_hours
    theta = 1 / spec.handoff.expire_after.mean_hours  # type: ignore[union-attr]
    theory = ErlangA(lam, mu, reps, theta)
    print(f"\n{case}: lambda={lam}/h mu={mu}/h c={reps} theta={theta}/h, a/c={lam / mu / reps:.2f}")
    runs = Runs(data, n, *overrides)
    assert_theory_in_ci(
        "P(abandon)", theory.prob_abandon, runs.column("expired_share"), max_half_width=0.01
    )
    assert_theory_in_ci(
        "P(wait > 0)",
        theory.prob_wait,
        runs.column("first_touch_waited_share"),
        max_half_width=0.02,
    )
    assert_theory_in_ci(
        "mean queue (leads)",
        theory.mean_queue,
        runs.column("queue_length_mean"),
        max_half_width=0.1 * theory.mean_queue,
    )


def littles_law_gap(records: RunRecords) -> tuple[float, float]:
    """Time-average queue length from the level monitor, and lambda * W from per-lead waits.

    Measured over the window with every lead's time in queue clipped to it, so both sides count
    exactly the same lead-hours; the monitor and the per-lead times are recorded independently.
    """
    leads = records.leads
    t0, t1 = records.window
    left = np.fmin(np.fmin(leads.touch_start_h, leads.expired_h), records.end_h)
    in_queue = np.clip(left, t0, t1) - np.clip(leads.arrival_h, t0, t1)
    lam = np.count_nonzero((leads.arrival_h >= t0) & (leads.arrival_h < t1)) / (t1 - t0)
    measured = (leads.arrival_h >= t0) & (leads.arrival_h < t1)
    wait = (left - leads.arrival_h)[measured].mean()
    return records.queue.time_average(t0, t1), float(lam * wait), float(in_queue.sum() / (t1 - t0))


@pytest.mark.parametrize("file", ["validation/erlang-c.yaml", "validation/erlang-a.yaml"])
def test_littles_law_on_the_queue(file: str) -> None:
    runs = Runs(bundled(file), 12)
    monitor, lam_w, exact = zip(*(littles_law_gap(r) for r in runs.records), strict=True)
    # the monitor and the clipped per-lead queue times are the same integral: equal to rounding
    assert np.allclose(monitor, exact, rtol=1e-9), (monitor, exact)
    # L = lambda W over a long window: the paired difference is zero within its CI
    gaps = [m - lw for m, lw in zip(monitor, lam_w, strict=True)]
    mean_l = float(np.mean(monitor))
    assert_theory_in_ci("L - lambda W (leads)", 0.0, gaps, max_half_width=0.02 * mean_l)
