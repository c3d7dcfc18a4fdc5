"""Replications of a scenario: the unit of every answer funnelsim gives.

Replication ``r`` of a run with seed ``s`` always draws from the streams of ``(s, r)``, so a
result depends on the seed and the replication numbers only, never on the order or place in
which replications run: one process, a pool of them, or a Dask cluster give the same numbers.

Work goes out in chunks of replications of one scenario. Each finished chunk is handed to the
caller as it arrives (a progress bar advances, the results store writes it to disk), and a
:class:`Runner` can be extended replication by replication, which is how a batch grows until
a confidence interval is narrow enough, and how an interrupted batch is finished.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import as_completed
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from funnelsim import metrics
from funnelsim.analysis import Summary, paired_difference, summarise_metrics
from funnelsim.executors import SERIAL, Pool, default_workers, open_executor
from funnelsim.model.run import simulate
from funnelsim.records import RunRecords
from funnelsim.rng import normalise_seed
from funnelsim.scenario.schema import Scenario
from funnelsim.scenario.study import Point
from funnelsim.warmup import WarmupCheck, daily_levels, warmup_check

__all__ = [
    "Batch",
    "Chunk",
    "Comparison",
    "Replication",
    "Runner",
    "compare",
    "default_workers",
    "run_replications",
    "run_study",
]


@dataclass
class Replication:
    """What one replication of one scenario measured.

    ``daily`` holds day-by-day mean levels from hour 0 (the first-touch queue) for the warm-up
    check; ``weekly`` and ``records`` are there only when asked for, since they are large to
    ship back from a worker.
    """

    scenario: int  # the scenario's place in the batch
    number: int
    metrics: dict[str, float]
    daily: dict[str, np.ndarray]
    weekly: dict[str, np.ndarray] | None = None
    records: RunRecords | None = None


@dataclass
class Chunk:
    """Replications of one scenario that ran together as one task."""

    scenario: int
    replications: list[Replication]


OnChunk = Callable[[Chunk], None]
MAX_CHUNK = 10  # replications per chunk, at most


@dataclass
class Batch:
    """The replications of one scenario and what they measured."""

    scenario: Scenario
    seed: int
    metrics: list[dict[str, float]] = field(default_factory=list)
    records: list[RunRecords] = field(default_factory=list)
    daily: list[dict[str, np.ndarray]] = field(default_factory=list)

    @property
    def replications(self) -> int:
        return len(self.metrics)

    def summary(self, level: float = 0.95) -> dict[str, Summary]:
        """Each metric's mean over replications with a confidence interval at ``level``."""
        return summarise_metrics(self.metrics, level)

    def values(self, metric: str) -> list[float]:
        """One metric's value in each replication, in replication order."""
        return [row[metric] for row in self.metrics]

    def warmup(self) -> list[WarmupCheck]:
        """MSER-5 on each warm-up sensitive level, averaged over replications."""
        if not self.daily:
            return []
        return [
            warmup_check(name, np.mean([d[name] for d in self.daily], axis=0), self.scenario)
            for name in self.daily[0]
        ]

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


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


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


def run_chunk(
    scenario: Scenario,
    index: int,
    root: int,
    numbers: list[int],
    keep_records: bool = False,
    series: bool = False,
) -> Chunk:
    """Run some replications of a scenario, in this process or a worker."""
    done = []
    for number in numbers:
        records = simulate(scenario, root, number)
        done.append(
            Replication(
                index,
                number,
                metrics.compute(records, scenario),
                daily_levels(records),
                metrics.weekly(records) if series else None,
                records if keep_records else None,
            )
        )
    return Chunk(index, done)


