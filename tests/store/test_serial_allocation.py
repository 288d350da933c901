"""Serials leased to stations in blocks, bound, returned, used and scrapped: on SQLite and
PostgreSQL, and by four stations (processes) at once with random failures."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import text

from station.config.settings import AccessSettings
from station.domain.errors import AccessError, SerialAllocationError, SerialRangeExhaustedError
from station.domain.serial_numbers import SerialState, parse_numbering
from station.operations.people import SUPERVISOR, People
from station.operations.serials import SerialAllocator
from station.security.station_key import load_station_key
from station.store import Database, open_database

from .conftest import TestSigner
from .station_processes import run_stations

DAY = date(2026, 3, 4)
LEASE = timedelta(hours=1)
PROCESSES = 4
UNITS_EACH = 50
BLOCK = 7


def _allocate(database: Database, station: str, *, work_order: str = "WO-1", block: int = 2,
              at: datetime | None = None) -> str:  # fmt: skip
    return database.serials.allocate(work_order, station, day=DAY, block_size=block, lease=LEASE, at=at).serial


def _rule(database: Database, first: int = 1, last: int = 999999, work_order: str = "WO-1") -> None:
    database.serials.set_rule(work_order, parse_numbering("ACME{yy}{ww}{seq:06d}", first, last, "gs1"), "sue")


def test_a_serial_is_bound_used_or_returned_and_a_returned_one_goes_to_the_next_unit(database: Database) -> None:
    _rule(database)
    first = _allocate(database, "st1")
    assert first == "ACME26100000016"  # week 10 of 2026, number 1, GS1 check digit 6
    bound = database.serials.bind(first, "st1", 11, "00000000AAAA0001")
    assert (bound.state, bound.attempt_id, bound.device_id) == (SerialState.BOUND, 11, "00000000AAAA0001")
    assert database.serials.bind(first, "st1", 11, "00000000AAAA0001") == bound  # again: no change
    returned = database.serials.release(first, "st1")  # the unit failed before passing
    assert (returned.state, returned.device_id, returned.times_returned) == (SerialState.RETURNED, None, 1)
    assert _allocate(database, "st1") == first  # the next unit takes it
    database.serials.bind(first, "st1", 12, "00000000AAAA0002")
    assert database.serials.mark_used(first, "st1").state is SerialState.USED
    second = _allocate(database, "st1")
    assert database.serials.get(second) is not None and second != first
    counts = database.serials.counts("WO-1")
    assert (counts.leased, counts.free, counts.allocated, counts.used, counts.returned, counts.returns) == (
        2, 0, 1, 1, 0, 1)
    assert counts.adds_up and counts.unleased == 999999 - 2
    with pytest.raises(SerialAllocationError, match="only a serial bound to a device is used"):
        database.serials.mark_used(second, "st1")
    with pytest.raises(SerialAllocationError, match="is used; only an allocated or bound serial returns"):
        database.serials.release(first, "st1")


def test_the_range_is_never_exceeded_and_exhaustion_changes_nothing(database: Database) -> None:
    _rule(database, first=1, last=3)
    serials = [_allocate(database, "st1"), _allocate(database, "st2"), _allocate(database, "st1")]
    assert len(set(serials)) == 3
    before = database.serials.counts("WO-1")
    with pytest.raises(SerialRangeExhaustedError, match=r"WO-1 has no serial left: every number of 1..3") as refused:
        _allocate(database, "st2")
    assert refused.value.code == "SERIAL_RANGE_EXHAUSTED" and refused.value.needs_person
    assert database.serials.counts("WO-1") == before
    assert before.leased == 3 and before.unleased == 0 and before.adds_up
    database.serials.release(serials[1], "st2")
    assert _allocate(database, "st2") == serials[1]  # a returned serial is still there to take


def test_another_stations_serial_is_refused_and_a_device_carries_one_serial(database: Database) -> None:
    _rule(database)
    mine, theirs = _allocate(database, "st1"), _allocate(database, "st2")
    assert database.serials.counts("WO-1").leased == 4  # one block each: never overlapping
    acts: list[Callable[[], object]] = [lambda: database.serials.bind(theirs, "st1", 1, "00000000BBBB0001"),
                                         lambda: database.serials.release(theirs, "st1"),
                                         lambda: database.serials.mark_used(theirs, "st1")]  # fmt: skip
    for act in acts:
        with pytest.raises(SerialAllocationError, match=f"serial {theirs} is leased to station st2, not st1"):
            act()
    record = database.serials.get(theirs)
    assert record is not None and (record.state, record.device_id) == (SerialState.ALLOCATED, None)
    database.serials.bind(mine, "st1", 1, "00000000BBBB0001")
    with pytest.raises(SerialAllocationError, match=f"device 00000000BBBB0001 already carries serial {mine}"):
        database.serials.bind(theirs, "st2", 2, "00000000BBBB0001")
    with pytest.raises(SerialAllocationError, match="no serial NOPE was allocated"):
        database.serials.bind("NOPE", "st1", 1, "00000000BBBB0002")
    with pytest.raises(SerialAllocationError, match="WO-2 has no serial rule"):
        _allocate(database, "st1", work_order="WO-2")


def test_an_expired_lease_is_taken_over_with_its_returned_serials(database: Database) -> None:
    _rule(database)
    start = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    first = _allocate(database, "st1", block=3, at=start)
    database.serials.release(first, "st1")
    assert _allocate(database, "st2", block=1, at=start + LEASE / 2) != first  # st1's lease still runs
    taken = database.serials.allocate("WO-1", "st2", day=DAY, block_size=1, lease=LEASE, at=start + 2 * LEASE)
    assert (taken.serial, taken.station) == (first, "st2")  # st1 stopped: its lease went to st2
    with pytest.raises(SerialAllocationError, match="leased to station st2, not st1"):
        database.serials.bind(first, "st1", 1, "00000000CCCC0001")
    counts = database.serials.counts("WO-1")
    assert (counts.leased, counts.free, counts.allocated) == (4, 2, 2) and counts.adds_up
    assert _allocate(database, "st2", block=1, at=start + 2 * LEASE) == "ACME2610000002" + "3"  # then its numbers


def test_a_rule_is_kept_once_serials_are_leased(database: Database) -> None:
    _rule(database, last=500)
    _rule(database, last=500)  # the same rule again: nothing changes
    _rule(database, last=900)  # nothing leased yet: it may still change
    assert database.serials.rule("WO-1") == parse_numbering("ACME{yy}{ww}{seq:06d}", 1, 900, "gs1")
    _allocate(database, "st1")
    with pytest.raises(SerialAllocationError, match="cannot change"):
        _rule(database, last=999)
    assert database.serials.counts("WO-1").range_size == 900


def test_a_scrap_is_a_supervisors_signed_and_audited_decision(database: Database, signer: TestSigner) -> None:
    audit = database.audit_log(signer)
    people = People(database.registry, audit, AccessSettings())
    people.add("sue", SUPERVISOR, "4711")
    people.add("ann", "operator", None)
    allocator = SerialAllocator(database, people, audit, station="st1", block_size=2, today=lambda: DAY)
    allocator.set_rule("WO-1", "ACME{yy}{ww}{seq:06d}", 1, 99, "sue", "4711")
    serial = allocator.allocate_for("WO-1").serial
    with pytest.raises(AccessError):
        allocator.scrap(serial, "ann", "4711", "label torn")
    with pytest.raises(AccessError, match="say why"):
        allocator.scrap(serial, "sue", "4711", "  ")
    assert allocator.allocation_counts("WO-1").allocated == 1  # refused: nothing changed
    scrapped = allocator.scrap(serial, "sue", "4711", "label torn  at the printer")
    assert (scrapped.state, scrapped.scrapped_by, scrapped.scrap_reason) == (
        SerialState.SCRAPPED, "sue", "label torn at the printer")
    assert allocator.allocate_for("WO-1").serial != serial  # gone for good
    with pytest.raises(SerialAllocationError, match="is scrapped; it cannot be scrapped"):
        allocator.scrap(serial, "sue", "4711", "again")
    entries = list(audit.entries())
    assert any(entry.action == "serial.scrapped" and entry.actor.endswith("sue") and serial in entry.detail
               and "label torn at the printer" in entry.detail for entry in entries)  # fmt: skip
    assert any(entry.record is not None and entry.record.table == "serials" and entry.action == "serial.update"
               and "scrapped" in entry.detail
               for entry in entries)  # the row itself is in the chain
    counts = allocator.allocation_counts("WO-1")
    assert (counts.scrapped, counts.allocated, counts.adds_up) == (1, 1, True)
    report = database.verify_chain(signer)
    assert report.ok, report.findings


def _station(url: str, key_path: str, name: str, seed: int, barrier: Barrier, result_path: str) -> None:
    """One station: 50 units, each taking a serial; a seeded third fail before or after binding."""
    database = open_database(url)
    chance = random.Random(seed)
    used: list[str] = []
    failures = 0
    try:
        database.seal_with(load_station_key(Path(key_path)), actor=f"station:{name}")
        barrier.wait(timeout=120)
        for unit in range(UNITS_EACH):
            serial = database.serials.allocate("WO-LINE", name, day=DAY, block_size=BLOCK, lease=LEASE).serial
            fate = chance.random()
            if fate < 0.15:  # failed at connect: no device id was read
                database.serials.release(serial, name)
                failures += 1
                continue
            device = f"{seed:08X}{unit:08X}"
            database.serials.bind(serial, name, seed * 1000 + unit, device)
            if fate < 0.35:  # failed after binding, before its label
                database.serials.release(serial, name)
                failures += 1
                continue
            database.serials.mark_used(serial, name)
            used.append(serial)
    finally:
        database.dispose()
    Path(result_path).write_text(json.dumps({"used": used, "failures": failures}), encoding="utf-8")


def test_four_stations_at_once_use_no_serial_twice_and_lose_none(
    database: Database, db_url: str, signer: TestSigner, tmp_path: Path
) -> None:
    _rule(database, first=1, last=999999, work_order="WO-LINE")
    key_path = tmp_path / "station-key.pem"
    signer.write_private_pem(key_path)
    stations = [(db_url, str(key_path), f"st{index}", 100 + index) for index in range(PROCESSES)]
    reported = run_stations(_station, stations, tmp_path)
    used = [serial for result in reported for serial in result["used"]]
    failures = sum(int(result["failures"]) for result in reported)
    assert len(used) + failures == PROCESSES * UNITS_EACH
    assert len(set(used)) == len(used) > 0 and failures > 0  # no serial used twice

    counts = database.serials.counts("WO-LINE")
    assert counts.adds_up  # every leased number is free in a lease or in exactly one state
    assert (counts.used, counts.returns, counts.allocated, counts.bound, counts.scrapped) == (
        len(used), failures, 0, 0, 0)
    assert counts.leased == counts.free + counts.used + counts.returned
    with database.engine.connect() as connection:
        blocks = connection.execute(text(
            "SELECT first_seq, last_seq, next_seq FROM serial_blocks ORDER BY first_seq")).all()
        seqs = [row[0] for row in connection.execute(text("SELECT seq FROM serials ORDER BY seq")).all()]
        states = {str(row[0]): str(row[1]) for row in connection.execute(text("SELECT serial, state FROM serials"))}
        devices = [row[0] for row in connection.execute(text(
            "SELECT device_id FROM serials WHERE device_id IS NOT NULL")).all()]
    assert blocks[0][0] == 1 and all(earlier[1] + 1 == later[0] for earlier, later in itertools.pairwise(blocks))
    handed_out = [seq for first, _last, next_seq in blocks for seq in range(first, next_seq)]
    assert seqs == handed_out  # each number handed out has exactly one row; none skipped or doubled
    assert all(states[serial] == "used" for serial in used) and len(set(devices)) == len(devices) == len(used)
    assert sum(1 for state in states.values() if state == "returned") == counts.returned

    database.audit_log(signer).append_audit("supervisor:sue", "test.end", "all stations done")  # signs the tail
    report = database.verify_chain(signer)
    assert report.ok, (report.chain, report.findings, report.head_note)
