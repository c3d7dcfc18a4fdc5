"""Calibration by simulation: the numbers no column of an export gives on its own.

Some of a scenario's numbers are read straight off an export (arrivals, deal sizes); others
only act through the funnel, and the export sees their product with everything around them.
The share of MQLs the SDRs qualify is ``teams.sdr.qualification.probability`` times the chance
of reaching the lead at all; the days from opportunity to close are a segment's ``cycle``
(the buyer's delays) plus the AEs' own work and their queue; a won rate passes through the
stages and the win rules. Setting such a number to the export's figure counts the rest twice.

:func:`refine` finds them as indirect inference does (moment matching; Gourieroux, Monfort
and Renault 1993): replay the scenario over the export's period (``funnelsim.backtesting``),
compare the simulated fits with the data's, and move each such number towards the data's
figure, a few times over. Each number moves one quantity most (:func:`knobs`):

- a number the quantity rises with (SDR qualification, AE acceptance, a segment's win rate
  and cycle; a source's intent, Beta(a, b) with ``a`` moved, against that source's
  lead -> MQL) is first scaled by the ratio of the data's figure to the simulated one;
- a bar the quantity falls as it rises (the MQL threshold against lead -> MQL; the chance an
  attempt connects, of the SDRs' inbound follow-up and of each outbound sequence, against
  attempts per touched lead of that kind or source: the sooner reached, the fewer attempts)
  first moves by a step against the relative gap;
- from the second round on, each moves by a secant step through its last two rounds.

With a beta intent on every inbound source, each source's lead -> MQL rate is matched by its
own intent, and the MQL threshold (which would move them all together) is left alone: the
export's sources differ in how ready their leads are, and the base scenario, which lends its
first inbound source's intent to all of them, cannot know how. The ratios settle in two or
three rounds. Every round runs on the same seed (common random numbers), so they move with
the numbers, not with the noise between rounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from funnelsim.backtesting import Backtest, backtest
from funnelsim.crm.data import Export
from funnelsim.crm.fits import Fits
from funnelsim.executors import ExecutorSpec
from funnelsim.experiment import IN_PROCESS
from funnelsim.replications import OnChunk, OnTotal
from funnelsim.scenario.load import with_settings
from funnelsim.scenario.ranges import Quantity, ranges_of
from funnelsim.scenario.schema import BetaScore, InboundSource, OutboundSource, Scenario
from funnelsim.units import Duration

if TYPE_CHECKING:
    from funnelsim.calibration import Calibration

# bar: a number in 0-1 the quantity falls as it rises; share (in 0-1), days and shape (a
# Beta parameter): a positive number the quantity rises with, roughly in proportion
Kind = Literal["share", "days", "bar", "shape"]
REFINE_ROUNDS = 3  # `calibrate --refine`'s default: the ratios settle in two or three rounds
SHARE_BOUNDS = (0.001, 1.0)
SHAPE_BOUNDS = (0.05, 100.0)  # a Beta shape parameter
STEP_BOUNDS = (0.5, 2.0)  # one round moves a number by at most this factor: noise stays small
BAR_STEP = 0.1  # and a bar (in 0-1) by at most this much


@dataclass(frozen=True)
class Knob:
    """A scenario number (``path``) and the back-test quantity it moves most."""

    path: str
    quantity: str
    kind: Kind


def knobs(scenario: Scenario) -> list[Knob]:
    """The composite numbers of ``scenario`` that a back-test can tune."""
    found = []
    if scenario.marketing is not None:
        inbound = {key: source for key, source in scenario.sources.items()
                   if isinstance(source, InboundSource)}  # fmt: skip
        if inbound and all(isinstance(s.intent, BetaScore) for s in inbound.values()):
            found += [Knob(f"sources.{key}.intent.a", f"rate_lead_to_mql.{key}", "shape")
                      for key in inbound]  # fmt: skip
        else:
            found.append(Knob("marketing.mql_threshold", "rate_lead_to_mql", "bar"))
    sdr = scenario.teams.sdr
    if sdr.attempts is not None and sdr.attempts.max > 1:
        found.append(
            Knob("teams.sdr.attempts.connect_probability", "attempts_mean.kind.inbound", "bar")
        )
    for key, source in scenario.sources.items():
        if isinstance(source, OutboundSource) and source.sequence.touches > 1:
            path = f"sources.{key}.sequence.connect_probability"
            found.append(Knob(path, f"attempts_mean.{key}", "bar"))
    if sdr.qualification is not None:
        found.append(Knob("teams.sdr.qualification.probability", "rate_mql_to_sql", "share"))
    ae = scenario.teams.ae
    if ae is not None:
        if ae.acceptance is not None:
            found.append(
                Knob("teams.ae.acceptance.probability", "rate_sql_to_opportunity", "share")
            )
        for name, segment in (scenario.segments or {}).items():
            quantity = f"rate_opportunity_to_won.segment.{name}"
            found.append(Knob(f"segments.{name}.win_rate", quantity, "share"))
            if segment.cycle is not None:
                days = f"days_opportunity_to_close_median.segment.{name}"
                found.append(Knob(f"segments.{name}.cycle", days, "days"))
    return found


@dataclass(frozen=True)
class Round:
    """One replay: how many quantities were inside the band, and the ratios it applied."""

    inside: int
    compared: int
    ratios: dict[str, float]  # path -> data / simulated


@dataclass(frozen=True)
class Refinement:
    """What :func:`refine` did: the numbers it set, each round, and the last replay."""

    numbers: dict[str, dict[str, object]]  # path -> extended number, as a scenario writes it
    rounds: list[Round]
    last: Backtest
    scenario: Scenario
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        first = self.rounds[0]
        return (
            f"refined by simulation in {len(self.rounds)} round(s): {first.inside} of "
            f"{first.compared} quantities inside the band before, {self.last.inside} of "
            f"{len(self.last.compared)} after"
        )


def refine(
    scenario: Scenario,
    export: Export,
    *,
    rounds: int = 3,
    replications: int = 6,
    seed: int | None = None,
    warmup: str | None = None,
    executor: ExecutorSpec = IN_PROCESS,
    data_fits: Fits | None = None,
    on_chunk: OnChunk | None = None,
    on_total: OnTotal | None = None,
) -> Refinement:
    """Tune ``scenario``'s composite numbers (:func:`knobs`) until its replay of ``export``
    gives the export's figures (see the module); ``rounds`` replays adjust, one more judges.

    ``warmup``, ``seed`` and ``replications`` are the back-test's. A number whose quantity the
    export or the replay lacks is left as it is, and listed in ``notes``.
    """
    current = scenario
    history: list[Round] = []
    values: dict[str, float] = {}
    previous: dict[str, tuple[float, float]] = {}  # path -> (value, simulated) last round
    notes: list[str] = []
    replay = _replayer(export, replications, seed, warmup, executor, data_fits, on_chunk, on_total)
    found = replay(current)
    for _ in range(rounds):
        ratios: dict[str, float] = {}
        changes: dict[str, Any] = {}
        for knob in knobs(current):
            compared = found.compared.get(knob.quantity)
            if compared is None:
                if knob.path not in notes:
                    notes.append(f"{knob.path}: {knob.quantity} not compared: left as it is")
                continue
            data, simulated = compared.data.estimate, compared.simulated.mean
            if not (math.isfinite(data) and math.isfinite(simulated) and simulated > 0):
                continue
            old = values.get(knob.path, _number(current, knob))
            new = _secant(knob.kind, old, data, simulated, previous.get(knob.path))
            previous[knob.path] = (old, simulated)
            values[knob.path] = new = _bounded(knob, new)
            ratios[knob.path] = data / simulated
            changes[knob.path] = _written(knob, new)
        history.append(Round(found.inside, len(found.compared), ratios))
        if not changes:
            break
        current = with_settings(current, changes, current.name, "refinement")
        found = replay(current)
    numbers = {knob.path: _extended(scenario, knob, values[knob.path], history)
               for knob in knobs(scenario) if knob.path in values}  # fmt: skip
    return Refinement(numbers, history, found, current, notes)


def _replayer(
    export: Export,
    replications: int,
    seed: int | None,
    warmup: str | None,
    executor: ExecutorSpec,
    data_fits: Fits | None,
    on_chunk: OnChunk | None,
    on_total: OnTotal | None,
) -> Any:
    def replay(scenario: Scenario) -> Backtest:
        return backtest(
            scenario, export, replications=replications, seed=seed, executor=executor,
            on_chunk=on_chunk, on_total=on_total, data_fits=data_fits, warmup=warmup,
        )  # fmt: skip

    return replay


def _secant(
    kind: Kind, value: float, data: float, simulated: float, before: tuple[float, float] | None
) -> float:
    """The next value of a bar (the quantity falls as it rises) or of a number the quantity
    rises with: a secant step through the last two rounds when their slope has the expected
    sign, else a first step against the relative gap (the number scaled by data / simulated,
    for a quantity proportional to it). A bar moves by at most ``BAR_STEP`` at once, another
    number by at most the factors of ``STEP_BOUNDS``. The secant matters where the quantity is
    the number plus more (a close takes the segment's cycle plus the AEs' own work): scaling
    by the ratio alone then under-corrects round after round."""
    gap = (data - simulated) / simulated  # relative: > 0 when the data asks for more
    if kind == "bar":
        step = -BAR_STEP * gap
    else:
        step = value * (min(max(1 + gap, STEP_BOUNDS[0]), STEP_BOUNDS[1]) - 1)
    if before is not None and before[1] != simulated and before[0] != value:
        slope = (simulated - before[1]) / (value - before[0])
        if (slope < 0) == (kind == "bar"):
            # two noisy rounds can give a flat slope and a wild step: at most twice the first
            reach = 2 * abs(step)
            step = min(max((data - simulated) / slope, -reach), reach)
    if kind == "bar":
        return value + min(max(step, -BAR_STEP), BAR_STEP)
    low, high = value * STEP_BOUNDS[0], value * STEP_BOUNDS[1]
    return min(max(value + step, low), high)


def _number(scenario: Scenario, knob: Knob) -> float:
    node: Any = scenario
    for part in knob.path.split("."):
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
    return float(node.hours / 24 if knob.kind == "days" else node)


def _bounded(knob: Knob, value: float) -> float:
    if knob.kind in ("share", "bar"):
        return min(max(value, SHARE_BOUNDS[0]), SHARE_BOUNDS[1])
    if knob.kind == "shape":
        return min(max(value, SHAPE_BOUNDS[0]), SHAPE_BOUNDS[1])
    return max(value, 0.01)


def _written(knob: Knob, value: float) -> float | str:
    return f"{value:.4g}d" if knob.kind == "days" else round(value, 4)


def _extended(
    scenario: Scenario, knob: Knob, value: float, rounds: list[Round]
) -> dict[str, object]:
    """The refined number as a scenario file writes it: its value, the range it had moved with
    it (by the same factor; a threshold by the same difference; shares kept within 0-1), and
    where it came from."""
    factor = value / _number(scenario, knob)
    number: dict[str, object] = {"value": _written(knob, value)}
    had = ranges_of(scenario).get(knob.path)
    if had is not None and had.low is not None and had.high is not None:
        low, high = _plain(had.low), _plain(had.high)
        if knob.kind == "days":
            low, high = low / 24, high / 24
        if knob.kind == "bar":  # a bar moves by a difference, not by a factor
            shift = value - _number(scenario, knob)
            low, high = low + shift, high + shift
        else:
            low, high = low * factor, high * factor
        number["low"] = _written(knob, _bounded(knob, min(low, value)))
        number["high"] = _written(knob, _bounded(knob, max(high, value)))
    number["source"] = (
        f"calibrated by simulation: {len(rounds)} round(s) matching {knob.quantity} "
        f"(x{factor:.3g} of the fitted or base value)"
    )
    number["grade"] = "B"
    return number


def _plain(end: Quantity) -> float:
    """A range's end as a number: hours for a duration."""
    return float(end.hours) if isinstance(end, Duration) else float(end)  # type: ignore[arg-type]