class Runner:
    """Replications of several scenarios on the streams of one seed, grown on demand.

    ``extend(n)`` brings every scenario to replications 0..n-1, running only those not yet
    done (``finished`` ones, read back from a results store, are never re-run). Chunks go to
    ``pool`` (default: this process), sized by how many it runs at once, and reach
    ``on_chunk`` as they finish, in whatever order; the batches are assembled in replication
    order, so they are the same whatever ran them.
    """

    def __init__(
        self,
        scenarios: list[Scenario],
        root: int,
        *,
        pool: Pool = SERIAL,
        records: bool = False,
        keep_records: bool = False,
        series: bool = False,
        on_chunk: OnChunk | None = None,
        finished: Iterable[Replication] = (),
    ) -> None:
        """``records``/``series``: workers send back each replication's records/weekly
        series, for ``on_chunk``; the batches keep the records only with ``keep_records``."""
        self.scenarios = scenarios
        self.root = root
        self.executor = pool.executor
        self.workers = pool.slots
        self.records = records or keep_records
        self.keep_records = keep_records
        self.series = series
        self.on_chunk = on_chunk
        self.done: list[dict[int, Replication]] = [{} for _ in scenarios]
        for replication in finished:
            self.done[replication.scenario][replication.number] = replication

    @property
    def replications(self) -> int:
        """How many replications every scenario has, counting from 0 without a gap."""
        return min(_prefix(done) for done in self.done)

    @property
    def extent(self) -> int:
        """One past the highest replication any scenario has: what a resume must fill up to,
        so that no finished replication is left outside the batch."""
        return max((max(done, default=-1) + 1 for done in self.done), default=0)

    def plan(self, replications: int) -> list[tuple[int, list[int]]]:
        """The chunks still to run to reach ``replications``: (scenario, replication numbers).

        Chunks shrink as the batch nears its end (guided self-scheduling: each takes a
        ``2 x workers``-th of what remains), so the pool stays busy and no worker is left
        alone with a long last chunk; none holds more than ``MAX_CHUNK``, since a chunk in
        flight is what an interruption loses.
        """
        missing = [[r for r in range(replications) if r not in done] for done in self.done]
        remaining = sum(len(m) for m in missing)
        share = 2 * max(self.workers, 1)
        jobs = []
        for k, numbers in enumerate(missing):
            i = 0
            while i < len(numbers):
                size = max(1, min(MAX_CHUNK, math.ceil(remaining / share), len(numbers) - i))
                jobs.append((k, numbers[i : i + size]))
                i += size
                remaining -= size
        return jobs

    def extend(self, replications: int) -> None:
        """Run what is missing of replications 0..n-1 of every scenario."""
        if replications < 1:
            raise ValueError("replications must be at least 1")
        jobs = self.plan(replications)
        args = (self.root,)
        flags = (self.records, self.series)
        if self.executor is None or len(jobs) == 1:
            for k, numbers in jobs:
                self._collect(run_chunk(self.scenarios[k], k, *args, numbers, *flags))
            return
        futures = [
            self.executor.submit(run_chunk, self.scenarios[k], k, *args, numbers, *flags)
            for k, numbers in jobs
        ]
        for future in as_completed(futures):
            self._collect(future.result())

    def _collect(self, chunk: Chunk) -> None:
        if self.on_chunk is not None:
            self.on_chunk(chunk)
        for replication in chunk.replications:
            # what on_chunk has written away need not stay in memory
            kept = replace(
                replication,
                weekly=None,
                records=replication.records if self.keep_records else None,
            )
            self.done[chunk.scenario][replication.number] = kept

    def batches(self) -> list[Batch]:
        """Each scenario's replications 0..n-1, n the number all of them have."""
        n = self.replications
        batches = []
        for scenario, done in zip(self.scenarios, self.done, strict=True):
            batch = Batch(scenario, self.root)
            for number in range(n):
                replication = done[number]
                batch.metrics.append(replication.metrics)
                batch.daily.append(replication.daily)
                if replication.records is not None:
                    batch.records.append(replication.records)
            batches.append(batch)
        return batches


@dataclass(frozen=True)
class Precision:
    """Add replications until a metric's 95% CI half-width is at most ``half_width``.

    For one scenario the interval is its mean's; for several, the widest of the paired
    differences from the first (the comparison is the question asked). ``cap`` bounds the
    replications, since some metrics never get there (a rate undefined in most runs, say).
    """

    metric: str
    half_width: float
    cap: int = 1000


def widest_half_width(batches: list[Batch], metric: str) -> float:
    """The half-width :class:`Precision` targets; infinite while undefined."""
    if len(batches) == 1:
        widths = [batches[0].summary()[metric].half_width]
    else:
        widths = [d[metric].half_width for d in Comparison(batches).differences().values()]
    widest = max(widths)
    return widest if math.isfinite(widest) else math.inf


