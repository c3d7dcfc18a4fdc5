"""One replication of a funnel: build it from a scenario, run it, return its records.

The story of a lead, as the model tells it:

1. An **inbound** lead arrives from a channel. Marketing scores it (fit and intent, seen through
   a noisy scoring model); at or above the MQL bar it is an MQL, below it goes to nurture,
   from which it may come back later.
2. The MQL is **handed off** to sales: at once (continuous) or in the next weekly batch. The
   SLA clock starts at handoff; the lead's patience and decay run from the moment it became
   an MQL (waiting in marketing's batch is waiting too); a lead nobody touches before its
   patience runs out is lost.
3. An **SDR** makes the first touch, where sales accepts or rejects the lead (SAL), then
   attempts contact until it connects or the attempts run out (unreachable). Each attempt's
   odds are multiplied by the lead's decay, its wait since it became an MQL. Reached leads get a
   qualification call: SQL, or disqualified back to nurture.
4. **Outbound** contacts come from monthly target lists; SDRs work them in sequences of
   touches, competing with inbound follow-up for the same hours. A conversation may book a
   meeting: an SQL.
5. An **AE** works each SQL as an opportunity through its stages (AE time, then the buyer's
   delay); after the last stage it is won (a deal, and repeat purchases) or lost.

Build and run are separate: ``FunnelModel(scenario, seed, replication)`` draws every lead up
front and wires the SimPy environment; ``run()`` simulates and returns flat records.
"""

from __future__ import annotations

import gc
import math
from array import array
from collections.abc import Callable
from functools import partial
from typing import Final

import numpy as np
import simpy
from simpy.events import Timeout

from funnelsim.calendar import Calendar, build_calendar, hours_between
from funnelsim.model import population as pop
from funnelsim.model.decay import DecayCurve
from funnelsim.model.first_touch import FirstTouchQueue, is_queue_only
from funnelsim.model.pool import (
    AE_STAGE,
    ATTEMPT,
    FIRST_TOUCH,
    INBOUND,
    OUTBOUND,
    PROSPECT,
    QUALIFICATION,
    URGENT,
    RepPool,
    Task,
    Worker,
)
from funnelsim.records import (
    BatchRecords,
    HandoffLog,
    HandoffRecords,
    Kind,
    LeadRecords,
    LevelMonitor,
    Outcome,
    RunRecords,
    TaskRecords,
    floats,
    ints,
    level_series,
)
from funnelsim.rng import Streams
from funnelsim.scenario.schema import (
    HiringChange,
    InboundSource,
    OutboundSource,
    Scenario,
    parse_weekly_time,
)
from funnelsim.staffing import Ramp, Seat, seats_from_plan
from funnelsim.units import Duration

NAN: Final = math.nan
# outcome codes the hot path writes (records.OUTCOMES)
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

Spacing = tuple[bool, float]  # (on the business clock?, hours) between two pieces of work


def _spacing(duration: Duration, calendar: Calendar) -> Spacing:
    if duration.business:
        return True, calendar.business_hours(duration)
    return False, duration.hours


class _Sequence:
    """An outbound source's sequence, in the form the hot path reads it."""

    def __init__(self, touches: int, spacing: Spacing, connect_p: float, meeting_p: float) -> None:
        self.touches = touches
        self.business, self.spacing_h = spacing
        self.connect_probability = connect_p
        self.meeting_probability = meeting_p


def _column(n: int) -> list[float]:
    """A per-lead column of times or amounts, written one item at a time as the story unfolds
    (a list: storing a float into it costs far less than into an ``array``)."""
    return [NAN] * n


def _flat(values: np.ndarray) -> tuple[array[float], int]:
    """Per-lead random numbers as one flat column, and its width: lead ``i``'s ``k``-th number
    is at ``i * width + k``. Read one at a time in the hot path, a flat array is much cheaper
    than numpy indexing, and made by a plain copy, not a Python float per number.
    """
    width = values.shape[1] if values.ndim == 2 else 1
    column = array("d")
    column.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return column, width


def _ramp(spec_ramp: object) -> Ramp | None:
    if spec_ramp is None:
        return None
    return Ramp(start=spec_ramp.start, hours=spec_ramp.over.hours)  # type: ignore[attr-defined]


