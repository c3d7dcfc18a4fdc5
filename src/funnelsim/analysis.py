"""Across replications: means with Student-t confidence intervals, and the tables of them.

Replications are independent (their streams are), so a metric's replication values are an
i.i.d. sample and its mean gets a t interval. A metric undefined in a replication (no touched
lead, say) is left out of that metric's sample.

The tables a run is read from (metrics by scenario, a comparison with its paired differences, a
study's points) are built here as plain data: rows of :class:`Summary` cells with their units
and marks. The command line draws them with rich, a notebook may draw them as it likes; the
numbers and which of them stand out are decided once, here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import stdtrit  # Student-t quantile; scipy.stats costs ~1 s to import

from funnelsim.metrics import METRICS

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Summary:
    """Mean of a metric over replications with its confidence interval."""

    mean: float
    ci_low: float
    ci_high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2


def excludes_zero(summary: Summary) -> bool:
    """True when the interval lies wholly above or below zero: for a paired difference, the
    simulation is sure the change moves the metric, and in which direction.

    An undefined interval (fewer than two values) excludes nothing.
    """
    return summary.n >= 2 and (summary.ci_low > 0 or summary.ci_high < 0)


def summarise(values: Iterable[float], level: float = 0.95) -> Summary:
    """Mean and t confidence interval; the interval is nan with fewer than two values."""
    sample = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(sample)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, 0, level)
    mean = float(sample.mean())
    if n < 2:
        return Summary(mean, math.nan, math.nan, n, level)
    sem = float(sample.std(ddof=1)) / math.sqrt(n)
    half = float(stdtrit(n - 1, 0.5 + level / 2)) * sem
    return Summary(mean, mean - half, mean + half, n, level)


def summarise_metrics(
    per_replication: Sequence[Mapping[str, float]], level: float = 0.95
) -> dict[str, Summary]:
    """One Summary per metric name, in the order the metrics first appear."""
    names = list(dict.fromkeys(name for row in per_replication for name in row))
    return {
        name: summarise((row.get(name, math.nan) for row in per_replication), level)
        for name in names
    }


def paired_difference(
    scenario: Sequence[float], baseline: Sequence[float], level: float = 0.95
) -> Summary:
    """Mean and CI of ``scenario - baseline`` replication by replication.

    Replication r of both ran on the same random streams (common random numbers), so most of
    the noise the two share cancels in the difference, and its interval is narrower than the
    two intervals side by side suggest.
    """
    pairs = [
        b - a
        for a, b in zip(baseline, scenario, strict=True)
        if math.isfinite(a) and math.isfinite(b)
    ]
    return summarise(pairs, level)


def unpaired_difference(
    scenario: Sequence[float], baseline: Sequence[float], level: float = 0.95
) -> Summary:
    """Mean and Welch CI of ``scenario - baseline`` as if the runs were independent.

    For comparison with :func:`paired_difference`: what the same replications would tell
    without the pairing.
    """
    a = np.asarray([v for v in baseline if math.isfinite(v)], dtype=float)
    b = np.asarray([v for v in scenario if math.isfinite(v)], dtype=float)
    if len(a) < 2 or len(b) < 2:
        return Summary(float(b.mean() - a.mean()) if len(a) and len(b) else math.nan,
                       math.nan, math.nan, min(len(a), len(b)), level)  # fmt: skip
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(b.mean() - a.mean())
    if va + vb == 0:
        return Summary(diff, diff, diff, min(len(a), len(b)), level)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stdtrit(df, 0.5 + level / 2)) * math.sqrt(va + vb)
    return Summary(diff, diff - half, diff + half, min(len(a), len(b)), level)


# -- tables ------------------------------------------------------------------------------------
CAPTION = "mean ± half-width of the 95% CI"


@dataclass(frozen=True)
class Cell:
    """One figure of a table: a summary in its metric's unit.

    ``signed``: a difference, shown with its sign. ``marked``: its interval excludes zero (a
    difference column), or the point's paired difference from the baseline does (a study).
    """

    summary: Summary
    unit: str
    signed: bool = False
    marked: bool = False


@dataclass(frozen=True)
class Row:
    labels: tuple[str, ...]  # what the row is: (metric, unit), or (study point,)
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class SummaryTable:
    """A table of summaries; ``header`` names the label columns, then the cell columns."""

    title: str
    caption: str
    header: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def label_columns(self) -> int:
        return len(self.rows[0].labels) if self.rows else len(self.header)


def _seed_text(replications: int, seed: int) -> str:
    return f"{replications} replication(s), seed {seed}"


def metrics_table(
    summaries: Mapping[str, Mapping[str, Summary]], *, replications: int, seed: int
) -> SummaryTable:
    """Every metric (in ``METRICS`` order) by scenario, side by side; ``summaries`` maps each
    scenario's name to its metrics. Metrics undefined in every run of every scenario are left
    out: a column of "n/a" says nothing."""
    names = list(summaries)
    title = (
        f"{names[0]}: {_seed_text(replications, seed)}"
        if len(names) == 1
        else f"{len(names)} scenarios, {_seed_text(replications, seed)} each"
    )
    rows = []
    for metric, info in METRICS.items():
        column = [summaries[name][metric] for name in names if metric in summaries[name]]
        if len(column) < len(names) or all(s.n == 0 for s in column):
            continue
        rows.append(Row((metric, info.unit), tuple(Cell(s, info.unit) for s in column)))
    caption = f"{CAPTION}; metrics undefined in every run omitted"
    return SummaryTable(title, caption, ("metric", "unit", *names), tuple(rows))


def breakdown_table(
    name: str,
    grouping: str,
    figures: Mapping[tuple[str, str, str], Summary],
    *,
    replications: int,
    seed: int,
) -> SummaryTable:
    """One scenario's stages by ``grouping``: a row per metric, a column per group."""
    from funnelsim import breakdown

    groups = list(dict.fromkeys(g for by, g, _ in figures if by == grouping))
    rows = []
    for metric in breakdown.metrics_of(grouping):
        column = [figures.get((grouping, g, metric)) for g in groups]
        if any(s is None for s in column) or all(s.n == 0 for s in column if s is not None):
            continue
        u = breakdown.unit(metric)
        rows.append(Row((metric, u), tuple(Cell(s, u) for s in column if s is not None)))
    return SummaryTable(
        f"{name} by {grouping}: {_seed_text(replications, seed)}",
        f"{CAPTION}; a team: the leads it worked in the period; rates: cohorts",
        ("metric", "unit", *groups),
        tuple(rows),
    )


