"""Silicon Labs EFR32MG12 units through the station end to end, on a target only a CMSIS pack
describes: the Silicon Labs fixture pack (pyOCD makes its device a generic Cortex-M target and
runs the pack's flash algorithm for the MSC), the demo firmware built for the part, and the
``efm32-debug-lock-word`` lock: the debug lock word cleared through the MSC, read back as the AAP
in access port 0's place after the reset, undone only by the AAP's device erase."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest
from device_pack import SILICON_LABS_PACK, BuiltPack
from flow.conftest import FAST_CONSOLE, Line
from pyocd.core import exceptions
from pyocd.core.helpers import ConnectHelper
from pyocd.target import TARGET
from pyocd.target.pack.flash_algo import PackFlashAlgo

from station.app import main
from station.domain.formats import CredentialBundle
from station.domain.records import AttemptResult, StepOutcome
from station.sim.chips import EFR32MG12
from station.sim.chips import efm32_aap as aap
from station.sim.chips import efr32mg12 as chip
from station.sim.demo import DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE, prepare_demo
from station.sim.peripherals import UART_LOG_NAME
from station.sim.units import SimUnit

from .conftest import write_efr32_recipe

TOASTER = "ACME-TOASTER"
ALL_STEPS = ["connect", "flash", "verify", "credentials", "lock", "lock-confirm", "activate", "identity"]
UNIQUE = 0x000B_57FF_FE12_3456


def algorithm_in_ram(flm: bytes) -> tuple[int, bytes]:
    """Where pyOCD puts the pack's FLM (the top of its algorithm RAM) and the bytes it writes there."""
    algorithm = PackFlashAlgo(io.BytesIO(flm))
    code = struct.pack("<I", 0xE7FDBE00) + bytes(algorithm.algo_data)
    code += b"\x00" * (-len(code) % 4)
    start, size = SILICON_LABS_PACK.algorithm_ram
    return start + size - len(code), code


def main_flash(unit: SimUnit) -> bytes:
    return unit.read_nvm(chip.FLASH_BASE, chip.FLASH_SIZE)


def lock_bits(unit: SimUnit) -> bytes:
    return unit.read_nvm(chip.LOCKBITS_BASE, chip.INFO_PAGE_SIZE)


def reset_and_read_access_port_0(unit: SimUnit, pack: BuiltPack) -> int:
    """A pin reset (the DLW is read), then pyOCD as the station opens it, never unlocking: the
    pack's target finds no core behind the AAP; access port 0's IDR, as the generic target reads it."""
    session = ConnectHelper.session_with_chosen_probe(
        unique_id=unit.probe_id,
        options={"auto_unlock": False, "target_override": "cortex_m", "allow_no_cores": True},
    )
    assert session is not None
    with session:
        session.probe.reset()
        idr = int(session.target.dp.aps[0].read_reg(aap.IDR))
    stock = ConnectHelper.session_with_chosen_probe(
        unique_id=unit.probe_id, options={"auto_unlock": False, "target_override": EFR32MG12, "pack": [str(pack.path)]}
    )
    assert stock is not None
    try:
        with pytest.raises(exceptions.DebugError, match="No cores were discovered"):
            stock.open()
    finally:
        stock.close()
    return idr


