"""``station demo``'s pace: the training window at the datasheet's, headless instant, or what was asked."""

from __future__ import annotations

import math

import pytest

from station.domain.errors import ConfigurationError
from station.operations.station import HEADLESS_DEMO_TIMING, TRAINING_WINDOW_TIMING, demo_timing


def test_the_window_trains_at_the_datasheet_pace_and_headless_runs_instantly() -> None:
    assert demo_timing(None, window=True) == TRAINING_WINDOW_TIMING == 1.0
    assert demo_timing(None, window=False) == HEADLESS_DEMO_TIMING == 0.0


def test_an_asked_pace_is_kept_and_a_negative_one_refused() -> None:
    assert demo_timing(0.0, window=True) == 0.0
    assert demo_timing(2.5, window=False) == 2.5
    for wrong in (-1.0, math.nan):
        with pytest.raises(ConfigurationError, match="timing factor"):
            demo_timing(wrong, window=True)
