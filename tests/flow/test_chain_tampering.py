"""Every record in the chain: a line's database, tampered with as an outsider would, is caught.

Units are provisioned end to end (real pyOCD on simulated units, real ptys, the real store);
then each case edits a copy of the database file with Python's sqlite3 module -- every field
of every row type, every row deleted, the newest entries or all of them removed, entries
reordered, rows made malformed -- and ``db verify`` must name the entry that recorded the row.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.app import main
from station.domain.records import AuditProblem, ChainReport
from station.store import open_database
from station.store.chain import CHAINED_TABLES, digest_columns

from .conftest import Line
from .test_crash_and_secrets import station_environment

DROP_TRIGGERS = "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"


class Pristine:
    """The provisioned database and its head file, copied for each case."""

    def __init__(self, line: Line, directory: Path) -> None:
        database = line.station.database
        assert database.head_file is not None
        database.head_file.flush()  # the newest head on disk before the file is copied
        self.directory = directory
        self.path = directory / "pristine.db"
        source = sqlite3.connect(str(line.environment.paths.data_dir / "station.db"))
        target = sqlite3.connect(str(self.path))
        source.backup(target)  # a consistent copy while the station holds the file open
        source.close()
        target.close()
        self.head = database.head_file.path
        self.public_key = line.station.station_key
        self.cases = 0

    def copy(self) -> Path:
        self.cases += 1
        case = self.directory / f"case-{self.cases}"
        case.mkdir()
        path = case / "station.db"
        shutil.copyfile(self.path, path)
        shutil.copyfile(self.head, case / "station.db.head.json")
        return path

    def query(self, sql: str, *parameters: object) -> list[tuple[object, ...]]:
        with sqlite3.connect(str(self.path)) as connection:
            return list(connection.execute(sql, parameters))

    def newest_entry(self, table: str, row_id: int) -> int:
        [(sequence,)] = self.query(
            "SELECT max(sequence) FROM audit_log WHERE record_table = ? AND record_id = ?", table, row_id)
        assert isinstance(sequence, int), (table, row_id)
        return sequence

    def verify_after(self, sql: str, *parameters: object) -> ChainReport:
        path = self.copy()
        connection = sqlite3.connect(str(path), isolation_level=None)
        try:
            connection.executescript(DROP_TRIGGERS)
            connection.execute(sql, parameters) if parameters else connection.executescript(sql)
        finally:
            connection.close()
        database = open_database(f"sqlite:///{path}")
        try:
            database.keep_head_in(path.parent)
            return database.verify_chain(self.public_key)
        finally:
            database.dispose()


@pytest.fixture
def pristine(line: Line, tmp_path: Path) -> Iterator[Pristine]:
    for number in range(2):
        unit = line.new_unit()
        outcome = line.provision(f"TST-00{7700 + number}", unit)
        assert outcome.passed, outcome
    copies = tmp_path / "copies"
    copies.mkdir()
    yield Pristine(line, copies)


def changed_value(value: object) -> object:
    if isinstance(value, bool | int):
        return int(value) + 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:] if value else b"\x00"
    if value is None:
        return "x"
    return f"{value}~"


def named(report: ChainReport, problem: AuditProblem, sequence: int | None, words: str) -> bool:
    return any(finding.problem is problem and finding.sequence == sequence and words in finding.explanation
               for finding in report.findings)


def test_the_line_database_verifies_and_every_record_type_is_in_the_chain(pristine: Pristine) -> None:
    clean = pristine.verify_after("SELECT 1")
    assert clean.ok, clean
    recorded = {table for (table,) in pristine.query("SELECT DISTINCT record_table FROM audit_log")}
    for table in ("stations", "operators", "work_orders", "recipes", "units", "attempts", "steps", "credentials",
                  "vault_parameters", "sealed_tokens", "token_uses"):
        assert table in recorded, table
        [(rows,)] = pristine.query(f"SELECT count(*) FROM {table}")
        assert clean.records_checked >= int(rows)  # type: ignore[call-overload]


def test_editing_any_field_of_any_record_is_found_at_its_entry(pristine: Pristine) -> None:
    checked = 0
    for table in CHAINED_TABLES:
        rows = pristine.query(f"SELECT id FROM {table} ORDER BY id DESC LIMIT 1")
        if not rows:
            continue
        row_id = int(rows[0][0])  # type: ignore[call-overload]
        entry = pristine.newest_entry(table, row_id)
        for column in digest_columns(table):
            [(value,)] = pristine.query(f"SELECT {column} FROM {table} WHERE id = ?", row_id)
            if column == "id" and table == "vault_parameters":
                continue  # its one row is id 1: the database itself refuses another id
            if column == "id":
                report = pristine.verify_after(f"UPDATE {table} SET id = id + 1000 WHERE id = ?", row_id)
                assert named(report, AuditProblem.RECORD_DELETED, entry, f"{table} row {row_id}"), report
                assert named(report, AuditProblem.RECORD_UNRECORDED, None, f"{table} row {row_id + 1000}")
                continue
            report = pristine.verify_after(f"UPDATE {table} SET {column} = ? WHERE id = ?", changed_value(value),
                                           row_id)
            assert not report.ok, (table, column)
            assert named(report, AuditProblem.RECORD_CHANGED, entry, f"{table} row {row_id} was changed"), (
                table, column, report.findings)
            checked += 1
    expected = sum(len(digest_columns(table)) - 1 for table in CHAINED_TABLES
                   if pristine.query(f"SELECT 1 FROM {table} LIMIT 1"))
    assert checked == expected > 70  # every column of every record type that has a row


def test_deleting_any_row_is_found_at_its_entry(pristine: Pristine) -> None:
    for table in CHAINED_TABLES:
        for (row_id,) in pristine.query(f"SELECT id FROM {table} ORDER BY id")[:3]:
            assert isinstance(row_id, int)
            report = pristine.verify_after(f"DELETE FROM {table} WHERE id = ?", row_id)
            assert named(report, AuditProblem.RECORD_DELETED, pristine.newest_entry(table, row_id),
                         f"{table} row {row_id}"), (table, row_id, report.findings)


def test_removing_the_newest_entries_with_their_rows_is_counted_from_the_head_file(pristine: Pristine) -> None:
    [(last,)] = pristine.query("SELECT max(sequence) FROM audit_log")
    [(first_of_second_unit,)] = pristine.query(
        "SELECT min(sequence) FROM audit_log WHERE record_table = 'attempts' AND record_id = "
        "(SELECT max(id) FROM attempts)")
    assert isinstance(last, int) and isinstance(first_of_second_unit, int)
    # Cut where a transaction ended (its last entry is signed); a cut inside one is found anyway.
    [(keep,)] = pristine.query("SELECT max(sequence) FROM audit_log WHERE length(signature) > 0 AND sequence < ?",
                               first_of_second_unit)
    assert isinstance(keep, int)
    [(unsigned,)] = pristine.query("SELECT max(sequence) FROM audit_log WHERE length(signature) = 0")
    inside = pristine.verify_after(f"DELETE FROM audit_log WHERE sequence > {unsigned};")
    assert inside.chain.problem is AuditProblem.UNSIGNED
    removal = "".join(
        f"DELETE FROM {table} WHERE id IN (SELECT record_id FROM audit_log WHERE record_table = '{table}' "
        f"GROUP BY record_id HAVING min(sequence) > {keep});"
        for table in CHAINED_TABLES
    ) + f"DELETE FROM audit_log WHERE sequence > {keep};"
    report = pristine.verify_after(removal)
    assert report.chain.ok  # what is left is a chain of its own ...
    assert named(report, AuditProblem.TRUNCATED, last, f"{last - keep} entries are missing"), report.findings

    everything = pristine.verify_after("DELETE FROM audit_log;")
    assert named(everything, AuditProblem.TRUNCATED, last, f"has no entries: {last} entries are missing")
    assert any(finding.problem is AuditProblem.RECORD_UNRECORDED for finding in everything.findings)


def test_an_old_copy_of_the_head_file_does_not_hide_rewritten_entries(pristine: Pristine) -> None:
    [(middle,)] = pristine.query("SELECT max(sequence) / 2 FROM audit_log")
    report = pristine.verify_after(f"UPDATE audit_log SET entry_hash = '{'0' * 64}' WHERE sequence = {middle};")
    assert report.chain.problem is AuditProblem.HASH_MISMATCH and report.chain.bad_sequence == middle


def test_reordering_entries_or_rows_is_found(pristine: Pristine) -> None:
    swapped = pristine.verify_after(
        "UPDATE audit_log SET sequence = -1 WHERE sequence = 5; UPDATE audit_log SET sequence = 5 WHERE sequence = 9;"
        " UPDATE audit_log SET sequence = 9 WHERE sequence = -1;")
    assert (swapped.chain.problem, swapped.chain.bad_sequence) == (AuditProblem.REORDERED, 5)
    steps = [int(row_id) for (row_id,) in pristine.query("SELECT id FROM steps ORDER BY id LIMIT 2")]  # type: ignore[call-overload]
    rows = pristine.verify_after(
        f"UPDATE steps SET id = -1 WHERE id = {steps[0]}; UPDATE steps SET id = {steps[0]} WHERE id = {steps[1]};"
        f" UPDATE steps SET id = {steps[1]} WHERE id = -1;")
    for step in steps:
        assert named(rows, AuditProblem.RECORD_CHANGED, pristine.newest_entry("steps", step), f"steps row {step}")


def test_malformed_rows_are_reported_without_a_traceback(
    pristine: Pristine, line: Line, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in station_environment(line).items():
        monkeypatch.setenv(name, value)
    cases = {
        "UPDATE audit_log SET recorded_at = 'not a time' WHERE sequence = 17;": "entry 17: recorded_at is not a time",
        "UPDATE audit_log SET sequence = 'seventeen' WHERE sequence = 17;": "its sequence 'seventeen' is not a whole",
        "UPDATE audit_log SET record_id = 'x' WHERE sequence = 17;": "entry 17: the record it names is not a table",
        "UPDATE attempts SET started_at = 'yesterday' WHERE id = 1;": "attempts row 1 was changed",
        "UPDATE steps SET attempt_id = 'one' WHERE id = 1;": "steps row 1 was changed",
    }
    for sql, words in cases.items():
        path = pristine.copy()
        connection = sqlite3.connect(str(path), isolation_level=None)
        connection.executescript(DROP_TRIGGERS + sql)
        connection.close()
        public_key = path.parent / "station.pub.pem"
        public_key.write_text(pristine.public_key.public_key_pem(), encoding="utf-8")
        code = main(["db", "verify", "--db", f"sqlite:///{path}", "--data-dir", str(path.parent),
                     "--public-key", str(public_key)])  # fmt: skip
        captured = capsys.readouterr()
        assert code == 1, (sql, captured)
        assert "Traceback" not in captured.out + captured.err
        assert words in captured.out, (sql, captured.out)
        assert captured.out.startswith("chain BAD:")
