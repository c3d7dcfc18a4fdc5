"""Which uncertain inputs decide an answer, and where a verdict flips.

Propagation (``run --uncertainty``) says how uncertain an answer is; sensitivity says why. The
answer is one metric's mean over replications (``new_arr`` by default), or, with two plans,
the difference plan 2 - plan 1 ("which inputs decide between two plans"). Every input setting
is a scenario of its own, run for the same replications on the same seed (common random
numbers), so two settings differ by their inputs alone. Inputs are set by their quantile in
[0, 1] of their range (``scenario.ranges.quantile``); a path uncertain in both plans takes the
same quantile in each. Three methods:

- **tornado**: each input at the low and at the high end of its range, one at a time, the
  others at their values;
- **morris**: Morris elementary effects (Morris 1991; the mu* of Campolongo, Cariboni and
  Saltelli 2007) over trajectories of a four-level grid, with SALib: ``mu_star`` (with its
  bootstrap CI half-width ``mu_star_conf``) ranks the inputs cheaply, ``sigma`` flags effects
  that depend on the other inputs;
- **sobol**: first-order and total Sobol indices (Saltelli et al. 2010 estimators, SALib), with
  bootstrap CIs, on the top inputs of the screen (the others at their values).

The default screens every input with Morris and then computes Sobol indices of the top
``top`` (8). With two plans, ``break_even`` gives, for the top three inputs, the value at which
the difference crosses zero with the other inputs at their values (Brent's method on common
random numbers, to within 1% of the range), or null when it keeps its sign over the range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from funnelsim import experiment, metrics, uncertainty
from funnelsim.errors import UsageError
from funnelsim.executors import ExecutorSpec
from funnelsim.rng import normalise_seed
from funnelsim.scenario.ranges import PathKey, Quantity, Range, quantile, uncertain_of
from funnelsim.scenario.schema import Scenario, did_you_mean

Method = Literal["tornado", "morris", "sobol", "morris+sobol"]
METHODS: tuple[Method, ...] = ("tornado", "morris", "sobol", "morris+sobol")
CONFIDENCE = 0.95
RESAMPLES = 1000


@dataclass
class Evaluator:
    """The answer at input settings: rows of quantiles, one column per input (nan: the plan's
    own value), every setting run for ``replications`` on one seed."""

    plans: list[Scenario]
    paths: list[PathKey]
    metric: str
    replications: int
    seed: int
    executor: ExecutorSpec = experiment.IN_PROCESS
    on_total: Callable[[int, int], None] | None = None
    on_chunk: Callable[[Any], None] | None = None
    out: Path | None = None  # each batch of settings a results folder: out, then out/settings/K
    runs: int = field(default=0, init=False)  # settings evaluated so far
    batches: int = field(default=0, init=False)
    kept: int = field(default=0, init=False)  # replications a resume found stored

    def __call__(self, settings: np.ndarray) -> np.ndarray:
        settings = np.atleast_2d(np.asarray(settings, dtype=float))
        ranges = [uncertain_of(plan) for plan in self.plans]
        scenarios = []
        for k, row in enumerate(settings):
            for plan, own in zip(self.plans, ranges, strict=True):
                values = {
                    path: quantile(own[path], min(max(float(u), 0.0), 1.0))
                    for path, u in zip(self.paths, row, strict=True)
                    if path in own and not math.isnan(u)
                }
                name = f"{plan.name} (setting {self.runs + k + 1})"
                scenarios.append(uncertainty.drawn_scenario(plan, values, name))
        folder = None
        if self.out is not None:
            folder = self.out if not self.batches else self.out / "settings" / str(self.batches)
        result = experiment.run(
            scenarios, self.replications, self.seed, executor=self.executor,
            on_total=self.on_total, on_chunk=self.on_chunk, out=folder,
            resume=folder is not None and (folder / "manifest.json").is_file(),
        )  # fmt: skip
        self.runs += len(settings)
        self.batches += 1
        self.kept += result.kept
        means = np.array([np.mean(r.values(self.metric)) for r in result.per_scenario])
        by_plan = means.reshape(len(settings), len(self.plans))
        return by_plan[:, 1] - by_plan[:, 0] if len(self.plans) == 2 else by_plan[:, 0]


@dataclass(frozen=True)
class Sensitivity:
    """What ``funnelsim sensitivity`` found."""

    metric: str
    method: Method
    plans: list[str]
    parameters: dict[str, dict[str, Any]]  # dotted path -> the method's figures
    break_even: dict[str, Any]  # dotted path -> the value where the verdict flips, or None
    settings: int  # input settings simulated
    replications: int
    seed: int
    kept: int = 0  # replications found stored by a resume (not part of the answer)

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "method": self.method,
            "plans": self.plans,
            "seed": self.seed,
            "replications": self.replications,
            "settings": self.settings,
            "parameters": self.parameters,
            "break_even": self.break_even,
        }

    def write(self, folder: Path) -> None:
        """``sensitivity.csv`` (one row per input: its figures, and its break-even value) and
        ``sensitivity.json`` in ``folder``."""
        import pandas as pd

        from funnelsim.store import atomic_write

        rows = []
        for path in self.ranked():
            flip = self.break_even.get(path)
            rows.append({
                "metric": self.metric, "method": self.method, "input": path,
                **self.parameters[path],
                "break_even": None if flip is None else str(flip["value"]),
            })  # fmt: skip
        frame = pd.DataFrame(rows)
        for key in ("low", "high"):  # text, as the scenario writes them ('2/h', '3d')
            if key in frame:
                frame[key] = frame[key].map(lambda v: None if v is None else str(v))
        texts = {
            "sensitivity.csv": frame.to_csv(index=False),
            "sensitivity.json": json.dumps(self.as_json(), indent=2) + "\n",
        }
        for name, text in texts.items():
            atomic_write(folder / name, partial(_write, text))

    def ranked(self) -> list[str]:
        """The inputs, most decisive first: those with Sobol indices by ST, then the others by
        Morris mu*, then by the tornado's swing (the scales differ, so they are not mixed)."""

        def weight(path: str) -> tuple[int, float]:
            figures = self.parameters[path]
            for tier, key in ((2, "ST"), (1, "mu_star")):
                if figures.get(key) is not None:
                    return tier, float(figures[key])
            low, high = figures.get("metric_at_low"), figures.get("metric_at_high")
            return 0, abs(high - low) if low is not None and high is not None else 0.0

        return sorted(self.parameters, key=weight, reverse=True)


