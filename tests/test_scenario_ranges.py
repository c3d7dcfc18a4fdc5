"""Numbers with a source and a range (``funnelsim.scenario.ranges``) and the scenario format.

Wherever a scenario takes a number it may take ``{value, low, high, shape, source, grade}``: a
plain run uses ``value`` (default: the midpoint of low and high), and the validated Scenario
keeps the ranges (``ranges_of``). Each rule is checked on values (the Python API) and each
refusal through the command line, as a planner meets it: exit 2, nothing on stdout, no
traceback, one line ``WHERE: dotted.path: message`` per problem, located at the ``--set``
option or at the line and column of a small file. A file may say ``format: 2``; older or newer
formats are refused.
"""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner, Result

from funnelsim.cli import app
from funnelsim.model.run import simulate
from funnelsim.scenario.load import SCENARIO_FORMAT, load_scenario, scenario_from_dict
from funnelsim.scenario.ranges import Range, ranges_of
from funnelsim.scenario.schema import Constant, Scenario, Uniform
from funnelsim.scenario.study import load_study
from funnelsim.units import Duration, Rate
from helpers import SCENARIOS, assert_refused, location

BASELINE = Path(__file__).resolve().parent / "data" / "funnel.yaml"  # plain numbers
ERLANG_C = SCENARIOS / "validation" / "erlang-c.yaml"
FILE = "plan.yaml"

# a small file, for problems located at a line and a column (lines on the right)
SMALL = """\
name: Ranges
horizon: 10d
seed: 1
sources:
  web:
    kind: inbound
    arrivals: {rate: {low: 6/h, high: 12/h, source: "web analytics, 2025", grade: B}}
handoff:
  first_touch_sla: 30m
teams:
  sdr:
    headcount:
      value: 10
      low: 8
      high: 12
    first_touch_time: {dist: exponential, mean: 1h}
"""
#  1 name / 2 horizon / 3 seed / 4 sources / 5 web / 6 kind / 7 arrivals / 8 handoff /
#  9 first_touch_sla / 10 teams / 11 sdr / 12 headcount / 13 value / 14 low / 15 high / 16 ftt


def baseline(*overrides: str) -> Scenario:
    return load_scenario(BASELINE, list(overrides))


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


# -- the value a plain run uses ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("file", "override", "get", "expected"),
    [
        pytest.param(BASELINE, "teams.ae.win.collateral={low: 0.25, high: 0.75}",
                     lambda s: s.teams.ae.win.collateral, 0.5, id="number"),
        pytest.param(BASELINE, "handoff.first_touch_sla={low: 2bh, high: 6bh}",
                     lambda s: s.handoff.first_touch_sla, Duration(4, "bh"), id="duration"),
        pytest.param(BASELINE, "warmup={low: 30m, high: 2h}",
                     lambda s: s.warmup, Duration(75, "m"), id="duration-two-units"),
        pytest.param(ERLANG_C, "sources.web.arrivals.rate={low: 6/h, high: 12/h}",
                     lambda s: s.sources["web"].arrivals.rate, Rate(9, "h"), id="rate"),
        pytest.param(ERLANG_C, "sources.web.arrivals.rate={low: 48/d, high: 4/h}",
                     lambda s: s.sources["web"].arrivals.rate, Rate(72, "d"),
                     id="rate-two-units"),
        pytest.param(BASELINE, "sources.search.spend.monthly={low: 20000, high: 40000}",
                     lambda s: s.sources["search"].spend.monthly, 30000.0, id="money"),
        pytest.param(BASELINE, "teams.sdr.headcount={low: 4, high: 6}",
                     lambda s: s.teams.sdr.headcount, 5, id="integer"),
        pytest.param(BASELINE, "teams.sdr.headcount={value: 4, low: 3, high: 8}",
                     lambda s: s.teams.sdr.headcount, 4, id="explicit-value"),
        pytest.param(BASELINE, "teams.sdr.headcount={value: 4}",
                     lambda s: s.teams.sdr.headcount, 4, id="value-alone"),
        pytest.param(BASELINE, "teams.sdr.priority={low: 0.2, high: 0.4}",
                     lambda s: s.teams.sdr.priority, pytest.approx(0.3), id="word-or-number"),
    ],
)  # fmt: skip
def test_the_value_is_the_midpoint_unless_given(
    file: Path, override: str, get: object, expected: object
) -> None:
    got = get(load_scenario(file, [override]))  # type: ignore[operator]
    assert got == expected
    if isinstance(expected, int):
        assert type(got) is int, f"{got!r}: an integer field takes an integer"


