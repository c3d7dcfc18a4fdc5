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
# # Inbound-heavy or outbound-heavy?
#
# The budget review: the money is fixed (channel spend, outbound programs, loaded people with
# their managers and tools, marketing and leadership: `planned_cost_monthly`). Put the
# discretionary part into search and content and keep the SDR team small, or into a large
# target list and the SDRs to work it?
#
# funnelsim ships both plans at the same planned cost, each staffed for its own volume, every
# number with its source in the scenario files: `scenarios/inbound-heavy.yaml` and
# `scenarios/outbound-heavy.yaml`. Everything else (segments, scoring, handoff SLA, AEs,
# economics) is the same. Two questions: which plan is better with the numbers as written, and
# how sure is that answer, given that many of those numbers are ranges rather than facts?
#
# With `FUNNELSIM_FAST=1` (CI sets it) every run covers half a year with fewer replications
# and fewer draws of the uncertain inputs; half a year is too short for many of the deals
# that the year's leads bring, so read the full run's verdict, not the fast one's.

# %%
# %matplotlib inline
import os
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
FILES = {
    "Inbound-heavy": ROOT / "scenarios" / "inbound-heavy.yaml",
    "Outbound-heavy": ROOT / "scenarios" / "outbound-heavy.yaml",
}
changes = {"horizon": "26w"} if FAST else {}
plans = {name: fs.load(path, changes=changes) for name, path in FILES.items()}
REPLICATIONS = 6 if FAST else 20  # per plan, for the comparison at the files' values
print(f"measured: {plans['Inbound-heavy'].horizon} after a {plans['Inbound-heavy'].warmup} warm-up")
LEVERS = {
    "search spend a month": "sources.search.spend.monthly",
    "content spend a month": "sources.content.spend.monthly",
    "outbound contacts a month": "sources.outbound.contacts_per_month",
    "SDRs at the start": "teams.sdr.headcount",
    "AEs at the start": "teams.ae.headcount",
}


def value_at(scenario, path):
    """The scenario's value at a dotted path."""
    node = scenario
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def levers(plan):
    """The plan's levers as the file sets them, and its hires."""
    shown = {lever: f"{value_at(plan, path):,.0f}" for lever, path in LEVERS.items()}
    for team in ("sdr", "ae"):
        hires = getattr(plan.teams, team).hiring
        shown[f"{team.upper()} hires"] = ", ".join(
            f"{h.change:+d} on {h.at:%Y-%m-%d}" for h in hires
        )
    return shown


pd.DataFrame({name: levers(plan) for name, plan in plans.items()})

# %% [markdown]
# ## The two plans with the numbers as written
#
# `fs.compare` runs both plans on the same replications of one seed: replication *r* of each
# sees the same random numbers wherever the plans share a stream (common random numbers). The
# difference outbound-heavy minus inbound-heavy is then taken replication by replication, and
# its interval is much narrower than the two plans' intervals side by side suggest. A
# difference whose interval excludes zero is one the simulation is sure of.

# %%
comparison = fs.compare(*plans.values(), replications=REPLICATIONS, workers=2, progress=False)
KEY = [
    "sqls",
    "deals_won",
    "new_arr",
    "total_cost",
    "planned_cost_monthly",
    "cost_per_sql",
    "cac_ratio",
    "cac_payback_months",
    "ltv_to_cac",
    "sla_first_touch_attainment",
    "sdr_utilization",
]
means = comparison.summary().pivot(index="metric", columns="scenario", values="mean")
difference = comparison.differences().set_index("metric")
table = means.loc[KEY, list(plans)].assign(
    **{
        "outbound - inbound": difference.loc[KEY, "mean"],
        "95% CI low": difference.loc[KEY, "ci_low"],
        "95% CI high": difference.loc[KEY, "ci_high"],
        "sure": difference.loc[KEY, "excludes_zero"],
    }
)
print(f"{REPLICATIONS} paired replications per plan; money in {plans['Inbound-heavy'].currency}")
table.round(4)

# %% [markdown]
# The verdict on the lines the budget review reads, in words (higher new ARR and LTV to CAC
# are better, a lower CAC ratio and cost per SQL are better):

# %%
BETTER = {
    "new_arr": "higher",
    "ltv_to_cac": "higher",
    "cac_ratio": "lower",
    "cost_per_sql": "lower",
}
for metric, better in BETTER.items():
    d = difference.loc[metric]
    ahead = (d["mean"] > 0) == (better == "higher")
    if d["excludes_zero"]:
        winner = "outbound-heavy" if ahead else "inbound-heavy"
        print(f"{metric:13s} {winner} is clearly better (paired 95% CI excludes zero)")
    else:
        print(f"{metric:13s} no clear winner: the paired 95% CI includes zero")
comparison.plot_differences("Outbound-heavy")

# %% [markdown]
# Both plans cost the same to run as planned, so the money lines carry the answer. Per SQL the
# channels differ: an inbound lead carries channel spend and marketing's people, an outbound
# one the list data and the SDR hours it took to reach and qualify the contact.
#
# ## What we do not know
#
# The answer above takes every number at the value the file writes. Many of those numbers
# are ranges: the outbound connect rate is "5 to 9.9% per dial", the meeting rate per
# conversation "4.6% to a third". `uncertainty=N` runs both plans over N plausible worlds: a
# Latin hypercube over every ranged input (each range cut into N equally likely slices, each
# slice used once), both plans with the same values in a world, so they differ by their
# choices and not by the luck of the draw. It is `funnelsim compare --uncertainty N`.

