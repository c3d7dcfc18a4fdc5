"""Replications of scenarios: the one path from a request to a result.

Every answer funnelsim gives (``run``, ``compare``, ``study``, a notebook's sweep, and the
commands to come) goes through :func:`run`: some scenarios, a seed, how many replications (a
number, or "until this interval is this narrow"), where to run them (an
:class:`~funnelsim.executors.ExecutorSpec`) and, optionally, a results folder. It returns a
:class:`RunResult`: each scenario's :class:`Replications`, what a resume kept, and the precision
reached.

Replication ``r`` of a run with seed ``s`` always draws from the streams of ``(s, r)``, so a
result depends on the seed and the replication numbers only, never on the order or place in
which replications run: one process, a pool of them, or a Dask cluster give the same numbers.
Every scenario of a run uses the same seed and replication numbers (common random numbers), so
each scenario's replication ``r`` can be paired with the baseline's.

Work goes out in chunks of replications of one scenario. Each finished chunk is handed on as it
arrives (a progress bar advances, the results store writes it to disk at once), so an
interrupted run resumes where it stopped, and a :class:`Runner` can be extended replication by
replication, which is how a run grows until a confidence interval is narrow enough.

```python
from funnelsim.experiment import ExecutorSpec, run
result = run(plans, 20, seed=7, out=Path("results/ab"), executor=ExecutorSpec(workers=2))
result.comparison().differences()["Outbound-heavy"]["sqls"]
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import as_completed
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from funnelsim import analysis, metrics, uncertainty, workload
from funnelsim.analysis import Summary, SummaryTable
from funnelsim.errors import StoreError, UsageError
from funnelsim.executors import SERIAL, ExecutorSpec, Slots, default_workers, open_executor
from funnelsim.replications import (
    Chunk,
    Comparison,
    OnChunk,
    OnTotal,
    Replication,
    Replications,
    check_names,
    summary_json,
)
from funnelsim.rng import normalise_seed
from funnelsim.scenario.ranges import Quantity, Range
from funnelsim.scenario.schema import Scenario, did_you_mean
from funnelsim.scenario.study import Point, Study, describe
from funnelsim.worker import run_chunk

__all__ = [
    "DEFAULT_CAP",
    "IN_PROCESS",
    "Chunk",
    "Comparison",
    "ExecutorSpec",
    "Precision",
    "Replication",
    "Replications",
    "RunResult",
    "Runner",
    "compare",
    "default_workers",
    "run",
    "run_replications",
    "run_study",
    "study_json",
    "summary_json",
]

DEFAULT_CAP = 1000  # replications at most, when growing to a precision target
MAX_CHUNK = 10  # replications per chunk, at most: a chunk in flight is what a kill loses
IN_PROCESS = ExecutorSpec()  # every replication in this process, one after another


@dataclass(frozen=True)
class Precision:
    """Add replications until a metric's 95% CI half-width is at most ``half_width``.

    For one scenario the interval is its mean's; for several, the widest of the paired
    differences from the first (the comparison is the question asked). ``cap`` bounds the
    replications, since some metrics never get there (a rate undefined in most runs, say).
    """

    metric: str
    half_width: float
    cap: int = DEFAULT_CAP

    @classmethod
    def parse(cls, text: str, cap: int | None = None) -> Precision:
        """``'sqls=12'`` as a target (what ``--target-halfwidth`` takes); a
        :class:`~funnelsim.errors.UsageError` says what is wrong with a bad one."""
        option = "--target-halfwidth"
        metric, sep, value = text.partition("=")
        metric = metric.strip()
        if not sep:
            raise UsageError(f"expected METRIC=VALUE, got {text!r}", option)
        if metric not in metrics.METRICS:
            known = list(metrics.METRICS)
            raise UsageError(f"unknown metric {metric!r}{did_you_mean(metric, known)}", option)
        try:
            half_width = float(value)
        except ValueError:
            half_width = math.nan
        if not (math.isfinite(half_width) and half_width > 0):
            raise UsageError(f"{metric}: the half-width must be a positive number", option)
        if cap is not None and cap < 2:
            raise UsageError(f"at least 2 replications, got {cap}", "--max-replications")
        return cls(metric, half_width, DEFAULT_CAP if cap is None else cap)


class Runner:
    """Replications of several scenarios on the streams of one seed, grown on demand.

    ``extend(n)`` brings every scenario to replications 0..n-1, running only those not yet
    done (``finished`` ones, read back from a results store, are never re-run). Chunks go to
    ``slots`` (default: this process), sized by how many it runs at once, and reach
    ``on_chunk`` as they finish, in whatever order; the replications are assembled in
    replication order, so they are the same whatever ran them.
    """

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        root: int,
        *,
        slots: Slots = SERIAL,
        records: bool = False,
        keep_records: bool = False,
        series: bool = False,
        on_chunk: OnChunk | None = None,
        finished: Iterable[Replication] = (),
    ) -> None:
        """``records``/``series``: workers send back each replication's records/weekly
        series, for ``on_chunk``; the replications keep the records only with
        ``keep_records``."""
        self.scenarios = list(scenarios)
        self.root = root
        self.executor = slots.executor
        self.workers = slots.count
        self.records = records or keep_records
        self.keep_records = keep_records
        self.series = series
        self.on_chunk = on_chunk
        self.done: list[dict[int, Replication]] = [{} for _ in self.scenarios]
        for replication in finished:
            self.done[replication.scenario][replication.number] = replication

    @property
    def replications(self) -> int:
        """How many replications every scenario has, counting from 0 without a gap."""
        return min(_prefix(done) for done in self.done)

    @property
    def extent(self) -> int:
        """One past the highest replication any scenario has: what a resume must fill up to,
        so that no finished replication is left out of the result."""
        return max((max(done, default=-1) + 1 for done in self.done), default=0)

    def plan(self, replications: int) -> list[tuple[int, list[int]]]:
        """The chunks still to run to reach ``replications``: (scenario, replication numbers).

        Chunks shrink as the run nears its end (guided self-scheduling: each takes a
        ``2 x workers``-th of what remains), so the workers stay busy and none is left alone
        with a long last chunk; none holds more than ``MAX_CHUNK``, since a chunk in flight is
        what an interruption loses.
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
            raise UsageError(f"at least 1 replication, got {replications}", "--replications")
        jobs = self.plan(replications)
        flags = (self.records, self.series)
        if self.executor is None or len(jobs) == 1:
            for k, numbers in jobs:
                self._collect(run_chunk(self.scenarios[k], k, self.root, numbers, *flags))
            return
        futures = [
            self.executor.submit(run_chunk, self.scenarios[k], k, self.root, numbers, *flags)
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

    def per_scenario(self) -> list[Replications]:
        """Each scenario's replications 0..n-1, n the number all of them have."""
        n = self.replications
        result = []
        for scenario, done in zip(self.scenarios, self.done, strict=True):
            replications = Replications(scenario, self.root)
            for number in range(n):
                replication = done[number]
                replications.metrics.append(replication.metrics)
                replications.daily.append(replication.daily)
                replications.breakdowns.append(replication.breakdown)
                if replication.records is not None:
                    replications.records.append(replication.records)
            result.append(replications)
        return result


def widest_half_width(per_scenario: list[Replications], metric: str) -> float:
    """The half-width :class:`Precision` targets; infinite while undefined."""
    if len(per_scenario) == 1:
        widths = [per_scenario[0].summary()[metric].half_width]
    else:
        widths = [d[metric].half_width for d in Comparison(per_scenario).differences().values()]
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
        half = widest_half_width(runner.per_scenario(), precision.metric)
        if half <= precision.half_width or n >= precision.cap:
            return n, half
        n = next_size(n, half, precision, max(runner.workers, 1))


def _prefix(done: dict[int, Replication]) -> int:
    n = 0
    while n in done:
        n += 1
    return n


@dataclass
class RunResult:
    """What a run produced, and how it got there.

    ``per_scenario`` holds each scenario's replications in the order given (the first is the
    baseline of a comparison); ``kept`` counts the replications a resume found finished in
    the results folder; ``half_width`` is the one reached when a ``precision`` was asked.
    """

    per_scenario: list[Replications]
    kept: int = 0
    half_width: float | None = None
    precision: Precision | None = None

    @property
    def seed(self) -> int:
        return self.per_scenario[0].seed

    @property
    def replications(self) -> int:
        """Replications per scenario."""
        return self.per_scenario[0].n

    @property
    def precision_met(self) -> bool:
        return self.precision is None or (
            self.half_width is not None and self.half_width <= self.precision.half_width
        )

    def summaries(self, level: float = 0.95) -> dict[str, dict[str, Summary]]:
        """Each scenario's metrics (by name) with confidence intervals at ``level``."""
        return {r.scenario.name: r.summary(level) for r in self.per_scenario}

    def comparison(self) -> Comparison:
        """The scenarios against the first, replication by replication."""
        return Comparison(self.per_scenario)

    def table(self) -> SummaryTable:
        """Every metric by scenario, side by side, as ``run`` prints them."""
        return analysis.metrics_table(
            self.summaries(), replications=self.replications, seed=self.seed
        )

    def breakdown_tables(self, grouping: str) -> list[SummaryTable]:
        """Each scenario's stages by ``grouping`` (source, segment or team), as ``run --by``
        prints them."""
        return [
            analysis.breakdown_table(
                r.scenario.name, grouping, r.breakdown(), replications=r.n, seed=self.seed
            )
            for r in self.per_scenario
        ]

    def as_json(self) -> dict[str, Any]:
        """The ``run --json`` object: one scenario's, or ``{"scenarios": [one per scenario]}``."""
        objects = [r.as_json() for r in self.per_scenario]
        return objects[0] if len(objects) == 1 else {"scenarios": objects}

    def warnings(self) -> list[str]:
        """What the numbers may not show: a precision target the cap stopped short of, a
        warm-up too short for a scenario's queue to settle."""
        found = []
        if not self.precision_met and self.precision is not None:
            found.append(
                f"{self.precision.metric}: half-width {self.half_width:.4g} after "
                f"{self.replications} replications (the cap), above the target "
                f"{self.precision.half_width:g}"
            )
        for replications in self.per_scenario:
            for check in replications.warmup():
                if not check.enough:
                    found.append(f"{replications.scenario.name}: {check.message()}")
        return found


def _requested(replications: int, precision: Precision | None) -> dict[str, Any]:
    """What a run was asked for, as its manifest records it: a resume finishes it."""
    return {
        "replications": replications,
        "target_halfwidth": None
        if precision is None
        else {"metric": precision.metric, "half_width": precision.half_width},
        "max_replications": DEFAULT_CAP if precision is None else precision.cap,
    }


def _asked(manifest: Mapping[str, Any], default: int) -> tuple[int, Precision | None]:
    asked = manifest.get("requested", {})
    target = asked.get("target_halfwidth")
    precision = (
        None
        if target is None
        else Precision(target["metric"], target["half_width"], asked["max_replications"])
    )
    return asked.get("replications", default), precision


def run(
    scenarios: Sequence[Scenario],
    replications: int | None = None,
    seed: int | None = None,
    *,
    precision: Precision | None = None,
    out: Path | None = None,
    resume: bool = False,
    records: bool = False,
    executor: ExecutorSpec = IN_PROCESS,
    on_chunk: OnChunk | None = None,
    on_total: OnTotal | None = None,
    command: str = "run",
    extra: dict[str, Any] | None = None,
    default_replications: int = 10,
    force: bool = False,
) -> RunResult:
    """Run ``scenarios`` on common random numbers, optionally into a results folder.

    - ``replications``: per scenario; ``None`` means the run's own when resuming, else
      ``default_replications``. With a ``precision`` target it is where growing starts.
    - ``seed``: default the first scenario's, else fresh entropy (the result reports it).
    - ``precision``: add replications until the target is met or capped; a resume without
      one keeps the run's own.
    - ``out``: a results folder; every chunk is stored as it finishes. ``resume`` picks up the
      run ``out`` holds, which must be the same scenarios and seed
      (:class:`~funnelsim.errors.StoreError` otherwise).
    - ``records``: the per-lead records too: written to ``out``, or without one kept on each
      :class:`Replications` (large: a year of a full funnel is tens of MB per replication).
    - ``executor``: where the replications run; the numbers are the same wherever.
    - ``on_chunk`` hears every chunk as it finishes (after it is stored); ``on_total(total,
      done)`` the replications the run will have in all, and those done so far, whenever the
      total changes.
    - ``command`` (``run``, ``compare``, ``study``) and ``extra`` go to the manifest; a
      ``compare`` or ``study`` needs two scenarios or more, and stores paired differences.
    - ``force``: run even what :mod:`funnelsim.workload` estimates too large for the machine.

    Everything that can be refused is refused before anything runs (a
    :class:`~funnelsim.errors.FunnelsimError`).
    """
    scenarios = list(scenarios)
    if not scenarios:
        raise UsageError("nothing to run: no scenario")
    if command != "run" and len(scenarios) < 2:
        raise UsageError(
            "needs at least two scenarios (two files, or a file and a --variant)", command
        )
    check_names(scenarios)
    if resume and out is None:
        raise UsageError("needs --out, the folder of the run to finish", "--resume")
    if replications is not None and replications < 1:
        raise UsageError(f"at least 1 replication, got {replications}", "--replications")
    _check_workload(scenarios, replications, precision, default_replications, out, resume, force)
    with ExitStack() as held:  # the results folder's lock is let go however the run ends
        store = None
        finished: list[Replication] = []
        if out is not None:
            from funnelsim.store import Store  # pandas and pyarrow only when writing

            store, finished = Store.open(
                out,
                scenarios,
                seed,
                command=command,
                records=records,
                resume=resume,
                extra={
                    **(extra or {}),
                    "requested": _requested(replications or default_replications, precision),
                },
            )
            held.callback(store.close)
            root = store.seed
            if resume:
                stored_n, stored_precision = _asked(store.manifest, default_replications)
                replications = replications or stored_n
                precision = precision or stored_precision
                store.manifest["requested"] = _requested(replications, precision)
        else:
            root = normalise_seed(scenarios[0].seed if seed is None else seed)
        n = replications or default_replications

        def chunk_done(chunk: Chunk) -> None:
            if store is not None:
                store.write_chunk(chunk)
            if on_chunk is not None:
                on_chunk(chunk)

        half = None
        with open_executor(executor) as slots:
            runner = Runner(
                scenarios,
                root,
                slots=slots,
                records=records and store is not None,
                keep_records=records and store is None,
                series=store is not None,
                on_chunk=chunk_done,
                finished=finished,
            )
            start = max(n, runner.extent)  # gaps left by an interruption are filled

            def resized(size: int) -> None:
                if on_total is not None:
                    on_total(size * len(scenarios), sum(len(d) for d in runner.done))

            if precision is None:
                resized(start)
                runner.extend(start)
            else:
                _, half = run_to_precision(runner, start, precision, resized)
        per_scenario = runner.per_scenario()
        if store is not None:
            store.finish(per_scenario, paired=command != "run")
    return RunResult(per_scenario, len(finished), half, precision)


def _check_workload(
    scenarios: Sequence[Scenario],
    replications: int | None,
    precision: Precision | None,
    default_replications: int,
    out: Path | None,
    resume: bool,
    force: bool,
) -> None:
    """Refuse a run too large for the machine (:mod:`funnelsim.workload`) before its folder is
    touched; a resumed run is judged on the replications its manifest asks for."""
    n = replications or default_replications
    if resume and out is not None and (replications is None or precision is None):
        from funnelsim.store import read_manifest

        try:
            stored_n, stored_precision = _asked(read_manifest(out / "manifest.json"), n)
        except StoreError:
            stored_n, stored_precision = n, None  # Store.open says what is wrong with it
        n, precision = replications or stored_n, precision or stored_precision
    work = [workload.estimate(scenario) for scenario in scenarios]
    workload.check(work, _most(n, precision), force=force)


def study_size_check(
    replications: int | None,
    precision: Precision | None,
    *,
    force: bool = False,
    draws: int = 1,
) -> Callable[[Study, Scenario], None]:
    """What ``load_study`` calls before making a study's points: refuses, as :func:`run` would,
    a study whose points (times ``draws`` of their uncertain inputs) would be too large a run,
    before they are built."""

    def check(study: Study, baseline: Scenario) -> None:
        n = _most(replications or study.replications, precision)
        scenarios = study.size() * draws
        workload.check([workload.estimate(baseline)] * scenarios, n, force=force)

    return check


def _most(replications: int, precision: Precision | None) -> int:
    """The replications a run may reach: a precision target grows it up to its cap."""
    return replications if precision is None else max(replications, precision.cap)


# -- conveniences: the same path, named for what a notebook asks --------------------------------
def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int | None = None,
    *,
    records: bool = False,
    executor: ExecutorSpec = IN_PROCESS,
    on_chunk: OnChunk | None = None,
) -> Replications:
    """Replications 0..n-1 of one scenario; the seed defaults to the scenario's, then to fresh
    entropy. ``records`` keeps every replication's per-lead records."""
    result = run(
        [scenario], replications, seed, records=records, executor=executor, on_chunk=on_chunk
    )
    return result.per_scenario[0]


