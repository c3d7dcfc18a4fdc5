"""Sales follow-up as behaviour (``teams.sdr.attempts.follow_up``): how many attempts sales
really makes on an MQL is a policy, by source, by score or drawn from a distribution (reps
average 1.6, Velocify), never more than ``max``. Exact counts on leads nobody reaches, and the
distribution's shares within their intervals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from funnelsim.model.run import simulate
from funnelsim.records import Outcome, TaskKind
from helpers import scenario

MAX = 6


def unreachable_leads(
    follow_up: dict[str, Any], count: int = 20, score: float = 0.5
) -> dict[str, Any]:
    """``count`` MQLs at hour 0, a rep for each, always at work; no attempt ever reaches a lead,
    so each lead gets exactly the attempts the policy gives it."""
    return {
        "name": "follow-up",
        "start": "2026-01-05 00:00",
        "horizon": "5d",
        "sources": {
            "web": {
                "kind": "inbound",
                "arrivals": {"at": ["2026-03-01 00:00"]},
                "score": {"dist": "constant", "value": score},
            }
        },
        "handoff": {"first_touch_sla": "1h"},
        "teams": {
            "sdr": {
                "headcount": count,
                "first_touch_time": {"dist": "constant", "value": "5m"},
                "attempts": {"max": MAX, "spacing": "1h", "connect_probability": 0.0,
                             "follow_up": follow_up},
                "qualification": {"time": {"dist": "constant", "value": "10m"},
                                  "probability": 1.0},
            }
        },
        "initial": {"open_mqls": [{"source": "web", "count": count, "age": "0m"}]},
    }  # fmt: skip


def attempts_made(data: dict[str, Any], seed: int = 1) -> np.ndarray:
    records = simulate(scenario(data), seed=seed)
    leads, tasks = records.leads, records.tasks
    old = np.flatnonzero(leads.entry == 0)
    assert (leads.outcome[old] == Outcome.UNREACHABLE).all()
    # the attempts counted are the rep work done: the first touch, then follow-up attempts
    work = np.bincount(tasks.lead[np.isin(tasks.kind, [TaskKind.FIRST_TOUCH, TaskKind.ATTEMPT])],
                       minlength=len(leads))  # fmt: skip
    assert (work[old] == leads.attempts[old]).all()
    return leads.attempts[old]


def test_every_lead_of_a_source_gets_its_attempts() -> None:
    assert (attempts_made(unreachable_leads({"by_source": {"web": 2}})) == 2).all()


@pytest.mark.parametrize(("score", "expected"), [(0.9, MAX), (0.5, 1)])
def test_leads_scored_high_get_every_attempt(score: float, expected: int) -> None:
    policy = {"all_from_score": 0.8, "planned": {1: 1.0}}
    assert (attempts_made(unreachable_leads(policy, score=score)) == expected).all()


@pytest.mark.seed(21)
def test_planned_attempts_follow_their_distribution(seed: int) -> None:
    weights = {1: 0.6, 2: 0.2, 6: 0.2}
    count = 2000
    made = attempts_made(unreachable_leads({"planned": weights}, count=count), seed=seed)
    assert set(made.tolist()) <= set(weights)
    for k, w in weights.items():
        share = float(np.mean(made == k))
        half = 3.29 * math.sqrt(w * (1 - w) / count)  # 99.9%
        print(f"{k} attempt(s): share {share:.4f}, expected {w} +- {half:.4f}")
        assert abs(share - w) <= half
    mean, want = float(made.mean()), sum(k * w for k, w in weights.items())
    half = 3.29 * float(made.std(ddof=1)) / math.sqrt(count)
    print(f"mean attempts {mean:.3f} +- {half:.3f}, expected {want:.3f}")
    assert abs(mean - want) <= half


def test_the_same_lead_gets_the_same_number_in_every_run() -> None:
    data = unreachable_leads({"planned": {1: 0.5, 3: 0.5}}, count=200)
    assert np.array_equal(attempts_made(data, seed=4), attempts_made(data, seed=4))
    assert not np.array_equal(attempts_made(data, seed=4), attempts_made(data, seed=5))
