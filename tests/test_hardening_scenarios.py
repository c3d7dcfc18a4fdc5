"""Hostile and careless scenario files: every bad input is a located one-line message
(``FILE:LINE:COL: dotted.path: what is wrong``), exit 2, nothing written; never a traceback, a
hang or an explosion later in the run.

Each test below failed before its fix (alias bombs, recursive aliases, deep nesting, a calendar
of the wrong shape, a NUL byte, problems hidden behind the first one, booleans read as numbers,
values that validate and then overflow, rich markup in names, duplicate study labels). The fuzz
test at the end mutates the bundled baseline at random and holds the same line.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnelsim.cli import app
from helpers import BASE, SCENARIOS, assert_refused, location

FILE = "scenario.yaml"
LINE = re.compile(r"^[^\s:]+:\d+:\d+: \S.*$")  # FILE:LINE:COL: ...


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def write(text: str, name: str = FILE) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def located(result: Result) -> list[str]:
    """Refused, and every line is ``FILE:LINE:COL: ...`` on one line."""
    lines = assert_refused(result)
    for line in lines:
        assert LINE.match(line), line
    return lines


# -- 1. aliases and nesting --------------------------------------------------------------------
def alias_bomb(levels: int = 9, width: int = 9) -> str:
    names = "abcdefghijklmnopqrstuvwxyz"[: levels + 1]
    lines = [f"a: &a [{', '.join(['x'] * width)}]"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_an_alias_quickly(in_tmp: Path) -> None:
    text = alias_bomb()
    assert len(text) < 700
    began = time.perf_counter()
    lines = located(invoke("validate", write(text)))
    assert time.perf_counter() - began < 5
    assert len(lines) == 1
    assert "aliases expand to more than" in lines[0]
    line = int(lines[0].split(":")[1])
    assert text.splitlines()[line - 1].count("*") > 0  # at an alias, not at 1:1


def test_recursive_alias_is_refused_at_the_alias(in_tmp: Path) -> None:
    text = BASE.replace("name: Base", "name: Base\ndescription: &a [*a]")
    (line,) = located(invoke("validate", write(text)))
    assert line.startswith(f"{FILE}:{location(text, '[^*a]')}: ")
    assert "inside its own anchor" in line


def test_deep_nesting_is_refused(in_tmp: Path) -> None:
    text = BASE.replace("name: Base", "name: Base\ndescription: " + "[" * 500 + "]" * 500)
    (line,) = located(invoke("validate", write(text)))
    assert "nested more than 64 levels deep" in line


def test_aliases_in_a_set_value_are_bounded_too(in_tmp: Path) -> None:
    bomb = "{" + ", ".join(alias_bomb().splitlines()) + "}"
    result = invoke(
        "validate", write(BASE), "--set", f"description={bomb}", "--set", "seed=&a [*a]"
    )
    lines = assert_refused(result)
    assert len(lines) == 2
    assert lines[0].endswith(
        "description: aliases expand to more than 10,000 values: write them out"
    )
    assert lines[1] == "--set seed=&a [*a]: seed: alias *a is inside its own anchor &a"


def test_ordinary_aliases_still_work(in_tmp: Path) -> None:
    text = BASE.replace("warmup: 1d", "warmup: &day 1d").replace(
        "first_touch_sla: 30m", "first_touch_sla: *day"
    )
    assert invoke("validate", write(text)).exit_code == 0


# -- 2. a calendar of the wrong shape ----------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "where"), [("5", "5:11"), ("[]", "5:1"), (".inf", "5:11"), ("true", "5:11")]
)
def test_calendar_of_the_wrong_shape_says_what_is_expected(
    in_tmp: Path, value: str, where: str
) -> None:
    text = BASE.replace("calendar: always", f"calendar: {value}")
    (line,) = located(invoke("validate", write(text)))
    assert line.startswith(f"{FILE}:{where}: calendar: ")  # a list is located at its key
    assert "expected 'always' or a mapping of workdays, hours and holidays" in line


def test_calendar_set_on_the_command_line(in_tmp: Path) -> None:
    lines = assert_refused(invoke("validate", write(BASE), "--set", "calendar=7"))
    assert lines == [
        "--set calendar=7: calendar: got 7; expected 'always' or a mapping of workdays, hours "
        "and holidays"
    ]


# -- 3. a NUL character ------------------------------------------------------------------------
def test_nul_character_is_located_on_one_line(in_tmp: Path) -> None:
    text = BASE.replace("seed: 1", "seed: 1\x00")
    (line,) = located(invoke("validate", write(text)))
    assert line.startswith(f"{FILE}:4:8: ")
    assert "not allowed" in line


# -- 4. every problem, not the first -----------------------------------------------------------
def test_every_problem_is_reported(in_tmp: Path) -> None:
    text = (
        BASE.replace("horizon: 10d", "horizn: 10d\ncolour: red")
        .replace("headcount: 10", "headcount: 0\n    hedcount: 3\n    colour: 2")
        .replace("value: 0.5", "value: 1.5")
    )
    lines = located(invoke("validate", write(text)))
    expected = {
        f"{FILE}:{location(text, '^horizn')}: horizn: unknown key 'horizn' (did you mean "
        "'horizon'?)",
        f"{FILE}:{location(text, '^colour: red')}: colour: unknown key 'colour'",
        f"{FILE}:{location(text, '^hedcount')}: teams.sdr.hedcount: unknown key 'hedcount'",
        f"{FILE}:{location(text, '^colour: 2')}: teams.sdr.colour: unknown key 'colour'",
        f"{FILE}:{location(text, 'headcount: ^0')}: teams.sdr.headcount: input should be greater",
        f"{FILE}:{location(text, 'value: ^1.5')}: sources.web.score.value: input should be less",
    }
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert not any("horizon: required" in line for line in lines), lines  # said as a typo
    assert len(lines) == len(expected), lines


def test_every_bad_override_is_reported(in_tmp: Path) -> None:
    result = invoke("validate", write(BASE), "--set", "name=[a", "--set", "=3", "--set", "a..b=1")
    lines = assert_refused(result)
    assert [line.split(": ")[0] for line in lines] == ["--set name=[a", "--set =3", "--set a..b=1"]
    assert all("\n" not in line for line in lines)


# -- 5. booleans are not numbers ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "anchor", "path"),
    [
        ("headcount: 10", "headcount: true", "headcount: ^true", "teams.sdr.headcount"),
        ("value: 0.5", "value: false", "value: ^false", "sources.web.score.value"),
        ("[1h, 0.5]", "[1h, true]", "[1h, ^true]", "handoff.decay.points.1.1"),
    ],
)
def test_booleans_are_not_numbers(in_tmp: Path, old: str, new: str, anchor: str, path: str) -> None:
    text = BASE.replace(old, new)
    (line,) = located(invoke("validate", write(text)))
    assert line.startswith(f"{FILE}:{location(text, anchor)}: {path}: expected a number, got ")


def test_set_with_a_number_for_a_key_blames_the_option(in_tmp: Path) -> None:
    (line,) = assert_refused(invoke("validate", write(BASE), "--set", "0=1"))
    assert line.startswith("--set 0=1: 0: ")


# -- 6. sane bounds ----------------------------------------------------------------------------
BOUNDS = [
    ("start=9999-12-31", "start", "dates run from 1970 to 2199"),
    ("start=1900-01-01", "start", "dates run from 1970 to 2199"),
    ("warmup=1000000w", "warmup", "at most 100 years"),
    ("horizon=1e300h", "horizon", "at most 100 years"),
    ("horizon=15y", "horizon", "unknown duration unit"),
    ("horizon=1100w", "horizon", "horizon and warmup add up to more than 20 years"),
    ("sources.web.arrivals.rate=1e300/h", "sources.web.arrivals.rate", "at most 1,000,000"),
    ("handoff.first_touch_sla=99999999bh", "handoff.first_touch_sla", "at most 100 years"),
    ("teams.sdr.first_touch_time.mean=1e300d", "teams.sdr.first_touch_time.mean", "100 years"),
    ("teams.sdr.headcount=100000000", "teams.sdr.headcount", "at most 10,000,000"),
    ("teams.sdr.annual_cost=1e300", "teams.sdr.annual_cost", "at most 1e12"),
    ("teams.sdr.annual_cost=1e13", "teams.sdr.annual_cost", "at most 1e12"),
    (
        "teams.sdr.first_touch_time={dist: lognormal, mean: 1e-300h, sd: 876000h}",
        "teams.sdr.first_touch_time",
        "a thousand times the mean",
    ),
]


@pytest.mark.parametrize(("override", "path", "phrase"), BOUNDS)
def test_values_past_their_bound_are_refused(
    in_tmp: Path, override: str, path: str, phrase: str
) -> None:
    (line,) = assert_refused(invoke("validate", write(BASE), "--set", override))
    assert line.startswith(f"--set {override}: {path}: "), line
    assert phrase in line, line


def test_bounds_in_a_file(in_tmp: Path) -> None:
    text = BASE.replace(
        "    first_touch_time: {dist: exponential, mean: 1h}",
        "    first_touch_time: {dist: lognormal, mean: 1h, sd: 1e308h}",
    )
    (line,) = located(invoke("validate", write(text)))
    assert line.startswith(f"{FILE}:{location(text, 'sd: ^1e308h')}: ")


def test_bounds_apply_to_the_ends_of_a_range(in_tmp: Path) -> None:
    text = BASE.replace("headcount: 10", "headcount: {value: 10, low: 5, high: 100000000}")
    (line,) = located(invoke("validate", write(text)))
    assert line.startswith(f"{FILE}:{location(text, 'high: ^100000000')}: teams.sdr.headcount: ")
    assert "at most 10,000,000" in line


def test_a_bounded_outbound_list(in_tmp: Path) -> None:
    data = yaml.safe_load((SCENARIOS / "baseline.yaml").read_text())
    assert "contacts_per_month" in data["sources"]["outbound"]
    result = invoke(
        "validate",
        str(SCENARIOS / "baseline.yaml"),
        "--set",
        "sources.outbound.contacts_per_month=1e12",
    )
    (line,) = assert_refused(result)
    assert "sources.outbound.contacts_per_month" in line


# -- 8. user text is printed as written --------------------------------------------------------
@pytest.mark.parametrize("name", ["[/]", "[bold red]loud"])
def test_markup_in_a_name_is_printed_literally(in_tmp: Path, name: str) -> None:
    text = BASE.replace("name: Base", f"name: {json.dumps(name)}")
    write(text)
    checked = invoke("validate", FILE)
    assert checked.exit_code == 0, checked.output
    assert name in checked.stdout
    short = ["--set", "horizon=2d", "--set", "warmup=0d", "-n", "1"]
    as_json = invoke("run", FILE, *short, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["scenario"] == name
    table = invoke("run", FILE, *short)
    assert table.exit_code == 0, table.output
    assert name in table.stdout


# -- 9. study points with one name -------------------------------------------------------------
def test_study_labels_and_point_names_are_unique(in_tmp: Path) -> None:
    write(BASE, "base.yaml")
    study = """\
