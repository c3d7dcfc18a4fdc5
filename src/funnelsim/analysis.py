"""Across replications: means with Student-t confidence intervals.

Replications are independent (their streams are), so a metric's replication values are an
i.i.d. sample and its mean gets a t interval. A metric undefined in a replication (no touched
lead, say) is left out of that metric's sample.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit  # Student-t quantile; scipy.stats costs ~1 s to import


@dataclass(frozen=True)
class Summary:
    """Mean of a metric over replications with its confidence interval."""

    mean: float
    ci_low: float
    ci_high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2


def summarise(values: Iterable[float], level: float = 0.95) -> Summary:
    """Mean and t confidence interval; the interval is nan with fewer than two values."""
    sample = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(sample)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, 0, level)
    mean = float(sample.mean())
    if n < 2:
        return Summary(mean, math.nan, math.nan, n, level)
    sem = float(sample.std(ddof=1)) / math.sqrt(n)
    half = float(stdtrit(n - 1, 0.5 + level / 2)) * sem
    return Summary(mean, mean - half, mean + half, n, level)


def summarise_metrics(
    per_replication: Sequence[Mapping[str, float]], level: float = 0.95
) -> dict[str, Summary]:
    """One Summary per metric name, in the order the metrics first appear."""
    names = list(dict.fromkeys(name for row in per_replication for name in row))
    return {
        name: summarise((row.get(name, math.nan) for row in per_replication), level)
        for name in names
    }
