"""The smallest team that meets a target: ``funnelsim size``.

How many SDRs (or AEs, or people on a further team) keep ``sla_first_touch_attainment >= 0.9``?
The answer is the smallest starting headcount (``teams.NAME.headcount``; a hiring plan keeps its
dates and changes) whose simulated metric meets the target under a rule (``funnelsim.goals``:
``ci``, the default, asks the 95% interval's unfavourable end to meet it; ``mean`` the mean).

The search starts where theory points:

- **a queue** (the ``sdr`` team, a target on the first-touch queue): Erlang C, or Erlang A
  when leads run out of patience (``handoff.expire_after``), gives the smallest headcount
  whose steady-state figure meets the target. Leads arriving around the clock are worked in
  working hours, so the rates are taken per working hour. The figure is exact for a textbook
  queue (calendar ``always``, Poisson arrivals, exponential first touches and patience, one
  attempt, nothing else for the SDRs to do) and a first guess otherwise;
- **the SDRs' offered load** (another target for the ``sdr`` team): the headcount that keeps
  their first-touch work under capacity (``theory.offered_load``), a lower bound;
- otherwise (AEs, further teams) the scenario's own headcount, bracketed by doubling.

Then simulation decides, headcounts a few at a time (one run of several scenarios, so a process
pool has work): up by doubling until one meets the target, then bisection (a k-section) between
the largest that fails and the smallest that meets, until they are neighbours. The doubling
stops early when twice the people brought no significant improvement and the team is no longer
busy (utilisation under 90%): more people would not get there. Every headcount
runs the same replications of one seed (common random numbers), so the metric moves smoothly
with the headcount and the search is not misled by noise between neighbours. The metric is
taken to get better with more people; one that clearly gets worse (costs) or does not change is
met, if at all, by the smallest headcount the hiring plan allows.

A target that no headcount up to ``max_headcount`` meets gives a :class:`Sizing` with
``headcount=None`` and :meth:`Sizing.shortfall` saying why, with the best figure seen; the
search also stops when doubling the team no longer improves the metric significantly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from funnelsim import experiment
from funnelsim.analysis import Summary, paired_difference, summarise
from funnelsim.errors import UsageError
from funnelsim.executors import ExecutorSpec
from funnelsim.goals import Goal, Rule
from funnelsim.replications import Chunk, Replications
from funnelsim.rng import normalise_seed
from funnelsim.scenario.load import with_settings
from funnelsim.scenario.schema import Exponential, InboundSource, Scenario, did_you_mean

BATCH = 3  # headcounts simulated at once
DEFAULT_MAX = 200  # or ten times the start, whichever is larger
BUSY = 0.9  # a team this busy may still gain from more people, however little it gained so far
QUEUE_METRICS = (
    "sla_first_touch_attainment",
    "first_touch_wait_mean_h",
    "first_touch_wait_p90_h",
    "first_touch_waited_share",
    "expired_share",
    "queue_length_mean",
    "sdr_utilization",
)
Trend = Literal["helps", "hurts", "flat"]


@dataclass(frozen=True)
class Queue:
    """The SDR queue as a textbook one: leads and touches per working hour, patience, SLA.

    ``exact``: the scenario is that textbook queue (the figures are the answer, not a guess).
    """

    lam: float  # leads per working hour
    mu: float  # first touches per working hour of one SDR
    theta: float | None  # losses per working hour of one waiting lead; None: no patience
    sla_h: float  # working hours
    exact: bool

    @property
    def model(self) -> str:
        return "Erlang C" if self.theta is None else "Erlang A"

    def figure(self, metric: str, c: int) -> float:
        """The steady-state value of ``metric`` with ``c`` SDRs (nan: none, or unstable)."""
        from funnelsim.theory import ErlangA, ErlangC  # scipy only when a figure is asked for

        if self.theta is None:
            if self.lam >= c * self.mu:
                return math.nan
            e = ErlangC(self.lam, self.mu, c)
            figures = {
                "sla_first_touch_attainment": lambda: e.prob_wait_within(self.sla_h),
                "first_touch_wait_mean_h": lambda: e.mean_wait,
                "first_touch_wait_p90_h": lambda: e.wait_quantile(0.9),
                "first_touch_waited_share": lambda: e.prob_wait,
                "expired_share": lambda: 0.0,
                "queue_length_mean": lambda: e.mean_queue,
                "sdr_utilization": lambda: e.utilization,
            }
        else:
            a = ErlangA(self.lam, self.mu, c, self.theta)
            figures = {
                "sla_first_touch_attainment": lambda: a.prob_served_within(self.sla_h),
                "first_touch_waited_share": lambda: a.prob_wait,
                "expired_share": lambda: a.prob_abandon,
                "queue_length_mean": lambda: a.mean_queue,
                "sdr_utilization": lambda: a.utilization,
            }
        found = figures.get(metric)
        return math.nan if found is None else float(found())


@dataclass(frozen=True)
class Start:
    """Where the search starts, and why."""

    headcount: int
    model: str  # "Erlang C", "Erlang A", "offered load" or "scenario"
    queue: Queue | None = None  # the SDRs' queue, for a target on it

    def as_json(self, metric: str, headcounts: Sequence[int]) -> dict[str, Any]:
        """The start, and the queue model's figure at every simulated headcount (per working
        hour; ``exact``: the scenario is the model's textbook queue)."""
        q = self.queue
        return {
            "model": self.model,
            "headcount": self.headcount,
            "queue": None
            if q is None
            else {
                "model": q.model, "exact": q.exact, "lam_per_h": q.lam, "mu_per_h": q.mu,
                "theta_per_h": q.theta, "sla_h": q.sla_h,
                "figures": [
                    {"headcount": c, "value": _finite(q.figure(metric, c))} for c in headcounts
                ],
            },
        }  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One simulated headcount: the metric's mean and interval, and whether it meets the goal."""

    headcount: int
    summary: Summary
    met: bool
    folder: str | None = None  # the results folder holding it, relative to ``out``

    def as_json(self) -> dict[str, Any]:
        s = self.summary
        return {
            "headcount": self.headcount,
            "mean": _finite(s.mean),
            "ci_low": _finite(s.ci_low),
            "ci_high": _finite(s.ci_high),
        }


