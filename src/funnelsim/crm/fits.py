"""What a planner's own CRM export says about her funnel: the fits of ``funnelsim calibrate``.

:func:`fit` reads a normalised :class:`~funnelsim.crm.data.Export` (whatever CRM it came from)
and estimates, each with the number of observations behind it, an estimate and a confidence
interval at ``level``:

- **Arrivals per source.** ``arrivals_per_week.SOURCE``: the count of leads over the export's
  span (its first lead's creation to ``exported_at``) is a Poisson count, so the rate gets the
  exact Poisson interval of Garwood (1936). The weekday, hour-of-day and (when the export covers
  at least 12 months) calendar-month profiles are relative weights normalised to a mean of 1,
  as a scenario's ``weekdays``, ``hours`` and ``months`` read them: a category's share of the
  leads gets a Wilson (1927) interval, conditional on the total (the multinomial's margin), and
  is divided by the category's share of the span (how many Mondays, hours, Marches it held), so
  an export with five Mondays and four Sundays does not read as a Monday peak.
- **Stage conversions** lead -> MQL, MQL -> SQL, SQL -> opportunity (a deal exists for the
  lead) and opportunity -> won, overall (``rate_mql_to_sql``), per source (``.SOURCE``), per
  size band (``.segment.SEG``) and per industry (``.industry.INDUSTRY``), each a proportion with
  a Wilson interval. **Young records are left out of the denominator**: a record that entered
  the earlier stage less than the *maturity window* before ``exported_at`` (the 95th percentile
  of the observed lags of that conversion) has not had its chance to convert, and counting it
  as a failure would bias the rate low, the more so the faster the funnel grows. Leaving it out
  keeps the rate a plain proportion with an exact-enough interval, needs no model of the lag,
  and costs only the last few weeks of data; the conversions slower than the window (5% of
  them by construction, and only those of records aged within the lag's tail) are counted as
  failures, a bias far below the interval's width on an export of months. A censored
  (cure-model) estimate would use the young records too, at the price of a parametric lag.
- **Time in stage.** ``days_opportunity_to_close``: a deal still open at ``exported_at`` is
  right-censored there (it will close, later than we saw), so the median is Kaplan and Meier's
  (1958) product-limit estimate, its interval that of Brookmeyer and Crowley (1982) on the
  log(-log) Greenwood (1926) band (as lifelines' ``median_survival_times`` computes it); a
  Weibull and a log-normal distribution are fitted by maximum likelihood with the censored
  deals' survival terms, the one with the lower AIC (Akaike 1974) is reported with its
  parameters (Wald intervals on the log scale, from the observed information) and its mean.
  ``days_mql_to_sql`` and ``days_created_to_first_touch`` are the lags *of the records that
  converted*: a record that never converts is not censored (it will never convert), so those
  lags are taken among records older than the 99th percentile of the lag (where every eventual
  conversion has been seen), with the same estimators.
- **The decay of conversion with the wait for a first touch.** Each touched lead's wait (first
  touch minus its MQL date, its creation when it has none) against whether it reached SQL:
  leads are binned by wait, the bins' conversion rates are made non-increasing in the wait by
  isotonic regression (the pool-adjacent-violators algorithm, Ayer et al. 1955; Barlow et al.
  1972), read between the bins' mean waits by linear interpolation and normalised to 1 at the
  first bin (touched within 5 minutes). ``decay_at_1h`` and ``decay_at_24h`` are P(SQL | 1 h)
  / P(SQL | immediate) and the same at 24 h, with percentile bootstrap intervals (Efron and
  Tibshirani 1993) over leads, seeded.
- **Attempts, deal size, win rate.** ``attempts_mean`` (sales activities per touched lead, t
  interval), per source (``.SOURCE``) and per kind (``.kind.inbound``, ``.kind.outbound``),
  and its distribution; ``deal_size_mean`` and ``deal_size_sd`` of *won* deals (t
  interval; chi-square interval for the sd), overall and per size band; the win rate per size
  band is ``rate_opportunity_to_won.segment.SEG``.
- **Spend -> leads curves** (with a spend file). For each channel of the spend file whose slug
  is an inbound source: the source's leads created in each calendar month against the month's
  spend, as a scenario's ``response`` section simulates them and media-mix models write them
  (Jin et al. 2017): expected leads in month t = ``leads_at_saturation * hill(a_t)``, with
  Hill's (1910) curve ``hill(a) = a^shape / (a^shape + half_saturation^shape)`` of the
  geometric adstock (Broadbent 1979) ``a_t = spend_t + adstock * a_{t-1}``, 0 before the
  export's first month (a month without a spend row counts as no spend; months before the
  first spend are left out: no curve explains their leads). A first month the export starts
  into and a last one ``exported_at`` cuts count their share of the month's arrivals (its
  hours weighed by the fitted weekday and hour shapes, as the simulation spreads a month's
  leads). The monthly counts are Poisson: the curve is fitted by maximum likelihood on log
  ``leads_at_saturation``, log ``half_saturation``, log ``shape`` and logit ``adstock`` (the
  ceiling profiled out for a grid of starts, then Nelder and Mead's 1965 simplex), with Wald
  intervals from the observed information on that scale, so that they stay positive and the
  carry-over inside (0, 1). Names ``response.SOURCE.leads_at_saturation`` (leads per month),
  ``.half_saturation`` (money per month), ``.shape`` and ``.adstock``, ``n`` the months used.
  What the months cannot tell: fewer than ``MIN_RESPONSE_MONTHS`` (6) months with spend, or
  spend steadier than ``MIN_SPEND_CV`` (sd/mean 0.1), fit no curve; the shape is fitted from
  ``MIN_SHAPE_MONTHS`` (24) months of spend moving by ``MIN_SHAPE_CV`` (0.25) or more, else
  held at 1 (the concave curve); a carry-over fitted at its bound is held at 0; a fit some
  number of which has a standard error over ``MAX_RESPONSE_SE`` (2) on its scale is tried
  again with the shape held at 1, then given up. A number held is in ``Fits.fixed``, why in
  ``Fits.skipped``; each source's monthly spend is ``Fits.spend_by_month``. The fit is a
  pure function of the data (no random numbers) and takes a few hundredths of a second.

Names are a contract with ``funnelsim calibrate --json``; ``SOURCE`` and ``INDUSTRY`` are
:func:`funnelsim.crm.formats.slug` of the export's values (``Organic Search`` ->
``organic_search``). A fit the export cannot support (a source without MQLs, an export without
deals or first-touch dates, a spend channel that names no source) is never an exception: it
is left out of ``fits`` and listed in ``Fits.skipped`` with the reason.
:meth:`Fits.scenario_numbers` maps the fits onto the scenario paths they fill, as extended
numbers (docs/scenario.md#numbers-with-a-source-and-a-range).

The survival estimators are written here with scipy (some 80 lines) rather than taken from
lifelines, whose releases require pandas < 3.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import chdtri, expit, gamma, gammaincinv, log_expit, log_ndtr, logit, ndtri

from funnelsim.analysis import summarise
from funnelsim.crm.data import Export
from funnelsim.crm.formats import slug
from funnelsim.curves import RESPONSE_PARAMETERS, carry_over

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
SEGMENTS = ("smb", "mid", "ent")  # the size bands a scenario's `segments` can name
MATURITY_QUANTILE = 0.95  # conversion rates: records younger than this lag quantile left out
LAG_QUANTILE = 0.99  # lags of converters: records younger than this lag quantile left out
MIN_DISTINCT_EVENTS = 3  # a parametric time-in-stage fit needs this many distinct times
MIN_DURATION_DAYS = 1 / 1440  # a minute: a zero duration has no logarithm (parametric fits)
# Decay bins, in hours waited; the first is "immediate" (within 5 minutes). Dense around 1 h
# and 24 h, where the contract's two numbers are read.
DECAY_EDGES_H = (0, 5 / 60, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 20, 24, 30, 36,
                 48, 72, 120, 240, math.inf)  # fmt: skip
DECAY_BOOTSTRAP = 400
GRADE = "B"  # the planner's own records: measured, but one company's history
# Spend -> leads curves (see the module): what a channel's months must show for a curve.
MIN_RESPONSE_MONTHS = 6  # fewer months with spend: no curve (three numbers from a handful)
MIN_SPEND_CV = 0.1  # spend steadier than this (sd over mean) shows one level, not a curve
# The Hill shape is fitted from two years of months with spend that moves this much, else
# held at 1 (the concave curve): with fewer, the ceiling, the half-saturation and the shape
# trade off along one ridge and their Wald intervals cover the truth 3 times in 4, not 19
# in 20 (15 months of the bundled example's spend, simulated); with the shape held, 19 in 20.
MIN_SHAPE_MONTHS = 24
MIN_SHAPE_CV = 0.25
MAX_RESPONSE_SE = 2.0  # a transformed number this uncertain (a 95% interval over a factor
# of 50 either way, on the log scale) is not told by the data: the fit is not used
ADSTOCK_FLOOR = 0.01  # a carry-over fitted below this sits at its bound: held at 0
ADSTOCK_CEILING = 0.9999  # a carry-over's written high end: the scenario takes < 1
RESPONSE_UNITS = {"leads_at_saturation": "leads per month", "half_saturation": "money per month",
                  "shape": "", "adstock": "share"}  # fmt: skip


# -- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fit:
    """One fitted number: its estimate, confidence interval and the observations behind it."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    unit: str = ""
    note: str = ""  # the method, in a few words (it goes into the scenario's `source`)


