"""The ``funnelsim`` command line: thin commands over the library.

Exit codes: 0 done, 2 bad input (the message says where: ``FILE:LINE:COL: path: problem``).
Tables go to stdout, progress and warnings to stderr, so ``--json`` output can be piped.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from funnelsim.analysis import Summary
from funnelsim.batch import DEFAULT_CAP, run_batch
from funnelsim.errors import StoreError
from funnelsim.executors import EXECUTORS, default_workers
from funnelsim.experiment import Batch, Comparison, Precision, check_names
from funnelsim.metrics import METRICS
from funnelsim.scenario.load import ScenarioError, load_scenario
from funnelsim.scenario.schema import Scenario, did_you_mean
from funnelsim.scenario.study import load_study
from funnelsim.theory import offered_load

app = typer.Typer(
    name="funnelsim",
    help="Simulate a marketing-to-sales funnel: lead arrivals, handoff SLAs and rep capacity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(width=None if sys.stdout.isatty() else 140, emoji=False)  # piped: unwrapped
err = Console(stderr=True, emoji=False)  # ":100:" is a line number, not an emoji

WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers", "-w", min=1, help="Processes running replications (default: all cores)."
    ),
]
ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where replications run: 'process' (a local process pool) or 'dask' (a Dask "
        "cluster: --scheduler's, else a local one on 127.0.0.1).",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786 (implies "
        "--executor dask).",
        metavar="ADDRESS",
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target-halfwidth",
        help="Add replications until METRIC's 95% CI half-width is at most VALUE (compare and "
        "study: the widest paired difference); --replications is where it starts.",
        metavar="METRIC=VALUE",
    ),
]
CapOption = Annotated[
    int | None,
    typer.Option(
        "--max-replications",
        min=2,
        help="Cap on replications with --target-halfwidth (default 1000, or the batch's own "
        "with --resume).",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Results folder: manifest, resolved scenarios, per-replication metrics and weekly "
        "series (Parquet, one file per chunk), summary CSVs. Written as chunks finish.",
    ),
]
ResumeOption = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Finish (or extend) the interrupted batch in --out: finished replications are "
        "kept, the rest run.",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object to stdout instead of a table.")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a scenario value: dotted.key=value (YAML scalar). Repeatable.",
        metavar="KEY=VALUE",
    ),
]


def _progress() -> Progress:
    """A progress bar with ETA on stderr, gone when the work is done."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def _fail(error: ScenarioError) -> NoReturn:
    for problem in error.problems:
        err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _load(file: Path, overrides: list[str] | None) -> Scenario:
    try:
        return load_scenario(file, overrides)
    except ScenarioError as error:
        _fail(error)


def _warn_overload(scenario: Scenario) -> None:
    work, capacity = offered_load(scenario)
    if work >= capacity:
        err.print(
            f"[yellow]warning:[/] offered first-touch work ({work:.2f} SDR-hours per hour) is at "
            f"or above SDR capacity ({capacity:.2f}); queues will grow without bound unless leads "
            "expire",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    set_: SetOption = None,
) -> None:
    """Check a scenario file and say what is wrong with it, if anything."""
    scenario = _load(file, set_)
    work, capacity = offered_load(scenario)
    out.print(
        f"{file}: ok: '{scenario.name}', {len(scenario.sources)} source(s), "
        f"offered load {work:.2f} of {capacity:.2f} SDR-hours per hour "
        f"({work / capacity:.0%} of capacity)",
        highlight=False,
    )
    _warn_overload(scenario)


def _number(x: float, digits: int) -> str:
    """Readable in a budget review: 12,345 rather than 1.234e+04."""
    if abs(x) >= 10 ** (digits - 1):
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _cell(summary: Summary) -> str:
    if not math.isfinite(summary.mean):
        return "n/a"
    if summary.n > 1 and math.isfinite(summary.half_width):
        half = summary.half_width if summary.half_width > 1e-9 * abs(summary.mean) else 0.0
        return f"{_number(summary.mean, 4)} ± {_number(half, 2)}"
    return _number(summary.mean, 4)


def _metrics_table(batches: list[Batch]) -> Table:
    """Metrics by scenario, side by side: mean and 95% CI."""
    first = batches[0]
    seeds = ", ".join(str(s) for s in dict.fromkeys(b.seed for b in batches))
    title = (
        f"{first.scenario.name}: {first.replications} replication(s), seed {seeds}"
        if len(batches) == 1
        else f"{len(batches)} scenarios, {first.replications} replication(s) each, seed {seeds}"
    )
    table = Table(
        title=title,
        caption="mean ± half-width of the 95% CI; metrics undefined in every run omitted",
    )
    table.add_column("metric")
    table.add_column("unit")
    for batch in batches:
        table.add_column(batch.scenario.name, justify="right")
    summaries = [batch.summary() for batch in batches]
    for name, info in METRICS.items():
        cells = [s[name] for s in summaries]
        if all(c.n == 0 for c in cells):
            continue
        table.add_row(name, info.unit, *(_cell(c) for c in cells))
    return table


