"""The simulated Kinetis K64F through the real pyOCD code: its flash algorithm, the FTFE's
registers and commands, the SIM's identity, the watchdog, and FSEC latched at reset."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pyocd.core import exceptions
from pyocd.core.session import Session
from pyocd.core.target import Target
from pyocd.flash.eraser import FlashEraser
from pyocd.flash.loader import MemoryLoader

from station.domain.errors import SimulationError
from station.sim.chips import k64f as chip
from station.sim.chips import kinetis_ftfe as ftfe
from station.sim.chips import kinetis_mdm as mdm
from station.sim.units import SimUnit, SimUnitStore

from .support import session_for

UID = 0x0123_4567_89AB_CDEF_0011_2233_4455_6677


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="k64f", device_id=UID)
    yield made
    made.close()




@contextmanager
def inspection(unit: SimUnit) -> Iterator[Session]:
    """The generic Cortex-M target, as the station inspects a unit that may be secure."""
    with session_for(unit, target_override="cortex_m", allow_no_cores=True) as session:
        yield session


def mdm_ap(session: Session) -> Any:
    return session.target.dp.aps[mdm.MDM_AP]


def mass_erase_through_mdm_ap(session: Session, *, hold_reset: bool = True) -> None:
    """The MDM-AP mass erase as the reference manual and pyOCD run it."""
    ap = mdm_ap(session)
    if hold_reset:
        session.probe.assert_reset(True)
    ap.write_reg(mdm.CONTROL, mdm.CONTROL_MASS_ERASE)
    while not ap.read_reg(mdm.STATUS) & mdm.STATUS_MASS_ERASE_ACK:
        pass
    while ap.read_reg(mdm.CONTROL) & mdm.CONTROL_MASS_ERASE:
        pass
    if hold_reset:
        session.probe.assert_reset(False)


def unsecured(unit: SimUnit) -> None:
    """A fresh K64F is secure (erased FSEC = 0xFF): open it as a debugger's first act does, and
    write its configuration field unsecure (FSEC = 0xFE), so that it stays open at every reset."""
    with inspection(unit) as session:
        mass_erase_through_mdm_ap(session)
    assert not unit.reload().protected
    with unit.locked():
        unit.program_nvm(chip.FPROT_FIELD, b"\xff" * 4 + bytes([chip.FSEC_UNSECURE]) + b"\xff" * 3)


def run_command(target: Any, command: int, address: int, *data: int) -> int:
    """One FTFE command from the debugger: FCCOB words, launch, wait for CCIF; FSTAT after it."""
    while not target.read8(ftfe.FSTAT) & ftfe.CCIF:
        pass
    target.write8(ftfe.FSTAT, ftfe.CLEARABLE)
    target.write32(ftfe.FCCOB_COMMAND, command << 24 | address)
    for index, word in enumerate(data):
        target.write32(ftfe.FCCOB_DATA + 4 * index, word)
    target.write8(ftfe.FSTAT, ftfe.CCIF)
    while not (status := target.read8(ftfe.FSTAT)) & ftfe.CCIF:
        pass
    return int(status)


def program_phrase(target: Any, address: int, phrase: bytes) -> int:
    return run_command(target, ftfe.PROGRAM_PHRASE, address, *struct.unpack("<II", phrase))


def load(session: Session, address: int, data: bytes) -> None:
    loader = MemoryLoader(session, progress=lambda _fraction: None, smart_flash=False)
    loader.add_data(address, data)
    loader.commit()


def image(size: int, fsec: int = chip.FSEC_UNSECURE) -> bytes:
    """A firmware image from address 0 with a flash configuration field."""
    data = bytearray((index * 7 + 3) & 0xFF for index in range(size))
    data[0x400:0x410] = b"\xff" * 12 + bytes([fsec, 0xFF, 0xFF, 0xFF])
    return bytes(data)


def test_a_fresh_k64f_arrives_secure_with_its_identity(unit: SimUnit) -> None:
    assert unit.info.protected and unit.is_blank()
    assert unit.info.device_id_text == "0123456789ABCDEF0011223344556677"
    assert unit.chip.lock_words(unit) == ("SECURE (FSEC)", False)
    with inspection(unit) as session:
        ap = mdm_ap(session)
        assert ap.idr == mdm.IDR_VALUE
        status = ap.read_reg(mdm.STATUS)
        assert status & mdm.STATUS_SYSTEM_SECURITY and status & mdm.STATUS_MASS_ERASE_ENABLE
        assert status & mdm.STATUS_FLASH_READY and status & mdm.STATUS_SYSTEM_RESET
        assert not status & mdm.STATUS_BACKDOOR_ENABLE
        with pytest.raises(exceptions.TransferError):
            session.target.dp.aps[0].read32(0x4004_8054)  # the AHB-AP is closed to the system


def test_pyocd_meets_a_k64f_with_its_sim_and_ftfe_registers(unit: SimUnit) -> None:
    unsecured(unit)
    with session_for(unit) as session:
        target = session.target
        assert type(target).__name__ == "K64F"  # the probe names the unit's board: no -t
        assert [int(word) for word in target.read_memory_block32(chip.SIM_UIDH, 4)] == [
            0x0123_4567, 0x89AB_CDEF, 0x0011_2233, 0x4455_6677,
        ]
        sdid = target.read32(chip.SIM_SDID)
        assert sdid >> 28 == 6 and (sdid >> 24) & 0xF == 4  # FAMILYID K6x, SUBFAMID Kx4
        assert (target.read32(chip.SIM_FCFG1) >> 24) & 0xF == 0xF  # PFSIZE: 1 MiB
        target.write32(chip.SIM_UIDH, 0)  # read-only: the store is dropped
        assert target.read32(chip.SIM_UIDH) == 0x0123_4567
        assert target.read8(ftfe.FSTAT) == ftfe.CCIF
        assert target.read8(ftfe.FSTAT + 1) == ftfe.FCNFG_FIXED  # FCNFG: PFLSH, RAMRDY
        assert target.read8(ftfe.FSTAT + 2) == 0xFE  # FSEC: erased 0xFF, SEC released by the erase
        assert target.read32(ftfe.FPROT) == 0xFFFF_FFFF
        with pytest.raises(exceptions.TransferFaultError):
            target.write32(0x1000, 0)  # flash is programmed by command, never by a store


def test_pyocds_flash_algorithm_runs_on_the_core(unit: SimUnit) -> None:
    """pyOCD's own K64F algorithm: sector erase, Read 1s Section, Program Phrase, Program Check."""
    unsecured(unit)
    data = image(0x3000)
    with session_for(unit) as session:
        load(session, 0, data)
        target = session.target
        assert bytes(target.read_memory_block8(0, len(data))) == data
        assert target.read16(chip.WDOG_BASE) == 0x01D2  # its init unlocked the WDOG and disabled it
        FlashEraser(session, FlashEraser.Mode.SECTOR).erase(["0x1000"])
        assert bytes(target.read_memory_block8(0x1000, 16)) == b"\xff" * 16
        load(session, 0x8_0000 - 8, b"across the blocks")  # two sectors, one in each block
    assert unit.read_nvm(0x2000, 0x1000) == data[0x2000:]
    assert unit.read_nvm(0x8_0000 - 8, 17) == b"across the blocks"


