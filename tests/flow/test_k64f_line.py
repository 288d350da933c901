"""Kinetis K64F units through the station end to end: the fridge's demo recipe (kinetis-fsec,
parts that ship secure) on simulated units with real pyOCD, real ptys and the real store. A
factory-fresh K64F arrives secure (erased flash: FSEC 0xFF), so the station erases it as a fresh
part before anything else; the lock is FSEC in the flash configuration field, read back through
the MDM-AP; rework is the MDM-AP mass erase. Also the permanent variant (mass erase disabled),
relabelled and repeated units, and the stock ``station provision`` command."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyocd.core import exceptions
from pyocd.core.helpers import ConnectHelper

from station.domain.errors import PermanentLockError, RelabelledUnitError
from station.domain.formats import CredentialBundle
from station.domain.records import AttemptResult, StepOutcome
from station.sim.chips import k64f as chip
from station.sim.chips import kinetis_mdm as mdm
from station.sim.peripherals import UART_LOG_NAME
from station.sim.units import SimUnit

from .conftest import Line, build_line, provision_from_the_command_line

K64F = "k64f"
FRIDGE = "ACME-FRIDGE"
ALL_STEPS = ["connect", "flash", "verify", "credentials", "lock", "lock-confirm", "activate", "identity"]
LOCK = '[lock]\nmethod = "kinetis-fsec"\nparts_ship_protected = true\n'
NO_MASS_ERASE = {LOCK: LOCK + "mass_erase = false\npermanent = true\n"}
FRESH_PART = "fresh part: arrived locked with no record anywhere"
UID_WITH_LEADING_ZEROS = 0x0012_3456_789A_BCDE_F012_3456_789A_BCDE


@pytest.fixture
def k64f_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Line]:
    yield from build_line(tmp_path, monkeypatch, target=K64F)


def unit_with_leading_zeros(line: Line) -> SimUnit:
    """A unit whose 128-bit id starts with a zero digit: the station and the service both
    write it with its 32 digits (a shorter text would not identify it)."""
    unit = line.environment.units.create_unit(target=K64F, device_id=UID_WITH_LEADING_ZEROS)
    line.units.append(unit)
    line.consoles.wait_for_port(unit.unit_id)
    return unit


def flash_of(unit: SimUnit) -> bytes:
    return unit.read_nvm(chip.FLASH_BASE, chip.FLASH_SIZE)


def fresh_erase_entries(line: Line) -> list[str]:
    return [entry.detail for entry in line.station.database.audit_log().entries() if entry.action == "unit.fresh_erase"]


def reset_and_read_security(unit: SimUnit) -> int:
    """A pin reset (FSEC loads), then pyOCD as the station opens it, never unlocking: its K64F
    target finds no core behind the closed AHB-AP; the MDM-AP's status (which always answers)
    is returned as the generic target reads it."""
    session = ConnectHelper.session_with_chosen_probe(
        unique_id=unit.probe_id,
        options={"auto_unlock": False, "target_override": "cortex_m", "allow_no_cores": True},
    )
    assert session is not None
    with session:
        session.probe.reset()
        status = int(session.target.dp.aps[mdm.MDM_AP].read_reg(mdm.STATUS))
    stock = ConnectHelper.session_with_chosen_probe(unique_id=unit.probe_id, options={"auto_unlock": False})
    assert stock is not None
    try:
        with pytest.raises(exceptions.DebugError, match="No cores were discovered"):
            stock.open()
    finally:
        stock.close()
    return status


def test_a_fresh_secure_k64f_is_erased_as_a_fresh_part_passes_and_ends_secure_with_its_flash_untouched(
    k64f_line: Line,
) -> None:
    line = k64f_line
    assert line.recipe.target == K64F and line.recipe.product == FRIDGE and line.recipe.lock.parts_ship_protected
    unit = unit_with_leading_zeros(line)
    assert unit.reload().protected  # fresh from the reel: erased flash, FSEC 0xFF
    outcome = line.provision("FRG-000101", unit)
    assert outcome.summary == "PASS FRG-000101", outcome.message

    info = unit.reload()
    device_id = info.device_id_text
    assert device_id == "00123456789ABCDEF0123456789ABCDE" == outcome.device_id  # SIM_UIDH..SIM_UIDL
    for image in line.recipe.images:
        for segment in image.segments:
            if segment.address <= chip.FSEC_ADDRESS < segment.address + len(segment.data):
                # The lock rewrote FSEC in the bootloader's sector, and nothing else there.
                expected = bytearray(segment.data)
                expected[chip.FSEC_ADDRESS - segment.address] = 0xFF
                assert unit.read_nvm(segment.address, len(segment.data)) == bytes(expected)
            else:
                assert unit.read_nvm(segment.address, len(segment.data)) == segment.data
    region = line.recipe.flash.credentials_region
    assert region.address == 0xFE000
    bundle = CredentialBundle.decode(unit.read_nvm(region.address, region.size))
    assert bundle.endpoint_name == f"acme-fridge-{device_id}"
    attempt = line.station.database.attempts.latest_attempt("FRG-000101")
    assert attempt is not None and attempt.result is AttemptResult.PASSED and attempt.product == FRIDGE
    assert hashlib.sha256(bundle.device_certificate).hexdigest() == attempt.certificate_fingerprint
    assert [step.name for step in attempt.steps] == ALL_STEPS
    assert all(step.outcome is StepOutcome.PASSED for step in attempt.steps)
    connect = next(step for step in attempt.steps if step.name == "connect")
    assert FRESH_PART in connect.detail, connect.detail
    assert len(fresh_erase_entries(line)) == 1
    record = line.station.database.units.get_unit("FRG-000101")
    assert record is not None and not record.is_development
    # Secure (FSEC 0xFF, mass erase enabled) since the lock's reset; erased once as a fresh part,
    # which does not make it a development unit.
    assert info.protected and info.protection_level == 1
    assert chip.fsec_fields(unit.read_nvm(chip.FSEC_ADDRESS, 1)[0]) == (True, False, False)
    assert info.activated_product == FRIDGE
    assert info.device_id in {device.device_id for device in line.environment.service.devices_in(FRIDGE)}
    # The demo application ran on the unit's core and said so through UART0.
    assert b"Gecko OS-sim demo application 1.4.2 booting\r\n" in (unit.directory / UART_LOG_NAME).read_bytes()

    before = flash_of(unit)
    status = reset_and_read_security(unit)
    assert status & mdm.STATUS_SYSTEM_SECURITY and status & mdm.STATUS_MASS_ERASE_ENABLE
    assert flash_of(unit) == before
    info = unit.reload()
    assert info.protected and info.protection_level == 1 and not info.ever_erased


def test_rework_mass_erases_it_through_the_mdm_ap_and_it_is_a_development_unit_from_then_on(k64f_line: Line) -> None:
    line = k64f_line
    unit = line.new_unit()
    assert line.provision("FRG-000201", unit).passed

    rework = line.rework("FRG-000201", unit, supervisor="sue")
    assert rework.failure_code == "REWORKED", rework.message
    info = unit.reload()
    assert info.ever_erased and not info.protected
    # Erased, but for the configuration field the station programmed unsecure before any reset.
    config = unit.read_nvm(chip.FLASH_CONFIG, 16)
    assert config == b"\xff" * 12 + bytes([chip.FSEC_UNSECURE]) + b"\xff" * 3
    assert flash_of(unit) == b"\xff" * chip.FSEC_ADDRESS + bytes([0xFE]) + b"\xff" * (chip.FLASH_SIZE - 0x40D)
    record = line.station.database.units.get_unit("FRG-000201")
    assert record is not None and record.is_development
    attempt = line.station.database.attempts.latest_attempt("FRG-000201")
    assert attempt is not None and attempt.is_rework and attempt.operator == "sue"

    refused = line.provision("FRG-000201", unit)
    assert refused.failure_code == "DEVELOPMENT_UNIT" and refused.attempt_id is None
    relabelled = line.provision("FRG-000202", unit)  # the same board under another label
    assert relabelled.failure_step == "connect"
    assert relabelled.failure_code in {"DEVELOPMENT_UNIT", "DEVICE_ALREADY_PASSED"}
    assert not unit.reload().protected  # it stays open at every reset (FSEC 0xFE)


def test_with_mass_erase_disabled_the_unit_passes_and_rework_is_refused_before_anything_is_touched(
    make_line: Callable[..., Line],
) -> None:
    line = make_line(replacements=NO_MASS_ERASE, target=K64F)
    assert line.recipe.lock.permanent and not line.recipe.lock.mass_erase
    unit = line.new_unit()
    outcome = line.provision("FRG-000301", unit)
    assert outcome.summary == "PASS FRG-000301", outcome.message
    info = unit.reload()
    assert info.protection_level == 2 and info.activated_product == FRIDGE
    assert chip.fsec_fields(unit.read_nvm(chip.FSEC_ADDRESS, 1)[0]) == (True, True, False)
    before = flash_of(unit)
    status = reset_and_read_security(unit)
    assert status & mdm.STATUS_SYSTEM_SECURITY and not status & mdm.STATUS_MASS_ERASE_ENABLE

    rework = line.rework("FRG-000301", unit, supervisor="sue")
    assert isinstance(rework.error, PermanentLockError) and rework.attempt_id is None
    assert "kinetis-fsec" in rework.message and "no rework" in rework.message
    assert flash_of(unit) == before
    info = unit.reload()
    assert info.protection_level == 2 and not info.ever_erased
    record = line.station.database.units.get_unit("FRG-000301")
    assert record is None or not record.is_development


def test_a_locked_unit_under_a_new_label_is_refused_and_its_passed_serial_is_never_erased(k64f_line: Line) -> None:
    line = k64f_line
    unit = line.new_unit()
    assert line.provision("FRG-000401", unit).passed
    image = flash_of(unit)

    again = line.provision("FRG-000401", unit)  # its serial passed: refused before it is touched
    assert again.error is not None and again.error.code == "ALREADY_PASSED", again.summary
    assert flash_of(unit) == image and unit.reload().protected and not unit.info.ever_erased

    # The secure board under a new label looks fresh: erased as such, its device id (read after
    # the erase) is on record under the serial that passed, so it is refused as relabelled, and
    # the erase took that serial's credential: a development unit from then on.
    relabelled = line.provision("FRG-000402", unit)
    assert isinstance(relabelled.error, RelabelledUnitError), relabelled.summary
    assert relabelled.failure_step == "connect" and relabelled.failure_code == "RELABELLED_UNIT"
    attempt = line.station.database.attempts.latest_attempt("FRG-000402")
    assert attempt is not None and attempt.result is AttemptResult.FAILED
    assert attempt.device_id == unit.reload().device_id_text
    shipped = line.station.database.units.get_unit("FRG-000401")
    assert shipped is not None and shipped.is_development
    assert len(fresh_erase_entries(line)) == 2  # its own first erase, then the relabelled one's
    refused = line.provision("FRG-000401", unit)
    assert refused.error is not None and not refused.passed and refused.attempt_id is None


def test_station_provision_on_a_k64f_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fresh_and_secure(unit: SimUnit) -> None:
        assert unit.info.protected  # a fresh part: secure

    info = provision_from_the_command_line(tmp_path, monkeypatch, capsys, K64F, "FRG-000501", fresh_and_secure)
    assert info.protected and info.protection_level == 1 and info.activated_product == FRIDGE
