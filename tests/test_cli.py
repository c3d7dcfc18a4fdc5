"""The command line (``funnelsim.cli``) end to end: help, ``run --json``, seeds, ``--out``,
``schema``, the one handler of errors, and what each command imports.

The bundled files' ``validate`` and schema checks are in test_scenarios_bundled.py, bad input
in test_scenario_load.py. Runs are short (the bundled Erlang C scenario cut to a 5-day horizon
after a 1-day warm-up), so these tests check the shape and consistency of what the commands
produce, not the numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from funnelsim import results
from funnelsim.analysis import summarise
from funnelsim.cli import app
from funnelsim.errors import FunnelsimError
from funnelsim.experiment import run_replications, summary_json
from funnelsim.scenario.load import load_scenario
from helpers import ROOT, SCENARIOS

ERLANG_C = SCENARIOS / "validation" / "erlang-c.yaml"
SHORT = ["--set", "horizon=5d", "--set", "warmup=1d"]
SHORT_OVERRIDES = ["horizon=5d", "warmup=1d"]
REQUIRED_METRICS = [
    "leads",
    "first_touch_waited_share",
    "first_touch_wait_mean_h",
    "first_touch_wait_p90_h",
    "sla_first_touch_attainment",
    "expired_share",
    "sdr_utilization",
    "queue_length_mean",
]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def command_names() -> list[str]:
    """The commands registered on the app (not a hard-coded list)."""
    return sorted(app.commands)


def _no_constants(token: str) -> Any:
    raise ValueError(f"non-standard JSON token {token} in the output")


def strict_json(text: str) -> Any:
    """Parse exactly one JSON document; NaN / Infinity tokens are refused."""
    return json.loads(text, parse_constant=_no_constants)


def same_numbers(a: dict[str, float | None], b: dict[str, float | None]) -> bool:
    """Equal keys; values both null or equal to 12 digits (a CSV round trip)."""
    return a.keys() == b.keys() and all(
        (x is None and y is None)
        or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-300))
        for x, y in ((a[k], b[k]) for k in a)
    )


def run_json(*args: str) -> dict[str, Any]:
    result = invoke("run", str(ERLANG_C), *SHORT, "--json", *args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    return data


# -- help ----------------------------------------------------------------------------------------
def test_commands_are_discovered() -> None:
    """The commands the tests here and in test_docs.py go through (an empty list would check
    nothing)."""
    names = command_names()
    assert {"validate", "run", "compare", "study", "query", "report", "schema"} <= set(names)


@pytest.mark.parametrize("command", command_names())
def test_every_command_answers_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
    assert command in result.stdout


def test_app_answers_help() -> None:
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    for command in command_names():
        assert command in result.stdout


# -- run --json --------------------------------------------------------------------------------
def test_run_json_is_one_object_with_cis() -> None:
    data = run_json("--replications", "3")
    assert set(data) == {"scenario", "seed", "replications", "metrics", "by"}
    assert data["scenario"] == "Erlang C check"
    assert data["replications"] == 3
    assert isinstance(data["seed"], int)
    metrics = data["metrics"]
    missing = [name for name in REQUIRED_METRICS if name not in metrics]
    assert not missing, f"missing metrics: {missing}"
    for name, summary in metrics.items():
        assert set(summary) == {"mean", "ci_low", "ci_high"}, name
        values = (summary["mean"], summary["ci_low"], summary["ci_high"])
        if name in REQUIRED_METRICS:
            assert all(isinstance(v, float | int) for v in values), (name, summary)
        if all(v is not None for v in values):
            assert summary["ci_low"] <= summary["mean"] <= summary["ci_high"], (name, summary)
    assert metrics["leads"]["mean"] > 0
    assert 0.0 <= metrics["sdr_utilization"]["mean"] <= 1.0


def test_run_json_with_one_replication_has_null_cis() -> None:
    result = invoke("run", str(ERLANG_C), *SHORT, "--json", "--replications", "1")
    assert result.exit_code == 0, result.output
    for token in ("NaN", "Infinity"):
        assert token not in result.stdout
    data = strict_json(result.stdout)
    assert data["replications"] == 1
    for name in REQUIRED_METRICS:
        summary = data["metrics"][name]
        assert summary["ci_low"] is None, (name, summary)
        assert summary["ci_high"] is None, (name, summary)
        assert isinstance(summary["mean"], float | int), name
        assert math.isfinite(summary["mean"]), name


def test_same_seed_same_json_other_seed_other_json() -> None:
    first = run_json("--replications", "2", "--seed", "7")
    again = run_json("--replications", "2", "--seed", "7")
    other = run_json("--replications", "2", "--seed", "8")
    assert first["seed"] == 7
    assert other["seed"] == 8
    assert first == again
    assert first["metrics"] != other["metrics"]


def test_without_seed_the_scenario_seed_is_used_and_reported() -> None:
    assert yaml.safe_load(ERLANG_C.read_text())["seed"] == 1
    default = run_json("--replications", "2")
    explicit = run_json("--replications", "2", "--seed", "1")
    assert default["seed"] == 1
    assert default == explicit


# -- run --out ---------------------------------------------------------------------------------
def test_run_out_writes_consistent_files(tmp_path: Path) -> None:
    out = tmp_path / "results"
    replications = 3
    result = invoke(
        "run",
        str(ERLANG_C),
        *SHORT,
        "--replications",
        str(replications),
        "--out",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.output
    printed = strict_json(result.stdout)
    names = {p.name for p in out.iterdir()}
    expected = {"manifest.json", "scenarios", "summary.csv", "replications", "weekly", "daily"}
    expected |= {"leads", "handoffs", "tasks", "queue"}
    assert expected <= names, names
    temporary = [str(p) for p in out.rglob("*.tmp")]
    assert not temporary, temporary

    # the resolved scenario re-validates and is the scenario that ran
    stored = results.load(out)
    [entry] = stored.manifest["scenarios"]
    original = load_scenario(ERLANG_C, SHORT_OVERRIDES)
    assert entry["file"] == f"scenarios/{entry['key']}.yaml"
    assert load_scenario(out / entry["file"]) == original

    # the run printed what an identical run without --out prints
    assert printed == run_json("--replications", str(replications))

    # one row per replication, whose means and intervals are the printed ones
    per_replication = stored.replications
    assert per_replication["replication"].tolist() == list(range(replications))
    assert set(per_replication["scenario"]) == {original.name}
    headline = {name for name in printed["metrics"] if "." not in name}  # not METRIC.SOURCE
    assert headline <= set(per_replication.columns)
    for name in headline:
        recomputed = summary_json(summarise(per_replication[name].tolist()))
        assert recomputed == printed["metrics"][name], name
    print(
        f"leads per replication {per_replication['leads'].tolist()}, mean "
        f"{per_replication['leads'].mean()}, printed {printed['metrics']['leads']['mean']}"
    )
    assert printed["metrics"]["leads"]["mean"] == pytest.approx(per_replication["leads"].mean())

    # summary.csv holds the same numbers (empty cells where JSON has null)
    summary_csv = stored.summary.set_index("metric")
    assert set(summary_csv.index) == headline
    assert (summary_csv["n"].max(), summary_csv["scenario"].unique().tolist()) == (
        replications,
        [original.name],
    )
    for name in headline:
        summary = printed["metrics"][name]
        row = summary_csv.loc[name]
        written = {k: None if math.isnan(row[k]) else float(row[k]) for k in summary}
        assert same_numbers(written, summary), (name, written, summary)

    # per-lead records: every lead simulated, warm-up included
    leads = stored.table("leads")
    assert sorted(leads["replication"].unique()) == list(range(replications))
    kept = run_replications(original, replications, records=True)
    simulated = [len(records.leads) for records in kept.records]
    print(f"leads simulated per replication: {simulated}, rows written: {len(leads)}")
    assert len(leads) == sum(simulated)
    rows = leads.groupby("replication").size()
    assert rows.tolist() == simulated
    measured = leads.groupby("replication")["measured"].sum()
    assert measured.tolist() == per_replication["leads"].tolist()
    assert (measured < rows).all(), "the warm-up's leads are kept but not measured"

    # queue series: every replication, non-negative levels, time-ordered
    queue = stored.table("queue")
    assert {"replication", "time_h", "waiting"} <= set(queue.columns)
    assert sorted(queue["replication"].unique()) == list(range(replications))
    assert (queue["waiting"] >= 0).all()
    for _, series in queue.groupby("replication"):
        assert series["time_h"].is_monotonic_increasing


# -- schema ------------------------------------------------------------------------------------
def schema_json() -> dict[str, Any]:
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = strict_json(result.stdout)
    assert isinstance(schema, dict)
    return schema


def test_schema_prints_json_schema() -> None:
    schema = schema_json()
    assert schema.get("type") == "object"
    properties = schema["properties"]
    for key in ("horizon", "sources", "handoff", "teams"):
        assert key in properties, key


# -- errors and start-up -------------------------------------------------------------------------
def test_every_funnelsim_error_is_its_lines_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """One handler for every command: what a FunnelsimError says, one line per problem, on
    stderr, exit 2, no traceback; any other exception is a bug and is not dressed up."""

    class TwoProblemsError(FunnelsimError):
        def lines(self) -> list[str]:
            return ["first: what is wrong", "second: and where"]

    def refuse(folder: Path, output: Path | None, extra: tuple[Path, ...]) -> list[Path]:
        raise TwoProblemsError

    monkeypatch.setattr("funnelsim.reporting.write_report", refuse)
    refused = invoke("report", "anywhere")
    assert refused.exit_code == 2
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == ["first: what is wrong", "second: and where"]
    assert "Traceback" not in refused.output

    def fail(folder: Path, output: Path | None, extra: tuple[Path, ...]) -> list[Path]:
        raise RuntimeError("a bug")

    monkeypatch.setattr("funnelsim.reporting.write_report", fail)
    failed = invoke("report", "anywhere")
    assert failed.exit_code == 1
    assert isinstance(failed.exception, RuntimeError)


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has imported once ``code`` ran."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(done.stdout.splitlines()[-1].split())


RUNNING = {"funnelsim.experiment", "funnelsim.metrics", "pandas", "pyarrow", "matplotlib", "simpy"}


def test_the_cli_imports_only_click_until_a_command_runs() -> None:
    """The command line imports what a command needs when it runs, never everything up front,
    so that ``funnelsim validate`` starts quickly (measured by benchmarks/bench_startup.py)."""
    loaded = modules_after("import funnelsim.cli")
    heavy = {*RUNNING, "numpy", "scipy", "pydantic", "yaml", "rich", "funnelsim.scenario.schema"}
    print(sorted(m for m in loaded if m.startswith("funnelsim")))
    assert "funnelsim.cli" in loaded
    assert not heavy & loaded, sorted(heavy & loaded)


def test_validate_imports_no_runner_and_no_table_drawing() -> None:
    """What validate needs is the scenario and its offered load: not the machinery that runs
    replications, stores or draws them (rich's console alone costs as much as pydantic)."""
    code = (
        "import sys\n"
        "from funnelsim.cli import app\n"
        "sys.argv = ['funnelsim', 'validate', 'scenarios/baseline.yaml']\n"
        "try:\n    app()\nexcept SystemExit as done:\n    assert done.code in (0, None)"
    )
    loaded = modules_after(code)
    assert "funnelsim.scenario.schema" in loaded, "validate did not run"
    unwanted = {*RUNNING, "rich"} & loaded
    assert not unwanted, sorted(unwanted)


def test_per_lead_records_go_to_a_folder_never_only_to_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--records`` (the default) writes them to ``--out``; without a folder nothing is kept,
    since a year of a full funnel is tens of MB of records per replication."""
    from funnelsim import experiment

    asked: list[bool] = []
    real = experiment.run

    def spy(*args: Any, **kwargs: Any) -> experiment.RunResult:
        asked.append(kwargs["records"])
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "run", spy)
    args = ["run", str(ERLANG_C), *SHORT, "-n", "1", "-w", "1", "--json"]
    assert invoke(*args).exit_code == 0
    assert invoke(*args, "--out", str(tmp_path / "kept")).exit_code == 0
    assert invoke(*args, "--out", str(tmp_path / "lean"), "--no-records").exit_code == 0
    assert asked == [False, True, False]


@pytest.mark.parametrize(
    ("preset", "expected"), [(None, "__all__"), ("", ""), ("logfire", "logfire")]
)
def test_the_command_skips_pydantic_plugins_unless_told(
    monkeypatch: pytest.MonkeyPatch, preset: str | None, expected: str
) -> None:
    """``main`` turns pydantic's plugin scan off for itself, and leaves a user's choice alone."""
    from funnelsim.cli import main

    if preset is None:
        monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", preset)
    monkeypatch.setattr(sys, "argv", ["funnelsim", "validate", str(ERLANG_C)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == expected