@dataclass(frozen=True)
class Profile:
    """A source's arrivals by category (weekday, hour, month), or attempts by count.

    ``kind`` ``weight``: relative intensities, mean 1 over the categories, as a scenario's
    ``weekdays``/``hours``/``months`` take them; ``share``: proportions summing to 1.
    """

    kind: str
    values: dict[str, Fit]

    def plain(self) -> dict[str, float]:
        """The estimates alone, rounded for a scenario file."""
        return {name: round(f.estimate, 4) for name, f in self.values.items()}


@dataclass(frozen=True)
class Duration:
    """Time in a stage, in days: the Kaplan-Meier median and the chosen parametric fit."""

    median: Fit  # Kaplan-Meier, Brookmeyer-Crowley interval
    family: str  # "weibull" or "lognormal", the lower AIC; "" when too few times to fit
    params: dict[str, Fit]  # weibull: scale (days), shape; lognormal: mu, sigma (of log days)
    mean: Fit | None  # the chosen family's mean, delta-method interval
    aic: dict[str, float]
    n: int
    events: int  # observations that ended (the rest are censored)


@dataclass(frozen=True)
class Decay:
    """Conversion to SQL by hours waited for a first touch, relative to an immediate touch:
    isotonic (non-increasing), at the bins' mean waits."""

    hours: tuple[float, ...]
    multiplier: tuple[float, ...]
    n: tuple[int, ...]  # leads per bin

    def at(self, hours: float) -> float:
        """The multiplier after ``hours`` of wait (linear between bins, flat beyond them)."""
        return float(np.interp(hours, self.hours, self.multiplier))

    def points(self) -> list[list[object]]:
        """``[[wait, multiplier], ...]`` as a scenario's ``decay: {kind: table, points}``: from
        ``0m`` at 1 (an immediate touch), in whole minutes that strictly increase."""
        out: list[list[object]] = [["0m", 1.0]]
        last = 0
        for hours, multiplier in zip(self.hours[1:], self.multiplier[1:], strict=True):
            minutes = round(hours * 60)
            if minutes > last:  # two bins' means in one minute: the first stands
                out.append([f"{minutes}m", round(multiplier, 4)])
                last = minutes
        return out


@dataclass
class Fits:
    """Everything :func:`fit` found in an export, and what it could not fit (``skipped``)."""

    fits: dict[str, Fit] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)  # "weekdays.SOURCE", ...
    durations: dict[str, Duration] = field(default_factory=dict)  # "opportunity_to_close", ...
    decay: Decay | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why
    kinds: dict[str, str] = field(default_factory=dict)  # source slug -> inbound/outbound
    # spend -> leads: each inbound source's spend per month from the export's first month (the
    # spend file's, 0 where it has no row), and the curve's numbers held fixed (name -> value;
    # why in ``skipped``)
    spend_by_month: dict[str, tuple[float, ...]] = field(default_factory=dict)
    spend_from: str = ""  # the calendar month (YYYY-MM) of spend_by_month's first values
    fixed: dict[str, float] = field(default_factory=dict)
    label: str = "CRM export"  # names the export in each number's `source`
    level: float = 0.95

    def as_json(self) -> dict[str, dict[str, dict[str, float | int]]]:
        """``{"fits": {NAME: {"estimate", "ci_low", "ci_high", "n"}}}`` (``--json``)."""
        return {
            "fits": {
                name: {"estimate": f.estimate, "ci_low": f.ci_low, "ci_high": f.ci_high, "n": f.n}
                for name, f in self.fits.items()
            }
        }

    def scenario_numbers(self) -> dict[str, dict[str, object]]:
        """The scenario paths the fits fill, each as an extended number ``{value, low, high,
        source, grade}``:

        - ``sources.SOURCE.arrivals.rate`` (inbound; ``"61.2/w"``) or
          ``sources.SOURCE.contacts_per_month`` (outbound; whole contacts) from
          ``arrivals_per_week.SOURCE``;
        - ``segments.SEG.deal_size.mean`` and ``.sd`` from ``deal_size_mean.segment.SEG`` and
          ``deal_size_sd.segment.SEG``; ``segments.SEG.win_rate`` from
          ``rate_opportunity_to_won.segment.SEG``; ``segments.SEG.cycle`` (``"62.5d"``) from
          the parametric mean of ``days_opportunity_to_close.segment.SEG`` (a scenario's cycle
          is the sum of the stages' mean delays);
        - ``teams.ae.acceptance.probability`` from ``rate_sql_to_opportunity``;
        - ``sources.SOURCE.response.leads_at_saturation``, ``.half_saturation`` (whole money),
          ``.shape`` and ``.adstock`` from ``response.SOURCE.*``, their source counting months
          (``n=15 months``); a number the fit held fixed (``Fits.fixed``) is written with its
          value alone, grade ``assumption``. The spend itself is ``Fits.spend_by_month``.

        The weekday, hour and month shapes (``Fits.profiles``, :meth:`Profile.plain`) and the
        decay table (:meth:`Decay.points`) are lists and maps of plain numbers, which take no
        range. MQL -> SQL and attempts are the product of several scenario numbers (scoring,
        acceptance, attempts, qualification), not one: they are for the back-test.
        """
        out: dict[str, dict[str, object]] = {}
        for name, f in self.fits.items():
            parts = name.split(".")
            if parts[0] == "arrivals_per_week" and len(parts) == 2:
                if self.kinds.get(parts[1]) == "outbound":
                    per_month = 365.25 / 12 / 7  # weeks in a month
                    out[f"sources.{parts[1]}.contacts_per_month"] = self._number(
                        f,
                        round(f.estimate * per_month),
                        math.floor(f.ci_low * per_month),
                        math.ceil(f.ci_high * per_month),
                    )
                else:
                    out[f"sources.{parts[1]}.arrivals.rate"] = self._number(
                        f, _rate(f.estimate), _rate(f.ci_low), _rate(f.ci_high)
                    )
            elif len(parts) == 3 and parts[1] == "segment" and parts[2] in SEGMENTS:
                seg = parts[2]
                if parts[0] == "deal_size_mean":
                    out[f"segments.{seg}.deal_size.mean"] = self._plain(f)
                elif parts[0] == "deal_size_sd":
                    out[f"segments.{seg}.deal_size.sd"] = self._plain(f)
                elif parts[0] == "rate_opportunity_to_won":
                    out[f"segments.{seg}.win_rate"] = self._plain(f)
                elif parts[0] == "days_opportunity_to_close_mean":
                    out[f"segments.{seg}.cycle"] = self._number(
                        f, _days(f.estimate), _days(f.ci_low), _days(f.ci_high)
                    )
            elif name == "rate_sql_to_opportunity":
                out["teams.ae.acceptance.probability"] = self._plain(f)
            elif parts[0] == "response" and len(parts) == 3:
                out[f"sources.{parts[1]}.response.{parts[2]}"] = self._curve_number(parts[2], f)
        for name, value in self.fixed.items():
            parts = name.split(".")
            if parts[0] == "response" and len(parts) == 3:
                why = self.skipped.get(name, "held fixed")
                out[f"sources.{parts[1]}.response.{parts[2]}"] = {
                    "value": value, "source": f"{self.label}: {why}", "grade": "assumption",
                }  # fmt: skip
        return out

    def _plain(self, f: Fit) -> dict[str, object]:
        return self._number(f, _round(f.estimate), _round(f.ci_low), _round(f.ci_high))

    def _curve_number(self, parameter: str, f: Fit) -> dict[str, object]:
        """A spend -> leads curve's number: money in whole units, the carry-over's high end
        kept below 1 (as the scenario requires), n counted in months."""
        ends = (f.estimate, f.ci_low, f.ci_high)
        whole = parameter == "half_saturation"
        rounded: list[float] = [round(x) if whole else _round(x) for x in ends]
        value, low, high = rounded
        if parameter == "adstock":
            high = min(high, ADSTOCK_CEILING)
        return self._number(f, value, low, high, counted=" months")

    def _number(
        self, f: Fit, value: object, low: object, high: object, counted: str = ""
    ) -> dict[str, object]:
        return {
            "value": value,
            "low": low,
            "high": high,
            "source": f"{self.label} n={f.n}{counted}: {f.note}",
            "grade": GRADE,
        }


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def _rate(per_week: float) -> str:
    return f"{_round(per_week):g}/w"


