"""Results folders against hostile or unlucky use: ``query`` only reads, ``report`` escapes the
names it shows, one writer per folder, and folders that cannot be written or read are clear
errors (exit 2), never tracebacks or half-written files.

Runs are short (Erlang C cut to 5 days after a 1-day warm-up); the lock tests start real
``funnelsim`` processes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from funnelsim import experiment
from funnelsim.scenario.load import load_scenario
from funnelsim.store import LOCK, FolderLock, Store
from helpers import SCENARIOS, assert_refused, invoke, ok, snapshot

ERLANG_C = SCENARIOS / "validation" / "erlang-c.yaml"
SHORT = ["--set", "horizon=5d", "--set", "warmup=1d"]
FUNNELSIM = Path(sys.executable).parent / "funnelsim"


def refused(*args: str | Path, saying: str) -> str:
    """The command exits 2 with a message matching ``saying``, and no traceback."""
    result = invoke(*args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert re.search(saying, result.output, re.S), result.output
    return result.output


def temporary_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tmp"))


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("query") / "run"
    ok("run", ERLANG_C, *SHORT, "-n", "3", "--out", folder)
    return folder


# -- 14: query only reads the folder's tables ----------------------------------------------------
def test_ordinary_queries_still_read_the_tables(stored: Path) -> None:
    out = ok("query", stored, "--json", "SELECT count(*) AS n FROM replications").stdout
    assert json.loads(out) == [{"n": 3}]
    joined = ok(
        "query",
        stored,
        "--csv",
        "WITH r AS (SELECT scenario, avg(sqls) AS sqls FROM replications GROUP BY scenario) "
        "SELECT r.scenario, s.mean FROM r JOIN summary s ON s.scenario = r.scenario "
        "WHERE s.metric = 'sqls'",
    ).stdout
    assert "Erlang C check" in joined
    ok("query", stored, "DESCRIBE replications")
    ok("query", stored, "FROM weekly SELECT count(*)")


REFUSED = {
    "copy over a chunk": "COPY (SELECT 1 AS x) TO '{chunk}' (FORMAT parquet)",
    "copy over the manifest": "COPY replications TO '{folder}/manifest.json' (FORMAT json)",
    "copy elsewhere": "COPY replications TO '{outside}/copied.csv'",
    "attach": "ATTACH '{outside}/attached.duckdb' AS other",
    "create table": "CREATE TABLE made AS SELECT 1 AS x",
    "export database": "EXPORT DATABASE '{outside}/exported'",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "read_csv outside": "SELECT * FROM read_csv('{outside}/secret.csv')",
    "read_parquet outside": "SELECT * FROM read_parquet('{outside}/secret.parquet')",
    "read the manifest": "SELECT * FROM read_text('{folder}/manifest.json')",
    "set to unlock": "SET enable_external_access = true",
    "unlock the settings": "SET lock_configuration = false",
    "reset": "RESET enable_external_access",
    "a read then a write": "SELECT 1; COPY replications TO '{outside}/copied.csv'",
    "pragma": "PRAGMA enable_profiling",
    "call": "CALL duckdb_settings()",
}


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_query_refuses_whatever_is_not_a_read_of_the_tables(
    stored: Path, tmp_path: Path, sql: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("password\nhunter2\n")
    pd.DataFrame({"password": ["hunter2"]}).to_parquet(outside / "secret.parquet")
    chunk = sorted((stored / "replications").glob("*/*.parquet"))[0]
    statement = sql.format(folder=stored, outside=outside, chunk=chunk)
    before, outside_before = snapshot(stored), snapshot(outside)
    message = refused(
        "query", stored, statement, saying=r"SQL: .*(refused|only reads|one SQL statement)"
    )
    assert "hunter2" not in message
    assert snapshot(stored) == before
    assert snapshot(outside) == outside_before
    ok("query", stored, "SELECT count(*) FROM replications")  # the folder still reads


# -- 15: the report escapes the names it shows ---------------------------------------------------
HOSTILE = [
    "Alpha <script>alert(1)</script> | col | col",
    "Beta\n# Injected heading\n| forged | row | here |",
    "Gamma ![img](http://example.com/x.png) $\\undefinedmacro{$ *bold* `code`",
]
CELL = re.compile(r"(?<!\\)\|")  # a table cell boundary: a pipe not escaped


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    files = []
    for i, name in enumerate(HOSTILE):
        data = yaml.safe_load(ERLANG_C.read_text())
        data["name"] = name
        file = base / f"plan-{i}.yaml"
        file.write_text(yaml.safe_dump(data))
        files.append(file)
    folder = base / "out"
    ok("compare", *files, *SHORT, "-n", "2", "--out", folder)
    ok("report", folder)
    return folder / "report" / "report.md"


def test_report_escapes_html(hostile_report: Path) -> None:
    text = hostile_report.read_text()
    assert "<script" not in text.lower()
    assert "&lt;script&gt;" in text


def test_report_names_add_no_heading_row_or_column(hostile_report: Path) -> None:
    lines = hostile_report.read_text().splitlines()
    assert [line for line in lines if line.startswith("# ")] == [lines[0]]  # the title only
    assert not any(re.match(r"\s*#+\s*Injected", line) for line in lines)
    assert "$\\undefinedmacro" not in "\n".join(lines)  # no math for renderers that do it
    assert not any(line.startswith("| forged") for line in lines)
    # every table row has its header's number of cells
    tables: list[list[str]] = []
    previous = ""
    for line in lines:
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
        previous = line
    assert tables
    for table in tables:
        widths = {len(CELL.findall(row)) for row in table}
        assert len(widths) == 1, table


def test_report_embeds_no_remote_image(hostile_report: Path) -> None:
    text = hostile_report.read_text()
    images = re.findall(r"(?<!\\)!\[((?:[^\]\\]|\\.)*)\]\(([^)]*)\)", text)
    assert images
    for _, target in images:
        assert re.fullmatch(r"[a-z0-9-]+\.png", target), target
    assert "\\!\\[img\\]" in text  # the name is shown, as text


def test_report_charts_show_names_as_text(hostile_report: Path) -> None:
    charts = sorted(hostile_report.parent.glob("*.png"))
    assert any(p.name.startswith("weekly-") for p in charts)
    assert any(p.name.startswith("differences-") for p in charts)
    assert any(p.name.startswith("points-") for p in charts)


# -- 11: one writer per folder ----------------------------------------------------------------
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from funnelsim.store import FolderLock
    lock = FolderLock.acquire(Path(sys.argv[1]))
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes it
    lock.release()
    """
)


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    ok("run", ERLANG_C, *SHORT, "-n", "2", "--out", folder)
    before = snapshot(folder)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        saying = rf"another funnelsim is writing .*process {holder.pid} on "
        refused("run", ERLANG_C, *SHORT, "-n", "4", "--out", folder, "--resume", saying=saying)
        refused("run", ERLANG_C, *SHORT, "-n", "2", "--out", folder, saying=saying)
        fresh = tmp_path / "fresh"
        holder_of_fresh = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(fresh)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder_of_fresh.stdout is not None
            assert holder_of_fresh.stdout.readline().strip() == "locked"
            refused("run", ERLANG_C, *SHORT, "-n", "2", "--out", fresh, saying="another")
        finally:
            holder_of_fresh.communicate("")
    finally:
        holder.communicate("")
    after = snapshot(folder)
    after.pop(LOCK, None)
    assert {k: v for k, v in before.items() if k != LOCK} == after
    # released: the run resumes
    ok("run", ERLANG_C, *SHORT, "-n", "4", "--out", folder, "--resume")
    assert not (folder / LOCK).exists()


