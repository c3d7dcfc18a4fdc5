"""Executors (``funnelsim.executors``): same seed, same result, whatever runs the replications:
this process, a local pool, or Dask.

A replication draws only from the streams of its seed and number, so one process, a pool of two
and a Dask cluster (one the API starts, or one started from the command line) must return the
same metrics and the same records, replication by replication. Every cluster here listens on
127.0.0.1 only and is stopped before its test ends.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from click.testing import CliRunner

from funnelsim.cli import app
from funnelsim.errors import UsageError
from funnelsim.executors import ExecutorSpec
from funnelsim.experiment import Chunk, Replications, compare, run_replications
from funnelsim.records import RunRecords
from funnelsim.scenario.load import load_scenario
from funnelsim.scenario.schema import Scenario
from helpers import SCENARIOS

REPLICATIONS = 6
SEED = 11
DASK = Path(sys.executable).parent / "dask"


def small_baseline() -> Scenario:
    return load_scenario(SCENARIOS / "baseline.yaml", ["horizon=6w", "warmup=2w"])


def same_value(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return bool(x == y)


def assert_same_metrics(a: list[dict[str, float]], b: list[dict[str, float]]) -> None:
    assert len(a) == len(b)
    for number, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x.keys() == y.keys(), number
        differ = {k: (x[k], y[k]) for k in x if not same_value(x[k], y[k])}
        assert not differ, f"replication {number}: {differ}"


def assert_same_columns(a: dict[str, np.ndarray], b: dict[str, np.ndarray], what: str) -> None:
    assert a.keys() == b.keys(), what
    for name, column in a.items():
        other = b[name]
        assert column.dtype == other.dtype, f"{what}.{name}"
        nan_ok = column.dtype.kind in "fc"
        assert np.array_equal(column, other, equal_nan=nan_ok), f"{what}.{name}"


def columns(table: Any) -> dict[str, np.ndarray]:
    return {f.name: getattr(table, f.name) for f in fields(table)}


def assert_same_records(a: list[RunRecords], b: list[RunRecords]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        what = f"replication {x.replication}"
        assert (x.seed, x.replication) == (y.seed, y.replication)
        assert_same_columns(x.leads.columns(), y.leads.columns(), f"{what} leads")
        assert_same_columns(x.handoffs.columns(), y.handoffs.columns(), f"{what} handoffs")
        assert_same_columns(columns(x.tasks), columns(y.tasks), f"{what} tasks")
        assert_same_columns(x.batches, y.batches, f"{what} weekly handoff batches")
        for series in ("queue", "open_opportunities"):
            sx, sy = getattr(x, series), getattr(y, series)
            assert np.array_equal(sx.times, sy.times), f"{what} {series}"
            assert np.array_equal(sx.levels, sy.levels), f"{what} {series}"
        assert x.end_h == y.end_h, what


def assert_same_replications(a: Replications, b: Replications) -> None:
    assert a.seed == b.seed
    assert_same_metrics(a.metrics, b.metrics)
    assert_same_records(a.records, b.records)


@dataclass
class Heard:
    """What ``on_chunk`` heard: every replication number, and the processes that called it."""

    numbers: list[int]
    pids: set[int]

    def __call__(self, chunk: Chunk) -> None:
        assert chunk.scenario == 0
        assert chunk.replications, "an empty chunk"
        self.pids.add(os.getpid())
        self.numbers.extend(r.number for r in chunk.replications)

    def assert_each_once(self, n: int) -> None:
        assert sorted(self.numbers) == list(range(n)), self.numbers  # each once, none missing
        assert self.pids == {os.getpid()}  # called in this process, never in a worker


def heard() -> Heard:
    return Heard([], set())


@pytest.fixture(scope="module")
def alone() -> Replications:
    """The reference: every replication in this process."""
    listener = heard()
    reference = run_replications(
        small_baseline(), REPLICATIONS, SEED, records=True, on_chunk=listener
    )
    listener.assert_each_once(REPLICATIONS)
    assert len(reference.records) == REPLICATIONS
    assert [r.replication for r in reference.records] == list(range(REPLICATIONS))
    # the replications really differ from one another, so a mix-up would show
    assert reference.metrics[0]["leads"] != reference.metrics[1]["leads"]
    return reference


def test_two_workers_give_the_same_replications_as_one(alone: Replications) -> None:
    listener = heard()
    pooled = run_replications(
        small_baseline(),
        REPLICATIONS,
        SEED,
        records=True,
        executor=ExecutorSpec(workers=2),
        on_chunk=listener,
    )
    listener.assert_each_once(REPLICATIONS)
    assert_same_replications(alone, pooled)


def beyond_loopback(pids: list[int]) -> list[str]:
    """Sockets these processes listen on at another address than 127.0.0.1."""
    found = []
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for c in connections:
            if c.status == psutil.CONN_LISTEN and c.laddr.ip != "127.0.0.1":
                found.append(f"{pid}: {c.laddr.ip}:{c.laddr.port}")
    return found


def _children() -> set[int]:
    """This process's children, but for multiprocessing's long-lived helpers."""
    helpers = ("resource_tracker", "forkserver")
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if not any(h in " ".join(child.cmdline()) for h in helpers):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.mark.slow  # starts a Dask cluster of its own
def test_a_local_dask_cluster_gives_the_same_replications(alone: Replications) -> None:
    before = _children()
    exposed: list[str] = []
    cluster: set[int] = set()

    class Listener(Heard):
        def __call__(self, chunk: Chunk) -> None:
            super().__call__(chunk)  # and while the cluster runs: its processes, its sockets
            running = _children() - before
            cluster.update(running)
            exposed.extend(beyond_loopback([os.getpid(), *running]))

    listener = Listener([], set())
    distributed = run_replications(
        small_baseline(),
        REPLICATIONS,
        SEED,
        records=True,
        executor=ExecutorSpec(workers=2, kind="dask"),
        on_chunk=listener,
    )
    listener.assert_each_once(REPLICATIONS)
    assert_same_replications(alone, distributed)
    assert len(cluster) >= 2, "no worker processes: did the run stay in this process?"
    assert not exposed, "the local cluster listens beyond 127.0.0.1"
    # the cluster the call started is gone once it returns
    deadline = time.monotonic() + 10
    while (left := _children() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left running: {left}"


def test_another_seed_gives_other_replications(alone: Replications) -> None:
    other = run_replications(small_baseline(), 2, SEED + 1)
    assert other.metrics[0]["leads"] != alone.metrics[0]["leads"]


def test_a_comparison_is_the_same_on_one_or_two_workers() -> None:
    plans = [
        load_scenario(SCENARIOS / f, ["horizon=4w", "warmup=1w"])
        for f in ("inbound-heavy.yaml", "outbound-heavy.yaml")
    ]
    chunks: list[Chunk] = []
    one = compare(plans, 4, 3)
    two = compare(plans, 4, 3, executor=ExecutorSpec(workers=2), on_chunk=chunks.append)
    heard_of = sorted((c.scenario, r.number) for c in chunks for r in c.replications)
    assert heard_of == [(k, n) for k in range(2) for n in range(4)]
    for a, b in zip(one.per_scenario, two.per_scenario, strict=True):
        assert a.scenario.name == b.scenario.name
        assert_same_metrics(a.metrics, b.metrics)
    assert one.per_scenario[0].values("leads") != one.per_scenario[1].values("leads")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"kind": "proces"},
            "--executor: unknown executor 'proces' (did you mean 'process'?); expected one of "
            "process, dask",
        ),
        ({"kind": "threads"}, "--executor: unknown executor 'threads'; expected one of"),
        ({"workers": 0}, "--workers: at least 1 worker, got 0"),
    ],
)
def test_a_bad_executor_spec_is_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        ExecutorSpec(**spec)
    assert str(caught.value).startswith(message)


def test_a_scheduler_means_dask() -> None:
    assert ExecutorSpec(scheduler="tcp://127.0.0.1:8786").kind == "dask"
    assert ExecutorSpec(workers=3).kind == "process"


def test_the_cli_refuses_an_unknown_executor_before_anything_runs(tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["run", str(SCENARIOS / "baseline.yaml"), "--executor", "dsak", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "--executor: unknown executor 'dsak' (did you mean 'dask'?); expected one of process, dask"
    ]
    assert not out.exists()


# --- a Dask cluster started from its own command line ------------------------------------


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop what this test started, workers first, then the scheduler; kill what will not stop.

    One at a time: a worker told to stop while the scheduler is closing can hang in its own
    shutdown (distributed 2026.8), and then only a kill ends it.
    """
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: this process and its own
            process.wait(timeout=10)


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(DASK), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, so a kill reaches nothing else
        )


