"""``funnelsim export-crm``: a simulated run written as a HubSpot or Salesforce export.

One small run (a quarter of the baseline, two replications, a starting state) is exported in
both formats, and the export is held to the records it came from: every lead and every
opportunity once, the period's counts equal to the run's own metrics, dates in order and on
the scenario's local clock, the same bytes every time. Bad input is refused with nothing
written, and the bundled example export is what its script makes.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from funnelsim.crm.data import segment_of
from funnelsim.crm.formats import (
    HUBSPOT,
    HUBSPOT_CONTACT_COLUMNS,
    HUBSPOT_DEAL_COLUMNS,
    HUBSPOT_LIFECYCLE,
    SALESFORCE,
    SALESFORCE_LEAD_COLUMNS,
    SALESFORCE_OPPORTUNITY_COLUMNS,
    slug,
)
from funnelsim.scenario.load import load_scenario
from helpers import BASE, ROOT, SCENARIOS, assert_refused, invoke, ok, snapshot

REPLICATION = 1  # not the default: --replication is exercised
INITIAL = (
    "initial={open_mqls: [{source: search, count: 30, age: 2d}], "
    "open_opportunities: [{source: content, count: 20, stage: proposal}]}"
)
EXAMPLE = ROOT / "examples" / "crm"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder with records: a quarter of the baseline after a 6-week warm-up."""
    out = tmp_path_factory.mktemp("crm") / "run"
    ok(
        "run", SCENARIOS / "baseline.yaml", "--replications", "2", "--workers", "1",
        "--set", "horizon=13w", "--set", "warmup=6w", "--set", INITIAL, "--out", out,
    )  # fmt: skip
    return out


def export(folder: Path, fmt: str, out: Path) -> Path:
    ok("export-crm", folder, "--format", fmt, "--out", out, "--replication", str(REPLICATION))
    return out


@pytest.fixture(scope="module")
def hubspot(folder: Path) -> Path:
    return export(folder, "hubspot", folder.parent / "hubspot")


@pytest.fixture(scope="module")
def salesforce(folder: Path) -> Path:
    return export(folder, "salesforce", folder.parent / "salesforce")


def records(folder: Path) -> pd.DataFrame:
    """The replication's per-lead records, read straight from the folder."""
    leads = pd.concat(pd.read_parquet(p) for p in sorted((folder / "leads").glob("*/*.parquet")))
    return leads[leads["replication"] == REPLICATION].reset_index(drop=True)


def metrics(folder: Path) -> dict[str, float]:
    frame = pd.concat(
        pd.read_parquet(p) for p in sorted((folder / "replications").glob("*/*.parquet"))
    )
    row = frame[frame["replication"] == REPLICATION]
    assert len(row) == 1
    return {str(k): v for k, v in row.iloc[0].items()}


def read(path: Path) -> pd.DataFrame:
    """A CSV as the text it holds (empty cells as empty strings)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def header(path: Path) -> list[str]:
    with path.open(newline="") as stream:
        return next(csv.reader(stream))


def times(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column.where(column != ""), format="%Y-%m-%d %H:%M")


def local(origin: dt.datetime, hours: pd.Series) -> list[str]:
    """What a simulation hour reads as on the scenario's wall clock, to the minute."""
    return sorted(
        (origin + dt.timedelta(minutes=math.floor(h * 60))).strftime("%Y-%m-%d %H:%M")
        for h in hours.dropna()
    )


