"""``funnelsim calibrate``: a CRM export in, a scenario that validates and runs out.

A small HubSpot export is written by the test itself (two inbound sources and an outbound list
over twelve weeks, with MQLs, SQLs, first touches and deals, from a fixed seed); calibrating it
must give a scenario file whose fitted numbers are written ``{value, low, high, source,
grade}``, whose other sections say they come from the base scenario, and which ``funnelsim
validate`` accepts and ``funnelsim run`` simulates. ``--json`` keeps its contract.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from funnelsim.cli import app
from helpers import ROOT

EXAMPLE = ROOT / "examples" / "crm" / "hubspot"
CONTACT_HEADER = (
    "Record ID,Create Date,Original Source,Lifecycle Stage,"
    "Became a Marketing Qualified Lead Date,Became a Sales Qualified Lead Date,"
    "First Engagement Date,Number of Sales Activities,Industry,Number of Employees"
)
DEAL_HEADER = "Deal ID,Contact ID,Create Date,Close Date,Deal Stage,Amount"
FILES = {"hubspot": ("contacts.csv", "deals.csv"), "salesforce": ("leads.csv", "opportunities.csv")}
START = dt.datetime(2024, 1, 1, 0, 0)


def when(t: dt.datetime | None) -> str:
    return "" if t is None else f"{t:%Y-%m-%d %H:%M}"


def small_export(folder: Path, seed: int = 3) -> tuple[Path, Path]:
    """About 400 contacts over 12 weeks: 'Organic Search' and 'Webinar' inbound, 'Outbound'
    prospected; a third become MQLs, a third of those SQLs, most SQLs deals, a third won."""
    rng = np.random.default_rng(seed)
    contacts, deals = [], []
    sources = {"Organic Search": 20.0, "Webinar": 8.0, "Outbound": 5.0}  # per week
    n = 0
    for source, per_week in sources.items():
        for _ in range(rng.poisson(per_week * 12)):
            n += 1
            created = START + dt.timedelta(hours=float(rng.uniform(0, 12 * 7 * 24)))
            mql = sql = touch = None
            if source != "Outbound" and rng.random() < 0.35:
                mql = created + dt.timedelta(minutes=float(rng.uniform(1, 120)))
            began = mql or created
            if mql is not None or source == "Outbound":
                touch = began + dt.timedelta(minutes=float(rng.exponential(240)))
                if rng.random() < (0.5 if touch - began < dt.timedelta(hours=1) else 0.25):
                    sql = touch + dt.timedelta(hours=float(rng.uniform(1, 48)))
            employees = int(rng.choice([40, 400, 4000], p=[0.6, 0.3, 0.1]))
            activities = int(rng.integers(1, 6)) if touch else 0
            contacts.append(
                f"{n},{when(created)},{source},lead,{when(mql)},{when(sql)},{when(touch)},"
                f"{activities},Software,{employees}"
            )
            if sql is not None and rng.random() < 0.7:
                opened = sql + dt.timedelta(days=float(rng.uniform(0, 3)))
                closed = opened + dt.timedelta(days=float(rng.gamma(6, 5)))
                won = rng.random() < 0.35
                stage = "closedwon" if won else "closedlost"
                if closed > START + dt.timedelta(weeks=12):
                    closed, stage = None, "contractsent"  # still open at the export
                amount = f"{rng.lognormal(np.log(20000), 0.4):.2f}"
                deals.append(f"D{n},{n},{when(opened)},{when(closed)},{stage},{amount}")
    c, d = folder / "contacts.csv", folder / "deals.csv"
    c.write_text("\n".join([CONTACT_HEADER, *contacts]) + "\n")
    d.write_text("\n".join([DEAL_HEADER, *deals]) + "\n")
    return c, d


def invoke(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    print(result.output)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The small export calibrated once (with an outbound source named in a mapping file);
    the scenario file and the --json answer."""
    folder = tmp_path_factory.mktemp("crm")
    contacts, deals = small_export(folder)
    mapping = folder / "mapping.yaml"
    mapping.write_text("format: hubspot\noutbound_sources: [Outbound]\n")
    output = folder / "calibrated.yaml"
    printed = invoke(
        ["calibrate", str(contacts), "--deals", str(deals), "--format", str(mapping),
         "--output", str(output), "--json", "--refine", "0"]
    )  # fmt: skip
    return output, json.loads(printed.splitlines()[-1])