def _days(days: float) -> str:
    return f"{_round(days):g}d"


# -- intervals ---------------------------------------------------------------------------------
def _z(level: float) -> float:
    return float(ndtri(0.5 + level / 2))


def wilson(successes: int, n: int, level: float) -> tuple[float, float]:
    """Wilson's (1927) score interval for a proportion: good coverage down to small n, never
    outside [0, 1] (Brown, Cai and DasGupta 2001)."""
    if n == 0:
        return math.nan, math.nan
    z, p = _z(level), successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def garwood(count: int, level: float) -> tuple[float, float]:
    """The exact interval of a Poisson mean from one count (Garwood 1936), via the gamma
    quantiles that equal its chi-square form."""
    alpha = 1 - level
    low = 0.0 if count == 0 else float(gammaincinv(count, alpha / 2))
    return low, float(gammaincinv(count + 1, 1 - alpha / 2))


def proportion(successes: int, n: int, level: float, note: str) -> Fit:
    low, high = wilson(successes, n, level)
    return Fit(successes / n, low, high, n, "share", note)


# -- survival ----------------------------------------------------------------------------------
def kaplan_meier_median(durations: FloatArray, observed: BoolArray, level: float) -> Fit:
    """The Kaplan-Meier median (the first time the survival curve is at or below 1/2) and the
    Brookmeyer-Crowley interval: the times where the pointwise log(-log) band (Greenwood's
    variance, Kalbfleisch and Prentice 1980) crosses 1/2. An end never reached is ``inf``."""
    times, deaths_int = np.unique(durations[observed], return_counts=True)
    n = len(durations)
    at_risk = n - np.searchsorted(np.sort(durations), times, side="left").astype(float)
    deaths = deaths_int.astype(float)
    survival = np.cumprod(1 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(deaths / (at_risk * (at_risk - deaths)))
        log_s = np.log(survival)
        se = np.sqrt(greenwood) / np.abs(log_s)  # of log(-log S)
        z = _z(level)
        lower = np.exp(-np.exp(np.log(-log_s) + z * se))
        upper = np.exp(-np.exp(np.log(-log_s) - z * se))
    lower = np.where(survival <= 0, 0.0, lower)  # the curve reached 0: the band ends there
    upper = np.where(survival <= 0, 0.0, upper)

    def first_at_half(curve: FloatArray) -> float:
        below = np.nonzero(curve <= 0.5)[0]
        return float(times[below[0]]) if len(below) else math.inf

    return Fit(
        first_at_half(survival),
        first_at_half(lower),
        first_at_half(upper),
        n,
        "days",
        "Kaplan-Meier median, censored at export",
    )


LogLik = Callable[[FloatArray], float]


def _weibull_loglik(t: FloatArray, event: BoolArray) -> LogLik:
    log_t = np.log(t)

    def loglik(theta: FloatArray) -> float:
        log_scale, log_shape = theta
        shape = float(np.exp(log_shape))
        x = (log_t - log_scale) * shape
        log_h = log_shape - log_scale + (shape - 1) * (log_t - log_scale)
        return float(np.sum(np.where(event, log_h, 0.0)) - np.sum(np.exp(x)))

    return loglik


def _lognormal_loglik(t: FloatArray, event: BoolArray) -> LogLik:
    log_t = np.log(t)

    def loglik(theta: FloatArray) -> float:
        mu, log_sigma = theta
        z = (log_t - mu) / float(np.exp(log_sigma))
        log_f = -log_t - log_sigma - 0.5 * math.log(2 * math.pi) - z * z / 2
        return float(np.sum(np.where(event, log_f, log_ndtr(-z))))

    return loglik


def _hessian(f: LogLik, theta: FloatArray, step: float = 1e-4) -> FloatArray:
    """The Hessian of ``f`` at ``theta`` by central differences."""
    k = len(theta)
    h = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * step, np.eye(k)[j] * step
            h[i, j] = (
                f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)
            ) / (4 * step * step)
    return h


def _mle(loglik: LogLik, start: FloatArray) -> tuple[FloatArray, FloatArray, float]:
    """Maximum likelihood: the parameters, their covariance (inverse observed information)
    and the maximised log-likelihood."""

    def objective(theta: FloatArray) -> float:
        # far from the optimum the terms overflow: such a point is simply infinitely unlikely
        with np.errstate(over="ignore", invalid="ignore"):
            value = -loglik(theta)
        return value if math.isfinite(value) else math.inf

    # Nelder-Mead: two parameters, and no gradient to break on the overflowing edges
    result = minimize(objective, start, method="Nelder-Mead",
                      options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})  # fmt: skip
    theta = np.asarray(result.x, dtype=np.float64)
    info = -_hessian(loglik, theta)
    try:
        cov = np.asarray(np.linalg.inv(info), dtype=np.float64)
    except np.linalg.LinAlgError:
        cov = np.full((len(theta), len(theta)), math.nan)
    return theta, cov, loglik(theta)


