"""Shared helpers for the test suite: scenarios as data, and interval assertions that talk."""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from funnelsim import compiled
from funnelsim.analysis import Summary, summarise
from funnelsim.scenario.load import scenario_from_dict
from funnelsim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def run_python(
    code: str, *args: str, pure: bool, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter at the repository root, with the simulation
    compiled or (``pure``) from its Python source; it must succeed."""
    env = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    if pure:
        env[compiled.PURE_ENV] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done


def bundled(name: str) -> dict[str, Any]:
    """A bundled scenario file as plain data, to tweak in a test."""
    data = yaml.safe_load((SCENARIOS / name).read_text())
    assert isinstance(data, dict)
    return data


def scenario(data: dict[str, Any], *overrides: str) -> Scenario:
    return scenario_from_dict(copy.deepcopy(data), list(overrides))


def assert_theory_in_ci(
    label: str, theory: float, values: list[float], *, max_half_width: float, level: float = 0.999
) -> Summary:
    """The analytic value must lie in the simulation's CI, and the CI must be narrow enough.

    The suite makes about twenty such checks; at 99.9% each (Bonferroni), a correct model
    raises a false alarm in about 2% of seeds, while the half-width bound keeps every interval
    tight enough to catch a real error. The printed numbers make a failure readable.
    """
    s = summarise(values, level=level)
    report = (
        f"{label}: theory {theory:.5f}, simulated {s.mean:.5f} "
        f"[{s.ci_low:.5f}, {s.ci_high:.5f}] ({level:.1%} CI, n={s.n}, "
        f"half-width {s.half_width:.5f}, allowed {max_half_width:.5f})"
    )
    print(report)
    assert s.half_width <= max_half_width, "CI too wide to mean anything: " + report
    assert s.ci_low <= theory <= s.ci_high, report
    return s


# -- seeds of the statistical tests ------------------------------------------------------------
SEED_ENV = "FUNNELSIM_TEST_SEED"


def suite_seed() -> int | None:
    """The integer in FUNNELSIM_TEST_SEED (``random`` is drawn once, in conftest.py), or None:
    the statistical tests then run on their fixed seeds, as CI does."""
    text = os.environ.get(SEED_ENV, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be an integer or 'random', got {text!r}") from None


def statistical_seed(fixed: int, key: str) -> int:
    """The seed a statistical test runs on: ``fixed`` by default (CI), or, when the suite has a
    seed, one derived from it and ``key`` (tests with the same key and ``fixed`` share it, so
    that cached runs stay shared)."""
    suite = suite_seed()
    if suite is None:
        return fixed
    digest = hashlib.sha256(f"{suite}/{key}/{fixed}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def assert_refused(result: Result) -> list[str]:
    """Bad input: exit 2, stdout empty, no traceback; returns the problem lines."""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 2, result.output
    assert result.stdout == "", result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no problem reported"
    return lines


def location(text: str, anchor: str) -> str:
    """'LINE:COL' of the character marked ``^`` in ``anchor``, a snippet unique in ``text``."""
    snippet = anchor.replace("^", "")
    assert text.count(snippet) == 1, f"{snippet!r} must occur exactly once"
    offset = text.index(snippet) + anchor.index("^")
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{col}"


def invoke(*args: str | Path) -> Result:
    """The ``funnelsim`` command line, in this process."""
    from funnelsim.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def ok(*args: str | Path) -> Result:
    """A command that must succeed, without a traceback."""
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


# the smallest whole scenario file: one inbound source, one SDR team (tests of located errors)
BASE = """\
name: Base
horizon: 10d
warmup: 1d
seed: 1
calendar: always
sources:
  web:
    kind: inbound
    arrivals: {rate: 9/h}
    score: {dist: constant, value: 0.5}
handoff:
  policy: continuous
  first_touch_sla: 30m
  decay: {kind: table, points: [[0m, 1.0], [1h, 0.5]]}
teams:
  sdr:
    headcount: 10
    first_touch_time: {dist: exponential, mean: 1h}
"""


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder below ``folder``: size, mtime and content hash."""
    state = {}
    for path in sorted(folder.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        stat = path.stat()
        state[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns, digest)
    return state
