"""A simulated funnel written as a CRM export: demo data, and the truth a calibration recovers.

``funnelsim export-crm RESULTS --format hubspot|salesforce --out DIR`` takes one replication of
a results folder written with per-lead records (``funnelsim run FILE --out RESULTS``, records
on by default) and writes its leads and deals as the CRM would export them
(``funnelsim.crm.formats``):

- **HubSpot**: ``contacts.csv`` (one row per contact) and ``deals.csv`` (one row per deal);
- **Salesforce**: ``leads.csv`` (the Lead export, with the custom fields ``MQL_Date__c`` and
  ``First_Touch__c``) and ``opportunities.csv``;
- for either, ``spend.csv`` when the scenario buys inbound leads with spend (a source with
  ``spend`` and ``response``): ``month`` (``YYYY-MM``), ``channel`` (the source as the leads'
  source column shows it), ``spend`` (the month's spend, as the scenario gives it), one row
  per calendar month the export covers and such source: what ``calibrate --spend`` reads to
  fit the spend -> leads curves;
- and ``mapping.yaml`` (a mapping file as ``funnelsim.crm.read`` reads it): the
  built-in format, which custom fields hold the MQL and first-touch dates (Salesforce), which
  sources are outbound (a CRM's export does not say) and when the export was taken.

What a CRM would hold, and how the simulation's records become it:

- **History from the warm-up's start**: a CRM holds every contact ever created, so the export
  holds every lead and outbound contact of the run from simulation hour 0 (the start of the
  warm-up), the starting state's leads included (created at hour 0, or an open MQL when it
  became one, before it), up to the end of the run, which is when the export is taken.
  Outbound contacts loaded into a sequence are in the CRM whether or not they ever answered
  (their first touch is the sequence's first); contacts a list could not load (its market ran
  dry) never existed.
- **Dates** are the scenario's local wall clock: hour ``h`` is ``start - warmup + h``, cut to
  the minute, written ``YYYY-MM-DD HH:MM``, empty when the stage was never reached. A lead
  back from nurture has its latest MQL date (the records keep that one).
- **Sources** are the scenario's names title-cased, ``_`` as a space (``paid_social`` ->
  ``Paid Social``); ``formats.slug`` maps them back (a name in lower case, its words joined
  by ``_``).
- **Company size**: the model knows a lead's segment, not its headcount: ``Number of
  Employees`` is drawn uniformly inside the segment's size band (``crm.data.SEGMENT_BOUNDS``:
  smb 1-199, mid 200-999, ent 1,000-10,000) from a generator seeded by the run's seed and the
  replication, so the same folder always gives the same export. Segments with other names
  leave it empty. The model has no industries: ``Industry`` is empty.
- **Sales activities** are the lead's attempts (follow-up attempts, or an outbound sequence's
  touches). The **lifecycle stage** is the furthest reached: lead, MQL, SQL, opportunity,
  customer (won).
- **Deals** are the opportunities AEs opened: created when opened, closed when won or lost
  (empty while open at the export), the amount at stake (the first-year value, ACV). An open
  deal is in HubSpot's first stage (``appointmentscheduled``) or Salesforce's
  (``Prospecting``): the records do not say which stage it had reached.
- **Salesforce**: a lead is converted when it becomes an SQL (``ConvertedDate``), and its
  opportunity is named when an AE opened one (``ConvertedOpportunityId``; an SQL the AE did
  not accept is converted without one). ``Status`` is ``Closed - Converted``,
  ``Working - Contacted`` (touched, still being worked), ``Closed - Not Converted`` (touched
  and done, or lost untouched) or ``Open - Not Contacted``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from funnelsim.crm.data import SEGMENT_BOUNDS
from funnelsim.crm.formats import (
    DATE_FORMAT,
    FORMATS,
    HUBSPOT,
    HUBSPOT_CONTACT_COLUMNS,
    HUBSPOT_DEAL_COLUMNS,
    HUBSPOT_LIFECYCLE,
    HUBSPOT_LOST,
    HUBSPOT_WON,
    SALESFORCE,
    SALESFORCE_LEAD_COLUMNS,
    SALESFORCE_OPPORTUNITY_COLUMNS,
    SPEND_COLUMNS,
    Format,
)
from funnelsim.errors import StoreError, UsageError
from funnelsim.scenario.schema import InboundSource, Scenario, did_you_mean
from funnelsim.store import CHUNK, MANIFEST, atomic_write, check_file, read_chunk, read_manifest

# the files each format writes, in the order they are written
FILES: dict[Format, tuple[str, str]] = {
    "hubspot": ("contacts.csv", "deals.csv"),
    "salesforce": ("leads.csv", "opportunities.csv"),
}
MAPPING = "mapping.yaml"
SPEND = "spend.csv"
SALESFORCE_LEAD_EXPORT_COLUMNS = (
    *SALESFORCE_LEAD_COLUMNS,
    SALESFORCE.mql_date,
    SALESFORCE.first_touch,
)
HUBSPOT_OPEN = "appointmentscheduled"  # HubSpot's first deal stage
SALESFORCE_OPEN, SALESFORCE_WON, SALESFORCE_LOST = "Prospecting", "Closed Won", "Closed Lost"
# the size band of each segment, in employees (the last band's top is a choice: 10,000)
EMPLOYEES: dict[str, tuple[int, int]] = {
    "smb": (1, SEGMENT_BOUNDS[0][0] - 1),
    "mid": (SEGMENT_BOUNDS[0][0], SEGMENT_BOUNDS[1][0] - 1),
    "ent": (SEGMENT_BOUNDS[1][0], 10_000),
}
SIZE_STREAM = 16  # the employees' random stream: issue 16, apart from the model's streams
RERUN = "rerun it with `funnelsim run FILE --out DIR --records`"


def display_name(source: str) -> str:
    """A scenario source as a CRM shows it: ``paid_social`` -> ``Paid Social``."""
    return source.replace("_", " ").title()


@dataclass(frozen=True)
class Replication:
    """One replication of one scenario of a results folder: its scenario and per-lead records."""

    scenario: Scenario
    leads: pd.DataFrame  # the store's ``leads`` table, this replication only
    seed: int
    number: int


def export(
    results_folder: str | Path,
    fmt: str,
    out: str | Path,
    *,
    replication: int = 0,
    scenario: str | None = None,
) -> list[Path]:
    """Write one replication of ``results_folder`` as a ``fmt`` CRM export into ``out``.

    ``scenario`` names one scenario of the folder (its name or key; needed when it holds
    several). ``out`` must be a new or empty folder. Returns the files written: the format's
    two tables, ``spend.csv`` when the scenario has spend-driven sources, ``mapping.yaml``
    last. Every refusal (an unknown format, a folder without records, an unknown scenario or
    replication, an ``out`` that holds files) is a UsageError or StoreError raised before
    anything is written.
    """
    chosen = check_format(fmt)
    target = Path(out)
    _check_out(target)
    run = read_replication(Path(results_folder), replication, scenario)
    tables = frames(run, chosen)
    written = []
    for name, frame in zip(FILES[chosen], tables, strict=True):
        written.append(target / name)
        atomic_write(written[-1], partial(_write_csv, frame=frame))
    spend = spend_table(run.scenario)
    if spend is not None:
        written.append(target / SPEND)
        atomic_write(written[-1], partial(_write_csv, frame=spend))
    text = yaml.safe_dump(mapping(run, chosen), sort_keys=False, allow_unicode=True)
    atomic_write(target / MAPPING, partial(_write_text, text=text))
    return [*written, target / MAPPING]


def check_format(fmt: str) -> Format:
    """``fmt`` if funnelsim writes that format, else a UsageError that suggests the closest."""
    for known in FORMATS:
        if fmt == known:
            return known
    raise UsageError(
        f"unknown format {fmt!r}{did_you_mean(fmt, list(FORMATS))}; expected one of "
        f"{', '.join(FORMATS)}",
        "--format",
    )


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder; choose a new folder", "--out")
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(
            f"{out} is not empty; choose a new folder (an export is never mixed with other files)",
            "--out",
        )


def read_replication(folder: Path, replication: int, scenario: str | None) -> Replication:
    """Replication ``replication`` of one scenario of a results folder, with its records.

    A StoreError says what is missing: not a results folder, no records (the run wrote none),
    an unknown scenario or a replication the folder does not hold.
    """
    from funnelsim.scenario.load import load_scenario

    if not (folder / MANIFEST).is_file():
        raise StoreError(f"{folder}: not a funnelsim results folder (no {MANIFEST})")
    manifest = read_manifest(folder / MANIFEST)
    if not manifest["records"]:
        raise StoreError(f"{folder}: the run wrote no per-lead records; {RERUN}")
    entry = _scenario_entry(folder, manifest, scenario)
    key = entry["key"]
    chunks = _leads_chunks(folder, key)
    if not chunks:
        raise StoreError(f"{folder}: no per-lead records of {entry['name']!r}; {RERUN}")
    held = [(first, last, path) for first, last, path in chunks if first <= replication <= last]
    if not held:
        spans = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b, _ in chunks)
        raise UsageError(
            f"{folder} holds no replication {replication} of {entry['name']!r} (it holds {spans})",
            "--replication",
        )
    path = held[0][2]
    check_file(folder, manifest, path, needed=True)
    table = read_chunk(path)
    leads = table[table["replication"] == replication].reset_index(drop=True)
    if leads.empty:
        raise UsageError(
            f"{folder} holds no replication {replication} of {entry['name']!r}", "--replication"
        )
    return Replication(
        scenario=load_scenario(folder / entry["file"]),
        leads=leads,
        seed=int(manifest["seed"]),
        number=replication,
    )


def _scenario_entry(folder: Path, manifest: dict[str, Any], name: str | None) -> dict[str, Any]:
    entries: list[dict[str, Any]] = manifest["scenarios"]
    names = [e["name"] for e in entries]
    if name is None:
        if len(entries) == 1:
            return entries[0]
        raise UsageError(
            f"{folder} holds {len(entries)} scenarios: name one with --scenario "
            f"({', '.join(repr(n) for n in names)})",
            "--scenario",
        )
    for entry in entries:
        if name in (entry["name"], entry["key"]):
            return entry
    raise UsageError(
        f"no scenario {name!r} in {folder}{did_you_mean(name, names)}; it holds "
        f"{', '.join(repr(n) for n in names)}",
        "--scenario",
    )


def _leads_chunks(folder: Path, key: str) -> list[tuple[int, int, Path]]:
    """The finished chunk files of a scenario's leads: (first, last replication, path)."""
    found = []
    for path in sorted((folder / "leads" / key).glob("*.parquet")):
        match = CHUNK.match(path.name)
        if match and (folder / "replications" / key / path.name).is_file():
            found.append((int(match[1]), int(match[2]), path))
    return found


