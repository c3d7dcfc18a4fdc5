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
# A budget review: the plan costs about **$262k a month** as planned (channel spend, outbound
# programs, loaded people with their managers and tools, marketing and leadership:
# `planned_cost_monthly`). Put the discretionary part into search and content and keep the SDR
# team small, or into a large target list and the SDRs to work it?
#
# funnelsim ships both plans at the same planned cost, each staffed for its own volume (the
# SDR team that holds the baseline's first-touch SLA attainment), every number with its source
# in the scenario files:
#
# - `scenarios/inbound-heavy.yaml`: $45.6k/month of search and content, a 200-contact list,
#   3 SDRs;
# - `scenarios/outbound-heavy.yaml`: $32.7k/month of search and content, a 1,000-contact list,
#   4 SDRs.
#
# Everything else (segments, scoring, handoff SLA, AEs, economics) is the same. We compare the
# two plans on common random numbers, then ask how much each depends on its SDR headcount. The
# last cell fails if the directions the model's mechanisms imply stop coming out of it.
#
# To keep the notebook fast, every run covers half a year (26 weeks after the scenarios'
# 12-week warm-up) with few replications; `funnelsim compare` on the full year with more
# replications gives tighter intervals.

# %%
# %matplotlib inline
from pathlib import Path

import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from funnelsim import charts
from funnelsim.analysis import excludes_zero, paired_difference, summarise
from funnelsim.experiment import ExecutorSpec, compare, run
from funnelsim.formatting import cell  # mean ± half-width, as the CLI and reports print it
from funnelsim.metrics import METRICS
from funnelsim.scenario.load import load_scenario, load_scenarios

# The repository root holds pyproject.toml; the notebook may run from anywhere below it.
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "pyproject.toml").is_file())
PLANS = {
    "Inbound-heavy": ROOT / "scenarios" / "inbound-heavy.yaml",
    "Outbound-heavy": ROOT / "scenarios" / "outbound-heavy.yaml",
}
SHORT = ["horizon=26w"]  # measured period of each run, after the scenarios' warm-up
SEED = 2027  # one seed everywhere: every run shares random numbers stream by stream
REPLICATIONS = 6  # per plan, for the comparison
WORKERS = ExecutorSpec(workers=2)  # two worker processes; results are identical to one's

# %% [markdown]
# ## The two plans side by side
#
# `compare` runs both plans on the same seed and replication numbers, so replication *r* of
# each sees the same random numbers wherever the plans share a stream. The last column is
# the **paired difference**, outbound-heavy minus inbound-heavy, replication by replication:
# its interval is narrower than the two plans' intervals side by side suggest. Every cell is
# the mean ± the half-width of its 95% confidence interval.

# %%
plans = {name: load_scenario(path, SHORT) for name, path in PLANS.items()}
comparison = compare(list(plans.values()), REPLICATIONS, SEED, executor=WORKERS)
difference = comparison.differences()["Outbound-heavy"]

KEY_METRICS = [
    "sqls",
    "deals_won",
    "new_arr",
    "cost_per_lead_inbound",
    "cost_per_lead_outbound",
    "total_cost",
    "planned_cost_monthly",
    "cost_per_sql",
    "cac_ratio",
    "cac_payback_months",
    "ltv_to_cac",
    "sla_first_touch_attainment",
    "sdr_utilization",
]


summaries = {r.scenario.name: r.summary() for r in comparison.per_scenario}
table = pd.DataFrame(
    {
        "unit": [METRICS[m].unit for m in KEY_METRICS],
        **{
            name: [cell(s[m], METRICS[m].unit) for m in KEY_METRICS]
            for name, s in summaries.items()
        },
        "outbound - inbound (paired)": [
            cell(difference[m], METRICS[m].unit, signed=True) for m in KEY_METRICS
        ],
    },
    index=pd.Index(KEY_METRICS, name="metric"),
)
print(
    f"{REPLICATIONS} paired replications per plan, seed {SEED}, "
    f"26 weeks measured; money in {plans['Inbound-heavy'].currency}"
)
HIGHER_IS_BETTER = {"new_arr": True, "cac_ratio": False, "ltv_to_cac": True}
print("planned cost per month: " + ", ".join(
    f"{name} {s['planned_cost_monthly'].mean:,.0f}" for name, s in summaries.items()
))  # fmt: skip
for metric, higher_is_better in HIGHER_IS_BETTER.items():
    d = difference[metric]
    verdict = "better" if (d.mean > 0) == higher_is_better else "worse"
    sure = "clearly" if excludes_zero(d) else "not clearly"
    print(f"{metric:13s} outbound-heavy {sure} {verdict} than inbound-heavy (paired 95% CI)")
display(table)

# %% [markdown]
# Read the table with the budget in mind: both plans cost the same to run as planned
# (`planned_cost_monthly`), so the money lines (new ARR, CAC ratio, payback, LTV to CAC) carry
# the answer; the total cost differs a little by what the plans earn (commissions) and by the
# seats random departures leave empty. The verdict printed above the table follows from the
# scenario files' sourced numbers, whichever way it goes.
#
# Per lead the two channels are not alike: an inbound lead raised its hand and carries channel
# spend and marketing's people; an outbound "lead" is a contact reached in a conversation and
# carries the data and the SDR time it took to reach it. Per SQL, outbound takes more SDR
# time: every attempt costs rep time, checked below.

