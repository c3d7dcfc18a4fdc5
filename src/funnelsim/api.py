"""funnelsim from Python: ``import funnelsim as fs``, in words a planner uses.

Load a plan (checked as the command line checks it), run it, compare it with another, and read
the answers as pandas DataFrames, charts, or a table in Jupyter. Every function here calls what
the matching command calls (``funnelsim run``, ``compare``, ``study``, ``sensitivity``,
``optimize``, ``size``, ``plan``, ``calibrate``, ``backtest``), so a notebook and the command
line give the same numbers for the same seed.

The examples run from the repository root on a tiny queue (two days measured after one day of
warm-up, two replications), so they take seconds; a real plan wants its full horizon and more
replications.

>>> import funnelsim as fs
>>> plan = fs.load(
...     "scenarios/validation/erlang-c.yaml", changes={"horizon": "2d", "warmup": "1d"}
... )
>>> found = fs.run(plan, replications=2, seed=1, progress=False)
>>> found
<Results: 'Erlang C check', 2 replications, seed 1>
>>> table = found.summary()
>>> list(table.columns)
['scenario', 'metric', 'unit', 'mean', 'ci_low', 'ci_high', 'n']
>>> row = table.set_index("metric").loc["sla_first_touch_attainment"]
>>> row["unit"], int(row["n"]), bool(row["ci_low"] <= row["mean"] <= row["ci_high"])
('share', 2, True)

Worker processes (``workers=2``) and Dask clusters (``executor=``) give the same numbers as
this process alone; in a script, call them under ``if __name__ == "__main__":``, since their
workers start by importing the script.
"""

from __future__ import annotations

import html
import importlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, overload

import pandas as pd
import yaml
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from funnelsim import experiment, results
from funnelsim.analysis import SummaryTable
from funnelsim.backtesting import Backtest, check_out
from funnelsim.backtesting import backtest as _backtest
from funnelsim.calibration import Calibration, bundled_baseline
from funnelsim.crm.fits import fit
from funnelsim.crm.read import read_export
from funnelsim.errors import UsageError
from funnelsim.executors import ExecutorSpec, default_workers
from funnelsim.formatting import cell, chart_text
from funnelsim.goals import parse_goal
from funnelsim.metrics import METRICS
from funnelsim.optimizer import Optimum
from funnelsim.optimizer import optimize as _optimize
from funnelsim.planning import Plan, parse_target
from funnelsim.planning import plan as _plan
from funnelsim.replications import Chunk
from funnelsim.scenario.load import ScenarioError, load_scenario, scenario_from_dict
from funnelsim.scenario.optimization import Optimization, load_optimization, with_effort
from funnelsim.scenario.schema import Scenario
from funnelsim.scenario.study import Point, Study, load_study
from funnelsim.sensitivity_analysis import Method, Sensitivity, analyse
from funnelsim.sizing import Sizing
from funnelsim.sizing import size as _size

__all__ = [
    "Comparison",
    "ExecutorSpec",
    "Results",
    "Scenario",
    "ScenarioError",
    "StudyResults",
    "Uncertain",
    "backtest",
    "calibrate",
    "compare",
    "load",
    "optimize",
    "plan",
    "report",
    "results",
    "run",
    "sensitivity",
    "size",
    "study",
]

Source = str | Path | Mapping[str, Any]  # a scenario file, or a scenario as Python data
Plans = Scenario | str | Path | Sequence[Scenario | str | Path]
Executor = ExecutorSpec | Literal["process", "dask"] | None


# -- loading -----------------------------------------------------------------------------------
def load(source: Source, changes: Mapping[str, Any] | None = None) -> Scenario:
    """A scenario from a file (or a dict of the same shape), with ``changes`` by dotted path.

    Checked as ``funnelsim validate`` checks it: a :class:`ScenarioError` lists every problem,
    each a line ``FILE:LINE:COL: path: message`` with a did-you-mean for a misspelled key. A
    change is what ``--set KEY=VALUE`` is on the command line, and its problems are the same
    lines the command line gives:

    >>> import funnelsim as fs
    >>> fs.load("scenarios/validation/erlang-c.yaml", changes={"teams.sdr.hedcount": 8})
    Traceback (most recent call last):
    ...
    funnelsim.scenario.load.ScenarioError: --set teams.sdr.hedcount=8: teams.sdr.hedcount: unknown key 'hedcount' (did you mean 'headcount'?); allowed: ...
    >>> fs.load("scenarios/validation/erlang-c.yaml", changes={"teams.sdr.headcount": 12}).teams.sdr.headcount
    12
    """  # noqa: E501  (a doctest's expected line is as long as the message)
    overrides = [f"{key}={_yaml_text(value)}" for key, value in (changes or {}).items()]
    if isinstance(source, Mapping):
        return scenario_from_dict(dict(source), overrides)
    return load_scenario(source, overrides)


