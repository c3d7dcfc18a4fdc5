"""The budget review: a results folder as one self-contained HTML page, and the same as a PDF.

The people in a budget review will not open a Markdown file or read forty metrics. They want
the decision in one sentence, how sure it is, what the plans change, and where each number
comes from. This module reads a results folder (``run``, ``compare``, ``study``, the same with
``--uncertainty``) into a
:class:`Review`, the page's content as plain data, and renders it:

- ``report.html``: one file, charts embedded as SVG, no script, no request beyond the file;
  everything a person wrote (scenario names, descriptions, sources) is escaped by the
  template engine (Jinja2 with autoescaping);
- ``report.pdf``: the same HTML paginated for print and slides (A4 landscape) by WeasyPrint.

Every figure on the page is computed here from the folder's replications; the headline's
words follow from the same numbers (a difference is called a gain only when its 95% interval
excludes zero).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from funnelsim import charts, uncertainty
from funnelsim.analysis import Summary, excludes_zero, summarise
from funnelsim.errors import FunnelsimError
from funnelsim.formatting import NOT_AVAILABLE, cell, chart_text, currency_sign, money, number
from funnelsim.metrics import METRICS
from funnelsim.results import Results, load
from funnelsim.scenario.schema import Scenario

KEY_METRICS = (
    "sqls",
    "deals_won",
    "new_arr",
    "total_cost",
    "cost_per_sql",
    "cac_ratio",
    "cac_payback_months",
    "ltv_to_cac",
    "sla_first_touch_attainment",
    "sdr_utilization",
)
WEEKLY = {  # weekly series column -> axis label, shown as a percentage
    "sqls": ("SQLs created per week (leads)", False),
    "queue_length_mean": ("leads waiting for a first touch (weekly mean)", False),
    "sdr_utilization": ("SDR utilisation (share of working hours)", True),
}
TEMPLATE = Path(__file__).parent / "templates" / "review.html.j2"
DECISION_METRICS = {  # metric -> its heading in the decision table
    "new_arr": "new ARR",
    "cac_ratio": "CAC ratio",
    "cac_payback_months": "CAC payback",
    "sla_first_touch_attainment": "SLA attainment",
}
INPUTS_SHOWN = 6  # the inputs that decide, most decisive first
DECIDES = 0.1  # an input decides when its false-discovery-adjusted q-value is below this
INPUT_HEADER = [
    "input",
    "rank correlation with the gain in new ARR",
    "q-value",
    "the verdict flips at",
]
INPUT_CAPTION = (
    "Across the draws, how each uncertain input moves the best plan's gain in new ARR over the "
    "baseline (Spearman's rank correlation of the input with the draw's gain), and where a "
    "straight line through the gains crosses zero, shown when that lies inside the input's "
    f"range and the input matters (q below {DECIDES:g}). The q-value is the correlation's p-value "
    "adjusted for the number of inputs tested (Benjamini-Hochberg): with a few draws and many "
    "inputs, some correlate by chance."
)


class ReportError(FunnelsimError):
    """The report cannot be written (the PDF engine's system libraries missing, say)."""


@dataclass(frozen=True)
class Plan:
    """One plan of the folder: its scenario (the first draw's, with ``--uncertainty``) and its
    outcomes, every metric as draws x replications on common random numbers."""

    name: str
    scenario: Scenario
    outcomes: dict[str, np.ndarray]
    draws: list[Scenario] = field(default_factory=list)  # every draw's scenario (uncertainty)

    def summary(self, metric: str) -> Summary:
        return outcome_summary(self.outcomes[metric])


def outcome_summary(values: np.ndarray, seed: int = 0) -> Summary:
    """The mean of outcomes (draws x replications) with its 95% interval: over replications
    alone, or, over draws of the uncertain inputs, the pigeonhole bootstrap that
    ``funnelsim.uncertainty.spread`` uses (draws and replications are crossed effects)."""
    if values.shape[0] < 2:
        return summarise(values.ravel())
    found = uncertainty.spread(values, seed)
    return Summary(found.mean, found.ci_low, found.ci_high, int(values.size))


@dataclass(frozen=True)
class Chart:
    title: str
    caption: str
    image: str  # a data: URI (SVG, or PNG for a chart another command drew)


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class Section:
    """A part of the review that another command's output brings (``report --with``)."""

    key: str  # the HTML id
    title: str
    paragraphs: list[str]
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


@dataclass
class Review:
    """What the page shows, as plain data (the template only lays it out)."""

    title: str
    headline: str
    facts: list[tuple[str, str]]
    plans: list[str]
    descriptions: list[tuple[str, str]]  # plans' names, and the description they share
    input_changes: list[list[str]]  # path, then each plan's value
    decision: dict[str, Any]
    key_metrics: list[list[str]]
    differences: list[list[tuple[str, bool]]]  # (text, interval excludes zero)
    charts: list[Chart]
    assumptions: list[list[str]]
    notes: list[str]
    sections: list[Section] = field(default_factory=list)


# -- reading the folder ---------------------------------------------------------------------
def plans_of(stored: Results) -> list[Plan]:
    """The folder's plans. An ``--uncertainty`` run stores one scenario per plan and draw, draw
    after draw; its plans are the manifest's, each with every draw's outcomes."""
    from funnelsim.scenario.load import load_scenario

    manifest = stored.manifest
    entries = manifest["scenarios"]
    names = manifest.get("uncertainty", {}).get("plans") or [e["name"] for e in entries]
    frame = stored.replications
    columns = [m for m in METRICS if m in frame.columns]
    plans = []
    for k, name in enumerate(names):
        mine = entries[k :: len(names)]
        rows = [frame[frame["scenario"] == e["name"]].sort_values("replication") for e in mine]
        outcomes = {m: np.array([r[m].to_numpy(dtype=float) for r in rows]) for m in columns}
        scenarios = [load_scenario(stored.folder / e["file"]) for e in mine]
        drawn = scenarios if "uncertainty" in manifest else []
        plans.append(Plan(name, scenarios[0], outcomes, drawn))
    return plans


# -- the numbers ----------------------------------------------------------------------------
def _cost(plan: Plan, kind: str) -> float:
    """The plan's mean cost of generating inbound or outbound leads (the metrics' attribution
    of costs to a kind of lead, funnelsim.metrics.Costs)."""
    per_lead = np.nan_to_num(plan.outcomes[f"cost_per_lead_{kind}"])
    return float(np.mean(per_lead * np.nan_to_num(plan.outcomes[f"leads_{kind}"])))


def _period(scenario: Scenario) -> tuple[str, float]:
    """The measured period in words, and its length in weeks."""
    weeks = scenario.horizon_hours / 168.0
    return (
        "a year" if abs(weeks - 52) < 1 else f"over the {weeks:.3g}-week measured period"
    ), weeks


def headline(plans: Sequence[Plan]) -> str:
    """The decision in one sentence: what the plan that adds most new ARR moves (between
    inbound and outbound), what it adds with its interval, and what happens to the SLA."""
    if not plans:
        return "The folder holds no plan."
    base = plans[0]
    sign = currency_sign(base.scenario.currency)
    period, _ = _period(base.scenario)
    sla = "sla_first_touch_attainment"
    if len(plans) == 1:
        won = base.summary("new_arr")
        return (
            f"{base.name} wins {money(won.mean, sign)} of new ARR {period} "
            f"(95% CI {money(won.ci_low, sign)} to {money(won.ci_high, sign)}); "
            f"first-touch SLA attainment {_share(base.summary(sla).mean)}."
        )
    best = _most_new_arr(plans)
    inbound = _cost(best, "inbound") - _cost(base, "inbound")
    outbound = _cost(best, "outbound") - _cost(base, "outbound")
    if inbound > 0 > outbound or inbound < 0 < outbound:
        moved = min(abs(inbound), abs(outbound))
        way = "from outbound to inbound" if inbound > 0 else "from inbound to outbound"
        lead = f"Moving {money(moved, sign)} {way} ({best.name} instead of {base.name})"
    else:
        lead = f"{best.name} instead of {base.name}"
    gain = outcome_summary(best.outcomes["new_arr"] - base.outcomes["new_arr"])
    interval = f"(95% CI {money(gain.ci_low, sign)} to {money(gain.ci_high, sign)})"
    if excludes_zero(gain):
        verb = "adds" if gain.mean > 0 else "loses"
        arr = f"{verb} {money(abs(gain.mean), sign)} of new ARR {period} {interval}"
    else:
        arr = (
            f"changes new ARR by {money(gain.mean, sign)} {period} {interval}, "
            "a difference these replications cannot tell from zero"
        )
    before, after = base.summary(sla).mean, best.summary(sla).mean
    move = "rises" if after > before else "drops" if after < before else "stays"
    return (
        f"{lead} {arr}; first-touch SLA attainment {move} from {_share(before)} to {_share(after)}."
    )


def _most_new_arr(plans: Sequence[Plan]) -> Plan:
    """The plan, other than the baseline, that gains most new ARR over it on average: the one
    the headline and the inputs that decide are about."""
    base = plans[0].outcomes["new_arr"]
    gains = [float(np.nanmean(p.outcomes["new_arr"] - base)) for p in plans[1:]]
    return plans[1 + int(np.nanargmax(gains))]


def _share(x: float) -> str:
    return NOT_AVAILABLE if not math.isfinite(x) else f"{x:.1%}"


def decision(plans: Sequence[Plan], seed: int, inputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How sure the verdict is: each plan's chance of the most new ARR in one simulated year,
    each plan's chance of beating the baseline on the decision metrics (with 95% intervals),
    and, over draws of the uncertain inputs, the inputs that decide and where the verdict
    flips."""
    arr = np.stack([p.outcomes["new_arr"] for p in plans])  # plans x draws x replications
    best = arr == np.nanmax(arr, axis=0)
    wins = best / np.maximum(best.sum(axis=0), 1)  # a tie shared
    outcomes = arr[0].size
    rows = []
    for k, plan in enumerate(plans):
        row = [plan.name, f"{wins[k].mean():.0%}"]
        for metric in DECISION_METRICS:
            if not k:
                row.append("baseline")
                continue
            d = plan.outcomes[metric] - plans[0].outcomes[metric]
            p, (low, high) = uncertainty.p_better(d, METRICS[metric].better or "higher", seed)
            row.append(NOT_AVAILABLE if math.isnan(p) else f"{p:.0%} [{low:.0%}, {high:.0%}]")
        rows.append(row)
    draws = plans[0].outcomes["new_arr"].shape[0]
    found: dict[str, Any] = {
        "header": [
            "plan",
            "chance of the most new ARR",
            *(f"chance it beats the baseline on {m}" for m in DECISION_METRICS.values()),
        ],
        "rows": rows,
        "outcomes": outcomes,
        "draws": draws,
        "inputs": [],
    }
    if draws >= 3 and len(plans) > 1 and inputs:
        found["inputs"] = deciding_inputs(plans, inputs)
    return found


def deciding_inputs(plans: Sequence[Plan], inputs: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Over the draws of the uncertain inputs (``inputs``: the manifest's, by dotted path, each
    with its range): which inputs move the verdict, for the plan that gains most new ARR over
    the baseline (a draw's gain its mean over replications). Inputs written as durations or
    rates are left out (their draws are text in the scenario files)."""
    base = plans[0]
    gain = np.nanmean(_most_new_arr(plans).outcomes["new_arr"] - base.outcomes["new_arr"], axis=1)
    drawn = [flat(s.model_dump(mode="json", exclude_none=True)) for s in base.draws]
    found = {}
    for path, written in inputs.items():
        values = [d.get(path) for d in drawn]
        low, high = written.get("low"), written.get("high")
        if all(_plain_number(v) for v in (*values, low, high)):
            found[path] = (np.array(values, dtype=float), float(low), float(high))  # type: ignore[arg-type]
    return [
        [path, f"{rho:+.2f}", f"{q:.2g}", "" if flip is None else number(flip)]
        for path, rho, q, flip in rank_inputs(found, gain)[:INPUTS_SHOWN]
    ]


def _plain_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rank_inputs(
    inputs: dict[str, tuple[np.ndarray, float, float]], gain: np.ndarray
) -> list[tuple[str, float, float, float | None]]:
    """Inputs (each draw's value, and the range's ends) against the gain in each draw, most
    decisive first: Spearman's rank correlation; its q-value, the p-value adjusted for the
    number of inputs tested (Benjamini-Hochberg: with a few draws and many inputs some
    correlate by chance); and, for an input that matters (q < ``DECIDES``), the value at which
    a straight line through the gains crosses zero when that lies inside the range (``None``
    otherwise: the verdict holds over the whole range, as far as a line tells)."""
    from scipy import stats

    if not np.isfinite(gain).all() or np.ptp(gain) <= 0:
        return []
    tested = {path: found for path, found in inputs.items() if np.ptp(found[0]) > 0}
    if not tested:
        return []
    found = []
    correlations = {path: stats.spearmanr(x, gain) for path, (x, _, _) in tested.items()}
    p_values = np.array([float(c.pvalue) for c in correlations.values()])
    q_values = stats.false_discovery_control(np.nan_to_num(p_values, nan=1.0))
    for (path, (x, low, high)), q in zip(tested.items(), q_values, strict=True):
        slope, intercept = np.polyfit(x, gain, 1)
        flip = -intercept / slope if slope else math.nan
        inside = low <= flip <= high and q < DECIDES
        rho = float(correlations[path].statistic)
        found.append((path, rho, float(q), float(flip) if inside else None))
    found.sort(key=lambda row: (row[2], -abs(row[1])))
    return found


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested data (a scenario dumped) as dotted path -> value."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def input_changes(plans: Sequence[Plan]) -> list[list[str]]:
    """What differs between the plans' inputs: every setting (dotted path) whose value is not
    the same in every plan, with each plan's value. Names and descriptions are not inputs."""
    flats = [flat(p.scenario.model_dump(mode="json", exclude_none=True)) for p in plans]
    paths = sorted(set().union(*flats) - {"name", "description"})
    return [
        [path, *(_value_text(f.get(path)) for f in flats)]
        for path in paths
        if len({repr(f.get(path)) for f in flats}) > 1
    ]


def _value_text(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, float):
        return number(value)
    return str(value)


def assumptions(plans: Sequence[Plan]) -> list[list[str]]:
    """Every sourced or ranged number of the plans, as the scenario files give it: path,
    value (each plan's, where they differ), range, grade and source."""
    from funnelsim.scenario.ranges import ranges_of

    found = [ranges_of(p.scenario) for p in plans]
    rows = []
    for path in sorted(set().union(*found)):
        mine = [f.get(path) for f in found]
        first = next(r for r in mine if r is not None)
        values = {_value_text(r.value) if r else "(not set)" for r in mine}
        value = (
            values.pop()
            if len(values) == 1
            else " / ".join(_value_text(r.value) if r else "(not set)" for r in mine)
        )
        span = f"{_value_text(first.low)} to {_value_text(first.high)}" if first.has_range else ""
        rows.append([path, value, span, first.grade or "", first.source or ""])
    return rows


def _drawn_assumptions(inputs: dict[str, dict[str, Any]]) -> list[list[str]]:
    """An ``--uncertainty`` run's ranged inputs, as its manifest keeps them (its scenario files
    hold one draw's values each)."""
    return [
        [
            path,
            f"drawn ({_value_text(r.get('value'))} in a plain run)",
            f"{_value_text(r.get('low'))} to {_value_text(r.get('high'))}, {r.get('shape')}",
            r.get("grade") or "",
            r.get("source") or "",
        ]
        for path, r in sorted(inputs.items())
    ]


# -- the charts -----------------------------------------------------------------------------
def weekly_chart(stored: Results, column: str, label: str, percent: bool) -> Figure:
    """A weekly series of every plan in the folder: mean and 95% band over replications."""
    fig = Figure(figsize=charts.FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    for name, weeks in stored.weekly.groupby("scenario", sort=False):
        by_week = weeks.groupby("week")[column]
        summaries = [summarise(values) for _, values in by_week]
        charts.plot_metric_vs(
            by_week.size().index.to_numpy(dtype=float).tolist(),
            summaries,
            xlabel="week of the measured period",
            ylabel=label,
            ax=ax,
            label=chart_text(name),
            percent=percent,
        )
    ax.set_title(f"{label.split(' (')[0]}: mean and 95% CI over replications")
    return fig


def svg(fig: Figure) -> str:
    """A figure as a data: URI of its SVG, text drawn as paths (no font needed to show it)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "funnelsim"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_file(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _charts(stored: Results, plans: Sequence[Plan]) -> list[Chart]:
    made: list[Chart] = []

    def add(title: str, caption: str, fig: Figure) -> None:
        made.append(Chart(title, caption, svg(fig)))

    base = plans[0]
    if len(plans) > 1 and len(plans) <= 5:
        for other in plans[1:]:
            moved = {
                m: outcome_summary(other.outcomes[m] - base.outcomes[m])
                for m in KEY_METRICS
                if m in other.outcomes
            }
            baselines = {m: base.summary(m).mean for m in moved}
            add(
                f"{other.name} against {base.name}",
                "Each key metric's paired difference from the baseline, as a share of the "
                "baseline's value, with its 95% interval.",
                charts.plot_relative_differences(
                    moved, baselines, title=chart_text(f"{other.name} against {base.name}")
                ),
            )
    if len(plans) > 2:
        points = stored.manifest.get("study", {}).get("points")
        labels = [chart_text(p["label"]) for p in points] if points else None
        for m in ("sqls", "new_arr", "cac_ratio", "sla_first_touch_attainment"):
            info = METRICS[m]
            add(
                f"{m} at each plan",
                "Mean and 95% interval of each plan.",
                charts.plot_options(
                    labels or [chart_text(p.name) for p in plans],
                    [p.summary(m) for p in plans],
                    ylabel=f"{m} ({info.unit})",
                    title=f"{m} at each plan",
                    percent=info.unit == "share",
                ),
            )
    if "uncertainty" not in stored.manifest and len(plans) <= 4:
        made += _plan_charts(stored, plans)
    if "uncertainty" not in stored.manifest and len(plans) <= 3:
        for column, (label, percent) in WEEKLY.items():
            if column in stored.weekly.columns:
                add(
                    label[0].upper() + label[1:].split(" (")[0],
                    "Weekly mean over replications with its 95% confidence band.",
                    weekly_chart(stored, column, label, percent),
                )
    return made


FUNNEL = (
    "leads",
    "leads_inbound",
    "leads_outbound",
    "mqls",
    "sqls",
    "sqls_inbound",
    "sqls_outbound",
    "opportunities",
    "deals_won",
    "deals_won_inbound",
    "deals_won_outbound",
)


def _plan_charts(stored: Results, plans: Sequence[Plan]) -> list[Chart]:
    """The charts of a few plans side by side: the funnel, first-touch waits against the SLA,
    where reps' time goes, and new ARR by quarter (a folder written before the wait bands or
    the time shares existed gets the charts its tables support)."""
    import pandas as pd

    from funnelsim.analysis import quarterly_new_arr, wait_shares
    from funnelsim.breakdown import first_touch_sla

    made = [
        Chart(
            "The funnel of each plan",
            "Mean volume of each stage over the measured period, inbound and outbound stacked, "
            "with the 95% interval of the total and each stage's ratio to the one above.",
            svg(charts.plot_funnel({p.name: {m: p.summary(m) for m in FUNNEL} for p in plans})),
        )
    ]
    waits = wait_shares(stored.table("by_wait"))
    if waits:
        slas = {p.name: first_touch_sla(p.scenario) for p in plans}
        fig = charts.plot_wait_distribution(
            waits,
            {name: hours for name, (hours, _) in slas.items()},
            sla_labels={name: words for name, (_, words) in slas.items()},
        )
        caption = (
            "Share of first touches by how long the lead waited from handoff (calendar time), "
            "with 95% intervals; the dashed line is the first-touch SLA."
        )
        made.append(Chart("First-touch waits against the SLA", caption, svg(fig)))
    breakdown = pd.read_csv(stored.folder / "breakdown.csv")
    teams = breakdown[breakdown["by"] == "team"]
    if "time_idle" in set(teams["metric"]):
        shares: dict[str, dict[str, dict[str, Summary]]] = {}
        for row in teams.to_dict("records"):
            team = shares.setdefault(str(row["scenario"]), {}).setdefault(str(row["group"]), {})
            team[str(row["metric"])] = Summary(
                float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]), int(row["n"])
            )
        caption = (
            "Share of each team's working hours by kind of work, and idle; the error bar is "
            "the 95% interval of utilisation."
        )
        made.append(Chart("Where reps' time goes", caption, svg(charts.plot_rep_time(shares))))
    if quarterly_new_arr(stored.weekly):
        sign = currency_sign(plans[0].scenario.currency)
        made.append(
            Chart(
                "New ARR by quarter",
                "New ARR booked in each quarter of the measured period, mean and 95% interval.",
                svg(charts.plot_arr_by_quarter(stored.weekly, currency_sign=sign)),
            )
        )
    return made


def _folder_charts(folder: Path) -> list[Chart]:
    """Charts another command drew into the folder (an ``optimize`` search's history and
    Pareto front), embedded as they are."""
    titles = {
        "history.png": "The search: every trial's objective, and the best so far",
        "pareto.png": "The Pareto front of the two objectives",
        "against-baseline.png": "The best plan against the baseline",
    }
    return [Chart(t, "", png_file(folder / n)) for n, t in titles.items() if (folder / n).is_file()]


# -- the review -----------------------------------------------------------------------------
def searched(folder: Path) -> bool:
    """Whether ``folder`` is an ``optimize --out`` folder."""
    return (folder / "optimize.json").is_file()


def build(folder: Path, extra: Sequence[Path] = ()) -> Review:
    """The review of a results folder, with a section for each folder of ``extra``
    (:func:`section`)."""
    if searched(folder) or (folder / "sensitivity.json").is_file():
        raise ReportError(
            f"{folder}: holds an optimize or sensitivity analysis, not a comparison: report "
            "the comparison it is about and add this folder with --with"
        )
    stored = load(folder)
    manifest = stored.manifest
    plans = plans_of(stored)
    seed = int(manifest["seed"])
    base = plans[0]
    summaries = {(p.name, m): p.summary(m) for p in plans for m in METRICS if m in p.outcomes}
    key = [
        [m, METRICS[m].unit, *(cell(summaries[(p.name, m)], METRICS[m].unit) for p in plans)]
        for m in KEY_METRICS
        if all((p.name, m) in summaries for p in plans)
    ]
    differences = []
    for m in KEY_METRICS:
        row = [(m, False), (METRICS[m].unit, False)]
        for other in plans[1:]:
            d = outcome_summary(other.outcomes[m] - base.outcomes[m])
            row.append((cell(d, METRICS[m].unit, signed=True), excludes_zero(d)))
        differences.append(row)
    draws = base.outcomes["new_arr"].shape[0]
    replications = base.outcomes["new_arr"].shape[1]
    inputs: dict[str, dict[str, Any]] = manifest.get("uncertainty", {}).get("inputs", {})
    facts = [
        ("command", f"funnelsim {manifest['command']}"),
        (
            "replications",
            f"{replications} per plan"
            + (f", for each of {draws} draws of the uncertain inputs" if draws > 1 else ""),
        ),
        ("seed", str(seed)),
        (
            "funnelsim",
            f"{manifest['funnelsim_version']} (code {manifest.get('code_hash', '')[:12]})",
        ),
        ("results written", str(manifest.get("created", ""))),
        ("report written", f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"),
        ("folder", str(folder)),
    ]
    sections = [section(path) for path in extra]
    notes = []
    if draws == 1 and any(s.key == "uncertainty" for s in sections):
        notes.append(
            "These chances come from the simulation's randomness alone, with every input at its "
            "value; the section Over the inputs' ranges counts what nobody has measured too."
        )
    elif draws == 1:
        notes.append(
            "These chances come from the simulation's randomness alone, with every input at its "
            "value. To include the inputs' ranges, run funnelsim compare with --uncertainty N "
            "and --out DIR, and report that folder: the review then shows which inputs decide and "
            "where the verdict flips."
        )
    title = (
        f"Study: {manifest['study']['name']}"
        if "study" in manifest
        else " vs ".join(p.name for p in plans)
    )
    return Review(
        title=title,
        headline=headline(plans),
        facts=facts,
        plans=[p.name for p in plans],
        descriptions=_descriptions(plans),
        input_changes=input_changes(plans) if len(plans) > 1 else [],
        decision=decision(plans, seed, inputs),
        key_metrics=key,
        differences=differences if len(plans) > 1 else [],
        charts=_charts(stored, plans),
        assumptions=assumptions(plans) if not inputs else _drawn_assumptions(inputs),
        notes=notes,
        sections=sections,
    )


# -- what other commands bring ------------------------------------------------------------------
def section(folder: Path) -> Section:
    """The section another command's output folder brings to the review: a ``compare
    --uncertainty`` folder (the decision over the inputs' ranges), a ``sensitivity --out``
    folder (which inputs decide, and where the verdict flips), an ``optimize --out`` folder
    (the best split found) or a back-test folder (``calibrate --backtest``, ``backtest``)."""
    if (folder / "sensitivity.json").is_file():
        return _sensitivity_section(folder)
    if searched(folder):
        return _optimize_section(folder)
    if (folder / "backtest.json").is_file():
        return _backtest_section(folder)
    stored = load(folder)  # a StoreError names a folder that holds no results
    if "uncertainty" not in stored.manifest:
        raise ReportError(
            f"{folder}: --with takes a compare --uncertainty, sensitivity, optimize or "
            "back-test folder; this one holds a plain run (report it on its own)"
        )
    return _uncertainty_section(stored)


def _uncertainty_section(stored: Results) -> Section:
    plans = plans_of(stored)
    manifest = stored.manifest
    inputs = manifest["uncertainty"].get("inputs", {})
    found = decision(plans, int(manifest["seed"]), inputs)
    tables = [
        Table(
            found["header"],
            found["rows"],
            "The share of simulated years in which "
            "a plan came out ahead (a tie counts half), with a 95% interval.",
        )
    ]
    if found["inputs"]:
        tables.append(Table(INPUT_HEADER, found["inputs"], INPUT_CAPTION))
    draws, replications = plans[0].outcomes["new_arr"].shape
    return Section(
        "uncertainty",
        "Over the inputs' ranges",
        [
            f"The same plans run over {draws} draws of their {len(inputs)} ranged inputs (Latin "
            f"hypercube), {replications} replications each, on common random numbers "
            f"(seed {manifest['seed']}; {stored.folder}).",
            headline(plans),
        ],
        tables,
    )


def _sensitivity_section(folder: Path) -> Section:
    data = json.loads((folder / "sensitivity.json").read_text(encoding="utf-8"))
    plans = data.get("plans") or []
    what = data["metric"] if len(plans) < 2 else f"{data['metric']}: {plans[1]} - {plans[0]}"
    flips = [
        [path, "holds over the whole range" if flip is None else _value_text(flip["value"])]
        for path, flip in data.get("break_even", {}).items()
    ]
    tables = (
        [
            Table(
                ["input", "the verdict flips at"],
                flips,
                "For the most decisive inputs, the value at which the difference crosses "
                "zero, every other input at its value.",
            )
        ]
        if flips
        else []
    )
    fig = charts.plot_sensitivity(
        data["parameters"], title=chart_text(f"what moves {what} ({data['method']})")
    )
    return Section(
        "sensitivity",
        "Which inputs decide",
        [
            f"A {data['method']} analysis of {what}: {data['settings']} settings of the ranged "
            f"inputs, {data['replications']} replication(s) each, seed {data['seed']} "
            f"({folder})."
        ],
        tables,
        [
            Chart(
                "Which inputs decide",
                "The most decisive inputs first, with 95% intervals.",
                svg(fig),
            )
        ],
    )


def _optimize_section(folder: Path) -> Section:
    data = json.loads((folder / "optimize.json").read_text(encoding="utf-8"))
    best = data["best"]
    baseline = data.get("baseline", {}).get("variables", {})
    rows = [
        [path, _value_text(baseline.get(path)), _value_text(value)]
        for path, value in best["variables"].items()
    ]
    moved = [
        [
            name,
            cell(Summary(m["mean"], m["ci_low"], m["ci_high"], 2), METRICS[name].unit, signed=True),
        ]
        for name, m in best.get("against_baseline", {}).items()
        if name in METRICS and m.get("mean") is not None
    ]
    tables = [Table(["variable", "baseline", "best plan"], rows)]
    if moved:
        caption = "Paired difference on fresh replications, with its 95% interval."
        tables.append(Table(["metric", "best plan - baseline"], moved, caption))
    goals = "; ".join(data.get("constraints", [])) or "none"
    return Section(
        "optimize",
        "The budget split, optimised",
        [
            f"{data['name']}: {data['trials']} trials, the best confirmed on "
            f"{data['confirm_replications']} replications (seed {data['seed']}); constraints: "
            f"{goals}; {len(data.get('indistinguishable', []))} other plan(s) statistically "
            f"indistinguishable from the best ({folder})."
        ],
        tables,
        _folder_charts(folder),
    )


def _backtest_section(folder: Path) -> Section:
    data = json.loads((folder / "backtest.json").read_text(encoding="utf-8"))
    rows = [
        [
            name,
            number(c["data"]["estimate"] if c["data"]["estimate"] is not None else math.nan),
            f"{number(c['simulated']['low'])} to {number(c['simulated']['high'])}",
            "inside" if c["inside"] else "outside",
        ]
        for name, c in data["compared"].items()
    ]
    titles = {
        "weekly.png": "Weekly volumes by stage",
        "rates.png": "Conversion rates",
        "time-in-stage.png": "Time in stage",
        "decay.png": "Speed to lead",
    }
    return Section(
        "backtest",
        "Back-test against the CRM export",
        [
            f"{data['scenario']} replayed over {data['period'][0]} to {data['period'][1]}: "
            f"{data['inside']} of {data['compared_count']} quantities inside the simulation's "
            f"95% prediction band ({data['replications']} replications, seed {data['seed']})."
        ],
        [Table(["quantity", "data", "simulated band", "verdict"], rows)],
        [Chart(t, "", png_file(folder / n)) for n, t in titles.items() if (folder / n).is_file()],
    )


def _descriptions(plans: Sequence[Plan]) -> list[tuple[str, str]]:
    """Each distinct description once, with the plans it describes (a study's points often
    share their baseline's)."""
    grouped: dict[str, list[str]] = {}
    for plan in plans:
        grouped.setdefault(plan.scenario.description or "", []).append(plan.name)
    return [(", ".join(names), text) for text, names in grouped.items()]


def render_html(review: Review) -> str:
    """The page: every value escaped by Jinja2's autoescaping, nothing loaded from outside."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    inputs = Table(INPUT_HEADER, review.decision["inputs"], INPUT_CAPTION)
    return environment.get_template(TEMPLATE.name).render(
        review=review, metrics=METRICS, inputs_table=inputs
    )


def write_pdf(page: str, path: Path) -> None:
    """The page as a PDF (WeasyPrint; its ``@page`` rules set A4 landscape). No URL is
    fetched: the page holds its images, and any other address is refused."""
    try:
        import weasyprint
    except OSError as error:  # Pango or HarfBuzz missing: WeasyPrint loads them at import
        raise ReportError(
            f"{path}: cannot write the PDF: WeasyPrint needs Pango ({error}); "
            "on Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0"
        ) from None

    from weasyprint.urls import URLFetcher

    only_data = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    weasyprint.HTML(string=page, url_fetcher=only_data).write_pdf(path)
