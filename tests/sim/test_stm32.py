"""The simulated STM32F429xI through the real pyOCD code: its flash algorithm, the FLASH
interface's registers, option bytes and readout protection (RM0090 chapter 3)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyocd.core import exceptions
from pyocd.core.session import Session
from pyocd.core.target import Target
from pyocd.flash.eraser import FlashEraser
from pyocd.flash.loader import MemoryLoader

from station.app import main
from station.domain.errors import SimulationError
from station.sim.chips import stm32f4_flash as flash
from station.sim.chips import stm32f429 as chip
from station.sim.units import SimUnit, SimUnitStore, lock_unit_as_delivered

from .support import session_for

UID = int.from_bytes(struct.pack("<HHB", 0x0012, 0x0034, 7) + b"QX41T0Z", "little")


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="stm32f429xi", device_id=UID)
    yield made
    made.close()




def unlock_cr(session: Session) -> None:
    session.target.write32(flash.KEYR, flash.KEY1)
    session.target.write32(flash.KEYR, flash.KEY2)


def program_options(session: Session, *, rdp: int) -> None:
    """The option-byte sequence a station runs to lock: OPTKEYR, the new RDP byte, OPTSTRT, BSY."""
    target = session.target
    target.write32(flash.OPTKEYR, flash.OPTKEY1)
    target.write32(flash.OPTKEYR, flash.OPTKEY2)
    optcr = target.read32(flash.OPTCR)
    assert not optcr & flash.OPTCR_OPTLOCK
    optcr = (optcr & ~0xFF00) | (rdp << 8)
    target.write32(flash.OPTCR, optcr)
    target.write32(flash.OPTCR, optcr | flash.OPTCR_OPTSTRT)
    while target.read32(flash.SR) & flash.SR_BSY:
        pass
    target.write32(flash.OPTCR, optcr | flash.OPTCR_OPTLOCK)


def load(session: Session, address: int, data: bytes) -> None:
    loader = MemoryLoader(session, progress=lambda _fraction: None, smart_flash=False)
    loader.add_data(address, data)
    loader.commit()


def test_pyocd_meets_an_stm32f429xi_with_its_identity(unit: SimUnit) -> None:
    with session_for(unit) as session:
        target = session.target
        assert type(target).__name__ == "STM32F429xI"  # the probe names the unit's board: no -t
        assert target.read32(chip.DBGMCU_IDCODE) & 0xFFF == 0x419
        assert target.read32(chip.DBGMCU_CR) == 0x7  # pyOCD's post_connect_hook wrote it
        low, middle, high = target.read_memory_block32(chip.UID_BASE, 3)
        assert (high << 64) | (middle << 32) | low == UID
        assert target.read16(chip.FLASH_SIZE_REGISTER) == 2048
        assert target.read32(chip.OPTION_BYTES_BANK1) == 0x5513_AAEC  # USER, RDP 0xAA, complement
        assert target.read32(flash.OPTCR) == 0x0FFF_AAED  # RM0090's reset value
        assert target.read32(flash.CR) == flash.CR_LOCK
        with pytest.raises(exceptions.TransferFaultError):
            target.write32(chip.UID_BASE, 0)  # the system memory page is read-only
    assert unit.info.device_id_text == "5A3054313458510700340012"  # lot "QX41T0Z", wafer 7, X 0x12, Y 0x34


def test_unique_ids_are_96_bits_with_a_lot_number(sim_store: SimUnitStore) -> None:
    made = sim_store.create_unit(target="stm32f429xi")
    try:
        assert 0x20 < made.info.device_id >> 88 < 0x7F
        assert len(made.info.device_id_text) == 24
    finally:
        made.close()
    with pytest.raises(SimulationError, match="96 bits"):
        sim_store.create_unit(target="stm32f429xi", device_id=1 << 96)
    with pytest.raises(SimulationError, match="build code"):
        sim_store.create_unit(target="stm32f429xi", build_code="hardened")


def test_the_flash_algorithm_programs_across_sectors_and_banks(unit: SimUnit) -> None:
    """pyOCD's own STM32F429 algorithm runs on the core and drives the FLASH registers."""
    across_sector = bytes(range(256)) * 0x30  # 0x0800_F400-0x0801_0000-0x0801_0400: sector 3 into 4
    bank2 = b"bank two" * 64
    with session_for(unit) as session:
        load(session, 0x0800_F400, across_sector)
        load(session, chip.BANK2_BASE + 0x4000, bank2)
        target = session.target
        assert bytes(target.read_memory_block8(0x0800_F400, len(across_sector))) == across_sector
        assert bytes(target.read_memory_block8(0x0000_F400, 16)) == across_sector[:16]  # the boot alias
        FlashEraser(session, FlashEraser.Mode.SECTOR).erase(["0x0800C000"])  # sector 3 only
        assert bytes(target.read_memory_block8(0x0800_F400, 4)) == b"\xff" * 4
        assert bytes(target.read_memory_block8(0x0801_0000, 4)) == across_sector[0xC00:0xC04]  # sector 4 kept
    assert unit.read_nvm(chip.BANK2_BASE + 0x4000, len(bank2)) == bank2
    assert unit.read_nvm(chip.BANK2_BASE, 0x4000) == b"\xff" * 0x4000  # sector 12 untouched


