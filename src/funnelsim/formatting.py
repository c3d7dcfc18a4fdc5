"""Figures as people read them in a budget review: one set of rules for the terminal and reports.

A mean with its confidence interval is written ``12,345 ± 678``: large numbers whole with
thousands separators, small ones to four significant digits, the half-width to two. Shares
(SLA attainment, utilisation) are percentages, and a change in a share is in percentage points
(``+3.4 pp``), since "+3.4%" of a share would be ambiguous. A difference carries its sign.

Also the one-line texts the command line says about a scenario (what ``validate`` reports,
the overload warning), so that the command line only prints.

This module imports nothing heavy: ``validate`` starts without numpy's statistics.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from funnelsim.analysis import Summary
    from funnelsim.scenario.schema import Scenario

NOT_AVAILABLE = "n/a"  # a metric undefined in every replication (no inbound lead, say)
MEAN_DIGITS = 4
HALF_DIGITS = 2


def number(x: float, digits: int = MEAN_DIGITS) -> str:
    """Readable: 12,345 rather than 1.234e+04, 0.8123 rather than 0.81234567."""
    if not math.isfinite(x):
        return NOT_AVAILABLE
    if abs(x) >= 10 ** (digits - 1):
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def cell(summary: Summary, unit: str = "", *, signed: bool = False) -> str:
    """``mean ± half-width`` of a summary in its metric's unit; ``signed`` for a difference.

    With one replication (or an interval otherwise undefined) only the mean is shown; a
    half-width that is zero but for rounding noise shows as 0.
    """
    mean = summary.mean
    if not math.isfinite(mean):
        return NOT_AVAILABLE
    half = summary.half_width
    if abs(half) <= 1e-9 * abs(mean):
        half = 0.0
    share = unit == "share"
    scale = 100.0 if share else 1.0
    suffix = (" pp" if signed else "%") if share else ""
    sign = ("+" if mean >= 0 else "-") if signed else ("-" if mean < 0 else "")
    text = f"{sign}{number(abs(mean) * scale)}{suffix}"
    if summary.n < 2 or not math.isfinite(half):
        return text
    return f"{text} ± {number(half * scale, HALF_DIGITS)}{suffix}"


def scalar(value: object) -> str:
    """A value of a query's result: numbers as :func:`number` with six digits."""
    if isinstance(value, float):
        return number(value, 6)
    return str(value)


def validated(file: str | Path, scenario: Scenario) -> str:
    """What ``validate`` says of a good file: its name, its sources, and how loaded its SDRs
    will be on average (offered first-touch work against capacity)."""
    from funnelsim.theory import offered_load

    work, capacity = offered_load(scenario)
    return (
        f"{file}: ok: '{scenario.name}', {len(scenario.sources)} source(s), "
        f"offered load {work:.2f} of {capacity:.2f} SDR-hours per hour "
        f"({work / capacity:.0%} of capacity)"
    )


def overload_warning(scenario: Scenario) -> str | None:
    """A warning when the SDRs are offered more first-touch work than they can do, on average:
    the queue then grows for as long as the run lasts, unless leads expire."""
    from funnelsim.theory import offered_load

    work, capacity = offered_load(scenario)
    if work < capacity:
        return None
    return (
        f"{scenario.name}: offered first-touch work ({work:.2f} SDR-hours per hour) is at or "
        f"above SDR capacity ({capacity:.2f}); queues will grow without bound unless leads expire"
    )


# -- user text in reports: names of scenarios, studies and points, folder paths ---------------
MARKDOWN_SPECIAL = "\\`*_{}[]()#+!|~<>&$"


def markdown_text(value: object) -> str:
    """Text a person wrote (a scenario's name), safe in a Markdown heading, paragraph or table
    cell: one line (every run of whitespace and control characters becomes one space), every
    Markdown punctuation mark escaped with a backslash (no emphasis, link, image, code span,
    extra table column, or math where ``$...$`` is math), and ``<``, ``>``, ``&`` as HTML
    entities (no tag, no entity)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    out = []
    for c in text:
        if c == "<":
            out.append("&lt;")
        elif c == ">":
            out.append("&gt;")
        elif c == "&":
            out.append("&amp;")
        elif c in MARKDOWN_SPECIAL:
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


def chart_text(value: object) -> str:
    """Text a person wrote, shown as it is in a matplotlib chart: one line, every ``$``
    escaped so that no mathtext is parsed (charts are drawn with ``text.usetex`` off)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    return text.replace("$", r"\$")