def compare(
    scenarios: Sequence[Scenario],
    replications: int,
    seed: int | None = None,
    *,
    executor: ExecutorSpec = IN_PROCESS,
    on_chunk: OnChunk | None = None,
) -> Comparison:
    """Every scenario on the same seed and replication numbers (common random numbers), each
    paired with the first."""
    result = run(
        scenarios, replications, seed, executor=executor, on_chunk=on_chunk, command="compare"
    )
    return result.comparison()


def run_study(
    study: Study,
    points: Sequence[Point],
    replications: int | None = None,
    seed: int | None = None,
    *,
    precision: Precision | None = None,
    out: Path | None = None,
    resume: bool = False,
    executor: ExecutorSpec = IN_PROCESS,
    on_chunk: OnChunk | None = None,
    on_total: OnTotal | None = None,
    force: bool = False,
) -> RunResult:
    """Every point of a study on common random numbers, the baseline first.

    Replications and seed default to the study's own; the rest is :func:`run`'s. A results
    folder records the study's points (label, scenario, overrides) in its manifest.
    """
    return run(
        [p.scenario for p in points],
        replications,
        study.seed if seed is None else seed,
        precision=precision,
        out=out,
        resume=resume,
        executor=executor,
        on_chunk=on_chunk,
        on_total=on_total,
        command="study",
        extra={"study": describe(study, points)},
        default_replications=study.replications,
        force=force,
    )