def _log_wald(
    g: Callable[[FloatArray], float], theta: FloatArray, cov: FloatArray, z: float
) -> tuple[float, float, float]:
    """A positive function of the parameters with a delta-method interval on its log."""
    value = g(theta)
    grad = np.zeros(len(theta))
    for i in range(len(theta)):
        e = np.eye(len(theta))[i] * 1e-5
        grad[i] = (math.log(g(theta + e)) - math.log(g(theta - e))) / 2e-5
    se = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    return value, value * math.exp(-z * se), value * math.exp(z * se)


def duration(durations: FloatArray, observed: BoolArray, level: float, note: str) -> Duration:
    """Kaplan-Meier median and the better (AIC) of a Weibull and a log-normal ML fit, right-
    censored observations entering through their survival terms."""
    median = kaplan_meier_median(durations, observed, level)
    t = np.maximum(durations, MIN_DURATION_DAYS)
    z, n, events = _z(level), len(t), int(observed.sum())
    median = Fit(median.estimate, median.ci_low, median.ci_high, n, "days",
                 f"{note}; {median.note}")  # fmt: skip
    if len(np.unique(t[observed])) < MIN_DISTINCT_EVENTS:
        # a likelihood over a handful of equal times has no maximum (the shape runs off)
        return Duration(median, "", {}, None, {}, n, events)
    log_mid = float(np.log(np.median(t[observed]) if events else np.median(t)))
    start = np.array([log_mid, 0.0])
    fitted = {
        "weibull": _mle(_weibull_loglik(t, observed), start),
        "lognormal": _mle(_lognormal_loglik(t, observed), start),
    }
    aic = {family: 2 * 2 - 2 * loglik for family, (_, _, loglik) in fitted.items()}
    family = min(aic, key=lambda k: aic[k])
    theta, cov, _ = fitted[family]
    what = f"{family} ML fit, censored at export"
    params: dict[str, Fit] = {}
    ses = np.sqrt(np.maximum(np.diag(cov), 0.0))
    if family == "weibull":
        for i, name in enumerate(("scale", "shape")):
            est = math.exp(theta[i])
            unit = "days" if name == "scale" else ""
            lo, hi = est * math.exp(-z * ses[i]), est * math.exp(z * ses[i])
            params[name] = Fit(est, lo, hi, n, unit, what)

        def mean_of(th: FloatArray) -> float:
            return math.exp(th[0]) * float(gamma(1 + 1 / math.exp(th[1])))
    else:
        params["mu"] = Fit(theta[0], theta[0] - z * ses[0], theta[0] + z * ses[0], n, "", what)
        sigma = math.exp(theta[1])
        params["sigma"] = Fit(sigma, sigma * math.exp(-z * ses[1]), sigma * math.exp(z * ses[1]),
                              n, "", what)  # fmt: skip

        def mean_of(th: FloatArray) -> float:
            return math.exp(th[0] + math.exp(th[1]) ** 2 / 2)

    mean, lo, hi = _log_wald(mean_of, theta, cov, z)
    return Duration(
        median=median,
        family=family,
        params=params,
        mean=Fit(mean, lo, hi, n, "days", f"{note}; mean of the {what}"),
        aic=aic,
        n=n,
        events=events,
    )


# -- isotonic regression -----------------------------------------------------------------------
def pava_decreasing(values: FloatArray, weights: FloatArray) -> FloatArray:
    """The weighted least-squares non-increasing fit to ``values`` (pool adjacent violators:
    merge neighbouring blocks while a later block's mean exceeds an earlier one's)."""
    means: list[float] = []
    sizes: list[float] = []
    counts: list[int] = []
    for v, w in zip(values, weights, strict=True):
        means.append(float(v))
        sizes.append(float(w))
        counts.append(1)
        while len(means) > 1 and means[-1] > means[-2]:
            w_new = sizes[-1] + sizes[-2]
            m_new = (means[-1] * sizes[-1] + means[-2] * sizes[-2]) / w_new
            c_new = counts[-1] + counts[-2]
            del means[-1], sizes[-1], counts[-1]
            means[-1], sizes[-1], counts[-1] = m_new, w_new, c_new
    return np.repeat(np.array(means), counts)


# -- the fits ----------------------------------------------------------------------------------
def _days_between(later: pd.Series | pd.Timestamp, earlier: pd.Series) -> FloatArray:
    """Days from ``earlier`` to ``later`` (NaN where either is NaT)."""
    return np.asarray((later - earlier).dt.total_seconds() / 86400, dtype=np.float64)


def _maturity_window(lags_days: FloatArray, quantile: float) -> float:
    """The lag by which ``quantile`` of the observed conversions had happened (0 without any)."""
    return float(np.quantile(lags_days, quantile)) if len(lags_days) else 0.0


def _groups(leads: pd.DataFrame) -> dict[str, pd.Series]:
    """Name suffix -> lead mask: overall, each source, size band and industry."""
    out: dict[str, pd.Series] = {"": pd.Series(True, index=leads.index)}
    sources = leads["source"].astype(str).map(slug)
    for name in sorted(sources.unique()):
        out[f".{name}"] = sources == name
    for name in sorted(leads["segment"].astype(str).unique()):
        out[f".segment.{name}"] = leads["segment"].astype(str) == name
    industries = leads["industry"].map(lambda v: slug(str(v)) if isinstance(v, str) else "")
    for name in sorted(set(industries) - {""}):
        out[f".industry.{name}"] = industries == name
    return out


def fit(
    export: Export, *, level: float = 0.95, seed: int = 0, bootstrap: int = DECAY_BOOTSTRAP
) -> Fits:
    """Every fit the export supports (see the module); what it cannot support, in ``skipped``.

    ``seed`` seeds the decay curve's bootstrap (``bootstrap`` resamples), so a calibration
    repeats exactly.
    """
    leads = export.leads.reset_index(drop=True)
    deals = export.deals.reset_index(drop=True)
    at = pd.Timestamp(export.exported_at)
    files = [Path(p).name for p in export.source_files.values()]
    out = Fits(label=" + ".join(files) or "CRM export", level=level)
    for source, kind in zip(leads["source"].astype(str), leads["kind"].astype(str), strict=True):
        out.kinds.setdefault(slug(source), kind)
    if leads.empty:
        out.skipped["*"] = "the export has no leads"
        return out
    _arrivals(leads, at, level, out)
    if export.spend is not None:
        _responses(leads, export.spend, at, level, out)
    _conversions(leads, deals, at, level, out)
    _durations(leads, deals, at, level, out)
    _decay(leads, at, level, seed, bootstrap, out)
    _attempts(leads, level, out)
    _deal_sizes(leads, deals, level, out)
    return out


