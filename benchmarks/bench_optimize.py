"""Optimisation benchmark: the bundled budget split at its default settings, on two cores.

``funnelsim optimize scenarios/studies/optimize-budget.yaml`` as the file sets it (128 trials
in batches of 8, 3 replications each and 8 for a batch's most promising, then the best 6
rerun with 40 replications beside the baseline; all cores): the split of the flagship budget
between search, content, the outbound list, SDRs and AEs that books the most new ARR within
the SLA and utilisation constraints. The target (issue 15): a confirmed plan in at most 15
minutes on two cores. The whole process is timed wall-clock from launch to exit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from machine import describe, write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
TARGET_MINUTES = 15.0
FILE = "scenarios/studies/optimize-budget.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    funnelsim = str(Path(sys.executable).parent / "funnelsim")
    command = [funnelsim, "optimize", FILE, "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    minutes = (time.perf_counter() - start) / 60
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    found = json.loads(done.stdout)
    best = found["best"]
    arr, base = best["metrics"]["new_arr"], found["baseline"]["metrics"]["new_arr"]
    diff = best["against_baseline"]["new_arr"]
    met = "met" if minutes <= TARGET_MINUTES else "NOT met"
    text = (
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with "
        f"`benchmarks/bench_optimize.py`: `funnelsim optimize {FILE}`.\n\n"
        f"Machine: {describe(('optuna', 'numpy'))}.\n\n"
        f"{found['trials']} trials, then the best rerun with {found['confirm_replications']} "
        f"replications each ({len(found['indistinguishable']) + 1} plan(s) left as the best or "
        f"indistinguishable from it) in "
        f"**{minutes:.1f} minutes** (target: at most {TARGET_MINUTES:g} on two cores, {met}). "
        f"The confirmed plan: "
        + ", ".join(f"`{k}` {v:,.6g}" for k, v in best["variables"].items())
        + f"; new ARR {arr['mean']:,.0f} [{arr['ci_low']:,.0f}, {arr['ci_high']:,.0f}] against "
        f"the baseline's {base['mean']:,.0f} (paired difference {diff['mean']:+,.0f} "
        f"[{diff['ci_low']:+,.0f}, {diff['ci_high']:+,.0f}]).\n"
    )
    print(text)
    if args.write_docs:
        write_section(DOCS, "bench-optimize", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