# -- the export's tables --------------------------------------------------------------------------
def frames(run: Replication, fmt: Format) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The export's two tables (contacts and deals, or leads and opportunities), as text."""
    leads = _crm_leads(run)
    if fmt == "hubspot":
        return _hubspot_contacts(leads), _hubspot_deals(leads)
    return _salesforce_leads(leads), _salesforce_opportunities(leads)


def _crm_leads(run: Replication) -> pd.DataFrame:
    """The leads a CRM would hold, oldest first, with what every format needs as text."""
    records = run.leads
    records = records[records["outcome"].astype(str) != "not_loaded"]
    records = records.sort_values(["arrival_h", "lead"], kind="stable").reset_index(drop=True)
    origin = run.scenario.origin

    def date(column: str) -> pd.Series:
        return _dates(origin, records[column].to_numpy(dtype=float))

    arrival = records["arrival_h"].to_numpy(dtype=float)
    opened = records["opp_h"].notna().to_numpy()
    won = records["won"].to_numpy(dtype=bool) & opened
    lost = records["closed_h"].notna().to_numpy() & opened & ~won
    amount = np.where(won, records["deal_value"], records["pipeline_value"])
    stage = np.select(
        [
            won,
            opened,
            records["sql_h"].notna().to_numpy(),
            records["mql_h"].notna().to_numpy(),
        ],
        ["customer", "opportunity", "salesqualifiedlead", "marketingqualifiedlead"],
        default="lead",
    )
    assert set(np.unique(stage)) <= set(HUBSPOT_LIFECYCLE)
    return pd.DataFrame(
        {
            "number": np.arange(1, len(records) + 1),
            # an open MQL of the starting state became one before hour 0: created by then
            "created": _dates(origin, np.fmin(arrival, records["mql_h"].to_numpy(dtype=float))),
            "source": records["source"].astype(str).map(display_name),
            "lifecycle": stage,
            "mql": date("mql_h"),
            "sql": date("sql_h"),
            "first_touch": date("touch_start_h"),
            "activities": records["attempts"].astype(np.int64).astype(str),
            "employees": _employees(run, records["segment"].astype(str), records["lead"]),
            "outcome": records["outcome"].astype(str).to_numpy(),
            "opened": opened,
            "won": won,
            "lost": lost,
            "deal_created": date("opp_h"),
            "deal_closed": date("closed_h").where(won | lost, ""),
            "amount": [_money(a) for a in amount],
        }
    )


