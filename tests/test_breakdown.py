"""The funnel by source, segment and team (``funnelsim.breakdown``): the groups add up to the
headline metrics, each team's load adds up to its role's, and ``run --by`` shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from funnelsim import breakdown, cli, metrics, results
from funnelsim.model.run import simulate
from funnelsim.staffing import HOURS_PER_YEAR, seat_hours
from helpers import SCENARIOS, bundled, scenario

VOLUMES = ("leads", "mqls", "sals", "sqls", "opportunities", "deals_won", "new_arr")


def test_the_groupings_the_cli_offers_are_the_breakdowns() -> None:
    assert cli.GROUPINGS == breakdown.GROUPINGS


@pytest.mark.seed(8)
def test_sources_and_segments_add_up_to_the_whole_and_teams_to_their_role(seed: int) -> None:
    data = bundled("baseline.yaml")
    data["teams"]["bdr"] = {"role": "sdr", "headcount": 2, "annual_cost": 80000,
                            "routing": {"sources": ["outbound"]}}  # fmt: skip
    spec = scenario(data, "horizon=13w")
    records = simulate(spec, seed=seed)
    whole = metrics.compute(records, spec)
    parts = breakdown.compute(records, spec)
    for by in ("source", "segment"):
        groups = {g for b, g, _ in parts if b == by}
        for metric in VOLUMES:
            total = sum(parts[by, g, metric] for g in groups)
            print(f"{metric} by {by}: {total} (whole: {whole[metric]})")
            assert total == pytest.approx(whole[metric])
    # one SDR-role team per lead: the teams' people, cost and busy hours add up to the role's
    sdr = ("sdr", "bdr")
    headcount = sum(parts["team", t, "headcount_mean"] for t in sdr)
    t0, t1 = records.window
    assert headcount == pytest.approx(seat_hours(records.sdr_seats, t0, t1) / (t1 - t0))
    cost = sum(parts["team", t, "cost_people"] for t in (*sdr, "ae"))
    # the rest of cost_people: marketing, leadership, and a manager's share per rep
    assert spec.marketing is not None
    econ = spec.economics
    assert econ.manager_span is not None
    years = (t1 - t0) / HOURS_PER_YEAR
    rep_years = seat_hours(records.sdr_seats + records.ae_seats, t0, t1) / HOURS_PER_YEAR
    others = (
        spec.marketing.headcount * spec.marketing.annual_cost_per_head * years
        + econ.leadership_annual * years
        + econ.manager_annual_cost / econ.manager_span * rep_years
    )
    assert cost == pytest.approx(whole["cost_people"] - others)
    assert parts["team", "ae", "utilization"] == pytest.approx(whole["ae_utilization"])
    # the BDRs work outbound contacts only, so every lead they worked came from the list
    assert parts["team", "bdr", "leads_worked"] >= parts["source", "outbound", "leads"]
    assert parts["team", "sdr", "sqls"] == pytest.approx(
        whole["sqls"] - parts["source", "outbound", "sqls"]
    )


def test_run_by_shows_the_groups_and_json_and_the_folder_hold_them(tmp_path: Path) -> None:
    file = str(SCENARIOS / "baseline.yaml")
    short = ["-n", "2", "-w", "1", "--set", "horizon=8w", "--set", "warmup=4w"]
    shown = CliRunner().invoke(cli.app, ["run", file, *short, "--by", "source", "--by", "team"])
    assert shown.exit_code == 0, shown.output
    assert "by source" in shown.stdout
    assert "by team" in shown.stdout
    for group in ("search", "content", "outbound", "headcount_mean", "rate_mql_to_sql"):
        assert group in shown.stdout
    as_json = CliRunner().invoke(cli.app, ["run", file, *short, "--json"])
    data = json.loads(as_json.stdout)
    # each source's figures sit beside the headline metrics as METRIC.SOURCE
    search_sqls = data["metrics"]["sqls.search"]["mean"]
    assert search_sqls > 0
    assert "rate_mql_to_sql.content" in data["metrics"]
    assert set(data["by"]) == {"segment", "team"}
    assert set(data["by"]["segment"]) == {"smb", "mid", "ent"}
    assert set(data["by"]["team"]) == {"sdr", "ae"}
    out = tmp_path / "run"
    done = CliRunner().invoke(cli.app, ["run", file, *short, "--out", str(out), "--no-records"])
    assert done.exit_code == 0, done.output
    by_source = results.load(out).table("by_source")
    print(by_source.head())
    assert list(by_source.columns) == ["scenario", "replication", "source", "metric", "value"]
    sqls = by_source[(by_source["source"] == "search") & (by_source["metric"] == "sqls")]
    assert sqls["value"].mean() == pytest.approx(search_sqls)
    assert set(results.load(out).table("by_team")["team"]) == {"sdr", "ae"}
    table = pd.read_csv(out / "breakdown.csv")
    row = table[
        (table["by"] == "source") & (table["group"] == "search") & (table["metric"] == "sqls")
    ]
    assert row["mean"].iloc[0] == pytest.approx(search_sqls)
