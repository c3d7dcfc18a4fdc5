"""What a worker process runs: a chunk of replications of one scenario, simulated and measured.

Kept apart from ``funnelsim.experiment`` (which plans runs, pairs plans and draws uncertain
inputs, and imports scipy's statistics for it) so that a worker, and the forkserver that starts
the pool's workers, import only the model and the measures: a pool's first chunk then comes
back about a second sooner (``benchmarks/bench_parallel.py``).
"""

from __future__ import annotations

from funnelsim import breakdown, metrics
from funnelsim.model.run import simulate
from funnelsim.replications import Chunk, Replication
from funnelsim.scenario.schema import Scenario
from funnelsim.warmup import daily_levels


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
                breakdown.compute(records, scenario),
                metrics.weekly(records) if series else None,
                records if keep_records else None,
            )
        )
    return Chunk(index, done)
