"""The compiled simulation gives the same results as its Python source, and never runs stale.

``setup.py`` compiles the modules in ``funnelsim.compiled.MODULES`` with mypyc. These tests run
the same replications compiled and from source (``FUNNELSIM_PURE_PYTHON=1``), in two fresh
processes, and compare every record column exactly; and they check that a compiled module
older than its source is not used. Without a compiled build the comparisons are skipped, unless
``FUNNELSIM_EXPECT_COMPILED=1`` (CI) says a compiled build was expected.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from funnelsim import compiled
from helpers import run_python

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(compiled.__file__).resolve().parent.parent

# every mechanism of the funnel, and the single queue served in order of arrival
CASES = [
    ("scenarios/baseline.yaml", ["horizon=10w"]),
    ("scenarios/outbound-heavy.yaml", ["horizon=10w"]),
    ("scenarios/monday-batch.yaml", ["horizon=8w"]),
    ("scenarios/validation/erlang-a.yaml", ["horizon=20d", "warmup=0d"]),
]

DUMP = """
import dataclasses, sys
import numpy as np
from funnelsim import compiled, metrics
from funnelsim.model.run import simulate
from funnelsim.scenario.load import load_scenario
columns = {"mode": np.array(compiled.mode())}
for i, (path, overrides) in enumerate(%r):
    scenario = load_scenario(path, overrides)
    for seed in (1, 2):
        records = simulate(scenario, seed)
        for table in ("leads", "handoffs", "tasks"):
            for field in dataclasses.fields(getattr(records, table)):
                value = getattr(getattr(records, table), field.name)
                if isinstance(value, np.ndarray):
                    columns[f"{i}/{seed}/{table}.{field.name}"] = value
        for name, value in metrics.compute(records, scenario).items():
            columns[f"{i}/{seed}/metric.{name}"] = np.asarray(value)
np.savez(sys.argv[1], **columns)
"""


def _require_compiled() -> None:
    if compiled.is_compiled():
        return
    if os.environ.get("FUNNELSIM_EXPECT_COMPILED") == "1":
        pytest.fail(f"funnelsim runs {compiled.mode()}, but a compiled build was expected")
    pytest.skip("funnelsim is installed as pure Python: nothing compiled to compare")


@pytest.mark.slow  # two fresh processes simulating four scenarios twice each
def test_compiled_and_source_give_identical_records(tmp_path: Path) -> None:
    _require_compiled()
    dumps = {}
    for mode, pure in (("compiled", False), ("source", True)):
        out = tmp_path / f"{mode}.npz"
        run_python(DUMP % CASES, str(out), pure=pure)
        dumps[mode] = dict(np.load(out))
    fast, slow = dumps["compiled"], dumps["source"]
    assert str(fast.pop("mode")) == "compiled (mypyc)"
    assert str(slow.pop("mode")) == "pure Python"
    assert fast.keys() == slow.keys()
    differ = [
        key
        for key in fast
        if not np.array_equal(fast[key], slow[key], equal_nan=fast[key].dtype.kind == "f")
    ]
    columns = len(fast)
    rows = sum(v.size for v in fast.values())
    print(f"\n{columns} columns, {rows:,} values from {len(CASES)} scenarios x 2 seeds")
    assert not differ, f"compiled and source differ in {differ[:10]}"


def test_pure_python_switch_loads_every_module_from_source() -> None:
    code = (
        "import importlib, funnelsim.compiled as c\n"
        "print(c.is_compiled(), c.mode())\n"
        "for m in c.MODULES: print(m, importlib.import_module(m).__file__)"
    )
    first, *loaded = run_python(code, pure=True).stdout.splitlines()
    print("\n".join(loaded))
    assert first == "False pure Python"
    assert [line.split()[0] for line in loaded] == list(compiled.MODULES)
    binaries = [line for line in loaded if not line.endswith(".py")]
    assert not binaries, f"compiled modules loaded despite {compiled.PURE_ENV}=1: {binaries}"


def test_stale_detection(tmp_path: Path) -> None:
    package = tmp_path / "funnelsim" / "model"
    package.mkdir(parents=True)
    suffix = compiled.importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in ("pool", "story"):
        (package / f"{name}.py").write_text("")
        (package / f"{name}{suffix}").write_bytes(b"")
    modules = ["funnelsim.model.pool", "funnelsim.model.story", "funnelsim.model.absent"]
    past = time.time() - 60
    for path in package.iterdir():
        os.utime(path, (past, past))
    assert compiled.stale(tmp_path, modules) == []
    os.utime(package / "pool.py")  # edited after it was compiled
    assert compiled.stale(tmp_path, modules) == ["funnelsim.model.pool"]
    (tmp_path / f"0123abcd__mypyc{suffix}").write_bytes(b"")  # compiled again, after the edit
    assert compiled.stale(tmp_path, modules) == []
    assert compiled.binary_path("funnelsim.model.absent", tmp_path) is None


@pytest.mark.slow  # a copy of the installed package, in a fresh process
def test_an_edited_module_runs_from_source_with_a_warning(tmp_path: Path) -> None:
    """A copy of the installed package whose pool.py was edited after it was compiled."""
    _require_compiled()
    copy = tmp_path / "src"
    shutil.copytree(SRC / "funnelsim", copy / "funnelsim", symlinks=False)
    for shared in SRC.glob("*__mypyc*"):  # mypyc's runtime library, beside the package
        shutil.copy2(shared, copy / shared.name)
    shutil.copy2(ROOT / "setup.py", tmp_path / "setup.py")  # a checkout, as the guard sees it
    os.utime(copy / "funnelsim" / "model" / "pool.py")
    code = (
        "import funnelsim.compiled as c\n"
        f"assert c.__file__.startswith({str(copy)!r}), c.__file__\n"
        "assert not c.is_compiled()\n"
        "from funnelsim.model import story\n"
        "assert story.__file__.endswith('.py')"
    )
    stderr = run_python(code, pure=False, pythonpath=copy).stderr
    assert "funnelsim.model.pool changed after it was compiled" in stderr
    untouched = "import funnelsim.compiled as c\nassert c.is_compiled()"
    os.utime(copy / "funnelsim" / "model" / "pool.py", (0, 0))  # older than its build again
    assert "changed after" not in run_python(untouched, pure=False, pythonpath=copy).stderr
