"""Charts for budget reviews: what a planner puts on a slide next to a headcount ask.

Every plot function returns the Figure, and never computes statistics. Means, confidence
intervals and theory values arrive already computed (a ``funnelsim.analysis.Summary`` per
point, floats from ``funnelsim.theory``), so a chart shows exactly the numbers printed in the
tables beside it; ``plot_arr_by_quarter`` takes the weekly table and has
``funnelsim.analysis.quarterly_new_arr`` summarise it. The single-panel charts take ``ax=None``
to draw on an axes of their own; the budget review's panels (funnel, wait bands, rep time, new
ARR by quarter) make their own figure.

Figures are built on ``matplotlib.figure.Figure`` directly, without pyplot, so they render
headless (CI, reports) and never pick a GUI backend. Save one with ``fig.savefig(path)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from funnelsim.analysis import Summary, excludes_zero

if TYPE_CHECKING:
    import pandas as pd

    from funnelsim.backtesting import Comparison, Curve

FIGSIZE = (6.4, 4.0)  # inches: reads on a slide and in a notebook
CI_ALPHA = 0.2
THEORY_COLOR = "0.25"


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    """A fresh single-axes figure, or the figure that already holds ``ax``."""
    if ax is None:
        fig = Figure(figsize=FIGSIZE, layout="constrained")
        return fig, fig.add_subplot()
    root = ax.get_figure(root=True)
    if root is None:
        raise ValueError("ax is not attached to a figure")
    return root, ax


def _style(ax: Axes, *, xlabel: str, ylabel: str, percent: bool, integer_x: bool) -> None:
    """The house style: labelled axes, light grid, no top/right frame, legend if labelled."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)


def _error_bars(summaries: Sequence[Summary]) -> list[list[float]]:
    """Matplotlib's asymmetric error bars, below and above each mean, for its confidence
    interval (an undefined interval draws no bar)."""
    return [[s.mean - s.ci_low for s in summaries], [s.ci_high - s.mean for s in summaries]]


def _ci_level(summaries: Sequence[Summary]) -> float:
    levels = {s.level for s in summaries}
    if len(levels) != 1:
        raise ValueError(f"summaries mix confidence levels {sorted(levels)}: plot one level")
    return levels.pop()


def plot_metric_vs(
    x: Sequence[float],
    summaries: Sequence[Summary],
    *,
    xlabel: str,
    ylabel: str,
    theory: Sequence[float] | None = None,
    theory_label: str = "Erlang C",
    ax: Axes | None = None,
    label: str | None = None,
    percent: bool = False,
) -> Figure:
    """One metric against one lever (e.g. SLA attainment against SDR headcount).

    What a budget reviewer sees: the simulated mean at each option as a line with markers,
    a shaded band for its confidence interval (how sure the simulation is: options whose
    bands do not overlap are clearly different), and, when given, the theory value as a
    dashed line to check the model against. Axis labels should carry units, e.g.
    ``"mean wait to first touch (hours)"``; ``percent=True`` shows a share (0..1) as %.

    ``summaries[i]`` is the metric at ``x[i]`` (``Replications.summary()[name]`` of that option);
    ``theory[i]``, if given, is the reference value there. Call again with the same ``ax``
    and another ``label`` to compare scenarios on one chart.
    """
    if len(summaries) != len(x):
        raise ValueError(f"{len(x)} x values but {len(summaries)} summaries")
    if theory is not None and len(theory) != len(x):
        raise ValueError(f"{len(x)} x values but {len(theory)} theory values")
    if not summaries:
        raise ValueError("nothing to plot: no summaries")
    level = _ci_level(summaries)
    fig, ax = _figure_and_axes(ax)

    xs = list(x)
    name = label or "simulated mean"
    (line,) = ax.plot(xs, [s.mean for s in summaries], marker="o", label=name, zorder=3)
    ax.fill_between(
        xs,
        [s.ci_low for s in summaries],
        [s.ci_high for s in summaries],
        color=line.get_color(),
        alpha=CI_ALPHA,
        linewidth=0,
        label=f"{level * 100:g}% CI" if label is None else f"{label}: {level * 100:g}% CI",
        zorder=2,
    )
    if theory is not None:
        ax.plot(
            xs,
            list(theory),
            linestyle="--",
            color=THEORY_COLOR,
            linewidth=1.2,
            label=theory_label,
            zorder=4,
        )
    _style(
        ax,
        xlabel=xlabel,
        ylabel=ylabel,
        percent=percent,
        integer_x=all(float(v).is_integer() for v in xs),
    )
    return fig


