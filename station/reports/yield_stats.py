"""Yield statistics from a stream of attempts: the one yield code of the station.

The reports, ``station report yield``, the Reports view and the operator view's shift counters
all use :class:`YieldCalculator`, so that a number means the same thing everywhere.

Definitions (over the attempts a filter selects):

- **Golden units** (reference units marked with ``UnitRepository.set_golden``) check the
  station, they are not product: their attempts are left out of every figure below and
  counted only in ``golden_units`` / ``golden_attempts``.
- **Rework attempts** (``is_rework``: a supervisor's erase) are not production attempts: they
  are counted in ``rework_attempts`` and left out of attempts per unit, the failure Pareto and
  step times. A reworked unit is a development unit for good, so rework does count where it
  must: a unit whose latest attempt is a rework did not pass (final yield).
- **Units**: serials with at least one selected production attempt.
- **First-pass yield** = units whose first attempt ever passed / units whose first attempt
  ever is in the selection (``previous_attempt_id`` is empty) and has finished. A unit whose
  earlier attempts lie outside the selection (another work order, an earlier day) is not a
  first pass and not in this denominator either, so a date range does not count retries as
  first passes; a unit whose first attempt is still IN_PROGRESS is in neither until it ends
  (a unit on the fixture must not pull the operator's yield down while it runs). For a work
  order or the whole history, once nothing runs, both denominators equal ``units``.
- **Final yield** = units whose latest selected attempt PASSED / units. An attempt still
  IN_PROGRESS, or one that NEEDS_INSPECTION, is not a pass.
- **Attempts per unit** = production attempts / units.
- **Failures** = production attempts that FAILED or NEED_INSPECTION, counted by failure step
  and by failure code (``(none)`` if absent), ordered for a Pareto chart: most frequent
  first, ties by name, each with its share and cumulative share of all failures.
- **Time per step**: for each step name, ``ended_at - started_at`` of the steps of production
  attempts that finished (PASSED or FAILED; a SKIPPED or still RUNNING step has no duration),
  as median and 95th percentile (linear interpolation between order statistics, the
  spreadsheet PERCENTILE.INC), plus the whole attempt's time likewise.
- **Units per hour** = units / the span from the earliest selected start to the latest
  selected end (or start, for an unfinished attempt), in hours; empty for a span under
  :data:`MINIMUM_RATE_SPAN` (five minutes), so that the first units of a shift do not promise
  thousands an hour. The operator's counters and the reports show this one figure.

Memory: the calculator keeps, per step name, the durations in a compact ``array('d')`` (8
bytes each) up to ``exact_limit`` values (default 200,000), then folds them into a
logarithmic histogram with 1 % relative accuracy (about 2,000 buckets at most for durations
from a millisecond to a day), so a million attempts cost a few MB. Per unit it keeps a small
tally: when the attempts arrive grouped by unit (``grouped_by_unit=True``, as the store's
``iter_attempts(by_unit=True)`` delivers them) only the current unit's; otherwise one tally
per distinct serial (about 200 bytes each).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from station.domain.records import AttemptRecord, AttemptResult, StepOutcome

DEFAULT_EXACT_LIMIT = 200_000
RELATIVE_ACCURACY = 0.01
NO_CODE = "(none)"
MINIMUM_RATE_SPAN: Final = timedelta(minutes=5)  # units per hour needs at least this span
_FAILED_RESULTS = frozenset({AttemptResult.FAILED, AttemptResult.NEEDS_INSPECTION})
_TIMED_OUTCOMES = frozenset({StepOutcome.PASSED, StepOutcome.FAILED})


@dataclass(frozen=True)
class ParetoEntry:
    """One bar of a Pareto chart: a failure step or code with its count and shares (0..1)."""

    name: str
    count: int
    share: float
    cumulative_share: float


@dataclass(frozen=True)
class StepTiming:
    """Duration statistics of one step (or of whole attempts), in seconds."""

    step: str
    count: int
    median_s: float
    p95_s: float
    max_s: float


@dataclass(frozen=True)
class YieldReport:
    """The figures of a selection of attempts; see the module docstring for definitions."""

    attempts: int = 0  # every selected attempt, golden and rework included (= export rows)
    result_counts: dict[str, int] = field(default_factory=dict)  # every selected attempt by result
    production_attempts: int = 0
    rework_attempts: int = 0
    golden_units: int = 0
    golden_attempts: int = 0
    units: int = 0
    units_started: int = 0
    first_pass_units: int = 0
    final_pass_units: int = 0
    passed_attempts: int = 0  # production attempts, by result
    failed_attempts: int = 0
    needs_inspection_attempts: int = 0
    in_progress_attempts: int = 0
    span_start: datetime | None = None
    span_end: datetime | None = None
    failures_by_step: tuple[ParetoEntry, ...] = ()
    failures_by_code: tuple[ParetoEntry, ...] = ()
    step_times: tuple[StepTiming, ...] = ()
    attempt_time: StepTiming | None = None

    @property
    def first_pass_yield(self) -> float | None:
        return _ratio(self.first_pass_units, self.units_started)

    @property
    def final_yield(self) -> float | None:
        return _ratio(self.final_pass_units, self.units)

    @property
    def attempts_per_unit(self) -> float | None:
        return _ratio(self.production_attempts, self.units)

    @property
    def failures(self) -> int:
        return self.failed_attempts + self.needs_inspection_attempts

    @property
    def span_hours(self) -> float | None:
        if self.span_start is None or self.span_end is None:
            return None
        seconds = (self.span_end - self.span_start).total_seconds()
        return None if seconds < 1.0 else seconds / 3600.0

    @property
    def units_per_hour(self) -> float | None:
        """None until the attempts span :data:`MINIMUM_RATE_SPAN`: a rate over a minute is noise."""
        hours = self.span_hours
        if hours is None or hours * 3600 < MINIMUM_RATE_SPAN.total_seconds():
            return None
        return self.units / hours

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document (``station report yield --json``, tests, the GUI's tooltips)."""
        return {
            "attempts": self.attempts,
            "result_counts": dict(self.result_counts),
            "production_attempts": self.production_attempts,
            "rework_attempts": self.rework_attempts,
            "golden_units": self.golden_units,
            "golden_attempts": self.golden_attempts,
            "units": self.units,
            "units_started": self.units_started,
            "first_pass_units": self.first_pass_units,
            "final_pass_units": self.final_pass_units,
            "first_pass_yield": self.first_pass_yield,
            "final_yield": self.final_yield,
            "attempts_per_unit": self.attempts_per_unit,
            "passed_attempts": self.passed_attempts,
            "failed_attempts": self.failed_attempts,
            "needs_inspection_attempts": self.needs_inspection_attempts,
            "in_progress_attempts": self.in_progress_attempts,
            "span_start": None if self.span_start is None else self.span_start.isoformat(),
            "span_end": None if self.span_end is None else self.span_end.isoformat(),
            "units_per_hour": self.units_per_hour,
            "failures_by_step": [_entry_json(entry) for entry in self.failures_by_step],
            "failures_by_code": [_entry_json(entry) for entry in self.failures_by_code],
            "step_times": [_timing_json(timing) for timing in self.step_times],
            "attempt_time": None if self.attempt_time is None else _timing_json(self.attempt_time),
        }