# -- columns --------------------------------------------------------------------------------------
def test_columns_in_each_format(hubspot: Path, salesforce: Path) -> None:
    assert header(hubspot / "contacts.csv") == list(HUBSPOT_CONTACT_COLUMNS)
    assert header(hubspot / "deals.csv") == list(HUBSPOT_DEAL_COLUMNS)
    assert header(salesforce / "leads.csv") == [
        *SALESFORCE_LEAD_COLUMNS,
        SALESFORCE.mql_date,
        SALESFORCE.first_touch,
    ]
    assert header(salesforce / "opportunities.csv") == list(SALESFORCE_OPPORTUNITY_COLUMNS)
    # the baseline buys search and content leads with spend: spend.csv, as calibrate reads it
    assert sorted(p.name for p in hubspot.iterdir()) == [
        "contacts.csv",
        "deals.csv",
        "mapping.yaml",
        "spend.csv",
    ]
    assert sorted(p.name for p in salesforce.iterdir()) == [
        "leads.csv",
        "mapping.yaml",
        "opportunities.csv",
        "spend.csv",
    ]
    assert header(hubspot / "spend.csv") == ["month", "channel", "spend"]
    assert (hubspot / "spend.csv").read_bytes() == (salesforce / "spend.csv").read_bytes()
    mapping = yaml.safe_load((salesforce / "mapping.yaml").read_text())
    print(mapping)
    assert mapping["format"] == "salesforce"
    assert mapping["contacts"] == {"mql_at": "MQL_Date__c", "first_touch_at": "First_Touch__c"}
    assert mapping["outbound_sources"] == ["Outbound"]
    assert mapping["exported_at"] == "2027-04-05 00:00"  # start + 13 weeks: the run's end
    assert yaml.safe_load((hubspot / "mapping.yaml").read_text())["format"] == "hubspot"


def test_sources_map_back_to_the_scenario(hubspot: Path, folder: Path) -> None:
    shown = set(read(hubspot / "contacts.csv")[HUBSPOT.source])
    print(sorted(shown))
    assert shown == {"Search", "Content", "Outbound"}
    assert {slug(s) for s in shown} == set(records(folder)["source"].astype(str))


def test_the_export_reads_back_whole(hubspot: Path, salesforce: Path, folder: Path) -> None:
    """funnelsim's own reader takes the export with its mapping file, strictly: no row
    dropped, every lead and deal, outbound contacts as outbound, censored at the run's end."""
    from funnelsim.crm.read import read_export

    leads = records(folder)
    for out, people, deals in (
        (hubspot, "contacts.csv", "deals.csv"),
        (salesforce, "leads.csv", "opportunities.csv"),
    ):
        read = read_export(
            out / people, out / deals, None, out / "mapping.yaml", timezone=None, strict=True
        )
        kinds = Counter(read.leads["kind"])
        outcomes = Counter(read.deals["outcome"])
        print(out.name, len(read.leads), len(read.deals), dict(kinds), dict(outcomes))
        assert not read.dropped
        assert len(read.leads) == len(leads)
        assert kinds == Counter(leads["kind"].astype(str))
        assert outcomes["won"] == leads["won"].sum()
        assert read.exported_at == dt.datetime(2027, 4, 5)


# -- conservation ---------------------------------------------------------------------------------
def test_every_lead_and_opportunity_once(hubspot: Path, salesforce: Path, folder: Path) -> None:
    leads = records(folder)
    held = leads[leads["outcome"].astype(str) != "not_loaded"]
    opportunities = held["opp_h"].notna().sum()
    contacts, deals = read(hubspot / "contacts.csv"), read(hubspot / "deals.csv")
    sf_leads, sf_opps = read(salesforce / "leads.csv"), read(salesforce / "opportunities.csv")
    print(f"records {len(held)} leads, {opportunities} opportunities; HubSpot {len(contacts)} "
          f"contacts, {len(deals)} deals; Salesforce {len(sf_leads)} leads, {len(sf_opps)} "
          "opportunities")  # fmt: skip
    assert len(contacts) == len(sf_leads) == len(held) > 1000
    assert len(deals) == len(sf_opps) == opportunities > 20
    assert contacts[HUBSPOT.contact_id].is_unique
    assert deals[HUBSPOT.deal_id].is_unique
    assert sf_leads[SALESFORCE.lead_id].is_unique
    assert sf_opps[SALESFORCE.opportunity_id].is_unique
    # each deal points to one contact, and a contact has at most one deal
    assert deals[HUBSPOT.deal_contact].is_unique
    assert set(deals[HUBSPOT.deal_contact]) <= set(contacts[HUBSPOT.contact_id])
    named = sf_leads[SALESFORCE.opportunity][sf_leads[SALESFORCE.opportunity] != ""]
    assert named.is_unique
    assert set(named) == set(sf_opps[SALESFORCE.opportunity_id])


