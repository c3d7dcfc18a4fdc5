"""What a simulation leaves behind: flat, typed records, and nothing else.

Every lead leaves one row (when it arrived, when it was first touched and by whom, whether it
expired, its SLA deadline and whether the deadline was met, its decay at first touch), and the
queue leaves a step series of its length. Metrics, tables and charts are all derived from these
records after the run, never counted inside the simulation's processes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Where a lead is when the run ends; every lead is in exactly one of these.
TOUCHED, EXPIRED, WAITING = 0, 1, 2
OUTCOMES = ("touched", "expired", "waiting")


@dataclass(frozen=True)
class LeadRecords:
    """One row per lead, times in simulation hours (``nan`` where something did not happen)."""

    lead: IntArray
    source: IntArray  # index into RunRecords.source_names
    arrival_h: FloatArray
    score: FloatArray
    work_h: FloatArray  # working time the first touch needs
    patience_h: FloatArray  # time until the lead expires untouched (inf: never)
    touch_start_h: FloatArray
    touch_end_h: FloatArray
    rep: IntArray  # the SDR who made the first touch (-1: none)
    expired_h: FloatArray
    sla_deadline_h: FloatArray
    sla_met: BoolArray  # first touched by the deadline
    decay: FloatArray  # odds multiplier at first touch (1 without decay, nan if untouched)
    touch_start_b: FloatArray  # the same instants on the business clock (working hours)
    touch_end_b: FloatArray

    def __len__(self) -> int:
        return len(self.lead)

    @property
    def outcome(self) -> IntArray:
        """TOUCHED, EXPIRED or WAITING (still untouched when the run ended) for each lead."""
        out = np.full(len(self), WAITING, dtype=np.int64)
        out[~np.isnan(self.touch_start_h)] = TOUCHED
        out[~np.isnan(self.expired_h)] = EXPIRED
        return out

    @property
    def wait_h(self) -> FloatArray:
        """Calendar hours from arrival to first touch (nan if never touched)."""
        return self.touch_start_h - self.arrival_h

    def columns(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class LevelSeries:
    """A quantity that steps: ``levels[i]`` holds from ``times[i]`` until ``times[i + 1]``."""

    times: FloatArray
    levels: FloatArray

    def time_average(self, t0: float, t1: float) -> float:
        """Time-weighted mean level over [t0, t1)."""
        if t1 <= t0:
            return float("nan")
        edges = np.clip(np.append(self.times, t1), t0, t1)
        return float(np.sum(self.levels * np.diff(edges)) / (t1 - t0))


@dataclass(frozen=True)
class RunRecords:
    """Everything one replication produced, with the facts needed to read it."""

    leads: LeadRecords
    queue: LevelSeries  # leads waiting for a first touch
    source_names: tuple[str, ...]
    window: tuple[float, float]  # measured period [start, end) in simulation hours
    window_b: tuple[float, float]  # the same on the business clock
    end_h: float  # when the simulation stopped
    sdr_headcount: int
    seed: int
    replication: int
