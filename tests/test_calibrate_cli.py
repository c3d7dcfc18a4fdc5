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
         "--output", str(output), "--json"]
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
         "--output", str(output), "--timezone", "Europe/Berlin"]
    )  # fmt: skip
    assert "arrivals_per_week.outbound" in printed  # inbound here: no mapping file
    assert "dropped: 1 row(s) by reason:" in printed
    assert "duplicate_lead_id: 1" in printed
    assert output.is_file()


@pytest.mark.skipif(not EXAMPLE.is_dir(), reason="the bundled example export is not there")
def test_the_bundled_example_calibrates_end_to_end(tmp_path: Path) -> None:
    mapping = EXAMPLE / "mapping.yaml"  # as export-crm wrote it
    output = tmp_path / "example.yaml"
    printed = invoke(
        ["calibrate", str(EXAMPLE / "contacts.csv"), "--deals", str(EXAMPLE / "deals.csv"),
         "--format", str(mapping), "--output", str(output), "--json"]
    )  # fmt: skip
    answer = json.loads(printed.splitlines()[-1])
    assert answer["dropped"] == {}
    assert "decay_at_1h" in answer["fits"]
    assert "ok:" in invoke(["validate", str(output)])


@pytest.mark.skipif(not EXAMPLE.is_dir(), reason="the bundled example export is not there")
def test_the_example_recovers_the_win_rates_it_was_made_with(tmp_path: Path) -> None:
    """The example export was simulated from examples/crm/true-scenario.yaml: each segment's
    calibrated win rate (the decision's own, stage losses taken out) has an interval that
    covers the rate the export was made with."""
    output = tmp_path / "example.yaml"
    invoke(
        ["calibrate", str(EXAMPLE / "contacts.csv"), "--deals", str(EXAMPLE / "deals.csv"),
         "--format", str(EXAMPLE / "mapping.yaml"), "--output", str(output)]
    )  # fmt: skip
    truth = yaml.safe_load((EXAMPLE.parent / "true-scenario.yaml").read_text())["segments"]
    fitted = yaml.safe_load(output.read_text())["segments"]
    for segment, numbers in truth.items():
        true, found = numbers["win_rate"]["value"], fitted[segment]["win_rate"]
        print(
            f"{segment}: true {true}, calibrated {found['value']} [{found['low']}, {found['high']}]"
        )
        assert found["low"] <= true <= found["high"]
