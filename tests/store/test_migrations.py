"""Schema management: migrations reach the current schema, and the station refuses others."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from station.app import main
from station.domain.errors import StoreError
from station.domain.records import AttemptResult, AuditProblem
from station.store import Database, head_revision, migration_config, open_database
from station.store.database import MIGRATIONS_DIR
from station.store.models import Base

from .conftest import TestSigner

FIRST_REVISION = "0001"


def _run_alembic(url: str, tmp_path: Path, *arguments: str) -> None:
    """The stock ``alembic`` command with a throw-away ini file: the station itself needs none."""
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {MIGRATIONS_DIR}\nsqlalchemy.url = {url}\n", encoding="utf-8")
    alembic = Path(sys.executable).with_name("alembic")
    completed = subprocess.run([str(alembic), "-c", str(ini), *arguments], capture_output=True, text=True,
                               check=False)
    assert completed.returncode == 0, completed.stderr


def test_head_is_the_second_migration_or_later() -> None:
    assert head_revision() != FIRST_REVISION


def test_upgrade_of_an_empty_sqlite_file_reaches_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new" / "dir" / "station.db"
    assert main(["db", "upgrade", "--db", f"sqlite:///{path}"]) == 0
    assert f"to schema revision {head_revision()}" in capsys.readouterr().out
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    connection.close()
    assert main(["db", "upgrade", "--db", f"sqlite:///{path}"]) == 0  # idempotent
    assert "already at schema revision" in capsys.readouterr().out


def test_upgrade_of_an_existing_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    path.touch()
    assert main(["db", "upgrade", "--db", f"sqlite:///{path}"]) == 0
    open_database(f"sqlite:///{path}").check_schema()


def test_upgrade_from_the_first_migration_keeps_data_and_reaches_head(db_url: str, tmp_path: Path) -> None:
    _run_alembic(db_url, tmp_path, "upgrade", FIRST_REVISION)
    database = open_database(db_url)
    try:
        assert database.current_revision() == FIRST_REVISION
        with pytest.raises(StoreError, match="run `station db upgrade`"):
            database.check_schema()
        # A row written by the first schema's code (no is_rework / is_golden columns yet).
        with database.engine.begin() as connection:
            now = datetime(2026, 1, 1, tzinfo=UTC)
            connection.execute(text("INSERT INTO stations (name, description, created_at) VALUES ('s', '', :t)"),
                               {"t": now})
            connection.execute(
                text("INSERT INTO units (serial, first_seen_at, is_development) VALUES ('SN-OLD', :t, :f)"),
                {"t": now, "f": False},
            )
        assert main(["db", "upgrade", "--db", db_url]) == 0
        assert database.current_revision() == head_revision()
        database.check_schema()
        unit = database.units.get_unit("SN-OLD")
        assert unit is not None and unit.is_golden is False
        assert "token_uses" in inspect(database.engine).get_table_names()
    finally:
        database.dispose()


def test_migrations_and_models_agree(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_downgrade_to_the_first_migration_and_back(db_url: str) -> None:
    database = open_database(db_url)
    try:
        database.upgrade()
        config = migration_config()  # Database.upgrade never goes down; Alembic's command does
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, FIRST_REVISION)
        assert database.current_revision() == FIRST_REVISION
        database.upgrade()
        assert database.current_revision() == head_revision()
    finally:
        database.dispose()


def test_a_chain_that_records_rows_is_not_downgraded(database: Database, recipe_hash: str) -> None:
    attempt = database.attempts.create_attempt(serial="SN-1", station="s", operator="o", recipe_hash=recipe_hash,
                                               product="ACME-TOASTER")
    database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)
    config = migration_config()
    with pytest.raises(StoreError, match="restore the backup made before the upgrade"), \
            database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, FIRST_REVISION)
    assert database.current_revision() == head_revision()
    assert database.attempts.get_attempt(attempt.id).result is AttemptResult.PASSED


def test_schema_check_refuses_a_database_without_schema(db_url: str) -> None:
    database = open_database(db_url)
    try:
        with pytest.raises(StoreError, match=r"no station schema yet; run `station db upgrade`"):
            database.check_schema()
    finally:
        database.dispose()


def test_schema_check_refuses_tables_made_without_migrations(sqlite_url: str, sqlite_path: Path) -> None:
    sqlite_path.parent.mkdir(parents=True)
    sqlite3.connect(sqlite_path).execute("CREATE TABLE units (id INTEGER)").connection.close()
    database = open_database(sqlite_url)
    with pytest.raises(StoreError, match="no station schema revision"):
        database.check_schema()
    database.dispose()


def test_schema_check_and_upgrade_refuse_an_unknown_revision(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="'9999', which this station does not know"):
        database.check_schema()
    with pytest.raises(StoreError, match="does not know"):
        database.upgrade()


def test_commands_refuse_an_old_schema(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    database = open_database(sqlite_url)
    database.upgrade(FIRST_REVISION)
    database.dispose()
    assert main(["units", "show", "SN-1", "--db", sqlite_url]) == 2
    error = capsys.readouterr().err
    assert f"schema revision {FIRST_REVISION}, this station needs {head_revision()}" in error
    assert "run `station db upgrade`" in error
    assert main(["db", "status", "--db", sqlite_url]) == 0
    assert "run `station db upgrade`" in capsys.readouterr().out


def test_sqlite_is_tuned_for_durability(sqlite_database: Database) -> None:
    with sqlite_database.engine.connect() as connection:
        pragmas = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                   for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 30000}


def test_foreign_keys_are_enforced(sqlite_database: Database) -> None:
    with pytest.raises(StoreError), sqlite_database._sessions.writing() as session:
        session.execute(text("INSERT INTO steps (attempt_id, name, started_at, outcome, detail) "
                             "VALUES (424242, 'x', '2026-01-01 00:00:00', 'RUNNING', '')"))


def test_a_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        open_database("not a url")


def test_a_database_that_breaks_a_claim_is_not_upgraded_and_says_which(db_url: str, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Two units passed under one serial (what two racing stations could do before the claims):
    the upgrade that adds the claims refuses, naming the unit, for a supervisor to settle."""
    _run_alembic(db_url, tmp_path, "upgrade", "0003")
    database = open_database(db_url)
    try:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        with database.engine.begin() as connection:
            for statement in (
                "INSERT INTO stations (id, name, description, created_at) VALUES (1, 's', '', :t)",
                "INSERT INTO operators (id, name, role, created_at) VALUES (1, 'o', 'operator', :t)",
                "INSERT INTO recipes (id, sha256, product, content, recorded_at) VALUES (1, 'r', 'P', '', :t)",
                "INSERT INTO units (id, serial, first_seen_at, is_development) VALUES (7, 'SN-TWICE', :t, false)",
            ):
                connection.execute(text(statement), {"t": now})
            for attempt_id in (1, 2):
                connection.execute(text(
                    "INSERT INTO attempts (id, unit_id, station_id, operator_id, recipe_hash, product, state, result,"
                    " started_at, is_rework, image_hashes, console_transcript)"
                    " VALUES (:id, 7, 1, 1, 'r', 'P', 'PASSED', 'PASSED', :t, false, '[]', '')"
                ), {"id": attempt_id, "t": now})  # fmt: skip
        assert main(["db", "upgrade", "--db", db_url]) == 2
        error = capsys.readouterr().err
        assert "settle them first" in error and "passed attempts of one unit: unit_id 7 has 2" in error
        assert database.current_revision() == "0003"
    finally:
        database.dispose()


