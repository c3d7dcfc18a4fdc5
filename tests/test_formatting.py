"""Formatting (``funnelsim.formatting``): figures as the terminal and the budget-review report
print them, one set of rules."""

from __future__ import annotations

import math

import pytest

from funnelsim.analysis import Summary
from funnelsim.formatting import cell, number, scalar

NAN = math.nan


@pytest.mark.parametrize(
    ("x", "digits", "text"),
    [
        (12345.6, 4, "12,346"),  # large: whole, with thousands separators
        (1234.5, 4, "1,234"),  # round half to even
        (123.456, 4, "123.5"),  # small: four significant digits
        (0.812345, 4, "0.8123"),
        (-0.5, 4, "-0.5"),
        (56.7, 2, "57"),  # a half-width: two digits
        (0.0123, 2, "0.012"),
        (NAN, 4, "n/a"),
        (math.inf, 4, "n/a"),
    ],
)
def test_numbers_read_as_a_planner_reads_them(x: float, digits: int, text: str) -> None:
    assert number(x, digits) == text


@pytest.mark.parametrize(
    ("summary", "unit", "signed", "text"),
    [
        (Summary(12345.0, 11667.0, 13023.0, 10), "leads", False, "12,345 ± 678"),
        (Summary(0.8123, 0.8003, 0.8243, 10), "share", False, "81.23% ± 1.2%"),
        (Summary(0.034, 0.022, 0.046, 10), "share", True, "+3.4 pp ± 1.2 pp"),
        (Summary(-250.0, -300.0, -200.0, 10), "money", True, "-250 ± 50"),
        (Summary(-250.0, -300.0, -200.0, 10), "money", False, "-250 ± 50"),
        (Summary(0.0, 0.0, 0.0, 5), "leads", True, "+0 ± 0"),
        # one replication: no interval to show
        (Summary(41.0, NAN, NAN, 1), "leads", False, "41"),
        (Summary(0.25, NAN, NAN, 1), "share", True, "+25 pp"),
        # undefined in every replication
        (Summary(NAN, NAN, NAN, 0), "hours", False, "n/a"),
        # a half-width that is zero but for rounding noise
        (Summary(1e6, 1e6 - 1e-7, 1e6 + 1e-7, 3), "money", False, "1,000,000 ± 0"),
    ],
)
def test_a_cell_is_mean_plus_minus_half_width_in_its_unit(
    summary: Summary, unit: str, signed: bool, text: str
) -> None:
    assert cell(summary, unit, signed=signed) == text


def test_query_values_keep_six_digits_and_other_types_as_they_are() -> None:
    assert scalar(3.14159265) == "3.14159"
    assert scalar(1234567.8) == "1,234,568"
    assert scalar(NAN) == "n/a"
    assert scalar(7) == "7"
    assert scalar("Baseline") == "Baseline"
