"""Plain SimPy M/M/c baseline for ``make bench``: the queue written the idiomatic SimPy way.

A source process starts one process per customer; each customer requests a shared
``simpy.Resource``, records how long it waited, and holds a server for its service time.
Inter-arrival and service times are drawn up front from a seeded numpy Generator, as funnelsim
does, so the comparison is between simulation engines rather than random-number calls.
Prints the mean wait in hours (Erlang C for lambda=9/h, mean service 1 h, c=10: Wq = 0.6687 h).
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

Process = Generator[simpy.Event, Any, None]


def customer(
    env: simpy.Environment, servers: simpy.Resource, service_h: float, waits: list[float]
) -> Process:
    """Queue for a server (FIFO), note the wait, then hold the server for the service time."""
    arrived = env.now
    with servers.request() as request:
        yield request
        waits.append(env.now - arrived)
        yield env.timeout(service_h)


def source(
    env: simpy.Environment,
    servers: simpy.Resource,
    gaps_h: list[float],
    services_h: list[float],
    waits: list[float],
) -> Process:
    """Start one customer process per arrival, spaced by the inter-arrival times."""
    for gap_h, service_h in zip(gaps_h, services_h, strict=True):
        yield env.timeout(gap_h)
        env.process(customer(env, servers, service_h, waits))


def simulate(
    customers: int, rate_per_h: float, mean_service_h: float, servers: int, seed: int
) -> float:
    """Run the M/M/c queue until every customer has been served; return the mean wait (h)."""
    rng = np.random.default_rng(seed)
    gaps_h = rng.exponential(1.0 / rate_per_h, customers).tolist()
    services_h = rng.exponential(mean_service_h, customers).tolist()
    env = simpy.Environment()
    resource = simpy.Resource(env, capacity=servers)
    waits: list[float] = []
    env.process(source(env, resource, gaps_h, services_h, waits))
    env.run()
    return sum(waits) / len(waits)


def main() -> None:
    """Parse the options, simulate, print the mean wait."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=9.0, help="arrivals per hour")
    parser.add_argument("--mean-service", type=float, default=1.0, help="hours")
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    mean_wait = simulate(args.customers, args.rate, args.mean_service, args.servers, args.seed)
    print(f"{mean_wait:.4f}")


if __name__ == "__main__":
    main()