def analyse(
    plans: Sequence[Scenario],
    *,
    metric: str = "new_arr",
    method: Method = "morris+sobol",
    replications: int = 1,
    seed: int | None = None,
    trajectories: int = 10,
    samples: int = 64,
    top: int = 8,
    executor: ExecutorSpec = experiment.IN_PROCESS,
    on_total: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[Any], None] | None = None,
    out: Path | None = None,
    resume: bool = False,
) -> Sensitivity:
    """The sensitivity of ``metric`` (of the difference plan 2 - plan 1, with two plans) to
    the plans' uncertain inputs; the same seed gives the same figures whatever the executor.

    With ``out``, every batch of settings is stored as a results folder (the first in ``out``,
    the next ones in ``out/settings/K``) and the figures as ``out/sensitivity.csv`` (the
    ``sensitivity`` table of ``funnelsim query``) and ``out/sensitivity.json``; ``resume``
    picks up the batches already stored (an interrupted analysis reruns only what is missing).
    """
    plans = list(plans)
    if not 1 <= len(plans) <= 2:
        raise UsageError("one scenario, or two to compare", "sensitivity")
    if metric not in metrics.METRICS:
        known = list(metrics.METRICS)
        raise UsageError(f"unknown metric {metric!r}{did_you_mean(metric, known)}", "--metric")
    inputs = uncertainty.shared_inputs(plans)
    if not inputs:
        raise UsageError(
            "no uncertain input: give numbers a range (docs/scenario.md)", "sensitivity"
        )
    root = normalise_seed(plans[0].seed if seed is None else seed)
    paths = list(inputs)
    names = [uncertainty.dotted(p) for p in paths]
    if out is not None and not resume and out.exists() and any(out.iterdir()):
        raise UsageError(f"{out}: holds results already; pass --resume or choose another", "--out")
    if resume and out is None:
        raise UsageError("needs --out, the folder of the analysis to finish", "--resume")
    evaluate = Evaluator(
        plans, paths, metric, replications, root, executor, on_total, on_chunk, out
    )
    parameters: dict[str, dict[str, Any]] = {name: {} for name in names}
    if method == "tornado":
        _tornado(evaluate, inputs, parameters)
    if method in ("morris", "morris+sobol"):
        _morris(evaluate, names, trajectories, root, parameters)
    if method in ("sobol", "morris+sobol"):
        chosen = names
        if method == "morris+sobol":
            chosen = sorted(names, key=lambda n: -parameters[n]["mu_star"])[:top]
        _sobol(evaluate, names, chosen, samples, root, parameters)
    found = Sensitivity(
        metric, method, [p.name for p in plans], parameters, {}, evaluate.runs, replications, root
    )
    if len(plans) == 2:
        flips = {name: _break_even(evaluate, names.index(name), inputs[paths[names.index(name)]])
                 for name in found.ranked()[:3]}  # fmt: skip
        found = replace(found, break_even=flips, settings=evaluate.runs)
    found = replace(found, kept=evaluate.kept)
    if out is not None:
        found.write(out)
    return found


