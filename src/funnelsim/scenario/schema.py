"""The scenario: a frozen, documented description of one funnel to simulate.

Every section is strict (unknown keys are refused with a did-you-mean), every field is
described with its unit, and ``Scenario.model_json_schema()`` is what ``funnelsim schema``
prints so that editors can check scenario files as they are typed. Nothing here reads files or
runs a simulation: loading lives in ``scenario.load``, simulating in ``model``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from funnelsim.units import Duration, Rate

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DEFAULT_START = dt.datetime(2026, 1, 5)  # a Monday


def did_you_mean(word: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` when a close option exists, else an empty string."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close and len(word) >= 3:
        close = [o for o in options if o.startswith(word)][:1]  # 'expo' -> 'exponential'
    return f" (did you mean '{close[0]}'?)" if close else ""


class Section(BaseModel):
    """Base of every scenario section: frozen, strict, and helpful about misspelled keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            unknown = [key for key in data if key not in allowed]
            if unknown:
                key = str(unknown[0])
                raise PydanticCustomError(
                    "unknown_key",
                    "unknown key '{key}'{hint}; allowed: {allowed}",
                    {"key": key, "hint": did_you_mean(key, allowed), "allowed": ", ".join(allowed)},
                )
        return data


# -- checked quantities ----------------------------------------------------------------------
def _positive_duration(value: Duration) -> Duration:
    if not value.amount > 0 or not math.isfinite(value.amount):
        raise PydanticCustomError("positive", "must be a positive duration, got {v}", {"v": value})
    return value


def _non_negative_duration(value: Duration) -> Duration:
    if not value.amount >= 0 or not math.isfinite(value.amount):
        raise PydanticCustomError("non_negative", "must not be negative, got {v}", {"v": value})
    return value


def _calendar_clock(value: Duration) -> Duration:
    if value.business:
        raise PydanticCustomError(
            "calendar_clock",
            "{v} is business time; this field is calendar time: use m, h, d or w",
            {"v": value},
        )
    return value


def _positive_rate(value: Rate) -> Rate:
    if not value.amount > 0 or not math.isfinite(value.amount):
        raise PydanticCustomError("positive", "must be a positive rate, got {v}", {"v": value})
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive_duration)]
PositiveCalendarDuration = Annotated[
    Duration, AfterValidator(_calendar_clock), AfterValidator(_positive_duration)
]
NonNegativeCalendarDuration = Annotated[
    Duration, AfterValidator(_calendar_clock), AfterValidator(_non_negative_duration)
]
PositiveRate = Annotated[Rate, AfterValidator(_positive_rate)]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


# -- distributions of durations ----------------------------------------------------------------
class _DurationDist(Section):
    """A distribution of a duration; samples are calendar hours."""

    @property
    def mean_hours(self) -> float:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError


class Exponential(_DurationDist):
    """Memoryless durations: the M in M/M/c. Only the mean is needed."""

    dist: Literal["exponential"] = Field(description="Exponential distribution.")
    mean: PositiveCalendarDuration = Field(description="Mean duration, e.g. '1h'.")

    @property
    def mean_hours(self) -> float:
        return self.mean.hours

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean.hours, size)


class _MeanSd(_DurationDist):
    mean: PositiveCalendarDuration = Field(description="Mean duration, e.g. '45m'.")
    sd: PositiveCalendarDuration = Field(description="Standard deviation, e.g. '20m'.")

    @property
    def mean_hours(self) -> float:
        return self.mean.hours


class Lognormal(_MeanSd):
    """Right-skewed work times (most touches are quick, a few run long), by mean and sd."""

    dist: Literal["lognormal"] = Field(description="Lognormal distribution.")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        m, s = self.mean.hours, self.sd.hours
        sigma2 = math.log1p((s / m) ** 2)
        return rng.lognormal(math.log(m) - sigma2 / 2, math.sqrt(sigma2), size)


