"""The shift counters on the operator view: passed, failed, first-pass yield, units per hour.

Computed by the reports' yield code (``station.reports.yield_stats``) over this station's
attempts since the shift started, read from the store, so that the operator's counters mean
exactly what the reports say: golden units and reworks left out, first-pass yield over the
units whose first attempt ever falls in the shift and has finished, units per hour once the
attempts span five minutes (``yield_stats.MINIMUM_RATE_SPAN``). No rule of its own here: the
Reports view, ``station report yield`` and the PDF show the same figures for the same attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from station.domain.records import AttemptFilter
from station.reports.yield_stats import yield_of
from station.store import Database


@dataclass(frozen=True)
class CounterFigures:
    passed: int
    failed: int
    first_pass_yield: float | None  # 0..1, None before the first unit
    units_per_hour: float | None  # None until the shift's attempts span MINIMUM_RATE_SPAN


def _now() -> datetime:
    return datetime.now(UTC)


class ShiftCounters:
    """This station's production figures since ``started_at`` (the shift's start)."""

    def __init__(self, database: Database, station: str, clock: Callable[[], datetime] = _now) -> None:
        self._database = database
        self._station = station
        self._clock = clock
        self.started_at = clock()

    def reset(self) -> None:
        """A new shift: count from now."""
        self.started_at = self._clock()

    def shift_filter(self) -> AttemptFilter:
        """The attempts the counters cover: the same filter in the Reports view gives the same figures."""
        return AttemptFilter(station=self._station, since=self.started_at)

    def figures(self) -> CounterFigures:
        report = yield_of(
            self._database.attempts.iter_attempts(self.shift_filter(), with_transcripts=False),
            self._database.units.golden_serials(),
        )
        return CounterFigures(
            passed=report.passed_attempts,
            failed=report.failures,
            first_pass_yield=report.first_pass_yield,
            units_per_hour=report.units_per_hour,
        )
