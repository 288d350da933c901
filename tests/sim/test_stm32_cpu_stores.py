"""The STM32F429's FLASH interface taking the CPU's stores while a debugger's resume runs the core
(a flash algorithm's run): stores that program erased bits are kept back and written to the
shared map when the run ends, every other store is judged and programmed at once -- the same
flags, the same bits and the same busy time as the interface gives a debugger's store."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from pyocd.core.session import Session
from pyocd.core.target import Target

from station.sim.chips import stm32f4_flash as flash
from station.sim.chips import stm32f429 as chip
from station.sim.units import Faults, SimUnit, SimUnitStore

from .support import session_for, wait_for

FACTOR = 0.01
CODE = chip.SRAM_BASE + 0x1000
# Thumb routines the tests run on the core (r0 a flash address, r1 a value, r4 FLASH_SR):
ROUTINES = struct.pack(
    "<17H",
    0x6001, 0x6802, 0x6823, 0x6805, 0xBE00,  # STORE_WORD: str r1,[r0]; ldr r2,[r0]; ldr r3,[r4]; ldr r5,[r0]; bkpt
    0x7001, 0x6802, 0x6823, 0x6805, 0xBE00,  # STORE_BYTE: strb r1,[r0]; then the same
    0x6001, 0x3004, 0x3E01, 0xD1FB, 0xF850, 0x2C04, 0xBE00,  # STORE_WORDS: r6 words of r1 from r0; ldr r2,[r0,#-4]
)  # fmt: skip
STORE_WORD, STORE_BYTE, STORE_WORDS = CODE, CODE + 0xA, CODE + 0x14
X32_PG = flash.CR_PG | (2 << flash.CR_PSIZE_SHIFT)


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="stm32f429xi", timing_factor=FACTOR)
    yield made
    made.close()


def unlocked(session: Session, cr: int) -> None:
    """CR unlocked and set to ``cr``, SR clear, the routines in SRAM."""
    target = session.target
    target.halt()
    target.write32(flash.KEYR, flash.KEY1)
    target.write32(flash.KEYR, flash.KEY2)
    target.write32(flash.CR, cr)
    target.write32(flash.SR, flash.SR_CLEARABLE)
    target.write_memory_block8(CODE, list(ROUTINES))


def run(session: Session, entry: int, address: int, value: int, count: int = 0) -> dict[str, int]:
    """Run one routine on the core to its BKPT, as pyOCD runs a flash algorithm; its registers after."""
    target = session.target
    target.halt()
    for name, register in (("r0", address), ("r1", value), ("r4", flash.SR), ("r6", count)):
        target.write_core_register(name, register)
    target.write_core_register("sp", chip.SRAM_BASE + 0x800)
    target.write_core_register("xpsr", 1 << 24)  # Thumb
    target.write_core_register("pc", entry)
    target.resume()
    wait_for(lambda: target.get_state() == Target.State.HALTED, "the routine's BKPT")
    return {name: int(target.read_core_register(name)) for name in ("r2", "r3", "r5")}


def test_a_run_of_stores_to_erased_flash_is_in_flash_with_its_time_when_the_run_ends(unit: SimUnit) -> None:
    words = 1024  # a page of pyOCD's algorithm
    with session_for(unit) as session:
        unlocked(session, X32_PG)
        busy_before = unit.nvm_busy_seconds
        registers = run(session, STORE_WORDS, 0x0800_4000, 0x1234_5678, words)
        assert registers["r2"] == 0x1234_5678  # the core read back what it stored
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(words * chip.WORD_PROGRAM_SECONDS * FACTOR)
        assert unit.read_nvm(0x0800_4000, 4 * words) == struct.pack("<I", 0x1234_5678) * words
        assert unit.read_nvm(0x0800_4000 + 4 * words, 4) == b"\xff" * 4  # nothing past the run
        assert session.target.read32(flash.SR) == 0  # no flag; EOP only with EOPIE
        assert session.target.read32(0x0800_4000 + 4 * (words - 1)) == 0x1234_5678


def test_a_store_over_programmed_bits_only_clears_bits_and_the_core_reads_what_flash_holds(unit: SimUnit) -> None:
    with session_for(unit) as session:
        unlocked(session, X32_PG | flash.CR_EOPIE)
        session.target.write32(0x0800_8000, 0x1234_5678)  # the debugger programs the word first
        session.target.write32(flash.SR, flash.SR_EOP)
        busy_before = unit.nvm_busy_seconds
        registers = run(session, STORE_WORD, 0x0800_8000, 0xFFFF_00FF)
        assert registers["r5"] == 0x1234_0078  # after a register access: flash as programmed
        assert registers["r3"] == flash.SR_EOP  # programmed, and no error
        assert unit.read_nvm(0x0800_8000, 4) == struct.pack("<I", 0x1234_0078)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(chip.WORD_PROGRAM_SECONDS * FACTOR)


@pytest.mark.parametrize(
    ("cr", "entry", "flag"),
    [
        (2 << flash.CR_PSIZE_SHIFT, STORE_WORD, flash.SR_PGSERR),  # PG clear: a sequence error
        (X32_PG, STORE_BYTE, flash.SR_PGPERR),  # a byte where PSIZE says word
        (X32_PG | flash.CR_LOCK, STORE_WORD, flash.SR_PGSERR),  # CR locked again
    ],
    ids=["pg-clear", "wrong-width", "cr-locked"],
)
def test_a_refused_cpu_store_flags_as_a_debuggers_store_does_and_changes_nothing(
    unit: SimUnit, cr: int, entry: int, flag: int
) -> None:
    with session_for(unit) as session:
        target = session.target
        unlocked(session, cr)
        busy_before = unit.nvm_busy_seconds
        registers = run(session, entry, 0x0800_8000, 0)
        assert registers["r3"] & flag  # SR, read in the same run, right after the store
        assert registers["r5"] == 0xFFFF_FFFF  # the core's copy put back: nothing was programmed
        assert unit.read_nvm(0x0800_8000, 4) == b"\xff" * 4
        assert unit.nvm_busy_seconds == busy_before
        target.write32(flash.SR, flash.SR_CLEARABLE)
        if entry == STORE_BYTE:
            target.write8(0x0800_8000, 0)
        else:
            target.write32(0x0800_8000, 0)
        assert target.read32(flash.SR) == registers["r3"]  # the debugger's store: the same flags
        assert unit.read_nvm(0x0800_8000, 4) == b"\xff" * 4


def test_a_write_protected_sector_refuses_the_cpus_stores(unit: SimUnit) -> None:
    with session_for(unit) as session:
        target = session.target
        target.write32(flash.OPTKEYR, flash.OPTKEY1)
        target.write32(flash.OPTKEYR, flash.OPTKEY2)
        optcr = target.read32(flash.OPTCR) & ~(1 << (16 + 1))  # nWRP1 clear: sector 1 protected
        target.write32(flash.OPTCR, optcr | flash.OPTCR_OPTSTRT)
        unlocked(session, X32_PG)
        run(session, STORE_WORDS, 0x0800_3FF8, 0, 4)  # two words in sector 0, two in sector 1
        assert target.read32(flash.SR) & flash.SR_WRPERR
        assert target.read32(0x0800_4000) == 0xFFFF_FFFF
    assert unit.read_nvm(0x0800_3FF8, 16) == bytes(8) + b"\xff" * 8


def test_the_drop_writes_fault_loses_the_cpus_stores_in_its_range(unit: SimUnit) -> None:
    with unit.locked():
        unit.info.faults = Faults(drop_writes=(0x0800_4010, 0x0800_4020))
    with session_for(unit) as session:
        unlocked(session, X32_PG)
        busy_before = unit.nvm_busy_seconds
        run(session, STORE_WORDS, 0x0800_4000, 0, 12)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(12 * chip.WORD_PROGRAM_SECONDS * FACTOR)
        assert session.target.read32(flash.SR) == 0  # silently lost
    assert unit.read_nvm(0x0800_4000, 48) == bytes(16) + b"\xff" * 16 + bytes(16)