def test_pyocd_forces_fsec_unsecure_in_what_it_programs(unit: SimUnit) -> None:
    unsecured(unit)
    with session_for(unit) as session:
        load(session, 0, image(0x1000, fsec=0xFF))
        session.target.reset()
    assert unit.read_nvm(chip.FSEC_ADDRESS, 1) == b"\xfe"
    assert not unit.reload().protected


def test_program_phrase_errors_and_bit_clearing(unit: SimUnit) -> None:
    unsecured(unit)
    with session_for(unit) as session:
        target = session.target
        target.halt()
        assert program_phrase(target, 0x2004, b"\x00" * 8) & ftfe.ACCERR  # not phrase-aligned
        assert unit.read_nvm(0x2000, 16) == b"\xff" * 16
        target.write8(ftfe.FSTAT, ftfe.CCIF)  # ACCERR still set: the command does not launch
        assert target.read8(ftfe.FSTAT) & ftfe.ACCERR
        assert program_phrase(target, 0x2000, b"\x0f\xf0" * 4) == ftfe.CCIF
        assert program_phrase(target, 0x2000, b"\x0f\xf0" * 4) == ftfe.CCIF  # the same again: it verifies
        assert program_phrase(target, 0x2000, b"\xff\x00" * 4) == ftfe.CCIF | ftfe.MGSTAT0  # ones over zeros
        assert unit.read_nvm(0x2000, 8) == b"\x0f\x00" * 4  # bits only go from 1 to 0
        assert run_command(target, ftfe.READ_1S_SECTION, 0x2000, 0x0001_0000) == ftfe.CCIF | ftfe.MGSTAT0
        assert run_command(target, ftfe.READ_1S_SECTION, 0x2010, 0x0001_0000) == ftfe.CCIF  # 16 bytes, erased
        assert run_command(target, ftfe.READ_1S_SECTION, 0x2008, 0x0001_0000) & ftfe.ACCERR  # not 128-bit aligned
        expected = int.from_bytes(b"\x0f\x00\x0f\x00", "little")
        assert run_command(target, ftfe.PROGRAM_CHECK, 0x2000, 0x0100_0000, expected) == ftfe.CCIF
        assert run_command(target, ftfe.PROGRAM_CHECK, 0x2000, 0x0100_0000, 0) == ftfe.CCIF | ftfe.MGSTAT0
        assert run_command(target, 0x7F, 0) & ftfe.ACCERR  # no such command
        assert run_command(target, ftfe.ERASE_SECTOR, 0x2FF0) == ftfe.CCIF  # any 128-bit address in it
        assert unit.read_nvm(0x2000, 8) == b"\xff" * 8
        assert run_command(target, ftfe.ERASE_SECTOR, chip.FLASH_SIZE) & ftfe.ACCERR  # beyond flash