def _yaml_text(value: Any) -> str:
    """A change's value as ``--set`` would take it: a plain string as written when YAML reads it
    back as the same string, anything else as JSON (which YAML reads as the same value)."""
    if isinstance(value, str):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, default=str)


def _plans(scenarios: Plans) -> list[Scenario]:
    """Scenarios as given: one, or several, each a Scenario or a file to load."""
    if isinstance(scenarios, Scenario | str | Path):
        scenarios = [scenarios]
    return [s if isinstance(s, Scenario) else load(s) for s in scenarios]


def _executor(workers: int | None, executor: Executor) -> ExecutorSpec:
    """Where replications run: ``workers`` alone is a local pool of that many processes;
    ``executor`` the full :class:`ExecutorSpec`, or ``"process"``/``"dask"`` with ``workers``
    (default all cores); neither is this process alone."""
    if isinstance(executor, ExecutorSpec):
        if workers is not None:
            raise UsageError("give the workers in the ExecutorSpec, not beside it", "workers")
        return executor
    if executor is not None:
        return ExecutorSpec(workers or default_workers(), executor)
    return experiment.IN_PROCESS if workers is None else ExecutorSpec(workers)


# -- progress ----------------------------------------------------------------------------------
class _Bar:
    """A progress bar for a run (a notebook widget in Jupyter with ipywidgets, text on stderr
    elsewhere, via ``tqdm.auto``): shown once a run has lasted a second, gone when it ends.
    Without tqdm, or with ``show`` False, nothing is shown."""

    def __init__(self, label: str, show: bool) -> None:
        self.label = label
        self.factory: Any = None
        self.bar: Any = None
        if show:
            try:
                self.factory = importlib.import_module("tqdm.auto").tqdm
            except ImportError:
                self.factory = None

    def total(self, total: int, done: int) -> None:
        """``experiment.run``'s ``on_total``: the replications the run will have, and done."""
        if self.factory is None:
            return
        if self.bar is None:
            self.bar = self.factory(
                total=total, initial=done, desc=self.label, unit="rep", leave=False, delay=1.0
            )
        else:
            self.bar.total = total
            self.bar.n = done
            self.bar.refresh()

    def advance(self, chunk: Chunk) -> None:
        """``experiment.run``'s ``on_chunk``: a chunk of replications finished."""
        if self.bar is not None:
            self.bar.update(len(chunk.replications))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def _progress(label: str, show: bool) -> Iterator[dict[str, Any]]:
    """A progress bar's callbacks, as the library's runs take them (``on_total``,
    ``on_chunk``); the bar is closed however the run ends."""
    bar = _Bar(label, show)
    try:
        yield {"on_total": bar.total, "on_chunk": bar.advance}
    finally:
        bar.close()


