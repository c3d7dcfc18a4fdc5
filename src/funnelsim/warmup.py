"""Is the warm-up long enough? MSER-5 on the first-touch queue from the start of a run.

A run starts with an empty queue (or a backlog, when a starting state says so); measuring
before it has settled biases every metric. The warm-up (simulated but not measured) is meant
to cover that. MSER-5 (White, 1997; Franklin & White, 2008) picks the truncation point of an
output series that minimises the standard error of the mean of what remains: the series is
cut into groups of five observations (the "batch means" of the MSER literature), and the
truncation d (in groups, at most half of them) minimising

    MSER(d) = sum_{j>d} (b_j - mean_{j>d} b)^2 / (k - d)^2

is where the initial transient ends. Observations here are day-by-day time averages of the
queue length from hour 0, averaged over replications (the across-replication mean has far less
noise than one run).

Once the transient is over, MSER's statistic is nearly flat and its minimum wanders: it often
cuts a little past the end of the transient, by chance. So the warm-up is called too short
only when MSER-5 cuts later than the warm-up *and* the days between them shift the measured
mean level by more than twice its standard error (from the spread of the kept group means):
a bias a planner would see in the results, not a wobble.

The queue is the level the SLA metrics hang on. The pipeline of open opportunities settles far
more slowly (months: sales cycles are long and nurtured leads return for a year), so the
bundled scenarios start with a 12-week warm-up that fills it to most of its level; MSER-5 on
that series is not asked, as it would stretch every warm-up over much of the year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from funnelsim.records import LevelSeries, RunRecords
from funnelsim.scenario.schema import Scenario

DAY_H = 24.0
GROUP = 5  # observations per MSER group (its "batch"): the "5" of MSER-5


@dataclass(frozen=True)
class WarmupCheck:
    """MSER-5's truncation point for one level, against the scenario's warm-up.

    ``bias`` is how much the days between the warm-up and the cut move the measured mean
    level, ``noise`` the standard error of that mean (both 0 when the cut is inside the
    warm-up).
    """

    level: str
    truncation_h: float
    warmup_h: float
    bias: float = 0.0
    noise: float = 0.0

    @property
    def enough(self) -> bool:
        return self.truncation_h <= self.warmup_h or abs(self.bias) <= 2 * self.noise

    def message(self) -> str:
        level = self.level.replace("_", " ")
        return (
            f"warm-up of {self.warmup_h / DAY_H:g} days may be too short: MSER-5 on the daily "
            f"mean {level} puts the end of the start-up transient at day "
            f"{self.truncation_h / DAY_H:g}, which moves the measured mean {level} by "
            f"{self.bias:+.3g} (standard error {self.noise:.2g}); consider warmup: "
            f"{_weeks(self.truncation_h)}w or more"
        )


def _weeks(hours: float) -> int:
    return int(np.ceil(hours / (7 * DAY_H)))


def mser(observations: np.ndarray, group: int = GROUP) -> int:
    """How many leading observations MSER-``group`` deletes (a multiple of ``group``).

    Trailing observations that do not fill a group are ignored; fewer than two groups give 0.
    """
    k = len(observations) // group
    if k < 2:
        return 0
    means = np.asarray(observations[: k * group], dtype=float).reshape(k, group).mean(axis=1)
    # sums over the tail b_d..b_{k-1} for every d, from reversed cumulative sums
    n = np.arange(k, 0, -1, dtype=float)
    s1 = np.cumsum(means[::-1])[::-1]
    s2 = np.cumsum((means**2)[::-1])[::-1]
    sse = np.maximum(s2 - s1**2 / n, 0.0)
    candidates = k // 2 + 1  # cutting more than half the run is not trusted
    statistic = sse[:candidates] / n[:candidates] ** 2
    return int(np.argmin(statistic)) * group


def daily_means(series: LevelSeries, end_h: float) -> np.ndarray:
    """Time-averaged level over each whole day [24 i, 24 (i + 1)) before ``end_h``."""
    edges = np.arange(0.0, end_h + 1e-9, DAY_H)
    if len(edges) < 2:
        return np.empty(0)
    times, levels = series.times, series.levels
    area = np.concatenate([[0.0], np.cumsum(levels[:-1] * np.diff(times))])
    at = np.searchsorted(times, edges, side="right") - 1
    before = at < 0  # a series starts at hour 0, but be safe
    at = np.maximum(at, 0)
    cumulative = np.where(before, 0.0, area[at] + levels[at] * (edges - times[at]))
    return np.diff(cumulative) / DAY_H


def daily_levels(records: RunRecords) -> dict[str, np.ndarray]:
    """The day-by-day mean of each warm-up sensitive level of one replication, from hour 0."""
    return {"queue_length": daily_means(records.queue, records.end_h)}


def warmup_check(level: str, daily: np.ndarray, scenario: Scenario) -> WarmupCheck:
    """MSER-5 on a day-by-day series (averaged over replications) against the warm-up."""
    cut = mser(daily)
    first = math.ceil(scenario.warmup_hours / DAY_H)  # the first day measured in full
    check = WarmupCheck(level, cut * DAY_H, scenario.warmup_hours)
    if cut <= first:
        return check
    kept = daily[cut : len(daily) // GROUP * GROUP].reshape(-1, GROUP).mean(axis=1)
    measured = daily[first:]
    bias = float(measured.mean() - kept.mean())
    noise = float(kept.std(ddof=1)) / math.sqrt(len(kept)) if len(kept) > 1 else 0.0
    return replace(check, bias=bias, noise=noise)
