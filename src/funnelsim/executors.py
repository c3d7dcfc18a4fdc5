"""Where replications run: this process, a local process pool, or a Dask cluster.

An :class:`ExecutorSpec` says where (it is what ``--workers``, ``--executor`` and
``--scheduler`` give); :func:`open_executor` opens it for the length of a run. Every executor
opened here is a ``concurrent.futures.Executor``, so the run submits chunks of replications and
collects them as they complete without knowing which one it has. Results never depend on the
choice: a replication's random numbers come from its seed and number alone.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from funnelsim.errors import UsageError

if TYPE_CHECKING:
    from distributed import Client

EXECUTORS = ("process", "dask")
# A local Dask worker's housekeeping runs in threads of the process that simulates, and each
# wake-up takes the GIL from the simulation: the statistical profiler samples the task's stack
# every 10 ms, the event loop checks its own health every 20 ms, memory is polled every 100 ms
# and the system every 500 ms. For a run nobody profiles, on a machine with no core to spare,
# that is about a tenth of each worker's CPU time (benchmarks/bench_parallel.py); a local
# cluster turns the profiler off and the checks down (Nanny passes the config to its worker).
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


def default_workers() -> int:
    """All cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    """Workers start from a clean server process: forking a process with threads running (a
    progress bar's, say) can deadlock, and the server has funnelsim imported once for all."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["funnelsim.worker"])
    return context


@dataclass(frozen=True)
class ExecutorSpec:
    """Where a run's replications go, checked before anything runs.

    - ``kind="process"``: a pool of ``workers`` local processes (one worker: this process).
    - ``kind="dask"``: the Dask cluster whose scheduler is at ``scheduler``
      (``tcp://host:port``), or, without one, a local cluster of ``workers`` single-threaded
      processes listening on 127.0.0.1 only.

    A scheduler is a Dask cluster's, so giving one implies ``kind="dask"``. An unknown kind or
    fewer than one worker is a :class:`~funnelsim.errors.UsageError` naming the option.
    """

    workers: int = 1
    kind: str = "process"
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.scheduler is not None:
            object.__setattr__(self, "kind", "dask")  # frozen: set once, while being made
        if self.kind not in EXECUTORS:
            from funnelsim.scenario.schema import did_you_mean  # only to explain a refusal

            hint = did_you_mean(self.kind, list(EXECUTORS))
            raise UsageError(
                f"unknown executor {self.kind!r}{hint}; expected one of {', '.join(EXECUTORS)}",
                "--executor",
            )
        if self.workers < 1:
            raise UsageError(f"at least 1 worker, got {self.workers}", "--workers")


@dataclass(frozen=True)
class Slots:
    """An open executor (``None``: this process) and how many chunks it runs at once."""

    executor: Executor | None
    count: int


SERIAL = Slots(None, 1)  # this process, one chunk at a time


@contextmanager
def open_executor(spec: ExecutorSpec) -> Iterator[Slots]:
    """Open where chunks of replications run; shut it down on leaving.

    A local Dask cluster's dashboard listens on a free loopback port; a cluster runs as many
    chunks at once as its workers have threads.
    """
    if spec.kind == "process":
        if spec.workers <= 1:
            yield SERIAL
            return
        pool = ProcessPoolExecutor(max_workers=spec.workers, mp_context=_context())
        with _shut_down(pool) as executor:
            yield Slots(executor, spec.workers)
        return
    # pure=False: chunks are told apart by submission, not by hashing their arguments
    with (
        _dask_client(spec.workers, spec.scheduler) as client,
        _shut_down(client.get_executor(pure=False)) as executor,
    ):
        yield Slots(executor, max(1, sum(client.nthreads().values())))


@contextmanager
def _shut_down(executor: Executor) -> Iterator[Executor]:
    """On success, wait for the work; on an error or Ctrl-C, cancel what has not started
    instead of finishing the whole run first (the store keeps what did finish)."""
    try:
        yield executor
    except BaseException:
        if isinstance(executor, ProcessPoolExecutor):
            # the workers are stopped too: a chunk in flight is lost either way (a resume runs
            # it again), and left alone it would keep them running after this process has gone.
            # The interpreter waits at exit for the pool's manager thread, which must not be
            # left blocked on a pipe (a hang seen under load after SIGTERM): the queue of work
            # is told not to wait to write chunks no worker will read, and this process lets go
            # of the results pipe, so that a result a stopped worker left half-written ends in
            # end-of-file, not in a read that never returns.
            workers = list(getattr(executor, "_processes", {}).values())
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.join(timeout=5)
            work = getattr(executor, "_call_queue", None)
            if work is not None:
                work.cancel_join_thread()
            results = getattr(executor, "_result_queue", None)
            if results is not None:
                results._writer.close()
            manager = getattr(executor, "_executor_manager_thread", None)
            executor.shutdown(wait=False, cancel_futures=True)
            # The manager thread closes its wake-up pipe as it ends, while the interpreter's
            # exit hook writes to that pipe without a lock (CPython 3.11): a run stopped by a
            # signal printed "Bad file descriptor" at exit, now and then. Let it end first.
            if manager is not None:
                manager.join(timeout=5)
        else:
            executor.shutdown(wait=False)  # Dask's executor cancels its futures so
        raise
    executor.shutdown(wait=True)


@contextmanager
def _dask_client(workers: int, scheduler: str | None) -> Iterator[Client]:
    from distributed import Client, LocalCluster  # imported only when Dask is asked for

    if scheduler is not None:
        with Client(scheduler, set_as_default=False) as client:
            yield client
        return
    import dask

    with (
        dask.config.set(QUIET_DASK),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            preload=["funnelsim.worker"],  # imported while the cluster starts, as the pool's
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client
