"""Spend -> leads: how a marketing budget turns into inbound leads, as media-mix models write it.

Two effects shape the answer to "what do I get for another dollar in this channel?":

* **Carry-over (adstock).** Money spent this month keeps working next month: an ad is remembered,
  a content piece keeps ranking, a webinar recording keeps being watched. Geometric adstock keeps
  a share ``theta`` of last period's effective spend: ``a_t = x_t + theta * a_{t-1}``.
* **Saturation.** A channel reaches only so many buyers. The saturation curve ``f`` maps
  (adstocked) spend to a share in ``[0, 1)`` of the channel's ceiling ``beta`` (leads per period
  at full saturation), so ``leads_t = beta * f(a_t)``: every extra dollar eventually buys fewer
  leads than the one before (diminishing returns).

The parameters can come from a fitted pymc-marketing, Robyn or Meridian model, so a planner can
reuse what their marketing science team estimated. Check the units first: the curve is applied to
*adstocked* spend in the same currency and period as the spend you pass, while many fits scale
spend (e.g. by its maximum) or normalise the adstock weights, which this plain geometric form does
not do. Nothing here is random: these are *expected* leads per period, which a simulation then
turns into arrivals.

Each formula is written once, on plain floats where it can be. numpy is imported only by the
functions that take and return arrays; :meth:`SpendResponse.expected_leads` computes the same
figures without it (with the standard library's logarithm and tanh, which may differ from
numpy's in the last bit), so that checking a scenario file (``funnelsim validate``) loads no
numpy. The simulation uses the array forms.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SpendResponse",
    "adstock_half_life",
    "carry_over",
    "geometric_adstock",
    "hill",
    "logistic_saturation",
]

Curve = Literal["hill", "logistic"]
# A Hill curve's numbers as a scenario's `response` section names them (beta, k, s, theta)
RESPONSE_PARAMETERS = ("leads_at_saturation", "half_saturation", "shape", "adstock")


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_theta(theta: float) -> None:
    if not (math.isfinite(theta) and 0.0 <= theta < 1.0):
        raise ValueError(f"theta (adstock carry-over) must be in [0, 1), got {theta!r}")


def _spend(x: ArrayLike, name: str) -> NDArray[np.float64]:
    import numpy as np

    arr = np.asarray(x, dtype=np.float64)
    if not np.all(arr >= 0):  # also rejects NaN
        raise ValueError(f"{name} must be >= 0 (and not NaN)")
    return arr


def geometric_adstock(
    spend: ArrayLike, theta: float, *, initial: float = 0.0
) -> NDArray[np.float64]:
    """Effective spend per period once carry-over is counted: ``a_t = x_t + theta * a_{t-1}``.

    ``theta`` is the share of last period's effect still working this period: 0 means a channel
    whose effect stops when the money stops (e.g. paid search), values near 1 a channel that
    builds slowly and fades slowly (e.g. content, brand). A single burst of 100 with theta 0.5
    works as 100, 50, 25, ... in the following periods. ``initial`` is the adstock carried in
    from before the first period (``a_{-1}``), so a plan can start from a channel already running.

    Raises ValueError unless theta is in [0, 1), spend is a 1-D sequence of non-negative numbers
    and initial is finite and >= 0.
    """
    import numpy as np

    _check_theta(theta)
    if not (math.isfinite(initial) and initial >= 0):
        raise ValueError(f"initial (adstock before the first period) must be >= 0, got {initial!r}")
    x = _spend(spend, "spend")
    if x.ndim != 1:
        raise ValueError(f"spend must be a 1-D sequence of per-period spends, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("spend must be finite")
    if x.size == 0:
        return x.copy()
    return np.array(carry_over(x.tolist(), theta, initial), dtype=np.float64)


def carry_over(spend: Iterable[float], theta: float, initial: float) -> list[float]:
    """The recursion ``a_t = x_t + theta * a_{t-1}`` itself, on floats, unchecked (a fit calls
    it thousands of times; :func:`geometric_adstock` checks its inputs first): plans run to tens
    of periods, and scipy.signal.lfilter, which computes the same, costs about a second of
    import in every process that plans spend."""
    out = []
    carried = initial
    for value in spend:
        carried = value + theta * carried
        out.append(carried)
    return out


def adstock_half_life(theta: float) -> float:
    """Periods until a burst of spend has lost half its effect: ``ln 0.5 / ln theta``.

    The planner's reading of ``theta``: with a half-life of 2 months, half of what a campaign
    does happens more than 2 months after it ran, so judging it on the launch month undersells
    it. 0 for ``theta == 0`` (no carry-over at all).
    """
    _check_theta(theta)
    if theta == 0.0:
        return 0.0
    return math.log(0.5) / math.log(theta)


def hill(x: ArrayLike, k: float, s: float) -> NDArray[np.float64]:
    """Hill saturation ``x^s / (x^s + k^s)``: the share of the channel's ceiling reached at spend x.

    ``k`` is the (adstocked) spend at which the channel delivers half its ceiling, whatever the
    shape. ``s`` is the shape: with ``s <= 1`` the curve is concave from the first dollar, so each
    extra dollar buys fewer leads than the last; with ``s > 1`` it is S-shaped, so a small budget
    barely registers (below the awareness threshold), returns accelerate up to the inflection at
    ``k * ((s - 1) / (s + 1)) ** (1 / s)`` and diminish after it. That inflection is where the
    next dollar works hardest.

    Computed as ``expit(s * ln(x / k))``, exact at ``x == k`` and free of overflow at x = 0 or
    huge x. Returns an array of x's shape. Raises ValueError if k or s is not > 0 or x < 0.
    """
    import numpy as np

    _positive("k (spend at half saturation)", k)
    _positive("s (shape)", s)
    arr = _spend(x, "x (spend)")
    with np.errstate(divide="ignore"):  # ln 0 = -inf, and expit(-inf) = 0 exactly
        ln_x = np.log(arr)
    ln_k = math.log(k)
    shares = [_hill_share(v, ln_k, s) for v in ln_x.ravel().tolist()]
    return np.array(shares, dtype=np.float64).reshape(ln_x.shape)


def _hill_share(ln_x: float, ln_k: float, s: float) -> float:
    """Hill's ``x^s / (x^s + k^s)`` from the logarithms of x and k: ``expit(s * (ln x - ln k))``."""
    return _expit(s * (ln_x - ln_k))


