"""Numbers with a source and a range: the extended number form of scenario files.

Wherever a scenario takes a number (``5``, ``0.35``, ``30000``, ``9/h``, ``2bd``) it may take
instead the mapping ``{value: V, low: L, high: H, shape: uniform|triangular, source: "...",
grade: A|B|C|assumption}``. A plain run uses ``value`` (default: the midpoint of ``low`` and
``high``); the range, its shape, its source and its grade stay with the validated Scenario
(:func:`ranges_of`), for the uncertainty work to sample and for reports to show.

A mapping is such a number when it sits where the schema expects a number and has no ``dist``,
``kind`` or ``curve`` key (those are distributions and sections, never numbers). Numbers that
are items of a list (decay ``points``, ``hours``, ``by_month``) or values of a map keyed by the
planner's own names (``segment_mix``, ``weekdays``, ``follow_up.planned``) are coupled to their
neighbours and take no range.

This module finds those mappings (:func:`find`), reads and checks each one on its own
(:func:`read`: keys, units, order) and puts its value, or the low or high end of its range,
in their place (:func:`substituted`); ``scenario.load`` validates each substituted document
and locates every problem. It imports nothing heavy: ``funnelsim validate`` starts fast.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from funnelsim.scenario.schema import did_you_mean
from funnelsim.units import HOURS_PER_UNIT, Duration, Rate

if typing.TYPE_CHECKING:
    from funnelsim.scenario.schema import Scenario

PathKey = tuple[str | int, ...]
Quantity = int | float | Duration | Rate
Kind = Literal["int", "float", "duration", "rate"]
End = Literal["value", "low", "high"]

RANGE_KEYS = ("value", "low", "high", "shape", "source", "grade")
SHAPES = ("uniform", "triangular")
GRADES = ("A", "B", "C", "assumption")
TAGS = ("dist", "kind", "curve")  # a mapping with one of these is not a number
_PRIVATE = "funnelsim_ranges"  # the key of a Scenario's ranges in its pydantic private storage


@dataclass(frozen=True)
class Range:
    """An uncertain number: the value a plain run uses, and what the sources say about it.

    ``low`` and ``high`` bound the plausible range (both ``None``: a sourced number with no
    range yet); ``shape`` is ``uniform`` or ``triangular`` (its mode at ``value``). ``kind``
    says what the field takes: ``int`` (sample whole numbers), ``float``, ``duration``
    (:class:`~funnelsim.units.Duration`, every end on one clock) or ``rate``
    (:class:`~funnelsim.units.Rate`). ``written`` is the mapping as the file gave it.
    """

    value: Quantity
    low: Quantity | None = None
    high: Quantity | None = None
    shape: str = "uniform"
    source: str | None = None
    grade: str | None = None
    kind: Kind = "float"
    written: tuple[tuple[str, Any], ...] = field(default=(), repr=False)

    @property
    def has_range(self) -> bool:
        return self.low is not None

    def as_data(self) -> dict[str, Any]:
        """The mapping as written, to put back in a resolved scenario file."""
        return dict(self.written)


class Issue(NamedTuple):
    """A problem with one extended number: the path it names, and where to locate it."""

    path: PathKey
    message: str
    at: PathKey  # the node to locate it at (the number, or one of its keys)
    at_key: bool = False  # located at the key itself (a misspelled key), not at its value


class Found:
    """The extended numbers of a document by path (what the field takes, the mapping), and
    the ranges refused inside lists and maps."""

    __slots__ = ("numbers", "refused")

    def __init__(self) -> None:
        self.numbers: dict[PathKey, tuple[Kind, dict[Any, Any]]] = {}
        self.refused: list[Issue] = []

    def __bool__(self) -> bool:
        return bool(self.numbers or self.refused)


# -- where the schema expects a number ---------------------------------------------------------
# (plain classes, not dataclasses: every ``validate`` imports this module, and a dataclass
# costs about a millisecond to create)
class _Number:
    __slots__ = ("kind",)

    def __init__(self, kind: Kind) -> None:
        self.kind = kind


class _Models:
    __slots__ = ("classes",)

    def __init__(self, classes: tuple[type[BaseModel], ...]) -> None:
        self.classes = classes


class _Many:
    """A list, a map or a tuple: ``items`` has one spec for a list or a map, one per place
    for a tuple."""

    __slots__ = ("container", "items")

    def __init__(self, container: Literal["list", "map", "tuple"], items: tuple[_Spec, ...]):
        self.container = container
        self.items = items


_Spec = _Number | _Models | _Many | None
_FIELDS: dict[type[BaseModel], tuple[dict[str, _Spec], _Spec]] = {}
_TAGS_OF: dict[type[BaseModel], dict[str, tuple[Any, ...]]] = {}


def _spec(annotation: Any) -> _Spec:
    """What an annotation expects, as far as numbers are concerned."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _spec(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        specs = [_spec(a) for a in get_args(annotation) if a is not type(None)]
        models = tuple(c for s in specs if isinstance(s, _Models) for c in s.classes)
        if models:
            return _Models(models)
        numbers = [s for s in specs if isinstance(s, _Number)]
        if numbers:  # a word or a number (priority: 'score' | 0.3)
            return numbers[0]
        rest = [s for s in specs if s is not None]
        return rest[0] if len(rest) == 1 else None
    if origin is dict:
        return _Many("map", (_spec(get_args(annotation)[1]),))
    if origin is list:
        return _Many("list", (_spec(get_args(annotation)[0]),))
    if origin is tuple:
        return _Many("tuple", tuple(_spec(a) for a in get_args(annotation) if a is not ...))
    if annotation is bool:
        return None
    if annotation is int:
        return _Number("int")
    if annotation is float:
        return _Number("float")
    if annotation is Duration:
        return _Number("duration")
    if annotation is Rate:
        return _Number("rate")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _Models((annotation,))
    return None


