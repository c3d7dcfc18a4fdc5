"""Reading a planner's CRM export into an :class:`~funnelsim.crm.data.Export`.

A planner exports two years of her funnel from HubSpot (contacts and deals), Salesforce (leads
and opportunities) or another CRM (described by a mapping file), perhaps with a spend CSV
(``month``, ``channel``, ``spend``). This module reads those files into one normalised shape,
whatever the CRM, for ``funnelsim calibrate`` to fit a scenario from.

Real exports are messy, and a planner must never see a traceback. What cannot be read at all
(a missing file, an empty one, a spreadsheet saved as ``.xlsx``, a missing column, a row with
too many cells) is a located error, ``FILE:ROW:COL: column: what is wrong`` (ROW is the line of
the CSV, the header is line 1; COL the column's position), raised as a
:class:`~funnelsim.scenario.load.ScenarioError` (exit 2, nothing written). A row that cannot
be used while the rest can (a date that cannot be read, stage dates out of order, a second
row with the same id, a deal whose contact is not in the export) is left out and counted in
``Export.dropped`` under its reason (:data:`DROP_REASONS`); ``strict=True`` turns each of those
into a located error instead.

Dates are written ``YYYY-MM-DD HH:MM`` in the export's local time (seconds, a ``T`` and a bare
date are read too; a mapping file may give another ``date_format``). They are read as the wall
clock of ``timezone``; a date carrying a UTC offset or ``Z`` (as Salesforce's API writes them)
is converted to that wall clock, so the Export holds naive local times throughout, as a
scenario's calendar reads them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from funnelsim.crm import formats
from funnelsim.crm.data import Export, segment_of
from funnelsim.errors import UsageError
from funnelsim.scenario.load import Problem, ScenarioError, read_document, validate_document
from funnelsim.scenario.schema import Moment, Section, did_you_mean

# Why rows are left out, as ``Export.dropped`` counts them (``--strict``: located errors).
DROP_REASONS: dict[str, str] = {
    "missing_id": "a row without an id",
    "duplicate_lead_id": "a contact or lead id seen on an earlier row (the first is kept)",
    "duplicate_deal_id": "a deal id seen on an earlier row (the first is kept)",
    "missing_created": "a row without its create date",
    "unreadable_date": "a date that cannot be read",
    "unreadable_value": "a number or true/false that cannot be read",
    "mql_before_created": "became an MQL before it was created",
    "sql_before_created": "became an SQL before it was created",
    "sql_before_mql": "became an SQL before it became an MQL",
    "first_touch_before_created": "first sales touch before it was created",
    "closed_before_created": "a deal closed before it was created",
    "missing_closed": "a won or lost deal without its close date",
    "deal_unknown_lead": "a deal whose contact is not in the contacts export",
    "deal_lead_dropped": "a deal whose contact was left out for one of these reasons",
    "duplicate_spend_month": "a second spend row for the same month and channel",
}
MAX_PROBLEMS = 50  # located errors listed before the rest are only counted
DEFAULT_TIMEZONE = "UTC"
DATE_FORM = "YYYY-MM-DD HH:MM"
_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"  # a date that says its own UTC offset
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


# -- the mapping file --------------------------------------------------------------------------
class LeadColumns(Section):
    """Which column of the contacts (leads) file holds each field."""

    id: str | None = Field(default=None, description="The contact's or lead's id (required).")
    created: str | None = Field(default=None, description="When it was created (required).")
    source: str | None = Field(
        default=None, description="Its original source, e.g. 'Organic Search' (required)."
    )
    mql_at: str | None = Field(default=None, description="When it became an MQL.")
    sql_at: str | None = Field(default=None, description="When it became an SQL.")
    first_touch_at: str | None = Field(default=None, description="Its first sales touch.")
    activities: str | None = Field(default=None, description="How many sales activities.")
    industry: str | None = Field(default=None, description="Its company's industry.")
    employees: str | None = Field(default=None, description="Its company's employees.")
    deal_id: str | None = Field(
        default=None,
        description="The deal (opportunity) it converted into, when deals do not name their "
        "contact (Salesforce's ConvertedOpportunityId).",
    )


class DealColumns(Section):
    """Which column of the deals (opportunities) file holds each field."""

    id: str | None = Field(default=None, description="The deal's id (required).")
    lead_id: str | None = Field(
        default=None, description="Its contact's id (or give contacts.deal_id)."
    )
    created: str | None = Field(default=None, description="When it was created (required).")
    closed: str | None = Field(default=None, description="When it was won or lost.")
    stage: str | None = Field(default=None, description="Its stage (see stages).")
    won: str | None = Field(
        default=None, description="A true/false column: won (with is_closed, instead of stage)."
    )
    is_closed: str | None = Field(default=None, description="A true/false column: closed.")
    amount: str | None = Field(default=None, description="Its amount (money).")


class Stages(Section):
    """The deal stage values that mean won and lost; any other stage is open."""

    won: list[str] = Field(default=["closedwon"], description="Stage values meaning won.")
    lost: list[str] = Field(default=["closedlost"], description="Stage values meaning lost.")


class Mapping(Section):
    """How to read one CRM's export: a mapping file, or one of the built-in formats.

    ``format`` starts from a built-in format (``hubspot``, ``salesforce``) and changes only the
    fields given (``null`` says the export has no such column); without it, every column is
    named here. Sources listed in ``outbound_sources`` (by value or slug) are outbound; every
    other source is inbound.
    """

    format: Literal["hubspot", "salesforce"] | None = Field(
        default=None, description="A built-in format to start from."
    )
    contacts: LeadColumns = Field(
        default_factory=lambda: LeadColumns(), description="The contacts (leads) file's columns."
    )
    deals: DealColumns = Field(
        default_factory=lambda: DealColumns(), description="The deals file's columns."
    )
    stages: Stages = Field(
        default_factory=lambda: Stages(), description="Deal stage values: won and lost."
    )
    date_format: str | None = Field(
        default=None,
        description="How dates are written, as strftime writes them (e.g. '%d/%m/%Y %H:%M'); "
        "default YYYY-MM-DD HH:MM (ISO 8601).",
    )
    outbound_sources: list[str] = Field(
        default=[], description="Sources that are outbound (default: none, all are inbound)."
    )
    exported_at: Moment | None = Field(
        default=None,
        description="When the export was taken (default: its latest date); records still "
        "open then are censored there.",
    )

    @field_validator("date_format")
    @classmethod
    def _readable_format(cls, value: str | None) -> str | None:
        if value is None:
            return value
        sample = dt.datetime(2024, 3, 9, 14, 30)
        try:
            written = sample.strftime(value)
            dt.datetime.strptime(written, value.replace("%z", "").replace("%Z", ""))
        except ValueError as error:
            raise ValueError(f"cannot read dates written as {value!r}: {error}") from None
        if "%Y" not in value and "%y" not in value:
            raise ValueError(f"date format {value!r} has no year (%Y)")
        return value


HUBSPOT = Mapping(
    contacts=LeadColumns(
        id=formats.HUBSPOT.contact_id,
        created=formats.HUBSPOT.created,
        source=formats.HUBSPOT.source,
        mql_at=formats.HUBSPOT.mql_date,
        sql_at=formats.HUBSPOT.sql_date,
        first_touch_at=formats.HUBSPOT.first_touch,
        activities=formats.HUBSPOT.activities,
        industry=formats.HUBSPOT.industry,
        employees=formats.HUBSPOT.employees,
    ),
    deals=DealColumns(
        id=formats.HUBSPOT.deal_id,
        lead_id=formats.HUBSPOT.deal_contact,
        created=formats.HUBSPOT.deal_created,
        closed=formats.HUBSPOT.deal_closed,
        stage=formats.HUBSPOT.deal_stage,
        amount=formats.HUBSPOT.amount,
    ),
    stages=Stages(won=[formats.HUBSPOT_WON], lost=[formats.HUBSPOT_LOST]),
)
# Salesforce: a converted lead is an SQL (ConvertedDate) and names its opportunity; the MQL
# and first-touch dates are custom fields, named as funnelsim's own export writes them.
SALESFORCE = Mapping(
    contacts=LeadColumns(
        id=formats.SALESFORCE.lead_id,
        created=formats.SALESFORCE.created,
        source=formats.SALESFORCE.source,
        mql_at=formats.SALESFORCE.mql_date,
        sql_at=formats.SALESFORCE.converted_date,
        first_touch_at=formats.SALESFORCE.first_touch,
        industry=formats.SALESFORCE.industry,
        employees=formats.SALESFORCE.employees,
        deal_id=formats.SALESFORCE.opportunity,
    ),
    deals=DealColumns(
        id=formats.SALESFORCE.opportunity_id,
        created=formats.SALESFORCE.opportunity_created,
        closed=formats.SALESFORCE.close_date,
        stage=formats.SALESFORCE.stage,
        won=formats.SALESFORCE.won,
        is_closed=formats.SALESFORCE.closed,
        amount=formats.SALESFORCE.amount,
    ),
    stages=Stages(won=["Closed Won"], lost=["Closed Lost"]),
)
BUILT_IN: dict[str, Mapping] = {"hubspot": HUBSPOT, "salesforce": SALESFORCE}
_REQUIRED_LEAD = ("id", "created", "source")
_REQUIRED_DEAL = ("id", "created")


@dataclass(frozen=True)
class Format:
    """A mapping as read: the columns, and whether a missing optional column is an error (it
    is when a mapping file names it: the planner said it is there)."""

    mapping: Mapping
    name: str
    named: frozenset[tuple[str, str]] = frozenset()  # (file, field) a mapping file names


def load_mapping(path: str | Path) -> Format:
    """A mapping file, validated as scenario files are: every problem located
    (``FILE:LINE:COL: dotted.path: message``), misspelled keys with a did-you-mean."""
    document = read_document(path)
    given: Mapping = validate_document(document, Mapping)
    named: set[tuple[str, str]] = set()
    mapping = given
    if given.format is not None:
        base = BUILT_IN[given.format]
        contacts = base.contacts.model_copy(update=_given(given.contacts))
        deals = base.deals.model_copy(update=_given(given.deals))
        stages = base.stages.model_copy(update=_given(given.stages))
        mapping = given.model_copy(update={"contacts": contacts, "deals": deals, "stages": stages})
    for name in given.contacts.model_fields_set:
        named.add(("contacts", name))
    for name in given.deals.model_fields_set:
        named.add(("deals", name))
    problems = []
    missing = [f for f in _REQUIRED_LEAD if getattr(mapping.contacts, f) is None]
    if missing:
        problems.append(
            Problem(
                document.where(("contacts",)),
                "contacts",
                f"name the columns of {', '.join(missing)} (or give 'format: hubspot' or "
                "'format: salesforce')",
            )
        )
    missing = [f for f in _REQUIRED_DEAL if getattr(mapping.deals, f) is None]
    if mapping.deals.lead_id is None and mapping.contacts.deal_id is None:
        missing.append("lead_id (or contacts.deal_id)")
    if mapping.deals.stage is None and mapping.deals.won is None:
        missing.append("stage (or won and is_closed)")
    if missing:
        problems.append(
            Problem(
                document.where(("deals",)),
                "deals",
                f"name the columns of {', '.join(missing)}, to read a deals file",
            )
        )
    if problems:
        raise ScenarioError(problems)
    return Format(mapping, str(path), frozenset(named))


def _given(section: Section) -> dict[str, object]:
    return {name: getattr(section, name) for name in section.model_fields_set}


def format_of(fmt: str | Path) -> Format:
    """``hubspot``, ``salesforce`` or the path of a mapping file, as ``--format`` gives it."""
    text = str(fmt)
    if text in BUILT_IN:
        return Format(BUILT_IN[text], text)
    if Path(text).suffix.lower() in (".yaml", ".yml") or Path(text).is_file():
        return load_mapping(text)
    hint = did_you_mean(text, list(BUILT_IN))
    raise UsageError(
        f"unknown format {text!r}{hint}: expected hubspot, salesforce or a mapping file "
        "(MAPPING.yaml)",
        "--format",
    )


def zone_of(timezone: str | None) -> ZoneInfo:
    """The time zone the export's dates are read in (an IANA name; default UTC)."""
    name = timezone or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r}: expected an IANA name such as Europe/Berlin or "
            "America/New_York",
            "--timezone",
        ) from None


