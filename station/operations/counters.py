"""The shift counters on the operator view: passed, failed, first-pass yield, units per hour.

Computed by the reports' yield code (``station.reports.yield_stats``) over this station's
attempts since the shift started, read from the store, so that the operator's counters mean
exactly what the reports say: golden units and reworks left out, first-pass yield over the
units whose first attempt ever falls in the shift. Units per hour is shown once the shift's
attempts span at least five minutes, so that the first units do not promise thousands an hour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from station.domain.records import AttemptFilter
from station.reports.yield_stats import yield_of
from station.store import Database

MINIMUM_RATE_HOURS = 5 / 60


@dataclass(frozen=True)
class CounterFigures:
    passed: int
    failed: int
    first_pass_yield: float | None  # 0..1, None before the first unit
    units_per_hour: float | None  # None until the shift's attempts span enough time


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

    def figures(self) -> CounterFigures:
        wanted = AttemptFilter(station=self._station, since=self.started_at)
        report = yield_of(
            self._database.attempts.iter_attempts(wanted, with_transcripts=False),
            self._database.units.golden_serials(),
        )
        hours = report.span_hours
        return CounterFigures(
            passed=report.passed_attempts,
            failed=report.failures,
            first_pass_yield=report.first_pass_yield,
            units_per_hour=report.units_per_hour if hours is not None and hours >= MINIMUM_RATE_HOURS else None,
        )