def _expit(z: float) -> float:
    """The logistic function ``1 / (1 + e^-z)``, to the bit as ``scipy.special.expit`` computes
    it (the same formula on the same C library's exp), without importing scipy (a third of a
    second, at every ``funnelsim validate``): a spend curve takes a handful of values."""
    try:
        return 1.0 / (1.0 + math.exp(-z))
    except OverflowError:  # e^-z beyond the largest float: z is hugely negative
        return 0.0


def logistic_saturation(x: ArrayLike, lam: float) -> NDArray[np.float64]:
    """Logistic saturation ``(1 - e^(-lam x)) / (1 + e^(-lam x))``, as pymc-marketing writes it.

    Concave from the first dollar: 0 at zero spend, rising steeply, then flattening towards 1.
    ``lam`` sets how fast the channel saturates: half the ceiling is reached at spend
    ``ln 3 / lam``. Computed as ``tanh(lam x / 2)``, the same function without overflow.
    Returns an array of x's shape. Raises ValueError if lam is not > 0 or x < 0.
    """
    import numpy as np

    _positive("lam (saturation speed)", lam)
    arr = _spend(x, "x (spend)")
    return np.asarray(_logistic_share(arr, lam, np.tanh), dtype=np.float64)


def _logistic_share(x: Any, lam: float, tanh: Callable[[Any], Any]) -> Any:
    """``(1 - e^(-lam x)) / (1 + e^(-lam x))`` as ``tanh(lam x / 2)``, with numpy's tanh on an
    array or the standard library's on one float."""
    return tanh(0.5 * lam * x)