def plot_relative_differences(
    differences: dict[str, Summary],
    baselines: dict[str, float],
    *,
    title: str,
    ax: Axes | None = None,
) -> Figure:
    """How a plan moves each key metric, as a share of the baseline's value: a forest plot.

    One row per metric: the paired difference's mean as a dot and its confidence interval
    as a bar, both divided by the baseline's mean so that leads, money and ratios share one
    axis. A bar clear of the zero line is a change the simulation is sure of. Metrics whose
    baseline mean is zero or undefined are left out (a share of nothing means nothing).
    """
    rows = [
        (name, diff, baselines[name])
        for name, diff in differences.items()
        if math.isfinite(baselines.get(name, math.nan)) and baselines[name] != 0
    ]
    if not rows:
        raise ValueError("nothing to plot: no metric with a non-zero baseline")
    level = _ci_level([d for _, d, _ in rows])
    if ax is None:
        fig = Figure(figsize=(FIGSIZE[0] * 1.25, FIGSIZE[1]), layout="constrained")
        ax = fig.add_subplot()
    fig, ax = _figure_and_axes(ax)
    ys = list(range(len(rows)))[::-1]
    for y, (_, diff, base) in zip(ys, rows, strict=True):
        scale = 1 / abs(base)
        color = "C0" if excludes_zero(diff) else "0.55"
        ax.plot([diff.ci_low * scale, diff.ci_high * scale], [y, y], color=color, linewidth=2.5)
        ax.plot([diff.mean * scale], [y], marker="o", color=color, zorder=3)
    ax.axvline(0, color=THEORY_COLOR, linewidth=1)
    ax.set_yticks(ys, [name for name, _, _ in rows])
    ax.set_title(f"{title}\n(grey: the {level * 100:g}% interval includes no change)")
    _style(
        ax,
        xlabel=f"change, % of the baseline's mean ({level * 100:g}% CI)",
        ylabel="",
        percent=False,
        integer_x=False,
    )
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    return fig


def plot_options(
    labels: Sequence[str],
    summaries: Sequence[Summary],
    *,
    ylabel: str,
    title: str,
    ax: Axes | None = None,
    percent: bool = False,
) -> Figure:
    """One metric across named options (a study's points): a dot and its interval for each.

    Options are categories, not a scale, so nothing joins them; the first is drawn as the
    reference line the others are read against.
    """
    if len(labels) != len(summaries) or not summaries:
        raise ValueError(f"{len(labels)} labels but {len(summaries)} summaries")
    level = _ci_level(summaries)
    if ax is None:
        fig = Figure(figsize=(FIGSIZE[0] * 1.25, FIGSIZE[1] * 1.1), layout="constrained")
        ax = fig.add_subplot()
    fig, ax = _figure_and_axes(ax)
    xs = list(range(len(labels)))
    means = [s.mean for s in summaries]
    ax.errorbar(
        xs,
        means,
        yerr=_error_bars(summaries),
        fmt="o",
        capsize=4,
        zorder=3,
        label=f"mean and {level * 100:g}% CI",
    )
    ax.axhline(means[0], color=THEORY_COLOR, linestyle="--", linewidth=1, label=labels[0])
    ax.set_xticks(xs, list(labels), rotation=30, ha="right")
    ax.set_title(title)
    _style(ax, xlabel="", ylabel=ylabel, percent=percent, integer_x=False)
    return fig


def plot_history(
    numbers: Sequence[int],
    values: Sequence[float],
    feasible: Sequence[bool],
    *,
    best: tuple[int, Summary],
    maximize: bool,
    ylabel: str,
    title: str,
    percent: bool = False,
    ax: Axes | None = None,
) -> Figure:
    """An optimisation's history: each simulated trial's objective (a dot when it met the
    constraints, a grey cross when not), the best feasible value so far as a step line, and
    the chosen plan's confirmed mean with its confidence interval."""
    fig, ax = _figure_and_axes(ax)
    ok = [(n, v) for n, v, f in zip(numbers, values, feasible, strict=True) if f]
    bad = [(n, v) for n, v, f in zip(numbers, values, feasible, strict=True) if not f]
    if bad:
        ax.scatter([n for n, _ in bad], [v for _, v in bad], marker="x", color="0.6",
                   label="broke a constraint")  # fmt: skip
    if ok:
        ax.scatter([n for n, _ in ok], [v for _, v in ok], color="C0", s=18,
                   label="met the constraints")  # fmt: skip
        xs, ys, so_far = [], [], -math.inf if maximize else math.inf
        for n, v in sorted(ok):
            so_far = max(so_far, v) if maximize else min(so_far, v)
            xs.append(n)
            ys.append(so_far)
        xs.append(max(numbers))
        ys.append(so_far)
        ax.step(xs, ys, where="post", color="C1", label="best so far")
    number, summary = best
    ax.errorbar([number], [summary.mean], yerr=_error_bars([summary]), fmt="*", color="C3",
                markersize=12, capsize=4,
                label=f"chosen, confirmed ({summary.level * 100:g}% CI)")  # fmt: skip
    ax.set_title(title)
    _style(ax, xlabel="trial", ylabel=ylabel, percent=percent, integer_x=True)
    return fig