def _dates(origin: dt.datetime, hours: np.ndarray) -> pd.Series:
    """Simulation hours as local wall-clock text, cut to the minute; empty where NaN.

    The minutes are counted on the float clock (``floor(h * 60)``), so an instant just before
    the measured period's start is never rounded into it."""
    reached = np.isfinite(hours)
    minutes = np.floor(np.where(reached, hours, 0.0) * 60.0).astype(np.int64)
    stamps = pd.Timestamp(origin) + pd.to_timedelta(minutes, unit="min")
    text = pd.Series(stamps.strftime(DATE_FORMAT), dtype=object)
    return text.where(reached, "")


def _employees(run: Replication, segments: pd.Series, leads: pd.Series) -> pd.Series:
    """Each lead's headcount, drawn inside its segment's band (empty for other segments).

    One uniform draw per lead number, so a lead's size does not depend on which other leads
    the export holds."""
    rng = np.random.default_rng(
        np.random.SeedSequence(run.seed, spawn_key=(run.number, SIZE_STREAM))
    )
    numbers = leads.to_numpy(dtype=np.int64)
    draws = rng.random(int(numbers.max()) + 1 if len(numbers) else 0)[numbers]
    out = []
    for segment, u in zip(segments, draws, strict=True):
        band = EMPLOYEES.get(segment)
        out.append("" if band is None else str(band[0] + int(u * (band[1] - band[0] + 1))))
    return pd.Series(out, dtype=object)