# -- one CSV file ------------------------------------------------------------------------------
@dataclass
class _Drops:
    """Rows left out, by reason; with ``strict``, each one a located problem instead."""

    strict: bool
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    more: int = 0

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        problems = sorted(self.problems, key=_position)
        if self.more:
            problems.append(Problem("...", "", f"and {self.more} more problem(s)"))
        raise ScenarioError(problems)


def _position(problem: Problem) -> tuple[str, int, int]:
    """A located problem's file, row and column, to list problems in the files' order."""
    file, row, col = problem.where.rsplit(":", 2)
    return file, int(row), int(col)


@dataclass
class _Table:
    """One CSV file as read: its cells as text, each row's line, and which rows are kept."""

    path: str
    frame: pd.DataFrame
    lines: np.ndarray
    header: list[str]
    keep: np.ndarray  # bool per row

    def where(self, row: int, column: str | None) -> str:
        col = self.header.index(column) + 1 if column in self.header else 1
        return f"{self.path}:{int(self.lines[row])}:{col}"

    def text(self, column: str | None) -> pd.Series:
        """A column's stripped cells ('' for every row when the column is absent)."""
        if column is None or column not in self.frame:
            return pd.Series("", index=self.frame.index, dtype=object)
        return self.frame[column].str.strip()

    def drop(
        self,
        bad: np.ndarray,
        reason: str,
        column: str | None,
        message: Callable[[int], str],
        drops: _Drops,
    ) -> None:
        """Leave out the kept rows marked ``bad``, counted under ``reason`` (strict: each a
        located problem, ``message(row)`` saying what is wrong)."""
        hit = bad & self.keep
        if not hit.any():
            return
        rows = np.flatnonzero(hit)
        if drops.strict:
            for row in rows:
                drops.add(Problem(self.where(int(row), column), column or "", message(int(row))))
        else:
            drops.counts[reason] += len(rows)
        self.keep &= ~hit


