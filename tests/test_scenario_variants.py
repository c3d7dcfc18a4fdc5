"""Variants (``funnelsim.scenario.load``): ``--variant "LABEL: KEY=VALUE; KEY=VALUE"`` is the
first file with a few values changed, named LABEL, so a plan is compared with a change of itself
without copying the file.

Parsing is exact (the label ends at the first ``': '``, overrides are separated by ``'; '``);
every malformed variant is refused with exit 2, a message naming the option as typed and what
is wrong with it, and nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from funnelsim.cli import app
from funnelsim.scenario.load import (
    ScenarioError,
    Variant,
    load_scenario,
    load_scenarios,
    parse_variant,
)
from helpers import SCENARIOS

ERLANG_C = SCENARIOS / "validation" / "erlang-c.yaml"
SHORT = ["horizon=5d", "warmup=1d"]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


# -- parsing -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "label", "overrides"),
    [
        ("8 SDRs: teams.sdr.headcount=8", "8 SDRs", ("teams.sdr.headcount=8",)),
        (
            "Bigger list: sources.outbound.contacts_per_month=600; teams.sdr.headcount=6",
            "Bigger list",
            ("sources.outbound.contacts_per_month=600", "teams.sdr.headcount=6"),
        ),
        # the label ends at the first ': ': a value may hold ':' (times) and ': ' (YAML)
        ("Late: calendar.hours=[09:00-18:00]", "Late", ("calendar.hours=[09:00-18:00]",)),
        ("A: b: c=1", "A", ("b: c=1",)),
        ("  padded  :  x=1 ;  y=2 ", "padded", ("x=1", "y=2")),  # spaces around parts go
        ("Joined: x=1;y=2", "Joined", ("x=1;y=2",)),  # '; ' separates, a bare ';' does not
    ],
)
def test_a_variant_is_a_label_and_its_overrides(
    text: str, label: str, overrides: tuple[str, ...]
) -> None:
    assert parse_variant(text) == Variant(label, overrides, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8 SDRs teams.sdr.headcount=8", "no label (the label ends at the first ': ')"),
        ("8 SDRs:teams.sdr.headcount=8", "no label (the label ends at the first ': ')"),
        (": teams.sdr.headcount=8", "missing label before ': '"),
        ("8 SDRs: ", "no override after the label"),
        ("8 SDRs: teams.sdr.headcount=8; ", "empty override between '; ' separators"),
        ("8 SDRs: a=1; ; b=2", "empty override between '; ' separators"),
        ("8 SDRs: teams.sdr.headcount", "expected dotted.key=value"),
        ("8 SDRs: =8", "expected dotted.key=value"),
    ],
)
def test_a_malformed_variant_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_variant(text)
    [problem] = caught.value.problems
    print(problem)
    assert str(problem).startswith(f'--variant "{text}": ')
    assert str(problem).endswith(message)


# -- building ----------------------------------------------------------------------------------
def test_a_variant_is_the_first_file_with_its_overrides_and_its_label() -> None:
    base, variant = load_scenarios([ERLANG_C], SHORT, ["11 SDRs: teams.sdr.headcount=11"])
    expected = load_scenario(ERLANG_C, [*SHORT, "teams.sdr.headcount=11"])
    assert base == load_scenario(ERLANG_C, SHORT)
    assert base.teams.sdr.headcount == 10
    assert variant.name == "11 SDRs"
    assert variant.teams.sdr.headcount == 11
    assert variant.horizon == base.horizon  # --set applies to variants too
    assert variant == expected.model_copy(update={"name": "11 SDRs"})


def test_a_variant_overrides_set_where_both_name_a_key() -> None:
    [_, variant] = load_scenarios(
        [ERLANG_C], [*SHORT, "teams.sdr.headcount=13"], ["Eleven: teams.sdr.headcount=11"]
    )
    assert variant.teams.sdr.headcount == 11


def test_every_problem_of_every_variant_is_reported_at_once() -> None:
    variants = [
        "Fine: teams.sdr.headcount=11",
        "Typo: teams.sdr.headcont=11",
        "Zero: teams.sdr.headcount=0",
        "no label",
    ]
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([ERLANG_C], SHORT, variants)
    lines = caught.value.lines()
    print("\n".join(lines))
    assert lines == [
        '--variant "no label": expected '
        "'LABEL: KEY=VALUE; KEY=VALUE': no label (the label ends at the first ': ')",
        '--variant "Typo: teams.sdr.headcont=11": teams.sdr.headcont: unknown key '
        "'headcont' (did you mean 'headcount'?); allowed: headcount, annual_cost, hiring, ramp, "
        "availability, first_touch_time, attempts, qualification, priority",
        '--variant "Zero: teams.sdr.headcount=0": teams.sdr.headcount: input should be '
        "greater than 0",
    ]


# -- the command line --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("8 SDRs teams.sdr.headcount=8", "no label"),
        (": teams.sdr.headcount=8", "missing label"),
        ("8 SDRs: ", "no override"),
        ("8 SDRs: teams.sdr.headcount=8; ", "empty override"),
        (
            "8 SDRs: teams.sdr.headcont=8",
            "teams.sdr.headcont: unknown key 'headcont' (did you mean 'headcount'?)",
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "compare"])
def test_the_cli_refuses_a_bad_variant_and_writes_nothing(
    command: str, variant: str, message: str, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    result = invoke(command, ERLANG_C, "--variant", variant, "-n", "2", "--out", out)
    print(result.stderr)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f'--variant "{variant}": ')
    assert message in line
    assert not out.exists()


def test_run_shows_a_file_and_its_variant_side_by_side() -> None:
    result = invoke(
        "run", ERLANG_C, "--set", "horizon=5d", "--set", "warmup=1d", "-n", "2", "-w", "1",
        "--json", "--variant", "11 SDRs: teams.sdr.headcount=11",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    scenarios = data["scenarios"]
    assert [s["scenario"] for s in scenarios] == ["Erlang C check", "11 SDRs"]
    assert scenarios[0]["seed"] == scenarios[1]["seed"] == 1  # one seed: the file's
    leads = [s["metrics"]["leads"]["mean"] for s in scenarios]
    waits = [s["metrics"]["first_touch_wait_mean_h"]["mean"] for s in scenarios]
    print(f"leads {leads}, mean waits {waits}")
    assert leads[0] == leads[1]  # the same arrivals (common random numbers)
    assert waits[1] < waits[0]  # one SDR more at 90% load: shorter waits