def plot_pareto(
    trials: Sequence[tuple[float, float]],
    front: Sequence[tuple[Summary, Summary]],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    ax: Axes | None = None,
) -> Figure:
    """Two objectives: every feasible trial (grey) and the confirmed Pareto front, each plan
    with its confidence interval on both axes, joined in order of the first objective."""
    fig, ax = _figure_and_axes(ax)
    if trials:
        ax.scatter([x for x, _ in trials], [y for _, y in trials], color="0.7", s=14,
                   label="feasible trials")  # fmt: skip
    xs = [x.mean for x, _ in front]
    ys = [y.mean for _, y in front]
    ax.errorbar(
        xs, ys,
        xerr=_error_bars([x for x, _ in front]),
        yerr=_error_bars([y for _, y in front]),
        fmt="o-", color="C0", capsize=3,
        label=f"Pareto front, confirmed ({_ci_level([x for x, _ in front]) * 100:g}% CI)",
    )  # fmt: skip
    ax.set_title(title)
    _style(ax, xlabel=xlabel, ylabel=ylabel, percent=False, integer_x=False)
    return fig


def plot_sensitivity(
    parameters: dict[str, dict[str, float | str | None]],
    *,
    title: str,
    most: int = 15,
    ax: Axes | None = None,
) -> Figure:
    """Which inputs decide: the ``most`` decisive inputs, most decisive on top.

    With Sobol indices, each input's total index ST as a bar with its 95% interval (first-order
    S1 as a dot); with Morris alone, mu* with its interval; for a tornado, the metric at the
    input's low end and at its high end, as a bar between them.
    """

    def figure(path: str, key: str) -> float:
        value = parameters[path].get(key)
        return float(value) if isinstance(value, int | float) else math.nan

    kind = next(
        (k for k in ("ST", "mu_star", "metric_at_low") if any(
            math.isfinite(figure(p, k)) for p in parameters)), None,
    )  # fmt: skip
    if kind is None:
        raise ValueError("nothing to plot: no sensitivity figure")
    if kind == "metric_at_low":

        def weight(p: str) -> float:
            return abs(figure(p, "metric_at_high") - figure(p, "metric_at_low"))
    else:

        def weight(p: str) -> float:
            return figure(p, kind)

    shown = [p for p in sorted(parameters, key=weight, reverse=True) if math.isfinite(weight(p))]
    shown = shown[:most]
    if ax is None:
        fig = Figure(figsize=(FIGSIZE[0] * 1.4, max(FIGSIZE[1], 0.35 * len(shown) + 1.5)),
                     layout="constrained")  # fmt: skip
        ax = fig.add_subplot()
    fig, ax = _figure_and_axes(ax)
    ys = list(range(len(shown)))[::-1]
    for y, path in zip(ys, shown, strict=True):
        if kind == "metric_at_low":
            low, high = figure(path, "metric_at_low"), figure(path, "metric_at_high")
            ax.plot([low, high], [y, y], color="C0", linewidth=6, solid_capstyle="butt")
            ax.plot([low], [y], marker="|", color="0.2", markersize=12)
            continue
        conf = "ST_conf" if kind == "ST" else "mu_star_conf"
        value, half = figure(path, kind), figure(path, conf)
        ax.barh([y], [value], color="C0", alpha=0.8, height=0.6)
        if math.isfinite(half):
            ax.plot([value - half, value + half], [y, y], color="0.2", linewidth=1.5)
        if kind == "ST" and math.isfinite(figure(path, "S1")):
            ax.plot([figure(path, "S1")], [y], marker="o", color="C1", zorder=3)
    ax.set_yticks(ys, shown)
    ax.set_title(title)
    xlabel = {
        "ST": "total Sobol index ST (bar, 95% CI); first-order S1 (dot)",
        "mu_star": "Morris mu* (mean absolute elementary effect, 95% CI)",
        "metric_at_low": "the metric with the input at its low end (|) and at its high end",
    }[kind]
    _style(ax, xlabel=xlabel, ylabel="", percent=False, integer_x=False)
    return fig


def plot_size(
    headcounts: Sequence[int],
    summaries: Sequence[Summary],
    *,
    target: float,
    chosen: int | None,
    xlabel: str,
    ylabel: str,
    title: str,
    theory: Sequence[float] | None = None,
    theory_label: str = "Erlang C",
    ax: Axes | None = None,
    percent: bool = False,
) -> Figure:
    """A metric against a team's headcount, and the smallest headcount that meets a target.

    Each simulated headcount is a dot with its confidence interval as an error bar (all on
    common random numbers, so neighbours are compared fairly); the target is a horizontal
    line, the chosen headcount a vertical one (none when no headcount meets the target);
    theory's figure, when given, a dashed line (nan where it has none).
    """
    if len(summaries) != len(headcounts) or not summaries:
        raise ValueError(f"{len(headcounts)} headcounts but {len(summaries)} summaries")
    if theory is not None and len(theory) != len(headcounts):
        raise ValueError(f"{len(headcounts)} headcounts but {len(theory)} theory values")
    level = _ci_level(summaries)
    fig, ax = _figure_and_axes(ax)
    order = sorted(range(len(headcounts)), key=lambda i: headcounts[i])
    xs = [headcounts[i] for i in order]
    shown = [summaries[i] for i in order]
    means = [s.mean for s in shown]
    ax.errorbar(
        xs,
        means,
        yerr=_error_bars(shown),
        fmt="o-",
        capsize=4,
        zorder=3,
        label=f"simulated mean and {level * 100:g}% CI",
    )
    if theory is not None:
        values = [theory[i] for i in order]
        ax.plot(xs, values, linestyle="--", color=THEORY_COLOR, linewidth=1.2, label=theory_label)
    said = f"{target * 100:g}%" if percent else f"{target:g}"
    ax.axhline(target, color="C3", linestyle=":", linewidth=1.5, label=f"target {said}")
    if chosen is not None:
        ax.axvline(chosen, color="C2", linewidth=1.5, alpha=0.8, label=f"chosen: {chosen}")
    ax.set_title(title)
    _style(ax, xlabel=xlabel, ylabel=ylabel, percent=percent, integer_x=True)
    return fig


