"""Thumb IT blocks for single steps (ARMv7-M A7.3.3, A7.4.1): ITSTATE, conditions, advance.

unicorn's instruction count does not count an instruction of an IT block whose condition
fails, and runs a passing one together with the rest of its block: a C_STEP inside (or onto)
an IT block would run several instructions. A step there is done in these terms instead:
an IT instruction sets ITSTATE, a failing instruction is skipped, a passing one runs alone as
if it were the last of its block, and ITSTATE then advances as the architecture says.
"""

from __future__ import annotations

from typing import Final

IT_BITS: Final = (0x3F << 10) | (0x3 << 25)  # ITSTATE[7:2] in xPSR[15:10], ITSTATE[1:0] in xPSR[26:25]
_IT_INSTRUCTION: Final = 0xBF00


def itstate(xpsr: int) -> int:
    return ((xpsr >> 8) & 0xFC) | ((xpsr >> 25) & 0x3)


def with_itstate(xpsr: int, state: int) -> int:
    return (xpsr & ~IT_BITS) | ((state >> 2) << 10) | ((state & 0x3) << 25)


def in_it_block(state: int) -> bool:
    return state & 0xF != 0


def it_instruction(halfword: int) -> int | None:
    """The ITSTATE an IT instruction sets (firstcond:mask), or None if it is no IT."""
    if halfword & 0xFF00 == _IT_INSTRUCTION and halfword & 0xF:
        return halfword & 0xFF
    return None


def advance(state: int) -> int:
    """ITAdvance(): the next instruction's ITSTATE (0 after the block's last)."""
    if state & 0x7 == 0:
        return 0
    return (state & 0xE0) | ((state << 1) & 0x1F)


def instruction_length(halfword: int) -> int:
    """2 or 4 bytes: a Thumb-2 32-bit instruction starts with 0b11101, 0b11110 or 0b11111."""
    return 4 if halfword >> 11 in (0x1D, 0x1E, 0x1F) else 2


def condition_passed(condition: int, xpsr: int) -> bool:
    """ConditionPassed() on the APSR flags."""
    n, z, c, v = (xpsr >> 31) & 1, (xpsr >> 30) & 1, (xpsr >> 29) & 1, (xpsr >> 28) & 1
    base = {
        0: z == 1,
        1: c == 1,
        2: n == 1,
        3: v == 1,
        4: c == 1 and z == 0,
        5: n == v,
        6: z == 0 and n == v,
        7: True,
    }[condition >> 1]
    return not base if condition & 1 and condition != 0xF else base
