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


def paired_difference(
    scenario: Sequence[float], baseline: Sequence[float], level: float = 0.95
) -> Summary:
    """Mean and CI of ``scenario - baseline`` replication by replication.

    Replication r of both ran on the same random streams (common random numbers), so most of
    the noise the two share cancels in the difference, and its interval is narrower than the
    two intervals side by side suggest.
    """
    pairs = [
        b - a
        for a, b in zip(baseline, scenario, strict=True)
        if math.isfinite(a) and math.isfinite(b)
    ]
    return summarise(pairs, level)


def unpaired_difference(
    scenario: Sequence[float], baseline: Sequence[float], level: float = 0.95
) -> Summary:
    """Mean and Welch CI of ``scenario - baseline`` as if the runs were independent.

    For comparison with :func:`paired_difference`: what the same replications would tell
    without the pairing.
    """
    a = np.asarray([v for v in baseline if math.isfinite(v)], dtype=float)
    b = np.asarray([v for v in scenario if math.isfinite(v)], dtype=float)
    if len(a) < 2 or len(b) < 2:
        return Summary(float(b.mean() - a.mean()) if len(a) and len(b) else math.nan,
                       math.nan, math.nan, min(len(a), len(b)), level)  # fmt: skip
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(b.mean() - a.mean())
    if va + vb == 0:
        return Summary(diff, diff, diff, min(len(a), len(b)), level)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stdtrit(df, 0.5 + level / 2)) * math.sqrt(va + vb)
    return Summary(diff, diff - half, diff + half, min(len(a), len(b)), level)