def test_an_efr32_unit_passes_through_the_pack_and_ends_locked_by_its_debug_lock_word(
    efr32_line: Line, efr32_pack: BuiltPack
) -> None:
    line = efr32_line
    assert line.recipe.target == EFR32MG12 and line.recipe.pack is not None
    assert line.recipe.pack.device == "EFR32MG12P433F1024GM68" and line.recipe.pack.vendor == "Silicon Labs"
    unit = line.environment.units.create_unit(target=EFR32MG12, device_id=UNIQUE)
    line.units.append(unit)
    line.consoles.wait_for_port(unit.unit_id)
    assert not unit.info.protected  # Silicon Labs ships the parts open: the lock bits page erased
    outcome = line.provision("TST-000701", unit)
    assert outcome.summary == "PASS TST-000701", outcome.message

    info = unit.reload()
    assert outcome.device_id == info.device_id_text == "000B57FFFE123456"  # DEVINFO UNIQUEH, UNIQUEL
    for image in line.recipe.images:
        for segment in image.segments:
            assert unit.read_nvm(segment.address, len(segment.data)) == segment.data
    region = line.recipe.flash.credentials_region
    bundle = CredentialBundle.decode(unit.read_nvm(region.address, region.size))
    assert bundle.endpoint_name == "acme-toaster-000B57FFFE123456"
    attempt = line.station.database.attempts.latest_attempt("TST-000701")
    assert attempt is not None and attempt.result is AttemptResult.PASSED
    assert hashlib.sha256(bundle.device_certificate).hexdigest() == attempt.certificate_fingerprint
    assert [step.name for step in attempt.steps] == ALL_STEPS
    assert all(step.outcome is StepOutcome.PASSED for step in attempt.steps)
    # pyOCD programmed through the pack's target (a generic Cortex-M one: no family class) and
    # its flash algorithm for the MSC, which it left in RAM where the pack's RAMstart puts it.
    made = TARGET[EFR32MG12]
    assert made._pack_device.part_number == "EFR32MG12P433F1024GM68"
    assert [base.__name__ for base in made.__mro__[1:2]] == ["CoreSightTarget"]
    address, code = algorithm_in_ram(efr32_pack.flm)
    assert unit.core_state.read_ram(address, len(code)) == code
    # Locked: the debug lock word written 0 and latched at the lock's reset, nothing else in the
    # lock bits page changed; the demo application ran and said so through USART0.
    assert info.protected and not info.ever_erased
    dlw = chip.DLW_ADDRESS - chip.LOCKBITS_BASE
    assert lock_bits(unit) == b"\xff" * dlw + bytes(4) + b"\xff" * (chip.INFO_PAGE_SIZE - dlw - 4)
    assert unit.chip.lock_words(unit) == ("LOCKED (debug lock word)", False)
    assert info.activated_product == TOASTER
    assert b"Gecko OS-sim demo application 1.4.2 booting\r\n" in (unit.directory / UART_LOG_NAME).read_bytes()

    before = main_flash(unit)
    assert reset_and_read_access_port_0(unit, efr32_pack) == aap.IDR_VALUE
    assert main_flash(unit) == before and unit.reload().protected and not unit.info.ever_erased


def test_rework_is_the_aap_device_erase_and_the_unit_is_a_development_unit_from_then_on(efr32_line: Line) -> None:
    line = efr32_line
    unit = line.new_unit()
    assert line.provision("TST-000702", unit).passed
    again = line.provision("TST-000703", unit)  # the locked unit under another label: untouched
    assert again.failure_code == "UNIT_LOCKED" and again.failure_step == "connect"
    assert unit.reload().protected and not unit.info.ever_erased

    rework = line.rework("TST-000702", unit, supervisor="sue")
    assert rework.failure_code == "REWORKED", rework.message
    info = unit.reload()
    assert info.ever_erased and not info.protected and info.activated_product is None
    assert main_flash(unit) == b"\xff" * chip.FLASH_SIZE and lock_bits(unit) == b"\xff" * chip.INFO_PAGE_SIZE
    record = line.station.database.units.get_unit("TST-000702")
    assert record is not None and record.is_development
    attempt = line.station.database.attempts.latest_attempt("TST-000702")
    assert attempt is not None and attempt.is_rework and attempt.operator == "sue"
    rework_step = next(step for step in attempt.steps if step.name == "rework")
    assert rework_step.detail.startswith("locked unit erased (EFM32/EFR32: lock bits page erased"), rework_step.detail

    refused = line.provision("TST-000702", unit)
    assert refused.failure_code == "DEVELOPMENT_UNIT" and refused.attempt_id is None
    relabelled = line.provision("TST-000704", unit)  # the same board under another label
    assert relabelled.failure_step == "connect"
    assert relabelled.failure_code in {"DEVELOPMENT_UNIT", "DEVICE_ALREADY_PASSED"}
    assert not unit.reload().protected  # open at every reset: the erased DLW reads 0xFFFFFFFF


def test_station_provision_on_an_efr32_unit_with_the_recipe_s_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], efr32_pack: BuiltPack
) -> None:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    monkeypatch.setenv("STATION_CA_PASSPHRASE", DEMO_CA_PASSPHRASE)
    monkeypatch.setenv("STATION_VAULT_PASSPHRASE", DEMO_VAULT_PASSPHRASE)
    environment = prepare_demo(tmp_path / "demo")
    recipe = write_efr32_recipe(environment, efr32_pack, replacements=FAST_CONSOLE)
    TARGET.pop(EFR32MG12, None)  # as in a fresh process: only the recipe's pack brings the target
    with environment.console_server() as consoles:
        unit = environment.create_units(1, target=EFR32MG12)[0]
        consoles.wait_for_port(unit.unit_id)
        try:
            code = main([
                "provision", "--recipe", str(recipe), "--serial", "TST-000705", "--probe", unit.probe_id,
                "--console", environment.console_path(unit), "--operator", "ann",
                "--data-dir", str(environment.paths.data_dir),
            ])  # fmt: skip
            out = capsys.readouterr().out
            assert code == 0, out
            assert "PASS TST-000705" in out
            info = unit.reload()
            assert info.protected and info.activated_product == TOASTER and not info.ever_erased
        finally:
            unit.close()
