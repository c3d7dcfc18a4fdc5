"""Charts for budget reviews: what a planner puts on a slide next to a headcount ask.

Every plot function takes ``ax=None`` and returns the Figure; it never computes statistics.
Means, confidence intervals and theory values arrive already computed (a
``funnelsim.analysis.Summary`` per point, floats from ``funnelsim.theory``), so a chart shows
exactly the numbers printed in the tables beside it.

Figures are built on ``matplotlib.figure.Figure`` directly, without pyplot, so they render
headless (CI, reports) and never pick a GUI backend. Save one with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from funnelsim.analysis import Summary

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

    ``summaries[i]`` is the metric at ``x[i]`` (``Batch.summary()[name]`` of that option);
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
