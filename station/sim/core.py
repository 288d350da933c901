"""The emulated Cortex-M4 of a simulated unit (the unicorn engine), as one process runs it.

Memory, as the core sees it:

* the chip's non-volatile memory (nRF52840: flash and UICR; STM32: flash, also through its
  boot alias at 0, and option bytes) from a private copy of the unit's memory-mapped
  ``nvm.bin`` (reads at memory speed: the CRC analyzer reads every byte); what the core
  stores there goes to the family's flash controller model, which applies flash semantics
  (1 -> 0 only, dropped-write faults, timing) to the shared map: a page at a time (the
  nRF52's NVMC, which also gets the count of the stores made while it programs: each costs a
  word write, whatever its value) or store by store (the STM32's FLASH interface judges each
  one). The copy is brought up to date from the unit's code-write journal before every run
  (see :meth:`CoreState.note_code_write`);
* RAM and the peripheral slots straight from the unit's shared core state, so that every
  process sees what the core stored; an access to a peripheral hole is a bus fault; the
  family's register pages (the STM32's FLASH interface, DBGMCU) through its model, and a
  store its model answers with a bus error is a precise BusFault;
* the private peripheral bus (SCB, NVIC, SysTick, DWT, FPB) as unicorn MMIO callbacks onto
  the shared system control space (:mod:`station.sim.ppb`).

Translated code is dropped for every range written by anyone but the core itself (unicorn
notices the core's own stores). Breakpoints are code hooks at the FPB's comparator addresses
(unicorn stops before the instruction), watchpoints memory hooks on the DWT's ranges (the
access completes, then the core stops, as the architecture's watchpoints do).
"""

from __future__ import annotations

import ctypes
import enum
import mmap
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import unicorn
from unicorn import arm_const

from station.sim import ppb, scs, thumb_it
from station.sim.chips import default_chip
from station.sim.chips.base import BusError, ChipModel
from station.sim.core_memory import (
    PreparedEngine,
    StoreCounter,
    StoreHook,
    drop_translated_code,
    map_volatile_memory,
)
from station.sim.core_state import CORE_FILE_SIZE, CORE_REGISTER_NAMES, CoreState, Slot
from station.sim.exceptions import CPACR_FPU_ENABLED, ExceptionUnit, LockupError, RegisterBatch
from station.sim.flash_copy import FlashCopy, NvmStores

# unicorn's numbers for what the CPU raises (QEMU's EXCP_* for Arm).
_EXCP_UDEF: Final = 1
_EXCP_SWI: Final = 2
_EXCP_PREFETCH_ABORT: Final = 3
_EXCP_DATA_ABORT: Final = 4
_EXCP_BKPT: Final = 7
_EXCP_EXCEPTION_EXIT: Final = 8
_EXCP_NOCP: Final = 17
_EXCP_INVSTATE: Final = 18
_EXCP_UNALIGNED: Final = 22
_EXCP_DIVBYZERO: Final = 23
_WFI: Final = 0xBF30
_WFE: Final = 0xBF20
_NEVER: Final = 0xFFFF_FFFE  # an ``until`` address no code runs to
_FORCED_FLUSH_RUNS: Final = 256

_REGISTERS: Final = tuple(getattr(arm_const, f"UC_ARM_REG_{name}") for name in CORE_REGISTER_NAMES)
_ENGINE_REGISTER: Final = {
    **dict(zip(CORE_REGISTER_NAMES, _REGISTERS, strict=True)),
    "IPSR": arm_const.UC_ARM_REG_IPSR,
}
# The order registers are written in so that the engine banks SP right: CONTROL cleared
# ("CONTROL!", SPSEL off), the mode (xPSR, IPSR), both stack pointers, then CONTROL itself.
_LOAD_ORDER: Final = (
    "CONTROL!",
    "XPSR",
    "IPSR",
    "MSP",
    "PSP",
    "CONTROL",
    *(name for name in CORE_REGISTER_NAMES if name not in ("XPSR", "MSP", "PSP", "CONTROL")),
)
_FP_REGISTERS: Final = (
    *(getattr(arm_const, f"UC_ARM_REG_S{index}") for index in range(32)),
    arm_const.UC_ARM_REG_FPSCR,
)
_PPB_PAGES: Final = ((scs.ITM_BASE, 0x3000), (scs.SCS_BASE, 0x1000), (scs.ROM_TABLE_BASE, 0x1000))

