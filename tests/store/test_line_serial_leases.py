"""Serials on a line: the line database cuts blocks, each station hands its serials out from its
own database; four stations (processes, own SQLite each) on one PostgreSQL line lease, bind,
fail and use serials at once without a serial used twice or lost; a station away from the line
works on what it leased while numbers are left."""

from __future__ import annotations

import itertools
import json
import random
from datetime import date
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from station.config.settings import AccessSettings
from station.domain.errors import NoLeasedSerialError, SerialAllocationError, SerialRangeExhaustedError
from station.domain.serial_numbers import parse_numbering
from station.operations.people import SUPERVISOR, People
from station.operations.serials import DEFAULT_LEASE, SerialAllocator
from station.security.station_key import load_station_key
from station.store import Database, open_database
from station.store.forwarding import forward
from station.store.line import LineDatabase
from station.store.line_serials import LineSerials

from .conftest import TestSigner
from .station_processes import run_stations

DAY = date(2026, 3, 4)
TEMPLATE = "ACME{yy}{ww}{seq:06d}"
PROCESSES = 4
UNITS_EACH = 50
BLOCK = 6


def _station_database(tmp_path: Path, name: str) -> Database:
    database = open_database(f"sqlite:///{tmp_path / name / 'station.db'}")
    database.upgrade()
    return database


def _allocator(database: Database, signer: TestSigner, name: str, line: LineDatabase | None,
               block: int = BLOCK) -> SerialAllocator:  # fmt: skip
    audit = database.audit_log(signer)
    people = People(database.registry, audit, AccessSettings())
    if people.find("sue") is None:
        people.add("sue", SUPERVISOR, "4711")
    return SerialAllocator(database, people, audit, station=name, block_size=block, today=lambda: DAY,
                           line=None if line is None else LineSerials(line))  # fmt: skip


def test_stations_lease_blocks_from_the_line_and_take_its_rule(
    line: LineDatabase, tmp_path: Path, signer: TestSigner
) -> None:
    first_db, second_db = _station_database(tmp_path, "st1"), _station_database(tmp_path, "st2")
    first, second = _allocator(first_db, signer, "st1", line), _allocator(second_db, signer, "st2", line)
    first.set_rule("WO-1", TEMPLATE, 1, 20, "sue", "4711")  # on the line, and here
    assert LineSerials(line).rule("WO-1") == parse_numbering(TEMPLATE, 1, 20, "none")
    assert second_db.serials.rule("WO-1") is None  # st2 takes the rule with its first block

    one = first.allocate_for("WO-1").serial
    two = second.allocate_for("WO-1").serial
    assert (one, two) == ("ACME2610000001", "ACME2610000007")  # two blocks of 6, never overlapping
    assert second_db.serials.rule("WO-1") == parse_numbering(TEMPLATE, 1, 20, "none")
    # Less than half a block left here: the next allocation leases the next block first.
    for _ in range(4):
        first.allocate_for("WO-1")
    blocks = LineSerials(line).blocks("WO-1")
    assert [(block.first, block.last, block.station) for block in blocks] == [
        (1, 6, "st1"),
        (7, 12, "st2"),
        (13, 18, "st1"),
    ]
    assert LineSerials(line).leased_count("WO-1") == 18
    # A rule with leased numbers does not change, on the line or here.
    with pytest.raises(SerialAllocationError, match="cannot change"):
        first.set_rule("WO-1", TEMPLATE, 1, 99, "sue", "4711")
    assert LineSerials(line).rule("WO-1") == parse_numbering(TEMPLATE, 1, 20, "none")
    # The range's end: the last block is short, then nothing is left on the line.
    for _ in range(6):
        second.allocate_for("WO-1")
    assert [(block.first, block.last) for block in LineSerials(line).blocks("WO-1")][-1] == (19, 20)
    with pytest.raises(SerialRangeExhaustedError):
        LineSerials(line).lease_block("WO-1", "st2", BLOCK)
    for database in (first_db, second_db):
        assert database.serials.counts("WO-1").adds_up
        database.dispose()