class Gamma(_MeanSd):
    """Gamma work times by mean and sd (shape (mean/sd)^2)."""

    dist: Literal["gamma"] = Field(description="Gamma distribution.")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        m, s = self.mean.hours, self.sd.hours
        return rng.gamma((m / s) ** 2, s * s / m, size)


class Constant(_DurationDist):
    """Always the same duration: used for exact traces and fixed work rules."""

    dist: Literal["constant"] = Field(description="Constant duration.")
    value: Annotated[
        Duration, AfterValidator(_calendar_clock), AfterValidator(_non_negative_duration)
    ] = Field(description="The duration, e.g. '20m'.")

    @property
    def mean_hours(self) -> float:
        return self.value.hours

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value.hours)


class Uniform(_DurationDist):
    """Equally likely anywhere between two durations."""

    dist: Literal["uniform"] = Field(description="Uniform distribution.")
    low: NonNegativeCalendarDuration = Field(description="Shortest duration.")
    high: PositiveCalendarDuration = Field(description="Longest duration.")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high.hours < self.low.hours:
            raise ValueError(f"high ({self.high}) must not be below low ({self.low})")
        return self

    @property
    def mean_hours(self) -> float:
        return (self.low.hours + self.high.hours) / 2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low.hours, self.high.hours, size)


class Empirical(_DurationDist):
    """Observed durations (e.g. from the CRM), resampled with optional weights."""

    dist: Literal["empirical"] = Field(description="Resample observed durations.")
    values: list[NonNegativeCalendarDuration] = Field(
        min_length=1, description="Observed durations, e.g. ['20m', '35m', '1h']."
    )
    weights: list[Weight] | None = Field(
        default=None, description="Relative frequency of each value (default: equal)."
    )

    @model_validator(mode="after")
    def _weights_match(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}"
                )
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self

    def _probabilities(self) -> np.ndarray:
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights)
        p: np.ndarray = w / w.sum()
        return p

    @property
    def mean_hours(self) -> float:
        hours = np.array([v.hours for v in self.values])
        return float(hours @ self._probabilities())

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        hours = np.array([v.hours for v in self.values])
        return rng.choice(hours, size=size, p=self._probabilities())


DurationDist = Annotated[
    Exponential | Lognormal | Gamma | Constant | Uniform | Empirical,
    Field(discriminator="dist"),
]
DISTRIBUTIONS = ("exponential", "lognormal", "gamma", "constant", "uniform", "empirical")


# -- lead score (unit-free, in [0, 1]) -------------------------------------------------------
class BetaScore(Section):
    """Lead scores spread as Beta(a, b) on [0, 1]."""

    dist: Literal["beta"] = Field(description="Beta distribution on [0, 1].")
    a: float = Field(gt=0, description="First shape parameter (unitless).")
    b: float = Field(gt=0, description="Second shape parameter (unitless).")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.beta(self.a, self.b, size)


class UniformScore(Section):
    """Lead scores equally likely between two bounds in [0, 1]."""

    dist: Literal["uniform"] = Field(description="Uniform distribution.")
    low: Probability = Field(default=0.0, description="Lowest score, in [0, 1].")
    high: Probability = Field(default=1.0, description="Highest score, in [0, 1].")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


class ConstantScore(Section):
    """Every lead of the source gets the same score."""

    dist: Literal["constant"] = Field(description="Constant score.")
    value: Probability = Field(description="The score, in [0, 1].")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)


ScoreDist = Annotated[BetaScore | UniformScore | ConstantScore, Field(discriminator="dist")]


# -- calendar ----------------------------------------------------------------------------------
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours_range(text: str) -> tuple[float, float]:
    """``'09:00-17:00'`` -> (9.0, 17.0) hours after midnight."""
    match = _HOURS_RE.match(text)
    if match is None:
        raise ValueError(f"cannot read working hours '{text}': expected e.g. '09:00-17:00'")
    h0, m0, h1, m1 = (int(g) for g in match.groups())
    start, end = h0 + m0 / 60, h1 + m1 / 60
    if m0 >= 60 or m1 >= 60 or not 0 <= start < end <= 24:
        raise ValueError(f"working hours '{text}' must run forward within one day (00:00-24:00)")
    return start, end


