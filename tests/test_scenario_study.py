"""Studies (``funnelsim.scenario.study``): a baseline, variants and sweeps, checked before anything
runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from funnelsim.cli import app
from funnelsim.economics import planned_cost_monthly
from funnelsim.experiment import run_study
from funnelsim.scenario.load import ScenarioError
from funnelsim.scenario.study import load_study
from helpers import SCENARIOS

BASELINE = SCENARIOS / "validation" / "erlang-c.yaml"


def write_study(folder: Path, body: str) -> Path:
    path = folder / "study.yaml"
    path.write_text(f"name: Staffing\nbaseline: {BASELINE}\nreplications: 2\n{body}")
    return path


def run_cli(*args: str) -> object:
    return CliRunner().invoke(app, ["study", *args])


def test_a_grid_sweep_gives_one_row_per_point_with_intervals(tmp_path: Path) -> None:
    study = write_study(
        tmp_path,
        "variants:\n  slow touches: {teams.sdr.first_touch_time.mean: 70m}\n"
        "sweeps:\n  staff:\n    mode: grid\n    values:\n"
        "      teams.sdr.headcount: [10, 11, 12]\n      handoff.first_touch_sla: [15m, 1h]\n",
    )
    result = run_cli(str(study), "--json", "--set", "horizon=5d", "--set", "warmup=1d")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    data = json.loads(result.stdout)  # type: ignore[attr-defined]
    labels = [p["label"] for p in data["points"]]
    assert labels[:2] == ["baseline", "slow touches"]
    assert len(labels) == 2 + 3 * 2  # baseline, variant, 3 x 2 grid
    assert data["replications"] == 2
    for point in data["points"][1:]:
        sla = point["metrics"]["sla_first_touch_attainment"]
        assert sla["ci_low"] <= sla["mean"] <= sla["ci_high"]
        assert set(point["difference"]) == set(point["metrics"])
    assert data["points"][0]["difference"] is None
    grid = {tuple(p["overrides"].values()) for p in data["points"][2:]}
    assert grid == {(c, sla) for c in (10, 11, 12) for sla in ("15m", "1h")}


def test_unknown_override_key_fails_before_anything_runs(tmp_path: Path) -> None:
    study = write_study(tmp_path, "variants:\n  more:\n    teams.sdr.headcont: 12\n")
    result = run_cli(str(study))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert lines == [
        f"{study}:6:25: teams.sdr.headcont: unknown key 'headcont' (did you mean 'headcount'?)"
        "; allowed: headcount, annual_cost, hiring, ramp, availability, first_touch_time, "
        "attempts, qualification, priority"
    ]


def test_a_bad_swept_value_is_located_in_the_study(tmp_path: Path) -> None:
    study = write_study(
        tmp_path, "sweeps:\n  staff:\n    values:\n      teams.sdr.headcount: [10, 0]\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_study(study)
    [problem] = caught.value.problems
    assert str(problem).startswith(f"{study}:7:7: teams.sdr.headcount: input should be greater")


def test_zip_sweeps_need_lists_of_one_length(tmp_path: Path) -> None:
    study = write_study(
        tmp_path,
        "sweeps:\n  staff:\n    mode: zip\n    values:\n"
        "      teams.sdr.headcount: [10, 11]\n      handoff.first_touch_sla: [15m]\n",
    )
    result = run_cli(str(study))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "zip mode needs lists of one length" in result.stderr  # type: ignore[attr-defined]
    assert f"{study}:5:3: sweeps.staff:" in result.stderr  # type: ignore[attr-defined]


def test_an_unknown_metric_is_located_in_the_study(tmp_path: Path) -> None:
    study = write_study(tmp_path, "metrics: [sqls, sla_first_touch_attainmnt]\n")
    result = run_cli(str(study))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert result.stdout == ""  # type: ignore[attr-defined]
    assert result.stderr.splitlines() == [  # type: ignore[attr-defined]
        f"{study}:4:1: metrics: unknown metric(s) 'sla_first_touch_attainmnt' "
        "(did you mean 'sla_first_touch_attainment'?)"
    ]


def test_bundled_study_keeps_the_budget_and_runs_from_python() -> None:
    study = SCENARIOS / "studies" / "inbound-vs-outbound.yaml"
    _, year = load_study(study)  # the plan's year, as its cost is planned
    assert [p.label for p in year][:2] == ["baseline", "split: list 100"]
    assert len(year) == 7
    plan = planned_cost_monthly(year[0].scenario)
    for point in year:
        cost = planned_cost_monthly(point.scenario)
        print(f"{point.label}: planned cost {cost:,.0f} a month")
        assert cost == pytest.approx(plan, abs=1), point.label
    spec, points = load_study(study, ["horizon=4w"])
    result = run_study(spec, points[:3], 4, seed=1)
    assert [r.scenario.name for r in result.per_scenario] == [p.scenario.name for p in points[:3]]
    assert result.replications == 4
    assert result.seed == 1
    differences = result.comparison().differences()
    assert set(differences) == {points[1].scenario.name, points[2].scenario.name}
    # the split moves spend from search to outbound: the outbound leads change for sure
    moved = differences[points[1].scenario.name]["leads_outbound"]
    print(f"leads_outbound, {points[1].label} - baseline: {moved}")
    assert moved.ci_low > 0 or moved.ci_high < 0
