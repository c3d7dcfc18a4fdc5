"""Durations and rates as a scenario writes them (``funnelsim.units``): parsed, printed back and
refused."""

from __future__ import annotations

import pytest

from funnelsim.units import Duration, Rate


@pytest.mark.parametrize(
    ("text", "hours"),
    [("30m", 0.5), ("90m", 1.5), ("4h", 4.0), ("2d", 48.0), ("2w", 336.0), ("0.5d", 12.0)],
)
def test_calendar_durations_in_hours(text: str, hours: float) -> None:
    duration = Duration.parse(text)
    assert not duration.business
    assert duration.hours == pytest.approx(hours, rel=1e-12)


@pytest.mark.parametrize(("text", "amount", "unit"), [("3bd", 3.0, "bd"), ("6bh", 6.0, "bh")])
def test_business_durations_need_a_calendar(text: str, amount: float, unit: str) -> None:
    duration = Duration.parse(text)
    assert (duration.amount, duration.unit) == (amount, unit)
    assert duration.business
    with pytest.raises(ValueError, match="business time"):
        _ = duration.hours


@pytest.mark.parametrize(
    ("text", "per_hour"),
    [("9/h", 9.0), ("40/d", 40 / 24), ("200/w", 200 / 168), ("0.5/m", 30.0)],
)
def test_rates_per_hour(text: str, per_hour: float) -> None:
    assert Rate.parse(text).per_hour == pytest.approx(per_hour, rel=1e-12)


@pytest.mark.parametrize("text", ["30m", "4h", "2d", "2w", "3bd", "6bh", "1.5h", "0.25bd"])
def test_duration_str_round_trip(text: str) -> None:
    duration = Duration.parse(text)
    assert str(duration) == text
    assert Duration.parse(str(duration)) == duration


@pytest.mark.parametrize("text", ["9/h", "40/d", "200/w", "0.5/m", "2.5/h"])
def test_rate_str_round_trip(text: str) -> None:
    rate = Rate.parse(text)
    assert str(rate) == text
    assert Rate.parse(str(rate)) == rate


@pytest.mark.parametrize("value", ["30", 30, "30x", "h", "3 bdays"])
def test_unreadable_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):  # PydanticCustomError is a ValueError
        Duration.parse(value)
