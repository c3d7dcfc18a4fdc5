"""Analysis (``funnelsim.analysis``): intervals and paired differences, and the tables a run is
read from, as plain data: which rows, which cells, which marks."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from funnelsim.analysis import (
    Cell,
    Row,
    Summary,
    comparison_table,
    excludes_zero,
    metrics_table,
    paired_difference,
    study_table,
    summarise,
    unpaired_difference,
)
from funnelsim.metrics import METRICS

NAN = math.nan
UNDEFINED = Summary(NAN, NAN, NAN, 0)


# -- intervals ---------------------------------------------------------------------------------
def test_a_summary_is_the_mean_and_its_student_t_interval() -> None:
    s = summarise([1.0, 2.0, 3.0, 6.0], level=0.95)
    half = 3.182446305284263 * math.sqrt(14 / 3) / 2  # t(0.975, 3) x sd / sqrt(4)
    assert (s.mean, s.n) == (3.0, 4)
    assert s.half_width == pytest.approx(half)
    assert (s.ci_low, s.ci_high) == pytest.approx((3.0 - half, 3.0 + half))
    one = summarise([5.0])
    assert (one.mean, one.n) == (5.0, 1)
    assert math.isnan(one.ci_low)  # one value: no interval
    assert math.isnan(one.ci_high)
    # a replication where the metric is undefined (nan) is left out, not counted as a value
    assert summarise([1.0, NAN, 3.0]) == summarise([1.0, 3.0])


def test_paired_difference_by_hand() -> None:
    diff = paired_difference([11.0, 12.0, 14.0], [10.0, 10.0, 11.0])  # differences 1, 2, 3
    assert diff.mean == pytest.approx(2.0)
    half = 4.302652729749464 * 1.0 / math.sqrt(3)  # t(0.975, 2) x sd 1 / sqrt(3)
    assert diff.half_width == pytest.approx(half)


def test_unpaired_difference_by_hand() -> None:
    """Welch: the difference of the means, with the interval of two independent samples."""
    diff = unpaired_difference([11.0, 12.0, 14.0], [10.0, 10.0, 11.0])
    assert diff.mean == pytest.approx(2.0)
    se = math.sqrt(7 / 3 / 3 + 1 / 3 / 3)  # variances 7/3 and 1/3, three values each
    df = (7 / 9 + 1 / 9) ** 2 / ((7 / 9) ** 2 / 2 + (1 / 9) ** 2 / 2)
    assert diff.half_width == pytest.approx(float(stats.t.ppf(0.975, df)) * se)


@pytest.mark.parametrize(
    ("summary", "excludes"),
    [
        (Summary(2.0, 1.0, 3.0, 5), True),
        (Summary(-2.0, -3.0, -1.0, 5), True),
        (Summary(0.5, -1.0, 2.0, 5), False),
        (Summary(1.0, 0.0, 2.0, 5), False),  # touching zero is not excluding it
        (Summary(0.0, 0.0, 0.0, 5), False),  # no change at all
        (Summary(2.0, NAN, NAN, 1), False),  # no interval: nothing excluded
        (UNDEFINED, False),
    ],
)
def test_excludes_zero(summary: Summary, excludes: bool) -> None:
    assert excludes_zero(summary) is excludes


def summaries(leads: float, sla: float) -> dict[str, Summary]:
    """Every metric undefined but two: leads and SLA attainment."""
    found = dict.fromkeys(METRICS, UNDEFINED)
    found["leads"] = Summary(leads, leads - 10, leads + 10, 4)
    found["sla_first_touch_attainment"] = Summary(sla, sla - 0.02, sla + 0.02, 4)
    return found


def test_metrics_by_scenario_leave_out_what_no_run_defined() -> None:
    a, b = summaries(100, 0.8), summaries(120, 0.7)
    table = metrics_table({"A": a, "B": b}, replications=4, seed=7)
    assert table.title == "2 scenarios, 4 replication(s), seed 7 each"
    assert table.header == ("metric", "unit", "A", "B")
    assert table.label_columns == 2
    assert table.rows == (
        Row(("leads", "leads"), (Cell(a["leads"], "leads"), Cell(b["leads"], "leads"))),
        Row(
            ("sla_first_touch_attainment", "share"),
            (
                Cell(a["sla_first_touch_attainment"], "share"),
                Cell(b["sla_first_touch_attainment"], "share"),
            ),
        ),
    )
    one = metrics_table({"A": a}, replications=4, seed=7)
    assert one.title == "A: 4 replication(s), seed 7"


def test_a_comparison_marks_the_differences_whose_interval_excludes_zero() -> None:
    a, b = summaries(100, 0.8), summaries(120, 0.79)
    moved = {
        "leads": Summary(20.0, 15.0, 25.0, 4),
        "sla_first_touch_attainment": Summary(-0.01, -0.03, 0.01, 4),
    }
    table = comparison_table({"A": a, "B": b}, {"B": moved}, replications=4, seed=7)
    assert table.header == ("metric", "unit", "A", "B", "B - A")
    assert "against 'A'" in table.title
    leads, sla = table.rows
    assert leads.cells[2] == Cell(moved["leads"], "leads", signed=True, marked=True)
    assert sla.cells[2] == Cell(moved["sla_first_touch_attainment"], "share", signed=True)
    assert not any(c.marked for c in (*leads.cells[:2], *sla.cells[:2]))


def test_a_study_marks_points_that_differ_from_the_baseline() -> None:
    base, more = summaries(100, 0.8), summaries(130, 0.8)
    moved = {"leads": Summary(30.0, 20.0, 40.0, 4), "sla_first_touch_attainment": UNDEFINED}
    table = study_table(
        "Staffing",
        ["baseline", "more SDRs"],
        [base, more],
        [None, moved],
        ["leads", "sla_first_touch_attainment"],
        replications=4,
        seed=7,
    )
    assert table.title == "Staffing: 2 points, 4 paired replications each, seed 7"
    assert table.header == ("point", "leads (leads)", "sla_first_touch_attainment (share)")
    assert table.label_columns == 1
    assert [row.labels for row in table.rows] == [("baseline",), ("more SDRs",)]
    assert [[c.marked for c in row.cells] for row in table.rows] == [[False, False], [True, False]]
    assert table.rows[1].cells[0].summary == more["leads"]  # the point's own figure, marked
