"""Spend -> leads curves imported from a fitted media-mix model, for ``funnelsim calibrate``.

A marketing science team that has fitted a media-mix model (pymc-marketing, Robyn, Meridian)
knows each channel's saturation curve and carry-over better than a year of one CRM export
tells them. A **response file** hands those curves to the calibration: each channel, by the
name the export's source column gives it (or its slug), maps to a scenario's ``response``
section, each number plain or in the extended form ``{value, low, high, source, grade}``::

    Paid Search:
      curve: hill
      leads_at_saturation: {value: 420, low: 360, high: 500, source: "MMM 2025-Q4", grade: B}
      half_saturation: 38000            # money per month
      shape: 1.2
      adstock: {value: 0.25, low: 0.1, high: 0.4}
    content:
      curve: logistic
      leads_at_saturation: 180
      steepness: 0.00004
      adstock: 0.5

The file is read as scenario files are (``funnelsim.scenario.load``): each section validated
by the scenario's own :class:`~funnelsim.scenario.schema.Response`, with its value and each end
of its ranges, and every problem located ``FILE:LINE:COL: channel.field: what is wrong``
(a misspelled key with a did-you-mean), all of them at once, before anything is written.
Check the units first (``funnelsim.curves``): the curve is applied to adstocked spend in the
scenario's currency per month, without the scaling many media-mix fits apply.

An imported curve replaces the one the calibration would fit from ``--spend`` for its
channel; the channel still needs its monthly spend in the spend file, which the calibrated
scenario replays (``funnelsim.calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funnelsim.crm.formats import slug
from funnelsim.scenario.load import (
    Document,
    PathKey,
    Problem,
    ScenarioError,
    read_document,
    validate_ranged,
)
from funnelsim.scenario.schema import Response

EXAMPLE = "{curve: hill, leads_at_saturation: ..., half_saturation: ..., shape: ..., adstock: ...}"


@dataclass(frozen=True)
class ImportedResponse:
    """One channel's curve from a response file: the section as written (its ranges and
    sources kept, for the scenario file) and as validated."""

    channel: str  # as the file names it
    section: dict[str, Any]
    response: Response  # the section's values
    file: str


def read_responses(path: str | Path) -> dict[str, ImportedResponse]:
    """The curves of a response file (see the module), by the slug of their channel.

    Raises ScenarioError with every problem located (``file:line:col: path: what``): a file
    missing, unreadable or not YAML, a channel that is not a section, an unknown key (with a
    did-you-mean), a number out of its range, two channels with one slug."""
    document = read_document(path)
    found: dict[str, ImportedResponse] = {}
    seen: dict[str, str] = {}  # slug -> the channel that has it
    problems: list[Problem] = []
    for channel, section in document.data.items():
        name = str(channel)
        where = document.where((channel,))
        if not isinstance(section, dict):
            problems.append(Problem(where, name, f"expected a response section {EXAMPLE}"))
            continue
        key = slug(name)
        if key in seen:
            problems.append(
                Problem(
                    document.key_marks.get((channel,), where),
                    name,
                    f"the same channel as {seen[key]!r} (both are '{key}')",
                )
            )
            continue
        seen[key] = name
        response, trouble = _validated(document, channel)
        problems += trouble
        if response is not None:
            found[key] = ImportedResponse(name, section, response, str(path))
    if problems:
        raise ScenarioError(problems)
    return found


def _validated(document: Document, channel: Any) -> tuple[Response | None, list[Problem]]:
    """One channel's section as a Response, with its value and each end of its ranges (as a
    scenario's numbers are validated); the problems named ``channel.field``."""
    try:
        response, _ = validate_ranged(_inner(document, channel), Response)
    except ScenarioError as error:
        return None, [Problem(p.where, _named(channel, p.path), p.message)
                      for p in error.problems]  # fmt: skip
    return response, []


def _inner(document: Document, channel: Any) -> Document:
    """The channel's section as a document of its own, its values located in the file."""
    inside = len((channel,))
    marks = {p[inside:]: m for p, m in document.marks.items() if p[:inside] == (channel,)}
    keys = {p[inside:]: m for p, m in document.key_marks.items() if p[:inside] == (channel,)}
    return Document(document.source, document.data[channel], marks, keys)


def _named(channel: Any, path: PathKey | str) -> str:
    inner = path if isinstance(path, str) else ".".join(str(p) for p in path)
    return f"{channel}.{inner}" if inner else str(channel)