def test_fprot_refuses_erase_and_program_and_only_grows(unit: SimUnit) -> None:
    unsecured(unit)
    with session_for(unit) as session:
        target = session.target
        target.halt()
        target.write8(ftfe.FPROT, 0xFE)  # FPROT3 bit 0: region 0 (0-32 KiB) protected
        target.write8(ftfe.FPROT, 0xFF)  # normal mode: protection cannot be lifted
        assert target.read32(ftfe.FPROT) == 0xFFFF_FFFE
        assert program_phrase(target, 0x1000, b"\x00" * 8) & ftfe.FPVIOL
        assert run_command(target, ftfe.ERASE_SECTOR, 0x7000) & ftfe.FPVIOL
        assert run_command(target, ftfe.ERASE_ALL, 0) & ftfe.FPVIOL
        assert program_phrase(target, 0x8000, b"\x00" * 8) == ftfe.CCIF  # region 1 is open
        target.reset_and_halt()  # FPROT loads from the configuration field again
        assert target.read32(ftfe.FPROT) == 0xFFFF_FFFF
    assert unit.read_nvm(0x1000, 8) == b"\xff" * 8 and unit.read_nvm(0x8000, 8) == bytes(8)


def test_ccif_stays_clear_for_the_datasheets_time_at_the_units_factor(sim_store: SimUnitStore) -> None:
    made = sim_store.create_unit(target="k64f")
    try:
        unsecured(made)
        with made.locked():
            made.info.timing_factor = 50.0  # a sector erase: 0.75 s
        with session_for(made) as session:
            target = session.target
            target.halt()
            busy_before = made.nvm_busy_seconds
            target.write32(ftfe.FCCOB_COMMAND, ftfe.ERASE_SECTOR << 24 | 0x3000)
            target.write8(ftfe.FSTAT, ftfe.CCIF)
            assert not target.read8(ftfe.FSTAT) & ftfe.CCIF
            target.write32(ftfe.FCCOB_COMMAND, ftfe.PROGRAM_PHRASE << 24 | 0x3000)  # ignored while it runs
            while not target.read8(ftfe.FSTAT) & ftfe.CCIF:
                pass
            assert target.read32(ftfe.FCCOB_COMMAND) == ftfe.ERASE_SECTOR << 24 | 0x3000
            assert made.nvm_busy_seconds - busy_before == pytest.approx(50.0 * chip.ERASE_SECTOR_SECONDS)
    finally:
        made.close()


def test_the_algorithms_flash_time_is_the_units_factor_times_the_datasheets(sim_store: SimUnitStore) -> None:
    made = sim_store.create_unit(target="k64f", timing_factor=0.02)
    try:
        unsecured(made)
        with session_for(made) as session:
            busy_before = made.nvm_busy_seconds
            FlashEraser(session, FlashEraser.Mode.SECTOR).erase(["0x5000"])
            # The algorithm erases, then verifies the sector with Read 1s Section.
            expected = chip.ERASE_SECTOR_SECONDS + chip.READ_1S_SECTION_SECONDS
            assert made.nvm_busy_seconds - busy_before == pytest.approx(0.02 * expected)
    finally:
        made.close()


