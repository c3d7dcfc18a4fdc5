# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The hiring plan: ramp, timing, and when new reps pay off
#
# The baseline's plan for the year, `scenarios/baseline.yaml`, starts with three SDRs and
# three AEs and hires one more of each during the year. A new rep is not a full rep on day
# one: she ramps (`teams.*.ramp`: productivity rises linearly from `start` to 1 over `over`,
# `docs/model.md`, section 9), and an AE's deals take a sales cycle to close. She costs her full
# loaded salary from the day she joins.
#
# Three questions for the hiring plan:
#
# 1. what capacity do the hires add, week by week, once the ramp is counted;
# 2. what do they add to the year's SQLs, deals and new ARR, and does hiring them in January
#    instead change that;
# 3. when do they pay off?
#
# With `FUNNELSIM_FAST=1` (CI sets it) every run covers half a year with fewer replications:
# the half year then ends before the July hire.

# %%
# %matplotlib inline
import os
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import funnelsim as fs

pd.options.display.float_format = "{:,.4g}".format
FAST = os.environ.get("FUNNELSIM_FAST") == "1"
# The repository root holds pyproject.toml: the notebook's folder or one above it, or else the
# checkout funnelsim is installed from.
HERE = Path.cwd()
ROOT = next(
    p
    for p in (HERE, *HERE.parents, Path(fs.__file__).parents[2])
    if (p / "pyproject.toml").is_file()
)
FILE = ROOT / "scenarios" / "baseline.yaml"
changes = {"horizon": "26w"} if FAST else {}
REPLICATIONS = 6 if FAST else 40
plan = fs.load(FILE, changes=changes)
TEAMS = {"sdr": plan.teams.sdr, "ae": plan.teams.ae}
for name, team in TEAMS.items():
    hires = ", ".join(f"{h.change:+d} on {h.at:%Y-%m-%d}" for h in team.hiring)
    print(
        f"{name.upper()}s: {team.headcount} at the start, hires {hires}; a hire starts at "
        f"{team.ramp.start:.0%} and is fully productive after {team.ramp.over}"
    )
print(f"measured: {plan.horizon} from {plan.start:%Y-%m-%d}")

# %% [markdown]
# ## Three hiring plans
#
# - **No hires**: the starting teams all year (`teams.sdr.hiring` and `teams.ae.hiring`
#   empty);
# - **The plan**: the file as it is;
# - **Hires in January**: the same two hires on the first Monday of the measured year.

# %%
JANUARY = f"{plan.start:%Y-%m-%d} 09:00"
PLANS = {
    "No hires": {"teams.sdr.hiring": [], "teams.ae.hiring": []},
    "The plan": {},
    "Hires in January": {
        "teams.sdr.hiring": [{"at": JANUARY, "change": 1}],
        "teams.ae.hiring": [{"at": JANUARY, "change": 1}],
    },
}
plans = {name: fs.load(FILE, changes={**changes, **c, "name": name}) for name, c in PLANS.items()}

# %% [markdown]
# ## Capacity, week by week
#
# Before any simulation, the arithmetic of the plan: people on the team, each hire counted at
# her productivity that week. This is the capacity the plan pays for; what it does with it
# depends on the work that arrives, which is what the simulation adds.

