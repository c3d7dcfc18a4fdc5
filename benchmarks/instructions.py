"""Instructions per simulated lead, baseline against Erlang C: a cost blind to the machine's load.

Wall-clock figures on a shared machine swing from run to run; the number of instructions a
replication executes does not. For each case this counts, with valgrind, the instructions of a
process that builds, runs and measures one replication (seed 1), minus those of the same process
without the replication (interpreter start-up, imports and scenario loading), and divides by the
leads simulated. ``--pure`` counts the simulation run from its Python source instead of compiled.
Needs valgrind (``apt-get install valgrind``); not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "baseline": ("scenarios/baseline.yaml", []),
    "erlang-c": ("scenarios/validation/erlang-c.yaml", ["horizon=230d", "warmup=0d"]),
}
VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
ONE_RUN = """
import sys
from funnelsim import compiled, metrics
from funnelsim.model.run import simulate
from funnelsim.scenario.load import load_scenario
scenario = load_scenario(sys.argv[1], sys.argv[3:])
if sys.argv[2] == "1":
    records = simulate(scenario, 1, 0)
    metrics.compute(records, scenario)
    print("leads", len(records.leads), compiled.mode(), file=sys.stderr)
"""


def instructions(path: str, overrides: list[str], run: bool, pure: bool) -> tuple[int, str]:
    """Instructions executed by the process, and what it printed to stderr."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")  # no BLAS threads spinning meanwhile
    if pure:
        env["FUNNELSIM_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [*VALGRIND, sys.executable, "-c", ONE_RUN, path, "1" if run else "0", *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    refs = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    assert refs is not None, done.stderr
    return int(refs.group(1).replace(",", "")), done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pure", action="store_true", help="run the simulation from source")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    per_lead = {}
    for name, (path, overrides) in CASES.items():
        empty, _ = instructions(path, overrides, run=False, pure=args.pure)
        full, stderr = instructions(path, overrides, run=True, pure=args.pure)
        found = re.search(r"leads (\d+) (.+)", stderr)
        assert found is not None, stderr
        leads, mode = int(found.group(1)), found.group(2)
        per_lead[name] = (full - empty) / leads
        print(f"{name}: {leads:,} leads, {per_lead[name]:,.0f} instructions per lead ({mode})")
    print(f"baseline / erlang-c: {per_lead['baseline'] / per_lead['erlang-c']:.2f}x")


if __name__ == "__main__":
    main()
