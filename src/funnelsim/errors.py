"""Errors funnelsim reports to a person, not to a debugger: a message, exit code 2, no traceback.

Every such error is a :class:`FunnelsimError`, and the command line catches that one class in one
place (``cli.py``) and prints its :meth:`~FunnelsimError.lines`. Under it:

- ``ScenarioError`` (``funnelsim.scenario.load``): a scenario, study or override that cannot be
  used, one ``FILE:LINE:COL: dotted.path: message`` line per problem;
- :class:`StoreError`: a results folder that cannot be written, resumed or read as asked;
- :class:`UsageError`: an option's value that makes no sense (an unknown executor, a target
  half-width that is not a number, ``--resume`` without ``--out``);
- ``WorkloadError`` (``funnelsim.workload``): a run too large for the machine, refused before
  it starts unless forced.

This module imports nothing, so the command line can catch these errors without importing what
raises them (pandas and pyarrow for results folders, pydantic for scenarios).
"""

from __future__ import annotations


class FunnelsimError(Exception):
    """Input funnelsim cannot use; the message says what is wrong and where."""

    def lines(self) -> list[str]:
        """What to show, one line per problem."""
        return str(self).splitlines() or [type(self).__name__]


class UsageError(FunnelsimError, ValueError):
    """A value given to an option (or to the function behind it) that cannot be used.

    ``option`` names it as a person typed it (``--executor``), and prefixes the message.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        self.option = option
        self.message = message
        super().__init__(f"{option}: {message}" if option else message)


class StoreError(FunnelsimError, ValueError):
    """A results folder that cannot be written, resumed or read as asked; the message says why."""
