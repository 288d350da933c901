"""STM32F429xI units through the station end to end: the kettle's demo recipe (stm32-rdp1, RDP
level 1 in the option bytes) and its permanent variant (stm32-rdp2), on simulated units with
real pyOCD, real ptys and the real store; and the stock ``station provision`` command."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyocd.core import exceptions
from pyocd.core.helpers import ConnectHelper

from station.domain.errors import PermanentLockError
from station.domain.formats import CredentialBundle
from station.domain.records import AttemptResult, StepOutcome
from station.sim.chips import stm32f4_flash as flash
from station.sim.chips import stm32f429 as chip
from station.sim.peripherals import UART_LOG_NAME
from station.sim.units import SimUnit

from .conftest import Line, build_line, provision_from_the_command_line

STM32 = "stm32f429xi"
KETTLE = "ACME-KETTLE"
ALL_STEPS = ["connect", "flash", "verify", "credentials", "lock", "lock-confirm", "activate", "identity"]
RDP2 = {'[lock]\nmethod = "stm32-rdp1"\n': '[lock]\nmethod = "stm32-rdp2"\npermanent = true\n'}


@pytest.fixture
def stm32_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Line]:
    yield from build_line(tmp_path, monkeypatch, target=STM32)


def flash_of(unit: SimUnit) -> bytes:
    return unit.read_nvm(chip.FLASH_BASE, chip.FLASH_SIZE)


def reset_and_read_flash(unit: SimUnit, *, rdp_level: int) -> None:
    """A pin reset (the option bytes load), then a debugger as the station attaches one, never
    unlocking: the RDP level in force is the expected one (OPTCR, loaded from the option bytes
    at the reset), then it reads the start of flash. Raises what the chip answers."""
    session = ConnectHelper.session_with_chosen_probe(
        unique_id=unit.probe_id, options={"auto_unlock": False, "connect_mode": "attach"}
    )
    assert session is not None
    with session:
        session.probe.reset()
        assert chip.rdp_level((session.target.read32(flash.OPTCR) >> 8) & 0xFF) == rdp_level
        session.target.read_memory_block8(chip.FLASH_BASE, 64)


def test_an_stm32_unit_passes_with_rdp1_and_after_a_reset_is_locked_with_its_flash_untouched(
    stm32_line: Line,
) -> None:
    line = stm32_line
    assert line.recipe.target == STM32 and line.recipe.product == KETTLE
    unit = line.new_unit()
    outcome = line.provision("KET-000101", unit)
    assert outcome.summary == "PASS KET-000101", outcome.message

    info = unit.reload()
    device_id = info.device_id_text
    assert len(device_id) == 24 and outcome.device_id == device_id  # the 96-bit UID
    for image in line.recipe.images:
        for segment in image.segments:
            assert unit.read_nvm(segment.address, len(segment.data)) == segment.data
    region = line.recipe.flash.credentials_region
    assert region.address == chip.BANK2_BASE
    bundle = CredentialBundle.decode(unit.read_nvm(region.address, region.size))
    assert bundle.endpoint_name == f"acme-kettle-{device_id}"
    attempt = line.station.database.attempts.latest_attempt("KET-000101")
    assert attempt is not None and attempt.result is AttemptResult.PASSED and attempt.product == KETTLE
    assert hashlib.sha256(bundle.device_certificate).hexdigest() == attempt.certificate_fingerprint
    assert [step.name for step in attempt.steps] == ALL_STEPS
    assert all(step.outcome is StepOutcome.PASSED for step in attempt.steps)
    assert info.protected and info.protection_level == 1 and not info.ever_erased
    assert info.activated_product == KETTLE
    assert info.device_id in {device.device_id for device in line.environment.service.devices_in(KETTLE)}
    # The demo application ran on the unit's core and said so through USART1.
    assert b"Gecko OS-sim demo application 1.4.2 booting\r\n" in (unit.directory / UART_LOG_NAME).read_bytes()

    before = flash_of(unit)
    with pytest.raises(exceptions.TransferFaultError):
        reset_and_read_flash(unit, rdp_level=1)
    assert flash_of(unit) == before
    assert unit.reload().protection_level == 1 and not unit.info.ever_erased


def test_rework_regresses_rdp_to_level_0_and_the_unit_is_a_development_unit_from_then_on(stm32_line: Line) -> None:
    line = stm32_line
    unit = line.new_unit()
    assert line.provision("KET-000201", unit).passed

    rework = line.rework("KET-000201", unit, supervisor="sue")
    assert rework.failure_code == "REWORKED", rework.message
    info = unit.reload()
    assert info.ever_erased and info.protection_level == 0 and not info.protected
    assert flash_of(unit) == b"\xff" * chip.FLASH_SIZE
    record = line.station.database.units.get_unit("KET-000201")
    assert record is not None and record.is_development
    attempt = line.station.database.attempts.latest_attempt("KET-000201")
    assert attempt is not None and attempt.is_rework and attempt.operator == "sue"

    refused = line.provision("KET-000201", unit)
    assert refused.failure_code == "DEVELOPMENT_UNIT" and refused.attempt_id is None
    # The same board under another label is recognised by its device id (which passed before).
    relabelled = line.provision("KET-000202", unit)
    assert relabelled.failure_step == "connect"
    assert relabelled.failure_code in {"DEVELOPMENT_UNIT", "DEVICE_ALREADY_PASSED"}
    assert flash_of(unit) == b"\xff" * chip.FLASH_SIZE


def test_with_rdp2_the_unit_passes_is_locked_for_good_and_rework_is_refused_before_anything_is_touched(
    make_line: Callable[..., Line],
) -> None:
    line = make_line(replacements=RDP2, target=STM32)
    assert line.recipe.lock.permanent
    unit = line.new_unit()
    outcome = line.provision("KET-000301", unit)
    assert outcome.summary == "PASS KET-000301", outcome.message
    info = unit.reload()
    assert info.protection_level == 2 and info.activated_product == KETTLE
    before = flash_of(unit)
    with pytest.raises(exceptions.Error, match="Target not detected") as silent:
        reset_and_read_flash(unit, rdp_level=2)
    assert isinstance(silent.value.__cause__, exceptions.TransferError)  # the DP answers nothing at all

    rework = line.rework("KET-000301", unit, supervisor="sue")
    assert isinstance(rework.error, PermanentLockError) and rework.attempt_id is None
    assert "stm32-rdp2" in rework.message and "no rework" in rework.message
    assert flash_of(unit) == before
    info = unit.reload()
    assert info.protection_level == 2 and not info.ever_erased
    record = line.station.database.units.get_unit("KET-000301")
    assert record is None or not record.is_development


def test_station_provision_on_an_stm32_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    info = provision_from_the_command_line(tmp_path, monkeypatch, capsys, STM32, "KET-000401")
    assert info.protection_level == 1 and info.activated_product == KETTLE
