"""The emulated core: its store detection (which words of a page the CPU changed), and
its engine prepared ahead of the unit it serves."""

from __future__ import annotations

import mmap
import random
from pathlib import Path

import pytest

from station.sim import board
from station.sim.core import EmulatedCore
from station.sim.core_memory import PreparedEngine
from station.sim.core_state import CoreState
from station.sim.flash_copy import changed_words


def _per_word_reference(now: bytes, before: bytes) -> int:
    mask = 0
    for index in range(0, len(now), 4):
        if now[index : index + 4] != before[index : index + 4]:
            mask |= 0xFFFF_FFFF << (8 * index)
    return mask


def test_changed_words_marks_exactly_the_words_that_differ_in_any_bit() -> None:
    generator = random.Random(7)
    before = bytearray(generator.randbytes(board.PAGE_SIZE))
    now = bytearray(before)
    # One bit per word position class: lowest bit, highest bit, a middle one; first and last word.
    for word, bit in ((0, 0), (1, 31), (2, 16), (17, 7), (board.PAGE_SIZE // 4 - 1, 31), (500, 24)):
        now[4 * word + bit // 8] ^= 1 << (bit % 8)
    for word in generator.sample(range(board.PAGE_SIZE // 4), 100):
        now[4 * word : 4 * word + 4] = generator.randbytes(4)
    mask = changed_words(int.from_bytes(now, "little"), int.from_bytes(before, "little"))
    assert mask == _per_word_reference(bytes(now), bytes(before))


def test_an_unchanged_page_has_no_changed_words() -> None:
    page = int.from_bytes(random.Random(3).randbytes(board.PAGE_SIZE), "little")
    assert changed_words(page, page) == 0
    erased = int.from_bytes(b"\xff" * board.PAGE_SIZE, "little")
    assert changed_words(0, erased).bit_count() == 8 * board.PAGE_SIZE


def _core_on(nvm: mmap.mmap, state: CoreState, engine: PreparedEngine | None) -> EmulatedCore:
    ficr = bytes(range(256)) * (board.FICR_SIZE // 256)
    return EmulatedCore(
        nvm, ficr, state, on_nvm_stores=lambda _stores: None, on_peripheral_write=lambda _a, _s, _v: None, engine=engine
    )


def test_a_core_on_a_prepared_engine_sees_its_own_unit_and_the_engine_serves_it_alone(tmp_path: Path) -> None:
    nvm = mmap.mmap(-1, board.FLASH_SIZE + board.UICR_SIZE)
    nvm[0:8] = b"\x11\x22\x33\x44\x55\x66\x77\x88"
    state = CoreState(tmp_path)
    engine = PreparedEngine()
    core = _core_on(nvm, state, engine)
    try:
        core.sync()
        assert core.read_memory(board.FLASH_BASE, 8) == b"\x11\x22\x33\x44\x55\x66\x77\x88"
        assert core.read_memory(board.FICR_BASE, 4) == b"\x00\x01\x02\x03"
        state.write_ram(board.RAM_BASE, b"shared")  # RAM is the unit's, seen by every engine at once
        assert core.read_memory(board.RAM_BASE, 6) == b"shared"
        with pytest.raises(ValueError, match="one core"):
            _core_on(nvm, state, engine)  # a second unit must never share the first one's memory
    finally:
        core.close()
    with pytest.raises(ValueError, match="memory size"):
        _core_on(mmap.mmap(-1, board.FLASH_SIZE), state, PreparedEngine())
    state.close()
