"""Properties of the full funnel that must hold in every replication, or in expectation.

* Conservation: in every bundled scenario every lead ends in exactly one outcome, and its
  row agrees with that outcome (an expired lead has its expiry time, a won deal its close and
  value, ...); reps never do two things at once and work only in working time, each task taking
  its work time divided by the rep's productivity.
* Capacity: one more SDR never lowers first-touch SLA attainment in expectation (paired, with
  common random numbers).
* Decay: a lead that waits longer never converts better: per lead (the recorded decay is the
  scenario's multiplier at the lead's wait), across leads (SQL rate by wait bucket), and for
  the decay curves themselves (hypothesis).
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from funnelsim import metrics
from funnelsim.analysis import summarise
from funnelsim.model.assembly import assemble
from funnelsim.model.decay import DecayCurve
from funnelsim.model.population import INBOUND, OUTBOUND
from funnelsim.model.run import simulate
from funnelsim.model.story import Funnel
from funnelsim.records import OUTCOMES, TASK_KINDS, RunRecords
from funnelsim.scenario.schema import Decay, OutboundSource, Scenario
from funnelsim.staffing import Ramp
from helpers import SCENARIOS, bundled, scenario

FIRST_TOUCH, ATTEMPT, QUALIFICATION, PROSPECT, AE_STAGE = range(len(TASK_KINDS))
SHORT = ("horizon=8w", "warmup=2w")
BUNDLED = sorted(
    str(p.relative_to(SCENARIOS))
    for p in SCENARIOS.rglob("*.yaml")
    if p.is_file() and "studies" not in p.parts
)


def code(*names: str) -> list[int]:
    return [OUTCOMES.index(n) for n in names]


def has(column: np.ndarray) -> np.ndarray:
    return ~np.isnan(column)


def ordered(earlier: np.ndarray, later: np.ndarray, label: str) -> None:
    """``earlier <= later`` wherever both happened."""
    both = has(earlier) & has(later)
    bad = np.flatnonzero(both & (earlier > later + 1e-9))
    assert not bad.size, f"{label}: leads {bad[:5].tolist()}"


def same(mask_a: np.ndarray, mask_b: np.ndarray, label: str) -> None:
    bad = np.flatnonzero(mask_a != mask_b)
    assert not bad.size, f"{label}: leads {bad[:5].tolist()}"


def implies(premise: np.ndarray, conclusion: np.ndarray, label: str) -> None:
    bad = np.flatnonzero(premise & ~conclusion)
    assert not bad.size, f"{label}: leads {bad[:5].tolist()}"


# -- conservation ------------------------------------------------------------------------------
def check_leads(records: RunRecords, model: Funnel) -> None:
    spec: Scenario = model.scenario
    leads = records.leads
    n = len(leads)
    oc = leads.outcome
    inbound, outbound = leads.kind == INBOUND, leads.kind == OUTBOUND
    end = records.end_h
    sdr, ae = spec.teams.sdr, spec.teams.ae

    def is_(*names: str) -> np.ndarray:
        return np.isin(oc, code(*names))

    # every lead is in exactly one known place, and the places add up
    assert n == len(model.people)
    assert ((oc >= 0) & (oc < len(OUTCOMES))).all()
    assert np.bincount(oc, minlength=len(OUTCOMES)).sum() == n
    assert np.bincount(leads.source, minlength=len(records.source_names)).sum() == n
    assert ((leads.arrival_h >= 0) & (leads.arrival_h < end)).all()
    assert np.array_equal(inbound | outbound, np.ones(n, dtype=bool))
    for name in ("mql_h", "handoff_h", "touch_start_h", "touch_end_h", "expired_h",
                 "connected_h", "decision_h", "sql_h", "opp_h", "closed_h"):  # fmt: skip
        column = getattr(leads, name)
        assert (column[has(column)] <= end + 1e-9).all(), f"{name} after the end"

    # the story in order
    ordered(leads.arrival_h, leads.mql_h, "arrival <= MQL")
    ordered(leads.mql_h, leads.handoff_h, "first MQL <= handoff")
    ordered(leads.handoff_h, leads.touch_start_h, "handoff <= first touch")
    ordered(leads.touch_start_h, leads.touch_end_h, "touch start <= touch end")
    ordered(leads.touch_end_h, leads.connected_h, "touch end <= connected")
    ordered(leads.connected_h, leads.decision_h, "connected <= decision")
    ordered(leads.decision_h, leads.sql_h, "decision <= SQL")
    ordered(leads.sql_h, leads.opp_h, "SQL <= opportunity")
    ordered(leads.opp_h, leads.closed_h, "opportunity <= close")
    ordered(leads.arrival_h, leads.expired_h, "arrival <= expiry")
    ordered(leads.handoff_h, leads.sla_deadline_h, "handoff <= SLA deadline")

    # outcome <-> timestamps
    same(is_("expired"), has(leads.expired_h), "expired <-> expired_h")
    same(is_("won"), leads.won, "won <-> won flag")
    same(is_("won", "lost"), has(leads.closed_h), "won/lost <-> closed_h")
    same(is_("won"), has(leads.deal_value), "won <-> deal value")
    assert (leads.deal_value[leads.won] > 0).all()
    same(is_("sql", "opportunity", "won", "lost"), has(leads.sql_h), "SQL or beyond <-> sql_h")
    if ae is None:
        assert not is_("opportunity", "won", "lost").any()
        assert not has(leads.opp_h).any()
    else:
        assert not is_("sql").any(), "with an AE team every SQL becomes an opportunity"
        same(is_("opportunity", "won", "lost"), has(leads.opp_h), "opportunity <-> opp_h")
        assert np.array_equal(leads.opp_h, leads.sql_h, equal_nan=True)
    implies(is_("sql", "opportunity", "won", "lost"), leads.decision_h == leads.sql_h,
            "SQL decided when qualified")  # fmt: skip
    implies(is_("sql", "opportunity", "won", "lost", "disqualified", "unreachable", "rejected"),
            has(leads.decision_h), "decided")  # fmt: skip
    implies(is_("sql", "opportunity", "won", "lost", "disqualified"), has(leads.connected_h),
            "reached before a decision")  # fmt: skip
    implies(is_("unreachable", "rejected"), ~has(leads.connected_h), "never reached")
    # an expired lead was lost untouched, as OUTCOMES says
    implies(is_("expired"), ~has(leads.touch_start_h), "expired -> untouched")
    implies(is_("expired"), ~leads.sla_met, "expired -> SLA missed")
    implies(is_("expired"), inbound, "only handed-off inbound leads expire")
    assert not (is_("expired") & has(leads.sql_h)).any()

    # inbound specifics
    m = spec.marketing
    if m is None:
        assert not is_("nurtured").any()
        implies(inbound, leads.mql_h == leads.arrival_h, "MQL at arrival without marketing")
    else:
        implies(is_("nurtured"), leads.score < m.mql_threshold, "nurtured below the MQL bar")
        implies(inbound & ~is_("nurtured"), leads.score >= m.mql_threshold,
                "an MQL in its last cycle scored at or above the bar")  # fmt: skip
    first_cycle = leads.cycles == 0
    implies(is_("nurtured") & first_cycle, ~has(leads.mql_h), "nurtured at arrival: no MQL")
    # the row follows the lead's latest cycle: a lead back from nurture starts a clean one
    implies(is_("nurtured"), ~has(leads.handoff_h) & ~has(leads.touch_start_h)
            & ~has(leads.decision_h), "nurtured in its latest cycle: never handed off")  # fmt: skip
    acceptance = spec.handoff.acceptance
    rejected = is_("rejected")
    implies(rejected, leads.accepted == 0, "rejected: not accepted")
    if acceptance is None:
        assert not rejected.any()
    else:
        implies(rejected, leads.fit < acceptance.fit_threshold, "rejected for poor fit")
        implies(inbound & (leads.accepted == 1), leads.fit >= acceptance.fit_threshold,
                "accepted for fit")  # fmt: skip
    implies(rejected, leads.decision_h == leads.touch_end_h, "rejected at the first touch")
    implies(rejected, leads.attempts == 0, "no attempt counted after a rejection")
    decided_in = inbound & is_("unreachable", "disqualified", "sql", "opportunity", "won", "lost")
    implies(decided_in, leads.accepted == 1, "worked leads were accepted")
    max_attempts = sdr.attempts.max if sdr.attempts else 1
    implies(inbound & is_("unreachable"), leads.attempts == max_attempts,
            "unreachable after every attempt")  # fmt: skip
    implies(inbound, leads.attempts <= max_attempts, "attempts within the maximum")
    implies(is_("touched"), has(leads.decision_h) & has(leads.touch_end_h), "touched: decided")
    implies(is_("waiting"), ~has(leads.decision_h), "waiting: not decided")
    implies(is_("waiting"), ~has(leads.sql_h) & ~has(leads.expired_h), "waiting: in the funnel")
    implies(has(leads.handoff_h), inbound, "only inbound leads are handed off")

    # outbound specifics: a sequence of touches
    for index, name in enumerate(records.source_names):
        source = spec.sources[name]
        if not isinstance(source, OutboundSource):
            continue
        mine = leads.source == index
        touches = source.sequence.touches
        implies(mine & is_("unreachable"), leads.attempts == touches, f"{name}: all touches")
        implies(mine, leads.attempts <= touches, f"{name}: touches within the sequence")
        implies(mine & is_("waiting"), ~has(leads.decision_h), f"{name}: waiting")
        talked = mine & has(leads.decision_h) & has(leads.connected_h)
        implies(talked, leads.decision_h == leads.connected_h, f"{name}: decided when reached")
        assert not (mine & is_("expired", "nurtured", "rejected", "touched")).any()

    # handoff and expiry clocks
    implies(leads.sla_met, has(leads.touch_start_h), "SLA met -> touched")
    implies(leads.sla_met, leads.touch_start_h <= leads.sla_deadline_h + 1e-9, "SLA met in time")
    if spec.handoff.expire_after is not None:
        first = is_("expired") & first_cycle
        assert np.allclose(leads.expired_h[first], leads.arrival_h[first] + leads.patience_h[first])
    else:
        assert not is_("expired").any()
    if spec.handoff.batch is None:
        assert (leads.batch == -1).all()
        assert not has(leads.qualify_by_h).any()
    else:
        implies(leads.batch >= 0, has(leads.handoff_h) & has(leads.qualify_by_h), "batched")
        released = records.batches["release_h"][leads.batch[leads.batch >= 0]]
        assert np.allclose(released, leads.handoff_h[leads.batch >= 0])

    # the level series agree with where the leads are at the end
    assert (records.queue.levels >= 0).all()
    waiting_touch = is_("waiting") & has(leads.handoff_h) & ~has(leads.touch_start_h)
    assert records.queue.levels[-1] == np.count_nonzero(waiting_touch), (
        f"queue ends at {records.queue.levels[-1]}, {np.count_nonzero(waiting_touch)} waiting"
    )
    assert (records.open_opportunities.levels >= 0).all()
    open_opps = np.count_nonzero(is_("opportunity"))
    assert records.open_opportunities.levels[-1] == open_opps, (
        f"open opportunities end at {records.open_opportunities.levels[-1]}, {open_opps} open"
    )


def check_tasks(records: RunRecords, model: Funnel) -> None:
    spec = model.scenario
    leads, t = records.leads, records.tasks
    cal = model.calendar
    end = records.end_h
    assert (t.start_h >= 0).all()
    assert (t.start_h < end).all()
    assert (t.end_h >= t.start_h).all()
    assert all(cal.is_working(float(s)) for s in t.start_h), "a task started out of hours"
    # the kinds of work fit the team and the lead
    sdr_task, ae_task = t.team == 0, t.team == 1
    assert np.isin(t.kind[sdr_task], [FIRST_TOUCH, ATTEMPT, QUALIFICATION, PROSPECT]).all()
    assert (t.kind[ae_task] == AE_STAGE).all()
    lead_kind = leads.kind[t.lead]
    assert (lead_kind[np.isin(t.kind, [FIRST_TOUCH, ATTEMPT, QUALIFICATION])] == INBOUND).all()
    assert (lead_kind[t.kind == PROSPECT] == OUTBOUND).all()
    assert (t.start_h[ae_task] >= leads.opp_h[t.lead[ae_task]] - 1e-9).all()
    stages = len(spec.teams.ae.stages) if spec.teams.ae else 0
    assert (np.bincount(t.lead[ae_task], minlength=len(leads)) <= stages).all()
    # no rep does two things at once, and only while on the team
    for team, seats in ((0, records.sdr_seats), (1, records.ae_seats)):
        mine = t.team == team
        assert set(np.unique(t.rep[mine])) <= set(range(len(seats)))
        for rep, seat in enumerate(seats):
            own = np.flatnonzero(mine & (t.rep == rep))
            own = own[np.argsort(t.start_h[own], kind="stable")]
            assert (t.start_h[own][1:] >= t.end_h[own][:-1] - 1e-9).all(), f"team {team} rep {rep}"
            starts = t.start_h[own]
            assert ((starts >= seat.joined_h - 1e-9) & (starts < seat.left_h)).all()
    # each SDR task takes its work time over the rep's productivity, on the business clock
    ramp_spec = spec.teams.sdr.ramp
    ramp = None if ramp_spec is None else Ramp(ramp_spec.start, ramp_spec.over.hours)
    people = model.people
    drawn = Funnel(spec, model.seed, model.replication).draws  # the run let go of its own
    counter: dict[int, int] = {}
    for i in np.flatnonzero(sdr_task)[np.argsort(t.start_h[sdr_task], kind="stable")]:
        lead, kind = int(t.lead[i]), int(t.kind[i])
        if kind in (FIRST_TOUCH, PROSPECT) and (kind == FIRST_TOUCH or lead not in counter):
            counter[lead] = 0
            work = float(people.work_h[lead])
        elif kind in (ATTEMPT, PROSPECT):
            counter[lead] += 1
            touch, width = drawn["touch"]
            work = touch[lead * width + counter[lead]]
        else:
            work = drawn["qualification"][0][lead]
        seat = records.sdr_seats[int(t.rep[i])]
        productivity = 1.0 if ramp is None else ramp.productivity(seat, float(t.start_h[i]))
        took = t.end_b[i] - t.start_b[i]
        assert took == pytest.approx(work / productivity, rel=1e-9, abs=1e-9), (
            f"task {i} ({TASK_KINDS[kind]}, lead {lead}) took {took} business hours, "
            f"expected {work} / {productivity}"
        )
    # attempts counted match the work logged (one more when a task is still running)
    first_cycle = leads.cycles == 0
    touches = np.bincount(t.lead[np.isin(t.kind, [FIRST_TOUCH, ATTEMPT, PROSPECT])],
                          minlength=len(leads))  # fmt: skip
    worked = first_cycle & (leads.accepted != 0) & ~np.isnan(leads.touch_start_h)
    extra = touches[worked] - leads.attempts[worked]
    assert np.isin(extra, [0, 1]).all()
    firsts = np.bincount(t.lead[t.kind == FIRST_TOUCH], minlength=len(leads))
    assert (firsts <= leads.cycles + 1).all()
    touched_in = (leads.kind == INBOUND) & has(leads.touch_start_h)
    starts = {(int(lead), float(s)) for lead, s in zip(t.lead, t.start_h, strict=True)}
    assert all(
        (int(i), float(leads.touch_start_h[i])) in starts for i in np.flatnonzero(touched_in)
    )


@pytest.mark.parametrize("file", BUNDLED)
def test_every_lead_accounted_for_in_bundled_scenarios(file: str) -> None:
    spec = scenario(bundled(file), *SHORT)
    seed = spec.seed if spec.seed is not None else 1
    for replication in range(3):
        model = Funnel(spec, seed, replication)
        model.run()
        records = assemble(model)
        check_leads(records, model)
        check_tasks(records, model)
        kpi = metrics.compute(records, spec)
        leads = records.leads
        t0, t1 = records.window
        in_window = (leads.arrival_h >= t0) & (leads.arrival_h < t1)
        assert kpi["leads_inbound"] == np.count_nonzero(in_window & (leads.kind == INBOUND))
        assert kpi["contacts_outbound"] == np.count_nonzero(in_window & (leads.kind == OUTBOUND))
        assert kpi["sqls"] == kpi["sqls_inbound"] + kpi["sqls_outbound"]
        assert kpi["deals_won"] == kpi["deals_won_inbound"] + kpi["deals_won_outbound"]
        counts = {o: int(np.count_nonzero(leads.outcome == i)) for i, o in enumerate(OUTCOMES)}
        print(f"{file} replication {replication}: {len(leads)} leads, {counts}")


# -- more SDRs ---------------------------------------------------------------------------------
def test_one_more_sdr_never_lowers_sla_attainment() -> None:
    """Same seed and replication numbers: the same leads, work times and patience for both."""
    base = bundled("inbound-heavy.yaml")
    three = scenario(base, *SHORT, "teams.sdr.headcount=3")
    four = scenario(base, *SHORT, "teams.sdr.headcount=4")
    diffs = []
    for r in range(10):
        a = metrics.compute(simulate(three, 2027, r), three)["sla_first_touch_attainment"]
        b = metrics.compute(simulate(four, 2027, r), four)["sla_first_touch_attainment"]
        diffs.append(b - a)
    s = summarise(diffs, level=0.999)
    print(
        f"attainment(4 SDRs) - attainment(3 SDRs): {s.mean:+.4f} [{s.ci_low:+.4f}, "
        f"{s.ci_high:+.4f}] (99.9% CI, n={s.n}); per replication {np.round(diffs, 4).tolist()}"
    )
    assert s.ci_low > -0.01, "one more SDR lowered SLA attainment"


# -- longer waits never convert better ---------------------------------------------------------
def test_recorded_decay_is_the_multiplier_at_the_wait() -> None:
    """Continuous handoff: decay clock and SLA clock both start at handoff, so each touched
    lead's recorded decay is the scenario's multiplier at its first-touch wait."""
    spec = scenario(bundled("baseline.yaml"), *SHORT)
    decay = spec.handoff.decay
    assert decay is not None
    leads = simulate(spec, 2027, 0).leads
    touched = (leads.kind == INBOUND) & has(leads.touch_start_h)
    assert touched.sum() > 500
    wait = leads.wait_h[touched]
    assert np.allclose(leads.decay[touched], decay.multiplier(wait), rtol=1e-12, atol=1e-12)
    order = np.argsort(wait, kind="stable")
    assert (np.diff(leads.decay[touched][order]) <= 1e-12).all(), "decay rose with the wait"
    assert np.isnan(leads.decay[~touched]).all()  # untouched leads (and outbound) have none


WAIT_BUCKETS = ((0.0, 1.0), (1.0, 8.0), (8.0, np.inf))


def test_sql_rate_never_rises_with_the_wait() -> None:
    """In the baseline, handed-off leads touched within 1 h qualify more often than those
    touched in 1-8 h, and those more often than leads that waited over 8 h."""
    spec = scenario(bundled("baseline.yaml"), "horizon=26w")
    rates = []
    for r in range(10):
        records = simulate(spec, 2027, r)
        leads = records.leads
        t0, t1 = records.window
        cohort = (
            (leads.kind == INBOUND)
            & (leads.handoff_h >= t0)
            & (leads.handoff_h < t1 - 14 * 24)  # two weeks to finish the attempts
            & has(leads.touch_start_h)
        )
        wait = leads.wait_h[cohort]
        sql = has(leads.sql_h[cohort])
        row = []
        for lo, hi in WAIT_BUCKETS:
            bucket = (wait >= lo) & (wait < hi)
            assert bucket.sum() >= 100, f"bucket {lo}-{hi} h has {bucket.sum()} leads"
            row.append(float(sql[bucket].mean()))
        rates.append(row)
    table = np.array(rates)
    for b, (lo, hi) in enumerate(WAIT_BUCKETS):
        s = summarise(table[:, b], level=0.999)
        print(f"SQL rate, wait {lo:g}-{hi:g} h: {s.mean:.4f} [{s.ci_low:.4f}, {s.ci_high:.4f}]")
    for b in range(len(WAIT_BUCKETS) - 1):
        s = summarise(table[:, b] - table[:, b + 1], level=0.999)
        print(f"bucket {b} - bucket {b + 1}: {s.mean:+.4f} [{s.ci_low:+.4f}, {s.ci_high:+.4f}]")
        assert s.ci_low > -0.01, f"the SQL rate rose from wait bucket {b} to {b + 1}"
    s = summarise(table[:, 0] - table[:, -1], level=0.999)
    assert s.ci_low > 0, "leads touched within the hour do not qualify more often"


@settings(max_examples=200, deadline=None)
@given(
    half_life_m=st.floats(0.5, 1e5),
    waits=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=2, max_size=20),
)
def test_exponential_decay_never_rises(half_life_m: float, waits: list[float]) -> None:
    decay = TypeAdapter(Decay).validate_python(
        {"kind": "exponential", "half_life": f"{half_life_m}m"}
    )
    grid = np.sort(np.array(waits))
    values = decay.multiplier(grid)
    assert ((values >= 0) & (values <= 1)).all()
    assert (np.diff(values) <= 0).all(), (grid, values)


@st.composite
def decay_tables(draw: st.DrawFn) -> dict[str, Any]:
    minutes = draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=8, unique=True))
    multipliers = draw(st.lists(st.floats(0, 1), min_size=len(minutes), max_size=len(minutes)))
    if draw(st.booleans()):  # half of the tables decay, so valid tables with many points occur
        multipliers.sort(reverse=True)
    return {
        "kind": "table",
        "points": [[f"{m}m", v] for m, v in zip(sorted(minutes), multipliers, strict=True)],
    }


@settings(max_examples=200, deadline=None)
@given(table=decay_tables())
def test_any_valid_decay_table_never_rises(table: dict[str, Any]) -> None:
    """A table the schema accepts must describe decay: odds that never rise with the wait.
    (Otherwise a lead that waits longer converts better, against the model's own story.)"""
    try:
        decay = TypeAdapter(Decay).validate_python(table)
    except ValidationError:
        values = [v for _, v in table["points"]]
        assert any(b > a for a, b in itertools.pairwise(values)), "a decaying table was refused"
        return  # a rising table is refused: fine
    grid = np.linspace(0, 200, 4001)  # hours: past the last point too
    values = decay.multiplier(grid)
    rises = np.flatnonzero(np.diff(values) > 1e-12)
    assert not rises.size, (
        f"the schema accepts {table['points']}, whose multiplier rises from {values[rises[0]]} "
        f"to {values[rises[0] + 1]} at a wait of {grid[rises[0]]:.2f} h"
    )


def test_bundled_scenarios_are_all_checked() -> None:
    assert {
        "baseline.yaml",
        "inbound-heavy.yaml",
        "outbound-heavy.yaml",
        "monday-batch.yaml",
    } <= set(BUNDLED)
    assert all(Path(SCENARIOS / f).exists() for f in BUNDLED)


@settings(max_examples=200, deadline=None)
@given(
    table=decay_tables(),
    half_life_m=st.floats(0.5, 1e5),
    waits=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=20),
)
def test_simulation_reads_the_scenarios_decay_curve(
    table: dict[str, Any], half_life_m: float, waits: list[float]
) -> None:
    """The curve the simulation reads one wait at a time (compiled) is the scenario's curve, at
    the points, between them and beyond both ends."""
    specs = [
        TypeAdapter(Decay).validate_python({"kind": "exponential", "half_life": f"{half_life_m}m"})
    ]
    with contextlib.suppress(ValidationError):  # unless the table rises: refused
        specs.append(TypeAdapter(Decay).validate_python(table))
    for spec in specs:
        curve = DecayCurve.of(spec)
        grid = np.array(sorted(waits + [w.hours for w, _ in getattr(spec, "points", [])]))
        one_at_a_time = np.array([curve.at(float(w)) for w in grid])
        assert np.allclose(one_at_a_time, spec.multiplier(grid), rtol=1e-12, atol=1e-15), spec
