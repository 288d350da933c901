"""Axes of counts step by whole numbers: every tick label is a distinct integer (the Pareto
chart's axis once read 1, 0, 0, 0, 0, 0 for a single failure)."""

from __future__ import annotations

import pytest

from station.reports.axes import HEADROOM, axis_ticks, nice_axis


@pytest.mark.parametrize("largest", [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 17, 48, 99, 250, 1001, 123_457])
def test_a_count_axis_has_distinct_whole_ticks_up_past_the_largest_count(largest: int) -> None:
    maximum, step = nice_axis(largest * HEADROOM, integer=True)
    ticks = axis_ticks(maximum, step)
    labels = [f"{tick:.0f}" for tick in ticks]
    assert step >= 1 and step == int(step)
    assert all(tick == int(tick) for tick in ticks), ticks
    assert len(set(labels)) == len(labels), labels
    assert ticks[0] == 0 and ticks[-1] == maximum >= largest
    assert 2 <= len(ticks) <= 8
    assert f"{step:.0f}".lstrip("0")[:1] in {"1", "2", "5"}, f"a step of {step} is not a round number"


def test_a_seconds_axis_may_step_by_fractions() -> None:
    maximum, step = nice_axis(0.9, ticks=6)
    assert step == pytest.approx(0.2) and maximum == pytest.approx(1.0)
    assert axis_ticks(maximum, step) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
