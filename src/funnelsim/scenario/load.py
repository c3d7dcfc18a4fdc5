"""Scenario files: safe YAML with line tracking, dotted overrides, variants, and errors people
can act on.

Every problem is reported as ``FILE:LINE:COL: dotted.path: what is wrong`` (misspelled keys get
a did-you-mean), all problems of all files at once, and nothing is run or written before every
file is valid. Values given with ``--set dotted.key=value`` are located at the option itself.

A variant is a plan that differs from a file in a few values: ``--variant "8 SDRs:
teams.sdr.headcount=8"`` is the first file with that override, named ``8 SDRs``, so a planner
compares a change without copying the file. Its overrides go through the same machinery as
``--set`` (and its problems are located at the option), after the ``--set`` values.

A number may be written with its range and source, ``{low: 4, high: 6, source: "...", grade:
B}`` (``scenario.ranges``): the scenario is validated with each such number's value, then with
the low and the high end of every range, and each problem is located as any other. Overrides
apply first, so ``--set`` replaces a range with a number. A file may say which scenario format
it is written in (``format: 2``); an older or newer one is refused, with a pointer to what
changed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from funnelsim.errors import FunnelsimError
from funnelsim.scenario import ranges
from funnelsim.scenario.schema import (
    Boolean,
    CrossReferenceError,
    Scenario,
    TooLarge,
    UnknownKey,
    did_you_mean,
)

PathKey = tuple[str | int, ...]
SCENARIO_FORMAT = 2  # 1: every file before numbers could carry a range and a source
FORMAT_CHANGES = "docs/scenario.md#format-versions"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, and where it is."""

    where: str  # "file:line:col", "--set key=value" or '--variant "LABEL: ..."'
    path: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.where}: {self.path}: {self.message}"
            if self.path
            else (f"{self.where}: {self.message}")
        )