def calibrate_file(
    export: Export,
    base_path: Path,
    *,
    name: str,
    rounds: int = 0,
    warmup: str | None = None,
    responses: Path | None = None,
    executor: ExecutorSpec = IN_PROCESS,
    on_chunk: OnChunk | None = None,
    on_total: OnTotal | None = None,
) -> Calibration:
    """The calibrated scenario of ``export`` completed by the base file ``base_path`` (its
    ranges, sources and order kept), with the spend -> leads curves of the response file
    ``responses`` in place of fitted ones, then, with ``rounds``, refined by simulation
    (:func:`refine`; its summary joins the notes). What ``funnelsim calibrate`` and
    ``fs.calibrate`` write."""
    from funnelsim.calibration import calibrate
    from funnelsim.crm.fits import fit
    from funnelsim.crm.response import read_responses
    from funnelsim.scenario.load import load_scenario, read_document

    imported = read_responses(responses) if responses is not None else None  # fails first
    fits = fit(export)
    made = partial(
        calibrate,
        export,
        load_scenario(base_path),
        name=name,
        base_data=read_document(base_path).data,
        base_label=str(base_path),
        fits=fits,
        responses=imported,
    )
    found = made()
    if rounds:
        refined = refine(
            found.scenario, export, rounds=rounds, warmup=warmup, executor=executor,
            on_chunk=on_chunk, on_total=on_total,
        )  # fmt: skip
        found = made(refined=refined.numbers)
        found.notes += [*refined.notes, refined.summary_line()]
    return found