@pytest.mark.slow
def test_concurrent_runs_and_resumes_leave_one_consistent_run(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    command = [str(FUNNELSIM), "run", str(ERLANG_C), *SHORT, "-n", "6", "--out", str(folder)]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = [(p.wait(timeout=120), p.communicate()[1]) for p in processes]
    assert sorted(code for code, _ in outcomes) == [0, 2], outcomes
    assert all("Traceback" not in err for _, err in outcomes)
    resumes = [
        subprocess.Popen(
            [*command[:-4], "-n", "12", "--out", str(folder), "--resume"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in resumes:
        code = process.wait(timeout=120)
        err = process.communicate()[1]
        assert "Traceback" not in err
        assert code in (0, 2), err
        if code == 2:
            assert "another funnelsim is writing" in err
    rows = pd.read_parquet(folder / "replications")
    assert not rows.duplicated(["scenario", "replication"]).any()
    assert sorted(rows["replication"]) == list(range(12))
    assert not (folder / LOCK).exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"pid": dead.pid, "host": os.uname().nodename, "since": "2026-01-01T00:00:00+00:00"}
    (folder / LOCK).write_text(json.dumps(stale))
    ok("run", ERLANG_C, *SHORT, "-n", "2", "--out", folder)
    assert not (folder / LOCK).exists()


def test_the_lock_is_released_on_error_and_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "run"
    scenario = load_scenario(ERLANG_C, ["horizon=5d", "warmup=1d"])

    def interrupted(self: Store, chunk: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Store, "write_chunk", interrupted)
        with pytest.raises(KeyboardInterrupt):
            experiment.run([scenario], 2, out=folder)
    assert not (folder / LOCK).exists()

    def failing(self: Store, chunk: object) -> None:
        raise RuntimeError("boom")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "write_chunk", failing)
        with pytest.raises(RuntimeError):
            experiment.run([scenario], 2, out=folder, resume=True)
    assert not (folder / LOCK).exists()
    experiment.run([scenario], 2, out=folder, resume=True)
    assert not (folder / LOCK).exists()


# -- 12: folders that cannot be written -------------------------------------------------------
def test_out_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("not a folder\n")
    refused("run", ERLANG_C, *SHORT, "--out", file / "sub", saying=r"a-file.*(file|folder)")
    refused("run", ERLANG_C, *SHORT, "--out", file, saying=r"a-file: is a file")
    assert file.read_text() == "not a folder\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        refused("run", ERLANG_C, *SHORT, "--out", parent / "run", saying="Permission denied")
        refused("run", ERLANG_C, *SHORT, "--out", parent, saying="Permission denied")
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


def test_a_file_that_cannot_be_written_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write refused halfway (permissions changed under the run, say): a clear error naming
    the file, and no temporary file left."""
    folder = tmp_path / "run"
    replace = os.replace

    def refusing(src: str, dst: str | Path) -> None:
        if "replications" in str(dst):
            raise PermissionError(13, "Permission denied", str(dst))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", refusing)
    refused("run", ERLANG_C, *SHORT, "-n", "2", "--out", folder, saying="replications.*Permission")
    monkeypatch.undo()
    assert temporary_files(folder) == []
    assert not (folder / LOCK).exists()
    ok("run", ERLANG_C, *SHORT, "-n", "2", "--out", folder, "--resume")


def test_a_report_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    ok("run", ERLANG_C, *SHORT, "-n", "2", "--out", copy)
    (copy / "report").write_text("in the way\n")
    refused("report", copy, saying=r"copy/report: cannot write the report")
    assert temporary_files(copy) == []


# -- 10: damaged folders ------------------------------------------------------------------------
def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES = {
    "truncated": _truncate,
    "zero bytes": lambda path: path.write_bytes(b""),
    "garbage": lambda path: path.write_bytes(b"PAR1 this is not parquet PAR1"),
    "missing": lambda path: path.unlink(),
}


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("intact") / "run"
    ok("run", ERLANG_C, *SHORT, "-n", "4", "--seed", "3", "--out", folder)
    return folder


def _copy(folder: Path, to: Path) -> Path:
    subprocess.run(["cp", "-r", str(folder), str(to)], check=True)
    return to


@pytest.mark.parametrize("table", ["replications", "daily"])
@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_chunk_is_named_and_recomputed_on_resume(
    intact: Path, tmp_path: Path, table: str, damage: object
) -> None:
    folder = _copy(intact, tmp_path / "run")
    assert callable(damage)
    chunk = sorted((folder / table).glob("*/*.parquet"))[0]
    damage(chunk)
    name = re.escape(str(chunk.relative_to(folder)))
    if table == "replications" and not chunk.exists():
        pass  # a missing metrics file is an unfinished chunk: readers skip it
    else:
        table_sql = "replications" if table == "replications" else table
        refused("query", folder, f"SELECT count(*) FROM {table_sql}", saying=name)
        if table == "replications":  # what a report reads (daily and by_source: never)
            refused("report", folder, saying=name)
    ok("run", ERLANG_C, *SHORT, "--out", folder, "--resume")
    assert_equal_tables(intact, folder)
    ok("report", folder)


def assert_equal_tables(expected: Path, got: Path) -> None:
    for table in ("replications", "daily", "by_source", "weekly"):
        want = pd.read_parquet(expected / table).sort_values(["replication"], kind="stable")
        have = pd.read_parquet(got / table).sort_values(["replication"], kind="stable")
        pd.testing.assert_frame_equal(
            want.reset_index(drop=True), have.reset_index(drop=True), check_categorical=False
        )


def _manifest_edit(edit: object) -> object:
    def damage(path: Path) -> None:
        data = json.loads(path.read_text())
        assert callable(edit)
        path.write_text(json.dumps(edit(data)))

    return damage


MANIFEST_DAMAGES = {
    "truncated": _truncate,
    "zero bytes": lambda path: path.write_bytes(b""),
    "a list": lambda path: path.write_text("[1, 2]"),
    "scenarios removed": _manifest_edit(lambda d: {k: v for k, v in d.items() if k != "scenarios"}),
    "seed removed": _manifest_edit(lambda d: {k: v for k, v in d.items() if k != "seed"}),
    "scenarios a string": _manifest_edit(lambda d: {**d, "scenarios": "x"}),
    "seed a string": _manifest_edit(lambda d: {**d, "seed": "x"}),
    "a scenario a number": _manifest_edit(lambda d: {**d, "scenarios": [1]}),
    "chunks a list": _manifest_edit(lambda d: {**d, "chunks": [1]}),
}


@pytest.mark.parametrize("damage", MANIFEST_DAMAGES.values(), ids=MANIFEST_DAMAGES.keys())
def test_a_damaged_manifest_is_named(intact: Path, tmp_path: Path, damage: object) -> None:
    folder = _copy(intact, tmp_path / "run")
    assert callable(damage)
    damage(folder / "manifest.json")
    refused("query", folder, "SELECT count(*) FROM replications", saying="manifest.json")
    refused("report", folder, saying="manifest.json")
    refused("run", ERLANG_C, *SHORT, "--out", folder, "--resume", saying="manifest.json")


def test_a_damaged_summary_is_named(intact: Path, tmp_path: Path) -> None:
    folder = _copy(intact, tmp_path / "run")
    (folder / "summary.csv").write_bytes(b"")
    refused("report", folder, saying="summary.csv")


def test_a_resume_records_chunks_a_killed_run_did_not(intact: Path, tmp_path: Path) -> None:
    """A run killed between a chunk's last file and the manifest's record of it: the resume
    reads the chunk (it is whole), keeps it, and records it."""
    folder = _copy(intact, tmp_path / "run")
    manifest = json.loads((folder / "manifest.json").read_text())
    recorded = dict(manifest["chunks"])
    first = sorted(recorded)[0].rsplit("/", 1)[-1]
    manifest["chunks"] = {k: v for k, v in recorded.items() if not k.endswith(first)}
    manifest["complete"] = False
    (folder / "manifest.json").write_text(json.dumps(manifest))
    ok("run", ERLANG_C, *SHORT, "--out", folder, "--resume")
    assert json.loads((folder / "manifest.json").read_text())["chunks"] == recorded
    assert_equal_tables(intact, folder)


def test_report_waits_for_no_one_and_refuses_a_folder_being_written(tmp_path: Path) -> None:
    """A report reads the folder and writes into it: while a run holds the folder's lock the
    report is refused (nothing written), and it takes the lock itself while it works."""
    folder = tmp_path / "run"
    ok("run", ERLANG_C, *SHORT, "-n", "2", "--out", folder)
    writer = FolderLock.acquire(folder)  # as a run still writing would hold it
    try:
        lines = assert_refused(invoke("report", folder))
        assert "another funnelsim is writing this results folder" in lines[0], lines
        assert not (folder / "report").exists()
    finally:
        writer.release()
    ok("report", folder)
    assert (folder / "report" / "report.md").is_file()
    assert not (folder / LOCK).exists()
