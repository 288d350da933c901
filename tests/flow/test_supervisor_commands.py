"""Supervisor actions from the command line: the PIN from a terminal or a private file, never
without one; wrong PINs lock the person out, audited; rework, inspections and golden units."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.app import main
from station.domain.records import AttemptResult
from station.sim import board
from station.sim.units import SimUnit, lock_unit_as_delivered

from .conftest import Line
from .test_crash_and_secrets import station_environment

SUPERVISOR, PIN = "sue", "4321"


@pytest.fixture
def supervised(line: Line, monkeypatch: pytest.MonkeyPatch) -> Line:
    for name, value in station_environment(line).items():
        monkeypatch.setenv(name, value)
    line.station.people.add(SUPERVISOR, "supervisor", PIN)
    line.station.people.add("otto", "operator", None)
    return line


def pin_file(tmp_path: Path, pin: str, mode: int = 0o600, name: str = "pin") -> Path:
    path = tmp_path / name
    path.write_text(pin + "\n")
    path.chmod(mode)
    return path


def rework_command(line: Line, unit: SimUnit, serial: str) -> list[str]:
    return [
        "rework", "--recipe", str(line.recipe.path), "--serial", serial, "--probe", unit.probe_id,
        "--supervisor", SUPERVISOR, "--db", line.environment.paths.db_url,
    ]  # fmt: skip


def audit_actions(line: Line) -> list[tuple[str, str]]:
    return [(entry.actor, entry.action) for entry in line.station.database.audit_log().entries()]


def untouched_and_locked(unit: SimUnit) -> bool:
    info = unit.reload()
    return info.protected and not info.ever_erased


def test_rework_without_a_pin_is_refused_with_exit_2_and_the_unit_stays_locked(supervised: Line) -> None:
    """No terminal and no PIN file: the real command, stdin not a terminal."""
    unit = supervised.new_unit()
    lock_unit_as_delivered(unit)
    before = unit.read_nvm(0, board.FLASH_SIZE)
    result = subprocess.run(
        [sys.executable, "-m", "station", *rework_command(supervised, unit, "TST-002001")],
        env={**os.environ}, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "station: error [PIN_REQUIRED]: no PIN for sue" in result.stderr
    assert "--pin-file" in result.stderr
    assert untouched_and_locked(unit) and unit.read_nvm(0, board.FLASH_SIZE) == before
    assert supervised.station.database.attempts.latest_attempt("TST-002001") is None


def test_rework_with_the_right_pin_erases_and_records_the_supervisor(
    supervised: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = supervised.new_unit()
    lock_unit_as_delivered(unit)
    assert main([*rework_command(supervised, unit, "TST-002002"), "--pin-file", str(pin_file(tmp_path, PIN))]) == 0
    assert "REWORK TST-002002 REWORKED" in capsys.readouterr().out
    info = unit.reload()
    assert info.ever_erased and not info.protected
    attempt = supervised.station.database.attempts.latest_attempt("TST-002002")
    assert attempt is not None and attempt.is_rework and attempt.operator == SUPERVISOR
    actions = audit_actions(supervised)
    assert ("supervisor:sue", "access.approved") in actions and (SUPERVISOR, "unit.rework") in actions


@pytest.mark.parametrize(
    ("mode", "content", "message"),
    [
        (0o644, PIN, "may be read by others (mode 0644)"),
        (0o640, PIN, "may be read by others (mode 0640)"),
        (0o600, "", "is empty"),
    ],
)
def test_a_pin_file_that_others_can_read_or_that_is_empty_is_refused(
    supervised: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int, content: str, message: str
) -> None:
    unit = supervised.new_unit()
    lock_unit_as_delivered(unit)
    path = pin_file(tmp_path, content, mode)
    assert main([*rework_command(supervised, unit, "TST-002003"), "--pin-file", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert untouched_and_locked(unit)


def test_five_wrong_pins_lock_the_supervisor_out_and_the_lock_out_is_audited(
    supervised: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = supervised.new_unit()
    lock_unit_as_delivered(unit)
    wrong = pin_file(tmp_path, "0000", name="wrong")
    for attempt in range(1, 6):
        assert main([*rework_command(supervised, unit, "TST-002004"), "--pin-file", str(wrong)]) == 2
        error = capsys.readouterr().err
        if attempt < 5:
            assert "station: error [ACCESS]: wrong name or PIN" in error
        else:
            assert "station: error [LOCKED_OUT]: sue is locked out after too many wrong PINs until" in error
    # Locked out: even the right PIN is refused, and the unit was never touched.
    right = pin_file(tmp_path, PIN, name="right")
    assert main([*rework_command(supervised, unit, "TST-002004"), "--pin-file", str(right)]) == 2
    assert "[LOCKED_OUT]" in capsys.readouterr().err
    assert untouched_and_locked(unit)
    assert supervised.station.database.attempts.latest_attempt("TST-002004") is None
    actions = audit_actions(supervised)
    assert actions.count(("supervisor:sue", "access.refused")) == 5  # four wrong PINs, one while locked out
    assert actions.count(("supervisor:sue", "access.locked-out")) == 1
    record = supervised.station.database.registry.get_operator(SUPERVISOR)
    assert record is not None and record.locked_until is not None


def test_an_operator_cannot_approve_a_rework(
    supervised: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = supervised.new_unit()
    lock_unit_as_delivered(unit)
    command = rework_command(supervised, unit, "TST-002005")
    command[command.index(SUPERVISOR)] = "otto"
    assert main([*command, "--pin-file", str(pin_file(tmp_path, PIN))]) == 2
    assert "wrong name or PIN" in capsys.readouterr().err  # an operator has no PIN at all
    assert untouched_and_locked(unit)


def test_golden_marking_needs_the_supervisors_pin(
    supervised: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = supervised.new_unit()
    assert supervised.provision("TST-002006", unit).passed
    common = ["units", "golden", "TST-002006", "--supervisor", SUPERVISOR, "--db", supervised.environment.paths.db_url]
    assert main([*common, "--pin-file", str(pin_file(tmp_path, "9999", name="wrong"))]) == 2
    assert supervised.station.database.units.golden_serials() == frozenset()
    assert main([*common, "--pin-file", str(pin_file(tmp_path, PIN))]) == 0
    assert "unit TST-002006 is now a golden reference unit" in capsys.readouterr().out
    assert supervised.station.database.units.golden_serials() == {"TST-002006"}
    assert ("supervisor:sue", "unit.golden") in audit_actions(supervised)
    assert main([*common, "--unmark", "--pin-file", str(pin_file(tmp_path, PIN))]) == 0
    assert supervised.station.database.units.golden_serials() == frozenset()
    assert main(["units", "golden", "TST-999999", "--supervisor", SUPERVISOR, "--db",
                 supervised.environment.paths.db_url, "--pin-file", str(pin_file(tmp_path, PIN))]) == 2  # fmt: skip
    assert "no unit with serial 'TST-999999'" in capsys.readouterr().err


def test_an_inspection_is_recorded_from_the_command_line_with_the_pin(
    supervised: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = supervised.station.database
    attempt = database.attempts.create_attempt(
        serial="TST-002007", station="line-1-station-1", operator="ann",
        recipe_hash=supervised.recipe.content_hash, product=supervised.recipe.product,
    )  # fmt: skip
    database.attempts.finish_attempt(
        attempt.id, AttemptResult.NEEDS_INSPECTION, failure_step="recovery", failure_code="MAY_BE_LOCKED"
    )
    command = ["recover", "--inspected", str(attempt.id), "--note", "locked, credential intact",
               "--supervisor", SUPERVISOR, "--db", supervised.environment.paths.db_url]  # fmt: skip
    assert main([*command, "--pin-file", str(pin_file(tmp_path, "1234", name="wrong"))]) == 2
    assert database.inspections.pending("line-1-station-1") == [database.attempts.get_attempt(attempt.id)]
    assert main([*command, "--pin-file", str(pin_file(tmp_path, PIN))]) == 0
    assert f"attempt {attempt.id} inspected by sue: locked, credential intact" in capsys.readouterr().out
    assert database.inspections.pending("line-1-station-1") == []
    record = database.inspections.for_attempt(attempt.id)
    assert record is not None and record.supervisor == SUPERVISOR


def test_on_a_terminal_the_pin_is_asked_and_never_echoed(
    supervised: Line, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []

    def getpass(prompt: str) -> str:
        asked.append(prompt)
        return PIN

    monkeypatch.setattr("station.cli.pins.interactive", lambda: True)
    monkeypatch.setattr("station.cli.pins.getpass.getpass", getpass)
    unit = supervised.new_unit()
    lock_unit_as_delivered(unit)
    assert main(rework_command(supervised, unit, "TST-002008")) == 0
    assert asked == ["PIN of sue: "]
    captured = capsys.readouterr()
    assert "REWORK TST-002008 REWORKED" in captured.out and PIN not in captured.out + captured.err
