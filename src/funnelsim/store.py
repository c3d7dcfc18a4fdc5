"""Results on disk: the resolved scenario, metrics, per-lead and per-task records, weekly series.

Files are written to a temporary name and renamed into place, so a reader never sees half a
file. Tables are Parquet (records, series) and CSV (per-replication metrics).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from funnelsim.experiment import Batch
from funnelsim.metrics import weekly
from funnelsim.model.population import KINDS
from funnelsim.records import OUTCOMES, TASK_KINDS, TEAMS, RunRecords


def lead_frame(records: RunRecords) -> pd.DataFrame:
    """Per-lead records of one replication as a DataFrame, with outcome and measured flag."""
    frame = pd.DataFrame(records.leads.columns())
    frame.insert(0, "replication", records.replication)
    frame["source"] = pd.Categorical.from_codes(
        records.leads.source, categories=pd.Index(records.source_names)
    )
    frame["outcome"] = pd.Categorical.from_codes(
        records.leads.outcome, categories=pd.Index(OUTCOMES)
    )
    frame["kind"] = pd.Categorical.from_codes(records.leads.kind, categories=pd.Index(KINDS))
    frame["segment"] = pd.Categorical.from_codes(
        records.leads.segment, categories=pd.Index(records.segment_names)
    )
    frame["measured"] = (frame["arrival_h"] >= records.window[0]) & (
        frame["arrival_h"] < records.window[1]
    )
    return frame


def handoff_frame(records: RunRecords) -> pd.DataFrame:
    """Every handoff to sales of one replication, with its first touch and SLA outcome."""
    frame = pd.DataFrame(records.handoffs.columns())
    frame.insert(0, "replication", records.replication)
    return frame


def task_frame(records: RunRecords) -> pd.DataFrame:
    """Every piece of rep work of one replication."""
    tasks = records.tasks
    frame = pd.DataFrame(
        {f: getattr(tasks, f) for f in ("rep", "lead", "start_h", "end_h", "start_b", "end_b")}
    )
    frame.insert(0, "replication", records.replication)
    frame["team"] = pd.Categorical.from_codes(tasks.team, categories=pd.Index(TEAMS))
    frame["kind"] = pd.Categorical.from_codes(tasks.kind, categories=pd.Index(TASK_KINDS))
    return frame


def weekly_frame(records: RunRecords) -> pd.DataFrame:
    """Week-by-week stage counts, queue length and utilisation of one replication."""
    frame = pd.DataFrame(weekly(records))
    frame.insert(0, "replication", records.replication)
    frame.insert(1, "week", range(1, len(frame) + 1))
    return frame


def queue_frame(records: RunRecords) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "replication": records.replication,
            "time_h": records.queue.times,
            "waiting": records.queue.levels,
        }
    )


def _parquet(
    path: Path, frame: Callable[[RunRecords], pd.DataFrame], records: list[RunRecords]
) -> None:
    pd.concat([frame(r) for r in records]).to_parquet(path, index=False)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_run(folder: Path, batch: Batch) -> list[Path]:
    """Write a run's results into ``folder`` (created if needed); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    scenario = batch.scenario.model_dump(mode="json", exclude_none=True)
    written: list[tuple[str, Callable[[Path], None]]] = [
        (
            "scenario.yaml",
            lambda p: _write_text(p, yaml.safe_dump(scenario, sort_keys=False)),
        ),
        (
            "summary.json",
            lambda p: _write_text(p, json.dumps(batch.as_json(), indent=2)),
        ),
        (
            "replications.csv",
            lambda p: pd.DataFrame(batch.metrics).rename_axis("replication").to_csv(p),
        ),
    ]
    tables: dict[str, Callable[[RunRecords], pd.DataFrame]] = {
        "leads.parquet": lead_frame,
        "handoffs.parquet": handoff_frame,
        "tasks.parquet": task_frame,
        "queue.parquet": queue_frame,
        "weekly.parquet": weekly_frame,
    }
    if batch.records:
        written += [
            (name, lambda p, frame=frame: _parquet(p, frame, batch.records))  # type: ignore[misc]
            for name, frame in tables.items()
        ]
    paths = []
    for name, write in written:
        path = folder / name
        _atomic(path, write)
        paths.append(path)
    return paths
