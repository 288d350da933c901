"""Halting debug and execution of a simulated unit's core: DHCSR, DCRSR/DCRDR, DEMCR, and the runner.

The core is the unit's, not a session's (:mod:`station.sim.core_state`): halted by one session
it stays halted for the next, with its registers; resumed, it runs on after the session ends,
as long as some process has the unit open. While it runs, exactly one process executes it:
whoever holds the unit's run lock. Every open session has a runner thread that takes the lock
when the core should run and nobody runs it, and executes it in slices of at most
:data:`SLICE_INSTRUCTIONS`, looking between slices for a halt request (from any session, in
any process), a reset, or a debugger's change to breakpoints -- so a halt takes effect within
milliseconds and no lock is held for longer than a slice.

Time: the core's clock is the chip's at reset (``clock_hz``: an nRF52840's 64 MHz, an STM32F4's
16 MHz HSI, a K64F's 20.97 MHz FLL, an EFR32's 19 MHz HFRCO), so that firmware timing its
SysTick by its clock keeps real time; each executed instruction counts one cycle, and a
core asleep in WFI lets time pass in real time until its next event (SysTick), so firmware
that sleeps costs almost nothing. A busy core runs as fast as the emulator goes, never ahead
of real time.

A resume from the debugger first runs in the caller's thread, up to
:data:`CALLER_RUN_INSTRUCTIONS`: a flash algorithm reaches its BKPT in that stretch, so the
station's hot path never waits for a thread switch. What runs longer goes to the runner.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from station.sim import scs
from station.sim.core import EmulatedCore, RunResult, StopReason
from station.sim.core_reset import reset_core
from station.sim.core_state import (
    STICKY_RESET,
    STICKY_RETIRED,
    CoreState,
    RunState,
    Slot,
)
from station.sim.exceptions import CONTROL_SPSEL

LOG = logging.getLogger(__name__)

CLOCK_HZ: Final = 64_000_000  # a core whose chip does not say (an nRF52840's)
SLICE_INSTRUCTIONS: Final = 200_000
CALLER_RUN_INSTRUCTIONS: Final = 2_000_000
IDLE_CHECK_SECONDS: Final = 0.01  # a runner holding a sleeping or stalled core looks for requests this often
# A runner with nothing to run looks this often for a core another process set running (or
# left running when it closed); this process's own requests wake it at once. Rarer than the
# above: every wake-up takes the interpreter from the session's thread serving the probe.
STANDBY_CHECK_SECONDS: Final = 0.1
POLL_WAIT_LIMIT_SECONDS: Final = 0.25
RUN_LOCK_WAIT_SECONDS: Final = 5.0
MAX_LAG_SECONDS: Final = 0.05
RUNNING_POLL_SECONDS: Final = 0.001  # what a DHCSR read of a running core costs the caller
HALT_WAIT_SECONDS: Final = 1.0  # many slices: a halt that takes longer means the runner is stuck

DHCSR_KEY: Final = 0xA05F
C_DEBUGEN: Final = scs.C_DEBUGEN
C_HALT: Final = 1 << 1
C_STEP: Final = 1 << 2
C_MASKINTS: Final = 1 << 3
S_REGRDY: Final = 1 << 16
S_HALT: Final = 1 << 17
S_SLEEP: Final = 1 << 18
S_LOCKUP: Final = 1 << 19
S_RETIRE_ST: Final = 1 << 24
S_RESET_ST: Final = 1 << 25
DCRSR_WRITE: Final = 1 << 16
SPECIAL_SELECTOR: Final = 20  # CONTROL[31:24] FAULTMASK[23:16] BASEPRI[15:8] PRIMASK[7:0]
FPSCR_SELECTOR: Final = 0x21
FIRST_FP_SELECTOR: Final = 0x40
_SELECTOR_NAMES: Final = {
    **{index: f"R{index}" for index in range(13)},
    14: "LR",
    15: "PC",
    16: "XPSR",
    17: "MSP",
    18: "PSP",
}

_HALTING: Final = {
    StopReason.BKPT: scs.DFSR_BKPT,
    StopReason.BREAKPOINT: scs.DFSR_BKPT,
    StopReason.WATCHPOINT: scs.DFSR_DWTTRAP,
    StopReason.VECTOR_CATCH: scs.DFSR_VCATCH,
}


def poll_wait(until: float) -> None:
    """A status poll that would answer "busy" waits until the status changes (at most
    POLL_WAIT_LIMIT_SECONDS), as a USB probe's round trip keeps the caller waiting: answering
    at once would spin the caller, taking the interpreter from the station's other slots."""
    remaining = until - time.monotonic()
    if remaining > 0:
        time.sleep(min(remaining, POLL_WAIT_LIMIT_SECONDS))


