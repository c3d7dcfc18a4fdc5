"""Ciw M/M/c baseline for ``make bench``: the same queue as ``simpy_mmc.py``, built with ciw.

Arrivals Exponential(rate 9/h), service Exponential(rate 1/h), 10 servers, FIFO; the time unit
is the hour. The run lasts ``customers / rate`` hours, so about ``customers`` customers arrive.
Prints the mean wait in hours of the customers served (Erlang C: Wq = 0.6687 h).
"""

from __future__ import annotations

import argparse

import ciw


def simulate(
    customers: int, rate_per_h: float, mean_service_h: float, servers: int, seed: int
) -> float:
    """Simulate for ``customers / rate`` hours; return the mean wait (h) of completed services."""
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=rate_per_h)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / mean_service_h)],
        number_of_servers=[servers],
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(customers / rate_per_h)
    waits: list[float] = [record.waiting_time for record in simulation.get_all_records()]
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