def test_a_work_order_without_a_rule_on_the_line_is_refused_and_nothing_is_leased(
    line: LineDatabase, tmp_path: Path, signer: TestSigner
) -> None:
    database = _station_database(tmp_path, "st1")
    allocator = _allocator(database, signer, "st1", line)
    with pytest.raises(SerialAllocationError, match="no serial rule on the line"):
        allocator.allocate_for("WO-NONE")
    assert LineSerials(line).blocks("WO-NONE") == [] and database.serials.rule("WO-NONE") is None
    database.dispose()


def test_a_block_leased_but_not_recorded_is_adopted_not_lost(
    line: LineDatabase, tmp_path: Path, signer: TestSigner
) -> None:
    database = _station_database(tmp_path, "st1")
    allocator = _allocator(database, signer, "st1", line)
    allocator.set_rule("WO-1", TEMPLATE, 1, 100, "sue", "4711")
    # The station stopped between the line's lease and recording it: the line says st1 holds 1..6.
    LineSerials(line).lease_block("WO-1", "st1", BLOCK)
    assert database.serials.spare("WO-1", "st1") == 0
    assert allocator.allocate_for("WO-1").serial == "ACME2610000001"  # adopted, not a new block
    assert [(block.first, block.last) for block in LineSerials(line).blocks("WO-1")] == [(1, 6)]
    while forward(database, line, "st1").pending:
        pass
    counts = LineSerials(line).counts("WO-1")
    assert (counts.totals.leased, counts.totals.free, counts.totals.allocated) == (6, 5, 1)
    assert (counts.unrecorded, counts.adds_up) == (0, True)
    database.dispose()


def test_a_block_under_another_rule_or_overlapping_is_refused(tmp_path: Path) -> None:
    database = _station_database(tmp_path, "st1")
    numbering = parse_numbering(TEMPLATE, 1, 100, "none")
    database.serials.add_leased_block("WO-1", numbering, 1, 10, "st1", DEFAULT_LEASE, leased_by="line:st1")
    with pytest.raises(SerialAllocationError, match="not the line's"):
        database.serials.add_leased_block("WO-1", parse_numbering("X{seq:04d}", 1, 100, "none"), 11, 20, "st1",
                                          DEFAULT_LEASE, leased_by="line:st1")  # fmt: skip
    with pytest.raises(SerialAllocationError, match="overlaps"):
        database.serials.add_leased_block("WO-1", numbering, 5, 14, "st1", DEFAULT_LEASE, leased_by="line:st1")
    with pytest.raises(SerialAllocationError, match="outside the range"):
        database.serials.add_leased_block("WO-1", numbering, 95, 104, "st1", DEFAULT_LEASE, leased_by="line:st1")
    assert database.serials.spare("WO-1", "st1") == 10  # only the first block was recorded
    database.dispose()


def test_a_station_away_from_the_line_works_on_its_leased_serials_until_none_is_left(
    tmp_path: Path, signer: TestSigner
) -> None:
    line = LineDatabase(f"sqlite:///{tmp_path / 'line.db'}")
    line.ensure_schema()
    database = _station_database(tmp_path, "st1")
    allocator = _allocator(database, signer, "st1", line, block=4)
    allocator.set_rule("WO-1", TEMPLATE, 1, 100, "sue", "4711")
    allocator.allocate_for("WO-1")  # leases 1..4
    (tmp_path / "line.db").unlink()  # the line is gone (a file that is not a database any more)
    (tmp_path / "line.db").mkdir()
    line.dispose()
    away = [allocator.allocate_for("WO-1").serial for _ in range(3)]  # 3 left: used without the line
    assert away == ["ACME2610000002", "ACME2610000003", "ACME2610000004"]
    allocator.release(away[-1])  # a failed unit's serial is in the pool again: the next unit takes it
    assert allocator.allocate_for("WO-1").serial == away[-1]
    with pytest.raises(NoLeasedSerialError, match="does not lease more"):
        allocator.allocate_for("WO-1")
    counts = database.serials.counts("WO-1")
    assert (counts.allocated, counts.leased, counts.free, counts.adds_up) == (4, 4, 0, True)
    database.dispose()


