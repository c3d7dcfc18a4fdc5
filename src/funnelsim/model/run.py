"""One replication, from a scenario to its records: the model's only entry point."""

from __future__ import annotations

from funnelsim.model.assembly import assemble
from funnelsim.model.story import Funnel
from funnelsim.records import RunRecords
from funnelsim.scenario.schema import Scenario


def simulate(scenario: Scenario, seed: int, replication: int = 0) -> RunRecords:
    """Build replication ``replication`` of ``scenario`` on the streams of ``seed``, tell its
    story to the end of the horizon, and return its records."""
    funnel = Funnel(scenario, seed, replication)
    funnel.run()
    return assemble(funnel)
