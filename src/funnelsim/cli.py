"""The ``funnelsim`` command line: thin commands over the library.

Exit codes: 0 done, 2 bad input (the message says where: ``FILE:LINE:COL: path: problem``).
Tables go to stdout, progress and warnings to stderr, so ``--json`` output can be piped.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from funnelsim.analysis import Summary
from funnelsim.experiment import Batch, default_workers, run_replications, run_study
from funnelsim.experiment import compare as experiment_compare
from funnelsim.metrics import METRICS
from funnelsim.model.funnel import offered_load
from funnelsim.scenario.load import ScenarioError, load_scenario
from funnelsim.scenario.schema import Scenario
from funnelsim.scenario.study import load_study

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


@app.command()
def run(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML file(s).")],
    replications: Annotated[
        int, typer.Option("--replications", "-n", min=1, help="Independent replications.")
    ] = 10,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed (default: the scenario's, else fresh).")
    ] = None,
    set_: SetOption = None,
    workers: WorkersOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object to stdout instead of a table (with several files: "
            '{"scenarios": [one object per file]}).',
        ),
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the resolved scenario, metrics, records and weekly series "
            "(one subfolder per file when there are several).",
        ),
    ] = None,
) -> None:
    """Simulate scenarios and print their metrics with 95% confidence intervals.

    Several files are shown side by side; with one seed they share random numbers stream by
    stream (arrivals of a source, work times, ...), so their differences are sharper.
    """
    scenarios = _load_all(files, set_)
    for scenario in scenarios:
        _warn_overload(scenario)
    batches = []
    with _progress() as progress:
        for scenario in scenarios:
            task = progress.add_task(f"simulating {scenario.name}", total=replications)
            batches.append(
                run_replications(
                    scenario,
                    replications,
                    seed,
                    keep_records=out_dir is not None,
                    on_done=lambda _, task=task: progress.advance(task),  # type: ignore[misc]
                    workers=workers or default_workers(),
                )
            )
    if out_dir is not None:
        from funnelsim.store import write_run  # pandas and pyarrow only when writing

        stems = [file.stem for file in files]
        for i, (file, batch) in enumerate(zip(files, batches, strict=True)):
            unique = stems.count(file.stem) == 1
            folder = (
                out_dir
                if len(files) == 1
                else out_dir / (file.stem if unique else f"{i + 1}-{file.stem}")
            )
            written = write_run(folder, batch)
            err.print(f"wrote {len(written)} files to {folder}", highlight=False)
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
        int, typer.Option("--replications", "-n", min=2, help="Replications per scenario.")
    ] = 20,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed (default: the first scenario's, else fresh).")
    ] = None,
    set_: SetOption = None,
    workers: WorkersOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare scenarios on common random numbers: paired differences against the first.

    Every scenario runs the same replications of the same seed; each replication of a
    scenario is paired with the baseline's, so differences come with intervals much narrower
    than two independent runs would give. Differences whose 95% interval excludes zero are
    marked with *.
    """
    if len(files) < 2:
        err.print("compare needs at least two scenario files", highlight=False)
        raise typer.Exit(2)
    scenarios = _load_all(files, set_)
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        err.print(f"scenario names must differ to be compared: {names}", highlight=False)
        raise typer.Exit(2)
    for scenario in scenarios:
        _warn_overload(scenario)
    with _progress() as progress:
        task = progress.add_task("comparing", total=replications * len(scenarios))
        result = experiment_compare(
            scenarios,
            replications,
            seed,
            on_done=lambda _: progress.advance(task),
            workers=workers or default_workers(),
        )
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
            "--replications", "-n", min=2, help="Replications per point (default: the study's)."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed (default: the study's, else the baseline's).")
    ] = None,
    set_: SetOption = None,
    workers: WorkersOption = None,
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
    n = replications or spec.replications
    with _progress() as progress:
        task = progress.add_task(f"study {spec.name}", total=n * len(points))
        result = run_study(
            points,
            n,
            seed if seed is not None else spec.seed,
            on_done=lambda _: progress.advance(task),
            workers=workers or default_workers(),
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
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and CI checks)."""
    print(json.dumps(Scenario.model_json_schema(), indent=2))


def main() -> None:
    app()