def _usage(option: str, message: str) -> NoReturn:
    err.print(f"{option}: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _precision(target: str | None, cap: int) -> Precision | None:
    """``METRIC=VALUE`` as a precision target; a bad one is a usage error (exit 2)."""
    if target is None:
        return None
    metric, sep, value = target.partition("=")
    metric = metric.strip()
    if not sep:
        _usage("--target-halfwidth", f"expected METRIC=VALUE, got {target!r}")
    if metric not in METRICS:
        _usage(
            "--target-halfwidth",
            f"unknown metric {metric!r}{did_you_mean(metric, list(METRICS))}",
        )
    try:
        half_width = float(value)
    except ValueError:
        half_width = math.nan
    if not half_width > 0 or not math.isfinite(half_width):
        _usage("--target-halfwidth", f"{metric}: the half-width must be a positive number")
    return Precision(metric, half_width, cap)


@dataclass
class Execution:
    """How a batch runs and where it goes: the options run, compare and study share."""

    replications: int | None  # None: the batch's own when resuming, else ``default``
    default: int
    seed: int | None
    workers: int | None = None
    executor: str = "process"
    scheduler: str | None = None
    target: str | None = None
    cap: int | None = None  # None: the batch's own when resuming, else 1000
    out: Path | None = None
    resume: bool = False


def _execute(
    scenarios: list[Scenario],
    how: Execution,
    *,
    command: str,
    label: str,
    records: bool = False,
    extra: dict[str, Any] | None = None,
) -> list[Batch]:
    """Run a batch behind a progress bar, then warn of what its numbers may not show.

    Everything that can be refused is refused before anything runs. With ``--out``, chunks
    are stored as they finish, so an interrupted batch keeps them for ``--resume``.
    """
    precision = _precision(how.target, how.cap or DEFAULT_CAP)
    executor = "dask" if how.scheduler is not None else how.executor
    if executor not in EXECUTORS:
        known = did_you_mean(executor, list(EXECUTORS))
        _usage("--executor", f"unknown executor {executor!r}{known}")
    if how.resume and how.out is None:
        _usage("--resume", "needs --out, the folder of the batch to finish")

    with _progress() as progress:
        task = progress.add_task(label, total=None)
        try:
            done = run_batch(
                scenarios,
                how.replications,
                how.seed,
                default_replications=how.default,
                precision=precision,
                out=how.out,
                resume=how.resume,
                records=records,
                command=command,
                extra=extra,
                workers=how.workers or default_workers(),
                executor=executor,
                scheduler=how.scheduler,
                on_chunk=lambda chunk: progress.advance(task, len(chunk.replications)),
                on_total=lambda total, n: progress.update(task, total=total, completed=n),
            )
        except StoreError as error:
            _usage("--out", str(error))
        except KeyboardInterrupt:
            if how.out is not None:
                err.print(
                    f"interrupted: finished chunks are in {how.out}; add --resume to "
                    "finish the batch",
                    highlight=False,
                )
            raise typer.Exit(130) from None
    if done.kept:
        err.print(f"resumed: {done.kept} finished replication(s) kept", highlight=False)
    if not done.precision_met and done.precision is not None:
        err.print(
            f"[yellow]warning:[/] {done.precision.metric}: half-width {done.half_width:.4g} "
            f"after {done.replications} replications (the cap), above the target "
            f"{done.precision.half_width:g}",
            highlight=False,
            soft_wrap=True,
        )
    if how.out is not None:
        err.print(f"results in {how.out}", highlight=False)
    for batch in done.batches:
        for check in batch.warmup():
            if not check.enough:
                err.print(
                    f"[yellow]warning:[/] {batch.scenario.name}: {check.message()}",
                    highlight=False,
                    soft_wrap=True,
                )
    return done.batches


@app.command()
def run(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML file(s).")],
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications",
            "-n",
            min=1,
            help="Independent replications (default 10, or the batch's own with --resume).",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(min=0, help="Seed (default: the (first) scenario's, else fresh)."),
    ] = None,
    set_: SetOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = "process",
    scheduler: SchedulerOption = None,
    target: TargetOption = None,
    cap: CapOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object to stdout instead of a table (with several files: "
            '{"scenarios": [one object per file]}).',
        ),
    ] = False,
    out_dir: OutOption = None,
    resume: ResumeOption = False,
    records: Annotated[
        bool,
        typer.Option(
            "--records/--no-records",
            help="With --out, also write per-lead, handoff, task and queue records (Parquet).",
        ),
    ] = True,
) -> None:
    """Simulate scenarios and print their metrics with 95% confidence intervals.

    Several files are shown side by side and run on one seed, sharing random numbers stream
    by stream (arrivals of a source, work times, ...), so their differences are sharper.
    """
    scenarios = _load_all(files, set_)
    for scenario in scenarios:
        _warn_overload(scenario)
    how = Execution(
        replications, 10, seed, workers, executor, scheduler, target, cap, out_dir, resume
    )
    label = f"simulating {scenarios[0].name}" if len(scenarios) == 1 else "simulating"
    batches = _execute(scenarios, how, command="run", label=label, records=records)
    if as_json:
        objects = [batch.as_json() for batch in batches]
        print(json.dumps(objects[0] if len(objects) == 1 else {"scenarios": objects}))
    else:
        out.print(_metrics_table(batches))


