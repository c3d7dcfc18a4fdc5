"""Errors funnelsim reports to a user as a one-line message (exit code 2), not a traceback.

They live apart from the modules that raise them so that the command line can catch them
without importing what those modules need (pandas and pyarrow, for results folders).
"""


class StoreError(ValueError):
    """A results folder that cannot be written, resumed or read as asked; the message says why."""
