"""Which of funnelsim's modules run compiled, and the guard that keeps a stale build from running.

The simulation's hot path (the rep pool and its agenda, the story's callbacks and the rules
they read, the decay curve and the calendar's business-time arithmetic) is compiled with mypyc when
funnelsim is installed on a machine with a C compiler (``setup.py``): the same Python source,
run as native code, more than twice as fast on a full funnel, with the same results to the last
bit (``tests/test_compiled.py``). Everything else stays Python.

An editable install compiles in place, beside the source of a checkout. A compiled module
older than its source would run yesterday's model, so in a checkout, when any of them is stale
(or anywhere, when ``FUNNELSIM_PURE_PYTHON=1`` asks for it), every one is loaded from its
source instead: all or none, since compiled modules call each other natively. An installed
wheel is not checked: nobody edits it, and unpacking it gives its files arbitrary times.

This module uses the standard library only: ``setup.py`` reads ``MODULES`` from it before
funnelsim is installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

MODULES = (
    "funnelsim.calendar",
    "funnelsim.model.agenda",
    "funnelsim.model.decay",
    "funnelsim.model.pool",
    "funnelsim.model.queue",
    "funnelsim.model.rules",
    "funnelsim.model.story",
)
PURE_ENV = "FUNNELSIM_PURE_PYTHON"
_ROOT = Path(__file__).resolve().parent.parent  # the folder holding the funnelsim package
_CHECKOUT = (_ROOT.parent / "setup.py").is_file()  # src/funnelsim in a checkout, not a wheel


def pure_requested() -> bool:
    """True when ``FUNNELSIM_PURE_PYTHON`` asks to build or run from source."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def source_path(module: str, root: Path = _ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def binary_path(module: str, root: Path = _ROOT) -> Path | None:
    """The module's compiled extension beside its source, if there is one."""
    base = root.joinpath(*module.split("."))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = base.with_name(base.name + suffix)
        if path.exists():
            return path
    return None


def stale(root: Path = _ROOT, modules: Sequence[str] = MODULES) -> list[str]:
    """The compiled modules whose source changed after they were last compiled.

    mypyc puts the compiled code of all the modules in one shared library beside the package
    (``<hash>__mypyc.*``); each module's own extension only loads it, and is rebuilt only when
    the set of modules changes. A module was compiled as late as the newer of the two.
    """
    shared = [path.stat().st_mtime for path in root.glob("*__mypyc*")]
    out = []
    for module in modules:
        binary = binary_path(module, root)
        if binary is None:
            continue
        built = max([binary.stat().st_mtime, *shared])
        if source_path(module, root).stat().st_mtime > built:
            out.append(module)
    return out


class _FromSource:
    """Loads the compiled modules from their Python source (a meta path finder: subclassing
    ``importlib.abc.MetaPathFinder`` would cost every start an import)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


def guard() -> None:
    """Run the compiled modules from source if asked to, or if any is older than its source."""
    if any(isinstance(finder, _FromSource) for finder in sys.meta_path):
        return
    if pure_requested():
        sys.meta_path.insert(0, _FromSource())
        return
    changed = stale() if _CHECKOUT else []
    if changed:
        warnings.warn(
            f"funnelsim: {', '.join(changed)} changed after it was compiled; running the "
            "simulation from its Python source (same results, slower). Reinstall "
            "(`make install`, or `pip install -e .`) to compile it again.",
            RuntimeWarning,
            stacklevel=2,
        )
        sys.meta_path.insert(0, _FromSource())


def is_compiled() -> bool:
    """True when the simulation runs compiled (imports the model to find out)."""
    module = importlib.import_module("funnelsim.model.pool")
    return not str(module.__file__).endswith(".py")


def mode() -> str:
    """How the simulation runs, for benchmark reports and manifests."""
    return "compiled (mypyc)" if is_compiled() else "pure Python"