def _money(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.2f}"


def _hubspot_contacts(leads: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            HUBSPOT.contact_id: leads["number"].astype(str),
            HUBSPOT.created: leads["created"],
            HUBSPOT.source: leads["source"],
            HUBSPOT.lifecycle_stage: leads["lifecycle"],
            HUBSPOT.mql_date: leads["mql"],
            HUBSPOT.sql_date: leads["sql"],
            HUBSPOT.first_touch: leads["first_touch"],
            HUBSPOT.activities: leads["activities"],
            HUBSPOT.industry: "",
            HUBSPOT.employees: leads["employees"],
        }
    )
    return frame[list(HUBSPOT_CONTACT_COLUMNS)]


def _deals(leads: pd.DataFrame) -> pd.DataFrame:
    """The opportunities, oldest first, numbered from 1 in that order."""
    deals = leads[leads["opened"]]
    deals = deals.assign(_created=deals["deal_created"]).sort_values(
        ["_created", "number"], kind="stable"
    )
    return deals.assign(deal=np.arange(1, len(deals) + 1)).reset_index(drop=True)


def _hubspot_deals(leads: pd.DataFrame) -> pd.DataFrame:
    deals = _deals(leads)
    stage = np.select([deals["won"], deals["lost"]], [HUBSPOT_WON, HUBSPOT_LOST], HUBSPOT_OPEN)
    frame = pd.DataFrame(
        {
            HUBSPOT.deal_id: deals["deal"].astype(str),
            HUBSPOT.deal_contact: deals["number"].astype(str),
            HUBSPOT.deal_created: deals["deal_created"],
            HUBSPOT.deal_closed: deals["deal_closed"],
            HUBSPOT.deal_stage: stage,
            HUBSPOT.amount: deals["amount"],
        }
    )
    return frame[list(HUBSPOT_DEAL_COLUMNS)]


def _salesforce_id(prefix: str, numbers: pd.Series) -> pd.Series:
    """Salesforce's 15-character ids: the object's prefix (``00Q`` a lead, ``006`` an
    opportunity) and a number."""
    return numbers.map(lambda n: f"{prefix}{int(n):012d}")


def _flag(values: pd.Series | np.ndarray) -> list[str]:
    return ["true" if v else "false" for v in values]


