"""What a simulation leaves behind: flat, typed records, and nothing else.

Every lead leaves one row (when it arrived, became an MQL, was handed off, first touched and by
whom, its SLA deadline and whether it was met, its decay, the SDR's decision, the opportunity
and the deal), every piece of rep work one task row, every weekly batch one row, and two
stage levels (leads waiting for a first touch, opportunities open) leave step series.
Metrics, tables and charts are all derived from these records after the run.
"""

from __future__ import annotations

import math
import struct
from array import array
from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from funnelsim.calendar import Calendar
from funnelsim.staffing import Seat

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Kind(IntEnum):
    """Where a lead comes from: it came to us (inbound), or sales went out to it (outbound)."""

    INBOUND = 0
    OUTBOUND = 1


class Entry(IntEnum):
    """Where a lead enters the run: new, or part of the starting state (an MQL that has waited
    already, or an opportunity open at stage ``k``, recorded as ``OPEN_OPPORTUNITY + k``)."""

    NEW = -1
    OPEN_MQL = 0
    OPEN_OPPORTUNITY = 1


class Outcome(IntEnum):
    """Where a lead is when the run ends; every lead is in exactly one of these."""

    WAITING = 0  # in the funnel: waiting for marketing's batch, a first touch or an attempt
    TOUCHED = 1  # first touched (or reached) and the scenario's funnel ends there
    EXPIRED = 2  # lost untouched when its patience ran out
    NURTURED = 3  # below the MQL bar, in nurture
    REJECTED = 4  # rejected by sales at first touch, in nurture
    UNREACHABLE = 5  # every attempt failed
    DISQUALIFIED = 6  # reached, not qualified (inbound: back to nurture; outbound: no meeting,
    # or not qualified in it)
    SQL = 7  # sales qualified: no AE team to take it further, or waiting for an AE's review
    OPPORTUNITY = 8  # open opportunity
    WON = 9
    LOST = 10
    NO_SHOW = 11  # outbound: did not show up to the booked meeting
    SQL_REJECTED = 12  # an AE reviewed the SQL and did not accept it as an opportunity
    NOT_LOADED = 13  # outbound: the list's market had no contact left to load


class TaskKind(IntEnum):
    """A piece of rep work: an SDR's first touch of an MQL, a follow-up attempt, the
    qualification call after a connect, a prospecting touch of an outbound sequence; the
    discovery conversation of a held outbound meeting (SDR or AE); an AE's review of an SQL,
    and work on one stage of an opportunity."""

    FIRST_TOUCH = 0
    ATTEMPT = 1
    QUALIFICATION = 2
    PROSPECT = 3
    AE_STAGE = 4
    MEETING = 5
    SQL_REVIEW = 6


class Team(IntEnum):
    SDR = 0
    AE = 1


def labels(codes: type[IntEnum]) -> tuple[str, ...]:
    """The names records and results folders use for a code: ``Kind`` -> ("inbound", ...)."""
    return tuple(code.name.lower() for code in codes)


def floats(column: array[float] | memoryview[float] | list[float]) -> FloatArray:
    """A column filled item by item during a run, as a numpy array (the memory of a typed
    array, or of a view of one, is shared, not copied)."""
    if isinstance(column, list):
        return np.fromiter(column, dtype=np.float64, count=len(column))
    if not len(column):
        return np.zeros(0)
    return np.frombuffer(column, dtype=np.float64)  # type: ignore[arg-type]  # stubs: bytes only


def ints(column: array[int] | memoryview | list[int]) -> IntArray:
    """An integer column filled item by item during a run, as a numpy array."""
    if isinstance(column, list):
        return np.fromiter(column, dtype=np.int64, count=len(column))
    return np.frombuffer(column, dtype=np.int64) if len(column) else np.zeros(0, np.int64)


