"""What a reset does to a simulated unit's core, with or without an emulator in this process.

A reset is the chip's, not a session's: the console's ``reboot`` (in the console server's
process), a debugger's SYSRESETREQ or reset pin, the firmware's own SYSRESETREQ all end here,
and put the core where a real Cortex-M4 goes -- registers from the vector table in flash,
the exception state and the peripherals at their reset values, and running, or halted on
the reset vector when a debugger asked for it (DEMCR.VC_CORERESET with C_DEBUGEN). A process
whose emulator is running the core sees the saved registers change and starts over from them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from station.sim import scs
from station.sim.core_state import (
    CORE_REGISTER_NAMES,
    DWT_CTRL_RESET,
    FP_CTRL_RESET,
    FP_REGISTER_COUNT,
    STICKY_RESET,
    CoreState,
    RunState,
    Slot,
)


def reset_core(
    state: CoreState,
    vector_table: bytes,
    reset_peripherals: Callable[[CoreState], None],
    *,
    power_on: bool = False,
) -> None:
    """Reset the core (and, at power-on, the debug logic too) from the vector table's first two
    words; ``reset_peripherals`` is the chip's (:meth:`ChipModel.reset_peripherals`)."""
    stack, entry = struct.unpack_from("<II", vector_table)
    with state.locked():
        scs.clear_exception_state(state)
        reset_peripherals(state)
        if power_on:
            _reset_debug_logic(state)
        registers = dict.fromkeys(CORE_REGISTER_NAMES, 0)
        registers.update(LR=0xFFFF_FFFF, PC=entry & ~1, XPSR=(entry & 1) << 24, MSP=stack & ~3)
        state.save_registers([registers[name] for name in CORE_REGISTER_NAMES], [0] * (FP_REGISTER_COUNT + 1))
        state.set_bits(Slot.STICKY, STICKY_RESET)
        state.set(Slot.HALT_REQUEST, 0)
        state.set_float(Slot.HALT_VISIBLE_AT, 0.0)
        caught = state.get(Slot.DEBUG_CONTROL) & scs.C_DEBUGEN and state.get(Slot.DEMCR) & scs.DEMCR_VC_CORERESET
        if caught:
            state.run_state = RunState.HALTED
            state.set_bits(Slot.DFSR, scs.DFSR_VCATCH)
        else:
            state.run_state = RunState.RUNNING


def _reset_debug_logic(state: CoreState) -> None:
    """Power-on reset: debug registers and comparators at their reset values, time from zero."""
    for slot in (Slot.DEBUG_CONTROL, Slot.DFSR, Slot.DEMCR, Slot.DCRDR, Slot.FP_REMAP):
        state.set(slot, 0)
    state.set(Slot.FP_CTRL, FP_CTRL_RESET)
    state.set(Slot.DWT_CTRL, DWT_CTRL_RESET)
    for index in range(8):
        state.set(Slot.FP_COMP, 0, index)
    for index in range(4):
        for slot in (Slot.DWT_COMP, Slot.DWT_MASK, Slot.DWT_FUNCTION):
            state.set(slot, 0, index)
    state.cycles = 0
    state.set64(Slot.SYST_AT, 0)
    state.bump(Slot.DEBUG_GENERATION)