def _fields(model: type[BaseModel]) -> tuple[dict[str, _Spec], _Spec]:
    """Each field's spec, and that of the extra keys (``teams.NAME``), if the model takes any."""
    known = _FIELDS.get(model)
    if known is None:
        specs = {name: _spec(info.annotation) for name, info in model.model_fields.items()}
        extra: _Spec = None
        if model.model_config.get("extra") == "allow":
            hint = typing.get_type_hints(model, include_extras=True).get("__pydantic_extra__")
            extra = _spec(get_args(hint)[1]) if get_origin(hint) is dict else None
        known = _FIELDS[model] = (specs, extra)
    return known


def _tags(model: type[BaseModel]) -> dict[str, tuple[Any, ...]]:
    """The model's fields that take a fixed word (``dist``, ``kind``, ``role``): its tags."""
    known = _TAGS_OF.get(model)
    if known is None:
        known = _TAGS_OF[model] = {
            name: get_args(info.annotation)
            for name, info in model.model_fields.items()
            if get_origin(info.annotation) is Literal
        }
    return known


def _pick(classes: tuple[type[BaseModel], ...], data: dict[Any, Any]) -> type[BaseModel] | None:
    """The model of a union that ``data`` is written as (by its tag), if that is clear."""
    if len(classes) == 1:
        return classes[0]
    matching = [
        cls
        for cls in classes
        if any(name in data and data[name] in words for name, words in _tags(cls).items())
    ]
    return matching[0] if len(matching) == 1 else None


def find(data: dict[str, Any], model: type[BaseModel]) -> Found:
    """Every extended number of ``data`` (a document of ``model``), in one walk."""
    found = Found()
    _visit_model(data, model, (), found)
    return found


def _visit_model(data: dict[Any, Any], model: type[BaseModel], path: PathKey, found: Found) -> None:
    specs, extra = _fields(model)
    for key, value in data.items():
        spec = specs.get(key, extra)
        if spec is not None:
            _visit(value, spec, (*path, key), found, None)


def _visit(
    value: Any, spec: _Spec, path: PathKey, found: Found, inside: tuple[str, str] | None
) -> None:
    """``inside``: the list or map of numbers ``value`` belongs to, and why it takes no range."""
    if isinstance(spec, _Number):
        if isinstance(value, dict) and not any(tag in value for tag in TAGS):
            if inside is None:
                found.numbers[path] = (spec.kind, value)
            else:
                name, why = inside
                message = f"ranges are not allowed inside {name} ({why}): give a number"
                found.refused.append(Issue(path, message, path))
    elif isinstance(spec, _Models):
        if isinstance(value, dict):
            model = _pick(spec.classes, value)
            if model is not None:
                _visit_model(value, model, path, found)
    elif isinstance(spec, _Many):
        if inside is None:
            name = str(path[-1]) if path else ""
            item = spec.items[0]
            weights = spec.container == "map" and isinstance(item, _Number) and item.kind == "float"
            inside = (name, "its weights are coupled" if weights else "its numbers are coupled")
        if spec.container == "map" and isinstance(value, dict):
            for key, item in value.items():
                _visit(item, spec.items[0], (*path, key), found, inside)
        elif spec.container == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                _visit(item, spec.items[0], (*path, index), found, inside)
        elif spec.container == "tuple" and isinstance(value, list | tuple):
            for index, (item, item_spec) in enumerate(zip(value, spec.items, strict=False)):
                _visit(item, item_spec, (*path, index), found, inside)


