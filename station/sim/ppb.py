"""The private peripheral bus's registers as a debugger and the core read and write them.

Register semantics -- read-only fields, write-one-to-clear and set/clear pairs, keys, the
comparators of the FPB and the DWT -- on the unit's shared core state; the addresses, fixed
values and the architecture's rules for priorities and SysTick are in :mod:`station.sim.scs`.
"""

from __future__ import annotations

from typing import Final

from station.sim.core_state import CoreState, Slot
from station.sim.scs import (
    AFSR,
    AIRCR,
    AIRCR_PRIGROUP_MASK,
    AIRCR_READ_KEY,
    AIRCR_VECTKEY,
    BFAR,
    BUS_FAULT,
    CCR,
    CFSR,
    CPACR,
    DEBUG_MONITOR,
    DWT_COMP0,
    DWT_COMPARATORS,
    DWT_CTRL,
    DWT_CTRL_CYCCNTENA,
    DWT_CYCCNT,
    DWT_FUNCTION_MASK,
    DWT_FUNCTION_MATCHED,
    DWT_PCSR,
    DWT_WATCH_ACCESS,
    DWT_WATCH_READ,
    DWT_WATCH_WRITE,
    FP_COMP0,
    FP_CTRL,
    FP_CTRL_ENABLE,
    FP_CTRL_KEY,
    FP_REMAP,
    FPB_CODE_COMPARATORS,
    FPB_COMPARATORS,
    FPCAR,
    FPCCR,
    FPDSCR,
    HFSR,
    ICSR,
    ICSR_NMIPENDSET,
    ICSR_PENDSTCLR,
    ICSR_PENDSTSET,
    ICSR_PENDSVCLR,
    ICSR_PENDSVSET,
    ID_REGISTERS,
    IDENTIFICATION,
    IRQ_COUNT,
    MEM_MANAGE,
    MMFAR,
    NMI,
    NVIC_IABR,
    NVIC_ICER,
    NVIC_ICPR,
    NVIC_IPR,
    NVIC_ISER,
    NVIC_ISPR,
    PENDSV,
    PRIORITY_MASK,
    SCR,
    SHCSR,
    SHCSR_BUSFAULTENA,
    SHCSR_MEMFAULTENA,
    SHCSR_USGFAULTENA,
    SHPR1,
    STIR,
    SVCALL,
    SYST_CSR,
    SYST_CSR_COUNTFLAG,
    SYST_CVR,
    SYST_RVR,
    SYSTICK,
    USAGE_FAULT,
    VTOR,
    cycle_counter,
    restart_systick,
    systick_value,
)


