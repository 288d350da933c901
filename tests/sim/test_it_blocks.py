"""Single steps through a Thumb IT block, through pyOCD: one instruction each, as on the chip.

unicorn runs an IT block's instructions together and does not count the ones whose condition
fails (station/sim/thumb_it.py): without the controller's own stepping of IT blocks a step from
an ``itt`` ran past the whole block.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from station.sim import board
from station.sim.thumb_it import advance, condition_passed, instruction_length, it_instruction
from station.sim.units import SimUnit, SimUnitStore

from .support import session_for

# movs r3,#V; cmp r3,#0x5a; itt eq; moveq r0,#1; moveq r1,#2; movs r2,#3; bkpt
PROGRAM = bytes.fromhex("00 23 5a 2b 04 bf 01 20 02 21 03 22 00 be")
START = board.RAM_BASE + 0x100


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit()
    yield made
    made.close()


@pytest.mark.parametrize(("value", "taken"), [(0x5A, True), (0x11, False)])
def test_each_step_through_an_it_block_is_one_instruction(unit: SimUnit, value: int, taken: bool) -> None:
    with session_for(unit) as session:
        target = session.target
        target.halt()
        target.write_memory_block8(START, list(bytes([value]) + PROGRAM[1:]))
        target.write_core_register("pc", START)
        target.write_core_register("xpsr", 1 << 24)
        for register in ("r0", "r1", "r2"):
            target.write_core_register(register, 0)
        pcs, flags = [], []
        for _ in range(6):
            target.step()
            pcs.append(target.read_core_register("pc") - START)
            flags.append(target.read_core_register("xpsr") >> 28)
        assert pcs == [2, 4, 6, 8, 10, 12], "one instruction per step, failing ones included"
        expected = (1, 2) if taken else (0, 0)
        assert (target.read_core_register("r0"), target.read_core_register("r1")) == expected
        assert target.read_core_register("r2") == 3, "after the block, instructions run unconditionally"
        # The block's instructions (steps 4 and 5) set no flags: Z is still the cmp's.
        assert [bool(flag & 0x4) for flag in flags[1:5]] == [taken] * 4
        assert flags[5] & 0x4 == 0, "movs r2, #3 outside the block sets them (Z clear)"


def test_the_it_rules() -> None:
    assert it_instruction(0xBF04) == 0x04 and it_instruction(0xBF00) is None  # itt eq; nop
    assert advance(0x04) == 0x08 and advance(0x08) == 0  # two instructions, then out
    assert instruction_length(0xF44F) == 4 and instruction_length(0x2001) == 2
    z_set, z_clear = 1 << 30, 0
    assert condition_passed(0x0, z_set) and not condition_passed(0x0, z_clear)  # EQ
    assert condition_passed(0x1, z_clear) and condition_passed(0xE, 0)  # NE; AL
    assert condition_passed(0xA, 0) and not condition_passed(0xB, 0)  # GE, LT with N == V