# -- reading one extended number ---------------------------------------------------------------
_DESCRIBED = {"rate": "a rate", "calendar": "calendar time", "business": "business time"}


def _unit_class(raw: Any) -> str | None:
    """``'rate'``, ``'calendar'`` or ``'business'`` for a quantity written with a unit."""
    if not isinstance(raw, str):
        return None
    try:
        Rate.parse(raw)
        return "rate"
    except PydanticCustomError:
        pass
    try:
        return "business" if Duration.parse(raw).business else "calendar"
    except PydanticCustomError:
        return None


def _parse(kind: Kind, raw: Any) -> Quantity:
    """One of value, low and high, as the field takes it; ValueError says what is wrong."""
    if kind == "duration":
        return Duration.parse(raw)
    if kind == "rate":
        return Rate.parse(raw)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        whole = "a whole number" if kind == "int" else "a number"
        raise ValueError(f"expected {whole}, got {raw!r}")
    if not math.isfinite(raw):
        raise ValueError(f"must be a finite number, got {raw}")
    if kind == "int":
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError(f"must be a whole number, got {raw}")
        return int(raw)
    return raw


def _size(quantity: Quantity) -> float:
    """A comparable magnitude (business durations: in their own unit, one unit per range)."""
    if isinstance(quantity, Duration):
        return quantity.amount if quantity.business else quantity.hours
    if isinstance(quantity, Rate):
        return quantity.per_hour
    return float(quantity)


def _midpoint(low: Quantity, high: Quantity) -> Quantity:
    """Halfway between two ends, in the unit of ``low`` (int + int: a float unless whole)."""
    if isinstance(low, int) and isinstance(high, int) and (low + high) % 2 == 0:
        return (low + high) // 2
    return between(low, high, 0.5)


def between(low: Quantity, high: Quantity, t: float) -> Quantity:
    """The point a fraction ``t`` of the way from ``low`` to ``high``, in the unit of ``low``
    (numbers: a float)."""
    if isinstance(low, Duration) and isinstance(high, Duration):
        if low.unit == high.unit:
            return Duration(low.amount + t * (high.amount - low.amount), low.unit)
        hours = low.hours + t * (high.hours - low.hours)
        return Duration(hours / HOURS_PER_UNIT[low.unit], low.unit)
    if isinstance(low, Rate) and isinstance(high, Rate):
        if low.unit == high.unit:
            return Rate(low.amount + t * (high.amount - low.amount), low.unit)
        per_hour = low.per_hour + t * (high.per_hour - low.per_hour)
        return Rate(per_hour * HOURS_PER_UNIT[low.unit], low.unit)
    assert isinstance(low, int | float)
    assert isinstance(high, int | float)
    return low + t * (high - low)


def quantile(number: Range, u: float) -> Quantity:
    """The value of an uncertain number at probability ``u`` in [0, 1) of its range: uniform,
    or triangular with its mode at ``value``; a whole-number field gets whole numbers, each
    of a uniform range equally likely."""
    low, high = number.low, number.high
    assert low is not None
    assert high is not None
    if number.shape == "triangular":
        span = _size(high) - _size(low)
        c = (_size(number.value) - _size(low)) / span if span > 0 else 0.5
        t = math.sqrt(u * c) if u < c else 1.0 - math.sqrt((1.0 - u) * (1.0 - c))
        drawn = between(low, high, t)
        return round(drawn) if number.kind == "int" and isinstance(drawn, float) else drawn
    if number.kind == "int":
        assert isinstance(low, int | float)
        assert isinstance(high, int | float)
        return min(math.floor(low + u * (high - low + 1)), math.floor(high))
    return between(low, high, u)


def _literal(key: str, got: Any, options: tuple[str, ...]) -> str:
    hint = ""
    if isinstance(got, str):
        same = [o for o in options if o.lower() == got.strip().lower()]  # 'b' -> 'B'
        hint = f" (did you mean '{same[0]}'?)" if same else did_you_mean(got, list(options))
    if len(options) == 2:
        expected = f"expected {options[0]!r} or {options[1]!r}"
    else:
        expected = f"expected one of: {', '.join(options)}"
    return f"{key}: got {got!r}{hint}; {expected}"


