"""The suite's shared fixtures and its two reports.

* **Seeds.** Statistical tests (intervals against theory, the directions of the bundled plans)
  take the ``seed`` fixture, with their fixed seed in ``@pytest.mark.seed(N)``. By default (CI)
  each runs on N. With ``FUNNELSIM_TEST_SEED`` set to an integer, or to ``random`` for a fresh
  one, their seeds are derived from it, so local runs rotate them; a failure prints the seed and
  the command that replays it.
* **Time budget.** At the end of a run, each test file's time (setup, call and teardown of its
  tests) is printed against its budget in ``tests/budget.toml``, with a warning for a file over
  budget or missing from it: a warning only, since machines are noisy (speed is measured by
  ``benchmarks/``, not by timed tests).
"""

from __future__ import annotations

import os
import random
import tomllib
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path

import pytest

from helpers import SEED_ENV, statistical_seed, suite_seed

TESTS = Path(__file__).resolve().parent
BUDGET = TESTS / "budget.toml"

_seconds: defaultdict[str, float] = defaultdict(float)  # per test file, this run
_seeded_failures: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Draw the suite's seed once when asked for a ``random`` one, for every test to share."""
    if os.environ.get(SEED_ENV, "").strip().lower() == "random":
        os.environ[SEED_ENV] = str(random.SystemRandom().randrange(1, 1_000_000))
    try:
        suite_seed()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_report_header(config: pytest.Config) -> str:
    suite = suite_seed()
    if suite is None:
        return f"statistical tests: fixed seeds ({SEED_ENV}=N or =random rotates them)"
    return f"statistical tests: seeds derived from {SEED_ENV}={suite}"


# -- seeds --------------------------------------------------------------------------------------
@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """The seed of a statistical test: its ``@pytest.mark.seed(N)`` by default, or derived
    from FUNNELSIM_TEST_SEED (and the test's module, so a module's runs can be shared)."""
    marker = request.node.get_closest_marker("seed")
    if marker is None or len(marker.args) != 1 or not isinstance(marker.args[0], int):
        pytest.fail("a test using the `seed` fixture needs @pytest.mark.seed(N), N its fixed seed")
    return statistical_seed(marker.args[0], request.module.__name__)


def replay(item: pytest.Item, seed: int) -> str:
    suite = suite_seed()
    if suite is None:
        return f"seed {seed} (the test's fixed seed); replay: pytest '{item.nodeid}'"
    return (
        f"seed {seed}, derived from {SEED_ENV}={suite}; replay: "
        f"{SEED_ENV}={suite} pytest '{item.nodeid}'"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """A failing statistical test says which seed it ran on, and how to run it on it again."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    seed = getattr(item, "funcargs", {}).get("seed")
    if report.failed and isinstance(seed, int) and item.get_closest_marker("seed"):
        text = replay(item, seed)
        report.sections.append(("seed", text))
        _seeded_failures.append(f"{item.nodeid}: {text}")


# -- shared fixtures ----------------------------------------------------------------------------
@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, so that messages name a file as the user typed it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- the time budget ----------------------------------------------------------------------------
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[Path(report.nodeid.split("::")[0]).name] += report.duration


def read_budget() -> dict[str, float]:
    """Seconds per test file, from tests/budget.toml (none if it is missing)."""
    if not BUDGET.is_file():
        return {}
    return {name: float(s) for name, s in tomllib.loads(BUDGET.read_text())["seconds"].items()}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tr = terminalreporter
    suite = suite_seed()
    if suite is not None:  # shown even with -q, which hides the header
        tr.write_line(f"statistical tests: seeds derived from {SEED_ENV}={suite}")
    for line in _seeded_failures:
        tr.write_line(f"statistical failure: {line}", red=True, bold=True)
    if not _seconds:
        return
    budget = read_budget()
    tr.write_sep("-", f"seconds per test file, against {BUDGET.relative_to(TESTS.parent)}")
    warnings = []
    for name, seconds in sorted(_seconds.items(), key=lambda item: -item[1]):
        allowed = budget.get(name)
        shown = "-" if allowed is None else f"{allowed:g}"
        tr.write_line(f"{seconds:8.1f} / {shown:>5}  {name}")
        if allowed is None:
            warnings.append(f"{name} has no budget in tests/budget.toml: give it one")
        elif seconds > allowed:
            warnings.append(f"{name} took {seconds:.1f} s, over its budget of {allowed:g} s")
    total = sum(_seconds.values())
    allowed_total = sum(budget.get(name, 0.0) for name in _seconds)
    tr.write_line(
        f"{total:8.1f} / {allowed_total:>5g}  the {len(_seconds)} files that ran "
        f"(the whole suite's budget: {sum(budget.values()):g} s)"
    )
    gone = sorted(name for name in budget if not (TESTS / name).is_file())
    warnings += [f"tests/budget.toml budgets {name}, which does not exist" for name in gone]
    for warning in warnings:
        tr.write_line(f"WARNING (time budget): {warning}", yellow=True, bold=True)