def test_ranges_of_gives_each_range_with_its_source_and_grade() -> None:
    scenario = baseline(
        'teams.sdr.headcount={low: 4, high: 6, source: "hiring plan", grade: A}',
        "teams.ae.stages.1.advance={value: 0.6, low: 0.5, high: 0.8, shape: triangular}",
        'handoff.first_touch_sla={value: 4bh, source: "the SLA we signed", grade: assumption}',
    )
    found = ranges_of(scenario)
    assert list(found) == ["handoff.first_touch_sla", "teams.sdr.headcount",
                           "teams.ae.stages.1.advance"]  # fmt: skip
    assert found["teams.sdr.headcount"] == Range(
        value=5,
        low=4,
        high=6,
        shape="uniform",
        source="hiring plan",
        grade="A",
        kind="int",
        written=(("low", 4), ("high", 6), ("source", "hiring plan"), ("grade", "A")),
    )
    advance = found["teams.ae.stages.1.advance"]
    assert (advance.value, advance.low, advance.high, advance.shape) == (0.6, 0.5, 0.8,
                                                                         "triangular")  # fmt: skip
    assert scenario.teams.ae.stages[1].advance == 0.6, "a triangular range's mode is its value"
    sla = found["handoff.first_touch_sla"]
    assert (sla.value, sla.low, sla.high, sla.has_range) == (Duration(4, "bh"), None, None, False)
    assert (sla.source, sla.grade, sla.kind) == ("the SLA we signed", "assumption", "duration")
    assert ranges_of(baseline()) == {}, "data/funnel.yaml writes plain numbers"


def test_ranges_in_a_file_are_found_at_their_paths(in_tmp: Path) -> None:
    """In a file, in a further team (``teams.NAME``), and not mistaken for distributions or
    sections whose keys look alike."""
    (in_tmp / FILE).write_text(SMALL, encoding="utf-8")
    scenario = load_scenario(FILE)
    found = ranges_of(scenario)
    assert list(found) == ["sources.web.arrivals.rate", "teams.sdr.headcount"]
    assert found["sources.web.arrivals.rate"].source == "web analytics, 2025"
    assert scenario.sources["web"].arrivals.rate == Rate(9, "h")
    assert scenario.teams.sdr.headcount == 10
    team = (
        "teams.bdr={role: sdr, routing: {sources: [outbound]}, headcount: {low: 1, high: 3}, "
        "priority: outbound_first}"
    )
    lookalikes = [
        "teams.sdr.first_touch_time={dist: constant, value: 5m}",
        "sources.outbound.sequence.meeting.delay={dist: uniform, low: 1d, high: 7d}",
        "sources.search.fit={dist: uniform, low: 0.2, high: 0.9}",
        "initial={open_mqls: [{source: search, count: 5}]}",
        team,
    ]
    scenario = baseline(*lookalikes)
    assert list(ranges_of(scenario)) == ["teams.bdr.headcount"]
    assert scenario.teams.named["bdr"].headcount == 2
    assert scenario.teams.sdr.first_touch_time == Constant(dist="constant", value=Duration(5, "m"))
    delay = scenario.sources["outbound"].sequence.meeting.delay  # type: ignore[union-attr]
    assert isinstance(delay, Uniform)


