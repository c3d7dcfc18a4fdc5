"""What a run will ask of the machine, estimated before it starts, and the runs refused for it.

A scenario that validates can still be more than a machine can hold: a 100-year horizon, ten
million SDRs, ``-n 10000000``, a study grid of a million points. Such a run would grow memory
for minutes and then die, or never end. So before anything runs (and before ``validate`` says
ok), funnelsim estimates the work from the scenario alone, with no simulation:

- **leads a replication**: the leads and contacts the sources bring over warm-up and horizon
  (:func:`funnelsim.theory.expected_leads`), plus the funnel at the start;
- **memory a replication**: ``BYTES_PER_LEAD`` a lead, and ``BYTES_PER_REP`` plus
  ``BYTES_PER_REP_WEEK`` a simulated week for every rep of every team (hires included);
- **leads of the run**: the leads a replication times the replications, over every scenario.

A run is refused, with the figures and what to change, when one replication would need more
than half the machine's memory (its physical memory, or the container's limit when lower) or
the whole run more than ``MAX_RUN_LEADS`` simulated leads. ``--force`` (``force=True``) runs it
anyway. The per-lead and per-rep figures are measured (``benchmarks/memory.py``; the per-rep
ones by simulating the baseline with 3,000 reps a team over 4 and 52 weeks, which held 0.9 and
5.2 KB a rep, and with 100,000 SDRs over 64 weeks, 8.1 KB a rep), rounded up: the estimate
errs towards refusing.

This module is numpy-free: ``validate`` runs it.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from funnelsim.errors import FunnelsimError
from funnelsim.scenario.schema import Scenario
from funnelsim.theory import expected_leads

BYTES_PER_LEAD = 1_100  # peak resident memory a simulated lead (about 1 KB measured)
BYTES_PER_REP = 800  # a rep's seat, queues and records
BYTES_PER_REP_WEEK = 120  # a rep's availability (days off, absences) for a simulated week
BASE_BYTES = 64 * 2**20  # the model's own tables, beyond the process that loaded the scenario
MAX_RUN_LEADS = 10**9  # simulated leads in one run, over every scenario and replication
HOURS_PER_WEEK = 168.0


class WorkloadError(FunnelsimError):
    """A run larger than the machine can hold or than anyone means to wait for."""


@dataclass(frozen=True)
class Workload:
    """One replication of one scenario, as estimated before it runs."""

    name: str
    leads: float  # leads and contacts simulated
    reps: int  # people on every team over the run, hires included
    weeks: float  # simulated weeks, warm-up included

    @property
    def replication_bytes(self) -> float:
        """Peak memory one replication needs, beyond the process that runs it."""
        per_rep = BYTES_PER_REP + BYTES_PER_REP_WEEK * self.weeks
        return BASE_BYTES + BYTES_PER_LEAD * self.leads + per_rep * self.reps


def estimate(scenario: Scenario) -> Workload:
    """The work of one replication of ``scenario``."""
    reps = 0
    for role in ("sdr", "ae"):
        for _, team in scenario.teams.of_role(role):
            reps += team.headcount + sum(max(c.change, 0) for c in team.hiring)
    span = scenario.warmup_hours + scenario.horizon_hours
    return Workload(scenario.name, expected_leads(scenario), reps, span / HOURS_PER_WEEK)


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or its container's limit when
    lower (cgroup v2, then v1); None when the system does not say."""
    known: list[int] = []
    with contextlib.suppress(AttributeError, ValueError, OSError):  # not every system says
        known.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max", or v1's "no limit" sentinel
            known.append(int(text))
    return min(known) if known else None


def refusals(workloads: Sequence[Workload], replications: int, memory: int | None) -> list[str]:
    """Why a run of ``replications`` of each workload must not start (empty: it may)."""
    found: list[str] = []
    if memory is not None and workloads:
        largest = max(workloads, key=lambda w: w.replication_bytes)
        if largest.replication_bytes > memory / 2:
            found.append(
                f"{largest.name}: one replication needs about "
                f"{_bytes(largest.replication_bytes)} ({largest.leads:,.0f} leads and "
                f"contacts, {largest.reps:,} reps, {largest.weeks:,.0f} weeks), more than half "
                f"of this machine's memory ({_bytes(memory)}): shorten the horizon, or "
                "lower the leads or the headcount"
            )
    total = math.fsum(w.leads for w in workloads) * replications
    if total > MAX_RUN_LEADS:
        scenarios = f"{len(workloads):,} scenarios x " if len(workloads) > 1 else ""
        found.append(
            f"the run would simulate about {total:,.0f} leads ({scenarios}{replications:,} "
            f"replications), more than {MAX_RUN_LEADS:,}: use fewer replications, points "
            "or a shorter horizon"
        )
    return found


def check(
    workloads: Sequence[Workload],
    replications: int,
    *,
    force: bool = False,
    memory: int | None = None,
) -> None:
    """Raise WorkloadError saying why the run is too large, unless ``force``; ``memory``
    defaults to :func:`machine_memory`."""
    if force:
        return
    found = refusals(workloads, replications, machine_memory() if memory is None else memory)
    if found:
        found.append("(--force runs it anyway)")
        raise WorkloadError("\n".join(found))


def _bytes(size: float) -> str:
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size / 2**10:,.0f} KB"
