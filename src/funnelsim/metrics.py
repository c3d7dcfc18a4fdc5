"""Per-replication KPIs, derived from the records of one run.

Leads are measured when they arrive inside the measured period (after the warm-up); rep time and
queue length are measured over that period. Each metric has a unit and a definition, shown in
tables and reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from funnelsim.records import EXPIRED, TOUCHED, RunRecords


@dataclass(frozen=True)
class MetricInfo:
    unit: str
    description: str


METRICS: dict[str, MetricInfo] = {
    "leads": MetricInfo("leads", "Leads that arrived in the measured period."),
    "first_touch_waited_share": MetricInfo(
        "share", "Share of leads that waited at all before a first touch (expired included)."
    ),
    "first_touch_wait_mean_h": MetricInfo(
        "hours", "Mean calendar time from arrival to first touch, over touched leads."
    ),
    "first_touch_wait_p90_h": MetricInfo(
        "hours", "90th percentile of the time to first touch, over touched leads."
    ),
    "sla_first_touch_attainment": MetricInfo(
        "share",
        "Share of leads first touched within the SLA; expired leads, and leads still waiting "
        "past their deadline at the end, are misses; leads whose deadline is after the end "
        "are left out.",
    ),
    "expired_share": MetricInfo("share", "Share of leads lost untouched when patience ran out."),
    "decay_at_first_touch_mean": MetricInfo(
        "multiplier", "Mean odds multiplier of touched leads at their first touch (1: no decay)."
    ),
    "sdr_utilization": MetricInfo(
        "share", "Share of SDR working hours spent on first touches in the measured period."
    ),
    "queue_length_mean": MetricInfo(
        "leads", "Time-average number of leads waiting for a first touch."
    ),
    "first_touches_per_sdr_week": MetricInfo(
        "touches", "First touches started per SDR per week of the measured period."
    ),
}


def _share(mask: np.ndarray, of: np.ndarray) -> float:
    return float(np.count_nonzero(mask & of) / np.count_nonzero(of)) if of.any() else float("nan")


def compute(records: RunRecords) -> dict[str, float]:
    """All KPIs of one replication, in the order of ``METRICS``."""
    leads = records.leads
    t0, t1 = records.window
    b0, b1 = records.window_b
    measured = (leads.arrival_h >= t0) & (leads.arrival_h < t1)
    outcome = leads.outcome
    touched = measured & (outcome == TOUCHED)
    wait = leads.wait_h
    waited = (outcome != TOUCHED) | (wait > 0)
    still_waiting_undecided = (outcome == 2) & (leads.sla_deadline_h > records.end_h)
    sla_counted = measured & ~still_waiting_undecided
    touch_waits = wait[touched]
    # Busy time in the window on the business clock: a touch only advances in working hours.
    busy = np.clip(leads.touch_end_b, b0, b1) - np.clip(leads.touch_start_b, b0, b1)
    available = records.sdr_headcount * (b1 - b0)
    in_window_starts = (leads.touch_start_h >= t0) & (leads.touch_start_h < t1)
    weeks = (t1 - t0) / 168.0
    return {
        "leads": float(np.count_nonzero(measured)),
        "first_touch_waited_share": _share(waited, measured),
        "first_touch_wait_mean_h": float(touch_waits.mean()) if touch_waits.size else float("nan"),
        "first_touch_wait_p90_h": (
            float(np.quantile(touch_waits, 0.9)) if touch_waits.size else float("nan")
        ),
        "sla_first_touch_attainment": _share(leads.sla_met, sla_counted),
        "expired_share": _share(outcome == EXPIRED, measured),
        "decay_at_first_touch_mean": (
            float(leads.decay[touched].mean()) if touched.any() else float("nan")
        ),
        "sdr_utilization": float(np.nansum(busy) / available) if available > 0 else float("nan"),
        "queue_length_mean": records.queue.time_average(t0, t1),
        "first_touches_per_sdr_week": float(
            np.count_nonzero(in_window_starts) / records.sdr_headcount / weeks
        ),
    }