def _read_csv(path: Path, what: str, known: set[str]) -> _Table:
    """Read one CSV as text cells; what cannot be read as a table is a located error."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError([Problem(name, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(name, "", f"is a directory, not a {what} CSV")]) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ScenarioError([Problem(name, "", f"cannot read the file: {reason}")]) from None
    if not raw.strip():
        raise ScenarioError([Problem(f"{name}:1:1", "", f"the file is empty: expected a {what}")])
    if b"\x00" in raw[:8192] or raw[:4] == b"PK\x03\x04":  # a spreadsheet, not text
        raise ScenarioError(
            [Problem(f"{name}:1:1", "", "not a CSV file (binary content): export it as CSV")]
        )
    try:
        text = raw.decode("utf-8-sig")  # spreadsheet programs write a byte-order mark
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        col = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise ScenarioError(
            [Problem(f"{name}:{line}:{col}", "", "not UTF-8 text: export the CSV as UTF-8")]
        ) from None
    first = text.split("\n", 1)[0].rstrip("\r")
    sep = _separator(first, known)
    header = next(csv.reader([first], delimiter=sep))
    seen: set[str] = set()
    for i, column in enumerate(header):
        if column in seen:
            raise ScenarioError([Problem(f"{name}:1:{i + 1}", column, "duplicate column")])
        seen.add(column)
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, sep=sep, engine="c"
        )
    except pd.errors.ParserError as error:
        found = re.search(r"line (\d+)", str(error))
        where = f"{name}:{found.group(1)}:1" if found else f"{name}:1:1"
        message = str(error).strip().replace("Error tokenizing data. C error: ", "")
        raise ScenarioError([Problem(where, "", f"cannot read as CSV: {message}")]) from None
    except (pd.errors.EmptyDataError, ValueError) as error:
        raise ScenarioError([Problem(f"{name}:1:1", "", f"cannot read as CSV: {error}")]) from None
    frame = frame.fillna("")  # a short row's missing cells: empty
    return _Table(name, frame, _record_lines(text, sep, len(frame)), header, _all(len(frame)))


def _all(n: int) -> np.ndarray:
    return np.ones(n, dtype=bool)


def _separator(header: str, known: set[str]) -> str:
    """The delimiter that splits the header into the most known columns (',' on a tie):
    spreadsheets in some locales write ';'."""
    best, score = ",", -1
    for sep in (",", ";", "\t"):
        names = next(csv.reader([header], delimiter=sep))
        found = len(set(names) & known)
        if found > score:
            best, score = sep, found
    return best


def _record_lines(text: str, sep: str, rows: int) -> np.ndarray:
    """The line each record starts on (the header is line 1). Without quotes or blank lines
    a record is a line; otherwise the csv module counts them (a quoted cell may hold newlines,
    and pandas skips blank lines)."""
    if '"' not in text and "\n\n" not in text and "\r\n\r\n" not in text:
        return np.arange(2, rows + 2)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    next(reader, None)
    lines: list[int] = []
    start = reader.line_num + 1
    for record in reader:
        if record:  # pandas skips blank lines
            lines.append(start)
        start = reader.line_num + 1
    lines += [lines[-1] + 1 if lines else 2] * (rows - len(lines))  # never short
    return np.asarray(lines[:rows])


def _check_columns(
    table: _Table, columns: dict[str, str | None], required: tuple[str, ...], fmt: Format, file: str
) -> dict[str, str | None]:
    """The columns the file has, by field; a required column missing, or a named one, is a
    located error (with the header column it may be, misspelled); an optional one missing is
    read as empty (fits that need it are skipped)."""
    known = {c for c in columns.values() if c is not None}
    strangers = [c for c in table.header if c not in known]
    problems = []
    present: dict[str, str | None] = {}
    for name, column in columns.items():
        if column is None or column in table.header:
            present[name] = column
            continue
        present[name] = None
        hint = did_you_mean(column, strangers)
        if name not in required and (file, name) not in fmt.named and not hint:
            continue  # an optional column the export does not have
        near = re.search(r"did you mean '([^']*)'", hint)
        col = table.header.index(near.group(1)) + 1 if near else 1
        problems.append(Problem(f"{table.path}:1:{col}", "", f"missing column '{column}'{hint}"))
    if problems:
        raise ScenarioError(problems)
    return present


# -- cells -> values ---------------------------------------------------------------------------
def _dates(text: pd.Series, date_format: str | None, zone: ZoneInfo) -> pd.Series:
    """Cells -> naive local datetimes (NaT when empty or unreadable); a date with a UTC offset
    is converted to ``zone``'s wall clock."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    filled = text != ""
    if not filled.any():
        return out
    if date_format is None:
        aware = filled & text.str.contains(_OFFSET, regex=True)
        naive = filled & ~aware
        if naive.any():
            out[naive] = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        if aware.any():
            read = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            out[aware] = read.dt.tz_convert(zone).dt.tz_localize(None)
        return out
    if "%z" in date_format or "%Z" in date_format:
        read = pd.to_datetime(text[filled], format=date_format, utc=True, errors="coerce")
        out[filled] = read.dt.tz_convert(zone).dt.tz_localize(None)
    else:
        out[filled] = pd.to_datetime(text[filled], format=date_format, errors="coerce")
    return out


