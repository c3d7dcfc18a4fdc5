"""Every field of the full funnel refuses bad values as ``FILE:LINE:COL: dotted.path: message``.

Each case is the bundled baseline (scenarios/baseline.yaml, read as text) with one
substitution, run through ``funnelsim validate``: exit code 2, nothing on stdout, no traceback,
and exactly one problem on stderr, at the line and column of the offending text. The expected
location is computed from the substituted text: the anchor of each case is a snippet that
occurs once in it, with ``^`` marking the character the message must point at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from funnelsim.cli import app

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
FILE = "scenario.yaml"
APPEND = None  # as ``old``: add ``new`` at the end of the file


def base_text() -> str:
    return BASELINE.read_text(encoding="utf-8")


def substituted(old: str | None, new: str) -> str:
    text = base_text()
    if old is None:
        return text + new
    assert text.count(old) == 1, f"{old!r} must occur exactly once in baseline.yaml"
    return text.replace(old, new)


def location(text: str, anchor: str) -> str:
    """'LINE:COL' of the character marked ``^`` in ``anchor``, a snippet unique in ``text``."""
    assert anchor.count("^") == 1, anchor
    snippet = anchor.replace("^", "")
    assert text.count(snippet) == 1, f"{snippet!r} must occur exactly once"
    offset = text.index(snippet) + anchor.index("^")
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{col}"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder so that messages name the file as the user typed it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def validate(text: str) -> Result:
    Path(FILE).write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["validate", FILE])


def problem_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_refused(result: Result) -> list[str]:
    """Bad input: exit 2, stdout empty, no traceback; returns the problem lines."""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 2, result.output
    assert result.stdout == "", result.stdout
    lines = problem_lines(result)
    assert lines, "no problem reported"
    return lines


# (id, old, new, anchor with ^, dotted path, key phrase of the message)
CASES = [
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
    ("repeat-probability-1", "repeat_probability: {inbound: 0.35",
     "repeat_probability: {inbound: 1.0", "    ^win:\n", "teams.ae.win",
     "repeat_probability.inbound must be below 1"),
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
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_value_is_located(
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