def _load_all(files: list[Path], overrides: list[str] | None) -> list[Scenario]:
    """Every file validated before anything runs; all problems of all files reported."""
    scenarios, problems = [], []
    for file in files:
        try:
            scenarios.append(load_scenario(file, overrides))
        except ScenarioError as error:
            problems += error.problems
    if problems:
        _fail(ScenarioError(problems))
    return scenarios


def _difference_cell(diff: Summary) -> str:
    if not math.isfinite(diff.mean):
        return "n/a"
    if diff.n < 2 or not math.isfinite(diff.half_width):
        return f"{diff.mean:+,.4g}"
    sign = "+" if diff.mean >= 0 else "-"
    text = f"{sign}{_number(abs(diff.mean), 4)} ± {_number(diff.half_width, 2)}"
    clear = diff.ci_low > 0 or diff.ci_high < 0
    return f"[bold]{text} *[/]" if clear else text


@app.command()
def compare(
    files: Annotated[list[Path], typer.Argument(help="Scenario files; the first is the baseline.")],
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications",
            "-n",
            min=2,
            help="Replications per scenario (default 20, or the batch's own with --resume).",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed (default: the first scenario's, else fresh).")
    ] = None,
    set_: SetOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = "process",
    scheduler: SchedulerOption = None,
    target: TargetOption = None,
    cap: CapOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = False,
    as_json: JsonOption = False,
) -> None:
    """Compare scenarios on common random numbers: paired differences against the first.

    Every scenario runs the same replications of the same seed; each replication of a
    scenario is paired with the baseline's, so differences come with intervals much narrower
    than two independent runs would give. Differences whose 95% interval excludes zero are
    marked with *.
    """
    if len(files) < 2:
        _usage("compare", "needs at least two scenario files")
    scenarios = _load_all(files, set_)
    try:
        check_names(scenarios)
    except ValueError as error:
        _usage("compare", str(error))
    for scenario in scenarios:
        _warn_overload(scenario)
    how = Execution(
        replications, 20, seed, workers, executor, scheduler, target, cap, out_dir, resume
    )
    result = Comparison(_execute(scenarios, how, command="compare", label="comparing"))
    if as_json:
        print(json.dumps(result.as_json()))
        return
    base = result.baseline
    table = Table(
        title=f"{len(scenarios)} scenarios against '{base.scenario.name}': "
        f"{base.replications} paired replications, seed {base.seed}",
        caption="mean ± half-width of the 95% CI; differences paired by replication "
        "(common random numbers); * the interval excludes zero",
    )
    table.add_column("metric")
    table.add_column("unit")
    for batch in result.batches:
        table.add_column(batch.scenario.name, justify="right")
    others = result.batches[1:]
    for batch in others:
        table.add_column(f"{batch.scenario.name} - {base.scenario.name}", justify="right")
    summaries = [batch.summary() for batch in result.batches]
    differences = result.differences()
    for name, info in METRICS.items():
        cells = [s[name] for s in summaries]
        if all(c.n == 0 for c in cells):
            continue
        diffs = [differences[b.scenario.name][name] for b in others]
        table.add_row(
            name, info.unit, *(_cell(c) for c in cells), *(_difference_cell(d) for d in diffs)
        )
    out.print(table)