# -- the back-test: data against the simulation's band ----------------------------------------
DATA_COLOR = "C3"  # the planner's own records
SIM_COLOR = "C0"  # the simulation


def _band(ax: Axes, curve: Curve, *, step: bool = False) -> None:
    """The simulation's mean and 2.5-97.5% range of the replications, and the data, on one axes
    (``step``: a curve that changes at its points, as a survival curve does)."""
    x = list(curve.x)
    label = "simulated, 2.5-97.5% of runs"
    if step:
        ax.fill_between(x, curve.p025, curve.p975, color=SIM_COLOR, alpha=CI_ALPHA,
                        linewidth=0, label=label, step="post")  # fmt: skip
        ax.step(x, curve.mean, where="post", color=SIM_COLOR, linewidth=1.2,
                label="simulated mean")  # fmt: skip
        ax.step(x, curve.data, where="post", color=DATA_COLOR, linewidth=1.4, label="data")
        return
    ax.fill_between(x, curve.p025, curve.p975, color=SIM_COLOR, alpha=CI_ALPHA, linewidth=0,
                    label=label)  # fmt: skip
    ax.plot(x, curve.mean, color=SIM_COLOR, linewidth=1.2, label="simulated mean")
    ax.plot(x, curve.data, color=DATA_COLOR, linewidth=1.4, label="data")


