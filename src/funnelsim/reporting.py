"""A results folder as a budget-review report: Markdown and charts, in ``FOLDER/report/``.

The report shows what the folder holds and nothing else: the key metrics of every scenario
with their 95% intervals, the paired differences from the baseline (``compare`` and
``study``), and charts of the same numbers: weekly SQLs, first-touch queue and SDR
utilisation with confidence bands, how each plan moves the key metrics, and for a study each
key metric across its points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from funnelsim import charts
from funnelsim.analysis import Summary, excludes_zero
from funnelsim.errors import StoreError
from funnelsim.formatting import NOT_AVAILABLE, cell, chart_text, markdown_text, number
from funnelsim.metrics import METRICS
from funnelsim.results import load
from funnelsim.review import KEY_METRICS, WEEKLY, weekly_chart
from funnelsim.store import FolderLock, atomic_write

REPORT = "report"

if TYPE_CHECKING:
    from funnelsim.backtesting import Backtest


def summary_of(row: pd.Series) -> Summary:
    """A row of summary.csv or differences.csv as a Summary."""
    return Summary(float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]), int(row["n"]))


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _save(fig: Figure, path: Path) -> None:
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=150))


def _by_point_chart(labels: list[str], summaries: list[Summary], metric: str) -> Figure:
    info = METRICS[metric]
    return charts.plot_options(
        labels,
        summaries,
        ylabel=f"{metric} ({info.unit})",
        title=f"{metric} at each point of the study",
        percent=info.unit == "share",
    )


GRADES = ("A", "B", "C", "assumption")


def _sources(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Where each scenario's numbers come from: how many carry a source of each grade, as the
    resolved scenario files in the folder say (their numbers keep sources and ranges)."""
    from funnelsim.scenario.load import load_scenario
    from funnelsim.scenario.ranges import ranges_of

    rows = []
    for entry in manifest["scenarios"]:
        found = ranges_of(load_scenario(folder / entry["file"]))
        by_grade = [sum(r.grade == g for r in found.values()) for g in GRADES]
        ranged = sum(r.has_range for r in found.values())
        rows.append(
            [markdown_text(entry["name"]), str(len(found)), *map(str, by_grade), str(ranged)]
        )
    if not any(int(row[1]) for row in rows):
        return []
    return [
        "",
        "## Where the numbers come from",
        "",
        "The figures above follow from the scenarios' numbers; each number in the scenario "
        "files says where it comes from and how sure it is (grade A primary research, B vendor "
        "or survey, C second-hand, or a planning assumption), most with a plausible range.",
        "",
        *_table(["scenario", "numbers sourced", *GRADES, "with a range"], rows),
    ]


