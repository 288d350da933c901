"""The golden-unit station self-test end to end: real pyOCD on simulated units, real ptys, the real
store. A golden unit passes; a byte written into its flash, or another unit on the probe, fails
and is recorded; a unit that is not golden is refused untouched; ``db verify`` stays OK."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest

from station.config.settings import SlotSettings
from station.domain.errors import GoldenReferenceError, NotGoldenError
from station.domain.selftest import (
    CHECK_CONSOLE,
    CHECK_DEVICE_ID,
    CHECK_IMAGES,
    CHECK_LOCK,
    CheckOutcome,
    SelfTestRecord,
    ShiftSchedule,
)
from station.drivers.slots import HardwareSlots
from station.flow.watchdog import Watchdog
from station.operations.selftests import SelfTests
from station.sim import board
from station.sim.units import Faults, SimUnit

from .conftest import Line

SUPERVISOR, PIN = "sue", "4321"


@pytest.fixture
def supervised(line: Line) -> Line:
    line.station.people.add(SUPERVISOR, "supervisor", PIN)
    return line


def on_slot(line: Line, unit: SimUnit) -> SlotSettings:
    """The slot holding ``unit``: its probe and its console."""
    return SlotSettings("test", unit.probe_id, line.environment.console_path(unit))


def selftest(line: Line, unit: SimUnit, serial: str | None = None) -> SelfTestRecord:
    return line.station.selftests.selftest_job(on_slot(line, unit), "ann", serial).run()


def outcomes(record: SelfTestRecord) -> dict[str, CheckOutcome]:
    return {check.name: check.outcome for check in record.checks}


def clear_a_byte(unit: SimUnit, start: int, length: int) -> int:
    """Write a byte into the unit's flash as a fault would (the NVMC only clears bits): the first
    byte in the range that is not zero already. Its address."""
    data = unit.read_nvm(start, length)
    offset = next(index for index, value in enumerate(data) if value)
    with unit.locked():
        unit.program_nvm(start + offset, b"\x00")
    return start + offset


def chain_ok(line: Line) -> bool:
    report = line.station.database.verify_chain(line.station.station_key)
    return report.ok


def test_a_golden_unit_passes_and_fails_recorded_once_a_byte_of_its_flash_changed(supervised: Line) -> None:
    line = supervised
    unit = line.new_unit()
    assert line.provision("TST-003001", unit).passed
    line.station.supervision.mark_golden("TST-003001", SUPERVISOR, PIN)  # no probe: from its PASS attempt
    reference = line.station.selftests.reference("TST-003001")
    assert reference is not None and reference.locked and reference.source.startswith("attempt ")
    assert [(image.name, image.sha256) for image in reference.images] == [
        (image.name, image.sha256) for image in line.recipe.images]
    assert reference.console.endpoint == f"acme-toaster-{reference.device_id}"

    passed = selftest(line, unit, "TST-003001")
    assert passed.passed, passed.reason
    assert set(outcomes(passed).values()) == {CheckOutcome.PASSED}
    assert passed.device_id == reference.device_id and passed.probe_id == unit.probe_id
    assert line.station.selftests.passed_now(line.recipe) == passed

    application = next(image for image in line.recipe.images if image.name == "application")
    clear_a_byte(unit, application.start, application.size)
    failed = selftest(line, unit, "TST-003001")
    assert not failed.passed
    assert outcomes(failed)[CHECK_IMAGES] is CheckOutcome.FAILED  # its firmware no longer reports a version
    assert outcomes(failed)[CHECK_CONSOLE] is CheckOutcome.FAILED
    assert outcomes(failed)[CHECK_LOCK] is CheckOutcome.PASSED
    assert "images: " in failed.reason and "console: " in failed.reason
    recorded = line.station.database.selftests.selftests(serial="TST-003001")
    assert [(test.id, test.passed) for test in recorded] == [(failed.id, False), (passed.id, True)]
    assert recorded[0].reason == failed.reason
    assert chain_ok(line)


def test_another_unit_on_the_probe_fails_recorded(supervised: Line) -> None:
    line = supervised
    golden, other = line.new_unit(), line.new_unit()
    assert line.provision("TST-003011", golden).passed
    assert line.provision("TST-003012", other).passed
    line.station.supervision.mark_golden("TST-003011", SUPERVISOR, PIN)
    failed = selftest(line, other, "TST-003011")
    assert not failed.passed
    assert outcomes(failed) == {CHECK_DEVICE_ID: CheckOutcome.FAILED, CHECK_IMAGES: CheckOutcome.PASSED,
                                CHECK_LOCK: CheckOutcome.PASSED, CHECK_CONSOLE: CheckOutcome.FAILED}  # fmt: skip
    other_device = f"{other.reload().device_id:016X}"
    assert f"the unit on the probe is device {other_device}" in failed.reason
    assert failed.device_id == other_device
    assert line.station.database.selftests.selftests(serial="TST-003011")[0].id == failed.id
    assert line.station.selftests.passed_now(line.recipe) is None


def test_a_unit_that_is_not_golden_is_refused_and_nothing_changes(supervised: Line) -> None:
    line = supervised
    unit = line.new_unit()
    assert line.provision("TST-003021", unit).passed
    boots = unit.reload().boot_count
    entries = line.station.database.last_sequence()
    with pytest.raises(NotGoldenError, match="unit TST-003021 is not a golden unit"):
        line.station.selftests.selftest_job(on_slot(line, unit), "ann", "TST-003021")
    with pytest.raises(NotGoldenError, match="no unit with serial 'TST-999999'"):
        line.station.selftests.selftest_job(on_slot(line, unit), "ann", "TST-999999")
    with pytest.raises(NotGoldenError, match="the recipe names no golden unit"):
        line.station.selftests.selftest_job(on_slot(line, unit), "ann")
    line.station.supervision.mark_golden("TST-003021", SUPERVISOR, PIN)
    line.station.supervision.mark_golden("TST-003021", SUPERVISOR, PIN, golden=False)  # unmarked: history kept
    with pytest.raises(NotGoldenError, match="is not a golden unit"):
        line.station.selftests.selftest_job(on_slot(line, unit), "ann", "TST-003021")
    assert len(line.station.database.selftests.references("TST-003021")) == 1
    assert line.station.database.selftests.selftests() == []
    assert unit.reload().boot_count == boots  # never touched
    assert line.station.database.last_sequence() > entries  # only the marking and unmarking were recorded


def test_an_unlocked_golden_unit_is_read_back_from_its_probe_and_a_changed_bootloader_is_named(
    supervised: Line,
) -> None:
    """A unit flashed and verified but never locked (its credentials step failed) is marked with its
    reference read from the unit itself: then its images are read back at every self-test."""
    line = supervised
    unit = line.new_unit()
    credentials = line.recipe.flash.credentials_region
    with unit.locked():
        unit.info.faults = Faults(transfer_fault_address=credentials.address + 16)
    failed = line.provision("TST-003031", unit)
    assert not failed.passed and failed.failure_step == "credentials", failed.summary
    with unit.locked():
        unit.info.faults = Faults()
    assert not unit.reload().protected

    with pytest.raises(GoldenReferenceError, match="has no PASS attempt to take its reference from"):
        line.station.supervision.mark_golden("TST-003031", SUPERVISOR, PIN)
    assert line.station.selftests.reference("TST-003031") is None  # refused: nothing marked
    line.station.supervision.mark_golden("TST-003031", SUPERVISOR, PIN, slot=on_slot(line, unit))
    reference = line.station.selftests.reference("TST-003031")
    assert reference is not None and not reference.locked and reference.source == f"probe {unit.probe_id}"
    assert [image.sha256 for image in reference.images] == [image.sha256 for image in line.recipe.images]
    assert reference.console.firmware_version == line.recipe.firmware_version
    assert reference.console.device_id == reference.device_id  # what its console answered, as read

    passed = selftest(line, unit, "TST-003031")
    assert passed.passed, passed.reason
    assert "read through the debug port" in passed.checks[0].detail

    clear_a_byte(unit, board.FLASH_BASE, 0x100)  # the bootloader, which the unit's own checks never see
    changed = selftest(line, unit, "TST-003031")
    assert not changed.passed and outcomes(changed)[CHECK_IMAGES] is CheckOutcome.FAILED
    assert changed.reason.startswith("images: bootloader reads back ")
    assert outcomes(changed)[CHECK_CONSOLE] is CheckOutcome.PASSED
    assert chain_ok(line)


VALID_FOR_AN_HOUR = {"[activation]": '[selftest]\ngolden = ["TST-003041"]\nrequired = true\nvalid_for = "1h"\n\n'
                                     "[activation]"}


def test_a_pass_counts_for_the_recipes_validity_or_until_the_shift_ends(make_line: Callable[..., Line]) -> None:
    line = make_line(replacements=VALID_FOR_AN_HOUR)
    line.station.people.add(SUPERVISOR, "supervisor", PIN)
    now = [datetime(2026, 3, 10, 13, 50).astimezone()]
    selftests = SelfTests(line.station.database, line.station.production, HardwareSlots(), station=line.context.station,
                          shifts=ShiftSchedule((time(6), time(14), time(22))), watchdog=Watchdog.shared(),
                          clock=lambda: now[0])  # fmt: skip
    golden = line.new_unit()
    assert line.provision("TST-003041", golden).passed
    line.station.supervision.mark_golden("TST-003041", SUPERVISOR, PIN)
    refusal = selftests.production_refusal("TST-003042")
    assert refusal is not None and refusal.code == "SELFTEST_REQUIRED" and "within 1h" in str(refusal)
    assert selftests.production_refusal("TST-003041") is None  # the recipe's golden unit is made like any unit

    passed = selftests.selftest_job(on_slot(line, golden), "ann").run()  # the recipe's one golden unit
    assert passed.passed and passed.serial == "TST-003041" and passed.ended_at == now[0]
    now[0] += timedelta(minutes=59)
    assert selftests.production_refusal("TST-003042") is None
    now[0] += timedelta(minutes=2)
    assert selftests.production_refusal("TST-003042") is not None  # an hour and a minute later: again
    assert selftests.passed_now(line.recipe) is None

    # "shift": a pass counts from the latest shift start on; 13:50's no longer at 14:10.
    by_shift = replace(line.recipe, selftest=replace(line.recipe.selftest, valid_for=None))
    assert selftests.valid_since(by_shift, datetime(2026, 3, 10, 13, 55).astimezone()) <= passed.ended_at
    assert selftests.valid_since(by_shift, datetime(2026, 3, 10, 14, 10).astimezone()) > passed.ended_at


def test_a_silent_golden_unit_fails_recorded_saying_its_console_did_not_answer(supervised: Line) -> None:
    line = supervised
    unit = line.new_unit()
    assert line.provision("TST-003051", unit).passed
    line.station.supervision.mark_golden("TST-003051", SUPERVISOR, PIN)
    with unit.locked():
        unit.info.faults = Faults(console="silent")
    failed = selftest(line, unit, "TST-003051")
    assert not failed.passed
    assert outcomes(failed) == {CHECK_DEVICE_ID: CheckOutcome.FAILED, CHECK_IMAGES: CheckOutcome.FAILED,
                                CHECK_LOCK: CheckOutcome.PASSED, CHECK_CONSOLE: CheckOutcome.FAILED}  # fmt: skip
    assert "the unit is locked and its console did not answer" in failed.checks[0].detail
    assert failed.device_id is None
    assert line.station.database.selftests.selftests(serial="TST-003051")[0].id == failed.id