def test_fsec_written_through_the_ftfe_secures_at_the_next_reset(unit: SimUnit) -> None:
    unsecured(unit)
    with session_for(unit) as session:
        target = session.target
        load(session, 0, image(0x1000))
        target.halt()
        sector = bytearray(target.read_memory_block8(0, chip.SECTOR_SIZE))
        sector[chip.FSEC_ADDRESS] = 0xFF
        assert run_command(target, ftfe.ERASE_SECTOR, 0) == ftfe.CCIF
        for offset in range(0, chip.SECTOR_SIZE, 8):
            assert program_phrase(target, offset, bytes(sector[offset : offset + 8])) == ftfe.CCIF
        assert not unit.reload().protected  # not yet: FSEC loads at reset
        assert target.read8(ftfe.FSTAT + 2) == 0xFE
        session.probe.reset()  # the reset pin
    assert unit.reload().protected and unit.info.protection_level == 1
    with inspection(unit) as session:
        assert mdm_ap(session).read_reg(mdm.STATUS) & mdm.STATUS_SYSTEM_SECURITY
    assert unit.read_nvm(0x100, 16) == image(0x1000)[0x100:0x110]


def test_erase_all_blocks_unsecures_until_the_next_reset(unit: SimUnit) -> None:
    unsecured(unit)
    with session_for(unit) as session:
        load(session, 0, image(0x2000))
        FlashEraser(session, FlashEraser.Mode.CHIP).erase()  # the algorithm's Erase All Blocks
        assert unit.is_blank() and not unit.reload().protected
        assert session.target.read8(ftfe.FSTAT + 2) == 0xFE
        session.target.write32(0xE000_ED0C, 0x05FA_0004)  # SYSRESETREQ: erased FSEC (0xFF) loads
    assert unit.reload().protected
    assert not unit.info.ever_erased  # the chip's own erase command: not a debug-port mass erase


def test_the_watchdog_takes_its_unlock_sequence(unit: SimUnit) -> None:
    unsecured(unit)
    stctrlh = chip.WDOG_BASE
    with session_for(unit) as session:
        target = session.target
        target.halt()
        target.write16(stctrlh, 0x01D2)  # locked: dropped
        assert target.read16(stctrlh) == 0x01D3
        target.write16(chip.WDOG_BASE + 0xE, 0xC520)
        target.write16(chip.WDOG_BASE + 0xE, 0xD928)
        target.write16(stctrlh, 0x01D2)  # WDOGEN clear: the watchdog disabled, as start-up code does
        assert target.read16(stctrlh) == 0x01D2
        target.reset_and_halt()
        assert target.read16(stctrlh) == 0x01D3


def _thumb_program() -> bytes:
    """Vector table, then a program that stores to flash (ignored) and reaches a BKPT."""
    vectors = struct.pack("<2I", chip.SRAM_U_BASE + 0x1000, 0x500 + 1)
    program = struct.pack(
        "<4HI",
        0x4801,  # 0x500: ldr r0, [pc, #4] -> 0x00001000
        0x6000,  # 0x502: str r0, [r0]
        0xBE00,  # 0x504: bkpt
        0xBF00,
        0x0000_1000,  # 0x508
    )
    return vectors.ljust(0x500, b"\xff") + program


def test_the_core_boots_from_flash_and_its_stores_to_flash_change_nothing(unit: SimUnit) -> None:
    unsecured(unit)
    firmware = bytearray(_thumb_program())
    firmware[0x400:0x410] = b"\xff" * 12 + b"\xfe\xff\xff\xff"
    with session_for(unit) as session:
        load(session, 0, bytes(firmware))
        target = session.target
        target.reset_and_halt()
        assert target.read_core_register("pc") == 0x500
        target.resume()
        deadline = time.monotonic() + 60
        while target.get_state() != Target.State.HALTED:
            assert time.monotonic() < deadline, "the core never reached its breakpoint"
        assert target.read_core_register("pc") == 0x504
        assert target.read32(0x1000) == 0xFFFF_FFFF


def test_unique_ids_are_128_bits(sim_store: SimUnitStore) -> None:
    made = sim_store.create_unit(target="k64f")
    try:
        assert len(made.info.device_id_text) == 32
    finally:
        made.close()
    with pytest.raises(SimulationError, match="128 bits"):
        sim_store.create_unit(target="k64f", device_id=1 << 128)
    with pytest.raises(SimulationError, match="build code"):
        sim_store.create_unit(target="k64f", build_code="hardened")
