"""The private peripheral bus of the simulated Cortex-M4: SCB, NVIC, SysTick, FPB, DWT, ROM table.

Registers are kept in the unit's shared core state (:mod:`station.sim.core_state`), so that
what one debugger session or the firmware wrote is what the next one reads. This module holds
the addresses, the fixed values and identification registers, the architecture's priority
rules and SysTick's emulated time; the registers' read and write semantics are in
:mod:`station.sim.ppb`; the debug halting control registers (DHCSR, DCRSR,
DCRDR) and resets are the core controller's (:mod:`station.sim.controller`), because they
start and stop the core.

Addresses and reset values follow the ARMv7-M Architecture Reference Manual and the
Cortex-M4 Technical Reference Manual (r0p1, with FPv4-SP as on the nRF52840).
"""

from __future__ import annotations

from typing import Final

from station.sim.core_state import CoreState, Slot

# ---- addresses -----------------------------------------------------------------------------
ITM_BASE: Final = 0xE000_0000
DWT_BASE: Final = 0xE000_1000
FPB_BASE: Final = 0xE000_2000
SCS_BASE: Final = 0xE000_E000
ROM_TABLE_BASE: Final = 0xE00F_F000
PPB_BASE: Final = 0xE000_0000
PPB_END: Final = 0xE010_0000

ICTR: Final = 0xE000_E004
ACTLR: Final = 0xE000_E008
SYST_CSR: Final = 0xE000_E010
SYST_RVR: Final = 0xE000_E014
SYST_CVR: Final = 0xE000_E018
SYST_CALIB: Final = 0xE000_E01C
NVIC_ISER: Final = 0xE000_E100
NVIC_ICER: Final = 0xE000_E180
NVIC_ISPR: Final = 0xE000_E200
NVIC_ICPR: Final = 0xE000_E280
NVIC_IABR: Final = 0xE000_E300
NVIC_IPR: Final = 0xE000_E400
CPUID: Final = 0xE000_ED00
ICSR: Final = 0xE000_ED04
VTOR: Final = 0xE000_ED08
AIRCR: Final = 0xE000_ED0C
SCR: Final = 0xE000_ED10
CCR: Final = 0xE000_ED14
SHPR1: Final = 0xE000_ED18
SHCSR: Final = 0xE000_ED24
CFSR: Final = 0xE000_ED28
HFSR: Final = 0xE000_ED2C
DFSR: Final = 0xE000_ED30
MMFAR: Final = 0xE000_ED34
BFAR: Final = 0xE000_ED38
AFSR: Final = 0xE000_ED3C
CPACR: Final = 0xE000_ED88
DHCSR: Final = 0xE000_EDF0
DCRSR: Final = 0xE000_EDF4
DCRDR: Final = 0xE000_EDF8
DEMCR: Final = 0xE000_EDFC
STIR: Final = 0xE000_EF00
FPCCR: Final = 0xE000_EF34
FPCAR: Final = 0xE000_EF38
FPDSCR: Final = 0xE000_EF3C
MVFR0: Final = 0xE000_EF40
MVFR1: Final = 0xE000_EF44
MVFR2: Final = 0xE000_EF48

DWT_CTRL: Final = DWT_BASE + 0x000
DWT_CYCCNT: Final = DWT_BASE + 0x004
DWT_PCSR: Final = DWT_BASE + 0x01C
DWT_COMP0: Final = DWT_BASE + 0x020
FP_CTRL: Final = FPB_BASE + 0x000
FP_REMAP: Final = FPB_BASE + 0x004
FP_COMP0: Final = FPB_BASE + 0x008

