"""The README documents every command, and the bundled files stay valid."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command

from funnelsim.cli import app
from funnelsim.scenario.load import load_scenario
from funnelsim.scenario.study import load_study
from helpers import ROOT, SCENARIOS

README = (ROOT / "README.md").read_text()
COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_commands_discovered() -> None:
    assert {"validate", "run", "schema"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_in_readme(command: str) -> None:
    assert re.search(rf"^### `funnelsim {command}\b", README, re.MULTILINE), command
    assert f"funnelsim {command} " in README or f"funnelsim {command}\n" in README


def test_readme_gives_the_two_setup_commands() -> None:
    assert "make demo" in README
    assert "make test" in README


@pytest.mark.parametrize(
    "path",
    sorted(p for p in SCENARIOS.rglob("*.yaml") if "studies" not in p.parts),
    ids=lambda p: str(p.relative_to(SCENARIOS)),
)
def test_bundled_scenarios_validate(path: object) -> None:
    assert load_scenario(path).name  # type: ignore[arg-type]


@pytest.mark.parametrize("path", sorted((SCENARIOS / "studies").glob("*.yaml")), ids=str)
def test_bundled_studies_load(path: object) -> None:
    _, points = load_study(path)  # type: ignore[arg-type]
    assert len(points) > 1
