"""Spend -> leads curves (``funnelsim.curves``): hand-computed cases, the shapes a planner relies
on, and bad input."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelsim.curves import (
    SpendResponse,
    adstock_half_life,
    geometric_adstock,
    hill,
    logistic_saturation,
)

thetas = st.floats(0.0, 0.95)
spends = st.floats(0.0, 1e5)
plans = st.lists(spends, min_size=1, max_size=24)


@st.composite
def responses(draw: st.DrawFn, max_theta: float = 0.95) -> SpendResponse:
    """Any valid channel: a hill or logistic curve with plausible monthly-spend parameters."""
    beta = draw(st.floats(1.0, 1000.0))
    theta = draw(st.floats(0.0, max_theta))
    if draw(st.booleans()):
        k, s = draw(st.floats(10.0, 1e5)), draw(st.floats(0.2, 4.0))
        return SpendResponse("hill", beta, k=k, s=s, adstock=theta)
    return SpendResponse("logistic", beta, lam=draw(st.floats(1e-5, 1e-2)), adstock=theta)


def adstock_by_loop(spend: list[float], theta: float, initial: float) -> list[float]:
    """a_t = x_t + theta * a_{t-1}, written as docs/model.md (section 1) states it."""
    out, a = [], initial
    for x in spend:
        a = x + theta * a
        out.append(a)
    return out


# --- adstock -------------------------------------------------------------------------------


def test_adstock_of_a_burst_halves_each_period() -> None:
    assert geometric_adstock([100, 0, 0], 0.5).tolist() == [100.0, 50.0, 25.0]
    assert geometric_adstock([100, 100, 0], 0.5).tolist() == [100.0, 150.0, 75.0]
    assert geometric_adstock([0, 0], 0.5, initial=80).tolist() == [40.0, 20.0]
    assert geometric_adstock([3, 1, 4], 0.0).tolist() == [3.0, 1.0, 4.0]  # no carry-over
    assert geometric_adstock([], 0.5).shape == (0,)


@given(plans, thetas, st.floats(0.0, 1e5))
def test_adstock_matches_the_recurrence(spend: list[float], theta: float, initial: float) -> None:
    got = geometric_adstock(spend, theta, initial=initial)
    want = adstock_by_loop(spend, theta, initial)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_half_life_hand_cases() -> None:
    assert adstock_half_life(0.0) == 0.0
    assert adstock_half_life(0.5) == pytest.approx(1.0)
    assert adstock_half_life(0.25) == pytest.approx(0.5)


@pytest.mark.parametrize("half_life", [1, 2, 3, 6, 12])
def test_after_half_life_periods_half_the_burst_is_still_working(half_life: int) -> None:
    theta = 0.5 ** (1 / half_life)
    assert adstock_half_life(theta) == pytest.approx(half_life)
    burst = geometric_adstock([1000.0] + [0.0] * half_life, theta)
    assert burst[half_life] / burst[0] == pytest.approx(0.5)


@given(st.floats(1e-3, 0.999))
def test_half_life_formula(theta: float) -> None:
    assert theta ** adstock_half_life(theta) == pytest.approx(0.5, rel=1e-9)


# --- saturation curves ---------------------------------------------------------------------


@given(st.floats(1e-3, 1e9), st.floats(0.05, 20.0))
def test_hill_is_half_at_k_for_any_shape(k: float, s: float) -> None:
    assert float(hill(k, k, s)) == pytest.approx(0.5, abs=1e-12)


def test_hill_hand_cases() -> None:
    assert hill([0.0, 1.0, 2.0, 3.0], 1.0, 2.0).tolist() == pytest.approx([0.0, 0.5, 0.8, 0.9])
    assert hill([0.0, 100.0, 300.0], 100.0, 1.0).tolist() == pytest.approx([0.0, 0.5, 0.75])
    assert hill([[1.0, 2.0]], 1.0, 1.0).shape == (1, 2)


@given(st.floats(0.0, 1e6), st.floats(1.0, 1e5), st.floats(0.2, 4.0))
def test_hill_matches_the_textbook_formula(x: float, k: float, s: float) -> None:
    assert float(hill(x, k, s)) == pytest.approx(x**s / (x**s + k**s), rel=1e-9, abs=1e-300)


def test_curves_are_numerically_safe_at_zero_and_huge_spend() -> None:
    x = [0.0, 1e-300, 1.0, 1e300, math.inf]
    with np.errstate(all="raise"):
        h = hill(x, 1e4, 5.0)
        g = logistic_saturation(x, 1e-3)
    assert h[0] == 0.0
    assert h[-2:].tolist() == [1.0, 1.0]
    assert g[0] == 0.0
    assert g[-2:].tolist() == [1.0, 1.0]
    assert np.all((h >= 0) & (h <= 1))
    assert np.all((g >= 0) & (g <= 1))


def test_logistic_hand_cases() -> None:
    lam = 2e-3
    assert float(logistic_saturation(0.0, lam)) == 0.0
    assert float(logistic_saturation(math.log(3) / lam, lam)) == pytest.approx(0.5)  # (1-1/3)/(4/3)
    far = logistic_saturation([1e3, 1e4, 5e4], lam)
    assert np.all(np.diff(far) > 0)
    assert far[-1] == pytest.approx(1.0, abs=1e-12)
    assert far[-1] <= 1.0  # tends to 1 from below, never past it


@given(st.floats(0.0, 1e5), st.floats(1e-6, 1e-2))
def test_logistic_matches_the_textbook_formula(x: float, lam: float) -> None:
    e = math.exp(-lam * x)
    assert float(logistic_saturation(x, lam)) == pytest.approx((1 - e) / (1 + e), abs=1e-12)


# --- the channel: leads, marginal leads, steady state --------------------------------------


def test_leads_and_marginal_leads_by_hand() -> None:
    r = SpendResponse("hill", 10.0, k=100.0, s=1.0, adstock=0.5)
    # adstock of [100, 0] is [100, 50]: leads 10 * 100/200 and 10 * 50/150
    assert r.leads([100.0, 0.0]).tolist() == pytest.approx([5.0, 10 / 3])
    # +100 in month 0 of an empty plan works in both months; in month 1 only once
    assert r.marginal_leads([0.0, 0.0], 0, 100.0) == pytest.approx(5.0 + 10 / 3)
    assert r.marginal_leads([0.0, 0.0], 1, 100.0) == pytest.approx(5.0)
    assert r.marginal_leads([100.0, 0.0], 0, -100.0) == pytest.approx(-(5.0 + 10 / 3))
    assert r.steady_state_leads(50.0) == pytest.approx(5.0)  # adstock 50 / (1 - 0.5) = k


@given(responses(), plans, st.data())
def test_marginal_leads_is_the_difference_of_total_leads(
    r: SpendResponse, plan: list[float], data: st.DataObject
) -> None:
    period = data.draw(st.integers(0, len(plan) - 1))
    extra = data.draw(st.floats(0.0, 1e4))
    bumped = list(plan)
    bumped[period] += extra
    want = float(np.sum(r.leads(bumped)) - np.sum(r.leads(plan)))
    assert r.marginal_leads(plan, period, extra) == pytest.approx(want, rel=1e-9, abs=1e-7)


@given(responses(), plans, st.data())
def test_more_spend_never_gives_fewer_leads(
    r: SpendResponse, plan: list[float], data: st.DataObject
) -> None:
    more = [x + data.draw(st.floats(0.0, 1e5)) for x in plan]
    assert np.all(r.leads(more) >= r.leads(plan) - 1e-12 * r.beta)
    assert r.marginal_leads(plan, len(plan) - 1, 1000.0) >= 0.0
    assert r.steady_state_leads(max(more)) >= r.steady_state_leads(min(plan))


def concave_responses() -> st.SearchStrategy[SpendResponse]:
    beta, theta = st.floats(1.0, 1000.0), st.floats(0.0, 0.9)
    hills = st.builds(
        lambda b, t, k, s: SpendResponse("hill", b, k=k, s=s, adstock=t),
        beta,
        theta,
        st.floats(100.0, 1e5),
        st.floats(0.1, 1.0),
    )
    logistics = st.builds(
        lambda b, t, lam: SpendResponse("logistic", b, lam=lam, adstock=t),
        beta,
        theta,
        st.floats(1e-5, 1e-2),
    )
    return hills | logistics


@given(concave_responses(), spends, spends)
def test_diminishing_returns_for_concave_curves(r: SpendResponse, b1: float, b2: float) -> None:
    low, high = sorted((b1, b2))
    m_low = r.marginal_leads([low] * 6, 0, 1000.0)
    m_high = r.marginal_leads([high] * 6, 0, 1000.0)
    assert m_high <= m_low + 1e-9 * r.beta


@pytest.mark.parametrize(
    "r",
    [
        SpendResponse("hill", 100.0, k=20_000.0, s=1.0),
        SpendResponse("hill", 100.0, k=20_000.0, s=0.5, adstock=0.4),
        SpendResponse("logistic", 100.0, lam=5e-5, adstock=0.6),
    ],
)
def test_each_extra_1000_buys_fewer_leads_than_the_last(r: SpendResponse) -> None:
    marginal = [r.marginal_leads([b] * 3, 0, 1000.0) for b in (0, 5e3, 1e4, 2e4, 4e4, 8e4)]
    assert np.all(np.diff(marginal) < 0), marginal


@pytest.mark.parametrize("s", [1.5, 2.0, 3.0])
def test_hill_with_s_above_one_is_s_shaped(s: float) -> None:
    k, extra, step = 10_000.0, 1000.0, 100.0
    r = SpendResponse("hill", 100.0, k=k, s=s)
    inflection = k * ((s - 1) / (s + 1)) ** (1 / s)
    bases = np.arange(0.0, 3 * k, step)
    marginal = np.array([r.marginal_leads([b], 0, extra) for b in bases])
    peak = int(np.argmax(marginal))
    assert 0 < peak < len(bases) - 1  # returns first accelerate, then diminish
    assert np.all(np.diff(marginal[: peak + 1]) > 0)
    assert np.all(np.diff(marginal[peak:]) < 0)
    # the extra 1000 works best when it straddles the inflection: f'(b) = f'(b + extra)
    assert inflection - extra - step <= bases[peak] <= inflection + step
    # and the curve itself bends there: convex before, concave after
    h = 1.0
    for x, sign in ((0.5 * inflection, 1), (2 * inflection, -1)):
        second = float(hill(x + h, k, s) - 2 * hill(x, k, s) + hill(x - h, k, s))
        assert sign * second > 0


def test_concave_hill_has_no_inflection_its_best_dollar_is_the_first() -> None:
    r = SpendResponse("hill", 100.0, k=10_000.0, s=1.0)
    marginal = [r.marginal_leads([b], 0, 1000.0) for b in np.arange(0.0, 30_000.0, 100.0)]
    assert int(np.argmax(marginal)) == 0


@given(responses(max_theta=0.9), spends)
def test_steady_state_is_where_a_constant_spend_settles(r: SpendResponse, spend: float) -> None:
    run = r.leads(np.full(200, spend))
    assert r.steady_state_leads(spend) == pytest.approx(float(run[-1]), rel=1e-7, abs=1e-12)
    assert run[-1] <= r.steady_state_leads(spend) + 1e-12 * r.beta  # builds up from below


def test_steady_state_counts_carry_over() -> None:
    flat = SpendResponse("logistic", 50.0, lam=1e-4)
    sticky = SpendResponse("logistic", 50.0, lam=1e-4, adstock=0.75)
    assert sticky.steady_state_leads(5000.0) == pytest.approx(50.0 * math.tanh(0.5 * 1e-4 * 2e4))
    assert sticky.steady_state_leads(5000.0) > flat.steady_state_leads(5000.0)


# --- bad input -----------------------------------------------------------------------------

HILL = SpendResponse("hill", 10.0, k=100.0, s=1.0)

BAD: list[tuple[str, Callable[[], object]]] = [
    ("theta", lambda: geometric_adstock([1.0], 1.0)),
    ("theta", lambda: geometric_adstock([1.0], -0.1)),
    ("theta", lambda: geometric_adstock([1.0], math.nan)),
    ("initial", lambda: geometric_adstock([1.0], 0.5, initial=-1.0)),
    ("spend", lambda: geometric_adstock([-1.0], 0.5)),
    ("spend", lambda: geometric_adstock([math.nan], 0.5)),
    ("spend", lambda: geometric_adstock([math.inf], 0.5)),
    ("spend", lambda: geometric_adstock([[1.0]], 0.5)),
    ("theta", lambda: adstock_half_life(1.0)),
    ("theta", lambda: adstock_half_life(-0.5)),
    ("k (", lambda: hill([1.0], 0.0, 1.0)),
    ("k (", lambda: hill([1.0], math.inf, 1.0)),
    ("s (shape)", lambda: hill([1.0], 1.0, 0.0)),
    ("x (spend)", lambda: hill([-1.0], 1.0, 1.0)),
    ("x (spend)", lambda: hill([math.nan], 1.0, 1.0)),
    ("lam", lambda: logistic_saturation([1.0], 0.0)),
    ("lam", lambda: logistic_saturation([1.0], -1.0)),
    ("x (spend)", lambda: logistic_saturation([-1.0], 1.0)),
    ("curve", lambda: SpendResponse("exp", 1.0, k=1.0, s=1.0)),  # type: ignore[arg-type]
    ("beta", lambda: SpendResponse("hill", 0.0, k=1.0, s=1.0)),
    ("beta", lambda: SpendResponse("hill", math.nan, k=1.0, s=1.0)),
    ("k (", lambda: SpendResponse("hill", 1.0, s=1.0)),
    ("k (", lambda: SpendResponse("hill", 1.0, k=-5.0, s=1.0)),
    ("s (shape)", lambda: SpendResponse("hill", 1.0, k=1.0)),
    ("s (shape)", lambda: SpendResponse("hill", 1.0, k=1.0, s=-1.0)),
    ("lam", lambda: SpendResponse("hill", 1.0, k=1.0, s=1.0, lam=1.0)),
    ("lam", lambda: SpendResponse("logistic", 1.0)),
    ("lam", lambda: SpendResponse("logistic", 1.0, lam=0.0)),
    ("k and s", lambda: SpendResponse("logistic", 1.0, lam=1.0, k=1.0)),
    ("adstock", lambda: SpendResponse("hill", 1.0, k=1.0, s=1.0, adstock=1.0)),
    ("spend", lambda: HILL.leads([10.0, -1.0])),
    ("period", lambda: HILL.marginal_leads([1.0, 2.0], 2, 1.0)),
    ("period", lambda: HILL.marginal_leads([1.0, 2.0], -1, 1.0)),
    ("extra", lambda: HILL.marginal_leads([1.0, 2.0], 0, math.nan)),
    ("extra", lambda: HILL.marginal_leads([1.0, 2.0], 0, -5.0)),
    ("spend_per_period", lambda: HILL.steady_state_leads(-1.0)),
    ("spend_per_period", lambda: HILL.steady_state_leads(math.inf)),
]


@pytest.mark.parametrize(("name", "call"), BAD)
def test_bad_parameters_raise_naming_the_parameter(name: str, call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=re.escape(name)):
        call()