def _numbers(text: pd.Series) -> pd.Series:
    """Cells -> floats (NaN when empty or unreadable); thousands separators and currency
    signs, as spreadsheets write amounts, are ignored."""
    cleaned = text.str.replace(r"[,\s$€£]", "", regex=True)
    return pd.to_numeric(cleaned.where(cleaned != ""), errors="coerce").astype(float)


def _flags(text: pd.Series) -> pd.Series:
    """true/false cells -> booleans (NaN when unreadable)."""
    lowered = text.str.lower()
    return lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else np.nan)


@dataclass
class _Read:
    """A field's values, and the rows whose cell could not be read."""

    column: str | None
    values: pd.Series
    unreadable: np.ndarray


def _read_dates(
    table: _Table,
    present: dict[str, str | None],
    names: tuple[str, ...],
    fmt: str | None,
    zone: ZoneInfo,
) -> dict[str, _Read]:
    found = {}
    for name in names:
        text = table.text(present.get(name))
        values = _dates(text, fmt, zone)
        found[name] = _Read(present.get(name), values, ((text != "") & values.isna()).to_numpy())
    return found


def _drop_unreadable(
    table: _Table, fields: dict[str, _Read], reason: str, expected: str, drops: _Drops
) -> None:
    for read in fields.values():
        column = read.column
        if column is None:
            continue
        table.drop(read.unreadable, reason, column, _unreadable(table, column, expected), drops)


