"""Cross-section rules of a scenario (``funnelsim.scenario.schema``): a hiring plan must fit the
run and the team. Reported where the plan says it, exit 2, never a traceback at run time."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from funnelsim.cli import app
from helpers import SCENARIOS

BASELINE = str(SCENARIOS / "baseline.yaml")  # the SDR team starts with 3, the run in Oct 2026


@pytest.mark.parametrize(
    ("plan", "where", "message"),
    [
        (
            '[{at: "2027-06-01", change: -10}]',
            "teams.sdr.hiring.0.change",
            "10 leave on 2027-06-01 00:00:00 but only 3 are on the team",
        ),
        (
            '[{at: "2027-03-01", change: -2}, {at: "2027-02-01", change: -2}]',
            "teams.sdr.hiring.0.change",  # in date order: 3 - 2, then 2 more leave
            "2 leave on 2027-03-01 00:00:00 but only 1 are on the team",
        ),
        (
            '[{at: "2026-01-12", change: 1}]',
            "teams.sdr.hiring.0.at",
            "2026-01-12 00:00:00 is before the run starts",
        ),
    ],
)
def test_a_hiring_plan_that_cannot_happen_is_refused(plan: str, where: str, message: str) -> None:
    result = CliRunner().invoke(app, ["run", BASELINE, "--set", f"teams.sdr.hiring={plan}"])
    assert result.exit_code == 2, result.output
    assert f"{where}: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_a_hiring_plan_that_fits_is_accepted() -> None:
    plan = '[{at: "2027-02-01", change: -3}, {at: "2027-03-01", change: 2}]'
    result = CliRunner().invoke(app, ["validate", BASELINE, "--set", f"teams.sdr.hiring={plan}"])
    assert result.exit_code == 0, result.output
    assert ": ok: " in result.stdout
