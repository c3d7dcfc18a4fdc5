"""The story of one replication: every lead's path through the funnel, told as it happens.

The story of a lead, as the model tells it:

1. An **inbound** lead arrives from a channel. Marketing scores it (fit and intent, seen through
   a noisy scoring model); at or above the MQL bar it is an MQL, below it goes to nurture,
   from which it may come back later.
2. The MQL is **handed off** to sales: at once (continuous) or in the next weekly batch. The
   SLA clock starts at handoff; the lead's patience and decay run from the moment it became
   an MQL (waiting in marketing's batch is waiting too); a lead nobody touches before its
   patience runs out is lost.
3. An **SDR** makes the first touch, where sales accepts or rejects the lead (SAL), then
   attempts contact until it connects or the attempts run out (unreachable). The lead's wait
   from MQL to that first touch decides, once, how much its chance of becoming an SQL has
   decayed: whether it is still warm enough to answer at all, and its odds in the
   qualification call that follows a connect: SQL, or disqualified back to nurture.
4. **Outbound** contacts come from monthly target lists; SDRs work them in sequences of
   touches, competing with inbound follow-up for the same hours. A conversation may book a
   meeting, a few days out; a contact who shows up has a discovery conversation (SDR or AE
   time) that qualifies it as an SQL, or not.
5. An **AE** reviews each SQL and accepts it as an opportunity, or not, then works it through
   its stages (AE time, then the buyer's delay); after the last stage it is won (a deal, and
   repeat purchases) or lost.

Build and run are separate: ``Funnel(scenario, seed, replication)`` draws every lead up front
(``population.py``), takes the scenario's rules out once (``rules.py``), seats the teams
(``pool.py``) and wires the SimPy environment; ``run()`` tells the story to the end of the
horizon, writing each lead's columns as it goes; ``assembly.py`` turns them into records.
"""

from __future__ import annotations

import gc
import math
from array import array
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Final, cast

import numpy as np
import simpy

from funnelsim.calendar import build_calendar, hours_between
from funnelsim.model.pool import (
    INBOUND_Q,
    OUTBOUND_Q,
    URGENT_Q,
    Alarm,
    RepPool,
    Task,
    Worker,
    alarm,
)
from funnelsim.model.population import Population, draw_population
from funnelsim.model.queue import first_touches
from funnelsim.model.rules import OutboundRules, Rules, Sampler
from funnelsim.records import (
    TASK_DTYPE,
    BatchRecords,
    Entry,
    HandoffLog,
    Kind,
    LevelMonitor,
    Outcome,
    TaskKind,
    floats,
    ints,
)
from funnelsim.rng import Streams
from funnelsim.scenario.schema import Scenario, Staff
from funnelsim.staffing import Seat, seats_from_plan, with_availability

NAN: Final = math.nan
# codes the hot path writes, as compiled constants (an enum member is an attribute lookup)
_WAITING: Final = int(Outcome.WAITING)
_TOUCHED: Final = int(Outcome.TOUCHED)
_EXPIRED: Final = int(Outcome.EXPIRED)
_NURTURED: Final = int(Outcome.NURTURED)
_REJECTED: Final = int(Outcome.REJECTED)
_UNREACHABLE: Final = int(Outcome.UNREACHABLE)
_DISQUALIFIED: Final = int(Outcome.DISQUALIFIED)
_SQL: Final = int(Outcome.SQL)
_OPPORTUNITY: Final = int(Outcome.OPPORTUNITY)
_WON: Final = int(Outcome.WON)
_LOST: Final = int(Outcome.LOST)
_NO_SHOW: Final = int(Outcome.NO_SHOW)
_SQL_REJECTED: Final = int(Outcome.SQL_REJECTED)
_NOT_LOADED: Final = int(Outcome.NOT_LOADED)
_FIRST_TOUCH: Final = int(TaskKind.FIRST_TOUCH)
_ATTEMPT: Final = int(TaskKind.ATTEMPT)
_QUALIFICATION: Final = int(TaskKind.QUALIFICATION)
_PROSPECT: Final = int(TaskKind.PROSPECT)
_AE_STAGE: Final = int(TaskKind.AE_STAGE)
_MEETING: Final = int(TaskKind.MEETING)
_SQL_REVIEW: Final = int(TaskKind.SQL_REVIEW)


def _nans(n: int) -> memoryview[float]:
    """A per-lead column of times or amounts, written as the story unfolds (nan: did not
    happen): 8 bytes a lead in a typed array, where a list holds a float object of 32. Written
    through a view: storing into the array itself parses its argument like a call's."""
    return memoryview(array("d", [NAN]) * n)


def _indices(values: np.ndarray) -> array[int]:
    """Lead numbers as a typed column (8 bytes each, where a list of ints holds 36)."""
    column = array("q")
    column.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return column


def _typed(values: np.ndarray) -> array[float]:
    """Per-lead numbers as one flat typed column (a row after another, for a 2-d block). Read
    one at a time in the hot path, it is much cheaper than numpy indexing, and made by a plain
    copy, not a Python float per number."""
    column = array("d")
    column.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return column