@dataclass(frozen=True)
class Sizing:
    """What ``funnelsim size`` found: the smallest headcount meeting the goal (``None``: none
    up to ``max_headcount``), and every headcount simulated on the way, in order."""

    team: str
    goal: Goal
    rule: Rule
    headcount: int | None
    rows: tuple[Row, ...]
    start: Start
    trend: Trend
    replications: int
    seed: int
    max_headcount: int
    saturated: bool = False  # the search stopped: doubling the team no longer helped
    warnings: tuple[str, ...] = ()

    def theory(self, headcount: int) -> float:
        """The queue model's figure at ``headcount`` when the scenario is its textbook queue
        (nan otherwise: a start, not a figure to read against the simulation)."""
        q = self.start.queue
        if q is None or not q.exact:
            return math.nan
        return q.figure(self.goal.metric, headcount)

    def best(self) -> Row:
        """The simulated headcount whose judged figure comes closest to the goal (the
        smallest among equals)."""
        return min(
            self.rows, key=lambda r: (self.goal.shortfall(r.summary, self.rule), r.headcount)
        )

    def shortfall(self) -> str | None:
        """Why no headcount meets the goal, with the best figure seen; None when one does."""
        if self.headcount is not None:
            return None
        best = self.best()
        figure = self.goal.judged(best.summary, self.rule)
        said = "the CI's unfavourable end" if self.rule == "ci" else "the mean"
        why = {
            "helps": f"up to {self.max_headcount} heads",
            "hurts": "more heads make it worse",
            "flat": "it does not change with the headcount",
        }[self.trend]
        if self.trend == "helps" and self.saturated:
            why = (
                f"doubling the team to {max(r.headcount for r in self.rows)} no longer improved it"
            )
        return (
            f"no {self.team} headcount meets {self.goal} (rule {self.rule}; {why}): the best "
            f"figure seen is {_text(figure, self.goal.metric)} ({said}) at headcount "
            f"{best.headcount}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "headcount": self.headcount,
            "rule": self.rule,
            "metric": self.goal.metric,
            "target": {"op": self.goal.op, "value": self.goal.value},
            "replications": self.replications,
            "seed": self.seed,
            "max_headcount": self.max_headcount,
            "trend": self.trend,
            "theory": self.start.as_json(self.goal.metric, [r.headcount for r in self.rows]),
            "table": [r.as_json() for r in self.rows],
            "met": [r.headcount for r in self.rows if r.met],
            "folders": {str(r.headcount): r.folder for r in self.rows if r.folder is not None},
            "shortfall": self.shortfall(),
        }

    def write(self, folder: Path) -> None:
        """``size.json`` (what ``--json`` prints) in ``folder``."""
        from funnelsim.store import atomic_write

        text = json.dumps(self.as_json(), indent=2) + "\n"
        atomic_write(folder / "size.json", partial(_write, text))