def _unreadable(table: _Table, column: str, expected: str) -> Callable[[int], str]:
    cells = table.frame[column]
    return lambda row: f"cannot read {cells.iloc[row]!r}: expected {expected}"


def _drop_order(
    table: _Table,
    later: _Read,
    earlier: _Read,
    reason: str,
    what: str,
    drops: _Drops,
) -> None:
    bad = (later.values < earlier.values).to_numpy()  # NaT compares False: not out of order
    table.drop(
        bad,
        reason,
        later.column,
        lambda row: (
            f"{what} ({later.values.iloc[row]:%Y-%m-%d %H:%M}, "
            f"{earlier.column}: {earlier.values.iloc[row]:%Y-%m-%d %H:%M})"
        ),
        drops,
    )


def _drop_duplicates(
    table: _Table, ids: pd.Series, reason: str, column: str | None, drops: _Drops, what: str = "id"
) -> None:
    """Leave out every row whose id an earlier row has (the first row is the record)."""
    filled = ids != ""
    repeated = (ids.duplicated(keep="first") & filled).to_numpy()
    if not repeated.any():
        return
    first_row = {value: row for row, value in reversed(list(enumerate(ids))) if value}
    table.drop(
        repeated,
        reason,
        column,
        lambda row: (
            f"duplicate {what} {ids.iloc[row]!r} (first on line "
            f"{int(table.lines[first_row[ids.iloc[row]]])})"
        ),
        drops,
    )