# ---- fixed values ----------------------------------------------------------------------------
CPUID_CORTEX_M4: Final = 0x410F_C241
MVFR0_FPV4_SP: Final = 0x1011_0021
MVFR1_FPV4_SP: Final = 0x1100_0011
SYST_CALIB_VALUE: Final = 0xC000_0000  # NOREF, SKEW: no reference clock, as on the nRF52840
AIRCR_VECTKEY: Final = 0x05FA
AIRCR_READ_KEY: Final = 0xFA05_0000
AIRCR_PRIGROUP_MASK: Final = 0x0700
ICSR_PENDSTSET: Final = 1 << 26
ICSR_PENDSTCLR: Final = 1 << 25
ICSR_PENDSVSET: Final = 1 << 28
ICSR_PENDSVCLR: Final = 1 << 27
ICSR_NMIPENDSET: Final = 1 << 31
SYST_CSR_ENABLE: Final = 1 << 0
SYST_CSR_TICKINT: Final = 1 << 1
SYST_CSR_COUNTFLAG: Final = 1 << 16
FP_CTRL_ENABLE: Final = 1 << 0
FP_CTRL_KEY: Final = 1 << 1
DWT_CTRL_CYCCNTENA: Final = 1 << 0
DWT_FUNCTION_MATCHED: Final = 1 << 24
DWT_FUNCTION_MASK: Final = 0xF
DWT_WATCH_READ: Final = 5
DWT_WATCH_WRITE: Final = 6
DWT_WATCH_ACCESS: Final = 7
C_DEBUGEN: Final = 1 << 0  # DHCSR: halting debug enabled (the controller, and resets, read it)
DEMCR_VC_CORERESET: Final = 1 << 0
DEMCR_VC_MMERR: Final = 1 << 4
DEMCR_VC_NOCPERR: Final = 1 << 5
DEMCR_VC_CHKERR: Final = 1 << 6
DEMCR_VC_STATERR: Final = 1 << 7
DEMCR_VC_BUSERR: Final = 1 << 8
DEMCR_VC_INTERR: Final = 1 << 9
DEMCR_VC_HARDERR: Final = 1 << 10
DFSR_HALTED: Final = 1 << 0
DFSR_BKPT: Final = 1 << 1
DFSR_DWTTRAP: Final = 1 << 2
DFSR_VCATCH: Final = 1 << 3
DFSR_EXTERNAL: Final = 1 << 4

FPB_CODE_COMPARATORS: Final = 6
FPB_COMPARATORS: Final = 8  # 6 code + 2 literal
DWT_COMPARATORS: Final = 4
IRQ_COUNT: Final = 48  # nRF52840
PRIORITY_BITS: Final = 3  # the nRF52840 implements the top three bits of each priority
PRIORITY_MASK: Final = (0xFF << (8 - PRIORITY_BITS)) & 0xFF

# Exception numbers.
RESET: Final = 1
NMI: Final = 2
HARD_FAULT: Final = 3
MEM_MANAGE: Final = 4
BUS_FAULT: Final = 5
USAGE_FAULT: Final = 6
SVCALL: Final = 11
DEBUG_MONITOR: Final = 12
PENDSV: Final = 14
SYSTICK: Final = 15
FIRST_IRQ: Final = 16

CFSR_IACCVIOL: Final = 1 << 0
CFSR_PRECISERR: Final = 1 << 9
CFSR_IBUSERR: Final = 1 << 8
CFSR_BFARVALID: Final = 1 << 15
CFSR_STKERR: Final = 1 << 12
CFSR_UNDEFINSTR: Final = 1 << 16
CFSR_INVSTATE: Final = 1 << 17
CFSR_INVPC: Final = 1 << 18
CFSR_NOCP: Final = 1 << 19
CFSR_UNALIGNED: Final = 1 << 24
CFSR_DIVBYZERO: Final = 1 << 25
HFSR_FORCED: Final = 1 << 30
HFSR_VECTTBL: Final = 1 << 1
SHCSR_MEMFAULTENA: Final = 1 << 16
SHCSR_BUSFAULTENA: Final = 1 << 17
SHCSR_USGFAULTENA: Final = 1 << 18


def _component_ids(base: int, part: int, component_class: int) -> dict[int, int]:
    """PIDR/CIDR words of a CoreSight component designed by Arm (JEP106 0x43B)."""
    return {
        base + 0xFD0: 0x04,  # PIDR4: JEP106 continuation code 4, 4 KiB
        base + 0xFE0: part & 0xFF,
        base + 0xFE4: ((part >> 8) & 0xF) | 0xB0,
        base + 0xFE8: 0x0B,  # JEP106 id 0x3B high bits, JEDEC used
        base + 0xFEC: 0x00,
        base + 0xFF0: 0x0D,
        base + 0xFF4: component_class << 4,
        base + 0xFF8: 0x05,
        base + 0xFFC: 0xB1,
    }


def _rom_entry(component: int) -> int:
    """A ROM table entry: the component's offset from the table, present, 32-bit format."""
    return ((component - ROM_TABLE_BASE) & 0xFFFF_F000) | 0x3