# -- the team and where to start ----------------------------------------------------------------
def teams_of(scenario: Scenario) -> list[str]:
    """The teams ``size`` can size: ``sdr``, ``ae`` when there is one, the further teams."""
    named = list(scenario.teams.named)
    return ["sdr", *(["ae"] if scenario.teams.ae is not None else []), *named]


def _staff(scenario: Scenario, team: str) -> Any:
    if team == "sdr":
        return scenario.teams.sdr
    if team == "ae" and scenario.teams.ae is not None:
        return scenario.teams.ae
    return scenario.teams.named[team]


def least_headcount(scenario: Scenario, team: str) -> int:
    """The smallest starting headcount the team's hiring plan allows (never fewer people than
    leave), and at least 1."""
    on_team, lowest = 0, 0
    for change in sorted(_staff(scenario, team).hiring, key=lambda c: c.at):
        on_team += change.change
        lowest = min(lowest, on_team)
    return max(1, -lowest)


def queue_of(scenario: Scenario) -> Queue | None:
    """The SDRs' first-touch queue as Erlang C or A sees it, or None when there is no such
    queue to speak of (batch handoff, no inbound lead, further SDR teams splitting it)."""
    from funnelsim.calendar import build_calendar
    from funnelsim.theory import inbound_rate

    sdr, handoff = scenario.teams.sdr, scenario.handoff
    if handoff.policy != "continuous" or any(
        t.role == "sdr" for t in scenario.teams.named.values()
    ):
        return None
    span = scenario.warmup_hours + scenario.horizon_hours
    calendar = build_calendar(scenario)
    working = calendar.working_hours_between(0.0, span) / span  # share of the clock worked
    lam = inbound_rate(scenario)
    if not (lam > 0 and working > 0):
        return None
    sla = handoff.first_touch_sla
    sla_h = calendar.business_hours(sla) if sla.business else sla.hours * working
    patience = handoff.expire_after
    theta = None if patience is None else 1 / (patience.mean_hours * working)
    sources = scenario.sources.values()
    exact = (
        scenario.calendar == "always"
        and scenario.marketing is None
        and handoff.acceptance is None
        and handoff.routing == "fifo"
        and isinstance(sdr.first_touch_time, Exponential)
        and (patience is None or isinstance(patience, Exponential))
        and (sdr.attempts is None or sdr.attempts.max == 1)
        and sdr.qualification is None
        and not sdr.hiring
        and sdr.ramp is None
        and sdr.availability is None
        and scenario.initial is None
        and all(
            isinstance(s, InboundSource)
            and s.arrivals.rate is not None
            and s.arrivals.weekdays is None
            and s.arrivals.hours is None
            and s.arrivals.months is None
            for s in sources
        )
    )
    return Queue(lam / working, 1 / sdr.first_touch_time.mean_hours, theta, sla_h, exact)


def _meets(goal: Goal, figure: float) -> bool:
    if not math.isfinite(figure):
        return False
    return figure >= goal.value if goal.op == ">=" else figure <= goal.value


def start_of(scenario: Scenario, team: str, goal: Goal, least: int, most: int) -> Start:
    """Where the search starts: queueing theory, the SDRs' offered load, or the scenario."""
    own = min(max(_staff(scenario, team).headcount, least), most)
    if team != "sdr":
        return Start(own, "scenario")
    queue = queue_of(scenario) if goal.metric in QUEUE_METRICS else None
    if queue is not None:
        load = queue.lam / queue.mu
        stable = least if queue.theta is not None else max(least, math.floor(load) + 1)
        cap = min(most, max(DEFAULT_MAX, 10 * (math.ceil(load) + 1)))  # theory's own bound
        if stable <= cap:
            found = _first(lambda c: _meets(goal, queue.figure(goal.metric, c)), stable, cap)
            if found is not None:
                return Start(found, queue.model, queue)
    if any(t.role == "sdr" for t in scenario.teams.named.values()):
        return Start(own, "scenario")
    from funnelsim.theory import offered_load

    work, capacity = offered_load(scenario)
    per_head = capacity / scenario.teams.sdr.headcount
    loaded = math.floor(work / per_head) + 1 if per_head > 0 else own
    return Start(min(max(loaded, least), most), "offered load", queue)


