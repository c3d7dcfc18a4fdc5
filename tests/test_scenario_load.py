"""Loading a scenario (``funnelsim.scenario.load``): bad input is reported as
``FILE:LINE:COL: dotted.path: message`` on stderr, exit 2.

Every case writes one scenario with a single substitution, runs ``funnelsim validate`` on it and
checks the exact location, the dotted path, a key phrase of the message, the exit code, that
stdout stays empty and that no traceback escapes: first on a small queue (BASE), then on every
field of the full funnel (the bundled baseline). A few cases also go through the real console
script in a subprocess, to prove the stderr / exit-code behaviour end to end. (The tests use
the ``in_tmp`` fixture of tests/conftest.py: each runs in an empty folder, so that messages
name the file as the user typed it.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from funnelsim.cli import app
from helpers import BASE, assert_refused, location

VALIDATION = Path(__file__).resolve().parents[1] / "scenarios" / "validation"
ERLANG_C = VALIDATION / "erlang-c.yaml"
SCRIPT = Path(sys.executable).with_name("funnelsim")
FILE = "scenario.yaml"

# Line numbers are on the right; columns below are counted from these lines.
#  1 name / 2 horizon / 3 warmup / 4 seed / 5 calendar / 6 sources / 7 web / 8 kind /
#  9 arrivals / 10 score / 11 handoff / 12 policy / 13 first_touch_sla / 14 decay / 15 teams /
# 16 sdr / 17 headcount / 18 first_touch_time


def scenario_text(old: str | None = None, new: str = "") -> str:
    """BASE with ``old`` replaced by ``new``; ``old`` must occur exactly once."""
    if old is None:
        return BASE
    assert BASE.count(old) == 1, f"{old!r} must occur exactly once in BASE"
    return BASE.replace(old, new)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_bad_input(result: Result, prefix: str, phrase: str) -> None:
    """Exit 2, one problem on stderr starting with ``prefix`` and containing ``phrase``."""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 2, result.output
    assert result.stdout == "", result.stdout
    lines = problem_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(prefix), f"expected {prefix!r}..., got {lines[0]!r}"
    assert phrase in lines[0], f"expected {phrase!r} in {lines[0]!r}"


# (id, old, new, "line:col", dotted path, key phrase of the message)
FILE_CASES = [
    ("yaml-syntax", "name: Base", "name: a: b", "1:8", None,
     "YAML syntax error: mapping values are not allowed"),
    ("unknown-top-level-key", "horizon: 10d", "horizn: 10d", "2:1", "horizn",
     "unknown key 'horizn' (did you mean 'horizon'?)"),
    ("unknown-nested-key", "headcount: 10", "headcont: 10", "17:5", "teams.sdr.headcont",
     "unknown key 'headcont' (did you mean 'headcount'?)"),
    ("wrong-type", "headcount: 10", 'headcount: "ten"', "17:16", "teams.sdr.headcount",
     "valid integer"),
    ("zero-headcount", "headcount: 10", "headcount: 0", "17:16", "teams.sdr.headcount",
     "greater than 0"),
    ("negative-headcount", "headcount: 10", "headcount: -3", "17:16", "teams.sdr.headcount",
     "greater than 0"),
    ("zero-rate", "rate: 9/h", "rate: 0/h", "9:22", "sources.web.arrivals.rate",
     "must be a positive rate"),
    ("negative-rate", "rate: 9/h", "rate: -9/h", "9:22", "sources.web.arrivals.rate",
     "must be a positive rate"),
    ("rate-without-unit", "rate: 9/h", "rate: 9", "9:22", "sources.web.arrivals.rate",
     "missing unit in rate"),
    ("duration-without-unit", "first_touch_sla: 30m", "first_touch_sla: 30", "13:20",
     "handoff.first_touch_sla", "missing unit in duration"),
    ("unknown-unit", "first_touch_sla: 30m", "first_touch_sla: 30x", "13:20",
     "handoff.first_touch_sla", "unknown duration unit 'x'"),
    ("zero-duration", "first_touch_sla: 30m", "first_touch_sla: 0m", "13:20",
     "handoff.first_touch_sla", "must be a positive duration"),
    ("decay-multiplier-above-1", "[1h, 0.5]", "[1h, 1.5]", "14:49", "handoff.decay.points.1.1",
     "less than or equal to 1"),
    ("score-below-0", "value: 0.5", "value: -0.2", "10:36", "sources.web.score.value",
     "greater than or equal to 0"),
    ("unknown-distribution", "dist: exponential", "dist: expo", "18:30",
     "teams.sdr.first_touch_time.dist",
     "unknown distribution 'expo' (did you mean 'exponential'?)"),
    ("zero-horizon", "horizon: 10d", "horizon: 0d", "2:10", "horizon",
     "must be a positive duration"),
    ("negative-warmup", "warmup: 1d", "warmup: -1d", "3:9", "warmup", "must not be negative"),
    ("misspelled-calendar", "calendar: always", "calendar: allways", "5:11", "calendar",
     "got 'allways' (did you mean 'always'?)"),
    ("duplicate-key", "seed: 1\n", "seed: 1\nseed: 2\n", "5:1", "seed", "duplicate key"),
    ("business-time-horizon", "horizon: 10d", "horizon: 10bd", "2:10", "horizon",
     "10bd is business time; this field is calendar time"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "where", "path", "phrase"),
    [pytest.param(*case[1:], id=case[0]) for case in FILE_CASES],
)
def test_bad_file_is_located(
    in_tmp: Path, old: str, new: str, where: str, path: str | None, phrase: str
) -> None:
    (in_tmp / FILE).write_text(scenario_text(old, new), encoding="utf-8")
    prefix = f"{FILE}:{where}: " + (f"{path}: " if path else "")
    assert_bad_input(invoke("validate", FILE), prefix, phrase)


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n"], ids=["empty", "comment-only"])
def test_empty_file(in_tmp: Path, text: str) -> None:
    (in_tmp / FILE).write_text(text, encoding="utf-8")
    assert_bad_input(invoke("validate", FILE), f"{FILE}:1:1: ", "the file is empty")


def test_missing_file(in_tmp: Path) -> None:
    assert_bad_input(invoke("validate", "nope.yaml"), "nope.yaml: ", "no such file")


@pytest.mark.parametrize(
    ("override", "path", "phrase"),
    [
        pytest.param("teams.sdr.headcont=5", "teams.sdr.headcont",
                     "unknown key 'headcont' (did you mean 'headcount'?)", id="unknown-key"),
        pytest.param("teams.sdr.headcount=0", "teams.sdr.headcount", "greater than 0",
                     id="bad-value"),
    ],
)  # fmt: skip
def test_bad_override_is_located_at_the_option(
    in_tmp: Path, override: str, path: str, phrase: str
) -> None:
    (in_tmp / FILE).write_text(BASE, encoding="utf-8")
    result = invoke("validate", FILE, "--set", override)
    assert_bad_input(result, f"--set {override}: {path}: ", phrase)


@pytest.mark.parametrize(
    ("old", "new", "extra"),
    [
        pytest.param("headcount: 10", "headcont: 10", [], id="bad-file"),
        pytest.param(None, "", ["--set", "teams.sdr.headcount=0"], id="bad-override"),
    ],
)
def test_run_with_bad_input_writes_nothing(
    in_tmp: Path, old: str | None, new: str, extra: list[str]
) -> None:
    (in_tmp / FILE).write_text(scenario_text(old, new), encoding="utf-8")
    out_dir = in_tmp / "results"
    result = invoke("run", FILE, "--replications", "1", "--out", str(out_dir), *extra)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert problem_lines(result.stderr), "a problem must be reported on stderr"
    assert not out_dir.exists()
    assert sorted(p.name for p in in_tmp.iterdir()) == [FILE]


def test_zero_warmup_is_valid(in_tmp: Path) -> None:
    (in_tmp / FILE).write_text(scenario_text("warmup: 1d", "warmup: 0d"), encoding="utf-8")
    result = invoke("validate", FILE)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert f"{FILE}: ok" in result.stdout


def test_base_scenario_is_valid(in_tmp: Path) -> None:
    (in_tmp / FILE).write_text(BASE, encoding="utf-8")
    result = invoke("validate", FILE)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


OVERLOAD = ["--set", "teams.sdr.headcount=8"]  # 9 leads/h x 1 h of work vs 8 SDRs


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["validate", str(ERLANG_C), *OVERLOAD], id="validate"),
        pytest.param(
            ["run", str(ERLANG_C), *OVERLOAD, "--replications", "1", "--set", "horizon=2d",
             "--set", "warmup=0d"],
            id="run",
        ),
    ],
)  # fmt: skip
def test_overload_warns_on_stderr(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    stderr = " ".join(result.stderr.split())  # the console may wrap long lines
    assert "warning:" in stderr
    assert "(9.00 SDR-hours per hour)" in stderr
    assert "at or above SDR capacity (8.00)" in stderr
    assert "warning" not in result.stdout


# -- every field of the full funnel: a whole funnel in plain numbers, with one substitution -----
BASELINE = Path(__file__).resolve().parent / "data" / "funnel.yaml"
APPEND = None  # as ``old``: add ``new`` at the end of the file


def base_text() -> str:
    return BASELINE.read_text(encoding="utf-8")


def substituted(old: str | None, new: str) -> str:
    text = base_text()
    if old is None:
        return text + new
    assert text.count(old) == 1, f"{old!r} must occur exactly once in data/funnel.yaml"
    return text.replace(old, new)


def validate(text: str) -> Result:
    Path(FILE).write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["validate", FILE])


# (id, old, new, anchor with ^, dotted path, key phrase of the message)
FUNNEL_CASES = [
    # sources: spend and response
    ("negative-spend", "spend: {monthly: 30000}", "spend: {monthly: -30000}",
     "spend: {monthly: ^-30000}", "sources.search.spend.monthly", "greater than or equal to 0"),
    ("negative-spend-by-month", "spend: {monthly: 15000}", "spend: {by_month: [15000, -5]}",
     "[15000, ^-5]", "sources.content.spend.by_month.1", "greater than or equal to 0"),
    ("hill-without-half-saturation", "half_saturation: 40000, ", "",
     "^response: {curve: hill", "sources.search.response", "curve 'hill' needs half_saturation"),
    ("logistic-without-steepness", "steepness: 0.00005, ", "",
     "^response: {curve: logistic", "sources.content.response",
     "curve 'logistic' needs steepness"),
    ("adstock-1", "adstock: 0.3}", "adstock: 1.0}", "adstock: ^1.0}",
     "sources.search.response.adstock", "less than 1"),
    ("segment-mix-unknown-segment", "segment_mix: {smb: 0.55, mid: 0.35, ent: 0.10}",
     "segment_mix: {smb: 0.55, mdi: 0.35, ent: 0.10}", "{smb: 0.55, ^mdi: 0.35",
     "sources.search.segment_mix.mdi", "unknown segment 'mdi' (did you mean 'mid'?)"),
    # outbound
    ("targeting-2", "targeting: 0.6 ", "targeting: 2   ", "targeting: ^2   ",
     "sources.outbound.targeting", "less than or equal to 1"),
    ("contacts-per-month-0", "contacts_per_month: 400", "contacts_per_month: 0",
     "contacts_per_month: ^0", "sources.outbound.contacts_per_month", "greater than 0"),
    ("sequence-touches-0", "touches: 8 ", "touches: 0 ", "touches: ^0 ",
     "sources.outbound.sequence.touches", "greater than or equal to 1"),
    # segments
    ("win-rate-1.5", "win_rate: 0.55}", "win_rate: 1.5}", "win_rate: ^1.5}",
     "segments.smb.win_rate", "less than or equal to 1"),
    ("deal-size-mean-0", "{deal_size: {mean: 14000,", "{deal_size: {mean: 0,",
     "{deal_size: {mean: ^0,", "segments.smb.deal_size.mean", "greater than 0"),
    # handoff
    ("batch-without-policy-batch", "policy: continuous",
     "policy: continuous\n  batch: {release: mon 09:00, size: 50, qualify_by: wed 17:00}",
     "\n^handoff:\n", "handoff", "policy 'batch' needs a 'batch' section, and only it"),
    ("policy-batch-without-batch", "policy: continuous", "policy: batch", "\n^handoff:\n",
     "handoff", "policy 'batch' needs a 'batch' section, and only it"),
    ("weekly-time-9am", "policy: continuous",
     "policy: batch\n  batch: {release: mon 9am, size: 50, qualify_by: wed 17:00}",
     "release: ^mon 9am", "handoff.batch.release", "cannot read 'mon 9am'"),
    ("batch-size-0", "policy: continuous",
     "policy: batch\n  batch: {release: mon 09:00, size: 0, qualify_by: wed 17:00}",
     "size: ^0,", "handoff.batch.size", "greater than 0"),
    ("fit-threshold-negative", "acceptance: {fit_threshold: 0.35}",
     "acceptance: {fit_threshold: -0.1}", "fit_threshold: ^-0.1",
     "handoff.acceptance.fit_threshold", "greater than or equal to 0"),
    ("decay-table-rising", "[3d, 0.06]", "[3d, 0.6]", "  ^decay:\n", "handoff.decay",
     "odds cannot rise with its wait"),
    # SDR team
    ("attempts-max-0", "attempts: {max: 6,", "attempts: {max: 0,", "attempts: {max: ^0,",
     "teams.sdr.attempts.max", "greater than or equal to 1"),
    ("priority-typo", "priority: inbound_first", "priority: inbund_first",
     "priority: ^inbund_first", "teams.sdr.priority",
     "got 'inbund_first' (did you mean 'inbound_first'?)"),
    ("priority-share-1.5", "priority: inbound_first", "priority: 1.5", "priority: ^1.5",
     "teams.sdr.priority", "less than or equal to 1"),
    ("hiring-change-0", "hiring: [{at: 2027-04-05 09:00, change: 1}]",
     "hiring: [{at: 2027-04-05 09:00, change: 0}]", "hiring: [^{at: 2027-04-05 09:00, change: 0}",
     "teams.sdr.hiring.0", "change must not be zero"),
    ("ramp-start-2", "ramp: {start: 0.3, over: 12w}", "ramp: {start: 2, over: 12w}",
     "ramp: {start: ^2,", "teams.sdr.ramp.start", "less than or equal to 1"),
    # AE team
    ("stage-advance-1.2", "advance: 0.7}", "advance: 1.2}", "advance: ^1.2}",
     "teams.ae.stages.0.advance", "less than or equal to 1"),
    # economics
    ("gross-margin-1.5", "gross_margin: 0.8", "gross_margin: 1.5", "gross_margin: ^1.5",
     "economics.gross_margin", "less than or equal to 1"),
    ("churn-unknown-kind", "churn_annual: {inbound: 0.07,", "churn_annual: {inbund: 0.07,",
     "churn_annual: {^inbund", "economics.churn_annual.inbund",
     "unknown key 'inbund' (did you mean 'inbound'?)"),
    # starting state
    ("initial-unknown-stage", APPEND,
     "initial:\n  open_opportunities: [{source: search, count: 3, stage: dmeo}]\n",
     "stage: ^dmeo", "initial.open_opportunities.0.stage",
     "unknown stage 'dmeo' (did you mean 'demo'?)"),
    ("initial-unknown-source", APPEND, "initial:\n  open_mqls: [{source: serach, count: 5}]\n",
     "source: ^serach", "initial.open_mqls.0.source",
     "unknown source 'serach' (did you mean 'search'?)"),
    ("initial-count-0", APPEND, "initial:\n  open_mqls: [{source: search, count: 0}]\n",
     "count: ^0}", "initial.open_mqls.0.count", "greater than 0"),
    ("initial-age-business-time", APPEND,
     "initial:\n  open_mqls: [{source: search, count: 4, age: 2bd}]\n", "age: ^2bd",
     "initial.open_mqls.0.age", "2bd is business time; this field is calendar time"),
    ("initial-unknown-key", APPEND,
     "initial:\n  open_opportunities: [{source: search, count: 4, stage: demo, stag: x}]\n",
     "demo, ^stag: x", "initial.open_opportunities.0.stag",
     "unknown key 'stag' (did you mean 'stage'?)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "anchor", "path", "phrase"),
    [pytest.param(*case[1:], id=case[0]) for case in FUNNEL_CASES],
)
def test_bad_funnel_value_is_located(
    in_tmp: Path, old: str | None, new: str, anchor: str, path: str, phrase: str
) -> None:
    text = substituted(old, new)
    prefix = f"{FILE}:{location(text, anchor)}: {path}: "
    lines = assert_refused(validate(text))
    assert len(lines) == 1, f"expected one problem, {prefix}..., got:\n" + "\n".join(lines)
    assert lines[0].startswith(prefix), f"expected {prefix!r}..., got {lines[0]!r}"
    assert phrase in lines[0], f"expected {phrase!r} in {lines[0]!r}"


def test_ae_team_without_segments(in_tmp: Path) -> None:
    """Without segments the AE team is refused at its key, and every segment_mix entry (now
    naming an unknown segment) is reported too: all problems of the file at once."""
    text = base_text()
    start = text.index("\nsegments:\n") + 1
    stop = text.index("\nsources:\n") + 1
    text = text[:start] + text[stop:]
    lines = assert_refused(validate(text))
    ae = f"{FILE}:{location(text, '  ^ae:')}: teams.ae: an AE team needs 'segments'"
    assert sum(line.startswith(ae) for line in lines) == 1, "\n".join(lines)
    others = [line for line in lines if not line.startswith(ae)]
    mixes = text.count("segment_mix: {")
    assert len(others) == 3 * mixes, "\n".join(lines)  # smb, mid and ent in every source
    for line in others:
        assert ".segment_mix." in line, line
        assert "segments: none defined" in line, line


@pytest.mark.parametrize("line", [99, 100, 101, 1234])
def test_location_is_printed_as_is_on_any_line(in_tmp: Path, line: int) -> None:
    """Comment lines pad the file so that the bad horizon sits on ``line``: the location must
    read ``FILE:LINE:COL`` whatever the numbers (the console must not turn ':100:' into an
    emoji)."""
    text = base_text()
    bad = text.replace("horizon: 52w", "horizon: 0d", 1)
    before = bad.count("\n", 0, bad.index("horizon: 0d"))
    assert before < line
    padded = "# padding\n" * (line - 1 - before) + bad
    assert location(padded, "horizon: ^0d") == f"{line}:10"
    lines = assert_refused(validate(padded))
    assert lines == [f"{FILE}:{line}:10: horizon: must be a positive duration, got 0d"]


def test_baseline_itself_is_valid(in_tmp: Path) -> None:
    result = validate(base_text())
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert f"{FILE}: ok" in result.stdout


@pytest.mark.parametrize(
    "addition",
    [
        "initial:\n  open_mqls: [{source: search, count: 5, age: 3d}]\n",
        "initial:\n  open_opportunities: [{source: outbound, count: 2, stage: proposal}]\n",
    ],
    ids=["open-mqls", "open-opportunities"],
)
def test_valid_starting_state_is_accepted(in_tmp: Path, addition: str) -> None:
    result = validate(base_text() + addition)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


# -- end to end through the installed console script ---------------------------------------
def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), f"console script not found at {SCRIPT}"
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_script_reports_bad_file_on_stderr(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text(scenario_text("headcount: 10", "headcont: 10"), encoding="utf-8")
    proc = run_script("run", FILE, "--out", "results", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith(
        f"{FILE}:17:5: teams.sdr.headcont: unknown key 'headcont' (did you mean 'headcount'?); "
        "allowed: headcount, "
    )
    assert not (tmp_path / "results").exists()


def test_script_reports_bad_override_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text(BASE, encoding="utf-8")
    proc = run_script("validate", FILE, "--set", "teams.sdr.headcount=0", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == [
        "--set teams.sdr.headcount=0: teams.sdr.headcount: input should be greater than 0"
    ]
    proc = run_script("validate", "nope.yaml", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == ["nope.yaml: no such file"]


def test_script_overload_warning_goes_to_stderr(tmp_path: Path) -> None:
    proc = run_script("validate", str(ERLANG_C), *OVERLOAD, cwd=tmp_path)
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr
    assert "ok" in proc.stdout
    assert "warning" not in proc.stdout
    assert "at or above SDR capacity (8.00)" in " ".join(proc.stderr.split())
