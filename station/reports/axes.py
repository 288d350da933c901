"""Value axes from zero with round steps, for the PDF's charts and the Reports view's alike.

Without reportlab or Qt, so that both front ends label their axes by the same rule: an axis
of counts steps by whole numbers (1, 2, 5, 10, 20, …), so that its labels are distinct
integers; "0, 0, 0, 1" on an axis drawn from 0 to 1 in fifths is what this prevents.
"""

from __future__ import annotations

import math
from typing import Final

HEADROOM: Final = 1.08  # the tallest bar (and its label) stays below the top of the axis
DEFAULT_TICKS: Final = 6


def nice_axis(value: float, *, integer: bool = False, ticks: int = DEFAULT_TICKS) -> tuple[float, float]:
    """(maximum, step) of a value axis from 0 that reaches ``value`` in at most ``ticks`` steps.

    The step is 1, 2, 2.5 or 5 times a power of ten (``integer``: 1, 2 or 5 times a power of
    ten, and never less than 1); the maximum is the first multiple of the step at or above
    ``value``."""
    if value <= 0:
        return 1.0, 1.0 if integer else 0.2
    magnitude = 10.0 ** math.floor(math.log10(value / ticks))
    step = 10 * magnitude
    for factor in (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10):
        if value / (factor * magnitude) <= ticks:
            step = factor * magnitude
            break
    if integer:
        step = max(1.0, float(math.ceil(step - 1e-9)))
    return step * math.ceil(value / step - 1e-9), step


def axis_ticks(maximum: float, step: float) -> list[float]:
    """The tick values of an axis from 0 to ``maximum`` by ``step`` (both from :func:`nice_axis`)."""
    count = round(maximum / step)
    return [step * index for index in range(count + 1)]