def _first(meets: Callable[[int], bool], low: int, high: int) -> int | None:
    """The smallest c in [low, high] that ``meets``, taking the headcounts that meet to be
    all those from some c on (theory's figures are monotone in c): by doubling, then
    bisection; None when ``high`` does not meet."""
    if meets(low):
        return low
    step, a = 1, low
    while True:
        b = min(high, a + step)
        if meets(b):
            break
        if b == high:
            return None
        a, step = b, 2 * step
    while b - a > 1:
        m = (a + b) // 2
        a, b = (a, m) if meets(m) else (m, b)
    return b


# -- the search -----------------------------------------------------------------------------------
@dataclass
class _Search:
    """Headcounts simulated so far, on one seed, a batch at a time."""

    scenario: Scenario
    team: str
    goal: Goal
    rule: Rule
    replications: int
    seed: int
    executor: ExecutorSpec
    out: Path | None
    force: bool
    on_total: Callable[[int, int], None] | None
    on_chunk: Callable[[Chunk], None] | None
    runs: dict[int, Replications] = field(default_factory=dict)
    folders: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    batches: int = 0
    done: int = 0  # replications finished in earlier batches (the progress bar's offset)

    def __call__(self, headcounts: Sequence[int]) -> None:
        todo = sorted(set(headcounts) - set(self.runs))
        if not todo:
            return
        path = f"teams.{self.team}.headcount"
        where = f"--team {self.team}"
        plans = [with_settings(self.scenario, {path: c}, self.name(c), where) for c in todo]
        folder, label = None, None
        if self.out is not None:
            label = "." if not self.batches else f"batches/{self.batches}"
            folder = self.out if not self.batches else self.out / "batches" / str(self.batches)
        offset = self.done

        def total(size: int, done: int) -> None:
            if self.on_total is not None:
                self.on_total(offset + size, offset + done)

        result = experiment.run(
            plans, self.replications, self.seed, executor=self.executor, out=folder,
            on_total=total, on_chunk=self.on_chunk, force=self.force,
            extra={"size": {"team": self.team, "target": str(self.goal), "headcounts": todo}},
        )  # fmt: skip
        self.batches += 1
        self.done += len(todo) * self.replications
        for c, replications in zip(todo, result.per_scenario, strict=True):
            self.runs[c] = replications
            if label is not None:
                self.folders[c] = label
        self.warnings.extend(w for w in result.warnings() if w not in self.warnings)

    def name(self, headcount: int) -> str:
        return f"{self.scenario.name} ({self.team} headcount {headcount})"

    def values(self, headcount: int) -> list[float]:
        return self.runs[headcount].values(self.goal.metric)

    def summary(self, headcount: int) -> Summary:
        return summarise(self.values(headcount))

    def met(self, headcount: int) -> bool:
        return self.goal.met(self.summary(headcount), self.rule)

    def trend(self, low: int, high: int) -> Trend:
        """Whether more heads move the metric towards the goal: ``hurts`` only when the paired
        difference high - low clearly moves it away, ``flat`` when it is the same in every
        replication and the team is not busy (an overloaded queue's SLA attainment is 0 with
        one SDR or three)."""
        a, b = self.values(low), self.values(high)
        if all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True)):
            # the same, unless pinned at its worst by a team still too busy to show a change
            return "helps" if self.busy(high) >= BUSY else "flat"
        change = paired_difference(b, a)
        away = change.ci_high < 0 if self.goal.op == ">=" else change.ci_low > 0
        return "hurts" if change.n >= 2 and away else "helps"

    def busy(self, headcount: int) -> float:
        """The team's utilisation with ``headcount`` people, on average over replications."""
        key = ("team", self.team, "utilization")
        return summarise(b.get(key, math.nan) for b in self.runs[headcount].breakdowns).mean

    def improved(self, low: int, high: int) -> bool:
        """Whether ``high`` heads are significantly better than ``low`` (paired)."""
        change = paired_difference(self.values(high), self.values(low))
        if change.n < 2:
            return change.mean > 0 if self.goal.op == ">=" else change.mean < 0
        return change.ci_low > 0 if self.goal.op == ">=" else change.ci_high < 0


def _spread(low: int, high: int, count: int) -> list[int]:
    """``count`` headcounts spaced evenly in (low, high], high included."""
    step = (high - low) / count
    return sorted({min(high, max(low + 1, low + round(step * (j + 1)))) for j in range(count)})


def _inside(low: int, high: int, count: int) -> list[int]:
    """Up to ``count`` headcounts spaced evenly strictly between low and high."""
    if high - low - 1 <= count:
        return list(range(low + 1, high))
    step = (high - low) / (count + 1)
    return sorted({low + round(step * (j + 1)) for j in range(count)})


