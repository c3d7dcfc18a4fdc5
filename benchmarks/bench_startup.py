"""Start-up benchmark: ``funnelsim validate FILE`` against ``python -c "import pydantic, yaml"``.

Checking a scenario file cannot start faster than loading the two libraries it is written
with, so that is the yardstick: ``validate`` should take at most ``TARGET`` times as long.
Both are whole processes (interpreter start-up, imports, reading and checking the file, the
offered-load line), launched with ``subprocess`` and timed wall-clock with ``time.perf_counter``
from launch to exit; the CPU seconds the process used are recorded too, from the operating
system. They run interleaved (yardstick, validate, yardstick, validate, ...) so that drift on a
shared machine hits both alike, and the figure is the ratio of the medians.

Every case runs once untimed first, with Python allowed to write its bytecode caches even when
``PYTHONDONTWRITEBYTECODE`` is set here: a user's second run, and every run after it, starts
from them, and compiling funnelsim's sources anew each time would measure something else.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from machine import Case, Timings, describe, write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-startup:start -->", "<!-- bench-startup:end -->"

SCENARIO = "scenarios/baseline.yaml"
BASELINE = "pydantic+yaml"
TARGET = 3.0  # validate may take at most this many times the yardstick


class BenchError(Exception):
    """A case could not be run or failed."""


def startup_cases(scenario: str = SCENARIO) -> list[Case]:
    """The yardstick first, then validate: the order they run in within each round."""
    python = sys.executable
    funnelsim = str(Path(python).parent / "funnelsim")
    return [
        Case(
            BASELINE,
            [python, "-c", "import pydantic, yaml"],
            'python -c "import pydantic, yaml"',
        ),
        Case("validate", [funnelsim, "validate", scenario], f"funnelsim validate {scenario}"),
    ]


def child_env() -> dict[str, str]:
    """This process's environment, letting the children write their bytecode caches."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(case: Case) -> tuple[float, float]:
    """Run the case's command from the repository root; its wall-clock and CPU seconds."""
    start = time.perf_counter()
    try:
        process = subprocess.Popen(
            case.argv,
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise BenchError(f"{case.name}: cannot start {case.argv[0]}: {exc}") from None
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    process.stderr.close()
    if process.returncode != 0:
        tail = "\n".join(stderr.decode(errors="replace").strip().splitlines()[-15:])
        raise BenchError(f"{case.name}: exit status {process.returncode}\n{tail}")
    return seconds, usage.ru_utime + usage.ru_stime


def run_rounds(cases: list[Case], rounds: int, console: Console) -> list[Timings]:
    """One untimed run of every case (it writes the bytecode caches), then every case once per
    round, interleaved."""
    for case in cases:
        run_once(case)
    timings = [Timings(case) for case in cases]
    for round_no in range(1, rounds + 1):
        for timing in timings:
            seconds, cpu = run_once(timing.case)
            timing.seconds.append(seconds)
            timing.cpu.append(cpu)
            console.print(
                f"round {round_no}/{rounds}  {timing.case.name:<14} {seconds:6.3f} s"
                f"  (CPU {cpu:6.3f} s)",
                markup=False,
                highlight=False,
            )
    return timings


def ratios(timings: list[Timings]) -> tuple[float, float]:
    """validate's median over the yardstick's: wall-clock, and CPU."""
    base = next(t for t in timings if t.case.name == BASELINE)
    validate = next(t for t in timings if t.case.name != BASELINE)
    return validate.median / base.median, validate.cpu_median / base.cpu_median


def verdict(ratio: float) -> str:
    return f"at most {TARGET:g}x: {'met' if ratio <= TARGET else 'NOT met'}"


def machine() -> str:
    return describe(("funnelsim", "pydantic", "PyYAML", "click"))


def print_table(timings: list[Timings], rounds: int, console: Console) -> None:
    """Per-case median and minimum seconds, median CPU seconds, and the ratio to the yardstick."""
    wall, cpu = ratios(timings)
    base = next(t for t in timings if t.case.name == BASELINE)
    table = Table(title=f"Start-up, {rounds} interleaved rounds")
    table.add_column("case")
    table.add_column("median s", justify="right")
    table.add_column("min s", justify="right")
    table.add_column("CPU s", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column(f"target (at most {TARGET:g}x)")
    for t in timings:
        own = t is base
        table.add_row(
            t.case.name,
            f"{t.median:.3f}",
            f"{t.best:.3f}",
            f"{t.cpu_median:.3f}",
            "(yardstick)" if own else f"{t.median / base.median:.2f}x",
            "" if own else ("met" if wall <= TARGET else "NOT met"),
        )
    console.print(table)
    console.print(
        f"validate/{BASELINE} = {wall:.2f} wall-clock ({verdict(wall)}), {cpu:.2f} in CPU time",
        highlight=False,
    )
    console.print(machine(), highlight=False)


def docs_section(timings: list[Timings], rounds: int) -> str:
    """The markdown that goes between the bench-startup markers."""
    wall, cpu = ratios(timings)
    base = next(t for t in timings if t.case.name == BASELINE)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} with `benchmarks/bench_startup.py` ({rounds} interleaved rounds, "
        "whole processes).",
        "",
        f"Machine: {machine()}.",
        "",
        f"| case | what runs | median s | min s | median CPU s | x {BASELINE} | target |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for t in timings:
        own = t is base
        lines.append(
            f"| {t.case.name} | `{t.case.what}` | {t.median:.3f} | {t.best:.3f} | "
            f"{t.cpu_median:.3f} | "
            + ("(yardstick) | |" if own else f"{t.median / base.median:.2f}x | {verdict(wall)} |")
        )
    lines += [
        "",
        f"In CPU time validate takes {cpu:.2f}x the yardstick. Absolute seconds drift on shared "
        "machines (other jobs, CPU throttling); read the ratios, not the seconds.",
    ]
    return "\n".join(lines)


def write_docs(section: str, path: Path = DOCS) -> bool:
    """Replace what is between the bench-startup markers in ``path`` with ``section``; False
    (nothing written) when the markers are not there."""
    return write_section(path, "startup", section)


def main(argv: list[str] | None = None) -> int:
    """Run the start-up benchmark; print the table, and optionally update docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds of both cases (default 7)")
    parser.add_argument("--scenario", default=SCENARIO, help=f"file to validate ({SCENARIO})")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"rewrite the start-up section of {DOCS.name}"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    console = Console()
    # Start-up as a user sees it from the second run on, with every module's bytecode cached:
    # where PYTHONDONTWRITEBYTECODE is set (CI images, these machines), a module changed since
    # its cache was written would otherwise be compiled from source in every round.
    compileall.compile_dir(ROOT / "src" / "funnelsim", quiet=1)
    try:
        timings = run_rounds(startup_cases(args.scenario), args.rounds, console)
    except BenchError as exc:
        console.print(f"bench failed: {exc}", style="red", markup=False, highlight=False)
        return 1
    print_table(timings, args.rounds, console)
    if args.write_docs:
        section = docs_section(timings, args.rounds)
        if write_docs(section):
            console.print(f"wrote {DOCS.relative_to(ROOT)}", highlight=False)
        else:
            console.print(
                f"{DOCS.relative_to(ROOT)} has no {START} ... {END} section; nothing written. "
                "The section:",
                highlight=False,
            )
            print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