def _view(values: np.ndarray) -> memoryview[float]:
    """A typed copy of per-lead numbers the story writes too (see ``_nans``)."""
    return memoryview(_typed(values))


def _flat(values: np.ndarray) -> tuple[array[float], int]:
    """Per-lead numbers as one flat column, and its width: lead ``i``'s ``k``-th number is at
    ``i * width + k``."""
    return _typed(values), values.shape[1] if values.ndim == 2 else 1


class Funnel(Worker):
    """A built replication: leads drawn, teams seated, rules taken out, ready to run."""

    def __init__(self, scenario: Scenario, seed: int, replication: int = 0) -> None:
        self.scenario = scenario
        self.seed = seed
        self.replication = replication
        self.calendar = cal = build_calendar(scenario)
        self.rules = rules = Rules(scenario, cal)
        self.end_h = scenario.warmup_hours + scenario.horizon_hours
        self.streams = Streams(seed, replication)
        self.people = draw_population(scenario, self.streams, self.end_h)
        self.env = env = simpy.Environment(initial_time=0.0)  # a float clock from the start
        # the teams of each role (the role's own first), each a pool of its own seats
        self.sdr_teams = [
            RepPool(env, cal, self._seats(t.team, t.name), self, ramp=t.ramp,
                    priority=t.priority, ordered=t.ordered)
            for t in rules.sdr_teams
        ]  # fmt: skip
        self.ae_teams = [
            RepPool(env, cal, self._seats(t.team, t.name), self, ramp=t.ramp)
            for t in rules.ae_teams
        ]
        self.teams = self.sdr_teams + self.ae_teams
        self.sdr = self.sdr_teams[0]
        self.ae = self.ae_teams[0] if self.ae_teams else None
        self._init_state()

    def _seats(self, team: Staff, name: str) -> list[Seat]:
        """Who is on the team when: the hiring plan, then random departures (their seats empty
        until refilled) and days off, if the scenario has them."""
        origin, end = self.scenario.origin, self.end_h
        changes = [(hours_between(origin, h.at), h.change) for h in team.hiring]
        seats = seats_from_plan(team.headcount, changes, end)
        spec = team.availability
        if spec is None:
            return seats
        cal = self.calendar
        first = hours_between(origin, origin.replace(hour=0, minute=0, second=0, microsecond=0))
        midnights = [first + 24.0 * k for k in range(math.ceil((end - first) / 24.0))]
        workdays = [d for d in midnights if cal.working_hours_between(max(d, 0.0), d + 24.0) > 0]
        streams, stream = self.streams, f"staffing/{name}"
        return with_availability(
            seats, spec.days_off_per_year, spec.tenure, spec.hiring_lag.hours, workdays, end,
            lambda key: streams.for_lead(stream, key),
        )  # fmt: skip

    def _init_state(self) -> None:
        n = len(self.people)
        p = self.people
        rules = self.rules
        # what each lead is, as the hot path reads it: typed copies, of which the population's
        # columns become views, so that each number is held once
        self.fit = _typed(p.fit)
        self.intent = _view(p.intent)
        self.arrival = _view(p.arrival_h)
        self._work = _typed(p.work_h)
        p.fit, p.intent, p.arrival_h, p.work_h = (
            floats(c) for c in (self.fit, self.intent, self.arrival, self._work)
        )
        self.score = _nans(n) if rules.marketing else _view(p.score)
        self._patience = _typed(p.patience_h) if rules.patience else None
        self._source: list[int] = p.source.tolist()
        # which team of each role works each lead (empty: the role has one team)
        self._sdr_of = _routed(rules.sdr_route, p, len(self.sdr_teams))
        self._ae_of = _routed(rules.ae_route, p, len(self.ae_teams))
        self._segment_delays = len({tuple(d) for d in rules.stage_delay_h}) > 1
        # what happens to it, filled as the story unfolds (nan: did not happen); small ints in
        # lists (Python keeps one object per small int), times and amounts in typed arrays
        self.outcome = [_WAITING] * n
        self.cycles = [0] * n
        self.rep = [-1] * n
        self.accepted = [-1] * n
        self.attempts = [0] * n
        self.batch = [-1] * n
        self.mql_h = _nans(n)
        self.handoff_h = _nans(n)
        self.touch_start_h = _nans(n)
        self.touch_end_h = _nans(n)
        self.expired_h = _nans(n)
        self.connected_h = _nans(n)
        self.decision_h = _nans(n)
        self.sal_h = _nans(n)
        self.meeting_h = _nans(n)
        self.sql_h = _nans(n)
        self.opp_h = _nans(n)
        self.closed_h = _nans(n)
        self.deal_value = _nans(n)
        self.deadline_h = _nans(n)
        self.decay = _nans(n)
        self.ready_h = _nans(n)  # latest time it became an MQL
        # when its patience runs out, this cycle
        self._expire_at: memoryview[float] = memoryview(
            array("d", [math.inf]) * (n if rules.patience else 0)
        )
        self._row = memoryview(array("q", [-1]) * n)  # its current handoff row
        # the random numbers that decide its fate, drawn up front; the population's own copies
        # are let go (they would double the memory a lead costs)
        self.uniforms = {name: _flat(p.uniforms.pop(name)) for name in list(p.uniforms)}
        self.draws = {name: _flat(p.draws.pop(name)) for name in list(p.draws)}
        none: tuple[array[float], int] = (array("d"), 0)
        self._u_connect = self.uniforms.get("connect", none)
        self._u_qualify = self.uniforms.get("qualify", none)
        self._u_nurture = self.uniforms.get("nurture", none)
        self._u_win = self.uniforms.get("win", none)[0]
        self._noise_z = self.uniforms.get("noise", none)[0]
        self._connect, self._connect_w = self._u_connect
        self._touch, self._touch_w = self.draws.get("touch", none)
        self._u_stage, self._u_stage_w = self.uniforms.get("advance", none)
        self._stage_work, self._stage_w = self.draws.get("stage", none)
        self._call = self.draws.get("qualification", none)[0]
        self.drawn_deal = self.draws.get("deal", none)[0]  # each lead's deal, if won
        self._seq_rng = self.streams.generator("nurture/sequence")
        self._source_names = list(self.scenario.sources)
        self._cold: set[int] = set()  # leads gone cold by their first touch, this cycle
        # finite markets: which contact each loaded lead is, each source's contacts never
        # loaded yet, and those resting after a sequence, by when they may be loaded again
        markets = any(seq is not None and seq.market_size for seq in rules.outbound)
        self.contact = memoryview(array("q", [-1]) * (n if markets else 0))
        self._fresh = [0] * len(rules.outbound)
        self._resting: list[deque[tuple[float, int]]] = [deque() for _ in rules.outbound]
        # running tallies and logs
        self.open_opps = LevelMonitor()  # opportunities open
        self.handoffs = HandoffLog()
        self.mql_pool: list[int] = []  # MQLs waiting for a batch release
        self._pooled = [False] * n if rules.release is not None else []
        self.batches = BatchRecords()
        self.rejections = 0
        self.mql_threshold = rules.mql_threshold  # moved by sales' decisions (feedback loop)
        self._next = 0

    # -- running -----------------------------------------------------------------------------
    def run(self) -> None:
        """Tell the story to the end of the horizon; the columns then hold what happened."""
        # Everything built so far (the drawn leads, their columns, the teams) lives until the
        # run ends: frozen, the cyclic garbage collector stops walking it over and over while
        # the run allocates (about a tenth of the run's time). New objects are collected as
        # usual, and unfreezing hands the frozen ones back to it.
        if self.rules.single_queue:
            self._serve_in_order()
            return
        gc.freeze()
        try:
            self._run()
        finally:
            gc.unfreeze()

    def _serve_in_order(self) -> None:
        """The funnel is one queue served in order of arrival: computed directly
        (``queue.py``), and written into the columns as the general story would: every lead an
        MQL handed off on arrival, sales deciding at the end of its first touch."""
        served = first_touches(
            self.arrival, self._work, self._patience, len(self.sdr.seats), self.calendar,
            self.end_h,
        )  # fmt: skip
        n = len(self.arrival)
        self.mql_h = self.handoff_h = self.ready_h = self.arrival
        self.touch_start_h = memoryview(served.start_h)
        self.expired_h = memoryview(served.expired_h)
        order = np.array(served.order, dtype=np.int64)  # the leads touched, in order of start
        start, done = floats(served.start_h), floats(served.done_h)
        finished = np.flatnonzero(done < self.end_h)  # done within the run
        self.touch_end_h = _view(np.where(done < self.end_h, done, np.nan))
        self.decision_h = self.sal_h = self.touch_end_h
        accepted, outcome = np.full(n, -1), np.full(n, _WAITING)
        accepted[finished] = 1
        outcome[finished] = _TOUCHED
        outcome[~np.isnan(floats(served.expired_h))] = _EXPIRED
        self.accepted, self.outcome = accepted.tolist(), outcome.tolist()
        self.rep = ints(served.rep).tolist()
        curve = self.rules.decay
        waits = start[order] - floats(self.arrival)[order]
        decay = np.full(n, np.nan)
        decay[order] = 1.0 if curve is None else [curve.at(w) for w in waits.tolist()]
        self.decay = _view(decay)
        rows = np.zeros(len(order), dtype=TASK_DTYPE)
        rows["rep"], rows["lead"], rows["kind"] = ints(served.rep)[order], order, _FIRST_TOUCH
        rows["start_h"], rows["end_h"] = start[order], floats(served.end_h)[order]
        self.sdr.log.rows[:] = rows.tobytes()
        handoffs = self.handoffs
        handoffs.lead = array("q", range(n))
        handoffs.handoff_h = _typed(floats(self.arrival))
        handoffs.touch_start_h = served.start_h
        handoffs.expired_h = served.expired_h
        handoffs.decision_h = _typed(floats(self.decision_h))
        handoffs.qualify_by_h = array("d", [NAN]) * n
        handoffs.batch = array("q", [-1]) * n
        handoffs.decay = _typed(decay)
        self._let_go_of_draws()

    def _run(self) -> None:
        # New leads need no event of their own: an inbound lead's arrival and an outbound
        # contact's loading are happenings on the SDR team's agenda, taking their turn when the
        # team next looks at its queues (at their own time if an SDR is idle then). The
        # starting state arrives at hour 0 by events.
        p = self.people
        new = p.entry == Entry.NEW
        self._arrivals: list[int] = np.flatnonzero(~new).tolist()
        team = np.frombuffer(self._sdr_of, dtype=np.int8) if self._sdr_of else np.zeros(len(p))
        self._inbound, self._contacts = [], []
        for k, pool in enumerate(self.sdr_teams):
            # each team's new leads are happenings on its own agenda: leads are sorted by
            # arrival, so the plan is by due time, and within each kind the happenings take
            # their turns in lead order
            mine = new & (team == k)
            self._inbound.append(iter(_indices(np.flatnonzero(mine & (p.kind == Kind.INBOUND)))))
            self._contacts.append(iter(_indices(np.flatnonzero(mine & (p.kind == Kind.OUTBOUND)))))
            arrive, load = partial(self._arrive_next, k), partial(self._load_next, k)
            pool.plan(
                p.arrival_h[mine].tolist(),
                [load if kind == Kind.OUTBOUND else arrive for kind in p.kind[mine].tolist()],
            )
        for pool in self.teams:
            pool.start()
        if self._arrivals:
            self._at(self.arrival[self._arrivals[0]], self._on_arrival)
        if self.rules.release is not None:
            self._at(self._next_weekly(0.0, self.rules.release.day, self.rules.release.hour),
                     self._on_release)  # fmt: skip
        self.env.run(until=self.end_h)
        # what fell due before the end has happened (the next instant down from the end)
        self._advance(math.nextafter(self.end_h, -math.inf))
        self._expire_at_end()
        self._let_go_of_draws()

    def _let_go_of_draws(self) -> None:
        """The story is told: the random numbers that decided it are no longer needed (they
        are a third of what a lead costs in memory). A deal's size is, for the pipeline."""
        none: array[float] = array("d")
        self.uniforms, self.draws = {}, {}
        self._u_connect = self._u_qualify = self._u_nurture = (none, 0)
        self._u_win = self._noise_z = self._connect = self._touch = none
        self._u_stage = self._stage_work = self._call = none

    def _advance(self, now: float) -> None:
        """Every team's time moves on to ``now``: whatever fell due by then has happened."""
        for pool in self.teams:
            pool.advance(now)

    def _sdr_team(self, lead: int) -> RepPool:
        """The team that works the lead in the SDR role."""
        return self.sdr_teams[self._sdr_of[lead]] if self._sdr_of else self.sdr

    def _ae_team(self, lead: int) -> RepPool:
        """The team that works the lead's opportunity (the scenario has AEs)."""
        if self._ae_of:
            return self.ae_teams[self._ae_of[lead]]
        assert self.ae is not None
        return self.ae

    def _at(self, t: float, callback: Callable[[float], None]) -> None:
        """Have the story do ``callback(now)`` at ``t`` (now, if ``t`` has passed), after
        every team has caught up with everything that fell due before it."""
        now: float = self.env.now
        alarm(self.env, max(t - now, 0.0), callback, self._on_event)

    def _on_event(self, event: Alarm) -> None:
        now: float = self.env.now
        self._advance(now)
        callback = cast(Callable[[float], None], event._value)
        callback(now)

    # -- arrivals and marketing --------------------------------------------------------------
    def _arrive_next(self, team: int, now: float) -> None:
        """The next new inbound lead of the team arrives: marketing scores it, unless every lead
        is an MQL."""
        lead = next(self._inbound[team])
        self.arrival[lead] = now  # the drawn time, up to the clock's rounding: keeps waits exact
        if not self.rules.marketing:
            self._mql(lead, now)
        else:
            self._qualify_marketing(lead, now)

    def _on_arrival(self, now: float) -> None:
        """A lead of the starting state enters, where the scenario says."""
        lead = self._arrivals[self._next]
        self._next += 1
        self.arrival[lead] = now  # the drawn time, up to the clock's rounding: keeps waits exact
        if self._next < len(self._arrivals):
            self._at(self.arrival[self._arrivals[self._next]], self._on_arrival)
        entry = int(self.people.entry[lead])
        if entry >= Entry.OPEN_OPPORTUNITY:  # an opportunity already open
            self._open_opportunity(lead, entry - Entry.OPEN_OPPORTUNITY, now)
        else:  # starting state: an MQL that has waited already
            if self.rules.marketing:
                self.score[lead] = self._marketing_score(lead, 0.0)
            self._mql(lead, now, ready=now - float(self.people.age_h[lead]))

    def _uniform(self, column: tuple[array[float], int], lead: int, k: int = 0) -> float:
        """The lead's ``k``-th pre-drawn uniform of ``column``; a fresh one in a later cycle.

        A lead back from nurture is a new conversation: its odds are drawn anew (from the
        sequential stream), while its company's fit stays what it was.
        """
        if self.cycles[lead]:
            return float(self._seq_rng.random())
        values, width = column
        return values[lead * width + k]

    def _marketing_score(self, lead: int, z: float) -> float:
        """Marketing sees fit through a noisy scoring model, and intent as shown."""
        rules = self.rules
        noise = rules.scoring_noise
        if rules.feedback:  # sales' rejections sharpen the scoring
            noise *= 0.5 ** (self.rejections / rules.halving_rejections)
        seen_fit = self.fit[lead] + noise * z
        return float(rules.w_fit * seen_fit + rules.w_intent * self.intent[lead])

    def _qualify_marketing(self, lead: int, now: float) -> None:
        # (without marketing every inbound lead is an MQL on arrival, and this is never called)
        z = (
            self._noise_z[lead]
            if self.cycles[lead] == 0
            else float(self._seq_rng.standard_normal())
        )
        score = self._marketing_score(lead, z)
        self.score[lead] = score
        if score >= self.mql_threshold:
            self._mql(lead, now)
        else:
            self._nurture(lead, now, _NURTURED)

    def _nurture(self, lead: int, now: float, outcome: int) -> None:
        self.outcome[lead] = outcome
        rules = self.rules
        if self.cycles[lead] >= rules.nurture_cycles:
            return
        if self._uniform(self._u_nurture, lead) < rules.reemerge_probability:
            assert rules.nurture_after is not None
            delay = float(rules.nurture_after.sample(self._seq_rng, 1)[0])
            self._sdr_team(lead).call_at(now + delay, partial(self._reemerge, lead))

    def _reemerge(self, lead: int, now: float) -> None:
        """Back from nurture: a new conversation, scored by marketing again."""
        self.cycles[lead] += 1
        # back from nurture: the lead's records follow this new cycle (mql_h keeps the first)
        for column in (
            self.handoff_h, self.touch_start_h, self.touch_end_h, self.decay, self.connected_h,
            self.decision_h, self.deadline_h,
        ):  # fmt: skip
            column[lead] = NAN
        self.accepted[lead] = self.rep[lead] = self.batch[lead] = -1
        self.attempts[lead] = 0
        self._cold.discard(lead)
        intent = self.rules.intent[self._source[lead]]
        assert intent is not None
        self.intent[lead] = float(intent.sample(self._seq_rng, 1)[0])
        self.outcome[lead] = _WAITING
        self._qualify_marketing(lead, now)

    def _mql(self, lead: int, now: float, ready: float | None = None) -> None:
        """The lead is ready for sales (since ``ready``): its patience and decay clocks run."""
        ready = now if ready is None else ready
        if math.isnan(self.mql_h[lead]):
            self.mql_h[lead] = ready
        self.ready_h[lead] = ready
        self.outcome[lead] = _WAITING
        if self._patience is not None:
            # no event: a lead is found lost when a rep would take it, at release, or at the end
            self._expire_at[lead] = max(ready + self._patience[lead], now)
        if self.rules.release is None:
            self._handoff(lead, now)
        else:
            self._pooled[lead] = True
            self.mql_pool.append(lead)

    # -- handoff -----------------------------------------------------------------------------
    def _handoff(self, lead: int, now: float) -> None:
        """The lead reaches sales: the first-touch SLA clock starts now."""
        self.handoff_h[lead] = now
        self.attempts[lead] = 0
        self._row[lead] = self.handoffs.add(lead, now, self.batch[lead], self.deadline_h[lead])
        task = Task(
            lead, _FIRST_TOUCH, INBOUND_Q, self._work[lead], key=-self.score[lead],
            expire_h=self._expire_at[lead] if self._patience is not None else math.inf,
        )  # fmt: skip
        self._sdr_team(lead).submit(task)

    def expired(self, task: Task) -> None:
        """Patience ran out before any rep took the lead: lost, at the instant it ran out."""
        lead, when = task.lead, task.expire_h
        self.handoffs.expired_h[self._row[lead]] = when
        self._expire(lead, when)

    def _expire(self, lead: int, when: float) -> None:
        self.expired_h[lead] = when
        self.outcome[lead] = _EXPIRED

    def _expire_pooled(self, until: float) -> None:
        """MQLs in marketing's batch pool whose patience ran out by ``until`` are lost."""
        if self._patience is None:
            return
        for lead in self.mql_pool:
            if self._pooled[lead] and self._expire_at[lead] <= until:
                self._pooled[lead] = False
                self._expire(lead, self._expire_at[lead])

    def _expire_at_end(self) -> None:
        """Losses still pending when the run stops (they happened before its end)."""
        if self._patience is None:
            return
        for pool in self.sdr_teams:
            pool.expire_waiting(self.end_h)
        self._expire_pooled(math.nextafter(self.end_h, -math.inf))

    def _next_weekly(self, t: float, day: int, hour: float) -> float:
        """The first instant at or after ``t`` that falls on weekday ``day`` at ``hour``."""
        now = self.calendar.datetime_at(t)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        days = (day - midnight.weekday()) % 7
        candidate = t + (midnight - now).total_seconds() / 3600 + 24 * days + hour
        return candidate if candidate >= t - 1e-9 else candidate + 168.0

    def _on_release(self, now: float) -> None:
        """Marketing releases its best-scored MQLs, up to the batch size."""
        release = self.rules.release
        assert release is not None
        self._expire_pooled(now)
        pool = sorted(
            (i for i in self.mql_pool if self._pooled[i]), key=lambda i: (-self.score[i], i)
        )
        released, self.mql_pool = pool[: release.size], pool[release.size :]
        deadline = self._next_weekly(now, release.deadline_day, release.deadline_hour)
        good = sum(self.fit[i] >= release.good_fit_threshold for i in released)
        index = self.batches.add(now, deadline, len(released), good, release.good_fit_share)
        for lead in released:
            self._pooled[lead] = False
            self.batch[lead] = index
            self.deadline_h[lead] = deadline
            self._handoff(lead, now)
        self._at(self._next_weekly(now + 1e-6, release.day, release.hour), self._on_release)

    # -- the teams' work ---------------------------------------------------------------------
    def _hand(self, team: RepPool, task: Task, due: float, now: float) -> None:
        """Hand the team a task due at ``due``: at once if that is now, else on its agenda."""
        if due > now:
            team.submit_at(task, due)
        else:
            team.submit(task)

    def started(self, task: Task, rep: int, now: float) -> None:
        """A rep takes a task: a lead's first touch, or a contact's first prospecting touch,
        is the lead's touch."""
        if task.kind == _FIRST_TOUCH:
            self._touched(task, rep, now)
        elif task.kind == _PROSPECT and self.attempts[task.lead] == 0:
            self.touch_start_h[task.lead] = now
            self.rep[task.lead] = rep

    def done(self, task: Task, rep: int, now: float) -> None:
        """A rep has finished a task: what follows depends on its kind."""
        kind = task.kind
        if kind == _PROSPECT:
            self._touch_done(task, now)
        elif kind == _ATTEMPT:
            self._retry_done(task, now)
        elif kind == _FIRST_TOUCH:
            self._first_touch_done(task, now)
        elif kind == _QUALIFICATION:
            self._qualification_done(task, now)
        elif kind == _AE_STAGE:
            self._stage_done(task, now)
        elif kind == _MEETING:
            self._meeting_done(task, now)
        else:
            self._review_done(task, now)

    # -- SDR work ----------------------------------------------------------------------------
    def _touched(self, task: Task, rep: int, now: float) -> None:
        """The first touch starts: the SLA is judged, patience stops, decay is recorded."""
        lead = task.lead
        self.touch_start_h[lead] = now
        self.rep[lead] = rep
        curve = self.rules.decay
        decay = 1.0 if curve is None else curve.at(now - self.ready_h[lead])
        self.decay[lead] = decay
        row = self._row[lead]
        self.handoffs.touch_start_h[row] = now
        self.handoffs.decay[row] = decay

    def _first_touch_done(self, task: Task, now: float) -> None:
        lead = task.lead
        self.touch_end_h[lead] = now
        rules = self.rules
        if self.fit[lead] < rules.acceptance_fit:
            self.accepted[lead] = 0
            self.rejections += 1
            self.mql_threshold = min(1.0, self.mql_threshold + rules.bar_up)
            self._decide(lead, now)
            self._nurture(lead, now, _REJECTED)
            return
        self.accepted[lead] = 1
        self.mql_threshold = max(0.0, self.mql_threshold - rules.bar_down)
        if math.isnan(self.sal_h[lead]):
            self.sal_h[lead] = now
        if self.rules.ends_at_first_touch:
            self.outcome[lead] = _TOUCHED  # the funnel ends at first touch
            self._decide(lead, now)
            return
        self._attempt_done(lead, now)

    def _attempt_done(self, lead: int, now: float) -> None:
        k = self.attempts[lead]
        self.attempts[lead] = k + 1
        rules = self.rules
        u = self._uniform(self._u_connect, lead, k)
        if k == 0:
            # the first touch: the lead is still warm with probability d^a (its share of the
            # decay), and reached with connect_probability x d^a; given warm, u / d^a is
            # uniform, so the two stay independent
            warm = self.decay[lead] ** rules.connect_share
            if u >= warm:
                self._cold.add(lead)
            reached = u < rules.connect_probability * warm
        else:
            reached = lead not in self._cold and u < rules.connect_probability
        if reached:
            self.connected_h[lead] = now
            if not rules.qualification:
                self.outcome[lead] = _TOUCHED
                self._decide(lead, now)
                return
            self._sdr_team(lead).submit(Task(lead, _QUALIFICATION, URGENT_Q, self._call[lead]))
            return
        if k + 1 >= (self._planned(lead) if rules.follow_up else rules.max_attempts):
            self._cold.discard(lead)
            self.outcome[lead] = _UNREACHABLE
            self._decide(lead, now)
            return
        # the next attempt is due a spacing after this one ended, with a work time of its own
        work = self._touch[lead * self._touch_w + k + 1]
        task = Task(lead, _ATTEMPT, INBOUND_Q, work, key=-self.score[lead])
        self._hand(self._sdr_team(lead), task, rules.retry.after(now, self.calendar), now)

    def _planned(self, lead: int) -> int:
        """How many attempts sales makes on the lead: by its source, by its score, or drawn from
        the planned distribution (the same number whenever asked, and anew in a later cycle)."""
        rules = self.rules
        source = self._source[lead]
        fixed = rules.attempts_by_source[source]
        if fixed:
            return fixed
        if self.score[lead] >= rules.all_from_score or not rules.planned_counts:
            return rules.max_attempts
        name = f"follow-up/{self._source_names[source]}"
        u = self.streams.uniform_for(name, lead * 64 + self.cycles[lead])
        for count, cumulative in zip(rules.planned_counts, rules.planned_cumulative, strict=True):
            if u < cumulative:
                return count
        return rules.planned_counts[-1]  # u above the last sum, rounded below 1

    def _retry_done(self, task: Task, now: float) -> None:
        self._attempt_done(task.lead, now)

    def _qualification_done(self, task: Task, now: float) -> None:
        """The call after a connect: the rest of the decay (1 - a) acts on its odds."""
        lead = task.lead
        rules = self.rules
        rest = self.decay[lead] ** (1.0 - rules.connect_share)
        p = min(1.0, rules.qualify_probability * (0.5 + self.fit[lead]) * rest)
        self._decide(lead, now)
        if self._uniform(self._u_qualify, lead) < p:
            self._sql(lead, now)
        else:
            self._nurture(lead, now, _DISQUALIFIED)

    def _decide(self, lead: int, now: float) -> None:
        """Sales has reached a decision on a handed-off lead."""
        self.decision_h[lead] = now
        self.handoffs.decision_h[self._row[lead]] = now

    # -- outbound ----------------------------------------------------------------------------
    def _load_next(self, team: int, now: float) -> None:
        """The team's next contact of the lists is loaded: its first touch is due. From a finite
        market it is a contact never loaded, else one rested long enough; if there is none, the
        list has run dry and nobody is loaded."""
        lead = next(self._contacts[team])
        source = self._source[lead]
        seq = self.rules.outbound[source]
        assert seq is not None
        if seq.market_size:
            resting = self._resting[source]
            if self._fresh[source] < seq.market_size:
                self.contact[lead] = self._fresh[source]
                self._fresh[source] += 1
            elif resting and resting[0][0] <= now:
                self.contact[lead] = resting.popleft()[1]
            else:
                self.outcome[lead] = _NOT_LOADED
                return
        task = Task(lead, _PROSPECT, OUTBOUND_Q, self._work[lead], key=-self.fit[lead])
        self.sdr_teams[team].submit(task)

    def _rest(self, lead: int, now: float) -> None:
        """The contact's sequence ended without a meeting held: it rests before a list may load
        it again (a contact in the pipeline never returns to the list)."""
        seq = self.rules.outbound[self._source[lead]]
        assert seq is not None
        if seq.market_size:
            self._resting[self._source[lead]].append((now + seq.cool_off_h, self.contact[lead]))

    def _touch_done(self, task: Task, now: float) -> None:
        lead = task.lead
        seq = self.rules.outbound[self._source[lead]]
        assert seq is not None
        k = self.attempts[lead]
        self.attempts[lead] = k + 1
        if k == 0:
            self.touch_end_h[lead] = now
        if self._connect[lead * self._connect_w + k] < seq.connect_probability:
            self.connected_h[lead] = now
            p = min(1.0, seq.meeting_probability * (0.5 + self.fit[lead]))
            if self._uniform(self._u_qualify, lead) < p:
                self._book_meeting(lead, seq, now)
            else:
                self.decision_h[lead] = now
                self.outcome[lead] = _DISQUALIFIED
                self._rest(lead, now)
            return
        if k + 1 >= seq.touches:
            self.decision_h[lead] = now
            self.outcome[lead] = _UNREACHABLE
            self._rest(lead, now)
            return
        # the next touch is due a spacing after this one ended, with a work time of its own; it
        # reuses this task (same lead, kind and queue), which the pool has let go of
        task.work_h = self._touch[lead * self._touch_w + k + 1]
        self._hand(self._sdr_team(lead), task, seq.spacing.after(now, self.calendar), now)

    def _meeting_numbers(self, lead: int, seq: OutboundRules) -> tuple[float, float, float, float]:
        """The booked meeting's numbers, the same each time they are asked for: its delay, the
        uniform that decides the show, the discovery's work time and the uniform that decides
        the qualification (drawn when a meeting is booked, few contacts get one)."""
        rng = self.streams.for_lead(f"meeting/{self._source_names[self._source[lead]]}", lead)
        delay = float(seq.meeting_delay.sample(rng, 1)[0])
        show = float(rng.random())
        work = float(seq.meeting_time.sample(rng, 1)[0])
        return delay, show, work, float(rng.random())

    def _team(self, lead: int, by_ae: bool) -> RepPool:
        return self._ae_team(lead) if by_ae else self._sdr_team(lead)

    def _book_meeting(self, lead: int, seq: OutboundRules, now: float) -> None:
        """A conversation booked a meeting, ``delay`` from now: held or not, it is due then."""
        delay, _, _, _ = self._meeting_numbers(lead, seq)
        self.meeting_h[lead] = now + delay
        self._team(lead, seq.held_by_ae).call_at(now + delay, partial(self._meeting_due, lead))

    def _meeting_due(self, lead: int, now: float) -> None:
        """The meeting's time: the contact shows up (a discovery conversation, in the queue of
        the team that holds it), or not."""
        seq = self.rules.outbound[self._source[lead]]
        assert seq is not None
        delay, show, work, _ = self._meeting_numbers(lead, seq)
        if show >= seq.shows(delay / 24.0):
            self.decision_h[lead] = now
            self.outcome[lead] = _NO_SHOW
            self._rest(lead, now)
            return
        queue = INBOUND_Q if seq.held_by_ae else URGENT_Q
        self._team(lead, seq.held_by_ae).submit(Task(lead, _MEETING, queue, work))

    def _meeting_done(self, task: Task, now: float) -> None:
        """The discovery conversation qualifies the contact as an SQL, or not."""
        lead = task.lead
        seq = self.rules.outbound[self._source[lead]]
        assert seq is not None
        _, _, _, u = self._meeting_numbers(lead, seq)
        self.decision_h[lead] = now
        if u < min(1.0, seq.meeting_qualify * (0.5 + self.fit[lead])):
            self._sql(lead, now)
        else:
            self.outcome[lead] = _DISQUALIFIED
            self._rest(lead, now)

    # -- opportunities -----------------------------------------------------------------------
    def _sql(self, lead: int, now: float) -> None:
        """The lead is an SQL: an AE reviews it (if the scenario says so) before it may become
        an opportunity."""
        if math.isnan(self.sql_h[lead]):
            self.sql_h[lead] = now
        self.outcome[lead] = _SQL
        if self.ae is None:
            return
        review = self.rules.sql_review
        if review is None:
            self._open_opportunity(lead, 0, now)
            return
        work, _ = self._review_numbers(lead, review)
        self._ae_team(lead).submit(Task(lead, _SQL_REVIEW, INBOUND_Q, work))

    def _review_numbers(self, lead: int, review: Sampler) -> tuple[float, float]:
        """The AE review's work time, and the uniform that decides it."""
        rng = self.streams.for_lead(f"review/{self._source_names[self._source[lead]]}", lead)
        return float(review.sample(rng, 1)[0]), float(rng.random())

    def _review_done(self, task: Task, now: float) -> None:
        lead = task.lead
        review = self.rules.sql_review
        assert review is not None
        _, u = self._review_numbers(lead, review)
        if u < min(1.0, self.rules.sql_accept * (0.5 + self.fit[lead])):
            self._open_opportunity(lead, 0, now)
        else:
            self.closed_h[lead] = now  # sales closed the lead, with no opportunity
            self.outcome[lead] = _SQL_REJECTED

    def _open_opportunity(self, lead: int, stage: int, now: float) -> None:
        """An AE takes the lead on as an opportunity, at ``stage``."""
        self.opp_h[lead] = now
        self.outcome[lead] = _OPPORTUNITY
        # submitted first: the team catches up, so deals decided by now close before this one
        # opens, and the open count stays in time order
        self._ae_team(lead).submit(self._stage(lead, stage))
        self.open_opps.change(now, +1)

    def _stage(self, lead: int, s: int) -> Task:
        """The AE's work on stage ``s`` of the opportunity."""
        work = self._stage_work[lead * self._stage_w + s]
        return Task(lead, _AE_STAGE, INBOUND_Q, work, stage=s)

    def _stage_done(self, task: Task, now: float) -> None:
        lead, s = task.lead, task.stage
        delays = self.rules.stage_delay_h
        delay = delays[int(self.people.segment[lead]) if self._segment_delays else 0][s]
        team = self._ae_team(lead)
        if self._u_stage[lead * self._u_stage_w + s] >= self.rules.stage_advance[s]:
            # the buyer goes quiet: the deal stays in the pipeline until the stage's delay has
            # passed and then as long as sales keeps a stale deal open, then is closed lost
            team.call_at(now + delay + self.rules.stale_h, partial(self._goes_quiet, lead))
            return
        if s + 1 < len(self.rules.stage_advance):  # the next stage, after the buyer's delay
            self._hand(team, self._stage(lead, s + 1), now + delay, now)
            return
        # the buyer decides after the last delay: a happening on the AE team's agenda, since
        # nothing waits on the instant it is known
        team.call_at(now + delay, partial(self._buyer_decides, lead))

    def _goes_quiet(self, lead: int, now: float) -> None:
        self._close(lead, now, won=False)

    def _buyer_decides(self, lead: int, now: float) -> None:
        segment, kind = int(self.people.segment[lead]), int(self.people.kind[lead])
        p = self.rules.win_probability(segment, kind, self.fit[lead])
        self._close(lead, now, won=self._u_win[lead] < p)

    def _close(self, lead: int, now: float, *, won: bool) -> None:
        self.closed_h[lead] = now
        self.outcome[lead] = _WON if won else _LOST
        if won:
            self.deal_value[lead] = self.drawn_deal[lead]
        self.open_opps.change(now, -1)


def _routed(route: list[int], people: Population, teams: int) -> array[int]:
    """Which team of a role works each lead, by its source and segment (``Rules``' table); empty
    when the role has a single team, so that the hot path asks nothing."""
    if teams <= 1:
        return array("b")
    segments = len(people.segment_names)
    index = people.source * segments + people.segment
    column = array("b")
    column.frombytes(np.asarray(route, dtype=np.int8)[index].tobytes())
    return column
