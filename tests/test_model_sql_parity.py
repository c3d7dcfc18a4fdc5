"""Model truth: decay acts once, and an SQL is the same thing from both channels.

* **Decay, once.** The decay curve is the multiplier on a lead's chance of becoming an SQL (what
  HBR and MIT report as "x times as likely"). Leads that all wait a known time before their
  first touch must reach SQL at ``p x d(t)``, ``p`` being the chance with no wait, whatever the
  number of attempts and however the curve is split between reaching and qualifying the lead.
* **One SQL for both channels.** An outbound meeting must be held (or it is a no-show) and
  qualified in a discovery conversation that costs rep time; an AE then reviews every SQL before
  it is an opportunity. Exact traces on tiny deterministic cases.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from funnelsim.model.run import simulate
from funnelsim.records import Outcome, TaskKind, Team
from helpers import scenario

CONNECT, ATTEMPTS, QUALIFY = 0.5, 3, 0.8
HALF_LIFE_H = 1.0


def waited(age: str, share: float, count: int) -> dict[str, Any]:
    """``count`` open MQLs that have waited ``age`` at hour 0, each touched at once (a rep for
    every one, always open): so each one's first touch comes after exactly that wait."""
    return {
        "name": "decay once",
        "start": "2026-01-05 00:00",
        "horizon": "5d",
        "sources": {
            "web": {
                "kind": "inbound",
                "arrivals": {"at": ["2026-03-01 00:00"]},  # nothing new arrives in the run
                "fit": {"dist": "constant", "value": 0.5},  # qualification odds: QUALIFY
            }
        },
        "handoff": {
            "first_touch_sla": "1h",
            "decay": {"kind": "exponential", "half_life": f"{HALF_LIFE_H}h",
                      "connect_share": share},
        },
        "teams": {
            "sdr": {
                "headcount": count,
                "first_touch_time": {"dist": "constant", "value": "5m"},
                "attempts": {"max": ATTEMPTS, "spacing": "2h", "connect_probability": CONNECT},
                "qualification": {"time": {"dist": "constant", "value": "10m"},
                                  "probability": QUALIFY},
            }
        },
        "initial": {"open_mqls": [{"source": "web", "count": count, "age": age}]},
    }  # fmt: skip


@pytest.mark.seed(11)
@pytest.mark.parametrize("share", [1.0, 0.5])
@pytest.mark.parametrize("age_h", [0.5, 2.0, 4.0])
def test_leads_that_waited_reach_sql_at_p_times_the_curve(
    seed: int, age_h: float, share: float
) -> None:
    count = 1500
    leads = simulate(scenario(waited(f"{age_h}h", share, count)), seed=seed).leads
    old = leads.entry == 0
    assert np.count_nonzero(old) == count
    assert leads.decay[old] == pytest.approx(2 ** (-age_h / HALF_LIFE_H))  # waited exactly age
    p = (1 - (1 - CONNECT) ** ATTEMPTS) * QUALIFY  # the chance with no wait
    want = p * 2 ** (-age_h / HALF_LIFE_H)
    sql = (~np.isnan(leads.sql_h[old])).astype(float)
    rate, half = sql.mean(), 3.29 * sql.std(ddof=1) / math.sqrt(count)  # 99.9%
    print(f"wait {age_h} h, share {share}: SQL rate {rate:.4f} +- {half:.4f}, p x d(t) {want:.4f}")
    assert abs(rate - want) <= half
    # squared, as before the fix, the curve would be far outside the interval
    assert abs(rate - p * 2 ** (-2 * age_h / HALF_LIFE_H)) > half


# -- one SQL for both channels: exact traces ----------------------------------------------------
MEETING_DELAY_H, DISCOVERY_H, REVIEW_H = 48.0, 0.75, 0.5


