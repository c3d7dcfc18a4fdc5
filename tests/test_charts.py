"""Charts (``funnelsim.charts``): what is drawn is what was given, in the order given."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from matplotlib import cbook
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from funnelsim import analysis, breakdown, charts, experiment, results
from funnelsim.analysis import Summary
from funnelsim.formatting import cell
from funnelsim.results import Results
from funnelsim.scenario.schema import Scenario
from helpers import bundled, scenario


def test_relative_differences_are_drawn_as_given() -> None:
    diffs = {"sqls": Summary(50, 40, 60, 5), "cac": Summary(-10, -30, 10, 5)}
    fig = charts.plot_relative_differences(
        diffs, {"sqls": 100.0, "cac": 200.0, "roi": 0.0}, title="B against A"
    )
    ax = fig.axes[0]
    drawn = [(list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()]
    print(drawn)
    assert ([0.4, 0.6], [1, 1]) in drawn  # sqls: interval / baseline, top row
    assert ([-0.15, 0.05], [0, 0]) in drawn  # cac: interval / baseline
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "sqls",
        "cac",
    ]  # top to bottom, as given
    with pytest.raises(ValueError, match="non-zero baseline"):
        charts.plot_relative_differences(diffs, {"sqls": 0.0}, title="t")


def test_options_keep_their_order_and_intervals() -> None:
    summaries = [Summary(3, 2, 4, 5), Summary(5, 4.5, 5.5, 5)]
    fig = charts.plot_options(["a", "b"], summaries, ylabel="roi (ratio)", title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert list(ax.get_lines()[0].get_ydata()) == [3, 5]
    with pytest.raises(ValueError, match="labels"):
        charts.plot_options(["a"], summaries, ylabel="y", title="t")


# -- the budget review's charts, from a small real run -------------------------------------------
HOSTILE = "Plan $x$ <script>alert(1)</script> **b**|c\nd"  # as a person may name a plan
SHOWN = "Plan $x$ <script>alert(1)</script> **b**|c d"  # what the chart must show


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """Two plans, 3 replications of 15 weeks (a quarter and 2 weeks) into a results folder;
    the first named as a person might, with mathtext, markup and a newline in its name."""
    out = tmp_path_factory.mktemp("review") / "run"
    experiment.run(review_plans(), 3, seed=5, out=out, command="compare")
    return results.load(out)


def review_plans() -> list[Scenario]:
    inbound = bundled("inbound-heavy.yaml")
    inbound["name"] = HOSTILE
    return [
        scenario(inbound, "horizon=15w", "warmup=4w"),
        scenario(bundled("outbound-heavy.yaml"), "horizon=15w", "warmup=4w"),
    ]


def shown(text: str) -> str:
    """What matplotlib draws of a text: it must not be mathtext, and ``\\$`` is a dollar."""
    assert not cbook.is_math_text(text), text
    return text.replace("\\$", "$")


def summaries(table: pd.DataFrame, key: str) -> dict[str, dict[str, Summary]]:
    """summary.csv's or breakdown.csv's rows as Summaries, by scenario (or group) and metric."""
    out: dict[str, dict[str, Summary]] = {}
    for row in table.to_dict("records"):
        s = Summary(row["mean"], row["ci_low"], row["ci_high"], row["n"])
        out.setdefault(row[key], {})[row["metric"]] = s
    return out


def rectangles(ax: Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def sla_lines(ax: Axes) -> list[Line2D]:
    """The lines drawn across the axes (not the error bars' caps)."""
    return [line for line in ax.get_lines() if line.get_linestyle() != "None"]


def legend_texts(fig: Figure) -> list[str]:
    return [shown(t.get_text()) for legend in fig.legends for t in legend.get_texts()]


def test_the_funnel_stacks_each_split_stage_with_its_interval_and_conversion(
    review: Results,
) -> None:
    plans = summaries(review.summary, "scenario")
    fig = charts.plot_funnel(plans)
    fig.savefig(io.BytesIO(), format="png")  # it draws
    assert len(fig.axes) == 2
    assert [shown(ax.get_title(loc="left")) for ax in fig.axes] == [SHOWN, "Outbound-heavy"]
    stages = ["leads", "MQLs", "SQLs", "opportunities", "deals won"]
    for ax, (name, metrics) in zip(fig.axes, plans.items(), strict=True):
        assert [t.get_text() for t in ax.get_yticklabels()] == stages  # top to bottom
        bars = rectangles(ax)
        # leads, SQLs and deals split in two; MQLs (inbound) and opportunities whole
        assert len(bars) == 8
        leads_in, leads_out = bars[0], bars[1]
        assert leads_in.get_width() == pytest.approx(metrics["leads_inbound"].mean)
        assert leads_out.get_x() == pytest.approx(metrics["leads_inbound"].mean)
        assert leads_in.get_width() + leads_out.get_width() == pytest.approx(metrics["leads"].mean)
        assert len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 5
        texts = [t.get_text() for t in ax.texts]
        print(name, texts)
        assert len(texts) == 5
        assert texts[0] == cell(metrics["leads"])
        rate = metrics["mqls"].mean / metrics["leads_inbound"].mean
        assert f"{rate * 100:.0f}% of inbound leads" in texts[1]
        assert "of MQLs (inbound)" in texts[2]
        assert "of outbound leads" in texts[2]
        assert texts[4].endswith("of opportunities")
    assert fig.axes[-1].get_xlabel().startswith("volume in the measured period")
    assert legend_texts(fig) == ["inbound", "outbound", "not split", "95% CI of the total"]


def test_the_wait_bands_show_each_plans_shares_and_its_sla(review: Results) -> None:
    shares = analysis.wait_shares(review.table("by_wait"))
    assert list(shares) == [HOSTILE, "Outbound-heavy"]
    for bands in shares.values():
        assert [band for band, _ in bands] == list(breakdown.WAIT_LABELS)
        assert sum(s.mean for _, s in bands) == pytest.approx(1.0)  # every first touch, once
        assert all(s.n == 3 for _, s in bands)
    hours, said = breakdown.first_touch_sla(review_plans()[0])  # both plans': 4bh
    assert (hours, said) == (4.0, "4 business hours")
    fig = charts.plot_wait_distribution(
        shares, dict.fromkeys(shares, hours), sla_labels=dict.fromkeys(shares, said)
    )
    fig.savefig(io.BytesIO(), format="png")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(breakdown.WAIT_LABELS)
    assert len(rectangles(ax)) == 2 * len(breakdown.WAIT_LABELS)
    assert [r.get_height() for r in rectangles(ax)[:8]] == [s.mean for _, s in shares[HOSTILE]]
    assert len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 2
    (line,) = sla_lines(ax)  # one SLA, shared by both plans: one line, at 4 hours
    assert list(line.get_xdata()) == [2.5, 2.5]  # the edge of the 1h-4h and 4h-8h bands
    assert legend_texts(fig) == [SHOWN, "Outbound-heavy", "first-touch SLA: 4 business hours"]
    assert "wait from handoff to first touch" in ax.get_xlabel()
    assert "share of first-touched leads" in ax.get_ylabel()
    # different SLAs: a line each, naming its plan
    fig = charts.plot_wait_distribution(shares, {HOSTILE: 0.5, "Outbound-heavy": 24.0})
    ax = fig.axes[0]
    assert [line.get_xdata()[0] for line in sla_lines(ax)] == [
        pytest.approx(1 - 0.5 + (0.5 - 0.25) / 0.75),
        pytest.approx(4.5),
    ]
    assert legend_texts(fig)[2:] == [
        f"first-touch SLA: 0.5h ({SHOWN})",
        "first-touch SLA: 24h (Outbound-heavy)",
    ]


def test_rep_time_is_a_full_bar_per_team_with_utilisations_interval(review: Results) -> None:
    table = pd.read_csv(review.folder / "breakdown.csv")
    teams = {
        name: summaries(rows, "group")
        for name, rows in table[table["by"] == "team"].groupby("scenario", sort=False)
    }
    fig = charts.plot_rep_time(teams)
    fig.savefig(io.BytesIO(), format="png")
    assert len(fig.axes) == 2
    assert [shown(ax.get_title(loc="left")) for ax in fig.axes] == [SHOWN, "Outbound-heavy"]
    for ax, by_team in zip(fig.axes, teams.values(), strict=True):
        assert [t.get_text() for t in ax.get_yticklabels()] == ["SDRs", "AEs"]
        bars = rectangles(ax)
        assert len(bars) == 2 * 5  # five shares per team
        for team, row in (("sdr", bars[:5]), ("ae", bars[5:])):
            assert row[-1].get_x() + row[-1].get_width() == pytest.approx(1.0)
            idle = by_team[team]["time_idle"].mean
            assert row[-1].get_width() == pytest.approx(idle)
        assert len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 2
        assert all(t.get_text().endswith("%") for t in ax.texts)
    assert "share of the team's available working hours" in fig.axes[-1].get_xlabel()
    assert legend_texts(fig) == [
        "inbound follow-up", "qualification", "outbound prospecting", "AE opportunity stages",
        "idle", "utilisation, 95% CI",
    ]  # fmt: skip


def test_new_arr_by_quarter_sums_weeks_and_marks_the_partial_quarter(review: Results) -> None:
    weekly = review.weekly
    fig = charts.plot_arr_by_quarter(weekly)
    fig.savefig(io.BytesIO(), format="png")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "Q1\nweeks 1-13",
        "Q2 (partial)\nweeks 14-15",
    ]
    bars = rectangles(ax)
    assert len(bars) == 2 * 2  # two plans, two quarters
    first = weekly[(weekly["scenario"] == HOSTILE) & (weekly["week"] <= 13)]
    assert bars[0].get_height() == pytest.approx(
        first.groupby("replication")["new_arr"].sum().mean()
    )
    assert [bar.get_hatch() for bar in bars] == [None, "//", None, "//"]
    assert len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 2
    assert legend_texts(fig) == [SHOWN, "Outbound-heavy"]
    assert ax.get_ylabel() == "new ARR booked in the quarter"
    assert "95% CI over 3 replications" in ax.get_title()
    formatter = ax.yaxis.get_major_formatter()
    assert [shown(formatter(x)) for x in (1.25e6, 850e3, 0.0, -2e5)] == [
        "$1.25M", "$850k", "$0", "-$200k",
    ]  # fmt: skip
    assert shown(charts.money_text(3e9, "€")) == "€3B"


def test_the_review_charts_refuse_nothing_to_plot() -> None:
    with pytest.raises(ValueError, match="no plans"):
        charts.plot_funnel({})
    with pytest.raises(ValueError, match="time shares"):
        charts.plot_rep_time({"a": {"sdr": {"utilization": Summary(0.5, 0.4, 0.6, 3)}}})
    with pytest.raises(ValueError, match="wait bands"):
        charts.plot_wait_distribution({"a": [("0-1h", Summary(1, 1, 1, 3))]}, {})
    with pytest.raises(ValueError, match="no weekly"):
        charts.plot_arr_by_quarter(pd.DataFrame())