def next_size(n: int, half_width: float, precision: Precision, step: int = 1) -> int:
    """Replications expected to reach the target by the 1/sqrt(n) law, with a 10% margin.

    At least ``step`` more (a pool's worth), at most four times as many (an estimate from a
    few replications is rough), never beyond the cap.
    """
    if math.isfinite(half_width):
        wanted = math.ceil(1.1 * n * (half_width / precision.half_width) ** 2)
    else:
        wanted = 2 * n
    return min(precision.cap, 4 * n, max(n + step, wanted))


def run_to_precision(
    runner: Runner,
    start: int,
    precision: Precision,
    on_size: Callable[[int], None] | None = None,
) -> tuple[int, float]:
    """Extend ``runner`` from ``start`` replications until ``precision`` is met or capped.

    ``on_size`` hears each new size before it runs (a progress bar's total). Returns the
    replications run and the half-width reached; the caller compares it with the target.
    """
    n = min(start, precision.cap)
    while True:
        if on_size is not None:
            on_size(n)
        runner.extend(n)
        half = widest_half_width(runner.batches(), precision.metric)
        if half <= precision.half_width or n >= precision.cap:
            return n, half
        n = next_size(n, half, precision, max(runner.workers, 1))


def _prefix(done: dict[int, Replication]) -> int:
    n = 0
    while n in done:
        n += 1
    return n


def run_batches(
    scenarios: list[Scenario],
    replications: int,
    root: int,
    *,
    keep_records: bool = False,
    on_chunk: OnChunk | None = None,
    workers: int = 1,
    executor: str = "process",
    scheduler: str | None = None,
) -> list[Batch]:
    """Replications 0..n-1 of every scenario, all drawing from the streams of ``root``.

    ``executor`` is ``"process"`` (a local pool of ``workers`` processes; one means this
    process) or ``"dask"`` (the cluster at ``scheduler``, else a local one of ``workers``).
    """
    with open_executor(executor, workers, scheduler) as pool:
        runner = Runner(scenarios, root, pool=pool, keep_records=keep_records, on_chunk=on_chunk)
        runner.extend(replications)
    return runner.batches()


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int | None = None,
    *,
    keep_records: bool = False,
    on_chunk: OnChunk | None = None,
    workers: int = 1,
    executor: str = "process",
    scheduler: str | None = None,
) -> Batch:
    """Run replications 0..n-1; the seed defaults to the scenario's, then to fresh entropy."""
    root = normalise_seed(scenario.seed if seed is None else seed)
    [batch] = run_batches(
        [scenario],
        replications,
        root,
        keep_records=keep_records,
        on_chunk=on_chunk,
        workers=workers,
        executor=executor,
        scheduler=scheduler,
    )
    return batch


def compare(
    scenarios: list[Scenario],
    replications: int,
    seed: int | None = None,
    *,
    on_chunk: OnChunk | None = None,
    workers: int = 1,
    executor: str = "process",
    scheduler: str | None = None,
) -> Comparison:
    """Run every scenario on the same seed and replication numbers: common random numbers."""
    check_names(scenarios)
    root = normalise_seed(scenarios[0].seed if seed is None else seed)
    return Comparison(
        run_batches(
            scenarios,
            replications,
            root,
            on_chunk=on_chunk,
            workers=workers,
            executor=executor,
            scheduler=scheduler,
        )
    )


def check_names(scenarios: list[Scenario]) -> None:
    """Scenarios compared or stored together are told apart by name."""
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must differ to be compared or stored: {names}")


def run_study(
    points: list[Point],
    replications: int,
    seed: int | None = None,
    *,
    on_chunk: OnChunk | None = None,
    workers: int = 1,
    executor: str = "process",
    scheduler: str | None = None,
) -> Comparison:
    """Every point of a study on common random numbers, the baseline first."""
    return compare(
        [p.scenario for p in points],
        replications,
        seed,
        on_chunk=on_chunk,
        workers=workers,
        executor=executor,
        scheduler=scheduler,
    )
