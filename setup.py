"""Build funnelsim, compiling the simulation's hot modules with mypyc where a C compiler is at hand.

The modules in ``funnelsim.compiled.MODULES`` are compiled from their unchanged Python source;
the rest of the package stays Python. Without a C compiler (or with FUNNELSIM_PURE_PYTHON=1)
funnelsim installs as pure Python: the same results, about half the speed on a full funnel.
Everything else about the package lives in pyproject.toml.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SRC = Path(__file__).resolve().parent / "src"
# stdlib-only module, read by path: funnelsim itself is not importable before it is built
COMPILED = runpy.run_path(str(SRC / "funnelsim" / "compiled.py"))


def _warn(why: object) -> None:
    reason = str(why).splitlines()[0] if str(why) else type(why).__name__
    print(f"funnelsim: installing as pure Python, not compiled ({reason[:200]})", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """Compiled modules are a speed-up, not a requirement: if any of them fails to build (no
    compiler, no Python headers), none is kept, since they only work together."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            for extension in self.extensions:
                Path(self.get_ext_fullpath(extension.name)).unlink(missing_ok=True)
            _warn(error)


def ext_modules() -> list[Extension]:
    if COMPILED["pure_requested"]():
        return []
    try:
        from mypyc.build import mypycify

        paths = [str(COMPILED["source_path"](m, Path("src"))) for m in COMPILED["MODULES"]]
        extensions: list[Extension] = mypycify(paths, opt_level="3")
    # mypyc missing, or it could not type-check the modules (mypycify then exits)
    except (Exception, SystemExit) as error:
        _warn(error)
        return []
    for extension in extensions:
        # no fused multiply-add: compiled arithmetic rounds exactly as Python's does
        extension.extra_compile_args = [*extension.extra_compile_args, "-ffp-contract=off"]
    return extensions


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
