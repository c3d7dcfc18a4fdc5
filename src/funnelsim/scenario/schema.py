"""The scenario: a frozen, documented description of one funnel to simulate.

Every section is strict (unknown keys are refused with a did-you-mean), every field is
described with its unit, and ``Scenario.model_json_schema()`` is what ``funnelsim schema``
prints so that editors can check scenario files as they are typed. Nothing here reads files or
runs a simulation: loading lives in ``scenario.load``, simulating in ``model``.
"""

import datetime as dt
import difflib
import itertools
import math
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from funnelsim.curves import SpendResponse
from funnelsim.units import Duration, Rate

if TYPE_CHECKING:  # numpy is imported where samples are drawn: loading a scenario needs none
    import numpy as np

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
Month = Literal["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DEFAULT_START = dt.datetime(2026, 1, 5)  # a Monday


def did_you_mean(word: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` when a close option exists, else an empty string."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close and len(word) >= 3:
        close = [o for o in options if o.startswith(word)][:1]  # 'expo' -> 'exponential'
    return f" (did you mean '{close[0]}'?)" if close else ""


class CrossReferenceError(Exception):
    """Names that do not resolve across sections; each problem has its own dotted path."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str, bool]]) -> None:
        self.problems = problems  # (path, message, whether the problem is the key itself)
        super().__init__("; ".join(message for _, message, _ in problems))


# -- sane bounds (docs/scenario.md#bounds) ---------------------------------------------------
MAX_COUNT = 10_000_000  # a whole number of people, leads, contacts, touches...
MAX_NUMBER = 1e12  # any other number: money, weights, shapes
EARLIEST = dt.datetime(1970, 1, 1)
LATEST = dt.datetime(2200, 1, 1)
MAX_RUN_YEARS = 20  # horizon + warmup


class UnknownKey:
    """Stands for the value of a key a section does not have, so that pydantic reports it
    (``extra_forbidden``, at the key) beside every other problem of the section, with what
    the key may have meant."""

    __slots__ = ("allowed", "hint", "key", "tail")

    def __init__(self, key: str, allowed: list[str], tail: str = "") -> None:
        self.key, self.allowed, self.tail = key, allowed, tail
        self.hint = did_you_mean(key, allowed)

    def message(self) -> str:
        allowed = ", ".join(self.allowed)
        return f"unknown key '{self.key}'{self.hint}; allowed: {allowed}{self.tail}"

    def meant(self) -> str | None:
        """The field the key is a typo of, if any."""
        found = re.search(r"did you mean '([^']*)'", self.hint)
        return found.group(1) if found else None


class Boolean:
    """Stands for ``true`` or ``false`` given where a number is expected: pydantic would read it
    as 1 or 0; this fails every number type, and its error says what it was."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "true" if self.value else "false"


_NUMBERS = (int, float)
_SHAPES: dict[tuple[type, str], tuple[bool, bool, bool]] = {}


def _leaves(annotation: Any, found: set[Any]) -> None:
    origin = get_origin(annotation)
    if origin is Annotated:
        _leaves(get_args(annotation)[0], found)
    elif origin is Literal:
        found.update(type(value) for value in get_args(annotation))
    elif origin is dict:
        _leaves(get_args(annotation)[1], found)
    elif origin is not None:
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                _leaves(arg, found)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.add(BaseModel)
    else:
        found.add(annotation)


def _shape(cls: type, name: str) -> tuple[bool, bool, bool]:
    """(takes a number, holds only numbers and durations deep down, only whole numbers)."""
    key = (cls, name)
    if key not in _SHAPES:
        found: set[Any] = set()
        field_info = cls.model_fields[name]  # type: ignore[attr-defined]
        _leaves(field_info.annotation, found)
        numeric = bool(found & set(_NUMBERS)) and bool not in found
        deep = numeric and not (found & {str, bool, BaseModel, Any})
        whole = numeric and float not in found and name != "seed"
        _SHAPES[key] = (numeric, deep, whole)
    return _SHAPES[key]


class TooLarge:
    """Stands for a number past its bound (docs/scenario.md#bounds): it fails every number
    type, and its error says the bound."""

    __slots__ = ("bound", "value")

    def __init__(self, value: float, bound: str) -> None:
        self.value, self.bound = value, bound

    def message(self) -> str:
        shown = f"{self.value:,}" if isinstance(self.value, int) else f"{self.value:g}"
        return f"{shown} is too large: {self.bound}"


def _sane(value: Any, whole: bool) -> Any:
    """``value`` with booleans and numbers past their bound marked, to fail validation."""
    if isinstance(value, bool):
        return Boolean(value)
    if isinstance(value, str):  # '1e300': YAML reads it as a word, pydantic as a number
        try:
            number = float(value)
        except ValueError:
            return value
        return value if abs(number) <= MAX_NUMBER else TooLarge(number, "at most 1e12")
    if isinstance(value, int) and whole and abs(value) > MAX_COUNT:
        return TooLarge(value, f"at most {MAX_COUNT:,}")
    if isinstance(value, _NUMBERS) and abs(value) > MAX_NUMBER:
        return TooLarge(value, "at most 1e12")
    if isinstance(value, list):
        return [_sane(item, whole) for item in value]
    if isinstance(value, tuple):
        return tuple(_sane(item, whole) for item in value)
    if isinstance(value, dict):
        return {key: _sane(item, whole) for key, item in value.items()}
    return value


def _checked(cls: type, key: Any, value: Any) -> Any:
    """A field's value, with booleans where numbers go and numbers past their bound marked."""
    numeric, deep, whole = _shape(cls, key)
    if numeric and (deep or isinstance(value, (bool, *_NUMBERS))):
        return _sane(value, whole)
    return value


class Section(BaseModel):
    """Base of every scenario section: frozen, strict, and helpful about misspelled keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        # Every unknown key is reported (pydantic's extra_forbidden, at the key), beside the
        # problems of the section's other fields; pydantic reads true as 1, so a number field
        # is given a value that fails, and so is a number past its bound.
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            return {
                key: _checked(cls, key, value) if key in allowed else UnknownKey(str(key), allowed)
                for key, value in data.items()
            }
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


def _in_era(value: Any) -> Any:
    moment = value if isinstance(value, dt.datetime) else dt.datetime(value.year, 1, 1)
    if not EARLIEST <= moment < LATEST:
        raise PydanticCustomError(
            "date_bound", "{v} is out of bounds: dates run from 1970 to 2199", {"v": str(value)}
        )
    return value


Moment = Annotated[dt.datetime, AfterValidator(_in_era)]
Day = Annotated[dt.date, AfterValidator(_in_era)]
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

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        raise NotImplementedError


class Exponential(_DurationDist):
    """Memoryless durations: the M in M/M/c. Only the mean is needed."""

    dist: Literal["exponential"] = Field(description="Exponential distribution.")
    mean: PositiveCalendarDuration = Field(description="Mean duration, e.g. '1h'.")

    @property
    def mean_hours(self) -> float:
        return self.mean.hours

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        return rng.exponential(self.mean.hours, size)


class _MeanSd(_DurationDist):
    mean: PositiveCalendarDuration = Field(description="Mean duration, e.g. '45m'.")
    sd: PositiveCalendarDuration = Field(description="Standard deviation, e.g. '20m'.")

    @model_validator(mode="after")
    def _spread(self) -> Self:
        # beyond these the parameters of the distribution overflow, or its samples do
        if not 1e-6 <= self.sd.hours / self.mean.hours <= 1e3:
            raise ValueError(
                f"sd ({self.sd}) must be between a millionth and a thousand times the mean "
                f"({self.mean})"
            )
        return self

    @property
    def mean_hours(self) -> float:
        return self.mean.hours


class Lognormal(_MeanSd):
    """Right-skewed work times (most touches are quick, a few run long), by mean and sd."""

    dist: Literal["lognormal"] = Field(description="Lognormal distribution.")

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        m, s = self.mean.hours, self.sd.hours
        sigma2 = math.log1p((s / m) ** 2)
        return rng.lognormal(math.log(m) - sigma2 / 2, math.sqrt(sigma2), size)


class Gamma(_MeanSd):
    """Gamma work times by mean and sd (shape (mean/sd)^2)."""

    dist: Literal["gamma"] = Field(description="Gamma distribution.")

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
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

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        import numpy as np

        return np.full(size, self.value.hours)


class Uniform(_DurationDist):
    """Equally likely anywhere between two durations."""

    dist: Literal["uniform"] = Field(description="Uniform distribution.")
    low: NonNegativeCalendarDuration = Field(description="Shortest duration.")
    high: PositiveCalendarDuration = Field(description="Longest duration.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.high.hours < self.low.hours:
            raise ValueError(f"high ({self.high}) must not be below low ({self.low})")
        return self

    @property
    def mean_hours(self) -> float:
        return (self.low.hours + self.high.hours) / 2

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
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
    def _weights_match(self) -> Self:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}"
                )
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self

    def _probabilities(self) -> "np.ndarray":
        import numpy as np

        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights)
        p: np.ndarray = w / w.sum()
        return p

    @property
    def mean_hours(self) -> float:
        weights = [1.0] * len(self.values) if self.weights is None else self.weights
        total = math.fsum(v.hours * w for v, w in zip(self.values, weights, strict=True))
        return total / math.fsum(weights)

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        import numpy as np

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

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        return rng.beta(self.a, self.b, size)


class UniformScore(Section):
    """Lead scores equally likely between two bounds in [0, 1]."""

    dist: Literal["uniform"] = Field(description="Uniform distribution.")
    low: Probability = Field(default=0.0, description="Lowest score, in [0, 1].")
    high: Probability = Field(default=1.0, description="Highest score, in [0, 1].")

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        return rng.uniform(self.low, self.high, size)


class ConstantScore(Section):
    """Every lead of the source gets the same score."""

    dist: Literal["constant"] = Field(description="Constant score.")
    value: Probability = Field(description="The score, in [0, 1].")

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        import numpy as np

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
    holidays: list[Day] = Field(default=[], description="Dates with no work (YYYY-MM-DD).")

    @model_validator(mode="after")
    def _hours_readable(self) -> Self:
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
    months: dict[Month, Weight] | None = Field(
        default=None,
        description="Seasonality: relative intensity by calendar month (unitless, normalised to "
        "a mean of 1 over the year; months not listed get 1). Shapes a rate, or the leads "
        "spend buys.",
    )
    at: list[Moment] | None = Field(
        default=None, description="Exact arrival times (YYYY-MM-DD HH:MM), instead of a rate."
    )

    def month_weights(self) -> list[float]:
        """The 12 seasonal weights, January first, with a mean of 1 (all 1 without months)."""
        given = {str(month): weight for month, weight in (self.months or {}).items()}
        raw = [given.get(m, 1.0) for m in MONTH_NAMES]
        mean = sum(raw) / 12
        return [w / mean for w in raw]

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.rate is not None and self.at is not None:
            raise ValueError("give either 'rate' (a Poisson process) or 'at' (a list of times)")
        if self.at is not None and (
            self.weekdays is not None or self.hours is not None or self.months is not None
        ):
            raise ValueError(
                "'weekdays', 'hours' and 'months' shape a rate; they do not apply to 'at'"
            )
        if self.months is not None and sum(self.month_weights()) <= 0:
            raise ValueError("months: at least one month needs a positive intensity")
        if self.weekdays is not None and sum(self.weekdays.values()) <= 0:
            raise ValueError("weekdays: at least one day needs a positive intensity")
        if self.hours is not None and sum(self.hours) <= 0:
            raise ValueError("hours: at least one hour needs a positive intensity")
        return self


Money = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
PositiveMoney = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class Spend(Section):
    """Money put into a channel, per calendar month (month 1 is the month the simulation starts,
    its warm-up included, unless ``first_month`` says which month ``by_month`` starts in)."""

    monthly: Money | None = Field(default=None, description="The same spend every month (money).")
    by_month: list[Money] | None = Field(
        default=None,
        min_length=1,
        description="Spend of month 1, 2, ... (money); the last value holds for later months.",
    )
    first_month: str | None = Field(
        default=None,
        description="The calendar month of by_month's first value, YYYY-MM (default: the month "
        "the simulation starts); earlier months spend as that first month does. A spend history "
        "then stays on its calendar months whatever the warm-up.",
    )

    @field_validator("first_month", mode="before")
    @classmethod
    def _calendar_month(cls, value: object) -> object:
        # YAML reads 2027-01-01 as a date: name the form wanted, not "a valid string"
        if value is not None and not (
            isinstance(value, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value)
        ):
            raise ValueError(f"expected a calendar month YYYY-MM, e.g. 2027-01; got {value!s}")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.monthly is None) == (self.by_month is None):
            raise ValueError("give either 'monthly' or 'by_month'")
        if self.first_month is not None and self.by_month is None:
            raise ValueError("'first_month' dates 'by_month': give it with by_month")
        return self

    def for_month(self, index: int, origin: dt.datetime) -> float:
        """Spend in the simulation's month ``index`` (0: the calendar month of ``origin``,
        the simulation's hour 0)."""
        if self.monthly is not None:
            return self.monthly
        assert self.by_month is not None
        if self.first_month is not None:
            year, month = (int(part) for part in self.first_month.split("-"))
            index += (origin.year - year) * 12 + origin.month - month
        return self.by_month[min(max(index, 0), len(self.by_month) - 1)]

    def plan(self, months: int, origin: dt.datetime) -> list[float]:
        """Spend of each of the simulation's first ``months`` months, from ``origin``'s."""
        return [self.for_month(m, origin) for m in range(months)]


class Response(Section):
    """Spend -> leads per month, as media-mix models fit it: beta * f(adstock(spend)).

    With ``curve: hill``, f(x) = x^shape / (x^shape + half_saturation^shape); with
    ``curve: logistic``, f(x) = (1 - e^(-steepness x)) / (1 + e^(-steepness x)). Adstock
    carries a share of each month's spend into the next (geometric, ``adstock`` = theta).
    """

    curve: Literal["hill", "logistic"] = Field(description="Saturation curve.")
    leads_at_saturation: PositiveMoney = Field(
        description="Leads per month the channel yields at full saturation (beta)."
    )
    half_saturation: PositiveMoney | None = Field(
        default=None, description="Hill: monthly spend (money) that yields half of saturation."
    )
    shape: float = Field(
        default=1.0, gt=0, le=100, description="Hill: shape s (unitless; >1: S-curve)."
    )
    steepness: float | None = Field(
        default=None, gt=0, description="Logistic: lambda, per unit of money per month."
    )
    adstock: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Share of a month's effect carried to the next."
    )

    @model_validator(mode="after")
    def _curve_parameters(self) -> Self:
        if self.curve == "hill" and self.half_saturation is None:
            raise ValueError("curve 'hill' needs half_saturation")
        if self.curve == "logistic" and self.steepness is None:
            raise ValueError("curve 'logistic' needs steepness")
        return self

    def spend_response(self) -> SpendResponse:
        """The curve as :mod:`funnelsim.curves` computes it."""
        if self.curve == "hill":
            return SpendResponse(
                "hill",
                self.leads_at_saturation,
                k=self.half_saturation,
                s=self.shape,
                adstock=self.adstock,
            )
        return SpendResponse(
            "logistic", self.leads_at_saturation, lam=self.steepness, adstock=self.adstock
        )


class InboundSource(Section):
    """Leads that come to the company: a channel (search, content, events, paid programs)."""

    kind: Literal["inbound"] = Field(description="Inbound: leads arrive by themselves.")
    arrivals: Arrivals = Field(
        default_factory=lambda: Arrivals(),
        description="When leads arrive: a rate, a list of times, or (with spend) only the "
        "weekly shape of the arrivals.",
    )
    spend: Spend | None = Field(default=None, description="Monthly spend on the channel.")
    response: Response | None = Field(
        default=None, description="How spend turns into leads per month (needs spend)."
    )
    segment_mix: dict[str, Weight] | None = Field(
        default=None, description="Relative share of leads by segment (default: equal)."
    )
    fit: ScoreDist = Field(
        default=BetaScore(dist="beta", a=2.0, b=2.0),
        description="Fit to the ideal customer profile, in [0, 1].",
    )
    intent: ScoreDist = Field(
        default=BetaScore(dist="beta", a=2.0, b=2.0),
        description="Buying intent shown (pages, requests), in [0, 1].",
    )
    score: ScoreDist = Field(
        default=ConstantScore(dist="constant", value=0.5),
        description="Lead score in [0, 1] when there is no marketing section to compute it; "
        "used when handoff.routing is 'score'.",
    )
    monthly_cost: Money = Field(
        default=0.0, description="Fixed cost of running the channel per month (money)."
    )

    @model_validator(mode="after")
    def _arrivals_or_spend(self) -> Self:
        given = self.arrivals.rate is not None or self.arrivals.at is not None
        if (self.spend is None) != (self.response is None):
            raise ValueError("'spend' and 'response' go together")
        if given == (self.spend is not None):
            raise ValueError(
                "give arrivals a 'rate' or 'at', or give 'spend' and 'response' (not both)"
            )
        return self


class Meeting(Section):
    """A meeting booked by prospecting: it must be held, then qualify the contact, to be an SQL.

    The defaults are assumptions inside the bands of docs/model.md: no-show 20% on the day,
    rising with the days to the meeting (vendor benchmarks put cold-booked no-shows at 20-35%).
    """

    delay: DurationDist = Field(
        default_factory=lambda: Uniform(
            dist="uniform", low=Duration(1, "d"), high=Duration(7, "d")
        ),
        description="Calendar time from booking to the meeting.",
    )
    show_probability: Probability = Field(
        default=0.8,
        description="Chance the contact shows up to a meeting held the day it was booked.",
    )
    show_decline_per_day: Probability = Field(
        default=0.02,
        description="How much the show chance falls per calendar day between booking and meeting "
        "(linear, never below 0).",
    )
    held_by: Literal["sdr", "ae"] = Field(
        default="sdr", description="Whose time the discovery conversation takes."
    )
    time: DurationDist = Field(
        default_factory=lambda: Constant(dist="constant", value=Duration(30, "m")),
        description="Working time of the discovery conversation.",
    )
    qualify_probability: Probability = Field(
        default=0.7,
        description="Chance a held meeting with a contact of fit 0.5 qualifies it as an SQL "
        "(scaled by 0.5 + fit).",
    )


class OutboundSequence(Section):
    """An outbound cadence: up to N touches (calls, emails) per contact, spaced out."""

    touches: int = Field(ge=1, le=50, description="Most touches per contact.")
    spacing: PositiveDuration = Field(description="Time between touches, e.g. '2bd'.")
    touch_time: DurationDist = Field(description="SDR working time per touch.")
    connect_probability: Probability = Field(description="Chance a touch reaches the contact.")
    meeting_probability: Probability = Field(
        description="Chance a conversation books a meeting, for a contact of fit 0.5 "
        "(scaled by 0.5 + fit)."
    )
    meeting: Meeting = Field(
        default_factory=lambda: Meeting(),
        description="The booked meeting: held or not, then a discovery conversation that "
        "qualifies the contact as an SQL, or not.",
    )


class Market(Section):
    """The contacts a list can ever reach: lists draw from it, and prospecting depletes it."""

    size: int = Field(gt=0, description="Contacts in the addressable market of this list.")
    cool_off: NonNegativeCalendarDuration = Field(
        default=Duration(180, "d"),
        description="How long a contact who said no, did not reply or missed the meeting rests "
        "before a list may load it again.",
    )


class OutboundSource(Section):
    """Contacts that SDRs prospect from a target list: every touch costs SDR time."""

    kind: Literal["outbound"] = Field(description="Outbound: SDRs prospect a target list.")
    contacts_per_month: float = Field(
        gt=0, le=MAX_COUNT, description="New contacts loaded per month."
    )
    targeting: Probability = Field(
        default=0.5,
        description="How well the list is segmented, in [0, 1]: fit ~ Beta(2 + 6q, 2 + 6(1-q)).",
    )
    segment_mix: dict[str, Weight] | None = Field(
        default=None, description="Relative share of contacts by segment (default: equal)."
    )
    sequence: OutboundSequence = Field(description="The touch cadence.")
    market: Market | None = Field(
        default=None, description="A finite market the lists draw from (default: endless)."
    )
    cost_per_contact: Money = Field(default=0.0, description="Data cost per contact (money).")
    monthly_cost: Money = Field(default=0.0, description="Tools cost per month (money).")

    def fit_distribution(self) -> BetaScore:
        q = self.targeting
        return BetaScore(dist="beta", a=2 + 6 * q, b=2 + 6 * (1 - q))


Source = Annotated[InboundSource | OutboundSource, Field(discriminator="kind")]


# -- marketing ---------------------------------------------------------------------------------
class ScoreWeights(Section):
    """Lead score = fit weight * fit + intent weight * intent (weights normalised)."""

    fit: Weight = Field(default=0.5, description="Weight of fit (unitless).")
    intent: Weight = Field(default=0.5, description="Weight of intent (unitless).")


class Nurture(Section):
    """Leads below the MQL bar, or sent back by sales, are nurtured and may come back."""

    reemerge_probability: Probability = Field(description="Chance a nurtured lead comes back.")
    after: DurationDist = Field(description="Time in nurture before it comes back.")
    max_cycles: int = Field(default=2, ge=1, description="Most times a lead can come back.")


class Enablement(Section):
    """Marketing people who produce the collateral sellers need: each raises the share of
    sellers who have it (``teams.ae.win.collateral``, the article's 25%) by
    ``collateral_per_head``, up to every seller."""

    headcount: int = Field(default=1, ge=0, description="People producing collateral.")
    annual_cost_per_head: Money = Field(default=0.0, description="Fully loaded (money/year).")
    collateral_per_head: Probability = Field(
        description="Share of sellers each of them equips with the collateral they need."
    )


class Marketing(Section):
    """Marketing qualification: scoring, the MQL bar, nurture, and the feedback loop."""

    mql_threshold: Probability = Field(default=0.5, description="Score at or above: MQL.")
    score_weights: ScoreWeights = Field(default_factory=lambda: ScoreWeights())
    scoring_noise: float = Field(
        default=0.15, ge=0, description="Error of the score's view of fit (sd, in score units)."
    )
    feedback_loop: bool = Field(
        default=False,
        description="Sales rejections teach scoring: the scoring noise halves with every "
        "'feedback_rejections' rejected MQLs, so fewer poor-fit MQLs pass over time.",
    )
    feedback_rejections: int = Field(default=100, ge=1, description="Rejections per halving.")
    feedback_threshold_step: float = Field(
        default=0.0,
        ge=0,
        le=0.05,
        allow_inf_nan=False,
        description="With the feedback loop, sales' decisions also move the MQL bar: each "
        "rejected MQL raises it by step x target, each accepted one lowers it by step x (1 - "
        "target), so it settles where sales accepts 'feedback_acceptance_target' of MQLs "
        "(0: the bar stays put).",
    )
    feedback_acceptance_target: Probability = Field(
        default=0.9, description="Share of MQLs sales should accept (Forrester: aim for 90%+)."
    )
    nurture: Nurture | None = Field(default=None, description="Nurture and re-emergence.")
    headcount: int = Field(
        default=0, ge=0, description="Marketing people running programs and scoring (cost)."
    )
    annual_cost_per_head: Money = Field(default=0.0, description="Fully loaded (money/year).")
    enablement: Enablement | None = Field(
        default=None,
        description="Marketing people producing sales collateral (default: none beyond "
        "teams.ae.win.collateral).",
    )


# -- handoff -----------------------------------------------------------------------------------
class _DecayCurve(Section):
    connect_share: Probability = Field(
        default=1.0,
        description="Share of the decay that acts on reaching the lead, as a power of the "
        "curve (d^share on reaching it, d^(1 - share) on qualifying it), so that the product "
        "is the curve. Default 1: contact decays faster than qualification (odds 100x against "
        "21x from 5 to 30 minutes, MIT/InsideSales 2007).",
    )


class ExponentialDecay(_DecayCurve):
    """A lead's odds halve with every half-life it waits (calendar time)."""

    kind: Literal["exponential"] = Field(description="Exponential decay of odds with wait.")
    half_life: PositiveCalendarDuration = Field(description="Wait that halves the odds, e.g. '1h'.")

    def multiplier(self, wait_hours: "np.ndarray") -> "np.ndarray":
        import numpy as np

        return np.exp2(-np.asarray(wait_hours) / self.half_life.hours)


class TableDecay(_DecayCurve):
    """Odds multiplier read off a table of (wait, multiplier) points, linear in between."""

    kind: Literal["table"] = Field(description="Piecewise-linear decay table.")
    points: list[tuple[NonNegativeCalendarDuration, Probability]] = Field(
        min_length=1,
        description="[wait, multiplier] pairs with increasing waits, e.g. [[0m, 1], [1h, 0.15]]; "
        "multipliers in [0, 1] and not increasing; flat before the first and after the last "
        "point.",
    )

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        waits = [w.hours for w, _ in self.points]
        if any(b <= a for a, b in itertools.pairwise(waits)):
            raise ValueError("points: waits must increase")
        values = [m for _, m in self.points]
        if any(b > a for a, b in itertools.pairwise(values)):
            raise ValueError("points: a lead's odds cannot rise with its wait")
        return self

    def multiplier(self, wait_hours: "np.ndarray") -> "np.ndarray":
        import numpy as np

        waits = np.array([w.hours for w, _ in self.points])
        values = np.array([m for _, m in self.points])
        return np.asarray(np.interp(np.asarray(wait_hours), waits, values), dtype=float)


Decay = Annotated[ExponentialDecay | TableDecay, Field(discriminator="kind")]


_WEEKLY_RE = re.compile(r"^\s*(mon|tue|wed|thu|fri|sat|sun)\s+(\d{1,2}):(\d{2})\s*$")


def parse_weekly_time(text: str) -> tuple[int, float]:
    """``'mon 09:00'`` -> (0, 9.0): weekday index and hours after midnight."""
    match = _WEEKLY_RE.match(text.lower())
    if match is None or int(match.group(3)) >= 60 or int(match.group(2)) >= 24:
        raise ValueError(f"cannot read '{text}': expected a weekday and a time, e.g. 'mon 09:00'")
    return WEEKDAY_NAMES.index(match.group(1)), int(match.group(2)) + int(match.group(3)) / 60


WeeklyTime = Annotated[str, AfterValidator(lambda v: (parse_weekly_time(v), v)[1])]


class Batch(Section):
    """A batch agreement: marketing releases MQLs on a schedule, sales decides by a deadline.

    E.g. "50 leads every Monday at 09:00, at least 60% good fit, qualified by Wednesday 17:00".
    Marketing releases its best-scored MQLs first.
    """

    release: WeeklyTime = Field(description="Weekly release time, e.g. 'mon 09:00'.")
    size: int = Field(gt=0, description="Most MQLs released per batch.")
    good_fit_share: Probability = Field(
        default=0.0, description="Promised minimum share of good-fit leads in each batch."
    )
    good_fit_threshold: Probability = Field(
        default=0.6, description="Fit at or above which a lead counts as good fit."
    )
    qualify_by: WeeklyTime = Field(
        description="Weekly deadline for sales' decision on the batch, e.g. 'wed 17:00'."
    )


class Acceptance(Section):
    """Sales accepts (SAL) or rejects each MQL at the first touch, by its real fit."""

    fit_threshold: Probability = Field(description="MQLs with fit below this are rejected.")


class Handoff(Section):
    """How leads reach the reps, and the first-touch agreement sales makes to marketing."""

    policy: Literal["continuous", "batch"] = Field(
        default="continuous",
        description="'continuous': each MQL goes to the SDR queue at once; 'batch': MQLs are "
        "released on a weekly schedule (see 'batch').",
    )
    batch: Batch | None = Field(default=None, description="The batch agreement (policy batch).")
    acceptance: Acceptance | None = Field(
        default=None, description="Sales acceptance of MQLs (default: all accepted)."
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
        description="Patience: an MQL not touched within this (calendar) time after it became an "
        "MQL is lost.",
    )
    decay: Decay | None = Field(
        default=None,
        description="How a lead's chance of becoming an SQL falls with its wait from MQL to "
        "first touch: the curve multiplies that chance once, split between reaching the lead "
        "and qualifying it (connect_share).",
    )

    @model_validator(mode="after")
    def _batch_given(self) -> Self:
        if (self.policy == "batch") != (self.batch is not None):
            raise ValueError("policy 'batch' needs a 'batch' section, and only it")
        return self


# -- teams -------------------------------------------------------------------------------------
class HiringChange(Section):
    """A change to a team on a date: hires (positive) or departures (negative)."""

    at: Moment = Field(description="When, e.g. 2026-03-02 09:00.")
    change: int = Field(description="People hired (+) or leaving (-).")

    @model_validator(mode="after")
    def _non_zero(self) -> Self:
        if self.change == 0:
            raise ValueError("change must not be zero")
        return self


class Ramp(Section):
    """New hires ramp up: productivity rises linearly from ``start`` to 1 over ``over``."""

    start: Probability = Field(default=0.3, description="Productivity on day one, in [0, 1].")
    over: PositiveCalendarDuration = Field(description="Time to full productivity, e.g. '12w'.")


def _hiring_problems(
    name: str, team: "Staff", origin: dt.datetime
) -> list[tuple[tuple[str | int, ...], str, bool]]:
    """A hiring plan must fall within the run and never have more people leave than are on
    the team at the time (in date order)."""
    problems: list[tuple[tuple[str | int, ...], str, bool]] = []
    on_team = team.headcount
    for i, change in sorted(enumerate(team.hiring), key=lambda pair: pair[1].at):
        where: tuple[str | int, ...] = ("teams", name, "hiring", i)
        if change.at < origin:
            problems.append(
                ((*where, "at"), f"{change.at} is before the run starts ({origin})", False)
            )
            continue
        if on_team + change.change < 0:
            problems.append(
                (
                    (*where, "change"),
                    f"{-change.change} leave on {change.at} but only {on_team} are on the team",
                    False,
                )
            )
            continue
        on_team += change.change
    return problems


class Availability(Section):
    """When the people on a team are really there: days off, and departures that leave a seat
    empty until a replacement is hired (who then ramps up)."""

    days_off_per_year: float = Field(
        default=0.0,
        ge=0,
        le=365,
        description="Paid time off and sick days per person per year: each working day a person "
        "is away with this share of the year's working days.",
    )
    tenure: DurationDist | None = Field(
        default=None,
        description="How long a person stays (calendar time, drawn per person; default: nobody "
        "leaves at random).",
    )
    hiring_lag: NonNegativeCalendarDuration = Field(
        default=Duration(0, "d"), description="How long a seat stays empty after a departure."
    )


class Staff(Section):
    """The people of a team over time: headcount, cost, hiring plan, ramp-up and availability."""

    headcount: int = Field(gt=0, description="People on the team at the start.")
    annual_cost: Money = Field(default=0.0, description="Fully loaded cost per head (money/year).")
    hiring: list[HiringChange] = Field(default=[], description="Hires and departures by date.")
    ramp: Ramp | None = Field(default=None, description="Ramp-up of new hires (default: none).")
    availability: Availability | None = Field(
        default=None,
        description="Days off and random departures (default: everyone always there).",
    )


class FollowUp(Section):
    """How many attempts sales really makes on an MQL: a policy, not always the maximum.

    Reps average 1.6 attempts per lead where 6 would reach 93% of eventual buyers (Velocify,
    c. 2013 [B]); few sales managers value MQLs (the source article [C]). For each lead the
    first rule that applies sets its attempts: ``by_source``, then ``all_from_score``, then
    ``planned``; otherwise ``max``. Never more than ``max``.
    """

    planned: dict[int, Weight] | None = Field(
        default=None,
        description="Relative weights of the number of attempts sales makes on a lead, e.g. "
        "{1: 0.6, 2: 0.2, 6: 0.2}.",
    )
    by_source: dict[str, int] | None = Field(
        default=None, description="Attempts on every lead of the named inbound sources."
    )
    all_from_score: Probability | None = Field(
        default=None, description="Leads scored at or above this get every attempt (max)."
    )

    @model_validator(mode="after")
    def _counts(self) -> Self:
        counts = [*(self.planned or {}), *(self.by_source or {}).values()]
        if any(k < 1 for k in counts):
            raise ValueError("attempt counts must be at least 1")
        if self.planned is not None and sum(self.planned.values()) <= 0:
            raise ValueError("planned: weights must not all be 0")
        return self


class Attempts(Section):
    """Contact attempts on an inbound lead: the first touch is attempt 1."""

    max: int = Field(default=1, ge=1, le=50, description="Most attempts per lead.")
    spacing: PositiveDuration = Field(
        default=Duration(4, "bh"), description="Time between attempts, e.g. '4bh'."
    )
    connect_probability: Probability = Field(
        default=1.0, description="Chance an attempt reaches a lead still warm (see decay)."
    )
    follow_up: FollowUp | None = Field(
        default=None,
        description="How many attempts sales really makes on a lead (default: max on every lead).",
    )

    @model_validator(mode="after")
    def _within_max(self) -> Self:
        f = self.follow_up
        counts = [*(f.planned or {}), *(f.by_source or {}).values()] if f else []
        if any(k > self.max for k in counts):
            raise ValueError(f"follow_up: no lead gets more than max ({self.max}) attempts")
        return self


class Qualification(Section):
    """The qualification call once a lead is reached."""

    time: DurationDist = Field(description="SDR working time of the call.")
    probability: Probability = Field(
        description="Chance a reached lead of fit 0.5 qualifies as SQL (scaled by 0.5 + fit, "
        "times the lead's decay)."
    )


OutboundShare = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class SdrTeam(Staff):
    """Sales development reps: first touches, follow-up attempts, qualification, prospecting."""

    first_touch_time: DurationDist = Field(
        description="Working time of one contact attempt on an inbound lead (the first touch "
        "is attempt 1), e.g. {dist: exponential, mean: 1h}."
    )
    attempts: Attempts | None = Field(default=None, description="Follow-up attempts.")
    qualification: Qualification | None = Field(
        default=None, description="Qualification call (default: the funnel ends at first touch)."
    )
    priority: Literal["inbound_first", "outbound_first", "score"] | OutboundShare = Field(
        default="inbound_first",
        description="Which work an SDR takes next: inbound first, outbound first, by score "
        "(lead score, or fit for outbound contacts), or a number: the share of SDR time kept "
        "for outbound when both are waiting.",
    )


class Stage(Section):
    """One opportunity stage: AE work, then a calendar delay (the buyer's side)."""

    name: str = Field(min_length=1, description="Stage name, e.g. 'discovery'.")
    work: DurationDist = Field(description="AE working time in this stage.")
    delay: NonNegativeCalendarDuration = Field(
        default=Duration(0, "d"), description="Calendar time until the next step, e.g. '5d'."
    )
    advance: Probability = Field(default=1.0, description="Chance to move past this stage.")


class KindNumbers(Section):
    """A number each for inbound and outbound leads."""

    inbound: float = Field(default=1.0, ge=0, description="For inbound leads.")
    outbound: float = Field(default=1.0, ge=0, description="For outbound leads.")


class Win(Section):
    """Win probability after the last stage: segment win rate x source x fit x collateral."""

    by_kind: KindNumbers = Field(
        default_factory=lambda: KindNumbers(), description="Multiplier by source kind."
    )
    fit_effect: float = Field(
        default=1.0, ge=0, description="Win odds scale by (1 + fit_effect * (fit - 0.5))."
    )
    collateral: Probability = Field(
        default=0.25, description="Share of sellers with the collateral they need (article: 25%)."
    )
    collateral_lift: float = Field(
        default=0.4, ge=0, description="Win-rate lift when every seller has collateral."
    )


class SqlAcceptance(Section):
    """An AE reviews each SQL and accepts it as an opportunity, or rejects it."""

    time: DurationDist = Field(description="AE working time of the review.")
    probability: Probability = Field(
        description="Chance an SQL of fit 0.5 is accepted (scaled by 0.5 + fit)."
    )


class AeTeam(Staff):
    """Account executives: they work opportunities through stages to a decision."""

    acceptance: SqlAcceptance | None = Field(
        default=None,
        description="The AE's review of each SQL (default: every SQL is an opportunity at once).",
    )
    stages: list[Stage] = Field(min_length=1, description="Opportunity stages, in order.")
    stale_for: NonNegativeCalendarDuration = Field(
        default=Duration(0, "d"),
        description="How long a deal whose buyer went quiet stays open in the pipeline after "
        "the stage's delay, before sales marks it lost (reps chase silent buyers; pipeline "
        "reviews close stale deals late). It counts in the open pipeline; no AE works it.",
    )
    quota: Money | None = Field(
        default=None,
        description="New revenue a ramped AE is expected to close per year (money; default: "
        "none, and no quota metrics).",
    )
    win: Win = Field(default_factory=lambda: Win(), description="Win probability.")


class Routing(Section):
    """Which leads a further team works: those of the named sources and segments (a lead goes to
    the first further team of its role, in file order, that takes both its source and its
    segment; otherwise to the role's own team, ``teams.sdr`` or ``teams.ae``)."""

    sources: list[str] | None = Field(
        default=None, min_length=1, description="Sources whose leads it works (default: all)."
    )
    segments: list[str] | None = Field(
        default=None, min_length=1, description="Segments whose leads it works (default: all)."
    )

    def takes(self, source: str, segment: str) -> bool:
        return (self.sources is None or source in self.sources) and (
            self.segments is None or segment in self.segments
        )


class NamedSdrTeam(Staff):
    """A further team in the SDR role, e.g. outbound BDRs beside inbound SDRs. It brings its own
    people, cost, ramp, availability and priority, and works its leads by the SDR process of
    ``teams.sdr`` (first touch, attempts, qualification)."""

    role: Literal["sdr"] = Field(description="'sdr': it works leads as the SDRs do.")
    routing: Routing = Field(description="The leads it works.")
    priority: Literal["inbound_first", "outbound_first", "score"] | OutboundShare | None = Field(
        default=None, description="Which work it takes next (default: that of teams.sdr)."
    )


class NamedAeTeam(Staff):
    """A further team in the AE role, e.g. an enterprise pod. It brings its own people, cost,
    ramp, availability and quota, and works opportunities by the process of ``teams.ae``
    (review, stages, win)."""

    role: Literal["ae"] = Field(description="'ae': it works opportunities as the AEs do.")
    routing: Routing = Field(description="The leads it works.")
    quota: Money | None = Field(
        default=None, description="New revenue per ramped AE per year (default: teams.ae's)."
    )


NamedTeam = Annotated[NamedSdrTeam | NamedAeTeam, Field(discriminator="role")]


class Teams(Section):
    """The people who work the leads: ``sdr`` and ``ae``, and further teams by name, each with a
    ``role`` (sdr or ae) and the leads it works (``routing``)."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    __pydantic_extra__: dict[str, NamedTeam] = Field(init=False)  # the further teams

    sdr: SdrTeam = Field(description="The SDR team.")
    ae: AeTeam | None = Field(default=None, description="The AE team (default: none).")

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        # a key that is not a team of its own (no role) is a typo of one
        if isinstance(data, dict):
            allowed = list(cls.model_fields)

            def known(key: Any, value: Any) -> bool:
                return key in allowed or (isinstance(value, dict) and "role" in value)

            if not all(known(key, value) for key, value in data.items()):
                # each reported at its key, beside the problems of the teams
                tail = ", or a further team with a 'role' (sdr or ae)"
                return {
                    key: value if known(key, value) else UnknownKey(str(key), allowed, tail)
                    for key, value in data.items()
                }
        return data

    @property
    def named(self) -> dict[str, NamedSdrTeam | NamedAeTeam]:
        """The further teams, in file order."""
        return dict(self.__pydantic_extra__ or {})

    def of_role(self, role: Literal["sdr", "ae"]) -> list[tuple[str, Staff]]:
        """The teams of a role by name: the role's own team first, then the further ones."""
        own = self.sdr if role == "sdr" else self.ae
        if own is None:
            return []
        return [(role, own), *((n, t) for n, t in self.named.items() if t.role == role)]


# -- economics ---------------------------------------------------------------------------------
class KindShares(Section):
    """A yearly share each for customers won from inbound and from outbound."""

    inbound: Probability = Field(description="Customers won from inbound.")
    outbound: Probability = Field(description="Customers won from outbound.")


class Economics(Section):
    """Deals are subscriptions, and selling costs more than the reps' salaries.

    A won deal's value (``segments.NAME.deal_size``) is its annual contract value (ACV): new ARR
    the day it closes, recognised as revenue month by month from then on. A customer's ARR
    grows with expansion and its chance of still being a customer falls with logo churn, both
    continuously at their yearly rates (by the kind of source it came from: inbound buyers stay
    and expand more). Sales and marketing cost adds commissions on new ARR, first-line managers
    by span of control, and tools per rep.
    """

    gross_margin: Probability = Field(
        default=1.0,
        description="Share of subscription revenue left after the cost of serving "
        "it (SaaS: 72-81%, KBCM [B]).",
    )
    churn_annual: KindShares = Field(
        default_factory=lambda: KindShares(inbound=0.0, outbound=0.0),
        description="Logo churn per year (B2B SaaS median 7-10%, SaaS Capital [B]).",
    )
    expansion_annual: KindShares = Field(
        default_factory=lambda: KindShares(inbound=0.0, outbound=0.0),
        description="Growth of a retained customer's ARR per year (upsell, seats).",
    )
    lifetime: PositiveCalendarDuration = Field(
        default=Duration(5 * 52, "w"),
        description="How far ahead lifetime value counts a customer's gross profit, e.g. '260w'.",
    )
    commission: Probability = Field(
        default=0.0, description="Commission paid on new ARR (share of first-year bookings)."
    )
    manager_span: int | None = Field(
        default=None,
        ge=1,
        description="Reps (SDRs and AEs) per first-line manager "
        "(Bridge Group/TOPO: 1:8 [B]); default: no managers.",
    )
    manager_annual_cost: Money = Field(default=0.0, description="Fully loaded (money/year).")
    tools_per_head: Money = Field(
        default=0.0, description="Sales tools per SDR and AE seat (money/year): CRM, dialer, data."
    )
    leadership_annual: Money = Field(
        default=0.0,
        description="Sales and marketing leadership and operations (VPs, RevOps), money/year.",
    )


# -- segments and starting state ---------------------------------------------------------------
class DealSize(Section):
    """Deal value of a won customer (first purchase), lognormal by mean and sd."""

    mean: PositiveMoney = Field(description="Mean deal value (money).")
    sd: Money = Field(default=0.0, description="Standard deviation (money); 0: constant.")

    @model_validator(mode="after")
    def _spread(self) -> Self:
        if self.sd > 1e3 * self.mean:  # beyond it the lognormal's parameters overflow
            raise ValueError(f"sd ({self.sd:g}) must be at most a thousand times the mean")
        return self

    def sample(self, rng: "np.random.Generator", size: int) -> "np.ndarray":
        import numpy as np

        if self.sd == 0:
            return np.full(size, self.mean)
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), size)


class Segment(Section):
    """A market segment (e.g. sector x company size): its deals, its sales cycle and, through
    the teams' routing, who works it."""

    deal_size: DealSize = Field(description="Deal value.")
    win_rate: Probability = Field(description="Base win probability of an opportunity.")
    cycle: PositiveCalendarDuration | None = Field(
        default=None,
        description="The buyer's side of a deal that passes every stage, from opportunity to "
        "decision: the stages' delays are scaled to add up to this, e.g. '120d' (default: the "
        "delays as written).",
    )
    ae_work: float = Field(
        default=1.0,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="Multiplier on the AE working time of every stage (2: twice the work).",
    )


class OpenMqls(Section):
    """MQLs already waiting for sales when the simulation starts."""

    source: str = Field(description="Source they came from.")
    count: int = Field(gt=0, description="How many.")
    age: NonNegativeCalendarDuration = Field(
        default=Duration(0, "d"), description="How long they have waited already."
    )


class OpenOpportunities(Section):
    """Opportunities already open when the simulation starts."""

    source: str = Field(description="Source they came from.")
    count: int = Field(gt=0, description="How many.")
    stage: str = Field(description="Stage they are in (a name from teams.ae.stages).")


class Initial(Section):
    """The funnel at the start of the simulation (default: empty)."""

    open_mqls: list[OpenMqls] = Field(default=[], description="Open MQLs.")
    open_opportunities: list[OpenOpportunities] = Field(default=[], description="Open opps.")


# -- the scenario ------------------------------------------------------------------------------
class Scenario(Section):
    """One funnel plan to simulate: who arrives, who works them, under which agreement."""

    name: str = Field(min_length=1, description="Short name shown in reports.")
    description: str = Field(default="", description="What this scenario represents.")
    start: Moment = Field(
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
    currency: str = Field(default="USD", description="Currency of every money amount.")
    segments: dict[str, Segment] | None = Field(
        default=None, description="Market segments (needed with an AE team)."
    )
    sources: dict[str, Source] = Field(min_length=1, description="Named lead sources.")
    marketing: Marketing | None = Field(
        default=None,
        description="Marketing qualification (default: every inbound lead is an MQL).",
    )
    handoff: Handoff = Field(description="Handoff policy and SLAs.")
    teams: Teams = Field(description="Teams and their work.")
    economics: Economics = Field(
        default_factory=lambda: Economics(),
        description="Subscriptions, margin, churn and the cost of selling (default: no cost of "
        "serving, churn or expansion; no commissions, managers, tools or leadership).",
    )
    initial: Initial | None = Field(default=None, description="Starting state (default: empty).")
    outside_bands: dict[str, str] = Field(
        default={},
        description="Plausibility bands (docs/domain.md, funnelsim.bands) this plan is meant to "
        "sit outside of, each with the reason: {METRIC: why}.",
    )

    @model_validator(mode="after")
    def _references(self) -> Self:
        """Names used in one section must exist in another."""
        problems: list[tuple[tuple[str | int, ...], str, bool]] = []
        if self.horizon.hours + self.warmup.hours > MAX_RUN_YEARS * 365.25 * 24:
            problems.append(
                (
                    ("horizon",),
                    f"horizon and warmup add up to more than {MAX_RUN_YEARS} years",
                    False,
                )
            )
        segments = list(self.segments or {})
        for name, source in self.sources.items():
            for segment in source.segment_mix or {}:
                if segment not in segments:
                    problems.append(
                        (
                            ("sources", name, "segment_mix", segment),
                            f"unknown segment '{segment}'{did_you_mean(segment, segments)}"
                            f"; segments: {', '.join(segments) or 'none defined'}",
                            True,
                        )
                    )
            if source.segment_mix is not None and sum(source.segment_mix.values()) <= 0:
                problems.append(
                    (("sources", name, "segment_mix"), "weights must not all be 0", False)
                )
        if self.teams.ae is not None and not segments:
            problems.append(
                (("teams", "ae"), "an AE team needs 'segments' (deal size, win rate)", True)
            )
        stages = [s.name for s in self.teams.ae.stages] if self.teams.ae else []
        initial = self.initial or Initial()
        named: list[tuple[str, int, OpenMqls | OpenOpportunities]] = [
            ("open_mqls", i, item) for i, item in enumerate(initial.open_mqls)
        ] + [("open_opportunities", i, item) for i, item in enumerate(initial.open_opportunities)]
        for group, i, item in named:
            if item.source not in self.sources:
                problems.append(
                    (
                        ("initial", group, i, "source"),
                        f"unknown source '{item.source}'"
                        f"{did_you_mean(item.source, list(self.sources))}",
                        False,
                    )
                )
            elif isinstance(item, OpenMqls) and self.sources[item.source].kind != "inbound":
                problems.append(
                    (
                        ("initial", group, i, "source"),
                        "open MQLs come from an inbound source",
                        False,
                    )
                )
            if isinstance(item, OpenOpportunities) and item.stage not in stages:
                problems.append(
                    (
                        ("initial", group, i, "stage"),
                        f"unknown stage '{item.stage}'{did_you_mean(item.stage, stages)}"
                        f"; stages: {', '.join(stages) or 'no AE team'}",
                        False,
                    )
                )
        attempts = self.teams.sdr.attempts
        follow_up = attempts.follow_up if attempts else None
        inbound = [n for n, src in self.sources.items() if src.kind == "inbound"]
        for name in (follow_up.by_source or {}) if follow_up else {}:
            if name not in inbound:
                problems.append(
                    (
                        ("teams", "sdr", "attempts", "follow_up", "by_source", name),
                        f"unknown inbound source '{name}'{did_you_mean(name, inbound)}",
                        True,
                    )
                )
        problems += self._team_problems(segments, stages)
        from funnelsim.bands import BANDS  # data only: cheap, and no cycle at import

        for metric in self.outside_bands:
            if metric not in BANDS:
                problems.append(
                    (
                        ("outside_bands", metric),
                        f"no band for '{metric}'{did_you_mean(metric, list(BANDS))}; bands: "
                        f"{', '.join(BANDS)}",
                        True,
                    )
                )
        if problems:
            raise CrossReferenceError(problems)
        return self

    def _team_problems(
        self, segments: list[str], stages: list[str]
    ) -> list[tuple[tuple[str | int, ...], str, bool]]:
        """Further teams route by names that exist; hiring plans fit; a segment's cycle scales
        delays that exist."""
        problems: list[tuple[tuple[str | int, ...], str, bool]] = []
        teams, sources = self.teams, list(self.sources)
        for name, team in teams.named.items():
            if team.role == "ae" and teams.ae is None:
                problems.append(
                    (
                        ("teams", name, "role"),
                        "a further AE team works by the process of teams.ae: define teams.ae",
                        False,
                    )
                )
            routing = team.routing
            if routing.sources is None and routing.segments is None:
                problems.append(
                    (("teams", name, "routing"), "name the sources or segments it works", False)
                )
            for field, names, known in (
                ("sources", routing.sources, sources),
                ("segments", routing.segments, segments),
            ):
                for i, item in enumerate(names or []):
                    if item not in known:
                        problems.append(
                            (
                                ("teams", name, "routing", field, i),
                                f"unknown {field[:-1]} '{item}'{did_you_mean(item, known)}"
                                f"; {field}: {', '.join(known) or 'none defined'}",
                                False,
                            )
                        )
        for name, staff in [*teams.of_role("sdr"), *teams.of_role("ae")]:
            problems += _hiring_problems(name, staff, self.origin)
        delays = sum(s.delay.hours for s in teams.ae.stages) if teams.ae else 0.0
        for name, segment in (self.segments or {}).items():
            if segment.cycle is not None and delays <= 0:
                problems.append(
                    (
                        ("segments", name, "cycle"),
                        "a cycle scales the stages' delays (teams.ae.stages), and they are all zero"
                        if stages
                        else "a cycle needs AE stages (teams.ae.stages)",
                        False,
                    )
                )
        return problems

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