def test_json_keeps_its_contract(calibrated: tuple[Path, dict[str, object]]) -> None:
    _, answer = calibrated
    assert {"fits", "dropped", "skipped", "output"} <= set(answer)
    fits = answer["fits"]
    assert isinstance(fits, dict)
    for name in ("arrivals_per_week.organic_search", "rate_mql_to_sql.organic_search",
                 "rate_opportunity_to_won", "deal_size_mean"):  # fmt: skip
        assert set(fits[name]) == {"estimate", "ci_low", "ci_high", "n"}, name
        assert fits[name]["ci_low"] <= fits[name]["estimate"] <= fits[name]["ci_high"], name
    assert answer["dropped"] == {}


def test_fitted_numbers_carry_range_source_and_grade(
    calibrated: tuple[Path, dict[str, object]],
) -> None:
    output, answer = calibrated
    text = output.read_text()
    data = yaml.safe_load(text)
    assert set(data["sources"]) == {"organic_search", "webinar", "outbound"}
    assert data["sources"]["outbound"]["kind"] == "outbound"
    rate = data["sources"]["organic_search"]["arrivals"]["rate"]
    print(rate)
    assert set(rate) == {"value", "low", "high", "source", "grade"}
    assert rate["source"].startswith("contacts.csv + deals.csv n=")
    assert rate["grade"] == "B"  # some 240 leads
    fits = answer["fits"]
    assert isinstance(fits, dict)
    assert float(rate["value"].removesuffix("/w")) == pytest.approx(
        fits["arrivals_per_week.organic_search"]["estimate"], rel=1e-3
    )
    smb = data["segments"]["smb"]
    assert set(smb["deal_size"]["mean"]) >= {"value", "source", "grade"}
    assert smb["deal_size"]["mean"]["grade"] == "C"  # fewer than 30 won deals
    assert len(data["sources"]["webinar"]["arrivals"]["hours"]) == 24
    # what the export cannot tell is marked as the base's
    assert "# from the base scenario" in text
    assert "teams:" in text
    assert data["teams"]["sdr"]["headcount"]["source"] == "the plan"  # the baseline's own


def test_the_calibrated_scenario_validates_and_runs(
    calibrated: tuple[Path, dict[str, object]],
) -> None:
    output, _ = calibrated
    assert "ok:" in invoke(["validate", str(output)])
    printed = invoke(
        ["run", str(output), "-n", "2", "-w", "1", "--set", "horizon=6w", "--set", "warmup=1w",
         "--json"]
    )  # fmt: skip
    metrics = json.loads(printed.splitlines()[-1])
    print(str(metrics)[:400])
    assert "leads" in json.dumps(metrics)


def test_the_table_shows_fits_and_drops(tmp_path: Path) -> None:
    contacts, deals = small_export(tmp_path, seed=5)
    with contacts.open("a") as file:
        file.write("1,2024-01-02 10:00,Webinar,lead,,,,0,,\n")  # a duplicate id: dropped
    output = tmp_path / "out.yaml"
    printed = invoke(
        ["calibrate", str(contacts), "--deals", str(deals), "--format", "hubspot",
         "--output", str(output), "--timezone", "Europe/Berlin", "--refine", "0"]
    )  # fmt: skip
    assert "arrivals_per_week.outbound" in printed  # inbound here: no mapping file
    assert "dropped: 1 row(s) by reason:" in printed
    assert "duplicate_lead_id: 1" in printed
    assert output.is_file()


