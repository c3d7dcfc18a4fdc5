"""Quantities with units, as planners write them in scenario files.

A funnel lives on two clocks. Leads arrive and go cold on the *calendar* clock: a lead that
came in on Friday evening has waited 60 hours by Monday morning. Service-level agreements
between marketing and sales are often written on the *business* clock instead ("follow up
within 24 business hours"), which only runs while the office is open. So every duration keeps
the clock it was written on, and the calendar converts business time when it is used.

Durations: ``30m``, ``4h``, ``2d`` (calendar days), ``2w``, ``6bh`` (business hours),
``3bd`` (business days). Rates: ``9/h``, ``40/d``, ``200/w``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

HOURS_PER_UNIT: dict[str, float] = {"m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}
BUSINESS_UNITS = ("bh", "bd")
DURATION_UNITS = (*HOURS_PER_UNIT, *BUSINESS_UNITS)
RATE_UNITS = ("m", "h", "d", "w")
MAX_YEARS = 100  # the longest duration (docs/scenario.md#bounds)
MAX_HOURS = MAX_YEARS * 365.25 * 24
MAX_PER_HOUR = 1e6  # the highest rate

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DURATION_RE = re.compile(rf"^\s*({_NUMBER})\s*([a-z]*)\s*$")
_RATE_RE = re.compile(rf"^\s*({_NUMBER})\s*/\s*([a-z]*)\s*$")
DURATION_PATTERN = rf"^\s*{_NUMBER}\s*(m|h|d|w|bh|bd)\s*$"
RATE_PATTERN = rf"^\s*{_NUMBER}\s*/\s*(m|h|d|w)\s*$"


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time on the calendar clock (m, h, d, w) or the business clock (bh, bd)."""

    amount: float
    unit: str

    @property
    def business(self) -> bool:
        """True when the duration only runs during working hours."""
        return self.unit in BUSINESS_UNITS

    @property
    def hours(self) -> float:
        """Length in calendar hours; business durations need a calendar to convert."""
        if self.business:
            raise ValueError(f"{self} is business time: convert it with the scenario calendar")
        return self.amount * HOURS_PER_UNIT[self.unit]

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"

    @classmethod
    def parse(cls, value: object) -> Duration:
        """Read ``'30m'``, ``'3bd'``...; a bare number is refused: its unit would be a guess."""
        if isinstance(value, Duration):
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise PydanticCustomError(
                "duration_type", "expected a duration such as '30m', '4h', '2d', '3bd' or '6bh'"
            )
        if isinstance(value, (int, float)):
            raise PydanticCustomError(
                "duration_unit",
                "missing unit in duration {value}: write e.g. '{value}h' or '{value}d' "
                "(units: m, h, d, w, bh, bd)",
                {"value": value},
            )
        match = _DURATION_RE.match(value)
        if match is None:
            raise PydanticCustomError(
                "duration_format",
                "cannot read duration '{value}': expected a number and a unit, e.g. '30m', '4h', "
                "'2d', '3bd', '6bh'",
                {"value": value},
            )
        amount, unit = float(match.group(1)), match.group(2)
        if not unit:
            raise PydanticCustomError(
                "duration_unit",
                "missing unit in duration '{value}': write e.g. '{value}h' or '{value}d' "
                "(units: m, h, d, w, bh, bd)",
                {"value": value.strip()},
            )
        if unit not in DURATION_UNITS:
            raise PydanticCustomError(
                "duration_unit",
                "unknown duration unit '{unit}' in '{value}': use m, h, d, w, bh or bd",
                {"unit": unit, "value": value.strip()},
            )
        per = HOURS_PER_UNIT.get(unit, 24.0 if unit == "bd" else 1.0)
        if not abs(amount) * per <= MAX_HOURS:  # also inf and nan
            raise PydanticCustomError(
                "duration_bound",
                "duration '{value}' is too long: at most {years} years",
                {"value": value.strip(), "years": MAX_YEARS},
            )
        return cls(amount, unit)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": DURATION_PATTERN, "examples": ["30m", "4h", "3bd"]}


@dataclass(frozen=True, slots=True)
class Rate:
    """Events per unit of calendar time, e.g. ``9/h`` leads; kept internally per hour."""

    amount: float
    unit: str

    @property
    def per_hour(self) -> float:
        return self.amount / HOURS_PER_UNIT[self.unit]

    def __str__(self) -> str:
        return f"{self.amount:g}/{self.unit}"

    @classmethod
    def parse(cls, value: object) -> Rate:
        """Read ``'9/h'``, ``'40/d'``, ``'200/w'``; a bare number has no time unit: refused."""
        if isinstance(value, Rate):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise PydanticCustomError(
                "rate_unit",
                "missing unit in rate {value}: write e.g. '{value}/h', '{value}/d' or '{value}/w'",
                {"value": value},
            )
        if not isinstance(value, str):
            raise PydanticCustomError("rate_type", "expected a rate such as '9/h', '40/d', '200/w'")
        match = _RATE_RE.match(value)
        if match is None:
            raise PydanticCustomError(
                "rate_format",
                "cannot read rate '{value}': expected e.g. '9/h', '40/d' or '200/w'",
                {"value": value},
            )
        amount, unit = float(match.group(1)), match.group(2)
        if unit not in RATE_UNITS:
            raise PydanticCustomError(
                "rate_unit",
                "unknown rate unit '/{unit}' in '{value}': use /m, /h, /d or /w",
                {"unit": unit, "value": value.strip()},
            )
        if not abs(amount) / HOURS_PER_UNIT[unit] <= MAX_PER_HOUR:  # also inf and nan
            raise PydanticCustomError(
                "rate_bound",
                "rate '{value}' is too high: at most {most} per hour",
                {"value": value.strip(), "most": f"{MAX_PER_HOUR:,.0f}"},
            )
        return cls(amount, unit)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": RATE_PATTERN, "examples": ["9/h", "40/d", "200/w"]}