@dataclass(frozen=True)
class LeadRecords:
    """One row per lead, times in simulation hours (``nan`` where something did not happen)."""

    lead: IntArray
    kind: IntArray  # 0 inbound, 1 outbound
    source: IntArray  # index into RunRecords.source_names
    segment: IntArray  # index into RunRecords.segment_names
    arrival_h: FloatArray
    fit: FloatArray
    intent: FloatArray
    score: FloatArray
    work_h: FloatArray  # working time the first touch needs
    patience_h: FloatArray  # time until an untouched handed-off lead expires (inf: never)
    mql_h: FloatArray
    handoff_h: FloatArray  # reached sales: the first-touch SLA clock starts
    batch: IntArray  # batch index (-1: continuous handoff)
    touch_start_h: FloatArray
    touch_end_h: FloatArray
    rep: IntArray  # the SDR who made the first touch (-1: none)
    expired_h: FloatArray
    sla_deadline_h: FloatArray
    sla_met: BoolArray  # first touched by the deadline
    decay: FloatArray  # odds multiplier at first touch (1 without decay, nan if untouched)
    accepted: IntArray  # SAL: 1 accepted, 0 rejected, -1 not decided
    attempts: IntArray
    connected_h: FloatArray
    decision_h: FloatArray  # sales decided: rejected, unreachable, disqualified or SQL
    qualify_by_h: FloatArray  # batch deadline for that decision
    sal_h: FloatArray  # first accepted by sales at a first touch (SAL)
    booked_h: FloatArray  # outbound: a conversation booked a meeting
    meeting_h: FloatArray  # outbound: when the booked meeting is
    held_h: FloatArray  # outbound: the meeting was held (the contact showed up), by the end
    sql_h: FloatArray
    opp_h: FloatArray
    closed_h: FloatArray  # the opportunity was decided, or an AE rejected the SQL
    won: BoolArray
    deal_value: FloatArray  # first purchase (money)
    ltv: FloatArray  # lifetime value with repeat purchases (money)
    pipeline_value: FloatArray  # deal value at stake when the opportunity opened (money)
    contact: IntArray  # outbound with a market: which of its contacts (-1: none)
    cycles: IntArray  # times the lead came back from nurture
    entry: IntArray  # -1 new; 0 an open MQL of the starting state; 1 + s an open opportunity
    outcome: IntArray  # index into OUTCOMES

    def __len__(self) -> int:
        return len(self.lead)

    @property
    def wait_h(self) -> FloatArray:
        """Calendar hours from handoff to first touch (nan if never touched)."""
        return self.touch_start_h - self.handoff_h

    def columns(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# one row of a task log, packed: who (rep), on which lead, what (a TaskKind), from, to
TASK_ROW = struct.Struct("<hibdd")
TASK_DTYPE = np.dtype(
    [("rep", "<i2"), ("lead", "<i4"), ("kind", "i1"), ("start_h", "<f8"), ("end_h", "<f8")]
)


class TaskLog:
    """One packed row per task started, filled during a run (``TASK_ROW``: 23 bytes a task,
    where lists of Python numbers cost 88; one call packs a row, where five typed arrays would
    each parse their argument)."""

    def __init__(self) -> None:
        self.rows = bytearray()

    def table(self) -> np.ndarray:
        """The rows as a structured array (``TASK_DTYPE``), sharing the log's memory."""
        return np.frombuffer(self.rows, dtype=TASK_DTYPE)


class HandoffLog:
    """One row per handoff to sales, filled during a run: a lead back from nurture is handed
    off again, and each handoff is judged on its own first-touch SLA."""

    def __init__(self) -> None:
        self.lead: array[int] = array("q")
        self.handoff_h: array[float] = array("d")
        self.touch_start_h: array[float] = array("d")
        self.expired_h: array[float] = array("d")
        self.decision_h: array[float] = array("d")
        self.qualify_by_h: array[float] = array("d")
        self.batch: array[int] = array("q")
        self.decay: array[float] = array("d")

    def add(self, lead: int, now: float, batch: int, qualify_by: float) -> int:
        nan = math.nan
        self.lead.append(lead)
        self.handoff_h.append(now)
        self.touch_start_h.append(nan)
        self.expired_h.append(nan)
        self.decision_h.append(nan)
        self.qualify_by_h.append(qualify_by)
        self.batch.append(batch)
        self.decay.append(nan)
        return len(self.lead) - 1


@dataclass(frozen=True)
class HandoffRecords:
    """One row per handoff: when, the first touch or expiry that followed, the SLA outcome."""

    lead: IntArray
    handoff_h: FloatArray
    touch_start_h: FloatArray
    expired_h: FloatArray
    decision_h: FloatArray  # sales decided: rejected, unreachable, disqualified or SQL
    qualify_by_h: FloatArray  # batch deadline for that decision (nan: continuous)
    batch: IntArray  # batch index (-1: continuous handoff)
    decay: FloatArray  # odds multiplier at the first touch
    sla_deadline_h: FloatArray
    sla_met: BoolArray

    @property
    def wait_h(self) -> FloatArray:
        """Calendar hours from handoff to first touch (nan if never touched)."""
        return self.touch_start_h - self.handoff_h

    def columns(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class TaskRecords:
    """One row per piece of rep work: team (0 SDR, 1 AE), rep, lead, kind, start, end.

    The codes and numbers keep the log's narrow integers (a task is 42 bytes, where eight 64-bit
    columns would be 64): a run's tasks are three times its leads."""

    team: npt.NDArray[np.int8]
    rep: npt.NDArray[np.int32]
    lead: npt.NDArray[np.int32]
    kind: npt.NDArray[np.int8]  # a TaskKind
    start_h: FloatArray
    end_h: FloatArray
    start_b: FloatArray  # the same instants on the business clock (working hours)
    end_b: FloatArray

    @classmethod
    def from_logs(cls, calendar: Calendar, logs: list[tuple[int, int, TaskLog]]) -> TaskRecords:
        """The teams' logs as one table: each log with its role (``Team``) and the number of its
        first rep among the role's reps (teams of a role number their reps one after another).
        Each log is emptied once copied, so that a run's tasks are never held twice."""
        tables = [(role, first, log.table()) for role, first, log in logs]
        team = np.concatenate(
            [np.full(len(t), role, dtype=np.int8) for role, _, t in tables]
            or [np.zeros(0, np.int8)]
        )

        def whole(name: str) -> np.ndarray:
            return np.concatenate([t[name] for _, _, t in tables] or [np.zeros(0)])

        rep = np.concatenate(
            [t["rep"].astype(np.int32) + first for _, first, t in tables] or [np.zeros(0, np.int32)]
        )
        lead = whole("lead").astype(np.int32, copy=False)
        kind = whole("kind").astype(np.int8, copy=False)
        start: FloatArray = whole("start_h").astype(np.float64, copy=False)
        end: FloatArray = whole("end_h").astype(np.float64, copy=False)
        tables.clear()  # the views go before their logs are emptied
        for _, _, log in logs:
            del log.rows[:]
        return cls(
            team=team,
            rep=rep,
            lead=lead,
            kind=kind,
            start_h=start,
            end_h=end,
            start_b=calendar.business_time_array(start),
            end_b=calendar.business_time_array(end),
        )

    def busy_hours(self, team: int, b0: float, b1: float, mask: BoolArray | None = None) -> float:
        """Working hours of ``team`` spent on tasks within [b0, b1) of the business clock."""
        sel = self.team == team if mask is None else (self.team == team) & mask
        return float(np.sum(np.clip(self.end_b[sel], b0, b1) - np.clip(self.start_b[sel], b0, b1)))


class BatchRecords:
    """One row per weekly batch release (filled during the run, then frozen)."""

    def __init__(self) -> None:
        self.release_h: list[float] = []
        self.deadline_h: list[float] = []
        self.size: list[int] = []
        self.good_fit: list[int] = []
        self.promised_share: list[float] = []

    def add(self, release: float, deadline: float, size: int, good: int, share: float) -> int:
        self.release_h.append(release)
        self.deadline_h.append(deadline)
        self.size.append(size)
        self.good_fit.append(good)
        self.promised_share.append(share)
        return len(self.size) - 1

    def freeze(self) -> dict[str, np.ndarray]:
        return {
            "release_h": np.array(self.release_h, dtype=float),
            "deadline_h": np.array(self.deadline_h, dtype=float),
            "size": np.array(self.size, dtype=np.int64),
            "good_fit": np.array(self.good_fit, dtype=np.int64),
            "promised_share": np.array(self.promised_share, dtype=float),
        }


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


def level_series(enter: FloatArray, leave: FloatArray) -> LevelSeries:
    """How many are in a stage over time, from when each entered and left (nan: still there)."""
    times = np.concatenate([enter, leave[~np.isnan(leave)]])
    deltas = np.concatenate([np.ones(len(enter)), -np.ones(np.count_nonzero(~np.isnan(leave)))])
    instants: FloatArray
    instants, where = np.unique(times, return_inverse=True)
    levels: FloatArray = np.cumsum(np.bincount(where, weights=deltas, minlength=len(instants)))
    if not len(instants) or instants[0] > 0:  # the stage starts empty
        return LevelSeries(np.append(0.0, instants), np.append(0.0, levels))
    return LevelSeries(instants, levels)


class LevelMonitor:
    """Records a level each time it changes (the model's only running tally)."""

    def __init__(self) -> None:
        self.times: list[float] = [0.0]
        self.levels: list[int] = [0]

    def change(self, now: float, delta: int) -> None:
        if now == self.times[-1]:  # several changes at one instant make one step
            self.levels[-1] += delta
            return
        self.times.append(now)
        self.levels.append(self.levels[-1] + delta)

    def series(self) -> LevelSeries:
        return LevelSeries(np.array(self.times), np.array(self.levels, dtype=float))


@dataclass(frozen=True)
class RunRecords:
    """Everything one replication produced, with the facts needed to read it."""

    leads: LeadRecords
    handoffs: HandoffRecords
    tasks: TaskRecords
    batches: dict[str, np.ndarray]
    queue: LevelSeries  # leads handed off, waiting for a first touch
    open_opportunities: LevelSeries
    source_names: tuple[str, ...]
    segment_names: tuple[str, ...]
    window: tuple[float, float]  # measured period [start, end) in simulation hours
    window_b: tuple[float, float]  # the same on the business clock
    weeks_h: FloatArray  # edges of the measured weeks (the last may be short)
    weeks_b: FloatArray  # the same on the business clock
    end_h: float  # when the simulation stopped
    sdr_seats: list[Seat]  # every team in the SDR role, one after another
    ae_seats: list[Seat]  # every team in the AE role, one after another
    # (k, 3): intervals seats could work (on the team, not away) on the business clock, and
    # the seat (rep) of each
    sdr_seat_b: FloatArray
    ae_seat_b: FloatArray
    sdr_seat_team: tuple[str, ...]  # the team of each SDR seat (its name in ``teams``)
    ae_seat_team: tuple[str, ...]
    seed: int
    replication: int

    @property
    def sdr_headcount(self) -> int:
        return len(self.sdr_seats)
