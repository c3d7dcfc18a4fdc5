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
# # Quickstart: run the baseline, read the funnel
#
# The first thing a planner does with funnelsim: take a plan, simulate its year a number of
# times, and read the answer as a funnel (how many leads reach each stage, and the conversion
# rates between them) and as a service level (how many leads sales touched within the
# first-touch SLA marketing and sales agreed).
#
# The plan is the bundled baseline, `scenarios/baseline.yaml`: a mid-size B2B software
# company with search and content programs, an outbound list worked by SDRs, AEs who run the
# deals, and a hiring plan. Every number in the file carries its source and a plausible range
# (`docs/scenario.md`, section *Numbers with a source and a range*).
#
# With `FUNNELSIM_FAST=1` (CI sets it) the run is shorter: 4 replications of half a year
# instead of 10 of the full year.

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
changes = {"horizon": "26w"} if FAST else {}
plan = fs.load(ROOT / "scenarios" / "baseline.yaml", changes=changes)
print(plan.name)
print(plan.description)
print(f"measured: {plan.horizon} from {plan.start:%Y-%m-%d}, after a warm-up of {plan.warmup}")
print(f"first-touch SLA: {plan.handoff.first_touch_sla}")

# %% [markdown]
# `fs.load` checks the file as `funnelsim validate` does; `changes` sets values by dotted path
# without editing the file, as `--set` does on the command line. The warm-up is simulated but
# not measured: it fills the pipeline, so the measured period does not start from an empty
# funnel.
#
# ## Run it
#
# Each replication is one possible year, with its own random arrivals, work times and buyer
# decisions. The answer is each metric's mean over the replications with its 95% confidence
# interval. `workers=2` runs the replications on two processes, with the numbers one gives.

# %%
REPLICATIONS = 4 if FAST else 10
found = fs.run(plan, replications=REPLICATIONS, workers=2, progress=False)
summary = found.summary().set_index("metric")
found  # noqa: B018 (in Jupyter a result shows as its table: every metric, mean ± half-width)

# %% [markdown]
# ## The funnel
#
# Volumes count what happened in the measured period. Inbound leads are the ones that came in;
# outbound leads are contacts an SDR reached in a conversation. An MQL is a lead marketing's
# scoring passed to sales; an SAL is an MQL sales accepted at first touch; an SQL is a lead an
# SDR qualified in a call (or an outbound contact qualified in a held meeting); an opportunity
# is an SQL an AE accepted.

# %%
STAGES = {
    "leads": "leads (in, reached)",
    "mqls": "MQLs",
    "sals": "SALs",
    "sqls": "SQLs",
    "opportunities": "opportunities",
    "deals_won": "deals won",
}
funnel = summary.loc[list(STAGES), ["mean", "ci_low", "ci_high"]].rename(index=STAGES)
print(f"new ARR booked: {summary.loc['new_arr', 'mean']:,.0f} {plan.currency}")
funnel.round(1)

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.barh(funnel.index[::-1], funnel["mean"][::-1], color="C0")
ax.errorbar(
    funnel["mean"][::-1],
    funnel.index[::-1],
    xerr=[(funnel["mean"] - funnel["ci_low"])[::-1], (funnel["ci_high"] - funnel["mean"])[::-1]],
    fmt="none",
    color="k",
    capsize=3,
)
for stage, row in funnel.iterrows():
    ax.annotate(f" {row['mean']:,.0f}", (row["ci_high"], stage), va="center")
ax.set_xlim(0, 1.15 * funnel["ci_high"].max())
ax.set_xlabel(f"count in the measured period ({plan.horizon}), mean and 95% CI")
ax.grid(alpha=0.3, axis="x")

# %% [markdown]
# The conversion rates follow a cohort: the leads that entered a stage in the period, and the
# share of them that reached the next stage by the end of the run (`docs/metrics.md`). Beside
# each, the plausibility band of `docs/domain.md` that published figures put it in.

# %%
RATES = {  # metric: (from -> to, the band of docs/domain.md)
    "rate_inquiry_to_mql": ("inquiry -> MQL", (0.10, 0.40)),
    "rate_mql_to_sal": ("MQL -> SAL", (0.40, 0.90)),
    "rate_mql_to_sql": ("MQL -> SQL", (0.13, 0.60)),
    "rate_sql_to_opportunity": ("SQL -> opportunity", (0.40, 0.80)),
    "rate_opportunity_to_won": ("opportunity -> won", (0.15, 0.35)),
}
pd.DataFrame([
    {
        "stage": label,
        "mean": f"{summary.loc[metric, 'mean']:.1%}",
        "95% CI": f"[{summary.loc[metric, 'ci_low']:.1%}, {summary.loc[metric, 'ci_high']:.1%}]",
        "band": f"{low:.0%}-{high:.0%}",
    }
    for metric, (label, (low, high)) in RATES.items()
]).set_index("stage")  # fmt: skip

# %% [markdown]
# ## The first-touch SLA
#
# Every MQL handed to sales has a deadline: the SLA after the handoff, counted in business
# hours (`4bh`: four working hours). SLA attainment is the share of handoffs first touched by
# their deadline; leads that went cold untouched count as misses. Waits are in calendar hours,
# nights and weekends included.

# %%
SLA = {
    "sla_first_touch_attainment": "touched within the SLA",
    "first_touch_wait_mean_h": "mean wait for a first touch (h)",
    "first_touch_wait_p90_h": "90th percentile of the wait (h)",
    "expired_share": "MQLs lost untouched",
    "sdr_utilization": "SDR time spent working",
}
attained = summary.loc["sla_first_touch_attainment"]
print(
    f"SLA attainment: {attained['mean']:.1%} "
    f"[{attained['ci_low']:.1%}, {attained['ci_high']:.1%}] (95% CI, {REPLICATIONS} replications)"
)
summary.loc[list(SLA), ["mean", "ci_low", "ci_high"]].rename(index=SLA)

# %% [markdown]
# ## What this plan promises
#
# The numbers above are only worth planning with if the model adds up and lands where the
# published figures do. The cell fails if:
#
# - the sources' SQLs, deals won and leads do not add up to the totals in every replication,
#   or the commissions are not the scenario's rate on the new ARR;
# - a conversion rate's mean leaves its band of `docs/domain.md`;
# - the SLA attainment's 95% interval does not lie wholly above 90%, the floor the budget
#   optimisation holds every plan to (`scenarios/studies/optimize-budget.yaml`).

# %%
runs = found.replications
for total, parts in {
    "sqls": ["sqls_inbound", "sqls_outbound"],
    "deals_won": ["deals_won_inbound", "deals_won_outbound"],
    "leads": ["leads_inbound", "leads_outbound"],
}.items():
    gap = (runs[total] - runs[parts].sum(axis=1)).abs().max()
    print(f"{total} = {' + '.join(parts)}: largest gap {gap:g}")
    assert gap == 0, total
commission = (runs["cost_commissions"] - plan.economics.commission * runs["new_arr"]).abs().max()
print(f"commissions = {plan.economics.commission:.0%} of new ARR: largest gap {commission:.2g}")
assert commission < 1e-6 * runs["new_arr"].max()
for metric, (label, (low, high)) in RATES.items():
    mean = summary.loc[metric, "mean"]
    assert low <= mean <= high, f"{label}: {mean:.1%} outside {low:.0%}-{high:.0%}"
assert attained["ci_low"] >= 0.9, attained
