"""The full funnel against exact results: M_t/G/inf occupancy, Little's law, spend response.

* **M_t/G/inf.** With more SDRs than leads can ever keep busy, nobody waits and the number of
  leads being touched at time t is Poisson with mean m(t) = int_0^t lambda(u) P(S > t - u) du,
  for the weekly-shaped intensity lambda and any work-time distribution S.
* **Little's law** on every stage of the bundled baseline: the time-average number of leads in
  a stage equals the entry rate times the mean time spent in it. A window has edges: stays
  begun before it count in L only, and the parts of stays that run past its end in W only.
  The measured year starts after a 12-week warm-up, with queues and open opportunities that
  take weeks to clear, so clipping stays at one edge only would leave a bias of several
  percent; the window is therefore ended 12 weeks before the run, so that W holds whole stays,
  and the two edge effects cancel in expectation. Where the model keeps a level series, the
  series is also checked, exactly, against the per-lead times.
* **Spend response.** Over many months, the leads a channel brings each month match its
  response curve (with carry-over) in ``funnelsim.curves``.

Every check asserts that the exact value lies in a 99.9% confidence interval over independent
replications (Bonferroni-corrected where one test makes several checks), and that the interval
is narrow; the numbers are printed (run with ``-s``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy.special import stdtrit

from funnelsim.analysis import summarise
from funnelsim.calendar import month_bounds
from funnelsim.curves import SpendResponse
from funnelsim.model.population import response_of
from funnelsim.model.run import simulate
from funnelsim.model.sources import hourly_intensity
from funnelsim.records import RunRecords
from funnelsim.scenario.schema import Constant, DurationDist, Exponential, InboundSource, Uniform
from helpers import assert_theory_in_ci, bundled, scenario

SEED = 20260105
FloatFn = Callable[[np.ndarray], np.ndarray]


# -- M_t/G/inf ---------------------------------------------------------------------------------
WEEKDAY_SHAPE = {"mon": 1.5, "tue": 1.2, "wed": 1.0, "thu": 1.0, "fri": 0.8, "sat": 0.3, "sun": 0.2}
HOUR_SHAPE = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.5, 1.5, 2.5, 3.0, 2.5,
              1.5, 2.0, 2.5, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3, 0.2, 0.1, 0.1]  # fmt: skip


def integrated_survival(work: dict[str, Any]) -> FloatFn:
    """G(x) = int_0^x P(S > y) dy (hours) for the work-time distributions used here."""
    dist = TypeAdapter(DurationDist).validate_python(work)
    if isinstance(dist, Exponential):
        mean = dist.mean.hours
        return lambda x: mean * -np.expm1(-np.asarray(x) / mean)
    if isinstance(dist, Constant):
        c = dist.value.hours
        return lambda x: np.minimum(np.asarray(x), c)
    assert isinstance(dist, Uniform)
    lo, hi = dist.low.hours, dist.high.hours

    def g(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        ramp = lo + ((hi - lo) ** 2 - (hi - np.clip(x, lo, hi)) ** 2) / (2 * (hi - lo))
        return np.where(x <= lo, x, ramp)

    return g


def mean_in_service(
    starts: np.ndarray, rates: np.ndarray, span: float, g: FloatFn, t: float
) -> float:
    """m(t) = sum over intensity pieces [a, b) of rate * (G(t - a) - G(t - b)), pieces cut at t."""
    ends = np.append(starts[1:], span)
    a, b = np.minimum(starts, t), np.minimum(ends, t)
    return float(np.sum(rates * (g(t - a) - g(t - b))))


WORK_TIMES = {
    "exponential 2h": {"dist": "exponential", "mean": "2h"},
    "constant 3h": {"dist": "constant", "value": "3h"},
    "uniform 0.5h-4h": {"dist": "uniform", "low": "0.5h", "high": "4h"},
}
# times of the week (hours after Monday 00:00) at which the occupancy is checked: nights,
# mornings, peaks and the weekend
CHECK_TIMES = [3.5, 10.25, 24 + 14.67, 48 + 19.08, 72 + 11.83, 96 + 16.33, 120 + 12.0, 144 + 22.75]
WEEKS = 16


def weekly_intensity(span: float, rate: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Hourly pieces of the arrival intensity, from a Monday 00:00 origin: the weekly mean
    rate shaped by weekday x hour weights, the weights normalised to mean 1 over the week."""
    day = np.array([WEEKDAY_SHAPE[d] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")])
    week = np.outer(day, HOUR_SHAPE).ravel()
    starts = np.arange(0.0, math.ceil(span))
    return starts, rate * week[starts.astype(int) % 168] / week.mean()


def test_weekly_intensity_matches_the_model() -> None:
    spec = scenario(mtginf_data(WORK_TIMES["exponential 2h"]))
    span = spec.horizon_hours
    starts, rates = hourly_intensity(spec.sources["web"].arrivals, spec.origin, span)  # type: ignore[union-attr]
    mine_starts, mine_rates = weekly_intensity(span)
    k = len(mine_starts)
    assert np.array_equal(starts[:k], mine_starts)
    assert np.allclose(rates[:k], mine_rates, rtol=1e-12)
    assert np.sum(mine_rates) / span == pytest.approx(12.0)  # '12/h' is the weekly mean


def mtginf_data(work: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "M_t/G/inf",
        "start": "2026-01-05 00:00",  # a Monday
        "horizon": f"{WEEKS}w",
        "calendar": "always",
        "sources": {
            "web": {
                "kind": "inbound",
                "arrivals": {"rate": "12/h", "weekdays": WEEKDAY_SHAPE, "hours": HOUR_SHAPE},
            }
        },
        "handoff": {"first_touch_sla": "1h"},
        "teams": {"sdr": {"headcount": 250, "first_touch_time": work}},
    }


def in_service(records: RunRecords, t: float) -> int:
    leads = records.leads
    end = np.nan_to_num(leads.touch_end_h, nan=np.inf)  # still being touched when the run ends
    return int(np.count_nonzero((leads.touch_start_h <= t) & (t < end)))


@pytest.mark.slow
@pytest.mark.parametrize("case", list(WORK_TIMES))
def test_mt_g_inf_occupancy(case: str) -> None:
    work = WORK_TIMES[case]
    spec = scenario(mtginf_data(work))
    span = spec.horizon_hours
    starts, rates = weekly_intensity(span)
    g = integrated_survival(work)
    weeks = range(1, WEEKS - 1)  # clear of the end, where leads still in service are cut
    n = 24
    runs = [simulate(spec, SEED, r) for r in range(n)]
    for r in runs:  # the premise: with this many SDRs nobody waits
        waits = r.leads.touch_start_h - r.leads.arrival_h
        assert np.nanmax(waits) == 0.0, "a lead waited: not an infinite-server system"
        assert np.isnan(r.leads.touch_start_h).sum() == 0
    print(f"\nM_t/G/inf, work {case}, {n} replications x {len(weeks)} weeks")
    level = 1 - 0.001 / len(CHECK_TIMES)
    for tau in CHECK_TIMES:
        times = [tau + 168 * w for w in weeks]
        theory = float(np.mean([mean_in_service(starts, rates, span, g, t) for t in times]))
        values = [float(np.mean([in_service(r, t) for t in times])) for r in runs]
        day, hour = divmod(tau, 24)
        # narrow: within 6% of m(t), or 1.3 times the half-width Poisson counts would give
        poisson = float(stdtrit(n - 1, 0.5 + level / 2)) * math.sqrt(theory / (n * len(weeks)))
        assert_theory_in_ci(
            f"in service, day {int(day)} {hour:05.2f} h",
            theory,
            values,
            max_half_width=max(0.06 * theory, 1.3 * poisson),
            level=level,
        )


def test_mt_g_inf_formula_checks_itself() -> None:
    """The occupancy formula on a constant rate: m(t) -> lambda E[S], and m(t) for t < c."""
    starts = np.arange(0.0, 100.0)
    rates = np.full(100, 5.0)
    for work, mean in [
        ({"dist": "exponential", "mean": "2h"}, 2.0),
        ({"dist": "constant", "value": "3h"}, 3.0),
        ({"dist": "uniform", "low": "0.5h", "high": "4h"}, 2.25),
    ]:
        g = integrated_survival(work)
        assert mean_in_service(starts, rates, 100.0, g, 90.0) == pytest.approx(5 * mean, rel=1e-6)
    g = integrated_survival({"dist": "constant", "value": "3h"})
    assert mean_in_service(starts, rates, 100.0, g, 1.5) == pytest.approx(7.5)


# -- Little's law on every stage of the baseline -------------------------------------------------
@functools.cache
def baseline_runs(n: int, *overrides: str) -> tuple[RunRecords, ...]:
    spec = scenario(bundled("baseline.yaml"), *overrides)
    return tuple(simulate(spec, SEED, r) for r in range(n))


LITTLE_WEEKS = 40  # the analysis window: the first 40 of the 52 measured weeks


def little_window(records: RunRecords) -> tuple[float, float]:
    """From the start of the measured period, 40 weeks: both edges fall on a Monday 00:00, and
    the 12 weeks left before the run ends let the stays begun in the window run to their end
    (the longest, an opportunity's, takes about two months)."""
    t0 = records.window[0]
    t1 = t0 + LITTLE_WEEKS * 168.0
    assert t1 <= records.end_h - 12 * 168.0
    return t0, t1


def stage(
    records: RunRecords, entry: np.ndarray, exit_: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, float]:
    """Time-average number in a stage over the window from per-lead times, and lambda * W.

    A lead is in the stage from ``entry`` until ``exit_`` (nan: still there when the run ends).
    L is the in-window part of every lead's stay over the window's length; lambda is the rate of
    entries in the window and W the mean whole stay of those leads. The edges cut stays alike
    on both sides: stays that began before the window count in L only, the parts of stays that
    run past its end count in W only, and in the long run the two cancel.
    """
    t0, t1 = little_window(records)
    entered = ~np.isnan(entry) if mask is None else ~np.isnan(entry) & mask
    leave = np.where(np.isnan(exit_), records.end_h, exit_)
    assert (leave[entered] >= entry[entered] - 1e-9).all(), "a lead left a stage before entering"
    stay = np.clip(leave, t0, t1) - np.clip(entry, t0, t1)
    level = float(np.sum(stay[entered]) / (t1 - t0))
    new = entered & (entry >= t0) & (entry < t1)
    unfinished = np.count_nonzero(np.isnan(exit_[new]))
    assert unfinished <= 0.001 * np.count_nonzero(new), f"{unfinished} stays cut by the run's end"
    lam = np.count_nonzero(new) / (t1 - t0)
    w = float(np.mean(leave[new] - entry[new]))
    return level, lam * w


def queue_stage(records: RunRecords) -> tuple[float, float]:
    """From each handoff (a lead back from nurture is handed off again) to its first touch."""
    h = records.handoffs
    return stage(records, h.handoff_h, np.fmin(h.touch_start_h, h.expired_h))


def opportunity_stage(records: RunRecords) -> tuple[float, float]:
    leads = records.leads
    return stage(records, leads.opp_h, leads.closed_h)


def sdr_stage(records: RunRecords) -> tuple[float, float]:
    """Handed off, until sales decides (or the lead expires untouched), per handoff."""
    h = records.handoffs
    return stage(records, h.handoff_h, np.fmin(h.decision_h, h.expired_h))


def check_little(label: str, levels: list[float], lam_w: list[float]) -> None:
    gaps = [a - b for a, b in zip(levels, lam_w, strict=True)]
    mean_l = float(np.mean(levels))
    print(f"\n{label}: L = {mean_l:.4f}, lambda W = {np.mean(lam_w):.4f}")
    assert_theory_in_ci(f"{label}: L - lambda W", 0.0, gaps, max_half_width=0.025 * mean_l)


BASELINE_N = 12


@pytest.mark.slow
def test_waiting_queue_monitor_matches_lead_records() -> None:
    """records.queue and the per-handoff first touch / expiry times count the same lead-hours:
    the monitor is kept during the run, the handoff rows are written independently.
    """
    for r in baseline_runs(BASELINE_N):
        monitor = r.queue.time_average(*little_window(r))
        level, _ = queue_stage(r)
        print(f"replication {r.replication}: monitor {monitor:.5f}, lead records {level:.5f}")
        assert monitor == pytest.approx(level, rel=1e-9), (
            f"replication {r.replication}: queue monitor {monitor:.5f} leads, lead records "
            f"{level:.5f} leads ({(monitor - level) / monitor:+.2%} of the monitor missing)"
        )


@pytest.mark.slow
def test_littles_law_waiting_for_first_touch() -> None:
    runs = baseline_runs(BASELINE_N)
    monitor = [r.queue.time_average(*little_window(r)) for r in runs]
    lam_w = [queue_stage(r)[1] for r in runs]
    check_little("waiting for a first touch (records.queue)", monitor, lam_w)


@pytest.mark.slow
def test_littles_law_waiting_for_first_touch_without_nurture() -> None:
    """The same with leads that never come back from nurture, so each lead is handed off at
    most once and its row holds its only stay in the queue."""
    runs = baseline_runs(BASELINE_N, "marketing.nurture=null")
    for r in runs:
        assert (r.leads.cycles == 0).all()
        monitor = r.queue.time_average(*little_window(r))
        assert monitor == pytest.approx(queue_stage(r)[0], rel=1e-9)
    check_little(
        "waiting for a first touch, no nurture",
        [r.queue.time_average(*little_window(r)) for r in runs],
        [queue_stage(r)[1] for r in runs],
    )


@pytest.mark.slow
def test_littles_law_open_opportunities() -> None:
    runs = baseline_runs(BASELINE_N)
    for r in runs:  # the monitor and the per-lead times are the same integral
        assert r.open_opportunities.time_average(*little_window(r)) == pytest.approx(
            opportunity_stage(r)[0], rel=1e-9
        )
    check_little(
        "open opportunities (records.open_opportunities)",
        [r.open_opportunities.time_average(*little_window(r)) for r in runs],
        [opportunity_stage(r)[1] for r in runs],
    )


@pytest.mark.slow
def test_littles_law_sdr_work_in_progress() -> None:
    runs = baseline_runs(BASELINE_N)
    levels, lam_w = zip(*(sdr_stage(r) for r in runs), strict=True)
    check_little("SDR work in progress (handoff -> decision)", list(levels), list(lam_w))


# -- spend -> leads ------------------------------------------------------------------------------
def spend_data(spend: dict[str, Any], response: dict[str, Any], horizon: str) -> dict[str, Any]:
    return {
        "name": "spend response",
        "start": "2026-01-01 00:00",  # months start on the 1st
        "horizon": horizon,
        "calendar": "always",
        "sources": {
            "paid": {
                "kind": "inbound",
                "spend": spend,
                "response": response,
                "arrivals": {"weekdays": WEEKDAY_SHAPE, "hours": HOUR_SHAPE},
            }
        },
        "handoff": {"first_touch_sla": "1h"},
        "teams": {
            "sdr": {"headcount": 40, "first_touch_time": {"dist": "constant", "value": "1m"}}
        },
    }


def monthly_counts(records: RunRecords, origin: Any) -> np.ndarray:
    """Leads arrived in each full calendar month of the run."""
    starts, ends = month_bounds(origin, records.end_h)
    full = ends <= records.end_h + 1e-9
    edges = np.append(starts[full], ends[full][-1])
    counts, _ = np.histogram(records.leads.arrival_h, bins=edges)
    return counts.astype(float)


def curve(spec_source: object) -> SpendResponse:
    assert isinstance(spec_source, InboundSource)
    return response_of(spec_source)


STEADY_CASES = {
    "hill s=1.5 adstock 0.4": (
        15000,
        {"curve": "hill", "leads_at_saturation": 400, "half_saturation": 20000, "shape": 1.5,
         "adstock": 0.4},
    ),
    "logistic adstock 0.5": (
        12000,
        {"curve": "logistic", "leads_at_saturation": 300, "steepness": 0.00005, "adstock": 0.5},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(STEADY_CASES))
def test_constant_spend_settles_at_the_steady_state(case: str) -> None:
    monthly, response = STEADY_CASES[case]
    spec = scenario(spend_data({"monthly": monthly}, response, "104w"))
    expected = curve(spec.sources["paid"])
    steady = expected.steady_state_leads(monthly)
    n = 24
    per_run = [monthly_counts(simulate(spec, SEED, r), spec.origin) for r in range(n)]
    months = len(per_run[0])
    settled = slice(12, months)  # carry-over theta^12 < 2e-5: settled
    plan = expected.leads(np.full(months, float(monthly)))
    assert plan[settled] == pytest.approx(steady, rel=1e-4)  # the formula's own long run
    print(f"\n{case}: spend {monthly}/month, steady state {steady:.2f} leads/month")
    assert_theory_in_ci(
        "leads per month once settled",
        steady,
        [float(c[settled].mean()) for c in per_run],
        max_half_width=0.03 * steady,
    )
    # the first month, before any carry-over: beta * f(spend)
    assert_theory_in_ci(
        "leads in month 1",
        float(plan[0]),
        [float(c[0]) for c in per_run],
        max_half_width=0.12 * plan[0],
    )


def test_step_in_spend_ramps_up_through_adstock() -> None:
    """Spend steps from 5k to 20k in month 7; with carry-over 0.6 leads climb over months."""
    plan = [5000.0] * 6 + [20000.0]
    response = {"curve": "hill", "leads_at_saturation": 600, "half_saturation": 20000,
                "shape": 1.0, "adstock": 0.6}  # fmt: skip
    spec = scenario(spend_data({"by_month": plan}, response, "365d"))
    expected = curve(spec.sources["paid"])
    n = 24
    per_run = [monthly_counts(simulate(spec, SEED, r), spec.origin) for r in range(n)]
    months = len(per_run[0])
    assert months == 12
    full_plan = np.array([plan[min(m, len(plan) - 1)] for m in range(months)])
    theory = expected.leads(full_plan)
    print(f"\nstep in spend: expected leads by month {np.round(theory, 1).tolist()}")
    level = 1 - 0.001 / months
    for m in range(months):
        assert_theory_in_ci(
            f"month {m + 1} (spend {full_plan[m]:.0f})",
            float(theory[m]),
            [float(c[m]) for c in per_run],
            max_half_width=0.12 * theory[m],
            level=level,
        )
    # the ramp is real: the step month is well above the old run-rate and well below the new
    step = summarise([float(c[6]) for c in per_run], level=0.999)
    low, high = expected.steady_state_leads(5000), expected.steady_state_leads(20000)
    print(f"month 7: {step.mean:.1f} [{step.ci_low:.1f}, {step.ci_high:.1f}] between {low:.1f} "
          f"and {high:.1f}")  # fmt: skip
    assert low < step.ci_low
    assert step.ci_high < high