def _plain(value: Quantity) -> Any:
    return value if isinstance(value, int | float) else str(value)


def _unset(d: int, rows: int = 1) -> np.ndarray:
    return np.full((rows, d), np.nan)


def _tornado(
    evaluate: Evaluator, inputs: dict[PathKey, Range], parameters: dict[str, dict[str, Any]]
) -> None:
    d = len(inputs)
    settings = _unset(d, 2 * d)
    for i in range(d):
        settings[2 * i, i], settings[2 * i + 1, i] = 0.0, 1.0
    answers = evaluate(settings)
    for i, (path, r) in enumerate(inputs.items()):
        assert r.low is not None
        assert r.high is not None
        parameters[uncertainty.dotted(path)].update(
            low=_plain(r.low), high=_plain(r.high),
            metric_at_low=_number(answers[2 * i]), metric_at_high=_number(answers[2 * i + 1]),
        )  # fmt: skip


def _problem(names: list[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def _morris(
    evaluate: Evaluator,
    names: list[str],
    trajectories: int,
    seed: int,
    parameters: dict[str, dict[str, Any]],
) -> None:
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    problem = _problem(names)
    points = sample.sample(problem, trajectories, num_levels=4, seed=seed)
    answers = evaluate(points)
    found = analyze.analyze(
        problem, points, answers, num_resamples=RESAMPLES, conf_level=CONFIDENCE,
        num_levels=4, seed=seed,
    )  # fmt: skip
    for i, name in enumerate(names):
        parameters[name].update(
            mu_star=_number(found["mu_star"][i]),
            mu_star_conf=_number(found["mu_star_conf"][i]),
            sigma=_number(found["sigma"][i]),
        )


def _sobol(
    evaluate: Evaluator,
    names: list[str],
    chosen: list[str],
    samples: int,
    seed: int,
    parameters: dict[str, dict[str, Any]],
) -> None:
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    problem = _problem(chosen)
    points = sample.sample(problem, samples, calc_second_order=False, seed=seed)
    settings = _unset(len(names), len(points))
    columns = [names.index(name) for name in chosen]
    settings[:, columns] = points
    answers = evaluate(settings)
    found = analyze.analyze(
        problem, answers, calc_second_order=False, num_resamples=RESAMPLES,
        conf_level=CONFIDENCE, seed=seed,
    )  # fmt: skip
    for i, name in enumerate(chosen):
        parameters[name].update(
            S1=_number(found["S1"][i]), S1_conf=_number(found["S1_conf"][i]),
            ST=_number(found["ST"][i]), ST_conf=_number(found["ST_conf"][i]),
        )  # fmt: skip


def _break_even(evaluate: Evaluator, column: int, number: Range) -> dict[str, Any] | None:
    """Where the difference crosses zero as one input moves over its range (the others at
    their values): Brent's method on common random numbers, in quantile space."""
    from scipy.optimize import brentq

    def at(u: float) -> float:
        settings = _unset(len(evaluate.paths))
        settings[0, column] = u
        return float(evaluate(settings)[0])

    low, high = at(0.0), at(1.0)
    if not (math.isfinite(low) and math.isfinite(high)) or low * high > 0 or low == high == 0:
        return None  # one sign over the whole range, or no difference at all
    u = float(brentq(at, 0.0, 1.0, xtol=0.01)) if low * high < 0 else (0.0 if low == 0 else 1.0)
    return {"value": _plain(quantile(number, u)), "quantile": round(u, 3)}


def _write(text: str, path: Path) -> None:
    path.write_text(text, encoding="utf-8")


def _number(x: float) -> float | None:
    value = float(x)
    return None if math.isnan(value) else value
