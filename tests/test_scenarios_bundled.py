"""The bundled scenarios and studies (``scenarios/``): valid, as the command line and the JSON
schema read them, and differing in the directions the domain expects.

The directions come from reasons the model produces: nothing below is written into the
scenarios as a number to come out again.

* Inbound costs less per lead than outbound (outbound pays for SDR prospecting time).
* Outbound needs more SDR time per SQL (many touches per conversation).
* Inbound is more sensitive to SDR capacity: leads queue and decay when SDRs are short.
* A weekly batch handoff trades conversion for a predictable workload.

Paired comparisons share random numbers (same seed and replications); intervals are 99.9%. The
seeds are fixed in CI and rotate with FUNNELSIM_TEST_SEED (tests/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from funnelsim import economics, metrics
from funnelsim.analysis import Summary, summarise
from funnelsim.cli import app
from funnelsim.goals import parse_goal
from funnelsim.metrics import METRICS
from funnelsim.model.run import simulate
from funnelsim.scenario.load import load_scenario
from funnelsim.scenario.optimization import load_optimization
from funnelsim.scenario.study import load_study
from helpers import ROOT, SCENARIOS

BUNDLED = sorted(p for p in SCENARIOS.rglob("*.yaml") if "studies" not in p.parts)
STUDIES = sorted((SCENARIOS / "studies").glob("*.yaml"))
SHORT = ["horizon=26w"]
N = 10


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def bundled_id(path: Path) -> str:
    return str(path.relative_to(SCENARIOS))


# -- valid -------------------------------------------------------------------------------------
def test_the_bundled_files_are_found() -> None:
    """The globs behind the checks below find the plans and the study (an empty list would
    check nothing)."""
    found = {bundled_id(p) for p in BUNDLED}
    assert {"baseline.yaml", "inbound-heavy.yaml", "outbound-heavy.yaml", "monday-batch.yaml",
            "validation/erlang-c.yaml", "validation/erlang-a.yaml"} <= found, found  # fmt: skip
    assert "studies/inbound-vs-outbound.yaml" in {bundled_id(p) for p in STUDIES}


@pytest.mark.parametrize("file", BUNDLED, ids=bundled_id)
def test_validate_prints_ok_for_bundled_files(file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    relative = file.relative_to(ROOT)
    result = invoke("validate", str(relative))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert result.stderr == "", result.stderr  # no warning either: the plans are not overloaded
    name = yaml.safe_load(file.read_text())["name"]
    stdout = " ".join(result.stdout.split())  # the console may wrap long lines
    assert f"{relative}: ok: '{name}'" in stdout, result.stdout


@pytest.mark.parametrize("file", BUNDLED, ids=bundled_id)
def test_bundled_files_validate_against_the_schema(file: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    # an editor's YAML server reads dates as strings; PyYAML makes them date objects
    data = json.loads(json.dumps(yaml.safe_load(file.read_text()), default=str))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors
    # and the schema is strict enough to refuse what the loader refuses
    assert not validator.is_valid({**data, "horizn": "10d"})
    assert not validator.is_valid({**data, "horizon": 10})


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_bundled_studies_load(path: Path) -> None:
    if "variables" in yaml.safe_load(path.read_text()):  # an optimisation file
        spec, baseline = load_optimization(path, metrics=list(METRICS), parse_goal=parse_goal)
        assert spec.variables
        if spec.budget is not None:  # the budget is the baseline's cost: it is a split of it
            cost = economics.planned_cost_monthly(baseline)
            print(f"budget {spec.budget.planned_cost_monthly:,.2f}, baseline's cost {cost:,.2f}")
            assert abs(spec.budget.planned_cost_monthly - cost) <= 1.0
        return
    _, points = load_study(path)
    assert len(points) > 1


# -- the directions of the plans ---------------------------------------------------------------
def runs(file: str, seed: int, *overrides: str) -> list[dict[str, float]]:
    scenario = load_scenario(SCENARIOS / file, [*SHORT, *overrides])
    return [metrics.compute(simulate(scenario, seed, r), scenario) for r in range(N)]


def paired(label: str, values: list[float]) -> tuple[Summary, str]:
    """The 99.9% interval of paired values, and a line that reads it (printed)."""
    s = summarise(values, level=0.999)
    text = f"{label}: {s.mean:.4g} [{s.ci_low:.4g}, {s.ci_high:.4g}] (99.9% CI, n={s.n})"
    print(text)
    return s, text


@pytest.mark.slow
@pytest.mark.seed(11)
def test_outbound_costs_more_sdr_time_per_sql(seed: int) -> None:
    """Every outbound attempt costs rep time: an outbound SQL takes more SDR hours than an
    inbound one, which came to sales on its own."""
    base = runs("baseline.yaml", seed)
    hours, text = paired(
        "SDR hours per SQL, outbound - inbound",
        [m["sdr_hours_per_sql_outbound"] - m["sdr_hours_per_sql_inbound"] for m in base],
    )
    assert hours.ci_low > 0, text
    paired(  # printed, not asserted: see docs/model.md, "Costs"
        "cost per lead, outbound - inbound ($)",
        [m["cost_per_lead_outbound"] - m["cost_per_lead_inbound"] for m in base],
    )


@pytest.mark.slow
@pytest.mark.seed(11)
def test_one_sdr_fewer_makes_inbound_leads_wait_decay_and_convert_less(seed: int) -> None:
    """Reps are a limited resource and a lead's odds fall while it waits: take one SDR from the
    baseline and its inbound leads reach their first touch with less of their odds left, and
    fewer become SQLs (paired, the same leads in both; the team's random days off and
    departures are left out, so that the difference is the headcount's). The mean wait is
    mostly nights and weekends and the 4-business-hour SLA still holds: both printed."""
    own = load_scenario(SCENARIOS / "baseline.yaml").teams.sdr.headcount
    steady = "teams.sdr.availability=null"
    full = runs("baseline.yaml", seed, steady)
    fewer = runs("baseline.yaml", seed, steady, f"teams.sdr.headcount={own - 1}")
    for metric in ("first_touch_wait_mean_h", "sla_first_touch_attainment"):
        paired(
            f"{metric}, {own - 1} SDRs - {own}",
            [a[metric] - b[metric] for a, b in zip(fewer, full, strict=True)],
        )
    for metric in ("decay_at_first_touch_mean", "sqls_inbound"):
        moved, text = paired(
            f"{metric}, {own - 1} SDRs - {own}",
            [a[metric] - b[metric] for a, b in zip(fewer, full, strict=True)],
        )
        assert moved.ci_high < 0, text


@pytest.mark.slow
@pytest.mark.seed(11)
def test_monday_batch_trades_conversion_for_a_schedule(seed: int) -> None:
    continuous, batch = runs("baseline.yaml", seed), runs("monday-batch.yaml", seed)
    conversion, text = paired(
        "MQL -> SQL, continuous - batch",
        [
            c["rate_mql_to_sql"] - b["rate_mql_to_sql"]
            for c, b in zip(continuous, batch, strict=True)
        ],
    )
    assert conversion.ci_low > 0, text
    on_time, text = paired(
        "batch qualified by Wednesday", [b["sla_batch_qualified_by_deadline"] for b in batch]
    )
    assert on_time.ci_high < 1, text
