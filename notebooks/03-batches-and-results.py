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
# # Runs, stored results and SQL
#
# An analyst's loop: run some scenarios into a **results folder**, come back to it later (or
# after the machine was restarted halfway), and ask it questions with pandas or SQL.
#
# This notebook runs the inbound-heavy and outbound-heavy plans on common random numbers into
# a temporary folder, with replications added until the paired difference in SQLs is known to
# within ±12, then reads the folder back, charts the weekly SQLs of both plans with their 95%
# bands, queries it with DuckDB SQL, and shows that an interrupted run resumes to exactly the
# numbers of an uninterrupted one. Everything goes through `funnelsim.experiment.run`, the
# one path the command line takes too. `funnelsim compare ... --out DIR`, `funnelsim query DIR
# "SQL"` and `--resume` do the same from the command line.

# %%
# %matplotlib inline
import tempfile
from pathlib import Path

import numpy as np
from IPython.display import display
from matplotlib.figure import Figure

from funnelsim import charts, results
from funnelsim.analysis import summarise
from funnelsim.experiment import ExecutorSpec, Precision, run
from funnelsim.scenario.load import load_scenario

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "pyproject.toml").is_file())
PLANS = [ROOT / "scenarios" / "inbound-heavy.yaml", ROOT / "scenarios" / "outbound-heavy.yaml"]
SHORT = ["horizon=26w"]  # half a year measured, after the 12-week warm-up, to keep this quick
SEED = 2027
WORKERS = ExecutorSpec(workers=2)  # two worker processes; the numbers are the same on one
OUT = Path(tempfile.mkdtemp(prefix="funnelsim-")) / "inbound-vs-outbound"

# %% [markdown]
# ## Run until the answer is precise enough
#
# Start with 4 replications a plan; `Precision` adds rounds (sized by the 1/√n law) until the
# paired difference in SQLs has a 95% half-width of at most 30, or 40 replications. Every
# chunk of replications is written to `OUT` as soon as it finishes.

# %%
plans = [load_scenario(path, SHORT) for path in PLANS]
target = Precision("sqls", half_width=30, cap=40)
done = run(plans, 4, SEED, precision=target, out=OUT, command="compare", executor=WORKERS)
print(f"{done.replications} replications a plan: SQL difference ± {done.half_width:.1f}")
assert done.precision_met, "the cap was reached first"

# %% [markdown]
# ## The folder, read back
#
# `results.load` gives pandas DataFrames: one row per replication with every metric, the
# weekly series, and the summary and paired differences the CLI prints.

# %%
stored = results.load(OUT)
print(f"{OUT}: {stored.manifest['command']}, seed {stored.manifest['seed']}, "
      f"funnelsim {stored.manifest['funnelsim_version']}")  # fmt: skip
display(stored.differences.query("metric in ['sqls', 'deals_won', 'new_arr', 'cac_ratio']")
        [["scenario", "metric", "unit", "mean", "ci_low", "ci_high", "excludes_zero"]])  # fmt: skip

# %% [markdown]
# ## Weekly SQLs, with 95% bands across replications
#
# Each point is the mean over replications of that week's SQLs, with its confidence band.

# %%
figure = Figure(figsize=charts.FIGSIZE, layout="constrained")
ax = figure.add_subplot()
for name, weeks in stored.weekly.groupby("scenario", sort=False):
    by_week = weeks.groupby("week")["sqls"]
    summaries = [summarise(values) for _, values in by_week]
    charts.plot_metric_vs(
        list(by_week.groups), summaries, xlabel="week of the measured half-year",
        ylabel="SQLs per week", ax=ax, label=str(name),
    )  # fmt: skip
ax.set_title("SQLs created per week, mean and 95% CI")
display(figure)

# %% [markdown]
# ## SQL over the folder
#
# `results.query` (and `funnelsim query` on the command line) runs DuckDB SQL over the
# folder's tables: here, what each plan pays per SQL, replication by replication.

# %%
answer = results.query(
    [OUT],
    """
    SELECT scenario,
           count(*)                              AS replications,
           round(avg(total_cost / sqls))         AS cost_per_sql,
           round(stddev_samp(total_cost / sqls)) AS sd
    FROM replications
    GROUP BY scenario
    ORDER BY cost_per_sql
    """,
)
display(answer)
assert answer["replications"].tolist() == [done.replications] * 2

# %% [markdown]
# ## An interrupted run resumes to the same numbers
#
# Losing a chunk (a machine stopped mid-run) costs only that chunk: here we delete one and
# resume. Only the missing replications run again, and every number is what it was.

# %%
before = stored.replications
lost = sorted((OUT / "replications").glob("*/*.parquet"))[-1]
lost.unlink()
print(f"deleted {lost.relative_to(OUT)}")
resumed = run(plans, out=OUT, resume=True, command="compare", executor=WORKERS)
print(f"kept {resumed.kept} finished replications, ran the rest")
after = results.load(OUT).replications
assert after.equals(before), "a resumed run must match the uninterrupted one"
print("the resumed folder matches the uninterrupted run, value for value")
assert np.all(after.groupby("scenario").size() == done.replications)