def test_a_plain_run_uses_the_value() -> None:
    """A range changes nothing in a plain run: the same leads, at the same times, as the
    number."""
    short = ["horizon=4w", "warmup=1w"]
    ranged = baseline(*short, "teams.sdr.headcount={low: 4, high: 6}",
                      "sources.search.spend.monthly={low: 20000, high: 40000, grade: B}",
                      "handoff.first_touch_sla={low: 2bh, high: 6bh}")  # fmt: skip
    plain = baseline(*short, "teams.sdr.headcount=5", "sources.search.spend.monthly=30000",
                     "handoff.first_touch_sla=4bh")  # fmt: skip
    assert ranged.model_dump() == plain.model_dump()
    assert ranged != plain, "the ranges are part of the scenario"
    a, b = simulate(ranged, seed=1), simulate(plain, seed=1)
    assert len(a.leads.arrival_h) > 100
    for name in ("arrival_h", "source", "segment", "outcome", "fit"):
        assert np.array_equal(getattr(a.leads, name), getattr(b.leads, name)), name


def test_the_ranges_travel_with_the_scenario() -> None:
    """Pickled to a worker process, copied, renamed (a study's points): the ranges stay."""
    scenario = baseline('teams.sdr.headcount={low: 4, high: 6, source: "plan", grade: B}')
    expected = ranges_of(scenario)
    assert ranges_of(pickle.loads(pickle.dumps(scenario))) == expected
    assert pickle.loads(pickle.dumps(scenario)) == scenario
    assert ranges_of(scenario.model_copy(update={"name": "renamed"})) == expected
    with ProcessPoolExecutor(max_workers=1) as pool:
        assert pool.submit(ranges_of, scenario).result() == expected