def plot_backtest_weekly(
    weekly: Mapping[str, Curve], labels: Mapping[str, str], *, start: str
) -> Figure:
    """Weekly volumes by stage, one panel each, funnel order: the CRM's counts (red) against
    the simulation's band over the same weeks (blue: the replications' 2.5-97.5% range and
    mean). A data line leaving the band for weeks on end is a rate or a volume the scenario
    gets wrong; a line along its middle is a funnel reproduced."""
    if not weekly:
        raise ValueError("nothing to plot: no weekly volumes")
    fig = Figure(figsize=(FIGSIZE[0] * 1.25, 2.0 * len(weekly)), layout="constrained")
    axes = fig.subplots(len(weekly), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (stage, curve) in zip(axes, weekly.items(), strict=True):
        _band(ax, curve)
        ax.set_ylim(bottom=0)
        _style(ax, xlabel="", ylabel=labels.get(stage, stage), percent=False, integer_x=True)
        if ax is not axes[0] and ax.get_legend() is not None:
            ax.get_legend().remove()
    axes[-1].set_xlabel(f"week of the period (week 0 starts {start})")
    return fig


def plot_backtest_forest(
    rows: Sequence[tuple[str, Comparison]], *, xlabel: str, title: str, percent: bool = False
) -> Figure:
    """Quantities of the data against the simulation, a forest plot: per row the simulation's
    band (the 95% prediction interval for one run, a light bar; its mean, a tick) and the
    data's estimate with its 95% CI (a dot, red when it lies outside the band)."""
    if not rows:
        raise ValueError("nothing to plot: no quantities")
    fig = Figure(figsize=(FIGSIZE[0] * 1.3, 1.0 + 0.28 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    ys = list(range(len(rows)))[::-1]
    for y, (_, c) in zip(ys, rows, strict=True):
        band = c.simulated
        ax.plot([band.low, band.high], [y, y], color=SIM_COLOR, alpha=0.35, linewidth=7,
                solid_capstyle="butt")  # fmt: skip
        ax.plot([band.mean], [y], marker="|", color=SIM_COLOR, markersize=12)
        color = "0.15" if c.inside else DATA_COLOR
        ax.plot([c.data.ci_low, c.data.ci_high], [y, y], color=color, linewidth=1.2)
        ax.plot([c.data.estimate], [y], marker="o", color=color, zorder=3)
    ax.set_yticks(ys, [name for name, _ in rows])
    ax.set_title(f"{title}\n(bar: simulated 95% band for one run; dot: data with its 95% CI, "
                 "red when outside)")  # fmt: skip
    _style(ax, xlabel=xlabel, ylabel="", percent=False, integer_x=False)
    if percent:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    return fig


def plot_backtest_survival(curves: Mapping[str, Curve], labels: Mapping[str, str]) -> Figure:
    """Time in stage: the share of records still in each stage after so many days (Kaplan-
    Meier; deals still open at the export censored), the data's curve against the
    simulation's band, one panel per stage."""
    if not curves:
        raise ValueError("nothing to plot: no time-in-stage curves")
    fig = Figure(figsize=(FIGSIZE[0] * 1.25, 2.4 * len(curves)), layout="constrained")
    axes = fig.subplots(len(curves), 1, squeeze=False)[:, 0]
    for ax, (stage, curve) in zip(axes, curves.items(), strict=True):
        _band(ax, curve, step=True)
        ax.set_ylim(0, 1.02)
        ax.set_title(labels.get(stage, stage), fontsize="medium")
        _style(ax, xlabel="days in the stage", ylabel="still in the stage", percent=True,
               integer_x=False)  # fmt: skip
        if ax is not axes[0] and ax.get_legend() is not None:
            ax.get_legend().remove()
    return fig


def plot_backtest_decay(curve: Curve) -> Figure:
    """Speed to lead: a lead's chance of becoming an SQL after so many hours' wait for its first
    touch, relative to an immediate touch (isotonic, as the calibration fits it), the data's
    curve against the simulation's band."""
    fig, ax = _figure_and_axes(None)
    _band(ax, curve)
    ax.plot(curve.x, curve.data, linestyle="none", marker="o", color=DATA_COLOR, markersize=3)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)
    _style(ax, xlabel="hours waited for the first touch (log scale beyond 1 h)",
           ylabel="chance of SQL relative to an immediate touch", percent=False,
           integer_x=False)  # fmt: skip
    return fig


# -- the budget review: funnel, speed to lead, rep time, new ARR by quarter -------------------
# Plans arrive by name, as people wrote them: every name is drawn as plain text (chart_text),
# never as mathtext; pass names as they are, not escaped.
INBOUND_COLOR = "C0"
OUTBOUND_COLOR = "C1"
UNSPLIT_COLOR = "0.6"
# the funnel's stages, top to bottom: (metric, its inbound part, its outbound part, name);
# MQLs are inbound by definition, opportunities are not split by where the lead came from
FUNNEL_STAGES = (
    ("leads", "leads_inbound", "leads_outbound", "leads"),
    ("mqls", "mqls", None, "MQLs"),
    ("sqls", "sqls_inbound", "sqls_outbound", "SQLs"),
    ("opportunities", None, None, "opportunities"),
    ("deals_won", "deals_won_inbound", "deals_won_outbound", "deals won"),
)
# each stage's conversion from the one above, as ratios of the period's volumes:
# (numerator, denominator, what it is a share of); SQLs say it for inbound and outbound
FUNNEL_CONVERSIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "mqls": (("mqls", "leads_inbound", "of inbound leads"),),
    "sqls": (
        ("sqls_inbound", "mqls", "of MQLs (inbound)"),
        ("sqls_outbound", "leads_outbound", "of outbound leads"),
    ),
    "opportunities": (("opportunities", "sqls", "of SQLs"),),
    "deals_won": (("deals_won", "opportunities", "of opportunities"),),
}
REP_TIME = {  # the time shares of funnelsim.breakdown, in the order drawn: (name, colour)
    "time_inbound_follow_up": ("inbound follow-up", "C0"),
    "time_qualification": ("qualification", "C2"),
    "time_prospecting": ("outbound prospecting", "C1"),
    "time_ae_stages": ("AE opportunity stages", "C4"),
    "time_idle": ("idle", "0.82"),
}
TEAM_NAMES = {"sdr": "SDRs", "ae": "AEs"}


def _mean(summaries: Mapping[str, Summary], metric: str | None) -> float:
    s = summaries.get(metric) if metric is not None else None
    return s.mean if s is not None else math.nan


def _fraction(part: float, whole: float) -> float:
    return part / whole if math.isfinite(part) and math.isfinite(whole) and whole > 0 else math.nan


def _end(s: Summary) -> float:
    """Where a bar with its error bar ends."""
    return max(s.mean, s.ci_high) if math.isfinite(s.ci_high) else s.mean


def _percent_text(share: float) -> str:
    """A share as a percentage: whole above 10%, one decimal below."""
    return f"{share * 100:.0f}%" if share >= 0.1 else f"{share * 100:.1f}%"


def plot_funnel(plans: Mapping[str, Mapping[str, Summary]]) -> Figure:
    """The funnel of each plan over the measured period: leads, MQLs, SQLs, opportunities and
    deals won, one panel per plan on one shared axis, so that plans compare bar for bar.

    ``plans`` maps each plan's name to its metrics (``Replications.summary()``, or summary.csv's
    rows as ``report.summary_of``); each stage needs its total (``leads``, ``mqls``, ``sqls``,
    ``opportunities``, ``deals_won``) and is split into inbound and outbound
    (``leads_inbound``, ...) where both parts are given. Each bar is the stage's mean volume,
    stacked inbound then outbound (MQLs are inbound; opportunities are not split), with the
    total's confidence interval as an error bar. Beside it: the volume, ``mean ± half-width``,
    and its ratio to the stage above (of the period's mean volumes, not a cohort rate; SQLs
    against MQLs for inbound and against outbound leads for outbound).
    """
    if not plans:
        raise ValueError("nothing to plot: no plans")
    from funnelsim.formatting import cell, chart_text

    totals = [
        s for summaries in plans.values() for stage, *_ in FUNNEL_STAGES
        if (s := summaries.get(stage)) is not None
    ]  # fmt: skip
    if not totals or all(not math.isfinite(s.mean) for s in totals):
        raise ValueError("nothing to plot: no funnel stage (leads, mqls, ...) in any plan")
    level = _ci_level(totals)
    widest = max(_end(s) for s in totals if math.isfinite(s.mean))
    fig = Figure(figsize=(FIGSIZE[0] * 1.5, 0.9 + 1.75 * len(plans)), layout="constrained")
    right = widest  # the axis' end: room for the longest bar and each figure beside its bar
    axes = fig.subplots(len(plans), 1, sharex=True, squeeze=False)[:, 0]
    ys = list(range(len(FUNNEL_STAGES)))[::-1]  # leads on top
    for ax, (name, summaries) in zip(axes, plans.items(), strict=True):
        for y, (stage, inbound, outbound, _) in zip(ys, FUNNEL_STAGES, strict=True):
            total = summaries.get(stage)
            if total is None or not math.isfinite(total.mean):
                continue
            part_in, part_out = _mean(summaries, inbound), _mean(summaries, outbound)
            if outbound is None and math.isfinite(part_in):  # inbound by definition
                ax.barh([y], [total.mean], color=INBOUND_COLOR, height=0.6)
            elif math.isfinite(part_in) and math.isfinite(part_out):
                ax.barh([y], [part_in], color=INBOUND_COLOR, height=0.6)
                ax.barh([y], [part_out], left=[part_in], color=OUTBOUND_COLOR, height=0.6)
            else:
                ax.barh([y], [total.mean], color=UNSPLIT_COLOR, height=0.6)
            ax.errorbar([total.mean], [y], xerr=_error_bars([total]), fmt="none",
                        ecolor="0.15", capsize=3, linewidth=1)  # fmt: skip
            ratios = [
                f"{_percent_text(r)} {said}"
                for top, bottom, said in FUNNEL_CONVERSIONS.get(stage, ())
                if math.isfinite(r := _fraction(_mean(summaries, top), _mean(summaries, bottom)))
            ]
            text = "  ·  ".join([cell(total), *ratios])
            ax.text(_end(total) + widest * 0.015, y, text, va="center", fontsize="small",
                    color="0.1")  # fmt: skip
            # a character of the text is about 0.8% of the axes' width
            right = max(right, _end(total) / max(1 - 0.008 * len(text) - 0.03, 0.2))
        ax.set_yticks(ys, [label for *_, label in FUNNEL_STAGES])
        ax.set_title(chart_text(name), loc="left", fontsize="medium", fontweight="bold")
        _style(ax, xlabel="", ylabel="", percent=False, integer_x=False)
        ax.grid(False, axis="y")
    axes[0].set_xlim(0, right)  # shared by every panel
    axes[-1].set_xlabel("volume in the measured period (leads, MQLs, SQLs, opportunities, deals)")
    axes[-1].xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    handles = [
        Patch(color=INBOUND_COLOR, label="inbound"),
        Patch(color=OUTBOUND_COLOR, label="outbound"),
        Patch(color=UNSPLIT_COLOR, label="not split"),
        Line2D([], [], color="0.15", marker="|", markersize=8, linewidth=1,
               label=f"{level * 100:g}% CI of the total"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside upper center", ncols=4, frameon=False)
    fig.supxlabel("Beside each bar: the mean ± the half-width of its CI, and its ratio to the "
                  "stage above (of the period's volumes, not a cohort rate).",
                  fontsize="x-small", color="0.35")  # fmt: skip
    return fig


def sla_position(hours: float) -> float:
    """Where ``hours`` of wait falls on the wait bands' axis (band ``i`` spans ``i - 0.5`` to
    ``i + 0.5``, ``WAIT_EDGES_H``), linear within its band; the open last band gets its first
    half."""
    from funnelsim.breakdown import WAIT_EDGES_H

    for i, (low, high) in enumerate(itertools.pairwise(WAIT_EDGES_H)):
        if hours < high:
            width = (high - low) if math.isfinite(high) else 2 * low
            return i - 0.5 + min(max((hours - low) / width, 0.0), 1.0)
    return len(WAIT_EDGES_H) - 2.0


def plot_wait_distribution(
    plans: Mapping[str, Sequence[tuple[str, Summary]]],
    sla_hours: Mapping[str, float | None],
    *,
    sla_labels: Mapping[str, str] | None = None,
) -> Figure:
    """How long leads waited for their first touch: for each plan, the share of its first
    touches in each wait band (``funnelsim.breakdown.WAIT_LABELS``), with its confidence
    interval; and each plan's first-touch SLA as a dashed line where its length falls.

    ``plans`` maps each plan's name to its bands in order, ``(band, share)``
    (``analysis.wait_shares``). ``sla_hours`` holds each plan's SLA in hours (``None``, or
    missing: none drawn); ``sla_labels`` how to say it (``breakdown.first_touch_sla``: "4
    business hours"; default "4h"). Waits are calendar time: a business-hours SLA is drawn
    at its length in working hours, and a lead handed off at night may meet it while waiting
    longer. Plans with the same SLA share one line.
    """
    from funnelsim.breakdown import WAIT_LABELS
    from funnelsim.formatting import chart_text

    if not plans:
        raise ValueError("nothing to plot: no plans")
    for name, bands in plans.items():
        if tuple(band for band, _ in bands) != WAIT_LABELS:
            raise ValueError(
                f"plan {name!r}: expected the wait bands {', '.join(WAIT_LABELS)} in order"
            )
    level = _ci_level([s for bands in plans.values() for _, s in bands])
    fig = Figure(figsize=(FIGSIZE[0] * 1.35, FIGSIZE[1] * 1.1), layout="constrained")
    ax = fig.add_subplot()
    xs = list(range(len(WAIT_LABELS)))
    width = 0.8 / len(plans)
    colors = {name: f"C{i % 10}" for i, name in enumerate(plans)}
    for i, (name, bands) in enumerate(plans.items()):
        shares = [s for _, s in bands]
        offset = (i - (len(plans) - 1) / 2) * width
        ax.bar([x + offset for x in xs], [s.mean for s in shares], width=width * 0.95,
               color=colors[name], label=chart_text(name))  # fmt: skip
        ax.errorbar([x + offset for x in xs], [s.mean for s in shares],
                    yerr=_error_bars(shares), fmt="none", ecolor="0.15", capsize=2,
                    linewidth=0.9)  # fmt: skip
    # one line per distinct SLA, naming its plans when they do not all share it
    lines: dict[tuple[float, str], list[str]] = {}
    for name in plans:
        hours = sla_hours.get(name)
        if hours is not None and math.isfinite(hours) and hours > 0:
            said = (sla_labels or {}).get(name) or f"{hours:g}h"
            lines.setdefault((hours, said), []).append(name)
    styles = ("--", ":", "-.")
    for k, ((hours, said), names) in enumerate(lines.items()):
        who = "" if len(names) == len(plans) else f" ({', '.join(names)})"
        color = THEORY_COLOR if len(names) != 1 or len(plans) == 1 else colors[names[0]]
        ax.axvline(sla_position(hours), color=color, linestyle=styles[k % len(styles)],
                   linewidth=1.4, label=chart_text(f"first-touch SLA: {said}{who}"))  # fmt: skip
    ax.set_xticks(xs, list(WAIT_LABELS))
    ax.set_ylim(bottom=0)
    ax.set_title("Time to first touch: share of the period's first touches in each wait band")
    _style(ax, xlabel="wait from handoff to first touch (calendar time)",
           ylabel=f"share of first-touched leads (mean, {level * 100:g}% CI)", percent=True,
           integer_x=False)  # fmt: skip
    ax.grid(False, axis="x")
    _legend_below(fig, ax)
    return fig


def _legend_below(fig: Figure, ax: Axes) -> None:
    """The axes' legend under the figure, where no name, however long, covers a bar."""
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(handles)), key=lambda i: isinstance(handles[i], Line2D))  # bars first
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    if (legend := ax.get_legend()) is not None:
        legend.remove()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 2),
               frameon=False)  # fmt: skip