def comparison_table(
    summaries: Mapping[str, Mapping[str, Summary]],
    differences: Mapping[str, Mapping[str, Summary]],
    *,
    replications: int,
    seed: int,
) -> SummaryTable:
    """Metrics by scenario, then each later scenario's paired difference from the first (the
    baseline), marked where its interval excludes zero. ``differences`` maps each later
    scenario's name to its differences by metric."""
    names = list(summaries)
    base, others = names[0], names[1:]
    by_scenario = metrics_table(summaries, replications=replications, seed=seed)
    rows = []
    for row in by_scenario.rows:
        metric, unit = row.labels
        moved = [differences[name][metric] for name in others]
        cells = [Cell(d, unit, signed=True, marked=excludes_zero(d)) for d in moved]
        rows.append(Row(row.labels, (*row.cells, *cells)))
    return SummaryTable(
        f"{len(names)} scenarios against '{base}': {replications} paired replications, seed {seed}",
        f"{CAPTION}; differences paired by replication (common random numbers); "
        "* the interval excludes zero",
        (*by_scenario.header, *(f"{name} - {base}" for name in others)),
        tuple(rows),
    )


def study_table(
    name: str,
    labels: Sequence[str],
    summaries: Sequence[Mapping[str, Summary]],
    differences: Sequence[Mapping[str, Summary] | None],
    metrics: Sequence[str],
    *,
    replications: int,
    seed: int,
) -> SummaryTable:
    """One row per point of a study (the baseline first), one column per chosen metric; a
    figure is marked where the point's paired difference from the baseline excludes zero
    (``differences`` is ``None`` for the baseline)."""
    rows = []
    for label, summary, moved in zip(labels, summaries, differences, strict=True):
        cells = tuple(
            Cell(
                summary[m],
                METRICS[m].unit,
                marked=moved is not None and m in moved and excludes_zero(moved[m]),
            )
            for m in metrics
        )
        rows.append(Row((label,), cells))
    return SummaryTable(
        f"{name}: {len(labels)} points, {replications} paired replications each, seed {seed}",
        f"{CAPTION}; * the paired difference from the baseline excludes zero",
        ("point", *(f"{m} ({METRICS[m].unit})" for m in metrics)),
        tuple(rows),
    )


