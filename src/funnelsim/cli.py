"""The ``funnelsim`` command line: thin commands over the library.

Exit codes: 0 done, 2 bad input (the message says where: ``FILE:LINE:COL: path: problem``).
Tables go to stdout, progress and warnings to stderr, so ``--json`` output can be piped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from funnelsim.experiment import Batch, run_replications
from funnelsim.metrics import METRICS
from funnelsim.model.funnel import offered_load
from funnelsim.scenario.load import ScenarioError, load_scenario
from funnelsim.scenario.schema import Scenario

app = typer.Typer(
    name="funnelsim",
    help="Simulate a marketing-to-sales funnel: lead arrivals, handoff SLAs and rep capacity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a scenario value: dotted.key=value (YAML scalar). Repeatable.",
        metavar="KEY=VALUE",
    ),
]


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


def _metrics_table(batch: Batch) -> Table:
    table = Table(
        title=f"{batch.scenario.name}: {batch.replications} replication(s), seed {batch.seed}"
    )
    table.add_column("metric")
    table.add_column("unit")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    for name, summary in batch.summary().items():
        ci = (
            f"{summary.ci_low:,.4g} .. {summary.ci_high:,.4g}"
            if summary.n > 1 and summary.half_width == summary.half_width
            else "n/a"
        )
        table.add_row(name, METRICS[name].unit, f"{summary.mean:,.4g}", ci)
    return table


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    replications: Annotated[
        int, typer.Option("--replications", "-n", min=1, help="Independent replications.")
    ] = 10,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed (default: the scenario's, else fresh).")
    ] = None,
    set_: SetOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object to stdout instead of a table.")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the resolved scenario, per-replication metrics and per-lead records.",
        ),
    ] = None,
) -> None:
    """Simulate a scenario and print its metrics with 95% confidence intervals."""
    scenario = _load(file, set_)
    _warn_overload(scenario)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(f"simulating {scenario.name}", total=replications)
        batch = run_replications(
            scenario,
            replications,
            seed,
            keep_records=out_dir is not None,
            on_done=lambda _: progress.advance(task),
        )
    if out_dir is not None:
        from funnelsim.store import write_run  # pandas and pyarrow only when writing

        written = write_run(out_dir, batch)
        err.print(f"wrote {len(written)} files to {out_dir}", highlight=False)
    if as_json:
        print(json.dumps(batch.as_json()))
    else:
        out.print(_metrics_table(batch))


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and CI checks)."""
    print(json.dumps(Scenario.model_json_schema(), indent=2))


def main() -> None:
    app()
