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
# A budget review: we have about **$86k a month** for channel spend, outbound programs and
# SDRs. Spend it on search and content and keep a small SDR team to follow up the leads that
# come in, or spend it on a large target list and the SDRs to work it?
#
# funnelsim ships both plans at the same budget:
#
# - `scenarios/inbound-heavy.yaml`: $62.5k/month of channel spend, a 100-contact list, 3 SDRs;
# - `scenarios/outbound-heavy.yaml`: $21.6k/month of channel spend, a 1,000-contact list,
#   8 SDRs.
#
# Everything else (segments, scoring, handoff SLA, AEs) is the same. We compare the two plans
# on common random numbers, then ask how much each depends on its SDR headcount. The last
# cell fails if the directions the domain expects stop coming out of the model.
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
from funnelsim.analysis import excludes_zero, summarise
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
    "revenue",
    "cost_per_lead_inbound",
    "cost_per_lead_outbound",
    "total_cost",
    "cost_per_sql",
    "cac",
    "roi",
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
HIGHER_IS_BETTER = {"cost_per_sql": False, "cac": False, "roi": True}
for metric, higher_is_better in HIGHER_IS_BETTER.items():
    d = difference[metric]
    verdict = "better" if (d.mean > 0) == higher_is_better else "worse"
    sure = "clearly" if excludes_zero(d) else "not clearly"
    print(f"{metric:13s} outbound-heavy {sure} {verdict} than inbound-heavy (paired 95% CI)")
display(table)

# %% [markdown]
# Read the table with the budget in mind: both plans cost about the same to run (total cost
# above), so the money lines (cost per SQL, CAC, ROI) carry the answer. Per lead, outbound is
# the dearer channel in both plans: an outbound lead (a contact reached in a conversation)
# carries the SDRs' prospecting time in its price, an inbound lead only channel spend and
# marketing people. Whether the dearer leads pay off shows further down the funnel, in cost
# per SQL and CAC.

# %% [markdown]
# ## How much does each plan depend on its SDRs?
#
# Inbound leads wait for an SDR: with too few, they queue, their odds decay with every hour,
# and some go cold untouched. Outbound work waits too, but a contact on a list does not decay
# while it waits. So the inbound-heavy plan should gain (or lose) more SQLs with each SDR
# added (or removed).
#
# We sweep `teams.sdr.headcount` around each plan's own team, with fewer replications than
# above. Each option is a **variant** of the plan's file, written as `funnelsim compare
# inbound-heavy.yaml --variant "4 SDRs: teams.sdr.headcount=4"` would take it: the file with
# that one value changed, named by its label. All options of a plan run together on the same
# seed (so the steps between options are not drowned by noise).

# %%
SWEEP = {"Inbound-heavy": [2, 3, 4, 5], "Outbound-heavy": [6, 7, 8, 9]}
SWEEP_REPLICATIONS = 4

sweep = {}
for name, headcounts in SWEEP.items():
    variants = [f"{h} SDRs: teams.sdr.headcount={h}" for h in headcounts]
    _, *options = load_scenarios([PLANS[name]], SHORT, variants)  # the file itself is not run
    result = run(options, SWEEP_REPLICATIONS, SEED, executor=WORKERS)
    sweep[name] = dict(zip(headcounts, result.summaries().values(), strict=True))

# %% [markdown]
# Both sweeps on one chart, on the same scale: each line is a plan's mean SQLs over the
# replications, the band its 95% confidence interval. The plans' own teams (3 and 8 SDRs)
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
#   planned, per share of the team lost (one SDR is a third of a team of 3 but an eighth of a
#   team of 8, so this is the fairer comparison of two teams of different sizes).

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
# Two directions the domain expects and the model has to produce from its mechanisms (neither
# is written into the scenarios as a number):
#
# 1. **Outbound costs more per lead than inbound, in both plans.** Within each plan, the
#    difference outbound minus inbound cost per lead is paired by replication; its 95%
#    interval must lie above zero.
# 2. **Inbound-heavy is more sensitive to SDR capacity:** its relative SQL change per added
#    SDR, and its elasticity at its own team, must be larger than outbound-heavy's.
#
# The numbers are printed before the assertions, so a failure in CI shows them.

# %%
cost_gap = {
    plan.scenario.name: summarise(
        [
            out - inb
            for out, inb in zip(
                plan.values("cost_per_lead_outbound"),
                plan.values("cost_per_lead_inbound"),
                strict=True,
            )
        ]
    )
    for plan in comparison.per_scenario
}
for name, gap in cost_gap.items():
    print(
        f"{name:15s} cost per lead, outbound - inbound: {gap.mean:,.0f} "
        f"[{gap.ci_low:,.0f}, {gap.ci_high:,.0f}] (95% CI, n={gap.n})"
    )
print(
    f"SQLs per added SDR: inbound-heavy {per_sdr['Inbound-heavy']:+.1%}, "
    f"outbound-heavy {per_sdr['Outbound-heavy']:+.1%}"
)
print(
    f"elasticity at the plan's own team: inbound-heavy {elasticity['Inbound-heavy']:.2f}, "
    f"outbound-heavy {elasticity['Outbound-heavy']:.2f}"
)

for name, gap in cost_gap.items():
    assert gap.ci_low > 0, f"{name}: outbound not clearly dearer per lead than inbound"
assert per_sdr["Inbound-heavy"] > per_sdr["Outbound-heavy"], (
    "inbound-heavy should gain more SQLs per added SDR than outbound-heavy"
)
assert elasticity["Inbound-heavy"] > elasticity["Outbound-heavy"], (
    "inbound-heavy's SQLs should be more elastic to its SDR team than outbound-heavy's"
)
