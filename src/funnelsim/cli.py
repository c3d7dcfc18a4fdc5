"""The ``funnelsim`` command line: thin commands over the library.

Exit codes: 0 done, 2 bad input (the message says where: ``FILE:LINE:COL: path: problem``), 130
interrupted. Tables go to stdout, progress and warnings to stderr, so ``--json`` output can be
piped.

Every command imports what it needs when it runs, so that ``funnelsim validate`` loads typer and
the scenario's schema and little else (``benchmarks/bench_startup.py``): this module holds
typer, the options and the one place that turns a :class:`~funnelsim.errors.FunnelsimError`
into a message and exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import typer
from typer.core import TyperGroup

from funnelsim.errors import FunnelsimError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from typer._click import Context  # typer's own click, whose Context its group takes

    from funnelsim.analysis import SummaryTable
    from funnelsim.executors import ExecutorSpec
    from funnelsim.experiment import Chunk, Precision, RunResult
    from funnelsim.scenario.schema import Scenario


class _Commands(TyperGroup):
    """funnelsim's commands, with the one handler of the errors a person can fix."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except FunnelsimError as error:
            for line in error.lines():
                _note(line)
            raise typer.Exit(2) from None


app = typer.Typer(
    name="funnelsim",
    help="Simulate a marketing-to-sales funnel: lead arrivals, handoff SLAs and rep capacity.",
    cls=_Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Lines are written with typer's echo, tables and progress bars with rich, imported only when a
# command draws one: rich's console alone costs about as much as pydantic's import.
def _say(text: str) -> None:
    typer.echo(text)


def _note(text: str) -> None:
    typer.echo(text, err=True)


def _warn(text: str) -> None:
    typer.echo(f"{typer.style('warning:', fg='yellow')} {text}", err=True)


@cache
def _out() -> Console:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 140, emoji=False)  # piped: unwrapped


@cache
def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True, emoji=False)  # ":100:" is a line number, not an emoji


# -- options shared by the commands that run replications ---------------------------------------
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a scenario value: dotted.key=value (YAML scalar). Repeatable.",
        metavar="KEY=VALUE",
    ),
]
VariantOption = Annotated[
    list[str] | None,
    typer.Option(
        "--variant",
        help="A variant of the first file, named LABEL: 'LABEL: KEY=VALUE; KEY=VALUE' (the "
        "label ends at the first ': ', overrides are separated by '; '), e.g. "
        "'8 SDRs: teams.sdr.headcount=8'. Repeatable.",
        metavar="'LABEL: KEY=VALUE; ...'",
    ),
]
SeedOption = Annotated[
    int | None,
    typer.Option(min=0, help="Seed (default: the (first) scenario's, else fresh)."),
]
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
        help="Cap on replications with --target-halfwidth (default 1000, or the run's own "
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
        help="Finish (or extend) the interrupted run in --out: finished replications are "
        "kept, the rest run.",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object to stdout instead of a table.")
]


def _replications(default: str, least: int) -> Any:
    return typer.Option(
        "--replications",
        "-n",
        min=least,
        help=f"Replications per scenario (default {default}, or the run's own with --resume).",
    )


# -- what the commands share: options, a progress bar, notes, tables ---------------------------
class RunOptions(TypedDict):
    """The options run, compare and study share, as :func:`funnelsim.experiment.run` takes
    them."""

    precision: Precision | None
    executor: ExecutorSpec
    out: Path | None
    resume: bool


def _options(
    target: str | None,
    cap: int | None,
    workers: int | None,
    executor: str,
    scheduler: str | None,
    out: Path | None,
    resume: bool,
) -> RunOptions:
    """The shared options, parsed and checked (a UsageError for a bad one) before anything runs."""
    from funnelsim.executors import ExecutorSpec, default_workers
    from funnelsim.experiment import Precision

    return RunOptions(
        precision=None if target is None else Precision.parse(target, cap),
        executor=ExecutorSpec(workers or default_workers(), executor, scheduler),
        out=out,
        resume=resume,
    )


def _warn_overload(scenarios: list[Scenario]) -> None:
    from funnelsim.formatting import overload_warning

    for scenario in scenarios:
        if (warning := overload_warning(scenario)) is not None:
            _warn(warning)


class Callbacks(TypedDict):
    """A progress bar's callbacks, as :func:`funnelsim.experiment.run` takes them."""

    on_chunk: Callable[[Chunk], None]
    on_total: Callable[[int, int], None]