def _arrivals(leads: pd.DataFrame, at: pd.Timestamp, level: float, out: Fits) -> None:
    start = leads["created"].min()
    span_days = (at - start) / DAY
    if not span_days > 0:
        out.skipped["arrivals_per_week"] = "the export spans no time (all leads at export date)"
        return
    weeks = span_days / 7
    sources = leads["source"].astype(str).map(slug)
    # exposure of each category over the span, in days (whole calendar days: plenty over weeks)
    days = pd.date_range(start.normalize(), at.normalize(), freq="D")
    day_weekday = np.bincount(days.day_of_week, minlength=7).astype(float)
    day_month = np.bincount(days.month - 1, minlength=12).astype(float)
    for name in sorted(sources.unique()):
        created = leads.loc[sources == name, "created"]
        count = len(created)
        low, high = garwood(count, level)
        out.fits[f"arrivals_per_week.{name}"] = Fit(
            count / weeks, low / weeks, high / weeks, count, "per week",
            "Poisson count over the export's span, Garwood interval",
        )  # fmt: skip
        weekday = np.bincount(created.dt.day_of_week, minlength=7)
        out.profiles[f"weekdays.{name}"] = _weights(weekday, day_weekday, WEEKDAYS, level)
        hour = np.bincount(created.dt.hour, minlength=24)
        labels = tuple(f"{h:02d}" for h in range(24))
        out.profiles[f"hours.{name}"] = _weights(hour, np.ones(24), labels, level)
        if span_days >= 365:
            month = np.bincount(created.dt.month - 1, minlength=12)
            out.profiles[f"months.{name}"] = _weights(month, day_month, MONTHS, level)
        else:
            out.skipped[f"months.{name}"] = (
                f"the export covers {span_days:.0f} days: seasonality needs 12 months"
            )


def _weights(
    counts: npt.NDArray[np.int64], exposure: FloatArray, labels: tuple[str, ...], level: float
) -> Profile:
    """Relative intensities: each category's share of the leads (Wilson interval, conditional
    on the total) over its share of the time, so that their time-weighted mean is 1 (the plain
    mean, where every category had the same time, as weekdays over whole weeks do)."""
    total, exposed = int(counts.sum()), exposure / exposure.sum()
    values: dict[str, Fit] = {}
    for label, c, e in zip(labels, counts, exposed, strict=True):
        if e <= 0:
            continue  # a category the span never held (a month of a short export)
        low, high = wilson(int(c), total, level)
        note = "share of arrivals over share of time, Wilson interval"
        values[label] = Fit(c / total / e, low / e, high / e, total, "weight", note)
    return Profile("weight", values)


def _conversion(
    name: str,
    entered: pd.Series,
    converted_at: pd.Series,
    groups: Mapping[str, pd.Series],
    at: pd.Timestamp,
    level: float,
    out: Fits,
) -> None:
    """A stage's conversion rate per group, young records left out (see the module)."""
    reached = entered.notna()
    lags = _days_between(converted_at[reached & converted_at.notna()], entered[reached])
    window = _maturity_window(lags[lags >= 0], MATURITY_QUANTILE)
    mature = reached & (_days_between(at, entered) >= window)
    note = f"Wilson, records younger than {window:.1f} days left out"
    for suffix, mask in groups.items():
        denominator = mature & mask
        n = int(denominator.sum())
        if n == 0:
            why = "no records reached the stage" if not (reached & mask).any() else (
                f"no record is older than the {window:.1f}-day maturity window")  # fmt: skip
            out.skipped[name + suffix] = why
            continue
        k = int((denominator & converted_at.notna()).sum())
        out.fits[name + suffix] = proportion(k, n, level, note)


def _conversions(
    leads: pd.DataFrame, deals: pd.DataFrame, at: pd.Timestamp, level: float, out: Fits
) -> None:
    groups = _groups(leads)
    stages = (
        ("rate_lead_to_mql", "created", "mql_at", "the export has no MQL dates"),
        ("rate_mql_to_sql", "mql_at", "sql_at", "the export has no MQL or no SQL dates"),
    )
    for name, earlier, later, why in stages:
        if leads[earlier].isna().all() or leads[later].isna().all():
            out.skipped[name] = why
            continue
        _conversion(name, leads[earlier], leads[later], groups, at, level, out)
    if deals.empty:
        out.skipped["rate_sql_to_opportunity"] = "the export has no deals"
        out.skipped["rate_opportunity_to_won"] = "the export has no deals"
        return
    first_deal = deals.groupby("lead_id")["created"].min()
    opportunity_at = leads["id"].map(first_deal)
    if leads["sql_at"].isna().all():
        out.skipped["rate_sql_to_opportunity"] = "the export has no SQL dates"
    else:
        _conversion("rate_sql_to_opportunity", leads["sql_at"], opportunity_at, groups, at,
                    level, out)  # fmt: skip
    # deals take their lead's groups; a deal whose lead is unknown counts only overall
    deal_groups = {
        suffix: deals["lead_id"]
        .map(pd.Series(mask.to_numpy(), index=leads["id"]))
        .fillna(suffix == "")
        .astype(bool)
        for suffix, mask in groups.items()
    }
    won_at = deals["closed"].where(deals["outcome"] == "won")
    _conversion("rate_opportunity_to_won", deals["created"], won_at, deal_groups, at, level, out)


def _durations(
    leads: pd.DataFrame, deals: pd.DataFrame, at: pd.Timestamp, level: float, out: Fits
) -> None:
    if deals.empty:
        out.skipped["days_opportunity_to_close_median"] = "the export has no deals"
    else:
        closed = deals["closed"].notna().to_numpy()
        span = _days_between(deals["closed"].fillna(at), deals["created"])
        segment = deals["lead_id"].map(pd.Series(leads["segment"].to_numpy(), index=leads["id"]))
        masks = {"": np.ones(len(deals), dtype=bool)}
        masks |= {f".segment.{s}": (segment == s).to_numpy() for s in SEGMENTS}
        for suffix, mask in masks.items():
            if not (mask & closed).any():
                out.skipped[f"days_opportunity_to_close_median{suffix}"] = "no deal has closed"
                continue
            d = duration(span[mask], closed[mask], level, "deal created to closed")
            _record("days_opportunity_to_close" + suffix, d, out)
    lags = (
        ("days_mql_to_sql", "mql_at", "sql_at", "MQL to SQL"),
        ("days_created_to_first_touch", "created", "first_touch_at", "created to first touch"),
    )
    for name, earlier, later, what in lags:
        both = leads[earlier].notna() & leads[later].notna()
        if not both.any():
            out.skipped[f"{name}_median"] = f"no lead has both dates ({earlier}, {later})"
            continue
        lag = _days_between(leads.loc[both, later], leads.loc[both, earlier])
        window = _maturity_window(lag[lag >= 0], LAG_QUANTILE)
        old = (_days_between(at, leads.loc[both, earlier]) >= window) & (lag >= 0)
        if not old.any():
            out.skipped[f"{name}_median"] = f"no record is older than the {window:.1f}-day lag"
            continue
        note = f"{what} of converted records older than {window:.1f} days"
        _record(name, duration(lag[old], np.ones(int(old.sum()), dtype=bool), level, note), out)


def _record(name: str, d: Duration, out: Fits) -> None:
    key = name.removeprefix("days_")
    base, _, suffix = name.partition(".")
    suffix = f".{suffix}" if suffix else ""
    out.durations[key] = d
    out.fits[f"{base}_median{suffix}"] = d.median
    if d.mean is None:
        out.skipped[f"{base}_mean{suffix}"] = (
            f"fewer than {MIN_DISTINCT_EVENTS} distinct times: no parametric fit"
        )
    else:
        out.fits[f"{base}_mean{suffix}"] = d.mean
    for param, f in d.params.items():
        out.fits[f"{base}.{d.family}_{param}{suffix}"] = f