name: Twice
baseline: base.yaml
replications: 2
sweeps:
  split:
    mode: zip
    labels: [few, many, few]
    values:
      teams.sdr.headcount: [3, 4, 5]
  grid:
    values:
      teams.sdr.headcount: [3, 3]
"""
    write(study, "study.yaml")
    lines = located(invoke("study", "study.yaml", "--replications", "2", "--out", "out"))
    assert lines[0].startswith(f"study.yaml:{location(study, 'many, ^few]')}: ")
    assert "duplicate label 'few'" in lines[0]
    assert lines[1].startswith("study.yaml:10:3: sweeps.grid: ")
    assert not Path("out").exists()


# -- fuzz: the bundled baseline, mutated ---------------------------------------------------------
NASTY: list[Any] = [-1, 0, 1, 1e300, -1e300, True, False, None, "", "x", [], {}, "5/h",
                    "1e9w", "1e300", ".nan", "-3d", "0m", "9999-12-31", [[]], {"a": 1},
                    "[/]", 2**70]  # fmt: skip


def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*path, index))
    return found


def _mutated(data: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete" and isinstance(parent, dict):
        del parent[last]
    elif how == "rename" and isinstance(parent, dict):
        parent[f"{last}x"] = parent.pop(last)
    return data


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pick=st.integers(min_value=0, max_value=10_000),
    how=st.sampled_from(["replace", "replace", "delete", "rename"]),
    value=st.sampled_from(NASTY),
)
def test_fuzzed_baseline_is_refused_cleanly_or_runs(
    in_tmp: Path, pick: int, how: str, value: Any
) -> None:
    data = yaml.safe_load((SCENARIOS / "baseline.yaml").read_text())
    paths = _paths(data)
    path = paths[pick % len(paths)]
    text = yaml.safe_dump(_mutated(data, path, how, value), sort_keys=False)
    write(text)
    checked = invoke("validate", FILE)
    assert "Traceback" not in checked.output
    if checked.exit_code == 2:
        located(checked)
        return
    assert checked.exit_code == 0, (path, how, value, checked.output, checked.exception)
    ran = invoke("run", FILE, "--set", "horizon=2w", "--set", "warmup=0d", "-n", "1")
    assert "Traceback" not in ran.output
    assert ran.exception is None or isinstance(ran.exception, SystemExit), (
        path,
        how,
        value,
        repr(ran.exception),
    )
    if ran.exit_code == 2:
        assert_refused(ran)
    else:
        assert ran.exit_code == 0, (path, how, value, ran.output)
