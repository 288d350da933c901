"""Golden references and self-tests in the store, on every backend: marking records the flag and
the reference together, unmarking keeps the history, a self-test is one row in the chain, and
``station db verify`` finds any of these rows changed, deleted or written around the station."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from station.app import main
from station.domain.errors import StoreError
from station.domain.records import AuditProblem
from station.domain.selftest import (
    CHECK_DEVICE_ID,
    CheckOutcome,
    ConsoleIdentity,
    GoldenReference,
    ImageHash,
    SelfTestCheck,
    SelfTestRecord,
    SelfTestResult,
)
from station.store import Database

from .conftest import TestSigner

T0 = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
DEVICE = "00AB12CD34EF5678"


def golden_reference(serial: str = "TST-000001", source: str = "attempt 1") -> GoldenReference:
    console = ConsoleIdentity("1.4.2", DEVICE, f"acme-toaster-{DEVICE}", "c" * 64)
    return GoldenReference(serial, DEVICE, (ImageHash("application", "b" * 64),), True, console, source, "sue")


PASSED_CHECKS = (SelfTestCheck("device id", CheckOutcome.PASSED, DEVICE),
                 SelfTestCheck("lock", CheckOutcome.PASSED, "locked, as recorded"))  # fmt: skip
FAILED_CHECKS = (SelfTestCheck(CHECK_DEVICE_ID, CheckOutcome.FAILED, "another unit is on the probe"),
                 SelfTestCheck("lock", CheckOutcome.PASSED, "locked, as recorded"))  # fmt: skip


@pytest.fixture
def sealed(database: Database, signer: TestSigner) -> Database:
    """The database with every transaction signed, as a station's is."""
    database.seal_with(signer, actor="station:test")
    return database


def record(database: Database, reference: GoldenReference, recipe_hash: str, checks: tuple[SelfTestCheck, ...],
           ended: datetime, station: str = "station-1") -> SelfTestRecord:
    return database.selftests.record_selftest(
        station=station, operator="sue", reference=reference, recipe_hash=recipe_hash, probe_id="sim:unit-0001",
        device_id=DEVICE, checks=checks, started_at=ended - timedelta(seconds=3), ended_at=ended,
    )  # fmt: skip


def test_marking_keeps_the_flag_and_reference_together_and_unmarking_keeps_the_history(sealed: Database) -> None:
    database = sealed
    with pytest.raises(StoreError, match="no unit with serial 'TST-000001'"):
        database.selftests.mark_golden(golden_reference())
    assert database.selftests.references("TST-000001") == []
    database.units.get_or_create_unit("TST-000001")
    unit, stored = database.selftests.mark_golden(golden_reference(), at=T0)
    assert unit.is_golden and unit.device_id == DEVICE
    assert stored.id is not None and stored.recorded_at == T0 and stored.console.endpoint.endswith(DEVICE)
    assert database.selftests.current_reference("TST-000001") == stored
    assert database.selftests.golden_units() == [("TST-000001", DEVICE)]

    database.units.set_golden("TST-000001", False)
    assert database.selftests.current_reference("TST-000001") is None  # not golden: no self-test on it
    assert database.selftests.references("TST-000001") == [stored]  # ... and its history is kept
    _, again = database.selftests.mark_golden(golden_reference(source="probe sim:unit-0001"), at=T0)
    assert database.selftests.current_reference("TST-000001") == again
    assert [reference.source for reference in database.selftests.references("TST-000001")] == [
        "attempt 1", "probe sim:unit-0001"]


def test_the_latest_pass_of_a_station_and_recipe_since_a_moment(sealed: Database, recipe_hash: str) -> None:
    database = sealed
    database.units.get_or_create_unit("TST-000001")
    _, reference = database.selftests.mark_golden(golden_reference())
    passed = record(database, reference, recipe_hash, PASSED_CHECKS, T0)
    failed = record(database, reference, recipe_hash, FAILED_CHECKS, T0 + timedelta(hours=1))
    assert passed.result is SelfTestResult.PASSED and passed.reason == "" and passed.checks == PASSED_CHECKS
    assert failed.result is SelfTestResult.FAILED and failed.reason == "device id: another unit is on the probe"
    assert (failed.station, failed.operator, failed.serial) == ("station-1", "sue", "TST-000001")
    assert database.selftests.latest_passed("station-1", recipe_hash, T0) == passed
    assert database.selftests.latest_passed("station-1", recipe_hash, T0 + timedelta(seconds=1)) is None
    assert database.selftests.latest_passed("station-2", recipe_hash, T0) is None  # another station's counts not
    other_recipe = database.registry.record_recipe("other", "ACME-TOASTER").sha256
    assert database.selftests.latest_passed("station-1", other_recipe, T0) is None
    assert [test.id for test in database.selftests.selftests(serial="TST-000001")] == [failed.id, passed.id]
    with pytest.raises(StoreError, match="is not recorded"):
        record(database, reference, "f" * 64, PASSED_CHECKS, T0)