def _decay_curve(
    bins: npt.NDArray[np.int64], sql: BoolArray, hours: FloatArray
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """The isotonic conversion per non-empty bin: (mean wait, rate, leads)."""
    k = len(DECAY_EDGES_H) - 1
    n = np.bincount(bins, minlength=k)
    keep = n > 0
    rate = np.bincount(bins, weights=sql.astype(float), minlength=k)[keep] / n[keep]
    mean_h = np.bincount(bins, weights=hours, minlength=k)[keep] / n[keep]
    return mean_h, pava_decreasing(rate, n[keep].astype(float)), n[keep]


def _decay(
    leads: pd.DataFrame, at: pd.Timestamp, level: float, seed: int, bootstrap: int, out: Fits
) -> None:
    names = ("decay_at_1h", "decay_at_24h")
    if leads["first_touch_at"].isna().all() or leads["sql_at"].isna().all():
        for name in names:
            out.skipped[name] = "the export has no first-touch or no SQL dates"
        return
    touched = leads[leads["first_touch_at"].notna()]
    began = touched["mql_at"].fillna(touched["created"])
    wait_h = _days_between(touched["first_touch_at"], began) * 24
    to_sql = _days_between(touched["sql_at"], touched["first_touch_at"])
    window = _maturity_window(to_sql[np.isfinite(to_sql) & (to_sql >= 0)], MATURITY_QUANTILE)
    keep = (wait_h >= 0) & (_days_between(at, touched["first_touch_at"]) >= window)
    hours, sql = wait_h[keep], touched["sql_at"].notna().to_numpy()[keep]
    bins = np.digitize(hours, DECAY_EDGES_H[1:-1], right=False)
    if (bins == 0).sum() < 10 or not sql[bins == 0].any():
        for name in names:
            out.skipped[name] = "fewer than 10 leads touched within 5 minutes, or none converted"
        return
    mean_h, rate, n = _decay_curve(bins, sql, hours)
    out.decay = Decay(tuple(mean_h), tuple(rate / rate[0]), tuple(int(x) for x in n))
    rng = np.random.default_rng(seed)
    draws = np.full((bootstrap, 2), math.nan)
    for b in range(bootstrap):
        pick = rng.integers(0, len(hours), len(hours))
        if not sql[pick][bins[pick] == 0].any():
            continue  # no immediate conversion in this resample: nothing to normalise by
        h, r, _ = _decay_curve(bins[pick], sql[pick], hours[pick])
        draws[b] = np.interp([1.0, 24.0], h, r / r[0])
    alpha = 1 - level
    for i, (name, t) in enumerate(zip(names, (1.0, 24.0), strict=True)):
        low, high = np.nanquantile(draws[:, i], [alpha / 2, 1 - alpha / 2])
        note = f"isotonic (PAVA) conversion by wait, bootstrap x{bootstrap}"
        out.fits[name] = Fit(out.decay.at(t), float(low), float(high), len(hours), "x", note)


def _attempts(leads: pd.DataFrame, level: float, out: Fits) -> None:
    touched = leads["first_touch_at"].notna() & leads["activities"].notna()
    values = leads.loc[touched, "activities"].to_numpy(dtype=float)
    if len(values) < 2:
        out.skipped["attempts_mean"] = "fewer than two touched leads with an activity count"
        return
    s = summarise(values, level)
    out.fits["attempts_mean"] = Fit(
        s.mean,
        s.ci_low,
        s.ci_high,
        s.n,
        "activities",
        "mean of sales activities per touched lead, t interval",
    )
    counts = pd.Series(values.astype(int)).value_counts().sort_index()
    out.profiles["attempts"] = Profile("share", {
        str(k): proportion(int(c), len(values), level, "share of touched leads, Wilson")
        for k, c in counts.items()
    })  # fmt: skip
    # per source and per kind: an outbound sequence makes many more touches than an inbound
    # follow-up, so the overall mean mixes two cadences in the export's proportions
    sources = leads.loc[touched, "source"].astype(str).map(slug).to_numpy()
    kinds = leads.loc[touched, "kind"].astype(str).to_numpy()
    groups = {f".{name}": sources == name for name in sorted(set(sources))}
    groups |= {f".kind.{kind}": kinds == kind for kind in sorted(set(kinds))}
    for suffix, mask in groups.items():
        if mask.sum() >= 2:
            s = summarise(values[mask], level)
            note = "mean of sales activities per touched lead, t interval"
            out.fits[f"attempts_mean{suffix}"] = Fit(
                s.mean, s.ci_low, s.ci_high, s.n, "activities", note
            )


def _deal_sizes(leads: pd.DataFrame, deals: pd.DataFrame, level: float, out: Fits) -> None:
    if deals.empty:
        out.skipped["deal_size_mean"] = "the export has no deals"
        return
    won = deals[(deals["outcome"] == "won") & deals["amount"].notna()]
    if won.empty:
        out.skipped["deal_size_mean"] = "no won deal with an amount"
        return
    segment = won["lead_id"].map(pd.Series(leads["segment"].to_numpy(), index=leads["id"]))
    masks = {"": np.ones(len(won), dtype=bool)}
    masks |= {f".segment.{s}": (segment == s).to_numpy() for s in SEGMENTS}
    alpha = 1 - level
    for suffix, mask in masks.items():
        amounts = won["amount"].to_numpy(dtype=float)[mask]
        if len(amounts) < 2:
            out.skipped[f"deal_size_mean{suffix}"] = f"{len(amounts)} won deal(s): need two"
            continue
        s = summarise(amounts, level)
        out.fits[f"deal_size_mean{suffix}"] = Fit(s.mean, s.ci_low, s.ci_high, s.n, "money",
                                                  "mean of won amounts, t interval")  # fmt: skip
        df, sd = len(amounts) - 1, float(amounts.std(ddof=1))
        low = sd * math.sqrt(df / float(chdtri(df, alpha / 2)))
        high = sd * math.sqrt(df / float(chdtri(df, 1 - alpha / 2)))
        out.fits[f"deal_size_sd{suffix}"] = Fit(
            sd, low, high, len(amounts), "money", "sd of won amounts, chi-square interval"
        )


# -- spend -> leads ----------------------------------------------------------------------------
def export_months(start: pd.Timestamp, at: pd.Timestamp) -> pd.DatetimeIndex:
    """The first days of the calendar months from ``start``'s to the last one before ``at``
    (a month that begins at ``at`` holds nothing of the export)."""
    months = pd.date_range(start.to_period("M").to_timestamp(), at, freq="MS")
    return months[months < at]


def covered_share(
    months: pd.DatetimeIndex,
    start: pd.Timestamp,
    at: pd.Timestamp,
    weekdays: Sequence[float] = (1.0,) * 7,
    hours: Sequence[float] = (1.0,) * 24,
) -> FloatArray:
    """The share of each month's arrivals the period ``[start, at)`` holds: the month's hours
    weighed by the weekday and hour-of-day shape, as the simulation spreads a month's leads
    over it (1 for a month wholly inside; a first month the export starts into, a last one
    ``exported_at`` cuts, get their part)."""
    day_weight, hour_weight = np.asarray(weekdays, float), np.asarray(hours, float)
    shares = []
    for first in months:
        clock = pd.date_range(first, first + pd.offsets.MonthBegin(1), freq="h", inclusive="left")
        weight = day_weight[clock.day_of_week] * hour_weight[clock.hour]
        if not weight.sum() > 0:
            weight = np.ones(len(clock))
        t = np.arange(len(clock), dtype=float)  # hours from the 1st
        begin, end = (start - first) / HOUR, (at - first) / HOUR
        inside = np.clip(np.minimum(t + 1, end) - np.maximum(t, begin), 0.0, 1.0)
        shares.append(float(weight @ inside / weight.sum()))
    return np.array(shares)


def carried(spend: FloatArray, adstock: float) -> FloatArray:
    """Geometric adstock from nothing before the first month: ``a_t = x_t + adstock a_{t-1}``
    (:func:`funnelsim.curves.carry_over`, on arrays)."""
    return np.array(carry_over(spend.tolist(), adstock, 0.0), dtype=np.float64)


def _log_means(
    spend: FloatArray, share: FloatArray, beta: float, k: float, s: float, adstock: float
) -> FloatArray:
    """The logarithm of :func:`response_means` (-inf where the adstock is 0)."""
    with np.errstate(divide="ignore"):
        log_hill = log_expit(s * (np.log(carried(spend, adstock)) - math.log(k)))
        return np.asarray(np.log(share) + math.log(beta) + log_hill, dtype=np.float64)


def response_means(
    spend: FloatArray,
    share: FloatArray,
    leads_at_saturation: float,
    half_saturation: float,
    shape: float,
    adstock: float,
) -> FloatArray:
    """Expected leads in each month: ``share_t * beta * hill(a_t; half_saturation, shape)``
    with ``a_t`` the adstocked spend (:func:`carried`) and ``hill(a) = a^s / (a^s + k^s)``,
    the curve a scenario's ``response`` section gives the simulation
    (:meth:`funnelsim.curves.SpendResponse.leads`), times the share of the month covered."""
    return np.exp(_log_means(spend, share, leads_at_saturation, half_saturation, shape, adstock))


@dataclass(frozen=True)
class ResponseFit:
    """A channel's fitted curve: each fitted number (``RESPONSE_PARAMETERS``) and the numbers
    held fixed, with why; ``n`` months."""

    fits: dict[str, Fit]
    fixed: dict[str, tuple[float, str]]  # parameter -> (value, why)
    n: int
    loglik: float

    def value(self, parameter: str) -> float:
        if parameter in self.fits:
            return self.fits[parameter].estimate
        return self.fixed[parameter][0]

    def means(self, spend: FloatArray, share: FloatArray) -> FloatArray:
        """The fitted curve's expected leads per month (:func:`response_means`)."""
        return response_means(spend, share, *(self.value(p) for p in RESPONSE_PARAMETERS))


def _natural(
    theta: FloatArray, free: Sequence[str], fixed: Mapping[str, float]
) -> dict[str, float]:
    """The curve's numbers from the transformed free ones (log; logit for the carry-over,
    which keeps it in (0, 1)) and the fixed ones."""
    values = dict(fixed)
    with np.errstate(over="ignore"):  # far from the peak: an infinitely unlikely point
        for name, t in zip(free, theta, strict=True):
            values[name] = float(expit(t)) if name == "adstock" else float(np.exp(t))
    return values


def _response_loglik(
    spend: FloatArray, leads: FloatArray, share: FloatArray, free: Sequence[str],
    fixed: Mapping[str, float],
) -> LogLik:  # fmt: skip
    """The Poisson log-likelihood of the monthly counts (without the constant log y!)."""

    def loglik(theta: FloatArray) -> float:
        p = _natural(theta, free, fixed)
        with np.errstate(over="ignore", invalid="ignore"):
            log_mu = _log_means(spend, share, p["leads_at_saturation"], p["half_saturation"],
                                p["shape"], p["adstock"])  # fmt: skip
            terms = np.where(leads > 0, leads * log_mu, 0.0)
            return float(np.sum(terms) - np.sum(np.exp(log_mu)))

    return loglik


def _profile_loglik(
    spend: FloatArray, leads: FloatArray, share: FloatArray, free: Sequence[str],
    fixed: Mapping[str, float],
) -> LogLik:  # fmt: skip
    """The log-likelihood with the ceiling at its best for the other numbers: the means are
    proportional to it, so it is the leads over the curve's sum, ``sum y / sum(share hill)``."""
    total = float(leads.sum())

    def loglik(theta: FloatArray) -> float:
        p = _natural(theta, free, {**fixed, "leads_at_saturation": 1.0})
        with np.errstate(over="ignore", invalid="ignore"):
            log_h = _log_means(spend, share, 1.0, p["half_saturation"], p["shape"], p["adstock"])
            scale = float(np.sum(np.exp(log_h)))
            if not scale > 0:
                return -math.inf
            terms = np.where(leads > 0, leads * log_h, 0.0)
            return float(np.sum(terms) + total * math.log(total / scale) - total)

    return loglik


def _best_start(
    spend: FloatArray, profile: LogLik, rest: Sequence[str], fixed: Mapping[str, float]
) -> FloatArray:
    """The best point of a small grid, a start the optimiser cannot miss the peak from:
    carry-overs 0.1-0.7, half-saturations a quarter to 4 times the median adstock, shapes
    0.7-2.5."""
    adstocks = (0.1, 0.3, 0.5, 0.7) if "adstock" in rest else (fixed["adstock"],)
    shapes = (0.7, 1.0, 1.5, 2.5) if "shape" in rest else (fixed["shape"],)
    best, start = -math.inf, np.zeros(len(rest))
    for adstock in adstocks:
        adstocked = carried(spend, adstock)
        middle = float(np.median(adstocked[adstocked > 0]))  # the first month has spend
        for k in (middle * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)):
            for shape in shapes:
                natural = {
                    "half_saturation": math.log(k),
                    "shape": math.log(shape),
                    "adstock": float(logit(adstock)) if adstock > 0 else -math.inf,
                }
                theta = np.array([natural[name] for name in rest])
                value = profile(theta)
                if value > best:
                    best, start = value, theta
    return start


