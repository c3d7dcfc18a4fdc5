"""The funnel by source, segment, team and first-touch wait (``funnelsim.breakdown``): the
groups add up to the headline metrics, each team's load adds up to its role's and its time to
its available hours, the wait bands hold the first touches the metrics average over, and
``run --by`` shows it."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from funnelsim import analysis, breakdown, cli, metrics, results
from funnelsim.breakdown import WAIT_EDGES_H, WAIT_LABELS, Key
from funnelsim.model.run import simulate
from funnelsim.records import RunRecords
from funnelsim.scenario.schema import Scenario
from funnelsim.staffing import HOURS_PER_YEAR, seat_hours
from helpers import SCENARIOS, bundled, scenario

VOLUMES = ("leads", "mqls", "sals", "sqls", "opportunities", "deals_won", "new_arr")


def test_the_groupings_the_cli_offers_are_the_breakdowns() -> None:
    # `run --by` offers every breakdown, and only those
    assert cli.GROUPINGS == breakdown.GROUPINGS
    assert breakdown.WAIT_LABELS == (
        "0-15m", "15m-1h", "1h-4h", "4h-8h", "8h-24h", "24h-48h", "48h-120h", "120h+",
    )  # fmt: skip


def with_a_bdr_team(
    seed: int,
) -> tuple[Scenario, RunRecords, dict[str, float], dict[Key, float]]:
    """The baseline for a quarter with a second SDR team (two BDRs working the outbound
    list): its scenario, its records, its metrics and its breakdown."""
    data = bundled("baseline.yaml")
    data["teams"]["bdr"] = {"role": "sdr", "headcount": 2, "annual_cost": 80000,
                            "routing": {"sources": ["outbound"]}}  # fmt: skip
    spec = scenario(data, "horizon=13w")
    records = simulate(spec, seed=seed)
    return spec, records, metrics.compute(records, spec), breakdown.compute(records, spec)


@pytest.mark.seed(8)
def test_sources_and_segments_add_up_to_the_whole_and_teams_to_their_role(seed: int) -> None:
    spec, records, whole, parts = with_a_bdr_team(seed)
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
    assert set(data["by"]) == {"segment", "team", "wait"}
    assert list(data["by"]["wait"]) == list(WAIT_LABELS)
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
    # the first touches by wait band: a table of their own, and rows of breakdown.csv
    by_wait = results.load(out).table("by_wait")
    assert list(by_wait.columns) == ["scenario", "replication", "wait", "metric", "value"]
    assert len(by_wait) == 2 * len(WAIT_LABELS) * 2  # replications x bands x (leads, sqls)
    waits = table[table["by"] == "wait"]
    assert list(dict.fromkeys(waits["group"])) == list(WAIT_LABELS)
    assert set(waits["metric"]) == {"leads", "sqls"}
    assert set(table[table["by"] == "team"]["metric"]) >= {"time_idle", "time_prospecting"}
    (bands,) = analysis.wait_shares(by_wait).values()
    assert sum(share.mean for _, share in bands) == pytest.approx(1.0)

    # a folder written before the wait bands and the time shares still loads and reads
    old = tmp_path / "old"
    shutil.copytree(out, old)
    shutil.rmtree(old / "by_wait")
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["chunks"] = {
        path: record for path, record in manifest["chunks"].items() if "by_wait" not in path
    }
    (old / "manifest.json").write_text(json.dumps(manifest))
    table[(table["by"] != "wait") & ~table["metric"].str.startswith("time_")].to_csv(
        old / "breakdown.csv", index=False
    )
    before = results.load(old)
    assert before.table("by_wait").empty
    assert analysis.wait_shares(before.table("by_wait")) == {}
    assert not before.table("by_team").empty
    assert len(results.query([old], "SELECT * FROM by_team WHERE metric = 'utilization'")) == 4


@pytest.mark.seed(8)
def test_each_teams_time_adds_up_to_its_available_hours(seed: int) -> None:
    _, _, whole, parts = with_a_bdr_team(seed)
    shares = (*breakdown.TIME_SHARES, "time_idle")
    for team in ("sdr", "bdr", "ae"):
        figures = {metric: parts["team", team, metric] for metric in shares}
        print(team, figures)
        assert sum(figures.values()) == pytest.approx(1.0, abs=1e-12)
        assert all(0 <= value <= 1 for value in figures.values())
        assert figures["time_idle"] == pytest.approx(1 - parts["team", team, "utilization"])
    # each kind of work is one role's: SDRs work no opportunity stage, AEs follow no lead up
    assert parts["team", "sdr", "time_ae_stages"] == 0
    assert parts["team", "bdr", "time_ae_stages"] == 0
    assert parts["team", "ae", "time_inbound_follow_up"] == 0
    assert parts["team", "ae", "time_ae_stages"] > 0.3
    # the BDRs work the outbound list only, so the SDRs inbound leads only
    assert parts["team", "bdr", "time_inbound_follow_up"] == 0
    assert parts["team", "bdr", "time_qualification"] == 0
    assert parts["team", "bdr", "time_prospecting"] > 0
    assert parts["team", "sdr", "time_prospecting"] == 0
    assert parts["team", "sdr", "time_inbound_follow_up"] > 0
    # the one AE team's time is the role's, as the headline metrics count it
    assert 1 - parts["team", "ae", "time_idle"] == pytest.approx(whole["ae_utilization"])


@pytest.mark.seed(3)
def test_the_wait_bands_hold_the_periods_first_touches_and_their_sqls(seed: int) -> None:
    spec = scenario(bundled("inbound-heavy.yaml"), "horizon=13w", "warmup=4w")
    records = simulate(spec, seed=seed)
    whole = metrics.compute(records, spec)
    parts = breakdown.compute(records, spec)
    leads = np.array([parts["wait", band, "leads"] for band in WAIT_LABELS])
    sqls = np.array([parts["wait", band, "sqls"] for band in WAIT_LABELS])
    print(dict(zip(WAIT_LABELS, zip(leads, sqls, strict=True), strict=True)))
    # the handoffs of the period first touched: the leads the first-touch metrics average over
    h = records.handoffs
    t0, t1 = records.window
    touched = np.flatnonzero((h.handoff_h >= t0) & (h.handoff_h < t1) & ~np.isnan(h.touch_start_h))
    waits = h.wait_h[touched]
    assert whole["first_touch_wait_mean_h"] == pytest.approx(waits.mean())
    assert whole["first_touch_wait_p90_h"] == pytest.approx(np.quantile(waits, 0.9))
    bands = list(itertools.pairwise(WAIT_EDGES_H))
    assert leads.tolist() == [np.count_nonzero((waits >= lo) & (waits < hi)) for lo, hi in bands]
    # an SQL counts in the band of the handoff it followed: its lead's last handoff before it
    expected = np.zeros(len(WAIT_LABELS))
    for i, wait in zip(touched, waits, strict=True):
        lead, start = h.lead[i], h.handoff_h[i]
        sql = records.leads.sql_h[lead]
        again = h.handoff_h[(h.lead == lead) & (h.handoff_h > start)]
        if sql >= start and not (again <= sql).any():
            expected[next(k for k, (lo, hi) in enumerate(bands) if lo <= wait < hi)] += 1
    assert sqls.tolist() == expected.tolist()
    assert all(sqls <= leads)
    # speed to lead: the scenario's decay makes a lead touched at once likelier to be an SQL
    assert sqls[0] / leads[0] > sqls[4] / leads[4]
