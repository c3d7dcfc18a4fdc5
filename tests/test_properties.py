"""Properties that must hold for every scenario, seed and replication (hypothesis).

* Conservation: every lead is in exactly one place at the end, and the mechanics are sound (no
  rep does two touches at once, touches start in working time, expiries at patience).
* Determinism: the same seed gives identical records.
* Monotonicity: with shared random numbers, one more rep never makes any lead wait longer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnelsim.model.assembly import assemble
from funnelsim.model.run import simulate
from funnelsim.model.story import Funnel
from funnelsim.records import EXPIRED, TOUCHED, WAITING, RunRecords
from helpers import scenario

WORK = [
    {"dist": "exponential", "mean": "40m"},
    {"dist": "constant", "value": "30m"},
    {"dist": "lognormal", "mean": "45m", "sd": "30m"},
    {"dist": "gamma", "mean": "1h", "sd": "20m"},
    {"dist": "uniform", "low": "10m", "high": "1h"},
    {"dist": "empirical", "values": ["15m", "30m", "2h"], "weights": [3, 2, 1]},
]
CALENDARS: list[Any] = [
    "always",
    {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00-17:00"]},
    {
        "workdays": ["mon", "tue", "thu"],
        "hours": ["08:00-12:00", "13:30-18:00"],
        "holidays": ["2026-01-06"],
    },
]


@st.composite
def scenarios(draw: st.DrawFn, *, allow_expiry: bool = True) -> dict[str, Any]:
    sources = {
        f"s{i}": {
            "kind": "inbound",
            "arrivals": (
                {"rate": f"{draw(st.floats(0.2, 6)):.3f}/h"}
                if draw(st.booleans())
                else {
                    "rate": f"{draw(st.floats(0.2, 6)):.3f}/h",
                    "weekdays": {"mon": 2, "wed": 1, "sat": 0.5},
                    "hours": [draw(st.sampled_from([0, 1, 3])) for _ in range(23)] + [1],
                }
            ),
            "score": {"dist": "beta", "a": 2, "b": 3},
        }
        for i in range(draw(st.integers(1, 3)))
    }
    handoff: dict[str, Any] = {
        "first_touch_sla": draw(st.sampled_from(["30m", "4h", "6bh", "1bd"])),
        "routing": draw(st.sampled_from(["fifo", "score"])),
    }
    if allow_expiry and draw(st.booleans()):
        handoff["expire_after"] = {"dist": "exponential", "mean": "3h"}
    if draw(st.booleans()):
        handoff["decay"] = {"kind": "table", "points": [["0m", 1], ["1h", 0.3], ["1d", 0.05]]}
    return {
        "name": "property",
        "start": "2026-01-05 00:00",
        "horizon": f"{draw(st.integers(1, 10))}d",
        "warmup": f"{draw(st.integers(0, 2))}d",
        "calendar": draw(st.sampled_from(CALENDARS)),
        "sources": sources,
        "handoff": handoff,
        "teams": {
            "sdr": {
                "headcount": draw(st.integers(1, 5)),
                "first_touch_time": draw(st.sampled_from(WORK)),
            }
        },
    }


def check_mechanics(records: RunRecords, model: Funnel) -> None:
    leads = records.leads
    outcome = leads.outcome
    touched = ~np.isnan(leads.touch_start_h)
    expired = outcome == EXPIRED
    waiting = outcome == WAITING
    # conservation: each lead in exactly one place, consistent with its timestamps
    assert set(np.unique(outcome)) <= {TOUCHED, EXPIRED, WAITING}
    assert np.array_equal(expired, ~np.isnan(leads.expired_h))
    assert not (touched & expired).any()
    assert (leads.touch_end_h[outcome == TOUCHED] <= records.end_h + 1e-9).all()
    in_service = waiting & touched
    assert np.isnan(leads.touch_end_h[in_service]).all()  # still being touched at the end
    assert len(leads) == len(model.people)
    # the per-source counts add up
    assert np.bincount(leads.source, minlength=len(records.source_names)).sum() == len(leads)
    # touches start after arrival, in working time, before the end, by a real rep
    starts = leads.touch_start_h[touched]
    assert (starts >= leads.arrival_h[touched]).all()
    assert (starts < records.end_h).all()
    assert all(model.calendar.is_working(t) for t in starts)
    assert set(leads.rep[touched]) <= set(range(records.sdr_headcount))
    assert (leads.rep[~touched] == -1).all()
    # a touch takes exactly its work time on the business clock
    tasks = records.tasks
    first = tasks.kind == 0
    assert np.allclose(tasks.end_b[first] - tasks.start_b[first], leads.work_h[tasks.lead[first]])
    assert np.array_equal(np.sort(tasks.lead[first]), np.flatnonzero(touched))
    # no rep does two things at once
    for rep in range(records.sdr_headcount):
        mine = np.sort(np.flatnonzero(touched & (leads.rep == rep)))
        order = mine[np.argsort(leads.touch_start_h[mine], kind="stable")]
        assert (leads.touch_start_h[order][1:] >= leads.touch_end_h[order][:-1] - 1e-9).all()
    # expiry happens exactly when patience runs out
    assert np.allclose(
        leads.expired_h[expired], leads.arrival_h[expired] + leads.patience_h[expired]
    )
    # a lead still waiting untouched at the end would have expired later than the end
    untouched = waiting & ~touched
    assert (leads.arrival_h[untouched] + leads.patience_h[untouched] >= records.end_h - 1e-9).all()
    # SLA met means touched by the deadline
    assert (leads.sla_met <= touched).all()
    assert (leads.touch_start_h[leads.sla_met] <= leads.sla_deadline_h[leads.sla_met] + 1e-9).all()
    # the queue never goes negative, and ends with the leads still waiting
    assert (records.queue.levels >= 0).all()
    assert records.queue.levels[-1] == np.count_nonzero(untouched)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), seed=st.integers(0, 2**32), replication=st.integers(0, 50))
def test_every_lead_accounted_for(data: dict[str, Any], seed: int, replication: int) -> None:
    model = Funnel(scenario(data), seed, replication)
    model.run()
    check_mechanics(assemble(model), model)


@settings(max_examples=15, deadline=None)
@given(data=scenarios(), seed=st.integers(0, 2**32))
def test_same_seed_same_records(data: dict[str, Any], seed: int) -> None:
    spec = scenario(data)
    first, second = simulate(spec, seed, 3), simulate(spec, seed, 3)
    for name, column in first.leads.columns().items():
        assert np.array_equal(column, second.leads.columns()[name], equal_nan=True), name
    assert np.array_equal(first.queue.levels, second.queue.levels)


@settings(max_examples=25, deadline=None)
@given(data=scenarios(allow_expiry=False), seed=st.integers(0, 2**32))
def test_one_more_rep_never_raises_any_wait(data: dict[str, Any], seed: int) -> None:
    """FIFO, common random numbers: each lead's wait (censored at the end) can only shrink."""
    data["handoff"]["routing"] = "fifo"
    fewer = scenario(data)
    more = scenario(data, f"teams.sdr.headcount={fewer.teams.sdr.headcount + 1}")
    a, b = simulate(fewer, seed), simulate(more, seed)
    assert np.array_equal(a.leads.arrival_h, b.leads.arrival_h)
    wait_a = np.fmin(a.leads.touch_start_h, a.end_h) - a.leads.arrival_h
    wait_b = np.fmin(b.leads.touch_start_h, b.end_h) - b.leads.arrival_h
    wait_a, wait_b = np.nan_to_num(wait_a, nan=np.inf), np.nan_to_num(wait_b, nan=np.inf)
    wait_a = np.fmin(wait_a, a.end_h - a.leads.arrival_h)
    wait_b = np.fmin(wait_b, b.end_h - b.leads.arrival_h)
    assert (wait_b <= wait_a + 1e-9).all()
    assert wait_b.mean() <= wait_a.mean() + 1e-12
