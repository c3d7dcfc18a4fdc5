"""``funnelsim report`` (``funnelsim.reporting``): a results folder as Markdown and charts
showing the folder's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from funnelsim import reporting as report
from funnelsim.cli import app
from funnelsim.formatting import cell
from helpers import SCENARIOS

SHORT = ["--set", "horizon=4w", "--set", "warmup=1w", "-n", "3", "-w", "1"]
PLANS = [str(SCENARIOS / f) for f in ("inbound-heavy.yaml", "outbound-heavy.yaml")]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "ab"
    invoke("compare", *PLANS, *SHORT, "--out", str(folder))
    invoke("report", str(folder))
    return folder


def test_the_report_shows_the_folders_numbers(compared: Path) -> None:
    text = (compared / "report" / "report.md").read_text()
    print(text)
    summary = pd.read_csv(compared / "summary.csv").set_index(["scenario", "metric"])
    cells = [
        cell(report.summary_of(summary.loc[(plan, "sqls")]), "leads")
        for plan in ("Inbound-heavy", "Outbound-heavy")
    ]
    print(cells)
    assert f"| sqls | leads | {cells[0]} | {cells[1]} |" in text
    differences = pd.read_csv(compared / "differences.csv").set_index(["scenario", "metric"])
    diff = differences.loc[("Outbound-heavy", "sqls")]
    moved = cell(report.summary_of(diff), "leads", signed=True)
    print(moved, diff["excludes_zero"])
    assert moved[0] in "+-", moved  # a difference always shows its sign
    assert f"| sqls | leads | {f'**{moved}**' if diff['excludes_zero'] else moved} |" in text
    # where the plans' numbers come from, counted from the resolved scenarios in the folder
    assert "## Where the numbers come from" in text
    assert re.search(r"\| Inbound-heavy \| 1\d\d \| \d+ \| \d+ \| \d+ \| \d+ \| 1\d\d \|", text)
    for chart in ("weekly-sqls.png", "weekly-sdr-utilization.png", "differences-1.png"):
        path = compared / "report" / chart
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", chart
        assert f"]({chart})" in text


def test_a_study_report_charts_every_point(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    study = str(SCENARIOS / "studies" / "inbound-vs-outbound.yaml")
    invoke("study", study, *SHORT, "--out", str(folder))
    invoke("report", str(folder))
    text = (folder / "report" / "report.md").read_text()
    assert text.startswith("# Study: ")
    chart = folder / "report" / "points-cac-ratio.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", chart
    assert "](points-cac-ratio.png)" in text
    assert not (folder / "report" / "weekly-sqls.png").exists()  # seven bands would tangle


def test_report_refuses_a_folder_without_results(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a funnelsim results folder" in result.stderr
