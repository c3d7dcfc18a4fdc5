"""Goals a plan must meet: ``sla_first_touch_attainment >= 0.9``, ``planned_cost_monthly <= 86000``.

The decisions (``funnelsim size``, the constraints of ``funnelsim optimize``) judge a plan by a
metric's mean over replications. A simulated mean is uncertain, so a goal is judged by a
*rule*: ``ci`` (the default) asks the confidence interval's unfavourable end to meet it (the
lower end of a ``>=`` goal, the upper end of a ``<=`` one: the simulation is 97.5% sure the plan
meets it), ``mean`` only the mean. A metric that is the same in every replication
(``planned_cost_monthly``, known before the run) has a zero-width interval, so both rules agree.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from funnelsim.analysis import Summary
from funnelsim.errors import UsageError
from funnelsim.metrics import METRICS
from funnelsim.scenario.schema import did_you_mean

Rule = Literal["ci", "mean"]
RULES: tuple[Rule, ...] = ("ci", "mean")
_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Goal:
    """``metric op value``: the metric's mean over replications must be at least (``>=``) or
    at most (``<=``) ``value``."""

    metric: str
    op: Literal[">=", "<="]
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def judged(self, summary: Summary, rule: Rule = "ci") -> float:
        """The figure the rule compares with the value: the mean, or the interval's
        unfavourable end (the mean when the interval is undefined: one replication)."""
        if rule == "mean" or not math.isfinite(summary.ci_low):
            return summary.mean
        return summary.ci_low if self.op == ">=" else summary.ci_high

    def met(self, summary: Summary, rule: Rule = "ci") -> bool:
        """Whether ``summary`` meets the goal under ``rule``; an undefined metric meets none."""
        figure = self.judged(summary, rule)
        if not math.isfinite(figure):
            return False
        return figure >= self.value if self.op == ">=" else figure <= self.value

    def shortfall(self, summary: Summary, rule: Rule = "ci") -> float:
        """How far the judged figure is from the goal, in the metric's units (0 when met, inf
        when the metric is undefined): what an optimiser minimises to reach feasibility."""
        figure = self.judged(summary, rule)
        if not math.isfinite(figure):
            return math.inf
        gap = self.value - figure if self.op == ">=" else figure - self.value
        return max(gap, 0.0)


def parse_goal(text: str, option: str | None = None) -> Goal:
    """``'sla_first_touch_attainment>=0.9'`` (spaces allowed) as a Goal; a
    :class:`~funnelsim.errors.UsageError` naming ``option`` says what is wrong with a bad one."""
    found = _FORM.match(text)
    if found is None:
        raise UsageError(f"expected METRIC>=VALUE or METRIC<=VALUE, got {text!r}", option)
    metric, op, raw = found.groups()
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}{did_you_mean(metric, list(METRICS))}", option)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(f"{metric}: {raw!r} is not a number", option)
    return Goal(metric, ">=" if op == ">=" else "<=", value)
