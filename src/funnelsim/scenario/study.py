"""Studies: a baseline plan, named variants of it, and sweeps over its parameters.

A study file says what to vary and how; loading it gives one Scenario per point, all checked
before anything runs. Overrides name scenario values by dotted path, exactly as ``--set`` does,
and a problem with one is reported at its place in the study file.

```yaml
name: Budget split
baseline: ../baseline.yaml          # relative to this file
replications: 10
variants:
  more-sdrs: {teams.sdr.headcount: 6}
sweeps:
  split:
    mode: zip                       # values move together; grid: every combination
    values:
      sources.search.spend.monthly: [40000, 30000, 20000]
      teams.sdr.headcount: [4, 5, 6]
```
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from funnelsim.scenario.load import (
    Document,
    Problem,
    ScenarioError,
    apply_overrides,
    dotted_path,
    read_document,
    set_value,
    validate_document,
)
from funnelsim.scenario.schema import Scenario, Section, did_you_mean

Value = str | int | float | bool | None


class Sweep(Section):
    """Parameters swept together (zip) or over every combination (grid)."""

    mode: Literal["zip", "grid"] = Field(
        default="grid", description="'grid': every combination; 'zip': the i-th values together."
    )
    values: dict[str, list[Value]] = Field(
        min_length=1, description="Dotted scenario path -> the values it takes."
    )
    labels: list[str] | None = Field(
        default=None, description="A name for each point (zip mode), e.g. 'inbound 70%'."
    )

    @model_validator(mode="after")
    def _shape(self) -> Sweep:
        lengths = {len(v) for v in self.values.values()}
        if 0 in lengths:
            raise ValueError("every swept parameter needs at least one value")
        if self.mode == "zip" and len(lengths) > 1:
            raise ValueError(f"zip mode needs lists of one length, got {sorted(lengths)}")
        if self.labels is not None and (self.mode != "zip" or len(self.labels) != lengths.pop()):
            raise ValueError("labels name the points of a zip sweep: one label per value")
        return self

    def size(self) -> int:
        """How many points the sweep has, without making them."""
        lengths = [len(v) for v in self.values.values()]
        return lengths[0] if self.mode == "zip" else math.prod(lengths)

    def points(self) -> list[tuple[str | None, dict[str, Value]]]:
        keys = list(self.values)
        if self.mode == "zip":
            rows = list(zip(*self.values.values(), strict=True))
        else:
            rows = list(itertools.product(*self.values.values()))
        labels: list[str | None] = list(self.labels) if self.labels else [None] * len(rows)
        return [
            (label, dict(zip(keys, row, strict=True)))
            for label, row in zip(labels, rows, strict=True)
        ]


class Study(Section):
    """A baseline scenario, variants of it and sweeps over it, run on common random numbers."""

    name: str = Field(min_length=1, description="Name of the study.")
    description: str = Field(default="", description="What the study asks.")
    baseline: str = Field(description="Scenario file, relative to the study file.")
    replications: int = Field(default=10, ge=2, description="Replications per point.")
    seed: int | None = Field(default=None, ge=0, description="Seed (default: the baseline's).")
    variants: dict[str, dict[str, Value]] = Field(
        default={}, description="Named variants: dotted scenario path -> value."
    )
    sweeps: dict[str, Sweep] = Field(default={}, description="Named sweeps.")
    metrics: list[str] = Field(
        default=[
            "sqls",
            "deals_won",
            "new_arr",
            "total_cost",
            "cost_per_sql",
            "cac_ratio",
            "sla_first_touch_attainment",
        ],
        min_length=1,
        description="Metrics shown in the study's table (every metric is computed).",
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str], info: ValidationInfo) -> list[str]:
        # Checked here, not when the table is drawn, so that a misspelled metric is reported
        # at its line before anything runs. The names come from the caller (``load_study``'s
        # ``metrics``): the registry is a layer above the scenario, which never imports it.
        known = list((info.context or {}).get("metrics", ()))
        unknown = [name for name in names if known and name not in known]
        if unknown:
            hints = ", ".join(f"'{n}'{did_you_mean(n, known)}" for n in unknown)
            raise ValueError(f"unknown metric(s) {hints}")
        return names

    def size(self) -> int:
        """How many points the study has (the baseline, variants and sweep points), without
        making them."""
        return 1 + len(self.variants) + sum(sweep.size() for sweep in self.sweeps.values())


def _refuse_duplicates(study: Study, document: Document) -> None:
    """Two points with one name would share a row of every table (the last one's metrics
    shown for both): refuse a label given twice, and a point named as another is."""
    problems: list[Problem] = []
    seen: dict[str, tuple[str | int, ...]] = {"baseline": ()}
    for name in study.variants:
        path: tuple[str | int, ...] = ("variants", name)
        if name in seen:
            message = "a point has this name already"
            problems.append(Problem(document.where(path), f"variants.{name}", message))
        seen.setdefault(name, path)
    for sweep_name, sweep in study.sweeps.items():
        labels: dict[str, int] = {}
        for i, label in enumerate(sweep.labels or []):
            path = ("sweeps", sweep_name, "labels", i)
            if label in labels:
                problems.append(
                    Problem(
                        document.where(path),
                        f"sweeps.{sweep_name}.labels.{i}",
                        f"duplicate label '{label}' (also label {labels[label]})",
                    )
                )
            labels.setdefault(label, i)
        for i, (named, values) in enumerate(sweep.points()):
            if named is not None and labels[named] != i:
                continue  # reported above, as a duplicate label
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            point = f"{sweep_name}: {named or shown}"
            path = ("sweeps", sweep_name, "labels", i) if named else ("sweeps", sweep_name)
            if point in seen:
                dotted = ".".join(str(part) for part in path)
                message = f"a second point named '{point}'"
                problems.append(Problem(document.where(path), dotted, message))
            seen.setdefault(point, path)
    if problems:
        raise ScenarioError(problems)


@dataclass(frozen=True)
class Point:
    """One scenario of a study: where it comes from and what was changed."""

    label: str
    overrides: dict[str, Value]
    scenario: Scenario


def describe(study: Study, points: Sequence[Point]) -> dict[str, Any]:
    """The study as a results folder's manifest records it: its name and, for every point, its
    label, its scenario's name and what was changed."""
    return {
        "name": study.name,
        "points": [
            {"label": p.label, "scenario": p.scenario.name, "overrides": p.overrides}
            for p in points
        ],
    }


