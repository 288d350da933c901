"""The nRF52840's NVMC taking the CPU's stores to flash and UICR while a debugger's resume runs the
core (a flash algorithm's run): every store made with CONFIG = WEN costs a word write's time,
whatever its value -- the erased value over an erased word and a word's own value over it change
nothing in flash but take their 41 us on the chip -- and stores made with CONFIG != WEN are
neither written nor charged."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from pyocd.core.session import Session
from pyocd.core.target import Target

from station.sim import board
from station.sim.chips.nrf52840 import NVMC_CONFIG, NVMC_CONFIG_EEN, NVMC_CONFIG_WEN
from station.sim.units import Faults, SimUnit, SimUnitStore

from .support import session_for, wait_for

FACTOR = 0.01
WORD = board.WORD_WRITE_SECONDS * FACTOR  # a word write's busy time at this factor
READ_ONLY = 0
CODE = board.RAM_BASE + 0x1000
# Thumb routines the tests run on the core (r0 a flash address, r1 a value, r6 a count, r4 NVMC
# CONFIG, r3 and r5 the CONFIG values written before and after the stores):
ROUTINES = struct.pack(
    "<14H",
    0x6023, 0x6001, 0x3004, 0x3E01, 0xD1FB, 0x6025, 0xBE00,  # CONFIGURED_WORDS: str r3,[r4]; r6 words; str r5,[r4]
    0x6001, 0x3004, 0x3E01, 0xD1FB, 0xBE00,  # WORDS: r6 words of r1 from r0, CONFIG as it is
    0x7001, 0xBE00,  # BYTE: strb r1,[r0]
)  # fmt: skip
CONFIGURED_WORDS, WORDS, BYTE = CODE, CODE + 0xE, CODE + 0x18
PROGRAMMED = 0x0008_0000  # a page the tests program first, away from everything
ERASED = 0x0008_1000  # a page the tests leave erased


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(timing_factor=FACTOR)
    with made.locked():
        made.program_nvm(PROGRAMMED, struct.pack("<4I", 0x1234_5678, 0x0000_FFFF, 0xA5A5_A5A5, 0))
    yield made
    made.close()


def run(session: Session, entry: int, address: int, value: int, count: int = 1, config: int = NVMC_CONFIG_WEN) -> None:
    """Run one routine on the core to its BKPT, as pyOCD runs a flash algorithm."""
    target = session.target
    target.halt()
    target.write_memory_block8(CODE, list(ROUTINES))
    registers = {"r0": address, "r1": value, "r3": config, "r4": NVMC_CONFIG, "r5": READ_ONLY, "r6": count}
    for name, register in registers.items():
        target.write_core_register(name, register)
    target.write_core_register("sp", board.RAM_BASE + 0x800)
    target.write_core_register("xpsr", 1 << 24)  # Thumb
    target.write_core_register("pc", entry)
    target.resume()
    wait_for(lambda: target.get_state() == Target.State.HALTED, "the routine's BKPT")


def test_the_erased_value_over_erased_words_costs_a_word_write_each_and_changes_nothing(unit: SimUnit) -> None:
    words = 300
    with session_for(unit) as session:
        busy_before = unit.nvm_busy_seconds
        run(session, CONFIGURED_WORDS, ERASED, 0xFFFF_FFFF, words)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(words * WORD)
        assert session.target.read32(NVMC_CONFIG) == READ_ONLY
    assert unit.read_nvm(ERASED, board.PAGE_SIZE) == b"\xff" * board.PAGE_SIZE


def test_a_word_stored_with_the_value_it_holds_costs_a_word_write_and_keeps_it(unit: SimUnit) -> None:
    before = unit.read_nvm(PROGRAMMED, 16)
    with session_for(unit) as session:
        busy_before = unit.nvm_busy_seconds
        run(session, CONFIGURED_WORDS, PROGRAMMED, 0x1234_5678)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(WORD)
        # CONFIG set by the debugger before the run: the stores are counted from the run's start.
        session.target.write32(NVMC_CONFIG, NVMC_CONFIG_WEN)
        busy_before = unit.nvm_busy_seconds
        run(session, WORDS, PROGRAMMED + 4, 0x0000_FFFF)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(WORD)
        assert session.target.read32(PROGRAMMED) == 0x1234_5678
    assert unit.read_nvm(PROGRAMMED, 16) == before


def test_every_store_is_charged_and_flash_keeps_only_what_it_clears(unit: SimUnit) -> None:
    """Unchanged, erased-value and programming stores in one run: the time is the stores', the
    content flash semantics' (bits only 1 -> 0)."""
    with session_for(unit) as session:
        busy_before = unit.nvm_busy_seconds
        run(session, CONFIGURED_WORDS, PROGRAMMED, 0x0000_FFFF, 4)  # over 0x12345678, itself, 0xA5A5A5A5, 0
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(4 * WORD)
    assert unit.read_nvm(PROGRAMMED, 16) == struct.pack("<4I", 0x0000_5678, 0x0000_FFFF, 0x0000_A5A5, 0)