@dataclass(frozen=True)
class SpendResponse:
    """One channel's response to spend: expected leads per period = ``beta * f(adstock(spend))``.

    ``curve`` picks ``f``: ``"hill"`` needs ``k`` (spend at half saturation) and ``s`` (shape);
    ``"logistic"`` needs ``lam``. ``beta`` is the ceiling, the leads per period the channel would
    give at full saturation, and ``adstock`` is the carry-over ``theta`` in [0, 1). A period is
    whatever the spend is given in (usually a month), and ``k`` is in the same currency.
    """

    curve: Curve
    beta: float
    k: float | None = None
    s: float | None = None
    lam: float | None = None
    adstock: float = 0.0

    def __post_init__(self) -> None:
        if self.curve not in ("hill", "logistic"):
            raise ValueError(f"curve must be 'hill' or 'logistic', got {self.curve!r}")
        _positive("beta (leads per period at full saturation)", self.beta)
        _check_theta(self.adstock)
        if self.curve == "hill":
            if self.k is None or self.s is None:
                raise ValueError("the hill curve needs k (spend at half saturation) and s (shape)")
            _positive("k (spend at half saturation)", self.k)
            _positive("s (shape)", self.s)
            if self.lam is not None:
                raise ValueError("lam belongs to the logistic curve; leave it None for hill")
        else:
            if self.lam is None:
                raise ValueError("the logistic curve needs lam (saturation speed)")
            _positive("lam (saturation speed)", self.lam)
            if self.k is not None or self.s is not None:
                raise ValueError("k and s belong to the hill curve; leave them None for logistic")

    def saturation(self, x: ArrayLike) -> NDArray[np.float64]:
        """The curve ``f``: share of the ceiling ``beta`` reached at (adstocked) spend x."""
        if self.curve == "hill" and self.k is not None and self.s is not None:
            return hill(x, self.k, self.s)
        if self.curve == "logistic" and self.lam is not None:
            return logistic_saturation(x, self.lam)
        raise AssertionError("unreachable: __post_init__ checks the curve's parameters")

    def share(self, x: float) -> float:
        """:meth:`saturation` at one (adstocked) spend, without numpy: the same formula with the
        standard library's logarithm or tanh, so it may differ from it in the last bit."""
        if not x >= 0:  # also rejects NaN
            raise ValueError(f"x (spend) must be >= 0 (and not NaN), got {x!r}")
        if self.curve == "hill" and self.k is not None and self.s is not None:
            ln_x = math.log(x) if x > 0 else -math.inf
            return _hill_share(ln_x, math.log(self.k), self.s)
        if self.curve == "logistic" and self.lam is not None:
            return float(_logistic_share(x, self.lam, math.tanh))
        raise AssertionError("unreachable: __post_init__ checks the curve's parameters")

    def leads(self, spend_by_period: ArrayLike) -> NDArray[np.float64]:
        """Expected leads in each period for a plan of per-period spends (e.g. one per month).

        Carry-over starts from nothing before the first period, so the first periods of a new
        channel under-deliver while its adstock builds up.
        """
        return self.beta * self.saturation(geometric_adstock(spend_by_period, self.adstock))

    def expected_leads(self, spend_by_period: Iterable[float]) -> list[float]:
        """:meth:`leads` without numpy, for figures people read (``funnelsim validate``'s
        offered load): within a few units in the last place of it, not bit for bit."""
        plan = [float(v) for v in spend_by_period]
        if not all(math.isfinite(v) and v >= 0 for v in plan):
            raise ValueError("spend must be finite and >= 0")
        return [self.beta * self.share(a) for a in carry_over(plan, self.adstock, 0.0)]

    def marginal_leads(self, spend_by_period: ArrayLike, period: int, extra: float) -> float:
        """Extra expected leads from adding ``extra`` to the spend of ``period``.

        Summed over that period and every later one in the plan, because carry-over keeps the
        extra money working (effects past the end of the plan are not counted). Compare it across
        periods and channels to see where the next dollar works best; a negative ``extra`` prices
        a cut. Raises ValueError if ``period`` is outside the plan or the new spend would be < 0.
        """
        import numpy as np

        base = np.asarray(spend_by_period, dtype=np.float64)
        adstocked = geometric_adstock(base, self.adstock)  # validates the plan
        period = operator.index(period)  # an integer period, not 1.5
        if not 0 <= period < base.size:
            raise ValueError(f"period must be in [0, {base.size}), got {period!r}")
        if not math.isfinite(extra):
            raise ValueError(f"extra must be finite, got {extra!r}")
        if not base[period] + extra >= 0:
            raise ValueError(f"extra={extra!r} would make the spend of period {period} negative")
        a = adstocked[period:]
        # The extra money adds extra * theta^j to the adstock j periods later (0**0 == 1).
        bumped = a + extra * self.adstock ** np.arange(a.size, dtype=np.float64)
        bumped = np.maximum(bumped, 0.0)  # guards rounding when a cut removes all spend
        return float(self.beta * np.sum(self.saturation(bumped) - self.saturation(a)))

    def steady_state_leads(self, spend_per_period: float) -> float:
        """Leads per period once a constant spend has run long enough for carry-over to settle.

        The adstock of a constant spend x tends to ``x / (1 - theta)``, so this is
        ``beta * f(x / (1 - theta))``: the run-rate a planner can expect from an always-on budget.
        """
        if not (math.isfinite(spend_per_period) and spend_per_period >= 0):
            raise ValueError(f"spend_per_period must be finite and >= 0, got {spend_per_period!r}")
        a = spend_per_period / (1.0 - self.adstock)
        return float(self.beta * self.saturation(a))