class DurationDistribution:
    """Durations of one step: exact up to ``exact_limit`` values, then a log histogram."""

    def __init__(self, exact_limit: int = DEFAULT_EXACT_LIMIT) -> None:
        self._exact_limit = exact_limit
        self._values: array[float] | None = array("d")
        self._buckets: Counter[int] = Counter()
        self._zeros = 0
        self._gamma = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
        self._log_gamma = math.log(self._gamma)
        self.count = 0
        self.maximum = 0.0

    def add(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.count += 1
        self.maximum = max(self.maximum, seconds)
        if self._values is not None:
            self._values.append(seconds)
            if len(self._values) > self._exact_limit:
                values, self._values = self._values, None
                for value in values:
                    self._bucket(value)
        else:
            self._bucket(seconds)

    def quantile(self, fraction: float) -> float:
        """The ``fraction`` quantile (0..1); exact while exact, else within 1 % relative error."""
        if self.count == 0:
            return 0.0
        if self._values is not None:
            return _interpolated(sorted(self._values), fraction)
        rank = fraction * (self.count - 1)
        seen = self._zeros
        if rank < seen:
            return 0.0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if rank < seen:
                return min(self.maximum, 2 * self._gamma**index / (self._gamma + 1))
        return self.maximum

    def timing(self, step: str) -> StepTiming:
        ordered = sorted(self._values) if self._values is not None else None
        if ordered is not None:
            median, p95 = _interpolated(ordered, 0.5), _interpolated(ordered, 0.95)
        else:
            median, p95 = self.quantile(0.5), self.quantile(0.95)
        return StepTiming(step=step, count=self.count, median_s=median, p95_s=p95, max_s=self.maximum)

    def _bucket(self, seconds: float) -> None:
        if seconds < 1e-6:
            self._zeros += 1
        else:
            self._buckets[math.ceil(math.log(seconds) / self._log_gamma)] += 1


@dataclass
class _UnitTally:
    first_ever_seen: bool = False
    first_ever_passed: bool = False
    latest_id: int = -1
    latest_passed: bool = False
    production_attempts: int = 0


@dataclass
class _Totals:
    units: int = 0
    units_started: int = 0
    first_pass_units: int = 0
    final_pass_units: int = 0

    def fold(self, tally: _UnitTally) -> None:
        if tally.production_attempts == 0:
            return  # only rework attempts selected: not a production unit here
        self.units += 1
        if tally.first_ever_seen:
            self.units_started += 1
            self.first_pass_units += tally.first_ever_passed
        self.final_pass_units += tally.latest_passed


class YieldCalculator:
    """Feed attempts one at a time (:meth:`add`); read the figures at any time (:meth:`report`).

    ``grouped_by_unit`` promises that all attempts of a unit arrive together (any order
    within the unit): then only the current unit's tally is kept.
    """

    def __init__(
        self,
        golden_serials: Iterable[str] = (),
        *,
        grouped_by_unit: bool = False,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
    ) -> None:
        self._golden = frozenset(golden_serials)
        self._grouped = grouped_by_unit
        self._exact_limit = exact_limit
        self._open: dict[str, _UnitTally] = {}
        self._totals = _Totals()
        self._golden_serials_seen: set[str] = set()
        self._attempts = 0
        self._result_counts: Counter[str] = Counter()
        self._production = 0
        self._rework = 0
        self._golden_attempts = 0
        self._by_result: Counter[AttemptResult] = Counter()
        self._by_step: Counter[str] = Counter()
        self._by_code: Counter[str] = Counter()
        self._durations: dict[str, DurationDistribution] = {}
        self._attempt_durations = DurationDistribution(exact_limit)
        self._span_start: datetime | None = None
        self._span_end: datetime | None = None

    def add_all(self, attempts: Iterable[AttemptRecord]) -> YieldCalculator:
        for attempt in attempts:
            self.add(attempt)
        return self

    def add(self, attempt: AttemptRecord) -> None:
        self._attempts += 1
        self._result_counts[attempt.result.value] += 1
        if attempt.serial in self._golden:
            self._golden_attempts += 1
            self._golden_serials_seen.add(attempt.serial)
            return
        tally = self._open.get(attempt.serial)
        if tally is None:
            if self._grouped and self._open:
                for finished in self._open.values():
                    self._totals.fold(finished)
                self._open.clear()
            tally = self._open[attempt.serial] = _UnitTally()
        passed = attempt.result is AttemptResult.PASSED
        if attempt.id > tally.latest_id:
            tally.latest_id = attempt.id
            tally.latest_passed = passed
        if attempt.is_rework:
            self._rework += 1
            return
        tally.production_attempts += 1
        if attempt.previous_attempt_id is None and attempt.result is not AttemptResult.IN_PROGRESS:
            tally.first_ever_seen = True  # a first attempt still running counts once it ends
            tally.first_ever_passed = passed
        self._production += 1
        self._by_result[attempt.result] += 1
        if attempt.result in _FAILED_RESULTS:
            self._by_step[attempt.failure_step or NO_CODE] += 1
            self._by_code[attempt.failure_code or NO_CODE] += 1
        end = attempt.ended_at or attempt.started_at
        if self._span_start is None or attempt.started_at < self._span_start:
            self._span_start = attempt.started_at
        if self._span_end is None or end > self._span_end:
            self._span_end = end
        if attempt.ended_at is not None and attempt.result is not AttemptResult.IN_PROGRESS:
            self._attempt_durations.add((attempt.ended_at - attempt.started_at).total_seconds())
        for step in attempt.steps:
            if step.ended_at is None or step.outcome not in _TIMED_OUTCOMES:
                continue
            distribution = self._durations.get(step.name)
            if distribution is None:
                distribution = self._durations[step.name] = DurationDistribution(self._exact_limit)
            distribution.add((step.ended_at - step.started_at).total_seconds())

    def report(self) -> YieldReport:
        """The figures so far; adding more attempts afterwards is fine."""
        totals = replace(self._totals)
        for tally in self._open.values():
            totals.fold(tally)
        failures = self._by_result[AttemptResult.FAILED] + self._by_result[AttemptResult.NEEDS_INSPECTION]
        return YieldReport(
            attempts=self._attempts,
            result_counts=dict(sorted(self._result_counts.items())),
            production_attempts=self._production,
            rework_attempts=self._rework,
            golden_units=len(self._golden_serials_seen),
            golden_attempts=self._golden_attempts,
            units=totals.units,
            units_started=totals.units_started,
            first_pass_units=totals.first_pass_units,
            final_pass_units=totals.final_pass_units,
            passed_attempts=self._by_result[AttemptResult.PASSED],
            failed_attempts=self._by_result[AttemptResult.FAILED],
            needs_inspection_attempts=self._by_result[AttemptResult.NEEDS_INSPECTION],
            in_progress_attempts=self._by_result[AttemptResult.IN_PROGRESS],
            span_start=self._span_start,
            span_end=self._span_end,
            failures_by_step=pareto(self._by_step, failures),
            failures_by_code=pareto(self._by_code, failures),
            step_times=tuple(distribution.timing(name) for name, distribution in self._durations.items()),
            attempt_time=self._attempt_durations.timing("attempt") if self._attempt_durations.count else None,
        )


def yield_of(attempts: Iterable[AttemptRecord], golden_serials: Iterable[str] = ()) -> YieldReport:
    """The figures of a finite collection of attempts, in any order (tests, shift counters)."""
    return YieldCalculator(golden_serials).add_all(attempts).report()


def pareto(counts: Counter[str], total: int | None = None) -> tuple[ParetoEntry, ...]:
    """Entries most frequent first (ties by name), with their share and cumulative share."""
    total = sum(counts.values()) if total is None else total
    entries: list[ParetoEntry] = []
    running = 0
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        running += count
        entries.append(ParetoEntry(name, count, count / total if total else 0.0, running / total if total else 0.0))
    return tuple(entries)


def _interpolated(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _entry_json(entry: ParetoEntry) -> dict[str, Any]:
    return {"name": entry.name, "count": entry.count, "share": entry.share, "cumulative_share": entry.cumulative_share}


def _timing_json(timing: StepTiming) -> dict[str, Any]:
    return {"step": timing.step, "count": timing.count, "median_s": timing.median_s, "p95_s": timing.p95_s,
            "max_s": timing.max_s}
