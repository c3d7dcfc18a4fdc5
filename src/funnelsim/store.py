"""The results store: a run's output folder, written chunk by chunk, resumable.

```
OUT/
  manifest.json                    what ran: scenarios and their hashes, seed, versions
  scenarios/<key>.yaml             each scenario as resolved (re-validates, re-runs)
  replications/<key>/<chunk>.parquet   one row per replication: every metric
  weekly/<key>/<chunk>.parquet     week-by-week series of each replication
  daily/<key>/<chunk>.parquet      day-by-day first-touch queue from hour 0 (warm-up check)
  leads|handoffs|tasks|queue/<key>/<chunk>.parquet   per-lead records (``run --out``)
  by_source|by_segment|by_team|by_wait/<key>/<chunk>.parquet   each replication's funnel by
                                   group (by_wait: first touches by wait band; a folder
                                   written before it has none)
  summary.csv                      each scenario's metrics: mean and 95% CI
  breakdown.csv                    the same by source, segment, team and wait band
  differences.csv                  paired differences from the first scenario (several)
```

``<key>`` is the scenario's place and name (``0-baseline``), ``<chunk>`` the replications it
holds (``r000010-r000019``). Every file is written under a temporary name and renamed into
place, and a chunk's ``replications`` file is written last: a chunk is finished exactly when
that file exists. A run killed at any moment loses at most the chunks in flight; resuming
deletes their leftovers and runs only the replications no finished chunk holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from funnelsim import breakdown
from funnelsim.analysis import Summary, excludes_zero
from funnelsim.breakdown import Key
from funnelsim.errors import StoreError
from funnelsim.metrics import METRICS
from funnelsim.records import Kind, Outcome, RunRecords, TaskKind, Team, labels
from funnelsim.replications import Chunk, Comparison, Replication, Replications, check_names
from funnelsim.scenario.load import SCENARIO_FORMAT
from funnelsim.scenario.ranges import with_ranges
from funnelsim.scenario.schema import Scenario

FORMAT = 2  # 2: subscription economics, per-source tables (by_source, ...), no roi
FORMAT_CHANGES = "docs/results.md#format-versions"
MANIFEST = "manifest.json"
CHUNKS = "chunks"  # in the manifest: each chunk file's size and SHA-256
LOCK = ".funnelsim.lock"  # held by the one process writing the folder
RECORDS = ("leads", "handoffs", "tasks", "queue")
BY = tuple(f"by_{grouping}" for grouping in breakdown.GROUPINGS)  # by_source, ...
SERIES = ("weekly", "daily", *BY)
CHUNK = re.compile(r"^r(\d{6,})-r(\d{6,})\.parquet$")


# -- frames: records and series of one replication as tables ----------------------------------
def lead_frame(records: RunRecords) -> pd.DataFrame:
    """Per-lead records of one replication as a DataFrame, with outcome and measured flag."""
    frame = pd.DataFrame(records.leads.columns())
    frame.insert(0, "replication", records.replication)
    frame["source"] = pd.Categorical.from_codes(
        records.leads.source, categories=pd.Index(records.source_names)
    )
    frame["outcome"] = pd.Categorical.from_codes(
        records.leads.outcome, categories=pd.Index(labels(Outcome))
    )
    frame["kind"] = pd.Categorical.from_codes(records.leads.kind, categories=pd.Index(labels(Kind)))
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
        {
            "rep": tasks.rep.astype(np.int64),  # the results' columns stay 64-bit
            "lead": tasks.lead.astype(np.int64),
            **{f: getattr(tasks, f) for f in ("start_h", "end_h", "start_b", "end_b")},
        }
    )
    frame.insert(0, "replication", records.replication)
    # the team by name (sdr, ae, or a further team), and its role
    names = list(dict.fromkeys(records.sdr_seat_team + records.ae_seat_team))
    first_ae = len(records.sdr_seat_team)
    seat = np.where(tasks.team == Team.AE, tasks.rep + first_ae, tasks.rep)
    of_seat = np.array([names.index(n) for n in records.sdr_seat_team + records.ae_seat_team])
    codes = of_seat[seat] if len(seat) else np.zeros(0, dtype=np.int64)
    frame["team"] = pd.Categorical.from_codes(codes, categories=pd.Index(names))
    frame["role"] = pd.Categorical.from_codes(tasks.team, categories=pd.Index(labels(Team)))
    frame["kind"] = pd.Categorical.from_codes(tasks.kind, categories=pd.Index(labels(TaskKind)))
    return frame


def queue_frame(records: RunRecords) -> pd.DataFrame:
    """The first-touch queue of one replication: its level from each change on."""
    return pd.DataFrame(
        {
            "replication": records.replication,
            "time_h": records.queue.times,
            "waiting": records.queue.levels,
        }
    )


RECORD_FRAMES: dict[str, Callable[[RunRecords], pd.DataFrame]] = {
    "leads": lead_frame,
    "handoffs": handoff_frame,
    "tasks": task_frame,
    "queue": queue_frame,
}


def weekly_frame(replication: Replication) -> pd.DataFrame:
    """Week-by-week stage counts, queue length and utilisation of one replication."""
    assert replication.weekly is not None
    frame = pd.DataFrame(replication.weekly)
    frame.insert(0, "replication", replication.number)
    frame.insert(1, "week", range(1, len(frame) + 1))
    return frame


def by_frame(replication: Replication, grouping: str) -> pd.DataFrame:
    """One replication's funnel by source, segment, team or wait band: a row per group and
    metric."""
    rows = [
        (replication.number, group, metric, value)
        for (by, group, metric), value in replication.breakdown.items()
        if by == grouping
    ]
    return pd.DataFrame(rows, columns=["replication", grouping, "metric", "value"])


def daily_frame(replication: Replication) -> pd.DataFrame:
    frame = pd.DataFrame(replication.daily)
    frame.insert(0, "replication", replication.number)
    frame.insert(1, "day", range(len(frame)))
    return frame


# -- files --------------------------------------------------------------------------------------
def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, renamed into place when complete.

    A file that cannot be written (a read-only folder, a file where a folder should be, a full
    disk) is a StoreError naming it; its temporary file is removed.
    """
    try:
        _atomic_write(path, write)
    except OSError as error:
        raise StoreError(f"{path}: cannot write: {_reason(error)}") from None