# The Cortex-M4 ROM table with the components a debugger uses: SCS, DWT, FPB.
IDENTIFICATION: Final[dict[int, int]] = {
    ROM_TABLE_BASE + 0x000: _rom_entry(SCS_BASE),
    ROM_TABLE_BASE + 0x004: _rom_entry(DWT_BASE),
    ROM_TABLE_BASE + 0x008: _rom_entry(FPB_BASE),
    ROM_TABLE_BASE + 0x00C: 0x0000_0000,  # end of table
    ROM_TABLE_BASE + 0xFCC: 0x0000_0001,  # MEMTYPE: system memory present
    **_component_ids(ROM_TABLE_BASE, part=0x4C4, component_class=0x1),
    **_component_ids(SCS_BASE, part=0x00C, component_class=0xE),
    **_component_ids(DWT_BASE, part=0x002, component_class=0xE),
    **_component_ids(FPB_BASE, part=0x003, component_class=0xE),
}
ID_REGISTERS: Final[dict[int, int]] = {
    CPUID: CPUID_CORTEX_M4,
    ICTR: 0x1,  # up to 64 interrupt lines
    SYST_CALIB: SYST_CALIB_VALUE,
    MVFR0: MVFR0_FPV4_SP,
    MVFR1: MVFR1_FPV4_SP,
    MVFR2: 0,
    0xE000_ED40: 0x0000_0030,  # ID_PFR0
    0xE000_ED44: 0x0000_0200,  # ID_PFR1
    0xE000_ED48: 0x0010_0000,  # ID_DFR0
    0xE000_ED50: 0x0010_0030,  # ID_MMFR0
    0xE000_ED60: 0x0110_1110,  # ID_ISAR0
    0xE000_ED64: 0x0211_2111,  # ID_ISAR1
    0xE000_ED68: 0x2123_2231,  # ID_ISAR2
    0xE000_ED6C: 0x0111_1131,  # ID_ISAR3
    0xE000_ED70: 0x0131_0132,  # ID_ISAR4
}


# ---- SysTick and the cycle counter in emulated time -----------------------------------------


def systick_value(state: CoreState) -> int:
    """SysTick's current value at the state's cycle count (it counts processor clock cycles)."""
    csr = state.get(Slot.SYST_CSR)
    value = state.get(Slot.SYST_CVR)
    if not csr & SYST_CSR_ENABLE:
        return value
    elapsed = state.cycles - state.get64(Slot.SYST_AT)
    reload = state.get(Slot.SYST_RVR)
    if elapsed <= value:
        return value - elapsed
    if reload == 0:
        return 0
    return reload - ((elapsed - value - 1) % (reload + 1))


def cycles_to_next_tick(state: CoreState) -> int | None:
    """Cycles from now until SysTick next wraps to zero (its event), or None if it will not."""
    csr = state.get(Slot.SYST_CSR)
    reload = state.get(Slot.SYST_RVR)
    if not csr & SYST_CSR_ENABLE:
        return None
    value = systick_value(state)
    if value == 0:
        return None if reload == 0 else reload + 1
    return value


def advance_systick(state: CoreState, cycles: int) -> int:
    """Move emulated time on by ``cycles``; returns how many times SysTick wrapped meanwhile
    (each sets COUNTFLAG and, with TICKINT, pends the SysTick exception)."""
    before = systick_value(state)
    csr = state.get(Slot.SYST_CSR)
    start = state.cycles
    state.cycles = start + cycles
    if not csr & SYST_CSR_ENABLE:
        return 0
    reload = state.get(Slot.SYST_RVR)
    if cycles < before or (before == 0 and reload == 0):
        ticks = 0
    elif before == 0:
        ticks = cycles // (reload + 1)
    else:
        ticks = 1 + (cycles - before) // (reload + 1) if reload else 1
    # Re-anchor the counter: keeps the arithmetic small over a long life.
    state.set(Slot.SYST_CVR, systick_value(state))
    state.set64(Slot.SYST_AT, state.cycles)
    if ticks:
        state.set_bits(Slot.SYST_CSR, SYST_CSR_COUNTFLAG)
        if csr & SYST_CSR_TICKINT:
            state.set_bits(Slot.SYSTEM_PENDING, 1 << SYSTICK)
    return ticks


def restart_systick(state: CoreState, value: int) -> None:
    state.set(Slot.SYST_CVR, value)
    state.set64(Slot.SYST_AT, state.cycles)


def cycle_counter(state: CoreState) -> int:
    if state.get(Slot.DWT_CTRL) & DWT_CTRL_CYCCNTENA:
        return (state.cycles - state.get64(Slot.DWT_CYCCNT_BASE)) & 0xFFFF_FFFF
    return state.get(Slot.DWT_CYCCNT_FROZEN)


# ---- exception priorities (ARMv7-M B1.5.4) -----------------------------------------------------


