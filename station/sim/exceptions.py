"""Exception entry and return of the simulated Cortex-M4, done on the emulator's registers.

The unicorn engine executes instructions but has no NVIC: it reports an SVC, a fault, a BKPT
or a branch to an EXC_RETURN value and leaves the rest to its user. This module is the rest,
as the ARMv7-M Architecture Reference Manual gives it (B1.5.6 ExceptionEntry, B1.5.8
ExceptionReturn): the frame is stacked on the stack in use (8 words, or 26 with the FPU's
state when CONTROL.FPCA is set -- saved at once rather than lazily, which the program cannot
tell apart except through FPCCR.LSPACT), LR gets the EXC_RETURN that says where to go back,
and the mode, stack pointer and IPSR switch. Priorities and pending state are the shared
system control space's (:mod:`station.sim.scs`).
"""

from __future__ import annotations

import struct
from typing import Final

import unicorn
from unicorn import arm_const

from station.sim import scs
from station.sim.core_state import CoreState, Slot

CONTROL_NPRIV: Final = 1 << 0
CONTROL_SPSEL: Final = 1 << 1
CONTROL_FPCA: Final = 1 << 2
EXC_RETURN_THREAD: Final = 1 << 3
EXC_RETURN_PSP: Final = 1 << 2
EXC_RETURN_BASIC_FRAME: Final = 1 << 4
XPSR_STACK_ALIGNED: Final = 1 << 9
XPSR_THUMB: Final = 1 << 24
CCR_STKALIGN: Final = 1 << 9
CPACR_FPU_ENABLED: Final = 0xF << 20
BASIC_FRAME: Final = 0x20
EXTENDED_FRAME: Final = 0x68
_FRAME_REGISTERS: Final = (
    arm_const.UC_ARM_REG_R0,
    arm_const.UC_ARM_REG_R1,
    arm_const.UC_ARM_REG_R2,
    arm_const.UC_ARM_REG_R3,
    arm_const.UC_ARM_REG_R12,
    arm_const.UC_ARM_REG_LR,
)
_FP_FRAME_REGISTERS: Final = tuple(getattr(arm_const, f"UC_ARM_REG_S{index}") for index in range(16))


class LockupError(Exception):
    """The core cannot take the exception it must take (a fault at priority -1, an unreadable
    vector or stack): it locks up, as the architecture says, until a reset or a halt."""


