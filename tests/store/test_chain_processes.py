"""Several processes writing one database at once leave one chain, every record in it.

Each process is a station of its own (its own engine, its own head-file writer), sealing with
the same station key; their transactions interleave. SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

from station.domain.records import AttemptResult, JournalState, StepOutcome
from station.security.station_key import load_station_key
from station.store import Database, open_database

from .conftest import TestSigner

PROCESSES = 3
UNITS_EACH = 8


def _station(url: str, key_path: str, data_dir: str, recipe_hash: str, name: str, barrier: Barrier) -> None:
    """One station's process: open, step and finish attempts for its own serials."""
    database = open_database(url)
    try:
        database.seal_with(load_station_key(Path(key_path)), actor=f"station:{name}")
        database.keep_head_in(Path(data_dir))
        barrier.wait(timeout=60)
        for number in range(UNITS_EACH):
            attempt = database.attempts.create_attempt(serial=f"{name}-{number:03d}", station=name, operator="ann",
                                                       recipe_hash=recipe_hash, product="ACME-TOASTER")  # fmt: skip
            database.attempts.set_attempt_fields(attempt.id, device_id=f"{name}-device-{number}")
            for step_name, state in (("connect", JournalState.CONNECTED), ("flash", JournalState.FLASHED)):
                step = database.attempts.start_step(attempt.id, step_name)
                assert step.id is not None
                database.attempts.finish_step(step.id, StepOutcome.PASSED, advance_to=state)
            if number % 3:
                database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)
            else:
                database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_step="flash",
                                                 failure_code="FLASH")
    finally:
        database.dispose()


def test_stations_writing_at_once_leave_one_verified_chain(
    database: Database, db_url: str, recipe_hash: str, signer: TestSigner, tmp_path: Path
) -> None:
    key_path = tmp_path / "station-key.pem"
    signer.write_private_pem(key_path)
    data_dir = tmp_path / "data"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    arguments = (db_url, str(key_path), str(data_dir), recipe_hash)
    processes = [
        context.Process(target=_station, args=(*arguments, f"st{index}", barrier)) for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [process.exitcode for process in processes] == [0] * PROCESSES

    database.audit_log(signer).append_audit("supervisor:sue", "test.end", "all stations done")  # signs the tail
    report = database.verify_chain(signer)
    assert report.ok, (report.chain, report.findings, report.head_note)
    assert report.records_checked >= PROCESSES * UNITS_EACH * 3  # attempts and steps, at least
    entries = list(database.audit_log().entries())
    actors = {entry.actor for entry in entries}
    assert {f"station:st{index}" for index in range(PROCESSES)} <= actors
    assert [entry.sequence for entry in entries] == list(range(1, len(entries) + 1))
    head = database.head_file.read() if database.head_file is not None else None
    assert head is not None and head.sequence == len(entries)  # the head file moved forward only