def test_a_byte_store_costs_one_word_write_and_programs_its_byte(unit: SimUnit) -> None:
    """The NVMC supports only word writes; the model takes a byte store as a word write of that
    byte with ones in the rest of its word."""
    with session_for(unit) as session:
        session.target.write32(NVMC_CONFIG, NVMC_CONFIG_WEN)
        busy_before = unit.nvm_busy_seconds
        run(session, BYTE, PROGRAMMED + 1, 0x0F)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(WORD)
    assert unit.read_nvm(PROGRAMMED, 4) == struct.pack("<I", 0x1234_0678)


def test_dropped_stores_are_charged_but_not_written(unit: SimUnit) -> None:
    with unit.locked():
        unit.info.faults = Faults(drop_writes=(ERASED + 8, ERASED + 16))
    with session_for(unit) as session:
        busy_before = unit.nvm_busy_seconds
        run(session, CONFIGURED_WORDS, ERASED, 0, 6)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(6 * WORD)
    assert unit.read_nvm(ERASED, 24) == bytes(8) + b"\xff" * 8 + bytes(8)


@pytest.mark.parametrize("config", [READ_ONLY, NVMC_CONFIG_EEN], ids=["read-only", "erase-enabled"])
def test_stores_without_write_enable_are_neither_written_nor_charged(unit: SimUnit, config: int) -> None:
    before = unit.read_nvm(PROGRAMMED, 16)
    with session_for(unit) as session:
        busy_before = unit.nvm_busy_seconds
        run(session, CONFIGURED_WORDS, PROGRAMMED, 0, 4, config=config)
        run(session, CONFIGURED_WORDS, ERASED, 0, 4, config=config)
        assert unit.nvm_busy_seconds == busy_before
    assert unit.read_nvm(PROGRAMMED, 16) == before
    assert unit.read_nvm(ERASED, 16) == b"\xff" * 16


def test_stray_stores_before_the_debugger_enables_writes_are_dropped_not_charged(unit: SimUnit) -> None:
    """Stores made with CONFIG = read-only stay in the core's copy until the NVMC next looks; a
    debugger's CONFIG = WEN before the next run must not make them count or stick."""
    with session_for(unit) as session:
        target = session.target
        busy_before = unit.nvm_busy_seconds
        run(session, WORDS, ERASED, 0, 4)  # CONFIG read-only as the unit came
        target.write32(NVMC_CONFIG, NVMC_CONFIG_WEN)
        run(session, WORDS, ERASED + 0x100, 0, 2)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(2 * WORD)
        assert target.read32(ERASED) == 0xFFFF_FFFF
    assert unit.read_nvm(ERASED, 16) == b"\xff" * 16
    assert unit.read_nvm(ERASED + 0x100, 12) == bytes(8) + b"\xff" * 4


def test_uicr_stores_are_charged_as_flash_stores(unit: SimUnit) -> None:
    customer = board.UICR_BASE + 0x80  # CUSTOMER[0..]
    with session_for(unit) as session:
        busy_before = unit.nvm_busy_seconds
        run(session, CONFIGURED_WORDS, customer, 0xFFFF_FFFF, 3)
        run(session, CONFIGURED_WORDS, customer + 12, 0x0102_0304)
        assert unit.nvm_busy_seconds - busy_before == pytest.approx(4 * WORD)
    assert unit.read_nvm(customer, 16) == b"\xff" * 12 + b"\x04\x03\x02\x01"