@dataclass(frozen=True)
class UncertainRun:
    """Plans run over draws of their uncertain inputs (``funnelsim.uncertainty``): one scenario
    per plan and draw, all on one seed, so that replication ``r`` of every draw of every plan
    shares its random numbers; the first plan is the baseline of a comparison."""

    plans: list[Scenario]
    inputs: dict[str, Range]  # every plan's uncertain inputs by dotted path (the first's range)
    result: RunResult  # draw after draw, each with every plan in order

    @property
    def seed(self) -> int:
        return self.result.seed

    @property
    def replications(self) -> int:
        return self.result.replications

    @property
    def draws(self) -> int:
        return len(self.result.per_scenario) // len(self.plans)

    def table(self, metric: str, plan: int = 0) -> np.ndarray:
        """A plan's outcomes of a metric, draws x replications."""
        runs = self.result.per_scenario[plan :: len(self.plans)]
        return np.array([r.values(metric) for r in runs], dtype=float)

    def spreads(self, plan: int = 0) -> dict[str, uncertainty.Spread]:
        """Every metric's spread over inputs and noise, in ``METRICS`` order."""
        return {m: uncertainty.spread(self.table(m, plan), self.seed) for m in metrics.METRICS}

    def differences(self, plan: int) -> dict[str, dict[str, Any]]:
        """A plan against the baseline, metric by metric: the spread of its paired differences
        and the probability that it is the better (``null`` for a metric with no direction)."""
        out = {}
        for metric, info in metrics.METRICS.items():
            difference = self.table(metric, plan) - self.table(metric, 0)
            found = uncertainty.spread(difference, self.seed).as_json()
            chance, (low, high) = (
                uncertainty.p_better(difference, info.better, self.seed)
                if info.better
                else (math.nan, (math.nan, math.nan))
            )
            found["p_better"] = None if math.isnan(chance) else chance
            found["p_better_ci"] = [None if math.isnan(x) else x for x in (low, high)]
            out[metric] = found
        return out

    def _head(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "replications": self.replications,
            "uncertainty": self.draws,
            "inputs": {path: _range_json(r) for path, r in self.inputs.items()},
        }

    def as_json(self) -> dict[str, Any]:
        """The ``run --uncertainty --json`` object (one plan)."""
        metrics_json = {m: s.as_json() for m, s in self.spreads().items()}
        return {"scenario": self.plans[0].name, **self._head(), "metrics": metrics_json}

    def comparison_json(self) -> dict[str, Any]:
        """The ``compare --uncertainty --json`` object: each plan's spreads, and each other
        plan's paired differences from the first with ``p_better``."""
        return {
            "baseline": self.plans[0].name,
            **self._head(),
            "scenarios": {
                plan.name: {"metrics": {m: s.as_json() for m, s in self.spreads(k).items()}}
                for k, plan in enumerate(self.plans)
            },
            "differences": {
                plan.name: self.differences(k) for k, plan in enumerate(self.plans) if k
            },
        }


