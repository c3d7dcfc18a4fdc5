"""The scenario's rules, in the form the story reads them a hundred thousand times a run.

A scenario is rich, validated data (``funnelsim.scenario.schema``); the story of a lead needs
a few plain numbers from it at every step: the MQL bar, the odds of a connect, the spacing of
attempts, each stage's odds of advancing. ``Rules`` takes them out once, when a replication is
built, so the story never walks the scenario's objects while it runs.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol

import numpy as np

from funnelsim.calendar import Calendar
from funnelsim.model.decay import DecayCurve
from funnelsim.scenario.schema import (
    InboundSource,
    OutboundSource,
    Scenario,
    Staff,
    parse_weekly_time,
)
from funnelsim.staffing import Ramp
from funnelsim.units import Duration


class Sampler(Protocol):
    """A distribution of the scenario: draws ``size`` values from ``rng``."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray: ...


class Spacing:
    """The time between two pieces of work on a lead: on the business clock or the calendar."""

    def __init__(self, duration: Duration, calendar: Calendar) -> None:
        self.business = duration.business
        self.hours = calendar.business_hours(duration) if duration.business else duration.hours

    def after(self, now: float, calendar: Calendar) -> float:
        """When the next piece of work falls due, if the last one ended at ``now``."""
        return calendar.add_business(now, self.hours) if self.business else now + self.hours


class OutboundRules:
    """An outbound source's sequence: how many touches, how far apart, and their odds."""

    def __init__(self, source: OutboundSource, calendar: Calendar) -> None:
        sequence = source.sequence
        self.touches = sequence.touches
        self.spacing = Spacing(sequence.spacing, calendar)
        self.connect_probability = sequence.connect_probability
        self.meeting_probability = sequence.meeting_probability
        meeting = sequence.meeting
        self.meeting_delay: Sampler = meeting.delay
        self.show_probability = meeting.show_probability
        self.show_decline_per_day = meeting.show_decline_per_day
        self.held_by_ae = meeting.held_by == "ae"
        self.meeting_time: Sampler = meeting.time
        self.meeting_qualify = meeting.qualify_probability
        self.market_size = source.market.size if source.market else 0  # 0: endless
        self.cool_off_h = source.market.cool_off.hours if source.market else 0.0

    def shows(self, days: float) -> float:
        """The chance the contact shows up to a meeting ``days`` after it was booked."""
        return max(0.0, self.show_probability - self.show_decline_per_day * days)


class WeeklyRelease:
    """The batch agreement: marketing's weekly release, its size, and sales' deadline."""

    def __init__(self, scenario: Scenario) -> None:
        batch = scenario.handoff.batch
        assert batch is not None
        self.day, self.hour = parse_weekly_time(batch.release)
        self.deadline_day, self.deadline_hour = parse_weekly_time(batch.qualify_by)
        self.size = batch.size
        self.good_fit_threshold = batch.good_fit_threshold
        self.good_fit_share = batch.good_fit_share