def _scheduler_address(
    path: Path, scheduler: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                address = json.loads(path.read_text())["address"]
            except (json.JSONDecodeError, KeyError):
                address = None  # still being written
            if address:
                return str(address)
        if scheduler.poll() is not None:
            pytest.fail(f"dask scheduler exited ({scheduler.returncode}):\n{log.read_text()}")
        time.sleep(0.1)
    pytest.fail(f"no scheduler file after {timeout:g} s:\n{log.read_text()}")


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A scheduler and two single-threaded workers, each its own process, on 127.0.0.1."""
    from distributed import Client

    assert DASK.exists(), f"no dask command next to {sys.executable}"
    scheduler_file = tmp_path / "scheduler.json"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        scheduler_log = tmp_path / "scheduler.log"
        processes.append(
            _start(
                [
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    # without it the scheduler's HTTP server (health, metrics) takes 0.0.0.0:8787
                    "--dashboard-address",
                    "127.0.0.1:0",
                    "--no-jupyter",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
                scheduler_log,
            )
        )
        address = _scheduler_address(scheduler_file, processes[0], scheduler_log)
        assert address.startswith("tcp://127.0.0.1:"), address
        for i in range(2):
            processes.append(
                _start(
                    [
                        "worker",
                        address,
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--no-nanny",  # one process per worker: nothing left behind on a kill
                        "--no-dashboard",
                        "--dashboard-address",  # its HTTP server would take 0.0.0.0
                        "127.0.0.1:0",
                        "--name",
                        f"test-worker-{i}",
                        "--local-directory",
                        str(tmp_path / f"worker-{i}"),
                    ],
                    tmp_path / f"worker-{i}.log",
                )
            )
        with Client(address, set_as_default=False, timeout=30) as client:
            try:
                client.wait_for_workers(2, timeout=60)
            except TimeoutError:
                logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("*.log")))
                pytest.fail(f"the workers did not join the scheduler:\n{logs}")
            workers = client.scheduler_info()["workers"]
            assert all(w.startswith("tcp://127.0.0.1:") for w in workers), workers
        assert not beyond_loopback([p.pid for p in processes])
        yield address
    finally:
        _stop(processes)
    assert all(p.returncode is not None for p in processes)


@pytest.mark.slow  # a scheduler and two workers, each its own process
def test_a_dask_cluster_from_the_command_line_gives_the_same_replications(
    alone: Replications, dask_cluster: str
) -> None:
    listener = heard()
    remote = run_replications(
        small_baseline(),
        REPLICATIONS,
        SEED,
        records=True,
        executor=ExecutorSpec(workers=2, scheduler=dask_cluster),
        on_chunk=listener,
    )
    listener.assert_each_once(REPLICATIONS)
    assert_same_replications(alone, remote)
    # and the command line, pointed at the same cluster, prints what one process prints
    args = ["run", str(SCENARIOS / "baseline.yaml"), "--set", "horizon=6w", "--set", "warmup=2w"]
    args += ["-n", "4", "--seed", str(SEED), "--json"]
    here = CliRunner().invoke(app, [*args, "-w", "1"])
    there = CliRunner().invoke(app, [*args, "--scheduler", dask_cluster])
    assert here.exit_code == 0, here.output
    assert there.exit_code == 0, there.output
    assert json.loads(there.stdout) == json.loads(here.stdout)