def size(
    scenario: Scenario,
    team: str,
    goal: Goal,
    *,
    rule: Rule = "ci",
    replications: int = 10,
    seed: int | None = None,
    executor: ExecutorSpec = experiment.IN_PROCESS,
    max_headcount: int | None = None,
    out: Path | None = None,
    force: bool = False,
    batch: int = BATCH,
    on_total: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> Sizing:
    """The smallest starting headcount of ``team`` (``sdr``, ``ae`` or a further team's name)
    that meets ``goal`` under ``rule``; the same seed gives the same answer whatever the
    executor.

    Every headcount runs ``replications`` on one seed (default the scenario's). With ``out``,
    each batch of headcounts is stored as a results folder (the first in ``out``, the next in
    ``out/batches/K``), and the answer as ``out/size.json``. Bad input (an unknown team, a
    maximum below the hiring plan's least headcount, a folder holding results) is a
    :class:`~funnelsim.errors.UsageError`, refused before anything runs.
    """
    known = teams_of(scenario)
    if team not in known:
        raise UsageError(
            f"{scenario.name!r} has no team {team!r}{did_you_mean(team, known)}; its teams: "
            f"{', '.join(known)}",
            "--team",
        )
    if replications < 1:
        raise UsageError(f"at least 1 replication, got {replications}", "--replications")
    if batch < 1:
        raise UsageError(f"at least 1 headcount a batch, got {batch}")
    least = least_headcount(scenario, team)
    if max_headcount is not None and max_headcount < least:
        raise UsageError(
            f"{max_headcount} is below the least headcount the team's hiring plan allows ({least})",
            "--max-headcount",
        )
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: holds results already; choose another folder", "--out")
    start = start_of(scenario, team, goal, least, max_headcount or 10**6)
    most = max_headcount or max(DEFAULT_MAX, 10 * start.headcount)
    start = Start(min(start.headcount, most), start.model, start.queue)
    root = normalise_seed(scenario.seed if seed is None else seed)
    search = _Search(
        scenario, team, goal, rule, replications, root, executor, out, force, on_total, on_chunk
    )

    c = start.headcount
    exact = start.queue is not None and start.queue.exact
    if exact or c <= least + 1:  # theory's answer and its neighbours
        first = [c - 1, c, c + 1] if c > least else [c, c + 1, c + 2]
    else:  # a guess: a wider bracket
        first = [max(least, c // 2), c, 2 * c]
    first = sorted({min(max(h, least), most) for h in first})
    if len(first) == 1 and most > least:
        first = [most - 1, most]
    search(first)
    trend: Trend = "helps" if len(first) < 2 else search.trend(first[0], first[-1])
    answer: int | None = None
    saturated = False
    if trend != "helps":  # met, if at all, by the fewest people allowed
        search([least])
        if search.met(least):
            answer = least
        elif least < first[-1]:  # the same at a few heads more, or worse, is not everywhere
            trend = search.trend(least, first[-1])
    while answer is None and trend == "helps":
        met = sorted(h for h in search.runs if search.met(h))
        high = met[0] if met else None
        failing = [h for h in search.runs if not search.met(h) and (high is None or h < high)]
        low = max(failing, default=least - 1)
        if high is not None and high - low <= 1:
            answer = high
        elif high is not None:  # bisect between the largest that fails and the first that meets
            search(_inside(low, high, batch))
        elif low >= most:
            break
        elif (half := max((h for h in search.runs if 2 * h <= low), default=None)) is not None and (
            not search.busy(low) >= BUSY and not search.improved(half, low)
        ):
            saturated = True  # twice the people, no better, and not busy: more will not help
            break
        else:  # nothing meets yet: up, doubling
            search(_spread(low, min(most, max(2 * low, low + batch)), batch))
    rows = tuple(
        Row(h, search.summary(h), search.met(h), search.folders.get(h)) for h in sorted(search.runs)
    )
    found = Sizing(
        team, goal, rule, answer, rows, start, trend, replications, root, most, saturated,
        tuple(search.warnings),
    )  # fmt: skip
    if out is not None:
        found.write(out)
    return found


def _write(text: str, path: Path) -> None:
    path.write_text(text, encoding="utf-8")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _text(value: float, metric: str) -> str:
    """A figure as the tables write it (a share as a percentage)."""
    from funnelsim.formatting import mean_text
    from funnelsim.metrics import METRICS

    return mean_text(value, math.nan, 1, METRICS[metric].unit)