def test_references_and_selftests_are_in_the_chain_and_a_changed_row_is_found(
    sealed: Database, signer: TestSigner, recipe_hash: str
) -> None:
    database = sealed
    database.units.get_or_create_unit("TST-000001")
    _, reference = database.selftests.mark_golden(golden_reference())
    failed = record(database, reference, recipe_hash, FAILED_CHECKS, T0)
    clean = database.verify_chain(signer)
    assert clean.ok, clean.findings
    actions = [entry.action for entry in database.audit_log().entries()]
    assert "golden-reference.insert" in actions and "selftest.insert" in actions
    newest = {table: _newest_entry(database, table, row_id)
              for table, row_id in (("selftests", failed.id), ("golden_references", reference.id))}  # fmt: skip
    with database.engine.begin() as connection:  # a FAIL made a PASS behind the station's back
        connection.execute(text("UPDATE selftests SET result = 'PASSED', reason = '' WHERE id = :id"),
                           {"id": failed.id})
        connection.execute(text("UPDATE golden_references SET device_id = '1111222233334444' WHERE id = :id"),
                           {"id": reference.id})
    report = database.verify_chain(signer)
    assert not report.ok
    explained = [finding.explanation for finding in report.findings]
    assert f"entry {newest['selftests']}: selftests row {failed.id} was changed after this entry recorded it" \
        in explained
    assert (f"entry {newest['golden_references']}: golden_references row {reference.id} was changed after this "
            "entry recorded it") in explained
    assert all(finding.problem is AuditProblem.RECORD_CHANGED for finding in report.findings)


def test_db_verify_finds_a_selftest_row_deleted_or_written_around_the_station(
    sqlite_database: Database, signer: TestSigner, tmp_path: Path, sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = sqlite_database
    database.seal_with(signer, actor="station:test")
    recipe_hash = database.registry.record_recipe("recipe", "ACME-TOASTER").sha256
    database.units.get_or_create_unit("TST-000001")
    _, reference = database.selftests.mark_golden(golden_reference())
    passed = record(database, reference, recipe_hash, PASSED_CHECKS, T0)
    assert database.head_file is not None
    database.head_file.flush()
    key = tmp_path / "station.pub.pem"
    signer.write_public_pem(key)
    verify = ["db", "verify", "--db", sqlite_url, "--public-key", str(key), "--data-dir", str(tmp_path / "data")]
    assert main(verify) == 0
    assert capsys.readouterr().out.startswith("chain OK:")
    entry = _newest_entry(database, "selftests", passed.id)
    columns = "station_id, operator_id, unit_id, reference_id, recipe_hash, probe_id, device_id, result, checks, " \
              "reason, started_at, ended_at"
    with database.engine.begin() as connection:
        # A pass nobody ran, copied straight into the table under the next id; the recorded one deleted.
        connection.execute(text(f"INSERT INTO selftests (id, {columns}) SELECT :new, {columns} FROM selftests "
                                "WHERE id = :id"), {"id": passed.id, "new": passed.id + 1})  # fmt: skip
        connection.execute(text("DELETE FROM selftests WHERE id = :id"), {"id": passed.id})
    assert main(verify) == 1
    out = capsys.readouterr().out
    assert out.startswith("chain BAD:")
    assert f"entry {entry}: selftests row {passed.id}, recorded by this entry, is gone" in out
    assert f"selftests row {passed.id + 1} is recorded by no entry of the chain" in out


def _newest_entry(database: Database, table: str, row_id: int | None) -> int:
    with database.engine.connect() as connection:
        found = connection.execute(text(
            "SELECT max(sequence) FROM audit_log WHERE record_table = :table AND record_id = :id"
        ), {"table": table, "id": row_id}).scalar_one()  # fmt: skip
    assert isinstance(found, int)
    return found
