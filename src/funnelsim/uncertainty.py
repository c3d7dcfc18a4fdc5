"""Uncertain inputs: their ranges drawn, and how much of an answer's spread they cause.

A planner knows the outbound connect rate as "5 to 10%", not to two digits. A scenario says so
with the extended number form (``{value, low, high, shape, source, grade}``,
``scenario.ranges``), and every number with a range is an uncertain input. Propagating them:

1. **Draws.** ``N`` input sets, a Latin hypercube over the inputs' ranges
   (``scipy.stats.qmc.LatinHypercube``, scrambled, seeded from the run's seed): each input's
   range is cut into ``N`` equally likely strata and every stratum is used once, so a few dozen
   draws cover every range evenly. A draw's value is the range's quantile (uniform, or
   triangular with its mode at ``value``; whole numbers for whole-number fields).
2. **Runs.** Each draw is a scenario of its own, run for the same replications on the same seed:
   replication ``r`` of every draw sees the same random numbers (common random numbers), so the
   outcomes form a draws x replications table whose rows differ only by their inputs.
3. **Spread.** Per metric: the mean and the 95% CI of the mean; ``p05`` and ``p95``, the spread
   of single outcomes over inputs and noise (what one year could look like); and
   ``parameter_share``, the share of an outcome's variance due to the uncertain inputs.

The share comes from a variance decomposition of the nested simulation (inputs drawn, then
noise), estimated as the variance components of a two-way crossed random-effects model, draws
x replications, since common random numbers cross them: ``y[i, r] = mu + a[i] + b[r] + e[i, r]``
with the classical ANOVA (method-of-moments) estimators (Searle, Casella and McCulloch,
*Variance Components*, Wiley 1992, ch. 4): ``share = var(a) / (var(a) + var(b) + var(e))``.
Its confidence interval is a percentile bootstrap that resamples draws and replications
independently, the "pigeonhole" bootstrap for crossed designs (Owen, "The pigeonhole bootstrap",
*Annals of Applied Statistics* 1(2), 2007), seeded from the run's seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.stats import qmc

from funnelsim.scenario.load import scenario_from_dict
from funnelsim.scenario.ranges import PathKey, Quantity, Range, quantile, uncertain_of, with_values
from funnelsim.scenario.schema import Scenario

BOOTSTRAP = 999  # resamples for the share's interval
CONFIDENCE = 0.95
_DRAWS, _RESAMPLES = 0x0D8A, 0xB007  # streams of the run's seed, apart from the simulation's


def dotted(path: PathKey) -> str:
    return ".".join(str(part) for part in path)


def uncertain_inputs(scenario: Scenario) -> dict[str, Range]:
    """The scenario's uncertain inputs (numbers with a range) by dotted path, in file order."""
    return {dotted(path): r for path, r in uncertain_of(scenario).items()}


def shared_inputs(plans: Sequence[Scenario]) -> dict[PathKey, Range]:
    """Every plan's uncertain inputs, each path once (with the first plan's range that has
    it), in the order the plans name them: the inputs plans compared under uncertainty share."""
    inputs: dict[PathKey, Range] = {}
    for plan in plans:
        for path, r in uncertain_of(plan).items():
            inputs.setdefault(path, r)
    return inputs


def draw_inputs(
    scenarios: Sequence[Scenario], draws: int, seed: int
) -> list[list[dict[PathKey, Quantity]]]:
    """``draws`` input sets for each scenario (draw by draw): a scrambled Latin hypercube over
    the uncertain inputs of all of them. Plans share the draw of each dotted path: a path
    uncertain in two plans is at the same quantile of each plan's range, so a comparison sees
    the plans differ by their choices, not by their luck in the draw."""
    ranges = [uncertain_of(scenario) for scenario in scenarios]
    paths = list(shared_inputs(scenarios))
    rng = np.random.default_rng([seed, _DRAWS])
    points = qmc.LatinHypercube(d=len(paths), rng=rng).random(draws)
    drawn = []
    for row in points:
        at = dict(zip(paths, row.tolist(), strict=True))
        drawn.append(
            [{path: quantile(r, at[path]) for path, r in inputs.items()} for inputs in ranges]
        )
    return drawn


def drawn_scenario(scenario: Scenario, values: Mapping[PathKey, Quantity], name: str) -> Scenario:
    """``scenario`` with the drawn values in place of its uncertain inputs, named ``name``."""
    data = with_values(scenario.model_dump(mode="json", exclude_none=True), dict(values))
    data["name"] = name
    return scenario_from_dict(data)


