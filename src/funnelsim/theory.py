"""Queueing theory the simulator must reproduce when reduced to textbook cases.

* Erlang C (M/M/c): leads arrive at rate ``lam``, each rep touches at rate ``mu``, ``c`` reps.
* Erlang A (M/M/c+M): the same, and a waiting lead leaves after an Exp(``theta``) patience.

All rates are per hour, times are in hours. These are references for tests and for planners'
sanity checks; nothing here simulates.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from funnelsim.calendar import build_calendar, month_edges
from funnelsim.scenario.schema import InboundSource, OutboundSource, Scenario

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class ErlangC:
    """Steady-state M/M/c figures."""

    lam: float
    mu: float
    c: int

    def __post_init__(self) -> None:
        if not self.lam < self.c * self.mu:
            raise ValueError(f"unstable: lam={self.lam} >= c*mu={self.c * self.mu}")

    @property
    def load(self) -> float:
        """Offered load a = lam / mu, in reps."""
        return self.lam / self.mu

    @property
    def utilization(self) -> float:
        return self.load / self.c

    @property
    def prob_wait(self) -> float:
        """C(c, a): probability an arriving lead waits at all (the Erlang C formula)."""
        a, c = self.load, self.c
        from scipy import stats  # ~0.3 s to import: only when a figure is asked for

        # P(N >= c) of the M/M/c chain, via the Poisson pmf for numerical stability.
        s = float(stats.poisson.cdf(c - 1, a))
        t = float(stats.poisson.pmf(c, a)) * c / (c - a)
        return t / (s + t)

    @property
    def mean_wait(self) -> float:
        """Wq = C(c, a) / (c mu - lam)."""
        return self.prob_wait / (self.c * self.mu - self.lam)

    @property
    def mean_queue(self) -> float:
        """Lq = lam Wq (Little's law)."""
        return self.lam * self.mean_wait

    def prob_wait_within(self, t: float) -> float:
        """P(W <= t) = 1 - C(c, a) exp(-(c mu - lam) t): first-touch SLA attainment."""
        return 1.0 - self.prob_wait * math.exp(-(self.c * self.mu - self.lam) * t)

    def wait_quantile(self, q: float) -> float:
        """The q-quantile of the wait (0 when q <= 1 - C)."""
        p = self.prob_wait
        if q <= 1 - p:
            return 0.0
        return math.log(p / (1 - q)) / (self.c * self.mu - self.lam)


@dataclass(frozen=True)
class ErlangA:
    """Steady-state M/M/c+M figures from the birth-death chain on leads in system."""

    lam: float
    mu: float
    c: int
    theta: float

    def stationary(self, tol: float = 1e-14) -> np.ndarray:
        """pi_n for n = 0..N, truncated where the tail is negligible."""
        import numpy as np

        logs = [0.0]
        n = 0
        while True:
            n += 1
            death = min(n, self.c) * self.mu + max(n - self.c, 0) * self.theta
            logs.append(logs[-1] + math.log(self.lam / death))
            if n > self.c and logs[-1] - max(logs) < math.log(tol) and death > self.lam:
                break
        weights = np.exp(np.array(logs) - max(logs))
        pi: np.ndarray = weights / weights.sum()
        return pi

    @property
    def prob_wait(self) -> float:
        """P(an arriving lead waits) = P(N >= c), by PASTA."""
        return float(self.stationary()[self.c :].sum())

    @property
    def mean_queue(self) -> float:
        import numpy as np

        pi = self.stationary()
        n = np.arange(len(pi))
        return float(np.sum(np.maximum(n - self.c, 0) * pi))

    @property
    def prob_abandon(self) -> float:
        """Share of leads that expire unserved: theta E[Q] / lam."""
        return self.theta * self.mean_queue / self.lam

    @property
    def mean_wait_all(self) -> float:
        """Mean time in queue over all leads, served or expired (Little: E[Q] / lam)."""
        return self.mean_queue / self.lam

    @property
    def utilization(self) -> float:
        return self.lam * (1 - self.prob_abandon) / (self.c * self.mu)

    def prob_served_within(self, t: float) -> float:
        """P(an arriving lead is touched within t): first-touch SLA attainment with patience.

        A lead that finds a rep free is touched at once (PASTA); one that finds ``j`` leads
        waiting is touched once they have all gone (each touched, at rate c mu in all, or
        lost, at theta each) and a rep frees up, unless its own patience (theta) runs out
        first (first come first served). That is absorption in a small Markov chain on the
        leads ahead of it, by time t: a matrix exponential.
        """
        import numpy as np
        from scipy.linalg import expm

        pi = self.stationary()
        ahead = pi[self.c :]  # finds c + j leads in the system: j ahead of it in the queue
        m = len(ahead)
        if m == 0 or t <= 0:
            return float(pi[: self.c].sum())
        served = self.c * self.mu
        generator = np.zeros((m + 1, m + 1))  # 0..m-1: leads ahead; m: touched (absorbing)
        for j in range(m):
            moves = served + j * self.theta  # the head of the queue touched, or one ahead lost
            generator[j, j] = -(moves + self.theta)  # ... or it is lost itself (leaks away)
            generator[j, j - 1 if j else m] = moves
        touched = expm(generator * t)[:m, m]
        return float(pi[: self.c].sum() + ahead @ touched)


def offered_load(scenario: Scenario) -> tuple[float, float]:
    """Mean SDR work offered per hour by first touches, and SDR hours available per hour.

    Arrivals come around the clock while reps work only in working hours, so both are taken
    per hour of the whole simulated span; follow-up work is not counted (a lower bound).
    """
    calendar = build_calendar(scenario)
    span = scenario.warmup_hours + scenario.horizon_hours
    work = 0.0
    for source in scenario.sources.values():
        rate = _arrival_rate(scenario, source, span)
        if isinstance(source, OutboundSource):
            work += rate * source.sequence.touch_time.mean_hours
        else:
            work += rate * scenario.teams.sdr.first_touch_time.mean_hours
    capacity = scenario.teams.sdr.headcount * calendar.working_hours_between(0.0, span) / span
    return work, capacity


def inbound_rate(scenario: Scenario) -> float:
    """Mean inbound leads per hour over the simulated span, as they arrive (before marketing
    scores them and sales accepts them)."""
    span = scenario.warmup_hours + scenario.horizon_hours
    return sum(
        _arrival_rate(scenario, s, span)
        for s in scenario.sources.values()
        if isinstance(s, InboundSource)
    )


def expected_leads(scenario: Scenario) -> float:
    """Leads and contacts one replication simulates, on average: what the sources bring over
    warm-up and horizon, and the funnel at the start."""
    span = scenario.warmup_hours + scenario.horizon_hours
    arriving = sum(_arrival_rate(scenario, s, span) for s in scenario.sources.values()) * span
    initial = scenario.initial
    if initial is None:
        return arriving
    waiting = sum(group.count for group in initial.open_mqls)
    return arriving + waiting + sum(group.count for group in initial.open_opportunities)


def _arrival_rate(scenario: Scenario, source: InboundSource | OutboundSource, span: float) -> float:
    """Mean leads (or contacts) per hour a source brings over the simulated span."""
    if isinstance(source, OutboundSource):
        return source.contacts_per_month * 12 / 8766
    if source.arrivals.rate is not None:
        return source.arrivals.rate.per_hour
    if source.arrivals.at is not None:
        return len(source.arrivals.at) / span
    return _mean_monthly_leads(source, scenario.origin, span) * 12 / 8766


def _mean_monthly_leads(source: InboundSource, origin: dt.datetime, span_h: float) -> float:
    """Mean expected leads per calendar month from spend: the figures of
    ``model.population.expected_monthly_leads`` (to within the last bits), without numpy, so
    that ``funnelsim validate`` loads none."""
    assert source.spend is not None
    assert source.response is not None
    months = len(month_edges(origin, span_h)[0])
    leads = source.response.spend_response().expected_leads(source.spend.plan(months, origin))
    return math.fsum(leads) / len(leads)