class SystemControlSpace:
    """Reads and writes of the PPB registers other than halting debug, on the shared state.

    ``on_debug_change`` is called when a breakpoint or watchpoint comparator changed (an
    emulator must re-arm its hooks); ``on_system_change`` when an exception became pending or
    SysTick was reprogrammed (a sleeping core must look again).
    """

    def __init__(self, state: CoreState) -> None:
        self.state = state

    # ---- reads -------------------------------------------------------------------------------

    def read(self, address: int) -> int:
        state = self.state
        if address in ID_REGISTERS:
            return ID_REGISTERS[address]
        if address in IDENTIFICATION:
            return IDENTIFICATION[address]
        simple = _SIMPLE_SLOTS.get(address)
        if simple is not None:
            return state.get(simple)
        if SHPR1 <= address < SHPR1 + 12:
            return state.get(Slot.SHPR, (address - SHPR1) // 4)
        if address == ICSR:
            return self._icsr()
        if address == AIRCR:
            return AIRCR_READ_KEY | (state.get(Slot.AIRCR) & AIRCR_PRIGROUP_MASK)
        if address == SHCSR:
            active = state.get(Slot.SYSTEM_ACTIVE)
            pending = state.get(Slot.SYSTEM_PENDING)
            value = state.get(Slot.SHCSR) & (SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA)
            for exception, bit in ((MEM_MANAGE, 0), (BUS_FAULT, 1), (USAGE_FAULT, 3), (SVCALL, 7), (DEBUG_MONITOR, 8)):
                value |= ((active >> exception) & 1) << bit
            value |= ((active >> PENDSV) & 1) << 10 | ((active >> SYSTICK) & 1) << 11
            for exception, bit in ((USAGE_FAULT, 12), (MEM_MANAGE, 13), (BUS_FAULT, 14), (SVCALL, 15)):
                value |= ((pending >> exception) & 1) << bit
            return value
        if address == SYST_CSR:
            value = state.get(Slot.SYST_CSR)
            state.clear_bits(Slot.SYST_CSR, SYST_CSR_COUNTFLAG)  # COUNTFLAG clears on read
            return value
        if address == SYST_CVR:
            return systick_value(state)
        for base, slot in (
            (NVIC_ISER, Slot.NVIC_ENABLED),
            (NVIC_ICER, Slot.NVIC_ENABLED),
            (NVIC_ISPR, Slot.NVIC_PENDING),
            (NVIC_ICPR, Slot.NVIC_PENDING),
            (NVIC_IABR, Slot.NVIC_ACTIVE),
        ):
            if base <= address < base + 8:
                return state.get(slot, (address - base) // 4)
        if NVIC_IPR <= address < NVIC_IPR + IRQ_COUNT:
            return state.get(Slot.NVIC_PRIORITY, (address - NVIC_IPR) // 4)
        if address == DWT_CYCCNT:
            return cycle_counter(state)
        if address == DWT_PCSR:
            return state.register("PC") if state.run_state else 0xFFFF_FFFF
        if DWT_COMP0 <= address < DWT_COMP0 + 16 * DWT_COMPARATORS:
            index, register = divmod(address - DWT_COMP0, 16)
            if register == 8:
                value = state.get(Slot.DWT_FUNCTION, index)
                state.clear_bits(Slot.DWT_FUNCTION, DWT_FUNCTION_MATCHED, index=index)  # MATCHED clears on read
                return value
            return state.get((Slot.DWT_COMP, Slot.DWT_MASK, Slot.DWT_FUNCTION, Slot.DWT_FUNCTION)[register // 4], index)
        if FP_COMP0 <= address < FP_COMP0 + 4 * FPB_COMPARATORS:
            return state.get(Slot.FP_COMP, (address - FP_COMP0) // 4)
        return 0  # reserved and unimplemented registers read as zero

    def _icsr(self) -> int:
        state = self.state
        pending = state.get(Slot.SYSTEM_PENDING)
        value = 0
        if pending & (1 << NMI):
            value |= ICSR_NMIPENDSET
        if pending & (1 << PENDSV):
            value |= ICSR_PENDSVSET
        if pending & (1 << SYSTICK):
            value |= ICSR_PENDSTSET
        value |= state.register("XPSR") & 0x1FF  # VECTACTIVE
        return value

    # ---- writes ------------------------------------------------------------------------------

    def write(self, address: int, value: int) -> tuple[bool, bool]:
        """Write a register; returns (debug configuration changed, exception state changed)."""
        state = self.state
        value &= 0xFFFF_FFFF
        simple = _SIMPLE_SLOTS.get(address)
        if simple is not None and address not in _WRITTEN_BY_RULE:
            if address == VTOR:
                value &= 0xFFFF_FF80
            state.set(simple, value)
            return False, address in (SCR, FPCCR)
        if SHPR1 <= address < SHPR1 + 12:
            state.set(Slot.SHPR, _priority_bytes(value), (address - SHPR1) // 4)
            return False, True
        if address == ICSR:
            if value & ICSR_PENDSVSET:
                state.set_bits(Slot.SYSTEM_PENDING, 1 << PENDSV)
            if value & ICSR_PENDSVCLR:
                state.clear_bits(Slot.SYSTEM_PENDING, 1 << PENDSV)
            if value & ICSR_PENDSTSET:
                state.set_bits(Slot.SYSTEM_PENDING, 1 << SYSTICK)
            if value & ICSR_PENDSTCLR:
                state.clear_bits(Slot.SYSTEM_PENDING, 1 << SYSTICK)
            if value & ICSR_NMIPENDSET:
                state.set_bits(Slot.SYSTEM_PENDING, 1 << NMI)
            return False, True
        if address == AIRCR:
            if value >> 16 == AIRCR_VECTKEY:
                state.set(Slot.AIRCR, value & AIRCR_PRIGROUP_MASK)
            return False, True
        if address == SHCSR:
            state.set(Slot.SHCSR, value & (SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA))
            return False, True
        if address in (CFSR, HFSR):
            state.clear_bits(Slot.CFSR if address == CFSR else Slot.HFSR, value)  # write one to clear
            return False, False
        if address == SYST_CSR:
            before = systick_value(state)
            state.set(Slot.SYST_CSR, (state.get(Slot.SYST_CSR) & SYST_CSR_COUNTFLAG) | (value & 0x7))
            restart_systick(state, before)
            return False, True
        if address == SYST_RVR:
            state.set(Slot.SYST_RVR, value & 0x00FF_FFFF)
            return False, True
        if address == SYST_CVR:
            state.clear_bits(Slot.SYST_CSR, SYST_CSR_COUNTFLAG)
            restart_systick(state, 0)  # any write clears the counter; it reloads at the next tick
            return False, True
        for base, slot, setting in (
            (NVIC_ISER, Slot.NVIC_ENABLED, True),
            (NVIC_ICER, Slot.NVIC_ENABLED, False),
            (NVIC_ISPR, Slot.NVIC_PENDING, True),
            (NVIC_ICPR, Slot.NVIC_PENDING, False),
        ):
            if base <= address < base + 8:
                index = (address - base) // 4
                bits = value & (0xFFFF_FFFF if index == 0 else (1 << (IRQ_COUNT - 32)) - 1)
                if setting:
                    state.set_bits(slot, bits, index=index)
                else:
                    state.clear_bits(slot, bits, index=index)
                return False, True
        if NVIC_IPR <= address < NVIC_IPR + IRQ_COUNT:
            state.set(Slot.NVIC_PRIORITY, _priority_bytes(value), (address - NVIC_IPR) // 4)
            return False, True
        if address == STIR:
            if (value & 0x1FF) < IRQ_COUNT:
                state.set_bits(Slot.NVIC_PENDING, 1 << ((value & 0x1FF) % 32), index=(value & 0x1FF) // 32)
            return False, True
        if address == DWT_CTRL:
            self._write_dwt_ctrl(value)
            return False, False
        if address == DWT_CYCCNT:
            state.set64(Slot.DWT_CYCCNT_BASE, state.cycles - value)
            state.set(Slot.DWT_CYCCNT_FROZEN, value)
            return False, False
        if DWT_COMP0 <= address < DWT_COMP0 + 16 * DWT_COMPARATORS:
            index, register = divmod(address - DWT_COMP0, 16)
            if register == 0:
                state.set(Slot.DWT_COMP, value, index)
            elif register == 4:
                state.set(Slot.DWT_MASK, value & 0x1F, index)
            elif register == 8:
                matched = state.get(Slot.DWT_FUNCTION, index) & DWT_FUNCTION_MATCHED
                state.set(Slot.DWT_FUNCTION, (value & 0x00FF_0FFF) | matched, index)
            else:
                return False, False
            state.bump(Slot.DEBUG_GENERATION)
            return True, False
        if address == FP_CTRL:
            if value & FP_CTRL_KEY:
                current = state.get(Slot.FP_CTRL)
                state.set(Slot.FP_CTRL, (current & ~FP_CTRL_ENABLE) | (value & FP_CTRL_ENABLE))
                state.bump(Slot.DEBUG_GENERATION)
                return True, False
            return False, False
        if address == FP_REMAP:
            state.set(Slot.FP_REMAP, value & 0x1FFF_FFE0)
            return False, False
        if FP_COMP0 <= address < FP_COMP0 + 4 * FPB_COMPARATORS:
            state.set(Slot.FP_COMP, value, (address - FP_COMP0) // 4)
            state.bump(Slot.DEBUG_GENERATION)
            return True, False
        return False, False  # read-only, reserved and unimplemented registers ignore writes

    def _write_dwt_ctrl(self, value: int) -> None:
        state = self.state
        was_counting = state.get(Slot.DWT_CTRL) & DWT_CTRL_CYCCNTENA
        counter = cycle_counter(state)
        state.set(Slot.DWT_CTRL, (state.get(Slot.DWT_CTRL) & 0xF000_0000) | (value & 0x0FFF_FFFF))
        counting = value & DWT_CTRL_CYCCNTENA
        if counting and not was_counting:
            state.set64(Slot.DWT_CYCCNT_BASE, state.cycles - counter)
        elif was_counting and not counting:
            state.set(Slot.DWT_CYCCNT_FROZEN, counter)

    # ---- breakpoints and watchpoints, as an emulator arms them ---------------------------------

    def breakpoint_addresses(self) -> list[int]:
        """Halfword addresses of the enabled FPB code comparators (FPBv1: code region only)."""
        state = self.state
        if not state.get(Slot.FP_CTRL) & FP_CTRL_ENABLE:
            return []
        addresses = []
        for index in range(FPB_CODE_COMPARATORS):
            comparator = state.get(Slot.FP_COMP, index)
            if not comparator & 1:
                continue
            word = comparator & 0x1FFF_FFFC
            replace = comparator >> 30
            if replace in (1, 3):
                addresses.append(word)
            if replace in (2, 3):
                addresses.append(word + 2)
        return addresses

    def watchpoints(self) -> list[tuple[int, int, int, int]]:
        """(comparator, first address, last address, function) of each enabled data watchpoint."""
        state = self.state
        result = []
        for index in range(DWT_COMPARATORS):
            function = state.get(Slot.DWT_FUNCTION, index) & DWT_FUNCTION_MASK
            if function not in (DWT_WATCH_READ, DWT_WATCH_WRITE, DWT_WATCH_ACCESS):
                continue
            size = 1 << min(state.get(Slot.DWT_MASK, index), 31)
            first = state.get(Slot.DWT_COMP, index) & ~(size - 1)
            result.append((index, first, first + size - 1, function))
        return result

    def note_watchpoint_hit(self, comparator: int) -> None:
        self.state.set_bits(Slot.DWT_FUNCTION, DWT_FUNCTION_MATCHED, index=comparator)


_SIMPLE_SLOTS: Final[dict[int, int]] = {
    VTOR: Slot.VTOR,
    SCR: Slot.SCR,
    CCR: Slot.CCR,
    MMFAR: Slot.MMFAR,
    BFAR: Slot.BFAR,
    AFSR: Slot.AFSR,
    CPACR: Slot.CPACR,
    FPCCR: Slot.FPCCR,
    FPCAR: Slot.FPCAR,
    FPDSCR: Slot.FPDSCR,
    SYST_RVR: Slot.SYST_RVR,
    CFSR: Slot.CFSR,
    HFSR: Slot.HFSR,
    DWT_CTRL: Slot.DWT_CTRL,
    FP_CTRL: Slot.FP_CTRL,
    FP_REMAP: Slot.FP_REMAP,
}
# Registers in _SIMPLE_SLOTS whose writes have their own rule below (write-one-to-clear, a
# key, a mask, or a counter to restart).
_WRITTEN_BY_RULE: Final = frozenset({CFSR, HFSR, SYST_RVR, DWT_CTRL, FP_CTRL, FP_REMAP})


def _priority_bytes(value: int) -> int:
    """Keep only the implemented (top) bits of each of the four priority bytes in a word."""
    mask = int.from_bytes(bytes([PRIORITY_MASK]) * 4, "little")
    return value & mask