@pytest.mark.parametrize("fmt", ["hubspot", "salesforce"])
def test_period_counts_are_the_runs_metrics(
    fmt: str, hubspot: Path, salesforce: Path, folder: Path
) -> None:
    """Counted over the measured period, the export gives the run's own metrics."""
    scenario = load_scenario(next((folder / "scenarios").glob("*.yaml")))
    start = pd.Timestamp(scenario.start)
    end = start + pd.Timedelta(hours=scenario.horizon_hours)
    m = metrics(folder)

    def within(column: pd.Series) -> pd.Series:
        when = times(column)
        return (when >= start) & (when < end)

    if fmt == "hubspot":
        people, deals = read(hubspot / "contacts.csv"), read(hubspot / "deals.csv")
        created, mql, sql = HUBSPOT.created, HUBSPOT.mql_date, HUBSPOT.sql_date
        opened, closed = HUBSPOT.deal_created, HUBSPOT.deal_closed
        won = deals[HUBSPOT.deal_stage] == "closedwon"
    else:
        people, deals = read(salesforce / "leads.csv"), read(salesforce / "opportunities.csv")
        created, mql, sql = SALESFORCE.created, SALESFORCE.mql_date, SALESFORCE.converted_date
        opened, closed = SALESFORCE.opportunity_created, SALESFORCE.close_date
        won = deals[SALESFORCE.won] == "true"
    counted = {
        "contacts": int(within(people[created]).sum()),
        "mqls": int(within(people[mql]).sum()),
        "sqls": int(within(people[sql]).sum()),
        "opportunities": int(within(deals[opened]).sum()),
        "deals_won": int((within(deals[closed]) & won).sum()),
        "new_arr": float(pd.to_numeric(deals[HUBSPOT.amount if fmt == "hubspot" else "Amount"])[
            within(deals[closed]) & won
        ].sum()),
    }  # fmt: skip
    expected = {
        "contacts": m["leads_inbound"] + m["contacts_outbound"],
        **{k: m[k] for k in ("mqls", "sqls", "opportunities", "deals_won", "new_arr")},
    }
    print(fmt, counted, expected)
    for name in ("contacts", "mqls", "sqls", "opportunities", "deals_won"):
        assert counted[name] == expected[name], name
    assert counted["new_arr"] == pytest.approx(expected["new_arr"], abs=0.01 * counted["deals_won"])
    assert counted["deals_won"] > 0


# -- dates ----------------------------------------------------------------------------------------
def test_dates_in_order(hubspot: Path, salesforce: Path) -> None:
    contacts, deals = read(hubspot / "contacts.csv"), read(hubspot / "deals.csv")
    created, mql = times(contacts[HUBSPOT.created]), times(contacts[HUBSPOT.mql_date])
    sql, touch = times(contacts[HUBSPOT.sql_date]), times(contacts[HUBSPOT.first_touch])
    pairs = {
        "created>mql": (created, mql),
        "mql>sql": (mql, sql),
        "created>touch": (created, touch),
    }
    by_contact = contacts.set_index(HUBSPOT.contact_id)
    of_deal = times(
        by_contact.loc[deals[HUBSPOT.deal_contact], HUBSPOT.sql_date].reset_index(drop=True)
    )
    deal_created, deal_closed = (
        times(deals[HUBSPOT.deal_created]),
        times(deals[HUBSPOT.deal_closed]),
    )
    pairs |= {"sql>deal": (of_deal, deal_created), "deal>close": (deal_created, deal_closed)}
    late = {name: int((a > b).sum()) for name, (a, b) in pairs.items()}
    reached = {name: int((a.notna() & b.notna()).sum()) for name, (a, b) in pairs.items()}
    print("out of order:", late, "of", reached)
    assert not any(late.values())
    assert all(reached.values())
    # a deal is closed exactly when won or lost
    closed = deals[HUBSPOT.deal_stage].isin(["closedwon", "closedlost"])
    assert (deal_closed.notna() == closed).all()
    opportunities = read(salesforce / "opportunities.csv")
    sf_closed = times(opportunities[SALESFORCE.close_date])
    assert (sf_closed.notna() == (opportunities[SALESFORCE.closed] == "true")).all()
    sf_created = times(opportunities[SALESFORCE.opportunity_created])
    assert not (sf_created > sf_closed).any()