class Rules:
    """Everything the story reads of its scenario, taken out once at build time."""

    def __init__(self, scenario: Scenario, calendar: Calendar) -> None:
        s = scenario
        m = s.marketing
        self.marketing = m is not None
        # marketing's scoring, the MQL bar and nurture
        self.w_fit = self.w_intent = self.scoring_noise = 0.0
        self.feedback = False
        self.halving_rejections = 1.0
        self.mql_threshold = 0.0
        self.bar_up = self.bar_down = 0.0
        self.nurture_cycles = 0
        self.reemerge_probability = 0.0
        self.nurture_after: Sampler | None = None
        if m is not None:
            total = m.score_weights.fit + m.score_weights.intent
            self.w_fit = m.score_weights.fit / total if total else 0.5
            self.w_intent = 1 - self.w_fit
            self.scoring_noise = m.scoring_noise
            self.feedback = m.feedback_loop
            self.halving_rejections = float(m.feedback_rejections)
            self.mql_threshold = m.mql_threshold
            # sales' decisions move the bar: up on a rejection, down on an acceptance
            step, target = m.feedback_threshold_step, m.feedback_acceptance_target
            if m.feedback_loop:
                self.bar_up, self.bar_down = step * target, step * (1 - target)
            if m.nurture is not None:
                self.nurture_cycles = m.nurture.max_cycles
                self.reemerge_probability = m.nurture.reemerge_probability
                self.nurture_after = m.nurture.after
        # the handoff
        handoff = s.handoff
        self.release = WeeklyRelease(s) if handoff.batch is not None else None
        self.patience = handoff.expire_after is not None
        self.acceptance_fit = (
            handoff.acceptance.fit_threshold if handoff.acceptance is not None else -math.inf
        )
        self.decay = None if handoff.decay is None else DecayCurve.of(handoff.decay)
        # the decay's share on reaching the lead (a power of the curve); the rest on qualifying
        self.connect_share = 1.0 if handoff.decay is None else handoff.decay.connect_share
        # the SDRs' work on an MQL
        sdr = s.teams.sdr
        attempts = sdr.attempts
        self.connect_probability = attempts.connect_probability if attempts else 1.0
        self.max_attempts = attempts.max if attempts else 1
        self.retry = Spacing(attempts.spacing if attempts else Duration(0, "h"), calendar)
        # how many of them sales really makes on a lead (the follow-up policy)
        follow_up = attempts.follow_up if attempts else None
        self.follow_up = follow_up is not None
        names = list(s.sources)
        by_source = (follow_up.by_source if follow_up else None) or {}
        self.attempts_by_source = [by_source.get(name, 0) for name in names]
        self.all_from_score = math.inf
        self.planned_counts: list[int] = []
        self.planned_cumulative: list[float] = []
        if follow_up is not None:
            if follow_up.all_from_score is not None:
                self.all_from_score = follow_up.all_from_score
            planned = sorted((follow_up.planned or {}).items())
            total = sum(w for _, w in planned)
            running = 0.0
            for count, weight in planned:
                running += weight / total
                self.planned_counts.append(count)
                self.planned_cumulative.append(running)
        self.qualification = sdr.qualification is not None
        self.qualify_probability = sdr.qualification.probability if sdr.qualification else 0.0
        self.ends_at_first_touch = sdr.qualification is None and attempts is None
        # the teams of each role, the role's own first, and which of them works each lead: a
        # table by source and segment (further teams take the leads their routing names)
        self.sdr_teams = [
            TeamRules(name, team, sdr.priority, handoff.routing == "score")
            for name, team in s.teams.of_role("sdr")
        ]
        self.ae_teams = [TeamRules(name, team) for name, team in s.teams.of_role("ae")]
        segment_names = list(s.segments) if s.segments else ["all"]
        self.sdr_route = _routes(s, "sdr", segment_names)
        self.ae_route = _routes(s, "ae", segment_names)
        # the funnel reduced to one queue served in order of arrival (``queue.py``)
        self.single_queue = (
            m is None
            and handoff.batch is None
            and handoff.acceptance is None
            and handoff.routing == "fifo"
            and attempts is None
            and sdr.qualification is None
            and not sdr.hiring
            and sdr.availability is None
            and not s.teams.named
            and s.teams.ae is None
            and all(isinstance(source, InboundSource) for source in s.sources.values())
            and not (s.initial and (s.initial.open_mqls or s.initial.open_opportunities))
        )
        # each source: inbound sources' intent (drawn anew for a lead back from nurture), and
        # outbound sources' sequences
        sources = list(s.sources.values())
        self.outbound = [
            OutboundRules(source, calendar) if isinstance(source, OutboundSource) else None
            for source in sources
        ]
        self.intent: list[Sampler | None] = [
            source.intent if isinstance(source, InboundSource) else None for source in sources
        ]
        # the AEs: stages, and the odds of a win
        ae = s.teams.ae
        stages = ae.stages if ae else []
        self.stage_advance = [stage.advance for stage in stages]
        # the buyer's delay after each stage, by segment: a segment's cycle scales them all
        delays = [stage.delay.hours for stage in stages]
        self.stage_delay_h = [
            delays
            if seg is None or seg.cycle is None
            else [d * seg.cycle.hours / sum(delays) for d in delays]
            for seg in (list(s.segments.values()) if s.segments else [None])
        ]
        self.stale_h = ae.stale_for.hours if ae else 0.0  # quiet deals, open before lost
        review = ae.acceptance if ae else None
        self.sql_review: Sampler | None = review.time if review else None
        self.sql_accept = review.probability if review else 1.0
        self.segment_win = [seg.win_rate for seg in (s.segments or {}).values()]
        win = ae.win if ae else None
        self.win_by_kind = (
            [win.by_kind.inbound, win.by_kind.outbound] if win is not None else [1.0, 1.0]
        )
        self.fit_effect = win.fit_effect if win is not None else 0.0
        # the share of sellers with the collateral they need: the scenario's, raised by
        # marketing's enablement people
        enablement = m.enablement if m is not None else None
        equipped = (win.collateral if win is not None else 0.25) + (
            enablement.headcount * enablement.collateral_per_head if enablement else 0.0
        )
        self.collateral = (
            1 + win.collateral_lift * (min(1.0, equipped) - 0.25) / 0.75 if win is not None else 1.0
        )

    def win_probability(self, segment: int, kind: int, fit: float) -> float:
        """Segment win rate x source kind x fit x collateral, capped at 1."""
        p = (
            self.segment_win[segment]
            * self.win_by_kind[kind]
            * max(0.0, 1 + self.fit_effect * (fit - 0.5))
            * self.collateral
        )
        return min(1.0, p)


class TeamRules:
    """One team as its pool needs it: its name, its seats' ramp-up and (SDR role) the rule that
    picks its next task and which of its queues are ordered by key."""

    def __init__(
        self,
        name: str,
        team: Staff,
        default_priority: str | float = "inbound_first",
        score_routing: bool = False,
    ) -> None:
        self.name = name
        self.team = team
        self.ramp = _ramp(team.ramp)
        own = getattr(team, "priority", None)
        rule = default_priority if own is None else own
        self.priority: str | float = rule if isinstance(rule, str) else float(rule)
        score_first = rule == "score"
        self.ordered = (False, score_first or score_routing, score_first)


def _routes(scenario: Scenario, role: Literal["sdr", "ae"], segments: list[str]) -> list[int]:
    """Which team of the role works a lead of each source and segment, as a flat table
    (``source * len(segments) + segment``): the first further team whose routing takes both,
    else the role's own (0)."""
    teams = scenario.teams.of_role(role)[1:]
    table = []
    for source in scenario.sources:
        for segment in segments:
            taking = [
                k
                for k, (_, team) in enumerate(teams, start=1)
                if team.routing.takes(source, segment)  # type: ignore[attr-defined]
            ]
            table.append(taking[0] if taking else 0)
    return table


def _ramp(spec: object) -> Ramp | None:
    if spec is None:
        return None
    return Ramp(start=spec.start, hours=spec.over.hours)  # type: ignore[attr-defined]