def load_study(
    path: str | Path,
    overrides: Sequence[str] | None = None,
    metrics: Collection[str] = (),
    before_points: Callable[[Study, Scenario], None] | None = None,
) -> tuple[Study, list[Point]]:
    """Read a study and build every point's scenario; raise ScenarioError listing problems.

    ``overrides`` (``--set``) apply to the baseline before the study's own changes;
    ``metrics``, the names the study's table may show (``funnelsim.metrics.METRICS``), are
    checked where the study names them. ``before_points`` sees the study and its baseline
    before any point is made, and may refuse the study (a grid of a million points is
    refused before a million scenarios are built: ``funnelsim.workload``).
    """
    study_doc = read_document(path)
    study: Study = validate_document(study_doc, Study, {"metrics": metrics})
    base_path = Path(path).parent / study.baseline
    base = apply_overrides(read_document(base_path), overrides or [])
    if before_points is not None:
        before_points(study, validate_document(base.copy(), Scenario))
    _refuse_duplicates(study, study_doc)
    # each point: its label, its changes, and where in the study file they are written
    plan: list[tuple[str, dict[str, Value], tuple[str, ...]]] = [("baseline", {}, ())]
    plan += [(name, values, ("variants", name)) for name, values in study.variants.items()]
    for sweep_name, sweep in study.sweeps.items():
        for label, values in sweep.points():
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            plan.append(
                (f"{sweep_name}: {label or shown}", values, ("sweeps", sweep_name, "values"))
            )
    points: list[Point] = []
    problems: list[Problem] = []
    for label, values, origin in plan:
        document = base.copy()
        try:
            for key, value in values.items():
                set_value(document, dotted_path(key), value, study_doc.where((*origin, key)))
            scenario: Scenario = validate_document(document, Scenario)
        except ScenarioError as error:
            problems += [p for p in error.problems if p not in problems]
            continue
        name = study.name if label == "baseline" else f"{study.name}: {label}"
        points.append(Point(label, values, scenario.model_copy(update={"name": name})))
    if problems:
        raise ScenarioError(problems)
    return study, points
