"""funnelsim: a discrete-event simulator and what-if modeler for marketing-to-sales funnels.

``import funnelsim as fs`` gives the Python API (:mod:`funnelsim.api`): ``fs.load``,
``fs.run``, ``fs.compare``, ``fs.study``, ``fs.results.load``, and the decisions
``fs.sensitivity``, ``fs.optimize``, ``fs.size``, ``fs.plan``, ``fs.calibrate``,
``fs.backtest``. Importing the package stays cheap (``funnelsim validate`` imports it, and
starts without numpy, pandas or even pydantic loaded here): the API is imported the first time
one of its names is used (PEP 562).

The API's names are verbs (``fs.optimize``); the modules that do the work are named for what
they own (``funnelsim.optimizer``, ``sensitivity_analysis``, ``calibration``, ``backtesting``),
so no module shadows an API name on the package.
"""

import importlib
from typing import Any

from funnelsim.compiled import guard as _guard

_guard()  # before any model module is imported: a stale compiled build never runs

__all__ = [
    "Comparison",
    "ExecutorSpec",
    "Results",
    "Scenario",
    "ScenarioError",
    "StudyResults",
    "Uncertain",
    "backtest",
    "calibrate",
    "compare",
    "load",
    "optimize",
    "plan",
    "report",
    "results",
    "run",
    "sensitivity",
    "size",
    "study",
]


def __getattr__(name: str) -> Any:
    """The API's names, imported when first used (and ``fs.results``, the module)."""
    # By name, through importlib: a type checker reading this package (mypyc compiling the
    # model, which imports the package) must not follow into the API and every library it
    # uses, which a build environment does not have.
    if name == "results":
        return importlib.import_module("funnelsim.results")
    if name not in __all__:
        raise AttributeError(f"module 'funnelsim' has no attribute {name!r}")
    return getattr(importlib.import_module("funnelsim.api"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
