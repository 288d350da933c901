"""What two stations did apart that must never be merged silently, found on the line database
from its index of units and passes (kept with the entries, in the same transaction); and a line
database whose entries predate the index, indexed once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Table, select

from station.domain.records import AttemptResult
from station.store import Database, open_database
from station.store.forwarding import forward
from station.store.line import DEVELOPMENT_UNIT_PASSED, DEVICE_PASSED_TWICE, SERIAL_PASSED_TWICE, LineDatabase
from station.store.line_index import LINE_INDEX_STATE, LINE_PASSES, LINE_UNITS, rebuild_index


def station_database(directory: Path) -> Database:
    directory.mkdir(parents=True, exist_ok=True)
    database = open_database(f"sqlite:///{directory / 'station.db'}")
    database.upgrade()
    return database


def run_unit(database: Database, station: str, serial: str, device: str,
             result: AttemptResult = AttemptResult.PASSED) -> None:  # fmt: skip
    """One attempt of ``serial`` on ``device`` at ``station``, ending as ``result``."""
    recipe = database.registry.record_recipe("[recipe]\nline = 1\n", "ACME-TOASTER").sha256
    attempt = database.attempts.create_attempt(serial=serial, station=station, operator="ann", recipe_hash=recipe,
                                               product="ACME-TOASTER")  # fmt: skip
    database.attempts.set_attempt_fields(attempt.id, device_id=device)
    failed = result is not AttemptResult.PASSED
    database.attempts.finish_attempt(attempt.id, result, failure_code="TEST" if failed else None)


def rework(database: Database, station: str, serial: str, device: str) -> None:
    """A supervisor's rework: the unit erased through its debug port, a development unit for good."""
    recipe = database.registry.record_recipe("[recipe]\nline = 1\n", "ACME-TOASTER").sha256
    attempt = database.attempts.create_attempt(serial=serial, station=station, operator="sue", recipe_hash=recipe,
                                               product="ACME-TOASTER", is_rework=True)  # fmt: skip
    database.attempts.set_attempt_fields(attempt.id, device_id=device)
    database.units.mark_development(serial)
    database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_code="REWORKED")


def index_rows(line: LineDatabase) -> dict[str, list[tuple[object, ...]]]:
    """The index as it stands, without what the conflict search has looked at."""
    held: dict[str, list[tuple[object, ...]]] = {}
    with line.transaction("reading the index") as connection:
        for table in (LINE_UNITS, LINE_PASSES):
            columns = [column for column in table.c if column.name != "pending"]
            rows = connection.execute(select(*columns).order_by(*table.primary_key.columns)).all()
            held[table.name] = [tuple(row) for row in rows]
    return held


def rebuilt_rows(line: LineDatabase) -> dict[str, list[tuple[object, ...]]]:
    with line.transaction("rebuilding the index") as connection:
        rebuild_index(connection)
    return index_rows(line)


def record_both_stations(first: Database, second: Database) -> None:
    """What st-a and st-b did apart: three conflicts, and the cases that are none."""
    run_unit(first, "st-a", "SER-1", "D-1")  # SER-1 passes at both stations (two boards)
    run_unit(first, "st-a", "SER-2", "D-2")  # board D-2 passes as SER-2 here and as SER-3 at st-b
    run_unit(first, "st-a", "DEV-1", "D-3")
    rework(first, "st-a", "DEV-1", "D-3")  # erased here: D-3 passes at st-b afterwards
    run_unit(first, "st-a", "FAIL-1", "D-4", AttemptResult.FAILED)  # failed here, passes at st-b: fine
    run_unit(first, "st-a", "REW-1", "D-5")  # passed here, came back, reworked at st-b: fine
    run_unit(first, "st-a", "SOLO-1", "D-6")
    rework(first, "st-a", "SOLO-1", "D-6")  # passed, then reworked at the same station: fine
    run_unit(second, "st-b", "SER-1", "D-9")
    run_unit(second, "st-b", "SER-3", "D-2")
    run_unit(second, "st-b", "SER-4", "D-3")
    run_unit(second, "st-b", "FAIL-1", "D-4")
    rework(second, "st-b", "REW-1", "D-5")


EXPECTED = [
    (DEVELOPMENT_UNIT_PASSED, "D-3", "st-a,st-b"),
    (DEVICE_PASSED_TWICE, "D-2", "st-a,st-b"),
    (SERIAL_PASSED_TWICE, "SER-1", "st-a,st-b"),
]


