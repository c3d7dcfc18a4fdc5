"""The best plan for a budget: simulation optimisation on common random numbers.

A planner writes what may change (``variables``: channel spend, list sizes, headcounts, the
handoff policy), what must hold (``constraints``, such as ``sla_first_touch_attainment >=
0.9``) and what to make best (an ``objective``, or two ``objectives`` for a Pareto front); see
``funnelsim.scenario.optimization``. The search runs in four steps:

1. **Propose.** Optuna proposes trials in batches of a fixed size (TPE for one objective,
   NSGA-II for two, both told the constraints), the sampler seeded from the run's seed and the
   batch's number, so that the trials depend on the seed alone: not on the number of workers,
   and not on a crash (a resumed run proposes what the uninterrupted one would have).
2. **Screen.** A trial whose planned cost breaks a cost constraint (known before the run) is
   told so without being simulated. With a ``budget``, its ``fill`` path takes whatever the
   other variables leave, so every trial spends the budget exactly.
3. **Simulate.** Every other trial runs ``replications`` replications on the run's seed: the
   same random numbers for every trial (common random numbers), so trials differ by their
   plans, not by their luck. The batch's most promising trials (those that may meet the
   constraints and may beat the best so far, at most a quarter of the batch) run to
   ``promising`` replications before the batch is told, in trial order.
4. **Confirm.** The best feasible trials (the non-dominated ones for two objectives) rerun
   beside the baseline with ``confirm.replications`` replications on a fresh stream, their
   constraints judged again; among those still feasible the best is reported with every plan
   that is statistically indistinguishable from it. The subset is the screening procedure of
   Nelson, Swann, Goldsman and Song (2001, "Simple procedures for selecting the best simulated
   system when the number of alternatives is large", Operations Research 49(6)), with a
   Bonferroni split of the error over the pairs (valid under common random numbers): plan i
   stays unless the best beats it by more than ``t(1 - 0.05/(k-1), n-1)`` standard errors of
   their paired difference. For a ``p10`` statistic the paired difference of percentiles is
   bootstrapped instead. The subset holds the best plan with probability at least 95%.

With ``uncertainty: N`` every trial runs on N draws of the uncertain inputs (the same draws
for every trial), and the statistic is taken over all its outcomes (draws x replications):
``mean``, or ``p10`` (a bad year: the 10th percentile when maximising, the 90th when
minimising).

The folder of ``--out`` holds Optuna's journal (``optuna.journal``, so ``--resume`` continues
after a crash with the trials it had), ``trials.csv``, ``optimize.json`` and the charts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import stdtrit

from funnelsim import experiment, uncertainty, workload
from funnelsim.analysis import Summary, summarise
from funnelsim.economics import planned_cost_monthly
from funnelsim.errors import FunnelsimError, StoreError, UsageError
from funnelsim.executors import ExecutorSpec, Slots, open_executor
from funnelsim.goals import Goal, Rule, parse_goal
from funnelsim.replications import Chunk, Replication
from funnelsim.rng import normalise_seed
from funnelsim.scenario.load import with_settings
from funnelsim.scenario.optimization import Choice, Objective, Optimization
from funnelsim.scenario.schema import Scenario

if TYPE_CHECKING:
    import optuna

# A trial's few replications judge its constraints by their means (a 2-replication interval
# would call almost every plan infeasible); the confirmation judges them by ``rule``.
SEARCH_RULE: Rule = "mean"
ALPHA = 0.05  # the selection's error: the subset holds the best with probability 1 - ALPHA
RESAMPLES = 2000  # bootstrap resamples for a percentile statistic
KNOWN_BEFORE: dict[str, Callable[[Scenario], float]] = {
    "planned_cost_monthly": planned_cost_monthly
}
_CONFIRM_STREAM = 1_000_003  # the confirmation's seed offset: fresh numbers, not the search's
JOURNAL = "optuna.journal"


class InfeasibleError(FunnelsimError):
    """No simulated plan met the constraints; the message says which no trial met."""


Outcomes = dict[str, list[list[float]]]  # metric -> draw -> replication -> value


@dataclass
class Trial:
    """One candidate plan and what it measured (``skipped``: why it was not simulated)."""

    number: int
    settings: dict[str, Choice]
    outcomes: Outcomes = field(default_factory=dict)
    skipped: str | None = None
    known: dict[str, float] = field(default_factory=dict)  # metrics known before the run

    @property
    def replications(self) -> int:
        first: list[list[float]] = next(iter(self.outcomes.values()), [[]])
        return len(first[0])

    def values(self, metric: str) -> np.ndarray:
        """Every outcome of ``metric``: draw after draw, each replication in order."""
        if metric in self.known:  # the same in every outcome
            units = sum(len(draw) for draw in next(iter(self.outcomes.values()), [[]]))
            return np.full(max(units, 1), self.known[metric])
        return np.asarray(self.outcomes[metric], dtype=float).ravel()

    def summary(self, metric: str) -> Summary:
        return summarise(self.values(metric))


def statistic(objective: Objective, values: np.ndarray) -> float:
    """The objective's statistic of a plan's outcomes (nan-free; nan if none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan
    if objective.statistic == "mean":
        return float(finite.mean())
    q = 0.1 if objective.direction == "maximize" else 0.9
    return float(np.quantile(finite, q))


def _better(objective: Objective, a: float, b: float) -> bool:
    """Whether a is better than b (nan is worse than anything)."""
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if objective.direction == "maximize" else a < b


def _worst(objective: Objective) -> float:
    return -math.inf if objective.direction == "maximize" else math.inf


@dataclass(frozen=True)
class Plan:
    """A chosen plan: its settings and what the confirmation measured."""

    settings: dict[str, Choice]
    metrics: dict[str, Summary]
    against_baseline: dict[str, Summary]  # paired differences, plan - baseline
    trial: int

    def as_json(self) -> dict[str, Any]:
        from funnelsim.replications import summary_json

        return {
            "variables": dict(self.settings),
            "metrics": {name: summary_json(s) for name, s in self.metrics.items()},
            "against_baseline": {
                name: summary_json(s) for name, s in self.against_baseline.items()
            },
            "trial": self.trial,
        }


@dataclass(frozen=True)
class Optimum:
    """What ``funnelsim optimize`` found."""

    name: str
    objectives: list[Objective]
    constraints: list[Goal]
    best: Plan
    indistinguishable: list[Plan]
    pareto: list[Plan] | None
    trials: list[Trial]
    baseline: dict[str, Summary]
    seed: int
    replications: int  # of the confirmation
    baseline_settings: dict[str, Any]  # the baseline's value of every variable
    kept: int = 0  # trials a resume found finished

    def as_json(self) -> dict[str, Any]:
        from funnelsim.replications import summary_json

        found: dict[str, Any] = {
            "name": self.name,
            "objectives": [
                {o.direction: o.metric, "statistic": o.statistic} for o in self.objectives
            ],
            "constraints": [str(goal) for goal in self.constraints],
            "best": self.best.as_json(),
            "indistinguishable": [plan.as_json() for plan in self.indistinguishable],
            "trials": len(self.trials),
            "seed": self.seed,
            "confirm_replications": self.replications,
            "baseline": {
                "variables": self.baseline_settings,
                "metrics": {name: summary_json(s) for name, s in self.baseline.items()},
            },
        }
        if self.pareto is not None:
            found["pareto"] = [plan.as_json() for plan in self.pareto]
        return found

    def trial_rows(self) -> list[dict[str, Any]]:
        """One row per trial: its number, settings, figures and whether it was feasible."""
        rows = []
        names = [o.metric for o in self.objectives] + [g.metric for g in self.constraints]
        for trial in self.trials:
            row: dict[str, Any] = {"trial": trial.number, **trial.settings}
            row["replications"] = trial.replications
            row["skipped"] = trial.skipped or ""
            for name in dict.fromkeys(names):
                if trial.skipped is None or name in trial.known:
                    row[name] = float(np.nanmean(trial.values(name)))
            for objective in self.objectives:
                if trial.skipped is None:
                    row[f"{objective.metric}_{objective.statistic}"] = statistic(
                        objective, trial.values(objective.metric)
                    )
            row["feasible"] = trial.skipped is None and _feasible(
                trial, self.constraints, SEARCH_RULE
            )
            rows.append(row)
        return rows


# -- the search --------------------------------------------------------------------------------
@dataclass
class _Progress:
    """Replications done and expected, across the search's many small runs."""

    on_total: Callable[[int, int], None] | None
    on_chunk: Callable[[Chunk], None] | None
    total: int = 0
    done: int = 0

    def expect(self, more: int) -> None:
        self.total += more
        if self.on_total is not None:
            self.on_total(self.total, self.done)

    def chunk(self, chunk: Chunk) -> None:
        self.done += len(chunk.replications)
        if self.on_chunk is not None:
            self.on_chunk(chunk)


@dataclass
class _Search:
    spec: Optimization
    baseline: Scenario
    constraints: list[Goal]
    root: int
    slots: Slots
    progress: _Progress
    draws: list[dict[Any, Any]]  # the uncertain inputs of each draw ({} : at their values)
    plans: dict[int, list[Scenario]] = field(default_factory=dict)  # the batch's, built once

    def screened(self, number: int, suggested: Mapping[str, Choice]) -> Trial:
        """Trial ``number`` with the settings proposed for it (the budget filled), its plan
        built (kept in ``plans`` for the batch) and the figures known before a run; skipped
        when over the budget or when those figures break a constraint."""
        settings, over = self.filled({key: suggested[key] for key in self.spec.variables})
        trial = Trial(number, settings)
        plan = self.plans[number] = self.candidate(settings, f"trial {number}")
        for name, known in KNOWN_BEFORE.items():
            trial.known[name] = known(plan[0])
        broken = [
            str(goal) for goal in self.constraints
            if goal.metric in trial.known and not goal.met(trial.summary(goal.metric), "mean")
        ]  # fmt: skip
        if over > 0:
            trial.skipped = f"over budget by {over:,.0f} a month"
        elif broken:
            trial.skipped = "breaks " + ", ".join(broken)
        return trial

    def candidate(self, settings: dict[str, Choice], name: str) -> list[Scenario]:
        """The plan's scenarios: one per draw of its uncertain inputs."""
        plan = with_settings(self.baseline, settings, name)
        if not self.draws[0]:
            return [plan]
        return [
            uncertainty.drawn_scenario(plan, values, f"{name} (draw {d + 1})")
            for d, values in enumerate(self.draws)
        ]

    def filled(self, settings: dict[str, Choice]) -> tuple[dict[str, Choice], float]:
        """``settings`` with the budget's fill path spending what the others leave, and by
        how much the others overspend the budget (0 when they do not)."""
        budget = self.spec.budget
        if budget is None:
            return settings, 0.0
        at = [
            planned_cost_monthly(with_settings(self.baseline, {**settings, budget.fill: x}, "x"))
            for x in (0.0, 1000.0)
        ]
        slope = (at[1] - at[0]) / 1000.0
        if not slope > 0:
            raise UsageError(f"{budget.fill} does not change planned_cost_monthly", "budget.fill")
        if at[0] > budget.planned_cost_monthly:
            return {**settings, budget.fill: 0.0}, at[0] - budget.planned_cost_monthly
        fill = math.floor((budget.planned_cost_monthly - at[0]) / slope * 100) / 100
        return {**settings, budget.fill: fill}, 0.0

    def simulate(self, plans: Sequence[list[Scenario]], replications: int, stream: int,
                 finished: Sequence[Outcomes] = ()) -> list[Outcomes]:  # fmt: skip
        """Each plan's outcomes over replications 0..n-1 of every draw, on one seed; the
        replications in ``finished`` are kept, not rerun."""
        flat = [scenario for plan in plans for scenario in plan]
        width = len(self.draws)
        runner = experiment.Runner(
            flat, self.root + stream, slots=self.slots, on_chunk=self.progress.chunk,
            finished=[rep for k, done in enumerate(finished) for rep in _replayed(done, k, width)],
        )  # fmt: skip
        self.progress.expect(len(flat) * replications - sum(len(d) for d in runner.done))
        runner.extend(replications)
        names, done = self.reported(), runner.per_scenario()
        found = []
        for k in range(len(plans)):
            by_draw = done[k * width : (k + 1) * width]
            found.append({name: [r.values(name) for r in by_draw] for name in names})
        return found

    def reported(self) -> list[str]:
        names = [o.metric for o in self.spec.goals] + [g.metric for g in self.constraints]
        return list(dict.fromkeys([*names, *self.spec.metrics]))


def _replayed(outcomes: Outcomes, plan: int, width: int) -> Iterator[Replication]:
    """Stored outcomes as finished replications of a plan's scenarios (metrics only)."""
    names = list(outcomes)
    if not names:
        return
    for d in range(width):
        for number in range(len(outcomes[names[0]][d])):
            values = {name: outcomes[name][d][number] for name in names}
            yield Replication(plan * width + d, number, values, {})


def _feasible(trial: Trial, constraints: Sequence[Goal], rule: Rule) -> bool:
    return all(goal.met(trial.summary(goal.metric), rule) for goal in constraints)


def _possible(trial: Trial, constraints: Sequence[Goal]) -> bool:
    """Whether the trial may meet every constraint: judged at the CI's favourable end."""
    for goal in constraints:
        s = trial.summary(goal.metric)
        figure = (
            s.mean if not math.isfinite(s.ci_low) else (s.ci_high if goal.op == ">=" else s.ci_low)
        )
        if not (figure >= goal.value if goal.op == ">=" else figure <= goal.value):
            return False
    return True


def _violations(trial: Trial, constraints: Sequence[Goal], rule: Rule) -> list[float]:
    """Per constraint, how far the trial is from meeting it, relative to the goal's size
    (0: met): what the samplers use to steer towards feasible plans."""
    out = []
    for goal in constraints:
        if trial.skipped is not None and goal.metric not in trial.known:
            out.append(1.0)  # not simulated: unknown, counted as unmet
            continue
        gap = goal.shortfall(trial.summary(goal.metric), rule)
        out.append(min(gap / max(abs(goal.value), 1e-9), 1e6))
    return out


def _dominates(a: Sequence[float], b: Sequence[float], objectives: Sequence[Objective]) -> bool:
    at_least = all(not _better(o, y, x) for o, x, y in zip(objectives, a, b, strict=True))
    strictly = any(_better(o, x, y) for o, x, y in zip(objectives, a, b, strict=True))
    return at_least and strictly


def _front(points: Sequence[Sequence[float]], objectives: Sequence[Objective]) -> list[int]:
    """The indices of the non-dominated points, in order."""
    return [
        i for i, p in enumerate(points)
        if not any(_dominates(q, p, objectives) for j, q in enumerate(points) if j != i)
    ]  # fmt: skip


def _suggest(trial: optuna.Trial, spec: Optimization) -> dict[str, Choice]:
    settings: dict[str, Choice] = {}
    for key, variable in spec.variables.items():
        if variable.choices is not None:
            chosen = trial.suggest_categorical(key, variable.choices)
            assert chosen is not None  # the file's choices hold no null
            settings[key] = chosen
        elif variable.whole:
            assert variable.low is not None
            assert variable.high is not None
            step = int(variable.step or 1)
            settings[key] = trial.suggest_int(key, int(variable.low), int(variable.high), step=step)
        else:
            assert variable.low is not None
            assert variable.high is not None
            settings[key] = trial.suggest_float(
                key, variable.low, variable.high, step=variable.step
            )
    return settings


def _sampler(spec: Optimization, seed: int) -> optuna.samplers.BaseSampler:
    """TPE for one objective, NSGA-II for two; both read each trial's constraint values."""
    import optuna

    if len(spec.goals) == 1:
        startup = max(spec.batch, min(10, spec.trials // 3))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(spec.batch, 4))


def _batch_seed(root: int, batch: int) -> int:
    return int(np.random.SeedSequence([root, batch]).generate_state(1)[0])


def _fingerprint(spec: Optimization, baseline: Scenario, root: int) -> str:
    """What a resumed optimisation must be the same as: the problem, the baseline, the seed."""
    text = json.dumps(
        [spec.model_dump(mode="json"), baseline.model_dump(mode="json"), root],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def _study(spec: Optimization, baseline: Scenario, root: int, out: Path | None,
           resume: bool) -> Iterator[optuna.Study]:  # fmt: skip
    """Optuna's study: in memory, or in the results folder's journal (locked while open)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = [o.direction for o in spec.goals]
    if out is None:
        yield optuna.create_study(directions=directions)
        return
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from funnelsim.store import FolderLock

    journal = out / JOURNAL
    if resume and not journal.is_file():
        raise StoreError(f"{out}: holds no optimisation to resume ({JOURNAL} is missing)")
    if not resume and out.exists() and any(out.iterdir()):
        raise UsageError(f"{out}: holds results already; pass --resume or choose another", "--out")
    lock = FolderLock.acquire(out)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the journal backend is marked experimental
            storage = JournalStorage(JournalFileBackend(str(journal)))
        study = optuna.create_study(
            storage=storage, study_name="funnelsim", directions=directions, load_if_exists=resume
        )
        mark = _fingerprint(spec, baseline, root)
        if not resume:
            study.set_user_attr("fingerprint", mark)
        elif study.user_attrs.get("fingerprint") != mark:
            raise StoreError(
                f"{out}: holds another optimisation (a different file, baseline or seed); "
                "choose another folder"
            )
        yield study
    finally:
        lock.release()


def _trial_of(frozen: optuna.trial.FrozenTrial) -> Trial:
    attrs = frozen.user_attrs
    return Trial(
        frozen.number,
        dict(attrs["settings"]),
        {k: [list(d) for d in v] for k, v in attrs.get("outcomes", {}).items()},
        attrs.get("skipped"),
        dict(attrs.get("known", {})),
    )


def optimize(
    spec: Optimization,
    baseline: Scenario,
    *,
    seed: int | None = None,
    executor: ExecutorSpec = experiment.IN_PROCESS,
    out: Path | None = None,
    resume: bool = False,
    force: bool = False,
    on_total: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> Optimum:
    """The best plan ``spec`` asks for (see the module's story); the same seed gives the same
    plan whatever the executor. Raises :class:`InfeasibleError` when no plan meets the
    constraints, naming those no trial met."""
    constraints = [parse_goal(text, "constraints") for text in spec.constraints]
    chosen = seed if seed is not None else spec.seed if spec.seed is not None else baseline.seed
    root = normalise_seed(chosen)
    if resume and out is None:
        raise UsageError("needs --out, the folder of the optimisation to finish", "--resume")
    draws: list[dict[Any, Any]] = [{}]
    if spec.uncertainty:
        fixed = {*spec.variables, *([spec.budget.fill] if spec.budget else [])}
        drawn = uncertainty.draw_inputs([baseline], spec.uncertainty, root)
        draws = [
            {p: v for p, v in d[0].items() if uncertainty.dotted(p) not in fixed} for d in drawn
        ]
    width = len(draws)
    runs = spec.trials * width + (spec.confirm.candidates + 1) * width
    workload.check([workload.estimate(baseline)] * runs, spec.confirm.replications, force=force)
    progress = _Progress(on_total, on_chunk)
    with _study(spec, baseline, root, out, resume) as study, open_executor(executor) as slots:
        search = _Search(spec, baseline, constraints, root, slots, progress, draws)
        trials, kept = _search(study, search)
        optimum = _confirm(search, trials, out)
        optimum = replace(optimum, kept=kept)
        if out is not None:
            _write(optimum, out)
    return optimum


def _search(study: optuna.Study, search: _Search) -> tuple[list[Trial], int]:
    """Propose, screen, simulate and tell trials until ``spec.trials`` are complete.

    A batch is asked whole, then simulated, then told in trial order, and only then counted
    (the study's ``batches``): a crash leaves the journal with the batch it was on asked (each
    trial knows its batch) and perhaps partly told. A resume finishes that batch from its
    recorded proposals, simulating it again, so that it and every later batch are what an
    uninterrupted run would have made: the sampler of a batch sees the earlier batches only."""
    import optuna
    from optuna.trial import TrialState

    spec = search.spec
    batches = int(study.user_attrs.get("batches", 0))
    trials = study.get_trials(deepcopy=False)
    unfinished = [t for t in trials if t.user_attrs.get("batch") == batches]
    earlier = sum(
        t.state == TrialState.COMPLETE and t.user_attrs.get("batch") != batches for t in trials
    )
    asked_whole = len(unfinished) == min(spec.batch, spec.trials - earlier) and all(
        set(spec.variables) <= set(t.params) for t in unfinished
    )
    if not asked_whole:  # killed while asking: none told, the batch is asked again
        unfinished = []
    numbers = {t.number for t in unfinished}
    for frozen in trials:  # proposals a crash left from before batches were recorded
        if frozen.state == TrialState.RUNNING and frozen.number not in numbers:
            study.tell(frozen.number, state=TrialState.FAIL)
    done = [
        _trial_of(t)
        for t in study.get_trials(states=(TrialState.COMPLETE,))
        if t.number not in numbers
    ]
    kept = len(done) + sum(t.state == TrialState.COMPLETE for t in unfinished)
    if unfinished:
        asked = [
            (optuna.trial.Trial(study, t._trial_id), search.screened(t.number, t.params))
            for t in sorted(unfinished, key=lambda t: t.number)
        ]
        told = {t.number for t in unfinished if t.state == TrialState.COMPLETE}
        done += _batch(study, search, done, asked, told)
        batches += 1
        study.set_user_attr("batches", batches)
    while len(done) < spec.trials:
        study.sampler = _sampler(spec, _batch_seed(search.root, batches))
        asked = []
        for _ in range(min(spec.batch, spec.trials - len(done))):
            proposal = study.ask()
            proposal.set_user_attr("batch", batches)
            asked.append((proposal, search.screened(proposal.number, _suggest(proposal, spec))))
        done += _batch(study, search, done, asked, set())
        batches += 1
        study.set_user_attr("batches", batches)
    return sorted(done, key=lambda t: t.number), kept


def _batch(
    study: optuna.Study,
    search: _Search,
    done: list[Trial],
    asked: list[tuple[optuna.Trial, Trial]],
    told: set[int],
) -> list[Trial]:
    """Simulate a batch's screened trials, run its most promising further, and tell each
    trial not ``told`` already, in trial order (the sampler's history is fixed)."""
    spec = search.spec
    simulated = [t for _, t in asked if t.skipped is None]
    runs = [search.plans[t.number] for t in simulated]
    outcomes = search.simulate(runs, spec.replications, 0) if runs else []
    for trial, found in zip(simulated, outcomes, strict=True):
        trial.outcomes = found
    _promote(search, done, simulated, search.plans)
    for proposal, trial in asked:
        if trial.number not in told:
            _tell(study, proposal, trial, search)
        search.plans.pop(trial.number, None)
    return [trial for _, trial in asked]


def _promote(
    search: _Search, done: list[Trial], batch: list[Trial], plans: Mapping[int, list[Scenario]]
) -> None:
    """Run the batch's most promising trials to ``promising`` replications: those that may
    meet every constraint and may beat the best plan so far (at most a quarter of the batch,
    the best first)."""
    spec = search.spec
    if spec.promising <= spec.replications or not batch:
        return
    objective = spec.goals[0]
    rule = SEARCH_RULE
    feasible = [
        t for t in done + batch if t.skipped is None and _feasible(t, search.constraints, rule)
    ]
    incumbent = _worst(objective)
    for t in feasible:
        value = statistic(objective, t.values(objective.metric))
        if _better(objective, value, incumbent):
            incumbent = value
    hopeful = []
    for trial in batch:
        if not _possible(trial, search.constraints):
            continue
        s = trial.summary(objective.metric)
        reach = (
            s.mean
            if not math.isfinite(s.ci_low)
            else (s.ci_high if objective.direction == "maximize" else s.ci_low)
        )
        if len(spec.goals) > 1 or not _better(objective, incumbent, reach):
            hopeful.append(trial)
    points = [[statistic(o, t.values(o.metric)) for o in spec.goals] for t in hopeful]
    if len(spec.goals) > 1:
        front = _front(points, spec.goals)
        hopeful, points = [hopeful[i] for i in front], [points[i] for i in front]
    order = sorted(range(len(hopeful)), key=lambda i: _rank_key(objective, points[i][0]))
    chosen = [hopeful[i] for i in order[: max(1, spec.batch // 4)]]
    if not chosen:
        return
    runs = [plans[t.number] for t in chosen]
    more = search.simulate(runs, spec.promising, 0, [t.outcomes for t in chosen])
    for trial, found in zip(chosen, more, strict=True):
        trial.outcomes = found


def _rank_key(objective: Objective, value: float) -> float:
    if math.isnan(value):
        return math.inf
    return -value if objective.direction == "maximize" else value


def _tell(study: optuna.Study, proposal: optuna.Trial, trial: Trial, search: _Search) -> None:
    spec = search.spec
    proposal.set_user_attr("settings", trial.settings)
    proposal.set_user_attr("known", trial.known)
    if trial.skipped is not None:
        proposal.set_user_attr("skipped", trial.skipped)
    else:
        proposal.set_user_attr("outcomes", trial.outcomes)
    violations = _violations(trial, search.constraints, SEARCH_RULE)
    for goal, violation in zip(search.constraints, violations, strict=True):
        proposal.set_constraint(str(goal), violation)
    values = []
    for objective in spec.goals:
        value = math.nan
        if trial.skipped is None:
            value = statistic(objective, trial.values(objective.metric))
        values.append(_worst(objective) if math.isnan(value) else value)
    study.tell(proposal, values)


# -- the final selection -----------------------------------------------------------------------
def _confirm(search: _Search, trials: list[Trial], out: Path | None) -> Optimum:
    """Rerun the best feasible trials beside the baseline on fresh numbers; keep those still
    feasible; the best and those indistinguishable from it (and, for two objectives, the
    Pareto front)."""
    spec, constraints, goals = search.spec, search.constraints, search.spec.goals
    feasible = [t for t in trials if t.skipped is None and _feasible(t, constraints, SEARCH_RULE)]
    if not feasible:
        raise InfeasibleError(_why(trials, constraints, SEARCH_RULE))
    points = [[statistic(o, t.values(o.metric)) for o in goals] for t in feasible]
    if len(goals) == 1:
        order = sorted(range(len(feasible)), key=lambda i: _rank_key(goals[0], points[i][0]))
    else:
        front = _front(points, goals)
        front.sort(key=lambda i: _rank_key(goals[0], points[i][0]))
        k = spec.confirm.candidates
        order = (
            front
            if len(front) <= k
            else [front[round(j * (len(front) - 1) / (k - 1))] for j in range(k)]
            if k > 1
            else front[:1]
        )
    chosen = [feasible[i] for i in order[: spec.confirm.candidates]]
    plans = [search.candidate({}, f"{spec.name}: baseline")]
    plans += [search.candidate(t.settings, f"{spec.name}: trial {t.number}") for t in chosen]
    outcomes = search.simulate(plans, spec.confirm.replications, _CONFIRM_STREAM)
    base = Trial(-1, {}, outcomes[0])
    confirmed = [replace(t, outcomes=o) for t, o in zip(chosen, outcomes[1:], strict=True)]
    for trial in confirmed:  # the cost is known and is the same: keep it beside the outcomes
        trial.known = dict(trial.known)
    kept = [t for t in confirmed if _feasible(t, constraints, spec.rule)]
    if not kept:
        raise InfeasibleError(
            "no plan met the constraints on confirmation: "
            + _why(confirmed, constraints, spec.rule)
        )
    stats = [[statistic(o, t.values(o.metric)) for o in goals] for t in kept]
    pareto = None
    pool = list(range(len(kept)))
    if len(goals) > 1:
        pool = sorted(_front(stats, goals), key=lambda i: _rank_key(goals[0], stats[i][0]))
        pareto = [_plan(kept[i], base, search) for i in pool]
    best = min(pool, key=lambda i: _rank_key(goals[0], stats[i][0]))
    members = [kept[i].values(goals[0].metric) for i in pool]
    near = _subset(goals[0], members, search.root)
    others = [pool[j] for j in near if pool[j] != best]
    others.sort(key=lambda i: _rank_key(goals[0], stats[i][0]))
    metrics = search.reported()
    return Optimum(
        name=spec.name,
        objectives=goals,
        constraints=constraints,
        best=_plan(kept[best], base, search),
        indistinguishable=[_plan(kept[i], base, search) for i in others],
        pareto=pareto,
        trials=trials,
        baseline={name: base.summary(name) for name in metrics},
        seed=search.root,
        replications=spec.confirm.replications,
        baseline_settings={key: _value_at(search.baseline, key) for key in kept[best].settings},
    )


def _value_at(scenario: Scenario, key: str) -> Any:
    """The scenario's value at a dotted path (None where it has none)."""
    node: Any = scenario.model_dump(mode="json")
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _plan(trial: Trial, base: Trial, search: _Search) -> Plan:
    names = search.reported()
    return Plan(
        settings=trial.settings,
        metrics={name: trial.summary(name) for name in names},
        against_baseline={
            name: summarise(trial.values(name) - base.values(name)) for name in names
        },
        trial=trial.number,
    )


def _subset(objective: Objective, values: Sequence[np.ndarray], seed: int) -> list[int]:
    """The plans statistically indistinguishable from the best (Nelson et al. 2001's
    screening, Bonferroni over the pairs; paired bootstrap for a percentile statistic): plan i
    stays unless some plan j beats it by more than the pair's allowance."""
    k = len(values)
    if k == 1:
        return [0]
    sign = 1.0 if objective.direction == "maximize" else -1.0
    level = ALPHA / (k - 1)
    rng = np.random.default_rng([seed, 7])
    n = min(len(v) for v in values)
    resampled = rng.integers(0, n, size=(RESAMPLES, n)) if objective.statistic != "mean" else None
    kept = []
    for i in range(k):
        beaten = False
        for j in range(k):
            if i == j:
                continue
            d = sign * (values[j][:n] - values[i][:n])  # > 0: j is better than i
            d = d[np.isfinite(d)]
            if d.size < 2:
                continue
            if resampled is None:
                allowance = float(stdtrit(d.size - 1, 1 - level)) * float(d.std(ddof=1))
                beaten = float(d.mean()) > allowance / math.sqrt(d.size)
            else:
                a, b = values[j][:n][resampled], values[i][:n][resampled]
                q = 0.1 if objective.direction == "maximize" else 0.9
                diffs = sign * (np.nanquantile(a, q, axis=1) - np.nanquantile(b, q, axis=1))
                beaten = float(np.quantile(diffs, level)) > 0
            if beaten:
                break
        if not beaten:
            kept.append(i)
    return kept


def _why(trials: Sequence[Trial], constraints: Sequence[Goal], rule: Rule) -> str:
    """Which constraints no trial met (and the best figure seen), or that none met them all."""
    lines = []
    for goal in constraints:
        judged = [t for t in trials if t.skipped is None or goal.metric in t.known]
        met = [t for t in judged if goal.met(t.summary(goal.metric), rule)]
        if not met:
            figures = [goal.judged(t.summary(goal.metric), rule) for t in judged]
            figures = [f for f in figures if math.isfinite(f)]
            best = (max if goal.op == ">=" else min)(figures) if figures else math.nan
            lines.append(f"{goal}: met by no trial (best seen {best:,.4g}, rule {rule})")
    if not lines:
        lines.append("each constraint was met by some trial, but no trial met all of them")
    return f"no plan meets the constraints ({len(trials)} trials): " + "; ".join(lines)


def _write(optimum: Optimum, out: Path) -> None:
    """``optimize.json`` and ``trials.csv`` in the results folder."""
    import pandas as pd

    from funnelsim.store import atomic_write

    texts = {
        "optimize.json": json.dumps(optimum.as_json(), indent=2) + "\n",
        "trials.csv": pd.DataFrame(optimum.trial_rows()).to_csv(index=False),
    }
    for name, text in texts.items():
        atomic_write(out / name, partial(_write_text, text))


def _write_text(text: str, path: Path) -> None:
    path.write_text(text)
