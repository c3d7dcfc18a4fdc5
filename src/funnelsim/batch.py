"""A batch from request to stored result: the one path ``run``, ``compare``, ``study`` and
notebooks take.

A batch is some scenarios, a seed and how many replications (a number, or "until this CI is
this narrow"). It runs on an executor, chunk by chunk; with an output folder every finished
chunk is stored at once, so an interrupted batch resumes where it stopped, and a resume without
new instructions finishes what the batch was first asked for.

```python
from funnelsim.batch import run_batch
done = run_batch(scenarios, 20, out=Path("results/ab"), workers=2)
done.batches[0].summary()["sqls"]
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funnelsim.executors import open_executor
from funnelsim.experiment import (
    Batch,
    Chunk,
    OnChunk,
    Precision,
    Replication,
    Runner,
    run_to_precision,
)
from funnelsim.rng import normalise_seed
from funnelsim.scenario.schema import Scenario

DEFAULT_CAP = 1000


@dataclass
class BatchRun:
    """What a batch produced, and how it got there."""

    batches: list[Batch]
    kept: int  # replications a resume found finished in the store
    half_width: float | None = None  # reached, when a precision was asked
    precision: Precision | None = None

    @property
    def replications(self) -> int:
        return self.batches[0].replications

    @property
    def precision_met(self) -> bool:
        return self.precision is None or (
            self.half_width is not None and self.half_width <= self.precision.half_width
        )


def _requested(replications: int, precision: Precision | None) -> dict[str, Any]:
    return {
        "replications": replications,
        "target_halfwidth": None
        if precision is None
        else {"metric": precision.metric, "half_width": precision.half_width},
        "max_replications": DEFAULT_CAP if precision is None else precision.cap,
    }


def _asked(manifest: dict[str, Any], default: int) -> tuple[int, Precision | None]:
    asked = manifest.get("requested", {})
    target = asked.get("target_halfwidth")
    precision = (
        None
        if target is None
        else Precision(target["metric"], target["half_width"], asked["max_replications"])
    )
    return asked.get("replications", default), precision


def run_batch(
    scenarios: list[Scenario],
    replications: int | None = None,
    seed: int | None = None,
    *,
    default_replications: int = 10,
    precision: Precision | None = None,
    out: Path | None = None,
    resume: bool = False,
    records: bool = False,
    command: str = "run",
    extra: dict[str, Any] | None = None,
    workers: int = 1,
    executor: str = "process",
    scheduler: str | None = None,
    on_chunk: OnChunk | None = None,
    on_total: Callable[[int, int], None] | None = None,
) -> BatchRun:
    """Run ``scenarios`` on common random numbers, optionally into a results folder.

    ``replications`` ``None`` means the batch's own when resuming, else
    ``default_replications``; ``precision`` adds replications until met (or its cap), and a
    resume without one keeps the batch's. ``out`` stores every chunk as it finishes
    (``records``: per-lead records too); ``resume`` picks up the batch ``out`` holds, which
    must be the same scenarios and seed (:class:`funnelsim.errors.StoreError` otherwise).
    ``on_total(total, done)`` hears the replications the batch will have in all, and those
    done so far, whenever the total changes; ``on_chunk`` hears every chunk as it finishes,
    after it is stored.
    """
    store = None
    finished: list[Replication] = []
    if out is not None:
        from funnelsim.store import Store  # pandas and pyarrow only when writing

        asked = _requested(replications or default_replications, precision)
        store, finished = Store.open(
            out,
            scenarios,
            seed,
            command=command,
            records=records,
            resume=resume,
            extra={**(extra or {}), "requested": asked},
        )
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
    with open_executor(executor, workers, scheduler) as pool:
        runner = Runner(
            scenarios,
            root,
            pool=pool,
            records=records and store is not None,
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
    batches = runner.batches()
    if store is not None:
        store.finish(batches, paired=command != "run")
    return BatchRun(batches, len(finished), half, precision)
