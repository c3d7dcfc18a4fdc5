"""Decay (``funnelsim.model.decay``): a lead that waits longer never converts better.

Per lead, the recorded decay is the scenario's multiplier at the lead's wait; across leads, the
SQL rate falls with the wait (paired over replications); and the curves themselves never rise,
as the schema accepts them and as the simulation reads them one wait at a time (hypothesis).
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from funnelsim.analysis import summarise
from funnelsim.model.decay import DecayCurve
from funnelsim.model.run import simulate
from funnelsim.records import Kind
from funnelsim.scenario.schema import Decay
from helpers import bundled, scenario

INBOUND = Kind.INBOUND
SHORT = ("horizon=20w", "warmup=2w")


def has(column: np.ndarray) -> np.ndarray:
    return ~np.isnan(column)


# -- in the model: longer waits never convert better ---------------------------------------
def test_recorded_decay_is_the_multiplier_at_the_wait() -> None:
    """Continuous handoff: decay clock and SLA clock both start at handoff, so each touched
    lead's recorded decay is the scenario's multiplier at its first-touch wait."""
    spec = scenario(bundled("baseline.yaml"), *SHORT)
    decay = spec.handoff.decay
    assert decay is not None
    leads = simulate(spec, 2027, 0).leads
    touched = (leads.kind == INBOUND) & has(leads.touch_start_h)
    assert touched.sum() > 500
    wait = leads.wait_h[touched]
    assert np.allclose(leads.decay[touched], decay.multiplier(wait), rtol=1e-12, atol=1e-12)
    order = np.argsort(wait, kind="stable")
    assert (np.diff(leads.decay[touched][order]) <= 1e-12).all(), "decay rose with the wait"
    assert np.isnan(leads.decay[~touched]).all()  # untouched leads (and outbound) have none


WAIT_BUCKETS = ((0.0, 1.0), (1.0, 8.0), (8.0, np.inf))


@pytest.mark.slow
@pytest.mark.seed(2027)
def test_sql_rate_never_rises_with_the_wait(seed: int) -> None:
    """In the baseline, handed-off leads touched within 1 h qualify more often than those
    touched in 1-8 h, and those more often than leads that waited over 8 h."""
    spec = scenario(bundled("baseline.yaml"), "horizon=39w")
    rates = []
    for r in range(20):  # with 10, the 1-8 h and 8 h+ buckets are too close to order on any seed
        records = simulate(spec, seed, r)
        leads = records.leads
        t0, t1 = records.window
        cohort = (
            (leads.kind == INBOUND)
            & (leads.handoff_h >= t0)
            & (leads.handoff_h < t1 - 14 * 24)  # two weeks to finish the attempts
            & has(leads.touch_start_h)
        )
        wait = leads.wait_h[cohort]
        sql = has(leads.sql_h[cohort])
        row = []
        for lo, hi in WAIT_BUCKETS:
            bucket = (wait >= lo) & (wait < hi)
            assert bucket.sum() >= 100, f"bucket {lo}-{hi} h has {bucket.sum()} leads"
            row.append(float(sql[bucket].mean()))
        rates.append(row)
    table = np.array(rates)
    for b, (lo, hi) in enumerate(WAIT_BUCKETS):
        s = summarise(table[:, b], level=0.999)
        print(f"SQL rate, wait {lo:g}-{hi:g} h: {s.mean:.4f} [{s.ci_low:.4f}, {s.ci_high:.4f}]")
    for b in range(len(WAIT_BUCKETS) - 1):
        s = summarise(table[:, b] - table[:, b + 1], level=0.999)
        print(f"bucket {b} - bucket {b + 1}: {s.mean:+.4f} [{s.ci_low:+.4f}, {s.ci_high:+.4f}]")
        assert s.ci_low > -0.01, f"the SQL rate rose from wait bucket {b} to {b + 1}"
    s = summarise(table[:, 0] - table[:, -1], level=0.999)
    assert s.ci_low > 0, "leads touched within the hour do not qualify more often"


# -- the curves never rise -------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    half_life_m=st.floats(0.5, 1e5),
    waits=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=2, max_size=20),
)
def test_exponential_decay_never_rises(half_life_m: float, waits: list[float]) -> None:
    decay = TypeAdapter(Decay).validate_python(
        {"kind": "exponential", "half_life": f"{half_life_m}m"}
    )
    grid = np.sort(np.array(waits))
    values = decay.multiplier(grid)
    assert ((values >= 0) & (values <= 1)).all()
    assert (np.diff(values) <= 0).all(), (grid, values)


@st.composite
def decay_tables(draw: st.DrawFn) -> dict[str, Any]:
    minutes = draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=8, unique=True))
    multipliers = draw(st.lists(st.floats(0, 1), min_size=len(minutes), max_size=len(minutes)))
    if draw(st.booleans()):  # half of the tables decay, so valid tables with many points occur
        multipliers.sort(reverse=True)
    return {
        "kind": "table",
        "points": [[f"{m}m", v] for m, v in zip(sorted(minutes), multipliers, strict=True)],
    }


@settings(max_examples=200, deadline=None)
@given(table=decay_tables())
def test_any_valid_decay_table_never_rises(table: dict[str, Any]) -> None:
    """A table the schema accepts must describe decay: odds that never rise with the wait.
    (Otherwise a lead that waits longer converts better, against the model's own story.)"""
    try:
        decay = TypeAdapter(Decay).validate_python(table)
    except ValidationError:
        values = [v for _, v in table["points"]]
        assert any(b > a for a, b in itertools.pairwise(values)), "a decaying table was refused"
        return  # a rising table is refused: fine
    grid = np.linspace(0, 200, 4001)  # hours: past the last point too
    values = decay.multiplier(grid)
    rises = np.flatnonzero(np.diff(values) > 1e-12)
    assert not rises.size, (
        f"the schema accepts {table['points']}, whose multiplier rises from {values[rises[0]]} "
        f"to {values[rises[0] + 1]} at a wait of {grid[rises[0]]:.2f} h"
    )


@settings(max_examples=200, deadline=None)
@given(
    table=decay_tables(),
    half_life_m=st.floats(0.5, 1e5),
    waits=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=20),
)
def test_simulation_reads_the_scenarios_decay_curve(
    table: dict[str, Any], half_life_m: float, waits: list[float]
) -> None:
    """The curve the simulation reads one wait at a time (compiled) is the scenario's curve, at
    the points, between them and beyond both ends."""
    specs = [
        TypeAdapter(Decay).validate_python({"kind": "exponential", "half_life": f"{half_life_m}m"})
    ]
    with contextlib.suppress(ValidationError):  # unless the table rises: refused
        specs.append(TypeAdapter(Decay).validate_python(table))
    for spec in specs:
        curve = DecayCurve.of(spec)
        grid = np.array(sorted(waits + [w.hours for w, _ in getattr(spec, "points", [])]))
        one_at_a_time = np.array([curve.at(float(w)) for w in grid])
        assert np.allclose(one_at_a_time, spec.multiplier(grid), rtol=1e-12, atol=1e-15), spec