class FunnelModel(Worker):
    """A built replication: leads drawn, teams seated, processes wired, ready to run."""

    def __init__(self, scenario: Scenario, seed: int, replication: int = 0) -> None:
        self.scenario = scenario
        self.seed = seed
        self.replication = replication
        self.calendar = cal = build_calendar(scenario)
        self.end_h = scenario.warmup_hours + scenario.horizon_hours
        self.streams = Streams(seed, replication)
        self.people = pop.draw_population(scenario, self.streams, self.end_h)
        self.env = env = simpy.Environment(initial_time=0.0)  # a float clock from the start
        sdr, ae = scenario.teams.sdr, scenario.teams.ae
        self.sdr_seats = seats_from_plan(sdr.headcount, self._changes(sdr.hiring), self.end_h)
        score_first = sdr.priority == "score"
        self.sdr = RepPool(
            env,
            cal,
            self.sdr_seats,
            self,
            ramp=_ramp(sdr.ramp),
            priority=float(sdr.priority) if not isinstance(sdr.priority, str) else sdr.priority,
            ordered=(False, score_first or scenario.handoff.routing == "score", score_first),
        )
        self.ae_seats = (
            seats_from_plan(ae.headcount, self._changes(ae.hiring), self.end_h) if ae else []
        )
        self.ae = RepPool(env, cal, self.ae_seats, self, ramp=_ramp(ae.ramp)) if ae else None
        self._init_state()
        self.queue_only = is_queue_only(scenario)

    def _changes(self, hiring: list[HiringChange]) -> list[tuple[float, int]]:
        return [(hours_between(self.scenario.origin, h.at), h.change) for h in hiring]

    def _init_state(self) -> None:
        n = len(self.people)
        p = self.people
        s = self.scenario
        cal = self.calendar
        self.score: list[float] = p.score.tolist() if s.marketing is None else [NAN] * n
        self.fit: list[float] = p.fit.tolist()
        self.intent: list[float] = p.intent.tolist()
        self.outcome = [_WAITING] * n
        self.cycles = [0] * n
        # per-lead columns, filled as the story unfolds (nan: did not happen)
        self.mql_h = _column(n)
        self.handoff_h = _column(n)
        self.touch_start_h = _column(n)
        self.touch_end_h = _column(n)
        self.expired_h = _column(n)
        self.connected_h = _column(n)
        self.decision_h = _column(n)
        self.sql_h = _column(n)
        self.opp_h = _column(n)
        self.closed_h = _column(n)
        self.deal_value = _column(n)
        self.deadline_h = _column(n)
        self.decay = _column(n)
        self.attempt_start_h = _column(n)
        self.ready_h = _column(n)  # latest time it became an MQL
        # hot-path copies as Python lists: indexing numpy arrays one item at a time is slow
        self._arrival: list[float] = p.arrival_h.tolist()
        self._kind: list[int] = p.kind.tolist()
        self._entry: list[int] = p.entry.tolist()
        self._work: list[float] = p.work_h.tolist()
        self._patience: list[float] | None = (
            None if s.handoff.expire_after is None else p.patience_h.tolist()
        )
        self._expire_at = [math.inf] * n  # when the lead's patience runs out, this cycle
        self._uniforms = {name: _flat(values) for name, values in p.uniforms.items()}
        self._draws = {name: _flat(values) for name, values in p.draws.items()}
        none: tuple[array[float], int] = (array("d"), 0)
        self._u_connect = self._uniforms.get("connect", none)
        self._u_qualify = self._uniforms.get("qualify", none)
        self._u_nurture = self._uniforms.get("nurture", none)
        self._connect, self._connect_w = self._u_connect
        self._touch, self._touch_w = self._draws.get("touch", none)
        self._advance, self._advance_w = self._uniforms.get("advance", none)
        self._stage_work, self._stage_w = self._draws.get("stage", none)
        self._batched = s.handoff.batch is not None
        self._marketing = s.marketing
        self._ends_at_first_touch = (
            s.teams.sdr.qualification is None and s.teams.sdr.attempts is None
        )
        self.rep = [-1] * n
        self.accepted = [-1] * n
        self.attempts = [0] * n
        self.batch = [-1] * n
        self.won = [False] * n
        self.open_opps = LevelMonitor()  # opportunities open
        self.handoffs = HandoffLog()
        # the handoff log's columns the hot path writes, held here
        self._handoff_touch_h = self.handoffs.touch_start_h
        self._handoff_decay = self.handoffs.decay
        self._handoff_expired_h = self.handoffs.expired_h
        self._handoff_decision_h = self.handoffs.decision_h
        self._row = [-1] * n  # each lead's current handoff row
        self.mql_pool: list[int] = []  # MQLs waiting for a batch release
        self._pooled = [False] * n
        self.batches = BatchRecords()
        self.rejections = 0
        self._next = 0
        self._sources = [self.scenario.sources[name] for name in p.source_names]
        self._seq_rng = self.streams.generator("nurture/sequence")
        # marketing's rules, as the hot path reads them
        m = s.marketing
        if m is not None:
            total = m.score_weights.fit + m.score_weights.intent
            self._w_fit = m.score_weights.fit / total if total else 0.5
            self._w_intent = 1 - self._w_fit
            self._scoring_noise = m.scoring_noise
            self._feedback = m.feedback_loop
            self._halving_rejections = float(m.feedback_rejections)
            self._mql_threshold = m.mql_threshold
            self._noise_z = self._uniforms["noise"][0]
        self._nurture_rule = nurture = m.nurture if m is not None else None
        self._nurture_cycles = nurture.max_cycles if nurture is not None else 0
        self._reemerge_p = nurture.reemerge_probability if nurture is not None else 0.0
        acceptance = s.handoff.acceptance
        self._acceptance_fit = acceptance.fit_threshold if acceptance is not None else -math.inf
        decay = s.handoff.decay
        self._decay = None if decay is None else DecayCurve.of(decay)
        # the SDR rules the hot path reads, taken out of the scenario once
        sdr = s.teams.sdr
        attempts = sdr.attempts
        self._connect_p = attempts.connect_probability if attempts else 1.0
        self._max_attempts = attempts.max if attempts else 1
        self._retry_spacing = _spacing(attempts.spacing if attempts else Duration(0, "h"), cal)
        self._call = None if sdr.qualification is None else self._draws["qualification"][0]
        self._qualify_p = sdr.qualification.probability if sdr.qualification else 0.0
        self._sequences = [
            _Sequence(
                source.sequence.touches,
                _spacing(source.sequence.spacing, cal),
                source.sequence.connect_probability,
                source.sequence.meeting_probability,
            )
            if isinstance(source, OutboundSource)
            else None
            for source in self._sources
        ]
        stages = s.teams.ae.stages if s.teams.ae else []
        self._stage_advance = [stage.advance for stage in stages]
        self._stage_delay_h = [stage.delay.hours for stage in stages]

    # -- running -----------------------------------------------------------------------------
    def run(self) -> RunRecords:
        """Simulate to the end of the horizon and return the replication's records."""
        # Everything built so far (the drawn leads, their columns, the teams) lives until the
        # run ends: frozen, the cyclic garbage collector stops walking it over and over while
        # the run allocates (about a tenth of the run's time). New objects are collected as
        # usual, and unfreezing hands the frozen ones back to it.
        gc.freeze()
        try:
            return self._run()
        finally:
            gc.unfreeze()

    def _run(self) -> RunRecords:
        if self.queue_only:
            queue = FirstTouchQueue(self)
            queue.start()
            self.env.run(until=self.end_h)
            self._finish_queue_only(queue)
            return self._records()
        # New leads need no event of their own: an inbound lead's arrival and an outbound
        # contact's loading are happenings on the SDR team's agenda, taking their turn when the
        # team next looks at its queues (at their own time if an SDR is idle then). The
        # starting state arrives at hour 0 by events.
        p = self.people
        self._source: list[int] = p.source.tolist()
        new = p.entry == pop.NEW
        self._arrivals: list[int] = np.flatnonzero(~new).tolist()
        self._inbound = iter(np.flatnonzero(new & (p.kind == pop.INBOUND)).tolist())
        self._contacts = iter(np.flatnonzero(new & (p.kind == pop.OUTBOUND)).tolist())
        arrive, load = self._arrive_next, self._load_next
        # leads are sorted by arrival, so the plan is by due time, and within each kind the
        # happenings take their turns in lead order
        self.sdr.plan(
            p.arrival_h[new].tolist(),
            [load if kind == pop.OUTBOUND else arrive for kind in p.kind[new].tolist()],
        )
        self.sdr.start()
        if self.ae is not None:
            self.ae.start()
        if self._arrivals:
            self._at(self._arrival[self._arrivals[0]], self._on_arrival)
        if self.scenario.handoff.batch is not None:
            self._schedule_release()
        self.env.run(until=self.end_h)
        # what fell due before the end has happened (the next instant down from the end)
        before_end = math.nextafter(self.end_h, -math.inf)
        self.sdr.catch_up(before_end)
        if self.ae is not None:
            self.ae.catch_up(before_end)
        self._expire_at_end()
        return self._records()

    def _at(self, t: float, callback: Callable[[simpy.Event], None], value: object = None) -> None:
        """Call ``callback`` at simulation time ``t`` (now, if ``t`` has passed)."""
        now: float = self.env.now
        Timeout(self.env, max(t - now, 0.0), value).callbacks.append(callback)

    # -- arrivals and marketing --------------------------------------------------------------
    def _arrive_next(self, now: float) -> None:
        """The next new inbound lead arrives: marketing scores it, unless every lead is an
        MQL."""
        lead = next(self._inbound)
        self._arrival[lead] = now  # the drawn time, up to the clock's rounding: keeps waits exact
        if self._marketing is None:
            self._mql(lead, now)
        else:
            self._qualify_marketing(lead, now)

    def _on_arrival(self, event: simpy.Event) -> None:
        """A lead of the starting state enters, where the scenario says."""
        lead = self._arrivals[self._next]
        self._next += 1
        now: float = self.env.now
        self._arrival[lead] = now  # the drawn time, up to the clock's rounding: keeps waits exact
        if self._next < len(self._arrivals):
            self._at(self._arrival[self._arrivals[self._next]], self._on_arrival)
        entry = self._entry[lead]
        if entry >= pop.OPEN_OPPORTUNITY:  # an opportunity already open
            self._open_opportunity(lead, entry - pop.OPEN_OPPORTUNITY, now)
        else:  # starting state: an MQL that has waited already
            if self._marketing is not None:
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
        noise = self._scoring_noise
        if self._feedback:  # sales' rejections sharpen the scoring
            noise *= 0.5 ** (self.rejections / self._halving_rejections)
        seen_fit = self.fit[lead] + noise * z
        return float(self._w_fit * seen_fit + self._w_intent * self.intent[lead])

    def _qualify_marketing(self, lead: int, now: float) -> None:
        # (without marketing every inbound lead is an MQL on arrival, and this is never called)
        z = (
            self._noise_z[lead]
            if self.cycles[lead] == 0
            else float(self._seq_rng.standard_normal())
        )
        score = self._marketing_score(lead, z)
        self.score[lead] = score
        if score >= self._mql_threshold:
            self._mql(lead, now)
        else:
            self._nurture(lead, now, _NURTURED)

    def _nurture(self, lead: int, now: float, outcome: int) -> None:
        self.outcome[lead] = outcome
        if self.cycles[lead] >= self._nurture_cycles:
            return
        if self._uniform(self._u_nurture, lead) < self._reemerge_p:
            assert self._nurture_rule is not None
            delay = float(self._nurture_rule.after.sample(self._seq_rng, 1)[0])
            self.sdr.call_at(now + delay, partial(self._reemerge, lead))

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
        source = self._sources[self.people.source[lead]]
        assert isinstance(source, InboundSource)
        self.intent[lead] = float(source.intent.sample(self._seq_rng, 1)[0])
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
        if not self._batched:
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
            lead, FIRST_TOUCH, INBOUND, self._work[lead], key=-self.score[lead],
            expire_h=self._expire_at[lead],
        )  # fmt: skip
        self.sdr.submit(task)

    def expired(self, task: Task) -> None:
        """Patience ran out before any rep took the lead: lost, at the instant it ran out."""
        lead, when = task.lead, task.expire_h
        self._handoff_expired_h[self._row[lead]] = when
        self._expire(lead, when)

    def _expire(self, lead: int, when: float) -> None:
        self.expired_h[lead] = when
        self.outcome[lead] = _EXPIRED

    def _expire_pooled(self, until: float) -> None:
        """MQLs in marketing's batch pool whose patience ran out by ``until`` are lost."""
        for lead in self.mql_pool:
            if self._pooled[lead] and self._expire_at[lead] <= until:
                self._pooled[lead] = False
                self._expire(lead, self._expire_at[lead])

    def _expire_at_end(self) -> None:
        """Losses still pending when the run stops (they happened before its end)."""
        if self._patience is None:
            return
        self.sdr.expire_waiting(self.end_h)
        self._expire_pooled(math.nextafter(self.end_h, -math.inf))

    def _schedule_release(self) -> None:
        batch = self.scenario.handoff.batch
        assert batch is not None
        day, hour = parse_weekly_time(batch.release)
        self._at(self._next_weekly(0.0, day, hour), self._on_release)

    def _next_weekly(self, t: float, day: int, hour: float) -> float:
        """The first instant at or after ``t`` that falls on weekday ``day`` at ``hour``."""
        now = self.calendar.datetime_at(t)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        days = (day - midnight.weekday()) % 7
        candidate = t + (midnight - now).total_seconds() / 3600 + 24 * days + hour
        return candidate if candidate >= t - 1e-9 else candidate + 168.0

    def _on_release(self, event: simpy.Event) -> None:
        """Marketing releases its best-scored MQLs, up to the batch size."""
        batch = self.scenario.handoff.batch
        assert batch is not None
        now: float = self.env.now
        self.sdr.catch_up(now)  # MQLs made by now are in the pool
        self._expire_pooled(now)
        pool = sorted(
            (i for i in self.mql_pool if self._pooled[i]), key=lambda i: (-self.score[i], i)
        )
        released, self.mql_pool = pool[: batch.size], pool[batch.size :]
        day, hour = parse_weekly_time(batch.qualify_by)
        deadline = self._next_weekly(now, day, hour)
        good = sum(self.fit[i] >= batch.good_fit_threshold for i in released)
        index = self.batches.add(now, deadline, len(released), good, batch.good_fit_share)
        for lead in released:
            self._pooled[lead] = False
            self.batch[lead] = index
            self.deadline_h[lead] = deadline
            self._handoff(lead, now)
        day, hour = parse_weekly_time(batch.release)
        self._at(self._next_weekly(now + 1e-6, day, hour), self._on_release)

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
        if task.kind == FIRST_TOUCH:
            self._touched(task, rep, now)
        elif task.kind == PROSPECT and self.attempts[task.lead] == 0:
            self.touch_start_h[task.lead] = now
            self.rep[task.lead] = rep

    def done(self, task: Task, rep: int, now: float) -> None:
        """A rep has finished a task: what follows depends on its kind."""
        kind = task.kind
        if kind == PROSPECT:
            self._touch_done(task, now)
        elif kind == ATTEMPT:
            self._retry_done(task, now)
        elif kind == FIRST_TOUCH:
            self._first_touch_done(task, now)
        elif kind == QUALIFICATION:
            self._qualification_done(task, now)
        else:
            self._stage_done(task, now)

    # -- SDR work ----------------------------------------------------------------------------
    def _touched(self, task: Task, rep: int, now: float) -> None:
        """The first touch starts: the SLA is judged, patience stops, decay is recorded."""
        lead = task.lead
        self.touch_start_h[lead] = now
        self.rep[lead] = rep
        decay = 1.0 if self._decay is None else self._decay.at(now - self.ready_h[lead])
        self.decay[lead] = decay
        row = self._row[lead]
        self._handoff_touch_h[row] = now
        self._handoff_decay[row] = decay

    def _odds(self, lead: int) -> float:
        """The lead's decay multiplier at the start of the current attempt."""
        if self._decay is None:
            return 1.0
        wait = self.attempt_start_h[lead] - self.ready_h[lead]
        return self._decay.at(wait)

    def _first_touch_done(self, task: Task, now: float) -> None:
        lead = task.lead
        self.attempt_start_h[lead] = task.start_h
        self.touch_end_h[lead] = now
        if self.fit[lead] < self._acceptance_fit:
            self.accepted[lead] = 0
            self.rejections += 1
            self._decide(lead, now)
            self._nurture(lead, now, _REJECTED)
            return
        self.accepted[lead] = 1
        if self._ends_at_first_touch:
            self.outcome[lead] = _TOUCHED  # the funnel ends at first touch
            self._decide(lead, now)
            return
        self._attempt_done(lead, now)

    def _attempt_done(self, lead: int, now: float) -> None:
        k = self.attempts[lead]
        self.attempts[lead] = k + 1
        if self._uniform(self._u_connect, lead, k) < self._connect_p * self._odds(lead):
            self.connected_h[lead] = now
            if self._call is None:
                self.outcome[lead] = _TOUCHED
                self._decide(lead, now)
                return
            call = self._call[lead]
            self.sdr.submit(Task(lead, QUALIFICATION, URGENT, call))
            return
        if k + 1 >= self._max_attempts:
            self.outcome[lead] = _UNREACHABLE
            self._decide(lead, now)
            return
        # the next attempt is due a spacing after this one ended, with a work time of its own
        work = self._touch[lead * self._touch_w + k + 1]
        task = Task(lead, ATTEMPT, INBOUND, work, key=-self.score[lead])
        business, hours = self._retry_spacing
        due = self.calendar.add_business(now, hours) if business else now + hours
        self._hand(self.sdr, task, due, now)

    def _retry_done(self, task: Task, now: float) -> None:
        # the odds of this attempt, and of the call if it connects, count from its start
        self.attempt_start_h[task.lead] = task.start_h
        self._attempt_done(task.lead, now)

    def _qualification_done(self, task: Task, now: float) -> None:
        lead = task.lead
        p = min(1.0, self._qualify_p * (0.5 + self.fit[lead]) * self._odds(lead))
        if self._uniform(self._u_qualify, lead) < p:
            self._decide(lead, now)
            self._sql(lead, now)
        else:
            self._decide(lead, now)
            self._nurture(lead, now, _DISQUALIFIED)

    def _decide(self, lead: int, now: float) -> None:
        """Sales has reached a decision on a handed-off lead."""
        self.decision_h[lead] = now
        self._handoff_decision_h[self._row[lead]] = now

    # -- outbound ----------------------------------------------------------------------------
    def _load_next(self, now: float) -> None:
        """The next contact of the lists is loaded: its first touch is due."""
        lead = next(self._contacts)
        self.sdr.submit(Task(lead, PROSPECT, OUTBOUND, self._work[lead], key=-self.fit[lead]))

    def _touch_done(self, task: Task, now: float) -> None:
        lead = task.lead
        seq = self._sequences[self._source[lead]]
        assert seq is not None
        k = self.attempts[lead]
        self.attempts[lead] = k + 1
        if k == 0:
            self.touch_end_h[lead] = now
        if self._connect[lead * self._connect_w + k] < seq.connect_probability:
            self.connected_h[lead] = now
            p = min(1.0, seq.meeting_probability * (0.5 + self.fit[lead]))
            self.decision_h[lead] = now
            if self._uniform(self._u_qualify, lead) < p:
                self._sql(lead, now)
            else:
                self.outcome[lead] = _DISQUALIFIED
            return
        if k + 1 >= seq.touches:
            self.decision_h[lead] = now
            self.outcome[lead] = _UNREACHABLE
            return
        # the next touch is due a spacing after this one ended, with a work time of its own; it
        # reuses this task (same lead, kind and queue), which the pool has let go of
        task.work_h = self._touch[lead * self._touch_w + k + 1]
        hours = seq.spacing_h
        due = self.calendar.add_business(now, hours) if seq.business else now + hours
        self._hand(self.sdr, task, due, now)

    # -- opportunities -----------------------------------------------------------------------
    def _sql(self, lead: int, now: float) -> None:
        if math.isnan(self.sql_h[lead]):
            self.sql_h[lead] = now
        if self.ae is None:
            self.outcome[lead] = _SQL
            return
        self._open_opportunity(lead, 0, now)

    def _open_opportunity(self, lead: int, stage: int, now: float) -> None:
        """An AE takes the lead on as an opportunity, at ``stage``."""
        assert self.ae is not None
        self.ae.catch_up(now)  # deals decided by now close first: the open count stays in order
        self.opp_h[lead] = now
        self.outcome[lead] = _OPPORTUNITY
        self.open_opps.change(now, +1)
        self.ae.submit(self._stage(lead, stage))

    def _stage(self, lead: int, s: int) -> Task:
        """The AE's work on stage ``s`` of the opportunity."""
        return Task(lead, AE_STAGE, INBOUND, self._stage_work[lead * self._stage_w + s], stage=s)

    def _stage_done(self, task: Task, now: float) -> None:
        lead, s = task.lead, task.stage
        if self._advance[lead * self._advance_w + s] >= self._stage_advance[s]:
            self._close(lead, now, won=False)
            return
        delay = self._stage_delay_h[s]
        if s + 1 < len(self._stage_advance):  # the next stage, after the buyer's delay
            assert self.ae is not None
            self._hand(self.ae, self._stage(lead, s + 1), now + delay, now)
            return
        # the buyer decides after the last delay: a happening on the AE team's agenda, since
        # nothing waits on the instant it is known
        assert self.ae is not None
        self.ae.call_at(now + delay, partial(self._buyer_decides, lead))

    def _buyer_decides(self, lead: int, now: float) -> None:
        won = bool(self.people.uniforms["win"][lead] < self.win_p(lead))
        self._close(lead, now, won=won)

    def win_p(self, lead: int) -> float:
        """Segment win rate x source kind x fit x collateral, capped at 1."""
        ae = self.scenario.teams.ae
        assert ae is not None
        assert self.scenario.segments is not None
        win = ae.win
        segment = list(self.scenario.segments.values())[self.people.segment[lead]]
        kind = Kind(self.people.kind[lead]).name.lower()
        p = (
            segment.win_rate
            * getattr(win.by_kind, kind)
            * max(0.0, 1 + win.fit_effect * (self.fit[lead] - 0.5))
            * (1 + win.collateral_lift * (win.collateral - 0.25) / 0.75)
        )
        return float(min(1.0, p))

    def _close(self, lead: int, now: float, *, won: bool) -> None:
        self.closed_h[lead] = now
        self.won[lead] = won
        self.outcome[lead] = _WON if won else _LOST
        if won:
            self.deal_value[lead] = float(self.people.draws["deal"][lead])
        self.open_opps.change(now, -1)

    # -- records -----------------------------------------------------------------------------
    def _records(self) -> RunRecords:
        p, cal = self.people, self.calendar
        handoffs = self._handoff_records()
        handoff_h = floats(self.handoff_h)
        touch_start = floats(self.touch_start_h)
        deadline, met = self._sla(handoff_h, touch_start)
        repeat = (
            np.where(
                p.kind == pop.INBOUND,
                self.scenario.teams.ae.win.repeat_probability.inbound,
                self.scenario.teams.ae.win.repeat_probability.outbound,
            )
            if self.scenario.teams.ae
            else np.zeros(len(p))
        )
        deal = floats(self.deal_value)
        t0, t1 = self.scenario.warmup_hours, self.end_h
        sdr_log = self.sdr.log
        ae_log = self.ae.log if self.ae is not None else None
        return RunRecords(
            leads=LeadRecords(
                lead=np.arange(len(p), dtype=np.int64),
                kind=p.kind,
                source=p.source,
                segment=p.segment,
                arrival_h=floats(self._arrival),
                fit=p.fit,
                intent=floats(self.intent),
                score=floats(self.score),
                work_h=p.work_h,
                patience_h=p.patience_h,
                mql_h=floats(self.mql_h),
                handoff_h=handoff_h,
                batch=ints(self.batch),
                touch_start_h=touch_start,
                touch_end_h=floats(self.touch_end_h),
                rep=ints(self.rep),
                expired_h=floats(self.expired_h),
                sla_deadline_h=deadline,
                sla_met=met,
                decay=floats(self.decay),
                accepted=ints(self.accepted),
                attempts=ints(self.attempts),
                connected_h=floats(self.connected_h),
                decision_h=floats(self.decision_h),
                qualify_by_h=floats(self.deadline_h),
                sql_h=floats(self.sql_h),
                opp_h=floats(self.opp_h),
                closed_h=floats(self.closed_h),
                won=np.array(self.won, dtype=bool),
                deal_value=deal,
                ltv=np.where(np.isnan(deal), np.nan, deal / (1 - repeat)),
                pipeline_value=np.where(
                    np.isnan(floats(self.opp_h)),
                    np.nan,
                    p.draws.get("deal", np.full(len(p), np.nan)),
                ),
                cycles=ints(self.cycles),
                entry=p.entry,
                outcome=ints(self.outcome),
            ),
            handoffs=handoffs,
            tasks=TaskRecords.from_logs(cal, sdr_log, ae_log),
            batches=self.batches.freeze(),
            queue=level_series(
                handoffs.handoff_h, np.fmin(handoffs.touch_start_h, handoffs.expired_h)
            ),
            open_opportunities=self.open_opps.series(),
            source_names=p.source_names,
            segment_names=p.segment_names,
            window=(t0, t1),
            window_b=(cal.business_time(t0), cal.business_time(t1)),
            weeks_h=(weeks := np.append(np.arange(t0, t1, 168.0), t1)),
            weeks_b=cal.business_time_array(weeks),
            end_h=t1,
            sdr_seats=self.sdr_seats,
            ae_seats=self.ae_seats,
            sdr_seat_b=self._seat_b(self.sdr_seats),
            ae_seat_b=self._seat_b(self.ae_seats),
            seed=self.seed,
            replication=self.replication,
        )

    def _finish_queue_only(self, queue: FirstTouchQueue) -> None:
        """Fill the columns the general model writes as it goes: every lead is an MQL handed
        off on arrival, sales decides at the end of its first touch."""
        arrival = list(self._arrival)
        self.mql_h = self.handoff_h = self.ready_h = arrival
        for lead, end in enumerate(queue.end_of_touch):
            if end == end:  # touched, and done by the end of the run
                self.touch_end_h[lead] = self.decision_h[lead] = end
                self.accepted[lead] = 1
                self.outcome[lead] = _TOUCHED
            elif self.expired_h[lead] == self.expired_h[lead]:
                self.outcome[lead] = _EXPIRED
            start = self.touch_start_h[lead]
            if start == start:
                self.decay[lead] = (
                    1.0 if self._decay is None else self._decay.at(start - arrival[lead])
                )
        log = self.handoffs
        n = len(arrival)
        log.lead = list(range(n))
        log.handoff_h = arrival
        log.touch_start_h = self.touch_start_h
        log.expired_h = self.expired_h
        log.decision_h = self.decision_h
        log.qualify_by_h = [NAN] * n
        log.batch = [-1] * n
        log.decay = self.decay

    def _handoff_records(self) -> HandoffRecords:
        log = self.handoffs
        handoff = floats(log.handoff_h)
        touch = floats(log.touch_start_h)
        deadline, met = self._sla(handoff, touch)
        return HandoffRecords(
            lead=ints(log.lead),
            handoff_h=handoff,
            touch_start_h=touch,
            expired_h=floats(log.expired_h),
            decision_h=floats(log.decision_h),
            qualify_by_h=floats(log.qualify_by_h),
            batch=ints(log.batch),
            decay=floats(log.decay),
            sla_deadline_h=deadline,
            sla_met=met,
        )

    def _sla(self, handoff_h: np.ndarray, touch_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First-touch SLA deadlines from handoff times, and whether the touch met them."""
        deadline = self.calendar.deadline_array(handoff_h, self.scenario.handoff.first_touch_sla)
        return deadline, ~np.isnan(touch_h) & (touch_h <= deadline + 1e-9)

    def _seat_b(self, seats: list[Seat]) -> np.ndarray:
        if not seats:
            return np.zeros((0, 2))
        times = np.array([[s.joined_h, min(s.left_h, 1e12)] for s in seats])
        return self.calendar.business_time_array(np.minimum(times, self.end_h + 1.0))


__all__ = ["FunnelModel"]
