"""One replication, from a scenario to its records: the model's only entry point."""

from __future__ import annotations

from funnelsim.model.funnel import FunnelModel
from funnelsim.records import RunRecords
from funnelsim.scenario.schema import Scenario


def simulate(scenario: Scenario, seed: int, replication: int = 0) -> RunRecords:
    """Build replication ``replication`` of ``scenario`` on the streams of ``seed``, run it to
    the end of its horizon, and return its records."""
    return FunnelModel(scenario, seed, replication).run()