def write_report(
    folder: Path, output: Path | None = None, extra: Sequence[Path] = ()
) -> list[Path]:
    """Write the budget review of a results folder into ``output`` (default
    ``FOLDER/report/``): ``report.md`` with its PNG charts, ``report.html`` (one
    self-contained file) and ``report.pdf`` (the same, paginated); returns the three files.
    Each folder of ``extra`` (``compare --uncertainty``, ``sensitivity``, ``optimize`` or a
    back-test) adds its section to the HTML and PDF (``funnelsim.review.section``).

    Names (of scenarios, a study, its points) and the folder's path are text
    a person wrote: escaped for Markdown and HTML in the report, shown as plain text (no
    mathtext, no TeX) in the charts.
    """
    from funnelsim import review

    out = folder / REPORT if output is None else output
    with matplotlib.rc_context({"text.usetex": False}), _locked(folder):
        try:
            found = review.build(folder, extra)
            out.mkdir(parents=True, exist_ok=True)
            markdown = _write_report(folder, out, found.headline)
            page = review.render_html(found)
            atomic_write(out / "report.html", partial(_write_text, text=page))
            atomic_write(out / "report.pdf", partial(review.write_pdf, page))
        except OSError as error:  # the report folder (atomic_write says which file)
            where = error.filename or out
            raise StoreError(f"{where}: cannot write the report: {error.strerror}") from None
    return [markdown, out / "report.html", out / "report.pdf"]


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The results folder's lock while the report reads it and writes into it: a run still
    writing the folder is waited for by the person, not read half-written (StoreError). A
    path that is not a results folder is left to ``results.load`` to refuse."""
    if not (folder / "manifest.json").is_file():
        yield
        return
    lock = FolderLock.acquire(folder)
    try:
        yield
    finally:
        lock.release()


def _write_report(folder: Path, out: Path, headline: str) -> Path:
    stored = load(folder)
    manifest: dict[str, Any] = stored.manifest
    scenarios = [s["name"] for s in manifest["scenarios"]]
    summary = {
        (row["scenario"], row["metric"]): summary_of(row) for _, row in stored.summary.iterrows()
    }
    diffs = {
        (row["scenario"], row["metric"]): summary_of(row)
        for _, row in stored.differences.iterrows()
    }
    lines = [
        f"# {_title(manifest, scenarios)}",
        "",
        f"**{markdown_text(headline)}**",
        "",
        f"`funnelsim {manifest['command']}`, {manifest['replications']} replications per "
        f"scenario, seed {manifest['seed']}, funnelsim {manifest['funnelsim_version']}; "
        f"report written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC from "
        f"{markdown_text(folder)}. "
        "Every figure is a mean over replications ± the half-width of its 95% confidence "
        "interval.",
        "",
        "## The plans",
        "",
        *(
            f"- **{markdown_text(s['name'])}**: {markdown_text(_description(folder, s))}"
            for s in manifest["scenarios"]
        ),
        "",
        "## Key metrics",
        "",
    ]
    lines += _table(
        ["metric", "unit", *map(markdown_text, scenarios)],
        (
            [m, METRICS[m].unit, *(cell(summary[(s, m)], METRICS[m].unit) for s in scenarios)]
            for m in KEY_METRICS
            if all((s, m) in summary for s in scenarios)
        ),
    )
    if diffs:
        base = scenarios[0]
        lines += [
            "",
            f"## Paired differences from {markdown_text(base)}",
            "",
            "Common random numbers: replication r of every plan saw the same leads "
            "wherever the plans share a source. **Bold**: the interval excludes zero.",
            "",
        ]
        rows = []
        for m in KEY_METRICS:
            cells = []
            for s in scenarios[1:]:
                d = diffs.get((s, m))
                text = NOT_AVAILABLE if d is None else cell(d, METRICS[m].unit, signed=True)
                cells.append(f"**{text}**" if d is not None and excludes_zero(d) else text)
            rows.append([m, METRICS[m].unit, *cells])
        header = [markdown_text(f"{s} - {base}") for s in scenarios[1:]]
        lines += _table(["metric", "unit", *header], rows)
    lines += _sources(folder, manifest)
    lines += ["", "## Charts", ""]
    for column, (label, percent) in WEEKLY.items():
        if column in stored.weekly.columns and len(scenarios) <= 3:  # more would be a tangle
            name = f"weekly-{column.replace('_', '-')}.png"
            _save(weekly_chart(stored, column, label, percent), out / name)
            lines += [f"![{label}]({name})", ""]
    if diffs and len(scenarios) <= 4:
        base = scenarios[0]
        for i, other in enumerate(scenarios[1:], start=1):
            moved = {m: d for (s, m), d in diffs.items() if s == other and m in KEY_METRICS}
            baselines = {m: summary[(base, m)].mean for m in KEY_METRICS if (base, m) in summary}
            fig = charts.plot_relative_differences(
                moved, baselines, title=chart_text(f"{other} against {base}")
            )
            name = f"differences-{i}.png"
            _save(fig, out / name)
            lines += [f"![{markdown_text(f'{other} against {base}')}]({name})", ""]
    if len(scenarios) > 2:
        labels = (
            [p["label"] for p in manifest["study"]["points"]] if "study" in manifest else scenarios
        )
        labels = [chart_text(label) for label in labels]
        for m in ("sqls", "new_arr", "cac_ratio", "sla_first_touch_attainment"):
            if all((s, m) in summary for s in scenarios):
                name = f"points-{m.replace('_', '-')}.png"
                _save(_by_point_chart(labels, [summary[(s, m)] for s in scenarios], m), out / name)
                lines += [f"![{m} by point]({name})", ""]
    path = out / "report.md"
    text = "\n".join(lines) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)
    return path


def _description(folder: Path, entry: dict[str, Any]) -> str:
    from funnelsim.scenario.load import load_scenario

    return load_scenario(folder / entry["file"]).description or ""


def _title(manifest: dict[str, Any], scenarios: list[str]) -> str:
    if "study" in manifest:
        return f"Study: {markdown_text(manifest['study']['name'])}"
    return " vs ".join(map(markdown_text, scenarios))


# -- the back-test's report ------------------------------------------------------------------
BACKTEST_FILES = ("backtest.json", "backtest.md", "weekly.png", "rates.png",
                  "time-in-stage.png", "decay.png")  # fmt: skip
STAGE_LABELS = {
    "leads": "leads per week",
    "mqls": "MQLs per week",
    "sqls": "SQLs per week",
    "opportunities": "opportunities per week",
    "won": "deals won per week",
}
SURVIVAL_LABELS = {
    "opportunity_to_close": "opportunity opened -> closed (open deals censored at the export)",
    "mql_to_sql": "MQL -> SQL (leads that became SQLs)",
    "created_to_first_touch": "created -> first sales touch (touched leads)",
}


def write_backtest(found: Backtest, out: Path) -> list[Path]:
    """The back-test as files in ``out`` (created; each file written whole or not at all):
    ``backtest.json`` (:meth:`Backtest.as_json`), ``backtest.md`` (the table and the charts,
    for a budget review) and the charts ``weekly.png``, ``rates.png``, ``time-in-stage.png``
    and ``decay.png`` (a chart the data cannot support, such as the decay without first-touch
    dates, is left out and the report says so)."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    written = [out / "backtest.json"]
    text = json.dumps(found.as_json(), indent=2)
    atomic_write(written[0], partial(_write_text, text=text + "\n"))
    start = f"{found.period[0]:%Y-%m-%d}"
    charts_made: dict[str, str] = {}
    rates = [(n, c) for n, c in found.compared.items() if n.startswith("rate_")]
    figures: dict[str, tuple[str, Callable[[], Figure], bool]] = {
        "weekly.png": (
            "Weekly volumes by stage",
            lambda: charts.plot_backtest_weekly(found.weekly, STAGE_LABELS, start=start),
            bool(found.weekly),
        ),
        "rates.png": (
            "Conversion rates",
            lambda: charts.plot_backtest_forest(
                rates, xlabel="conversion rate", title="Conversion rates", percent=True
            ),
            bool(rates),
        ),
        "time-in-stage.png": (
            "Time in stage",
            lambda: charts.plot_backtest_survival(found.survival, SURVIVAL_LABELS),
            bool(found.survival),
        ),
        "decay.png": (
            "Speed to lead",
            lambda: charts.plot_backtest_decay(found.decay),  # type: ignore[arg-type]
            found.decay is not None,
        ),
    }
    for name, (title, draw, possible) in figures.items():
        if possible:
            _save(draw(), out / name)
            written.append(out / name)
            charts_made[name] = title
    written.append(out / "backtest.md")
    lines = _backtest_markdown(found, charts_made, figures)
    atomic_write(written[-1], partial(_write_text, text="\n".join(lines) + "\n"))
    return written


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _backtest_markdown(
    found: Backtest, made: dict[str, str], figures: dict[str, tuple[str, Any, bool]]
) -> list[str]:
    """backtest.md: what was replayed, the verdict, the table and the charts."""
    start, end = (f"{t:%Y-%m-%d %H:%M}" for t in found.period)
    lines = [
        f"# Back-test: {markdown_text(found.scenario)}",
        "",
        f"The scenario replayed over the export's period, {start} to {end}: "
        f"{found.replications} replications on common random numbers (seed {found.seed}), "
        "each written as a CRM export and measured by the same fits as the data. "
        f"**{found.summary_line()}.**",
        "",
        "A quantity is *inside* when the data's estimate lies in the simulation's band, the 95% "
        "prediction interval for one run (mean ± t · sd · √(1 + 1/N) over the N replications; "
        "the 2.5-97.5% range of the replications' values is in backtest.json). A correct "
        "scenario leaves about 1 quantity in 20 outside by chance.",
        "",
    ]
    rows = [
        [
            markdown_text(name),
            f"{number(c.data.estimate)} [{number(c.data.ci_low)}, {number(c.data.ci_high)}]",
            number(c.simulated.mean),
            f"[{number(c.simulated.low)}, {number(c.simulated.high)}]",
            "inside" if c.inside else "**outside**",
        ]
        for name, c in found.compared.items()
    ]
    lines += _table(["quantity", "data (95% CI)", "simulated mean", "band", "verdict"], rows)
    for name, title in made.items():
        lines += ["", f"## {title}", "", f"![{title}]({name})"]
    missing = [title for name, (title, _, _) in figures.items() if name not in made]
    if missing:
        lines += ["", f"Not charted (the data cannot support it): {', '.join(missing)}."]
    if found.not_compared:
        lines += ["", "## Not compared", ""]
        lines += [
            f"- {markdown_text(n)}: {markdown_text(w)}" for n, w in found.not_compared.items()
        ]
    return lines
