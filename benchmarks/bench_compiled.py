"""Compiled against pure Python on the workload that matters (``make bench``): many replications.

The simulation's hot path is compiled with mypyc at install (``funnelsim.compiled``); from
source (``FUNNELSIM_PURE_PYTHON=1``) gives the same records to the bit. Whether the compiled
build earns its machinery is measured here on what planners run most: a batch of replications of
a full funnel (``scenarios/baseline.yaml``, a year each, one worker), as whole ``funnelsim run``
processes, compiled and from source interleaved round by round. The figure is the ratio of the
median seconds, from source over compiled.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import describe, write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-compiled:start -->", "<!-- bench-compiled:end -->"
FUNNELSIM = str(Path(sys.executable).with_name("funnelsim"))


def one_batch(replications: int, pure: bool) -> float:
    env = dict(os.environ)
    env.pop("FUNNELSIM_PURE_PYTHON", None)
    if pure:
        env["FUNNELSIM_PURE_PYTHON"] = "1"
    argv = [FUNNELSIM, "run", "scenarios/baseline.yaml", "-n", str(replications), "--seed", "1",
            "--workers", "1", "--json"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"compiled": [], "pure Python": []}
    for _ in range(args.rounds):
        for mode in seconds:
            seconds[mode].append(one_batch(args.replications, pure=mode == "pure Python"))
    compiled, pure = (statistics.median(seconds[m]) for m in ("compiled", "pure Python"))
    line = (
        f"{args.replications} replications of the baseline year, one worker, whole "
        f"`funnelsim run` processes, median of {args.rounds} interleaved rounds: compiled "
        f"{compiled:.1f} s, from source {pure:.1f} s: **the compiled build is "
        f"{pure / compiled:.2f}x as fast**."
    )
    print(line)
    if args.write_docs:
        section = (
            f"{START}\nMeasured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `make bench` "
            f"({describe(('simpy', 'numpy'))}): {line}\n{END}"
        )
        write_section(DOCS, "compiled", section.removeprefix(START).removesuffix(END))


if __name__ == "__main__":
    main()