# -- results -----------------------------------------------------------------------------------
class Results:
    """What a run gave: each scenario's metrics with confidence intervals, as DataFrames.

    - :meth:`summary`: one row per scenario and metric (mean and CI).
    - ``replications``: one row per scenario and replication, every metric a column.
    - ``weekly`` and :meth:`table` (``daily``, ``leads``, ``handoffs``, ``tasks``, ``queue``,
      ``by_source``...): read from the results folder, so only when the run had ``out=``;
      without it only ``summary()`` and ``replications`` exist (the weekly series and records
      are not kept in memory; with ``records=True`` each scenario's records are on
      ``run.per_scenario[k].records``).
    - ``run``: the :class:`~funnelsim.experiment.RunResult` itself.
    """

    def __init__(self, run: experiment.RunResult, folder: Path | None = None) -> None:
        self.run = run
        self.folder = folder

    @property
    def scenarios(self) -> list[Scenario]:
        return [r.scenario for r in self.run.per_scenario]

    @property
    def seed(self) -> int:
        return self.run.seed

    @property
    def n(self) -> int:
        """Replications per scenario."""
        return self.run.replications

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per scenario and metric: ``scenario, metric, unit, mean, ci_low, ci_high,
        n`` (``n``: the replications in which the metric was defined), the interval at
        ``level``."""
        rows = [
            {
                "scenario": name,
                "metric": metric,
                "unit": _unit(metric),
                "mean": s.mean,
                "ci_low": s.ci_low,
                "ci_high": s.ci_high,
                "n": s.n,
            }
            for name, by_metric in self.run.summaries(level).items()
            for metric, s in by_metric.items()
        ]
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    @cached_property
    def stored(self) -> results.Results:
        """The results folder, read back (``funnelsim.results.load``); only with ``out=``."""
        if self.folder is None:
            raise UsageError("the run kept no results folder: run it with out=FOLDER", "out")
        return results.load(self.folder)

    def report(self, output: str | Path | None = None) -> list[Path]:
        """The budget review of this run's results folder (:func:`report`)."""
        if self.folder is None:
            raise UsageError("the run kept no results folder: run it with out=FOLDER", "out")
        return report(self.folder, output)

    @property
    def replications(self) -> pd.DataFrame:
        """One row per scenario and replication: ``scenario, replication``, then every metric."""
        if self.folder is not None:
            return self.stored.replications
        rows = [
            {"scenario": r.scenario.name, "replication": number, **values}
            for r in self.run.per_scenario
            for number, values in enumerate(r.metrics)
        ]
        return pd.DataFrame(rows)

    @property
    def weekly(self) -> pd.DataFrame:
        """Week by week, each replication's series (only with ``out=``)."""
        return self.stored.weekly

    def table(self, name: str) -> pd.DataFrame:
        """Any table of the results folder by name (only with ``out=``), as
        ``funnelsim.results.Results.table``."""
        return self.stored.table(name)

    def warnings(self) -> list[str]:
        """What the numbers may not show (a warm-up too short, a precision not reached)."""
        return self.run.warnings()

    def plot_metric(self, metric: str, *, ax: Axes | None = None) -> Figure:
        """One metric across the scenarios: each one's mean with its 95% interval."""
        from funnelsim import charts

        unit = _unit(metric)
        return charts.plot_options(
            [chart_text(s.name) for s in self.scenarios],
            [r.summary()[metric] for r in self.run.per_scenario],
            ylabel=f"{metric} ({unit})",
            title=f"{metric}: mean and 95% CI",
            ax=ax,
            percent=unit == "share",
        )

    def plot_weekly(self, metric: str = "sqls", *, ax: Axes | None = None) -> Figure:
        """A weekly series (``sqls``, ...) of every scenario, mean and 95% band over
        replications (only with ``out=``: the weekly series are read from the folder)."""
        from funnelsim import charts
        from funnelsim.analysis import summarise

        weekly = self.weekly
        if metric not in weekly.columns:
            known = ", ".join(c for c in weekly.columns if c not in ("scenario", "replication"))
            raise UsageError(f"no weekly series {metric!r}: expected one of {known}", "metric")
        axes = (
            Figure(figsize=charts.FIGSIZE, layout="constrained").add_subplot() if ax is None else ax
        )
        for name, weeks in weekly.groupby("scenario", sort=False):
            by_week = weeks.groupby("week")[metric]
            charts.plot_metric_vs(
                by_week.size().index.to_numpy(dtype=float).tolist(),
                [summarise(values) for _, values in by_week],
                xlabel="week of the measured period",
                ylabel=f"{metric} per week",
                ax=axes,
                label=chart_text(name),
            )
        axes.set_title(f"{metric} per week: mean and 95% CI over replications")
        found = axes.get_figure(root=True)
        assert isinstance(found, Figure)
        return found

    def summary_table(self) -> SummaryTable:
        """The table ``funnelsim run`` prints (and Jupyter shows)."""
        return self.run.table()

    def __repr__(self) -> str:
        names = ", ".join(repr(s.name) for s in self.scenarios)
        return f"<{type(self).__name__}: {names}, {self.n} replications, seed {self.seed}>"

    def _repr_html_(self) -> str:
        return _html(self.summary_table())


class Comparison(Results):
    """Scenarios against the first (the baseline), replication by replication: the same
    replications of one seed (common random numbers), so each difference comes with an
    interval much narrower than two separate runs would give."""

    def differences(self, level: float = 0.95) -> pd.DataFrame:
        """One row per later scenario and metric: its paired difference from the baseline,
        ``scenario, baseline, metric, unit, mean, ci_low, ci_high, n, excludes_zero``
        (``excludes_zero``: the interval lies wholly on one side of no change)."""
        from funnelsim.analysis import excludes_zero

        base = self.scenarios[0].name
        rows = [
            {
                "scenario": name,
                "baseline": base,
                "metric": metric,
                "unit": _unit(metric),
                "mean": s.mean,
                "ci_low": s.ci_low,
                "ci_high": s.ci_high,
                "n": s.n,
                "excludes_zero": excludes_zero(s),
            }
            for name, by_metric in self.run.comparison().differences(level).items()
            for metric, s in by_metric.items()
        ]
        return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)

    def plot_differences(self, scenario: str | None = None, *, ax: Axes | None = None) -> Figure:
        """How a scenario (default: the second) moves the key metrics, as a share of the
        baseline's: a dot and its 95% interval per metric, grey where it includes no change."""
        from funnelsim import charts
        from funnelsim.review import KEY_METRICS

        names = [s.name for s in self.scenarios]
        other = names[1] if scenario is None else scenario
        if other not in names[1:]:
            raise UsageError(f"no scenario {other!r} to compare: expected one of {names[1:]}")
        moved = self.run.comparison().differences()[other]
        base = self.run.per_scenario[0].summary()
        return charts.plot_relative_differences(
            {m: moved[m] for m in KEY_METRICS if m in moved},
            {m: base[m].mean for m in KEY_METRICS if m in base},
            title=chart_text(f"{other} against {names[0]}"),
            ax=ax,
        )

    def summary_table(self) -> SummaryTable:
        """The table ``funnelsim compare`` prints: metrics by scenario, then the differences."""
        return self.run.comparison().table()