@pytest.mark.parametrize("first_to_forward", ["st-a", "st-b"])
def test_each_kind_of_conflict_is_found_once_whichever_station_forwards_first(
    line: LineDatabase, tmp_path: Path, first_to_forward: str
) -> None:
    databases = {"st-a": station_database(tmp_path / "a"), "st-b": station_database(tmp_path / "b")}
    try:
        record_both_stations(databases["st-a"], databases["st-b"])
        second_to_forward = "st-b" if first_to_forward == "st-a" else "st-a"
        forward(databases[first_to_forward], line, first_to_forward, batch=3)  # a unit and its attempt apart
        assert line.find_conflicts() == []  # one station's own records never conflict
        forward(databases[second_to_forward], line, second_to_forward, batch=3)
        assert line.find_conflicts() == EXPECTED
        assert line.find_conflicts() == []  # recorded once
        assert [(kind, subject, stations) for kind, subject, stations, _ in line.conflicts()] == sorted(
            EXPECTED, key=lambda conflict: conflict[1])
        assert "serial-passed-at-two-stations" == SERIAL_PASSED_TWICE  # the CLI's and the tests' word

        indexed = index_rows(line)
        passes = {(row[0], row[3]) for row in indexed["line_passes"]}  # station, serial
        assert passes == {("st-a", "SER-1"), ("st-a", "SER-2"), ("st-a", "DEV-1"), ("st-a", "REW-1"),
                          ("st-a", "SOLO-1"), ("st-b", "SER-1"), ("st-b", "SER-3"), ("st-b", "SER-4"),
                          ("st-b", "FAIL-1")}  # fmt: skip
        # A batch sent again changes nothing, and the index is what the entries make of it.
        held = line.entries("st-a")
        assert line.append("st-a", held[:6], line.heads("st-a")[0]) == 0
        assert index_rows(line) == indexed == rebuilt_rows(line)
        # Rebuilt, everything is looked at again: nothing new, each conflict still recorded once.
        assert line.find_conflicts() == [] and len(line.conflicts()) == len(EXPECTED)
    finally:
        for database in databases.values():
            database.dispose()


def test_whether_a_device_is_a_development_unit_is_answered_by_the_index(line: LineDatabase, tmp_path: Path) -> None:
    database = station_database(tmp_path / "dev")
    try:
        run_unit(database, "st-d", "DEV-0001", "00AB_CD%EF", AttemptResult.FAILED)
        forward(database, line, "st-d")
        assert not line.is_development_device("00AB_CD%EF")
        rework(database, "st-d", "DEV-0001", "00AB_CD%EF")
        forward(database, line, "st-d")
        assert line.is_development_device("00AB_CD%EF")
        assert not line.is_development_device("00ABxCDyEF") and not line.is_development_device("00AB")
        with line.transaction("emptying the index") as connection:
            connection.execute(LINE_UNITS.delete())
        assert not line.is_development_device("00AB_CD%EF"), "the entries are not read again"
        with line.transaction("rebuilding the index") as connection:
            rebuild_index(connection)
        assert line.is_development_device("00AB_CD%EF")
    finally:
        database.dispose()


def test_a_line_database_from_before_the_index_is_indexed_once(line: LineDatabase, tmp_path: Path) -> None:
    first, second = station_database(tmp_path / "a"), station_database(tmp_path / "b")
    try:
        record_both_stations(first, second)
        forward(first, line, "st-a")
        forward(second, line, "st-b")
        expected = index_rows(line)
        with line.transaction("making it a line database from before the index") as connection:
            tables: list[Table] = [LINE_UNITS, LINE_PASSES, LINE_INDEX_STATE]
            for table in tables:
                table.drop(connection)
        upgraded = LineDatabase(line.url)
        try:
            upgraded.ensure_schema()
            assert index_rows(upgraded) == expected
            assert upgraded.is_development_device("D-3") and upgraded.is_development_device("D-5")
            assert upgraded.find_conflicts() == EXPECTED
            with upgraded.transaction("emptying the index") as connection:
                connection.execute(LINE_PASSES.delete())
            upgraded.ensure_schema()  # indexed once: not again
            assert index_rows(upgraded)["line_passes"] == []
        finally:
            upgraded.dispose()
    finally:
        first.dispose()
        second.dispose()


def test_station_line_conflicts_says_each_kind_in_words(
    line: LineDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import urlsplit

    from station.app import main
    from station.config.line import LineSettings
    from station.config.settings import StationSettings, save_settings

    first, second = station_database(tmp_path / "a"), station_database(tmp_path / "b")
    try:
        record_both_stations(first, second)
        forward(first, line, "st-a")
        forward(second, line, "st-b")
    finally:
        first.dispose()
        second.dispose()
    data = tmp_path / "supervisor"
    data.mkdir()
    url = line.url
    address = urlsplit(url)
    if address.password:  # never in the settings: libpq reads it from its password file
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"{address.hostname}:{address.port}:*:{address.username}:{address.password}\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
        url = url.replace(f":{address.password}@", "@")
    save_settings(StationSettings(line=LineSettings(database_url=url)), data / "station.toml")
    capsys.readouterr()
    assert main(["line", "conflicts", "--data-dir", str(data)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert [text.split(" ", 2)[2] for text in said] == [  # found at once: by subject
        "device-passed-under-two-serials: device D-2 PASSED under two serials (one board, two labels): st-a and st-b",
        "development-unit-passed-elsewhere: device D-3 PASSED at one station after another erased it (a development "
        "unit): st-a and st-b",
        "serial-passed-at-two-stations: serial SER-1 PASSED at st-a and st-b",
    ]
    assert main(["line", "conflicts", "--json", "--data-dir", str(data)]) == 0
    listed = json.loads(capsys.readouterr().out)["conflicts"]
    assert [(item["kind"], item["subject"], item["stations"]) for item in listed] == [
        (kind, subject, stations.split(",")) for kind, subject, stations in sorted(EXPECTED, key=lambda c: c[1])]
