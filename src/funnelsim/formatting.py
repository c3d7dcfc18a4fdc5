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
    from funnelsim.uncertainty import Spread

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


CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def currency_sign(currency: str) -> str:
    """How an amount in ``currency`` (a scenario's ISO code) is prefixed: "$", or "CHF "."""
    return CURRENCY_SIGNS.get(currency, f"{currency} ")


def money(x: float, sign: str = "$") -> str:
    """An amount as a budget review writes it, to three figures: $1.23M, $45.6k, $950."""
    if not math.isfinite(x):
        return NOT_AVAILABLE
    minus, x = ("-" if x < 0 else ""), abs(x)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= size:
            return f"{minus}{sign}{x / size:.3g}{suffix}"
    return f"{minus}{sign}{x:,.0f}"


def cell(summary: Summary, unit: str = "", *, signed: bool = False) -> str:
    """``mean ± half-width`` of a summary in its metric's unit; ``signed`` for a difference.

    With one replication (or an interval otherwise undefined) only the mean is shown; a
    half-width that is zero but for rounding noise shows as 0.
    """
    return mean_text(summary.mean, summary.half_width, summary.n, unit, signed=signed)


def mean_text(mean: float, half: float, n: int, unit: str, *, signed: bool = False) -> str:
    """``mean ± half`` as :func:`cell` writes it, from the numbers."""
    if not math.isfinite(mean):
        return NOT_AVAILABLE
    if abs(half) <= 1e-9 * abs(mean):
        half = 0.0
    share = unit == "share"
    scale = 100.0 if share else 1.0
    suffix = (" pp" if signed else "%") if share else ""
    sign = ("+" if mean >= 0 else "-") if signed else ("-" if mean < 0 else "")
    text = f"{sign}{number(abs(mean) * scale)}{suffix}"
    if n < 2 or not math.isfinite(half):
        return text
    return f"{text} ± {number(half * scale, HALF_DIGITS)}{suffix}"


def spread_cells(spread: Spread, unit: str = "") -> tuple[str, str, str]:
    """A metric's spread over uncertain inputs as three cells: ``mean ± half-width`` (the
    mean's interval), ``p05 to p95`` (single outcomes) and the inputs' share of the variance
    with its interval."""
    mean = mean_text(spread.mean, (spread.ci_high - spread.ci_low) / 2, 2, unit)
    scale, suffix = (100.0, "%") if unit == "share" else (1.0, "")
    band = NOT_AVAILABLE
    if math.isfinite(spread.p05):
        band = f"{number(spread.p05 * scale)}{suffix} to {number(spread.p95 * scale)}{suffix}"
    share = NOT_AVAILABLE
    low, high = spread.parameter_share_ci
    if math.isfinite(spread.parameter_share):
        share = f"{spread.parameter_share:.0%} [{low:.0%}, {high:.0%}]"
    return mean, band, share


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


def uncertain_lines(scenario: Scenario) -> list[str]:
    """What ``validate`` says of the scenario's uncertain inputs (its numbers with a range):
    a count, then one line each, ``path: low to high (shape; value V; grade: source)``."""
    from funnelsim.scenario.ranges import ranges_of

    ranged = {path: r for path, r in ranges_of(scenario).items() if r.has_range}
    if not ranged:
        return []
    lines = [f"{len(ranged)} uncertain input(s), each drawn from its range by --uncertainty:"]
    for path, r in ranged.items():
        said = f"{r.grade}: {r.source}" if r.source else (r.grade or "no source")
        lines.append(f"  {path}: {r.low} to {r.high} ({r.shape}; value {r.value}; {said})")
    return lines


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