class WorkingCalendar(Section):
    """When reps work: workdays, daily working hours and holidays (all local time)."""

    workdays: list[Weekday] = Field(
        default=["mon", "tue", "wed", "thu", "fri"], min_length=1, description="Days reps work."
    )
    hours: list[str] = Field(
        default=["09:00-17:00"],
        min_length=1,
        description="Working hours of a workday as 'HH:MM-HH:MM' ranges, e.g. "
        "['09:00-12:00', '13:00-17:00'].",
    )
    holidays: list[dt.date] = Field(default=[], description="Dates with no work (YYYY-MM-DD).")

    @model_validator(mode="after")
    def _hours_readable(self) -> WorkingCalendar:
        ranges = sorted(parse_hours_range(h) for h in self.hours)
        for (_, end), (start, _) in itertools.pairwise(ranges):
            if start < end:
                raise ValueError("working hours ranges overlap")
        return self

    @property
    def hour_ranges(self) -> list[tuple[float, float]]:
        return sorted(parse_hours_range(h) for h in self.hours)

    @property
    def weekday_indices(self) -> list[int]:
        return sorted({WEEKDAY_NAMES.index(d) for d in self.workdays})


# -- sources -----------------------------------------------------------------------------------
class Arrivals(Section):
    """How leads of a source arrive: a Poisson process (constant or weekly-shaped) or a list."""

    rate: PositiveRate | None = Field(
        default=None, description="Mean arrival rate over the week, e.g. '9/h' or '200/w'."
    )
    weekdays: dict[Weekday, Weight] | None = Field(
        default=None,
        description="Relative intensity by weekday (unitless); days not listed get no arrivals.",
    )
    hours: list[Weight] | None = Field(
        default=None,
        min_length=24,
        max_length=24,
        description="Relative intensity for each hour of the day, 00:00 to 23:00 (unitless).",
    )
    at: list[dt.datetime] | None = Field(
        default=None, description="Exact arrival times (YYYY-MM-DD HH:MM), instead of a rate."
    )

    @model_validator(mode="after")
    def _one_way(self) -> Arrivals:
        if (self.rate is None) == (self.at is None):
            raise ValueError("give either 'rate' (a Poisson process) or 'at' (a list of times)")
        if self.at is not None and (self.weekdays is not None or self.hours is not None):
            raise ValueError("'weekdays' and 'hours' shape a rate; they do not apply to 'at'")
        if self.weekdays is not None and sum(self.weekdays.values()) <= 0:
            raise ValueError("weekdays: at least one day needs a positive intensity")
        if self.hours is not None and sum(self.hours) <= 0:
            raise ValueError("hours: at least one hour needs a positive intensity")
        return self


class InboundSource(Section):
    """Leads that come to the company (forms, demo requests, chat)."""

    kind: Literal["inbound"] = Field(description="Inbound: leads arrive by themselves.")
    arrivals: Arrivals = Field(description="When leads of this source arrive.")
    score: ScoreDist = Field(
        default=ConstantScore(dist="constant", value=0.5),
        description="Lead score in [0, 1], used when handoff.routing is 'score'.",
    )


Source = Annotated[InboundSource, Field(discriminator="kind")]


# -- handoff -----------------------------------------------------------------------------------
class ExponentialDecay(Section):
    """A lead's odds halve with every half-life it waits (calendar time)."""

    kind: Literal["exponential"] = Field(description="Exponential decay of odds with wait.")
    half_life: PositiveCalendarDuration = Field(description="Wait that halves the odds, e.g. '1h'.")

    def multiplier(self, wait_hours: np.ndarray) -> np.ndarray:
        return np.exp2(-np.asarray(wait_hours) / self.half_life.hours)


