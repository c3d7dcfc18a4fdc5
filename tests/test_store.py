"""The results store (``funnelsim.store``): what ``--out`` writes, refusals, and resuming.

Most runs are short (Erlang C cut to 5 days after a 1-day warm-up) and in-process. The resume
tests kill a real ``funnelsim`` process with SIGKILL halfway through a run, resume it, and
require exactly the numbers an uninterrupted run gives.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from funnelsim import results
from funnelsim.executors import Slots
from funnelsim.experiment import Runner
from funnelsim.scenario.load import load_scenario
from funnelsim.store import CHUNK, RECORDS, SERIES, code_hash, scenario_hash
from helpers import SCENARIOS, invoke, ok, snapshot

ERLANG_C = SCENARIOS / "validation" / "erlang-c.yaml"
ERLANG_A = SCENARIOS / "validation" / "erlang-a.yaml"
SHORT = ["--set", "horizon=5d", "--set", "warmup=1d"]
HEX64 = re.compile(r"^[0-9a-f]{64}$")
FUNNELSIM = Path(sys.executable).parent / "funnelsim"
# a few seconds in all, in chunks of one to eight replications: long enough to be killed halfway
KILLED = [str(SCENARIOS / "baseline.yaml"), "--set", "horizon=6w", "--set", "warmup=1w"]
KILLED += ["-n", "16", "--seed", "5", "--json"]


def chunk_files(folder: Path, table: str = "replications") -> list[Path]:
    return sorted((folder / table).glob("*/*.parquet"))


def chunk_numbers(path: Path) -> list[int]:
    match = CHUNK.match(path.name)
    assert match, path
    return list(range(int(match[1]), int(match[2]) + 1))


def assert_same_rows(label: str, got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal tables, value by value; NaN equals NaN (a metric undefined in a replication)."""
    differing = [
        c
        for c in expected.columns
        if c not in got.columns or not got[c].reset_index(drop=True).equals(expected[c])
    ]
    print(
        f"{label}: {len(got)} x {got.shape[1]} against {len(expected)} x {expected.shape[1]}, "
        f"differing columns: {differing}"
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def assert_every_chunk_whole(folder: Path) -> None:
    """No temporary file left, and every chunk's series and records have their metrics file."""
    temporary = [str(p.relative_to(folder)) for p in folder.rglob("*.tmp")]
    assert not temporary, temporary
    finished = {(p.parent.name, p.name) for p in chunk_files(folder)}
    for table in (*SERIES, *RECORDS):
        files = {(p.parent.name, p.name) for p in chunk_files(folder, table)}
        orphans = sorted(files - finished)
        assert not orphans, f"{table}: chunk files without their replications file: {orphans}"
        if (folder / table).exists():
            assert files == finished, (table, sorted(finished - files))


def no_nan(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


# -- what a results folder holds -------------------------------------------------------------------
def test_manifest_records_what_ran(tmp_path: Path) -> None:
    out = tmp_path / "run"
    ok("run", ERLANG_C, *SHORT, "-n", "3", "-w", "1", "--seed", "11", "--out", out)
    manifest = json.loads((out / "manifest.json").read_text())
    print(json.dumps(manifest, indent=1))
    assert manifest["format"] == 2
    assert manifest["command"] == "run"
    assert manifest["seed"] == 11
    assert manifest["funnelsim_version"] == version("funnelsim")
    assert HEX64.match(manifest["code_hash"]), manifest["code_hash"]
    assert manifest["code_hash"] == code_hash()
    assert manifest["complete"] is True
    assert manifest["replications"] == 3
    assert manifest["records"] is True
    assert manifest["created"] <= manifest["updated"]
    [entry] = manifest["scenarios"]
    scenario = load_scenario(ERLANG_C, ["horizon=5d", "warmup=1d"])
    assert entry["name"] == scenario.name == "Erlang C check"
    assert entry["key"] == "0-Erlang-C-check"
    assert HEX64.match(entry["hash"]), entry["hash"]
    assert entry["hash"] == scenario_hash(scenario)
    assert load_scenario(out / entry["file"]) == scenario
    assert scenario_hash(load_scenario(ERLANG_C)) != entry["hash"], "overrides are hashed"
    for table in ("replications", *SERIES, *RECORDS):
        files = chunk_files(out, table)
        assert files, table
        assert {p.parent.name for p in files} == {entry["key"]}, table
        assert sorted(n for p in files for n in chunk_numbers(p)) == [0, 1, 2], table
    summary = pd.read_csv(out / "summary.csv").set_index("metric")
    assert set(summary["scenario"]) == {entry["name"]}
    assert summary.loc["leads", "n"] == 3, "the summary of the three replications"
    assert not (out / "differences.csv").exists(), "one scenario: nothing to pair"
    assert_every_chunk_whole(out)


def test_no_records_writes_metrics_and_series_only(tmp_path: Path) -> None:
    out = tmp_path / "run"
    ok("run", ERLANG_C, *SHORT, "-n", "2", "-w", "1", "--no-records", "--out", out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["records"] is False
    assert {p.name for p in out.iterdir()} == {
        "manifest.json",
        "scenarios",
        "summary.csv",
        "replications",
        "weekly",
        "daily",
        "by_source",
        "by_segment",
        "by_team",
        "by_wait",
        "breakdown.csv",
    }
    assert results.load(out).table("leads").empty


def test_compare_out_writes_the_differences_it_prints(tmp_path: Path) -> None:
    out = tmp_path / "compare"
    result = ok("compare", ERLANG_C, ERLANG_A, *SHORT, "-n", "3", "-w", "1", "--json", "--out", out)
    printed = json.loads(result.stdout)
    stored = results.load(out)
    assert stored.manifest["command"] == "compare"
    assert [s["key"] for s in stored.manifest["scenarios"]] == [
        "0-Erlang-C-check",
        "1-Erlang-A-check",
    ]
    assert not (out / "leads").exists(), "compare writes no per-lead records"
    differences = stored.differences
    print(differences.head(8).to_string())
    assert set(differences["scenario"]) == {"Erlang A check"} == set(printed["differences"])
    assert set(differences["baseline"]) == {"Erlang C check"} == {printed["baseline"]}
    expected = printed["differences"]["Erlang A check"]
    assert sorted(differences["metric"]) == sorted(expected)
    for row in differences.to_dict("records"):
        written = {k: no_nan(row[k]) for k in ("mean", "ci_low", "ci_high")}
        want = expected[row["metric"]]
        assert written.keys() == want.keys()
        for key, value in written.items():
            if want[key] is None:
                assert value is None, (row["metric"], key, value)
            else:
                assert value == pytest.approx(want[key], rel=1e-12, abs=1e-12), (row, want)
        if row["n"] >= 2:
            excludes = row["ci_low"] > 0 or row["ci_high"] < 0
            assert row["excludes_zero"] == excludes, row
    # and the differences are the paired ones of the stored replications
    per = stored.replications.set_index(["scenario", "replication"])["leads"]
    paired = (per["Erlang A check"] - per["Erlang C check"]).mean()
    print(f"leads: paired mean difference {paired}, written {expected['leads']['mean']}")
    assert paired == pytest.approx(expected["leads"]["mean"], rel=1e-12)


def test_study_out_records_its_points(tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: Staffing\nbaseline: {ERLANG_C}\nreplications: 2\n"
        "variants:\n  slow touches: {teams.sdr.first_touch_time.mean: 70m}\n"
        "sweeps:\n  staff:\n    values:\n      teams.sdr.headcount: [11, 12]\n"
    )
    out = tmp_path / "study"
    printed = json.loads(ok("study", study, *SHORT, "-w", "1", "--json", "--out", out).stdout)
    manifest = json.loads((out / "manifest.json").read_text())
    print(json.dumps(manifest["study"], indent=1))
    assert manifest["command"] == "study"
    assert manifest["study"]["name"] == "Staffing"
    points = manifest["study"]["points"]
    assert [p["label"] for p in points] == [p["label"] for p in printed["points"]]
    assert [p["overrides"] for p in points] == [p["overrides"] for p in printed["points"]]
    assert len(points) == 4
    assert [p["scenario"] for p in points] == [s["name"] for s in manifest["scenarios"]]
    assert manifest["replications"] == 2
    assert manifest["complete"] is True
    differences = pd.read_csv(out / "differences.csv")
    assert list(dict.fromkeys(differences["scenario"])) == [p["scenario"] for p in points[1:]]
    for file, point in zip(sorted((out / "scenarios").glob("*.yaml")), points, strict=True):
        assert load_scenario(file).name == point["scenario"], file


def test_run_refuses_scenarios_it_could_not_tell_apart(tmp_path: Path) -> None:
    """Two files with one name would share every row's ``scenario``: refused before running."""
    copy = tmp_path / "copy.yaml"
    shutil.copy(ERLANG_C, copy)
    out = tmp_path / "same-names"
    result = invoke("run", ERLANG_C, copy, *SHORT, "-n", "2", "-w", "1", "--out", out)
    print(result.stderr)
    assert result.exit_code == 2, result.output
    assert "Erlang C check" in result.stderr
    assert not out.exists()


# -- refusals: exit 2, a message, nothing written ------------------------------------------------
@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("refusals") / "run"
    ok("run", ERLANG_C, *SHORT, "-n", "2", "-w", "1", "--out", out)
    return out


REFUSALS = {
    "existing run without --resume": ([], "holds a run already"),
    "changed scenario": (["--resume", "--set", "teams.sdr.headcount=11"], "changed: Erlang C"),
    "other seed": (["--resume", "--seed", "99"], "ran on seed 1, not 99"),
    "other set of scenarios": (["--resume", ERLANG_A], "a different set of scenarios"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_resume_refusals_change_nothing(case: str, small_run: Path) -> None:
    extra, message = REFUSALS[case]
    before = snapshot(small_run)
    result = invoke("run", ERLANG_C, *SHORT, "-n", "2", "-w", "1", "--out", small_run, *extra)
    print(result.stderr)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split()), result.stderr
    assert result.stderr.startswith(f"{small_run}: ")
    assert result.stdout == ""
    assert snapshot(small_run) == before


def test_resume_refuses_a_run_of_other_code(small_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(small_run, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["code_hash"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    before = snapshot(copy)
    result = invoke("run", ERLANG_C, *SHORT, "-n", "2", "-w", "1", "--out", copy, "--resume")
    print(result.stderr)
    assert result.exit_code == 2
    assert "code changed" in result.stderr
    assert snapshot(copy) == before


def test_resume_without_out_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("run", ERLANG_C, *SHORT, "-n", "2", "-w", "1", "--resume")
    print(result.stderr)
    assert result.exit_code == 2
    assert result.stderr.startswith("--resume: needs --out"), result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_a_results_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my own notes")
    before = snapshot(folder)
    for resume in ([], ["--resume"]):
        result = invoke("run", ERLANG_C, *SHORT, "-n", "2", "-w", "1", "--out", folder, *resume)
        print(result.stderr)
        assert result.exit_code == 2
        assert "holds no funnelsim run" in result.stderr
        assert snapshot(folder) == before


# -- extending and finishing ---------------------------------------------------------------------
def test_extending_runs_only_the_missing_replications(tmp_path: Path) -> None:
    grown, fresh = tmp_path / "grown", tmp_path / "fresh"
    args = ["run", ERLANG_C, *SHORT, "-w", "1", "--seed", "3", "--json"]
    ok(*args, "-n", "4", "--out", grown)
    first = snapshot(grown)
    old = [p.name for p in chunk_files(grown)]
    extended = ok(*args, "-n", "10", "--out", grown, "--resume")
    print(extended.stderr)
    assert "resumed: 4 finished replication(s) kept" in extended.stderr
    new = [p for p in chunk_files(grown) if p.name not in old]
    numbers = sorted(n for p in new for n in chunk_numbers(p))
    print(f"chunks before: {old}, added: {[p.name for p in new]}")
    assert numbers == list(range(4, 10)), "only the missing replications ran"
    for name, state in first.items():
        if re.search(r"r\d{6}-r\d{6}\.parquet$", name):
            assert snapshot(grown)[name] == state, f"{name} was rewritten"
    from_scratch = ok(*args, "-n", "10", "--out", fresh)
    assert json.loads(extended.stdout) == json.loads(from_scratch.stdout)
    a, b = results.load(grown), results.load(fresh)
    assert a.manifest["replications"] == 10
    assert a.manifest["complete"] is True
    assert a.replications["replication"].tolist() == list(range(10))
    assert_same_rows("replications", a.replications, b.replications)
    assert_same_rows("weekly", a.weekly, b.weekly)
    assert_same_rows("leads", a.table("leads"), b.table("leads"))
    assert_same_rows("summary", a.summary, b.summary)
    assert_every_chunk_whole(grown)


def test_resume_replaces_the_leftovers_of_an_unfinished_chunk(tmp_path: Path) -> None:
    damaged, fresh = tmp_path / "damaged", tmp_path / "fresh"
    args = ["run", ERLANG_C, *SHORT, "-n", "8", "-w", "1", "--seed", "4"]
    ok(*args, "--out", damaged)
    ok(*args, "--out", fresh)
    # killed between a chunk's files: its series and records are there, its metrics are not
    lost = chunk_files(damaged)[1]  # a chunk in the middle of the run
    left = [r for r in range(8) if r not in chunk_numbers(lost)]
    lost.unlink()
    stray = [damaged / "leads" / lost.parent.name / ".x.tmp", damaged / ".manifest.json.y.tmp"]
    for path in stray:
        path.write_bytes(b"half a file")
    # loading the damaged run shows only the finished replications, in every table
    partial = results.load(damaged)
    print(sorted(partial.replications["replication"]), sorted(set(partial.weekly["replication"])))
    assert partial.replications["replication"].tolist() == left
    assert sorted(set(partial.weekly["replication"])) == left
    assert sorted(set(partial.table("leads")["replication"])) == left

    resumed = ok(*args, "--out", damaged, "--resume")
    print(resumed.stderr)
    assert f"resumed: {len(left)} finished replication(s) kept" in resumed.stderr
    assert not any(path.exists() for path in stray)
    assert_every_chunk_whole(damaged)
    a, b = results.load(damaged), results.load(fresh)
    for table in ("replications", "weekly", "by_source", "by_team", "leads", "queue"):
        got, expected = a.table(table), b.table(table)
        keys = ["replication", "week"] if table == "weekly" else ["replication"]
        counts = got.drop_duplicates(keys).groupby("replication").size()
        assert counts.index.tolist() == list(range(8)), table
        assert_same_rows(table, got, expected)


def test_a_resume_without_options_finishes_what_the_run_was_asked(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    ok("run", ERLANG_C, *SHORT, "-n", "4", "-w", "1", "--out", folder)
    lost = chunk_files(folder)[1]
    lost.unlink()
    # no -n: the run's own 4, not the command's default 10
    resumed = ok("run", ERLANG_C, *SHORT, "-w", "1", "--out", folder, "--resume", "--json")
    print(resumed.stderr)
    assert json.loads(resumed.stdout)["replications"] == 4
    manifest = results.load(folder).manifest
    assert manifest["replications"] == 4
    assert manifest["requested"] == {
        "replications": 4,
        "target_halfwidth": None,
        "max_replications": 1000,
    }
    assert results.load(folder).replications["replication"].tolist() == [0, 1, 2, 3]


def test_a_resume_keeps_the_precision_target(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    target = ["--target-halfwidth", "leads=0.001", "--max-replications", "5"]
    ok("run", ERLANG_C, *SHORT, "-n", "3", "-w", "1", "--out", folder, *target)
    assert results.load(folder).manifest["replications"] == 5  # the cap, since 0.001 is not met
    (folder / "replications").joinpath(
        results.load(folder).manifest["scenarios"][0]["key"], "r000004-r000004.parquet"
    ).unlink()
    resumed = ok("run", ERLANG_C, *SHORT, "-w", "1", "--out", folder, "--resume", "--json")
    assert json.loads(resumed.stdout)["replications"] == 5
    assert "after 5 replications (the cap)" in resumed.stderr


def test_a_resumed_precision_run_refills_every_lost_replication(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    args = ["compare", ERLANG_C, ERLANG_A, *SHORT, "-w", "1", "--out", folder, "--json"]
    grown = json.loads(
        ok(*args, "-n", "3", "--target-halfwidth", "first_touch_wait_mean_h=0.1").stdout
    )
    n = grown["replications"]
    before = results.load(folder).replications
    print(f"grew from 3 to {n} replications")
    assert n > 3
    # lose the last chunk of the second scenario: the first still has replication n - 1
    last = chunk_files(folder)[-1]
    assert last.parent.name.startswith("1-")
    assert chunk_numbers(last)[-1] == n - 1
    last.unlink()
    resumed = json.loads(ok(*args, "--resume").stdout)
    assert resumed == grown
    assert_same_rows("replications", results.load(folder).replications, before)


# -- resuming after SIGKILL ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[results.Results, Any]:
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    printed = json.loads(ok("run", *KILLED, "-w", "2", "--out", out).stdout)
    return results.load(out), printed


def kill_halfway(folder: Path, workers: int, chunks: int) -> list[str]:
    """Start the run, SIGKILL it once some but not all chunks are finished; their names.

    A run that finishes before the kill (a loaded machine's scheduling) is started again in a
    fresh folder.
    """
    for attempt in range(5):
        out = folder / f"attempt-{attempt}"
        command = [str(FUNNELSIM), "run", *KILLED, "-w", str(workers), "--out", str(out)]
        with (folder / f"attempt-{attempt}.err").open("w") as stderr:
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )
        try:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if 1 <= len(chunk_files(out)) < chunks:
                    os.kill(process.pid, signal.SIGKILL)
                    break
                time.sleep(0.005)
            returncode = process.wait(timeout=30)
        finally:
            # the pool's workers and server, in the killed process's session
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        finished = [p.name for p in chunk_files(out)]
        print(f"attempt {attempt}: exit {returncode}, chunks finished at the kill: {finished}")
        if returncode == -signal.SIGKILL and 1 <= len(finished) < chunks:
            assert not (out / "summary.csv").exists()
            assert json.loads((out / "manifest.json").read_text())["complete"] is False
            out.rename(folder / "killed")
            return finished
        assert returncode in (0, -signal.SIGKILL), (folder / f"attempt-{attempt}.err").read_text()
    pytest.fail("the run was never killed halfway in five attempts")


@pytest.mark.slow  # real processes, killed and resumed: several seconds each
@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_killed_with_sigkill_resumes_to_the_same_numbers(
    workers: int,
    tmp_path: Path,
    uninterrupted: tuple[results.Results, Any],
) -> None:
    killed = tmp_path / "killed"
    chunks = len(Runner([load_scenario(KILLED[0])], 0, slots=Slots(None, workers)).plan(16))
    finished = kill_halfway(tmp_path, workers, chunks)
    kept = {
        name: state for name, state in snapshot(killed).items() if name.endswith(tuple(finished))
    }
    command = [str(FUNNELSIM), "run", *KILLED, "-w", str(workers), "--out", str(killed)]
    resumed = subprocess.run(
        [*command, "--resume"], capture_output=True, text=True, timeout=120, check=False
    )
    print(resumed.stderr)
    assert resumed.returncode == 0, resumed.stderr
    kept_count = sum(len(chunk_numbers(Path(name))) for name in finished)
    assert f"resumed: {kept_count} finished replication(s) kept" in resumed.stderr
    after = snapshot(killed)
    assert {name: after[name] for name in kept} == kept, "finished chunks are never rewritten"

    reference, printed = uninterrupted
    assert json.loads(resumed.stdout) == printed
    stored = results.load(killed)
    numbers = stored.replications["replication"].tolist()
    print(f"replications after resuming: {numbers}")
    assert numbers == list(range(16)), "each replication exactly once"
    assert stored.manifest["complete"] is True
    assert stored.manifest["replications"] == 16
    assert_same_rows("replications", stored.replications, reference.replications)
    assert_same_rows("weekly", stored.weekly, reference.weekly)
    assert_same_rows("summary", stored.summary, reference.summary)
    assert_same_rows("leads", stored.table("leads"), reference.table("leads"))
    assert_every_chunk_whole(killed)


@pytest.mark.parametrize(
    ("command", "found", "message"),
    [
        (["query", "{}", "SELECT 1"], 1, "results folder format 1, written by an older funnelsim"),
        (["report", "{}"], 1, "results folder format 1, written by an older funnelsim"),
        (["run", ERLANG_C, *SHORT, "--out", "{}", "--resume"], 1, "format 1, written by an older"),
        (["query", "{}", "SELECT 1"], 99, "format 99, newer than this funnelsim reads"),
    ],
    ids=["query-old", "report-old", "resume-old", "query-newer"],
)
def test_a_folder_of_another_format_is_refused_clearly(
    command: list[str], found: int, message: str, small_run: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "other"
    shutil.copytree(small_run, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format": found}))
    before = snapshot(folder)
    result = invoke(*(str(folder) if part == "{}" else part for part in command))
    print(result.stderr)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert "docs/results.md#format-versions" in result.stderr or found > 2
    assert "Traceback" not in result.output
    assert snapshot(folder) == before


@pytest.mark.slow  # a real process with two workers, stopped halfway
def test_sigterm_ends_a_run_as_ctrl_c_does_and_leaves_no_process(tmp_path: Path) -> None:
    """A job scheduler stops a run with SIGTERM, sent to the main process only: it exits 143
    with the resume hint, its pool's workers and server go with it, and the run resumes."""
    for attempt in range(5):
        out = tmp_path / f"attempt-{attempt}"
        command = [str(FUNNELSIM), "run", *KILLED, "-w", "2", "--out", str(out)]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if chunk_files(out):
                process.send_signal(signal.SIGTERM)
                break
            time.sleep(0.005)
        _, stderr = process.communicate(timeout=60)
        if process.returncode == 0:
            continue  # finished before the signal: try again
        print(stderr)
        assert process.returncode == 143, stderr
        assert "add --resume to finish the run" in stderr
        assert "Traceback" not in stderr
        assert "leaked semaphore" not in stderr  # the pool's queues were let go of, not leaked
        # nothing of the run is left in its session: no worker, no pool server
        left = time.monotonic() + 15
        while time.monotonic() < left:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("processes of the stopped run were still alive 15 s after it exited")
        resumed = ok("run", "--out", out, "--resume", "-w", "1", *KILLED)
        assert "finished replication(s) kept" in resumed.stderr
        assert len(results.load(out).replications) == 16
        return
    pytest.fail("the run finished before SIGTERM in five attempts")
