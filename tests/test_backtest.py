"""The back-test: a scenario replayed over a CRM export's period, compared with the export.

The bundled example export (examples/crm/hubspot) was written from one run of
examples/crm/true-scenario.yaml, from its hour 0: back-tested against that same scenario,
replayed from empty (``--warmup 0d``, as its history began), the data is one more run of the
model, so nearly every quantity must land inside the simulation's band (each has a 95%
prediction band: about 1 in 20 outside by chance). A scenario with twice the search leads and
half the win rates must be caught: its volumes and win rates land outside. Each test prints
every quantity with the data's interval and the simulation's band.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from funnelsim.backtesting import Backtest, backtest
from funnelsim.cli import app
from funnelsim.crm.read import read_export
from funnelsim.reporting import BACKTEST_FILES
from funnelsim.scenario.load import load_scenario
from helpers import ROOT

EXAMPLE = ROOT / "examples" / "crm" / "hubspot"
TRUE = ROOT / "examples" / "crm" / "true-scenario.yaml"
REPLICATIONS = 5  # a year of data each: the prediction band allows for so few
EXPORT_ARGS = [
    str(EXAMPLE / "contacts.csv"),
    "--deals",
    str(EXAMPLE / "deals.csv"),
    "--format",
    str(EXAMPLE / "mapping.yaml"),
]
# twice the search leads, half the win rates
WRONG = [
    "sources.search.response.leads_at_saturation=720",
    "segments.smb.win_rate=0.19",
    "segments.mid.win_rate=0.2",
    "segments.ent.win_rate=0.18",
]
MAIN_VOLUMES = ("weekly.leads", "weekly.mqls", "weekly.sqls", "weekly.opportunities")


def g(x: float | None) -> str:
    return "inf" if x is None else f"{x:.4g}"  # JSON's null: an interval without an end


def show(found: dict[str, Any]) -> None:
    for name, c in found.items():
        data, sim = c["data"], c["simulated"]
        print(
            f"{name:46s} data {g(data['estimate']):>9} [{g(data['ci_low'])}, "
            f"{g(data['ci_high'])}]  simulated {g(sim['mean']):>9} band [{g(sim['low'])}, "
            f"{g(sim['high'])}]  {'inside' if c['inside'] else 'OUTSIDE'}"
        )


@pytest.fixture(scope="module")
def true_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The true scenario back-tested through the command line."""
    out = tmp_path_factory.mktemp("backtest") / "true"
    args = ["backtest", str(TRUE), *EXPORT_ARGS, "--out", str(out)]
    args += ["-n", str(REPLICATIONS), "--warmup", "0d", "--workers", "1"]
    result = CliRunner().invoke(app, args)
    print(result.output)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_true_scenario_reproduces_its_own_export(true_run: tuple[Path, str]) -> None:
    out, _ = true_run
    found = json.loads((out / "backtest.json").read_text())
    show(found["compared"])
    inside = sum(c["inside"] for c in found["compared"].values())
    total = len(found["compared"])
    print(f"{inside} of {total} inside")
    assert total >= 30, "the back-test compares the volumes, rates, times and decay"
    assert inside >= 0.8 * total
    for name in MAIN_VOLUMES:
        assert found["compared"][name]["inside"], name


def test_a_wrong_scenario_is_flagged() -> None:
    export = read_export(
        EXAMPLE / "contacts.csv",
        EXAMPLE / "deals.csv",
        None,
        EXAMPLE / "mapping.yaml",
        timezone=None,
        strict=False,
    )
    wrong = load_scenario(TRUE, WRONG)
    found: Backtest = backtest(wrong, export, replications=REPLICATIONS, warmup="0d")
    show(found.as_json()["compared"])
    print(found.summary_line())
    for name in ("weekly.leads", "arrivals_per_week.search", "rate_opportunity_to_won"):
        assert not found.compared[name].inside, f"{name} should be outside"
    assert found.compared["arrivals_per_week.outbound"].inside  # untouched: still reproduced


def test_the_files_and_the_summary(true_run: tuple[Path, str]) -> None:
    out, output = true_run
    for name in BACKTEST_FILES:
        assert (out / name).stat().st_size > 0, name
    found = json.loads((out / "backtest.json").read_text())
    assert found["replications"] == REPLICATIONS
    start, end = found["period"]
    assert (start, end) == ("2026-11-09 00:00", "2028-01-03 00:00")
    for c in found["compared"].values():
        assert set(c) >= {"data", "simulated", "inside"}
        assert set(c["data"]) >= {"estimate", "ci_low", "ci_high"}
        assert set(c["simulated"]) >= {"mean", "p025", "p975"}
        assert c["simulated"]["p025"] <= c["simulated"]["mean"] <= c["simulated"]["p975"]
    assert "quantities inside the simulation's band" in output.strip().splitlines()[-1]
    report = (out / "backtest.md").read_text()
    assert "![Weekly volumes by stage](weekly.png)" in report


def test_a_folder_that_holds_files_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for args in (
        ["backtest", str(TRUE), *EXPORT_ARGS, "--out", str(out), "-n", "2"],
        ["calibrate", *EXPORT_ARGS, "--output", str(tmp_path / "s.yaml"), "--backtest", str(out)],
    ):
        result = CliRunner().invoke(app, args)
        print(result.output)
        assert result.exit_code == 2
        assert "not empty" in result.output
        assert "Traceback" not in result.output
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
        assert not (tmp_path / "s.yaml").exists()


def test_a_back_test_joins_the_budget_review(true_run: tuple[Path, str]) -> None:
    """``report --with`` a back-test folder: its verdict in words, every compared quantity in
    a table, and its charts embedded."""
    from funnelsim.review import section

    out, _ = true_run
    found = json.loads((out / "backtest.json").read_text())
    brought = section(out)
    print(brought.paragraphs)
    assert brought.title == "Back-test against the CRM export"
    assert (
        f"{found['inside']} of {found['compared_count']} quantities inside"
        in (brought.paragraphs[0])
    )
    assert len(brought.tables[0].rows) == found["compared_count"]
    verdicts = [row[-1] for row in brought.tables[0].rows]
    assert verdicts.count("inside") == found["inside"]
    assert len(brought.charts) == 4
    assert all(c.image.startswith("data:image/png;base64,") for c in brought.charts)
