"""``import funnelsim as fs``: the Python API says what the command line says, gives the same
numbers as the library beneath it, shows safely in Jupyter, and keeps the package light."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest

import funnelsim as fs
from funnelsim import api, experiment
from helpers import ROOT, invoke

ERLANG = "scenarios/validation/erlang-c.yaml"
TINY = {"horizon": "2d", "warmup": "1d"}


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples name files from the repository root


def test_the_docstring_examples_run() -> None:
    found = doctest.testmod(api, optionflags=doctest.ELLIPSIS, report=False)
    assert found.attempted >= 20, found
    assert found.failed == 0, f"{found.failed} doctest(s) of funnelsim.api failed (see above)"


def test_a_misspelled_change_gives_the_cli_message() -> None:
    with pytest.raises(fs.ScenarioError) as raised:
        fs.load(ERLANG, changes={"teams.sdr.hedcount": 8})
    cli = invoke("validate", ERLANG, "--set", "teams.sdr.hedcount=8")
    assert cli.exit_code == 2
    assert raised.value.lines() == cli.stderr.strip().splitlines()
    assert "did you mean 'headcount'" in raised.value.lines()[0]


def test_a_dict_and_typed_values_load() -> None:
    plan = fs.load(ERLANG, changes={"name": "yes", "teams.sdr.headcount": 12})
    assert plan.name == "yes"  # a string stays one (YAML would read "yes" as true)
    again = fs.load(plan.model_dump(mode="json", exclude_none=True))
    assert again.teams.sdr.headcount == 12


def test_summary_has_a_row_per_scenario_and_metric() -> None:
    plans = [
        fs.load(ERLANG, changes=TINY),
        fs.load(ERLANG, changes={**TINY, "name": "12 SDRs", "teams.sdr.headcount": 12}),
    ]
    found = fs.run(plans, replications=2, seed=3, progress=False)
    table = found.summary()
    assert list(table.columns) == ["scenario", "metric", "unit", "mean", "ci_low", "ci_high", "n"]
    metrics = list(found.run.per_scenario[0].summary())
    assert len(table) == 2 * len(metrics)
    assert not table.duplicated(["scenario", "metric"]).any()
    assert list(table["scenario"].unique()) == ["Erlang C check", "12 SDRs"]
    assert list(found.replications["replication"]) == [0, 1, 0, 1]


def test_summary_agrees_with_the_library() -> None:
    plan = fs.load(ERLANG, changes=TINY)
    ours = fs.run(plan, replications=2, seed=5, progress=False).summary().set_index("metric")
    theirs = experiment.run([plan], 2, 5).summaries()["Erlang C check"]
    for metric, s in theirs.items():
        row = ours.loc[metric]
        assert [row["mean"], row["ci_low"], row["ci_high"], row["n"]] == pytest.approx(
            [s.mean, s.ci_low, s.ci_high, s.n], nan_ok=True
        ), metric


@pytest.mark.slow
def test_two_workers_give_the_numbers_of_one() -> None:
    plan = fs.load(ERLANG, changes=TINY)
    one = fs.run(plan, replications=4, seed=9, workers=1, progress=False)
    two = fs.run(plan, replications=4, seed=9, workers=2, progress=False)
    assert one.replications.equals(two.replications)
    assert one.summary().equals(two.summary())


def test_a_results_folder_gives_its_tables(tmp_path: pytest.TempPathFactory) -> None:
    plan = fs.load(ERLANG, changes=TINY)
    found = fs.run(plan, replications=2, seed=1, out=tmp_path / "run", progress=True)
    stored = fs.results.load(tmp_path / "run")
    assert found.replications.equals(stored.replications)
    assert len(found.weekly) > 0
    assert found.plot_weekly("sqls").axes
    assert found.plot_metric("sla_first_touch_attainment").axes
    in_memory = fs.run(plan, replications=2, seed=1, progress=False)
    with pytest.raises(fs.api.UsageError, match="out=FOLDER"):
        _ = in_memory.weekly


def test_html_escapes_a_scenario_name() -> None:
    evil = "<script>alert(1)</script>"
    plans = [
        fs.load(ERLANG, changes=TINY),
        fs.load(ERLANG, changes={**TINY, "name": evil, "teams.sdr.headcount": 12}),
    ]
    found = fs.compare(*plans, replications=2, seed=1, progress=False)
    shown = found._repr_html_()
    assert "<script>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert shown.count("<tr>") == len(found.summary_table().rows) + 1
    assert " ± " in shown
    assert repr(found) == f"<Comparison: 'Erlang C check', {evil!r}, 2 replications, seed 1>"
    assert set(found.differences()["scenario"]) == {evil}
    assert found.plot_differences().axes
    assert "<script>" not in fs.run(plans[1], replications=2, progress=False)._repr_html_()


def test_workers_and_an_executor_spec_are_not_given_together() -> None:
    with pytest.raises(fs.api.UsageError, match="ExecutorSpec"):
        fs.run(fs.load(ERLANG, changes=TINY), 2, workers=2, executor=fs.ExecutorSpec(2))


def test_the_api_names_are_the_functions_with_every_module_imported() -> None:
    import funnelsim.backtesting
    import funnelsim.optimizer  # noqa: F401  (imported, the package's name stays the function)

    assert fs.optimize is api.optimize
    assert fs.backtest is api.backtest
    assert sys.modules["funnelsim.optimizer"].__name__ == "funnelsim.optimizer"
    assert set(fs.__all__) <= set(dir(fs))
    assert fs.__all__ == api.__all__  # the package lists the API's names without importing it


def test_importing_funnelsim_stays_light() -> None:
    code = (
        "import sys, funnelsim\n"
        "print(*sorted(m for m in ('numpy', 'pandas', 'pydantic', 'funnelsim.api')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], f"import funnelsim imported {done.stdout.split()}"
