"""Where replications run: this process, a local process pool, or a Dask cluster.

Every executor here is a ``concurrent.futures.Executor``, so the batch code submits chunks and
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
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from distributed import Client

ExecutorKind = Literal["process", "dask"]
EXECUTORS: tuple[ExecutorKind, ...] = ("process", "dask")


def default_workers() -> int:
    """All cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    """Workers start from a clean server process: forking a process with threads running (a
    progress bar's, say) can deadlock, and the server has funnelsim imported once for all."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["funnelsim.experiment"])
    return context


@dataclass(frozen=True)
class Pool:
    """An executor (``None``: this process) and how many chunks it runs at once."""

    executor: Executor | None
    slots: int


SERIAL = Pool(None, 1)  # this process, one chunk at a time


@contextmanager
def open_executor(
    kind: str = "process", workers: int = 1, scheduler: str | None = None
) -> Iterator[Pool]:
    """Where chunks of replications run, shut down on leaving.

    - ``process``: a pool of ``workers`` local processes (one worker: this process).
    - ``dask``: the Dask cluster whose scheduler is at ``scheduler`` (``tcp://host:port``), or,
      without one, a local cluster of ``workers`` single-threaded processes listening on
      127.0.0.1 only, its dashboard on a free loopback port. A cluster runs as many chunks at
      once as its workers have threads.
    """
    if kind == "process":
        if workers <= 1:
            yield SERIAL
            return
        with _shut_down(ProcessPoolExecutor(max_workers=workers, mp_context=_context())) as pool:
            yield Pool(pool, workers)
        return
    if kind != "dask":
        raise ValueError(f"unknown executor {kind!r}: expected one of {', '.join(EXECUTORS)}")
    # pure=False: chunks are told apart by submission, not by hashing their arguments
    with (
        _dask_client(workers, scheduler) as client,
        _shut_down(client.get_executor(pure=False)) as executor,
    ):
        yield Pool(executor, max(1, sum(client.nthreads().values())))


@contextmanager
def _shut_down(executor: Executor) -> Iterator[Executor]:
    """On success, wait for the work; on an error or Ctrl-C, cancel what has not started
    instead of finishing the whole batch first (the store keeps what did finish)."""
    try:
        yield executor
    except BaseException:
        if isinstance(executor, ProcessPoolExecutor):
            executor.shutdown(wait=False, cancel_futures=True)
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

    # The workers' statistical profiler samples the running task's stack every 10 ms while
    # holding the GIL: pure overhead for a batch nobody profiles (Nanny passes the config on).
    with (
        dask.config.set({"distributed.worker.profile.enabled": False}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client
