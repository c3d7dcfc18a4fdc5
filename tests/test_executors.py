"""Same seed, same result, whatever the number of worker processes."""

from __future__ import annotations

import math

import numpy as np

from funnelsim.experiment import compare, run_replications
from funnelsim.scenario.load import load_scenario
from helpers import SCENARIOS


def same_metrics(a: list[dict[str, float]], b: list[dict[str, float]]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys()
        and all(x[k] == y[k] or (math.isnan(x[k]) and math.isnan(y[k])) for k in x)
        for x, y in zip(a, b, strict=True)
    )


def test_one_or_two_workers_give_identical_replications() -> None:
    scenario = load_scenario(SCENARIOS / "baseline.yaml", ["horizon=6w", "warmup=2w"])
    done: list[int] = []
    alone = run_replications(scenario, 6, 11, keep_records=True, workers=1)
    pooled = run_replications(scenario, 6, 11, keep_records=True, workers=2, on_done=done.append)
    assert sorted(done) == list(range(6))  # progress heard of every replication once
    assert same_metrics(alone.metrics, pooled.metrics)
    for a, b in zip(alone.records, pooled.records, strict=True):
        assert a.replication == b.replication
        for name, column in a.leads.columns().items():
            assert np.array_equal(column, b.leads.columns()[name], equal_nan=True), name
    # and the replications really differ from one another
    assert alone.metrics[0]["leads"] != alone.metrics[1]["leads"]


def test_a_comparison_is_the_same_on_one_or_two_workers() -> None:
    plans = [
        load_scenario(SCENARIOS / f, ["horizon=4w", "warmup=1w"])
        for f in ("inbound-heavy.yaml", "outbound-heavy.yaml")
    ]
    alone = compare(plans, 4, 3, workers=1)
    pooled = compare(plans, 4, 3, workers=2)
    for a, b in zip(alone.batches, pooled.batches, strict=True):
        assert a.scenario.name == b.scenario.name
        assert same_metrics(a.metrics, b.metrics)
