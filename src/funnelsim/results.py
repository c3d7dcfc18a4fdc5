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

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from funnelsim.errors import StoreError, UsageError
from funnelsim.store import (
    CHUNKS,
    MANIFEST,
    RECORDS,
    SERIES,
    check_file,
    read_chunk,
    read_manifest,
)

TABLES = ("replications", *SERIES, *RECORDS)
FILES = ("summary", "differences", "sensitivity")  # CSVs beside the tables (sensitivity's: one
# row per input, written by ``funnelsim sensitivity --out``)


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
            self._tables[name] = _in_run_order(
                _read_table(self.folder, name, self.manifest), self.manifest
            )
        return self._tables[name]


def _folder(path: str | Path) -> Path:
    folder = Path(path)
    if not (folder / MANIFEST).is_file():
        raise StoreError(f"{folder}: not a funnelsim results folder (no {MANIFEST})")
    read_manifest(folder / MANIFEST)  # a format this funnelsim reads
    return folder


def _finished_files(folder: Path, name: str, manifest: dict[str, Any]) -> list[Path]:
    """A table's chunk files, of finished chunks only: those whose metrics file exists (an
    interrupted chunk's series and records are leftovers, deleted on resuming). Each is
    checked against the manifest's record (size, SHA-256): a StoreError names a damaged or
    missing one."""
    files = sorted((folder / name).glob("*/*.parquet"))
    if name != "replications":
        files = [f for f in files if (folder / "replications" / f.parent.name / f.name).is_file()]
    recorded = {
        folder / path
        for path in manifest.get(CHUNKS) or {}
        if path.startswith(f"{name}/")
        and (folder / "replications" / Path(path).relative_to(name)).is_file()
    }
    for path in sorted(recorded | set(files)):
        check_file(folder, manifest, path)
    return files


def _read_table(folder: Path, name: str, manifest: dict[str, Any]) -> pd.DataFrame:
    files = _finished_files(folder, name, manifest)
    if not files:
        return pd.DataFrame()
    frame = pd.concat([read_chunk(f) for f in files], ignore_index=True)
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
    if not path.is_file():
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except Exception as error:  # truncated, empty or garbage: pandas' parser errors
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StoreError(f"{path}: damaged, cannot be read ({reason})") from None


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
        replications=_in_run_order(_read_table(folder, "replications", manifest), manifest),
        weekly=_in_run_order(_read_table(folder, "weekly", manifest), manifest),
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
    manifests = {folder: read_manifest(folder / MANIFEST) for folder in checked}
    connection = duckdb.connect(":memory:")
    try:
        statements = _statements(connection, sql, duckdb)
        readable: list[str] = []  # the only files the query may read: the folders' tables
        for name in (*TABLES, *FILES):
            sources = []
            for folder in checked:
                if name in FILES:
                    path = folder / f"{name}.csv"
                    if path.is_file():
                        readable.append(os.path.abspath(path))
                        sources.append(
                            f"SELECT {_literal(folder)} AS folder, * FROM "
                            f"read_csv_auto({_literal(readable[-1])})"
                        )
                elif files := _finished_files(folder, name, manifests[folder]):
                    absolute = [os.path.abspath(f) for f in files]
                    readable += absolute
                    listed = ", ".join(_literal(f) for f in absolute)  # no glob: paths as they are
                    sources.append(
                        f"SELECT {_literal(folder)} AS folder, * FROM "
                        f"read_parquet([{listed}], union_by_name = true)"
                    )
            if sources:
                union = " UNION ALL BY NAME ".join(sources)
                connection.execute(f"CREATE VIEW {name} AS {union}")
        # from here on: no file but the tables', no extension, no change of these settings
        connection.execute(f"SET allowed_paths = [{', '.join(map(_literal, readable))}]")
        connection.execute("SET allowed_directories = []")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET autoload_known_extensions = false")
        connection.execute("SET autoinstall_known_extensions = false")
        connection.execute("SET lock_configuration = true")
        try:
            return connection.execute(statements).df()
        except duckdb.Error as error:
            raise UsageError(_sql_message(str(error)), "SQL") from None
    finally:
        connection.close()


READ_ONLY = "funnelsim query only reads the folders' tables"


def _statements(connection: Any, sql: str, duckdb: Any) -> str:
    """``sql`` if it is one statement that only reads (a SELECT, WITH, FROM, VALUES, DESCRIBE,
    SUMMARIZE...); else a UsageError. COPY, ATTACH, CREATE, INSERT, EXPORT, INSTALL, LOAD, SET,
    PRAGMA and CALL are refused before anything runs."""
    try:
        parsed = connection.extract_statements(sql)
    except duckdb.Error as error:
        raise UsageError(str(error), "SQL") from None
    if len(parsed) != 1:
        raise UsageError(f"expected one SQL statement, got {len(parsed)}", "SQL")
    kind = str(parsed[0].type).rsplit(".", 1)[-1]
    if kind != "SELECT":
        raise UsageError(
            f"{kind} statement refused: {READ_ONLY} (a SELECT, WITH ... SELECT, FROM, "
            "DESCRIBE or SUMMARIZE); nothing was run",
            "SQL",
        )
    return sql


def _sql_message(message: str) -> str:
    """DuckDB's message, with what a refused file access means here."""
    if "disabled by configuration" in message or "configuration has been locked" in message:
        return f"{message}\n{READ_ONLY}: no other file, no extension, no change of settings"
    return message


def _literal(value: object) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"