# %% [markdown]
# ## How much does each plan depend on its SDRs?
#
# Inbound leads wait for an SDR: with too few, they queue, their odds decay with every hour,
# and some go cold untouched. Outbound work waits too, but a contact on a list does not decay
# while it waits, and SDRs take inbound work first. Does one plan lean harder on its SDRs than
# the other? Each is staffed for its own volume, so the answer is not written in advance.
#
# We sweep `teams.sdr.headcount` around each plan's own team, with fewer replications than
# above. Each option is a **variant** of the plan's file, written as `funnelsim compare
# inbound-heavy.yaml --variant "4 SDRs: teams.sdr.headcount=4"` would take it: the file with
# that one value changed, named by its label. All options of a plan run together on the same
# seed (so the steps between options are not drowned by noise).

# %%
SWEEP = {"Inbound-heavy": [2, 3, 4, 5], "Outbound-heavy": [3, 4, 5, 6]}
SWEEP_REPLICATIONS = 4

sweep = {}
one_fewer = {}  # SQLs with one SDR fewer than planned, paired replication by replication
for name, headcounts in SWEEP.items():
    variants = [f"{h} SDRs: teams.sdr.headcount={h}" for h in headcounts]
    _, *options = load_scenarios([PLANS[name]], SHORT, variants)  # the file itself is not run
    result = run(options, SWEEP_REPLICATIONS, SEED, executor=WORKERS)
    sweep[name] = dict(zip(headcounts, result.summaries().values(), strict=True))
    own = plans[name].teams.sdr.headcount
    by_count = dict(zip(headcounts, result.per_scenario, strict=True))
    one_fewer[name] = paired_difference(
        by_count[own - 1].values("sqls"), by_count[own].values("sqls")
    )

# %% [markdown]
# Both sweeps on one chart, on the same scale: each line is a plan's mean SQLs over the
# replications, the band its 95% confidence interval. The plans' own teams (3 and 4 SDRs)
# sit inside each sweep. A steeper line is a plan that leans harder on its SDRs.

# %%
fig = Figure(figsize=charts.FIGSIZE, layout="constrained")
ax = fig.add_subplot()
for name, by_headcount in sweep.items():
    charts.plot_metric_vs(
        list(by_headcount),
        [s["sqls"] for s in by_headcount.values()],
        xlabel="SDR headcount (reps)",
        ylabel="SQLs in 26 weeks (leads)",
        ax=ax,
        label=name,
    )
display(fig)

# %% [markdown]
# The numbers behind the chart: SQLs at each headcount and the relative change from one SDR
# fewer. Per plan, two figures sum the sweep up:
#
# - **per added SDR**: the mean of those relative changes across the sweep;
# - **elasticity at the plan's own team**: the share of SQLs lost with one SDR fewer than
#   planned, per share of the team lost (one SDR is a third of a team of 3 but a quarter of a
#   team of 4, so this is the fairer comparison of two teams of different sizes).

# %%
rows = []
per_sdr = {}
elasticity = {}
for name, by_headcount in sweep.items():
    heads = list(by_headcount)
    sqls = {h: by_headcount[h]["sqls"].mean for h in heads}
    changes = {h: sqls[h] / sqls[h - 1] - 1 for h in heads[1:]}
    per_sdr[name] = sum(changes.values()) / len(changes)
    own = plans[name].teams.sdr.headcount
    elasticity[name] = (sqls[own] - sqls[own - 1]) / sqls[own] * own
    print(
        f"{name:15s} SQLs per added SDR: {per_sdr[name]:+.1%} on average over "
        f"{heads[0]}..{heads[-1]} SDRs; elasticity at its own {own} SDRs: "
        f"{elasticity[name]:.2f}"
    )
    rows += [
        {
            "plan": name,
            "SDRs": h,
            "SQLs (leads)": cell(by_headcount[h]["sqls"], "leads"),
            "change from one SDR fewer": f"{changes[h]:+.1%}" if h in changes else "",
            "SDR utilisation": f"{by_headcount[h]['sdr_utilization'].mean:.0%}",
        }
        for h in heads
    ]
pd.DataFrame(rows).set_index(["plan", "SDRs"])

# %% [markdown]
# ## The checks
#
# Two directions the model's mechanisms imply (neither is written into the scenarios as a
# number):
#
# 1. **Every outbound attempt costs rep time:** in both plans an outbound SQL takes more SDR
#    hours than an inbound one. Paired by replication, the 95% interval of the difference must
#    lie above zero.
# 2. **Reps are a limited resource:** in both plans, one SDR fewer than planned loses SQLs (the
#    mean of the paired differences is below zero; its interval is printed).
#
# The numbers are printed before the assertions, so a failure in CI shows them.

# %%
hours_gap = {
    plan.scenario.name: summarise(
        [
            out - inb
            for out, inb in zip(
                plan.values("sdr_hours_per_sql_outbound"),
                plan.values("sdr_hours_per_sql_inbound"),
                strict=True,
            )
        ]
    )
    for plan in comparison.per_scenario
}
for name, gap in hours_gap.items():
    print(
        f"{name:15s} SDR hours per SQL, outbound - inbound: {gap.mean:.1f} "
        f"[{gap.ci_low:.1f}, {gap.ci_high:.1f}] (95% CI, n={gap.n})"
    )
for name, lost in one_fewer.items():
    print(
        f"{name:15s} SQLs, one SDR fewer than planned - as planned: {lost.mean:+.1f} "
        f"[{lost.ci_low:+.1f}, {lost.ci_high:+.1f}] (paired 95% CI, n={lost.n})"
    )
print(
    f"elasticity at the plan's own team: inbound-heavy {elasticity['Inbound-heavy']:.2f}, "
    f"outbound-heavy {elasticity['Outbound-heavy']:.2f}"
)

for name, gap in hours_gap.items():
    assert gap.ci_low > 0, f"{name}: outbound SQLs not clearly dearer in SDR time"
for name, lost in one_fewer.items():
    assert lost.mean < 0, f"{name}: one SDR fewer did not lose SQLs"