def plot_rep_time(plans: Mapping[str, Mapping[str, Mapping[str, Summary]]]) -> Figure:
    """Where each team's working hours go: for each plan and team, one 100% bar of the shares
    of its available hours spent on inbound follow-up, qualification, outbound prospecting,
    AE opportunity stages, and idle (``funnelsim.breakdown.TIME_SHARES``), one panel per plan.

    ``plans`` maps each plan's name to its teams (``sdr``, ``ae``, ...), each to its metrics
    (breakdown.csv's ``team`` rows, or ``Replications.breakdown()``); a team without the shares
    (a results folder written before them) is left out. Each segment is labelled with its
    mean share (and the half-width of its CI where it fits); the error bar at the end of the
    worked hours is the CI of utilisation.
    """
    from funnelsim.formatting import chart_text

    rows = {
        name: [(team, figures) for team, figures in teams.items()
               if all(m in figures and math.isfinite(figures[m].mean) for m in REP_TIME)]
        for name, teams in plans.items()
    }  # fmt: skip
    rows = {name: teams for name, teams in rows.items() if teams}
    if not rows:
        raise ValueError("nothing to plot: no team with its time shares (time_idle, ...)")
    level = _ci_level([f[m] for teams in rows.values() for _, f in teams for m in REP_TIME])
    heights = [0.55 * len(teams) + 0.5 for teams in rows.values()]
    fig = Figure(figsize=(FIGSIZE[0] * 1.35, 0.9 + sum(heights)), layout="constrained")
    axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False,
                        height_ratios=heights)[:, 0]  # fmt: skip
    for ax, (name, teams) in zip(axes, rows.items(), strict=True):
        ys = list(range(len(teams)))[::-1]
        for y, (_, figures) in zip(ys, teams, strict=True):
            left = 0.0
            for metric, (_, color) in REP_TIME.items():
                share = figures[metric]
                ax.barh([y], [share.mean], left=[left], color=color, height=0.62)
                if share.mean >= 0.05:
                    text = _percent_text(share.mean)
                    if share.mean >= 0.16 and math.isfinite(share.half_width):
                        text = f"{share.mean * 100:.0f} ± {share.half_width * 100:.0f}%"
                    dark = metric != "time_idle"
                    ax.text(left + share.mean / 2, y, text, ha="center", va="center",
                            fontsize="small", color="white" if dark else "0.1")  # fmt: skip
                left += share.mean
            idle = figures["time_idle"]  # under the bar, clear of its labels
            ax.errorbar([1 - idle.mean], [y - 0.41], xerr=[[idle.ci_high - idle.mean],
                        [idle.mean - idle.ci_low]], fmt="|", color="0.1", markersize=6,
                        capsize=3, linewidth=1)  # fmt: skip
        ax.set_yticks(ys, [chart_text(TEAM_NAMES.get(team, team)) for team, _ in teams])
        ax.set_ylim(-0.55, len(teams) - 0.45)
        ax.set_title(chart_text(name), loc="left", fontsize="medium", fontweight="bold")
        _style(ax, xlabel="", ylabel="", percent=False, integer_x=False)
        ax.grid(False, axis="y")
        ax.set_xlim(0, 1)
    axes[-1].set_xlabel("share of the team's available working hours in the measured period")
    axes[-1].xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    handles: list[Artist] = [Patch(color=color, label=label) for label, color in REP_TIME.values()]
    handles.append(Line2D([], [], color="0.1", marker="|", markersize=8, linewidth=1,
                          label=f"utilisation, {level * 100:g}% CI"))  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig


def money_text(x: float, sign: str = "$") -> str:
    """An amount on a chart's axis: $1.25M, $850k, $0 (``sign`` drawn as plain text)."""
    from funnelsim.formatting import chart_text, money

    return chart_text(money(x, sign)) if math.isfinite(x) else ""


def plot_arr_by_quarter(weekly: pd.DataFrame, *, currency_sign: str = "$") -> Figure:
    """New ARR booked in each quarter of the measured period (weeks 1-13, 14-26, ...), per plan:
    grouped bars of the mean over replications with their confidence intervals. A last quarter
    the period ends inside is labelled partial, with its weeks, and drawn hatched: it is not a
    full quarter's ARR.

    ``weekly`` is a results folder's weekly table (``results.load(DIR).weekly``: ``scenario``,
    ``replication``, ``week``, ``new_arr``); each replication's weeks are summed per quarter,
    then summarised over replications (``analysis.quarterly_new_arr``).
    """
    from funnelsim.analysis import QUARTER_WEEKS, quarterly_new_arr
    from funnelsim.formatting import chart_text

    plans = quarterly_new_arr(weekly)
    if not plans:
        raise ValueError("nothing to plot: no weekly new ARR")
    level = _ci_level([s for quarters in plans.values() for _, s in quarters])
    count = max(len(quarters) for quarters in plans.values())
    weeks = [max((q[i][0] for q in plans.values() if i < len(q)), default=0) for i in range(count)]
    fig = Figure(figsize=(FIGSIZE[0] * 1.25, FIGSIZE[1] * 1.1), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(plans)
    for i, (name, quarters) in enumerate(plans.items()):
        offset = (i - (len(plans) - 1) / 2) * width
        xs = [q + offset for q in range(len(quarters))]
        summaries = [s for _, s in quarters]
        partial = [n < QUARTER_WEEKS for n, _ in quarters]
        bars = ax.bar(xs, [s.mean for s in summaries], width=width * 0.95, color=f"C{i % 10}",
                      label=chart_text(name))  # fmt: skip
        for bar, short in zip(bars, partial, strict=True):
            if short:
                bar.set_alpha(0.55)
                bar.set_hatch("//")
        ax.errorbar(xs, [s.mean for s in summaries], yerr=_error_bars(summaries), fmt="none",
                    ecolor="0.15", capsize=3, linewidth=1)  # fmt: skip
    labels = []
    for q, n in enumerate(weeks):
        first = q * QUARTER_WEEKS + 1
        span = f"weeks {first}-{first + n - 1}" if n > 1 else f"week {first}"
        labels.append(f"Q{q + 1}\n{span}" if n >= QUARTER_WEEKS else f"Q{q + 1} (partial)\n{span}")
    ax.set_xticks(list(range(count)), labels)
    ax.axhline(0, color="0.3", linewidth=0.8)
    runs = max(s.n for quarters in plans.values() for _, s in quarters)
    ax.set_title(f"New ARR by quarter of the measured period: mean and {level * 100:g}% CI "
                 f"over {runs} replications", fontsize="medium")  # fmt: skip
    _style(ax, xlabel="quarter of the measured period (13 weeks each)",
           ylabel="new ARR booked in the quarter", percent=False, integer_x=False)  # fmt: skip
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: money_text(x, currency_sign)))
    ax.grid(False, axis="x")
    _legend_below(fig, ax)
    return fig