def prospecting(show: float, *, held_by: str = "ae") -> dict[str, Any]:
    """A handful of contacts, every touch reaching them and booking a meeting two days out;
    plenty of reps, always at work, so nothing waits."""
    return {
        "name": "meetings",
        "start": "2026-01-01 00:00",
        "horizon": "40d",
        "segments": {"all": {"deal_size": {"mean": 1000}, "win_rate": 1.0}},
        "sources": {
            "list": {
                "kind": "outbound",
                "contacts_per_month": 4,
                "targeting": 1.0,
                "sequence": {
                    "touches": 1, "spacing": "1d",
                    "touch_time": {"dist": "constant", "value": "10m"},
                    "connect_probability": 1.0, "meeting_probability": 1.0,
                    "meeting": {
                        "delay": {"dist": "constant", "value": f"{MEETING_DELAY_H}h"},
                        "show_probability": show, "show_decline_per_day": 0.0,
                        "held_by": held_by,
                        "time": {"dist": "constant", "value": f"{DISCOVERY_H}h"},
                        "qualify_probability": 1.0,
                    },
                },
            }
        },
        "handoff": {"first_touch_sla": "1h"},
        "teams": {
            "sdr": {"headcount": 10, "first_touch_time": {"dist": "constant", "value": "5m"}},
            "ae": {
                "headcount": 10,
                "acceptance": {"time": {"dist": "constant", "value": f"{REVIEW_H}h"},
                               "probability": 1.0},
                "stages": [{"name": "demo", "work": {"dist": "constant", "value": "1h"},
                            "delay": "1d"}],
                "win": {"fit_effect": 0, "collateral_lift": 0},
            },
        },
    }  # fmt: skip


def test_a_no_show_books_no_rep_time_and_is_no_sql() -> None:
    records = simulate(scenario(prospecting(show=0.0)), seed=3)
    leads, tasks = records.leads, records.tasks
    booked = np.flatnonzero(leads.meeting_h < records.end_h)  # the meeting's time has come
    assert booked.size >= 3
    touch_end = leads.touch_end_h[booked]
    assert leads.booked_h[booked] == pytest.approx(touch_end)  # booked in the conversation
    assert leads.meeting_h[booked] == pytest.approx(touch_end + MEETING_DELAY_H)
    assert (leads.outcome[booked] == Outcome.NO_SHOW).all()
    assert leads.decision_h[booked] == pytest.approx(leads.meeting_h[booked])
    assert np.isnan(leads.held_h[booked]).all()
    assert np.isnan(leads.sql_h[booked]).all()
    # the only work booked on these contacts is the prospecting touch
    assert set(tasks.kind[np.isin(tasks.lead, booked)].tolist()) == {TaskKind.PROSPECT}


@pytest.mark.parametrize("held_by", ["ae", "sdr"])
def test_a_held_meeting_is_qualified_in_rep_time_then_reviewed_by_an_ae(held_by: str) -> None:
    records = simulate(scenario(prospecting(show=1.0, held_by=held_by)), seed=3)
    leads, tasks = records.leads, records.tasks
    fit_enough = leads.fit >= 0.5  # qualification and acceptance odds min(1, 1 x (0.5 + fit))
    over = leads.meeting_h + DISCOVERY_H + REVIEW_H < records.end_h  # meeting and review done
    booked = np.flatnonzero(over & fit_enough)
    assert booked.size >= 3
    for lead in booked:
        mine = tasks.lead == lead
        kinds = tasks.kind[mine].tolist()
        print(lead, kinds, tasks.start_h[mine], tasks.end_h[mine], tasks.team[mine])
        meeting = leads.meeting_h[lead]
        assert meeting == pytest.approx(leads.booked_h[lead] + MEETING_DELAY_H)
        assert leads.held_h[lead] == meeting
        assert kinds[:3] == [TaskKind.PROSPECT, TaskKind.MEETING, TaskKind.SQL_REVIEW]
        _, discovery, review = np.flatnonzero(mine)[:3]
        team = Team.AE if held_by == "ae" else Team.SDR
        assert tasks.team[discovery] == team
        assert (tasks.start_h[discovery], tasks.end_h[discovery]) == pytest.approx(
            (meeting, meeting + DISCOVERY_H)
        )
        assert leads.sql_h[lead] == pytest.approx(meeting + DISCOVERY_H)  # SQL after discovery
        assert tasks.team[review] == Team.AE
        assert (tasks.start_h[review], tasks.end_h[review]) == pytest.approx(
            (leads.sql_h[lead], leads.sql_h[lead] + REVIEW_H)
        )
        assert leads.opp_h[lead] == pytest.approx(leads.sql_h[lead] + REVIEW_H)  # then an opp.


def test_an_ae_may_reject_an_sql() -> None:
    data = prospecting(show=1.0)
    data["teams"]["ae"]["acceptance"]["probability"] = 0.0
    records = simulate(scenario(data), seed=3)
    leads = records.leads
    sqls = np.flatnonzero(leads.sql_h + REVIEW_H < records.end_h)
    assert sqls.size >= 3
    assert (leads.outcome[sqls] == Outcome.SQL_REJECTED).all()
    assert np.isnan(leads.opp_h[sqls]).all()
    assert leads.closed_h[sqls] == pytest.approx(leads.sql_h[sqls] + REVIEW_H)
