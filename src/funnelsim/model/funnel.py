"""One replication of a funnel: build it from a scenario, run it, return its records.

Build and run are separate steps: ``FunnelModel(scenario, seed, replication)`` draws every lead
of the replication up front (arrival time, score, work time, patience, each from the stream
named after its source), wires the handoff into a SimPy environment, and ``run()`` simulates
the warm-up and the horizon and hands back flat records.
"""

from __future__ import annotations

import numpy as np
import simpy

from funnelsim.calendar import Calendar
from funnelsim.model.handoff import ContinuousHandoff
from funnelsim.model.sources import arrival_times
from funnelsim.records import LeadRecords, LevelSeries, RunRecords
from funnelsim.rng import Streams
from funnelsim.scenario.schema import Scenario


def build_calendar(scenario: Scenario) -> Calendar:
    spec = scenario.calendar
    if spec == "always":
        return Calendar(scenario.origin, always=True)
    return Calendar(
        scenario.origin,
        workdays=spec.weekday_indices,
        hours=spec.hour_ranges,
        holidays=spec.holidays,
    )


class FunnelModel:
    """A built replication: leads drawn, handoff wired, ready to run."""

    def __init__(self, scenario: Scenario, seed: int, replication: int = 0) -> None:
        self.scenario = scenario
        self.seed = seed
        self.replication = replication
        self.calendar = build_calendar(scenario)
        self.end_h = scenario.warmup_hours + scenario.horizon_hours
        streams = Streams(seed, replication)
        sdr = scenario.teams.sdr
        patience = scenario.handoff.expire_after
        parts: list[dict[str, np.ndarray]] = []
        self.source_names = tuple(scenario.sources)
        for index, (name, source) in enumerate(scenario.sources.items()):
            times = arrival_times(
                source.arrivals, scenario.origin, self.end_h, streams.generator(f"arrivals/{name}")
            )
            n = len(times)
            parts.append(
                {
                    "source": np.full(n, index, dtype=np.int64),
                    "arrival_h": times,
                    "score": source.score.sample(streams.generator(f"score/{name}"), n),
                    "work_h": sdr.first_touch_time.sample(streams.generator(f"work/sdr/{name}"), n),
                    "patience_h": (
                        np.full(n, np.inf)
                        if patience is None
                        else patience.sample(streams.generator(f"patience/{name}"), n)
                    ),
                }
            )
        merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        order = np.argsort(merged["arrival_h"], kind="stable")
        self.leads = {key: values[order] for key, values in merged.items()}
        self.env = simpy.Environment()
        self.handoff = ContinuousHandoff(
            self.env,
            self.calendar,
            headcount=sdr.headcount,
            arrival_h=self.leads["arrival_h"].tolist(),
            score=self.leads["score"].tolist(),
            work_h=self.leads["work_h"].tolist(),
            patience_h=None if patience is None else self.leads["patience_h"].tolist(),
            by_score=scenario.handoff.routing == "score",
        )

    def run(self) -> RunRecords:
        """Simulate to the end of the horizon and return the replication's records."""
        self.handoff.start()
        self.env.run(until=self.end_h)
        return self._records()

    def _records(self) -> RunRecords:
        h, leads, cal, handoff = self.handoff, self.leads, self.calendar, self.scenario.handoff
        arrival = leads["arrival_h"]
        touch_start = np.array(h.touch_start_h)
        touch_end = np.array(h.touch_end_h)
        deadline = cal.deadline_array(arrival, handoff.first_touch_sla)
        touched = ~np.isnan(touch_start)
        sla_met = np.zeros(len(arrival), dtype=bool)
        sla_met[touched] = touch_start[touched] <= deadline[touched] + 1e-9
        decay = np.where(touched, 1.0, np.nan)
        if handoff.decay is not None:
            decay[touched] = handoff.decay.multiplier(touch_start[touched] - arrival[touched])
        t0, t1 = self.scenario.warmup_hours, self.end_h
        return RunRecords(
            leads=LeadRecords(
                lead=np.arange(len(arrival), dtype=np.int64),
                source=leads["source"],
                arrival_h=arrival,
                score=leads["score"],
                work_h=leads["work_h"],
                patience_h=leads["patience_h"],
                touch_start_h=touch_start,
                touch_end_h=touch_end,
                rep=np.array(h.rep, dtype=np.int64),
                expired_h=np.array(h.expired_h),
                sla_deadline_h=deadline,
                sla_met=sla_met,
                decay=decay,
                touch_start_b=cal.business_time_array(touch_start),
                touch_end_b=cal.business_time_array(touch_end),
            ),
            queue=LevelSeries(np.array(h.queue_times), np.array(h.queue_levels, dtype=float)),
            source_names=self.source_names,
            window=(t0, t1),
            window_b=(cal.business_time(t0), cal.business_time(t1)),
            end_h=t1,
            sdr_headcount=self.scenario.teams.sdr.headcount,
            seed=self.seed,
            replication=self.replication,
        )


def simulate(scenario: Scenario, seed: int, replication: int = 0) -> RunRecords:
    """Build and run one replication."""
    return FunnelModel(scenario, seed, replication).run()


def offered_load(scenario: Scenario) -> tuple[float, float]:
    """Mean first-touch work offered per working hour, and the SDR hours available per hour.

    Arrivals come around the clock while reps work only in working hours, so both are taken
    per hour of the whole week; a scripted list of arrivals counts over the simulated span.
    """
    calendar = build_calendar(scenario)
    span = scenario.warmup_hours + scenario.horizon_hours
    rate = 0.0
    for source in scenario.sources.values():
        if source.arrivals.rate is not None:
            rate += source.arrivals.rate.per_hour
        elif source.arrivals.at is not None:
            rate += len(source.arrivals.at) / span
    work = rate * scenario.teams.sdr.first_touch_time.mean_hours
    capacity = scenario.teams.sdr.headcount * calendar.working_hours_between(0.0, span) / span
    return work, capacity