# %%
WEEK_H = 7 * 24
weeks = range(int(plan.horizon.hours // WEEK_H) + 1)


def effective(scenario, team, week):
    """People on ``team`` at the start of ``week`` of the measured period, hires counted at
    their productivity then (the ramp of docs/model.md, section 9)."""
    staff = getattr(scenario.teams, team)
    now = scenario.start + pd.Timedelta(weeks=week)
    people = staff.headcount
    for hire in staff.hiring:
        if hire.at <= now:
            ramped = (now - hire.at).total_seconds() / 3600 / staff.ramp.over.hours
            people += hire.change * min(1.0, staff.ramp.start + (1 - staff.ramp.start) * ramped)
    return people


fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharex=True)
for ax, team in zip(axes, TEAMS, strict=True):
    for name, scenario in plans.items():
        ax.step(weeks, [effective(scenario, team, w) for w in weeks], where="post", label=name)
    ax.set_title(f"{team.upper()} capacity (full-rep equivalents)")
    ax.set_xlabel("week of the measured period")
    ax.grid(alpha=0.3)
axes[0].legend(frameon=False)
fig.tight_layout()

# %% [markdown]
# ## What the hires add to the year
#
# The three plans run on the same replications of one seed (common random numbers), so each
# plan's difference from *No hires* is taken replication by replication. The weekly series go
# to a results folder, `reports/notebooks/04-hiring-plan/` (the next run replaces it).

# %%
OUT = ROOT / "reports" / "notebooks" / "04-hiring-plan"


def emptied(folder):
    """``folder``, created anew: the last run's files go."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


comparison = fs.compare(*plans.values(), replications=REPLICATIONS, out=emptied(OUT), workers=2,
                        progress=False)  # fmt: skip
KEY = [
    "sqls",
    "opportunities",
    "deals_won",
    "new_arr",
    "ltv",
    "total_cost",
    "planned_cost_monthly",
    "sla_first_touch_attainment",
    "sdr_utilization",
    "ae_utilization",
    "cac_payback_months",
]
added = comparison.differences().set_index(["scenario", "metric"])
rows = {}
for name in list(plans)[1:]:
    d = added.loc[name].loc[KEY]
    rows[f"{name}: added"] = d["mean"]
    rows[f"{name}: 95% CI"] = [
        f"[{lo:,.4g}, {hi:,.4g}]" for lo, hi in zip(d["ci_low"], d["ci_high"], strict=True)
    ]
means = comparison.summary().pivot(index="metric", columns="scenario", values="mean")
print(f"{REPLICATIONS} paired replications; differences from No hires; money in {plan.currency}")
pd.DataFrame({"No hires": means.loc[KEY, "No hires"], **rows})

# %% [markdown]
# ## Week by week: when the hires' work shows
#
# Each plan's extra new ARR over *No hires*, added up week by week (paired by replication:
# the line is the mean, the band holds the middle 80% of the replications), against what its
# hires have cost so far: each seat's loaded salary, its share of a first-line manager and its
# tools (`economics` in the scenario), from the day the hire joins.

# %%
YEAR_H = 365.25 * 24


def seat_year(scenario, team):
    """A seat's cost per year: loaded salary, a share of a manager, tools."""
    e = scenario.economics
    return (
        getattr(scenario.teams, team).annual_cost
        + e.manager_annual_cost / e.manager_span
        + e.tools_per_head
    )


def hires_cost(scenario, hours):
    """What the scenario's hires have cost ``hours`` into the measured period."""
    now = scenario.start + pd.Timedelta(hours=hours)
    total = 0.0
    for team in TEAMS:
        for hire in getattr(scenario.teams, team).hiring:
            seat_hours = max(0.0, (now - hire.at).total_seconds() / 3600)
            total += hire.change * seat_year(scenario, team) * seat_hours / YEAR_H
    return total


weekly = comparison.weekly.pivot_table(index=["replication", "week"], columns="scenario",
                                       values="new_arr")  # fmt: skip
cumulative = weekly.groupby(level="replication").cumsum()
fig, ax = plt.subplots(figsize=(8, 4))
quarters = {}
for (name, scenario), colour in zip(list(plans.items())[1:], ["C0", "C1"], strict=True):
    extra = (cumulative[name] - cumulative["No hires"]).unstack("replication")
    ax.plot(extra.index, extra.mean(axis=1), color=colour, label=f"{name}: extra new ARR")
    ax.fill_between(extra.index, extra.quantile(0.1, axis=1), extra.quantile(0.9, axis=1),
                    color=colour, alpha=0.2)  # fmt: skip
    cost = [hires_cost(scenario, week * WEEK_H) for week in extra.index]
    ax.plot(extra.index, cost, color=colour, ls="--", label=f"{name}: hires' cost so far")
    quarters[name] = extra.mean(axis=1).iloc[12::13]  # the end of each quarter's 13 weeks
ax.axhline(0, color="k", lw=0.8)
ax.set_xlabel("week of the measured period")
ax.set_ylabel(f"cumulative, {plan.currency}")
ax.yaxis.set_major_formatter("{x:,.0f}")
ax.legend(frameon=False, fontsize=8)
ax.grid(alpha=0.3)
pd.DataFrame(quarters).rename(index=lambda week: f"end of Q{week // 13} (week {week})")

# %% [markdown]
# The table gives the mean extra new ARR booked by the end of each quarter. The dashed lines
# rise from the day each hire joins; the solid ones only once ramp and the sales cycle let
# her work turn into closed deals.
#
# ## When do they pay off?
#
# New ARR is a yearly amount that keeps coming: a deal won pays its ARR every year the
# customer stays. Two ways to read the hires' return, both from the paired differences above:
#
# - **payback**: the months of gross profit on their extra new ARR that repay their extra
#   cost in the period (the CAC payback of the hires alone, `docs/metrics.md`), beside the
#   whole plan's own CAC payback; over the CAC payback of the plan, they make the plan's
#   average worse;
# - **lifetime**: the extra lifetime value (gross profit over `economics.lifetime`, churn and
#   expansion counted) of the deals they win, per extra dollar spent: above 1, the customers
#   they bring repay them.
#
# Each figure comes with the range it takes at the two ends of the extra new ARR's (or LTV's)
# 95% interval.

# %%
margin = plan.economics.gross_margin


def payback(cost, arr):
    """Months of gross profit on ``arr`` of new ARR that repay ``cost``."""
    return cost / (arr * margin / 12) if arr > 0 else float("inf")


def months_text(months):
    return "never" if months == float("inf") else f"{months:,.0f}"


returns = []
for name in list(plans)[1:]:
    d = added.loc[name]
    cost, arr, ltv = d.loc["total_cost"], d.loc["new_arr"], d.loc["ltv"]
    returns.append({
        "plan": name,
        "extra cost": cost["mean"],
        "extra new ARR": arr["mean"],
        "payback, months": months_text(payback(cost["mean"], arr["mean"])),
        "payback range": f"{months_text(payback(cost['mean'], arr['ci_high']))} to "
                         f"{months_text(payback(cost['mean'], arr['ci_low']))}",
        "the plan's CAC payback": means.loc["cac_payback_months", name],
        "extra LTV per extra $": ltv["mean"] / cost["mean"],
        "LTV range": f"{ltv['ci_low'] / cost['mean']:.2f} to {ltv['ci_high'] / cost['mean']:.2f}",
    })  # fmt: skip
pd.DataFrame(returns).set_index("plan").transpose()

# %% [markdown]
# A hire can be worth making and still not pay back inside the year she joins: a rep hired in
# July books a few months of ramped deals before December, and their gross profit arrives
# month by month after that. Whether the hires pay depends on the work waiting for them:
# with SDRs and AEs not fully busy, an extra rep adds less than her full capacity. `fs.size`
# (see `03-handoff-sla`) and `fs.plan` (the reverse funnel: the spend and people a target
# needs) answer how many people a target needs; this notebook answers when to bring them in.
#
# ## The checks
#
# The cell fails if:
#
# 1. the planned cost of each hiring plan over *No hires* is not the seat arithmetic above
#    (the dashed lines at the period's end), to within 0.1%: the hires' budget line is what the
#    simulation charges;
# 2. the hires in January do not bring clearly more SQLs and opportunities than no hires
#    (paired 95% intervals above zero);
# 3. a plan's SDR hire does not leave the SDRs clearly less busy than with no hires (the
#    paired 95% interval of the difference in SDR utilisation must lie below zero).

# %%
months = plan.horizon.hours / (YEAR_H / 12)
for name, scenario in list(plans.items())[1:]:
    simulated = added.loc[(name, "planned_cost_monthly"), "mean"] * months
    arithmetic = hires_cost(scenario, plan.horizon.hours)
    print(f"{name}: hires' planned cost {simulated:,.0f}, seat arithmetic {arithmetic:,.0f}")
    assert abs(simulated - arithmetic) <= 0.001 * max(arithmetic, 1.0), (simulated, arithmetic)
for metric in ("sqls", "opportunities"):
    d = added.loc[("Hires in January", metric)]
    print(
        f"Hires in January, {metric}: {d['mean']:+,.1f} [{d['ci_low']:+,.1f}, {d['ci_high']:+,.1f}]"
    )
    assert d["ci_low"] > 0, (metric, d)
for name in list(plans)[1:]:
    d = added.loc[(name, "sdr_utilization")]
    print(f"{name}, SDR utilisation: {d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
    assert d["ci_high"] < 0, (name, d)