def _salesforce_leads(leads: pd.DataFrame) -> pd.DataFrame:
    deals = _deals(leads)
    by_number = dict(zip(deals["number"], _salesforce_id("006", deals["deal"]), strict=True))
    opportunity = leads["number"].map(by_number).fillna("")
    converted = leads["sql"] != ""
    touched = leads["first_touch"] != ""
    still = leads["outcome"] == "waiting"
    status = np.select(
        [converted, touched & still, touched | (leads["outcome"] == "expired")],
        ["Closed - Converted", "Working - Contacted", "Closed - Not Converted"],
        "Open - Not Contacted",
    )
    frame = pd.DataFrame(
        {
            SALESFORCE.lead_id: _salesforce_id("00Q", leads["number"]),
            SALESFORCE.created: leads["created"],
            SALESFORCE.source: leads["source"],
            SALESFORCE.status: status,
            SALESFORCE.converted: _flag(converted),
            SALESFORCE.converted_date: leads["sql"],
            SALESFORCE.opportunity: opportunity,
            SALESFORCE.industry: "",
            SALESFORCE.employees: leads["employees"],
            SALESFORCE.mql_date: leads["mql"],
            SALESFORCE.first_touch: leads["first_touch"],
        }
    )
    return frame[list(SALESFORCE_LEAD_EXPORT_COLUMNS)]


def _salesforce_opportunities(leads: pd.DataFrame) -> pd.DataFrame:
    deals = _deals(leads)
    won, lost = deals["won"].to_numpy(), deals["lost"].to_numpy()
    frame = pd.DataFrame(
        {
            SALESFORCE.opportunity_id: _salesforce_id("006", deals["deal"]),
            SALESFORCE.opportunity_created: deals["deal_created"],
            SALESFORCE.close_date: deals["deal_closed"],
            SALESFORCE.stage: np.select(
                [won, lost], [SALESFORCE_WON, SALESFORCE_LOST], SALESFORCE_OPEN
            ),
            SALESFORCE.closed: _flag(won | lost),
            SALESFORCE.won: _flag(won),
            SALESFORCE.amount: deals["amount"],
            SALESFORCE.opportunity_source: deals["source"],
        }
    )
    return frame[list(SALESFORCE_OPPORTUNITY_COLUMNS)]


def spend_table(scenario: Scenario) -> pd.DataFrame | None:
    """The spend file of the export: each inbound source's spend in each calendar month from
    the warm-up's start (month 1 of a scenario's ``spend``) to the end of the run, the channel
    named as the leads' source column names it; None when no source is bought with spend."""
    spending = {
        display_name(name): source.spend
        for name, source in scenario.sources.items()
        if isinstance(source, InboundSource) and source.spend is not None
    }
    if not spending:
        return None
    end = scenario.start + dt.timedelta(hours=scenario.horizon_hours)
    first = pd.Timestamp(scenario.origin).to_period("M").to_timestamp()
    months = [m for m in pd.date_range(first, end, freq="MS") if m < end]
    rows = [
        (f"{month:%Y-%m}", channel, _money(spend.for_month(index, scenario.origin)))
        for index, month in enumerate(months)
        for channel, spend in spending.items()
    ]
    return pd.DataFrame(rows, columns=list(SPEND_COLUMNS))


def mapping(run: Replication, fmt: Format) -> dict[str, Any]:
    """The mapping file beside the export (``funnelsim.crm.read.Mapping``'s form): what the
    export's columns cannot say by themselves.

    ``format`` is the built-in format; for Salesforce ``contacts`` names the custom fields
    holding the MQL and first-touch dates (HubSpot's are standard columns);
    ``outbound_sources`` the sources whose contacts sales went out to (a CRM keeps no such
    flag; every other source is inbound); ``exported_at`` when the export was taken (the end of
    the run: deals still open then are censored there). ``funnelsim calibrate`` reads it as
    ``--format DIR/mapping.yaml``."""
    scenario = run.scenario
    outbound = [display_name(n) for n, s in scenario.sources.items() if s.kind == "outbound"]
    end = scenario.start + dt.timedelta(hours=scenario.horizon_hours)
    text: dict[str, Any] = {"format": fmt}
    if fmt == "salesforce":
        text["contacts"] = {
            "mql_at": SALESFORCE.mql_date,
            "first_touch_at": SALESFORCE.first_touch,
        }
    return text | {"outbound_sources": outbound, "exported_at": end.strftime(DATE_FORMAT)}


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