def test_dates_on_the_scenarios_local_clock(hubspot: Path, folder: Path) -> None:
    """Hour h of the run is start - warm-up + h: every stage's dates are the records' hours on
    that clock, and first touches fall in the calendar's working hours."""
    scenario = load_scenario(next((folder / "scenarios").glob("*.yaml")))
    origin = scenario.start - dt.timedelta(hours=scenario.warmup_hours)
    leads = records(folder)
    leads = leads[leads["outcome"].astype(str) != "not_loaded"]
    new = leads[leads["entry"] < 0]
    contacts, deals = read(hubspot / "contacts.csv"), read(hubspot / "deals.csv")
    # the starting state's open MQLs were created when they became MQLs, before hour 0
    created = pd.concat(
        [new["arrival_h"], leads[leads["entry"] >= 0][["arrival_h", "mql_h"]].min(axis=1)]
    )
    checks = {
        HUBSPOT.created: created,
        HUBSPOT.mql_date: leads["mql_h"],
        HUBSPOT.sql_date: leads["sql_h"],
        HUBSPOT.first_touch: leads["touch_start_h"],
    }
    for column, hours in checks.items():
        shown = sorted(d for d in contacts[column] if d)
        assert shown == local(origin, hours), column
    assert sorted(d for d in deals[HUBSPOT.deal_created] if d) == local(origin, leads["opp_h"])
    first = times(contacts[HUBSPOT.created]).min()
    print(f"origin {origin}, first contact {first}, start {scenario.start}")
    assert first < pd.Timestamp(scenario.start)  # the warm-up's history is in the export
    assert first >= pd.Timestamp(origin) - pd.Timedelta(days=2)  # the open MQLs' age: 2 days
    # SDRs start a first touch only in working time: weekdays, 09:00-12:30 and 13:30-17:30
    touch = times(contacts[HUBSPOT.first_touch]).dropna()
    minute = touch.dt.hour * 60 + touch.dt.minute
    working = ((minute >= 540) & (minute < 750)) | ((minute >= 810) & (minute < 1050))
    print(f"{len(touch)} first touches, {int((~working).sum())} outside working hours")
    assert working.all()
    assert (touch.dt.day_of_week < 5).all()


# -- what each row says -------------------------------------------------------------------------
def test_stages_amounts_and_sizes(hubspot: Path, salesforce: Path, folder: Path) -> None:
    leads = records(folder)
    leads = leads[leads["outcome"].astype(str) != "not_loaded"]
    contacts, deals = read(hubspot / "contacts.csv"), read(hubspot / "deals.csv")
    stages = Counter(contacts[HUBSPOT.lifecycle_stage])
    won = leads[leads["won"]]
    print(dict(stages))
    assert set(stages) <= set(HUBSPOT_LIFECYCLE)
    assert stages["customer"] == len(won) == (deals[HUBSPOT.deal_stage] == "closedwon").sum() > 0
    assert stages["customer"] + stages["opportunity"] == leads["opp_h"].notna().sum()
    amounts = pd.to_numeric(deals[HUBSPOT.amount][deals[HUBSPOT.deal_stage] == "closedwon"])
    assert sorted(amounts) == pytest.approx(sorted(won["deal_value"].round(2)))
    assert (pd.to_numeric(deals[HUBSPOT.amount]) > 0).all()
    # activities: the attempts; sizes: inside each segment's band, segment by segment
    assert sorted(contacts[HUBSPOT.activities].astype(int)) == sorted(leads["attempts"])
    sizes = Counter(segment_of(float(e)) for e in contacts[HUBSPOT.employees])
    print(dict(sizes), dict(Counter(leads["segment"].astype(str))))
    assert sizes == Counter(leads["segment"].astype(str))
    sf = read(salesforce / "leads.csv")
    assert list(sf[SALESFORCE.employees]) == list(contacts[HUBSPOT.employees])
    converted = sf[SALESFORCE.converted] == "true"
    assert converted.sum() == leads["sql_h"].notna().sum()
    assert (sf[SALESFORCE.status][converted] == "Closed - Converted").all()


