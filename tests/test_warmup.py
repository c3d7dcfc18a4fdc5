"""Warm-up help (``funnelsim.warmup``): MSER-5 on the first-touch queue, exact on constructed
series, and a warning from the model when a start-up backlog outlasts the warm-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from funnelsim.cli import app
from funnelsim.experiment import run_replications
from funnelsim.records import LevelSeries
from funnelsim.warmup import daily_means, mser
from helpers import bundled, scenario


def test_mser_cuts_a_step_exactly_where_it_ends() -> None:
    # two groups of level 5, then flat: cutting 10 observations leaves zero variance
    assert mser(np.array([5.0] * 10 + [0.0] * 40)) == 10


def test_mser_keeps_a_flat_series_whole() -> None:
    assert mser(np.full(50, 3.0)) == 0


def test_mser_finds_a_decaying_transient_in_noise() -> None:
    rng = np.random.default_rng(7)
    days = np.arange(200)
    series = 20 * np.exp(-days / 8) + rng.normal(0, 1, size=200)
    cut = mser(series)
    print(f"transient with time constant 8 days: MSER-5 cuts {cut} days")
    assert 15 <= cut <= 60  # by day 15 the transient is 3 noise SDs; by 60 it is nothing
    assert cut % 5 == 0


def test_mser_never_cuts_more_than_half_and_ignores_short_series() -> None:
    rising = np.arange(100, dtype=float)  # never settles: the cut is capped at half
    assert mser(rising) == 50
    assert mser(np.array([9.0, 1, 1, 1, 1, 1, 1])) == 0  # fewer than two groups


def test_daily_means_are_time_weighted() -> None:
    series = LevelSeries(np.array([0.0, 12.0, 30.0]), np.array([0.0, 2.0, 1.0]))
    means = daily_means(series, 48.0)
    # day 0: 2 for 12 h; day 1: 2 for 6 h then 1 for 18 h
    assert means.tolist() == pytest.approx([1.0, 30 / 24])


def backlog(warmup: str) -> dict[str, Any]:
    """M/M/12 at 75% load with 1,000 MQLs waiting at the start: cleared at 3/h net, in about
    two weeks; afterwards the queue is short and calm."""
    data = bundled("validation/erlang-c.yaml")
    data.update(horizon="60d", warmup=warmup)
    data["teams"]["sdr"]["headcount"] = 12
    data["initial"] = {"open_mqls": [{"source": "web", "count": 1000, "age": "0h"}]}
    return data


@pytest.mark.slow  # 2 x 10 replications of 60 days: seconds, not milliseconds
@pytest.mark.seed(3)
def test_a_backlog_longer_than_the_warmup_is_flagged(seed: int) -> None:
    for warmup, enough in (("0d", False), ("30d", True)):
        [check] = run_replications(scenario(backlog(warmup)), 10, seed=seed).warmup()
        print(f"warm-up {warmup}: {check}")
        assert check.enough is enough, check
        # MSER-5 (in steps of 5 days) puts the end of the transient where the backlog is worked
        # off (about two weeks at 3 leads an hour net), never at the start
        assert check.truncation_h >= 10 * 24, check


@pytest.mark.slow  # 6 replications of 60 days, through the command line
def test_the_cli_warns_of_a_short_warmup(tmp_path: Path) -> None:
    file = tmp_path / "backlog.yaml"
    file.write_text(yaml.safe_dump(backlog("0d")))
    result = CliRunner().invoke(app, ["run", str(file), "-n", "6", "-w", "1"])
    assert result.exit_code == 0, result.output
    print(result.stderr)
    assert "warm-up of 0 days may be too short" in result.stderr
    assert "consider warmup: " in result.stderr