# -- the export --------------------------------------------------------------------------------
LEAD_DATES = ("created", "mql_at", "sql_at", "first_touch_at")
DEAL_DATES = ("created", "closed")


def read_export(
    contacts: Path,
    deals: Path | None,
    spend: Path | None,
    fmt: str | Path,
    *,
    timezone: str | None,
    strict: bool,
) -> Export:
    """Read a CRM export (contacts or leads, optional deals and spend) into an Export.

    ``fmt`` is ``hubspot``, ``salesforce`` or the path of a mapping file; dates are read in
    ``timezone`` (default UTC). Unusable files are located errors; unusable rows are counted
    in ``Export.dropped`` by reason, or with ``strict`` located errors
    (:class:`~funnelsim.scenario.load.ScenarioError` either way, nothing half-read).
    """
    form = format_of(fmt)
    zone = zone_of(timezone)
    mapping = form.mapping
    drops = _Drops(strict)
    linked = deals is not None and _linked_by_lead(mapping)
    leads, lead_table, lead_ids, lead_deal = _read_leads(contacts, form, zone, drops, linked)
    deal_frame = _read_deals(deals, form, zone, drops, lead_table, lead_ids, lead_deal)
    spend_frame = _read_spend(spend, drops) if spend is not None else None
    drops.raise_if_any()
    exported_at = mapping.exported_at or _latest(leads, deal_frame)
    files = {"contacts": str(contacts)}
    if deals is not None:
        files["deals"] = str(deals)
    if spend is not None:
        files["spend"] = str(spend)
    return Export(leads, deal_frame, spend_frame, exported_at, files, Counter(drops.counts))


def _read_leads(
    path: Path, form: Format, zone: ZoneInfo, drops: _Drops, linked: bool
) -> tuple[pd.DataFrame, _Table, pd.Series, pd.Series]:
    """The contacts: the normalised frame of the kept rows, the table (which rows are kept),
    every row's id and every row's deal (Salesforce's link from a lead to its opportunity,
    required when ``linked``)."""
    columns = form.mapping.contacts.model_dump()
    table = _read_csv(path, "contacts (leads) export", {c for c in columns.values() if c})
    required = (*_REQUIRED_LEAD, "deal_id") if linked else _REQUIRED_LEAD
    present = _check_columns(table, columns, required, form, "contacts")
    if len(table.frame) == 0:
        raise ScenarioError(
            [Problem(f"{table.path}:2:1", "", "no rows after the header: nothing to fit")]
        )
    ids = table.text(present["id"])
    table.drop((ids == "").to_numpy(), "missing_id", present["id"], lambda _: "no id", drops)
    _drop_duplicates(table, ids, "duplicate_lead_id", present["id"], drops)
    dates = _read_dates(table, present, LEAD_DATES, form.mapping.date_format, zone)
    created = dates["created"]
    table.drop(
        (table.text(present["created"]) == "").to_numpy(),
        "missing_created",
        present["created"],
        lambda _: "no create date",
        drops,
    )
    expected = form.mapping.date_format or DATE_FORM
    _drop_unreadable(table, dates, "unreadable_date", f"a date as {expected}", drops)
    numbers = {
        name: _Read(present[name], _numbers(table.text(present[name])), _all(0))
        for name in ("activities", "employees")
    }
    for name, read in numbers.items():
        read.unreadable = ((table.text(present[name]) != "") & read.values.isna()).to_numpy()
    _drop_unreadable(table, numbers, "unreadable_value", "a number", drops)
    mql, sql, touch = dates["mql_at"], dates["sql_at"], dates["first_touch_at"]
    _drop_order(table, mql, created, "mql_before_created", "an MQL before its creation", drops)
    _drop_order(table, sql, created, "sql_before_created", "an SQL before its creation", drops)
    _drop_order(table, sql, mql, "sql_before_mql", "an SQL before its MQL", drops)
    _drop_order(
        table, touch, created, "first_touch_before_created", "touched before its creation", drops
    )
    keep = table.keep
    sources = table.text(present["source"]).replace("", "Unknown")
    outbound = {formats.slug(s) for s in form.mapping.outbound_sources}
    employees = numbers["employees"].values
    industry = table.text(present["industry"])
    leads = pd.DataFrame(
        {
            "id": ids,
            "created": created.values,
            "source": sources,
            "kind": [("outbound" if formats.slug(s) in outbound else "inbound") for s in sources],
            "mql_at": mql.values,
            "sql_at": sql.values,
            "first_touch_at": touch.values,
            "activities": numbers["activities"].values,
            "industry": industry.where(industry != "", None),
            "employees": employees,
            "segment": [segment_of(float(e)) for e in employees],
        }
    )[keep].reset_index(drop=True)
    return leads, table, ids, table.text(present.get("deal_id"))