# -- results tables summarised for charts --------------------------------------------------------
QUARTER_WEEKS = 13  # a quarter of the measured period, in weeks


def wait_shares(by_wait: pd.DataFrame, level: float = 0.95) -> dict[str, list[tuple[str, Summary]]]:
    """How long first-touched leads waited, per scenario: for each wait band (in the order of
    ``funnelsim.breakdown.WAIT_LABELS``) the share of a replication's first touches that fell
    in it, over replications with its interval.

    ``by_wait`` is a results folder's ``by_wait`` table (``results.load(DIR).table("by_wait")``:
    ``scenario``, ``replication``, ``wait``, ``metric``, ``value``); scenarios come in its
    order. A folder written before that table existed gives an empty table, and nothing here.
    A replication without a first touch counts in no band's sample.
    """
    from funnelsim import breakdown

    if by_wait.empty:
        return {}
    touched = by_wait[by_wait["metric"] == "leads"]
    out: dict[str, list[tuple[str, Summary]]] = {}
    for scenario, rows in touched.groupby("scenario", sort=False):
        counts = rows.pivot_table(
            index="replication", columns="wait", values="value", aggfunc="sum", observed=True
        ).reindex(columns=list(breakdown.WAIT_LABELS), fill_value=0.0)
        totals = counts.sum(axis=1)
        shares = counts.div(totals.where(totals > 0), axis=0)
        out[str(scenario)] = [
            (band, summarise(shares[band].tolist(), level)) for band in breakdown.WAIT_LABELS
        ]
    return out


def quarterly_new_arr(
    weekly: pd.DataFrame, level: float = 0.95
) -> dict[str, list[tuple[int, Summary]]]:
    """New ARR by quarter of the measured period, per scenario: weeks 1-13 are the first
    quarter, 14-26 the second, and so on (``QUARTER_WEEKS``). Each replication's weekly new ARR
    is summed over the quarter, then summarised over replications; each quarter comes with the
    number of weeks it holds (fewer than 13: the period ends inside it).

    ``weekly`` is a results folder's weekly table (``results.load(DIR).weekly``: ``scenario``,
    ``replication``, ``week`` from 1, ``new_arr``); scenarios come in its order.
    """
    out: dict[str, list[tuple[int, Summary]]] = {}
    if weekly.empty:
        return out
    quarter = (weekly["week"].astype(int) - 1) // QUARTER_WEEKS
    frame = weekly.assign(quarter=quarter)
    for scenario, rows in frame.groupby("scenario", sort=False):
        sums = rows.groupby(["quarter", "replication"])["new_arr"].sum()
        weeks = rows.groupby("quarter")["week"].nunique()
        out[str(scenario)] = [
            (int(weeks[q]), summarise(sums.loc[q].tolist(), level)) for q in sorted(weeks.index)
        ]
    return out
