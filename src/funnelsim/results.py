"""Reading results folders back: pandas DataFrames for notebooks, DuckDB SQL for analysts.

```python
from funnelsim import results
r = results.load("reports/demo")
r.replications.groupby("scenario")["sqls"].describe()
```

``funnelsim query FOLDER [FOLDER ...] "SQL"`` runs SQL over the same tables, named as the
store's folders (``replications``, ``weekly``, ``daily``, ``leads``, ``handoffs``, ``tasks``,
``queue``) and files (``summary``, ``differences``), each with a ``folder`` column when several
folders are queried together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from funnelsim.errors import StoreError, UsageError
from funnelsim.store import MANIFEST, RECORDS, SERIES, read_manifest

TABLES = ("replications", *SERIES, *RECORDS)
FILES = ("summary", "differences")


@dataclass
class Results:
    """One results folder as DataFrames; per-lead records are read when first asked for."""

    folder: Path
    manifest: dict[str, Any]
    replications: pd.DataFrame
    weekly: pd.DataFrame
    summary: pd.DataFrame
    differences: pd.DataFrame
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def table(self, name: str) -> pd.DataFrame:
        """Any stored table by name: ``leads``, ``handoffs``, ``tasks``, ``queue``, ``daily``..."""
        if name not in TABLES:
            raise KeyError(f"no table {name!r}: expected one of {', '.join(TABLES)}")
        if name not in self._tables:
            self._tables[name] = _in_run_order(_read_table(self.folder, name), self.manifest)
        return self._tables[name]


def _folder(path: str | Path) -> Path:
    folder = Path(path)
    if not (folder / MANIFEST).is_file():
        raise StoreError(f"{folder}: not a funnelsim results folder (no {MANIFEST})")
    read_manifest(folder / MANIFEST)  # a format this funnelsim reads
    return folder


def _finished_files(folder: Path, name: str) -> list[Path]:
    """A table's chunk files, of finished chunks only: those whose metrics file exists (an
    interrupted chunk's series and records are leftovers, deleted on resuming)."""
    files = sorted((folder / name).glob("*/*.parquet"))
    if name == "replications":
        return files
    return [f for f in files if (folder / "replications" / f.parent.name / f.name).is_file()]


def _read_table(folder: Path, name: str) -> pd.DataFrame:
    files = _finished_files(folder, name)
    if not files:
        return pd.DataFrame()
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    order = [c for c in ("scenario", "replication", "week", "day") if c in frame.columns]
    return frame.sort_values(order, kind="stable", ignore_index=True)


def _in_run_order(frame: pd.DataFrame, manifest: dict[str, Any]) -> pd.DataFrame:
    """Scenarios in the order the run gave them (a stable sort keeps replication order)."""
    if frame.empty or "scenario" not in frame.columns:
        return frame
    order = {s["name"]: i for i, s in enumerate(manifest["scenarios"])}
    rank = frame["scenario"].map(order)
    return (
        frame.assign(_rank=rank)
        .sort_values("_rank", kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def load(path: str | Path) -> Results:
    """A results folder written by ``run``, ``compare`` or ``study`` with ``--out``.

    Rows come sorted by scenario (in the run's order) and replication; an unfinished run loads
    too, with the replications it has finished.
    """
    folder = _folder(path)
    manifest = read_manifest(folder / MANIFEST)
    return Results(
        folder=folder,
        manifest=manifest,
        replications=_in_run_order(_read_table(folder, "replications"), manifest),
        weekly=_in_run_order(_read_table(folder, "weekly"), manifest),
        summary=_read_csv(folder / "summary.csv"),
        differences=_read_csv(folder / "differences.csv"),
    )


def query(folders: list[Path], sql: str) -> pd.DataFrame:
    """Run DuckDB SQL over the tables of one or more results folders.

    A folder that is not a results folder is a StoreError; SQL DuckDB refuses is a UsageError
    carrying DuckDB's own message (which says where the statement went wrong).
    """
    import duckdb  # only when querying

    checked = [_folder(f) for f in folders]
    connection = duckdb.connect()
    try:
        for name in (*TABLES, *FILES):
            sources = []
            for folder in checked:
                if name in FILES:
                    path = folder / f"{name}.csv"
                    if path.is_file():
                        sources.append(
                            f"SELECT {_literal(folder)} AS folder, * FROM "
                            f"read_csv_auto({_literal(path)})"
                        )
                elif files := _finished_files(folder, name):
                    listed = ", ".join(_literal(f) for f in files)  # no glob: paths as they are
                    sources.append(
                        f"SELECT {_literal(folder)} AS folder, * FROM "
                        f"read_parquet([{listed}], union_by_name = true)"
                    )
            if sources:
                union = " UNION ALL BY NAME ".join(sources)
                connection.execute(f"CREATE VIEW {name} AS {union}")
        try:
            return connection.execute(sql).df()
        except duckdb.Error as error:
            raise UsageError(str(error), "SQL") from None
    finally:
        connection.close()


def _literal(value: object) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"
