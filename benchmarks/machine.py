"""The machine a benchmark ran on, as its figures in docs/benchmarks.md state it."""

from __future__ import annotations

import os
import platform
from importlib import metadata

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