# A store to a register with behaviour: True when the family kept (or refused) it itself.
PeripheralWrite = Callable[[int, int, int], bool | None]
RegisterRead = Callable[[int], int | None]
NvmStore = Callable[[int, int, int], bool]  # one CPU store to flash: whether it stands as made (core_memory.StoreHook)


class StopReason(enum.Enum):
    """Why a run of the core ended."""

    BUDGET = "budget"  # the instructions it was given are spent: still running
    SLEEP = "sleep"  # WFI or WFE: waits for an event
    BKPT = "bkpt"  # a BKPT instruction with halting debug on: halted at it
    BREAKPOINT = "breakpoint"  # an FPB comparator matched: halted before the instruction
    WATCHPOINT = "watchpoint"  # a DWT comparator matched: halted after the access
    VECTOR_CATCH = "vector catch"  # DEMCR caught the exception: halted at its handler
    LOCKUP = "lockup"
    SYSTEM = "system"  # the firmware changed SysTick or pended an exception: look again
    RESET = "reset"  # the firmware asked for a system reset (AIRCR.SYSRESETREQ)


@dataclass(frozen=True)
class RunResult:
    reason: StopReason
    executed: int  # instructions: exact when the budget was spent, estimated otherwise
    detail: str | None = None


class EmulatedCore:
    """The CPU of one simulated unit in this process; registers live in the shared state
    between runs (:meth:`load_registers`, :meth:`save_registers`)."""

    def __init__(
        self,
        nvm: mmap.mmap,
        ficr: bytes,
        state: CoreState,
        *,
        on_nvm_stores: NvmStores,
        on_peripheral_write: PeripheralWrite,
        engine: PreparedEngine | None = None,
        chip: ChipModel | None = None,
        nvm_writable: Callable[[], bool] = lambda: False,
        read_register: RegisterRead = lambda _address: None,
        on_nvm_store: NvmStore | None = None,
        on_nvm_commit: Callable[[], None] = lambda: None,
    ) -> None:
        chip = chip or (engine.chip if engine is not None else default_chip())
        engine = engine or PreparedEngine(chip)
        if engine.taken or engine.chip is not chip or len(engine.shadow) != len(nvm):
            raise ValueError("a prepared engine serves one core, of its own chip and memory size")
        engine.taken = True
        layout = chip.layout
        self._layout = layout
        self._nvm_writable = nvm_writable
        self._read_register = read_register
        self._uc = engine.uc
        self._nvm = nvm
        self.state = state
        self.scs = ppb.SystemControlSpace(state)
        self.exceptions = ExceptionUnit(self._uc, state)
        self._load_batch = RegisterBatch(self._uc, tuple(_ENGINE_REGISTER[name.rstrip("!")] for name in _LOAD_ORDER))
        self._save_batch = RegisterBatch(self._uc, _REGISTERS)
        self._fp_batch = RegisterBatch(self._uc, _FP_REGISTERS)
        self._on_nvm_stores = on_nvm_stores
        self._on_peripheral_write = on_peripheral_write
        # Non-volatile memory: a private copy, the CPU's stores found by comparison (flash_copy.py).
        self._flash = FlashCopy(engine.shadow, engine.at_refresh, nvm, layout=layout, on_refresh=self._drop_code)
        # A view of the shared core state to map RAM and peripherals from, released in close()
        # before the unit closes the map.
        self._state_view = (ctypes.c_char * CORE_FILE_SIZE).from_buffer(state.memory)
        map_volatile_memory(
            self._uc, layout, state, ctypes.addressof(self._state_view), self._mmio_read, self._mmio_write
        )
        self._uc.mem_write(layout.id_page.base, ficr)
        # The private peripheral bus as device callbacks (unicorn's MMIO): a memory hook would
        # send every load and store of the program through unicorn's slow path, these only the
        # accesses to the bus itself.
        for base, size in _PPB_PAGES:
            self._uc.mmio_map(base, size, self._ppb_read, base, self._ppb_write, base)
        self._journal_position = -1  # nothing replayed yet: the first run refreshes everything
        self._register_generation = -1  # the engine's registers are not the saved ones yet
        self.registers_dirty = False  # the engine ran since its registers were saved
        self._debug_generation = -1
        self._debug_hooks: list[int] = []
        self._stop: StopReason | None = None
        self._detail: str | None = None
        self._complete_instruction = False  # a hook stopped mid-instruction: finish it first
        self._replaying = False
        self._unmapped_address: int | None = None
        self._bus_error_at: int | None = None  # a register store answered with a bus error
        self._rate = 50e6  # instructions per second, measured, to estimate interrupted runs
        self._runs_since_flush = 0
        self.debug_enabled = False  # DHCSR.C_DEBUGEN as the controller last saw it
        self._store_hook = (
            None
            if on_nvm_store is None
            else StoreHook(
                self._uc, layout, self._flash, on_nvm_store, on_nvm_commit, replaying=lambda: self._replaying
            )
        )
        # Stores handed over a page at a time are also counted while the controller programs.
        self._store_counter = None if on_nvm_store is not None else StoreCounter(self._uc, layout, self._flash)
        for first, last in chip.behaving_ranges:
            self._uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, self._trap_peripheral_store, begin=first, end=last)
        self._uc.hook_add(unicorn.UC_HOOK_INTR, self._trap_interrupt)
        self._uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED, self._trap_unmapped)

    def close(self) -> None:
        """Release the emulator before the memory maps it points into go away."""
        self._uc.emu_stop()
        del self._uc
        del self.exceptions
        self._store_counter = None  # it holds the engine too
        self._flash.close()
        del self._state_view

    # ---- flash copy and translated code ---------------------------------------------------------

    def _drop_code(self, start: int, end: int) -> None:
        drop_translated_code(self._uc, self._layout, start, end)

    def _restore_stored(self) -> None:
        """Before a register access: put back the stores the flash controller did not take as made."""
        hook = self._store_hook
        if hook is not None and hook.unsettled:
            hook.settle()

    def _settle_stored(self) -> None:
        """The end of a run: everything the CPU stored to flash committed and settled."""
        if self._store_hook is not None:
            self._store_hook.settle()

    def _mmio_read(self, _uc: unicorn.Uc, offset: int, size: int, page: int) -> int:
        hook = self._store_hook  # _restore_stored, inline: a flash algorithm reads four registers a word
        if hook is not None and hook.unsettled:
            hook.settle()
        address = page + offset
        word = address & ~3
        value = self._read_register(word)
        if value is None:
            value = self.state.read_peripheral(word)
        return (value >> (8 * (address & 3))) & ((1 << (8 * size)) - 1)

    def _mmio_write(self, _uc: unicorn.Uc, offset: int, size: int, value: int, page: int) -> None:
        if self._replaying:
            return
        address = page + offset
        value &= (1 << (8 * size)) - 1
        hook = self._store_hook
        if hook is None:
            self.flush_stores()
        elif hook.unsettled:  # each store was judged as it happened: put back what was not taken
            hook.settle()
        try:
            kept = self._on_peripheral_write(address, size, value)
        except BusError:
            self._bus_error_at = address  # taken as a precise BusFault once the engine stops
            self._uc.emu_stop()
            return
        if not kept:
            shift = 8 * (address & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            current = self.state.read_peripheral(address)
            self.state.write_peripheral(address, (current & ~mask) | ((value << shift) & mask))
        if self._store_counter is not None:
            self._store_counter.watch(self._nvm_writable())

    def _trap_peripheral_store(
        self, _uc: unicorn.Uc, _access: int, address: int, size: int, value: int, _data: object
    ) -> None:
        self.flush_stores()
        self._on_peripheral_write(address, size, value & ((1 << (8 * size)) - 1))
        if self._store_counter is not None:  # the store may have started or ended programming
            self._store_counter.watch(self._nvm_writable())

    def flush_stores(self) -> None:
        """Hand the words the CPU stored to flash since the last refresh to the flash controller
        model, with the stores counted meanwhile, then refresh the pages they are in from the
        shared map it wrote."""
        self._settle_stored()
        self._runs_since_flush = 0
        counter = self._store_counter
        self._flash.flush(self._on_nvm_stores, None if counter is None else counter.take())

    def _flush_stores_after_run(self) -> None:
        """The end of a run: hand over the CPU's stores to flash when the flash controller
        programs them (the NVMC write-enabled: a flash algorithm's). Otherwise a store to
        flash is ignored by the chip; comparing all 1 MiB after every run of a firmware that
        sleeps between interrupts was a sixth of its cost, so the stray store is dropped
        later: at the NVMC's next CONFIG write (before which the stores are always flushed)
        or every :data:`_FORCED_FLUSH_RUNS` runs."""
        self._settle_stored()
        self._runs_since_flush += 1
        if self._nvm_writable() or self._runs_since_flush >= _FORCED_FLUSH_RUNS:
            self.flush_stores()

    def _catch_up_with_writes(self) -> None:
        """Replay the unit's code-write journal: refresh the flash copy where others wrote and
        drop translated code for every range written since this engine last looked."""
        position, ranges = self.state.code_writes_since(max(self._journal_position, 0))
        if ranges is None or self._journal_position < 0:
            self._flash.refresh_all()
            self._uc.ctl_flush_tb()
        else:
            for address, length in ranges:
                if self._flash.covers(address):
                    self._flash.refresh(address, length)
                else:
                    self._uc.ctl_remove_cache(address, address + length)
        self._journal_position = position

    # ---- registers ------------------------------------------------------------------------------

    def load_registers(self) -> None:
        """Put the saved registers into the engine, unless it holds them already."""
        state = self.state
        generation = state.get(Slot.REGISTER_GENERATION)
        if generation == self._register_generation:
            return
        values = dict(zip(CORE_REGISTER_NAMES, state.saved_registers(), strict=True))
        values["PC"] |= 1  # bit 0 of a PC written to the engine selects Thumb state
        values["IPSR"] = values["XPSR"] & 0x1FF
        self._load_batch.write([0 if name == "CONTROL!" else values[name.rstrip("!")] for name in _LOAD_ORDER])
        if state.get(Slot.CPACR) & CPACR_FPU_ENABLED:
            self._fp_batch.write(state.saved_fp_registers())
        self._register_generation = generation

    def save_registers(self) -> None:
        """Save the engine's registers to the shared state, for every session to read."""
        values = self._save_batch.read()
        values[CORE_REGISTER_NAMES.index("PC")] &= ~1
        fp = self._fp_batch.read() if self.state.get(Slot.CPACR) & CPACR_FPU_ENABLED else None
        self.state.save_registers(values, fp)
        self._register_generation = self.state.get(Slot.REGISTER_GENERATION)
        self.registers_dirty = False

    def forget_registers(self) -> None:
        """The saved registers changed under the engine (a reset, a debugger): reload them."""
        self._register_generation = -1
        self.registers_dirty = False

    @property
    def holds_current_registers(self) -> bool:
        return self._register_generation == self.state.get(Slot.REGISTER_GENERATION)

    def pc(self) -> int:
        return int(self._uc.reg_read(arm_const.UC_ARM_REG_PC)) & ~1

    # ---- breakpoints and watchpoints ------------------------------------------------------------

    def _arm_debug_hooks(self) -> None:
        generation = self.state.get(Slot.DEBUG_GENERATION)
        if generation == self._debug_generation:
            return
        for handle in self._debug_hooks:
            self._uc.hook_del(handle)
        self._debug_hooks = []
        for address in self.scs.breakpoint_addresses():
            self._debug_hooks.append(
                self._uc.hook_add(unicorn.UC_HOOK_CODE, self._on_breakpoint, begin=address, end=address)
            )
        for comparator, first, last, function in self.scs.watchpoints():
            kinds = 0
            if function in (scs.DWT_WATCH_READ, scs.DWT_WATCH_ACCESS):
                kinds |= unicorn.UC_HOOK_MEM_READ
            if function in (scs.DWT_WATCH_WRITE, scs.DWT_WATCH_ACCESS):
                kinds |= unicorn.UC_HOOK_MEM_WRITE
            self._debug_hooks.append(
                self._uc.hook_add(kinds, self._on_watchpoint, user_data=comparator, begin=first, end=last)
            )
        self._uc.ctl_flush_tb()  # hooks are compiled into translated code
        self._debug_generation = generation

    def _on_breakpoint(self, uc: unicorn.Uc, address: int, _size: int, _data: object) -> None:
        if self._replaying or not self.debug_enabled:
            return
        self._stop_with(StopReason.BREAKPOINT, f"breakpoint at 0x{address:08X}")
        uc.emu_stop()

    def _on_watchpoint(
        self, uc: unicorn.Uc, _access: int, address: int, _size: int, _value: int, comparator: int
    ) -> None:
        if self._replaying or not self.debug_enabled:
            return
        self.scs.note_watchpoint_hit(comparator)
        self._stop_with(StopReason.WATCHPOINT, f"watchpoint {comparator} at 0x{address:08X}")
        self._complete_instruction = True
        uc.emu_stop()

    def _stop_with(self, reason: StopReason, detail: str | None = None) -> None:
        if self._stop is None:
            self._stop, self._detail = reason, detail

    # ---- the private peripheral bus as the core sees it -----------------------------------------

    def _ppb_read(self, _uc: unicorn.Uc, offset: int, size: int, base: int) -> int:
        address = base + offset
        value = self.scs.read(address & ~3) >> (8 * (address & 3))
        return value & ((1 << (8 * size)) - 1)

    def _ppb_write(self, uc: unicorn.Uc, offset: int, size: int, value: int, base: int) -> None:
        if self._replaying:
            return
        address = base + offset
        word = address & ~3
        if size < 4:  # a byte or halfword store: merge it into the register's current value
            shift = 8 * (address & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            value = (self.scs.read(word) & ~mask) | ((value << shift) & mask)
        if word == scs.AIRCR and (value >> 16) == scs.AIRCR_VECTKEY and value & 0x4:
            self._stop_with(StopReason.RESET, "SYSRESETREQ")
            uc.emu_stop()
            return
        if word in (scs.DHCSR, scs.DCRSR, scs.DCRDR, scs.DEMCR, scs.DFSR):
            return  # halting debug belongs to the debugger; software writes do not reach it here
        _debug_changed, system_changed = self.scs.write(word, value)
        if system_changed:
            self._stop_with(StopReason.SYSTEM)
            self._complete_instruction = True
            uc.emu_stop()

    # ---- running --------------------------------------------------------------------------------

    def _trap_unmapped(
        self, _uc: unicorn.Uc, _access: int, address: int, _size: int, _value: int, _data: object
    ) -> bool:
        self._unmapped_address = address
        return False

    def _trap_interrupt(self, uc: unicorn.Uc, interrupt: int, _data: object) -> None:
        pc = int(uc.reg_read(arm_const.UC_ARM_REG_PC))
        try:
            if interrupt == _EXCP_EXCEPTION_EXIT:
                self.exceptions.exception_return(pc | 1)
                self._take_pending()
            elif interrupt == _EXCP_BKPT:
                if self.debug_enabled:
                    self._stop_with(StopReason.BKPT, f"BKPT at 0x{pc & ~1:08X}")
                    uc.emu_stop()
                else:  # a debug event with halting debug off escalates to HardFault (HFSR.DEBUGEVT)
                    self.state.set_bits(Slot.HFSR, 1 << 31)
                    self._enter(self.exceptions.fault(scs.HARD_FAULT, 0, pc))
            elif interrupt == _EXCP_SWI:
                self._svc(pc)
            else:
                status = {
                    _EXCP_UDEF: scs.CFSR_UNDEFINSTR,
                    _EXCP_NOCP: scs.CFSR_NOCP,
                    _EXCP_INVSTATE: scs.CFSR_INVSTATE,
                    _EXCP_UNALIGNED: scs.CFSR_UNALIGNED,
                    _EXCP_DIVBYZERO: scs.CFSR_DIVBYZERO,
                }.get(interrupt)
                if status is not None:
                    self._enter(self.exceptions.fault(scs.USAGE_FAULT, status, pc))
                elif interrupt in (_EXCP_PREFETCH_ABORT, _EXCP_DATA_ABORT):
                    self._enter(self.exceptions.fault(scs.BUS_FAULT, scs.CFSR_PRECISERR, pc))
                else:
                    self._enter(self.exceptions.fault(scs.HARD_FAULT, 0, pc))
        except LockupError as error:
            self._stop_with(StopReason.LOCKUP, str(error))
            uc.emu_stop()

    def _svc(self, return_address: int) -> None:
        state = self.state
        priority = scs.group_priority(state, scs.exception_priority(state, scs.SVCALL))
        if priority < self.exceptions.execution_priority():
            self._enter(scs.SVCALL, return_address)
        else:  # an SVC that cannot preempt is a fault
            state.set_bits(Slot.HFSR, scs.HFSR_FORCED)
            self._enter(self.exceptions.fault(scs.HARD_FAULT, 0, return_address))

    def _enter(self, exception: int, return_address: int | None = None) -> None:
        """Take an exception (unless already taken by ``fault``), then stop if DEMCR catches it."""
        if return_address is not None:
            self.exceptions.take(exception, return_address)
        catch = {
            scs.HARD_FAULT: scs.DEMCR_VC_HARDERR,
            scs.BUS_FAULT: scs.DEMCR_VC_BUSERR,
            scs.MEM_MANAGE: scs.DEMCR_VC_MMERR,
        }.get(exception, 0)
        if exception == scs.USAGE_FAULT:
            catch = scs.DEMCR_VC_STATERR | scs.DEMCR_VC_CHKERR | scs.DEMCR_VC_NOCPERR
        if self.debug_enabled and self.state.get(Slot.DEMCR) & catch:
            self._stop_with(StopReason.VECTOR_CATCH, f"exception {exception} caught")
            self._uc.emu_stop()

    def _take_pending(self) -> None:
        """Take the pending exception that preempts, if any (also after a return: tail-chaining)."""
        exception = self.exceptions.takeable_exception()
        if exception is not None:
            self._enter(exception, self.pc())

    def run(self, budget: int, *, mask_interrupts: bool = False) -> RunResult:
        """Run from the current PC for at most ``budget`` instructions (1: a single step)."""
        self._catch_up_with_writes()
        if self._store_counter is not None:  # another session may have started or ended programming
            self._store_counter.watch(self._nvm_writable(), run_start=True)
        self._arm_debug_hooks()
        self.registers_dirty = True
        self._stop, self._detail, self._complete_instruction = None, None, False
        self._unmapped_address = None
        try:
            if not mask_interrupts:
                self._take_pending()
        except LockupError as error:
            return RunResult(StopReason.LOCKUP, 0, str(error))
        if self._stop is not None:  # a vector catch on entry
            return RunResult(self._stop, 0, self._detail)
        started = time.perf_counter()
        pc = self.pc()
        after_step: int | None = None  # the ITSTATE a single step inside an IT block leaves
        if budget == 1:
            handled, after_step = self._step_in_it_block(pc)
            if handled:
                return RunResult(StopReason.BUDGET, 1)
        try:
            self._uc.emu_start(pc | 1, _NEVER, count=budget)
        except unicorn.UcError as error:
            self._bus_fault(error)
        finally:
            self._flush_stores_after_run()
        if self._bus_error_at is not None:
            self._take_bus_error()
        if after_step is not None and self._stop is None:
            xpsr = int(self._uc.reg_read(arm_const.UC_ARM_REG_XPSR))
            self._uc.reg_write(arm_const.UC_ARM_REG_XPSR, thumb_it.with_itstate(xpsr, after_step))
        elapsed = time.perf_counter() - started
        if self._complete_instruction:
            self._finish_instruction()
        if self._stop is not None:
            executed = min(budget, max(1, int(elapsed * self._rate)))
            return RunResult(self._stop, executed, self._detail)
        if budget > 1 and self._sleeping():
            return RunResult(StopReason.SLEEP, min(budget, max(1, int(elapsed * self._rate))))
        if budget >= 10_000 and elapsed > 0:
            self._rate = 0.8 * self._rate + 0.2 * (budget / elapsed)
        return RunResult(StopReason.BUDGET, budget)

    def _step_in_it_block(self, pc: int) -> tuple[bool, int | None]:
        """A single step onto or inside an IT block, done as the architecture steps it (see
        :mod:`station.sim.thumb_it`): (done here, else the ITSTATE to leave after the engine
        ran the one instruction)."""
        uc = self._uc
        xpsr = int(uc.reg_read(arm_const.UC_ARM_REG_XPSR))
        state = thumb_it.itstate(xpsr)
        try:
            halfword = int.from_bytes(uc.mem_read(pc, 2), "little")
        except unicorn.UcError:
            return False, None  # the fetch faults in the engine, as it should
        if not thumb_it.in_it_block(state):
            new_state = thumb_it.it_instruction(halfword)
            if new_state is None:
                return False, None
            uc.reg_write(arm_const.UC_ARM_REG_XPSR, thumb_it.with_itstate(xpsr, new_state))
            uc.reg_write(arm_const.UC_ARM_REG_PC, (pc + 2) | 1)
            return True, None
        if not thumb_it.condition_passed(state >> 4, xpsr):
            uc.reg_write(arm_const.UC_ARM_REG_XPSR, thumb_it.with_itstate(xpsr, thumb_it.advance(state)))
            uc.reg_write(arm_const.UC_ARM_REG_PC, (pc + thumb_it.instruction_length(halfword)) | 1)
            return True, None
        # A passing instruction runs alone as the last of its block, then the block goes on.
        uc.reg_write(arm_const.UC_ARM_REG_XPSR, thumb_it.with_itstate(xpsr, (state & 0xF0) | 0x8))
        return False, thumb_it.advance(state)

    def _finish_instruction(self) -> None:
        """Carry out the instruction a watchpoint or a system register store interrupted (its
        access has had its effect; running it again, quietly, completes the rest)."""
        counter = self._store_counter
        if counter is not None and not counter.watching:
            counter = None
        if counter is not None:  # a store the run made is counted once, not again when replayed
            counter.watch(False)
        self._replaying = True
        try:
            self._uc.emu_start(self.pc() | 1, _NEVER, count=1)
        except unicorn.UcError as error:
            self._bus_fault(error)
        finally:
            self._replaying = False
            if counter is not None:
                counter.watch(True)
            self.flush_stores()

    def _sleeping(self) -> bool:
        try:
            previous = int.from_bytes(self._uc.mem_read(self.pc() - 2, 2), "little")
        except unicorn.UcError:
            return False
        return previous in (_WFI, _WFE)

    def _take_bus_error(self) -> None:
        """A precise BusFault for a store a register answered with a bus error: the engine
        stopped at the store, which the fault handler returns to."""
        address, self._bus_error_at = self._bus_error_at, None
        pc = self.pc()
        try:
            status = scs.CFSR_PRECISERR | scs.CFSR_BFARVALID
            self._enter(self.exceptions.fault(scs.BUS_FAULT, status, pc, fault_address=address))
        except LockupError as lockup:
            self._stop_with(StopReason.LOCKUP, f"bus error at 0x{pc:08X}: {lockup}")
        if self._stop is None:
            self._stop_with(StopReason.SYSTEM, f"bus error at 0x{pc:08X}")

    def _bus_fault(self, error: unicorn.UcError) -> None:
        """A precise bus fault on a hole in the memory map (or an instruction fetch from one)."""
        pc = self.pc()
        address = self._unmapped_address
        fetch = error.errno in (unicorn.UC_ERR_FETCH_UNMAPPED, unicorn.UC_ERR_FETCH_PROT)
        try:
            if fetch:
                self._enter(self.exceptions.fault(scs.BUS_FAULT, scs.CFSR_IBUSERR, pc))
            elif address is not None:
                status = scs.CFSR_PRECISERR | scs.CFSR_BFARVALID
                self._enter(self.exceptions.fault(scs.BUS_FAULT, status, pc, fault_address=address))
            else:
                self._enter(self.exceptions.fault(scs.HARD_FAULT, 0, pc))
        except LockupError as lockup:
            self._stop_with(StopReason.LOCKUP, f"{error} at 0x{pc:08X}: {lockup}")
        if self._stop is None:
            self._stop_with(StopReason.SYSTEM, f"{error} at 0x{pc:08X}")  # the fault handler runs next

    # ---- memory, for the debugger ---------------------------------------------------------------

    def read_memory(self, address: int, length: int) -> bytes:
        return bytes(self._uc.mem_read(address, length))

    def sync(self, address: int | None = None, length: int = 0) -> None:
        """Refresh the CPU's copy of non-volatile memory from the shared map (all, or one range)."""
        if address is None:
            self._flash.refresh_all()
            return
        self._flash.refresh(address, length)