def _line_station(line_url: str, key_path: str, directory: str, name: str, seed: int, barrier: Barrier,
                  result_path: str) -> None:  # fmt: skip
    """One station with its own SQLite: 50 units, each a serial leased through the line; a seeded
    third fail before or after binding (their serials return to this station's pool)."""
    database = open_database(f"sqlite:///{Path(directory) / 'station.db'}")
    line = LineDatabase(line_url)
    chance = random.Random(seed)
    used: list[str] = []
    failures = 0
    try:
        database.upgrade()
        key = load_station_key(Path(key_path))
        database.seal_with(key, actor=f"station:{name}")
        audit = database.audit_log(key)
        people = People(database.registry, audit, AccessSettings())
        allocator = SerialAllocator(database, people, audit, station=name, block_size=BLOCK, today=lambda: DAY,
                                    line=LineSerials(line))  # fmt: skip
        barrier.wait(timeout=120)
        for unit in range(UNITS_EACH):
            serial = allocator.allocate_serial("WO-LINE")
            fate = chance.random()
            if fate < 0.15:  # failed at connect: no device id was read
                allocator.release(serial)
                failures += 1
                continue
            allocator.bind(serial, unit + 1, f"{seed:08X}{unit:08X}")
            if fate < 0.35:  # failed after binding, before it could carry the serial
                allocator.release(serial)
                failures += 1
                continue
            allocator.mark_used(serial)
            used.append(serial)
        counts = database.serials.counts("WO-LINE")
        while forward(database, line, name).pending:  # the station's records, to the line
            pass
    finally:
        line.dispose()
        database.dispose()
    Path(result_path).write_text(json.dumps({
        "used": used, "failures": failures, "adds_up": counts.adds_up, "leased": counts.leased, "free": counts.free,
        "returned": counts.returned, "returns": counts.returns, "used_count": counts.used,
    }), encoding="utf-8")  # fmt: skip


def test_four_stations_on_one_line_use_no_serial_twice_and_lose_none(
    postgres_url: str, signer: TestSigner, tmp_path: Path
) -> None:
    from .conftest import _reset_postgres

    _reset_postgres(postgres_url)
    line = LineDatabase(postgres_url)
    line.ensure_schema()
    LineSerials(line).set_rule("WO-LINE", parse_numbering(TEMPLATE, 1, 999999, "gs1"), "sue")
    key_path = tmp_path / "station-key.pem"
    signer.write_private_pem(key_path)
    for index in range(PROCESSES):
        (tmp_path / f"st{index}").mkdir()
    reported = run_stations(_line_station, [
        (postgres_url, str(key_path), str(tmp_path / f"st{index}"), f"st{index}", 100 + index)
        for index in range(PROCESSES)
    ], tmp_path)  # fmt: skip
    used = [serial for result in reported for serial in result["used"]]
    failures = sum(int(result["failures"]) for result in reported)
    assert len(used) + failures == PROCESSES * UNITS_EACH
    assert len(set(used)) == len(used) > 0 and failures > 0  # no serial used twice on the line
    assert all(result["adds_up"] for result in reported)  # each station: every number in one place
    blocks = LineSerials(line).blocks("WO-LINE")
    assert blocks[0].first == 1
    assert all(earlier.last + 1 == later.first for earlier, later in itertools.pairwise(blocks))  # no gap, no overlap
    leased_by: dict[str, int] = {}
    for block in blocks:
        leased_by[block.station] = leased_by.get(block.station, 0) + block.size
    # What the line leased to each station is what the station holds: free, used or in its pool.
    assert leased_by == {f"st{index}": reported[index]["leased"] for index in range(PROCESSES)}
    for result in reported:
        assert result["leased"] == result["free"] + result["used_count"] + result["returned"]
    assert sum(result["used_count"] for result in reported) == len(used)
    # The line's own report, from its leases and the stations' forwarded records, says the same.
    on_line = LineSerials(line).counts("WO-LINE")
    totals = on_line.totals
    assert on_line.adds_up and on_line.unrecorded == 0
    assert (totals.used, totals.allocated, totals.bound, totals.scrapped) == (len(used), 0, 0, 0)
    assert totals.leased == sum(leased_by.values())
    assert totals.returned == sum(result["returned"] for result in reported)
    assert totals.returns == failures  # every failed unit's serial came back once
    assert {station: states.get("used", 0) for station, states in on_line.by_station.items()} == {
        f"st{index}": reported[index]["used_count"] for index in range(PROCESSES)
    }
    line.dispose()
