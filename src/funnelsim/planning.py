"""The reverse funnel: what a plan needs to reach a target, such as ``new_arr >= 3,000,000``,
with a stated probability (``funnelsim plan``).

A spreadsheet divides the target by a deal's value, the win rate and the conversion rates, and
scales the budget linearly. It misses what the simulation knows: channels saturate, SDRs and
AEs have only so many hours, and a deal created late in the period closes after it. ``plan``
starts from the spreadsheet's question and answers it on the simulation:

1. **Baseline.** The scenario as given is simulated for ``replications`` on the planning seed:
   its in-period volumes (leads, contacts, MQLs, SQLs, opportunities, deals, new ARR), its
   conversion rates, its reps' utilisation and the target metric's mean and spread.
2. **Reverse funnel.** The target, with a margin for the probability asked (the mean must
   exceed it by ``z_p`` standard deviations, the spread growing with the square root of the
   volume, as a sum of deals does), is taken back through the baseline's in-period ratios
   (value per deal, deals per opportunity, opportunities per SQL, SQLs per lead and per
   contact: these carry the losses of queues and of timing) to one volume factor ``k``: the
   plan must bring ``k`` times the baseline's leads and contacts. The ratios telescope, so
   ``k`` solves ``k m - z_p s sqrt(k) = target`` (``m`` and ``s`` the metric's mean and
   standard deviation in the baseline): the first candidate.
3. **Levers at a factor k**, the channel mix of the baseline kept (each source asked for ``k``
   times its own leads):

   - an inbound source with spend and a response curve asks ``k`` times its leads per month
     (steady state, carry-over settled); :func:`spend_for_leads` inverts its curve for the
     spend that gives them, and caps the spend where the curve saturates (``SATURATION``,
     95% of its ceiling): the lead shortfall is reported as binding, and the other sources'
     growth makes it up as the factor rises. ``spend.monthly`` is set, or a ``spend.by_month``
     plan is scaled as a whole;
   - an outbound source: ``contacts_per_month`` times ``k``;
   - ``teams.sdr.headcount`` and ``teams.ae.headcount`` (the starting headcount; the hiring
     plan is kept): enough people for the work the volumes bring (SDR work weighted by the
     baseline's SDR hours on inbound and on outbound, AE work by the SQLs) at the baseline's
     utilisation, or at ``UTILISATION_CAP`` (0.85) when the baseline runs hotter.

   Inbound sources with a fixed arrival rate, further teams, SLAs and conversion rates are
   not levers: plan keeps them as they are.
4. **Search.** The plan at ``k`` is simulated on the planning seed (common random numbers: every
   candidate sees the same random streams, so the share of replications reaching the target
   grows with ``k`` and differences are the plan's). The factor is bracketed (a candidate that
   falls short steps up, one that passes steps down, each step sized by the candidate's own
   mean and spread) and then bisected (geometrically) until the bracket is within
   ``TOLERANCE`` (2%); the smallest passing candidate is the plan.
5. **Acceptance.** ``probability_met`` is the share of replications whose metric reaches the
   target, with a 95% Wilson interval. A candidate passes when at least ``ceil(p (n + 1))``
   of its ``n`` replications reach the target, i.e. when the share's mean reaches ``p (n +
   1) / n``: the search picks the smallest passing factor, which is the j-th smallest of the
   replications' own thresholds, and the expected probability at it is ``j / (n + 1)``
   (order statistics); asking ``j >= p (n + 1)`` keeps that at least ``p``, where asking
   only ``j >= p n`` would on average accept plans short of it.

The answer holds the plan's levers, its ``planned_cost_monthly``, the probability met, what
binds (saturated channels, reps near the cap, the timing of the cycle: deals created after a
month of the period cannot close in it, a market run dry) and the spreadsheet's answer beside
it (:func:`spreadsheet`): conversion rates only (a deal's value, the baseline's cohort win and
conversion rates), spend scaled linearly with leads, headcount as it is. The spreadsheet's
levers are simulated too, on the same seed, so that the planner sees what its arithmetic
leaves out: the leads a saturating channel does not bring, the deals that queue for a
busy AE or close after the period, and how often it reaches the target.

```python
from funnelsim.planning import plan
found = plan(scenario, "new_arr", 3_000_000, probability=0.8, replications=20)
found.settings, found.planned_cost_monthly, found.probability_met.as_json(), found.binding
```
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funnelsim import experiment
from funnelsim.calendar import hours_between
from funnelsim.curves import SpendResponse
from funnelsim.economics import planned_cost_monthly
from funnelsim.errors import UsageError
from funnelsim.executors import ExecutorSpec
from funnelsim.metrics import METRICS
from funnelsim.replications import OnChunk, OnTotal
from funnelsim.rng import normalise_seed
from funnelsim.scenario.load import with_settings
from funnelsim.scenario.schema import InboundSource, OutboundSource, Scenario, did_you_mean
from funnelsim.staffing import HOURS_PER_YEAR, seat_hours, seats_from_plan

__all__ = [
    "SATURATION",
    "UTILISATION_CAP",
    "Baseline",
    "Levers",
    "Plan",
    "Probability",
    "SpendFound",
    "baseline_of",
    "check_target",
    "levers_at",
    "needed_hits",
    "parse_target",
    "plan",
    "spend_for_leads",
    "spreadsheet",
    "wilson",
]

SATURATION = 0.95  # a channel is saturated at this share of its ceiling (leads_at_saturation)
UTILISATION_CAP = 0.85  # reps are staffed for the baseline's utilisation, at most this
SLACK = 0.02  # how far above that a team may run
TOLERANCE = 0.02  # the search stops when the bracket's factors are within 2%
MAX_FACTOR = 20.0  # the search's largest factor on the baseline's volume
MAX_EVALUATIONS = 16  # candidates simulated at most
RESTAFFING = 3  # times the search corrects a team's work model from a simulated candidate
MONTH_HOURS = HOURS_PER_YEAR / 12
VOLUME_UNITS = ("leads", "contacts", "meetings", "opportunities", "deals", "money")
FUNNEL = ("leads_inbound", "contacts_outbound", "mqls", "sqls", "opportunities", "deals_won",
          "new_arr")  # fmt: skip
UTILISATIONS = ("sdr_utilization", "ae_utilization")
_CYCLE = {  # the stages between a lead and the target's stage: what timing delays
    "sqls": ("days_mql_to_sql_mean",),
    "opportunities": ("days_mql_to_sql_mean", "days_sql_to_opportunity_mean"),
    "deals": ("days_mql_to_sql_mean", "days_sql_to_opportunity_mean", "sales_cycle_days_mean"),
}


# -- the target -------------------------------------------------------------------------------
def check_target(metric: str, value: float, option: str = "--target") -> None:
    """A :class:`~funnelsim.errors.UsageError` unless ``metric`` is a volume or money metric
    where more is better (what more leads, contacts and people can raise) and ``value`` is a
    positive number."""
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}{did_you_mean(metric, list(METRICS))}", option)
    info = METRICS[metric]
    volumes = [m for m in METRICS if _volume(m)]
    if info.better != "higher":
        way = "lower is better" if info.better == "lower" else "neither more nor less is better"
        raise UsageError(
            f"{metric}: {way}; plan reaches a target of a metric where more is better: "
            f"{', '.join(volumes)}",
            option,
        )
    if not _volume(metric):
        raise UsageError(
            f"{metric} ({info.unit}) does not grow with the funnel's volume; plan reaches a "
            f"target of volumes and money: {', '.join(volumes)}",
            option,
        )
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{metric}: the target must be a positive number, got {value!r}", option)


def _volume(metric: str) -> bool:
    info = METRICS[metric]
    return info.better == "higher" and info.unit in VOLUME_UNITS and "_per_" not in metric


def parse_target(text: str, option: str = "--target") -> tuple[str, float]:
    """``'new_arr=3000000'`` as (metric, value), checked by :func:`check_target`."""
    metric, sep, raw = text.partition("=")
    metric = metric.strip()
    if not sep or not metric:
        raise UsageError(f"expected METRIC=VALUE, got {text!r}", option)
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        raise UsageError(f"{metric}: {raw.strip()!r} is not a number", option) from None
    check_target(metric, value, option)
    return metric, value


# -- inverting a spend-response curve ---------------------------------------------------------
@dataclass(frozen=True)
class SpendFound:
    """The monthly spend a channel needs for ``asked`` leads a month (steady state), and the
    leads it gives: fewer than asked when the curve saturates first."""

    spend: float
    leads: float
    asked: float
    ceiling: float  # the leads a month at which the curve counts as saturated

    @property
    def saturated(self) -> bool:
        return self.asked > self.ceiling


def spend_for_leads(
    response: SpendResponse, leads: float, *, saturation: float = SATURATION
) -> SpendFound:
    """The constant monthly spend whose leads a month, once carry-over has settled
    (:meth:`~funnelsim.curves.SpendResponse.steady_state_leads`), are ``leads``.

    The curve is inverted in closed form: the adstock of a constant spend x settles at
    ``a = x / (1 - theta)``, and ``leads = beta f(a)`` gives ``a = k (y / (1 - y))^(1/s)``
    (Hill) or ``a = 2 atanh(y) / lam`` (logistic), ``y = leads / beta``. A demand beyond
    ``saturation`` x beta (the curve flattens towards its ceiling, where each lead costs ever
    more) gets the spend at that point, and :attr:`SpendFound.saturated` says so.
    """
    if not 0 < saturation < 1:
        raise ValueError(f"saturation must be in (0, 1), got {saturation!r}")
    if not (math.isfinite(leads) and leads >= 0):
        raise ValueError(f"leads must be finite and >= 0, got {leads!r}")
    ceiling = saturation * response.beta
    given = min(leads, ceiling)
    y = given / response.beta
    if y <= 0:
        adstocked = 0.0
    elif response.curve == "hill":
        assert response.k is not None
        assert response.s is not None
        adstocked = response.k * (y / (1 - y)) ** (1 / response.s)
    else:
        assert response.lam is not None
        adstocked = 2 * math.atanh(y) / response.lam
    return SpendFound(adstocked * (1 - response.adstock), given, leads, ceiling)


# -- the probability a plan meets its target ---------------------------------------------------
def wilson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a share ``hits / n``."""
    if n <= 0:
        return math.nan, math.nan
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    share = hits / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if hits <= 0 else max(0.0, centre - half)  # exact at the ends
    return low, 1.0 if hits >= n else min(1.0, centre + half)