def read(kind: Kind, mapping: dict[Any, Any], path: PathKey) -> Range | list[Issue]:
    """The extended number written as ``mapping`` at ``path``, or everything wrong with it."""
    unknown = [key for key in mapping if key not in RANGE_KEYS]
    if unknown:
        allowed = ", ".join(RANGE_KEYS)
        return [
            Issue(
                (*path, str(key)),
                f"unknown key '{key}'{did_you_mean(str(key), list(RANGE_KEYS))}; "
                f"allowed: {allowed}",
                (*path, str(key)),
                at_key=True,
            )
            for key in unknown
        ]
    issues: list[Issue] = []

    def bad(key: str, message: str) -> None:
        issues.append(Issue(path, f"{key}: {message}", (*path, key)))

    shape = mapping.get("shape", "uniform")
    if shape not in SHAPES:
        issues.append(Issue(path, _literal("shape", shape, SHAPES), (*path, "shape")))
    grade = mapping.get("grade")
    if "grade" in mapping and grade not in GRADES:
        issues.append(Issue(path, _literal("grade", grade, GRADES), (*path, "grade")))
    source = mapping.get("source")
    if "source" in mapping and not isinstance(source, str):
        bad("source", f"expected text, got {source!r} (put it in quotes)")
    given = {key: mapping[key] for key in ("value", "low", "high") if key in mapping}
    if ("low" in given) != ("high" in given):
        has, lacks = ("low", "high") if "low" in given else ("high", "low")
        bad(has, f"a range needs both ends: give {lacks} too")
    elif not given:
        issues.append(Issue(path, "give value, or low and high, or all three", path))
    elif shape == "triangular" and "low" not in given:
        bad("shape", "a triangular range needs low and high")
    classes = {key: c for key, raw in given.items() if (c := _unit_class(raw)) is not None}
    if len(set(classes.values())) > 1:
        clock = set(classes.values()) <= {"calendar", "business"}
        shown = ", ".join(f"{key} {given[key]} ({_DESCRIBED[c]})" for key, c in classes.items())
        advice = "on one clock" if clock else "in one kind of unit"
        issues.append(Issue(path, f"mixed units: {shown}; give value, low and high {advice}", path))
        return issues
    parsed: dict[str, Quantity] = {}
    for key, raw in given.items():
        try:
            parsed[key] = _parse(kind, raw)
        except PydanticCustomError as error:
            bad(key, error.message())
        except ValueError as error:
            bad(key, str(error))
    if len(parsed) < len(given) or ("low" in parsed and "high" not in parsed):
        return issues
    business = {q.unit for q in parsed.values() if isinstance(q, Duration) and q.business}
    if business and len({q.unit for q in parsed.values() if isinstance(q, Duration)}) > 1:
        issues.append(
            Issue(
                path,
                "mixed units: business time in both bh and bd; give value, low and high in "
                "one unit (how long a business day is depends on the calendar)",
                path,
            )
        )
        return issues
    if "low" in parsed:
        low, high = parsed["low"], parsed["high"]
        if _size(low) > _size(high):
            bad("low", f"{given['low']} is above high ({given['high']})")
        elif "value" in parsed and not _size(low) <= _size(parsed["value"]) <= _size(high):
            ends = f"{given['low']} to {given['high']}"
            bad("value", f"{given['value']} is outside the range, {ends}")
    if issues:
        return issues
    if "value" in parsed:
        value = parsed["value"]
    else:
        value = _midpoint(parsed["low"], parsed["high"])
        if kind == "int" and not isinstance(value, int):
            issues.append(
                Issue(
                    path,
                    f"the midpoint of low {given['low']} and high {given['high']} is {value}, "
                    "not a whole number: give value",
                    path,
                )
            )
            return issues
    return Range(
        value=value,
        low=parsed.get("low"),
        high=parsed.get("high"),
        shape=str(shape),
        source=source if isinstance(source, str) else None,
        grade=str(grade) if grade is not None else None,
        kind=kind,
        written=tuple((key, mapping[key]) for key in RANGE_KEYS if key in mapping),
    )