# %%
DRAWS = 8 if FAST else 40  # plausible worlds
DRAW_REPLICATIONS = 2 if FAST else 3  # replications of each plan in each world
worlds = fs.compare(
    *plans.values(), uncertainty=DRAWS, replications=DRAW_REPLICATIONS, workers=2, progress=False
)
print(worlds, f"over {len(worlds.inputs())} ranged inputs")
worlds.inputs()[["value", "low", "high", "shape", "grade"]].head(10)

# %% [markdown]
# ## The chance each plan wins
#
# Read the table as a planner would: *mean* and its interval are the difference outbound-heavy
# minus inbound-heavy on average over the worlds; *p05* to *p95* the range of single outcomes
# (one run of the measured period) once both what we do not know and plain luck are counted;
# *p_better* the share of those outcomes in which outbound-heavy comes out ahead (a tie counts
# half), with its interval. A chance near one half says the choice turns on numbers nobody has
# measured yet: when the comparison at the files' values is sure and the chance over the
# worlds is not, the verdict rests on the values the files chose.

# %%
chances = worlds.chances().set_index("metric")
chances.loc[[*BETTER, "sqls"], ["mean", "ci_low", "ci_high", "p05", "p95", "p_better",
                                "p_better_low", "p_better_high"]]  # fmt: skip

# %% [markdown]
# Each world's difference in new ARR, sorted, with the comparison at the files' values (its
# 95% interval shaded):

# %%
arr = worlds.outcomes("new_arr").groupby(level="draw").mean()
by_world = (arr["Outbound-heavy"] - arr["Inbound-heavy"]).sort_values()
at_values = difference.loc["new_arr"]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.axhspan(at_values["ci_low"], at_values["ci_high"], color="C1", alpha=0.2,
           label="files' values: paired 95% CI")  # fmt: skip
ax.scatter(range(len(by_world)), by_world, color="C0", label="one plausible world")
ax.axhline(0, color="k", lw=0.8)
ax.set_xlabel("worlds, sorted")
ax.set_ylabel("new ARR, outbound - inbound (USD)")
ax.yaxis.set_major_formatter("{x:,.0f}")
ax.legend(frameon=False)
ax.grid(alpha=0.3)

# %% [markdown]
# ## Which unknowns decide it
#
# A screen: each input's rank correlation with the world's gain in new ARR, and its q-value,
# the p-value adjusted for the number of inputs tested (with a few dozen worlds and a hundred
# inputs, some correlate by chance: trust an input with a small q). Where an input matters and
# a line through the gains crosses zero inside its range, `flips_at` is the value at which the
# verdict flips. `fs.sensitivity` (`funnelsim sensitivity`) measures this properly, with
# Morris and Sobol indices.

# %%
deciding = worlds.inputs_that_decide("new_arr")
deciding.head(8)

# %% [markdown]
# One mechanism to look for: outbound meetings are held by AEs (`held_by: ae` in the files),
# and outbound-heavy has no more AEs than inbound-heavy. In a world where the list converts
# well, its AEs may run out of hours, and deals wait or are lost. Each world's gap in new ARR
# against how busy outbound-heavy's AEs were:

# %%
busy = worlds.outcomes("ae_utilization").groupby(level="draw").mean()["Outbound-heavy"]
full = busy.reindex(by_world.index) >= 0.95
print(
    f"worlds where outbound-heavy's AEs were at least 95% busy: {full.sum()} of {len(full)}; "
    f"mean new ARR gap there {by_world[full].mean():+,.0f}, "
    f"elsewhere {by_world[~full].mean():+,.0f}"
)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.scatter(busy.reindex(by_world.index), by_world, color="C0")
ax.axhline(0, color="k", lw=0.8)
ax.set_xlabel("outbound-heavy: AE utilisation")
ax.set_ylabel("new ARR, outbound - inbound (USD)")
ax.yaxis.set_major_formatter("{x:,.0f}")
ax.grid(alpha=0.3)

# %% [markdown]
# ## The checks
#
# What the comparison rests on, and what the plans are built to do. The cell fails if:
#
# 1. the two plans no longer cost the same as planned (within 0.1% a month): the decision is
#    one of a fixed budget;
# 2. outbound-heavy's larger list does not bring clearly more SQLs, at lower cost per SQL
#    (paired 95% intervals wholly on one side of zero), with the files' values;
# 3. any world ran fewer than its replications, or the larger list does not bring more SQLs
#    in most of the plausible worlds too.

# %%
cost = means.loc["planned_cost_monthly", list(plans)]
print("planned cost a month: " + ", ".join(f"{n} {c:,.0f}" for n, c in cost.items()))
assert abs(cost["Outbound-heavy"] / cost["Inbound-heavy"] - 1) < 0.001, cost
for metric, side in {"sqls": "above", "cost_per_sql": "below"}.items():
    d = difference.loc[metric]
    low, high = d["ci_low"], d["ci_high"]
    print(f"{metric}: outbound - inbound {d['mean']:+,.1f} [{low:+,.1f}, {high:+,.1f}]")
    assert (low > 0) if side == "above" else (high < 0), metric
outcomes = worlds.outcomes("new_arr")
assert outcomes.shape == (DRAWS * DRAW_REPLICATIONS, 2), outcomes.shape
p = chances["p_better"]
assert ((p >= 0) & (p <= 1)).all(), p
print(f"P(outbound-heavy has more new ARR) over {DRAWS} worlds: {p['new_arr']:.2f}")
print(f"P(outbound-heavy has more SQLs): {p['sqls']:.2f}")
assert p["sqls"] > 0.5, p["sqls"]
