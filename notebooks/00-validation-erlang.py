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
# # Does funnelsim reproduce queueing theory?
#
# Before we trust funnelsim with a headcount ask, we check it on a case where the answer is
# known exactly. Strip the funnel down to a textbook queue: leads arrive at random (Poisson)
# at a steady rate, every SDR works around the clock, and each first touch takes an
# exponentially distributed time. That is the M/M/c queue, and the **Erlang C** formula gives
# its SLA attainment and mean wait for any number of reps.
#
# We sweep the SDR team from 10 to 14 reps, simulate each option several times, and compare
# the simulated figures, with their confidence intervals, to Erlang C. The last cell fails
# if any theory value falls outside the simulation's 99.9% confidence interval, so this
# notebook breaks in CI the day the model drifts from theory.

# %%
# %matplotlib inline
from pathlib import Path

import pandas as pd

from funnelsim import charts
from funnelsim.experiment import run_replications
from funnelsim.scenario.load import load_scenario
from funnelsim.theory import ErlangC

# The repository root holds pyproject.toml; the notebook may run from anywhere below it.
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "pyproject.toml").is_file())
SCENARIO = ROOT / "scenarios" / "validation" / "erlang-c.yaml"

HEADCOUNTS = list(range(10, 15))  # SDRs on the team
REPLICATIONS = 12  # independent runs per option
HORIZON = "90d"  # measured period of each run, after the scenario's warm-up

# %% [markdown]
# ## The textbook case
#
# The bundled scenario `scenarios/validation/erlang-c.yaml` describes the queue. Its inputs
# are all Erlang C needs: the arrival rate, the mean work time of a first touch, and the SLA.

# %%
base = load_scenario(SCENARIO)
arrivals_per_h = base.sources["web"].arrivals.rate.per_hour
touches_per_rep_h = 1 / base.teams.sdr.first_touch_time.mean_hours
sla_h = base.handoff.first_touch_sla.hours

print(f"scenario:        {base.name}")
print(f"arrivals:        {arrivals_per_h:g} leads/h")
print(f"first touch:     {60 / touches_per_rep_h:g} min on average")
print(f"SLA:             first touch within {sla_h * 60:g} min")
print(f"offered load:    {arrivals_per_h / touches_per_rep_h:g} reps busy on average")

# %% [markdown]
# ## Sweep the headcount
#
# Each option is the same scenario with `teams.sdr.headcount` set, exactly as
# `funnelsim run --set teams.sdr.headcount=12 --set horizon=90d` would do.

# %%
runs = {
    c: run_replications(
        load_scenario(SCENARIO, [f"teams.sdr.headcount={c}", f"horizon={HORIZON}"]),
        REPLICATIONS,
    )
    for c in HEADCOUNTS
}
theory = {c: ErlangC(arrivals_per_h, touches_per_rep_h, c) for c in HEADCOUNTS}
summaries = {c: replications.summary() for c, replications in runs.items()}

# %% [markdown]
# ## SLA attainment
#
# The share of leads first touched within the SLA. The line is the simulated mean over the
# replications, the band its 95% confidence interval, the dashed line Erlang C.

# %%
charts.plot_metric_vs(
    HEADCOUNTS,
    [summaries[c]["sla_first_touch_attainment"] for c in HEADCOUNTS],
    theory=[theory[c].prob_wait_within(sla_h) for c in HEADCOUNTS],
    xlabel="SDR headcount (reps)",
    ylabel=f"Leads first touched within {sla_h * 60:g} min (%)",
    percent=True,
)

# %% [markdown]
# ## Mean wait to first touch
#
# How long a lead waits for its first touch, on average. Near full utilisation (10 reps for
# 9 reps of offered load) the wait is long and varies a lot between runs: the band is wide.

# %%
charts.plot_metric_vs(
    HEADCOUNTS,
    [summaries[c]["first_touch_wait_mean_h"] for c in HEADCOUNTS],
    theory=[theory[c].mean_wait for c in HEADCOUNTS],
    xlabel="SDR headcount (reps)",
    ylabel="Mean wait to first touch (hours)",
)

# %% [markdown]
# ## The check
#
# For every headcount and both metrics, Erlang C must lie inside the simulation's 99.9%
# confidence interval. Ten checks at 99.9% each: a correct model fails here for about one
# seed in a hundred, a model that drifted from theory fails reliably. The table is printed
# first so that a failure shows the numbers.

# %%
CHECKS = {
    "SLA attainment": ("sla_first_touch_attainment", lambda c: theory[c].prob_wait_within(sla_h)),
    "mean wait (h)": ("first_touch_wait_mean_h", lambda c: theory[c].mean_wait),
}

rows = []
for what, (metric, expected) in CHECKS.items():
    for c in HEADCOUNTS:
        s = runs[c].summary(level=0.999)[metric]
        value = expected(c)
        rows.append(
            {
                "metric": what,
                "SDRs": c,
                "Erlang C": value,
                "simulated": s.mean,
                "99.9% CI low": s.ci_low,
                "99.9% CI high": s.ci_high,
                "inside": s.ci_low <= value <= s.ci_high,
            }
        )
table = pd.DataFrame(rows)
print(table.to_string(index=False, float_format="{:.4f}".format))

misses = table[~table["inside"]]
assert misses.empty, f"Erlang C outside the 99.9% CI:\n{misses.to_string(index=False)}"
