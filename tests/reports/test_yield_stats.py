"""The yield code: definitions checked against a database whose story is known (see conftest)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from station.domain.records import AttemptFilter, AttemptRecord, AttemptResult, JournalState
from station.operations.counters import ShiftCounters
from station.reports.summary import compute_yield, summarize
from station.reports.yield_stats import MINIMUM_RATE_SPAN, DurationDistribution, YieldCalculator, pareto, yield_of
from station.store import Database

from .scenario import EXPECTED, GOLDEN_SERIAL, IMAGE_HASHES, PRODUCT, RECIPE_TEXT, T0, Planned, record_attempt


def test_figures_of_the_scenario(scenario: Database) -> None:
    figures = compute_yield(scenario)
    for name in ("attempts", "units", "units_started", "first_pass_units", "final_pass_units",
                 "production_attempts", "rework_attempts", "golden_units", "golden_attempts"):
        assert getattr(figures, name) == EXPECTED[name], name
    assert figures.result_counts == EXPECTED["result_counts"]
    assert figures.first_pass_yield == pytest.approx(7 / 11)
    assert figures.final_yield == pytest.approx(8 / 12)
    assert figures.attempts_per_unit == pytest.approx(14 / 12)
    assert [(entry.name, entry.count) for entry in figures.failures_by_code] == EXPECTED["failures_by_code"]
    assert [(entry.name, entry.count) for entry in figures.failures_by_step] == EXPECTED["failures_by_step"]
    assert figures.failures == 5 and figures.needs_inspection_attempts == 1 and figures.in_progress_attempts == 1
    assert figures.failures_by_code[-1].cumulative_share == pytest.approx(1.0)
    assert figures.failures_by_code[0].share == pytest.approx(2 / 5)

    timings = {timing.step: timing for timing in figures.step_times}
    assert list(timings)[:3] == ["connect", "flash", "verify"]  # sequence order
    assert timings["connect"].count == 14 and timings["connect"].median_s == pytest.approx(0.5)
    assert timings["activate"].median_s == pytest.approx(2.0) and timings["activate"].p95_s == pytest.approx(10.0)
    assert "rework" not in timings  # rework attempts are not production
    # Units per hour: 12 units over the span from the first start to the last end.
    assert figures.span_start == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert figures.span_hours is not None, "the attempts started and ended, so they span a time"
    assert figures.units_per_hour == pytest.approx(12 / figures.span_hours)


def test_filters_narrow_the_figures(scenario: Database) -> None:
    wo2 = compute_yield(scenario, AttemptFilter(work_order="WO-2"))
    assert (wo2.attempts, wo2.units, wo2.final_pass_units, wo2.first_pass_units) == (3, 3, 1, 1)
    assert [(entry.name, entry.count) for entry in wo2.failures_by_code] == [("MAY_BE_LOCKED", 1)]
    by_operator = compute_yield(scenario, AttemptFilter(operator="sue"))
    assert (by_operator.attempts, by_operator.rework_attempts, by_operator.units) == (1, 1, 0)
    b1 = compute_yield(scenario, AttemptFilter(serials=("SN-B1",)))
    assert (b1.units, b1.first_pass_units, b1.final_pass_units, b1.attempts_per_unit) == (1, 0, 1, 2.0)
    # A date range that starts after B1's first attempt: its retry is not a first pass, and B1
    # is not in the first-pass denominator either (its first attempt is outside the range).
    later = compute_yield(scenario, AttemptFilter(since=datetime(2026, 3, 2, 8, 12, tzinfo=UTC)))
    serials_later = {a.serial for a in scenario.attempts.iter_attempts(
        AttemptFilter(since=datetime(2026, 3, 2, 8, 12, tzinfo=UTC)))}
    assert serials_later == {"SN-B1", "SN-B2", "SN-B3", GOLDEN_SERIAL, "SN-C3"}
    assert (later.units, later.units_started, later.first_pass_units, later.final_pass_units) == (3, 0, 0, 1)
    failed_only = compute_yield(scenario, AttemptFilter(result=AttemptResult.FAILED))
    assert failed_only.attempts == 6
    recipe = next(scenario.attempts.iter_attempts()).recipe_hash
    assert compute_yield(scenario, AttemptFilter(recipe_hash=recipe.upper())).attempts == 17
    assert compute_yield(scenario, AttemptFilter(recipe_hash="0" * 64)).attempts == 0


def test_order_of_attempts_does_not_matter(scenario: Database) -> None:
    golden = scenario.units.golden_serials()
    attempts = list(scenario.attempts.iter_attempts())
    by_unit = list(scenario.attempts.iter_attempts(by_unit=True))
    assert sorted(a.id for a in by_unit) == sorted(a.id for a in attempts)
    shuffled = attempts[:]
    random.Random(3).shuffle(shuffled)
    reference = yield_of(attempts, golden).to_json()
    assert yield_of(shuffled, golden).to_json() == reference
    assert YieldCalculator(golden, grouped_by_unit=True).add_all(by_unit).report().to_json() == reference
    assert summarize(scenario, AttemptFilter()).inventory.image_hashes == tuple(sorted(IMAGE_HASHES))


def test_report_is_a_snapshot_that_keeps_counting(scenario: Database) -> None:
    calculator = YieldCalculator(scenario.units.golden_serials(), grouped_by_unit=True)
    stream = list(scenario.attempts.iter_attempts(by_unit=True))
    calculator.add_all(stream[:5])
    early = calculator.report()
    calculator.add_all(stream[5:])
    assert early.attempts == 5 and calculator.report().attempts == 17
    assert calculator.report().to_json() == compute_yield(scenario).to_json()


def test_empty_selection() -> None:
    figures = yield_of([])
    assert figures.first_pass_yield is None and figures.final_yield is None and figures.units_per_hour is None
    assert figures.to_json()["failures_by_code"] == []


def _attempt(number: int, serial: str, result: AttemptResult, *, previous: int | None = None) -> AttemptRecord:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
    return AttemptRecord(
        id=number, serial=serial, station="s", operator="o", work_order=None, recipe_hash="r", product="p",
        state=JournalState(result.value) if result is not AttemptResult.IN_PROGRESS else JournalState.SCANNED,
        result=result, started_at=start, ended_at=start + timedelta(seconds=30), previous_attempt_id=previous,
    )


def test_a_unit_first_seen_with_history_is_not_a_first_pass() -> None:
    figures = yield_of([_attempt(5, "X", AttemptResult.PASSED, previous=4), _attempt(6, "Y", AttemptResult.PASSED)])
    assert (figures.units, figures.units_started, figures.first_pass_units, figures.final_pass_units) == (2, 1, 1, 2)


def test_percentiles_exact_then_within_one_percent() -> None:
    exact = DurationDistribution()
    for value in (1.0, 2.0, 3.0, 4.0):
        exact.add(value)
    assert exact.quantile(0.5) == pytest.approx(2.5) and exact.quantile(0.95) == pytest.approx(3.85)

    generator = random.Random(7)
    values = [generator.lognormvariate(0.5, 0.4) for _ in range(20_000)]
    bounded = DurationDistribution(exact_limit=1000)
    for value in values:
        bounded.add(value)
    ordered = sorted(values)
    for fraction in (0.5, 0.95):
        true = ordered[int(fraction * (len(ordered) - 1))]
        assert bounded.quantile(fraction) == pytest.approx(true, rel=0.02)
    assert bounded.count == 20_000 and bounded.maximum == pytest.approx(max(values))
    assert len(bounded._buckets) < 400  # bounded memory: buckets, not values


def test_pareto_orders_by_count_then_name() -> None:
    from collections import Counter

    entries = pareto(Counter({"b": 2, "a": 2, "c": 5}))
    assert [(entry.name, entry.count) for entry in entries] == [("c", 5), ("a", 2), ("b", 2)]
    assert entries[1].cumulative_share == pytest.approx(7 / 9)


def test_a_unit_still_running_is_not_in_the_first_pass_yield() -> None:
    """Only finished attempts count: a unit on the fixture neither passes nor fails its first pass yet."""
    running = replace(_attempt(2, "Y", AttemptResult.IN_PROGRESS), ended_at=None)
    figures = yield_of([_attempt(1, "X", AttemptResult.PASSED), running])
    assert (figures.units, figures.units_started, figures.first_pass_units) == (2, 1, 1)
    assert figures.first_pass_yield == 1.0 and figures.in_progress_attempts == 1
    ended = yield_of([_attempt(1, "X", AttemptResult.PASSED), _attempt(2, "Y", AttemptResult.FAILED)])
    assert (ended.units_started, ended.first_pass_units, ended.first_pass_yield) == (2, 1, 0.5)
    only_running = yield_of([running])
    assert only_running.first_pass_yield is None and only_running.units == 1


def test_units_per_hour_is_one_figure_for_the_reports_and_the_operator_counters(database: Database) -> None:
    """Under five minutes of attempts there is no rate anywhere (no "908.5" in the reports beside a
    "—" on the operator's header); past it, the shift counters give the reports' figure."""
    recipe_hash = database.registry.record_recipe(RECIPE_TEXT, PRODUCT).sha256
    counters = ShiftCounters(database, "st1", clock=lambda: T0 - timedelta(minutes=1))
    for minute, serial in ((0, "SN-R1"), (2, "SN-R2")):
        record_attempt(database, recipe_hash, Planned(serial, AttemptResult.PASSED), T0 + timedelta(minutes=minute))
    short = compute_yield(database, counters.shift_filter())
    assert short.span_hours is not None and short.span_hours * 60 < MINIMUM_RATE_SPAN.total_seconds() / 60
    assert short.units_per_hour is None and counters.figures().units_per_hour is None
    assert short.to_json()["units_per_hour"] is None

    record_attempt(database, recipe_hash, Planned("SN-R3", AttemptResult.PASSED), T0 + timedelta(minutes=20))
    record_attempt(database, recipe_hash, Planned("SN-R4", AttemptResult.PASSED, station="st2"),
                   T0 + timedelta(minutes=40))  # another station's unit: not this station's shift
    figures = compute_yield(database, counters.shift_filter())
    assert figures.units == 3 and figures.span_hours is not None
    assert figures.units_per_hour == pytest.approx(3 / figures.span_hours)
    assert counters.figures().units_per_hour == figures.units_per_hour
