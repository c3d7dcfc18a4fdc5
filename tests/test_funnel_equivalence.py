"""The queue-only dispatcher and the general model tell the same story, record for record.

Scenarios that reduce to a first-touch queue (the Erlang C and Erlang A cases) run on a
dedicated dispatcher for speed; any scenario it accepts must give exactly the records the
general model gives on the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from funnelsim.model.first_touch import is_queue_only
from funnelsim.model.funnel import FunnelModel
from funnelsim.records import RunRecords
from helpers import scenario
from test_properties import scenarios


def both(data: dict[str, Any], seed: int) -> tuple[RunRecords, RunRecords]:
    spec = scenario(data)
    assert is_queue_only(spec)
    fast = FunnelModel(spec, seed, 2)
    general = FunnelModel(spec, seed, 2)
    general.queue_only = False
    return fast.run(), general.run()


def same(a: np.ndarray, b: np.ndarray, name: str) -> None:
    if a.dtype.kind == "f":
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True), name
    else:
        assert np.array_equal(a, b), name


@settings(max_examples=40, deadline=None)
@given(data=scenarios(), seed=st.integers(0, 2**32))
def test_queue_only_dispatcher_matches_the_general_model(data: dict[str, Any], seed: int) -> None:
    fast, general = both(data, seed)
    for name, column in fast.leads.columns().items():
        same(column, general.leads.columns()[name], f"leads.{name}")
    for name, column in fast.handoffs.columns().items():
        same(column, general.handoffs.columns()[name], f"handoffs.{name}")
    for name in ("team", "rep", "lead", "kind", "start_h", "end_h"):
        same(getattr(fast.tasks, name), getattr(general.tasks, name), f"tasks.{name}")
    same(fast.queue.times, general.queue.times, "queue.times")
    same(fast.queue.levels, general.queue.levels, "queue.levels")


def test_the_validation_scenarios_take_the_dispatcher() -> None:
    from helpers import bundled

    for name in ("validation/erlang-c.yaml", "validation/erlang-a.yaml"):
        assert is_queue_only(scenario(bundled(name)))
    assert not is_queue_only(scenario(bundled("baseline.yaml")))
