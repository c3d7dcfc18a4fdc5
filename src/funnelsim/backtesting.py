"""Does the calibrated scenario reproduce the planner's history? The back-test.

A calibration (``funnelsim calibrate``) turns a CRM export into a scenario; a budget review
trusts that scenario only if, replayed over the same months, it gives back what the CRM
recorded. :func:`backtest` runs the scenario over the export's period and puts the data and
every simulated replication through the same measurements:

- **The period.** The measured period starts at midnight of the export's first creation date
  and ends at ``exported_at``; the scenario's ``start`` and ``horizon`` are set to it, and its
  own warm-up runs before, so the simulated funnel is already full when the period opens
  (calendar dates, hirings and seasonality stay where the scenario puts them). A CRM whose
  history starts with the funnel itself (a young company; the bundled example, written from
  its simulation's hour 0) is replayed from empty, ``warmup="0d"``: a warm-up would give the
  replay a head start the history never had (queues already full, the MQL scoring already
  sharpened by sales feedback).
- **Like with like.** Each replication is written as a HubSpot export by
  :func:`funnelsim.crm.export.export` and read back by :func:`funnelsim.crm.read.read_export`,
  so it carries the CRM's rounding to the minute and its lifecycle rules. Both the data and
  the simulated exports are cut to the leads created in the period (the warm-up's leads are
  history the data does not hold) and measured by :func:`funnelsim.crm.fits.fit`, the fits the
  calibration itself used, and by the weekly counts, survival curves and decay curve here.
- **What is compared.** Weekly volumes by stage (``weekly.leads``, ``weekly.mqls``,
  ``weekly.sqls``, ``weekly.opportunities``, ``weekly.won``: events in the period per week; the
  data's interval is Garwood's exact Poisson interval) and the fits: arrivals per week by
  source, the conversion rates (``rate_*``, overall, per source and per size band), the
  Kaplan-Meier medians of time in stage (``days_*_median``), the speed-to-lead decay
  (``decay_at_1h``, ``decay_at_24h``), attempts and deal size. Industries are not compared
  (the model has none), nor the parametric fits' parameters (their family may differ between
  runs).
- **The verdict.** The data is one realisation of the funnel, as each replication is, so the
  data's *estimate* is set against the spread of the replications' estimates. With N
  replications the 2.5-97.5% range of their values (reported as ``p025`` and ``p975``)
  understates that spread: the range of 10 values holds an 11th only 9 times in 11. The
  verdict uses the normal prediction interval for one more replication, ``mean ± t(0.975,
  N-1) · sd · sqrt(1 + 1/N)`` (``low`` and ``high``), which holds it 95% of the time whatever
  N: ``inside`` when the estimate lies in it. A correct scenario leaves about 1 quantity in 20
  outside by chance; a wrong rate or volume leaves its quantities far outside.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import stdtrit

from funnelsim.crm.data import Export
from funnelsim.crm.export import export as export_crm
from funnelsim.crm.fits import Fit, Fits, fit, garwood
from funnelsim.crm.read import read_export
from funnelsim.errors import UsageError
from funnelsim.executors import ExecutorSpec
from funnelsim.experiment import IN_PROCESS, run
from funnelsim.replications import OnChunk, OnTotal
from funnelsim.scenario.load import with_settings
from funnelsim.scenario.schema import Scenario

FloatArray = npt.NDArray[np.float64]

DEFAULT_REPLICATIONS = 10
LEVEL = 0.95
DAY = pd.Timedelta(days=1)
STAGES = ("leads", "mqls", "sqls", "opportunities", "won")  # the weekly volumes, funnel order
# The fits compared: their names start with one of these (and name no industry, no parameter
# of a parametric fit, no lead of unknown size).
COMPARED_FITS = (
    "arrivals_per_week.",
    "rate_",
    "days_opportunity_to_close_median",
    "days_mql_to_sql_median",
    "days_created_to_first_touch_median",
    "decay_at_",
    "attempts_mean",
    "deal_size_mean",
)
LEFT_OUT = (".industry.", ".segment.unknown", ".weibull_", ".lognormal_")
# Time in stage, as survival curves: name -> (earlier, later) of a lead, or the deal's own.
SURVIVAL = ("opportunity_to_close", "mql_to_sql", "created_to_first_touch")
CURVE_POINTS = 60


# -- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Band:
    """A quantity over the replications: their mean, the 2.5-97.5% range of their values and
    the 95% prediction interval for one more replication (``low``, ``high``: the verdict's)."""

    mean: float
    p025: float
    p975: float
    low: float
    high: float
    n: int  # replications with a value


@dataclass(frozen=True)
class Comparison:
    """One quantity: the data's estimate and interval, the simulation's band, the verdict."""

    data: Fit
    simulated: Band

    @property
    def inside(self) -> bool:
        return self.simulated.low <= self.data.estimate <= self.simulated.high


@dataclass(frozen=True)
class Curve:
    """A curve of the data against the simulation's band at the same ``x``: the replications'
    mean and 2.5-97.5% range at each point."""

    x: tuple[float, ...]
    data: tuple[float, ...]
    mean: tuple[float, ...]
    p025: tuple[float, ...]
    p975: tuple[float, ...]


@dataclass
class Backtest:
    """What :func:`backtest` found: every quantity compared, and the curves behind the charts."""

    scenario: str  # the scenario's name
    period: tuple[dt.datetime, dt.datetime]
    replications: int
    seed: int
    compared: dict[str, Comparison] = field(default_factory=dict)
    not_compared: dict[str, str] = field(default_factory=dict)  # name -> why
    weekly: dict[str, Curve] = field(default_factory=dict)  # stage -> events per week
    survival: dict[str, Curve] = field(default_factory=dict)  # stage -> share still in it
    decay: Curve | None = None  # conversion multiplier by hours waited

    @property
    def inside(self) -> int:
        """How many quantities lie inside the simulation's band."""
        return sum(c.inside for c in self.compared.values())

    def summary_line(self) -> str:
        return (
            f"{self.inside} of {len(self.compared)} quantities inside the simulation's band "
            f"({self.replications} replications)"
        )

    def as_json(self) -> dict[str, Any]:
        """``{"compared": {NAME: {"data": {...}, "simulated": {...}, "inside"}},
        "replications", "period", ...}`` (``backtest.json``)."""
        return {
            "scenario": self.scenario,
            "period": [f"{t:%Y-%m-%d %H:%M}" for t in self.period],
            "replications": self.replications,
            "seed": self.seed,
            "inside": self.inside,
            "compared_count": len(self.compared),
            "compared": {
                name: {
                    "data": {
                        "estimate": _finite(c.data.estimate),
                        "ci_low": _finite(c.data.ci_low),
                        "ci_high": _finite(c.data.ci_high),
                        "n": c.data.n,
                    },
                    "simulated": {
                        "mean": c.simulated.mean,
                        "p025": c.simulated.p025,
                        "p975": c.simulated.p975,
                        "low": c.simulated.low,
                        "high": c.simulated.high,
                        "n": c.simulated.n,
                    },
                    "inside": c.inside,
                }
                for name, c in self.compared.items()
            },
            "not_compared": self.not_compared,
        }


def _finite(x: float) -> float | None:
    """JSON has no infinity: a median never reached is null."""
    return x if math.isfinite(x) else None


# -- the period and the scenario over it -------------------------------------------------------
def period_of(export: Export) -> tuple[dt.datetime, dt.datetime]:
    """The export's period: midnight of its first creation date to ``exported_at``."""
    if export.leads.empty:
        raise UsageError("the export has no leads: nothing to back-test", "CONTACTS.csv")
    first = pd.Timestamp(export.leads["created"].min()).normalize().to_pydatetime()
    end = export.exported_at
    if not end > first:
        raise UsageError(
            f"the export spans no time ({first:%Y-%m-%d} to {end:%Y-%m-%d %H:%M})", "CONTACTS.csv"
        )
    return first, end


def over_period(
    scenario: Scenario, period: tuple[dt.datetime, dt.datetime], warmup: str | None = None
) -> Scenario:
    """``scenario`` measured over ``period``, after its warm-up (or ``warmup``, e.g. ``0d``),
    everything else kept."""
    start, end = period
    minutes = math.ceil((end - start).total_seconds() / 60)
    settings = {"start": f"{start:%Y-%m-%d %H:%M}", "horizon": f"{minutes}m"}
    if warmup is not None:
        settings["warmup"] = warmup
    return with_settings(scenario, settings, scenario.name, where="the back-test's period")


def within(export: Export, start: dt.datetime) -> Export:
    """The export's leads created from ``start`` on, and their deals."""
    leads = export.leads[export.leads["created"] >= pd.Timestamp(start)].reset_index(drop=True)
    deals = export.deals[export.deals["lead_id"].isin(leads["id"])].reset_index(drop=True)
    return replace(export, leads=leads, deals=deals)


# -- the measurements, the same for data and simulation ----------------------------------------
def stage_times(export: Export) -> dict[str, pd.Series]:
    """When each weekly volume's events happened: leads created, MQLs, SQLs, deals opened,
    deals won."""
    leads, deals = export.leads, export.deals
    return {
        "leads": leads["created"],
        "mqls": leads["mql_at"].dropna(),
        "sqls": leads["sql_at"].dropna(),
        "opportunities": deals["created"],
        "won": deals.loc[deals["outcome"] == "won", "closed"].dropna(),
    }


def weekly_counts(export: Export, start: dt.datetime, weeks: int) -> dict[str, FloatArray]:
    """Events per whole week of the period, by stage (a last partial week is left out)."""
    out = {}
    for stage, times in stage_times(export).items():
        week = np.floor(((times - pd.Timestamp(start)) / DAY).to_numpy(dtype=float) / 7)
        week = week[(week >= 0) & (week < weeks)].astype(np.int64)
        out[stage] = np.bincount(week, minlength=weeks).astype(float)
    return out


def weekly_rates(
    export: Export, period: tuple[dt.datetime, dt.datetime], level: float = LEVEL
) -> dict[str, Fit]:
    """``weekly.STAGE``: events in the period per week, with Garwood's Poisson interval."""
    start, end = period
    weeks = (end - start).total_seconds() / 86400 / 7
    out = {}
    for stage, times in stage_times(export).items():
        count = int(((times >= pd.Timestamp(start)) & (times <= pd.Timestamp(end))).sum())
        low, high = garwood(count, level)
        note = "events in the period per week, Garwood interval"
        out[f"weekly.{stage}"] = Fit(count / weeks, low / weeks, high / weeks, count, "/w", note)
    return out


def stage_durations(export: Export) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Time in stage in days, and whether it ended (else censored at ``exported_at``): deals
    from opened to closed (open deals censored), and the lags of the leads that converted
    (MQL to SQL, created to first touch)."""
    at = pd.Timestamp(export.exported_at)
    deals, leads = export.deals, export.leads
    closed = deals["closed"].notna().to_numpy().astype(np.float64)
    out = {"opportunity_to_close": (_days(deals["closed"].fillna(at) - deals["created"]), closed)}
    for name, earlier, later in (
        ("mql_to_sql", "mql_at", "sql_at"),
        ("created_to_first_touch", "created", "first_touch_at"),
    ):
        both = leads[earlier].notna() & leads[later].notna()
        lag = _days(leads.loc[both, later] - leads.loc[both, earlier])
        out[name] = (lag, np.ones(len(lag), dtype=np.float64))
    return out


def _days(delta: pd.Series) -> FloatArray:
    return np.asarray(delta.dt.total_seconds() / 86400, dtype=np.float64)


def survival_at(durations: FloatArray, ended: FloatArray, grid: FloatArray) -> FloatArray:
    """The Kaplan-Meier share still in the stage at each time of ``grid`` (days)."""
    if len(durations) == 0:
        return np.full(len(grid), math.nan)
    order = np.argsort(durations, kind="stable")
    t, e = durations[order], ended[order]
    at_risk = len(t) - np.arange(len(t))
    factors = np.where(e > 0, 1 - 1 / at_risk, 1.0)  # tied times: one factor each, same product
    curve = np.cumprod(factors)
    index = np.searchsorted(t, grid, side="right") - 1
    return np.where(index >= 0, curve[np.maximum(index, 0)], 1.0)


# -- the back-test -----------------------------------------------------------------------------
def backtest(
    scenario: Scenario,
    export: Export,
    *,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int | None = None,
    executor: ExecutorSpec = IN_PROCESS,
    on_chunk: OnChunk | None = None,
    on_total: OnTotal | None = None,
    data_fits: Fits | None = None,
    warmup: str | None = None,
) -> Backtest:
    """Simulate ``scenario`` over ``export``'s period and compare (see the module).

    ``replications`` (at least 2) run on common random numbers from ``seed`` (default the
    scenario's); ``warmup`` replaces the scenario's warm-up (``0d``: the funnel starts empty
    with the export, as a CRM begun with the company does); ``data_fits`` are the export's
    fits when already computed (``funnelsim.crm.fits.fit(export)``). Refusals (a period the
    scenario cannot run, too few replications) are FunnelsimErrors raised before anything
    runs.
    """
    if replications < 2:
        raise UsageError(f"a band needs at least 2 replications, got {replications}", "-n")
    period = period_of(export)
    replay = over_period(scenario, period, warmup)
    data = within(export, period[0])
    # the period starts at the first lead's day: the cut keeps every lead, and the fits stand
    data_fits = data_fits if data_fits is not None else fit(data)
    with tempfile.TemporaryDirectory(prefix="funnelsim-backtest-") as tmp:
        folder = Path(tmp) / "run"
        result = run(
            [replay],
            replications,
            seed,
            out=folder,
            records=True,
            executor=executor,
            on_chunk=on_chunk,
            on_total=on_total,
        )
        simulated = [
            within(_read_back(folder, i, Path(tmp) / f"export-{i}"), period[0])
            for i in range(result.replications)
        ]
    return compare(data, data_fits, simulated, period, replay.name, result.seed)


def _read_back(folder: Path, replication: int, out: Path) -> Export:
    """One replication of a results folder as the CRM would export it, read as the data was."""
    # the replay's own spend.csv, if any, is the scenario's: nothing to compare
    contacts, deals, *_, mapping = export_crm(folder, "hubspot", out, replication=replication)
    return read_export(contacts, deals, None, mapping, timezone=None, strict=False)


def compare(
    data: Export,
    data_fits: Fits,
    simulated: Sequence[Export],
    period: tuple[dt.datetime, dt.datetime],
    scenario: str = "",
    seed: int = 0,
) -> Backtest:
    """The data against the simulated exports, every one measured alike (see the module)."""
    start, end = period
    found = Backtest(scenario, period, len(simulated), seed)
    sim_fits = [fit(s) for s in simulated]
    values: dict[str, Fit] = weekly_rates(data, period)
    values |= {name: f for name, f in data_fits.fits.items() if _compared(name)}
    for name, data_fit in values.items():
        sims = [_value(name, s, f, period) for s, f in zip(simulated, sim_fits, strict=True)]
        finite = np.array([v for v in sims if v is not None and math.isfinite(v)])
        if not math.isfinite(data_fit.estimate):
            found.not_compared[name] = "the data's estimate is not finite (a median never reached)"
        elif len(finite) < 2:
            found.not_compared[name] = f"{len(finite)} replication(s) give a finite value: need 2"
        else:
            found.compared[name] = Comparison(data_fit, band(finite))
    for name, why in sorted(data_fits.skipped.items()):
        if _compared(name):
            found.not_compared[name] = f"not fitted from the data: {why}"
    weeks = int((end - start).total_seconds() // (7 * 86400))
    data_weekly = weekly_counts(data, start, weeks)
    sim_weekly = [weekly_counts(s, start, weeks) for s in simulated]
    x = tuple(float(w) for w in range(weeks))
    for stage in STAGES:
        found.weekly[stage] = curve(x, data_weekly[stage], [w[stage] for w in sim_weekly])
    data_times = stage_durations(data)
    sim_times = [stage_durations(s) for s in simulated]
    for stage in SURVIVAL:
        durations, ended = data_times[stage]
        if len(durations) == 0:
            continue
        top = float(np.quantile(durations, 0.99)) or 1.0
        grid = np.linspace(0.0, top, CURVE_POINTS)
        found.survival[stage] = curve(
            tuple(grid),
            survival_at(durations, ended, grid),
            [survival_at(*t[stage], grid) for t in sim_times],
        )
    if data_fits.decay is not None:
        hours = np.array(data_fits.decay.hours)
        sim_decay = [
            np.array([f.decay.at(h) for h in hours]) for f in sim_fits if f.decay is not None
        ]
        if sim_decay:
            found.decay = curve(tuple(hours), np.array(data_fits.decay.multiplier), sim_decay)
    return found


def _compared(name: str) -> bool:
    return name.startswith(COMPARED_FITS) and not any(part in name for part in LEFT_OUT)


def _value(
    name: str, export: Export, fits: Fits, period: tuple[dt.datetime, dt.datetime]
) -> float | None:
    """A replication's value of ``name``: a weekly volume, or one of its fits (None: not fitted)."""
    if name.startswith("weekly."):
        return weekly_rates(export, period)[name].estimate
    found = fits.fits.get(name)
    return None if found is None else found.estimate


def band(values: FloatArray, level: float = LEVEL) -> Band:
    """The replications' mean, 2.5-97.5% range and prediction interval (see the module)."""
    n = len(values)
    mean = float(values.mean())
    p025, p975 = (float(q) for q in np.quantile(values, [(1 - level) / 2, (1 + level) / 2]))
    half = float(stdtrit(n - 1, (1 + level) / 2)) * float(values.std(ddof=1)) * math.sqrt(1 + 1 / n)
    return Band(mean, p025, p975, mean - half, mean + half, n)


def curve(x: tuple[float, ...], data: FloatArray, simulated: Sequence[FloatArray]) -> Curve:
    """The data's curve and the replications' mean and 2.5-97.5% range at each point."""
    stacked = np.vstack(simulated)
    with np.errstate(all="ignore"):
        mean = np.nanmean(stacked, axis=0)
        low, high = np.nanquantile(stacked, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
    return Curve(
        x,
        tuple(float(v) for v in data),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in low),
        tuple(float(v) for v in high),
    )


def check_out(out: Path, option: str = "--out") -> None:
    """Refuse an ``out`` that is a file or a folder holding files, before anything runs: a
    back-test's files are never mixed with others."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder; choose a new folder", option)
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty; choose a new folder", option)
