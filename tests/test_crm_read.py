"""Reading CRM exports: every class of bad data is a located error or a counted drop.

A planner's export is messy; funnelsim must never answer it with a traceback. Each test writes
a small HubSpot (or Salesforce, or mapped) export by hand, with one fault, and checks the exact
``FILE:ROW:COL`` of its error (ROW the CSV's line, the header is line 1) or the count under
its reason in ``Export.dropped``; ``--strict`` turns every drop into a located error, and the
command line writes nothing when it fails.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from funnelsim.cli import app
from funnelsim.crm.data import Export
from funnelsim.crm.read import read_export
from funnelsim.errors import UsageError
from funnelsim.scenario.load import ScenarioError
from helpers import ROOT

CONTACT_HEADER = (
    "Record ID,Create Date,Original Source,Lifecycle Stage,"
    "Became a Marketing Qualified Lead Date,Became a Sales Qualified Lead Date,"
    "First Engagement Date,Number of Sales Activities,Industry,Number of Employees"
)
DEAL_HEADER = "Deal ID,Contact ID,Create Date,Close Date,Deal Stage,Amount"
GOOD_CONTACTS = [
    "1,2024-01-02 10:00,Organic Search,customer,2024-01-02 11:00,2024-01-03 09:00,"
    "2024-01-02 12:00,3,Software,120",
    "2,2024-01-03 10:00,Paid Search,lead,,,,0,,",
    "3,2024-01-04 10:00,Organic Search,lead,2024-01-04 10:30,,2024-01-04 11:00,2,Retail,5000",
]
GOOD_DEALS = ['d1,1,2024-01-05 10:00,2024-02-01 10:00,closedwon,"$12,000"']


def write(folder: Path, name: str, header: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def hubspot(
    folder: Path,
    contacts: list[str] | None = None,
    deals: list[str] | None = None,
    *,
    strict: bool = False,
    timezone: str | None = None,
    fmt: str | Path = "hubspot",
) -> Export:
    c = write(
        folder, "contacts.csv", CONTACT_HEADER, GOOD_CONTACTS if contacts is None else contacts
    )
    d = write(folder, "deals.csv", DEAL_HEADER, GOOD_DEALS if deals is None else deals)
    return read_export(c, d, None, fmt, timezone=timezone, strict=strict)


def problems(error: pytest.ExceptionInfo[ScenarioError]) -> list[str]:
    return [str(p) for p in error.value.problems]


# -- a good export ---------------------------------------------------------------------------------
def test_a_clean_export_reads_every_field(tmp_path: Path) -> None:
    export = hubspot(tmp_path)
    print(export.leads.to_string(), export.deals.to_string(), sep="\n")
    assert list(export.leads["id"]) == ["1", "2", "3"]
    assert export.leads["created"].iloc[0] == pd.Timestamp("2024-01-02 10:00")
    assert pd.isna(export.leads["mql_at"].iloc[1])
    assert list(export.leads["segment"]) == ["smb", "unknown", "ent"]
    assert list(export.leads["kind"]) == ["inbound"] * 3  # every source inbound by default
    assert export.deals["amount"].iloc[0] == 12000.0  # "$12,000" as a spreadsheet writes it
    assert list(export.deals["outcome"]) == ["won"]
    assert export.exported_at == pd.Timestamp("2024-02-01 10:00")  # its latest date
    assert export.dropped == {}


# -- located errors --------------------------------------------------------------------------------
def test_missing_column_is_located_with_did_you_mean(tmp_path: Path) -> None:
    header = CONTACT_HEADER.replace("Create Date", "Created Date")
    path = write(tmp_path, "contacts.csv", header, GOOD_CONTACTS)
    with pytest.raises(ScenarioError) as error:
        read_export(path, None, None, "hubspot", timezone=None, strict=False)
    assert problems(error) == [
        f"{path}:1:2: missing column 'Create Date' (did you mean 'Created Date'?)"
    ]


def test_empty_and_non_csv_files_are_located(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ScenarioError) as error:
        read_export(empty, None, None, "hubspot", timezone=None, strict=False)
    assert problems(error) == [
        f"{empty}:1:1: the file is empty: expected a contacts (leads) export"
    ]
    sheet = tmp_path / "contacts.xlsx"
    sheet.write_bytes(b"PK\x03\x04\x14\x00\x00\x00binary")
    with pytest.raises(ScenarioError) as error:
        read_export(sheet, None, None, "hubspot", timezone=None, strict=False)
    assert problems(error) == [f"{sheet}:1:1: not a CSV file (binary content): export it as CSV"]
    header_only = write(tmp_path, "header.csv", CONTACT_HEADER, [])
    with pytest.raises(ScenarioError) as error:
        read_export(header_only, None, None, "hubspot", timezone=None, strict=False)
    assert problems(error) == [f"{header_only}:2:1: no rows after the header: nothing to fit"]


def test_a_row_with_too_many_cells_is_located(tmp_path: Path) -> None:
    rows = [*GOOD_CONTACTS[:2], GOOD_CONTACTS[2] + ",extra,cells"]
    with pytest.raises(ScenarioError) as error:
        hubspot(tmp_path, rows)
    [problem] = problems(error)
    assert problem.startswith(f"{tmp_path / 'contacts.csv'}:4:1: cannot read as CSV"), problem


def test_unknown_format_and_timezone_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match=r"--format: unknown format 'hubspt' \(did you mean 'hubspot'"
    ):
        hubspot(tmp_path, fmt="hubspt")
    with pytest.raises(UsageError, match="--timezone: unknown time zone 'Mars/Olympus'"):
        hubspot(tmp_path, timezone="Mars/Olympus")


# -- counted drops, and --strict -------------------------------------------------------------------
BAD_CONTACTS = [
    *GOOD_CONTACTS,
    "4,2024-01-05 10:00,Organic Search,lead,yesterday,,,0,,",  # line 5: unreadable date
    "5,2024-01-06 10:00,Organic Search,lead,2024-01-05 10:00,,,0,,",  # 6: MQL before creation
    "6,2024-01-06 10:00,Organic Search,lead,2024-01-07 10:00,2024-01-06 12:00,,0,,",  # 7: SQL<MQL
    "2,2024-01-07 10:00,Organic Search,lead,,,,0,,",  # 8: duplicate id
]
BAD_DEALS = [
    *GOOD_DEALS,
    "d2,99,2024-01-05 10:00,,appointmentscheduled,",  # line 3: unknown contact
    "d3,4,2024-01-06 10:00,,appointmentscheduled,",  # 4: its contact was dropped
    "d4,1,2024-01-06 10:00,2024-01-01 10:00,closedlost,100",  # 5: closed before created
    "d1,1,2024-01-06 10:00,,appointmentscheduled,",  # 6: duplicate deal id
]


def test_bad_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    export = hubspot(tmp_path, BAD_CONTACTS, BAD_DEALS)
    print(dict(export.dropped))
    assert dict(export.dropped) == {
        "unreadable_date": 1,
        "mql_before_created": 1,
        "sql_before_mql": 1,
        "duplicate_lead_id": 1,
        "deal_unknown_lead": 1,
        "deal_lead_dropped": 1,
        "closed_before_created": 1,
        "duplicate_deal_id": 1,
    }
    assert list(export.leads["id"]) == ["1", "2", "3"]
    assert export.leads["created"].iloc[1] == pd.Timestamp("2024-01-03 10:00")  # the first "2"
    assert list(export.deals["id"]) == ["d1"]


def test_strict_turns_every_drop_into_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as error:
        hubspot(tmp_path, BAD_CONTACTS, BAD_DEALS, strict=True)
    c, d = tmp_path / "contacts.csv", tmp_path / "deals.csv"
    found = problems(error)
    print("\n".join(found))
    assert found == [
        f"{c}:5:5: Became a Marketing Qualified Lead Date: cannot read 'yesterday': expected a "
        "date as YYYY-MM-DD HH:MM",
        f"{c}:6:5: Became a Marketing Qualified Lead Date: an MQL before its creation "
        "(2024-01-05 10:00, Create Date: 2024-01-06 10:00)",
        f"{c}:7:6: Became a Sales Qualified Lead Date: an SQL before its MQL (2024-01-06 12:00, "
        "Became a Marketing Qualified Lead Date: 2024-01-07 10:00)",
        f"{c}:8:1: Record ID: duplicate id '2' (first on line 3)",
        f"{d}:3:2: Contact ID: its contact is not in the contacts export ('99')",
        f"{d}:4:2: Contact ID: its contact '4' was left out (see its own problem)",
        f"{d}:5:4: Close Date: closed before its creation (2024-01-01 10:00, Create Date: "
        "2024-01-06 10:00)",
        f"{d}:6:1: Deal ID: duplicate id 'd1' (first on line 2)",
    ]


def test_a_quoted_cell_with_a_newline_keeps_the_line_numbers_right(tmp_path: Path) -> None:
    rows = [
        GOOD_CONTACTS[0].replace("Software", '"Soft\nware"'),  # one record over lines 2-3
        "2,2024-01-03 10:00,Paid Search,lead,someday,,,0,,",  # line 4
    ]
    with pytest.raises(ScenarioError) as error:
        hubspot(tmp_path, rows, [], strict=True)
    [problem] = problems(error)
    assert problem.startswith(f"{tmp_path / 'contacts.csv'}:4:5: "), problem


# -- the command line ------------------------------------------------------------------------------
def test_cli_error_exits_2_without_traceback_and_writes_nothing(tmp_path: Path) -> None:
    hubspot(tmp_path, BAD_CONTACTS, BAD_DEALS)  # writes the files (and reads them leniently)
    output = tmp_path / "scenario.yaml"
    args = [
        "calibrate", str(tmp_path / "contacts.csv"), "--deals", str(tmp_path / "deals.csv"),
        "--format", "hubspot", "--output", str(output), "--strict",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    print(result.output)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{tmp_path / 'contacts.csv'}:8:1: Record ID: duplicate id '2'" in result.output
    assert not output.exists()
    assert list(tmp_path.glob("*.tmp")) == []
    assert list(tmp_path.glob(".scenario*")) == []


# -- the mapping file ------------------------------------------------------------------------------
def test_mapping_file_typos_are_located_with_did_you_mean(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("format: hubspot\ncontacts:\n  mql_date: MQL\noutbund_sources: [Sales]\n")
    with pytest.raises(ScenarioError) as error:
        hubspot(tmp_path, fmt=mapping)
    found = problems(error)
    print("\n".join(found))
    assert found[0].startswith(
        f"{mapping}:3:3: contacts.mql_date: unknown key 'mql_date' (did you mean 'mql_at'?)"
    )
    assert found[1].startswith(
        f"{mapping}:4:1: outbund_sources: unknown key 'outbund_sources' (did you mean "
        "'outbound_sources'?)"
    )


def test_mapping_file_reads_another_crm(tmp_path: Path) -> None:
    """A made-up CRM: its own column names, day-first dates, its stage words, an outbound
    source; a column it names but the file lacks is a located error."""
    contacts = write(
        tmp_path,
        "people.csv",
        "Person,Added,Channel,Qualified",
        ["p1,02/01/2024 10:00,Web,03/01/2024 09:00", "p2,03/01/2024 11:00,Cold Calls,"],
    )
    deals = write(
        tmp_path, "deals.csv", "Deal,Person,Opened,Status", ["x1,p1,05/01/2024 10:00,Won"]
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "contacts: {id: Person, created: Added, source: Channel, sql_at: Qualified}\n"
        "deals: {id: Deal, lead_id: Person, created: Opened, stage: Status}\n"
        "stages: {won: [Won], lost: [Lost]}\n"
        'date_format: "%d/%m/%Y %H:%M"\n'
        "outbound_sources: [cold_calls]\n"
    )
    export = read_export(contacts, deals, None, mapping, timezone=None, strict=True)
    assert list(export.leads["kind"]) == ["inbound", "outbound"]
    assert export.leads["sql_at"].iloc[0] == pd.Timestamp("2024-01-03 09:00")
    assert list(export.deals["outcome"]) == ["won"]
    assert export.leads["mql_at"].isna().all()  # not in this export: fits needing it skip
    mapping.write_text(mapping.read_text().replace("sql_at: Qualified", "sql_at: SQL Date"))
    with pytest.raises(ScenarioError) as error:
        read_export(contacts, deals, None, mapping, timezone=None, strict=True)
    assert problems(error) == [f"{contacts}:1:1: missing column 'SQL Date'"]


def test_salesforce_links_opportunities_through_converted_leads(tmp_path: Path) -> None:
    leads = write(
        tmp_path,
        "leads.csv",
        "Id,CreatedDate,LeadSource,Status,IsConverted,ConvertedDate,ConvertedOpportunityId,"
        "Industry,NumberOfEmployees",
        [
            "L1,2024-01-02 10:00,Web,Converted,true,2024-01-04 10:00,O1,,50",
            "L2,2024-01-02 11:00,Web,Open,false,,,,",
        ],
    )
    opportunities = write(
        tmp_path,
        "opportunities.csv",
        "Id,CreatedDate,CloseDate,StageName,IsClosed,IsWon,Amount,LeadSource",
        [
            "O1,2024-01-04 10:00,2024-02-01 10:00,Closed Won,true,true,9000,Web",
            "O2,2024-01-05 10:00,2024-03-01 00:00,Prospecting,false,false,,Web",
        ],
    )
    export = read_export(leads, opportunities, None, "salesforce", timezone=None, strict=False)
    assert list(export.deals["lead_id"]) == ["L1"]
    assert list(export.deals["outcome"]) == ["won"]
    assert export.dropped == {"deal_unknown_lead": 1}  # O2: no lead converted into it
    assert export.leads["first_touch_at"].isna().all()  # no First_Touch__c column: skipped


# -- time zones ------------------------------------------------------------------------------------
def test_dates_with_an_offset_convert_to_local_wall_clock_across_dst(tmp_path: Path) -> None:
    """New York springs forward at 02:00 on 2024-03-10 and falls back at 02:00 on 2024-11-03:
    the same UTC hour is 01:30 before the change and 03:30 after; local dates stay as written."""
    rows = [
        "1,2024-03-10T06:30:00Z,Web,lead,,,,0,,",  # 01:30 EST
        "2,2024-03-10T07:30:00Z,Web,lead,,,,0,,",  # 03:30 EDT (02:30 does not exist)
        "3,2024-11-03T05:30:00Z,Web,lead,,,,0,,",  # 01:30 EDT
        "4,2024-11-03T06:30:00Z,Web,lead,,,,0,,",  # 01:30 EST, an hour later
        "5,2024-03-10 03:15,Web,lead,,,,0,,",  # local already: kept
        "6,2024-07-01T12:00:00+02:00,Web,lead,,,,0,,",  # 10:00 UTC = 06:00 EDT
    ]
    export = hubspot(tmp_path, rows, [], timezone="America/New_York")
    got = [f"{t:%Y-%m-%d %H:%M}" for t in export.leads["created"]]
    print(got)
    assert got == [
        "2024-03-10 01:30",
        "2024-03-10 03:30",
        "2024-11-03 01:30",
        "2024-11-03 01:30",
        "2024-03-10 03:15",
        "2024-07-01 06:00",
    ]
    utc = hubspot(tmp_path, rows, [], timezone=None)  # default: UTC
    assert f"{utc.leads['created'].iloc[1]:%H:%M}" == "07:30"


def test_the_mapping_file_in_the_docs_loads(tmp_path: Path) -> None:
    from funnelsim.crm.read import load_mapping

    text = (ROOT / "docs" / "cli.md").read_text()
    block = text[text.index("### `funnelsim calibrate`") :].split("```yaml\n", 1)[1]
    path = tmp_path / "mapping.yaml"
    path.write_text(block.split("```", 1)[0])
    found = load_mapping(path).mapping
    assert found.contacts.mql_at == "MQL_Date__c"
    assert found.contacts.id == "Id"  # the rest from the built-in Salesforce format
    assert found.outbound_sources == ["Outbound Prospecting"]
