"""The starting state (``initial``, ``funnelsim.model.population``): a scenario can start from
today's pipeline, open MQLs that have already waited and open opportunities part-way through
their stages. Exact traces on tiny deterministic cases."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from funnelsim.model.run import simulate
from funnelsim.records import Outcome
from helpers import scenario


def pipeline(initial: dict[str, Any], **handoff: Any) -> dict[str, Any]:
    """24/7, one SDR, one AE; constant times; nothing new arrives (a far-future lead only)."""
    return {
        "name": "starting state",
        "start": "2026-01-05 00:00",
        "horizon": "30d",
        "segments": {"all": {"deal_size": {"mean": 1000}, "win_rate": 1.0}},
        "sources": {
            "web": {
                "kind": "inbound",
                "arrivals": {"at": ["2026-03-01 00:00"]},
                "fit": {"dist": "constant", "value": 0.5},
            }
        },
        "handoff": {"first_touch_sla": "1h", **handoff},
        "teams": {
            "sdr": {
                "headcount": 1,
                "first_touch_time": {"dist": "constant", "value": "30m"},
                "qualification": {
                    "time": {"dist": "constant", "value": "1h"},
                    "probability": 1.0,
                },
            },
            "ae": {
                "headcount": 1,
                "stages": [
                    {"name": "discovery", "work": {"dist": "constant", "value": "1h"},
                     "delay": "1d"},
                    {"name": "demo", "work": {"dist": "constant", "value": "2h"}, "delay": "2d"},
                    {"name": "proposal", "work": {"dist": "constant", "value": "3h"},
                     "delay": "5d"},
                ],
                "win": {"fit_effect": 0, "collateral_lift": 0},
            },
        },
        "initial": initial,
    }  # fmt: skip


def test_open_opportunities_resume_at_their_stage() -> None:
    data = pipeline({"open_opportunities": [{"source": "web", "count": 2, "stage": "demo"}]})
    leads = simulate(scenario(data), seed=1).leads
    opened = np.flatnonzero(~np.isnan(leads.opp_h))
    assert len(opened) == 2
    # one AE: demos at 0-2 h and 2-4 h; proposals 2 days later (the second waits for the
    # AE to finish the first); decisions 5 days after each proposal
    closes = sorted(leads.closed_h[opened])
    assert closes == pytest.approx([2 + 48 + 3 + 120, 4 + 48 + 1 + 3 + 120])  # 2nd waits 1 h
    assert leads.won[opened].all()
    assert (leads.deal_value[opened] == 1000).all()
    assert (leads.outcome[opened] == Outcome.WON).all()


def test_open_mqls_carry_their_age_into_decay_and_patience() -> None:
    data = pipeline(
        {"open_mqls": [{"source": "web", "count": 3, "age": "2h"}]},
        decay={"kind": "table", "points": [["0m", 1.0], ["1h", 1.0], ["3h", 0.5]]},
        expire_after={"dist": "constant", "value": "3h"},
    )
    data["sources"]["web"]["fit"]["value"] = 1.0  # qualification odds 1.5 x decay: certain
    leads = simulate(scenario(data), seed=1).leads
    old = np.flatnonzero(leads.arrival_h == 0)
    assert len(old) == 3
    assert leads.mql_h[old] == pytest.approx([-2.0] * 3)  # they became MQLs before the start
    # one SDR: first touch 0-0.5 h, qualification call 0.5-1.5 h (urgent), so the second open
    # MQL is touched at 1.5 h, having waited 3.5 h > 3 h of patience: it expired at 1 h,
    # like the third
    first, second, third = old
    assert leads.touch_start_h[first] == 0.0
    assert leads.decay[first] == pytest.approx(0.75)  # waited 2 h (all before the start)
    assert leads.expired_h[[second, third]] == pytest.approx([1.0, 1.0])
    assert math.isnan(leads.touch_start_h[second])
    # the first one went on: qualified, an opportunity, won
    assert leads.sql_h[first] == pytest.approx(1.5)
    assert leads.won[first]
