"""The ``funnelsim`` command line: thin commands over the library.

Exit codes: 0 done, 2 bad input (the message says where: ``FILE:LINE:COL: path: problem``), 130
interrupted. Tables go to stdout, progress and warnings to stderr, so ``--json`` output can be
piped.

Every command imports what it needs when it runs, so that ``funnelsim validate`` loads click and
the scenario's schema and little else (``benchmarks/bench_startup.py``): this module holds
click, the options and the one place that turns a :class:`~funnelsim.errors.FunnelsimError`
into a message and exit code 2.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import click

from funnelsim.errors import FunnelsimError, UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from funnelsim.analysis import SummaryTable
    from funnelsim.crm.data import Export
    from funnelsim.crm.fits import Fits
    from funnelsim.executors import ExecutorSpec
    from funnelsim.experiment import Chunk, Precision, RunResult, UncertainRun
    from funnelsim.optimizer import Optimum
    from funnelsim.scenario.schema import Scenario

F = TypeVar("F", bound=Callable[..., Any])


class _Commands(click.Group):
    """funnelsim's commands, with the one handler of the errors a person can fix."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FunnelsimError as error:
            for line in error.lines():
                _note(line)
            raise click.exceptions.Exit(2) from None


@click.group(cls=_Commands, context_settings={"max_content_width": 100})
def app() -> None:
    """Simulate a marketing-to-sales funnel: lead arrivals, handoff SLAs and rep capacity."""


# Commands whose time is their start-up: building the scenario's schema (and click's commands)
# makes tens of thousands of objects that live until the process ends, and the garbage
# collector's passes over them are wasted work (a few % of ``validate``). They run without it;
# the commands that simulate keep it, since their garbage is worth collecting.
_START_UP_BOUND = ("validate", "schema")


# Lines are written with click's echo, tables and progress bars with rich, imported only when a
# command draws one: rich's console alone costs about as much as pydantic's import.
def _say(text: str) -> None:
    click.echo(text)


def _note(text: str) -> None:
    click.echo(text, err=True)


def _warn(text: str) -> None:
    click.echo(f"{click.style('warning:', fg='yellow')} {text}", err=True)


@cache
def _out() -> Console:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 140, emoji=False)  # piped: unwrapped


@cache
def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True, emoji=False)  # ":100:" is a line number, not an emoji