@dataclass(frozen=True)
class Probability:
    """The share of replications whose metric reached the target, with its 95% Wilson CI."""

    hits: int
    n: int

    @property
    def mean(self) -> float:
        return self.hits / self.n if self.n else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        return wilson(self.hits, self.n)

    def as_json(self) -> dict[str, float]:
        low, high = self.ci
        return {"mean": self.mean, "ci_low": low, "ci_high": high}


def needed_hits(probability: float, replications: int) -> int:
    """Replications that must reach the target for a candidate to pass: ``ceil(p (n + 1))``
    (the module's docstring says why)."""
    return math.ceil(probability * (replications + 1) - 1e-9)


# -- the baseline's levers ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Spend:
    """An inbound source bought with spend: the lever and its curve."""

    name: str
    path: str  # sources.NAME.spend.monthly, or sources.NAME.spend.by_month
    spend: float  # monthly, or the mean of the by_month plan over the simulated months
    by_month: tuple[float, ...] | None
    response: SpendResponse
    leads: float  # leads a month at the baseline's spend, steady state

    def value(self, spend: float) -> float | list[float]:
        if self.by_month is None:
            return round(spend, 2)
        scale = spend / self.spend if self.spend > 0 else 0.0
        return [round(v * scale, 2) for v in self.by_month]