class ScenarioError(FunnelsimError):
    """The input cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


@dataclass
class Document:
    """Parsed YAML data, and where each value came from."""

    source: str
    data: dict[str, Any]
    marks: dict[PathKey, str] = field(default_factory=dict)
    key_marks: dict[PathKey, str] = field(default_factory=dict)  # where each mapping key is

    def where(self, path: PathKey) -> str:
        """The location of the deepest known node on ``path``."""
        for end in range(len(path), -1, -1):
            mark = self.marks.get(path[:end])
            if mark is not None:
                return mark
        return f"{self.source}:1:1"

    def copy(self) -> Document:
        """An independent copy, to change into another plan (a variant, a study's point)."""
        return Document(
            self.source, copy.deepcopy(self.data), dict(self.marks), dict(self.key_marks)
        )


def _mark(source: str, node: yaml.Node | yaml.Event) -> str:
    mark = node.start_mark
    return f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else f"{source}:1:1"


def _collect_marks(
    source: str,
    node: yaml.Node,
    path: PathKey,
    marks: dict[PathKey, str],
    key_marks: dict[PathKey, str],
    problems: list[Problem],
) -> None:
    """Record where each value is: a scalar at its value, a mapping or list at its key; refuse
    nesting deeper than MAX_DEPTH."""
    if len(path) >= MAX_DEPTH:
        raise ScenarioError(
            [Problem(_mark(source, node), "", f"nested more than {MAX_DEPTH} levels deep")]
        )
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(_mark(source, key_node), _dotted((*path, key)), "duplicate key")
                )
            seen.add(key)
            anchor = value_node if _is_scalar(value_node) else key_node
            marks[(*path, key)] = _mark(source, anchor)
            key_marks[(*path, key)] = _mark(source, key_node)
            _collect_marks(source, value_node, (*path, key), marks, key_marks, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            marks[(*path, index)] = _mark(source, item)
            _collect_marks(source, item, (*path, index), marks, key_marks, problems)


def _is_scalar(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode)


# libyaml's parser when PyYAML was built with it: same nodes and marks, a fifth of the time.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


MAX_DEPTH = 64  # nesting of mappings and lists
MAX_ALIASED = 10_000  # nodes the aliases of a file may stand for, all together


def _guarded(text: str, source: str, root: yaml.Node) -> None:
    """Refuse nesting deeper than MAX_DEPTH, an alias inside its own anchor, and aliases that
    would expand to more than MAX_ALIASED nodes (a 'billion laughs'), before anything is built
    from the nodes. One walk over the composed nodes: each node is visited once."""
    size: dict[int, int] = {}  # expanded size of each finished node
    open_: set[int] = set()
    aliased = 0
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            open_.discard(key)
            continue
        if key in open_:
            _alias_problem(text, source, recursive=True)
        if key in size:  # a second reference: an alias
            aliased += size[key]
            if aliased > MAX_ALIASED:
                _alias_problem(text, source, recursive=False)
            continue
        if depth > MAX_DEPTH:
            raise ScenarioError(
                [Problem(_mark(source, node), "", f"nested more than {MAX_DEPTH} levels deep")]
            )
        children = _children(node)
        if not children:
            size[key] = 1
            continue
        open_.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(children))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _alias_problem(text: str, source: str, *, recursive: bool) -> None:
    """Locate the alias that is recursive or past the budget (the nodes do not keep where an
    alias was written: the events do) and refuse it."""
    sizes: dict[str, int] = {}
    opened: list[tuple[str | None, int]] = []
    count = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            anchor = str(event.anchor)
            where = _mark(source, event)
            if anchor in [a for a, _ in opened]:
                raise ScenarioError(
                    [Problem(where, "", f"alias *{anchor} is inside its own anchor &{anchor}")]
                )
            count += sizes.get(anchor, 1)
            if not recursive and count > MAX_ALIASED:
                raise ScenarioError(
                    [
                        Problem(
                            where,
                            "",
                            f"aliases expand to more than {MAX_ALIASED:,} values: write them out",
                        )
                    ]
                )
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            opened.append((event.anchor, count))
            count += 1
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            opener, start = opened.pop()
            if opener is not None:
                sizes[opener] = count - start
        elif isinstance(event, yaml.ScalarEvent):
            count += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
    what = "a recursive alias" if recursive else f"aliases expanding past {MAX_ALIASED:,} values"
    raise ScenarioError([Problem(f"{source}:1:1", "", f"refused: {what}")])


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def parse_yaml(text: str, source: str) -> Document:
    """Parse YAML safely into data plus a map from each dotted path to its file:line:col."""
    marks: dict[PathKey, str] = {}
    key_marks: dict[PathKey, str] = {}
    problems: list[Problem] = []
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                if "&" in text:  # anchors, so perhaps aliases: walk the expanded tree
                    _guarded(text, source, node)
                _collect_marks(source, node, (), marks, key_marks, problems)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else f"{source}:1:1"
        problem = _one_line(exc.problem)
        raise ScenarioError([Problem(where, "", f"YAML syntax error: {problem}")]) from None
    except yaml.reader.ReaderError as exc:
        position = exc.position if 0 <= exc.position <= len(text) else 0
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise ScenarioError(
            [
                Problem(
                    f"{source}:{line}:{col}",
                    "",
                    f"character {character!r} (#x{ord(character):04x}) is not allowed in YAML",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(
            [Problem(f"{source}:1:1", "", f"YAML error: {_one_line(exc)}")]
        ) from None
    except RecursionError:
        message = f"nested more than {MAX_DEPTH} levels deep"
        raise ScenarioError([Problem(f"{source}:1:1", "", message)]) from None
    if node is None or data is None:
        raise ScenarioError([Problem(f"{source}:1:1", "", "the file is empty")])
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem(_mark(source, node), "", "expected a mapping of sections (name: ..., ...)")]
        )
    marks[()] = _mark(source, node)
    if problems:
        raise ScenarioError(problems)
    return Document(source, data, marks, key_marks)


def read_document(path: str | Path) -> Document:
    """Read a scenario file; a missing or unreadable file is a ScenarioError, not a traceback."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(str(path), "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(
            [Problem(str(path), "", "is a directory, not a scenario file")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(str(path), "", f"cannot read the file: {exc}")]) from None
    return parse_yaml(text, str(path))


# -- overrides ---------------------------------------------------------------------------------
def _dotted(path: PathKey) -> str:
    return ".".join(str(p) for p in path)


def parse_override(text: str, where: str | None = None) -> tuple[PathKey, Any]:
    """``'teams.sdr.headcount=12'`` -> (('teams', 'sdr', 'headcount'), 12), value read as YAML.

    Problems are reported at ``where`` (default: the ``--set`` option that gave ``text``).
    """
    where = f"--set {text}" if where is None else where
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError([Problem(where, "", "expected dotted.key=value")])
    parts = dotted_path(key.strip())
    if any(p == "" for p in parts):
        raise ScenarioError([Problem(where, key, "empty part in the dotted key")])
    try:
        value = _read_value(raw) if raw.strip() else None
    except ScenarioError as error:  # an alias bomb, or nesting too deep: said at the option
        raise ScenarioError([Problem(where, key, p.message) for p in error.problems]) from None
    except yaml.YAMLError as exc:
        problem = _one_line(getattr(exc, "problem", None) or exc)
        raise ScenarioError([Problem(where, key, f"cannot read the value: {problem}")]) from None
    return parts, value


def _read_value(raw: str) -> Any:
    """A ``--set`` value, read as YAML with the file's limits on aliases and nesting."""
    loader = _Loader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _guarded(raw, "", node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def set_value(document: Document, path: PathKey, value: Any, where: str) -> None:
    """Set one value at a dotted path (intermediate mappings are created); problems with it
    are reported at ``where`` (an option, or a place in another file)."""
    node: Any = document.data
    for depth, part in enumerate(path[:-1]):
        nxt = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            nxt = node[part]
        if nxt is None:
            if not isinstance(node, dict):
                raise ScenarioError([Problem(where, _dotted(path[: depth + 1]), "no such item")])
            nxt = node[part] = {}
        node = nxt
    last = path[-1]
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError([Problem(where, _dotted(path), "no such item")])
    for marks in (document.marks, document.key_marks):
        for known in [p for p in marks if p[: len(path)] == path]:
            del marks[known]
    for end in range(1, len(path) + 1):
        if path[:end] not in document.marks or end == len(path):
            document.marks[path[:end]] = where
    document.key_marks[path] = where


def dotted_path(key: str) -> PathKey:
    """``'teams.sdr.headcount'`` -> ('teams', 'sdr', 'headcount'); digits index lists."""
    return tuple(int(p) if p.isdigit() else p for p in key.split("."))


def apply_overrides(
    document: Document, overrides: Sequence[str], where: str | None = None
) -> Document:
    """Set each ``dotted.key=value`` in the document; intermediate mappings are created.

    Problems are located at ``where``, by default at each override's own ``--set`` option.
    """
    problems: list[Problem] = []
    for text in overrides:
        at = f"--set {text}" if where is None else where
        try:
            path, value = parse_override(text, at)
            set_value(document, path, value, at)
        except ScenarioError as error:  # every override's problem, not the first one's
            problems += [p for p in error.problems if p not in problems]
    if problems:
        raise ScenarioError(problems)
    return document


# -- variants ----------------------------------------------------------------------------------
VARIANT_FORM = "'LABEL: KEY=VALUE; KEY=VALUE'"


@dataclass(frozen=True)
class Variant:
    """A plan that is the first file with a few values changed, named ``label``.

    Written ``LABEL: KEY=VALUE; KEY=VALUE``: the label ends at the first ``': '``, and the
    overrides (dotted keys, as ``--set`` takes them) are separated by ``'; '``.
    """

    label: str
    overrides: tuple[str, ...]
    text: str  # as given, to locate problems

    @property
    def where(self) -> str:
        return variant_where(self.text)


def variant_where(text: str) -> str:
    """Where a variant's problems are reported: the option as typed, quoted, since its text
    holds the ``': '`` that otherwise separates a location from its message."""
    return f'--variant "{text}"'


def parse_variant(text: str) -> Variant:
    """``'8 SDRs: teams.sdr.headcount=8'`` -> Variant('8 SDRs', ('teams.sdr.headcount=8',)).

    The label is required (it names the plan in every table and results folder), and so is at
    least one override; each must be ``dotted.key=value``. The keys are checked against the
    scenario when the variant is built (:func:`load_scenarios`).
    """
    where = variant_where(text)
    label, sep, rest = text.partition(": ")
    label = label.strip()
    if not sep:
        problem = f"expected {VARIANT_FORM}: no label (the label ends at the first ': ')"
        raise ScenarioError([Problem(where, "", problem)])
    if not label:
        raise ScenarioError([Problem(where, "", "missing label before ': '")])
    overrides = tuple(part.strip() for part in rest.split("; "))
    if not any(overrides):
        raise ScenarioError([Problem(where, "", "no override after the label")])
    if not all(overrides):
        raise ScenarioError([Problem(where, "", "empty override between '; ' separators")])
    for override in overrides:
        parse_override(override, where)  # the KEY=VALUE form, before anything is loaded
    return Variant(label, overrides, text)


def _variant_of(document: Document, variant: Variant) -> Scenario:
    """The scenario ``document`` describes with the variant's changes, named by its label."""
    changed = apply_overrides(document.copy(), variant.overrides, variant.where)
    set_value(changed, ("name",), variant.label, variant.where)
    scenario: Scenario = validate_document(changed, Scenario)
    return scenario


# -- validation errors -> problems -------------------------------------------------------------
_BRANCH_MISMATCH = {
    "literal_error",
    "model_type",
    "dict_type",
    "string_type",
    "model_attributes_type",
}


def _resolve(data: Any, loc: tuple[str | int, ...]) -> PathKey:
    """The part of a pydantic error location that exists in the data (union tags skipped)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _message(error: dict[str, Any]) -> tuple[str, PathKey]:
    """A readable message for one pydantic error, and path parts to add to its location."""
    kind, ctx, extra = error["type"], error.get("ctx") or {}, ()
    got = error.get("input")
    if isinstance(got, UnknownKey):
        return got.message(), extra
    if kind == "invalid_key":
        return f"unknown key {got!r}: the keys here are words", extra
    if isinstance(got, Boolean):
        return f"expected a number, got {got!r}", extra
    if isinstance(got, TooLarge):
        return got.message(), extra
    if kind == "unknown_key":
        return error["msg"], (ctx["key"],)
    if kind == "missing":
        return "required field is missing", (error["loc"][-1],)
    if kind == "union_tag_invalid":
        field_name = ctx["discriminator"].strip("'")
        expected = _quoted(ctx["expected_tags"])
        tag = str(ctx["tag"])
        what = "distribution" if field_name == "dist" else field_name
        hint = did_you_mean(tag, expected)
        return f"unknown {what} '{tag}'{hint}; expected one of: {', '.join(expected)}", (
            field_name,
        )
    if kind == "union_tag_not_found":
        field_name = ctx["discriminator"].strip("'")
        return f"missing '{field_name}' to say which kind this is", extra
    message = error["msg"]
    if kind == "literal_error":
        expected = _quoted(str(ctx.get("expected", "")))
        got = error.get("input")
        hint = did_you_mean(got, expected) if isinstance(got, str) else ""
        message = f"got {got!r}{hint}; expected {' or '.join(repr(e) for e in expected)}"
        if error["loc"][:1] == ("calendar",):
            message += " or a mapping of workdays, hours and holidays"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:], extra


def problems_from(exc: ValidationError, document: Document) -> list[Problem]:
    """Turn a pydantic ValidationError into located problems, one per distinct complaint."""
    found: list[tuple[PathKey, str, str]] = []  # (path, message, error type)
    inputs: dict[PathKey, Any] = {}
    for error in exc.errors():
        data_path = _resolve(document.data, tuple(error["loc"]))
        message, extra = _message(dict(error))
        kind = "extra_forbidden" if isinstance(error.get("input"), UnknownKey) else error["type"]
        found.append(((*data_path, *extra), message, kind))
        inputs.setdefault(found[-1][0], error.get("input"))
    # A union (calendar: 'always' | {...}) reports a mismatch for every branch it did not take:
    # keep the complaints of the branch that matched the shape of the data.
    paths = {p for p, _, _ in found}
    # a misspelled key is reported once, as a typo: not again as its field missing
    meant = {
        (*path[:-1], value.meant())
        for path, value in inputs.items()
        if isinstance(value, UnknownKey) and value.meant()
    }
    problems: list[Problem] = []
    dropped: list[tuple[PathKey, str, str]] = []
    for path, message, kind in found:
        if kind == "missing" and path in meant:
            continue
        if kind in _BRANCH_MISMATCH and any(
            len(q) > len(path) and q[: len(path)] == path for q in paths
        ):
            continue
        if kind in {"model_type", "dict_type"} and any(
            p == path and k == "literal_error" for p, _, k in found
        ):
            continue
        # a word-or-number union (priority: 'score' | 0.3): a word is judged as a word, a
        # number as a number
        if len([p for p, _, _ in found if p == path]) > 1:
            word = isinstance(inputs.get(path), str)
            if (kind == "literal_error") != word:
                if kind == "literal_error":
                    dropped.append((path, message, kind))
                continue
        problem = _located(document, path, message, kind)
        if problem not in problems:
            problems.append(problem)
    # every branch of a union refused a value of no branch's shape (calendar: 5): say what is
    # expected rather than nothing
    for path, message, kind in dropped:
        if not any(
            p.path == _dotted(path) or p.path.startswith(f"{_dotted(path)}.") for p in problems
        ):
            problems.append(_located(document, path, message, kind))
    if not problems and found:
        path, message, kind = found[0]
        problems.append(_located(document, path, message, kind))
    return problems


def _located(document: Document, path: PathKey, message: str, kind: str) -> Problem:
    where = document.where(path)
    if kind in {"unknown_key", "extra_forbidden"}:
        where = document.key_marks.get(path, where)
    return Problem(where, _dotted(path), message)


def _attempt(
    document: Document, model: type[BaseModel], context: dict[str, Any] | None
) -> tuple[Any, list[Problem]]:
    """The document as ``model``, or None and every problem, located."""
    try:
        return model.model_validate(document.data, context=context), []
    except ValidationError as exc:
        return None, problems_from(exc, document)
    except CrossReferenceError as exc:
        return None, [
            Problem(
                document.key_marks.get(path, document.where(path))
                if at_key
                else document.where(path),
                _dotted(path),
                message,
            )
            for path, message, at_key in exc.problems
        ]


def validate_document(
    document: Document, model: type[BaseModel] = Scenario, context: dict[str, Any] | None = None
) -> Any:
    """The document as ``model``, or a ScenarioError locating every problem; ``context``
    reaches the model's validators (what a study may name, say). A scenario's format is
    checked and its extended numbers (``scenario.ranges``) are taken out first."""
    if model is Scenario:
        return _validate_scenario(document, context)
    result, problems = _attempt(document, model, context)
    if problems:
        raise ScenarioError(problems)
    return result


# -- format versions and extended numbers ------------------------------------------------------
def _format_checked(document: Document) -> Document:
    """The document without its ``format`` key, if it says the current format; else an error."""
    if "format" not in document.data:
        return document  # no format: the current one
    given = document.data["format"]
    if isinstance(given, bool) or not isinstance(given, int):
        message = f"expected a whole number, the scenario format ({SCENARIO_FORMAT}); got {given!r}"
    elif given == SCENARIO_FORMAT:
        data = {key: value for key, value in document.data.items() if key != "format"}
        return Document(document.source, data, document.marks, document.key_marks)
    elif 1 <= given < SCENARIO_FORMAT:
        message = (
            f"this file is scenario format {given}; funnelsim reads format {SCENARIO_FORMAT} "
            f"(what changed: {FORMAT_CHANGES})"
        )
    elif given > SCENARIO_FORMAT:
        message = (
            f"this file is scenario format {given}, newer than this funnelsim reads (format "
            f"{SCENARIO_FORMAT}): use a newer funnelsim"
        )
    else:
        message = f"there is no scenario format {given}; funnelsim reads format {SCENARIO_FORMAT}"
    raise ScenarioError([Problem(document.where(("format",)), "format", message)])


def _issue_problem(document: Document, issue: ranges.Issue) -> Problem:
    where = document.where(issue.at)
    if issue.at_key:
        where = document.key_marks.get(issue.at, where)
    return Problem(where, _dotted(issue.path), issue.message)


def _validate_scenario(document: Document, context: dict[str, Any] | None) -> Scenario:
    """A scenario file's document, its format checked, validated with its extended numbers
    (:func:`validate_ranged`), which it keeps (``ranges.attach``)."""
    scenario, numbers = validate_ranged(_format_checked(document), Scenario, context)
    ranges.attach(scenario, numbers)
    return scenario


def validate_ranged(
    document: Document, model: type[M], context: dict[str, Any] | None = None
) -> tuple[M, dict[PathKey, ranges.Range]]:
    """``document`` as ``model``, its extended numbers (``scenario.ranges``) validated with
    every value, then with every range at its low end and at its high end; a problem at a
    number names the end that has it (``low: ...``). Returns the model at the values and the
    numbers, by path; raises a ScenarioError locating every problem."""
    found = ranges.find(document.data, model)
    if not found:  # a plain document: one walk, nothing more
        plain, problems = _attempt(document, model, context)
        if problems:
            raise ScenarioError(problems)
        if not isinstance(plain, model):
            raise ScenarioError([Problem(document.where(()), "", f"not a valid {_noun(model)}")])
        return plain, {}
    issues = list(found.refused)
    numbers: dict[PathKey, ranges.Range] = {}
    for path, (kind, mapping) in found.numbers.items():
        read = ranges.read(kind, mapping, path)
        if isinstance(read, ranges.Range):
            numbers[path] = read
        else:
            issues += read
    # a number with a problem of its own: the schema's complaints about it would only repeat it
    skipped = {_dotted(issue.path) for issue in [*found.refused, *issues]}
    skipped |= {_dotted(path) for path in found.numbers if path not in numbers}
    names = {_dotted(path): path for path in numbers}

    def off(problem: Problem) -> bool:
        return any(problem.path == s or problem.path.startswith(f"{s}.") for s in skipped)

    problems = [_issue_problem(document, issue) for issue in issues]
    ends: list[ranges.End] = ["value"]
    if any(number.has_range for number in numbers.values()):
        ends += ["low", "high"]
    at_ends: dict[str, list[Problem]] = {}
    validated = None
    for end in ends:
        marks = dict(document.marks)
        for path, number in numbers.items():
            if end != "value" or "value" in dict(number.written):
                marks[path] = document.where((*path, end))
        data = ranges.substituted(document.data, numbers, end)
        result, found_problems = _attempt(
            Document(document.source, data, marks, document.key_marks), model, context
        )
        if end == "value":
            validated = result
        at_ends[end] = [p for p in found_problems if not off(p)]
    at_number = {p.path for end in ("low", "high") for p in at_ends.get(end, [])} & set(names)
    elsewhere_at_value = any(p.path not in names for p in at_ends["value"])
    for end in ends:
        for problem in at_ends[end]:
            if problem.path in names:
                number = numbers[names[problem.path]]
                label: str = end
                if end == "value" and "value" not in dict(number.written):
                    if problem.path in at_number:
                        continue  # the end of the range that has it says it
                    label = "value (the midpoint of low and high)"
                problem = Problem(problem.where, problem.path, f"{label}: {problem.message}")
            elif end != "value":
                if elsewhere_at_value:
                    continue  # the same problem, reported once as the file has it
                problem = Problem(
                    problem.where,
                    problem.path,
                    f"with {_ranges_under(problem.path, names)} at the {end} end: "
                    f"{problem.message}",
                )
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise ScenarioError(problems)
    if not isinstance(validated, model):
        raise ScenarioError([Problem(document.where(()), "", f"not a valid {_noun(model)}")])
    return validated, numbers


def _noun(model: type[BaseModel]) -> str:
    return "scenario" if model is Scenario else model.__name__


def _ranges_under(path: str, names: dict[str, PathKey]) -> str:
    """The ranges a problem at ``path`` depends on, named: those under it, else all."""
    under = [n for n in names if path == "" or n.startswith(f"{path}.")] or list(names)
    shown = ", ".join(under[:3]) + (f" and {len(under) - 3} more" if len(under) > 3 else "")
    return f"the range{'s' if len(under) > 1 else ''} of {shown}"


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (``funnelsim schema``): the model's, with the
    ``format`` key and the extended number form wherever a number is taken."""
    schema = ranges.with_sourced_numbers(Scenario.model_json_schema())
    schema["properties"] = {
        "format": {
            "const": SCENARIO_FORMAT,
            "description": f"The scenario format this file is written in ({SCENARIO_FORMAT}).",
        },
        **schema["properties"],
    }
    return schema


def load_scenario(path: str | Path, overrides: Sequence[str] | None = None) -> Scenario:
    """Read, override and validate a scenario file; raise ScenarioError listing every problem."""
    document = apply_overrides(read_document(path), overrides or [])
    scenario: Scenario = validate_document(document, Scenario)
    return scenario


def load_scenarios(
    files: Sequence[str | Path],
    overrides: Sequence[str] | None = None,
    variants: Sequence[str] = (),
) -> list[Scenario]:
    """Every file, then every variant of the first, each with ``overrides`` (``--set``) applied.

    All problems of all files and variants are reported at once (one ScenarioError), before
    anything runs: a planner fixes them in one go rather than one per attempt.
    """
    problems: list[Problem] = []

    def note(error: ScenarioError) -> None:
        problems.extend(p for p in error.problems if p not in problems)  # --set: once, not per file

    parsed = []
    for text in variants:
        try:
            parsed.append(parse_variant(text))
        except ScenarioError as error:
            note(error)
    scenarios: list[Scenario] = []
    first: Document | None = None
    for index, file in enumerate(files):
        try:
            document = apply_overrides(read_document(file), overrides or [])
            unchanged = document.copy()
            scenarios.append(validate_document(document, Scenario))
            if index == 0:
                first = unchanged
        except ScenarioError as error:
            note(error)
    if first is not None:  # a variant of an invalid file would only repeat the file's problems
        for variant in parsed:
            try:
                scenarios.append(_variant_of(first, variant))
            except ScenarioError as error:
                note(error)
    if problems:
        raise ScenarioError(problems)
    return scenarios


def with_settings(
    scenario: Scenario, settings: Mapping[str, Any], name: str, where: str = "<settings>"
) -> Scenario:
    """``scenario`` with a value set at each dotted path (as ``--set`` sets it), named ``name``:
    a candidate plan of a decision (``funnelsim size``, ``optimize``, ``plan``). The numbers it
    does not set keep their sources and ranges; problems are reported at ``where``."""
    data = ranges.with_ranges(scenario, scenario.model_dump(mode="json", exclude_none=True))
    document = Document(where, data)
    for key, value in settings.items():
        set_value(document, dotted_path(key), value, where)
    set_value(document, ("name",), name, where)
    changed: Scenario = validate_document(document, Scenario)
    return changed


def scenario_from_dict(data: dict[str, Any], overrides: Sequence[str] | None = None) -> Scenario:
    """Validate a scenario given as Python data (notebooks, tests)."""
    document = apply_overrides(Document("<dict>", copy.deepcopy(data)), overrides or [])
    scenario: Scenario = validate_document(document, Scenario)
    return scenario
