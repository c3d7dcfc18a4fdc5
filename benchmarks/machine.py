"""The machine a benchmark ran on, as its figures in docs/benchmarks.md state it."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

# CPUs this process may use, as `nproc` counts them
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def describe(packages: tuple[str, ...]) -> str:
    """CPUs available, Python, OS, and the versions of ``packages``."""
    versions = []
    for package in packages:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return (
        f"nproc {CPUS}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; {', '.join(versions)}"
    )


def write_section(path: Path, name: str, body: str) -> bool:
    """Put ``body`` between the ``<!-- bench-NAME:start -->`` and ``<!-- bench-NAME:end -->``
    markers of ``path``, where a benchmark's latest figures live; False (nothing written) when
    the file does not have exactly one pair of them, in order."""
    start, end = f"<!-- bench-{name}:start -->", f"<!-- bench-{name}:end -->"
    text = path.read_text(encoding="utf-8")
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        return False
    head, rest = text.split(start)
    _, tail = rest.split(end)
    path.write_text(f"{head}{start}\n{body.strip()}\n{end}{tail}", encoding="utf-8")
    return True


@dataclass(frozen=True)
class Case:
    """One named command to time; it must exit with status 0."""

    name: str
    argv: list[str]
    what: str  # a short description for the tables


@dataclass
class Timings:
    """The wall-clock seconds of every timed run of one case, and its CPU seconds where the
    benchmark keeps them."""

    case: Case
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)
