"""Core benchmark (``make bench``): funnelsim against plain SimPy and ciw on one M/M/c queue.

Every case is a whole process (interpreter start-up, imports, simulation, output), launched with
``subprocess`` and timed wall-clock with ``time.perf_counter``. The cases run interleaved, round
robin (A, B, C, A, B, C, ...), so drift on a shared machine hits all of them alike. All three
simulate the same queue: 200,000 customers arriving at 9 per hour, exponential service with a
mean of 1 hour, 10 servers, FIFO, around the clock.

Add a case by appending a ``Case`` to ``core_cases()``; a minimum speed-up for funnelsim over
it goes in ``TARGETS``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from machine import Case, Timings, describe, write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-core:start -->", "<!-- bench-core:end -->"

CUSTOMERS = 200_000
HORIZON_DAYS = 926  # 926 days x 24 h x 9 leads/h = 200,016 leads, about CUSTOMERS
BASELINE = "funnelsim"
TARGETS: dict[str, float] = {"ciw": 4.0}  # funnelsim must take at most 1/4 of its time (issue 10)
ECHO_WIDTH = 40  # a case's stdout is echoed after its time when it is at most this long


class BenchError(Exception):
    """A case could not be run or failed."""


def core_cases() -> list[Case]:
    """The cases of the core benchmark, in the order they run within each round."""
    python = sys.executable
    funnelsim = str(Path(python).parent / "funnelsim")
    return [
        Case(
            "funnelsim",
            [
                funnelsim,
                "run",
                "scenarios/validation/erlang-c.yaml",
                "--set",
                f"horizon={HORIZON_DAYS}d",
                "--set",
                "warmup=0d",
                "--replications",
                "1",
                "--json",
            ],
            "funnelsim CLI, scenarios/validation/erlang-c.yaml, 1 replication",
        ),
        Case(
            "simpy-plain",
            [python, "benchmarks/simpy_mmc.py", "--customers", str(CUSTOMERS)],
            "hand-written SimPy model, benchmarks/simpy_mmc.py",
        ),
        Case(
            "ciw",
            [python, "benchmarks/ciw_mmc.py", "--customers", str(CUSTOMERS)],
            "ciw model, benchmarks/ciw_mmc.py",
        ),
    ]


def run_once(case: Case) -> tuple[float, str]:
    """Run the case's command from the repository root; its wall-clock seconds and stdout."""
    start = time.perf_counter()
    try:
        done = subprocess.run(case.argv, cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BenchError(f"{case.name}: cannot start {case.argv[0]}: {exc}") from None
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise BenchError(f"{case.name}: exit status {done.returncode}\n{tail}")
    return seconds, done.stdout.strip()


def run_rounds(cases: list[Case], rounds: int, console: Console) -> list[Timings]:
    """Run every case once per round, interleaved, and collect the timings."""
    timings = [Timings(case) for case in cases]
    for round_no in range(1, rounds + 1):
        for timing in timings:
            seconds, out = run_once(timing.case)
            timing.seconds.append(seconds)
            echo = f"  (stdout: {out})" if out and len(out) <= ECHO_WIDTH else ""
            console.print(
                f"round {round_no}/{rounds}  {timing.case.name:<12} {seconds:7.2f} s{echo}",
                markup=False,
                highlight=False,
            )
    return timings


def speedups(timings: list[Timings]) -> dict[str, float]:
    """For each case but the baseline: its median over funnelsim's median."""
    base = next(t for t in timings if t.case.name == BASELINE).median
    return {t.case.name: t.median / base for t in timings if t.case.name != BASELINE}


def target_text(name: str, ratio: float) -> str:
    """'at least 4x: met' for a case with a target, '' otherwise."""
    if name not in TARGETS:
        return ""
    verdict = "met" if ratio >= TARGETS[name] else "NOT met"
    return f"at least {TARGETS[name]:g}x: {verdict}"


def machine() -> str:
    return describe(("funnelsim", "simpy", "ciw", "numpy"))


def print_table(timings: list[Timings], rounds: int, console: Console) -> None:
    """Per-case median and minimum seconds, and how much faster funnelsim is."""
    ratios = speedups(timings)
    table = Table(title=f"M/M/10, {CUSTOMERS:,} customers, {rounds} interleaved rounds")
    table.add_column("case")
    table.add_column("median s", justify="right")
    table.add_column("min s", justify="right")
    table.add_column(f"{BASELINE} is ... faster", justify="right")
    table.add_column("target")
    for t in timings:
        ratio = ratios.get(t.case.name)
        table.add_row(
            t.case.name,
            f"{t.median:.2f}",
            f"{t.best:.2f}",
            "(baseline)" if ratio is None else f"{ratio:.2f}x",
            "" if ratio is None else target_text(t.case.name, ratio),
        )
    console.print(table)
    for name, ratio in ratios.items():
        console.print(
            f"{name}/{BASELINE} = {ratio:.2f}: {BASELINE} is {ratio:.2f}x faster than {name}"
            + (f" (target {target_text(name, ratio)})" if name in TARGETS else ""),
            highlight=False,
        )
    console.print(machine(), highlight=False)


def docs_section(timings: list[Timings], rounds: int) -> str:
    """The markdown that goes between the bench-core markers."""
    ratios = speedups(timings)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} with `make bench` ({rounds} interleaved rounds, whole processes).",
        "",
        f"Machine: {machine()}.",
        "",
        f"| case | what runs | median s | min s | {BASELINE} is ... faster | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for t in timings:
        ratio = ratios.get(t.case.name)
        lines.append(
            f"| {t.case.name} | {t.case.what} | {t.median:.2f} | {t.best:.2f} | "
            + (
                "(baseline) | |"
                if ratio is None
                else f"{ratio:.2f}x | {target_text(t.case.name, ratio)} |"
            )
        )
    lines += [
        "",
        "Absolute seconds drift on shared machines (other jobs, CPU throttling); "
        "read the ratios, not the seconds.",
    ]
    return "\n".join(lines)


def write_docs(section: str, path: Path = DOCS) -> None:
    """Replace what is between the bench-core markers in ``path`` with ``section``."""
    if not write_section(path, "core", section):
        raise BenchError(f"{path}: expected one {START} followed by one {END}")


def main(argv: list[str] | None = None) -> int:
    """Run the core benchmark; print the table, and optionally update docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all cases (default 3)")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"rewrite the core section of {DOCS.name}"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    console = Console()
    cases = core_cases()
    try:
        timings = run_rounds(cases, args.rounds, console)
        print_table(timings, args.rounds, console)
        if args.write_docs:
            write_docs(docs_section(timings, args.rounds))
            console.print(f"wrote {DOCS.relative_to(ROOT)}", highlight=False)
    except BenchError as exc:
        console.print(f"bench failed: {exc}", style="red", markup=False, highlight=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