def _reason(error: OSError) -> str:
    """An OSError's reason without its repr: ``Permission denied``, ``Not a directory``."""
    reasons = {errno.ENOTDIR: "a file is in the way of a folder"}
    return reasons.get(error.errno or 0, error.strerror or str(error))


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
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


def _write_text(path: Path, text: str) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda p: frame.to_parquet(p, index=False))


def scenario_key(index: int, scenario: Scenario) -> str:
    """A scenario's folder name: its place and a file-safe form of its name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", scenario.name).strip("-") or "scenario"
    return f"{index}-{slug}"


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario: equal hashes, equal simulations for equal seeds."""
    data = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def code_hash() -> str:
    """SHA-256 of funnelsim's source: a run is only resumed by the code that started it."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _chunk_name(numbers: list[int]) -> str:
    return f"r{min(numbers):06d}-r{max(numbers):06d}.parquet"


# -- the lock: one writer per folder ------------------------------------------------------------
@dataclass
class FolderLock:
    """An exclusive lock on a results folder, held by the one process writing it.

    ``FOLDER/.funnelsim.lock`` names its holder (PID, host, since when) and is locked with
    ``flock``, which the system releases when the holder's process ends however it ends: a
    lock file left by a dead process is stale, and the next writer takes it over. A second
    writer while the first lives is refused at once (StoreError).
    """

    path: Path
    fd: int
    created: bool  # the folder was made for this run (removed again if left empty)

    @classmethod
    def acquire(cls, folder: Path) -> FolderLock:
        created = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StoreError(f"{folder}: is a file, not a folder; choose another") from None
        except OSError as error:
            raise StoreError(f"{folder}: cannot create the folder: {_reason(error)}") from None
        if not folder.is_dir():
            raise StoreError(f"{folder}: is a file, not a folder; choose another")
        path = folder / LOCK
        for _ in range(10):  # another process may remove the file between our open and lock
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise StoreError(f"{folder}: cannot write there: {_reason(error)}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                holder = _holder(fd)
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise StoreError(f"{folder}: cannot lock: {_reason(error)}") from None
                raise StoreError(
                    f"{folder}: another funnelsim is writing this results folder ({holder}); "
                    "wait for it to finish, or choose another folder"
                ) from None
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # released and removed by its holder meanwhile: lock the new file
                os.close(fd)
                continue
            me = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(me) + "\n").encode())
            return cls(path, fd, created)
        raise StoreError(f"{folder}: cannot lock: the lock file keeps changing")

    def release(self) -> None:
        """Remove the lock file and unlock; the folder too if made for this run and empty."""
        if self.fd < 0:
            return
        self.path.unlink(missing_ok=True)  # while still holding it (see acquire)
        os.close(self.fd)
        self.fd = -1
        if self.created:
            with contextlib.suppress(OSError):
                self.path.parent.rmdir()  # only if empty


def _holder(fd: int) -> str:
    """Who holds a lock, as its lock file says."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"process {int(data['pid'])} on {data['host']} since {data['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said which yet"


# -- the store ----------------------------------------------------------------------------------
@dataclass
class Store:
    """An output folder being filled by one run (or finished by a resumed one)."""

    folder: Path
    scenarios: list[Scenario]
    seed: int
    records: bool
    manifest: dict[str, Any]
    lock: FolderLock | None = None  # held from open to close

    @property
    def keys(self) -> list[str]:
        return [scenario_key(i, s) for i, s in enumerate(self.scenarios)]

    @classmethod
    def open(
        cls,
        folder: Path,
        scenarios: list[Scenario],
        seed: int | None,
        *,
        command: str,
        records: bool = False,
        resume: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> tuple[Store, list[Replication]]:
        """Start a run in ``folder``, or with ``resume`` pick up the one it holds.

        Returns the store and the replications already finished. A new run needs a folder
        that holds no run yet; a resumed one must be the same scenarios on the same seed,
        run by the same funnelsim code. ``seed`` ``None`` means the scenario's seed, else,
        when resuming, the run's own, else fresh entropy.
        """
        check_names(scenarios)  # every stored row names its scenario
        lock = FolderLock.acquire(folder)
        try:
            store, finished = cls._open(folder, scenarios, seed, command, records, resume, extra)
        except OSError as error:
            lock.release()
            raise StoreError(f"{folder}: cannot use the folder: {_reason(error)}") from None
        except BaseException:
            lock.release()
            raise
        store.lock = lock
        return store, finished

    @classmethod
    def _open(
        cls,
        folder: Path,
        scenarios: list[Scenario],
        seed: int | None,
        command: str,
        records: bool,
        resume: bool,
        extra: dict[str, Any] | None,
    ) -> tuple[Store, list[Replication]]:
        manifest_path = folder / MANIFEST
        existing = read_manifest(manifest_path) if manifest_path.exists() else None
        if existing is None and any(p.name != LOCK for p in folder.iterdir()):
            raise StoreError(f"{folder}: not empty and holds no funnelsim run; choose another")
        if existing is not None and not resume:
            raise StoreError(
                f"{folder}: holds a run already ({existing.get('command')}, "
                f"{len(existing.get('scenarios', []))} scenario(s)); pass --resume to finish "
                "or extend it, or choose another folder"
            )
        if existing is None:
            from funnelsim.rng import normalise_seed

            root = normalise_seed(scenarios[0].seed if seed is None else seed)
            manifest = _new_manifest(scenarios, root, command, records, extra or {})
            store = cls(folder, scenarios, root, records, manifest)
            store._write_start()
            return store, []
        root = _check_resumable(folder, existing, scenarios, seed)
        store = cls(folder, scenarios, root, bool(existing.get("records")), existing)
        return store, store._finished()

    def close(self) -> None:
        """Release the folder for the next writer (after the run, however it ended)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # writing
    def _write_start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for key, scenario in zip(self.keys, self.scenarios, strict=True):
            # the scenario format it is written in, and its ranges and sources as written
            dumped = with_ranges(scenario, scenario.model_dump(mode="json", exclude_none=True))
            data = {"format": SCENARIO_FORMAT, **dumped}
            _write_text(
                self.folder / "scenarios" / f"{key}.yaml", yaml.safe_dump(data, sort_keys=False)
            )
        self._write_manifest()

    def _write_manifest(self) -> None:
        self.manifest["updated"] = _now()
        _write_text(self.folder / MANIFEST, json.dumps(self.manifest, indent=2) + "\n")

    def write_chunk(self, chunk: Chunk) -> None:
        """Write one finished chunk: its series and records, then (last) its metrics."""
        key = self.keys[chunk.scenario]
        name = self.scenarios[chunk.scenario].name
        done = chunk.replications
        file = _chunk_name([r.number for r in done])
        written: list[Path] = []

        def write(table: str, frame: pd.DataFrame) -> None:
            path = self.folder / table / key / file
            _write_parquet(path, _named(frame, name))
            written.append(path)

        if done[0].weekly is not None:
            write("weekly", pd.concat([weekly_frame(r) for r in done], ignore_index=True))
        write("daily", pd.concat([daily_frame(r) for r in done], ignore_index=True))
        for grouping in breakdown.GROUPINGS:
            figures = pd.concat([by_frame(r, grouping) for r in done], ignore_index=True)
            write(f"by_{grouping}", figures)
        if self.records:
            for table, frame in RECORD_FRAMES.items():
                parts = [frame(r.records) for r in done if r.records is not None]
                write(table, pd.concat(parts, ignore_index=True))
        metrics = pd.DataFrame([r.metrics for r in done])
        metrics.insert(0, "replication", [r.number for r in done])
        write("replications", metrics)
        # each file's size and SHA-256, checked before it is read back (resume, load, query)
        chunks = self.manifest.setdefault(CHUNKS, {})
        for path in written:
            chunks[path.relative_to(self.folder).as_posix()] = file_record(path)
        self._write_manifest()

    def finish(self, per_scenario: list[Replications], paired: bool = True) -> None:
        """Summary tables and the manifest's final word, once every replication is in.

        With ``paired``, several scenarios also get their paired differences from the first.
        """
        rows = []
        for replications in per_scenario:
            for metric, s in replications.summary().items():
                rows.append(
                    {
                        "scenario": replications.scenario.name,
                        "metric": metric,
                        "unit": _unit(metric),
                        **_summary_row(s),
                    }
                )
        atomic_write(
            self.folder / "summary.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False)
        )
        parts = [
            {
                "scenario": replications.scenario.name,
                "by": by,
                "group": group,
                "metric": metric,
                "unit": breakdown.unit(metric),
                **_summary_row(s),
            }
            for replications in per_scenario
            for (by, group, metric), s in replications.breakdown().items()
        ]
        atomic_write(
            self.folder / "breakdown.csv", lambda p: pd.DataFrame(parts).to_csv(p, index=False)
        )
        if paired and len(per_scenario) > 1:
            base = per_scenario[0].scenario.name
            diffs = []
            for name, by_metric in Comparison(per_scenario).differences().items():
                for metric, s in by_metric.items():
                    diffs.append(
                        {
                            "scenario": name,
                            "baseline": base,
                            "metric": metric,
                            "unit": _unit(metric),
                            **_summary_row(s),
                            "excludes_zero": excludes_zero(s),
                        }
                    )
            atomic_write(
                self.folder / "differences.csv",
                lambda p: pd.DataFrame(diffs).to_csv(p, index=False),
            )
        self.manifest["replications"] = per_scenario[0].n
        self.manifest["complete"] = True
        self._write_manifest()

    # reading back
    def _finished(self) -> list[Replication]:
        """Replications of finished chunks; leftovers of unfinished ones are deleted."""
        for leftover in self.folder.rglob(".*.tmp"):
            leftover.unlink()
        done: list[Replication] = []
        chunks = self.manifest.setdefault(CHUNKS, {})
        if not isinstance(chunks, dict):
            chunks = self.manifest[CHUNKS] = {}
        for index, key in enumerate(self.keys):
            finished = _chunk_files(self.folder / "replications" / key)
            for table in (*SERIES, *RECORDS):
                for path in _chunk_files(self.folder / table / key):
                    if path.name not in {f.name for f in finished}:
                        path.unlink()  # a chunk killed before its metrics were written
                        chunks.pop(path.relative_to(self.folder).as_posix(), None)
            for path in finished:
                try:
                    metrics, daily, figures = self._read_chunk(key, path.name)
                except StoreError:  # damaged or incomplete: its replications run again
                    for table in ("replications", *SERIES, *RECORDS):
                        damaged = self.folder / table / key / path.name
                        damaged.unlink(missing_ok=True)
                        chunks.pop(damaged.relative_to(self.folder).as_posix(), None)
                    continue
                for table in ("replications", *SERIES, *RECORDS):  # killed before recording
                    kept = self.folder / table / key / path.name
                    name = kept.relative_to(self.folder).as_posix()
                    if name not in chunks and kept.is_file():
                        chunks[name] = file_record(kept)
                for row in metrics.to_dict("records"):
                    number = int(row.pop("replication"))
                    row.pop("scenario")
                    days = daily[daily["replication"] == number].sort_values("day")
                    done.append(
                        Replication(
                            index,
                            number,
                            {str(k): float(v) for k, v in row.items()},
                            {"queue_length": days["queue_length"].to_numpy()},
                            figures.get(number, {}),
                        )
                    )
        self.manifest["complete"] = False
        self._write_manifest()
        return done

    def _read_chunk(
        self, key: str, file: str
    ) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, dict[Key, float]]]:
        """A finished chunk's metrics, daily queue and funnel by group; a StoreError if any of
        its files is missing, differs from the manifest's record or cannot be read."""
        tables = ["replications", "daily", *BY, *(RECORDS if self.records else ())]
        if (self.folder / "weekly" / key / file).exists() or f"weekly/{key}/{file}" in (
            self.manifest.get(CHUNKS) or {}
        ):
            tables.append("weekly")
        for table in tables:
            check_file(self.folder, self.manifest, self.folder / table / key / file, needed=True)
        metrics = read_chunk(self.folder / "replications" / key / file)
        daily = read_chunk(self.folder / "daily" / key / file)
        return metrics, daily, self._breakdown(key, file)

    def _breakdown(self, key: str, file: str) -> dict[int, dict[Key, float]]:
        """A finished chunk's funnel by group, replication by replication."""
        figures: dict[int, dict[Key, float]] = {}
        for grouping in breakdown.GROUPINGS:
            part = read_chunk(self.folder / f"by_{grouping}" / key / file)
            rows = part[["replication", grouping, "metric", "value"]].itertuples(index=False)
            for number, group, metric, value in rows:
                figure = (grouping, str(group), str(metric))
                figures.setdefault(int(number), {})[figure] = float(value)
        return figures


def file_record(path: Path) -> dict[str, Any]:
    """What the manifest records of a chunk file: its size and SHA-256."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


RECOMPUTE = "the same command with --resume recomputes it"


def check_file(folder: Path, manifest: dict[str, Any], path: Path, *, needed: bool = False) -> None:
    """A StoreError if chunk file ``path`` is missing (recorded in the manifest, or ``needed``)
    or is not the file the manifest recorded (size, SHA-256)."""
    record = (manifest.get(CHUNKS) or {}).get(path.relative_to(folder).as_posix())
    if not path.is_file():
        if record is not None or needed:
            raise StoreError(f"{path}: missing chunk file; {RECOMPUTE}")
        return
    if record is None:  # written by a run killed before recording it: read to check
        return
    try:
        actual = file_record(path)
    except OSError as error:
        raise StoreError(f"{path}: unreadable chunk file: {_reason(error)}") from None
    if actual != record:
        raise StoreError(
            f"{path}: damaged chunk file: its size or SHA-256 differs from the manifest's "
            f"record ({actual['size']} bytes, {record.get('size')} recorded); {RECOMPUTE}"
        )


def read_chunk(path: Path) -> pd.DataFrame:
    """A chunk file as a DataFrame; a StoreError naming it if it cannot be read."""
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow's errors for truncated or garbage files, OSError
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StoreError(
            f"{path}: damaged chunk file, cannot be read ({reason}); {RECOMPUTE}"
        ) from None


def _chunk_files(folder: Path) -> list[Path]:
    return (
        sorted(p for p in folder.glob("*.parquet") if CHUNK.match(p.name))
        if folder.is_dir()
        else []
    )


def _named(frame: pd.DataFrame, scenario: str) -> pd.DataFrame:
    frame.insert(0, "scenario", scenario)
    return frame


def _unit(metric: str) -> str:
    info = METRICS.get(metric)
    return info.unit if info is not None else ""


def _summary_row(s: Summary) -> dict[str, float | int]:
    return {
        "n": s.n,
        "mean": s.mean,
        "ci_low": s.ci_low,
        "ci_high": s.ci_high,
        "half_width": s.half_width,
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _new_manifest(
    scenarios: list[Scenario], seed: int, command: str, records: bool, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "command": command,
        "funnelsim_version": version("funnelsim"),
        "code_hash": code_hash(),
        "created": _now(),
        "seed": seed,
        # replication r draws from SeedSequence(entropy=seed, spawn_key=(r, stream name key))
        "entropy": {"seed_sequence_entropy": seed, "spawn_key": "(replication, stream name)"},
        "records": records,
        "complete": False,
        "replications": 0,
        "scenarios": [
            {
                "name": s.name,
                "key": scenario_key(i, s),
                "file": f"scenarios/{scenario_key(i, s)}.yaml",
                "hash": scenario_hash(s),
            }
            for i, s in enumerate(scenarios)
        ],
        **extra,
    }


def read_manifest(path: Path) -> dict[str, Any]:
    """A results folder's manifest, if this funnelsim reads its format; else a clear error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StoreError(f"{path}: unreadable manifest: {error}") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: not a funnelsim results manifest (format {FORMAT})")
    given = data.get("format")
    if not isinstance(given, int) or isinstance(given, bool):
        raise StoreError(f"{path}: not a funnelsim results manifest (format {FORMAT})")
    if 1 <= given < FORMAT:
        raise StoreError(
            f"{path}: results folder format {given}, written by an older funnelsim; this one "
            f"reads format {FORMAT} (what changed: {FORMAT_CHANGES}): run the scenarios again "
            "into a new folder"
        )
    if given > FORMAT:
        raise StoreError(
            f"{path}: results folder format {given}, newer than this funnelsim reads (format "
            f"{FORMAT}): use a newer funnelsim"
        )
    if given != FORMAT:
        raise StoreError(f"{path}: not a funnelsim results manifest (format {FORMAT})")
    problem = _manifest_problem(data)
    if problem is not None:
        raise StoreError(f"{path}: damaged manifest: {problem}")
    return data


_MANIFEST_FIELDS: dict[str, type] = {
    "command": str,
    "funnelsim_version": str,
    "code_hash": str,
    "seed": int,
    "records": bool,
    "complete": bool,
    "replications": int,
    "scenarios": list,
}
_SCENARIO_FIELDS = ("name", "key", "file", "hash")


def _manifest_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with a manifest's fields, if anything: a missing one, or a wrong type."""
    for name, kind in _MANIFEST_FIELDS.items():
        if name not in data:
            return f"'{name}' missing"
        value = data[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"'{name}' is not {'a list' if kind is list else f'of type {kind.__name__}'}"
    if not data["scenarios"]:
        return "'scenarios' is empty"
    for i, entry in enumerate(data["scenarios"]):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(f), str) for f in _SCENARIO_FIELDS
        ):
            return f"scenarios[{i}] needs text {', '.join(_SCENARIO_FIELDS)}"
        if "/" in entry["key"] or entry["key"] in ("", ".", ".."):
            return f"scenarios[{i}].key is not a folder name"
    study = data.get("study")
    if study is not None and not (
        isinstance(study, dict)
        and isinstance(study.get("name"), str)
        and isinstance(study.get("points"), list)
        and len(study["points"]) == len(data["scenarios"])
        and all(isinstance(p, dict) and isinstance(p.get("label"), str) for p in study["points"])
    ):
        return "'study' needs a name and a labelled point per scenario"
    chunks = data.get(CHUNKS)
    if chunks is not None and not (
        isinstance(chunks, dict)
        and all(
            isinstance(r, dict)
            and isinstance(r.get("size"), int)
            and isinstance(r.get("sha256"), str)
            for r in chunks.values()
        )
    ):
        return f"'{CHUNKS}' needs a size and a sha256 for each file"
    requested = data.get("requested")
    if requested is not None and not isinstance(requested, dict):
        return "'requested' is not a mapping"
    return None


def _check_resumable(
    folder: Path, manifest: dict[str, Any], scenarios: list[Scenario], seed: int | None
) -> int:
    """The run's seed, if ``scenarios`` and ``seed`` are what it was started with."""
    stored = [(s["name"], s["hash"]) for s in manifest["scenarios"]]
    given = [(s.name, scenario_hash(s)) for s in scenarios]
    if stored != given:
        changed = [n for (n, h), (m, g) in zip(stored, given, strict=False) if (n, h) != (m, g)]
        detail = f"changed: {', '.join(changed)}" if changed else "a different set of scenarios"
        raise StoreError(
            f"{folder}: cannot resume: the run there ran other scenarios ({detail}); "
            "resume with the same files and --set options, or choose another folder"
        )
    root = int(manifest["seed"])
    if seed is not None and seed != root:
        raise StoreError(f"{folder}: cannot resume: the run there ran on seed {root}, not {seed}")
    if manifest["code_hash"] != code_hash():
        raise StoreError(
            f"{folder}: cannot resume: funnelsim's code changed since the run started "
            f"(it ran {manifest['funnelsim_version']}); results of two versions would mix"
        )
    return root
