"""Charts (``funnelsim.charts``): what is drawn is what was given, in the order given."""

from __future__ import annotations

import pytest

from funnelsim import charts
from funnelsim.analysis import Summary


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
