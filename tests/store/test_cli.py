"""``station units show`` and the database commands, run as an operator would."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from station.app import main
from station.domain.records import AttemptResult, JournalState, StepOutcome
from station.store import Database, head_revision

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_units_show_prints_the_full_history(
    database: Database, db_url: str, recipe_hash: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = database.attempts.create_attempt(serial="SN-7", station="st1", operator="ann", recipe_hash=recipe_hash,
                                             product="ACME-TOASTER", work_order="WO-9", probe_id="sim:unit-0007",
                                             at=T0)
    step = database.attempts.start_step(first.id, "connect", at=T0)
    assert step.id is not None, "a started step is stored, so it has an id"
    database.attempts.finish_step(step.id, StepOutcome.FAILED, detail="no target", failure_code="PROBE",
                                  at=T0 + timedelta(seconds=2))
    database.attempts.finish_attempt(first.id, AttemptResult.FAILED, failure_step="connect", failure_code="PROBE",
                                     failure_message="Reseat the board", at=T0 + timedelta(seconds=3))
    second = database.attempts.create_attempt(serial="SN-7", station="st1", operator="bob", recipe_hash=recipe_hash,
                                              product="ACME-TOASTER", work_order="WO-9", is_rework=True,
                                              at=T0 + timedelta(minutes=1))
    database.attempts.set_attempt_fields(second.id, device_id="DEV-77", image_hashes=["cd" * 32])
    database.credentials.reserve_credential(certificate_serial="7f01", certificate_fingerprint="ef" * 32,
                                            serial="SN-7", device_id="DEV-77", attempt_id=second.id,
                                            certificate_pem="-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    database.attempts.advance(second.id, JournalState.LOCK_PENDING)
    database.attempts.append_transcript(second.id, "> identity\n< DEV-77\n")
    database.units.mark_development("SN-7")

    assert main(["units", "show", "SN-7", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Unit SN-7\n")
    assert "DEVELOPMENT (erased; never ship)" in out
    assert f"Attempt {first.id}: FAILED (journal state FAILED)" in out
    assert "failure        step connect, code PROBE: Reseat the board" in out
    assert "connect  FAILED      2.000 s [PROBE]  no target" in out
    assert f"Attempt {second.id}: IN_PROGRESS (journal state LOCK_PENDING)" in out
    assert f"previous       {first.id}" in out and "rework         yes" in out
    assert "image sha256   " + "cd" * 32 in out
    assert "credential     serial 7f01 RESERVED, fingerprint " + "ef" * 32 in out
    assert "certificate    " + "ef" * 32 in out
    assert "    | > identity\n    | < DEV-77" in out
    assert out.index(f"Attempt {first.id}:") < out.index(f"Attempt {second.id}:")

    assert main(["units", "show", "SN-7", "--no-transcript", "--db", db_url]) == 0
    assert "console transcript" not in capsys.readouterr().out
    assert main(["units", "show", "SN-NONE", "--db", db_url]) == 2
    assert "no unit with serial 'SN-NONE'" in capsys.readouterr().err


def test_db_status(database: Database, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "status", "--db", db_url]) == 0
    assert f"schema revision {head_revision()} (current)" in capsys.readouterr().out


def test_the_installed_command_upgrades_a_database_named_by_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "env" / "station.db"
    environment = {"STATION_DB_URL": f"sqlite:///{path}", "STATION_DATA_DIR": str(tmp_path / "data"),
                   "PATH": "/usr/bin:/bin"}
    completed = subprocess.run([sys.executable, "-m", "station", "db", "upgrade"], capture_output=True, text=True,
                               env=environment, check=False)
    assert completed.returncode == 0, completed.stderr
    assert f"to schema revision {head_revision()}" in completed.stdout
    assert path.exists()
