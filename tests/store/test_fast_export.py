"""``iter_attempt_rows`` on every backend: the cells of ``attempt_row()`` of each streamed record.

(SQLite takes the fast path, anything else builds rows from records; tests/reports/test_fast_csv.py
holds the fast path to the record path byte for byte on awkward data.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from station.domain.export_row import attempt_row
from station.domain.records import AttemptFilter, AttemptResult, StepOutcome
from station.store import Database

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def _empty_as_none(row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(None if cell == "" else cell for cell in row)


def test_rows_are_the_records_cells(database: Database, recipe_hash: str) -> None:
    attempts = database.attempts
    for number in range(5):
        attempt = attempts.create_attempt(serial=f"SN-{number % 4}", station="st1", operator="ann",
                                          recipe_hash=recipe_hash, product="ACME-TOASTER",
                                          work_order=None if number == 2 else "WO-1",
                                          at=T0 + timedelta(minutes=number))
        for index, name in enumerate(("connect", "flash", "verify")[: number + 1]):
            step = attempts.start_step(attempt.id, name, at=T0 + timedelta(minutes=number, seconds=index))
            if number != 4:
                attempts.finish_step(step.id or 0, StepOutcome.FAILED if number == 1 else StepOutcome.PASSED,
                                     at=T0 + timedelta(minutes=number, seconds=index, microseconds=2500))
        if number != 4:
            attempts.finish_attempt(attempt.id, AttemptResult.FAILED if number == 1 else AttemptResult.PASSED,
                                    failure_code="FLASH" if number == 1 else None,
                                    at=T0 + timedelta(minutes=number, seconds=30))
    for wanted in (AttemptFilter(), AttemptFilter(work_order="WO-1"), AttemptFilter(serials=("SN-1",))):
        expected = [_empty_as_none(attempt_row(record)) for record in attempts.iter_attempts(wanted)]
        assert [_empty_as_none(row) for row in attempts.iter_attempt_rows(wanted, batch_size=2)] == expected
    assert len(list(attempts.iter_attempt_rows())) == 5