def exception_priority(state: CoreState, exception: int) -> int:
    """An exception's configured priority; fixed negative ones for Reset, NMI and HardFault."""
    if exception == RESET:
        return -3
    if exception == NMI:
        return -2
    if exception == HARD_FAULT:
        return -1
    if exception < FIRST_IRQ:
        word = state.get(Slot.SHPR, (exception - 4) // 4)
        return (word >> (8 * (exception % 4))) & 0xFF
    irq = exception - FIRST_IRQ
    return (state.get(Slot.NVIC_PRIORITY, irq // 4) >> (8 * (irq % 4))) & 0xFF


def group_priority(state: CoreState, priority: int) -> int:
    """The part of a priority that decides preemption (PRIGROUP splits off the subpriority)."""
    if priority < 0:
        return priority
    prigroup = (state.get(Slot.AIRCR) & AIRCR_PRIGROUP_MASK) >> 8
    return priority & ~((2 << prigroup) - 1) & 0xFF


def execution_priority(state: CoreState, primask: int, faultmask: int, basepri: int) -> int:
    """The running priority: the highest active exception's, boosted by the mask registers."""
    priority = 256
    active = state.get(Slot.SYSTEM_ACTIVE)
    while active:
        low = active & -active
        exception = low.bit_length() - 1
        priority = min(priority, group_priority(state, exception_priority(state, exception)))
        active ^= low
    for word in range(2):
        bits = state.get(Slot.NVIC_ACTIVE, word)
        while bits:
            low = bits & -bits
            irq = 32 * word + low.bit_length() - 1
            priority = min(priority, group_priority(state, exception_priority(state, FIRST_IRQ + irq)))
            bits ^= low
    if basepri & 0xFF:
        priority = min(priority, group_priority(state, basepri & PRIORITY_MASK))
    if primask & 1:
        priority = min(priority, 0)
    if faultmask & 1:
        priority = min(priority, -1)
    return priority


def pending_exception(state: CoreState) -> int | None:
    """The pending exception that would be taken first (lowest priority, then number)."""
    best: tuple[int, int] | None = None
    pending = state.get(Slot.SYSTEM_PENDING)
    if not pending and not any(
        state.get(Slot.NVIC_PENDING, word) & state.get(Slot.NVIC_ENABLED, word) for word in range(2)
    ):
        return None  # the common case, checked before every slice: nothing to take
    for exception in range(1, FIRST_IRQ):
        if pending & (1 << exception):
            candidate = (group_priority(state, exception_priority(state, exception)), exception)
            best = candidate if best is None or candidate < best else best
    for word in range(2):
        bits = state.get(Slot.NVIC_PENDING, word) & state.get(Slot.NVIC_ENABLED, word)
        while bits:
            low = bits & -bits
            irq = 32 * word + low.bit_length() - 1
            candidate = (group_priority(state, exception_priority(state, FIRST_IRQ + irq)), FIRST_IRQ + irq)
            best = candidate if best is None or candidate < best else best
            bits ^= low
    return None if best is None else best[1]


def set_exception_state(
    state: CoreState, exception: int, *, active: bool | None = None, pending: bool | None = None
) -> None:
    """Mark an exception active or not, pending or not, in SHCSR/ICSR or the NVIC's registers."""
    if exception < FIRST_IRQ:
        for flag, slot in ((active, Slot.SYSTEM_ACTIVE), (pending, Slot.SYSTEM_PENDING)):
            if flag is True:
                state.set_bits(slot, 1 << exception)
            elif flag is False:
                state.clear_bits(slot, 1 << exception)
        return
    irq = exception - FIRST_IRQ
    for flag, slot in ((active, Slot.NVIC_ACTIVE), (pending, Slot.NVIC_PENDING)):
        if flag is True:
            state.set_bits(slot, 1 << (irq % 32), index=irq // 32)
        elif flag is False:
            state.clear_bits(slot, 1 << (irq % 32), index=irq // 32)


def clear_exception_state(state: CoreState) -> None:
    """What a reset does to the exception model: nothing active, nothing pending."""
    for slot, count in (
        (Slot.SYSTEM_ACTIVE, 1),
        (Slot.SYSTEM_PENDING, 1),
        (Slot.NVIC_ACTIVE, 2),
        (Slot.NVIC_PENDING, 2),
        (Slot.NVIC_ENABLED, 2),
        (Slot.NVIC_PRIORITY, 12),
        (Slot.SHPR, 3),
    ):
        for index in range(count):
            state.set(slot, 0, index)
    for slot in (
        Slot.SHCSR,
        Slot.CFSR,
        Slot.HFSR,
        Slot.VTOR,
        Slot.SCR,
        Slot.AIRCR,
        Slot.CPACR,
        Slot.SYST_CVR,
        Slot.SYST_RVR,
        Slot.MMFAR,
        Slot.BFAR,
    ):
        state.set(slot, 0)
    state.set(Slot.SYST_CSR, 0x4)
    state.set(Slot.CCR, 0x200)
    state.set(Slot.FPCCR, 0xC000_0000)