class StudyResults(Comparison):
    """A study's points (the baseline first), each against the baseline."""

    def __init__(
        self,
        run: experiment.RunResult,
        spec: Study,
        points: list[Point],
        folder: Path | None = None,
    ) -> None:
        super().__init__(run, folder)
        self.spec = spec
        self.points = points

    def summary_table(self) -> SummaryTable:
        """The table ``funnelsim study`` prints: a row per point, the study's metrics."""
        return experiment.study_table(self.spec, self.points, self.run)


SUMMARY_COLUMNS = ["scenario", "metric", "unit", "mean", "ci_low", "ci_high", "n"]
DIFFERENCE_COLUMNS = [*SUMMARY_COLUMNS[:1], "baseline", *SUMMARY_COLUMNS[1:], "excludes_zero"]


def _unit(metric: str) -> str:
    info = METRICS.get(metric)
    return info.unit if info is not None else ""


def _html(table: SummaryTable) -> str:
    """A summary table as HTML: ``mean ± half-width`` cells (differences signed, ``*`` where
    the interval excludes zero), every text escaped (scenario names are user-supplied)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        labels = "".join(f"<td>{html.escape(label)}</td>" for label in row.labels)
        cells = "".join(
            f'<td style="text-align:right">'
            f"{html.escape(cell(c.summary, c.unit, signed=c.signed))}{' *' if c.marked else ''}"
            "</td>"
            for c in row.cells
        )
        body.append(f"<tr>{labels}{cells}</tr>")
    return (
        f"<table><caption>{html.escape(table.title)}<br><small>{html.escape(table.caption)}"
        f"</small></caption><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


# -- running -----------------------------------------------------------------------------------
def run(
    scenarios: Plans,
    replications: int = 10,
    seed: int | None = None,
    *,
    workers: int | None = None,
    executor: Executor = None,
    out: str | Path | None = None,
    records: bool = False,
    progress: bool = True,
) -> Results:
    """Simulate one scenario or several (``funnelsim run``): ``replications`` each, on one
    seed (default the first scenario's, else fresh), so several share their random numbers.

    ``workers=N`` runs on a local pool of N processes; ``executor`` takes an
    :class:`ExecutorSpec` (or ``"process"``/``"dask"``); the default is this process. ``out``
    writes a results folder as chunks finish (then every table of ``funnelsim.results.load``
    is there); ``records`` keeps the per-lead records too. ``progress=False`` hides the bar.

    >>> import funnelsim as fs
    >>> tiny = {"horizon": "2d", "warmup": "1d"}
    >>> plans = [
    ...     fs.load("scenarios/validation/erlang-c.yaml", changes=tiny),
    ...     fs.load("scenarios/validation/erlang-c.yaml", changes={**tiny, "name": "12 SDRs",
    ...                                                          "teams.sdr.headcount": 12}),
    ... ]
    >>> found = fs.run(plans, replications=2, seed=1, progress=False)
    >>> len(found.replications), sorted(set(found.summary()["scenario"]))
    (4, ['12 SDRs', 'Erlang C check'])
    """
    plans = _plans(scenarios)
    folder = None if out is None else Path(out)
    label = f"simulating {plans[0].name}" if len(plans) == 1 else "simulating"
    with _progress(label, progress) as callbacks:
        found = experiment.run(
            plans,
            replications,
            seed,
            out=folder,
            records=records,
            executor=_executor(workers, executor),
            **callbacks,
        )
    return Results(found, folder)


@overload
def compare(
    baseline: Scenario | str | Path,
    *others: Scenario | str | Path,
    replications: int = ...,
    seed: int | None = ...,
    workers: int | None = ...,
    executor: Executor = ...,
    out: str | Path | None = ...,
    progress: bool = ...,
    uncertainty: None = ...,
) -> Comparison: ...


@overload
def compare(
    baseline: Scenario | str | Path,
    *others: Scenario | str | Path,
    replications: int = ...,
    seed: int | None = ...,
    workers: int | None = ...,
    executor: Executor = ...,
    out: str | Path | None = ...,
    progress: bool = ...,
    uncertainty: int,
) -> Uncertain: ...


def compare(
    baseline: Scenario | str | Path,
    *others: Scenario | str | Path,
    replications: int = 20,
    seed: int | None = None,
    workers: int | None = None,
    executor: Executor = None,
    out: str | Path | None = None,
    progress: bool = True,
    uncertainty: int | None = None,
) -> Comparison | Uncertain:
    """Scenarios against ``baseline`` (``funnelsim compare``): every one on the same
    replications of one seed, each replication paired with the baseline's.

    >>> import funnelsim as fs
    >>> tiny = {"horizon": "2d", "warmup": "1d"}
    >>> now = fs.load("scenarios/validation/erlang-c.yaml", changes=tiny)
    >>> more = fs.load("scenarios/validation/erlang-c.yaml",
    ...                changes={**tiny, "name": "12 SDRs", "teams.sdr.headcount": 12})
    >>> found = fs.compare(now, more, replications=2, seed=1, progress=False)
    >>> waits = found.differences().set_index("metric").loc["queue_length_mean"]
    >>> waits["scenario"], bool(waits["mean"] < 0)
    ('12 SDRs', True)

    ``uncertainty=N`` runs every plan over the same N draws of the inputs the files give a
    range (``compare --uncertainty``), ``replications`` each, and returns :class:`Uncertain`:
    the chance each plan beats the baseline once what nobody has measured is counted.

    >>> weeks = {"horizon": "2w", "warmup": "1w"}
    >>> inbound = fs.load("scenarios/inbound-heavy.yaml", changes=weeks)
    >>> outbound = fs.load("scenarios/outbound-heavy.yaml", changes=weeks)
    >>> drawn = fs.compare(inbound, outbound, uncertainty=3, replications=2, seed=1,
    ...                    progress=False)
    >>> drawn.draws, drawn.replications, drawn.outcomes("sqls").shape
    (3, 2, (6, 2))
    >>> chance = drawn.chances().set_index("metric").loc["sqls"]
    >>> bool(0.0 <= chance["p_better"] <= 1.0), chance["scenario"]
    (True, 'Outbound-heavy')
    """
    plans = _plans([baseline, *others])
    folder = None if out is None else Path(out)
    if uncertainty is not None:
        with _progress(f"comparing, {uncertainty} draws", progress) as callbacks:
            drawn = experiment.run_uncertain(
                plans,
                uncertainty,
                replications,
                seed,
                executor=_executor(workers, executor),
                out=folder,
                **callbacks,
            )
        return Uncertain(drawn, folder)
    with _progress("comparing", progress) as callbacks:
        found = experiment.run(
            plans,
            replications,
            seed,
            out=folder,
            executor=_executor(workers, executor),
            **callbacks,
            command="compare",
            default_replications=20,
        )
    return Comparison(found, folder)


class Uncertain:
    """Plans over draws of their uncertain inputs (``fs.compare(..., uncertainty=N)``): every
    plan ran with the same drawn values (a Latin hypercube over each ranged input), and
    replication ``r`` of every draw and plan on the same random numbers. So a plan's spread is
    what nobody has measured plus plain luck, and the paired differences are the plans'."""

    def __init__(self, found: experiment.UncertainRun, folder: Path | None = None) -> None:
        self.found = found
        self.folder = folder

    @property
    def plans(self) -> list[str]:
        return [plan.name for plan in self.found.plans]

    @property
    def draws(self) -> int:
        return self.found.draws

    @property
    def replications(self) -> int:
        return self.found.replications

    def inputs(self) -> pd.DataFrame:
        """The uncertain inputs by dotted path: value, range, shape, source and grade."""
        rows = {
            path: {"value": r.value, "low": r.low, "high": r.high, "shape": r.shape,
                   "source": r.source, "grade": r.grade}
            for path, r in self.found.inputs.items()
        }  # fmt: skip
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("input")

    def drawn(self) -> pd.DataFrame:
        """Each draw's value of every numeric uncertain input (draws numbered from 1)."""
        from funnelsim.review import flat

        runs = self.found.result.per_scenario[:: len(self.found.plans)]
        values = [flat(r.scenario.model_dump(mode="json", exclude_none=True)) for r in runs]
        frame = pd.DataFrame([{p: v.get(p) for p in self.found.inputs} for v in values])
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="draw")
        numeric: pd.DataFrame = frame.apply(pd.to_numeric, errors="coerce")
        return numeric.dropna(axis="columns")

    def outcomes(self, metric: str) -> pd.DataFrame:
        """One metric's outcomes: a row per draw and replication, a column per plan."""
        tables = {p.name: self.found.table(metric, k) for k, p in enumerate(self.found.plans)}
        index = pd.MultiIndex.from_product(
            [range(1, self.draws + 1), range(self.replications)], names=["draw", "replication"]
        )
        return pd.DataFrame({name: t.ravel() for name, t in tables.items()}, index=index)

    def summary(self) -> pd.DataFrame:
        """Every plan's metrics over the draws: the mean with its 95% interval, the 5th to
        95th percentile of single outcomes, and the share of the variance due to the inputs."""
        rows = [
            {"scenario": plan.name, "metric": metric, "unit": _unit(metric), "mean": s.mean,
             "ci_low": s.ci_low, "ci_high": s.ci_high, "p05": s.p05, "p95": s.p95,
             "inputs_share": s.parameter_share}
            for k, plan in enumerate(self.found.plans)
            for metric, s in self.found.spreads(k).items()
            if s.mean == s.mean
        ]  # fmt: skip
        return pd.DataFrame(rows)

    def chances(self) -> pd.DataFrame:
        """Each plan against the baseline, metric by metric: the paired difference's mean with
        its 95% interval and its 5th to 95th percentile, and ``p_better``, the share of
        outcomes in which the plan comes out ahead (a tie counts half), with its interval."""
        rows = []
        for k, plan in enumerate(self.found.plans[1:], start=1):
            for metric, d in self.found.differences(k).items():
                if d["mean"] is None or d["p_better"] is None:
                    continue
                low, high = d["p_better_ci"]
                rows.append({
                    "scenario": plan.name, "metric": metric, "unit": _unit(metric),
                    "mean": d["mean"], "ci_low": d["ci_low"], "ci_high": d["ci_high"],
                    "p05": d["p05"], "p95": d["p95"], "p_better": d["p_better"],
                    "p_better_low": low, "p_better_high": high,
                })  # fmt: skip
        return pd.DataFrame(rows)

    def inputs_that_decide(self, metric: str = "new_arr") -> pd.DataFrame:
        """Which inputs move the gain over the baseline of the plan that gains most (a draw's
        gain its mean over replications): each numeric input's rank correlation with it, its
        q-value (adjusted for the number of inputs), and where the verdict flips when that
        lies inside its range (``funnelsim.review.rank_inputs``)."""
        from funnelsim.review import rank_inputs

        outcomes = self.outcomes(metric).groupby(level="draw").mean()
        gains = outcomes[self.plans[1:]].sub(outcomes[self.plans[0]], axis=0)
        gain = gains[gains.mean().idxmax()].to_numpy(dtype=float)
        drawn = self.drawn()
        inputs = {}
        for path in drawn.columns:
            low, high = self.found.inputs[path].low, self.found.inputs[path].high
            if isinstance(low, int | float) and isinstance(high, int | float):
                inputs[path] = (drawn[path].to_numpy(dtype=float), float(low), float(high))
        return pd.DataFrame(
            rank_inputs(inputs, gain), columns=["input", "rank_correlation", "q_value", "flips_at"]
        ).set_index("input")

    def __repr__(self) -> str:
        return (
            f"<Uncertain: {', '.join(self.plans)}; {self.draws} draws x {self.replications} "
            "replications>"
        )