class ExceptionUnit:
    """Takes and returns from exceptions on one engine, with the shared exception state."""

    def __init__(self, uc: unicorn.Uc, state: CoreState) -> None:
        self._uc = uc
        self._state = state

    # ---- helpers ------------------------------------------------------------------------------

    def _read(self, register: int) -> int:
        return int(self._uc.reg_read(register)) & 0xFFFF_FFFF

    def current_exception(self) -> int:
        return self._read(arm_const.UC_ARM_REG_IPSR) & 0x1FF

    def execution_priority(self) -> int:
        return scs.execution_priority(
            self._state,
            self._read(arm_const.UC_ARM_REG_PRIMASK),
            self._read(arm_const.UC_ARM_REG_FAULTMASK),
            self._read(arm_const.UC_ARM_REG_BASEPRI),
        )

    def takeable_exception(self) -> int | None:
        """The pending exception whose priority preempts what runs now, if any."""
        exception = scs.pending_exception(self._state)
        if exception is None:
            return None
        priority = scs.group_priority(self._state, scs.exception_priority(self._state, exception))
        return exception if priority < self.execution_priority() else None

    def _switch_stack_pointers(self, *, ipsr: int, msp: int, psp: int, control: int) -> None:
        """Change mode and stack pointers in the order the engine banks SP correctly: SPSEL off,
        then the mode, then both pointers, then CONTROL as it is to be."""
        uc = self._uc
        uc.reg_write(arm_const.UC_ARM_REG_CONTROL, self._read(arm_const.UC_ARM_REG_CONTROL) & ~CONTROL_SPSEL)
        uc.reg_write(arm_const.UC_ARM_REG_IPSR, ipsr)
        uc.reg_write(arm_const.UC_ARM_REG_MSP, msp)
        uc.reg_write(arm_const.UC_ARM_REG_PSP, psp)
        uc.reg_write(arm_const.UC_ARM_REG_CONTROL, control)

    # ---- entry ----------------------------------------------------------------------------------

    def take(self, exception: int, return_address: int) -> None:
        """Stack the context, and continue at the exception's vector in handler mode."""
        uc, state = self._uc, self._state
        ipsr = self.current_exception()
        control = self._read(arm_const.UC_ARM_REG_CONTROL)
        msp = self._read(arm_const.UC_ARM_REG_MSP)
        psp = self._read(arm_const.UC_ARM_REG_PSP)
        on_process_stack = ipsr == 0 and bool(control & CONTROL_SPSEL)
        with_fpu = bool(control & CONTROL_FPCA)
        frame_size = EXTENDED_FRAME if with_fpu else BASIC_FRAME
        stack = psp if on_process_stack else msp
        xpsr = self._read(arm_const.UC_ARM_REG_XPSR) | (ipsr & 0x1FF)
        frame_pointer = stack - frame_size
        if state.get(Slot.CCR) & CCR_STKALIGN and frame_pointer & 4:
            frame_pointer -= 4
            xpsr |= XPSR_STACK_ALIGNED
        else:
            xpsr &= ~XPSR_STACK_ALIGNED
        words = [self._read(register) for register in _FRAME_REGISTERS]
        words += [return_address & ~1, xpsr]
        if with_fpu:
            words += [self._read(register) for register in _FP_FRAME_REGISTERS]
            words += [self._read(arm_const.UC_ARM_REG_FPSCR), 0]
            state.set(Slot.FPCAR, frame_pointer + BASIC_FRAME)
        vector = self._vector(exception)
        try:
            uc.mem_write(frame_pointer, struct.pack(f"<{len(words)}I", *words))
        except unicorn.UcError as error:
            raise LockupError(f"stacking for exception {exception} at 0x{frame_pointer:08X} failed") from error
        exc_return = 0xFFFF_FFE1
        if ipsr == 0:
            exc_return |= EXC_RETURN_THREAD
            if on_process_stack:
                exc_return |= EXC_RETURN_PSP
        if not with_fpu:
            exc_return |= EXC_RETURN_BASIC_FRAME
        if on_process_stack:
            psp = frame_pointer
        else:
            msp = frame_pointer
        self._switch_stack_pointers(ipsr=exception, msp=msp, psp=psp, control=control & ~(CONTROL_SPSEL | CONTROL_FPCA))
        uc.reg_write(arm_const.UC_ARM_REG_LR, exc_return)
        uc.reg_write(arm_const.UC_ARM_REG_PC, vector | 1)  # bit 0: stay in Thumb state
        scs.set_exception_state(state, exception, active=True, pending=False)

    def _vector(self, exception: int) -> int:
        address = (self._state.get(Slot.VTOR) & 0xFFFF_FF80) + 4 * exception
        try:
            vector = int.from_bytes(self._uc.mem_read(address, 4), "little")
        except unicorn.UcError as error:
            raise LockupError(f"vector {exception} at 0x{address:08X} cannot be read") from error
        if vector == 0xFFFF_FFFF or not vector & 1:
            raise LockupError(f"vector {exception} at 0x{address:08X} holds 0x{vector:08X}")
        return vector

    # ---- faults ---------------------------------------------------------------------------------

    def fault(self, exception: int, status: int, return_address: int, *, fault_address: int | None = None) -> int:
        """Raise a configurable fault, escalated to HardFault when it is disabled or cannot
        preempt; returns the exception taken. Raises LockupError at priority -1 or below."""
        state = self._state
        state.set_bits(Slot.CFSR, status)
        if fault_address is not None:
            state.set(Slot.BFAR if exception == scs.BUS_FAULT else Slot.MMFAR, fault_address)
        enable = {
            scs.MEM_MANAGE: scs.SHCSR_MEMFAULTENA,
            scs.BUS_FAULT: scs.SHCSR_BUSFAULTENA,
            scs.USAGE_FAULT: scs.SHCSR_USGFAULTENA,
        }.get(exception, 0)
        current = self.execution_priority()
        taken = exception
        if exception != scs.HARD_FAULT:
            priority = scs.group_priority(state, scs.exception_priority(state, exception))
            if not state.get(Slot.SHCSR) & enable or priority >= current:
                taken = scs.HARD_FAULT
                state.set_bits(Slot.HFSR, scs.HFSR_FORCED)
        if taken == scs.HARD_FAULT and current <= -1:
            raise LockupError(f"fault at priority {current} (CFSR 0x{state.get(Slot.CFSR):08X})")
        self.take(taken, return_address)
        return taken

    # ---- return ---------------------------------------------------------------------------------

    def exception_return(self, exc_return: int) -> None:
        """Unstack the frame EXC_RETURN names and go back to thread or handler mode."""
        uc, state = self._uc, self._state
        exception = self.current_exception()
        scs.set_exception_state(state, exception, active=False)
        control = self._read(arm_const.UC_ARM_REG_CONTROL)
        msp = self._read(arm_const.UC_ARM_REG_MSP)
        psp = self._read(arm_const.UC_ARM_REG_PSP)
        to_process_stack = bool(exc_return & EXC_RETURN_PSP)
        with_fpu = not exc_return & EXC_RETURN_BASIC_FRAME
        frame_pointer = psp if to_process_stack else msp
        frame_size = EXTENDED_FRAME if with_fpu else BASIC_FRAME
        try:
            words = struct.unpack(f"<{frame_size // 4}I", uc.mem_read(frame_pointer, frame_size))
        except unicorn.UcError as error:
            raise LockupError(f"unstacking from 0x{frame_pointer:08X} failed") from error
        xpsr = words[7]
        new_stack = frame_pointer + frame_size + (4 if xpsr & XPSR_STACK_ALIGNED else 0)
        if to_process_stack:
            psp = new_stack
        else:
            msp = new_stack
        to_thread = bool(exc_return & EXC_RETURN_THREAD)
        ipsr = 0 if to_thread else xpsr & 0x1FF
        control &= ~(CONTROL_SPSEL | CONTROL_FPCA)
        if to_thread and to_process_stack:
            control |= CONTROL_SPSEL
        if with_fpu:
            control |= CONTROL_FPCA
        self._switch_stack_pointers(ipsr=ipsr, msp=msp, psp=psp, control=control)
        for register, value in zip(_FRAME_REGISTERS, words[:6], strict=True):
            uc.reg_write(register, value)
        if with_fpu:
            for register, value in zip(_FP_FRAME_REGISTERS, words[8:24], strict=True):
                uc.reg_write(register, value)
            uc.reg_write(arm_const.UC_ARM_REG_FPSCR, words[24])
        uc.reg_write(arm_const.UC_ARM_REG_XPSR, (xpsr & 0xFFFF_FC00 & ~0x1FF) | XPSR_THUMB)
        uc.reg_write(arm_const.UC_ARM_REG_IPSR, ipsr)
        uc.reg_write(arm_const.UC_ARM_REG_PC, words[6] | 1)  # bit 0: stay in Thumb state