class TableDecay(Section):
    """Odds multiplier read off a table of (wait, multiplier) points, linear in between."""

    kind: Literal["table"] = Field(description="Piecewise-linear decay table.")
    points: list[tuple[NonNegativeCalendarDuration, Probability]] = Field(
        min_length=1,
        description="[wait, multiplier] pairs with increasing waits, e.g. [[0m, 1], [1h, 0.15]]; "
        "multipliers in [0, 1]; flat before the first and after the last point.",
    )

    @model_validator(mode="after")
    def _increasing(self) -> TableDecay:
        waits = [w.hours for w, _ in self.points]
        if any(b <= a for a, b in itertools.pairwise(waits)):
            raise ValueError("points: waits must increase")
        return self

    def multiplier(self, wait_hours: np.ndarray) -> np.ndarray:
        waits = np.array([w.hours for w, _ in self.points])
        values = np.array([m for _, m in self.points])
        return np.asarray(np.interp(np.asarray(wait_hours), waits, values), dtype=float)


Decay = Annotated[ExponentialDecay | TableDecay, Field(discriminator="kind")]


class Handoff(Section):
    """How leads reach the reps, and the first-touch agreement sales makes to marketing."""

    policy: Literal["continuous"] = Field(
        default="continuous", description="'continuous': each lead goes to the queue on arrival."
    )
    routing: Literal["fifo", "score"] = Field(
        default="fifo",
        description="Order in which waiting leads are taken: first come first served, or "
        "highest lead score first (ties first come first served).",
    )
    first_touch_sla: PositiveDuration = Field(
        description="Promised time to first touch, calendar ('30m', '1d') or business "
        "('6bh', '1bd') clock."
    )
    expire_after: DurationDist | None = Field(
        default=None,
        description="Patience: a lead not touched within this (calendar) time is lost.",
    )
    decay: Decay | None = Field(
        default=None,
        description="How a lead's odds fall with its wait before first touch; recorded per lead.",
    )


# -- teams -------------------------------------------------------------------------------------
class SdrTeam(Section):
    """Sales development reps: they make the first touch on every lead."""

    headcount: int = Field(gt=0, description="Number of SDRs (people).")
    first_touch_time: DurationDist = Field(
        description="Working time one first touch takes, e.g. {dist: exponential, mean: 1h}."
    )


class Teams(Section):
    """The people who work the leads."""

    sdr: SdrTeam = Field(description="The SDR team.")


# -- the scenario ------------------------------------------------------------------------------
class Scenario(Section):
    """One funnel plan to simulate: who arrives, who works them, under which agreement."""

    name: str = Field(min_length=1, description="Short name shown in reports.")
    description: str = Field(default="", description="What this scenario represents.")
    start: dt.datetime = Field(
        default=DEFAULT_START,
        description="Start of the measured period (local time); the warm-up runs before it.",
    )
    horizon: PositiveCalendarDuration = Field(
        description="Length of the measured period, e.g. '13w' or '365d'."
    )
    warmup: NonNegativeCalendarDuration = Field(
        default=Duration(0, "d"),
        description="Simulated before the horizon to fill queues; not measured. '0d' for none.",
    )
    seed: int | None = Field(
        default=None, ge=0, description="Seed of the random streams; omitted: a fresh one."
    )
    calendar: Literal["always"] | WorkingCalendar = Field(
        default="always", description="'always' (24/7) or workdays, working hours and holidays."
    )
    sources: dict[str, Source] = Field(min_length=1, description="Named lead sources.")
    handoff: Handoff = Field(description="Handoff policy and SLAs.")
    teams: Teams = Field(description="Teams and their work.")

    @property
    def warmup_hours(self) -> float:
        return self.warmup.hours

    @property
    def horizon_hours(self) -> float:
        return self.horizon.hours

    @property
    def origin(self) -> dt.datetime:
        """Wall-clock time of simulation hour 0 (the start of the warm-up)."""
        return self.start - dt.timedelta(hours=self.warmup.hours)
