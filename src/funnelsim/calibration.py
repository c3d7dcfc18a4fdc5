"""A scenario fitted from a planner's own CRM export: ``funnelsim calibrate``.

The export tells how many leads each source brings and when (weekday, hour, month), how they
split by company size, how deals size up, win and take their time, and how a lead's odds fall
while it waits for a first touch (``funnelsim.crm.fits``). It cannot tell what the funnel
costs, how many people work it, how long a touch takes or when they work: those come from a
**base scenario** (``--base``, by default the bundled ``scenarios/baseline.yaml``).

:func:`calibrate` writes the two together as a normal scenario file (YAML text, so that its
comments survive): every fitted number in the extended form ``{value, low, high, source,
grade}`` (the range is the fit's confidence interval, the source names the export's files, the
number of records and the method; grade ``B`` from 30 records, ``C`` below), every section
taken from the base marked with a comment saying so. The export's sources replace the base's
(named by their slug, ``Organic Search`` -> ``organic_search``), each built on the base's first
source of its kind as a template. The file is validated before it is returned; a fitted range
whose end the scenario refuses (a deal size interval reaching below zero on a handful of
deals) keeps its value and loses its range, and says so in ``notes``.

**Spend.** With a spend file (``calibrate --spend``), an inbound source whose spend -> leads
curve was fitted (``funnelsim.crm.fits``: ``response.SOURCE.*``) or imported from a media-mix
model (``responses``, :func:`funnelsim.crm.response.read_responses`; an imported curve
replaces the fitted one) is written bought with spend, as the model simulates it:
``spend: {by_month: [...], first_month: YYYY-MM}``, the export's spend of each month from its
first month (whole money), dated, so that a replay lines the months up whatever its warm-up
(the warm-up's months spend as the first one did), and
``response: {curve: hill, leads_at_saturation, half_saturation, shape, adstock}`` in the
extended form (grade ``B`` from 12 months, ``C`` below; a number the fit held fixed is an
``assumption``). Its ``arrivals`` keep the weekday and hour shapes, no rate and no month
shape: month to month, its leads follow the spend. Other sources keep their fitted rate.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from funnelsim.crm.formats import slug
from funnelsim.curves import RESPONSE_PARAMETERS
from funnelsim.scenario.load import (
    Problem,
    ScenarioError,
    parse_yaml,
    read_document,
    validate_document,
)
from funnelsim.scenario.schema import Scenario

if TYPE_CHECKING:
    from funnelsim.crm.data import Export
    from funnelsim.crm.fits import Fits
    from funnelsim.crm.response import ImportedResponse

WHERE = "the calibrated scenario"  # where its problems are located (it is not written yet)
MIN_RECORDS_FOR_B = 30  # a fit on fewer records is graded C
MIN_MONTHS_FOR_B = 12  # a spend -> leads curve fitted on fewer months (n=... months) too
SEGMENT_NAMES = ("smb", "mid", "ent")  # funnelsim.crm.data.segment_of's size bands
# The top-level sections of a scenario, in the order a file is written.
ORDER = (
    "format", "name", "description", "start", "horizon", "warmup", "seed", "currency",
    "calendar", "segments", "sources", "marketing", "handoff", "teams", "economics",
    "initial", "outside_bands",
)  # fmt: skip


def bundled_baseline() -> Path:
    """The bundled baseline scenario (a source checkout's ``scenarios/baseline.yaml``)."""
    return Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"


@dataclass
class Calibration:
    """A calibrated scenario: its file's text, the fits behind it and what could not be used."""

    text: str  # the scenario file, with its comments
    scenario: Scenario  # the text, validated
    fits: Fits
    fitted: list[str] = field(default_factory=list)  # dotted paths filled from the export
    notes: list[str] = field(default_factory=list)  # fits not used, ranges dropped, and why


def calibrate(
    export: Export,
    base: Scenario | None,
    *,
    name: str,
    base_data: dict[str, Any] | None = None,
    base_label: str | None = None,
    fits: Fits | None = None,
    refined: Mapping[str, dict[str, object]] | None = None,
    responses: str | Path | Mapping[str, ImportedResponse] | None = None,
) -> Calibration:
    """The scenario the export describes, completed by ``base`` (see the module).

    ``base_data`` is the base file's content as written (its ranges, sources and order kept;
    default: ``base`` dumped); ``base_label`` names it in the comments (default its name);
    ``base`` None reads the bundled baseline. ``fits`` default: ``funnelsim.crm.fits.fit``.
    ``refined``: numbers calibrated by simulation (``funnelsim.refinement``), by path, written
    in place of the fitted or base ones. ``responses``: spend -> leads curves imported from a
    media-mix model, a response file (read first: its problems are a located ScenarioError
    before anything else) or its curves as read, by channel slug; each replaces the fitted
    curve of its channel.
    """
    imported = _imported(responses)
    if base is None:
        bundled = bundled_baseline()
        document = read_document(bundled)
        base = validate_document(document, Scenario)
        base_data, base_label = document.data, base_label or str(bundled)
    if base_data is None:
        from funnelsim.scenario.ranges import with_ranges

        base_data = with_ranges(base, base.model_dump(mode="json", exclude_none=True))
    if fits is None:
        from funnelsim.crm.fits import fit

        fits = fit(export)
    label = base_label or base.name
    data = copy.deepcopy(base_data)
    notes: list[str] = []
    numbers = {path: _graded(number) for path, number in fits.scenario_numbers().items()}
    _win_after_stages(numbers, base, notes)
    numbers.update(refined or {})
    sources = _sources(export, data, fits, numbers, notes, imported)
    data["sources"] = {key: value for key, (value, _) in sources.items()}
    curves = [key for key, (value, _) in sources.items() if "response" in value]
    _spend_notes(export, fits, imported, curves, notes)
    data["name"] = name
    files = ", ".join(Path(p).name for p in export.source_files.values())
    data["description"] = (
        f"Calibrated from the CRM export {files} (taken {export.exported_at:%Y-%m-%d %H:%M}); "
        f"what the export cannot tell is from the base scenario {label}."
    )
    if data.pop("initial", None) is not None:
        notes.append("initial: the base's starting state names its own sources: left out")
    fitted = _apply(data, numbers, notes)
    fitted += [f"sources.{key}.arrivals" for key in sources]
    fitted += [f"sources.{key}.{part}" for key in curves
               for part in ("spend", *(f"response.{p}" for p in RESPONSE_PARAMETERS))]  # fmt: skip
    if fits.decay is not None and isinstance(data.get("handoff"), dict):
        data["handoff"]["decay"] = {"kind": "table", "points": fits.decay.points()}
        fitted.append("handoff.decay")
    for what, why in sorted(fits.skipped.items()):
        notes.append(f"not fitted: {what}: {why}")
    comments = dict.fromkeys(data, f"from the base scenario {label}")
    comments.update(
        name="calibrated from the CRM export",
        description="",
        format="",
        sources="the export's sources: arrivals and segment mix fitted"
        + (", spend -> leads curves where the spend file has the channel" if curves else "")
        + "; the rest from the base's first source of the same kind",
        segments=f"deal size, win rate and cycle fitted where the export has them (see each "
        f"number's source); the rest from the base scenario {label}",
    )
    if "handoff.decay" in fitted:
        comments["handoff"] = (
            f"decay fitted from the export (speed to first touch against SQL); the rest from "
            f"the base scenario {label}"
        )
    if any(path.startswith("teams.") for path in fitted):
        comments["teams"] = (
            f"the AEs' acceptance of SQLs fitted from the export; the rest from the base "
            f"scenario {label}"
        )
    per_source = {key: comment for key, (_, comment) in sources.items()}
    text = _text(data, comments, per_source)
    try:
        scenario = validate_document(parse_yaml(text, WHERE), Scenario)
    except ScenarioError as error:
        # a fitted range the scenario refuses at one end keeps its value, without the range
        refused = [p.path for p in error.problems if _drop_range(data, p.path, fitted)]
        if not refused:
            raise
        notes += [f"range dropped (an end the scenario refuses): {path}" for path in refused]
        text = _text(data, comments, per_source)
        scenario = validate_document(parse_yaml(text, WHERE), Scenario)
    return Calibration(text, scenario, fits, fitted, notes)


def _win_after_stages(
    numbers: dict[str, dict[str, object]], base: Scenario, notes: list[str]
) -> None:
    """A scenario's ``win_rate`` is the buyer's yes at the decision, after the opportunity
    has passed every AE stage (each with its ``advance`` chance); the export's
    opportunity -> won rate includes those stage losses. Divided by the base's chance of
    passing every stage, the won rate becomes the decision's own (at most 1)."""
    ae = base.teams.ae
    passing = math.prod(stage.advance for stage in ae.stages) if ae is not None else 1.0
    if passing >= 1.0:
        return
    for path, number in numbers.items():
        if not path.endswith(".win_rate"):
            continue
        for key in ("value", "low", "high"):
            if isinstance(number.get(key), int | float):
                number[key] = round(min(float(number[key]) / passing, 1.0), 4)  # type: ignore[arg-type]
        number["source"] = (
            f"{number.get('source')}; divided by the base's stage advance {passing:.3g}"
        )
        notes.append(
            f"{path}: the export's opportunity -> won divided by {passing:.3g}, the base's chance "
            "of an opportunity passing every AE stage (the scenario applies both)"
        )


def _graded(number: dict[str, object]) -> dict[str, object]:
    """Grade B from MIN_RECORDS_FOR_B records (the ``n=`` of its source), C below; a curve
    fitted on months (``n=15 months``), B from MIN_MONTHS_FOR_B months (a year of spend)."""
    if number.get("grade") == "assumption":  # held fixed, not measured
        return dict(number)
    found = re.search(r"\bn=(\d+)( months)?", str(number.get("source", "")))
    if found is None:
        return dict(number)
    enough = MIN_MONTHS_FOR_B if found.group(2) else MIN_RECORDS_FOR_B
    grade = "B" if int(found.group(1)) >= enough else "C"
    return {**number, "grade": grade}


def _imported(
    responses: str | Path | Mapping[str, ImportedResponse] | None,
) -> dict[str, ImportedResponse]:
    if responses is None:
        return {}
    if isinstance(responses, str | Path):
        from funnelsim.crm.response import read_responses

        return read_responses(responses)
    return dict(responses)


def _curve(
    key: str,
    fits: Fits,
    numbers: dict[str, dict[str, object]],
    imported: Mapping[str, ImportedResponse],
) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """A source's ``spend`` and ``response`` sections and what they are, when the export has
    its spend and a curve was fitted or imported for it; None otherwise. The fitted curve's
    numbers leave ``numbers`` either way (a source without the curve keeps its rate)."""
    fitted = {p: numbers.pop(f"sources.{key}.response.{p}", None) for p in RESPONSE_PARAMETERS}
    spend = fits.spend_by_month.get(key)
    if spend is None:
        return None
    by_month = {"by_month": [round(value) for value in spend], "first_month": fits.spend_from}
    if key in imported:
        curve = imported[key]
        return by_month, copy.deepcopy(curve.section), f"its curve imported from {curve.file}"
    if fitted["leads_at_saturation"] is None or fitted["half_saturation"] is None:
        return None
    response: dict[str, Any] = {"curve": "hill"}
    response |= {p: number for p, number in fitted.items() if number is not None}
    return by_month, response, f"its spend -> leads curve fitted from {len(spend)} months"


def _spend_notes(
    export: Export,
    fits: Fits,
    imported: Mapping[str, ImportedResponse],
    curves: list[str],
    notes: list[str],
) -> None:
    """Which sources are bought with spend now, and the imported curves not used, and why.
    (The spend file's channels that name no source are in ``fits.skipped``.)"""
    if curves:
        notes.append(
            f"spend -> leads curves for {', '.join(curves)}: spend.by_month is the export's "
            f"spend of each month from {fits.spend_from} (first_month; a warm-up before it spends "
            "as that month did); their arrivals keep the weekday and hour shapes, no rate and "
            "no month shape: month to month, their leads follow the spend"
        )
    for key, curve in imported.items():
        if key in curves:
            continue
        if fits.kinds.get(key) != "inbound":
            why = "no inbound source of the export is this channel"
        elif export.spend is None:
            why = "a curve needs the channel's monthly spend: give the spend file (--spend)"
        else:
            why = "the spend file has no spend for this channel"
        notes.append(f"imported curve of {curve.channel!r} ({curve.file}) not used: {why}")


def _sources(
    export: Export,
    data: dict[str, Any],
    fits: Fits,
    numbers: dict[str, dict[str, object]],
    notes: list[str],
    imported: Mapping[str, ImportedResponse],
) -> dict[str, tuple[dict[str, Any], str]]:
    """The export's sources as scenario sources, each with the comment saying where its
    settings come from."""
    base_sources: dict[str, Any] = data.get("sources") or {}
    templates: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, source in base_sources.items():
        if isinstance(source, dict):
            templates.setdefault(str(source.get("kind")), (key, source))
    segments = [s for s in (data.get("segments") or {}) if s in SEGMENT_NAMES]
    leads = export.leads
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for value in sorted(leads["source"].astype(str).unique()):
        key = slug(value)
        if key in out:
            continue
        mine = leads[leads["source"].astype(str).map(slug) == key]
        kind = str(mine["kind"].iloc[0])
        if kind not in templates:
            notes.append(
                f"sources.{key}: a {kind} source, but the base scenario has none to take its "
                "settings from: left out"
            )
            continue
        template_key, template = templates[kind]
        source = copy.deepcopy(template)
        fitted = []
        if kind == "inbound":
            for unused in ("spend", "response"):
                source.pop(unused, None)
            rate = numbers.pop(f"sources.{key}.arrivals.rate", None)
            curve = _curve(key, fits, numbers, imported)
            if curve is not None:
                spend, response, how = curve
                # the spend and its curve first: they say where this source's leads come from
                first = {"kind": kind, "spend": spend, "response": response,
                         "arrivals": _shapes(fits, key, seasonal=False)}  # fmt: skip
                source = first | {k: v for k, v in source.items() if k not in first}
                fitted.append(f"spend by month (the spend file), {how}; arrival shapes")
            elif rate is None:
                notes.append(f"sources.{key}: no arrival rate fitted: left out")
                continue
            else:
                source["arrivals"] = {"rate": rate, **_shapes(fits, key)}
                fitted.append("arrival rate and shapes")
        else:
            contacts = numbers.pop(f"sources.{key}.contacts_per_month", None)
            if contacts is None:
                notes.append(f"sources.{key}: no contacts per month fitted: left out")
                continue
            source["contacts_per_month"] = contacts
            fitted.append("contacts per month")
        mix = _segment_mix(mine["segment"].astype(str).tolist(), segments)
        if mix:
            source["segment_mix"] = mix
            fitted.append("segment mix")
        comment = (
            f"'{value}' in the export ({len(mine)} records): {', '.join(fitted)} fitted; the "
            f"rest from the base's source '{template_key}'"
        )
        out[key] = (source, comment)
    if not out:
        where = export.source_files.get("contacts", "the export")
        raise ScenarioError(
            [Problem(where, "", "no source of the export could be made a scenario source")]
        )
    return out


def _shapes(fits: Fits, key: str, *, seasonal: bool = True) -> dict[str, Any]:
    """A source's fitted weekday, hour and (``seasonal``) month shapes, as ``arrivals`` takes
    them. A source bought with spend takes no month shape: its months are the spend's."""
    shapes: dict[str, Any] = {}
    weekdays = fits.profiles.get(f"weekdays.{key}")
    if weekdays is not None:
        shapes["weekdays"] = weekdays.plain()
    hours = fits.profiles.get(f"hours.{key}")
    if hours is not None:
        plain = hours.plain()
        shapes["hours"] = [plain.get(f"{h:02d}", 0.0) for h in range(24)]
    months = fits.profiles.get(f"months.{key}")
    if months is not None and seasonal:
        shapes["months"] = months.plain()
    return shapes


def _segment_mix(segments: list[str], known: list[str]) -> dict[str, float]:
    """Shares of the source's records by size band, among the scenario's segments (records
    of unknown size left out); empty when none is known."""
    counts = {s: segments.count(s) for s in known}
    total = sum(counts.values())
    if total == 0:
        return {}
    return {s: round(c / total, 4) for s, c in counts.items()}


def _apply(
    data: dict[str, Any], numbers: dict[str, dict[str, object]], notes: list[str]
) -> list[str]:
    """Put each fitted number at its path, where the base has the section it belongs to."""
    done = []
    for path, number in numbers.items():
        parts = path.split(".")
        node: Any = data
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if not isinstance(node, dict):
            notes.append(f"{path}: the base scenario has no {'.'.join(parts[:-1])}: not used")
            continue
        node[parts[-1]] = number
        done.append(path)
    return done


def _drop_range(data: dict[str, Any], path: str, fitted: list[str]) -> bool:
    """Take the ends off the fitted number at ``path`` (the value stays); False if none."""
    for candidate in fitted:
        if path == candidate or path.startswith(f"{candidate}."):
            node: Any = data
            for part in candidate.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and "low" in node:
                node.pop("low", None)
                node.pop("high", None)
                return True
    return False


# -- the file ---------------------------------------------------------------------------------
def _dump(key: str, value: Any, indent: int) -> str:
    """One key and its value as block YAML (a scalar, or a collection of scalars such as an
    extended number, on the key's line), indented."""
    value = _builtin(value)
    pad = " " * indent
    if not _nested(value):
        return f"{pad}{_inline(key)}: {_inline(value)}\n"
    text = yaml.safe_dump(
        {key: value}, sort_keys=False, default_flow_style=None, width=10**6, allow_unicode=True
    )
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def _nested(value: Any) -> bool:
    """Whether a collection holds collections (then it is written as a block)."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return any(isinstance(item, dict | list) for item in items)


def _inline(value: Any) -> str:
    """A scalar or a flat collection on one line, as YAML reads it back."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _builtin(value: Any) -> Any:
    """``value`` with numpy's numbers as Python's, which YAML writes."""
    if isinstance(value, dict):
        return {k: _builtin(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_builtin(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()  # a numpy scalar
    return value


def _comment(text: str, indent: int) -> str:
    return f"{' ' * indent}# {text}\n" if text else ""


def _text(data: dict[str, Any], comments: dict[str, str], per_source: dict[str, str]) -> str:
    """The scenario file: each section with the comment that says where it comes from."""
    lines = [
        "# A scenario calibrated from a CRM export by `funnelsim calibrate`. Every fitted number\n",
        "# is written {value, low, high, source, grade}: the range is the fit's 95% confidence\n",
        "# interval, the source names the export, its records (n) and the method.\n",
    ]
    keys = [k for k in ORDER if k in data] + [k for k in data if k not in ORDER]
    for key in keys:
        lines.append(_comment(comments.get(key, ""), 0))
        if key == "sources":
            lines.append("sources:\n")
            for name, source in data["sources"].items():
                lines.append(_comment(per_source.get(name, ""), 2))
                lines.append(_dump(name, source, 2))
            continue
        lines.append(_dump(key, data[key], 0))
    return "".join(lines)
