"""Factory-fresh nRF52 parts with hardened APPROTECT, end to end on simulated units through pyOCD.

A hardened part leaves the factory blank and protected; the station erases it as the first act
of its first attempt (the recipe says its parts ship protected), writes UICR.APPROTECT =
HwDisabled before any reset so that the firmware it flashes keeps the port open, and locks it
for good at the lock step. The rules (which serials, which records) are in
test_fresh_part_rules.py; here the hardware sequence, and proof that the HwDisabled write is
what keeps the station from locking itself out between its own steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from station.domain.errors import RelabelledUnitError
from station.domain.recipe import CredentialPlan
from station.domain.records import AttemptResult
from station.drivers.profiles.nrf52 import Nrf52ApprotectLock
from station.sim import board
from station.sim.units import SimUnit

from .conftest import Line

LOCK = '[lock]\nmethod = "nrf52-approtect"\n'
PROTECTED = {LOCK: LOCK + "parts_ship_protected = true\n"}


def uicr_approtect(unit: SimUnit) -> int:
    return unit.read_nvm(board.UICR_APPROTECT, 1)[0]


def fresh_erase_entries(line: Line) -> list[str]:
    return [entry.detail for entry in line.station.database.audit_log().entries() if entry.action == "unit.fresh_erase"]


def test_a_fresh_hardened_part_is_erased_recorded_as_fresh_and_provisions(make_line: Callable[..., Line]) -> None:
    line = make_line(replacements=PROTECTED)
    unit = line.new_unit(build_code="hardened")
    assert unit.reload().protected
    outcome = line.provision("TST-000950", unit)
    assert outcome.passed, outcome.summary
    info = unit.reload()
    assert info.protected and not info.ever_erased and info.activated_product == "ACME-TOASTER"
    assert uicr_approtect(unit) == 0x00  # the production lock overrides HwDisabled
    attempt = line.station.database.attempts.latest_attempt("TST-000950")
    assert attempt is not None and attempt.device_id == f"{info.device_id:016X}"
    connect = next(step for step in attempt.steps if step.name == "connect")
    assert "fresh part: arrived locked with no record anywhere" in connect.detail
    assert "build code F0: hardened APPROTECT, UICR.APPROTECT = HwDisabled" in connect.detail
    record = line.station.database.units.get_unit("TST-000950")
    assert record is not None and not record.is_development
    assert len(fresh_erase_entries(line)) == 1


def test_the_same_station_provisions_a_legacy_unit_without_erasing_it(make_line: Callable[..., Line]) -> None:
    line = make_line(replacements=PROTECTED)
    unit = line.new_unit(build_code="legacy")
    outcome = line.provision("TST-000951", unit)
    assert outcome.passed, outcome.summary
    assert fresh_erase_entries(line) == []
    assert unit.reload().protected and not unit.info.ever_erased


def test_a_protected_unit_whose_serial_passed_is_refused_and_never_erased(make_line: Callable[..., Line]) -> None:
    line = make_line(replacements=PROTECTED)
    unit = line.new_unit(build_code="hardened")
    assert line.provision("TST-000952", unit).passed
    image = unit.read_nvm(board.FLASH_BASE, board.FLASH_SIZE)
    again = line.provision("TST-000952", unit)
    assert again.error is not None and again.error.code == "ALREADY_PASSED"
    assert unit.read_nvm(board.FLASH_BASE, board.FLASH_SIZE) == image and unit.reload().protected
    assert len(fresh_erase_entries(line)) == 1


def test_a_relabelled_production_unit_is_erased_refused_and_recorded(make_line: Callable[..., Line]) -> None:
    line = make_line(replacements=PROTECTED)
    unit = line.new_unit(build_code="hardened")
    assert line.provision("TST-000953", unit).passed
    outcome = line.provision("TST-000954", unit)  # the locked board under a new label
    assert isinstance(outcome.error, RelabelledUnitError), outcome.summary
    attempt = line.station.database.attempts.latest_attempt("TST-000954")
    assert attempt is not None and attempt.result is AttemptResult.FAILED
    assert attempt.failure_code == "RELABELLED_UNIT" and attempt.device_id == f"{unit.reload().device_id:016X}"
    shipped = line.station.database.units.get_unit("TST-000953")
    assert shipped is not None and shipped.is_development


def test_without_the_hw_disabled_write_the_station_locks_itself_out(
    make_line: Callable[..., Line], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The device-generated plan resets the unit between flashing and the credential write: only
    HwDisabled lets the new firmware reopen the port, so without it the sequence fails there."""
    line = make_line(replacements=PROTECTED, plan=CredentialPlan.DEVICE_GENERATED)
    with_it = line.new_unit(build_code="hardened")
    assert line.provision("TST-000955", with_it).passed

    def erased_but_left_as_is(self: Nrf52ApprotectLock, session: Any) -> str:
        return "regression under test: HwDisabled not written"

    monkeypatch.setattr(Nrf52ApprotectLock, "keep_port_open", erased_but_left_as_is)
    without = line.new_unit(build_code="hardened")
    outcome = line.provision("TST-000956", without)
    assert not outcome.passed and outcome.failure_step == "credentials", outcome.summary
    assert "memory transfer fault" in outcome.summary  # the port closed at the reset before the write
    assert uicr_approtect(without) == 0xFF and without.reload().protected


def test_rework_erases_a_locked_hardened_unit_and_leaves_its_port_open(make_line: Callable[..., Line]) -> None:
    line = make_line(replacements=PROTECTED)
    unit = line.new_unit(build_code="hardened")
    assert line.provision("TST-000957", unit).passed
    reworked = line.rework("TST-000957", unit, "sue")
    assert reworked.error is not None and reworked.error.code == "REWORKED", reworked.summary
    info = unit.reload()
    assert not info.protected and info.ever_erased  # it held a credential: a development unit
    assert uicr_approtect(unit) == 0x5A  # HwDisabled: firmware flashed later keeps it open
    rework = line.station.database.attempts.latest_attempt("TST-000957")
    assert rework is not None and rework.is_rework
    assert "hardened APPROTECT, UICR.APPROTECT = HwDisabled" in rework.steps[0].detail
    record = line.station.database.units.get_unit("TST-000957")
    assert record is not None and record.is_development
