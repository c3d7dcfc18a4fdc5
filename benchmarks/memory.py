"""Memory per simulated lead (``make bench``): one long baseline replication, in a fresh process.

A replication holds every lead's columns, its random numbers and the teams' task logs while it
runs, then its records. What a planner pays is the process's peak resident memory, so this runs
one 10-year replication of ``scenarios/baseline.yaml`` (seed 1) in a fresh interpreter, from
building the model to its metrics, and divides the growth of the peak (``ru_maxrss``) over what
the process held before (interpreter, imports, the loaded scenario) by the leads simulated.
Target: at most 1 KB per lead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from machine import write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-memory:start -->", "<!-- bench-memory:end -->"
TARGET = 1024  # bytes per simulated lead
ONE_RUN = """
import gc, json, resource, sys
from funnelsim import compiled, metrics
from funnelsim.model.run import simulate
from funnelsim.scenario.load import load_scenario
scenario = load_scenario("scenarios/baseline.yaml", [f"horizon={sys.argv[1]}w"])
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
records = simulate(scenario, 1, 0)
metrics.compute(records, scenario)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"leads": len(records.leads), "before_kb": before, "peak_kb": peak,
                  "mode": compiled.mode()}))
"""


def measure(years: float) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(round(years * 52))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    m = measure(args.years)
    per_lead = (m["peak_kb"] - m["before_kb"]) * 1024 / m["leads"]
    verdict = "met" if per_lead <= TARGET else "NOT met"
    line = (
        f"{args.years:g}-year baseline replication: {int(m['leads']):,} leads, peak "
        f"{m['peak_kb'] / 1024:.0f} MB ({m['before_kb'] / 1024:.0f} MB before the run): "
        f"**{per_lead:,.0f} bytes per simulated lead** (target: at most {TARGET:,}, {verdict}; "
        f"simulation {m['mode']})."
    )
    print(line)
    if args.write_docs:
        section = (
            f"{START}\nMeasured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with "
            f"`make bench`: {line}\n{END}"
        )
        write_section(DOCS, "memory", section.removeprefix(START).removesuffix(END))


if __name__ == "__main__":
    main()