def study(
    path: str | Path,
    changes: Mapping[str, Any] | None = None,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    executor: Executor = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> StudyResults:
    """A study file's points (``funnelsim study``): its baseline (with ``changes`` first, as
    ``--set``), variants and sweeps, every point against the baseline. Replications and seed
    default to the study's own.

    >>> import funnelsim as fs
    >>> found = fs.study("scenarios/studies/inbound-vs-outbound.yaml",
    ...                  changes={"horizon": "1w", "warmup": "1d"}, replications=2,
    ...                  progress=False)
    >>> len(found.points), [p.label for p in found.points][:2]
    (7, ['baseline', 'split: list 100'])
    >>> len(found.summary_table().rows)
    7
    """
    overrides = [f"{key}={_yaml_text(value)}" for key, value in (changes or {}).items()]
    sized = experiment.study_size_check(replications, None)
    spec, points = load_study(path, overrides, METRICS, sized)
    folder = None if out is None else Path(out)
    with _progress(f"study {spec.name}", progress) as callbacks:
        found = experiment.run_study(
            spec,
            points,
            replications,
            seed,
            out=folder,
            executor=_executor(workers, executor),
            **callbacks,
        )
    return StudyResults(found, spec, points, folder)


# -- decisions: thin wrappers over what the commands call --------------------------------------
def sensitivity(
    scenarios: Plans,
    metric: str = "new_arr",
    *,
    method: Method = "morris+sobol",
    replications: int = 1,
    seed: int | None = None,
    trajectories: int = 10,
    samples: int = 64,
    top: int = 8,
    workers: int | None = None,
    executor: Executor = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> Sensitivity:
    """Which uncertain inputs (numbers with a range) decide ``metric`` (``funnelsim
    sensitivity``); with two scenarios, the difference second - first, and where it flips.
    ``.ranked()`` names the inputs, most decisive first; ``.parameters`` holds the figures."""
    with _progress(f"sensitivity of {metric}", progress) as callbacks:
        return analyse(
            _plans(scenarios),
            metric=metric,
            method=method,
            replications=replications,
            seed=seed,
            trajectories=trajectories,
            samples=samples,
            top=top,
            executor=_executor(workers, executor),
            out=None if out is None else Path(out),
            **callbacks,
        )


def optimize(
    source: str | Path | Optimization,
    *,
    baseline: Scenario | None = None,
    changes: Mapping[str, Any] | None = None,
    trials: int | None = None,
    replications: int | None = None,
    confirm_replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    executor: Executor = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> Optimum:
    """The best plan an optimisation file asks for (``funnelsim optimize``): ``source`` is the
    file (its baseline read beside it, with ``changes``), or an already loaded
    :class:`~funnelsim.scenario.optimization.Optimization` with its ``baseline`` scenario.
    ``trials``, ``replications`` and ``confirm_replications`` replace the file's."""
    if isinstance(source, Optimization):
        if baseline is None:
            raise UsageError("an Optimization needs its baseline scenario", "baseline")
        if changes:
            raise UsageError("changes apply to a file's baseline: change the baseline itself")
        spec = source
    else:
        overrides = [f"{key}={_yaml_text(value)}" for key, value in (changes or {}).items()]
        spec, baseline = load_optimization(source, overrides, list(METRICS), parse_goal)
    spec = with_effort(spec, trials, replications, confirm_replications)
    with _progress(f"optimizing {spec.name}", progress) as callbacks:
        return _optimize(
            spec,
            baseline,
            seed=seed,
            executor=_executor(workers, executor),
            out=None if out is None else Path(out),
            force=force,
            **callbacks,
        )


def size(
    scenario: Scenario | str | Path,
    team: str,
    target: str,
    *,
    rule: Literal["ci", "mean"] = "ci",
    replications: int = 10,
    seed: int | None = None,
    workers: int | None = None,
    executor: Executor = None,
    max_headcount: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> Sizing:
    """The smallest starting headcount of ``team`` meeting ``target``
    (``'METRIC>=VALUE'``; ``funnelsim size``). ``.headcount`` is the answer, ``.rows`` every
    headcount tried, and ``.shortfall()`` says why there is none when the search gave up.

    >>> import funnelsim as fs
    >>> plan = fs.load("scenarios/validation/erlang-c.yaml", changes={"horizon": "2d", "warmup": "1d"})
    >>> found = fs.size(plan, "sdr", "sla_first_touch_attainment>=0.5", rule="mean",
    ...                 replications=2, seed=1, progress=False)
    >>> 9 <= found.headcount <= 12
    True
    """  # noqa: E501
    with _progress(f"sizing {team}", progress) as callbacks:
        return _size(
            _plans(scenario)[0],
            team,
            parse_goal(target, "target"),
            rule=rule,
            replications=replications,
            seed=seed,
            executor=_executor(workers, executor),
            max_headcount=max_headcount,
            out=None if out is None else Path(out),
            force=force,
            **callbacks,
        )


def plan(
    scenario: Scenario | str | Path,
    target: str,
    *,
    probability: float = 0.8,
    replications: int = 20,
    seed: int | None = None,
    workers: int | None = None,
    executor: Executor = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> Plan:
    """Plan backwards from ``target`` (``'new_arr=3000000'``; ``funnelsim plan``): the spend,
    contacts and people the scenario needs to reach it with ``probability``."""
    metric, value = parse_target(target, "target")
    with _progress(f"planning {metric} >= {value:,.6g}", progress) as callbacks:
        return _plan(
            _plans(scenario)[0],
            metric,
            value,
            probability=probability,
            replications=replications,
            seed=seed,
            executor=_executor(workers, executor),
            out=None if out is None else Path(out),
            **callbacks,
        )


def calibrate(
    contacts: str | Path,
    *,
    deals: str | Path | None = None,
    format: str,
    base: str | Path | None = None,
    spend: str | Path | None = None,
    response: str | Path | None = None,
    timezone: str | None = None,
    strict: bool = False,
    refine: int | None = None,
    warmup: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Calibration:
    """A scenario fitted from a CRM export (``funnelsim calibrate``): ``format`` is
    ``hubspot``, ``salesforce`` or a mapping file; ``base`` gives what the export cannot tell
    (default the bundled baseline); ``spend`` a spend CSV whose channels get fitted spend ->
    leads curves, ``response`` a file of curves from a media-mix model that replace them
    (``calibrate --spend``, ``--response``). ``.scenario`` is the fitted scenario, ``.text``
    its file (write it where you like), ``.fits`` the fits with their intervals, ``.notes``
    what was not used. ``refine=ROUNDS`` then calibrates by simulation the numbers that act
    only through the funnel (``calibrate --refine``, 3 rounds unless told; 0: the direct fits
    only; ``warmup`` of its replays, e.g. ``"0d"`` for a history that starts with the funnel
    itself)."""
    from funnelsim.refinement import REFINE_ROUNDS, calibrate_file

    rounds = REFINE_ROUNDS if refine is None else refine
    base_path = Path(base) if base is not None else bundled_baseline()
    if base is None and not base_path.is_file():
        raise UsageError("no bundled baseline in this installation: give a base scenario", "base")
    contacts = Path(contacts)
    export = read_export(
        contacts,
        None if deals is None else Path(deals),
        None if spend is None else Path(spend),
        format,
        timezone=timezone,
        strict=strict,
    )
    with _progress("calibrating by simulation", progress and rounds > 0) as callbacks:
        return calibrate_file(
            export,
            base_path,
            name=f"Calibrated from {contacts.name}",
            rounds=rounds,
            warmup=warmup,
            responses=None if response is None else Path(response),
            executor=_executor(workers, None),
            **callbacks,
        )


def backtest(
    scenario: Scenario | str | Path,
    contacts: str | Path,
    *,
    deals: str | Path | None = None,
    format: str,
    timezone: str | None = None,
    replications: int = 10,
    seed: int | None = None,
    warmup: str | None = None,
    workers: int | None = None,
    executor: Executor = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> Backtest:
    """Replay ``scenario`` over a CRM export's period and compare it with the export
    (``funnelsim backtest``); ``out`` (a new or empty folder) gets the report and charts.
    ``.compared`` holds each quantity's data, simulated band and verdict."""
    from funnelsim.reporting import write_backtest

    folder = None if out is None else Path(out)
    if folder is not None:
        check_out(folder, "out")
    plan_ = _plans(scenario)[0]
    export = read_export(
        Path(contacts),
        None if deals is None else Path(deals),
        None,
        format,
        timezone=timezone,
        strict=False,
    )
    with _progress(f"back-testing {plan_.name}", progress) as callbacks:
        found = _backtest(
            plan_,
            export,
            replications=replications,
            seed=seed,
            executor=_executor(workers, executor),
            data_fits=fit(export),
            warmup=warmup,
            **callbacks,
        )
    if folder is not None:
        write_backtest(found, folder)
    return found


def report(
    folder: str | Path, output: str | Path | None = None, extra: Sequence[str | Path] = ()
) -> list[Path]:
    """Write the budget review of a results folder (``funnelsim report``): ``report.html``
    (one self-contained page), ``report.pdf`` (A4 landscape) and ``report.md``, into
    ``output`` (default ``FOLDER/report``); returns the three files. ``extra`` are folders
    whose sections join the review (``funnelsim report --with``): a ``compare`` with
    ``uncertainty=``, a ``sensitivity``, an ``optimize`` or a back-test.

    >>> import tempfile
    >>> import funnelsim as fs
    >>> tiny = {"horizon": "2w", "warmup": "1w"}
    >>> now = fs.load("scenarios/inbound-heavy.yaml", changes=tiny)
    >>> more = fs.load("scenarios/inbound-heavy.yaml",
    ...                changes={**tiny, "name": "4 SDRs", "teams.sdr.headcount": 4})
    >>> folder = Path(tempfile.mkdtemp()) / "more-sdrs"
    >>> found = fs.compare(now, more, replications=2, seed=1, out=folder, progress=False)
    >>> [path.name for path in found.report()]
    ['report.md', 'report.html', 'report.pdf']
    >>> "4 SDRs instead of Inbound-heavy" in (folder / "report" / "report.html").read_text()
    True
    >>> import shutil; shutil.rmtree(folder.parent)
    """
    from funnelsim.reporting import write_report

    paths = [Path(path) for path in extra]
    return write_report(Path(folder), None if output is None else Path(output), paths)