def test_stock_pyocd_commands_in_other_processes_share_the_units_flash(unit: SimUnit, tmp_path: Path) -> None:
    image = tmp_path / "image.bin"
    data = bytes((index * 7) & 0xFF for index in range(0x5000))
    image.write_bytes(data)
    pyocd = [sys.executable, "-m", "pyocd"]
    environment = dict(os.environ)

    def run(*arguments: str) -> str:
        done = subprocess.run(
            [*pyocd, *arguments, "-u", unit.probe_id], capture_output=True, text=True, env=environment, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("load", "--base-address", "0x08004000", str(image))
    assert unit.read_nvm(0x0800_4000, len(data)) == data  # programmed in one process, seen in this one
    shown = run("cmd", "-c", "read32 0x08004000 16")
    assert shown.split()[1:5] == [f"{word:08x}" for word in struct.unpack_from("<4I", data)]
    run("erase", "--sector", "0x08004000")
    assert unit.read_nvm(0x0800_4000, 0x4000) == b"\xff" * 0x4000
    assert unit.read_nvm(0x0800_8000, 0x1000) == data[0x4000:]
    run("erase", "--chip")
    assert unit.is_blank()
    run("load", "--base-address", "0x08120000", str(image))  # bank 2's first 128 KiB sector
    run("erase", "--mass")
    assert unit.is_blank()


def test_flash_registers_take_only_the_manuals_sequences(unit: SimUnit) -> None:
    with session_for(unit) as session:
        target = session.target
        target.reset_and_halt()
        target.write32(0x0800_0000, 0)  # CR locked, PG clear: a sequence error, nothing written
        assert target.read32(flash.SR) & flash.SR_PGSERR
        target.write32(flash.SR, flash.SR_PGSERR)  # write one to clear
        assert target.read32(flash.SR) == 0
        target.write32(flash.CR, flash.CR_PG)  # ignored while locked
        assert target.read32(flash.CR) == flash.CR_LOCK
        unlock_cr(session)
        target.write32(flash.CR, flash.CR_PG | (2 << flash.CR_PSIZE_SHIFT) | flash.CR_EOPIE)  # x32
        target.write32(0x0800_0000, 0x1234_5678)
        target.write32(0x0800_0000, 0xFFFF_00FF)  # bits only go from 1 to 0
        assert target.read32(0x0800_0000) == 0x1234_0078
        assert target.read32(flash.SR) == flash.SR_EOP
        target.write8(0x0800_0010, 0)  # a byte where PSIZE says word
        assert target.read32(flash.SR) & flash.SR_PGPERR
        assert target.read8(0x0800_0010) == 0xFF
        target.write32(flash.CR, flash.CR_LOCK)
        with pytest.raises(exceptions.TransferFaultError, match="locked until the next reset"):
            target.write32(flash.KEYR, flash.KEY2)  # out of order: a bus error, CR locked until reset
        with pytest.raises(exceptions.TransferFaultError):
            unlock_cr(session)  # the right sequence no longer helps
        target.write32(flash.CR, flash.CR_PG)
        assert target.read32(flash.CR) == flash.CR_LOCK
        target.reset_and_halt()
        unlock_cr(session)
        assert target.read32(flash.CR) == 0
    assert unit.read_nvm(0x0800_0000, 4) == (0x1234_0078).to_bytes(4, "little")


def test_busy_lasts_the_datasheets_time_at_the_units_factor(sim_store: SimUnitStore) -> None:
    """BSY stays set while a 128 KiB sector erase at x8 runs (2 s at factor 1); a CR write waits."""
    made = sim_store.create_unit(target="stm32f429xi", timing_factor=1.0)
    try:
        with session_for(made) as session:
            target = session.target
            unlock_cr(session)
            busy_before = made.nvm_busy_seconds
            target.write32(flash.CR, flash.CR_SER | (5 << flash.CR_SNB_SHIFT) | flash.CR_STRT)
            assert target.read32(flash.SR) & flash.SR_BSY
            target.write32(flash.CR, 0)  # the bus stalls until the erase is over
            assert not target.read32(flash.SR) & flash.SR_BSY
            assert made.nvm_busy_seconds - busy_before == pytest.approx(2.0)
    finally:
        made.close()


def test_the_algorithms_erase_time_is_the_units_factor_times_the_datasheets(sim_store: SimUnitStore) -> None:
    made = sim_store.create_unit(target="stm32f429xi", timing_factor=0.02)
    try:
        with session_for(made) as session:
            busy_before = made.nvm_busy_seconds
            FlashEraser(session, FlashEraser.Mode.SECTOR).erase(["0x08000000"])
            # pyOCD's algorithm erases at x8 parallelism (PSIZE 0): 400 ms for a 16 KiB sector.
            assert made.nvm_busy_seconds - busy_before == pytest.approx(0.02 * 0.400)
    finally:
        made.close()


def test_rdp_level_1_closes_flash_to_the_debugger_at_the_next_reset(unit: SimUnit) -> None:
    with session_for(unit) as session:
        load(session, 0x0800_0000, b"firmware" * 512)
        program_options(session, rdp=chip.RDP_LEVEL_1_DEFAULT)
        assert session.target.read32(0x0800_0000) == int.from_bytes(b"firm", "little")  # not yet: at reset
        session.target.reset()
    assert unit.reload().protection_level == 1 and unit.info.protected
    with session_for(unit) as session:
        target = session.target
        with pytest.raises(exceptions.TransferFaultError):
            target.read32(0x0800_0000)
        with pytest.raises(exceptions.TransferFaultError):
            target.read32(0x0000_0000)  # the boot alias is flash too
        target.write32(chip.SRAM_BASE + 0x100, 0xC0FFEE)  # SRAM and peripherals stay reachable
        assert target.read32(chip.SRAM_BASE + 0x100) == 0xC0FFEE
        assert (target.read32(flash.OPTCR) >> 8) & 0xFF == chip.RDP_LEVEL_1_DEFAULT
        with pytest.raises(exceptions.FlashEraseFailure):
            load(session, 0x0800_4000, b"\x00" * 16)  # the algorithm's erase meets WRPERR
    assert unit.read_nvm(0x0800_0000, 8) == b"firmware"


def test_rdp_1_to_0_mass_erases_flash_and_marks_the_unit(unit: SimUnit) -> None:
    with session_for(unit) as session:
        load(session, 0x0800_0000, b"firmware" * 512)
    lock_unit_as_delivered(unit)
    assert unit.reload().protection_level == 1
    with session_for(unit) as session:
        program_options(session, rdp=chip.RDP_LEVEL_0)
        assert unit.is_blank()  # erased before the option bytes change, as on the chip
        session.target.reset()
    info = unit.reload()
    assert info.protection_level == 0 and not info.protected
    assert info.ever_erased  # it held firmware: a development unit for life
    with session_for(unit) as session:
        assert session.target.read32(0x0800_0000) == 0xFFFF_FFFF


def test_a_blank_unit_regressed_from_level_1_stays_a_new_part(unit: SimUnit) -> None:
    lock_unit_as_delivered(unit)
    with session_for(unit) as session:
        program_options(session, rdp=chip.RDP_LEVEL_0)
    assert not unit.reload().ever_erased


def test_rdp_level_2_kills_the_debug_port_for_good(unit: SimUnit) -> None:
    with session_for(unit) as session:
        program_options(session, rdp=chip.RDP_LEVEL_2)
        with pytest.raises(exceptions.TransferError):
            session.target.reset()  # the reset happens; the port answers nothing after it
    assert unit.reload().protection_level == 2
    with pytest.raises(exceptions.Error), session_for(unit, connect_mode="under-reset"):
        pass
    with unit.locked():
        unit.reset()  # a power cycle changes nothing
    assert unit.info.protection_level == 2
    assert unit.chip.lock_words(unit) == ("LOCKED FOR GOOD (RDP level 2)", False)


def _thumb_program() -> bytes:
    """Flash image: vector table (every fault to a handler that spins), then a program that
    stores a wrong key to FLASH_KEYR and spins."""
    handler = chip.FLASH_BASE + 0x200 + 1
    vectors = struct.pack("<8I", chip.SRAM_BASE + 0x1000, chip.FLASH_BASE + 0x100 + 1, *[handler] * 6)
    program = struct.pack(
        "<6H2I",
        0x4802,  # 0x100: ldr r0, [pc, #8]  -> FLASH_KEYR
        0x4903,  # 0x102: ldr r1, [pc, #12] -> a wrong key
        0x6001,  # 0x104: str r1, [r0]
        0xE7FE,  # 0x106: b .
        0xBF00,
        0xBF00,
        flash.KEYR,  # 0x10C
        0x1234_5678,  # 0x110
    )
    return vectors.ljust(0x100, b"\xff") + program.ljust(0x100, b"\xff") + struct.pack("<H", 0xE7FE)


def test_the_core_boots_through_the_alias_and_a_wrong_key_is_a_precise_bus_fault(unit: SimUnit) -> None:
    with session_for(unit) as session:
        load(session, chip.FLASH_BASE, _thumb_program())
        target = session.target
        target.halt()
        target.write32(0xE000_EDFC, target.read32(0xE000_EDFC) | (1 << 8) | (1 << 10))  # DEMCR VC_BUSERR, VC_HARDERR
        target.write32(0xE000_ED0C, 0x05FA_0004)  # AIRCR SYSRESETREQ: the vector table through address 0
        target.resume()
        deadline = time.monotonic() + 60
        while target.get_state() != Target.State.HALTED:
            assert time.monotonic() < deadline, "the core never reached the fault handler"
        assert target.read_core_register("pc") == chip.FLASH_BASE + 0x200
        assert target.read32(0xE000_ED38) == flash.KEYR  # BFAR
        assert target.read32(0xE000_ED28) & (0x82 << 8) == 0x82 << 8  # CFSR BFARVALID | PRECISERR
        stacked_pc = target.read32(target.read_core_register("sp") + 24)
        assert stacked_pc == chip.FLASH_BASE + 0x104  # precise: the store itself
        with pytest.raises(exceptions.TransferFaultError):
            target.write32(flash.KEYR, flash.KEY1)  # CR stays locked until the next reset


def test_write_protected_sectors_refuse_erase_and_programming(unit: SimUnit) -> None:
    with session_for(unit) as session:
        target = session.target
        target.write32(flash.OPTKEYR, flash.OPTKEY1)
        target.write32(flash.OPTKEYR, flash.OPTKEY2)
        optcr = target.read32(flash.OPTCR) & ~(1 << (16 + 1))  # nWRP1 clear: sector 1 protected
        target.write32(flash.OPTCR, optcr | flash.OPTCR_OPTSTRT)
        unlock_cr(session)
        target.write32(flash.CR, flash.CR_SER | (1 << flash.CR_SNB_SHIFT) | flash.CR_STRT)
        assert target.read32(flash.SR) & flash.SR_WRPERR
        target.write32(flash.SR, flash.SR_WRPERR)
        target.write32(flash.CR, flash.CR_PG | (2 << flash.CR_PSIZE_SHIFT))
        target.write32(0x0800_4000, 0)  # sector 1
        assert target.read32(flash.SR) & flash.SR_WRPERR
        target.write32(0x0800_8000, 0)  # sector 2 is not protected
        assert target.read32(0x0800_8000) == 0
    assert unit.read_nvm(0x0800_4000, 4) == b"\xff" * 4


def test_station_sim_create_and_show_speak_the_familys_words(sim_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "create", "--target", "stm32f429xi", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)["units"][0]
    assert created["target"] == "stm32f429xi" and "build_code" not in created
    assert main(["sim", "fault", created["unit"], "locked"]) == 0
    capsys.readouterr()
    assert main(["sim", "show", created["unit"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["target"] == "stm32f429xi" and len(shown["device_id"]) == 24
    assert shown["lock_state"] == "LOCKED (RDP level 1)" and shown["protection_level"] == 1
    assert [region["name"] for region in shown["regions"]][3:5] == ["credentials", "key-store"]
    assert shown["regions"][3]["address"] == chip.BANK2_BASE
    assert main(["sim", "create", "--target", "stm32f429xi", "--build-code", "hardened"]) != 0
    assert "nRF52840" in capsys.readouterr().err
    assert main(["sim", "create"]) == 0  # no --target: an nRF52840, as before
    capsys.readouterr()
    assert main(["sim", "show", "unit-0002", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["target"] == "nrf52840"
