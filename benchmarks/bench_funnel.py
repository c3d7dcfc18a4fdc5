"""Full-funnel benchmark (``make bench``): cost per simulated lead, baseline against Erlang C.

One replication of ``scenarios/baseline.yaml`` and one of the foundation's Erlang C scenario
run interleaved in this one process, several rounds; each run is timed from building the model
to the metrics (imports excluded: both pay them alike). The figure is the ratio of the median
seconds per simulated lead (a lead or an outbound contact) of the baseline to that of Erlang C
told event by event by the same general story (like for like); Erlang C as funnelsim runs it,
computed directly as one queue with no event, is shown beside. Seconds per SimPy event are
shown too, since a full-funnel lead lives through many more events.
The ratio within each round is shown as a range: on a shared machine a burst of other work can
slow any one run badly, which the medians of enough rounds ride out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from funnelsim import compiled, metrics
from funnelsim.model.assembly import assemble
from funnelsim.model.story import Funnel
from funnelsim.scenario.load import load_scenario
from machine import write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-funnel:start -->", "<!-- bench-funnel:end -->"
TARGET = 4.0  # the baseline may cost at most this many times Erlang C per simulated lead
CASES = {
    "erlang-c": ("scenarios/validation/erlang-c.yaml", ["horizon=230d", "warmup=0d"]),
    # the same queue told event by event by the general story, as any richer funnel is
    "erlang-c (general story)": (
        "scenarios/validation/erlang-c.yaml",
        ["horizon=230d", "warmup=0d"],
    ),
    "baseline": ("scenarios/baseline.yaml", []),
}


def one_run(path: str, overrides: list[str], seed: int, general: bool) -> tuple[float, int, int]:
    """Seconds, leads and SimPy events of one replication, build to metrics."""
    scenario = load_scenario(ROOT / path, overrides)
    start = time.perf_counter()
    funnel = Funnel(scenario, seed, 0)
    if general:
        funnel.rules.single_queue = False  # not computed directly: told event by event
    funnel.run()
    records = assemble(funnel)
    metrics.compute(records, scenario)
    seconds = time.perf_counter() - start
    return seconds, len(records.leads), next(funnel.env._eid)  # events scheduled


def _per_event(seconds: list[float]) -> str:
    median = statistics.median(seconds)
    return f"{median:.2f}" if math.isfinite(median) else "no events"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    per_lead: dict[str, list[float]] = {name: [] for name in CASES}
    per_event: dict[str, list[float]] = {name: [] for name in CASES}
    sizes: dict[str, tuple[int, int]] = {}
    for round_ in range(args.rounds):
        for name, (path, overrides) in CASES.items():
            seconds, leads, events = one_run(
                path, overrides, seed=round_ + 1, general="general" in name
            )
            per_lead[name].append(seconds / leads * 1e6)
            per_event[name].append(seconds / events * 1e6 if events else math.nan)
            sizes[name] = (leads, events)
    # like for like: both told event by event; the queue computed directly is shown beside
    lead_ratio = statistics.median(per_lead["baseline"]) / statistics.median(
        per_lead["erlang-c (general story)"]
    )
    direct_ratio = statistics.median(per_lead["baseline"]) / statistics.median(per_lead["erlang-c"])
    event_ratio = statistics.median(per_event["baseline"]) / statistics.median(
        per_event["erlang-c (general story)"]
    )
    events_per_lead = {name: sizes[name][1] / sizes[name][0] for name in CASES}
    in_round = [
        b / e
        for b, e in zip(per_lead["baseline"], per_lead["erlang-c (general story)"], strict=True)
    ]
    spread = f"{min(in_round):.1f}x to {max(in_round):.1f}x"
    table = Table(title=f"cost per simulated lead, {args.rounds} interleaved rounds")
    for column in ("case", "leads", "events", "µs per lead", "µs per event"):
        table.add_column(column, justify="right")
    for name in CASES:
        table.add_row(
            name,
            f"{sizes[name][0]:,}",
            f"{sizes[name][1]:,}",
            f"{statistics.median(per_lead[name]):.1f}",
            _per_event(per_event[name]),
        )
    console = Console()
    console.print(table)
    verdict = "met" if lead_ratio <= TARGET else "NOT met"
    console.print(f"simulation: {compiled.mode()}")
    console.print(
        f"baseline / erlang-c told by the general story, per lead: {lead_ratio:.1f}x (target at "
        f"most {TARGET:g}x: {verdict}; {spread} within rounds); per event: {event_ratio:.2f}x; "
        f"against the queue computed directly: {direct_ratio:.1f}x per lead"
    )
    if args.write_docs:
        rows = "\n".join(
            f"| {name} | {sizes[name][0]:,} | {sizes[name][1]:,} | "
            f"{statistics.median(per_lead[name]):.1f} | {_per_event(per_event[name])} |"
            for name in CASES
        )
        section = (
            f"{START}\nMeasured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `make bench` "
            f"({args.rounds} interleaved rounds, one replication each, in one process; "
            f"Python {platform.python_version()}; simulation {compiled.mode()}).\n\n"
            "| case | leads | SimPy events | µs per lead | µs per event |\n"
            "|---|---:|---:|---:|---:|\n"
            f"{rows}\n\n"
            f"Baseline against Erlang C told by the general story: **{lead_ratio:.1f}x per "
            f"simulated lead** (target: at most {TARGET:g}x, {verdict}; {spread} within single "
            f"rounds); {event_ratio:.2f}x per event. Against the same queue computed directly "
            f"(no events): {direct_ratio:.1f}x per lead. SimPy events per lead: "
            f"{events_per_lead['baseline']:.1f} for the baseline, "
            f"{events_per_lead['erlang-c (general story)']:.1f} for Erlang C.\n{END}"
        )
        write_section(DOCS, "funnel", section.removeprefix(START).removesuffix(END))


if __name__ == "__main__":
    main()