def _linked_by_lead(mapping: Mapping) -> bool:
    """Whether deals are found through their lead (Salesforce: the lead names the opportunity
    it converted into) rather than naming their contact."""
    return mapping.deals.lead_id is None and mapping.contacts.deal_id is not None


def _read_deals(
    path: Path | None,
    form: Format,
    zone: ZoneInfo,
    drops: _Drops,
    lead_table: _Table,
    lead_ids: pd.Series,
    lead_deal: pd.Series,
) -> pd.DataFrame:
    empty = pd.DataFrame(
        {
            "id": pd.Series(dtype=object),
            "lead_id": pd.Series(dtype=object),
            "created": pd.Series(dtype="datetime64[ns]"),
            "closed": pd.Series(dtype="datetime64[ns]"),
            "outcome": pd.Series(dtype=object),
            "amount": pd.Series(dtype=float),
        }
    )
    if path is None:
        return empty
    mapping = form.mapping
    columns = mapping.deals.model_dump()
    required = ["id", "created", "stage" if mapping.deals.won is None else "won"]
    if not _linked_by_lead(mapping):
        required.append("lead_id")
    table = _read_csv(path, "deals export", {c for c in columns.values() if c})
    present = _check_columns(table, columns, tuple(required), form, "deals")
    if len(table.frame) == 0:
        return empty
    ids = table.text(present["id"])
    table.drop((ids == "").to_numpy(), "missing_id", present["id"], lambda _: "no id", drops)
    _drop_duplicates(table, ids, "duplicate_deal_id", present["id"], drops)
    table.drop(
        (table.text(present["created"]) == "").to_numpy(),
        "missing_created",
        present["created"],
        lambda _: "no create date",
        drops,
    )
    dates = _read_dates(table, present, DEAL_DATES, mapping.date_format, zone)
    expected = mapping.date_format or DATE_FORM
    _drop_unreadable(table, dates, "unreadable_date", f"a date as {expected}", drops)
    amount = _Read(present.get("amount"), _numbers(table.text(present.get("amount"))), _all(0))
    amount.unreadable = ((table.text(amount.column) != "") & amount.values.isna()).to_numpy()
    values: dict[str, _Read] = {"amount": amount}
    outcome = _outcomes(table, present, mapping, values)
    _drop_unreadable(table, values, "unreadable_value", "a number or true/false", drops)
    created, closed = dates["created"], dates["closed"]
    finished = (outcome != "open").to_numpy()
    if present.get("closed") is not None:
        table.drop(
            finished & closed.values.isna().to_numpy(),
            "missing_closed",
            present["closed"],
            lambda row: f"a deal {outcome.iloc[row]} without its close date",
            drops,
        )
    out_of_order = finished & (closed.values < created.values).to_numpy()
    table.drop(
        out_of_order,
        "closed_before_created",
        present.get("closed"),
        lambda row: (
            f"closed before its creation ({closed.values.iloc[row]:%Y-%m-%d %H:%M}, "
            f"{created.column}: {created.values.iloc[row]:%Y-%m-%d %H:%M})"
        ),
        drops,
    )
    # which contact each deal belongs to: named by the deal, or (Salesforce) by the lead
    kept_ids = set(lead_ids[lead_table.keep])
    all_ids = set(lead_ids[lead_ids != ""])
    if _linked_by_lead(mapping):
        owner: dict[str, str] = {}
        for lead, deal in zip(lead_ids, lead_deal, strict=True):
            if deal and lead and deal not in owner:
                owner[deal] = lead
        lead_of = ids.map(lambda d: owner.get(d, ""))
        link_column = present["id"]
        nowhere = "no lead in the leads export converted into this opportunity"
    else:
        lead_of = table.text(present.get("lead_id"))
        link_column = present.get("lead_id")
        nowhere = "its contact is not in the contacts export"
    unknown = (~lead_of.isin(all_ids)).to_numpy()
    table.drop(
        unknown,
        "deal_unknown_lead",
        link_column,
        lambda row: f"{nowhere} ({lead_of.iloc[row]!r})" if lead_of.iloc[row] else nowhere,
        drops,
    )
    table.drop(
        (~lead_of.isin(kept_ids)).to_numpy(),
        "deal_lead_dropped",
        link_column,
        lambda row: f"its contact {lead_of.iloc[row]!r} was left out (see its own problem)",
        drops,
    )
    return pd.DataFrame(
        {
            "id": ids,
            "lead_id": lead_of,
            "created": created.values,
            "closed": closed.values.where(pd.Series(finished, index=closed.values.index)),
            "outcome": outcome,
            "amount": amount.values,
        }
    )[table.keep].reset_index(drop=True)