# -- options shared by the commands that run replications ---------------------------------------
def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several options as one decorator, listed in the order ``--help`` shows them."""

    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


SET = click.option(
    "--set",
    "set_",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scenario value: dotted.key=value (YAML scalar). Repeatable.",
)
VARIANT = click.option(
    "--variant",
    multiple=True,
    metavar="'LABEL: KEY=VALUE; ...'",
    help="A variant of the first file, named LABEL: 'LABEL: KEY=VALUE; KEY=VALUE' (the label "
    "ends at the first ': ', overrides are separated by '; '), e.g. "
    "'8 SDRs: teams.sdr.headcount=8'. Repeatable.",
)
SEED = click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Seed (default: the (first) scenario's, else fresh).",
)
WORKERS = click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    help="Processes running replications (default: all cores).",
)
RUNNING = _options(
    WORKERS,
    click.option(
        "--executor",
        default="process",
        show_default=True,
        help="Where replications run: 'process' (a local process pool) or 'dask' (a Dask "
        "cluster: --scheduler's, else a local one on 127.0.0.1).",
    ),
    click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786 (implies "
        "--executor dask).",
    ),
    click.option(
        "--target-halfwidth",
        "target",
        metavar="METRIC=VALUE",
        help="Add replications until METRIC's 95% CI half-width is at most VALUE (compare and "
        "study: the widest paired difference); --replications is where it starts.",
    ),
    click.option(
        "--max-replications",
        "cap",
        type=click.IntRange(min=2),
        help="Cap on replications with --target-halfwidth (default 1000, or the run's own "
        "with --resume).",
    ),
    click.option(
        "--out",
        "out_dir",
        type=click.Path(path_type=Path),
        help="Results folder: manifest, resolved scenarios, per-replication metrics and weekly "
        "series (Parquet, one file per chunk), summary CSVs. Written as chunks finish.",
    ),
    click.option(
        "--resume",
        is_flag=True,
        help="Finish (or extend) the interrupted run in --out: finished replications are "
        "kept, the rest run.",
    ),
    click.option(
        "--force",
        is_flag=True,
        help="Run even a run estimated too large: one replication needing more than half the "
        "machine's memory, or more than 10^9 simulated leads in all.",
    ),
)
DEFAULT_REPLICATIONS = 10  # run's, as experiment.run's default_replications
GROUPINGS = ("source", "segment", "team", "wait")  # funnelsim.breakdown's, out of start-up
UNCERTAINTY = click.option(
    "--uncertainty",
    type=click.IntRange(min=2),
    metavar="N",
    help="Draw N sets of the uncertain inputs (numbers with a range; Latin hypercube, seeded "
    "from the run's seed; plans share the draw of each path) and run the replications of each "
    "on common random numbers: each metric's mean, p05-p95 and the inputs' share of its "
    "variance (compare: and the chance each plan beats the first).",
)
JSON = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object to stdout instead of a table."
)


def _replications(default: str, least: int) -> Callable[[F], F]:
    return click.option(
        "--replications",
        "-n",
        type=click.IntRange(min=least),
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
    force: bool


def _run_options(
    target: str | None,
    cap: int | None,
    workers: int | None,
    executor: str,
    scheduler: str | None,
    out: Path | None,
    resume: bool,
    force: bool,
) -> RunOptions:
    """The shared options, parsed and checked (a UsageError for a bad one) before anything runs."""
    from funnelsim.executors import ExecutorSpec, default_workers
    from funnelsim.experiment import Precision

    return RunOptions(
        precision=None if target is None else Precision.parse(target, cap),
        executor=ExecutorSpec(workers or default_workers(), executor, scheduler),
        out=out,
        resume=resume,
        force=force,
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
            from rich.markup import escape  # a scenario's name is shown as written

            self.task = bar.add_task(escape(self.label), total=total, completed=done)
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
    """Progress on stderr while a run runs; on Ctrl-C, or SIGTERM (a job scheduler stopping
    the run), what a resume would keep. SIGTERM ends the run as Ctrl-C does, through the same
    clean-up (the pool shut down, its workers stopped, the folder's lock let go), and exits
    with 143 where Ctrl-C exits with 130."""
    import signal

    terminated = []

    def on_term(signum: int, frame: object) -> None:
        terminated.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    bar = _Bar(label)
    try:
        try:
            yield Callbacks(on_chunk=bar.advance, on_total=bar.total)
        finally:
            bar.stop()
    except KeyboardInterrupt:
        if out is not None:
            _note(f"interrupted: finished chunks are in {out}; add --resume to finish the run")
        raise click.exceptions.Exit(143 if terminated else 130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


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

    # every text is the user's (scenario names, labels) or plain: shown as written, not markup
    shown = Table(
        title=escape(table.title) if table.title else None,
        caption=escape(table.caption) if table.caption else None,
    )
    for i, heading in enumerate(table.header):
        shown.add_column(escape(heading), justify="left" if i < table.label_columns else "right")
    for row in table.rows:
        texts = []
        for c in row.cells:
            text = escape(cell(c.summary, c.unit, signed=c.signed))
            texts.append(f"[bold]{text} *[/]" if c.marked else text)
        shown.add_row(*(escape(label) for label in row.labels), *texts)
    _out().print(shown)


def _json(data: Any) -> None:
    import json

    print(json.dumps(data))


# -- commands ---------------------------------------------------------------------------------
_FILE = click.Path(path_type=Path)


@app.command()
@click.argument("file", type=_FILE)
@SET
@click.option(
    "--force",
    is_flag=True,
    help="Accept a scenario whose default run (10 replications) is estimated too large.",
)
def validate(file: Path, set_: tuple[str, ...], force: bool) -> None:
    """Check a scenario file.

    Says what is wrong with FILE (YAML), each problem located (FILE:LINE:COL), or prints its
    offered load against the SDRs' capacity. A scenario whose default run would need more than
    half the machine's memory for one replication, or simulate more than 10^9 leads, is refused
    as ``run`` would refuse it.
    """
    from funnelsim import workload
    from funnelsim.formatting import uncertain_lines, validated
    from funnelsim.scenario.load import load_scenario

    scenario = load_scenario(file, set_)
    workload.check([workload.estimate(scenario)], DEFAULT_REPLICATIONS, force=force)
    _say(validated(file, scenario))
    for line in uncertain_lines(scenario):
        _say(line)
    _warn_overload([scenario])


@app.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
@_replications(str(DEFAULT_REPLICATIONS), 1)
@SEED
@SET
@VARIANT
@RUNNING
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object to stdout instead of a table (with several scenarios: "
    '{"scenarios": [one object per scenario]}).',
)
@click.option(
    "--records/--no-records",
    default=True,
    show_default=True,
    help="With --out, also write per-lead, handoff, task and queue records (Parquet).",
)
@UNCERTAINTY
@click.option(
    "--by",
    multiple=True,
    type=click.Choice(GROUPINGS),
    help="Also show the funnel's stages (and each team's load) by source, segment or team, "
    "or first touches and their SQLs by wait band. "
    "Repeatable. --json always holds them all, under 'by'.",
)
def run(
    files: tuple[Path, ...],
    replications: int | None,
    seed: int | None,
    set_: tuple[str, ...],
    variant: tuple[str, ...],
    workers: int | None,
    executor: str,
    scheduler: str | None,
    target: str | None,
    cap: int | None,
    out_dir: Path | None,
    resume: bool,
    force: bool,
    as_json: bool,
    records: bool,
    uncertainty: int | None,
    by: tuple[str, ...],
) -> None:
    """Simulate scenarios: their metrics with 95% confidence intervals.

    FILES are scenario YAML files.
    Several scenarios (files and variants of the first) are shown side by side and run on one
    seed, sharing random numbers stream by stream (arrivals of a source, work times, ...), so
    their differences are sharper.
    """
    from funnelsim import experiment
    from funnelsim.scenario.load import load_scenarios

    scenarios = load_scenarios(list(files), set_, variant)
    options = _run_options(target, cap, workers, executor, scheduler, out_dir, resume, force)
    _warn_overload(scenarios)
    if uncertainty is not None:
        _run_uncertain(scenarios, uncertainty, replications, seed, options, as_json)
        return
    label = f"simulating {scenarios[0].name}" if len(scenarios) == 1 else "simulating"
    stored = records and out_dir is not None  # records go to a folder, never only to memory
    with _progress(label, out_dir) as progress:
        result = experiment.run(
            scenarios, replications, seed, records=stored, **options, **progress
        )
    _finished(result, out_dir)
    if as_json:
        _json(result.as_json())
        return
    _show(result.table())
    for grouping in by:
        for table in result.breakdown_tables(grouping):
            _show(table)


def _run_uncertain(
    scenarios: list[Scenario],
    draws: int,
    replications: int | None,
    seed: int | None,
    options: RunOptions,
    as_json: bool,
    *,
    compare: bool = False,
) -> None:
    """``run --uncertainty`` (one plan) and ``compare --uncertainty`` (plans against the
    first): every plan over the same draws of its uncertain inputs."""
    from funnelsim import experiment

    if not compare and len(scenarios) != 1:
        raise UsageError("one scenario at a time (a file, no --variant)", "--uncertainty")
    if options["precision"] is not None:
        raise UsageError("does not take --target-halfwidth", "--uncertainty")
    label = f"{scenarios[0].name}, {draws} draws" if not compare else f"comparing, {draws} draws"
    with _progress(label, options["out"]) as progress:
        found = experiment.run_uncertain(
            scenarios,
            draws,
            replications,
            seed,
            executor=options["executor"],
            out=options["out"],
            resume=options["resume"],
            force=options["force"],
            **progress,
        )
    _finished(found.result, options["out"])
    if as_json:
        _json(found.comparison_json() if compare else found.as_json())
        return
    _show_uncertain(found, compare)


def _show_uncertain(found: UncertainRun, compare: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from funnelsim.formatting import mean_text, spread_cells
    from funnelsim.metrics import METRICS

    nan = float("nan")
    plans = found.plans
    shown = Table(
        title=escape(
            f"{', '.join(p.name for p in plans)}: {found.draws} draws of {len(found.inputs)} "
            f"uncertain inputs x {found.replications} replication(s), seed {found.seed}"
        ),
        caption="mean ± half-width of its 95% CI; p05 to p95 of single outcomes; the inputs' "
        "share of an outcome's variance [95% CI]"
        + ("; P(better): the chance a plan beats the first [95% CI]" if compare else ""),
    )
    shown.add_column("metric")
    shown.add_column("unit")
    if not compare:
        for heading in ("mean", "p05 to p95", "inputs' share"):
            shown.add_column(heading, justify="right")
        for metric, spread in found.spreads().items():
            if spread.mean == spread.mean:  # defined somewhere
                unit = METRICS[metric].unit
                shown.add_row(metric, unit, *(escape(c) for c in spread_cells(spread, unit)))
        _out().print(shown)
        return
    shown.add_column(escape(plans[0].name), justify="right")
    for plan in plans[1:]:
        shown.add_column(escape(f"{plan.name} - {plans[0].name}"), justify="right")
        shown.add_column("P(better)", justify="right")
    baseline = found.spreads(0)
    differences = [found.differences(k) for k in range(1, len(plans))]
    for metric, info in METRICS.items():
        if baseline[metric].mean != baseline[metric].mean:
            continue
        cells = [spread_cells(baseline[metric], info.unit)[0]]
        for diffs in differences:
            d = diffs[metric]
            mean, low, high = (
                nan if x is None else x for x in (d["mean"], d["ci_low"], d["ci_high"])
            )
            cells.append(mean_text(mean, (high - low) / 2, 2, info.unit, signed=True))
            chance, (c_low, c_high) = d["p_better"], d["p_better_ci"]
            cells.append("" if chance is None else f"{chance:.0%} [{c_low:.0%}, {c_high:.0%}]")
        shown.add_row(metric, info.unit, *(escape(c) for c in cells))
    _out().print(shown)
    for plan, diffs in zip(plans[1:], differences, strict=True):  # the flagship's question
        chance, (low, high) = diffs["new_arr"]["p_better"], diffs["new_arr"]["p_better_ci"]
        if chance is not None:
            _say(
                f"{plan.name} beats {plans[0].name} on new_arr in {chance:.0%} of outcomes "
                f"[{low:.0%}, {high:.0%}] ({found.draws} draws of the inputs x "
                f"{found.replications} replications)"
            )


@app.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
@_replications("20", 2)
@SEED
@SET
@VARIANT
@RUNNING
@UNCERTAINTY
@JSON
def compare(
    files: tuple[Path, ...],
    replications: int | None,
    seed: int | None,
    set_: tuple[str, ...],
    variant: tuple[str, ...],
    workers: int | None,
    executor: str,
    scheduler: str | None,
    target: str | None,
    cap: int | None,
    out_dir: Path | None,
    resume: bool,
    force: bool,
    uncertainty: int | None,
    as_json: bool,
) -> None:
    """Compare scenarios: paired differences against the first.

    FILES are scenario YAML files; the first is the baseline.
    The scenarios are the files and the variants of the first (``compare plan.yaml --variant
    "8 SDRs: teams.sdr.headcount=8"`` needs no second file). Every scenario runs the same
    replications of the same seed; each replication of a scenario is paired with the
    baseline's, so differences come with intervals much narrower than two independent runs
    would give. Differences whose 95% interval excludes zero are marked with *.
    """
    from funnelsim import experiment
    from funnelsim.scenario.load import load_scenarios

    scenarios = load_scenarios(list(files), set_, variant)
    options = _run_options(target, cap, workers, executor, scheduler, out_dir, resume, force)
    _warn_overload(scenarios)
    if uncertainty is not None:
        if len(scenarios) < 2:
            raise UsageError("needs at least two scenarios (two files, or a --variant)", "compare")
        _run_uncertain(scenarios, uncertainty, replications, seed, options, as_json, compare=True)
        return
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
@click.argument("file", type=_FILE)
@_replications("the study's", 2)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Seed (default: the study's, else the baseline's).",
)
@SET
@RUNNING
@UNCERTAINTY
@JSON
def study(
    file: Path,
    replications: int | None,
    seed: int | None,
    set_: tuple[str, ...],
    workers: int | None,
    executor: str,
    scheduler: str | None,
    target: str | None,
    cap: int | None,
    out_dir: Path | None,
    resume: bool,
    force: bool,
    uncertainty: int | None,
    as_json: bool,
) -> None:
    """Run a study: a baseline, its variants and sweeps.

    FILE is a study YAML file; the output has one row per point.
    Every point runs the same replications of the same seed, and is compared with the baseline
    replication by replication (common random numbers). ``--set`` changes the baseline before
    the study's own changes.
    """
    from funnelsim import experiment
    from funnelsim.metrics import METRICS
    from funnelsim.scenario.study import load_study

    options = _run_options(target, cap, workers, executor, scheduler, out_dir, resume, force)
    sized = experiment.study_size_check(
        replications, options["precision"], force=force, draws=uncertainty or 1
    )
    spec, points = load_study(file, set_, METRICS, sized)
    if uncertainty is not None:  # every point a plan, against the baseline
        plans = [p.scenario for p in points]
        seed = spec.seed if seed is None else seed
        n = replications or spec.replications
        _run_uncertain(plans, uncertainty, n, seed, options, as_json, compare=True)
        return
    with _progress(f"study {spec.name}", out_dir) as progress:
        result = experiment.run_study(spec, points, replications, seed, **options, **progress)
    _finished(result, out_dir)
    if as_json:
        _json(experiment.study_json(spec, points, result))
    else:
        _show(experiment.study_table(spec, points, result))


@app.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
@click.option(
    "--method",
    type=click.Choice(["tornado", "morris", "sobol", "morris+sobol"]),
    default="morris+sobol",
    show_default=True,
    help="tornado: each input at its low and high end; morris: elementary effects; sobol: "
    "Sobol indices with CIs; morris+sobol: Morris to screen, then Sobol on the top inputs.",
)
@click.option("--metric", default="new_arr", show_default=True, help="The metric it explains.")
@click.option(
    "--replications",
    "-n",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Replications of each input setting (common random numbers: what differs between "
    "settings is their inputs; more replications narrow the indices' intervals).",
)
@click.option(
    "--trajectories",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Morris trajectories (settings: trajectories x (inputs + 1)).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=2),
    default=64,
    show_default=True,
    help="Sobol base samples (settings: samples x (inputs + 2)).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="With morris+sobol, the inputs Sobol looks at.",
)
@SEED
@SET
@WORKERS
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Results folder: every batch of settings (resumable), sensitivity.csv (the "
    "'sensitivity' table of query), sensitivity.json and sensitivity.png.",
)
@click.option("--resume", is_flag=True, help="Finish the interrupted analysis in --out.")
@JSON
def sensitivity(
    files: tuple[Path, ...],
    method: str,
    metric: str,
    replications: int,
    trajectories: int,
    samples: int,
    top: int,
    seed: int | None,
    set_: tuple[str, ...],
    workers: int | None,
    out_dir: Path | None,
    resume: bool,
    as_json: bool,
) -> None:
    """Which uncertain inputs decide a metric, and where a verdict flips.

    FILES: one scenario, or two (the metric's difference FILE2 - FILE1: which inputs decide
    between two plans; then the break-even value of the top three inputs).
    """
    from funnelsim.executors import ExecutorSpec, default_workers
    from funnelsim.scenario.load import load_scenarios
    from funnelsim.sensitivity_analysis import analyse

    plans = load_scenarios(list(files), set_, ())
    with _progress(f"sensitivity of {metric}", out_dir) as progress:
        found = analyse(
            plans,
            metric=metric,
            method=method,  # type: ignore[arg-type]  # click.Choice gave one of METHODS
            replications=replications,
            seed=seed,
            trajectories=trajectories,
            samples=samples,
            top=top,
            executor=ExecutorSpec(workers or default_workers()),
            out=out_dir,
            resume=resume,
            **progress,
        )
    what = metric if len(plans) == 1 else f"{metric}: {plans[1].name} - {plans[0].name}"
    if out_dir is not None:
        from funnelsim.charts import plot_sensitivity
        from funnelsim.formatting import chart_text
        from funnelsim.store import atomic_write

        title = chart_text(f"sensitivity of {what} ({method}, {found.settings} settings)")
        figure = plot_sensitivity(found.parameters, title=title)
        atomic_write(out_dir / "sensitivity.png", partial(figure.savefig, format="png", dpi=150))
        if found.kept:
            _note(f"resumed: {found.kept} finished replication(s) kept")
        _note(f"results in {out_dir}")
    if as_json:
        _json(found.as_json())
        return
    from rich.markup import escape
    from rich.table import Table

    shown = Table(title=escape(f"sensitivity of {what} ({method}, {found.settings} settings)"))
    keys = sorted({k for figures in found.parameters.values() for k in figures}, key=_ORDER.index)
    shown.add_column("input")
    for key in keys:
        shown.add_column(key, justify="right")
    if found.break_even:
        shown.add_column("break-even", justify="right")
    for path in found.ranked():
        figures = found.parameters[path]
        cells = [_figure(figures.get(key)) for key in keys]
        if found.break_even:
            flip = found.break_even.get(path)
            cells.append(
                "" if path not in found.break_even else str(flip["value"]) if flip else "none"
            )
        shown.add_row(escape(path), *(escape(c) for c in cells))
    _out().print(shown)
    _say(f"the inputs that decide {what} most: {', '.join(found.ranked()[:3])}")


@app.command()
@click.argument("file", type=_FILE)
@click.option(
    "--trials",
    type=click.IntRange(min=2),
    help="Candidate plans to simulate (default: the file's 'trials').",
)
@click.option(
    "--replications",
    "-n",
    type=click.IntRange(min=1),
    help="Replications of every trial (default: the file's 'replications'; promising trials "
    "get the file's 'promising').",
)
@click.option(
    "--confirm-replications",
    type=click.IntRange(min=3),
    help="Replications of the final selection (default: the file's confirm.replications).",
)
@SEED
@SET
@WORKERS
@click.option(
    "--executor",
    default="process",
    show_default=True,
    help="Where replications run: 'process' (a local process pool) or 'dask' (a Dask "
    "cluster: --scheduler's, else a local one on 127.0.0.1).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Address of a running Dask scheduler (implies --executor dask).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Results folder: Optuna's journal (optuna.journal), trials.csv, optimize.json and "
    "the charts history.png, against-baseline.png (and pareto.png for two objectives).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted optimisation in --out: finished trials are kept.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Run even an optimisation estimated too large for the machine.",
)
@JSON
def optimize(
    file: Path,
    trials: int | None,
    replications: int | None,
    confirm_replications: int | None,
    seed: int | None,
    set_: tuple[str, ...],
    workers: int | None,
    executor: str,
    scheduler: str | None,
    out_dir: Path | None,
    resume: bool,
    force: bool,
    as_json: bool,
) -> None:
    """The best plan within constraints: an optimisation file's variables, searched.

    FILE: an optimisation file (docs/cli.md): a baseline scenario, the variables that may
    change (with ranges or choices), an optional budget spent in full, constraints, and one
    objective (or two: a Pareto front). Trials run on common random numbers; the best ones
    rerun with more replications, and the best plan is reported with every plan statistically
    indistinguishable from it. An infeasible problem exits 2, naming the constraints no trial
    met.
    """
    from funnelsim.executors import ExecutorSpec, default_workers
    from funnelsim.goals import parse_goal
    from funnelsim.metrics import METRICS
    from funnelsim.optimizer import optimize as search
    from funnelsim.scenario.optimization import load_optimization, with_effort

    spec, baseline = load_optimization(file, set_, list(METRICS), parse_goal)
    spec = with_effort(spec, trials, replications, confirm_replications)
    with _progress(f"optimizing {spec.name}", out_dir) as progress:
        found = search(
            spec,
            baseline,
            seed=seed,
            executor=ExecutorSpec(workers or default_workers(), executor, scheduler),
            out=out_dir,
            resume=resume,
            force=force,
            **progress,
        )
    if out_dir is not None:
        _optimize_charts(found, out_dir)
        if found.kept:
            _note(f"resumed: {found.kept} finished trial(s) kept")
        _note(f"results in {out_dir}")
    if as_json:
        _json(found.as_json())
        return
    _show_optimum(found)


def _show_optimum(found: Optimum) -> None:
    """The chosen plan's settings against the baseline's, then its figures with CIs and
    their paired differences from the baseline."""
    from rich.markup import escape
    from rich.table import Table

    from funnelsim.formatting import cell, scalar
    from funnelsim.metrics import METRICS

    best = found.best
    plan = Table(title=escape(f"{found.name}: the best plan (trial {best.trial})"))
    plan.add_column("variable")
    plan.add_column("baseline", justify="right")
    plan.add_column("best plan", justify="right")
    for plan_row in found.indistinguishable:
        plan.add_column(escape(f"trial {plan_row.trial}"), justify="right")
    for key, value in best.settings.items():
        others = [scalar(p.settings[key]) for p in found.indistinguishable]
        plan.add_row(escape(key), scalar(found.baseline_settings.get(key)), scalar(value), *others)
    _out().print(plan)
    figures = Table(
        caption=escape(
            f"{len(found.trials)} trials; the best and the plans indistinguishable from it "
            f"rerun with {found.replications} replications on fresh numbers (seed {found.seed})"
        )
    )
    figures.add_column("metric")
    figures.add_column("baseline (95% CI)", justify="right")
    figures.add_column("best plan (95% CI)", justify="right")
    figures.add_column("best - baseline", justify="right")
    for name, summary in best.metrics.items():
        unit = METRICS[name].unit
        figures.add_row(
            escape(name),
            cell(found.baseline[name], unit),
            cell(summary, unit),
            cell(best.against_baseline[name], unit, signed=True),
        )
    _out().print(figures)
    objective = found.objectives[0]
    near = len(found.indistinguishable)
    _say(
        f"best plan: trial {best.trial}, {objective.metric} "
        f"{cell(best.metrics[objective.metric], METRICS[objective.metric].unit)}"
        + (f"; {near} other plan(s) statistically indistinguishable from it" if near else "")
    )


def _optimize_charts(found: Optimum, out: Path) -> None:
    """history.png, against-baseline.png and, for two objectives, pareto.png."""
    from funnelsim.charts import plot_history, plot_pareto, plot_relative_differences
    from funnelsim.formatting import chart_text
    from funnelsim.metrics import METRICS
    from funnelsim.optimizer import statistic
    from funnelsim.store import atomic_write

    objective = found.objectives[0]
    unit = METRICS[objective.metric].unit
    rows = [t for t in found.trial_rows() if not t["skipped"]]
    key = f"{objective.metric}_{objective.statistic}"
    charts = {
        "history.png": plot_history(
            [r["trial"] for r in rows],
            [r[key] for r in rows],
            [r["feasible"] for r in rows],
            best=(found.best.trial, found.best.metrics[objective.metric]),
            maximize=objective.direction == "maximize",
            ylabel=f"{objective.metric} ({unit}, {objective.statistic} of a trial)",
            title=chart_text(f"{found.name}: {objective.direction} {objective.metric}"),
            percent=unit == "share",
        ),
        "against-baseline.png": plot_relative_differences(
            found.best.against_baseline,
            {name: s.mean for name, s in found.baseline.items()},
            title=chart_text(f"the best plan (trial {found.best.trial}) against the baseline"),
        ),
    }
    if found.pareto is not None:
        first, second = found.objectives
        feasible = [t for t in found.trials if t.skipped is None]
        charts["pareto.png"] = plot_pareto(
            [
                (
                    statistic(first, t.values(first.metric)),
                    statistic(second, t.values(second.metric)),
                )
                for t in feasible
            ],
            [(p.metrics[first.metric], p.metrics[second.metric]) for p in found.pareto],
            xlabel=f"{first.metric} ({METRICS[first.metric].unit})",
            ylabel=f"{second.metric} ({METRICS[second.metric].unit})",
            title=chart_text(f"{found.name}: Pareto front"),
        )
    for name, figure in charts.items():
        atomic_write(out / name, partial(figure.savefig, format="png", dpi=150))


@app.command()
@click.argument("file", type=_FILE)
@click.option(
    "--team",
    required=True,
    metavar="NAME",
    help="The team to size: sdr, ae, or a further team's name (under teams:).",
)
@click.option(
    "--target",
    "target_text",
    required=True,
    metavar="'METRIC>=VALUE'",
    help="What the team must reach: METRIC>=VALUE or METRIC<=VALUE, e.g. "
    "'sla_first_touch_attainment>=0.9'.",
)
@click.option(
    "--rule",
    type=click.Choice(["ci", "mean"]),
    default="ci",
    show_default=True,
    help="ci: the 95% CI's unfavourable end must meet the target (its lower end for >=, its "
    "upper end for <=); mean: the mean must.",
)
@click.option(
    "--replications",
    "-n",
    type=click.IntRange(min=1),
    default=DEFAULT_REPLICATIONS,
    show_default=True,
    help="Replications of each headcount (common random numbers: every headcount runs the "
    "same ones).",
)
@SEED
@SET
@WORKERS
@click.option(
    "--max-headcount",
    type=click.IntRange(min=1),
    help="The largest headcount tried (default: 200, or ten times the start if larger).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Results folder: every batch of headcounts (the first in DIR, the next ones in "
    "DIR/batches/K), size.json and the chart size.png.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Run even batches estimated too large for the machine.",
)
@JSON
def size(
    file: Path,
    team: str,
    target_text: str,
    rule: str,
    replications: int,
    seed: int | None,
    set_: tuple[str, ...],
    workers: int | None,
    max_headcount: int | None,
    out_dir: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """The smallest team that meets a target.

    The smallest starting headcount of --team (teams.NAME.headcount) whose --target metric
    meets the target under --rule. The search starts from queueing theory (Erlang C, or Erlang
    A when leads expire) for a target on the SDRs' first-touch queue, from the SDRs' offered
    load for another SDR target, else from the scenario's own headcount; then simulates a few
    headcounts at a time, every one on the same replications of one seed (common random
    numbers), doubling up and then bisecting until the smallest that meets the target sits
    next to one that does not. Prints the metric by headcount, and the one chosen.
    """
    from funnelsim import sizing
    from funnelsim.executors import ExecutorSpec, default_workers
    from funnelsim.goals import parse_goal
    from funnelsim.scenario.load import load_scenario

    goal = parse_goal(target_text, "--target")
    scenario = load_scenario(file, set_)
    with _progress(f"sizing {team}", out_dir) as progress:
        found = sizing.size(
            scenario,
            team,
            goal,
            rule="ci" if rule == "ci" else "mean",
            replications=replications,
            seed=seed,
            executor=ExecutorSpec(workers or default_workers()),
            max_headcount=max_headcount,
            out=out_dir,
            force=force,
            **progress,
        )
    for warning in found.warnings:
        _warn(warning)
    title = f"{team} headcount for {goal} (rule {rule})"
    if out_dir is not None:
        from funnelsim.charts import plot_size
        from funnelsim.formatting import chart_text
        from funnelsim.metrics import METRICS
        from funnelsim.store import atomic_write

        theory = [found.theory(r.headcount) for r in found.rows]
        unit = METRICS[goal.metric].unit
        figure = plot_size(
            [r.headcount for r in found.rows],
            [r.summary for r in found.rows],
            target=goal.value,
            chosen=found.headcount,
            xlabel=f"{team} headcount at the start (people)",
            ylabel=f"{goal.metric} ({unit}, mean and 95% CI)",
            title=f"{chart_text(scenario.name)}\n{chart_text(title)}",
            theory=theory if any(t == t for t in theory) else None,
            theory_label=found.start.queue.model if found.start.queue else "theory",
            percent=unit == "share",
        )
        atomic_write(out_dir / "size.png", partial(figure.savefig, format="png", dpi=150))
        _note(f"results in {out_dir}")
    problem = found.shortfall()
    if as_json and problem is None:
        _json(found.as_json())
        return
    from rich.markup import escape
    from rich.table import Table

    from funnelsim.formatting import cell, mean_text
    from funnelsim.metrics import METRICS

    unit = METRICS[goal.metric].unit
    shown = Table(
        title=escape(title),
        caption=escape(
            f"{found.replications} replication(s) per headcount, seed {found.seed}; started at "
            f"{found.start.headcount} ({found.start.model}); * the smallest that meets the target"
        ),
    )
    shown.add_column("headcount", justify="right")
    shown.add_column(escape(f"{goal.metric} (95% CI)"), justify="right")
    shown.add_column("meets", justify="left")
    exact = any(found.theory(r.headcount) == found.theory(r.headcount) for r in found.rows)
    if exact and found.start.queue is not None:
        shown.add_column(escape(found.start.queue.model), justify="right")
    for row in found.rows:
        cells = [str(row.headcount), cell(row.summary, unit), "yes" if row.met else "no"]
        if exact:
            cells.append(mean_text(found.theory(row.headcount), 0.0, 1, unit))
        if row.headcount == found.headcount:
            cells[2] += " *"
            shown.add_row(*(f"[bold]{escape(c)}[/]" for c in cells))
        else:
            shown.add_row(*(escape(c) for c in cells))
    if problem is not None:  # the answer is the error: the table goes with it, to stderr
        if not as_json:
            _err().print(shown)
        raise UsageError(problem, "--target")
    _out().print(shown)
    _say(f"smallest {team} headcount meeting {goal} (rule {rule}): {found.headcount}")


_ORDER = ["low", "high", "metric_at_low", "metric_at_high", "mu_star", "mu_star_conf", "sigma",
          "S1", "S1_conf", "ST", "ST_conf"]  # fmt: skip


def _figure(value: object) -> str:
    from funnelsim.formatting import number

    if value is None:
        return ""
    return number(value) if isinstance(value, float) else str(value)


@app.command("plan")
@click.argument("file", type=_FILE)
@click.option(
    "--target",
    required=True,
    metavar="METRIC=VALUE",
    help="What the plan must reach in the measured period, e.g. new_arr=3000000: a volume or "
    "money metric where more is better (sqls, deals_won, new_arr, pipeline_value, ...).",
)
@click.option(
    "--probability",
    type=float,
    default=0.8,
    show_default=True,
    help="The chance the plan must reach the target, in (0, 1): the share of replications "
    "that reach it.",
)
@click.option(
    "--replications",
    "-n",
    type=click.IntRange(min=2),
    default=20,
    show_default=True,
    help="Replications of the baseline and of every plan tried (a probability needs many: "
    "at least p / (1 - p)).",
)
@SEED
@SET
@WORKERS
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Folder (new or empty): a results folder for every simulated plan (baseline, "
    "spreadsheet, candidates/K) and plan.json.",
)
@JSON
def plan_(
    file: Path,
    target: str,
    probability: float,
    replications: int,
    seed: int | None,
    set_: tuple[str, ...],
    workers: int | None,
    out_dir: Path | None,
    as_json: bool,
) -> None:
    """Plan backwards from a target: the spend, contacts and people that reach it.

    FILE is the baseline scenario. From --target (new_arr=3000000, say) back through deal
    value, win and conversion rates and the cycle's timing to SQLs, leads, contacts, spend
    (inverting the channels' response curves, capped where they saturate) and SDR and AE
    headcount (at the baseline's utilisation, at most 0.85); then the plan is simulated and
    its levers scaled by one factor (bracketing and bisection, common random numbers) until
    the target is reached with --probability. Prints the changed levers, the plan's
    planned_cost_monthly, the probability met with its 95% interval, what binds, and the
    spreadsheet's answer (conversion rates only) beside it.
    """
    from funnelsim import planning
    from funnelsim.executors import ExecutorSpec, default_workers
    from funnelsim.scenario.load import load_scenario

    metric, value = planning.parse_target(target)
    scenario = load_scenario(file, set_)
    with _progress(f"planning {metric} >= {value:,.6g}", out_dir) as progress:
        found = planning.plan(
            scenario,
            metric,
            value,
            probability=probability,
            replications=replications,
            seed=seed,
            executor=ExecutorSpec(workers or default_workers()),
            out=out_dir,
            **progress,
        )
    if out_dir is not None:
        _note(f"results in {out_dir}")
    if as_json:
        _json(found.as_json())
        return
    # the changed levers, cost and probability; the plan beside the spreadsheet; what binds
    from rich.markup import escape
    from rich.table import Table

    from funnelsim.formatting import number

    def text(value: Any) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(number(float(v)) for v in value) + "]"
        return "" if value is None else number(float(value))

    def share(p: planning.Probability) -> str:
        low, high = p.ci
        return f"{p.mean:.0%} [{low:.0%}, {high:.0%}]"

    goal = f"{found.metric} >= {number(found.target)}"
    _say(
        f"{found.name}: {goal} with probability {found.probability:g} ({found.replications} "
        f"replications, seed {found.seed})"
    )
    verdict = "the plan" if found.met else "no plan met it; the largest tried"
    _say(f"{verdict} (x{found.factor:.3f} the baseline's volume):")
    for path, (before, after) in found.changed().items():
        _say(f"  {path}: {text(before)} -> {text(after)}")
    costs = found.costs
    _say(f"  planned_cost_monthly: {text(costs['baseline'])} -> {text(costs['plan'])}")
    met = found.probability_met
    _say(
        f"probability met: {share(met)} ({met.hits} of {met.n} replications reach {goal}; a "
        f"plan passes with {planning.needed_hits(found.probability, found.replications)})"
    )
    table = Table(
        title=escape(f"the plan beside the spreadsheet (conversion rates only): {goal}"),
        caption="levers; then the funnel in the measured period (means over replications; "
        "spreadsheet: as it computes them, spreadsheet simulated: its levers run)",
    )
    for heading in ("", "baseline", "spreadsheet", "spreadsheet simulated", "plan"):
        table.add_column(heading, justify="right" if heading else "left")
    for path, value in found.settings.items():
        table.add_row(
            escape(path), text(found.baseline[path]), text(found.spreadsheet[path]), "",
            text(value),
        )  # fmt: skip
    table.add_row(
        "planned_cost_monthly", text(costs["baseline"]), text(costs["spreadsheet"]), "",
        text(costs["plan"]),
    )  # fmt: skip
    table.add_row(
        escape(f"P({goal})"), share(found.baseline_met), "", share(found.spreadsheet_met),
        share(met), end_section=True,
    )  # fmt: skip
    for stage, row in found.funnel.items():
        table.add_row(escape(stage), *(text(row[k]) for k in row))
    _out().print(table)
    if found.binding:
        _say("binding:")
        for line in found.binding:
            _say(f"  - {line}")


@app.command("export-crm")
@click.argument("results_folder", type=_FILE, metavar="RESULTS")
@click.option(
    "--format", "fmt", required=True, metavar="hubspot|salesforce", help="The CRM's format."
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=_FILE,
    metavar="DIR",
    help="A new or empty folder for the files.",
)
@click.option(
    "--replication",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Which replication of the run to export.",
)
@click.option("--scenario", metavar="NAME", help="Which scenario (when RESULTS holds several).")
def export_crm(
    results_folder: Path, fmt: str, out_dir: Path, replication: int, scenario: str | None
) -> None:
    """Write a simulated run's leads and deals as a CRM export (CSV).

    RESULTS is a results folder written by `funnelsim run FILE --out RESULTS` with its
    per-lead records. HubSpot: contacts.csv and deals.csv; Salesforce: leads.csv and
    opportunities.csv; both with mapping.yaml (custom fields, outbound sources, export date).
    Every lead from the warm-up's start to the end of the run, dates in the scenario's local
    time.
    """
    from funnelsim.crm.export import export

    for path in export(results_folder, fmt, out_dir, replication=replication, scenario=scenario):
        _say(f"wrote {path}")


@app.command("calibrate")
@click.argument("contacts", type=_FILE, metavar="CONTACTS.csv")
@click.option("--deals", type=_FILE, metavar="DEALS.csv", help="The deals (opportunities) export.")
@click.option(
    "--spend",
    type=_FILE,
    metavar="SPEND.csv",
    help="Spend by month and channel (columns month, channel, spend): each channel's spend -> "
    "leads curve is fitted (Hill with adstock).",
)
@click.option(
    "--response",
    type=_FILE,
    metavar="RESPONSE.yaml",
    help="Spend -> leads curves fitted elsewhere (a media-mix model), by channel: each a "
    "scenario `response` section; it replaces the curve fitted from --spend for its channel.",
)
@click.option(
    "--format",
    "fmt",
    required=True,
    metavar="hubspot|salesforce|MAPPING.yaml",
    help="The export's format: a built-in one, or a mapping file for any other CRM.",
)
@click.option(
    "--output",
    required=True,
    type=_FILE,
    metavar="SCENARIO.yaml",
    help="The scenario file to write (nothing is written when the export cannot be read).",
)
@click.option(
    "--base",
    type=_FILE,
    metavar="BASE.yaml",
    help="The scenario that gives what the export cannot tell: costs, headcount, work times, "
    "calendar (default: the bundled scenarios/baseline.yaml).",
)
@click.option(
    "--timezone",
    metavar="TZ",
    help="IANA time zone the export's dates are read in, e.g. Europe/Berlin (default UTC).",
)
@click.option(
    "--strict", is_flag=True, help="Refuse rows that would be dropped: each a located error."
)
@click.option(
    "--backtest",
    "backtest_dir",
    type=_FILE,
    metavar="DIR",
    help="Also back-test the calibrated scenario against the export (as `funnelsim backtest`, "
    "10 replications) and write its report into DIR, a new or empty folder.",
)
@click.option(
    "--refine",
    type=click.IntRange(min=0),
    metavar="ROUNDS",
    help="Calibrate by simulation: replay the export ROUNDS times, moving the numbers the "
    "export only sees through the funnel (each source's intent, connect rates, SDR "
    "qualification, AE acceptance, win rates, cycles) towards the data's figures (default 3; "
    "0: the direct fits only).",
)
@click.option(
    "--warmup",
    metavar="DURATION",
    help="Warm-up of the replays (--refine, --backtest), e.g. 0d for a history that starts "
    "with the company (default: the scenario's).",
)
@WORKERS
@JSON
def calibrate_(
    contacts: Path,
    deals: Path | None,
    spend: Path | None,
    response: Path | None,
    fmt: str,
    output: Path,
    base: Path | None,
    timezone: str | None,
    strict: bool,
    backtest_dir: Path | None,
    refine: int | None,
    warmup: str | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Fit a scenario from a CRM export (HubSpot, Salesforce or mapped).

    CONTACTS.csv is the contacts (leads) export. Fits arrivals, conversions, deal sizes, win
    rates, cycle times and the speed-to-lead decay, each with its 95% interval and records,
    and writes --output: a scenario whose fitted numbers carry their range, source and grade,
    the rest taken from --base. Prints the fits and the rows dropped, by reason.
    """
    from funnelsim.calibration import bundled_baseline
    from funnelsim.crm.read import read_export
    from funnelsim.executors import ExecutorSpec, default_workers
    from funnelsim.refinement import REFINE_ROUNDS, calibrate_file
    from funnelsim.store import atomic_write

    if backtest_dir is not None:
        from funnelsim.backtesting import check_out

        check_out(backtest_dir, "--backtest")
    base_path = base or bundled_baseline()
    if base is None and not base_path.is_file():
        raise UsageError("no bundled baseline in this installation: give a base scenario", "--base")
    export = read_export(contacts, deals, spend, fmt, timezone=timezone, strict=strict)
    refine = REFINE_ROUNDS if refine is None else refine
    made = partial(
        calibrate_file, export, base_path, name=f"Calibrated from {contacts.name}",
        rounds=refine, warmup=warmup, responses=response,
        executor=ExecutorSpec(workers or default_workers()),
    )  # fmt: skip
    if refine:
        with _progress(f"calibrating by simulation ({refine} rounds)", None) as callbacks:
            found = made(**callbacks)
    else:
        found = made()
    fits = found.fits

    def write(tmp: Path) -> None:
        tmp.write_text(found.text, encoding="utf-8")

    atomic_write(output, write)  # only now: nothing is written when anything failed
    _note(f"wrote {output}")
    tested = None
    if backtest_dir is not None:
        tested = _backtest(
            found.scenario, export, fits, backtest_dir, show=not as_json, warmup=warmup,
            workers=workers,
        )  # fmt: skip
    if as_json:
        _json(
            {
                **fits.as_json(),
                "dropped": dict(sorted(export.dropped.items())),
                "skipped": fits.skipped,
                "notes": found.notes,
                "output": str(output),
            }
            | ({} if tested is None else {"backtest": tested})
        )
        return
    from rich.markup import escape
    from rich.table import Table

    from funnelsim.formatting import number

    table = Table(title=f"fits from {escape(contacts.name)} (95% intervals)")
    for heading in ("fit", "estimate", "95% CI", "n"):
        table.add_column(heading, justify="left" if heading == "fit" else "right")
    for name, f in fits.fits.items():
        interval = f"[{number(f.ci_low)}, {number(f.ci_high)}]"
        table.add_row(escape(name), number(f.estimate), interval, str(f.n))
    _out().print(table)
    dropped = sum(export.dropped.values())
    _say(f"dropped: {dropped} row(s)" + (" by reason:" if dropped else ""))
    for reason, count in sorted(export.dropped.items()):
        _say(f"  {reason}: {count}")
    for line in found.notes:
        _say(f"note: {line}")
    if tested is not None:
        _say(f"back-test: {tested['inside']} of {tested['compared_count']} quantities inside the "
             f"simulation's band (report in {backtest_dir})")  # fmt: skip


@app.command("backtest")
@click.argument("scenario_file", type=_FILE, metavar="SCENARIO.yaml")
@click.argument("contacts", type=_FILE, metavar="CONTACTS.csv")
@click.option("--deals", type=_FILE, metavar="DEALS.csv", help="The deals (opportunities) export.")
@click.option(
    "--format",
    "fmt",
    required=True,
    metavar="hubspot|salesforce|MAPPING.yaml",
    help="The export's format: a built-in one, or a mapping file for any other CRM.",
)
@click.option(
    "--timezone",
    metavar="TZ",
    help="IANA time zone the export's dates are read in, e.g. Europe/Berlin (default UTC).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=_FILE,
    metavar="DIR",
    help="A new or empty folder for backtest.json, backtest.md and the charts.",
)
@click.option(
    "--replications",
    "-n",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Replications of the scenario over the export's period.",
)
@SEED
@click.option(
    "--warmup",
    metavar="DURATION",
    help="Warm-up before the period instead of the scenario's, e.g. 0d when the CRM's history "
    "starts with the funnel itself (nothing waiting, nothing learnt).",
)
@WORKERS
@JSON
def backtest_(
    scenario_file: Path,
    contacts: Path,
    deals: Path | None,
    fmt: str,
    timezone: str | None,
    out_dir: Path,
    replications: int,
    seed: int | None,
    warmup: str | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Replay a scenario over a CRM export's period and compare it with the export.

    SCENARIO.yaml is the scenario to test (usually one `funnelsim calibrate` wrote);
    CONTACTS.csv the export it should reproduce. Simulates the export's period (its first
    creation date to its export date, after the scenario's warm-up), writes every replication
    as a CRM export and measures it with the same fits as the data: weekly volumes by stage,
    conversion rates, time in stage, the speed-to-lead decay. Prints each quantity with the
    data's 95% CI, the simulation's band and the verdict, and writes the report to --out.
    """
    from funnelsim.backtesting import check_out
    from funnelsim.crm.fits import fit
    from funnelsim.crm.read import read_export
    from funnelsim.scenario.load import load_scenario

    check_out(out_dir)
    scenario = load_scenario(scenario_file)
    export = read_export(contacts, deals, None, fmt, timezone=timezone, strict=False)
    tested = _backtest(
        scenario, export, fit(export), out_dir, show=not as_json, replications=replications,
        seed=seed, warmup=warmup, workers=workers,
    )  # fmt: skip
    if as_json:
        _json(tested)


def _backtest(
    scenario: Scenario,
    export: Export,
    fits: Fits,
    out: Path,
    *,
    show: bool,
    replications: int = 10,
    seed: int | None = None,
    warmup: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Back-test ``scenario`` against ``export`` into ``out``; the table unless not ``show``.
    Returns backtest.json's content."""
    from funnelsim.backtesting import backtest
    from funnelsim.executors import ExecutorSpec, default_workers
    from funnelsim.reporting import write_backtest

    executor = ExecutorSpec(workers or default_workers())
    with _progress(f"back-testing {scenario.name}", None) as progress:
        found = backtest(
            scenario, export, replications=replications, seed=seed, executor=executor,
            data_fits=fits, warmup=warmup, **progress,
        )  # fmt: skip
    written = write_backtest(found, out)
    _note(f"wrote {', '.join(str(p) for p in written)}")
    if show:
        from rich.markup import escape
        from rich.table import Table

        from funnelsim.formatting import number

        table = Table(
            title=f"back-test of {escape(scenario.name)} (data: 95% CI; band: 95% of runs)"
        )
        for heading in ("quantity", "data", "95% CI", "simulated", "band", "verdict"):
            table.add_column(heading, justify="left" if heading == "quantity" else "right")
        for name, c in found.compared.items():
            table.add_row(
                escape(name), number(c.data.estimate),
                f"[{number(c.data.ci_low)}, {number(c.data.ci_high)}]",
                number(c.simulated.mean),
                f"[{number(c.simulated.low)}, {number(c.simulated.high)}]",
                "inside" if c.inside else "[bold]outside[/]",
            )  # fmt: skip
        _out().print(table)
        for name, why in found.not_compared.items():
            _say(f"not compared: {name}: {why}")
        _say(found.summary_line())
    return found.as_json()


@app.command()
@click.argument("args", nargs=-1, required=True, metavar="FOLDER... SQL")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON array of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
def query(args: tuple[str, ...], as_json: bool, as_csv: bool) -> None:
    """Run DuckDB SQL over results folders.

    The arguments are one or more results folders written with --out, then one SQL statement.
    Tables: replications (one row per replication: every metric), weekly, daily, leads,
    handoffs, tasks, queue, summary, differences, sensitivity; each row carries its folder
    and scenario.
    Example: funnelsim query reports/demo "SELECT scenario, avg(sqls) FROM replications
    GROUP BY scenario".
    """
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
        from rich.markup import escape
        from rich.table import Table

        from funnelsim.formatting import scalar

        table = Table(caption=f"{len(frame)} row(s)")
        for column in frame.columns:
            numeric = frame[column].dtype.kind in "iuf"
            table.add_column(escape(str(column)), justify="right" if numeric else "left")
        for row in frame.itertuples(index=False):
            table.add_row(*(escape(scalar(v)) for v in row))
        _out().print(table)


@app.command()
@click.argument("folder", type=_FILE)
@click.option(
    "--output",
    type=_FILE,
    default=None,
    help="Folder to write the report into (created) [default: FOLDER/report].",
)
@click.option(
    "--with",
    "extra",
    type=_FILE,
    multiple=True,
    metavar="DIR",
    help="Add the section another command's folder brings: compare --uncertainty (the "
    "decision over the inputs' ranges), sensitivity --out (which inputs decide), optimize "
    "--out (the best split) or a back-test. Repeatable.",
)
def report(folder: Path, output: Path | None, extra: tuple[Path, ...]) -> None:
    """Write the budget review: HTML, PDF and Markdown, with charts.

    FOLDER is a results folder written with --out (run, compare, study, with or without
    --uncertainty). report.html is one self-contained file (charts
    embedded, nothing loaded from outside): a headline in plain words, what the plans change,
    the decision with its uncertainty (the chance each plan wins, and with --uncertainty the
    inputs that decide), key metrics with 95% intervals, paired differences, charts, every
    number's source and grade, and the run's replications, seed and version. report.pdf is
    the same paginated for print and slides (A4 landscape); report.md the same tables with PNG
    charts. --with adds the sections other commands' folders bring.
    """
    from funnelsim.reporting import write_report  # matplotlib only when reporting

    for path in write_report(folder, output, extra):
        _say(f"report: {path}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files.

    For editors that complete and check YAML, and for CI checks.
    """
    import json

    from funnelsim.scenario.load import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2))


def main() -> None:
    """The ``funnelsim`` command.

    pydantic looks for plugins (observability hooks) by reading every installed package's entry
    points the first time it builds a validator: a third of ``validate``'s start-up in a
    virtual environment with Jupyter and Dask, and nothing for them to observe in a command
    line run. So the command skips the scan unless ``PYDANTIC_DISABLE_PLUGINS`` is set (set
    it empty to load plugins). With the scan off, pydantic's plugin loader is only the import
    of ``importlib.metadata`` (another quarter of the yardstick of
    ``benchmarks/bench_startup.py``): the command gives pydantic a loader that finds no
    plugins, which is what pydantic's own does when they are off.
    """
    if sys.argv[1:2] and sys.argv[1] in _START_UP_BOUND:
        gc.disable()  # from the first import on
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ["PYDANTIC_DISABLE_PLUGINS"] in ("__all__", "1", "true"):
        sys.modules.setdefault("pydantic.plugin._loader", _NoPlugins("pydantic.plugin._loader"))
    app()


class _NoPlugins(ModuleType):
    """pydantic's plugin loader when plugins are off (``pydantic/plugin/_loader.py``)."""

    @staticmethod
    def get_plugins() -> tuple[()]:
        return ()