class _Bar:
    """A progress bar with ETA on stderr, shown from the first total the run announces (once
    everything that could be refused was accepted) and gone when the work is done."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def total(self, total: int, done: int) -> None:
        if self.bar is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = bar = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=_err(),
                transient=True,
            )
            bar.start()
            self.task = bar.add_task(self.label, total=total, completed=done)
        elif self.task is not None:
            self.bar.update(self.task, total=total, completed=done)

    def advance(self, chunk: Chunk) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, len(chunk.replications))

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def _progress(label: str, out: Path | None) -> Iterator[Callbacks]:
    """Progress on stderr while a run runs; on Ctrl-C, what a resume would keep."""
    bar = _Bar(label)
    try:
        try:
            yield Callbacks(on_chunk=bar.advance, on_total=bar.total)
        finally:
            bar.stop()
    except KeyboardInterrupt:
        if out is not None:
            _note(f"interrupted: finished chunks are in {out}; add --resume to finish the run")
        raise typer.Exit(130) from None


def _finished(result: RunResult, out: Path | None) -> None:
    """What the numbers on stdout do not say: what a resume kept, where the results are, and
    what the numbers may not show."""
    if result.kept:
        _note(f"resumed: {result.kept} finished replication(s) kept")
    if out is not None:
        _note(f"results in {out}")
    for warning in result.warnings():
        _warn(warning)


def _show(table: SummaryTable) -> None:
    """Draw a table of summaries; a marked figure (its interval excludes zero) is bold with *."""
    from rich.markup import escape
    from rich.table import Table

    from funnelsim.formatting import cell

    shown = Table(title=table.title, caption=table.caption)
    for i, heading in enumerate(table.header):
        shown.add_column(heading, justify="left" if i < table.label_columns else "right")
    for row in table.rows:
        texts = []
        for c in row.cells:
            text = escape(cell(c.summary, c.unit, signed=c.signed))
            texts.append(f"[bold]{text} *[/]" if c.marked else text)
        shown.add_row(*(escape(label) for label in row.labels), *texts)
    _out().print(shown)


def _json(data: Any) -> None:
    print(json.dumps(data))


# -- commands ---------------------------------------------------------------------------------
@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    set_: SetOption = None,
) -> None:
    """Check a scenario file and say what is wrong with it, if anything."""
    from funnelsim.formatting import validated
    from funnelsim.scenario.load import load_scenario

    scenario = load_scenario(file, set_)
    _say(validated(file, scenario))
    _warn_overload([scenario])


@app.command()
def run(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML file(s).")],
    replications: Annotated[int | None, _replications("10", 1)] = None,
    seed: SeedOption = None,
    set_: SetOption = None,
    variant: VariantOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = "process",
    scheduler: SchedulerOption = None,
    target: TargetOption = None,
    cap: CapOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object to stdout instead of a table (with several scenarios: "
            '{"scenarios": [one object per scenario]}).',
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

    Several scenarios (files and variants of the first) are shown side by side and run on one
    seed, sharing random numbers stream by stream (arrivals of a source, work times, ...), so
    their differences are sharper.
    """
    from funnelsim import experiment
    from funnelsim.scenario.load import load_scenarios

    scenarios = load_scenarios(files, set_, variant or [])
    options = _options(target, cap, workers, executor, scheduler, out_dir, resume)
    _warn_overload(scenarios)
    label = f"simulating {scenarios[0].name}" if len(scenarios) == 1 else "simulating"
    stored = records and out_dir is not None  # records go to a folder, never only to memory
    with _progress(label, out_dir) as progress:
        result = experiment.run(
            scenarios, replications, seed, records=stored, **options, **progress
        )
    _finished(result, out_dir)
    if as_json:
        _json(result.as_json())
    else:
        _show(result.table())


@app.command()
def compare(
    files: Annotated[list[Path], typer.Argument(help="Scenario files; the first is the baseline.")],
    replications: Annotated[int | None, _replications("20", 2)] = None,
    seed: SeedOption = None,
    set_: SetOption = None,
    variant: VariantOption = None,
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

    The scenarios are the files and the variants of the first (``compare plan.yaml --variant
    "8 SDRs: teams.sdr.headcount=8"`` needs no second file). Every scenario runs the same
    replications of the same seed; each replication of a scenario is paired with the
    baseline's, so differences come with intervals much narrower than two independent runs
    would give. Differences whose 95% interval excludes zero are marked with *.
    """
    from funnelsim import experiment
    from funnelsim.scenario.load import load_scenarios

    scenarios = load_scenarios(files, set_, variant or [])
    options = _options(target, cap, workers, executor, scheduler, out_dir, resume)
    _warn_overload(scenarios)
    with _progress("comparing", out_dir) as progress:
        result = experiment.run(
            scenarios,
            replications,
            seed,
            command="compare",
            default_replications=20,
            **options,
            **progress,
        )
    _finished(result, out_dir)
    if as_json:
        _json(result.comparison().as_json())
    else:
        _show(result.comparison().table())


@app.command()
def study(
    file: Annotated[Path, typer.Argument(help="Study YAML file.")],
    replications: Annotated[int | None, _replications("the study's", 2)] = None,
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
    from funnelsim import experiment
    from funnelsim.metrics import METRICS
    from funnelsim.scenario.study import load_study

    spec, points = load_study(file, set_, METRICS)
    options = _options(target, cap, workers, executor, scheduler, out_dir, resume)
    with _progress(f"study {spec.name}", out_dir) as progress:
        result = experiment.run_study(spec, points, replications, seed, **options, **progress)
    _finished(result, out_dir)
    if as_json:
        _json(experiment.study_json(spec, points, result))
    else:
        _show(experiment.study_table(spec, points, result))


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
    from funnelsim.errors import UsageError
    from funnelsim.results import query as run_query

    if len(args) < 2:
        raise UsageError("expected one or more results folders, then one SQL statement", "query")
    *folders, sql = args
    frame = run_query([Path(f) for f in folders], sql)
    if as_json:
        print(frame.to_json(orient="records", date_format="iso"))
    elif as_csv:
        print(frame.to_csv(index=False), end="")
    else:
        from rich.table import Table

        from funnelsim.formatting import scalar

        table = Table(caption=f"{len(frame)} row(s)")
        for column in frame.columns:
            numeric = frame[column].dtype.kind in "iuf"
            table.add_column(str(column), justify="right" if numeric else "left")
        for row in frame.itertuples(index=False):
            table.add_row(*(scalar(v) for v in row))
        _out().print(table)


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

    _say(f"report in {write_report(folder)}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and CI checks)."""
    from funnelsim.scenario.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))


def main() -> None:
    app()