def _outcomes(
    table: _Table, present: dict[str, str | None], mapping: Mapping, values: dict[str, _Read]
) -> pd.Series:
    """Each deal's outcome, ``won``, ``lost`` or ``open``: from true/false columns (won,
    closed) when the format has them, else from the stage's value."""
    if present.get("won") is not None:
        won = _flags(table.text(present["won"]))
        closed_text = table.text(present.get("is_closed"))
        closed = _flags(closed_text) if present.get("is_closed") is not None else won
        for name, flags in (("won", won), ("is_closed", closed)):
            column = present.get(name)
            if column is not None:
                values[name] = _Read(column, flags, flags.isna().to_numpy())
        is_won = won.fillna(False).astype(bool)
        is_closed = closed.fillna(False).astype(bool) | is_won
        return pd.Series(
            np.where(is_won, "won", np.where(is_closed, "lost", "open")), index=table.frame.index
        )
    stage = table.text(present.get("stage")).str.lower()
    won_values = {s.strip().lower() for s in mapping.stages.won}
    lost_values = {s.strip().lower() for s in mapping.stages.lost}
    return pd.Series(
        np.where(stage.isin(won_values), "won", np.where(stage.isin(lost_values), "lost", "open")),
        index=table.frame.index,
    )


def _read_spend(path: Path, drops: _Drops) -> pd.DataFrame:
    """The spend CSV: ``month`` (YYYY-MM or a date in it), ``channel``, ``spend``."""
    table = _read_csv(path, "spend CSV", set(formats.SPEND_COLUMNS))
    columns: dict[str, str | None] = {c: c for c in formats.SPEND_COLUMNS}
    _check_columns(table, columns, formats.SPEND_COLUMNS, Format(Mapping(), "spend"), "spend")
    month_text = table.text("month")
    # a month as YYYY-MM, or any day of it as YYYY-MM-DD: its first day
    written = month_text.str.fullmatch(r"\d{4}-\d{2}(?:-\d{2})?")
    first_day = month_text.str.slice(0, 7) + "-01"
    months = pd.Series(
        pd.to_datetime(first_day.where(written, ""), format="%Y-%m-%d", errors="coerce"),
        index=month_text.index,
    )
    day = pd.Series(pd.to_datetime(month_text, format="ISO8601", errors="coerce"))
    unreadable = (months.isna() | day.isna()).to_numpy()
    table.drop(
        unreadable,
        "unreadable_date",
        "month",
        lambda row: f"cannot read {month_text.iloc[row]!r}: expected a month as YYYY-MM",
        drops,
    )
    amounts = _numbers(table.text("spend"))
    table.drop(
        (amounts.isna() | (amounts < 0)).to_numpy(),
        "unreadable_value",
        "spend",
        lambda row: f"cannot read {table.frame['spend'].iloc[row]!r}: expected an amount >= 0",
        drops,
    )
    channel = table.text("channel")
    key = months.dt.strftime("%Y-%m").fillna("") + " " + channel
    _drop_duplicates(
        table,
        key.where(table.keep, ""),
        "duplicate_spend_month",
        "channel",
        drops,
        "month and channel",
    )
    return pd.DataFrame({"month": months, "channel": channel, "spend": amounts})[
        table.keep
    ].reset_index(drop=True)


def _latest(leads: pd.DataFrame, deals: pd.DataFrame) -> dt.datetime:
    """The latest date anywhere in the export: when it was taken, as far as it tells."""
    latest = [leads[c].max() for c in LEAD_DATES] + [deals[c].max() for c in DEAL_DATES]
    known = [t for t in latest if not pd.isna(t)]
    if not known:
        return dt.datetime(1970, 1, 1)
    return pd.Timestamp(max(known)).to_pydatetime()
