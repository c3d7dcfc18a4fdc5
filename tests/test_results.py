"""Reading results folders back (``funnelsim.results``): tables in the run's order, and
``funnelsim query`` over one folder or several."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from funnelsim import results
from helpers import SCENARIOS, invoke, ok

ERLANG_C = SCENARIOS / "validation" / "erlang-c.yaml"
ERLANG_A = SCENARIOS / "validation" / "erlang-a.yaml"
SHORT = ["--set", "horizon=5d", "--set", "warmup=1d"]


def test_load_orders_rows_by_scenario_then_replication(tmp_path: Path) -> None:
    out = tmp_path / "two"
    # Erlang C first: the run's order is not alphabetical; two workers finish chunks out of order
    ok("run", ERLANG_C, ERLANG_A, *SHORT, "-n", "4", "-w", "2", "--out", out)
    stored = results.load(out)
    order = list(
        zip(stored.replications["scenario"], stored.replications["replication"], strict=True)
    )
    print(order)
    assert order == [(name, r) for name in ("Erlang C check", "Erlang A check") for r in range(4)]
    weeks = stored.weekly.drop_duplicates(["scenario", "replication"])
    assert list(zip(weeks["scenario"], weeks["replication"], strict=True)) == order
    assert list(dict.fromkeys(stored.summary["scenario"])) == ["Erlang C check", "Erlang A check"]
    leads = stored.table("leads")
    assert leads is stored.table("leads"), "read once"
    measured = leads[leads["measured"]].groupby(["scenario", "replication"], sort=False).size()
    print(measured)
    assert list(measured.index) == order
    expected = stored.replications.set_index(["scenario", "replication"])["leads"]
    assert measured.tolist() == expected.loc[measured.index].tolist()
    with pytest.raises(KeyError, match="no table 'lead'"):
        stored.table("lead")


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("query")
    first, second = base / "seed1", base / "seed2"
    ok("run", ERLANG_C, *SHORT, "-n", "3", "-w", "1", "--seed", "1", "--out", first)
    ok("run", ERLANG_C, *SHORT, "-n", "2", "-w", "1", "--seed", "2", "--out", second)
    return first, second


def test_query_one_folder_as_csv(two_folders: tuple[Path, Path]) -> None:
    first, _ = two_folders
    sql = "SELECT replication, leads FROM replications ORDER BY replication"
    result = ok("query", first, sql, "--csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    print(rows)
    expected = results.load(first).replications
    assert [int(r["replication"]) for r in rows] == expected["replication"].tolist()
    assert [float(r["leads"]) for r in rows] == expected["leads"].tolist()
    summary = json.loads(
        ok("query", first, "SELECT mean FROM summary WHERE metric = 'leads'", "--json").stdout
    )
    assert summary == [{"mean": pytest.approx(expected["leads"].mean(), rel=1e-12)}]
    table = ok("query", first, "SELECT count(*) AS n FROM leads WHERE measured")
    assert str(int(expected["leads"].sum())) in table.stdout, table.stdout


def test_query_two_folders_tells_them_apart(two_folders: tuple[Path, Path]) -> None:
    first, second = two_folders
    sql = (
        "SELECT folder, count(*) AS n, avg(leads) AS leads FROM replications "
        "GROUP BY folder ORDER BY n DESC"
    )
    rows = json.loads(ok("query", first, second, sql, "--json").stdout)
    print(rows)
    assert [(r["folder"], r["n"]) for r in rows] == [(str(first), 3), (str(second), 2)]
    for row, folder in zip(rows, two_folders, strict=True):
        expected = results.load(folder).replications["leads"].mean()
        assert row["leads"] == pytest.approx(expected, rel=1e-12)
    assert rows[0]["leads"] != rows[1]["leads"], "two seeds, two samples"
    weeks = json.loads(
        ok("query", first, second, "SELECT DISTINCT folder FROM weekly", "--json").stdout
    )
    assert sorted(w["folder"] for w in weeks) == sorted(map(str, two_folders))


def test_query_refuses_bad_sql_and_other_folders(
    two_folders: tuple[Path, Path], tmp_path: Path
) -> None:
    first, _ = two_folders
    bad = invoke("query", first, "SELEC leads FROM replications")
    print(bad.stderr)
    assert bad.exit_code == 2
    assert bad.stderr.startswith("SQL: "), bad.stderr
    assert "Traceback" not in bad.output
    assert bad.stdout == ""
    missing = invoke("query", first, "SELECT * FROM differences")  # run: no differences.csv
    assert missing.exit_code == 2
    assert missing.stderr.startswith("SQL: "), missing.stderr
    assert "differences" in missing.stderr, "DuckDB names the table it does not know"
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("not a results folder")
    other = invoke("query", first, plain, "SELECT 1")
    print(other.stderr)
    assert other.exit_code == 2
    assert other.stderr.splitlines() == [
        f"{plain}: not a funnelsim results folder (no manifest.json)"
    ]
    alone = invoke("query", "SELECT 1")
    assert alone.exit_code == 2, "no folder"
    assert alone.stderr.startswith("query: expected one or more results folders")
