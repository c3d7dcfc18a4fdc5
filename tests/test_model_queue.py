"""The funnel reduced to one queue is computed directly (``funnelsim.model.queue``); the general
story must give the same records, lead for lead, when made to tell it event by event."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from funnelsim.model.assembly import assemble
from funnelsim.model.story import Funnel
from funnelsim.records import RunRecords
from helpers import scenario

OFFICE = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00-12:30", "13:30-17:00"]}


def queue(calendar: object, patience: bool, headcount: int = 3) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "queue",
        "horizon": "6w",
        "warmup": "0d",
        "calendar": calendar,
        "sources": {"web": {"kind": "inbound", "arrivals": {"rate": "2.5/h"}}},
        "handoff": {"first_touch_sla": "2h", "decay": {"kind": "exponential", "half_life": "1d"}},
        "teams": {
            "sdr": {
                "headcount": headcount,
                "first_touch_time": {"dist": "exponential", "mean": "50m"},
            }
        },
    }
    if patience:
        data["handoff"]["expire_after"] = {"dist": "exponential", "mean": "3h"}  # type: ignore[index]
    return data


def records(data: dict[str, object], seed: int, *, general: bool) -> RunRecords:
    funnel = Funnel(scenario(data), seed)
    assert funnel.rules.single_queue
    if general:
        funnel.rules.single_queue = False  # tell it event by event instead
    funnel.run()
    return assemble(funnel)


def columns(r: RunRecords) -> dict[str, np.ndarray]:
    out = {}
    for group in ("leads", "handoffs", "tasks"):
        table = getattr(r, group)
        for field in dataclasses.fields(table):
            out[f"{group}.{field.name}"] = np.asarray(getattr(table, field.name))
    return out


@pytest.mark.parametrize("calendar", ["always", OFFICE], ids=["always", "office hours"])
@pytest.mark.parametrize("patience", [False, True], ids=["no patience", "patience"])
@pytest.mark.parametrize("seed", [1, 2])
def test_queue_gives_the_general_story_records(calendar: object, patience: bool, seed: int) -> None:
    data = queue(calendar, patience)
    direct, general = records(data, seed, general=False), records(data, seed, general=True)
    expired = int(np.count_nonzero(~np.isnan(direct.leads.expired_h)))
    assert len(direct.tasks.lead) > 100
    assert (expired > 10) == patience, expired  # the cases really exercise patience
    a, b = columns(direct), columns(general)  # the same record classes: the same columns
    for name in a:
        x, y = a[name], b[name]
        assert x.shape == y.shape, name
        if x.dtype.kind == "f":
            # SimPy's clock may round an instant an ulp away from the drawn one
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-9, equal_nan=True, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


def test_score_routing_is_not_a_single_queue() -> None:
    data = queue("always", False)
    data["handoff"]["routing"] = "score"  # type: ignore[index]
    assert not Funnel(scenario(data), 1).rules.single_queue