def _range_json(r: Range) -> dict[str, Any]:
    def plain(value: Quantity | None) -> Any:
        return value if value is None or isinstance(value, int | float) else str(value)

    return {
        "value": plain(r.value),
        "low": plain(r.low),
        "high": plain(r.high),
        "shape": r.shape,
        "source": r.source,
        "grade": r.grade,
    }


def run_uncertain(
    plans: Sequence[Scenario],
    draws: int,
    replications: int | None = None,
    seed: int | None = None,
    *,
    executor: ExecutorSpec = IN_PROCESS,
    on_chunk: OnChunk | None = None,
    on_total: OnTotal | None = None,
    out: Path | None = None,
    resume: bool = False,
    force: bool = False,
) -> UncertainRun:
    """``plans`` over ``draws`` sets of their uncertain inputs (shared by dotted path), each
    run for ``replications`` (default 10) on common random numbers; the draws are seeded from
    the run's seed (default the first plan's), so the same seed gives the same answer whatever
    the workers or executor."""
    plans = list(plans)
    check_names(plans)
    inputs = {uncertainty.dotted(p): r for p, r in uncertainty.shared_inputs(plans).items()}
    if not inputs:
        names = ", ".join(plan.name for plan in plans)
        raise UsageError(
            f"{names}: no uncertain input: give a number a range, such as "
            "{value: 0.3, low: 0.2, high: 0.4} (docs/scenario.md)",
            "--uncertainty",
        )
    if draws < 2:
        raise UsageError(f"at least 2 draws, got {draws}", "--uncertainty")
    if replications is not None and replications < 2:
        raise UsageError("with --uncertainty, at least 2 replications a draw", "--replications")
    root = normalise_seed(plans[0].seed if seed is None else seed)
    scenarios = [
        uncertainty.drawn_scenario(plan, values, f"{plan.name} (draw {i + 1})")
        for i, drawn in enumerate(uncertainty.draw_inputs(plans, draws, root))
        for plan, values in zip(plans, drawn, strict=True)
    ]
    result = run(
        scenarios,
        replications,
        root,
        executor=executor,
        on_chunk=on_chunk,
        on_total=on_total,
        out=out,
        resume=resume,
        force=force,
        extra={
            "uncertainty": {
                "draws": draws,
                "plans": [p.name for p in plans],
                "inputs": {path: _range_json(r) for path, r in inputs.items()},
            }
        },
    )
    return UncertainRun(plans, inputs, result)


def study_json(study: Study, points: Sequence[Point], result: RunResult) -> dict[str, Any]:
    """The ``study --json`` object: for every point its label, overrides, metrics and paired
    difference from the baseline (``null`` for the baseline itself)."""
    data = result.comparison().as_json()
    return {
        "study": study.name,
        "seed": data["seed"],
        "replications": data["replications"],
        "points": [
            {
                "label": p.label,
                "overrides": p.overrides,
                "metrics": data["scenarios"][p.scenario.name]["metrics"],
                "difference": data["differences"].get(p.scenario.name),
            }
            for p in points
        ],
    }


def study_table(study: Study, points: Sequence[Point], result: RunResult) -> SummaryTable:
    """One row per point with the study's chosen metrics, as ``study`` prints them."""
    differences = result.comparison().differences()
    return analysis.study_table(
        study.name,
        [p.label for p in points],
        [r.summary() for r in result.per_scenario],
        [differences.get(r.scenario.name) for r in result.per_scenario],
        study.metrics,
        replications=result.replications,
        seed=result.seed,
    )
