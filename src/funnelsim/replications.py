"""What replications measured, scenario by scenario, and how two plans differ.

A replication leaves its metrics (and, when asked, its weekly series and records); a scenario's
replications, numbered from 0, give each metric's mean with a confidence interval; scenarios
run on the same seed are compared replication by replication (common random numbers). These
are the results every front end reads: the command line's tables, results folders, reports.
They are made by ``funnelsim.experiment`` and stored by ``funnelsim.store``, neither of which
the other needs to import for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from funnelsim import analysis
from funnelsim.analysis import (
    Summary,
    SummaryTable,
    paired_difference,
    summarise,
    summarise_metrics,
)
from funnelsim.breakdown import Key
from funnelsim.errors import UsageError
from funnelsim.records import RunRecords
from funnelsim.scenario.schema import Scenario
from funnelsim.warmup import WarmupCheck, warmup_check


@dataclass
class Replication:
    """What one replication of one scenario measured.

    ``daily`` holds day-by-day mean levels from hour 0 (the first-touch queue) for the warm-up
    check; ``breakdown`` the stages by source, segment and team (``funnelsim.breakdown``);
    ``weekly`` and ``records`` are there only when asked for, since they are large to ship back
    from a worker.
    """

    scenario: int  # the scenario's place in the run
    number: int
    metrics: dict[str, float]
    daily: dict[str, np.ndarray]
    breakdown: dict[Key, float] = field(default_factory=dict)
    weekly: dict[str, np.ndarray] | None = None
    records: RunRecords | None = None


@dataclass
class Chunk:
    """Replications of one scenario that ran together as one task."""

    scenario: int
    replications: list[Replication]


OnChunk = Callable[[Chunk], None]
OnTotal = Callable[[int, int], None]


@dataclass
class Replications:
    """The replications of one scenario, numbered from 0, and what they measured."""

    scenario: Scenario
    seed: int
    metrics: list[dict[str, float]] = field(default_factory=list)
    records: list[RunRecords] = field(default_factory=list)  # only when asked for
    daily: list[dict[str, np.ndarray]] = field(default_factory=list)
    breakdowns: list[dict[Key, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.metrics)

    @property
    def n(self) -> int:
        """How many replications ran."""
        return len(self.metrics)

    def summary(self, level: float = 0.95) -> dict[str, Summary]:
        """Each metric's mean over replications with a confidence interval at ``level``."""
        return summarise_metrics(self.metrics, level)

    def breakdown(self, level: float = 0.95) -> dict[Key, Summary]:
        """Each breakdown figure (grouping, group, metric) over replications, with its CI."""
        keys = self.breakdowns[0] if self.breakdowns else {}
        return {key: summarise([b.get(key, math.nan) for b in self.breakdowns], level)
                for key in keys}  # fmt: skip

    def values(self, metric: str) -> list[float]:
        """One metric's value in each replication, in replication order; ``METRIC.SOURCE``
        is the metric of one source (``funnelsim.breakdown``)."""
        name, _, source = metric.partition(".")
        if not source:
            return [row[metric] for row in self.metrics]
        return [b.get(("source", source, name), math.nan) for b in self.breakdowns]

    def per_source(self) -> list[str]:
        """The names of each source's metrics, ``METRIC.SOURCE``."""
        keys = self.breakdowns[0] if self.breakdowns else {}
        return [f"{metric}.{group}" for by, group, metric in keys if by == "source"]

    def warmup(self) -> list[WarmupCheck]:
        """MSER-5 on each warm-up sensitive level, averaged over replications."""
        if not self.daily:
            return []
        return [
            warmup_check(name, np.mean([d[name] for d in self.daily], axis=0), self.scenario)
            for name in self.daily[0]
        ]

    def as_json(self) -> dict[str, Any]:
        """The ``run --json`` object: scenario, seed, replications, metrics with 95% CIs (and
        each source's as ``METRIC.SOURCE``), and the funnel by segment and by team.

        An undefined value (a CI from one replication, say) is ``null``.
        """
        figures = self.breakdown()
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replications": self.n,
            "metrics": {
                **{name: summary_json(s) for name, s in self.summary().items()},
                **{name: summary_json(summarise(self.values(name))) for name in self.per_source()},
            },
            "by": _nested({key: s for key, s in figures.items() if key[0] != "source"}),
        }


def _nested(figures: dict[Key, Summary]) -> dict[str, dict[str, dict[str, Any]]]:
    """Breakdown figures as JSON: grouping -> group -> metric -> summary."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (by, group, metric), s in figures.items():
        out.setdefault(by, {}).setdefault(group, {})[metric] = summary_json(s)
    return out


def summary_json(summary: Summary) -> dict[str, float | None]:
    """A summary as JSON: mean and interval, ``null`` where undefined."""
    return {
        "mean": _finite(summary.mean),
        "ci_low": _finite(summary.ci_low),
        "ci_high": _finite(summary.ci_high),
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class Comparison:
    """Scenarios run on the same replication streams, each against the first (the baseline)."""

    per_scenario: list[Replications]

    @property
    def baseline(self) -> Replications:
        return self.per_scenario[0]

    def differences(self, level: float = 0.95) -> dict[str, dict[str, Summary]]:
        """For each later scenario, its paired difference from the baseline, per metric."""
        base = self.baseline
        names = [*(base.metrics[0] if base.metrics else {}), *base.per_source()]
        return {
            other.scenario.name: {
                name: paired_difference(other.values(name), base.values(name), level)
                for name in names
            }
            for other in self.per_scenario[1:]
        }

    def table(self) -> SummaryTable:
        """Metrics by scenario and the paired differences, as ``compare`` prints them."""
        return analysis.comparison_table(
            {r.scenario.name: r.summary() for r in self.per_scenario},
            self.differences(),
            replications=self.baseline.n,
            seed=self.baseline.seed,
        )

    def as_json(self) -> dict[str, Any]:
        """The ``compare --json`` object: every scenario's metrics and the paired differences."""
        return {
            "baseline": self.baseline.scenario.name,
            "seed": self.baseline.seed,
            "replications": self.baseline.n,
            "scenarios": {
                r.scenario.name: {"metrics": r.as_json()["metrics"]} for r in self.per_scenario
            },
            "differences": {
                name: {metric: summary_json(s) for metric, s in diffs.items()}
                for name, diffs in self.differences().items()
            },
        }


def check_names(scenarios: Sequence[Scenario]) -> None:
    """Scenarios run together are told apart by name, in tables and results folders alike."""
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise UsageError(f"scenario names must differ to be run together: {names}")