# -- --set and variants replace a range ----------------------------------------------------------
def test_set_replaces_a_range_with_a_number(in_tmp: Path) -> None:
    (in_tmp / FILE).write_text(SMALL, encoding="utf-8")
    scenario = load_scenario(FILE, ["teams.sdr.headcount=7"])
    assert scenario.teams.sdr.headcount == 7
    assert list(ranges_of(scenario)) == ["sources.web.arrivals.rate"]
    widened = load_scenario(FILE, ["teams.sdr.headcount.high=20"])  # one end of the range
    assert ranges_of(widened)["teams.sdr.headcount"].high == 20
    result = invoke("compare", FILE, "--variant", "Seven: teams.sdr.headcount=7",
                    "--replications", "2", "--set", "horizon=1d", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_study_sets_numbers_over_a_baseline_with_ranges(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(SMALL, encoding="utf-8")
    study = tmp_path / "study.yaml"
    study.write_text(
        "name: Heads\nbaseline: plan.yaml\nvariants:\n  more: {teams.sdr.headcount: 12}\n"
    )
    _, points = load_study(study)
    base, more = points
    assert list(ranges_of(base.scenario)) == ["sources.web.arrivals.rate", "teams.sdr.headcount"]
    assert list(ranges_of(more.scenario)) == ["sources.web.arrivals.rate"]
    assert more.scenario.teams.sdr.headcount == 12


# -- problems, located at the option --------------------------------------------------------------
# (id, override on the baseline, dotted path, message)
SET_CASES = [
    ("midpoint-not-whole", "teams.sdr.headcount={low: 4, high: 7}", "teams.sdr.headcount",
     "the midpoint of low 4 and high 7 is 5.5, not a whole number: give value"),
    ("probability-high-above-1", "teams.ae.stages.0.advance={low: 0.5, high: 1.2}",
     "teams.ae.stages.0.advance", "high: input should be less than or equal to 1"),
    ("probability-low-below-0", "teams.ae.win.collateral={low: -0.1, high: 0.5}",
     "teams.ae.win.collateral", "low: input should be greater than or equal to 0"),
    ("low-above-high", "teams.sdr.headcount={low: 6, high: 4}", "teams.sdr.headcount",
     "low: 6 is above high (4)"),
    ("duration-low-above-high", "horizon={low: 2w, high: 2d}", "horizon",
     "low: 2w is above high (2d)"),
    ("value-outside", "teams.sdr.headcount={value: 7, low: 4, high: 6}", "teams.sdr.headcount",
     "value: 7 is outside the range, 4 to 6"),
    ("value-out-of-bounds", "teams.ae.win.collateral={value: 1.5}", "teams.ae.win.collateral",
     "value: input should be less than or equal to 1"),
    ("calendar-against-business", "handoff.first_touch_sla={low: 2h, high: 2bh}",
     "handoff.first_touch_sla",
     "mixed units: low 2h (calendar time), high 2bh (business time); give value, low and high "
     "on one clock"),
    ("rate-against-duration", "sources.search.arrivals.rate={value: 9/h, low: 2h, high: 4h}",
     "sources.search.arrivals.rate",
     "mixed units: value 9/h (a rate), low 2h (calendar time), high 4h (calendar time); give "
     "value, low and high in one kind of unit"),
    ("bh-against-bd", "handoff.first_touch_sla={low: 1bd, high: 6bh}", "handoff.first_touch_sla",
     "mixed units: business time in both bh and bd"),
    ("duration-without-unit", "horizon={low: 2, high: 4w}", "horizon",
     "low: missing unit in duration 2"),
    ("integer-field-fractional-low", "teams.sdr.headcount={value: 5, low: 4.5, high: 6}",
     "teams.sdr.headcount", "low: must be a whole number, got 4.5"),
    ("integer-field-below-its-bound", "teams.sdr.headcount={value: 2, low: 0, high: 4}",
     "teams.sdr.headcount", "low: input should be greater than 0"),
    ("number-field-with-a-unit", "sources.search.spend.monthly={low: 2h, high: 40000}",
     "sources.search.spend.monthly", "low: expected a number, got '2h'"),
    ("misspelled-key", "teams.sdr.headcount={vlaue: 5, low: 4, high: 6}",
     "teams.sdr.headcount.vlaue",
     "unknown key 'vlaue' (did you mean 'value'?); allowed: value, low, high, shape, source, "
     "grade"),
    ("bad-grade", "teams.sdr.headcount={value: 5, grade: B-}", "teams.sdr.headcount",
     "grade: got 'B-' (did you mean 'B'?); expected one of: A, B, C, assumption"),
    ("bad-shape", "teams.sdr.headcount={low: 4, high: 6, shape: triangle}",
     "teams.sdr.headcount",
     "shape: got 'triangle' (did you mean 'triangular'?); expected 'uniform' or 'triangular'"),
    ("triangular-without-range", "teams.sdr.headcount={value: 5, shape: triangular}",
     "teams.sdr.headcount", "shape: a triangular range needs low and high"),
    ("one-end", "teams.sdr.headcount={low: 4}", "teams.sdr.headcount",
     "low: a range needs both ends: give high too"),
    ("nothing", "teams.sdr.headcount={source: somewhere}", "teams.sdr.headcount",
     "give value, or low and high, or all three"),
    ("source-not-text", "teams.sdr.headcount={value: 5, source: 2025}", "teams.sdr.headcount",
     "source: expected text, got 2025 (put it in quotes)"),
    ("in-decay-points", "handoff.decay.points.1.1={low: 0.8, high: 0.95}",
     "handoff.decay.points.1.1",
     "ranges are not allowed inside points (its numbers are coupled): give a number"),
    ("in-hours", "sources.search.arrivals.hours.0={low: 0.1, high: 0.3}",
     "sources.search.arrivals.hours.0",
     "ranges are not allowed inside hours (its numbers are coupled): give a number"),
    ("in-segment-mix", "sources.search.segment_mix.smb={low: 0.5, high: 0.6}",
     "sources.search.segment_mix.smb",
     "ranges are not allowed inside segment_mix (its weights are coupled): give a number"),
    ("in-weekdays", "sources.search.arrivals.weekdays.mon={value: 1.2, source: web}",
     "sources.search.arrivals.weekdays.mon",
     "ranges are not allowed inside weekdays (its weights are coupled): give a number"),
    ("in-follow-up-planned", "teams.sdr.attempts.follow_up={planned: {1: {low: 0.5, high: 1}}}",
     "teams.sdr.attempts.follow_up.planned.1",
     "ranges are not allowed inside planned (its weights are coupled): give a number"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in SET_CASES],
)
def test_a_bad_number_is_located_at_the_option(override: str, path: str, message: str) -> None:
    [line] = assert_refused(invoke("validate", BASELINE, "--set", override))
    expected = f"--set {override}: {path}: {message}"
    assert line.startswith(expected), f"expected {expected!r}..., got {line!r}"


def test_each_end_says_its_own_problem() -> None:
    """Both ends on the business clock in a calendar field: each end says so (and the midpoint
    between them, which has the same problem, does not repeat it)."""
    override = "horizon={low: 2bd, high: 4bd}"
    lines = assert_refused(invoke("validate", BASELINE, "--set", override))
    assert lines == [
        f"--set {override}: horizon: {end}: {v} is business time; this field is calendar time: "
        "use m, h, d or w"
        for end, v in (("low", "2bd"), ("high", "4bd"))
    ], lines


def test_a_range_that_breaks_a_rule_between_fields_names_the_end() -> None:
    """At its low end the range leaves fewer attempts than the follow-up policy plans."""
    ranged = "teams.sdr.attempts.max={value: 6, low: 1, high: 6}"
    lines = assert_refused(
        invoke("validate", BASELINE, "--set", ranged,
               "--set", "teams.sdr.attempts.follow_up={planned: {6: 1}}")
    )  # fmt: skip
    [line] = lines
    assert line.endswith(
        ": teams.sdr.attempts: with the range of teams.sdr.attempts.max at the low end: "
        "follow_up: no lead gets more than max (1) attempts"
    ), line


def test_every_problem_at_once() -> None:
    """Two bad ranges and a bad plain value: all three reported, none twice."""
    lines = assert_refused(
        invoke("validate", BASELINE, "--set", "teams.sdr.headcount={low: 4}",
               "--set", "teams.ae.win.collateral={low: 0.5, high: 1.5}", "--set", "horizon=0d")
    )  # fmt: skip
    assert sorted(lines) == sorted(
        [
            "--set teams.sdr.headcount={low: 4}: teams.sdr.headcount: low: a range needs both "
            "ends: give high too",
            "--set teams.ae.win.collateral={low: 0.5, high: 1.5}: teams.ae.win.collateral: "
            "high: input should be less than or equal to 1",
            "--set horizon=0d: horizon: must be a positive duration, got 0d",
        ]
    ), lines


# -- problems, located in a file -----------------------------------------------------------------
# (id, old, new, anchor with ^, dotted path, message)
FILE_CASES = [
    ("misspelled-key", "      value: 10", "      vlaue: 10", "      ^vlaue: 10",
     "teams.sdr.headcount.vlaue", "unknown key 'vlaue' (did you mean 'value'?)"),
    ("value-outside", "      value: 10", "      value: 13", "      value: ^13",
     "teams.sdr.headcount", "value: 13 is outside the range, 8 to 12"),
    ("low-below-the-bound", "      low: 8", "      low: 0", "      low: ^0",
     "teams.sdr.headcount", "low: input should be greater than 0"),
    ("integer-field-fractional-high", "      high: 12", "      high: 12.5", "      high: ^12.5",
     "teams.sdr.headcount", "high: must be a whole number, got 12.5"),
    ("mixed-units", "high: 12/h", "high: 12h", "arrivals: {^rate: {low",
     "sources.web.arrivals.rate", "mixed units: low 6/h (a rate), high 12h (calendar time)"),
    ("bad-grade", "grade: B}", "grade: b}", "grade: ^b}", "sources.web.arrivals.rate",
     "grade: got 'b' (did you mean 'B'?)"),
    ("in-a-list", "first_touch_sla: 30m",
     "first_touch_sla: 30m\n  decay: {kind: table, points: [[0m, 1], [1h, {low: 0.2, high: 0.5}]]}",
     "[1h, ^{low", "handoff.decay.points.1.1", "ranges are not allowed inside points"),
    ("distribution-where-a-number-goes", "first_touch_sla: 30m",
     "first_touch_sla: {dist: constant, value: 30m}", "^first_touch_sla: {dist",
     "handoff.first_touch_sla", "expected a duration such as '30m'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "anchor", "path", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in FILE_CASES],
)
def test_a_bad_number_is_located_in_the_file(
    in_tmp: Path, old: str, new: str, anchor: str, path: str, message: str
) -> None:
    assert SMALL.count(old) == 1, old
    text = SMALL.replace(old, new)
    (in_tmp / FILE).write_text(text, encoding="utf-8")
    [line] = assert_refused(invoke("validate", FILE))
    prefix = f"{FILE}:{location(text, anchor)}: {path}: "
    assert line.startswith(prefix), f"expected {prefix!r}..., got {line!r}"
    assert message in line, f"expected {message!r} in {line!r}"


def test_an_implicit_value_out_of_bounds_is_said_by_the_ends(in_tmp: Path) -> None:
    """Both ends above 1: the ends say so, not the midpoint between them as well."""
    text = SMALL.replace("first_touch_sla: 30m", "first_touch_sla: 30m\n  acceptance:\n"
                         "    fit_threshold: {low: 1.2, high: 1.4}")  # fmt: skip
    (in_tmp / FILE).write_text(text, encoding="utf-8")
    lines = assert_refused(invoke("validate", FILE))
    path = "handoff.acceptance.fit_threshold"
    assert lines == [
        f"{FILE}:{location(text, 'low: ^1.2')}: {path}: low: input should be less than or "
        "equal to 1",
        f"{FILE}:{location(text, 'high: ^1.4')}: {path}: high: input should be less than or "
        "equal to 1",
    ], lines


# -- the format version -------------------------------------------------------------------------
def test_format_2_or_none_is_the_current_format(in_tmp: Path) -> None:
    assert SCENARIO_FORMAT == 2
    (in_tmp / FILE).write_text(f"format: 2\n{SMALL}", encoding="utf-8")
    with_format = load_scenario(FILE)
    (in_tmp / FILE).write_text(SMALL, encoding="utf-8")
    assert load_scenario(FILE) == with_format
    assert scenario_from_dict({"format": 2, **yaml.safe_load(SMALL)}) == with_format


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("1", "this file is scenario format 1; funnelsim reads format 2 (what changed: "
              "docs/scenario.md#format-versions)"),
        ("3", "this file is scenario format 3, newer than this funnelsim reads (format 2): "
              "use a newer funnelsim"),
        ("0", "there is no scenario format 0; funnelsim reads format 2"),
        ("2.0", "expected a whole number, the scenario format (2); got 2.0"),
        ("two", "expected a whole number, the scenario format (2); got 'two'"),
    ],
)  # fmt: skip
def test_another_format_is_refused(in_tmp: Path, given: str, message: str) -> None:
    (in_tmp / FILE).write_text(f"format: {given}\n{SMALL}", encoding="utf-8")
    assert assert_refused(invoke("validate", FILE)) == [f"{FILE}:1:9: format: {message}"]
    (in_tmp / FILE).write_text(SMALL, encoding="utf-8")
    lines = assert_refused(invoke("validate", FILE, "--set", f"format={given}"))
    assert lines == [f"--set format={given}: format: {message}"]


def test_format_versions_are_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenario.md").read_text()
    assert "\n## Format versions\n" in doc
    assert "\n## Numbers with a source and a range\n" in doc


# -- the resolved file of a results folder -------------------------------------------------------
def test_the_resolved_file_keeps_the_ranges(in_tmp: Path) -> None:
    (in_tmp / FILE).write_text(SMALL, encoding="utf-8")
    short = ["--set", "horizon=1d"]
    result = invoke("run", FILE, *short, "--replications", "1", "--out", "out")
    assert result.exit_code == 0, result.output
    [resolved] = sorted((in_tmp / "out" / "scenarios").glob("*.yaml"))
    data = yaml.safe_load(resolved.read_text())
    assert data["format"] == SCENARIO_FORMAT
    assert data["teams"]["sdr"]["headcount"] == {"value": 10, "low": 8, "high": 12}
    assert data["sources"]["web"]["arrivals"]["rate"] == {
        "low": "6/h",
        "high": "12/h",
        "source": "web analytics, 2025",
        "grade": "B",
    }
    again = load_scenario(resolved)
    original = load_scenario(FILE, ["horizon=1d"])
    assert again == original
    assert ranges_of(again) == ranges_of(original)