def fit_response(
    spend: FloatArray,
    leads: FloatArray,
    share: FloatArray | None = None,
    *,
    free_shape: bool = True,
    level: float = 0.95,
) -> ResponseFit | str:
    """The spend -> leads curve of one channel from its months (see the module): the Poisson
    maximum-likelihood fit of ``leads`` (counts per month) on ``spend`` (per month, adstock
    from 0 at the first), each month's expectation scaled by ``share`` (default 1). Returns
    the fit, or why the months cannot tell the curve (a string: never an exception).

    The ceiling is profiled out for a start (grid, then Nelder-Mead), then every free number is
    fitted together on its transformed scale (log; logit for the carry-over) and the Wald
    intervals come from the observed information there. A carry-over fitted at its bound is
    held at 0 and the rest fitted again; a fit some number of which the data do not tell
    (``MAX_RESPONSE_SE``) is tried again with the shape held at 1, else given up.
    """
    x = np.asarray(spend, dtype=float)
    y = np.asarray(leads, dtype=float)
    w = np.ones(len(x)) if share is None else np.asarray(share, dtype=float)
    if not y.sum() > 0:
        return "no leads in the months with spend"
    why = ""
    for shape_free in (True, False) if free_shape else (False,):
        fixed = {} if shape_free else {"shape": 1.0}
        # impossible points (a month with leads the curve gives none) are infinitely unlikely
        # and the checks below judge what they leave: numpy need not warn of them
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            found = _fit_once(x, y, w, fixed, level)
        if isinstance(found, ResponseFit):
            if not shape_free and free_shape:
                held = f"held at 1: with the shape free, {why}"
                return ResponseFit(found.fits, {**found.fixed, "shape": (1.0, held)}, found.n,
                                   found.loglik)  # fmt: skip
            return found
        why = found
    return why


