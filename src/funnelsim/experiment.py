"""Replications of a scenario: the unit of every answer funnelsim gives.

Replication ``r`` of a run with seed ``s`` always draws from the streams of ``(s, r)``, so a
result depends on the seed and the replication numbers only, never on the order or place in
which replications run.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from funnelsim import metrics
from funnelsim.analysis import Summary, paired_difference, summarise_metrics
from funnelsim.model.funnel import simulate
from funnelsim.records import RunRecords
from funnelsim.rng import normalise_seed
from funnelsim.scenario.schema import Scenario
from funnelsim.scenario.study import Point

Progress = Callable[[int], None]


@dataclass
class Batch:
    """The replications of one scenario and what they measured."""

    scenario: Scenario
    seed: int
    metrics: list[dict[str, float]] = field(default_factory=list)
    records: list[RunRecords] = field(default_factory=list)

    @property
    def replications(self) -> int:
        return len(self.metrics)

    def summary(self, level: float = 0.95) -> dict[str, Summary]:
        """Each metric's mean over replications with a confidence interval at ``level``."""
        return summarise_metrics(self.metrics, level)

    def values(self, metric: str) -> list[float]:
        """One metric's value in each replication, in replication order."""
        return [row[metric] for row in self.metrics]

    def as_json(self) -> dict[str, Any]:
        """The ``run --json`` object: scenario, seed, replications, metrics with 95% CIs.

        An undefined value (a CI from one replication, say) is ``null``.
        """
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replications": self.replications,
            "metrics": {name: summary_json(s) for name, s in self.summary().items()},
        }


def summary_json(summary: Summary) -> dict[str, float | None]:
    """A summary as JSON: mean and interval, ``null`` where undefined."""
    return {
        "mean": _finite(summary.mean),
        "ci_low": _finite(summary.ci_low),
        "ci_high": _finite(summary.ci_high),
    }


@dataclass
class Comparison:
    """Scenarios run on the same replication streams, each against the first."""

    batches: list[Batch]

    @property
    def baseline(self) -> Batch:
        return self.batches[0]

    def differences(self, level: float = 0.95) -> dict[str, dict[str, Summary]]:
        """For each later scenario, its paired difference from the baseline, per metric."""
        base = self.baseline
        return {
            batch.scenario.name: {
                name: paired_difference(batch.values(name), base.values(name), level)
                for name in base.metrics[0]
            }
            for batch in self.batches[1:]
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.scenario.name,
            "seed": self.baseline.seed,
            "replications": self.baseline.replications,
            "scenarios": {
                b.scenario.name: {"metrics": b.as_json()["metrics"]} for b in self.batches
            },
            "differences": {
                name: {metric: summary_json(s) for metric, s in diffs.items()}
                for name, diffs in self.differences().items()
            },
        }


def compare(
    scenarios: list[Scenario],
    replications: int,
    seed: int | None = None,
    *,
    on_done: Progress | None = None,
    workers: int = 1,
) -> Comparison:
    """Run every scenario on the same seed and replication numbers: common random numbers."""
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must differ to be compared: {names}")
    root = normalise_seed(scenarios[0].seed if seed is None else seed)
    return Comparison(run_batches(scenarios, replications, root, on_done=on_done, workers=workers))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


Outcome = tuple[int, dict[str, float], RunRecords | None]


def _chunk(
    scenario: Scenario, root: int, replications: list[int], keep_records: bool
) -> list[Outcome]:
    """Run some replications of a scenario (in this process or a worker)."""
    outcomes: list[Outcome] = []
    for replication in replications:
        records = simulate(scenario, root, replication)
        outcomes.append(
            (replication, metrics.compute(records, scenario), records if keep_records else None)
        )
    return outcomes


def _context() -> multiprocessing.context.BaseContext:
    """Workers start from a clean server process: forking a process with threads running (a
    progress bar's, say) can deadlock, and the server has funnelsim imported once for all."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["funnelsim.experiment"])
    return context


def default_workers() -> int:
    """All cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_batches(
    scenarios: list[Scenario],
    replications: int,
    root: int,
    *,
    keep_records: bool = False,
    on_done: Progress | None = None,
    workers: int = 1,
) -> list[Batch]:
    """Replications 0..n-1 of every scenario, all drawing from the streams of ``root``.

    With ``workers`` above one, chunks of replications of all the scenarios share one process
    pool and stream back as they finish. Replication r always draws from the streams of
    (seed, r), and results are kept in replication order, so the batches are the same
    whatever the number of workers.
    """
    if replications < 1:
        raise ValueError("replications must be at least 1")
    # a few chunks per worker and scenario: the pool stays busy while results stream back
    size = max(1, math.ceil(replications * len(scenarios) / (max(workers, 1) * 4)))
    size = min(size, replications)
    chunks = [list(range(i, min(i + size, replications))) for i in range(0, replications, size)]
    jobs = [(k, chunk) for k in range(len(scenarios)) for chunk in chunks]
    outcomes: list[list[Outcome]] = [[] for _ in scenarios]

    def collect(k: int, done: list[Outcome]) -> None:
        outcomes[k] += done
        for replication, _, _ in done:
            if on_done is not None:
                on_done(replication)

    if workers <= 1 or len(jobs) == 1:
        for k, chunk in jobs:
            collect(k, _chunk(scenarios[k], root, chunk, keep_records))
    else:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(jobs)), mp_context=_context()
        ) as pool:
            futures = {
                pool.submit(_chunk, scenarios[k], root, chunk, keep_records): k for k, chunk in jobs
            }
            for future in as_completed(futures):
                collect(futures[future], future.result())
    batches = []
    for scenario, done in zip(scenarios, outcomes, strict=True):
        batch = Batch(scenario, root)
        for _, row, records in sorted(done, key=lambda o: o[0]):
            batch.metrics.append(row)
            if records is not None:
                batch.records.append(records)
        batches.append(batch)
    return batches


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int | None = None,
    *,
    keep_records: bool = False,
    on_done: Progress | None = None,
    workers: int = 1,
) -> Batch:
    """Run replications 0..n-1; the seed defaults to the scenario's, then to fresh entropy."""
    root = normalise_seed(scenario.seed if seed is None else seed)
    [batch] = run_batches(
        [scenario], replications, root, keep_records=keep_records, on_done=on_done,
        workers=workers,
    )  # fmt: skip
    return batch


def run_study(
    points: list[Point],
    replications: int,
    seed: int | None = None,
    *,
    on_done: Progress | None = None,
    workers: int = 1,
) -> Comparison:
    """Every point of a study on common random numbers, the baseline first."""
    return compare(
        [p.scenario for p in points], replications, seed, on_done=on_done, workers=workers
    )
