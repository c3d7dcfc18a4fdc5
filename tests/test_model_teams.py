"""Segments and teams that matter: further teams by role and routing, a segment's own cycle.

* **Routing.** A further team (``teams.bdr``, ``teams.ae_enterprise``) works exactly the leads
  its routing names, and the role's own team the rest: checked task by task.
* **A segment's cycle.** Its stage delays are scaled to add up to the cycle, and its AE work by
  ``ae_work``: an exact trace on an opportunity whose every step is deterministic.
* **A pod binds.** An enterprise pod too small for its pipeline wins fewer enterprise deals
  (paired CIs on common random numbers), and the AEs of the other segments see no difference.
* **Bad routing** is refused where the file says it, with a did-you-mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from funnelsim.analysis import excludes_zero, paired_difference
from funnelsim.cli import app
from funnelsim.model.run import simulate
from funnelsim.records import TaskKind, Team
from funnelsim.scenario.load import ScenarioError
from funnelsim.store import task_frame
from helpers import SCENARIOS, bundled, scenario

BASELINE = str(SCENARIOS / "baseline.yaml")


def pods(data: dict[str, Any]) -> dict[str, Any]:
    """The baseline with outbound BDRs beside the inbound SDRs, and an enterprise AE pod."""
    teams = data["teams"]
    teams["sdr"]["headcount"] = 3
    teams["bdr"] = {
        "role": "sdr",
        "headcount": 2,
        "annual_cost": 80000,
        "routing": {"sources": ["outbound"]},
        "priority": "outbound_first",
    }
    teams["ae"]["headcount"] = 3
    teams["ae_enterprise"] = {
        "role": "ae",
        "headcount": 1,
        "annual_cost": 200000,
        "routing": {"segments": ["ent"]},
        "quota": 1200000,
    }
    return data  # fmt: skip


@pytest.mark.seed(3)
def test_each_team_works_exactly_the_leads_its_routing_names(seed: int) -> None:
    records = simulate(scenario(pods(bundled("baseline.yaml")), "horizon=16w"), seed=seed)
    leads, tasks = records.leads, records.tasks
    outbound = records.source_names.index("outbound")
    ent = records.segment_names.index("ent")
    frame = task_frame(records)
    sdr_role = frame["role"] == "sdr"
    team = frame["team"].astype(str).to_numpy()
    lead = frame["lead"].to_numpy()
    from_list = leads.source[lead] == outbound
    in_ent = leads.segment[lead] == ent
    print(f"tasks by team: {frame['team'].value_counts().to_dict()}")
    # the SDR role: outbound contacts to the BDRs (prospecting, and meetings they hold), inbound
    # leads to the SDRs
    assert set(team[sdr_role & from_list]) == {"bdr"}
    assert set(team[sdr_role & ~from_list]) == {"sdr"}
    assert np.count_nonzero(frame["kind"] == "prospect") == np.count_nonzero(
        sdr_role & from_list & (frame["kind"] == "prospect")
    )
    # the AE role: enterprise opportunities to the pod, whatever their source; the rest to the AEs
    ae_role = (frame["role"] == "ae").to_numpy()
    assert set(team[ae_role & in_ent]) == {"ae_enterprise"}
    assert set(team[ae_role & ~in_ent]) == {"ae"}
    # reps are numbered across the teams of a role, and each task's rep is on its team
    seat_team = np.array(records.ae_seat_team)
    ae_rows = tasks.team == Team.AE
    assert (seat_team[tasks.rep[ae_rows]] == team[ae_rows]).all()
    assert records.sdr_seat_team.count("bdr") == 2
    assert records.ae_seat_team.count("ae_enterprise") >= 1


def cycle_case(cycle: str | None, ae_work: float) -> dict[str, Any]:
    """One open opportunity of the 'ent' segment at stage 1 of 2, on a 24/7 calendar, every
    step deterministic: its close is known to the minute."""
    ent: dict[str, Any] = {"deal_size": {"mean": 50000}, "win_rate": 1.0, "ae_work": ae_work}
    if cycle is not None:
        ent["cycle"] = cycle
    return {
        "name": "cycle",
        "start": "2026-01-05 00:00",
        "horizon": "200d",
        "segments": {"ent": ent, "smb": {"deal_size": {"mean": 9000}, "win_rate": 1.0}},
        "sources": {
            "web": {"kind": "inbound", "arrivals": {"at": ["2027-01-01 00:00"]},
                    "segment_mix": {"ent": 1}},
        },
        "handoff": {"first_touch_sla": "1h"},
        "teams": {
            "sdr": {"headcount": 1, "first_touch_time": {"dist": "constant", "value": "5m"}},
            "ae": {"headcount": 1, "stages": [
                {"name": "discovery", "work": {"dist": "constant", "value": "1h"}, "delay": "5d"},
                {"name": "proposal", "work": {"dist": "constant", "value": "3h"}, "delay": "10d"},
            ]},
        },
        "initial": {"open_opportunities": [{"source": "web", "count": 1, "stage": "discovery"}]},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("cycle", "ae_work", "want_h"),
    [
        (None, 1.0, 1 + 5 * 24 + 3 + 10 * 24),  # the delays as written
        ("30d", 1.0, 1 + 10 * 24 + 3 + 20 * 24),  # 5d and 10d scaled to add up to 30d
        ("30d", 2.0, 2 + 10 * 24 + 6 + 20 * 24),  # and twice the AE work
    ],
)
def test_a_segment_cycle_scales_the_delays_and_its_work_scales_the_ae_time(
    cycle: str | None, ae_work: float, want_h: float
) -> None:
    records = simulate(scenario(cycle_case(cycle, ae_work)), seed=1)
    opened = np.flatnonzero(~np.isnan(records.leads.opp_h))
    assert len(opened) == 1
    lead = int(opened[0])
    tasks = records.tasks
    stages = tasks.kind[tasks.lead == lead] == TaskKind.AE_STAGE
    work = (tasks.end_h - tasks.start_h)[tasks.lead == lead][stages]
    print(f"cycle {cycle}, ae_work {ae_work}: stage work {work.tolist()} h, closed at "
          f"{records.leads.closed_h[lead]} h")  # fmt: skip
    assert work.tolist() == pytest.approx([1 * ae_work, 3 * ae_work])
    assert records.leads.won[lead]
    assert records.leads.closed_h[lead] == pytest.approx(want_h)


@pytest.mark.seed(17)
def test_an_enterprise_pod_too_small_for_its_pipeline_wins_fewer_enterprise_deals(
    seed: int,
) -> None:
    from funnelsim.experiment import run_replications

    data = pods(bundled("baseline.yaml"))
    data["teams"]["ae"]["hiring"] = []
    for team in ("ae", "ae_enterprise"):
        data["teams"][team].pop("availability", None)
    # enterprise deals take eight times the AE work: one AE cannot keep up with them
    shorter = ("horizon=26w", "warmup=8w", "segments.ent.ae_work=8")
    runs = {
        n: run_replications(
            scenario(data, *shorter, f"teams.ae_enterprise.headcount={n}"), 8, seed, records=True
        )
        for n in (1, 3)
    }

    def won(n: int, segment: str, inside: bool) -> list[float]:
        out = []
        for records in runs[n].records:
            leads = records.leads
            t0, t1 = records.window
            mine = leads.segment == records.segment_names.index(segment)
            mine = mine if inside else ~mine
            closed = (leads.closed_h >= t0) & (leads.closed_h < t1)
            out.append(float(np.count_nonzero(leads.won & closed & mine)))
        return out

    ent = paired_difference(won(1, "ent", True), won(3, "ent", True))
    rest = paired_difference(won(1, "ent", False), won(3, "ent", False))
    print(f"enterprise deals won, pod of 1 - pod of 3: {ent.mean:.1f} "
          f"[{ent.ci_low:.1f}, {ent.ci_high:.1f}]; other segments: {rest.mean:.1f} "
          f"[{rest.ci_low:.1f}, {rest.ci_high:.1f}]")  # fmt: skip
    assert excludes_zero(ent)
    assert ent.mean < 0
    # the other segments' AEs never see the pod's work: their deals are the same, lead by lead
    assert rest.ci_low == rest.ci_high == 0


@pytest.mark.parametrize(
    ("override", "where", "message"),
    [
        ("teams.aee={headcount: 2}", "teams.aee",
         "unknown key 'aee' (did you mean 'ae'?); allowed: sdr, ae, or a further team"),
        ("teams.bdr={role: sdr, headcount: 2, routing: {sources: [outbond]}}",
         "teams.bdr.routing.sources.0",
         "unknown source 'outbond' (did you mean 'outbound'?)"),
        ("teams.bdr={role: sdr, headcount: 2, routing: {segments: [entt]}}",
         "teams.bdr.routing.segments.0", "unknown segment 'entt' (did you mean 'ent'?)"),
        ("teams.bdr={role: sdr, headcount: 2, routing: {}}", "teams.bdr.routing",
         "name the sources or segments it works"),
        ("teams.bdr={role: sdrr, headcount: 2, routing: {sources: [outbound]}}",
         "teams.bdr.role", "unknown role 'sdrr' (did you mean 'sdr'?)"),
        ("teams.bdr={role: sdr, headcount: 2, routing: {sources: [outbound]}, quota: 5}",
         "teams.bdr.quota", "unknown key 'quota'"),
        ("segments.ent.ae_work=0", "segments.ent.ae_work", "input should be greater than 0"),
    ],
)  # fmt: skip
def test_bad_teams_and_routing_are_refused_where_they_are_written(
    override: str, where: str, message: str
) -> None:
    result = CliRunner().invoke(app, ["validate", BASELINE, "--set", override])
    print(result.stderr)
    assert result.exit_code == 2, result.output
    assert f"{where}: {message}" in result.stderr
    assert "Traceback" not in result.output


def test_a_further_ae_team_needs_the_ae_process() -> None:
    data = cycle_case(None, 1.0)
    del data["teams"]["ae"]
    del data["initial"]
    data["teams"]["pod"] = {"role": "ae", "headcount": 1, "routing": {"segments": ["ent"]}}
    with pytest.raises(ScenarioError, match=r"teams\.pod\.role: a further AE team works by the"):
        scenario(data)
