"""The audit log: hash chain, signatures, and the database refusing changes itself.

Tampering goes through the ``sqlite3`` shell when it is installed (as an attacker with the
file would), else through Python's sqlite3 module; either way ``station db verify`` must
name the right entry.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from station.app import main
from station.domain.audit import GENESIS_HASH, audit_entry_hash, canonical_audit_bytes
from station.domain.errors import StoreError
from station.domain.records import AuditProblem
from station.store import Database, open_database

from .conftest import TestSigner

APPEND_ONLY = "audit log is append-only"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

SQLITE_SHELL = shutil.which("sqlite3")
shells = [
    pytest.param("cli", id="sqlite3-shell",
                 marks=pytest.mark.skipif(SQLITE_SHELL is None, reason="the sqlite3 shell is not installed")),
    pytest.param("python", id="python-sqlite3"),
]


def run_sql(shell: str, path: Path, sql: str) -> str:
    """Run SQL against the database file as an outsider; return the error text ('' if none)."""
    if shell == "cli":
        assert SQLITE_SHELL is not None
        completed = subprocess.run([SQLITE_SHELL, "-bail", str(path)], input=sql, capture_output=True, text=True,
                                   check=False)
        return completed.stderr if completed.returncode else ""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.executescript(sql)
    except sqlite3.DatabaseError as error:
        return str(error)
    finally:
        connection.close()
    return ""


def _fill(database: Database, signer: TestSigner, count: int = 6) -> None:
    log = database.audit_log(signer)
    for index in range(count):
        log.append_audit(f"operator:ann{index}", "tokens.import", f"imported {index} tokens",
                         at=T0 + timedelta(minutes=index))
    if database.head_file is not None:
        database.head_file.flush()  # as the process would before it ends: its head is on disk


def _verify_cli(url: str, key: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["db", "verify", "--db", url, "--public-key", str(key)])
    return code, capsys.readouterr().out


def test_chain_is_linked_hashed_and_signed(database: Database, signer: TestSigner) -> None:
    _fill(database, signer, 3)
    entries = list(database.audit_log().entries())
    assert [e.sequence for e in entries] == [1, 2, 3]
    assert entries[0].previous_hash == GENESIS_HASH
    assert entries[1].previous_hash == entries[0].entry_hash
    first = entries[0]
    assert first.recorded_at == T0
    assert canonical_audit_bytes(1, T0, "operator:ann0", "tokens.import", "imported 0 tokens", GENESIS_HASH) == (
        b'[1,"2026-03-01T08:00:00.000000+00:00","operator:ann0","tokens.import","imported 0 tokens","'
        + GENESIS_HASH.encode() + b'"]')
    assert first.entry_hash == audit_entry_hash(1, T0, first.actor, first.action, first.detail, GENESIS_HASH)
    assert signer.verify(bytes.fromhex(first.entry_hash), first.signature)
    outcome = database.audit_log().verify_audit(signer)
    assert outcome.ok and outcome.entries_checked == 3 and outcome.last_hash == entries[-1].entry_hash


def test_empty_log_verifies(database: Database, signer: TestSigner) -> None:
    outcome = database.audit_log().verify_audit(signer)
    assert outcome.ok and outcome.entries_checked == 0


def test_appending_needs_a_signer(database: Database) -> None:
    with pytest.raises(StoreError, match="signing key"):
        database.audit_log().append_audit("a", "b", "c")


def test_another_key_fails_at_the_first_entry(database: Database, signer: TestSigner) -> None:
    _fill(database, signer, 2)
    outcome = database.audit_log().verify_audit(TestSigner())
    assert (outcome.bad_sequence, outcome.problem) == (1, AuditProblem.BAD_SIGNATURE)


def test_concurrent_appends_leave_no_gaps(database: Database, signer: TestSigner) -> None:
    import threading

    log = database.audit_log(signer)
    threads = [threading.Thread(target=lambda n=n: [log.append_audit("t", "a", f"{n}-{i}") for i in range(5)])
               for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [e.sequence for e in log.entries()] == list(range(1, 31))
    assert log.verify_audit(signer).ok


def test_update_and_delete_are_refused_by_the_database(database: Database, signer: TestSigner) -> None:
    _fill(database, signer, 2)
    for statement in ("UPDATE audit_log SET detail = 'x' WHERE sequence = 1",
                      "DELETE FROM audit_log WHERE sequence = 2"):
        with pytest.raises(StoreError, match=APPEND_ONLY), database._sessions.writing() as session:
            session.execute(text(statement))
    if database.engine.dialect.name == "postgresql":
        with pytest.raises(StoreError, match=APPEND_ONLY), database._sessions.writing() as session:
            session.execute(text("TRUNCATE audit_log"))
    assert database.audit_log().verify_audit(signer).entries_checked == 2


@pytest.mark.parametrize("shell", shells)
def test_sql_update_and_delete_fail_with_the_trigger_message(
    shell: str, sqlite_database: Database, sqlite_path: Path, signer: TestSigner
) -> None:
    _fill(sqlite_database, signer, 3)
    assert APPEND_ONLY in run_sql(shell, sqlite_path, "UPDATE audit_log SET detail = 'forged' WHERE sequence = 2;")
    assert APPEND_ONLY in run_sql(shell, sqlite_path, "DELETE FROM audit_log WHERE sequence = 3;")
    assert sqlite_database.audit_log().verify_audit(signer).entries_checked == 3


DROP_TRIGGERS = "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"

TAMPERING = {
    "changed-detail": ("UPDATE audit_log SET detail = 'imported 0 tokens' WHERE sequence = 3;",
                       3, AuditProblem.HASH_MISMATCH),
    "changed-actor": ("UPDATE audit_log SET actor = 'operator:eve' WHERE sequence = 5;",
                      5, AuditProblem.HASH_MISMATCH),
    "changed-time": ("UPDATE audit_log SET recorded_at = '2020-01-01 00:00:00.000000' WHERE sequence = 2;",
                     2, AuditProblem.HASH_MISMATCH),
    "deleted": ("DELETE FROM audit_log WHERE sequence = 4;", 4, AuditProblem.SEQUENCE_GAP),
    "deleted-first": ("DELETE FROM audit_log WHERE sequence = 1;", 1, AuditProblem.SEQUENCE_GAP),
    "deleted-and-renumbered": (
        "DELETE FROM audit_log WHERE sequence = 3; UPDATE audit_log SET sequence = sequence - 1 WHERE sequence > 3;",
        3, AuditProblem.BROKEN_LINK),
    "swapped": (
        "UPDATE audit_log SET sequence = -1 WHERE sequence = 2; UPDATE audit_log SET sequence = 2 WHERE sequence = 4;"
        " UPDATE audit_log SET sequence = 4 WHERE sequence = -1;",
        2, AuditProblem.REORDERED),
    "signature-replaced": (
        "UPDATE audit_log SET signature = (SELECT signature FROM audit_log WHERE sequence = 1) WHERE sequence = 6;",
        6, AuditProblem.BAD_SIGNATURE),
}


@pytest.mark.parametrize("shell", shells)
@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_reported_at_the_right_entry(
    shell: str, case: str, sqlite_database: Database, sqlite_url: str, sqlite_path: Path,
    signer: TestSigner, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _fill(sqlite_database, signer, 6)
    key = tmp_path / "station.pub.pem"
    signer.write_public_pem(key)
    head = list(sqlite_database.audit_log().entries())[-1].entry_hash
    assert _verify_cli(sqlite_url, key, capsys) == (
        0, f"chain OK: 6 entries verified, head {head}; 0 records match their entries; the head file (entry 6) "
           "agrees\n")
    sql, sequence, problem = TAMPERING[case]
    assert run_sql(shell, sqlite_path, DROP_TRIGGERS + sql) == ""

    outcome = sqlite_database.audit_log().verify_audit(signer)
    assert (outcome.bad_sequence, outcome.problem) == (sequence, problem), outcome.explanation
    code, out = _verify_cli(sqlite_url, key, capsys)
    assert code == 1
    assert out.splitlines()[1].startswith(f"  entry {sequence}: {problem.value}")


def test_rehashed_forgery_fails_on_the_signature(
    sqlite_database: Database, sqlite_path: Path, signer: TestSigner
) -> None:
    """Someone who recomputes the hash of a changed entry still cannot sign it."""
    _fill(sqlite_database, signer, 3)
    entry = list(sqlite_database.audit_log().entries())[1]
    forged_hash = audit_entry_hash(2, entry.recorded_at, entry.actor, entry.action, "forged", entry.previous_hash)
    assert run_sql("python", sqlite_path, DROP_TRIGGERS +
                   f"UPDATE audit_log SET detail = 'forged', entry_hash = '{forged_hash}' WHERE sequence = 2;") == ""
    outcome = sqlite_database.audit_log().verify_audit(signer)
    assert (outcome.bad_sequence, outcome.problem) == (2, AuditProblem.BAD_SIGNATURE)


def test_verify_reads_the_station_key_by_default(
    sqlite_url: str, sqlite_database: Database, signer: TestSigner, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _fill(sqlite_database, signer, 2)
    data_dir = tmp_path / "station-data"
    data_dir.mkdir()
    monkeypatch.setenv("STATION_DATA_DIR", str(data_dir))
    monkeypatch.setenv("STATION_DB_URL", sqlite_url)
    assert main(["db", "verify"]) == 2
    assert "does not exist" in capsys.readouterr().err
    signer.write_private_pem(data_dir / "station-key.pem")
    assert main(["db", "verify"]) == 0
    assert "chain OK: 2 entries" in capsys.readouterr().out
    public = tmp_path / "station.pub.pem"
    signer.write_public_pem(public)
    assert main(["db", "verify", "--public-key", str(public)]) == 0
    public.write_text("not a key")
    assert main(["db", "verify", "--public-key", str(public)]) == 2
    assert "not a PEM public key" in capsys.readouterr().err
    assert main(["db", "verify", "--public-key", str(tmp_path / "missing.pem")]) == 2
    assert "cannot read the public key" in capsys.readouterr().err


def test_verify_on_postgresql_detects_changes_made_around_the_triggers(database: Database, signer: TestSigner) -> None:
    _fill(database, signer, 4)
    with database.engine.begin() as connection:
        if database.engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(text("UPDATE audit_log SET detail = 'changed' WHERE sequence = 3"))
    outcome = database.audit_log().verify_audit(signer)
    assert (outcome.bad_sequence, outcome.problem) == (3, AuditProblem.HASH_MISMATCH)


def test_a_fresh_database_handle_verifies_an_existing_log(sqlite_url: str, signer: TestSigner) -> None:
    first = open_database(sqlite_url)
    first.upgrade()
    _fill(first, signer, 3)
    first.dispose()
    second = open_database(sqlite_url)
    assert second.audit_log().verify_audit(signer).entries_checked == 3
    second.dispose()
