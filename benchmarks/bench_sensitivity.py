"""Sensitivity benchmark: the default analysis of the flagship comparison, on two cores.

``funnelsim sensitivity scenarios/inbound-heavy.yaml scenarios/outbound-heavy.yaml`` with its
defaults (Morris over every ranged input, 10 trajectories, then Sobol on the top 8 with 64 base
samples; 1 replication a setting; all cores): which inputs decide the difference in new ARR
between the two plans. The target (issue 14): at most 15 minutes on two cores. The whole
process is timed wall-clock from launch to exit, and the settings it simulated are counted, so
that the figure can be read per setting too (``--trajectories``/``--samples`` scale it).
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
PLANS = ["scenarios/inbound-heavy.yaml", "scenarios/outbound-heavy.yaml"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=10)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    funnelsim = str(Path(sys.executable).parent / "funnelsim")
    command = [funnelsim, "sensitivity", *PLANS, "--trajectories", str(args.trajectories),
               "--samples", str(args.samples), "--json"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    minutes = (time.perf_counter() - start) / 60
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    found = json.loads(done.stdout)
    ranked = sorted(found["parameters"], key=lambda p: -(found["parameters"][p].get("ST") or 0))
    shown = " ".join(command[1:]).replace(funnelsim, "funnelsim")
    met = "met" if minutes <= TARGET_MINUTES else "NOT met"
    text = (
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with "
        f"`benchmarks/bench_sensitivity.py`: `funnelsim {shown}`.\n\n"
        f"Machine: {describe(('SALib', 'numpy'))}.\n\n"
        f"{found['settings']:,} input settings x 2 plans x {found['replications']} replications "
        f"in **{minutes:.1f} minutes** (target: at most {TARGET_MINUTES:g} on two cores, {met}); "
        f"{minutes * 60 / found['settings']:.2f} s a setting. Top inputs by total Sobol index: "
        + ", ".join(f"`{p}`" for p in ranked[:3])
        + ".\n"
    )
    print(text)
    if args.write_docs:
        write_section(DOCS, "bench-sensitivity", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
