"""One station of a line, in a process of its own (tests/store/test_line_forwarding.py): it
records ``UNITS`` attempts in its own SQLite journal and forwards after each one to the line
database; a forward that finds the line down is counted and tried again after the next unit,
and at the end until the line answers.

    python line_station_worker.py STATION DATA_DIR LINE_URL UNITS PROGRESS_FILE
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from station.domain.errors import LineDatabaseError
from station.domain.records import AttemptResult, JournalState, StepEnd, StepOutcome
from station.store import open_database
from station.store.forwarding import forward
from station.store.line import LineDatabase


def _report(progress: Path, text: str) -> None:
    """Replace the progress file whole: the test reads it while this process writes."""
    partial = progress.with_suffix(".partial")
    partial.write_text(text)
    os.replace(partial, progress)


def main(station: str, data_dir: Path, line_url: str, units: int, progress: Path) -> int:
    database = open_database(f"sqlite:///{data_dir / 'station.db'}")
    database.upgrade()
    recipe = database.registry.record_recipe(f"[recipe]\nstation = '{station}'\n", "ACME-TOASTER").sha256
    line = LineDatabase(line_url, connect_timeout_seconds=2)
    failed_forwards = 0
    for number in range(1, units + 1):
        attempt = database.attempts.create_attempt(serial=f"{station}-{number:04d}", station=station,
                                                   operator="ann", recipe_hash=recipe, product="ACME-TOASTER")
        step = database.attempts.start_step(attempt.id, "connect")
        _, step = database.attempts.finish_step_and_start(
            step.id or 0, StepEnd(StepOutcome.PASSED, "device", None, JournalState.CONNECTED), "flash")
        database.attempts.finish_step(step.id or 0, StepOutcome.PASSED, advance_to=JournalState.FLASHED)
        result = AttemptResult.PASSED if number % 4 else AttemptResult.FAILED
        database.attempts.finish_attempt(attempt.id, result, failure_code=None if number % 4 else "PROBE")
        try:
            forward(database, line, station)
        except LineDatabaseError:
            failed_forwards += 1
        _report(progress, f"{number} {failed_forwards}\n")
    deadline = time.monotonic() + 120
    while True:
        try:
            report = forward(database, line, station)
            break
        except LineDatabaseError:
            failed_forwards += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    _report(progress, f"{units} {failed_forwards} done {report.line_sequence}\n")
    line.dispose()
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])))
