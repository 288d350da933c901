"""The emulated core's store detection: which words of a page the CPU changed."""

from __future__ import annotations

import random

from station.sim import board
from station.sim.core import changed_words


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