@app.command()
def study(
    file: Annotated[Path, typer.Argument(help="Study YAML file.")],
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications",
            "-n",
            min=2,
            help="Replications per point (default: the study's, or the batch's own with --resume).",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed (default: the study's, else the baseline's).")
    ] = None,
    set_: SetOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = "process",
    scheduler: SchedulerOption = None,
    target: TargetOption = None,
    cap: CapOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = False,
    as_json: JsonOption = False,
) -> None:
    """Run a study: a baseline, its variants and sweeps, one row per point.

    Every point runs the same replications of the same seed, and is compared with the baseline
    replication by replication (common random numbers). ``--set`` changes the baseline before
    the study's own changes.
    """
    try:
        spec, points = load_study(file, set_)
    except ScenarioError as error:
        _fail(error)
    unknown = [m for m in spec.metrics if m not in METRICS]
    if unknown:
        err.print(f"{file}: metrics: unknown metric(s) {', '.join(unknown)}", highlight=False)
        raise typer.Exit(2)
    how = Execution(
        replications,
        spec.replications,
        seed if seed is not None else spec.seed,
        workers,
        executor,
        scheduler,
        target,
        cap,
        out_dir,
        resume,
    )
    extra = {
        "study": {
            "name": spec.name,
            "points": [
                {"label": p.label, "scenario": p.scenario.name, "overrides": p.overrides}
                for p in points
            ],
        }
    }
    result = Comparison(
        _execute(
            [p.scenario for p in points],
            how,
            command="study",
            label=f"study {spec.name}",
            extra=extra,
        )
    )
    differences = result.differences()
    if as_json:
        data = result.as_json()
        print(
            json.dumps(
                {
                    "study": spec.name,
                    "seed": data["seed"],
                    "replications": data["replications"],
                    "points": [
                        {
                            "label": p.label,
                            "overrides": p.overrides,
                            "metrics": data["scenarios"][p.scenario.name]["metrics"],
                            "difference": data["differences"].get(p.scenario.name),
                        }
                        for p in points
                    ],
                }
            )
        )
        return
    n = result.baseline.replications
    table = Table(
        title=f"{spec.name}: {len(points)} points, {n} paired replications each, "
        f"seed {result.baseline.seed}",
        caption="mean ± half-width of the 95% CI; * the paired difference from the baseline "
        "excludes zero",
    )
    table.add_column("point")
    for metric in spec.metrics:
        table.add_column(f"{metric} ({METRICS[metric].unit})", justify="right")
    for point, batch in zip(points, result.batches, strict=True):
        summary = batch.summary()
        row = []
        for metric in spec.metrics:
            cell = _cell(summary[metric])
            diff = differences.get(batch.scenario.name, {}).get(metric)
            if diff is not None and (diff.ci_low > 0 or diff.ci_high < 0):
                cell += " *"
            row.append(cell)
        table.add_row(point.label, *row)
    out.print(table)


@app.command()
def query(
    args: Annotated[
        list[str],
        typer.Argument(
            help="Results folder(s) written with --out, then one SQL statement.",
            metavar="FOLDER... SQL",
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the rows as a JSON array of objects.")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV.")] = False,
) -> None:
    """Run DuckDB SQL over one or more results folders.

    Tables: replications (one row per replication: every metric), weekly, daily, leads,
    handoffs, tasks, queue, summary, differences; each row carries its folder and scenario.
    Example: funnelsim query reports/demo "SELECT scenario, avg(sqls) FROM replications
    GROUP BY scenario".
    """
    if len(args) < 2:
        _usage("query", "expected one or more results folders, then one SQL statement")
    *folders, sql = args
    import duckdb

    from funnelsim.results import query as run_query

    try:
        frame = run_query([Path(f) for f in folders], sql)
    except StoreError as error:
        _usage("query", str(error))
    except duckdb.Error as error:
        _usage("query", f"SQL: {error}")
    if as_json:
        print(frame.to_json(orient="records", date_format="iso"))
    elif as_csv:
        print(frame.to_csv(index=False), end="")
    else:
        table = Table(caption=f"{len(frame)} row(s)")
        for column in frame.columns:
            table.add_column(
                str(column), justify="right" if frame[column].dtype.kind in "iuf" else "left"
            )
        for row in frame.itertuples(index=False):
            table.add_row(*(_value(v) for v in row))
        out.print(table)


def _value(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else _number(value, 6)
    return str(value)


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="Results folder written with --out.")],
) -> None:
    """Write a budget-review report of a results folder: Markdown and charts.

    FOLDER/report/report.md holds the key metrics of every scenario with their 95% intervals
    and the paired differences from the baseline; PNG charts beside it show weekly SQLs,
    first-touch queue and SDR utilisation with confidence bands, how each plan moves the key
    metrics, and for a study each key metric across its points.
    """
    from funnelsim.report import write_report  # matplotlib only when reporting

    try:
        path = write_report(folder)
    except StoreError as error:
        _usage("report", str(error))
    out.print(f"report in {path}", highlight=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and CI checks)."""
    print(json.dumps(Scenario.model_json_schema(), indent=2))


def main() -> None:
    app()