@dataclass(frozen=True)
class _Team:
    role: str
    headcount: int
    hires: float  # average seats the hiring plan adds (or removes) over the period
    least: int  # the smallest starting headcount the hiring plan's departures allow
    utilisation: float  # the baseline's mean

    @property
    def path(self) -> str:
        return f"teams.{self.role}.headcount"

    @property
    def aim(self) -> float:
        """The utilisation the plan staffs for: the baseline's, at most the cap."""
        u = self.utilisation
        return min(u, UTILISATION_CAP) if math.isfinite(u) and u > 0 else math.nan

    def staffed(self, work: float) -> int:
        """The smallest starting headcount at which ``work`` times the baseline's work keeps
        the team's utilisation within ``SLACK`` of :attr:`aim` (the hiring plan kept)."""
        seats = (self.headcount + self.hires) * work
        if math.isfinite(self.aim):
            seats *= self.utilisation / (self.aim + SLACK)
        return max(self.least, math.ceil(seats - self.hires - 1e-6))

    def predicted(self, work: float, headcount: int) -> float:
        """The utilisation the work model expects at ``headcount``."""
        return self.utilisation * work * (self.headcount + self.hires) / (headcount + self.hires)


@dataclass(frozen=True)
class Baseline:
    """The scenario as given, simulated: its levers and the figures the plan scales."""

    scenario: Scenario
    means: dict[str, float]
    values: list[float]  # the target metric, per replication
    spend: list[_Spend]
    fixed: dict[str, float]  # inbound sources that are not levers: leads a month
    contacts: dict[str, float]  # outbound sources: contacts a month
    teams: list[_Team]

    def mean(self, metric: str) -> float:
        value = self.means.get(metric, math.nan)
        return value if math.isfinite(value) else math.nan

    def levers(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for s in self.spend:
            found[s.path] = list(s.by_month) if s.by_month is not None else s.spend
        for name, contacts in self.contacts.items():
            found[f"sources.{name}.contacts_per_month"] = contacts
        for team in self.teams:
            found[team.path] = team.headcount
        return found

    def shares(self) -> tuple[float, float, float, float]:
        """SDR hours on inbound and outbound, and SQLs from inbound and outbound."""
        hours_in = _zero(self.mean("sdr_hours_per_sql_inbound") * self.mean("sqls_inbound"))
        hours_out = _zero(self.mean("sdr_hours_per_sql_outbound") * self.mean("sqls_outbound"))
        return (hours_in, hours_out, _zero(self.mean("sqls_inbound")),
                _zero(self.mean("sqls_outbound")))  # fmt: skip


def _zero(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def _months(scenario: Scenario) -> int:
    return max(1, math.ceil((scenario.warmup_hours + scenario.horizon_hours) / MONTH_HOURS) + 1)


def baseline_of(scenario: Scenario, rows: Sequence[Mapping[str, float]], metric: str) -> Baseline:
    """The baseline's levers and figures, from its replications' metrics (one mapping per
    replication, as ``Replications.metrics`` holds them)."""
    means = _means(rows)
    values = [r.get(metric, math.nan) for r in rows]
    spend, fixed, contacts = [], {}, {}
    span = scenario.warmup_hours + scenario.horizon_hours
    for name, source in scenario.sources.items():
        if isinstance(source, OutboundSource):
            contacts[name] = source.contacts_per_month
        elif source.spend is not None and source.response is not None:
            response = source.response.spend_response()
            by_month = None
            if source.spend.by_month is not None:
                by_month = tuple(source.spend.by_month)
                monthly = statistics.fmean(source.spend.plan(_months(scenario), scenario.origin))
                path = f"sources.{name}.spend.by_month"
            else:
                monthly = source.spend.for_month(0, scenario.origin)
                path = f"sources.{name}.spend.monthly"
            leads = response.steady_state_leads(monthly)
            spend.append(_Spend(name, path, monthly, by_month, response, leads))
        else:
            fixed[name] = _fixed_leads(source, span)
    teams = []
    for role in ("sdr", "ae"):
        staff = scenario.teams.sdr if role == "sdr" else scenario.teams.ae
        if staff is None:
            continue
        t0 = scenario.warmup_hours
        t1 = t0 + scenario.horizon_hours
        changes = [(hours_between(scenario.origin, h.at), h.change) for h in staff.hiring]
        seats = seat_hours(seats_from_plan(staff.headcount, changes, t1), t0, t1) / (t1 - t0)
        running, lowest = 0, 0
        for _, change in sorted(changes):
            running += change
            lowest = min(lowest, running)
        utilisation = means.get(f"{role}_utilization", math.nan)
        teams.append(_Team(role, staff.headcount, seats - staff.headcount, 1 - lowest, utilisation))
    return Baseline(scenario, means, values, spend, fixed, contacts, teams)


def _fixed_leads(source: InboundSource, span: float) -> float:
    if source.arrivals.rate is not None:
        return source.arrivals.rate.per_hour * MONTH_HOURS
    return len(source.arrivals.at or []) / span * MONTH_HOURS if span > 0 else 0.0


# -- the levers at a volume factor -------------------------------------------------------------
@dataclass(frozen=True)
class Levers:
    """The levers at a volume factor: the settings, and the channels that saturated."""

    factor: float
    settings: dict[str, Any]
    saturated: list[SpendFound | None]  # by spend source, None when not saturated
    inbound_factor: float  # the inbound leads reached, over the baseline's
    work: dict[str, float]  # each role's work over the baseline's, as staffed


def levers_at(base: Baseline, factor: float, load: Mapping[str, float] | None = None) -> Levers:
    """Every lever for ``factor`` times the baseline's leads and contacts, each source in its
    baseline proportion (the module's docstring, step 3). ``load`` corrects a team's work
    model (by role: 1.2 staffs for 20% more work than the volumes say)."""
    settings: dict[str, Any] = {}
    saturated: list[SpendFound | None] = []
    reached = asked = sum(base.fixed.values())
    for s in base.spend:
        found = spend_for_leads(s.response, factor * s.leads)
        settings[s.path] = s.value(found.spend)
        saturated.append(found if found.saturated else None)
        reached += found.leads
        asked += s.leads
    inbound = reached / asked if asked > 0 else factor
    for name, contacts in base.contacts.items():
        settings[f"sources.{name}.contacts_per_month"] = max(1, math.ceil(factor * contacts))
    hours_in, hours_out, sqls_in, sqls_out = base.shares()
    work = {
        "sdr": _weighted(hours_in, hours_out, inbound, factor),
        "ae": _weighted(sqls_in, sqls_out, inbound, factor),
    }
    for role in work:
        work[role] *= (load or {}).get(role, 1.0)
    for team in base.teams:
        settings[team.path] = team.staffed(work[team.role])
    return Levers(factor, settings, saturated, inbound, work)


def _weighted(
    inbound_weight: float, outbound_weight: float, inbound: float, outbound: float
) -> float:
    total = inbound_weight + outbound_weight
    if total <= 0:
        return outbound
    return (inbound_weight * inbound + outbound_weight * outbound) / total


# -- the spreadsheet's answer ------------------------------------------------------------------
def spreadsheet(
    base: Baseline, metric: str, target: float
) -> tuple[dict[str, Any], dict[str, float]]:
    """What a spreadsheet plans: the levers and the funnel's volumes, from conversion rates
    alone (no queues, no capacity, no timing, no saturation).

    For new_arr, deals_won, opportunities and sqls the target is taken back through a deal's
    value (the baseline's new ARR per deal), the baseline's cohort rates (opportunity -> won,
    SQL -> opportunity, MQL -> SQL, inquiry -> MQL) and its SQLs per outbound contact, the SQLs
    split between inbound and outbound as in the baseline; any other metric scales with the
    volume. Spend grows in proportion to the leads (a constant cost per lead), contacts to the
    contacts; headcount is left as it is. Everything is linear in the target.
    """
    m = base.mean
    funnel: dict[str, float] = {}
    chain = ("new_arr", "deals_won", "opportunities", "sqls")
    if metric in chain and math.isfinite(m("sqls")) and m("sqls") > 0:
        value = target
        for stage, rate in (
            ("new_arr", m("new_arr") / m("deals_won") if m("deals_won") > 0 else math.nan),
            ("deals_won", _rate(base, "rate_opportunity_to_won", "deals_won", "opportunities")),
            ("opportunities", _rate(base, "rate_sql_to_opportunity", "opportunities", "sqls")),
        ):
            if stage == metric or stage in funnel:
                funnel[stage] = value
                value = value / rate
                funnel[chain[chain.index(stage) + 1]] = value
        sqls = funnel.setdefault("sqls", target)
        share_in = _zero(m("sqls_inbound")) / m("sqls")
        mqls = sqls * share_in / _rate(base, "rate_mql_to_sql", "sqls_inbound", "mqls")
        leads = mqls / _rate(base, "rate_inquiry_to_mql", "mqls", "leads_inbound")
        per_contact = _zero(m("sqls_outbound")) / m("contacts_outbound")
        contacts = sqls * (1 - share_in) / per_contact if per_contact > 0 else math.nan
        funnel.update(mqls=mqls, leads_inbound=leads, contacts_outbound=contacts)
        f_in = leads / m("leads_inbound") if m("leads_inbound") > 0 else math.nan
        f_out = contacts / m("contacts_outbound") if m("contacts_outbound") > 0 else math.nan
        if not math.isfinite(f_out):  # no outbound SQLs to go by: as inbound, and vice versa
            f_out = f_in
        if not math.isfinite(f_in):
            f_in = f_out
    else:
        f_in = f_out = target / m(metric)
        funnel = {stage: m(stage) * f_in for stage in (*FUNNEL, metric)}
    settings: dict[str, Any] = {}
    for s in base.spend:
        settings[s.path] = s.value(s.spend * _zero(f_in))
    for name, contacts in base.contacts.items():
        settings[f"sources.{name}.contacts_per_month"] = max(1, math.ceil(contacts * _zero(f_out)))
    for team in base.teams:
        settings[team.path] = team.headcount
    return settings, {stage: funnel.get(stage, math.nan) for stage in (*FUNNEL, metric)}


def _rate(base: Baseline, cohort: str, done: str, of: str) -> float:
    """A conversion rate as a spreadsheet has it: the baseline's cohort rate, else its
    in-period ratio."""
    rate = base.mean(cohort)
    if math.isfinite(rate) and rate > 0:
        return rate
    ratio = base.mean(done) / base.mean(of) if base.mean(of) > 0 else math.nan
    return ratio if math.isfinite(ratio) and ratio > 0 else 1.0


# -- the plan --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A plan at one volume factor, simulated."""

    levers: Levers
    scenario: Scenario
    means: dict[str, float]
    values: list[float]  # the target metric, per replication
    probability: Probability
    folder: Path | None

    @property
    def factor(self) -> float:
        return self.levers.factor


@dataclass(frozen=True)
class Plan:
    """What ``funnelsim plan`` found: the levers that reach ``metric >= target`` with the
    probability asked, or the largest plan tried when none did (``met`` False)."""

    name: str  # the baseline scenario's
    metric: str
    target: float
    probability: float  # asked
    replications: int
    seed: int
    baseline: dict[str, Any]  # every lever's baseline value, by dotted path
    settings: dict[str, Any]  # every lever's plan value
    spreadsheet: dict[str, Any]  # every lever's spreadsheet value
    costs: dict[str, float]  # planned_cost_monthly of baseline, spreadsheet and plan
    probability_met: Probability
    spreadsheet_met: Probability  # the spreadsheet's plan, simulated on the same seed
    baseline_met: Probability
    met: bool
    factor: float  # the plan's volume over the baseline's
    binding: tuple[str, ...]
    funnel: dict[str, dict[str, float]]  # stage -> baseline, spreadsheet, its simulation, plan
    steps: tuple[tuple[float, float], ...]  # the search: (factor, share reaching the target)
    scenario: Scenario = field(repr=False)  # the plan, ready to run

    @property
    def planned_cost_monthly(self) -> float:
        return self.costs["plan"]

    def changed(self) -> dict[str, tuple[Any, Any]]:
        """The levers the plan moves: path -> (baseline value, plan value)."""
        return {
            path: (self.baseline[path], value)
            for path, value in self.settings.items()
            if value != self.baseline[path]
        }

    def as_json(self) -> dict[str, Any]:
        """The ``plan --json`` object."""
        return {
            "scenario": self.name,
            "metric": self.metric,
            "target": self.target,
            "probability": self.probability,
            "replications": self.replications,
            "seed": self.seed,
            "plan": self.settings,
            "planned_cost_monthly": self.planned_cost_monthly,
            "probability_met": self.probability_met.as_json(),
            "met": self.met,
            "binding": list(self.binding),
            "spreadsheet": self.spreadsheet,
            "spreadsheet_cost_monthly": self.costs["spreadsheet"],
            "spreadsheet_probability_met": self.spreadsheet_met.as_json(),
            "baseline": self.baseline,
            "baseline_cost_monthly": self.costs["baseline"],
            "baseline_probability_met": self.baseline_met.as_json(),
            "needed": needed_hits(self.probability, self.replications),
            "factor": self.factor,
            "funnel": {
                stage: {k: _finite(v) for k, v in row.items()} for stage, row in self.funnel.items()
            },
            "search": [{"factor": k, "probability": p} for k, p in self.steps],
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class _Runs:
    """Simulations on the planning seed, one scenario at a time, each into its own results
    folder under ``out``; the progress bar's total grows with each."""

    def __init__(
        self,
        replications: int,
        seed: int,
        executor: ExecutorSpec,
        out: Path | None,
        on_total: OnTotal | None,
        on_chunk: OnChunk | None,
    ) -> None:
        self.replications, self.seed, self.executor, self.out = replications, seed, executor, out
        self.on_total, self.on_chunk = on_total, on_chunk
        self.done = 0
        self.count = 0

    def __call__(
        self, scenario: Scenario, folder: str
    ) -> tuple[list[dict[str, float]], Path | None]:
        before = self.done

        def total(size: int, done: int) -> None:
            if self.on_total is not None:
                self.on_total(before + size, before + done)

        where = None if self.out is None else self.out / folder
        result = experiment.run(
            [scenario],
            self.replications,
            self.seed,
            executor=self.executor,
            out=where,
            on_total=total,
            on_chunk=self.on_chunk,
        )
        self.done += result.replications
        self.count += 1
        return result.per_scenario[0].metrics, where


def _means(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    out = {}
    for name in rows[0] if rows else {}:
        values = [r[name] for r in rows if math.isfinite(r.get(name, math.nan))]
        out[name] = statistics.fmean(values) if values else math.nan
    return out


def _reached(values: list[float], target: float) -> int:
    return sum(1 for v in values if math.isfinite(v) and v >= target)


def plan(
    scenario: Scenario,
    metric: str,
    target: float,
    *,
    probability: float = 0.8,
    replications: int = 20,
    seed: int | None = None,
    executor: ExecutorSpec = experiment.IN_PROCESS,
    out: Path | None = None,
    on_total: OnTotal | None = None,
    on_chunk: OnChunk | None = None,
) -> Plan:
    """The levers ``scenario`` needs for ``metric >= target`` with ``probability`` (the
    module's docstring tells how). Every candidate runs ``replications`` on ``seed`` (default
    the scenario's, else fresh); ``out`` gets each simulated candidate's results folder
    (``out/baseline``, ``out/candidates/K``) and ``plan.json``. Refuses (a
    :class:`~funnelsim.errors.UsageError`) a metric plan cannot raise, a probability outside
    (0, 1), too few replications for it, and a scenario without a volume lever."""
    check_target(metric, target)
    if not (math.isfinite(probability) and 0 < probability < 1):
        raise UsageError(
            f"must be between 0 and 1 (exclusive), got {probability!r}", "--probability"
        )
    least = math.ceil(probability / (1 - probability) - 1e-9)
    if replications < max(2, least):
        raise UsageError(
            f"a probability of {probability:g} needs at least {max(2, least)} replications "
            f"(ceil(p (n + 1)) of n must be able to reach the target), got {replications}",
            "--replications",
        )
    if out is not None and out.exists() and any(out.iterdir()):
        raise UsageError(f"{out}: holds results already; choose another folder", "--out")
    levers = [s for s in scenario.sources.values() if isinstance(s, OutboundSource)] + [
        s for s in scenario.sources.values() if isinstance(s, InboundSource) and s.spend
    ]
    if not levers:
        raise UsageError(
            f"{scenario.name}: no lever moves its volume: plan needs an inbound source with "
            "spend and a response curve, or an outbound source",
            "plan",
        )
    root = normalise_seed(scenario.seed if seed is None else seed)
    runs = _Runs(replications, root, executor, out, on_total, on_chunk)
    rows, _ = runs(scenario, "baseline")
    base = baseline_of(scenario, rows, metric)
    mean = base.mean(metric)
    if not (math.isfinite(mean) and mean > 0):
        raise UsageError(
            f"{scenario.name}: {metric} is {mean:g} in the baseline: nothing to scale", "--target"
        )
    hits = needed_hits(probability, replications)
    first = _first_factor(base, metric, target, probability)
    sheet, sheet_funnel = spreadsheet(base, metric, target)
    sheet_scenario = with_settings(scenario, sheet, f"{scenario.name} (spreadsheet)")
    sheet_rows, _ = runs(sheet_scenario, "spreadsheet")
    sheet_means = _means(sheet_rows)
    sheet_met = Probability(_reached([r.get(metric, math.nan) for r in sheet_rows], target),
                            len(sheet_rows))  # fmt: skip
    search = _Search(base, metric, target, hits, runs)
    found = search.run(first)
    chosen = found if found is not None else max(search.tried.values(), key=lambda c: c.factor)
    costs = {
        "baseline": planned_cost_monthly(scenario),
        "spreadsheet": planned_cost_monthly(sheet_scenario),
        "plan": planned_cost_monthly(chosen.scenario),
    }
    funnel = {
        stage: {
            "baseline": base.mean(stage),
            "spreadsheet": sheet_funnel.get(stage, math.nan),
            "spreadsheet_simulated": sheet_means.get(stage, math.nan),
            "plan": chosen.means.get(stage, math.nan),
        }
        for stage in (*sheet_funnel, *UTILISATIONS)
    }
    result = Plan(
        name=scenario.name,
        metric=metric,
        target=target,
        probability=probability,
        replications=replications,
        seed=root,
        baseline=base.levers(),
        settings=chosen.levers.settings,
        spreadsheet=sheet,
        costs=costs,
        probability_met=chosen.probability,
        spreadsheet_met=sheet_met,
        baseline_met=Probability(_reached(base.values, target), len(base.values)),
        met=found is not None,
        factor=chosen.factor,
        binding=tuple(_binding(base, chosen, metric, found is not None, search)),
        funnel=funnel,
        steps=tuple((c.factor, c.probability.mean) for c in search.order),
        scenario=chosen.scenario,
    )
    if out is not None:
        data = result.as_json()
        data["folders"] = {
            "baseline": "baseline",
            "plan": None if chosen.folder is None else str(chosen.folder.relative_to(out)),
        }
        (out / "plan.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return result


def _first_factor(base: Baseline, metric: str, target: float, probability: float) -> float:
    """The reverse funnel's factor: the volume at which the metric's mean exceeds the target
    by z_p of its spread, the spread growing with the square root of the volume. A target
    beyond ``MAX_FACTOR`` times the baseline's volume is refused."""
    z = statistics.NormalDist().inv_cdf(probability)
    mean = base.mean(metric)
    scale = _scale(mean, _sd(base.values), target, z)
    if scale > MAX_FACTOR:
        raise UsageError(
            f"{metric} >= {target:,.6g} needs about {scale:,.0f} times the volume of "
            f"{base.scenario.name} (whose mean is {mean:,.6g}); plan looks up to "
            f"{MAX_FACTOR:g} times: start from a larger scenario",
            "--target",
        )
    return max(scale, 1 / MAX_FACTOR)


def _sd(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.stdev(finite) if len(finite) > 1 else 0.0


def _scale(mean: float, sd: float, target: float, z: float) -> float:
    """The factor k on a volume whose metric has ``mean`` and ``sd`` at which ``k mean - z sd
    sqrt(k) = target`` (the mean scales with the volume, the spread with its square root): a
    quadratic in sqrt(k)."""
    if not (math.isfinite(mean) and mean > 0):
        return 2.0
    root = (z * sd + math.sqrt((z * sd) ** 2 + 4 * mean * target)) / (2 * mean)
    return root * root


class _Search:
    """The bracketing and bisection of the factor (the module's docstring, step 4).

    A team whose simulated utilisation runs above its aim (by more than ``SLACK``) shows that
    the work model undercounts its work (faster SDRs qualify more leads for the AEs; a team
    at its limit defers work its utilisation does not show): its work is scaled by what the
    simulation found, and the search starts its bracket again from that candidate's factor
    with the new staffing (at most ``RESTAFFING`` times)."""

    def __init__(self, base: Baseline, metric: str, target: float, hits: int, runs: _Runs) -> None:
        self.base, self.metric, self.target, self.hits, self.runs = base, metric, target, hits, runs
        self.tried: dict[str, Candidate] = {}  # by settings: factors that round alike run once
        self.order: list[Candidate] = []
        self.z = statistics.NormalDist().inv_cdf(hits / (runs.replications + 1))
        self.load: dict[str, float] = {}
        self.restaffed = 0
        self.fresh = False  # whether the last candidate evaluated was simulated just then

    def levers(self, factor: float) -> Levers:
        return levers_at(self.base, factor, self.load)

    def evaluate(self, factor: float) -> Candidate:
        levers = self.levers(factor)
        key = json.dumps(levers.settings, sort_keys=True)
        self.fresh = key not in self.tried
        if not self.fresh:
            return self.tried[key]
        name = f"{self.base.scenario.name} (plan x{factor:.3f})"
        scenario = with_settings(self.base.scenario, levers.settings, name)
        rows, folder = self.runs(scenario, f"candidates/{len(self.tried) + 1}")
        values = [r.get(self.metric, math.nan) for r in rows]
        reached = Probability(_reached(values, self.target), len(rows))
        found = Candidate(levers, scenario, _means(rows), values, reached, folder)
        self.tried[key] = found
        self.order.append(found)
        return found

    def restaff(self, candidate: Candidate) -> bool:
        """Scale the work of every team that ran hot in ``candidate``; True when that changes
        the levers at its factor."""
        if self.restaffed >= RESTAFFING or not self.fresh:
            return False
        changed = False
        for team in self.base.teams:
            used = candidate.means.get(f"{team.role}_utilization", math.nan)
            work = candidate.levers.work[team.role]
            expected = team.predicted(work, candidate.levers.settings[team.path])
            if math.isfinite(used) and expected > 0 and used > team.aim + SLACK:
                self.load[team.role] = self.load.get(team.role, 1.0) * used / expected
                changed = True
        if not changed:
            return False
        self.restaffed += 1
        return self.levers(candidate.factor).settings != candidate.levers.settings

    def passes(self, candidate: Candidate) -> bool:
        return candidate.probability.hits >= self.hits

    def guess(self, candidate: Candidate, other: Candidate | None) -> float:
        """The factor at which the metric's mean would exceed the target by z of this
        candidate's spread, the mean growing with the factor at the elasticity seen between
        the two candidates (1 without another): the size of the search's next step."""
        mean = candidate.means.get(self.metric, math.nan)
        if not (math.isfinite(mean) and mean > 0):
            return 2 * candidate.factor
        elasticity = 1.0
        if other is not None and other.factor != candidate.factor:
            before = other.means.get(self.metric, math.nan)
            if math.isfinite(before) and before > 0 and before != mean:
                seen = math.log(mean / before) / math.log(candidate.factor / other.factor)
                elasticity = min(max(seen, 0.25), 2.0)
        need = self.target + self.z * _sd(candidate.values)
        return float(candidate.factor * (max(need, 1e-9) / mean) ** (1 / elasticity))

    def run(self, first: float) -> Candidate | None:
        """The smallest passing candidate found, or None when none passes up to MAX_FACTOR."""
        low: Candidate | None = None
        high: Candidate | None = None
        last: Candidate | None = None
        factor = first
        while len(self.order) < MAX_EVALUATIONS:
            candidate = self.evaluate(factor)
            if self.restaff(candidate):  # the same factor again, with more people
                low = high = last = None
                continue
            if self.passes(candidate):
                high = candidate if high is None or candidate.factor < high.factor else high
            else:
                low = candidate if low is None or candidate.factor > low.factor else low
            other, last = last, candidate
            if high is None:  # step up
                assert low is not None
                if low.factor >= MAX_FACTOR:
                    return None
                factor = min(MAX_FACTOR, max(low.factor * 1.05, self.guess(low, other) * 1.03))
            elif low is None:  # step down
                if high.factor <= 1 / MAX_FACTOR:
                    return high
                guess = self.guess(high, other) / 1.03
                factor = max(1 / MAX_FACTOR, min(high.factor / 1.05, guess))
            else:
                if high.factor / low.factor <= 1 + TOLERANCE:
                    return high
                factor = math.sqrt(low.factor * high.factor)
                settings = self.levers(factor).settings
                if settings in (low.levers.settings, high.levers.settings):
                    return high  # the levers no longer change between the bracket's ends
        return high


def _binding(
    base: Baseline, chosen: Candidate, metric: str, met: bool, search: _Search
) -> list[str]:
    """What limits the plan: saturated channels, reps near the cap, the cycle's timing, a
    market running dry, the search's bounds."""
    lines = []
    for s, found in zip(base.spend, chosen.levers.saturated, strict=True):
        if found is not None:
            lines.append(
                f"sources.{s.name}: response curve saturated at {found.leads:,.0f} leads/month "
                f"({SATURATION:.0%} of its ceiling of {s.response.beta:,.0f}; the plan asks "
                f"{found.asked:,.0f}): the other sources make up the rest"
            )
    for team in base.teams:
        name = f"{team.role}_utilization"
        used = chosen.means.get(name, math.nan)
        label = "SDR" if team.role == "sdr" else "AE"
        hot = math.isfinite(used) and (used > team.aim + SLACK or used >= UTILISATION_CAP - 0.05)
        if math.isfinite(team.utilisation) and team.utilisation > UTILISATION_CAP:
            lines.append(
                f"{label} capacity: the baseline runs at {name} {team.utilisation:.2f}, above "
                f"the cap {UTILISATION_CAP:.2f}; the plan staffs for the cap and runs at "
                f"{used:.2f}"
            )
        elif hot:
            lines.append(
                f"{label} capacity: {name} {used:.2f} (the baseline's {team.utilisation:.2f}, "
                f"cap {UTILISATION_CAP:.2f})"
            )
    dry = chosen.means.get("contacts_not_loaded", 0.0)
    if math.isfinite(dry) and dry > 0:
        lines.append(f"outbound market: {dry:,.0f} contacts not loaded (the market ran dry)")
    for name, leads in base.fixed.items():
        lines.append(
            f"sources.{name}: a fixed arrival rate ({leads:,.0f} leads/month), not a lever"
        )
    timing = _timing(base, metric)
    if timing:
        lines.append(timing)
    if not met:
        best = chosen.probability
        lines.append(
            f"target not met: the largest plan tried (x{chosen.factor:.2f} the baseline's "
            f"volume) reaches {metric} >= {search.target:,.6g} in {best.hits} of {best.n} "
            f"replications, short of {search.hits}"
        )
    return lines


def _timing(base: Baseline, metric: str) -> str | None:
    """Deals created after a month of the period cannot close in it: the cycle from lead to
    the target's stage, from the baseline's mean days per stage."""
    unit = METRICS[metric].unit
    stage = (
        "deals" if unit in ("deals", "money") and metric != "pipeline_value"
        else "opportunities" if metric in ("opportunities", "pipeline_value")
        else "sqls" if metric.startswith("sqls")
        else None
    )  # fmt: skip
    if stage is None:
        return None
    days = sum(_zero(base.mean(name)) for name in _CYCLE[stage])
    if days < 1:
        return None
    scenario = base.scenario
    end = scenario.start + dt.timedelta(hours=scenario.horizon_hours)
    last = end - dt.timedelta(days=days)
    made = {"deals": "deals", "opportunities": "opportunities", "sqls": "SQLs"}[stage]
    warmup = scenario.origin.date().isoformat()
    if last <= scenario.start:
        return (
            f"timing: lead to {made} takes about {days:.0f} days, longer than the period: its "
            f"{made} come from the pipeline built in the warm-up (from {warmup})"
        )
    month = (last.year - scenario.start.year) * 12 + last.month - scenario.start.month + 1
    return (
        f"timing: lead to {made} takes about {days:.0f} days, so leads created after month "
        f"{month} of the period ({last.date().isoformat()}) cannot close in it; the plan's "
        f"levers run from the warm-up's start ({warmup}), so its pipeline is full when the "
        "period starts"
    )