# -- substituting, and keeping them with the scenario ------------------------------------------
def _put(data: Any, path: PathKey, value: Any) -> bool:
    node = data
    for part in path[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    last = path[-1]
    if isinstance(node, dict) and last in node:
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node[last] = value
    else:
        return False
    return True


def end_of(number: Range, end: End) -> Quantity:
    """The value, or an end of the range (a number with no range: its value)."""
    chosen = number.value if end == "value" else getattr(number, end)
    return number.value if chosen is None else chosen


def _containers_copied(node: Any) -> Any:
    """The YAML data with its maps and lists copied; the scalars, immutable, are shared
    (a quarter of the cost of ``copy.deepcopy``)."""
    if isinstance(node, dict):
        return {key: _containers_copied(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_containers_copied(value) for value in node]
    return node


def substituted(data: dict[str, Any], numbers: dict[PathKey, Range], end: End) -> dict[str, Any]:
    """A copy of ``data`` with each extended number replaced by its value, low or high end."""
    copied: dict[str, Any] = _containers_copied(data)
    for path, number in numbers.items():
        _put(copied, path, end_of(number, end))
    return copied


def attach(scenario: Scenario, numbers: dict[PathKey, Range]) -> None:
    """Keep the ranges with the validated scenario (pickled, copied and compared with it)."""
    if numbers:
        private = dict(scenario.__pydantic_private__ or {})
        private[_PRIVATE] = dict(numbers)
        object.__setattr__(scenario, "__pydantic_private__", private)


def _stored(scenario: BaseModel) -> dict[PathKey, Range]:
    stored: dict[PathKey, Range] = (scenario.__pydantic_private__ or {}).get(_PRIVATE, {})
    return stored


def uncertain_of(scenario: Scenario) -> dict[PathKey, Range]:
    """The scenario's extended numbers that have a range, by path, in file order."""
    return {path: r for path, r in _stored(scenario).items() if r.has_range}


def with_values(data: dict[str, Any], values: dict[PathKey, Quantity]) -> dict[str, Any]:
    """A copy of ``data`` (a scenario dumped) with a value put at each path."""
    copied: dict[str, Any] = _containers_copied(data)
    for path, value in values.items():
        _put(copied, path, value)
    return copied


def ranges_of(scenario: Scenario) -> dict[str, Range]:
    """The scenario's extended numbers by dotted path (``teams.sdr.headcount``), in file
    order; a plain scenario has none."""
    return {".".join(str(part) for part in path): r for path, r in _stored(scenario).items()}


def with_ranges(scenario: Scenario, data: dict[str, Any]) -> dict[str, Any]:
    """``data``, the scenario dumped (``model_dump(mode="json")``), with each extended number
    put back as written, so that the resolved file keeps its sources and ranges and still
    validates to the same Scenario."""
    for path, number in _stored(scenario).items():
        _put(data, path, number.as_data())
    return data


# -- the JSON Schema of scenario files ---------------------------------------------------------
SOURCED_NUMBER: dict[str, Any] = {
    "type": "object",
    "description": "A number with its source and range: {value, low, high, shape, source, grade}"
    " (docs/scenario.md#numbers-with-a-source-and-a-range).",
    "properties": {
        "value": {"type": ["number", "string"], "description": "The number a plain run uses."},
        "low": {"type": ["number", "string"], "description": "Low end of the plausible range."},
        "high": {"type": ["number", "string"], "description": "High end of the plausible range."},
        "shape": {"enum": ["uniform", "triangular"]},
        "source": {"type": "string", "description": "Where the number comes from."},
        "grade": {"enum": ["A", "B", "C", "assumption"]},
    },
    "additionalProperties": False,
    "minProperties": 1,
}
_META = ("title", "description", "default", "examples")


def _number_like(node: dict[str, Any]) -> bool:
    """A plain number, or a number with units (a string with the units' pattern)."""
    kind = node.get("type")
    return kind in ("number", "integer") or (kind == "string" and "pattern" in node)


def _sourced(node: dict[str, Any]) -> dict[str, Any]:
    """The schema of a field that takes a number, now also taking the extended form."""
    ref = {"$ref": "#/$defs/SourcedNumber"}
    if "anyOf" in node:
        if any(_number_like(member) for member in node["anyOf"]):
            return {**node, "anyOf": [*node["anyOf"], ref]}
        return node
    if _number_like(node):
        meta = {k: v for k, v in node.items() if k in _META}
        bare = {k: v for k, v in node.items() if k not in _META}
        return {**meta, "anyOf": [bare, ref]}
    return node


def with_sourced_numbers(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON Schema in which every field that takes a number also takes the extended
    form; numbers inside lists and weight maps stay plain, as the loader requires."""
    out = dict(schema)
    defs = {name: _with_fields(d) for name, d in schema.get("$defs", {}).items()}
    out = _with_fields(out)
    out["$defs"] = {**defs, "SourcedNumber": SOURCED_NUMBER}
    return out


def _with_fields(node: dict[str, Any]) -> dict[str, Any]:
    if "properties" not in node:
        return node
    return {**node, "properties": {k: _sourced(v) for k, v in node["properties"].items()}}