@dataclass(frozen=True)
class Spread:
    """One metric over draws and replications."""

    mean: float
    ci_low: float
    ci_high: float
    p05: float
    p95: float
    parameter_share: float
    parameter_share_ci: tuple[float, float]

    def as_json(self) -> dict[str, Any]:
        def number(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "mean": number(self.mean),
            "ci_low": number(self.ci_low),
            "ci_high": number(self.ci_high),
            "p05": number(self.p05),
            "p95": number(self.p95),
            "parameter_share": number(self.parameter_share),
            "parameter_share_ci": [number(x) for x in self.parameter_share_ci],
        }


_NAN = math.nan
NAN_SPREAD = Spread(_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, (_NAN, _NAN))


def spread(values: np.ndarray, seed: int) -> Spread:
    """The spread of ``values`` (draws x replications, on common random numbers). A metric
    undefined in some outcome (nan) gets its mean and percentiles over the outcomes that have
    it, and no decomposition."""
    y = np.asarray(values, dtype=float)
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        return NAN_SPREAD
    p05, p95 = (float(x) for x in np.percentile(finite, [5, 95]))
    n, r = y.shape
    if finite.size < y.size or n < 2 or r < 2:
        mean = float(finite.mean())
        return Spread(mean, math.nan, math.nan, p05, p95, math.nan, (math.nan, math.nan))
    mean, half = float(y.mean()), _half_width(y)
    share = float(_shares(y[None])[0])
    return Spread(mean, mean - half, mean + half, p05, p95, share, _pigeonhole(y, _shares, seed))


def p_better(difference: np.ndarray, better: str, seed: int) -> tuple[float, tuple[float, float]]:
    """The probability that a plan beats the baseline, from its paired differences (draws x
    replications, plan minus baseline), ``better`` the metric's direction: the share of
    outcomes where it is ahead, a tie counting half; its interval a pigeonhole bootstrap."""
    d = np.asarray(difference, dtype=float)
    if not np.isfinite(d).all() or d.size == 0:
        return math.nan, (math.nan, math.nan)
    ahead = np.sign(d) if better == "higher" else -np.sign(d)
    wins = (ahead + 1.0) / 2.0  # 1 ahead, 0.5 tied, 0 behind

    def share(tables: np.ndarray) -> np.ndarray:
        return np.asarray(tables.mean(axis=(1, 2)))

    return float(wins.mean()), _pigeonhole(wins, share, seed)


def _pigeonhole(
    y: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], seed: int
) -> tuple[float, float]:
    """The percentile interval of ``statistic`` over tables resampled by draws and by
    replications independently (Owen 2007); nan where no resample defines it."""
    n, r = y.shape
    rng = np.random.default_rng([seed, _RESAMPLES])
    rows = rng.integers(0, n, size=(BOOTSTRAP, n))
    cols = rng.integers(0, r, size=(BOOTSTRAP, r))
    resampled = statistic(y[rows[:, :, None], cols[:, None, :]])
    resampled = resampled[np.isfinite(resampled)]
    if not resampled.size:
        return math.nan, math.nan
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return float(low), float(high)


def _half_width(y: np.ndarray) -> float:
    """Half-width of the grand mean's CI. Its variance is var(a)/n + var(b)/r + var(e)/(n r),
    estimated by (MS_a + MS_b - MS_e) / (n r), with Satterthwaite's degrees of freedom for
    that combination of mean squares."""
    n, r = y.shape
    ms_a, ms_b, ms_e = (float(m[0]) for m in _mean_squares(y[None]))
    combined = ms_a + ms_b - ms_e
    if combined <= 0:
        return 0.0
    spread = ms_a**2 / (n - 1) + ms_b**2 / (r - 1) + ms_e**2 / ((n - 1) * (r - 1))
    df = max(combined**2 / spread, 1.0) if spread > 0 else float(n * r - 1)
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df)) * math.sqrt(combined / (n * r))


def _mean_squares(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two-way ANOVA mean squares (draws, replications, residual) of each table in ``y``
    (tables x draws x replications)."""
    _, n, r = y.shape
    grand = y.mean(axis=(1, 2), keepdims=True)
    rows = y.mean(axis=2, keepdims=True)
    cols = y.mean(axis=1, keepdims=True)
    ms_a = r * ((rows - grand) ** 2).sum(axis=(1, 2)) / (n - 1)
    ms_b = n * ((cols - grand) ** 2).sum(axis=(1, 2)) / (r - 1)
    ms_e = ((y - rows - cols + grand) ** 2).sum(axis=(1, 2)) / ((n - 1) * (r - 1))
    return ms_a, ms_b, ms_e


def _shares(y: np.ndarray) -> np.ndarray:
    """The inputs' share of the variance, from each table's variance components (negative
    estimates set to zero, as is usual); nan for a table with no variance at all."""
    _, n, r = y.shape
    ms_a, ms_b, ms_e = _mean_squares(y)
    var_a = np.maximum((ms_a - ms_e) / r, 0.0)
    var_b = np.maximum((ms_b - ms_e) / n, 0.0)
    total = var_a + var_b + ms_e
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, var_a / total, np.nan)
