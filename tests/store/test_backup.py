"""A consistent copy of the database taken while another process writes attempts, on SQLite and
PostgreSQL: every copy verifies (a copy cut inside a transaction would not), and it restores
into an empty database only. The client programs never see a station passphrase."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from station.config.paths import BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE, VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.domain.errors import BackupError
from station.domain.records import AttemptResult, JournalState, StepOutcome
from station.security.station_key import load_station_key
from station.store import Database, open_database
from station.store.backup import (
    DatabaseCopy,
    check_restore_target,
    child_environment,
    copy_database,
    restore_database,
)

from .conftest import TestSigner

COPIES = 3


def _writer(url: str, key_path: str, data_dir: str, recipe_hash: str, started: Event, stop: Event) -> None:
    """Another station's process: opens, steps and finishes attempts until told to stop."""
    database = open_database(url)
    try:
        database.seal_with(load_station_key(Path(key_path)), actor="station:writer")
        database.keep_head_in(Path(data_dir))
        number = 0
        while not stop.is_set():
            attempt = database.attempts.create_attempt(serial=f"W-{number:05d}", station="writer", operator="ann",
                                                       recipe_hash=recipe_hash, product="ACME-TOASTER")  # fmt: skip
            step = database.attempts.start_step(attempt.id, "connect")
            assert step.id is not None
            database.attempts.finish_step(step.id, StepOutcome.PASSED, advance_to=JournalState.CONNECTED)
            database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)
            number += 1
            started.set()
    finally:
        database.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _restored(copy: DatabaseCopy, db_url: str, tmp_path: Path, index: int) -> Database:
    """The copy in an empty database: a new SQLite file, or the PostgreSQL database wiped."""
    if copy.backend == "sqlite":
        url = f"sqlite:///{tmp_path / f'restored-{index}' / 'station.db'}"
    else:
        _reset_postgres(db_url)
        url = db_url
    check_restore_target(url)
    restore_database(copy.backend, copy.path, url)
    return open_database(url)


def test_copies_taken_while_another_process_writes_are_consistent(
    database: Database, db_url: str, recipe_hash: str, signer: TestSigner, tmp_path: Path
) -> None:
    key_path = tmp_path / "station-key.pem"
    signer.write_private_pem(key_path)
    context = multiprocessing.get_context("spawn")
    started, stop = context.Event(), context.Event()
    writer = context.Process(target=_writer, args=(db_url, str(key_path), str(tmp_path / "data"), recipe_hash,
                                                   started, stop))  # fmt: skip
    writer.start()
    copies: list[DatabaseCopy] = []
    try:
        assert started.wait(timeout=120), "the writer made no attempt"
        for index in range(COPIES):
            before = database.last_sequence()
            directory = tmp_path / f"copy-{index}"
            directory.mkdir()
            copy = copy_database(db_url, directory)
            assert copy.head is not None and copy.head.sequence >= before  # the copy is at least as new
            copies.append(copy)
    finally:
        stop.set()
        writer.join(timeout=120)
    assert writer.exitcode == 0
    assert len({copy.head.sequence for copy in copies if copy.head is not None}) >= 2, "the writer wrote between copies"
    for index, copy in enumerate(copies):
        restored = _restored(copy, db_url, tmp_path, index)
        try:
            report = restored.verify_chain(signer)
            assert report.ok, (index, report.chain, report.findings)
            assert restored.chain_head() == copy.head and restored.current_revision() == copy.revision
            # The copy is the database between two of the writer's transactions: every attempt but
            # the newest is finished with its step (the newest may be between its transactions).
            attempts = list(restored.attempts.iter_attempts())
            assert attempts and all(attempt.result is AttemptResult.PASSED and len(attempt.steps) == 1
                                    for attempt in attempts[:-1])  # fmt: skip
        finally:
            restored.dispose()


def test_a_copy_goes_only_into_an_empty_database(database: Database, db_url: str, tmp_path: Path) -> None:
    copy = copy_database(db_url, tmp_path)
    with pytest.raises(BackupError, match="nothing was written"):
        check_restore_target(db_url)  # the database the copy came from is not empty
    with pytest.raises(BackupError, match=r"exists already|is not empty"):
        restore_database(copy.backend, copy.path, db_url)
    assert database.current_revision() == copy.revision and database.chain_head() == copy.head  # untouched


def test_no_database_and_an_in_memory_one_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no station database at"):
        copy_database(f"sqlite:///{tmp_path / 'absent.db'}", tmp_path)
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(BackupError, match="in-memory"):
        copy_database("sqlite://", tmp_path)


def test_the_client_programs_see_no_passphrase(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE, "backup passphrase 0042")
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, "vault passphrase 0042")
    monkeypatch.setenv("PGSSLMODE", "prefer")
    monkeypatch.setenv("PGPASSWORD", "from the environment")
    environment = child_environment(tmp_path / "pgpass")
    assert not any("passphrase" in value for value in environment.values())
    assert not any(name.startswith("STATION_") for name in environment)
    assert environment["PGPASSFILE"] == str(tmp_path / "pgpass") and "PGPASSWORD" not in environment
    assert environment["PGSSLMODE"] == "prefer" and environment["PATH"] == os.environ["PATH"]
