"""Finite markets (``sources.NAME.market``): outbound lists draw from a total addressable
market; a contact whose sequence ended without a meeting rests for ``cool_off`` before a list
may load it again, and heavy prospecting runs the list dry. Exact traces."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from funnelsim import metrics
from funnelsim.model.run import simulate
from funnelsim.records import Kind, Outcome
from helpers import scenario


def prospecting(size: int, cool_off: str, per_month: float, horizon: str) -> dict[str, Any]:
    """One list whose every touch goes unanswered (one touch per contact), from a market of
    ``size`` contacts; plenty of SDRs, always at work."""
    return {
        "name": "market",
        "start": "2026-01-01 00:00",
        "horizon": horizon,
        "sources": {
            "list": {
                "kind": "outbound",
                "contacts_per_month": per_month,
                "sequence": {
                    "touches": 1, "spacing": "1d",
                    "touch_time": {"dist": "constant", "value": "10m"},
                    "connect_probability": 0.0, "meeting_probability": 0.1,
                },
                "market": {"size": size, "cool_off": cool_off},
            }
        },
        "handoff": {"first_touch_sla": "1h"},
        "teams": {"sdr": {"headcount": 20,
                          "first_touch_time": {"dist": "constant", "value": "5m"}}},
    }  # fmt: skip


def test_a_list_larger_than_its_market_runs_dry_when_the_market_is_spent() -> None:
    """100 contacts, 60 a month, none back within the run: the list loads exactly the first 100
    contacts due (in the second month, at the 100th load) and nobody after."""
    spec = scenario(prospecting(100, "3650d", 60, "120d"), "warmup=0d")
    records = simulate(spec, seed=1)
    leads = records.leads
    order = np.argsort(leads.arrival_h, kind="stable")
    loaded = leads.outcome[order] != Outcome.NOT_LOADED
    assert loaded[:100].all()
    assert not loaded[100:].any()
    assert sorted(leads.contact[order][:100].tolist()) == list(range(100))
    dry_at = leads.arrival_h[order][100] / 24
    print(f"ran dry on day {dry_at:.1f}: the 101st load")
    assert 30 < dry_at < 62  # in the second month of 60 loads
    found = metrics.compute(records, spec)
    assert found["contacts_outbound"] == 100
    assert found["contacts_not_loaded"] == len(leads) - 100


def test_a_rested_contact_is_not_touched_again_before_its_cool_off_ends() -> None:
    """One contact, a load a day, five days' rest: the contact comes back at the first load
    after its rest, and no load in between finds anyone."""
    records = simulate(scenario(prospecting(1, "5d", 30, "60d"), "warmup=0d"), seed=2)
    leads = records.leads
    loaded = np.flatnonzero((leads.kind == Kind.OUTBOUND) & (leads.contact == 0))
    loaded = loaded[np.argsort(leads.arrival_h[loaded])]
    assert loaded.size >= 5
    for before, after in itertools.pairwise(loaded):
        ended = leads.decision_h[before]  # the one touch ended: unreachable, resting from now
        assert leads.outcome[before] == Outcome.UNREACHABLE
        assert leads.touch_start_h[after] >= ended + 5 * 24
        # the load that brought it back is the first due after its rest
        between = (leads.arrival_h > ended) & (leads.arrival_h < leads.arrival_h[after])
        assert (leads.outcome[between] == Outcome.NOT_LOADED).all()
        assert not (
            (leads.arrival_h >= ended + 120) & (leads.arrival_h < leads.arrival_h[after])
        ).any()
