"""Calibration by simulation (issue 16): the numbers an export only sees through the funnel.

The bundled example export was simulated from examples/crm/true-scenario.yaml. Calibrated on
the bundled baseline, the fitted scenario's replay misses several of the export's figures:
the base's SDR qualification, AE acceptance, cycles, connect rates and its sources' intent
are not the true scenario's, and a segment's cycle and win rate act together with the AEs'
work and stages. Refining by
simulation must bring each tuned quantity closer to the data, and more quantities inside the
replay's band.
"""

from __future__ import annotations

import math

import pytest

from funnelsim.calibration import calibrate
from funnelsim.crm.fits import fit
from funnelsim.crm.read import read_export
from funnelsim.executors import ExecutorSpec
from funnelsim.refinement import knobs, refine
from funnelsim.scenario.load import load_scenario
from helpers import ROOT, SCENARIOS

EXAMPLE = ROOT / "examples" / "crm" / "hubspot"


@pytest.mark.slow
def test_refining_moves_every_tuned_quantity_towards_the_data() -> None:
    export = read_export(
        EXAMPLE / "contacts.csv", EXAMPLE / "deals.csv", None, EXAMPLE / "mapping.yaml",
        timezone=None, strict=False,
    )  # fmt: skip
    base = load_scenario(SCENARIOS / "baseline.yaml")
    fits = fit(export)
    first = calibrate(export, base, name="calibrated", fits=fits)
    found = refine(
        first.scenario, export, rounds=2, replications=4, warmup="0d", executor=ExecutorSpec(2)
    )
    before, after = found.rounds[0], found.last
    print(found.summary_line())
    assert after.inside > before.inside
    tuned = {knob.quantity for knob in knobs(first.scenario)}
    closer = 0
    for knob in knobs(first.scenario):
        start = found.rounds[0].ratios.get(knob.path)
        end = after.compared.get(knob.quantity)
        if start is None or end is None:
            continue
        gap_before = abs(math.log(start))  # log(data / simulated) at the first replay
        gap_after = abs(math.log(end.data.estimate / end.simulated.mean))
        print(
            f"{knob.quantity}: |log(data/sim)| {gap_before:.3f} -> {gap_after:.3f}, "
            f"{'inside' if end.inside else 'outside'} the band"
        )
        # closer, or inside the band already (a rate on a handful of deals moves with the noise)
        closer += gap_after <= gap_before + 0.02 or end.inside
    assert tuned
    assert closer >= len(tuned) - 1  # one may sit at the noise
    # the refined numbers are written as sourced numbers, and the scenario takes them
    refined = calibrate(export, base, name="refined", fits=fits, refined=found.numbers)
    for path, number in found.numbers.items():
        assert "calibrated by simulation" in str(number["source"]), path
        assert f"{path.rsplit('.', 1)[-1]}:" in refined.text