def test_the_same_folder_gives_the_same_bytes(
    hubspot: Path, salesforce: Path, folder: Path
) -> None:
    for fmt, first in (("hubspot", hubspot), ("salesforce", salesforce)):
        again = export(folder, fmt, folder.parent / f"{fmt}-again")
        for path in sorted(first.iterdir()):
            assert path.read_bytes() == (again / path.name).read_bytes(), path.name


# -- refusals -------------------------------------------------------------------------------------
def test_refusals_write_nothing(folder: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "base.yaml"
    scenario.write_text(BASE)
    bare = tmp_path / "bare"
    ok("run", scenario, "--replications", "1", "--workers", "1", "--no-records", "--out", bare)
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    before = snapshot(full)
    cases = {
        "no records": (bare, "hubspot", tmp_path / "a", "--records"),
        "unknown format": (folder, "hubsopt", tmp_path / "b", "did you mean 'hubspot'"),
        "out not empty": (folder, "salesforce", full, "not empty"),
        "no such replication": (folder, "hubspot", tmp_path / "c", "holds no replication 7"),
    }
    for name, (results, fmt, out, says) in cases.items():
        extra = ["--replication", "7"] if name == "no such replication" else []
        result = invoke("export-crm", results, "--format", fmt, "--out", out, *extra)
        lines = assert_refused(result)
        print(name, lines)
        assert says in " ".join(lines), name
        if out != full:
            assert not out.exists(), name
    assert snapshot(full) == before
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


# -- the bundled example ------------------------------------------------------------------------
def test_bundled_example_is_what_its_script_makes(tmp_path: Path) -> None:
    """examples/crm/make.sh, run into a temporary folder, writes the bundled files exactly."""
    env = {**os.environ, "FUNNELSIM": str(Path(sys.executable).parent / "funnelsim")}
    done = subprocess.run(
        ["sh", str(EXAMPLE / "make.sh"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    bundled = sorted(p.relative_to(EXAMPLE) for p in EXAMPLE.glob("*/*"))
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.glob("*/*"))
    print([str(p) for p in made])
    assert made == bundled
    stale = [str(p) for p in made if (tmp_path / p).read_bytes() != (EXAMPLE / p).read_bytes()]
    assert not stale, f"stale bundled export {stale}: run examples/crm/make.sh"
    size = sum((EXAMPLE / p).stat().st_size for p in bundled)
    print(f"bundled export: {size / 1e6:.2f} MB")
    assert size < 2_000_000


def test_example_funnel_is_not_the_bundled_one() -> None:
    """The example's truth differs from the defaults a calibration might fall back on."""
    true = load_scenario(EXAMPLE / "true-scenario.yaml").model_dump(mode="json")
    base = load_scenario(SCENARIOS / "baseline.yaml").model_dump(mode="json")
    changed = [
        ("sources", "search", "response", "leads_at_saturation"),
        ("sources", "outbound", "contacts_per_month"),
        ("segments", "mid", "deal_size", "mean"),
        ("segments", "smb", "win_rate"),
    ]

    def at(data: object, path: tuple[str, ...]) -> object:
        for key in path:
            assert isinstance(data, dict)
            data = data[key]
        return data

    for path in changed:
        print(path, at(base, path), "->", at(true, path))
        assert at(true, path) != at(base, path), path
