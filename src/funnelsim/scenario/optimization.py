"""Optimisation files: what a planner may change, what must hold, and what to make best.

```yaml
name: Budget split
baseline: ../baseline.yaml            # relative to this file
variables:                            # dotted scenario paths, as --set names them
  sources.content.spend.monthly: {low: 0, high: 30000, step: 1000}
  sources.outbound.contacts_per_month: {low: 100, high: 1500, step: 100}
  teams.sdr.headcount: {low: 2, high: 8}          # whole numbers: step 1
  handoff.policy: {choices: [continuous, weekly]}
budget:                               # optional: one path takes what the others leave
  planned_cost_monthly: 86000
  fill: sources.search.spend.monthly
constraints:
  - sla_first_touch_attainment >= 0.9             # judged at the CI's bound (rule: ci)
  - sdr_utilization <= 0.85
objective: {maximize: new_arr}                    # or minimize; statistic: mean | p10
# objectives: [{maximize: new_arr}, {minimize: cac}]   # two: a Pareto front
```

Loading checks everything before anything runs: every variable is set at both ends of its
range (and at each choice) on the baseline and validated, so a misspelled path or a value the
scenario refuses is reported at its line in this file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from funnelsim.scenario.load import (
    Problem,
    ScenarioError,
    apply_overrides,
    read_document,
    validate_document,
    with_settings,
)
from funnelsim.scenario.schema import Scenario, Section, did_you_mean

Choice = str | int | float | bool


def _known_metric(name: str, info: ValidationInfo) -> str:
    # The registry is a layer above the scenario: its names come from the caller's context.
    known = list((info.context or {}).get("metrics", ()))
    if known and name not in known:
        raise ValueError(f"unknown metric '{name}'{did_you_mean(name, known)}")
    return name


def _goal(text: str, info: ValidationInfo) -> str:
    # parsed here too, so that a bad goal is reported at its line before anything runs
    parse = (info.context or {}).get("parse_goal")
    if parse is not None:
        parse(text)
    return text


Constraint = Annotated[str, AfterValidator(_goal)]


class Variable(Section):
    """What one decision may be: a number between ``low`` and ``high`` (on a grid of ``step``;
    whole numbers when ``low``, ``high`` and ``step`` are), or one of ``choices``."""

    low: float | None = Field(default=None, description="Smallest value.")
    high: float | None = Field(default=None, description="Largest value.")
    step: float | None = Field(default=None, gt=0, description="Grid of values from low.")
    choices: list[Choice] | None = Field(
        default=None, min_length=1, description="The values it may take, instead of a range."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Variable:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.step is not None:
                raise ValueError("give either choices or low/high (and step), not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (and optionally step), or choices")
        if self.high < self.low:
            raise ValueError(f"high ({self.high:g}) is below low ({self.low:g})")
        if self.step is not None and not math.isclose(
            round((self.high - self.low) / self.step) * self.step, self.high - self.low
        ):
            raise ValueError(f"high - low ({self.high - self.low:g}) is no multiple of step")
        return self

    @property
    def whole(self) -> bool:
        """Whole numbers (a headcount, a list size): ends and step are integers."""
        ends = (self.low, self.high, 1.0 if self.step is None else self.step)
        return self.choices is None and all(v is not None and float(v).is_integer() for v in ends)

    def ends(self) -> list[Choice]:
        """The values that bound what the optimiser may try (checked on the baseline)."""
        if self.choices is not None:
            return list(self.choices)
        assert self.low is not None
        assert self.high is not None
        cast = int if self.whole else float
        return [cast(self.low), cast(self.high)]


class Objective(Section):
    """A metric to make as large (``maximize``) or as small (``minimize``) as it goes."""

    maximize: str | None = Field(default=None, description="Metric to make largest.")
    minimize: str | None = Field(default=None, description="Metric to make smallest.")
    statistic: Literal["mean", "p10"] = Field(
        default="mean",
        description="What of the metric's outcomes counts: 'mean', or 'p10' (the 10th "
        "percentile of outcomes, or the 90th when minimising: a bad year's value).",
    )

    @field_validator("maximize", "minimize")
    @classmethod
    def _metric(cls, name: str | None, info: ValidationInfo) -> str | None:
        return None if name is None else _known_metric(name, info)

    @model_validator(mode="after")
    def _one(self) -> Objective:
        if (self.maximize is None) == (self.minimize is None):
            raise ValueError("give one of maximize or minimize")
        return self

    @property
    def metric(self) -> str:
        name = self.maximize or self.minimize
        assert name is not None
        return name

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        return "maximize" if self.maximize is not None else "minimize"


class Budget(Section):
    """A monthly planned cost the plan spends in full: ``fill``, a money path (a channel's
    monthly spend), takes whatever the other variables leave, so every trial costs exactly
    ``planned_cost_monthly``; a trial whose other choices cost more is infeasible."""

    planned_cost_monthly: float = Field(gt=0, description="The plan's cost per month.")
    fill: str = Field(min_length=1, description="Dotted path of the value that takes the rest.")


class Confirm(Section):
    """The final selection: the best candidates rerun with more replications."""

    candidates: int = Field(default=5, ge=1, description="How many of the best trials rerun.")
    replications: int = Field(default=20, ge=3, description="Replications of each.")


class Optimization(Section):
    """A baseline plan, the decisions that may change it, and what the best plan is."""

    name: str = Field(min_length=1, description="Name of the optimisation.")
    description: str = Field(default="", description="What it asks.")
    baseline: str = Field(description="Scenario file, relative to this file.")
    seed: int | None = Field(default=None, ge=0, description="Seed (default: the baseline's).")
    variables: dict[str, Variable] = Field(min_length=1, description="Dotted path -> its range.")
    budget: Budget | None = Field(default=None, description="Spend a monthly budget in full.")
    constraints: list[Constraint] = Field(
        default=[], description="Goals every chosen plan meets: 'METRIC>=VALUE', 'METRIC<=VALUE'."
    )
    rule: Literal["ci", "mean"] = Field(
        default="ci",
        description="How a constraint is judged: 'ci', the 95% CI's unfavourable end; 'mean'.",
    )
    objective: Objective | None = Field(default=None, description="What to make best.")
    objectives: list[Objective] | None = Field(
        default=None, min_length=2, max_length=2, description="Two objectives: a Pareto front."
    )
    trials: int = Field(default=64, ge=2, description="Candidate plans simulated.")
    batch: int = Field(default=8, ge=1, description="Trials proposed (and run) together.")
    replications: int = Field(default=2, ge=1, description="Replications of every trial.")
    promising: int = Field(
        default=6,
        ge=1,
        description="Replications of a promising trial (one that may beat the best so far).",
    )
    uncertainty: int = Field(
        default=0,
        ge=0,
        description="Draws of the uncertain inputs each replication count is run on (0: the "
        "inputs at their values).",
    )
    confirm: Confirm = Field(default_factory=Confirm, description="The final selection.")
    metrics: list[str] = Field(
        default=[
            "new_arr",
            "deals_won",
            "sqls",
            "planned_cost_monthly",
            "cac",
            "sla_first_touch_attainment",
            "sdr_utilization",
            "ae_utilization",
        ],
        description="Metrics reported for the chosen plans (with the objectives and constraints).",
    )

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, names: list[str], info: ValidationInfo) -> list[str]:
        return [_known_metric(name, info) for name in names]

    @model_validator(mode="after")
    def _what_to_make_best(self) -> Optimization:
        if (self.objective is None) == (self.objectives is None):
            raise ValueError("give one 'objective', or two 'objectives' (a Pareto front)")
        if self.budget is not None and self.budget.fill in self.variables:
            raise ValueError(f"budget.fill '{self.budget.fill}' is also a variable")
        if self.promising < self.replications:
            raise ValueError("promising is fewer replications than replications")
        return self

    @property
    def goals(self) -> list[Objective]:
        return [self.objective] if self.objective is not None else list(self.objectives or [])


def load_optimization(
    path: str | Path,
    overrides: Sequence[str] | None = None,
    metrics: Collection[str] = (),
    parse_goal: Callable[[str], object] | None = None,
) -> tuple[Optimization, Scenario]:
    """Read an optimisation file and its baseline (with ``--set`` ``overrides``); raise
    ScenarioError listing every problem, each at its line.

    ``metrics`` are the names objectives and reports may use, and ``parse_goal`` parses a
    constraint (raising ``ValueError`` for a bad one): both belong to layers above the
    scenario, which never imports them.
    """
    document = read_document(path)
    context = {"metrics": metrics, "parse_goal": parse_goal}
    spec: Optimization = validate_document(document, Optimization, context)
    base_document = apply_overrides(
        read_document(Path(path).parent / spec.baseline), overrides or []
    )
    baseline: Scenario = validate_document(base_document, Scenario)
    problems: list[Problem] = []
    paths: list[tuple[str, tuple[str, ...], list[Choice]]] = [
        (key, ("variables", key), variable.ends()) for key, variable in spec.variables.items()
    ]
    if spec.budget is not None:
        paths.append((spec.budget.fill, ("budget", "fill"), [0.0]))
    for key, origin, values in paths:
        for value in values:
            try:
                with_settings(baseline, {key: value}, baseline.name, document.where(origin))
            except ScenarioError as error:
                problems += [p for p in error.problems if p not in problems]
    if problems:
        raise ScenarioError(problems)
    return spec, baseline


def with_effort(
    spec: Optimization,
    trials: int | None = None,
    replications: int | None = None,
    confirm_replications: int | None = None,
) -> Optimization:
    """``spec`` with the effort asked for on the command line (``--trials``,
    ``--replications``, ``--confirm-replications``) or from Python instead of the file's: more
    replications of every trial raise those of a promising one with them."""
    changes: dict[str, Any] = {"trials": trials, "replications": replications}
    changes = {key: value for key, value in changes.items() if value is not None}
    if replications is not None:
        changes["promising"] = max(spec.promising, replications)
    if confirm_replications is not None:
        changes["confirm"] = spec.confirm.model_copy(update={"replications": confirm_replications})
    return spec.model_copy(update=changes)