def _fit_once(
    x: FloatArray, y: FloatArray, w: FloatArray, fixed: Mapping[str, float], level: float
) -> ResponseFit | str:
    rest = [p for p in RESPONSE_PARAMETERS[1:] if p not in fixed]
    profile = _profile_loglik(x, y, w, rest, fixed)
    start = _best_start(x, profile, rest, fixed)

    def objective(theta: FloatArray) -> float:
        value = -profile(theta)
        return value if math.isfinite(value) else math.inf  # an impossible point

    found = minimize(objective, start, method="Nelder-Mead",
                     options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000})  # fmt: skip
    rest_theta = np.asarray(found.x, dtype=np.float64)
    p = _natural(rest_theta, rest, {**fixed, "leads_at_saturation": 1.0})
    scale = float(np.exp(_log_means(x, w, 1.0, p["half_saturation"], p["shape"],
                                    p["adstock"])).sum())  # fmt: skip
    if not scale > 0:
        return "the curve gives no leads at this spend"
    free = ["leads_at_saturation", *rest]
    loglik = _response_loglik(x, y, w, free, fixed)
    theta, cov, value = _mle(loglik, np.array([math.log(y.sum() / scale), *rest_theta]))
    if "adstock" in free and float(expit(theta[free.index("adstock")])) < ADSTOCK_FLOOR:
        return _fit_once(x, y, w, {**fixed, "adstock": 0.0}, level)  # at its bound: held at 0
    variances = np.diag(cov)
    if not (np.all(np.isfinite(cov)) and np.all(variances > 0)
            and float(np.linalg.eigvalsh(cov).min()) > 0):  # fmt: skip
        return "the likelihood has no clear peak (the spend does not tell the numbers apart)"
    se = np.sqrt(variances)
    worst = int(np.argmax(se))
    if se[worst] > MAX_RESPONSE_SE:
        return (f"the data do not tell {free[worst]} (standard error {se[worst]:.2g} on its "
                f"{'logit' if free[worst] == 'adstock' else 'log'} scale)")  # fmt: skip
    z = _z(level)
    fits: dict[str, Fit] = {}
    for i, name in enumerate(free):
        low, high = theta[i] - z * se[i], theta[i] + z * se[i]
        scale_name = "logit" if name == "adstock" else "log"
        note = (f"Poisson ML of monthly leads on spend (Hill with adstock), Wald interval on "
                f"the {scale_name} scale")  # fmt: skip
        est, low, high = (_natural(np.array([t]), [name], {})[name] for t in (theta[i], low, high))
        fits[name] = Fit(est, low, high, len(x), RESPONSE_UNITS[name], note)
    held = {name: (v, "held fixed") for name, v in fixed.items()}
    if fixed.get("adstock") == 0.0:
        held["adstock"] = (0.0, "held at 0: the fit puts the carry-over at its bound (none seen)")
    return ResponseFit(fits, held, len(x), value)


def _responses(
    leads: pd.DataFrame, spend: pd.DataFrame, at: pd.Timestamp, level: float, out: Fits
) -> None:
    """Each spend channel that names an inbound source: its months against the source's
    leads (see the module)."""
    start = leads["created"].min().normalize()  # midnight of the first day, as the back-test
    months = export_months(start, at)
    out.spend_from = f"{start:%Y-%m}"
    channels = spend["channel"].astype(str)
    sources = leads["source"].astype(str).map(slug)
    for name in sorted(set(channels.map(slug))):
        written = ", ".join(sorted({c for c in channels if slug(c) == name}))
        key = f"response.{name}"
        kind = out.kinds.get(name)
        if kind is None:
            known = ", ".join(sorted(k for k, v in out.kinds.items() if v == "inbound"))
            out.skipped[key] = (
                f"the spend file's channel {written!r} names no source of the export "
                f"(inbound sources: {known or 'none'})"
            )
            continue
        if kind != "inbound":
            out.skipped[key] = f"{written!r} is an outbound source: spend buys inbound leads"
            continue
        if len(months) == 0:
            out.skipped[key] = "the export covers no month"
            continue
        mine = spend[channels.map(slug) == name].groupby("month")["spend"].sum()
        x = mine.reindex(months, fill_value=0.0).to_numpy(dtype=float)
        out.spend_by_month[name] = tuple(float(v) for v in x)
        created = leads.loc[(sources == name) & (leads["created"] < at), "created"]
        counted = created.dt.to_period("M").value_counts()
        y = counted.reindex(months.to_period("M"), fill_value=0).to_numpy(dtype=float)
        weekdays = out.profiles.get(f"weekdays.{name}")
        hours = out.profiles.get(f"hours.{name}")
        w = covered_share(
            months, start, at,
            [weekdays.values[d].estimate if weekdays and d in weekdays.values else 1.0
             for d in WEEKDAYS],
            [hours.values[f"{h:02d}"].estimate if hours and f"{h:02d}" in hours.values
             else 1.0 for h in range(24)],
        )  # fmt: skip
        _response(name, x, y, w, int((~months.isin(mine.index)).sum()), level, out)


def _response(
    name: str, x: FloatArray, y: FloatArray, w: FloatArray, missing: int, level: float,
    out: Fits,
) -> None:  # fmt: skip
    key = f"response.{name}"
    spent = np.nonzero(x > 0)[0]
    if len(spent) == 0:
        out.skipped[key] = "no spend in the export's months"
        return
    first = int(spent[0])  # before the first spend the adstock is 0: no month to learn from
    x, y, w = x[first:], y[first:], w[first:]
    n = len(x)
    cv = float(np.std(x) / np.mean(x))
    if n < MIN_RESPONSE_MONTHS:
        out.skipped[key] = f"{n} month(s) with spend: a curve needs {MIN_RESPONSE_MONTHS}"
        return
    if cv < MIN_SPEND_CV:
        out.skipped[key] = (f"spend nearly constant (sd/mean {cv:.2f} < {MIN_SPEND_CV}): it "
                            "shows one level of leads, not a curve")  # fmt: skip
        return
    free_shape = n >= MIN_SHAPE_MONTHS and cv >= MIN_SHAPE_CV
    found = fit_response(x, y, w, free_shape=free_shape, level=level)
    if isinstance(found, str):
        out.skipped[key] = found
        return
    extra = []
    if missing:
        extra.append(f"{missing} month(s) without a spend row counted as 0")
    if first:
        extra.append(f"{first} month(s) before the first spend left out")
    for parameter, f in found.fits.items():
        note = "; ".join([f.note, *extra])
        out.fits[f"{key}.{parameter}"] = Fit(f.estimate, f.ci_low, f.ci_high, f.n, f.unit, note)
    for parameter, (value, why) in found.fixed.items():
        if parameter == "shape" and why == "held fixed":
            why = (f"held at 1 (the concave curve): the shape is fitted from "
                   f"{MIN_SHAPE_MONTHS} months of spend varying by {MIN_SHAPE_CV} (sd/mean) or "
                   f"more; here {n} months, {cv:.2f}")  # fmt: skip
        out.fixed[f"{key}.{parameter}"] = value
        out.skipped[f"{key}.{parameter}"] = why