class CoreController:
    """One session's handle on the unit's core; ``reset`` resets it from the current flash."""

    def __init__(
        self,
        state: CoreState,
        core: EmulatedCore,
        *,
        vector_table: Callable[[], bytes],
        reset_peripherals: Callable[[CoreState], None],
        system_reset: Callable[[], None],
        timing_factor: Callable[[], float],
        algorithm_hangs: Callable[[], bool],
        name: str,
        clock_hz: int = CLOCK_HZ,
    ) -> None:
        self.state = state
        self.core = core
        self._vector_table = vector_table
        self._reset_peripherals = reset_peripherals
        self._system_reset = system_reset
        self._timing_factor = timing_factor
        self._algorithm_hangs = algorithm_hangs
        self.clock_hz = clock_hz
        self.in_emulation = False  # flash time spent now delays the halt instead of READY or BSY
        self.modelled_seconds = 0.0
        self._engine = threading.Lock()  # one thread at a time drives this process's emulator
        self._wake = threading.Event()
        self._stopped = threading.Event()  # set when this process halts the core
        self._closing = False
        self._anchor = (time.monotonic(), state.cycles)  # real time and emulated cycles in step
        if state.run_state == RunState.RESET_PENDING:
            reset_core(state, vector_table(), reset_peripherals, power_on=True)
        self._thread = threading.Thread(target=self._serve, name=f"sim-core-{name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop this session's runner; a core it was running is left running for the next."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout=RUN_LOCK_WAIT_SECONDS)

    # ---- DHCSR -----------------------------------------------------------------------------------

    @property
    def halted(self) -> bool:
        state = self.state
        return state.run_state == RunState.HALTED and time.monotonic() >= state.get_float(Slot.HALT_VISIBLE_AT)

    def read_dhcsr(self) -> int:
        state = self.state
        run_state = state.get(Slot.RUN_STATE)
        halted = run_state == RunState.HALTED
        if halted:
            visible_at = state.get_float(Slot.HALT_VISIBLE_AT)
            if visible_at and visible_at > time.monotonic():  # a flash algorithm's time is passing
                poll_wait(visible_at)
                halted = time.monotonic() >= visible_at
        elif run_state != RunState.LOCKUP:
            # Running: a probe's round trip keeps a polling debugger waiting a moment, and the
            # runner (maybe in this process, needing the interpreter) gets on meanwhile; a halt
            # by this process's runner ends the wait at once.
            if state.get(Slot.HALT_REQUEST):
                self._wake.set()
            self._stopped.wait(RUNNING_POLL_SECONDS)
            run_state = state.get(Slot.RUN_STATE)
            halted = run_state == RunState.HALTED
        value = state.get(Slot.DEBUG_CONTROL) & (C_DEBUGEN | C_MASKINTS)
        if halted:
            value |= S_HALT | S_REGRDY | C_HALT
        elif run_state == RunState.LOCKUP:
            value |= S_LOCKUP
        elif run_state == RunState.SLEEPING:
            value |= S_SLEEP
        if run_state != RunState.LOCKUP and not halted:
            value |= S_RETIRE_ST  # instructions retire while it runs (or runs its flash algorithm)
        if state.get(Slot.STICKY):  # read-to-clear bits: only then is the lock worth taking
            with state.locked():
                sticky = state.get(Slot.STICKY)
                if sticky & STICKY_RETIRED:
                    value |= S_RETIRE_ST
                if sticky & STICKY_RESET:
                    value |= S_RESET_ST
                state.set(Slot.STICKY, 0)
        return value

    def write_dhcsr(self, value: int) -> None:
        if (value >> 16) != DHCSR_KEY:
            return
        state = self.state
        state.set(Slot.DEBUG_CONTROL, value & (C_DEBUGEN | C_MASKINTS))
        self.core.debug_enabled = bool(value & C_DEBUGEN)
        if not value & C_DEBUGEN:
            state.set(Slot.HALT_REQUEST, 0)
            if state.run_state == RunState.HALTED:
                self.resume()  # leaving halting debug leaves debug state
            return
        if value & C_HALT:
            self.halt()
        elif state.run_state == RunState.HALTED:
            if value & C_STEP:
                self.step(mask_interrupts=bool(value & C_MASKINTS))
            else:
                self.resume()

    # ---- DCRSR / DCRDR ------------------------------------------------------------------------------

    def transfer_register(self, request: int) -> None:
        """DCRSR: move a core register to DCRDR, or DCRDR to it. Only in debug state."""
        if not self.halted:
            return
        # No state lock: while the core is halted nothing but debuggers touch its registers, and
        # two debuggers writing the same core's registers at once is not a thing to model.
        state = self.state
        selector = request & 0x7F
        if request & DCRSR_WRITE:
            self._write_selector(selector, state.get(Slot.DCRDR))
        else:
            state.set(Slot.DCRDR, self._read_selector(selector))

    def _read_selector(self, selector: int) -> int:
        state = self.state
        if selector == 13:
            return state.register("PSP") if self._on_process_stack() else state.register("MSP")
        if selector == SPECIAL_SELECTOR:
            return (
                (state.register("CONTROL") & 0xFF) << 24
                | (state.register("FAULTMASK") & 1) << 16
                | (state.register("BASEPRI") & 0xFF) << 8
                | (state.register("PRIMASK") & 1)
            )
        if selector == FPSCR_SELECTOR:
            return state.saved_fp_registers()[32]
        if FIRST_FP_SELECTOR <= selector < FIRST_FP_SELECTOR + 32:
            return state.saved_fp_registers()[selector - FIRST_FP_SELECTOR]
        name = _SELECTOR_NAMES.get(selector)
        return state.register(name) if name else 0

    def _write_selector(self, selector: int, value: int) -> None:
        state = self.state
        if selector == 13:
            state.set_register("PSP" if self._on_process_stack() else "MSP", value & ~3)
        elif selector == SPECIAL_SELECTOR:
            state.set_register("CONTROL", (value >> 24) & 0x7)
            state.set_register("FAULTMASK", (value >> 16) & 1)
            state.set_register("BASEPRI", (value >> 8) & 0xFF)
            state.set_register("PRIMASK", value & 1)
        elif selector == FPSCR_SELECTOR or FIRST_FP_SELECTOR <= selector < FIRST_FP_SELECTOR + 32:
            values = state.saved_fp_registers()
            values[32 if selector == FPSCR_SELECTOR else selector - FIRST_FP_SELECTOR] = value
            state.save_registers(state.saved_registers(), values)
        elif selector in _SELECTOR_NAMES:
            name = _SELECTOR_NAMES[selector]
            state.set_register(name, value & ~1 if name == "PC" else value)

    def _on_process_stack(self) -> bool:
        state = self.state
        return state.register("XPSR") & 0x1FF == 0 and bool(state.register("CONTROL") & CONTROL_SPSEL)

    # ---- halt, resume, step ---------------------------------------------------------------------------

    def halt(self) -> None:
        """C_HALT: stop at once if nobody is executing the core, else ask whoever is and wait
        for it (a slice at most): a debugger reads registers right after a halt, as the real
        core has stopped by the time its DHCSR write completes."""
        state = self.state
        with state.locked():
            if state.run_state == RunState.HALTED:
                return
            state.set(Slot.HALT_REQUEST, 1)
        deadline = time.monotonic() + HALT_WAIT_SECONDS
        while True:
            if state.run_lock.acquire(blocking=False):
                try:
                    with state.locked():
                        # Read afresh, not through the property: another process may have halted it.
                        if state.get(Slot.RUN_STATE) != RunState.HALTED:
                            self._enter_debug_state(scs.DFSR_HALTED)
                finally:
                    state.run_lock.release()
                return
            self._wake.set()
            if state.get(Slot.RUN_STATE) == RunState.HALTED or time.monotonic() > deadline:
                return  # a runner that does not answer in time: DHCSR keeps saying "running"
            time.sleep(0.0005)

    def _enter_debug_state(self, cause: int) -> None:
        """Halted, with the cause in DFSR (caller holds the state lock; registers are saved)."""
        state = self.state
        LOG.debug("core halted (DFSR cause 0x%X) at 0x%08X", cause, state.register("PC"))
        state.run_state = RunState.HALTED
        state.set(Slot.HALT_REQUEST, 0)
        self._stopped.set()
        state.set_bits(Slot.DFSR, cause)

    def resume(self) -> None:
        """Leave debug state and run; in the caller's thread first, then in the runner's."""
        state = self.state
        if not state.run_lock.acquire():
            raise TimeoutError("the simulated core is held by another process")
        try:
            with state.locked():
                if state.run_state != RunState.HALTED:
                    return
                state.run_state = RunState.RUNNING
                self._stopped.clear()
                state.set_float(Slot.HALT_VISIBLE_AT, 0.0)
                state.set_bits(Slot.STICKY, STICKY_RETIRED)
            started = time.monotonic()
            self.modelled_seconds = 0.0
            self.in_emulation = True
            try:
                with self._engine:
                    result = self._run_for(CALLER_RUN_INSTRUCTIONS)
            finally:
                self.in_emulation = False
            if result is not None and result.reason == StopReason.BKPT and self.modelled_seconds:
                # A flash algorithm's halt shows once the flash time it spent has passed.
                state.set_float(Slot.HALT_VISIBLE_AT, started + self.modelled_seconds * self._timing_factor())
        finally:
            state.run_lock.release()
        self._wake.set()

    def step(self, *, mask_interrupts: bool) -> None:
        """C_STEP: exactly one instruction (or the entry to a pending exception), then halted."""
        state = self.state
        if not state.run_lock.acquire():
            raise TimeoutError("the simulated core is held by another process")
        try:
            with self._engine:
                core = self.core
                core.load_registers()
                result = core.run(1, mask_interrupts=mask_interrupts)
                scs.advance_systick(state, 1)
                with state.locked():
                    core.save_registers()
                    if result.reason == StopReason.LOCKUP:
                        state.run_state = RunState.LOCKUP
                        self._stopped.set()
                        return
                    self._enter_debug_state(scs.DFSR_HALTED | _HALTING.get(result.reason, 0))
                    state.set_bits(Slot.STICKY, STICKY_RETIRED)
        finally:
            state.run_lock.release()

    def wake(self) -> None:
        """Something a running or sleeping core should look at changed (a pended interrupt,
        SysTick reprogrammed, a reset): this process's runner looks now, not at its next check."""
        self._wake.set()

    def reset(self) -> None:
        """Core reset from the vector table in flash (VECTRESET)."""
        reset_core(self.state, self._vector_table(), self._reset_peripherals)
        self._wake.set()

    # ---- running ---------------------------------------------------------------------------------------

    def _run_for(self, budget: int, *, keep_registers: bool = False) -> RunResult | None:
        """Run the core (caller holds the run lock and the engine) until it halts, locks up, or
        ``budget`` instructions are spent; returns the halting result, or None if still running.
        Registers are saved unless ``keep_registers`` (the runner, which saves them when it
        lets go of the core). Slices keep halt requests and resets from waiting."""
        state, core = self.state, self.core
        core.load_registers()
        core.debug_enabled = bool(state.get(Slot.DEBUG_CONTROL) & C_DEBUGEN)
        while budget > 0:
            if state.get(Slot.HALT_REQUEST):
                break
            slice_budget = min(budget, SLICE_INSTRUCTIONS, self._cycles_to_event())
            result = core.run(slice_budget)
            budget -= result.executed
            if state.get(Slot.SYST_CSR) & scs.SYST_CSR_ENABLE:
                with state.locked():
                    scs.advance_systick(state, result.executed)
            else:  # only the run lock's holder moves emulated time: no state lock needed
                state.cycles += result.executed
            outcome = self._after_slice(result)
            if outcome is not None:
                return outcome
            if result.reason in (StopReason.SLEEP, StopReason.RESET):
                break
        with state.locked():
            halting = bool(state.get(Slot.HALT_REQUEST)) and state.run_state != RunState.HALTED
            if halting or not keep_registers:
                self._save_registers()
            if halting:
                self._enter_debug_state(scs.DFSR_HALTED)
        return None

    def _save_registers(self) -> None:
        """Save the engine's registers if they are newer than the saved ones (state lock held)."""
        if self.core.registers_dirty and self.core.holds_current_registers:
            self.core.save_registers()

    def _after_slice(self, result: RunResult) -> RunResult | None:
        """Settle the shared state after one slice; a result if the core stopped for good."""
        state, core = self.state, self.core
        reason = result.reason
        if reason == StopReason.RESET:
            self._system_reset()  # the firmware's SYSRESETREQ: what the registers held is gone
            core.forget_registers()
            return None
        with state.locked():
            if not core.holds_current_registers:
                # Reset (or written) by someone else meanwhile: what this slice did is void.
                core.forget_registers()
                core.load_registers()
                return None
            if reason in _HALTING:
                LOG.debug("core stopped: %s after %d instructions", result.detail, result.executed)
                self._save_registers()
                if reason == StopReason.BKPT and self._algorithm_hangs():
                    state.run_state = RunState.STALLED
                    return result
                self._enter_debug_state(_HALTING[reason])
                return result
            if reason == StopReason.LOCKUP:
                self._save_registers()
                state.run_state = RunState.LOCKUP
                self._stopped.set()
                LOG.info("core locked up: %s", result.detail)
                return result
            if reason == StopReason.SLEEP:
                state.run_state = RunState.SLEEPING
        return None

    def _cycles_to_event(self) -> int:
        ticks = scs.cycles_to_next_tick(self.state)
        return SLICE_INSTRUCTIONS if ticks is None else max(1, ticks)

    def _serve(self) -> None:
        """The runner: executes the core while it should run and nobody else does, and carries
        out a halt asked for while someone else held the core."""
        state = self.state
        while not self._closing:
            self._wake.wait(STANDBY_CHECK_SECONDS)
            self._wake.clear()
            if self._closing:
                return
            run_state = state.run_state
            halt_asked = bool(state.get(Slot.HALT_REQUEST)) and run_state != RunState.HALTED
            if not halt_asked and run_state not in (RunState.RUNNING, RunState.SLEEPING, RunState.STALLED):
                continue
            if not state.run_lock.acquire(blocking=False):
                continue
            try:
                if not halt_asked:
                    self._run_in_background()
                with state.locked():
                    if state.get(Slot.HALT_REQUEST) and state.run_state != RunState.HALTED:
                        self._enter_debug_state(scs.DFSR_HALTED)
            except Exception:  # the runner must never die silently: the core would freeze
                LOG.exception("simulated core runner failed")
            finally:
                state.run_lock.release()

    def _run_in_background(self) -> None:
        """Run (or let sleep) the core in slices, paced to real time, until it halts, locks up,
        or this session closes; the registers are saved when it lets go."""
        state = self.state
        self._anchor = (time.monotonic(), state.cycles)
        try:
            while not self._closing:
                run_state = state.run_state
                if state.get(Slot.HALT_REQUEST):
                    return  # the caller halts it, with the registers saved below
                if run_state == RunState.STALLED:
                    self._wake.wait(IDLE_CHECK_SECONDS)
                    continue
                if run_state == RunState.SLEEPING:
                    self._sleep_until_event()
                    continue
                if run_state != RunState.RUNNING:
                    return
                with self._engine:
                    self.modelled_seconds = 0.0
                    if self._run_for(SLICE_INSTRUCTIONS, keep_registers=True) is not None:
                        return
                if self.modelled_seconds:
                    time.sleep(self.modelled_seconds * self._timing_factor())
                # Never ahead of real time: a busy core at the chip's clock, not the host's.
                ahead = self._seconds_ahead()
                if ahead > 0.002:
                    self._wake.wait(min(ahead, IDLE_CHECK_SECONDS))
        finally:
            with self._engine, state.locked():
                self._save_registers()

    def _seconds_ahead(self) -> float:
        """How far emulated time is ahead of real time since the anchor (negative: behind). A
        core more than :data:`MAX_LAG_SECONDS` behind (a loaded host) is re-anchored rather
        than made to catch up in a burst."""
        anchor_time, anchor_cycles = self._anchor
        now = time.monotonic()
        ahead = (self.state.cycles - anchor_cycles) / self.clock_hz - (now - anchor_time)
        if ahead < -MAX_LAG_SECONDS:
            self._anchor = (now, self.state.cycles)
            return 0.0
        return ahead

    def _sleep_until_event(self) -> None:
        """A sleeping core: wakes for a pending exception; else time passes, in step with real
        time, to the next SysTick event, which pends its exception (requests are looked at
        meanwhile, at least every :data:`IDLE_CHECK_SECONDS`)."""
        state = self.state
        if scs.pending_exception(state) is not None:
            state.run_state = RunState.RUNNING
            return
        gap = scs.cycles_to_next_tick(state)
        if gap is None:
            self._wake.wait(IDLE_CHECK_SECONDS)  # nothing will wake it but a debugger or a reset
            self._anchor = (time.monotonic(), state.cycles)
            return
        until_due = gap / self.clock_hz + self._seconds_ahead()  # ahead (or behind: negative) of real time
        if until_due > IDLE_CHECK_SECONDS:
            if not self._wake.wait(IDLE_CHECK_SECONDS):
                with state.locked():  # a long sleep: time moves on in steps, in case it is halted
                    scs.advance_systick(state, min(gap - 1, int(IDLE_CHECK_SECONDS * self.clock_hz)))
            return
        if until_due > 0 and self._wake.wait(until_due):
            return  # a request came first: look at it; time catches up on the next call
        with state.locked():
            scs.advance_systick(state, gap)
            if scs.pending_exception(state) is not None:
                state.run_state = RunState.RUNNING
