"""Store and forward (issue 19 items 2 and 3): a station's chain reaches the line database once,
in order, through outages; a station database that lost entries is found against the line."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import postgres_server
import pytest

from station.domain.errors import LineDatabaseError
from station.domain.records import AttemptResult, JournalState, StepOutcome
from station.store import Database, open_database
from station.store.forwarding import compare_with_line, forward, local_entries
from station.store.line import LineDatabase

WORKER = Path(__file__).with_name("line_station_worker.py")


def station_database(directory: Path) -> Database:
    directory.mkdir(parents=True, exist_ok=True)
    database = open_database(f"sqlite:///{directory / 'station.db'}")
    database.upgrade()
    return database


def record_units(database: Database, station: str, first: int, count: int) -> None:
    recipe = database.registry.record_recipe("[recipe]\nline = 1\n", "ACME-TOASTER").sha256
    for number in range(first, first + count):
        attempt = database.attempts.create_attempt(serial=f"{station}-{number:04d}", station=station,
                                                   operator="ann", recipe_hash=recipe, product="ACME-TOASTER")
        step = database.attempts.start_step(attempt.id, "connect")
        database.attempts.finish_step(step.id or 0, StepOutcome.PASSED, advance_to=JournalState.CONNECTED)
        database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)


def test_a_stations_chain_reaches_the_line_once_in_order_and_truncation_is_found(
    line: LineDatabase, tmp_path: Path
) -> None:
    database = station_database(tmp_path / "st1")
    try:
        record_units(database, "st1", 1, 3)
        report = forward(database, line, "st1", batch=7)  # several batches
        assert report.forwarded == report.local_sequence == report.line_sequence > 0 and report.pending == 0
        with database.engine.connect() as connection:
            local = local_entries(connection, 0, 10_000)
        held = line.entries("st1")
        assert [(entry.sequence, entry.entry_hash, entry.row_json) for entry in held] == [
            (entry.sequence, entry.entry_hash, entry.row_json) for entry in local]
        assert all(entry.row_json for entry in held if entry.record_table), "every recorded row travels with it"
        assert line.heads("st1")[-1].sequence == report.local_sequence
        # Forwarded again, and a batch sent twice: stored once.
        assert forward(database, line, "st1").forwarded == 0
        assert line.append("st1", held[:5], line.heads("st1")[0]) == 0
        assert len(line.entries("st1")) == len(local)
        assert compare_with_line(database, line, "st1").ok

        # An older copy of the station's database (a truncation, or an old backup put back).
        database.dispose()
        shutil.copy(tmp_path / "st1" / "station.db", tmp_path / "older.db")
        database = open_database(f"sqlite:///{tmp_path / 'st1' / 'station.db'}")
        record_units(database, "st1", 4, 2)
        forward(database, line, "st1")
        database.dispose()
        shutil.copy(tmp_path / "older.db", tmp_path / "st1" / "station.db")
        database = open_database(f"sqlite:///{tmp_path / 'st1' / 'station.db'}")
        found = compare_with_line(database, line, "st1")
        assert not found.ok and found.line_sequence > found.local_sequence
        assert "entries are gone here" in found.problems[0]
        # Written on after that: a history the line does not hold is refused, never merged.
        record_units(database, "st1", 4, 1)
        with pytest.raises(LineDatabaseError, match=r"not the history the line holds|it lost entries"):
            forward(database, line, "st1")
    finally:
        database.dispose()


def test_a_changed_outbox_row_is_not_forwarded(line: LineDatabase, tmp_path: Path) -> None:
    database = station_database(tmp_path / "st2")
    try:
        record_units(database, "st2", 1, 1)
        with database.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE outbox_records SET row_json = replace(row_json, 'st2-0001', 'st2-9999')")
        with pytest.raises(LineDatabaseError, match="does not match the digest"):
            forward(database, line, "st2")
        # The batch holding the changed row is refused whole: the line holds nothing of it, no head either.
        assert line.entries("st2") == [] and line.heads("st2") == []
        assert line.last_entry("st2") is None
    finally:
        database.dispose()


def test_two_stations_forward_through_a_line_outage(line_server: postgres_server.RunningServer,
                                                   tmp_path: Path) -> None:  # fmt: skip
    """Two stations (two processes, own SQLite each) record 20 units each while the line database
    is stopped (pg_ctl stop -m immediate) in the middle and started again: every entry reaches
    the line once, in order, and each station's database agrees with the line."""
    line = LineDatabase(line_server.url)
    line.ensure_schema()
    units = 20
    workers, progress = [], {}
    for station in ("st-a", "st-b"):
        progress[station] = tmp_path / f"{station}.progress"
        (tmp_path / station).mkdir()
        workers.append(subprocess.Popen(
            [sys.executable, str(WORKER), station, str(tmp_path / station), line_server.url, str(units),
             str(progress[station])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip

    def recorded(station: str) -> tuple[int, int]:
        text = progress[station].read_text() if progress[station].exists() else "0 0"
        number, failures = text.split()[:2]
        return int(number), int(failures)

    def wait_until(condition: object, what: str) -> None:
        deadline = time.monotonic() + 120
        while not condition():  # type: ignore[operator]
            assert all(worker.poll() is None or worker.returncode == 0 for worker in workers), what
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            time.sleep(0.05)

    try:
        wait_until(lambda: all(recorded(station)[0] >= 5 for station in progress), "both stations recorded 5 units")
        line_server.stop_immediately()
        wait_until(lambda: all(recorded(station)[1] >= 1 for station in progress) or
                   all(recorded(station)[0] >= units for station in progress), "both stations met the outage")
        line_server.start_again()
        for worker in workers:
            _, err = worker.communicate(timeout=180)
            assert worker.returncode == 0, err
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert any(recorded(station)[1] for station in progress), "the outage was met by a forward"
    for station in progress:
        database = open_database(f"sqlite:///{tmp_path / station / 'station.db'}")
        try:
            held = line.entries(station)
            assert [entry.sequence for entry in held] == list(range(1, database.last_sequence() + 1))
            comparison = compare_with_line(database, line, station)
            assert comparison.ok, comparison.problems
            assert comparison.line_sequence == comparison.local_sequence
            serials = {entry.row_json.split('"serial":"')[1].split('"')[0] for entry in held
                       if entry.record_table == "units" and entry.row_json}  # fmt: skip
            assert len(serials) == units
        finally:
            database.dispose()
    line.dispose()


def test_a_serial_passed_at_two_stations_while_apart_is_a_conflict_to_inspect(
    line: LineDatabase, tmp_path: Path
) -> None:
    """Both stations worked on their own journals (the line away): each passed serial SAME-0001.
    Once both forwarded, the line records the conflict for a supervisor; nothing is merged."""
    first, second = station_database(tmp_path / "x"), station_database(tmp_path / "y")
    try:
        record_units(first, "SAME", 1, 1)
        record_units(second, "SAME", 1, 2)  # SAME-0001 and SAME-0002
        record_units(first, "ONLY", 1, 1)
        forward(first, line, "st-x")
        assert line.find_conflicts() == []
        forward(second, line, "st-y")
        found = line.find_conflicts()
        assert found == [("serial-passed-at-two-stations", "SAME-0001", "st-x,st-y")]
        assert line.find_conflicts() == []  # recorded once
        assert [(kind, subject, stations) for kind, subject, stations, _ in line.conflicts()] == found
        # Each station's own records are untouched, and each still agrees with the line.
        assert compare_with_line(first, line, "st-x").ok and compare_with_line(second, line, "st-y").ok
    finally:
        first.dispose()
        second.dispose()


def test_one_live_attempt_per_serial_on_the_whole_line(line: LineDatabase) -> None:
    from station.domain.errors import AlreadyPassedError, SerialInProgressError

    line.claim("TST-000100", "st-a")
    line.claim("TST-000100", "st-a")  # the station's own claim: its journal decides
    with pytest.raises(SerialInProgressError, match="being provisioned at station st-a"):
        line.claim("TST-000100", "st-b")
    line.release("TST-000100", "st-b", passed=True)  # not st-b's: nothing changes
    with pytest.raises(SerialInProgressError):
        line.claim("TST-000100", "st-b")
    line.release("TST-000100", "st-a", passed=False)  # failed at st-a: another station may take it
    line.claim("TST-000100", "st-b")
    line.release("TST-000100", "st-b", passed=True)
    with pytest.raises(AlreadyPassedError, match="already PASSED at station st-b"):
        line.claim("TST-000100", "st-a")
    line.claim("TST-000100", "st-b")  # st-b's own journal refuses it (already passed) by itself


def test_a_development_unit_of_one_station_is_one_on_the_whole_line(line: LineDatabase, tmp_path: Path) -> None:
    database = station_database(tmp_path / "dev")
    try:
        recipe = database.registry.record_recipe("[recipe]\nline = 1\n", "ACME-TOASTER").sha256
        attempt = database.attempts.create_attempt(serial="DEV-0001", station="st-d", operator="ann",
                                                   recipe_hash=recipe, product="ACME-TOASTER")  # fmt: skip
        database.attempts.set_attempt_fields(attempt.id, device_id="00AB_CD%EF")
        database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_code="REWORKED")
        forward(database, line, "st-d")
        assert not line.is_development_device("00AB_CD%EF")  # recorded, not (yet) a development unit
        database.units.mark_development("DEV-0001")
        forward(database, line, "st-d")
        assert line.is_development_device("00AB_CD%EF")
        assert not line.is_development_device("00ABxCDyEF") and not line.is_development_device("00AB")
    finally:
        database.dispose()


def test_a_work_orders_places_are_counted_on_the_whole_line(line: LineDatabase) -> None:
    from station.domain.errors import WorkOrderCompleteError

    line.claim("WO-0001", "st-a", "WO-7", 2)
    line.claim("WO-0002", "st-b", "WO-7", 2)
    with pytest.raises(WorkOrderCompleteError, match="WO-7 is complete: 2 of 2"):
        line.claim("WO-0003", "st-a", "WO-7", 2)
    line.release("WO-0002", "st-b", passed=False)  # failed: its place is free again
    line.claim("WO-0003", "st-a", "WO-7", 2)
    line.claim("OTHER-01", "st-b", "WO-8", 1)  # another work order has its own places


def test_stations_racing_for_a_work_orders_last_places_get_exactly_them(line: LineDatabase) -> None:
    from station.domain.errors import WorkOrderCompleteError

    others = [LineDatabase(line.url) for _ in range(6)]
    won: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(len(others))

    def claim(index: int) -> None:
        start.wait()
        try:
            others[index].claim(f"RACE-{index}", f"st-{index}", "WO-RACE", 3)
            won.append(f"RACE-{index}")
        except WorkOrderCompleteError:
            refused.append(f"RACE-{index}")

    threads = [threading.Thread(target=claim, args=(index,)) for index in range(len(others))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.dispose()
    assert len(won) == 3 and len(refused) == 3