def test_rows_written_before_the_chain_enter_it_at_the_upgrade(
    db_url: str, tmp_path: Path, signer: TestSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading to the chain enters every row as found; the head file starts there; the next
    signed entry covers the adopted ones; a row changed afterwards is found."""
    _run_alembic(db_url, tmp_path, "upgrade", "0004")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    database = open_database(db_url)
    try:
        with database.engine.begin() as connection:
            for statement in (
                "INSERT INTO stations (id, name, description, created_at) VALUES (1, 's', '', :t)",
                "INSERT INTO operators (id, name, role, created_at) VALUES (1, 'o', 'operator', :t)",
                "INSERT INTO recipes (id, sha256, product, content, recorded_at) VALUES (1, 'r', 'P', '', :t)",
                "INSERT INTO units (id, serial, first_seen_at, is_development) VALUES (7, 'SN-OLD', :t, false)",
                "INSERT INTO attempts (id, unit_id, station_id, operator_id, recipe_hash, product, state, result,"
                " started_at, is_rework, image_hashes, console_transcript)"
                " VALUES (3, 7, 1, 1, 'r', 'P', 'PASSED', 'PASSED', :t, false, '[]', '')",
            ):
                connection.execute(text(statement), {"t": now})
        data_dir = tmp_path / "station-data"
        monkeypatch.setenv("STATION_DATA_DIR", str(data_dir))
        assert main(["db", "upgrade", "--db", db_url]) == 0
        entries = list(database.audit_log().entries())
        assert [(entry.action, entry.record.table if entry.record else None) for entry in entries] == [
            ("record.adopted", table) for table in ("stations", "operators", "recipes", "units", "attempts")]
        database.keep_head_in(data_dir)
        assert database.head_file is not None and database.head_file.read() is not None  # written by the upgrade
        unsigned = database.verify_chain(signer)
        assert unsigned.chain.problem is AuditProblem.UNSIGNED  # adopted without the key ...
        database.audit_log(signer).append_audit("engineer:eve", "db.upgrade", "to the chain")
        report = database.verify_chain(signer)
        assert report.ok, (report.chain, report.findings)  # ... covered by the first signed entry
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE attempts SET result = 'FAILED' WHERE id = 3"))
        changed = database.verify_chain(signer)
        assert [finding.explanation for finding in changed.findings] == [
            "entry 5: attempts row 3 was changed after this entry recorded it"]
    finally:
        database.dispose()