def mapped_export(folder: Path) -> tuple[Path, Path, Path]:
    """The bundled HubSpot example as another CRM writes it: its own column names, day-first
    dates, its own stage values and deal ids, described by a mapping file without a built-in
    format."""
    contacts = pd.read_csv(EXAMPLE / "contacts.csv", dtype=str, keep_default_na=False)
    deals = pd.read_csv(EXAMPLE / "deals.csv", dtype=str, keep_default_na=False)

    def day_first(column: pd.Series) -> pd.Series:
        dates = pd.to_datetime(column.replace("", None), format="%Y-%m-%d %H:%M")
        return dates.dt.strftime("%d/%m/%Y %H:%M").fillna("")

    people = pd.DataFrame({
        "person_id": contacts["Record ID"],
        "added": day_first(contacts["Create Date"]),
        "channel": contacts["Original Source"],
        "marketing_qualified": day_first(contacts["Became a Marketing Qualified Lead Date"]),
        "sales_qualified": day_first(contacts["Became a Sales Qualified Lead Date"]),
        "first_call": day_first(contacts["First Engagement Date"]),
        "touches": contacts["Number of Sales Activities"],
        "sector": contacts["Industry"],
        "headcount": contacts["Number of Employees"],
    })  # fmt: skip
    stages = {"closedwon": "Won", "closedlost": "Lost"}
    won = deals["Deal Stage"].map(stages).fillna("Negotiation")
    pipeline = pd.DataFrame({
        "deal": "P-" + deals["Deal ID"], "person": deals["Contact ID"],
        "opened": day_first(deals["Create Date"]), "closed": day_first(deals["Close Date"]),
        "status": won, "value": deals["Amount"],
    })  # fmt: skip
    people.to_csv(folder / "people.csv", index=False)
    pipeline.to_csv(folder / "pipeline.csv", index=False)
    mapping = yaml.safe_load((EXAMPLE / "mapping.yaml").read_text())
    (folder / "mapping.yaml").write_text(
        yaml.safe_dump(
            {
                "contacts": {
                    "id": "person_id",
                    "created": "added",
                    "source": "channel",
                    "mql_at": "marketing_qualified",
                    "sql_at": "sales_qualified",
                    "first_touch_at": "first_call",
                    "activities": "touches",
                    "industry": "sector",
                    "employees": "headcount",
                },
                "deals": {
                    "id": "deal",
                    "lead_id": "person",
                    "created": "opened",
                    "closed": "closed",
                    "stage": "status",
                    "amount": "value",
                },
                "stages": {"won": ["Won"], "lost": ["Lost"]},
                "date_format": "%d/%m/%Y %H:%M",
                "outbound_sources": mapping["outbound_sources"],
                "exported_at": mapping["exported_at"],
            }
        )
    )
    return folder / "people.csv", folder / "pipeline.csv", folder / "mapping.yaml"


@pytest.mark.slow
@pytest.mark.skipif(not EXAMPLE.is_dir(), reason="the bundled example export is not there")
@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_one_command_gives_a_scenario_that_reproduces_the_history(crm: str, tmp_path: Path) -> None:
    """The planner's one command, on each kind of export: the direct fits, refinement by
    simulation (on by default) and a back-test of the scenario written. Most of the history's
    quantities fall inside the replay's band (a correct scenario leaves about 1 in 20 outside
    by chance), and the refined numbers say where they came from."""
    folder = EXAMPLE.parent / crm
    contacts, deals = (folder / name for name in FILES[crm])
    mapping, spend = folder / "mapping.yaml", folder / "spend.csv"
    output, tested = tmp_path / "mine.yaml", tmp_path / "backtest"
    printed = invoke(
        ["calibrate", str(contacts), "--deals", str(deals), "--spend", str(spend),
         "--format", str(mapping), "--output", str(output), "--warmup", "0d",
         "--backtest", str(tested), "--json"]
    )  # fmt: skip
    answer = json.loads(printed.splitlines()[-1])
    refined = [note for note in answer["notes"] if note.startswith("refined by simulation")]
    print(crm, refined, f"back-test: {answer['backtest']['inside']} of "
          f"{answer['backtest']['compared_count']} inside")  # fmt: skip
    assert len(refined) == 1
    assert "in 3 round(s)" in refined[0]
    assert answer["dropped"] == {}
    assert "decay_at_1h" in answer["fits"]
    assert "response.search.leads_at_saturation" in answer["fits"]  # bought with spend
    assert answer["backtest"]["inside"] >= 0.85 * answer["backtest"]["compared_count"]
    assert "calibrated by simulation" in output.read_text()
    assert (tested / "backtest.md").is_file()


@pytest.mark.skipif(not EXAMPLE.is_dir(), reason="the bundled example export is not there")
def test_a_mapped_export_reads_as_the_hubspot_one(tmp_path: Path) -> None:
    """Another CRM's export of the same records (its own columns, day-first dates, stage
    values and deal ids, read through a mapping file without a built-in format) gives the same
    fits, to the last digit, as the HubSpot export it was rewritten from."""
    contacts, deals, mapping = mapped_export(tmp_path)
    answers = []
    for files in (
        [contacts, "--deals", deals, "--format", mapping],
        [EXAMPLE / "contacts.csv", "--deals", EXAMPLE / "deals.csv", "--format",
         EXAMPLE / "mapping.yaml"],
    ):  # fmt: skip
        output = tmp_path / f"{len(answers)}.yaml"
        printed = invoke(
            ["calibrate", *map(str, files), "--spend", str(EXAMPLE / "spend.csv"),
             "--refine", "0", "--output", str(output), "--json"]
        )  # fmt: skip
        answers.append(json.loads(printed.splitlines()[-1]))
    mapped, hubspot = answers
    print(f"{len(mapped['fits'])} fits from the mapped export, {len(hubspot['fits'])} from HubSpot")
    assert mapped["dropped"] == {}
    assert len(mapped["fits"]) > 50
    assert mapped["fits"] == hubspot["fits"]
