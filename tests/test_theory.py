"""The reference formulas (``funnelsim.theory``), checked against independent derivations, and
the offered load ``validate`` warns with."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from funnelsim.theory import ErlangA, ErlangC, offered_load
from helpers import bundled, scenario


def erlang_c_by_sums(lam: float, mu: float, c: int) -> float:
    """C(c, a) written exactly as docs/validation.md gives it (factorial sums)."""
    a = lam / mu
    s = sum(a**k / math.factorial(k) for k in range(c))
    t = a**c / math.factorial(c) * c / (c - a)
    return t / (s + t)


@pytest.mark.parametrize(("lam", "mu", "c"), [(9, 1, 10), (20, 4, 6), (1.5, 1, 2), (0.5, 1, 1)])
def test_erlang_c_matches_the_factorial_form(lam: float, mu: float, c: int) -> None:
    q = ErlangC(lam, mu, c)
    assert q.prob_wait == pytest.approx(erlang_c_by_sums(lam, mu, c), rel=1e-12)
    assert q.mean_wait == pytest.approx(q.prob_wait / (c * mu - lam))
    assert q.mean_queue == pytest.approx(lam * q.mean_wait)


def test_mm1_closed_forms() -> None:
    q = ErlangC(0.6, 1.0, 1)
    assert q.prob_wait == pytest.approx(0.6)  # M/M/1: P(wait) = rho
    assert q.mean_wait == pytest.approx(0.6 / (1.0 - 0.6))
    assert q.prob_wait_within(2.0) == pytest.approx(1 - 0.6 * math.exp(-0.4 * 2.0))
    assert q.prob_wait_within(q.wait_quantile(0.9)) == pytest.approx(0.9)


def test_erlang_c_refuses_unstable_queues() -> None:
    with pytest.raises(ValueError, match="unstable"):
        ErlangC(10, 1, 10)


def test_erlang_a_with_patience_equal_to_service_is_poisson() -> None:
    """With theta = mu every lead in system leaves at rate mu: N ~ Poisson(lam / mu)."""
    lam, mu, c = 12.0, 1.0, 10
    q = ErlangA(lam, mu, c, theta=mu)
    n = np.arange(200)
    pmf = stats.poisson.pmf(n, lam / mu)
    assert q.prob_wait == pytest.approx(pmf[c:].sum(), rel=1e-9)
    expected_queue = float(np.sum(np.maximum(n - c, 0) * pmf))
    assert q.mean_queue == pytest.approx(expected_queue, rel=1e-9)
    assert q.prob_abandon == pytest.approx(mu * expected_queue / lam, rel=1e-9)


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    a, c = ErlangA(9, 1, 10, theta=1e-6), ErlangC(9, 1, 10)
    assert a.prob_wait == pytest.approx(c.prob_wait, rel=1e-3)
    assert a.mean_queue == pytest.approx(c.mean_queue, rel=1e-3)
    assert a.prob_abandon < 1e-5


def test_erlang_a_overloaded_is_stable_and_balanced() -> None:
    q = ErlangA(14, 1, 10, theta=1)
    # throughput of served leads equals the work done by busy reps: lam (1 - P(ab)) = mu E[busy]
    pi = q.stationary()
    busy = float(np.sum(np.minimum(np.arange(len(pi)), 10) * pi))
    assert 14 * (1 - q.prob_abandon) == pytest.approx(busy * 1.0, rel=1e-9)
    assert 0 < q.prob_abandon < 1


def test_offered_load_per_hour_of_the_whole_span() -> None:
    """Erlang C: 9 leads an hour x 1 h of work against 10 SDRs, around the clock; on office
    hours (Monday to Friday 09:00-17:00, 8 of the week's 168 hours on 5 days), 10 SDRs offer
    10 x 40 / 168 hours an hour over whole weeks."""
    data = bundled("validation/erlang-c.yaml")
    assert offered_load(scenario(data)) == pytest.approx((9.0, 10.0))
    data["calendar"] = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00-17:00"]}
    work, capacity = offered_load(scenario(data, "horizon=4w", "warmup=0d"))
    assert work == pytest.approx(9.0)
    assert capacity == pytest.approx(10 * 40 / 168)
