"""How a lead's odds fall with its wait, read one wait at a time.

The scenario describes the curve (``handoff.decay``: a half-life, or a table of points); the
model reads it at every first touch and every contact attempt, so it is kept here in the
compiled hot path as plain numbers rather than called back into the scenario's objects. The
scenario's ``multiplier`` gives the same curve over arrays, for charts and checks.
"""

from __future__ import annotations

import math

from funnelsim.scenario.schema import ExponentialDecay, TableDecay


class DecayCurve:
    """The odds multiplier of a lead that has waited some hours: a halving every half-life,
    or a table of (wait, multiplier) points, linear in between and flat beyond its ends."""

    def __init__(self, half_life_h: float, waits: list[float], values: list[float]) -> None:
        self.half_life_h = half_life_h  # read when there is no table
        self.waits = waits
        self.values = values

    @staticmethod
    def of(spec: ExponentialDecay | TableDecay) -> DecayCurve:
        if isinstance(spec, ExponentialDecay):
            return DecayCurve(spec.half_life.hours, [], [])
        return DecayCurve(math.nan, [w.hours for w, _ in spec.points], [m for _, m in spec.points])

    def at(self, wait: float) -> float:
        """The multiplier after ``wait`` hours."""
        if not self.waits:  # a halving every half-life
            return math.pow(2.0, -wait / self.half_life_h)
        waits, values = self.waits, self.values
        # the first point beyond the wait (tables hold a handful of points: step through them)
        k = 0
        while k < len(waits) and not wait < waits[k]:
            k += 1
        if k == 0:
            return values[0]
        if k == len(waits):
            return values[-1]
        w0, w1, v0, v1 = waits[k - 1], waits[k], values[k - 1], values[k]
        return v0 + (v1 - v0) * (wait - w0) / (w1 - w0)
